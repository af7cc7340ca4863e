"""Regression tests of the simulator: each reported crash or corruption with its reproducer
(issue 11, items 7-10), checked against the kernel behaviour the fix follows."""
from __future__ import annotations

import pytest

import pextlab
from pextlab import PextlabError
from pextlab.kernel import compaction, page_isolation
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.gfp import ZONE_NORMAL
from pextlab.kernel.migrate import HeldBlocks
from pextlab.kernel.pcp import drain_zone_pages

BLOCK = 32768           # pages per 128 MiB memory block


# --- 7: compaction over overlapping zone spans ------------------------------------------------

def overlapped():
    """Normal onlined above a Movable block: Normal's span [blocks 32, 41) covers block 37."""
    m = pextlab.boot(mem="512M", maxmem="2G")
    for s in ("256M", "256M", "512M", "256M"):
        m.hot_add(s)
    m.online(32, "online")
    m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    m.online(37, "online_movable")
    m.online(40, "online")
    m.alloc_pages(2, "GFP_TRANSHUGE")          # Movable's first pageblock: a migration target
    normal, movable = m.mm.zone(0, "Normal"), m.mm.zone(0, "Movable")
    assert normal.zone_start_pfn < movable.zone_start_pfn < normal.zone_end_pfn
    return m


def fragment_normal(m):
    """Fill Normal with movable pages, then free every other page of block 32 past its first
    pageblock: migrating that pageblock needs more targets than the top of Normal has, so
    the free scanner walks down through block 37, which is Movable's."""
    normal = m.mm.zone(0, "Normal")
    got = []
    while True:
        p = m.alloc_pages(0, "GFP_USER|__GFP_MOVABLE")
        if p is None or m.mm.zone_of_pfn(p) is not normal:
            if p is not None:
                m.free_pages(p, 0)
            break
        got.append(p)
    lo = 32 * BLOCK
    for p in [p for p in got if lo + 512 <= p < lo + BLOCK][::2]:
        m.free_pages(p, 0)
    return normal


def test_compact_memory_skips_blocks_of_another_zone_in_the_span():
    m = overlapped()                            # the reproducer: KeyError before
    m.compact_memory()
    assert check_invariants(m.mm) == []


def test_direct_compaction_skips_blocks_of_another_zone_in_the_span():
    m = overlapped()
    normal = fragment_normal(m)
    mm = m.mm
    gfp = mm.gfp("GFP_USER|__GFP_MOVABLE")
    for prio in (compaction.COMPACT_PRIO_ASYNC, compaction.COMPACT_PRIO_SYNC_LIGHT,
                 compaction.COMPACT_PRIO_SYNC_FULL):
        rc, _ = compaction.try_to_compact_pages(mm, gfp, 9, mm.profile.mt_movable, [normal],
                                                ZONE_NORMAL, 1, prio)
        assert rc == compaction.COMPACT_SUCCESS
        assert check_invariants(mm) == []


def test_kcompactd_skips_blocks_of_another_zone_in_the_span():
    m = overlapped()
    fragment_normal(m)
    ev0 = m.vmstat_compaction()["pgmigrate_success"]
    compaction.kcompactd_do_work(m.mm, 0, 9, ZONE_NORMAL)
    assert m.vmstat_compaction()["pgmigrate_success"] > ev0
    assert check_invariants(m.mm) == []


def test_hugetlb_pool_growth_compacts_past_blocks_of_another_zone():
    m = overlapped()
    fragment_normal(m)
    assert m.set_nr_hugepages(1000) > 0
    assert m.df_hugetlb()["compact_stall"].iloc[-1] > 0
    assert check_invariants(m.mm) == []


