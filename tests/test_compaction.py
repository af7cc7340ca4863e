"""Compaction (pextlab.kernel.compaction): invariants and owners survive it, it only
moves movable pages, its counters add up, direct/kcompactd/proactive triggers, and
a hypothesis state machine that mixes it with allocation and frees."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import pextlab
from pextlab.kernel import buddy, compaction, page_alloc
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.mmzone import PG_HEAD
from pextlab.kernel.page_owner import MIGRATE_REASONS, R_COMM, R_HANDLE, R_PID, R_REASON, R_TS


def fragment(m, seed=0, fill=0.7, free_frac=0.5):
    """Interleave movable / unmovable / reclaimable order-0 chunks up to ``fill``, then free
    about ``free_frac`` of the movable chunks.  Returns the tracker of live pfns (follows
    migrations)."""
    mm = m.mm
    rng = np.random.default_rng(seed)
    g = [mm.gfp("GFP_HIGHUSER_MOVABLE"), mm.gfp("GFP_KERNEL"), mm.gfp("GFP_KERNEL|__GFP_RECLAIMABLE")]
    total = sum(z.managed_pages for z in mm.all_zones())
    want = int(fill * total) - (total - sum(z.free_pages for z in mm.all_zones()))
    chunks = []
    A = page_alloc.alloc_pages
    n = 0
    while n < want:
        k = int(rng.choice(3, p=[0.7, 0.15, 0.15]))
        c = [A(mm, g[k], 0, None) for _ in range(int(rng.integers(1, 48)))]
        c = [p for p in c if p >= 0]
        n += len(c)
        chunks.append([k, c])
    tracker = {"chunks": chunks, "moved": []}

    def follow(moved, reason):
        rm = {o: nw for o, nw, _ in moved}
        tracker["moved"].extend(moved)
        for ch in chunks:
            ch[1][:] = [rm.get(p, p) for p in ch[1]]
    m.on_migrate(follow)
    for ch in chunks:
        if ch[0] == 0 and rng.random() < free_frac:
            for p in ch[1]:
                page_alloc.free_pages(mm, p, 0)
            ch[1].clear()
    return tracker


def owner_of(mm, pfn):
    t = mm.sections[pfn >> mm.section_shift].page_ext
    row = int(t.owner[pfn & mm.section_mask])
    return mm.page_owner.records.gather(np.array([row]))[0]


def free_o9(mm):
    return sum(z.nr_free[o] << o for z in mm.populated_zones() for o in range(9, mm.nr_orders))


@pytest.fixture(scope="module")
def compacted():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    tr = fragment(m)
    mm = m.mm
    before = {p: owner_of(mm, p) for ch in tr["chunks"] for p in ch[1]}
    kinds = {p: ch[0] for ch in tr["chunks"] for p in ch[1]}
    o9 = free_o9(mm)
    ex = m.df_extfrag()
    u9 = ex[(ex.zone == "DMA32") & (ex.order == 9)].unusable_index.iloc[0]
    ev = m.compact_memory()
    return m, tr, before, kinds, o9, u9, ev


def test_compact_memory_keeps_every_invariant(compacted):
    m = compacted[0]
    assert check_invariants(m.mm) == []


def test_compaction_makes_free_huge_blocks(compacted):
    m, tr, before, kinds, o9, u9, ev = compacted
    assert free_o9(m.mm) > o9 + 40 * 512
    ex = m.df_extfrag()
    assert ex[(ex.zone == "DMA32") & (ex.order == 9)].unusable_index.iloc[0] < u9 - 0.3


def test_pages_keep_their_owner_and_get_the_compaction_reason(compacted):
    m, tr, before, kinds, *_ = compacted
    mm = m.mm
    new_of = {}
    for old, new, _ in tr["moved"]:
        new_of[old] = new
    assert len(new_of) > 1000
    reason = MIGRATE_REASONS.index("compaction")
    for old, rec in list(before.items()):
        new = old
        while new in new_of:
            new = new_of[new]
        sec = mm.sections[new >> mm.section_shift]
        assert sec.flags[new & mm.section_mask] & PG_HEAD, hex(new)
        now = owner_of(mm, new)
        for f in (R_HANDLE, R_PID, R_TS, R_COMM):
            assert now[f] == rec[f], (hex(old), hex(new), f)
        if new != old:
            assert now[R_REASON] == reason
    po = m.df_page_owner()
    moved_rows = po[po.last_migrate_reason == "compaction"]
    assert len(moved_rows) == len({n for n in new_of.values()} & set(po.pfn))


def test_only_movable_pages_move(compacted):
    m, tr, before, kinds, *_ = compacted
    moved_src = {old for old, _, _ in tr["moved"]}
    assert all(kinds.get(p, 0) == 0 for p in moved_src)
    assert any(k != 0 for k in kinds.values())


def test_counters_add_up(compacted):
    m, tr, before, kinds, o9, u9, ev = compacted
    assert ev["pgmigrate_success"] == sum(1 << o for _, _, o in tr["moved"])
    assert ev["compact_migrate_scanned"] > 0 and ev["compact_free_scanned"] > 0
    assert ev["compact_isolated"] >= 2 * ev["pgmigrate_success"]
    assert ev["compact_stall"] == 0           # compact_memory is not an allocation stall
    stats = m.df_compaction_stats()
    assert set(stats.kind) == {"compact_memory"}
    assert stats.migrated.sum() == ev["pgmigrate_success"]
    assert (stats.result == "complete").all()


def test_workload_runner_follows_migration():
    m = pextlab.boot("256M", cmdline="page_owner=on")
    from pextlab.workloads import spec
    w = spec.mix(spec.anon(rate=20000, lifetime="3s"), spec.slab(rate=3000, lifetime="20s"))
    m.run(w, duration="2s")
    assert m.run_log.heap
    m.compact_memory()
    assert compaction.compaction_state(m.mm).history
    m.run(w, duration="10s")           # frees the pending (moved) blocks by their new pfns
    assert check_invariants(m.mm) == []


def test_direct_compaction_on_a_costly_allocation():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    fragment(m, fill=0.9, free_frac=0.5)
    mm = m.mm
    # use up every free order >= 9 block
    held = []
    while True:
        p = page_alloc.alloc_pages(mm, mm.gfp("GFP_KERNEL|__GFP_NORETRY") & ~mm.profile.gfp_bits["__GFP_DIRECT_RECLAIM"], 9, None)
        if p < 0:
            break
        held.append(p)
    assert free_o9(mm) <= 1024              # what the watermarks keep back
    r = m.probe_high_order(9, 3, gfp="GFP_HIGHUSER_MOVABLE|__GFP_RETRY_MAYFAIL")
    assert r["succeeded"] == 3
    assert r["compact_stall"] >= 1 and r["compact_success"] >= 1 and r["pgmigrate_success"] > 0
    assert "direct" in set(m.df_compaction_stats().kind)
    assert check_invariants(mm) == []


def test_no_direct_compaction_without_direct_reclaim():
    m = pextlab.boot("256M", cmdline="page_owner=on")
    fragment(m, fill=0.9)
    mm = m.mm
    while page_alloc.alloc_pages(mm, mm.gfp("GFP_ATOMIC"), 9, None) >= 0:
        pass
    r = m.probe_high_order(9, 2, gfp="GFP_NOWAIT")
    assert r["succeeded"] == 0 and r["compact_stall"] == 0


def test_deferral_after_a_failed_sync_compaction():
    m = pextlab.boot("256M", cmdline="page_owner=on")
    fragment(m, fill=0.9, free_frac=0.0)       # nothing free to migrate into
    mm = m.mm
    z = mm.zone(0, "DMA32")
    compaction.defer_compaction(mm, z, 9)
    compaction.defer_compaction(mm, z, 9)
    zc = compaction.compaction_state(mm).zone(mm, z)
    assert zc.defer_shift == 2
    # deferred for 2^shift - 1 attempts, then allowed
    got = [compaction.compaction_deferred(mm, z, 9) for _ in range(4)]
    assert got == [True, True, True, False]
    compaction.compaction_defer_reset(mm, z, 9, True)
    assert zc.defer_shift == 0 and zc.order_failed == 10
    assert not compaction.compaction_deferred(mm, z, 8)


def test_proactive_compaction_follows_proactiveness():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    fragment(m, fill=0.7, free_frac=0.6)
    mm = m.mm
    held = []
    while True:        # make the zone's score high: no free huge blocks left
        p = page_alloc.alloc_pages(mm, mm.gfp("GFP_HIGHUSER_MOVABLE") & ~mm.profile.gfp_bits["__GFP_DIRECT_RECLAIM"], 9, None)
        if p < 0:
            break
        held.append(p)
    nid = 0
    assert compaction.fragmentation_score_node(mm, nid) > 90
    m.sysctl("compaction_proactiveness", 0)
    assert m.idle(2) == 0
    m.sysctl("compaction_proactiveness", 20)
    assert m.idle(2) >= 1
    z = mm.zone(0, "DMA32")
    assert compaction.fragmentation_score_zone(mm, z) <= 80
    st = m.df_compaction_stats()
    assert "proactive" in set(st.kind)
    assert m.vmstat_compaction()["compact_daemon_migrate_scanned"] > 0
    assert check_invariants(mm) == []


def test_watermark_boost_and_kswapd():
    m = pextlab.boot("256M", cmdline="page_owner=on")
    mm = m.mm
    z = mm.zone(0, "DMA32")
    low0 = z.watermark["low"]
    assert buddy.boost_watermark(mm, z)
    assert page_alloc.zone_watermark_boost(mm, z) == 512
    assert z.watermark["low"] == low0 + 512 and page_alloc.base_watermark(mm, z, "low") == low0
    for _ in range(200):
        buddy.boost_watermark(mm, z)
    cap = max(512, page_alloc.base_watermark(mm, z, "high") * 15000 // 10000)
    assert page_alloc.zone_watermark_boost(mm, z) == cap
    m.idle(0.1)                              # kswapd runs: boost dropped
    assert page_alloc.zone_watermark_boost(mm, z) == 0 and z.watermark["low"] == low0
    assert mm.vm_events.get("pageoutrun", 0) == 1
    m.sysctl("watermark_boost_factor", 0)
    assert not buddy.boost_watermark(mm, z)


def test_sub_pageblock_claim_boosts():
    """An unmovable request that can only claim part of a movable pageblock boosts the
    zone's watermarks (try_to_claim_block -> boost_watermark)."""
    m = pextlab.boot("256M", cmdline="page_owner=on")
    mm = m.mm
    mov = mm.gfp("GFP_HIGHUSER_MOVABLE")
    A = page_alloc.alloc_pages
    pfns = []
    while (p := A(mm, mov, 0, None)) >= 0:
        pfns.append(p)
    assert all(not z.nr_free[o] for z in mm.populated_zones() for o in range(9, 11))
    # free 4 runs of 384 pages inside movable pageblocks: free blocks of order <= 8
    pfns.sort()
    freed = 0
    for start in range(len(pfns) // 3, len(pfns), len(pfns) // 8):
        blk = pfns[start] & ~511
        run = [p for p in pfns[start:start + 1024] if blk <= p < blk + 384]
        for p in run:
            page_alloc.free_pages(mm, p, 0)
        freed += len(run)
    assert freed > 500
    claims = mm.vm_events.get("pgsteal_fallback_claim", 0)
    for _ in range(5000):         # use up what the unmovable lists still hold
        got = A(mm, mm.gfp("GFP_KERNEL"), 0, None)
        assert got >= 0
        if mm.vm_events.get("pgsteal_fallback_claim", 0) > claims:
            break
    assert mm.vm_events.get("pgsteal_fallback_claim", 0) == claims + 1
    z = mm.zone_of_pfn(got)
    assert page_alloc.zone_watermark_boost(mm, z) == 512
    sec = mm.sections[got >> mm.section_shift]
    assert sec.pageblock_mt[(got & mm.section_mask) >> 9] == mm.profile.mt_unmovable
    assert check_invariants(mm) == []


# --- a state machine mixing allocation, frees and compaction ------------------------------

GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE")


class CompactionMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.m = pextlab.boot("256M", cmdline="page_owner=on")
        self.mm = self.m.mm
        self.live: dict[int, tuple[int, tuple]] = {}     # pfn -> (order, owner key)
        self.m.on_migrate(self._follow)

    def _follow(self, moved, reason):
        for old, new, order in moved:
            o, key = self.live.pop(old)
            assert o == order
            self.live[new] = (o, key)

    def _key(self, pfn):
        r = owner_of(self.mm, pfn)
        return (int(r[R_HANDLE]), int(r[R_PID]), int(r[R_TS]))

    @rule(order=st.integers(0, 3), gfp=st.sampled_from(GFPS), n=st.integers(1, 400))
    def alloc(self, order, gfp, n):
        for _ in range(n):
            p = self.m.alloc_pages(order, gfp)
            if p is None:
                return
            self.mm.advance(1000)
            self.live[p] = (order, self._key(p))

    @rule(data=st.data(), frac=st.floats(0.1, 0.9))
    def free_some(self, data, frac):
        if not self.live:
            return
        seed = data.draw(st.integers(0, 2**16))
        rng = np.random.default_rng(seed)
        pfns = sorted(self.live)
        for p in rng.choice(pfns, size=int(len(pfns) * frac), replace=False).tolist():
            o, _ = self.live.pop(p)
            self.m.free_pages(p, o)

    @rule()
    def compact(self):
        self.m.compact_memory()

    @rule(n=st.integers(1, 20))
    def hugepages(self, n):
        self.m.set_nr_hugepages(n)
        self.m.set_nr_hugepages(0)

    @rule()
    def proactive(self):
        compaction.proactive_compact_node(self.mm, 0)

    @invariant()
    def laws(self):
        assert check_invariants(self.mm) == []
        for p, (o, key) in self.live.items():
            sec = self.mm.sections[p >> self.mm.section_shift]
            assert sec.flags[p & self.mm.section_mask] & PG_HEAD
            assert sec.order[p & self.mm.section_mask] == o
            assert self._key(p) == key


TestCompactionStateful = CompactionMachine.TestCase
TestCompactionStateful.settings = settings(max_examples=12, stateful_step_count=12, deadline=None,
                                           derandomize=True,
                                           suppress_health_check=[HealthCheck.too_slow])
