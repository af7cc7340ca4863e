"""The workload runner's C records (workloads/_runlog.pyx, workloads/_replay.pyx) against
the Python structures they replaced: the expiry heap against ``heapq`` on tuples (same
array, entry for entry), the int64 buffers against ``array('q')``, the per-block record
tables (``log.held``, ``log.lru``) against a dict of tuples, and the zone each
allocation is counted in against ``mm.zone_of_pfn`` -- on sections shared by zones and
by nodes, and across memory hotplug in a step hook.  Also the run log's migration
follower on a pending free reclaim already dropped, the log's counters (kept in C by the
replay) as Python code sees them mid-run, and the kernel's LRU lists the replay fills."""
from __future__ import annotations

import copy
import heapq
import pickle
import random
from array import array

import numpy as np
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.kernel import vmscan
from pextlab.errors import PextlabError
from pextlab.workloads._runlog import BlockTable, ExpiryHeap, Int64Buffer
from pextlab.workloads.events import EV_ALLOC


# --- the expiry heap: heapq's array, entry for entry -------------------------------------------

def _ref_kill(ref, tis, dropped):
    """RunLog.kill's heap part as it was on the tuple list."""
    victims, keep = [], []
    for e in ref:
        (victims if e[4] in tis and e[1] not in dropped else keep).append(e)
    ref[:] = keep
    heapq.heapify(ref)
    return [(e[2], e[3], e[4], e[5], e[6]) for e in victims]


@pytest.mark.parametrize("seed", range(6))
def test_expiry_heap_is_heapq_entry_for_entry(seed):
    r = random.Random(seed)
    h, ref, seq = ExpiryHeap(), [], 0
    for _ in range(6000):
        op = r.random()
        if op < 0.55:                         # times with many ties: seq decides
            e = (r.randrange(40), seq, r.randrange(1 << 20), r.randrange(4), r.randrange(5),
                 r.randrange(9), r.randrange(12))
            seq += 1
            h.push(*e)
            heapq.heappush(ref, e)
        elif op < 0.95 and ref:
            assert h.pop() == heapq.heappop(ref)
        elif op < 0.975:
            dropped = {e[1] for e in ref if r.random() < 0.3}
            tis = set(r.sample(range(5), 2))
            assert h.remove_tasks(tis, dropped) == _ref_kill(ref, tis, dropped)
        else:
            dropped = {e[1] for e in ref if r.random() < 0.3}
            remap = {e[2]: e[2] + 7 for e in ref if r.random() < 0.2}
            h.repoint(remap, dropped, lambda k, new, order: k + 1)
            ref = [e[:2] + (remap[e[2]], e[3], e[4], e[5], e[6] + 1)
                   if e[2] in remap and e[1] not in dropped else e for e in ref]
        assert list(h) == ref and len(h) == len(ref)
    assert ref and h[0] == ref[0] and h[-1] == ref[-1]
    for c in (copy.deepcopy(h), pickle.loads(pickle.dumps(h))):
        assert list(c) == ref
    with pytest.raises(IndexError):
        h[len(ref)]
    with pytest.raises(IndexError):
        ExpiryHeap().pop()


def test_int64_buffer_moves_whole_records_into_the_array():
    b, a, ref = Int64Buffer(), array("q"), []
    for i in range(5000):                     # past several doublings
        rec = (i, -i, 1 << 62, -(1 << 63), i % 7, 0, 3)
        b.extend(rec)
        ref.extend(rec)
        if i % 1234 == 0:
            b.flush_into(a)
    for c in (copy.deepcopy(b), pickle.loads(pickle.dumps(b))):
        ca = array("q", a)
        c.flush_into(ca)
        assert list(ca) == ref
    n = len(b)
    with pytest.raises(TypeError):
        b.extend((1, 2, "x"))                 # not all ints: nothing of it is kept
    with pytest.raises(OverflowError):
        b.extend((1 << 63,))
    assert len(b) == n
    b.flush_into(a)
    assert list(a) == ref and len(b) == 0


# --- the per-block records: a dict of tuples, in insertion order ---------------------------------

def _assert_same(t, ref):
    assert list(t.items()) == list(ref.items()) and list(t) == list(ref)
    assert t.keys() == list(ref.keys()) and t.values() == list(ref.values())
    assert len(t) == len(ref) and bool(t) == bool(ref)
    assert t == ref and ref == t and not (t != ref) and not (ref != t)