def test_migrate_scanner_leaves_the_other_zones_pages_alone():
    m = overlapped()
    movable = m.mm.zone(0, "Movable")
    held = HeldBlocks()
    m.on_migrate(held)
    for _ in range(64):                         # movable pages in the Movable block
        held.blocks[m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")] = 0
    assert all(m.mm.zone_of_pfn(p) is movable for p in held.blocks)
    m.compact_memory()
    # compact_memory compacts Movable on its own, so its pages may move -- but only
    # inside Movable, never as sources of Normal's pass
    assert all(m.mm.zone_of_pfn(p) is movable for p in held.blocks)
    assert check_invariants(m.mm) == []


# --- 8: the hugetlb pool across memory offline -------------------------------------------------

def test_offline_dissolves_free_huge_pages_instead_of_migrating_them():
    m = pextlab.boot(mem="1G", maxmem="2G")
    b = m.hot_add("128M", online="online_movable")
    assert m.set_nr_hugepages(20) == 20
    lo, hi = b[0] * BLOCK, (b[0] + 1) * BLOCK
    in_block = [p for p in m.mm.hugetlb.pfns() if lo <= p < hi]
    assert in_block                              # GFP_HIGHUSER_MOVABLE: Movable first
    r = m.offline(b[0])
    assert r.ok and r.migrated == 0              # free huge pages are not migratable
    assert m.nr_hugepages == 20 - len(in_block)  # dissolve_free_hugetlb_folios
    assert not any(lo <= p < hi for p in m.mm.hugetlb.pfns())
    assert check_invariants(m.mm) == []
    assert m.set_nr_hugepages(0) == 0            # was: "free_pages: pfn ... is reserved"
    assert check_invariants(m.mm) == []


def test_shrinking_the_pool_after_offline_never_frees_another_owners_block():
    m = pextlab.boot("1G", cmdline="page_owner=on", maxmem="4G")
    assert m.set_nr_hugepages(400) == 400
    r = m.offline(5)
    lost = 400 - m.nr_hugepages
    assert r.ok and r.migrated == 0 and lost > 0
    mine = m.alloc_pages(9, "GFP_HIGHUSER_MOVABLE")
    assert mine is not None
    assert m.set_nr_hugepages(8) == 8
    x = m.alloc_pages(10, "GFP_HIGHUSER_MOVABLE")
    assert x is None or not x <= mine < x + 1024
    po = m.df_page_owner().set_index("pfn")
    assert po.loc[mine, "order"] == 9
    assert check_invariants(m.mm) == []


# --- 9: __GFP_MOVABLE|__GFP_RECLAIMABLE --------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(cmdline="pextlab.pcp=on"), dict(cmdline=""),
                                dict(cmdline="pextlab.pcp=on", profile="v3.19")])
def test_movable_and_reclaimable_together_is_refused(kw):
    m = pextlab.boot(mem="1G", **kw)
    m.free_pages(m.alloc_pages(1), 1)
    before = [z.nr_pcp_pages() for z in m.mm.all_zones()]
    with pytest.raises(PextlabError, match=r"gfp mask 0x[0-9a-f]+ \(.+\) has both"):
        m.alloc_pages(0, "GFP_KERNEL|__GFP_MOVABLE|__GFP_RECLAIMABLE")
    raw = m.mm.gfp("__GFP_MOVABLE") | m.mm.gfp("__GFP_RECLAIMABLE")
    with pytest.raises(PextlabError, match="both __GFP_MOVABLE and __GFP_RECLAIMABLE"):
        m.alloc_pages(0, raw)
    assert [z.nr_pcp_pages() for z in m.mm.all_zones()] == before
    assert check_invariants(m.mm) == []
    p = m.alloc_pages(0)                      # the machine goes on: alloc and free work
    m.free_pages(p, 0)
    assert check_invariants(m.mm) == []


def test_pcp_lists_exist_for_the_pcp_types_only():
    m = pextlab.boot(mem="1G", cmdline="pextlab.pcp=on")
    pcp = m.mm.zone(0, "DMA32").pcp
    assert pcp.pindex(1, 0) == 3
    with pytest.raises(PextlabError, match="migratetype 3"):
        pcp.pindex(0, 3)


def test_a_corrupted_pcp_count_is_reported_not_looped_on():
    m = pextlab.boot(mem="1G", cmdline="pextlab.pcp=on")
    m.free_pages(m.alloc_pages(0), 0)
    z = m.mm.zone(0, "DMA32")
    z.pcp.count += 1                            # what bug 9 did: count above the lists
    with pytest.raises(AssertionError, match="every pcp list is empty"):
        drain_zone_pages(m.mm, z)


# --- 10: what a failed offline leaves behind --------------------------------------------------

