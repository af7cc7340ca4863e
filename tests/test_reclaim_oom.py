"""Memory pressure the kernel's way: kswapd and direct reclaim take back clean page cache
and reclaimable slab oldest first (mm/vmscan.c), anonymous memory is never reclaimed
(no swap), and when nothing helps the OOM killer (mm/oom_kill.c) kills the largest task,
whose pages are freed where page_owner sees it.  A property test drives every workload
kind to high fills with compaction, hugetlb pool changes and hotplug interleaved."""
from __future__ import annotations

import re
import time

from hypothesis import HealthCheck, example, given, settings, strategies as st

import pextlab
import pextlab.workloads as W
from pextlab.errors import PextlabError
from pextlab.kernel import gup, page_alloc, vmscan
from pextlab.kernel.buddy import zone_watermark_ok
from pextlab.kernel.compaction import wake_all_kswapds
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.mmzone import PG_HEAD
from pextlab.kernel.page_owner import R_PID
from pextlab.workloads.fragger import fragger
from pextlab.workloads.runner import EV_ALLOC, EV_FREE

KILL_RE = re.compile(r"Out of memory: Killed process (\d+) \((\S+)\) total-vm:(\d+)kB, "
                     r"anon-rss:(\d+)kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:0kB "
                     r"oom_score_adj:0$")
INVOKED_RE = re.compile(r"(\S+) invoked oom-killer: gfp_mask=0x[0-9a-f]+\(([A-Z_|]+)\), "
                        r"order=(\d+), oom_score_adj=0$")


class Holder:
    """A minimal LRU holder: remembers what reclaim took, in order."""

    def __init__(self):
        self.taken: list[tuple[int, int]] = []

    def reclaimed(self, pfn, order):
        self.taken.append((pfn, order))