@pytest.mark.parametrize("width,seed", [(3, 0), (3, 1), (4, 2), (4, 3), (1, 4)])
def test_block_table_is_a_dict_of_tuples(width, seed):
    r = random.Random(seed)
    t, ref = BlockTable(width), {}
    keys = [r.randrange(-(1 << 63), 1 << 63) for _ in range(40)]     # a few extreme pfns
    for step in range(30_000):
        # the live set grows to a few thousand, then shrinks: rebuilds both ways
        grow = step < 15_000
        op = r.random()
        key = r.choice(keys) if r.random() < 0.01 else r.randrange(0, 6000 if grow else 600)
        if op < (0.55 if grow else 0.3):
            val = tuple(r.randrange(-(1 << 63), 1 << 63) for _ in range(width))
            t[key] = val                    # a new key goes last, a present one stays put
            ref[key] = val
        elif op < 0.8:
            assert t.pop(key, None) == ref.pop(key, None)
        elif op < 0.9:
            if key in ref:
                del t[key]
                del ref[key]
            else:
                with pytest.raises(KeyError):
                    del t[key]
        else:
            assert (key in t) == (key in ref) and t.get(key) == ref.get(key)
            assert t.get(key, "none") == ref.get(key, "none")
            if key in ref:
                assert t[key] == ref[key] and type(t[key]) is tuple
            else:
                with pytest.raises(KeyError):
                    t[key]
                with pytest.raises(KeyError):
                    t.pop(key)
        if step % 3000 == 0:
            _assert_same(t, ref)
            for c in (copy.deepcopy(t), pickle.loads(pickle.dumps(t)), t.copy(), copy.copy(t)):
                _assert_same(c, ref)
                c[-5] = (7,) * width        # a copy is its own table
                assert -5 not in t or t[-5] != (7,) * width or ref.get(-5) == (7,) * width
    _assert_same(t, ref)
    for k in list(ref):
        assert t.pop(k) == ref.pop(k)
    _assert_same(t, ref)
    t[3] = (1,) * width                     # usable again once empty
    assert t == {3: (1,) * width}


def test_block_table_compares_like_a_dict_and_refuses_bad_records():
    t = BlockTable(3)
    t[10] = (1, 2, 3)
    t[5] = [4, 5, 6]                        # any sequence of ints; read back as a tuple
    assert t == {10: (1, 2, 3), 5: (4, 5, 6)} and t == {5: (4, 5, 6), 10: (1, 2, 3)}
    assert t != {10: (1, 2, 3), 5: [4, 5, 6]} and t != {10: (1, 2, 3)} and t != [10, 5]
    assert "x" not in t and 1 << 64 not in t and t.get(1.5) is None
    with pytest.raises(PextlabError):
        t[11] = (1, 2)
    with pytest.raises(PextlabError):
        t["x"] = (1, 2, 3)
    with pytest.raises(PextlabError):
        t[1 << 63] = (1, 2, 3)
    with pytest.raises(OverflowError):
        t[12] = (1, 2, 1 << 64)
    with pytest.raises(TypeError):
        t[12] = (1, 2, "3")
    assert list(t.items()) == [(10, (1, 2, 3)), (5, (4, 5, 6))]     # nothing of them kept
    with pytest.raises(PextlabError):
        BlockTable(0)
    with pytest.raises(TypeError):
        hash(t)


# --- the zone an allocation counts in: zone_of_pfn's answer --------------------------------------