def eintr_machine():
    """A Movable block full of order-3 movable pages and 4 pool pages, and so little memory
    elsewhere that only part of it can migrate: offlining it fails with EINTR."""
    m = pextlab.boot("1G", cmdline="page_owner=on", maxmem="2G")
    b = m.hot_add("128M", online="online_movable")[0]
    assert m.set_nr_hugepages(4) == 4
    held = HeldBlocks()
    m.on_migrate(held)
    lo, hi = b * BLOCK, (b + 1) * BLOCK
    while True:
        p = m.alloc_pages(3, "GFP_HIGHUSER_MOVABLE")
        if p is None or not lo <= p < hi:
            if p is not None:
                m.free_pages(p, 3)
            break
        held.blocks[p] = 3
    kernel = []
    for order in (9, 0):
        while (p := m.alloc_pages(order, "GFP_KERNEL")) is not None:
            kernel.append((p, order))
    for p, o in kernel[:2]:                     # room for about a hundred targets
        m.free_pages(p, o)
    return m, b, held, kernel[2:]


def test_eintr_offline_leaves_migrated_pages_migrated_and_the_rest_as_before():
    m, b, held, _ = eintr_machine()
    mm = m.mm
    lo, hi = b * BLOCK, (b + 1) * BLOCK
    sec = mm.sections[lo >> mm.section_shift]
    types = bytes(sec.pageblock_mt)
    pool = sorted(mm.hugetlb.pfns())
    r = m.offline(b)
    assert (r.ok, r.error, r.reason) == (False, "EINTR", "signal backoff")
    assert m.df_memory_blocks().set_index("block").loc[b, "state"] == "online"
    assert bytes(sec.pageblock_mt) == types     # undo_isolate_page_range
    moved = [p for p in held.blocks if not lo <= p < hi]
    assert moved                                # migrated before the failure: they stay moved
    assert r.migrated == 8 * len(moved)         # and the outcome counts them
    po = m.df_page_owner().set_index("pfn")
    assert set(po.loc[moved, "last_migrate_reason"]) == {"memory_hotplug"}
    assert sorted(mm.hugetlb.pfns()) == pool    # migration failed before the dissolve step
    assert check_invariants(mm) == []           # held blocks, pool, free lists all consistent


def test_offline_after_eintr_succeeds_once_memory_is_free():
    m, b, held, kernel = eintr_machine()
    assert m.offline(b).error == "EINTR"
    for p, o in kernel:
        m.free_pages(p, o)
    r = m.offline(b)
    assert r.ok and r.migrated > 0
    assert m.nr_hugepages == 0                  # its 4 pool pages were in the block
    lo, hi = b * BLOCK, (b + 1) * BLOCK
    assert not any(lo <= p < hi for p in held.blocks)
    assert check_invariants(m.mm) == []


# --- found while adding the CMA laws to check_invariants ---------------------------------------

def test_memory_offline_cannot_isolate_a_cma_pageblock():
    # mm/page_isolation.c has_unmovable_pages: a MIGRATE_CMA pageblock is unmovable unless
    # the isolation is CMA's own; offlining it would re-online it MIGRATE_MOVABLE
    m = pextlab.boot("1G", cmdline="cma=64M")
    mm = m.mm
    s = mm.cma_areas[0].base_pfn
    zone = mm.zone_of_pfn(s)
    assert page_isolation.has_unmovable_pages(mm, zone, s, s + 512) == s
    assert page_isolation.start_isolate_page_range(mm, zone, s, s + 512) == (None, s)
    assert check_invariants(mm) == []


# --- found by the soak (tools/soak.py) ---------------------------------------------------------

def test_cma_area_straddling_a_section_is_released_whole():
    # maxmem= reserves swiotlb below 4 GiB first, so the CMA area lands across a section
    # boundary; cma_init_reserved_areas must clear PG_reserved in both sections
    m = pextlab.boot("1G", cmdline="page_owner=on cma=64M", maxmem="2G")
    mm = m.mm
    s, e = mm.cma_areas[0].base_pfn, mm.cma_areas[0].end_pfn
    assert s >> mm.section_shift != (e - 1) >> mm.section_shift
    assert sum(z.free_mt[mm.profile.mt_cma] for z in mm.all_zones()) == e - s
    assert check_invariants(mm) == []