RECLAIM_EVENTS = ("pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "pgsteal_direct")


def _events(mm):
    return {k: mm.vm_events[k] for k in RECLAIM_EVENTS if k in mm.vm_events}


def _cache_blocks(mm, n, holder):
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE|__GFP_COMP")
    pfns = [page_alloc.alloc_pages(mm, gfp, 0) for _ in range(n)]
    assert min(pfns) >= 0
    for p in pfns:
        vmscan.lru_add(mm, p, 0, holder)
    return pfns


def test_shrink_node_reclaims_oldest_first_exact_counts():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    mm = m.mm
    h = Holder()
    pfns = _cache_blocks(mm, 100, h)
    free0 = sum(z.free_pages for z in mm.populated_zones())
    assert vmscan.shrink_node(mm, 0, 40, False) == 40
    assert h.taken == [(p, 0) for p in pfns[:40]]
    assert sum(z.free_pages for z in mm.populated_zones()) == free0 + 40
    assert _events(mm) == {"pgscan_direct": 40, "pgsteal_direct": 40}
    assert list(mm.lru[0]) == pfns[40:]
    # a block the holder freed itself is off the list and never reclaimed
    vmscan.lru_del(mm, pfns[40])
    page_alloc.free_pages(mm, pfns[40], 0)
    assert vmscan.shrink_node(mm, 0, 1000, True) == 59
    assert [p for p, _ in h.taken[40:]] == pfns[41:]
    assert _events(mm) == {"pgscan_direct": 40, "pgsteal_direct": 40,
                                  "pgscan_kswapd": 59, "pgsteal_kswapd": 59}
    assert not mm.lru[0] and vmscan.shrink_node(mm, 0, 10, True) == 0
    assert check_invariants(mm) == []
    # page_owner saw the reclaim frees, kswapd's by kswapd0 with reclaim's stack
    lines = mm.page_owner.dump_page_owner(pfns[99])
    assert "page_owner tracks the page as freed" in lines
    assert any(ln.startswith(" balance_pgdat") for ln in lines)


def test_shrink_node_leaves_pinned_blocks_activated():
    """mm/vmscan.c shrink_folio_list (v6.12): a pinned page-cache folio is not reclaimed
    (goto activate_locked): it is scanned, counted in pgactivate, and goes back to the
    newest end of the list; one pass scans each block once, so a list of pinned blocks
    ends the pass instead of spinning."""
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    mm = m.mm
    h = Holder()
    pfns = _cache_blocks(mm, 10, h)
    pinned = [pfns[0], pfns[3]]
    assert gup.pin_user_pages(mm, [(p, 0) for p in pinned], longterm=False) == pinned
    # 6 to reclaim: pfns 1, 2, 4, 5, 6, 7 go; 0 and 3 are scanned on the way and kept
    assert vmscan.shrink_node(mm, 0, 6, False) == 6
    assert h.taken == [(p, 0) for p in (pfns[1], pfns[2], *pfns[4:8])]
    assert _events(mm) == {"pgscan_direct": 8, "pgsteal_direct": 6}
    assert mm.vm_events["pgactivate"] == 2
    assert list(mm.lru[0]) == [pfns[8], pfns[9], pfns[0], pfns[3]]
    # a pass over a list of pinned blocks only: each is scanned once, nothing freed
    assert vmscan.shrink_node(mm, 0, 100, True) == 2
    assert vmscan.shrink_node(mm, 0, 100, True) == 0
    assert list(mm.lru[0]) == pinned
    assert _events(mm)["pgscan_kswapd"] == 6 and _events(mm)["pgsteal_kswapd"] == 2
    assert mm.vm_events["pgactivate"] == 6
    # unpinned, they are reclaimed like any other
    gup.unpin_user_pages(mm, pinned)
    assert vmscan.shrink_node(mm, 0, 100, True) == 2
    assert h.taken[-2:] == [(p, 0) for p in pinned]
    assert check_invariants(mm) == []


def test_kswapd_reclaims_to_the_high_watermark_in_batches():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    mm = m.mm
    h = Holder()
    zones = [z for z in mm.populated_zones() if z.nid == 0]
    high = max(z.idx for z in zones)
    n = 0
    while any(zone_watermark_ok(mm, z, 0, z.watermark["low"], high, 0) for z in zones):
        _cache_blocks(mm, 256, h)
        n += 256
    lru0 = len(mm.lru[0])
    wake_all_kswapds(mm, zones, 0, mm.gfp("GFP_KERNEL"))
    taken = len(h.taken)
    assert mm.vm_events["pgsteal_kswapd"] == taken and taken % vmscan.SWAP_CLUSTER_MAX == 0
    assert 0 < taken < lru0
    assert any(zone_watermark_ok(mm, z, 0, z.watermark["high"], high, 0) for z in zones)
    # one batch less would not have balanced the node: every page back is needed
    pages = {z: z.free_pages for z in zones}
    for z in zones:
        z.free_pages -= min(pages[z], vmscan.SWAP_CLUSTER_MAX)
    assert not any(zone_watermark_ok(mm, z, 0, z.watermark["high"], high, 0) for z in zones)
    for z in zones:
        z.free_pages = pages[z]
    assert mm.vm_events["pageoutrun"] >= 1
    assert check_invariants(mm) == []


def _run(m, w, dur="2s", seed=0):
    return m.run(w, dur, record=True, seed=seed)


def test_page_cache_is_reclaimed_oldest_first_anon_never():
    """A machine full of held page cache: an anon hog gets its memory from the oldest
    cache pages; no anonymous page is reclaimed and nobody is killed."""
    m = pextlab.boot(mem="128M", cmdline="page_owner=on")
    mm = m.mm
    total = sum(z.managed_pages for z in mm.populated_zones())
    _run(m, W.mix(W.hog("cache", pages=total // 2, ramp="1s", kind="page_cache"),
                  W.hog("keep", pages=total // 5, ramp="1s")))
    log = m.run_log
    ev = log.events_np().copy()
    cache_ti = next(i for i, t in enumerate(log.tasks) if t["comm"] == "cache")
    allocated = ev[(ev[:, 1] == EV_ALLOC) & (ev[:, 4] == cache_ti), 2].tolist()
    assert len(mm.lru[0]) == len(allocated)
    _run(m, W.hog("anon", pages=total // 3, ramp="1s"))
    ev = log.events_np().copy()
    reclaimed = ev[(ev[:, 1] == EV_FREE) & (ev[:, 4] == cache_ti), 2].tolist()
    steal = mm.vm_events.get("pgsteal_kswapd", 0) + mm.vm_events.get("pgsteal_direct", 0)
    assert len(reclaimed) == steal > 0
    assert reclaimed == allocated[:len(reclaimed)]            # oldest first, exactly
    tasks = {t["comm"]: t for t in log.tasks}
    assert tasks["cache"]["reclaimed"] == len(reclaimed)
    assert tasks["keep"]["reclaimed"] == tasks["anon"]["reclaimed"] == 0
    assert tasks["anon"]["failed"] == 0 and "oom_kill" not in mm.vm_events
    assert set(log.held) >= set(allocated[len(reclaimed):])
    assert not {p for p, (_, ti, _) in log.held.items() if ti == cache_ti} & set(reclaimed)
    assert check_invariants(mm) == []
    # the workload frees the rest itself: only what it still holds
    _assert_owns_only_its_blocks(m)


def _owner_pid(mm, pfn):
    sec = mm.sections[pfn >> mm.section_shift]
    row = int(sec.page_ext.owner[pfn & mm.section_mask])
    return int(mm.page_owner.records.get(row, R_PID))


def _assert_owns_only_its_blocks(m):
    """Every block the log will free or holds is an allocated block page_owner gives to
    the task that holds it, with the log's order: it never frees what it does not own."""
    mm, log = m.mm, m.run_log
    if log is None:
        return
    blocks = [(e[2], e[3], e[4]) for e in log.heap if e[1] not in log.dropped]
    blocks += [(p, log.slots[si]["order"], ti) for p, (_, ti, si) in log.held.items()]
    assert len({b[0] for b in blocks}) == len(blocks)
    for pfn, order, ti in blocks:
        sec = mm.sections[pfn >> mm.section_shift]
        off = pfn & mm.section_mask
        assert sec.flags[off] & PG_HEAD, pfn
        assert int(sec.order[off]) == order, pfn
        assert _owner_pid(mm, pfn) == log.tasks[ti]["pid"], pfn
        assert ti not in log.dead
    for pfn, (_, ti, _, _) in log.lru.items():
        assert any(pfn in lru for lru in mm.lru.values())


def test_anon_without_swap_is_never_reclaimed_the_oom_killer_takes_the_largest():
    m = pextlab.boot(mem="128M", cmdline="page_owner=on")
    mm = m.mm
    total = sum(z.managed_pages for z in mm.populated_zones())
    _run(m, W.mix(W.hog("small", pages=total // 5, ramp="1s"),
                  W.hog("big", pages=total // 2, ramp="1s")))
    log = m.run_log
    tasks = {t["comm"]: t for t in log.tasks}
    big_pid, big_ti = tasks["big"]["pid"], log.tasks.index(tasks["big"])
    big_pfns = [p for p, (_, ti, _) in log.held.items() if ti == big_ti]
    rss_kb = len(big_pfns) * 4
    _run(m, W.hog("grow", pages=total // 2, ramp="1s"), seed=1)
    assert "pgsteal_kswapd" not in mm.vm_events and "pgsteal_direct" not in mm.vm_events
    assert mm.vm_events["oom_kill"] == 1
    assert mm.vm_events["allocstall_movable"] >= 1
    dm = [ln.split("] ", 1)[1] for ln in mm.dmesg_lines]
    i = next(i for i, ln in enumerate(dm) if "invoked oom-killer" in ln)
    inv = INVOKED_RE.match(dm[i])
    assert inv and inv.group(1) == "grow" and inv.group(3) == "0"
    assert inv.group(2) == "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO"
    assert dm[i + 1] == ("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
                         f"mems_allowed=0,global_oom,task_memcg=/,task=big,pid={big_pid},uid=0")
    kill = KILL_RE.match(dm[i + 2])
    assert kill and kill.group(1, 2) == (str(big_pid), "big")
    assert int(kill.group(3)) == int(kill.group(4)) == rss_kb
    assert dm[i + 3] == (f"oom_reaper: reaped process {big_pid} (big), now anon-rss:0kB, "
                         "file-rss:0kB, shmem-rss:0kB")
    # the victim's pages were freed, by the victim, and page_owner saw it
    tasks = {t["comm"]: t for t in log.tasks}
    assert tasks["big"]["oom_killed"] == 1 and tasks["big"]["frees"] == len(big_pfns)
    assert tasks["small"]["oom_killed"] == 0 and tasks["grow"]["failed"] == 0
    # (a sample: every page is either free, freed by the victim, or reallocated since)
    sample = big_pfns[:: max(1, len(big_pfns) // 200)]
    dumps = {p: mm.page_owner.dump_page_owner(p) for p in sample}
    freed = [p for p in sample if "page_owner tracks the page as freed" in dumps[p]]
    assert all(_owner_pid(mm, p) != big_pid for p in sample if p not in freed)
    assert len(freed) > len(sample) // 4
    assert all(f"page last free pid {big_pid} tgid {big_pid} stack trace:" in dumps[p]
               for p in freed)
    assert big_pid not in mm.oom_tasks and check_invariants(mm) == []
    _assert_owns_only_its_blocks(m)
    # the killed task allocates nothing more; its comm runs again as a new process
    _run(m, W.anon("big", rate=100, lifetime="1s"), seed=2)
    again = log.tasks[-1]
    assert again["comm"] == "big" and again["pid"] != big_pid and again["allocs"] > 0


def test_oom_killer_rules_no_kill_for_costly_orders_noretry_nofs_lowmem():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    mm = m.mm
    total = sum(z.managed_pages for z in mm.populated_zones())
    _run(m, W.hog("big", pages=int(total * 0.8), ramp="1s"))
    assert "oom_kill" not in mm.vm_events
    for gfp, order in (("GFP_KERNEL|__GFP_NORETRY", 0), ("GFP_KERNEL", 4),
                       ("GFP_KERNEL|__GFP_RETRY_MAYFAIL", 0), ("GFP_NOFS", 0),
                       ("GFP_DMA32", 0), ("GFP_NOWAIT", 0)):
        while page_alloc.alloc_pages(mm, mm.gfp(gfp), order) >= 0:
            pass
        assert "oom_kill" not in mm.vm_events, gfp
    mm.set_task("sh", 1)
    assert page_alloc.alloc_pages(mm, mm.gfp("GFP_KERNEL"), 0) >= 0
    assert mm.vm_events["oom_kill"] == 1 and check_invariants(mm) == []
    assert m.run_log.tasks[0]["oom_killed"] == 1 and not mm.oom_tasks


def test_oom_with_nothing_to_kill_fails_the_allocation():
    m = pextlab.boot(mem="64M")
    mm = m.mm
    gfp = mm.gfp("GFP_KERNEL")
    while page_alloc.alloc_pages(mm, gfp, 0) >= 0:
        pass
    assert mm.dmesg_lines[-1].endswith("Out of memory and no killable processes...")
    assert "oom_kill" not in mm.vm_events and check_invariants(mm) == []


# --- every kind under pressure, with compaction, hugetlb and hotplug interleaved ------------

KINDS = ("anon", "populate", "page_cache", "slab", "slab_reclaimable", "page_tables",
         "kernel_stack", "vmalloc", "pipe", "kmalloc_large", "huge", "other")

step = st.one_of(
    st.tuples(st.just("run"), st.sampled_from(KINDS), st.floats(0.05, 0.98),
              st.sampled_from([None, "200ms", "3s"])),
    st.tuples(st.just("compact")),
    st.tuples(st.just("hugepages"), st.integers(0, 40)),
    st.tuples(st.just("hot_add")),
    st.tuples(st.just("offline"), st.integers(0, 7)),
)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=3, max_size=6))
@example(steps=[("run", "page_cache", 0.6, None), ("run", "anon", 0.5, "3s"), ("compact",),
                ("run", "slab_reclaimable", 0.4, "200ms"), ("run", "anon", 0.98, None)])
@example(steps=[("hugepages", 20), ("run", "anon", 0.7, None), ("hot_add",),
                ("run", "populate", 0.98, None), ("offline", 1), ("run", "pipe", 0.5, None)])
def test_pressure_every_kind_invariants_hold(steps):
    m = pextlab.boot(mem="128M", cmdline="page_owner=on", maxmem="512M")
    mm = m.mm
    for i, s in enumerate(steps):
        if s[0] == "run":
            _, kind, fill, life = s
            total = sum(z.managed_pages for z in mm.populated_zones())
            w = W.mix(W.task(f"t{i}", kind, rate=20000, lifetime=life,
                             count=max(1, int(fill * total) >> (9 if kind == "huge" else 0))),
                      W.anon(f"bg{i}", rate=2000, lifetime="300ms"))
            m.run(w, "1s", seed=i)
        elif s[0] == "compact":
            m.compact_memory()
        elif s[0] == "hugepages":
            m.set_nr_hugepages(s[1])
        elif s[0] == "hot_add":
            try:
                for b in m.hot_add("128M"):
                    m.online(b, "online_movable")
            except PextlabError as e:
                assert "no room" in str(e) or str(e).startswith("ENOMEM")
        else:
            blocks = sorted(b for d in m.memory_devices.values() for b in d["blocks"])
            if blocks:
                m.offline(blocks[s[1] % len(blocks)])
        assert check_invariants(mm) == [], s
        _assert_owns_only_its_blocks(m)
        kills = [ln for ln in mm.dmesg_lines if "Out of memory: Killed process" in ln]
        assert len(kills) == mm.vm_events.get("oom_kill", 0)
        log = m.run_log
        if log is not None:
            killed = {log.tasks[ti]["pid"] for ti in log.dead}
            assert {int(KILL_RE.search(ln).group(1)) for ln in kills} == killed
            assert all(log.rss[ti] == 0 for ti in log.dead)
            assert not killed & set(mm.oom_tasks)


def test_fragger_at_92_percent_three_rounds_runs_to_the_end():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    t0 = time.perf_counter()
    r = m.run(fragger(seed=1, fill=0.92, rounds=3))
    took = time.perf_counter() - t0
    assert ["fill.r1", "free.r1", "fill.r2", "free.r2", "fill.r3", "free.r3"] == [
        k for k in r.summaries]
    assert "after_free" in m.snapshots
    assert check_invariants(m.mm) == []
    print(f"fragger 92% x3 on 1G: {took:.1f} s")