def _assert_alloc_zones_are_zone_of_pfn(mm, log, events=None):
    E = log.events_np() if events is None else events
    nm = log.nr_mt
    A = E[E[:, 1] == EV_ALLOC]
    assert len(A)
    for pfn, k in zip(A[:, 2].tolist(), A[:, 6].tolist()):
        assert log.zones[k // nm] is mm.zone_of_pfn(pfn), pfn


@pytest.mark.parametrize("mem,nodes", [("256M", 1), ("1G", 3)])
def test_zone_codes_on_sections_shared_by_zones_and_nodes(mem, nodes):
    """Section 0 holds DMA and DMA32; with 3 nodes on 1G two sections hold two nodes."""
    m = pextlab.boot(mem=mem, nodes=nodes, cmdline="page_owner=on", seed=3)
    mm = m.mm
    shared = [nr for nr, z in enumerate(mm.section_zone) if z is None and mm.sections[nr] is not None]
    assert shared
    total = sum(z.managed_pages for z in mm.populated_zones())
    w = W.mix(*(W.anon(f"a{i}", rate=30000, lifetime="300ms") for i in range(nodes)),
              W.hog("hog", pages=total * 3 // 4, ramp="1s"))
    log = W.run(mm, w, W.parse_duration("2s"), np.random.default_rng(1), record=True)
    E = log.events_np()
    A = E[E[:, 1] == EV_ALLOC]
    hit = {p >> mm.section_shift for p in A[:, 2].tolist()} & set(shared)
    assert hit                                # the shared sections were allocated from
    _assert_alloc_zones_are_zone_of_pfn(mm, log)


def test_zone_codes_follow_hotplug_in_a_step_hook():
    """A hook offlines a movable block the workload allocates from and onlines it again
    into ZONE_NORMAL: allocations there count in Movable before, Normal after."""
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", maxmem="2G", seed=1)
    mm = m.mm
    (block,) = m.hot_add("128M")
    assert m.online(block, "online_movable").ok
    lo = block << mm.section_shift                      # a memory block is a section here
    hi = lo + (1 << mm.section_shift)
    done = []

    def replug(t):
        if t == 10**9:
            assert m.offline(block).ok and m.online(block, "online_kernel").ok
            done.append(t)

    w = W.mix(W.anon("app", rate=40000, lifetime="200ms"), W.hog("hog", pages=150000, ramp="1s"))
    log = W.run(mm, w, W.parse_duration("3s"), np.random.default_rng(2), record=True,
                hooks=[(10**9, replug)])
    assert done
    E = log.events_np()
    A = E[(E[:, 1] == EV_ALLOC) & (E[:, 2] >= lo) & (E[:, 2] < hi)]
    zone = [log.zones[k // log.nr_mt].name for k in A[:, 6].tolist()]
    before = {z for z, t in zip(zone, A[:, 0].tolist()) if t < 10**9}
    after = {z for z, t in zip(zone, A[:, 0].tolist()) if t > 10**9}
    assert before == {"Movable"} and after == {"Normal"}
    _assert_alloc_zones_are_zone_of_pfn(mm, log, A[A[:, 0] > 10**9])


# --- the migration follower and reclaimed pending frees ----------------------------------------

def test_follow_migration_leaves_a_reclaimed_pending_free_alone():
    """Reclaim took a block with a pending free (its seq is in ``dropped``, its pages left
    ``used``); a later migration of a block now at that pfn must not move ``used`` pages
    between zones nor re-point the dead entry."""
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1)
    mm = m.mm
    log = W.run(mm, W.page_cache("cp", rate=2000, lifetime="60s"), W.parse_duration("1s"),
                np.random.default_rng(4))
    nid = next(iter(mm.lru))
    pfn = next(iter(mm.lru[nid]))
    seq = log.lru[pfn][0]
    assert seq >= 0 and vmscan.shrink_node(mm, nid, 1, False) >= 1
    assert seq in log.dropped
    used = list(log.used)
    k, order = next((e[6], e[3]) for e in log.heap if e[1] == seq)
    other = next(z.zone_start_pfn for z in mm.populated_zones() if z is not log.zones[k // log.nr_mt])
    assert mm.zone_of_pfn(other) is not log.zones[k // log.nr_mt]      # another zone
    log.follow_migration([(pfn, other, order)], "compaction")
    assert log.used == used
    assert [e[2] for e in log.heap if e[1] == seq] == [pfn]
    assert sum(used) == sum(log.rss)


# --- the replay's C counters and LRU bookkeeping -------------------------------------------------

def _live_pages(log):
    heap = sum(1 << e[3] for e in log.heap if e[1] not in log.dropped)
    return heap + sum(1 << log.slots[si]["order"] for _, _, si in log.held.values())


def test_log_counters_are_current_whenever_python_code_runs():
    """The replay keeps ``log.used``/``log.rss`` in C: a step hook sees them current, and
    what reclaim (in the slow path) and an OOM kill (here from a hook) change in them is
    kept -- at every hook and at the end they add up to the log's live blocks."""
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=2)
    mm = m.mm
    total = sum(z.managed_pages for z in mm.populated_zones())
    seen = []

    def check(t):
        log = m.run_log
        assert sum(log.used) == sum(log.rss) == _live_pages(log) > 0
        seen.append(t)
        if t == 2 * 10**9:
            kill = next(o for o in mm.oom_tasks.values() if o.comm == "anon")
            assert kill.rss_pages() > 0 and kill.oom_kill() > 0

    m.run(W.mix(W.hog("cache", pages=total // 2, ramp="1s", kind="page_cache"),
                W.anon("anon", rate=20000, lifetime="3s"),
                W.hog("keep", pages=total // 3, ramp="2s")), duration="4s", seed=3)
    log = W.run(mm, W.page_cache("cp", rate=20000, lifetime="1s"), W.parse_duration("3s"),
                np.random.default_rng(5), log=m.run_log, hooks=[(10**9 // 2, check)])
    assert len(seen) == 6 and sum(t["reclaimed"] for t in log.tasks) > 0
    assert sum(log.used) == sum(log.rss) == _live_pages(log)
    assert all(log.rss[ti] == 0 for ti in log.dead) and log.dead


def test_kernel_lru_lists_are_the_logs_blocks_by_node_in_order():
    """The replay puts reclaimable blocks on the kernel's LRU and takes them off as
    vmscan.lru_add/lru_del do: each node's list is the log's LRU blocks on that node
    (page_to_nid), oldest first, across reclaim and compaction's migrations."""
    m = pextlab.boot(mem="1G", nodes=2, cmdline="page_owner=on", seed=1)
    mm = m.mm
    total = sum(z.managed_pages for z in mm.populated_zones())
    m.run(W.mix(W.page_cache("cp0", rate=30000, lifetime="2s", nid=0),
                W.page_cache("cp1", rate=30000, lifetime="2s", nid=1),
                W.slab("sr", rate=5000, lifetime="1s", reclaimable=True),
                W.hog("hog", pages=total // 2, ramp="2s")), duration="4s", seed=1)
    log = m.run_log
    assert sum(t["reclaimed"] for t in log.tasks) > 0
    assert set(mm.lru) == {0, 1} and log.lru
    for nid, lru in mm.lru.items():
        assert list(lru) == [p for p in log.lru if mm.pfn_to_nid(p) == nid]
        assert all(holder is log for _, holder in lru.values())
    assert sum(len(lru) for lru in mm.lru.values()) == len(log.lru)


def test_a_pending_free_the_log_does_not_know_is_refused():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    m.run(W.anon("a", rate=1000, lifetime="10s"), duration="1s")
    log = m.run_log
    t, seq, pfn, order, ti, si, k = log.heap[0]
    log.expiry.push(t, 10**9, pfn, order, len(log.tasks) + 5, si, k)
    with pytest.raises(pextlab.PextlabError, match="not the run log's"):
        m.run(W.anon("a", rate=1000, lifetime="10s"), duration="20s")


def test_a_pending_free_of_a_block_already_freed_is_refused():
    """The replay frees through the kernel's C entry point with the kernel's checks: a
    second free of a block (a log entry the run did not make) is a bad page."""
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    m.run(W.anon("a", rate=1000, lifetime="10s"), duration="1s")
    log = m.run_log
    t, seq, pfn, order, ti, si, k = log.heap[0]
    log.expiry.push(t, 10**9, pfn, order, ti, si, k)      # due right after the real one
    with pytest.raises(pextlab.PextlabError, match=f"free_pages: pfn {pfn:#x} is"):
        m.run(W.anon("a", rate=1000, lifetime="10s"), duration="20s")


# --- the collector is paused during a replay (a dead machine's cycles are not walked in it) ------

@pytest.mark.parametrize("enabled", [True, False])
def test_the_replay_pauses_the_cyclic_collector_and_gives_it_back(enabled):
    import gc
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    seen = []
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        W.run(m.mm, W.anon("app", rate=20000, lifetime="100ms"), W.parse_duration("1s"),
              np.random.default_rng(1), hooks=[(10**8, lambda t: seen.append(gc.isenabled()))])
        assert seen and not any(seen)           # paused inside the replay, hooks included
        assert gc.isenabled() == enabled        # and as it was after
        with pytest.raises(PextlabError):       # a replay that fails gives it back too
            W.run(m.mm, W.anon("app", rate=20000, lifetime="100ms"), W.parse_duration("1s"),
                  np.random.default_rng(1), hooks=[(10**8, _raise)])
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()


def _raise(t):
    raise PextlabError("a hook failed")