def test_zone_shrink_keeps_the_zones_part_of_a_shared_boot_section():
    # movablecore=: section 6 holds DMA32 up to 0x30400 and Movable after it.  Onlining
    # block 1 to Movable stretches Movable down to 0x8000; offlining it again must stop
    # the new start at the first subsection of Movable, 0x30400, not at section 7
    m = pextlab.boot("1G", cmdline="movablecore=25%", maxmem="2G")
    movable = m.mm.zone(0, "Movable")
    span = (movable.zone_start_pfn, movable.zone_end_pfn)
    assert m.offline(1).ok and m.online(1, "online_movable").ok
    assert movable.zone_start_pfn == BLOCK
    assert m.offline(1).ok
    assert (movable.zone_start_pfn, movable.zone_end_pfn) == span
    assert check_invariants(m.mm) == []


def test_v319_memory_hotplug_uses_its_kernels_gfp_flags():
    # __GFP_RETRY_MAYFAIL is v4.13's name for v3.19's __GFP_REPEAT: hot-adding memory
    # (vmemmap) and migrating pages off it (offline) used to raise on the v3.19 profile
    m = pextlab.boot("512M", profile="v3.19", cmdline="page_owner=on", maxmem="1G")
    b = m.hot_add("128M", online="online_movable")[0]
    held = HeldBlocks()
    m.on_migrate(held)
    for _ in range(32):
        held.blocks[m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")] = 0
    assert any(b * BLOCK <= p < (b + 1) * BLOCK for p in held.blocks)
    r = m.offline(b)
    assert r.ok and r.migrated >= 32
    assert check_invariants(m.mm) == []


# include/linux/gfp.h GFP_ZONE_TABLE on x86_64 (no CONFIG_HIGHMEM: OPT_ZONE_HIGHMEM is
# ZONE_NORMAL), written out per zone-modifier combination; None marks GFP_ZONE_BAD
_GFP_ZONE_TABLE = {
    (): "Normal", ("__GFP_DMA",): "DMA", ("__GFP_DMA32",): "DMA32",
    ("__GFP_HIGHMEM",): "Normal", ("__GFP_MOVABLE",): "Normal",
    ("__GFP_DMA", "__GFP_MOVABLE"): "DMA", ("__GFP_DMA32", "__GFP_MOVABLE"): "DMA32",
    ("__GFP_HIGHMEM", "__GFP_MOVABLE"): "Movable",
    ("__GFP_DMA", "__GFP_HIGHMEM"): None, ("__GFP_DMA", "__GFP_DMA32"): None,
    ("__GFP_DMA32", "__GFP_HIGHMEM"): None, ("__GFP_DMA", "__GFP_DMA32", "__GFP_HIGHMEM"): None,
    ("__GFP_DMA", "__GFP_HIGHMEM", "__GFP_MOVABLE"): None,
    ("__GFP_DMA", "__GFP_DMA32", "__GFP_MOVABLE"): None,
    ("__GFP_DMA32", "__GFP_HIGHMEM", "__GFP_MOVABLE"): None,
    ("__GFP_DMA", "__GFP_DMA32", "__GFP_HIGHMEM", "__GFP_MOVABLE"): None,
}


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
@pytest.mark.parametrize("bits", sorted(_GFP_ZONE_TABLE))
def test_gfp_zone_follows_the_zone_table(profile, bits):
    from pextlab.kernel.gfp import ZONE_NAMES, gfp_zone
    m = pextlab.boot(mem="1G", profile=profile)
    mask = 0
    for b in bits:
        mask |= m.mm.gfp(b)
    want = _GFP_ZONE_TABLE[bits]
    if want is not None:
        assert ZONE_NAMES[gfp_zone(mask, m.mm.profile)] == want
        return
    with pytest.raises(PextlabError, match=r"more than one of __GFP_DMA, __GFP_DMA32 and "
                                           r"__GFP_HIGHMEM: GFP_ZONE_BAD"):
        gfp_zone(mask, m.mm.profile)
    # through the public API: refused before anything changes, and never cached
    free = [z.free_pages for z in m.mm.all_zones()]
    for _ in range(2):
        with pytest.raises(PextlabError, match="GFP_ZONE_BAD"):
            m.alloc_pages(0, "GFP_KERNEL|" + "|".join(bits))
    assert [z.free_pages for z in m.mm.all_zones()] == free
    assert check_invariants(m.mm) == []
    m.free_pages(m.alloc_pages(0), 0)
