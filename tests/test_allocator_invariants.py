"""The buddy allocator, page_ext and page_owner keep their laws (pextlab.kernel.debug).

Deterministic: machines are booted per test and driven by a seeded numpy
Generator.  The last part corrupts freshly booted states on purpose to show
that every law of ``check_invariants`` can fail.
"""
from __future__ import annotations

import numpy as np
import pandas.testing as pdt
import pytest

import pextlab
from pextlab import PextlabError
from pextlab.kernel import buddy, page_alloc
from pextlab.kernel.cma import CMA
from pextlab.kernel.debug import assert_invariants, check_invariants
from pextlab.kernel.migrate import HeldBlocks
from pextlab.kernel.mmzone import MT_SHIFT, PG_BUDDY, PG_GUARD, PG_HEAD, PG_RESERVED
from pextlab.kernel.page_ext import PAGE_EXT_OWNER, PAGE_EXT_OWNER_ALLOCATED
from pextlab.kernel.page_owner import R_ORDER

GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC", "GFP_DMA")


def kalloc(m, order, gfp="GFP_KERNEL", nid=None):
    return m.alloc_pages(order, gfp, nid)


CONFIGS = {
    "v6.12-1G-owner": dict(mem="1G", cmdline="page_owner=on"),
    "v6.12-1G": dict(mem="1G"),
    "v3.19-512M-owner": dict(mem="512M", profile="v3.19", cmdline="page_owner=on"),
    "v3.19-512M": dict(mem="512M", profile="v3.19"),
    "v6.12-2nodes-owner": dict(mem="1G", nodes=2, cmdline="page_owner=on"),
    "v3.19-2nodes": dict(mem="512M", nodes=2, profile="v3.19", cmdline="page_owner=on"),
    "v6.12-flatmem-owner": dict(mem="1G", memory_model="flatmem", cmdline="page_owner=on"),
    "v3.19-flatmem-owner": dict(mem="512M", profile="v3.19", memory_model="flatmem",
                                cmdline="page_owner=on"),
    "v6.12-guard": dict(mem="1G", cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1"),
    "v3.19-guard": dict(mem="512M", profile="v3.19",
                        cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1"),
    "v6.12-cma": dict(mem="1G", cmdline="page_owner=on cma=64M"),
    "v3.19-cma": dict(mem="512M", profile="v3.19", cmdline="cma=64M"),
    "v6.12-2nodes-flatmem-guard-cma": dict(
        mem="1G", nodes=2, memory_model="flatmem",
        cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1 cma=64M"),
}

_ORDER_P = 1.0 / np.arange(1, 12) ** 1.3
_ORDER_P /= _ORDER_P.sum()


def churn(m, seed, steps, p_free=0.45, check_every=0):
    """Random alloc/free: orders 0..10 (small ones likelier), the five gfps, every node.

    Returns the live (pfn, order) list and the number of failed allocations.
    """
    rng = np.random.default_rng(seed)
    nodes = sorted(m.mm.nodes)
    live, failed = [], 0
    for step in range(steps):
        if live and rng.random() < p_free:
            i = int(rng.integers(len(live)))
            pfn, order = live[i]
            live[i] = live[-1]
            live.pop()
            m.free_pages(pfn, order)
        else:
            order = int(rng.choice(11, p=_ORDER_P))
            gfp = GFPS[int(rng.integers(len(GFPS)))]
            nid = nodes[int(rng.integers(len(nodes)))]
            pfn = kalloc(m, order, gfp, nid)
            if pfn is None:
                failed += 1
            else:
                live.append((pfn, order))
        if check_every and step % check_every == check_every - 1:
            assert_invariants(m.mm)
    return live, failed


def free_blocks(mm):
    return sorted((pfn, o) for z in mm.all_zones() for o, area in enumerate(z.free_area)
                  for d in area for pfn in d)


def flags_at(mm, pfn):
    return mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask]


def order_at(mm, pfn):
    return mm.sections[pfn >> mm.section_shift].order[pfn & mm.section_mask]


# --- the laws hold ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CONFIGS))
def test_invariants_after_boot(name):
    m = pextlab.boot(**CONFIGS[name])
    assert check_invariants(m.mm) == []


@pytest.mark.parametrize("name", list(CONFIGS))
def test_invariants_after_random_alloc_free(name):
    m = pextlab.boot(**CONFIGS[name])
    live, _ = churn(m, seed=12, steps=3000, check_every=500)
    assert_invariants(m.mm)
    # every live allocation is still what it was handed out as
    for pfn, order in live:
        assert flags_at(m.mm, pfn) & PG_HEAD and order_at(m.mm, pfn) == order
    for pfn, order in live:
        m.free_pages(pfn, order)
    assert_invariants(m.mm)


@pytest.mark.parametrize("name", ["v6.12-1G-owner", "v3.19-512M-owner", "v6.12-guard",
                                  "v6.12-2nodes-flatmem-guard-cma", "v3.19-cma"])
def test_exhaustion_returns_none_and_freeing_everything_restores_the_free_lists(name):
    m = pextlab.boot(**CONFIGS[name])
    mm = m.mm
    before = free_blocks(mm)
    free_before = sum(z.free_pages for z in mm.all_zones())
    live = []
    for gfp, order in (("GFP_HIGHUSER_MOVABLE", 9), ("GFP_KERNEL", 3), ("GFP_KERNEL|__GFP_RECLAIMABLE", 1),
                       ("GFP_ATOMIC", 0), ("GFP_DMA", 0), ("GFP_HIGHUSER_MOVABLE", 0)):
        while (pfn := kalloc(m, order, gfp)) is not None:
            live.append((pfn, order))
        assert kalloc(m, order, gfp) is None          # still failing, no exception
    assert len(live) > 100
    # the allocator stopped at the watermarks: no zone has much more than its reserves
    cma = mm.profile.mt_cma
    for z in mm.populated_zones():
        assert z.free_pages <= z.watermark["high"] + max(z.lowmem_reserve) + z.free_mt[cma], z
    assert mm.vm_events.get("allocstall_fail", 0) >= 6
    assert_invariants(mm)
    for pfn, order in reversed(live):
        m.free_pages(pfn, order)
    assert_invariants(mm)
    assert sum(z.free_pages for z in mm.all_zones()) == free_before
    # maximal merging is unique: the same free pages give the same free blocks
    assert free_blocks(mm) == before


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_order_above_max_raises_naming_the_order(profile):
    m = pextlab.boot(mem="256M", profile=profile, cmdline="page_owner=on")
    frames = (m.df_buddyinfo(), m.df_page_owner())
    for order in (11, 12, 40):
        with pytest.raises(PextlabError, match=rf"order {order}\b"):
            m.alloc_pages(order, "GFP_KERNEL")
    with pytest.raises(PextlabError, match=r"order -1\b"):
        m.alloc_pages(-1)
    pdt.assert_frame_equal(m.df_buddyinfo(), frames[0])
    pdt.assert_frame_equal(m.df_page_owner(), frames[1])
    assert check_invariants(m.mm) == []


def test_order_10_is_the_largest_allocation():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    pfn = kalloc(m, 10, "GFP_HIGHUSER_MOVABLE")
    assert pfn is not None and pfn % 1024 == 0 and order_at(m.mm, pfn) == 10
    assert_invariants(m.mm)


def test_machine_alloc_pages_on_each_node():
    m = pextlab.boot(mem="1G", nodes=2, cmdline="page_owner=on")
    for nid in (0, 1):
        pfn = m.alloc_pages(2, "GFP_KERNEL", nid)
        assert pfn is not None and order_at(m.mm, pfn) == 2
        assert m.mm.pfn_to_nid(pfn) == nid
    with pytest.raises(PextlabError, match="node 2"):
        m.alloc_pages(0, "GFP_KERNEL", 2)
    assert_invariants(m.mm)


def _bad_free(m, pfn, order, match):
    frames = (m.df_buddyinfo(), m.df_pagetypeinfo())
    with pytest.raises(PextlabError, match=match):
        m.free_pages(pfn, order)
    # a refused free changes nothing
    pdt.assert_frame_equal(m.df_buddyinfo(), frames[0])
    pdt.assert_frame_equal(m.df_pagetypeinfo(), frames[1])
    assert_invariants(m.mm)


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_bad_frees_raise(profile):
    m = pextlab.boot(mem="256M", profile=profile, cmdline="page_owner=on")
    mm = m.mm
    pfn = kalloc(m, 3, "GFP_KERNEL")
    free_head = next(p for p, o in free_blocks(mm) if o >= 1)
    _bad_free(m, free_head, order_at(mm, free_head), "free")           # in the buddy
    _bad_free(m, 0, 0, "reserved")                                     # first 1 MiB
    _bad_free(m, pfn + 1, 0, "not the head")                           # a tail
    _bad_free(m, pfn, 2, "order 3.*order 2")                           # wrong order
    _bad_free(m, pfn, 4, "order 3.*order 4")
    _bad_free(m, mm.max_section_pfn + 5, 0, "outside")
    m.free_pages(pfn, 3)
    _bad_free(m, pfn, 3, "free|not the head")                          # double free
    assert_invariants(mm)


def test_bad_free_of_guard_page_raises():
    m = pextlab.boot(mem="256M", cmdline="debug_pagealloc=on debug_guardpage_minorder=1")
    pfn = kalloc(m, 0, "GFP_KERNEL")
    guard = pfn ^ 1
    assert flags_at(m.mm, guard) & PG_GUARD
    _bad_free(m, guard, 0, "guard")


@pytest.mark.parametrize("profile,cmdline", [("v6.12", "page_owner=on"), ("v3.19", "page_owner=on"),
                                             ("v6.12", "debug_pagealloc=on debug_guardpage_minorder=1")])
def test_alloc_pages_exact_takes_576_pages(profile, cmdline):
    m = pextlab.boot(mem="512M", profile=profile, cmdline=cmdline)
    mm = m.mm
    free0 = sum(z.free_pages for z in mm.all_zones())
    guard0 = mm.nr_guard_pages
    pfn = m.alloc_pages_exact(2_359_296, "GFP_KERNEL")
    assert pfn is not None
    assert free0 - sum(z.free_pages for z in mm.all_zones()) == 576
    assert mm.nr_guard_pages == guard0
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    fl = sec.flags_np()[off:off + 1024]
    assert ((fl[:576] & PG_HEAD) != 0).all() and not sec.order_np()[off:off + 576].any()
    assert not (fl[576:] & PG_HEAD).any()
    if mm.page_owner is not None:
        t = sec.page_ext
        bit = PAGE_EXT_OWNER_ALLOCATED if profile == "v6.12" else PAGE_EXT_OWNER
        assert ((t.flags[off:off + 576] & bit) != 0).all()
        assert not (t.flags[off + 576:off + 1024] & PAGE_EXT_OWNER_ALLOCATED).any()
        rows = t.owner[off:off + 576]
        assert (mm.page_owner.records.as_numpy()[rows, R_ORDER] == 0).all()
    assert_invariants(mm)
    page_alloc.free_pages_exact(mm, pfn, 2_359_296)
    assert sum(z.free_pages for z in mm.all_zones()) == free0
    assert_invariants(mm)


def test_alloc_pages_exact_zero_bytes_returns_none():
    m = pextlab.boot(mem="256M")
    # the kernel's get_order(0) is 52 > MAX_PAGE_ORDER: the call returns NULL
    assert m.alloc_pages_exact(0) is None
    assert m.alloc_pages_exact(8 << 20) is None          # order 11: NULL, not an exception
    assert_invariants(m.mm)


@pytest.mark.parametrize("name", ["v6.12-1G-owner", "v3.19-2nodes", "v6.12-2nodes-flatmem-guard-cma"])
def test_same_seed_same_frames(name):
    frames = []
    for _ in range(2):
        m = pextlab.boot(**CONFIGS[name])
        live, _ = churn(m, seed=7, steps=1500)
        frames.append((m.df_buddyinfo(), m.df_pagetypeinfo(), m.df_page_owner()))
    for a, b in zip(*frames):
        pdt.assert_frame_equal(a, b)
    assert len(frames[0][2]) >= len(live) > 100
    m = pextlab.boot(**CONFIGS[name])
    churn(m, seed=8, steps=1500)
    assert not m.df_buddyinfo().equals(frames[0][0])


# --- every law can fail -------------------------------------------------------------------------

def _boot(cmdline="page_owner=on", **kw):
    kw.setdefault("mem", "256M")
    m = pextlab.boot(cmdline=cmdline, **kw)
    assert check_invariants(m.mm) == []
    return m


def _reported(mm, *needles):
    errs = check_invariants(mm)
    text = "\n".join(errs)
    for n in needles:
        assert n in text, f"{n!r} not reported; got:\n{text}"
    return errs


def _free_head(mm, min_order=0, max_order=10, zone=None):
    for z in ([zone] if zone else mm.populated_zones()):
        for o in range(min_order, max_order + 1):
            for mt, d in enumerate(z.free_area[o]):
                if d:
                    return z, next(iter(d)), o, mt
    raise AssertionError("no free block")


def _set_flags(mm, pfn, value):
    mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask] = value


def _set_order(mm, pfn, value):
    mm.sections[pfn >> mm.section_shift].order[pfn & mm.section_mask] = value


def test_detects_page_in_two_blocks():
    m = _boot()
    z, pfn, o, mt = _free_head(m.mm, min_order=2)
    _set_flags(m.mm, pfn + 1, PG_HEAD)          # a tail of a free block turns into a head
    _reported(m.mm, "more than one block", f"{pfn + 1:#x}")


def test_detects_flags_with_no_single_state():
    m = _boot()
    pfn = kalloc(m, 0)
    _set_flags(m.mm, pfn, PG_HEAD | PG_BUDDY)
    _reported(m.mm, "encode no single state", f"{pfn:#x}")


def test_detects_orphan_page():
    m = _boot()
    pfn = kalloc(m, 0)
    _set_flags(m.mm, pfn, 0)                    # allocated page forgotten
    _reported(m.mm, "inside no free, allocated or guard block", f"{pfn:#x}")


def test_detects_reserved_page_inside_block():
    m = _boot()
    pfn = kalloc(m, 3)
    _set_flags(m.mm, pfn + 5, PG_RESERVED)
    _reported(m.mm, "reserved or hole pages inside a block", f"{pfn + 5:#x}")


def test_detects_tail_with_stray_bits():
    m = _boot()
    pfn = kalloc(m, 2)
    _set_flags(m.mm, pfn + 3, 1 << MT_SHIFT)
    _reported(m.mm, "tail pages with nonzero flags", f"{pfn + 3:#x}")


def test_detects_misaligned_and_oversized_heads():
    m = _boot()
    odd = kalloc(m, 0)
    while not odd & 1:
        odd = kalloc(m, 0)
    _set_order(m.mm, odd, 1)
    _reported(m.mm, "alignment", f"{odd:#x}")
    m = _boot()
    pfn = kalloc(m, 0)
    _set_order(m.mm, pfn, 11)
    _reported(m.mm, "order: ", "> MAX_PAGE_ORDER")


def test_detects_block_past_section_end():
    m = _boot()
    mm = m.mm
    last = mm.sections[1].start_pfn - 1          # last page of section 0 is free or allocated RAM
    z, pfn, o, mt = _free_head(mm, min_order=10)
    # carve: make the last page of section 0 claim order 10
    _set_flags(mm, last, PG_HEAD)
    _set_order(mm, last, 10)
    _reported(mm, "runs past the end of section 0", "alignment")


def test_detects_free_list_entry_that_is_not_free():
    m = _boot()
    pfn = kalloc(m, 0)
    z = m.mm.zone_of_pfn(pfn)
    z.free_area[0][0][pfn] = None
    _reported(m.mm, "is not a PG_BUDDY head", f"free_area[0][0] pfn {pfn:#x}")


def test_detects_free_list_migratetype_mismatch():
    m = _boot()
    z, pfn, o, mt = _free_head(m.mm, min_order=3)
    other = 2 if mt != 2 else 0
    _set_flags(m.mm, pfn, PG_BUDDY | (other << MT_SHIFT))
    _reported(m.mm, f"free_area[{o}][{mt}] pfn {pfn:#x} carries migratetype {other}")


def test_detects_free_list_order_mismatch():
    m = _boot()
    z, pfn, o, mt = _free_head(m.mm, min_order=3)
    _set_order(m.mm, pfn, o - 1)
    _reported(m.mm, f"pfn {pfn:#x} has order {o - 1} in the memmap")


def test_detects_block_on_two_lists():
    m = _boot()
    z, pfn, o, mt = _free_head(m.mm, min_order=1)
    z.free_area[o][(mt + 1) % 3][pfn] = None
    _reported(m.mm, "is also on", f"{pfn:#x}")


def test_detects_buddy_missing_from_lists():
    m = _boot()
    z, pfn, o, mt = _free_head(m.mm, min_order=1)
    del z.free_area[o][mt][pfn]
    z.nr_free[o] -= 1
    z.free_pages -= 1 << o
    z.free_mt[mt] -= 1 << o
    _reported(m.mm, f"PG_BUDDY head pfn {pfn:#x} (order {o}) is on no free list")


def _move_free_block(src, dst, pfn: int, o: int, mt: int) -> None:
    """Put ``src``'s free block at ``pfn`` on ``dst``'s list, counters and all: the
    corruption the zone law must catch."""
    del src.free_area[o][mt][pfn]
    dst.free_area[o][mt][pfn] = None
    for zz, sign in ((src, -1), (dst, 1)):
        zz.nr_free[o] += sign
        zz.free_pages += sign << o
        zz.free_mt[mt] += sign << o


def test_detects_block_on_another_zones_list():
    m = _boot()
    mm = m.mm
    dma, dma32 = mm.zone(0, "DMA"), mm.zone(0, "DMA32")
    z, pfn, o, mt = _free_head(mm, zone=dma)
    _move_free_block(dma, dma32, pfn, o, mt)
    _reported(mm, "node 0 zone DMA32", f"pfn {pfn:#x}", "is not in the zone")


def test_detects_unmerged_buddies():
    m = _boot()
    mm = m.mm
    z, pfn, o, mt = _free_head(mm, min_order=2, max_order=8)
    buddy.del_page_from_free_list(mm, z, pfn, o, mt)
    half = 1 << (o - 1)
    buddy.add_to_free_list(mm, z, pfn, o - 1, mt)
    buddy.add_to_free_list(mm, z, pfn + half, o - 1, mt)
    errs = _reported(mm, f"free order-{o - 1} block at pfn {pfn:#x}",
                     f"free buddy at pfn {pfn + half:#x} were not merged")
    assert len(errs) == 1                       # counters and lists are consistent


def test_unmergeable_pageblocks_are_not_reported():
    m = _boot()
    mm = m.mm
    z, pfn, o, mt = _free_head(mm, min_order=10)
    buddy.del_page_from_free_list(mm, z, pfn, 10, mt)
    buddy.add_to_free_list(mm, z, pfn, 9, mt)
    buddy.add_to_free_list(mm, z, pfn + 512, 9, mt)
    _reported(mm, "were not merged")
    cma = mm.profile.mt_cma                      # a CMA pageblock never merges with a movable one
    mm.cma_areas.append(CMA("test", pfn + 512, 512))
    z.cma_pages += 512
    page_alloc.set_pageblock_migratetype(mm, pfn + 512, cma)
    buddy.del_page_from_free_list(mm, z, pfn + 512, 9, mt)
    buddy.add_to_free_list(mm, z, pfn + 512, 9, cma)
    assert check_invariants(mm) == []


def test_detects_guard_buddy_not_merged():
    m = _boot(cmdline="debug_pagealloc=on debug_guardpage_minorder=1")
    mm = m.mm
    pfn = kalloc(m, 0)
    guard = pfn ^ 1
    assert flags_at(mm, guard) & PG_GUARD
    z = mm.zone_of_pfn(pfn)
    _set_flags(mm, pfn, 0)                      # "free" the page without merging
    buddy.add_to_free_list(mm, z, pfn, 0, 0)
    _reported(mm, f"free order-0 block at pfn {pfn:#x} and its guard buddy at pfn {guard:#x}")


@pytest.mark.parametrize("field", ["nr_free", "free_pages", "free_mt"])
def test_detects_counter_desync(field):
    m = _boot()
    z = m.mm.zone(0, "DMA32")
    if field == "nr_free":
        z.nr_free[3] += 1
        needle = "node 0 zone DMA32: nr_free[3]"
    elif field == "free_pages":
        z.free_pages -= 1
        needle = "node 0 zone DMA32: free_pages"
    else:
        z.free_mt[2] += 8
        needle = "node 0 zone DMA32: free_mt[2]"
    assert _reported(m.mm, needle)[0].startswith("counter: ")


def test_detects_guard_counter_desync():
    m = _boot(cmdline="debug_pagealloc=on debug_guardpage_minorder=1")
    kalloc(m, 0)
    m.mm.nr_guard_pages += 1
    _reported(m.mm, "nr_guard_pages")


def test_detects_cma_violations():
    m = _boot(cmdline="cma=64M")
    mm = m.mm
    s = mm.cma_areas[0].base_pfn
    pfn = kalloc(m, 0, "GFP_KERNEL")
    # pretend an unmovable allocation landed in the CMA area: mark its pageblock CMA
    page_alloc.set_pageblock_migratetype(mm, pfn, mm.profile.mt_cma)
    _reported(mm, "cma: allocated head pfn", "of migratetype 0 lies in a MIGRATE_CMA pageblock")
    m = _boot(cmdline="cma=64M")
    mm = m.mm
    z = mm.zone_of_pfn(s)
    cma = mm.profile.mt_cma
    _, pfn, o, mt = _free_head(mm, zone=z, min_order=10)
    assert mt != cma
    page_alloc.set_pageblock_migratetype(mm, pfn, cma)
    _reported(mm, "cma: ", f"pfn {pfn:#x}", "CMA lists only")


def test_detects_page_ext_table_laws():
    m = _boot()
    mm, pe = m.mm, m.mm.page_ext
    pe.tables.pop(1)
    mm.sections[1].page_ext = None
    _reported(mm, "present online section 1", "total_usage")
    m = _boot()
    m.mm.page_ext.total_usage += 8
    _reported(m.mm, f"total_usage = {m.mm.page_ext.total_usage}")
    m = _boot()
    m.mm.sections[0].online = False
    _reported(m.mm, "section 0 is offline but has a page_ext table")
    m = _boot()
    m.mm.sections[0].page_ext = m.mm.sections[1].page_ext
    _reported(m.mm, "section 0: section.page_ext and page_ext.tables disagree")


def test_detects_tables_without_a_client():
    m = _boot(cmdline="")
    donor = _boot()
    m.mm.page_ext.tables[0] = donor.mm.page_ext.tables[0]
    m.mm.sections[0].page_ext = donor.mm.page_ext.tables[0]
    _reported(m.mm, "no client needs page_ext, yet 1 table(s) exist", "section 0 has a table")


def test_detects_table_pages_freed_behind_its_back():
    m = _boot(cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1")
    mm = m.mm
    t = mm.page_ext.tables[1]
    page_alloc.free_pages_exact(mm, t.table_pfn, t.bytes)
    _reported(mm, "table 1: its pages should be allocated", f"{t.table_pfn:#x}")


def test_detects_vmalloc_and_memblock_table_laws():
    m = _boot()
    mm = m.mm
    t = mm.page_ext.tables[0]
    z, pfn, o, mt = _free_head(mm)
    t.via, t.vmalloc_pfns = "vmalloc", [pfn] * t.pages
    _reported(mm, f"table 0: vmalloc page pfn {pfn:#x} is not an allocated order-0 page")
    m = _boot(memory_model="flatmem")
    mm = m.mm
    t = mm.page_ext.tables[("node", 0)]
    z, pfn, o, mt = _free_head(mm, min_order=10)
    t.table_pfn = pfn
    _reported(mm, "table ('node', 0): its pages should be reserved", "free")


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_detects_page_owner_laws(profile):
    m = _boot(profile=profile)
    mm = m.mm
    bit = PAGE_EXT_OWNER_ALLOCATED if profile == "v6.12" else PAGE_EXT_OWNER
    a, b, c = (kalloc(m, o, "GFP_KERNEL") for o in (0, 2, 3))
    ext = lambda p: mm.sections[p >> mm.section_shift].page_ext  # noqa: E731
    off = lambda p: p & mm.section_mask                           # noqa: E731
    ext(a).flags[off(a)] &= ~bit & 0xFF
    ext(b).owner[off(b)] = -1
    mm.page_owner.records.set(int(ext(c).owner[off(c)]), R_ORDER, 1)
    _reported(mm, f"allocated head pfn {a:#x} (order 0) lacks",
              f"allocated head pfn {b:#x} has no owner record",
              f"allocated head pfn {c:#x} is order 3, its owner record says order 1")


def test_detects_allocated_bit_on_free_pages():
    m = _boot()
    mm = m.mm
    pfn = kalloc(m, 2, "GFP_KERNEL")
    t = mm.sections[pfn >> mm.section_shift].page_ext
    off = pfn & mm.section_mask
    m.free_pages(pfn, 2)
    assert check_invariants(mm) == []
    t.flags[off + 1] |= PAGE_EXT_OWNER_ALLOCATED    # a free page still claiming its owner
    _reported(mm, "free or guard pages carry PAGE_EXT_OWNER_ALLOCATED", f"{pfn + 1:#x}")


def test_report_is_capped_and_assert_lists_it():
    m = _boot()
    mm = m.mm
    for z in mm.populated_zones():
        z.nr_free[:] = [n + 1 for n in z.nr_free]
    sec = mm.sections[1]
    sec.flags_np()[:] = PG_HEAD | PG_BUDDY           # a whole section of nonsense
    errs = check_invariants(mm)
    assert any("... and" in e for e in errs)
    assert len(errs) < 200
    with pytest.raises(AssertionError, match="invariant"):
        assert_invariants(mm)


def test_detects_free_block_of_another_zone_inside_the_span():
    m = pextlab.boot(mem="512M", maxmem="2G")
    for s in ("256M", "512M", "256M"):
        m.hot_add(s)
    m.online(32, "online")
    m.online(35, "online_movable")
    m.online(38, "online")                      # Normal's span now covers Movable's block 35
    mm = m.mm
    normal, movable = mm.zone(0, "Normal"), mm.zone(0, "Movable")
    assert normal.contains(movable.zone_start_pfn)
    assert check_invariants(mm) == []
    _, pfn, o, mt = _free_head(mm, zone=movable)
    _move_free_block(movable, normal, pfn, o, mt)    # Movable's block on Normal's list
    _reported(mm, "node 0 zone Normal", f"pfn {pfn:#x}", "is not in the zone")


def test_detects_pcp_block_of_another_zone():
    m = _boot(cmdline="pextlab.pcp=on", mem="1G")
    mm = m.mm
    dma, dma32 = mm.zone(0, "DMA"), mm.zone(0, "DMA32")
    pfn = m.alloc_pages(0, "GFP_DMA")
    assert mm.zone_of_pfn(pfn) is dma
    mm.sections[0].flags[pfn] = 0               # taken off as if freed onto DMA32's lists
    dma32.pcp.lists[dma32.pcp.pindex(0, 0)].append(pfn)
    dma32.pcp.count += 1
    _reported(mm, "pcp list", f"pfn {pfn:#x}", "is not in the zone")


def test_detects_stale_and_duplicate_hugetlb_pool_pages():
    m = _boot(mem="512M")
    mm = m.mm
    assert m.set_nr_hugepages(4) == 4
    pool = mm.hugetlb
    nid, pages = next((n, d) for n, d in pool.pages.items() if d)
    pfn = next(iter(pages))
    m.free_pages(pfn, 9)                        # freed behind the pool's back: a stale pfn
    _reported(mm, "hugetlb: node 0 pool page", f"pfn {pfn:#x}", "is not an allocated head")
    m = _boot(mem="512M")
    assert m.set_nr_hugepages(2) == 2
    pool = m.mm.hugetlb
    pfn = pool.pfns()[0]
    pool.pages[1] = {pfn: None}                 # the same page on a second node's list
    _reported(m.mm, f"hugetlb: pool page pfn {pfn:#x} is listed twice")


def test_detects_pool_page_of_the_wrong_order_or_node():
    m = _boot(mem="512M", nodes=2)
    mm = m.mm
    assert m.set_nr_hugepages(2) == 2
    pool = mm.hugetlb
    p0 = next(iter(pool.pages[0]))
    del pool.pages[0][p0]
    pool.pages[1][p0] = None                    # listed under the other node
    _reported(mm, "listed under node 1")
    m = _boot(mem="512M")
    q = m.alloc_pages(8, "GFP_HIGHUSER_MOVABLE")
    m.mm.hugetlb.pages[0][q] = None             # an order-8 block taken for a huge page
    _reported(m.mm, f"pfn {q:#x} is an allocated head of order 8, held as order 9")


def test_detects_hotplug_device_page_freed_behind_its_back():
    m = _boot(mem="512M", maxmem="1G")
    m.hot_add("128M")
    mm = m.mm
    dev = next(iter(mm.hotplug_devices.values()))
    pfn, order = dev["pages"][0]
    m.free_pages(pfn, order)
    _reported(mm, "hotplug: dimm0: device page", f"pfn {pfn:#x}")


def test_detects_a_holder_that_missed_a_migration():
    m = _boot(mem="512M")
    held = HeldBlocks()
    m.on_migrate(held)
    pfn = m.alloc_pages(2, "GFP_HIGHUSER_MOVABLE")
    held.blocks[pfn] = 2
    assert check_invariants(m.mm) == []
    held([(pfn, pfn + 4, 2)], "compaction")     # told of a move that did not happen
    _reported(m.mm, "follower: migrate_notifiers[0] holds", f"pfn {pfn + 4:#x}")
    held.blocks.clear()
    held.blocks[pfn] = 1
    _reported(m.mm, "is an allocated head of order 2, held as order 1")


def test_detects_cma_area_laws():
    m = _boot(cmdline="cma=64M", mem="1G")
    mm = m.mm
    s, e = mm.cma_areas[0].base_pfn, mm.cma_areas[0].end_pfn
    z = mm.zone_of_pfn(s)
    page_alloc.set_pageblock_migratetype(mm, s + 512, mm.profile.mt_movable)
    _reported(mm, "cma: section", "pageblocks of a CMA area that are not MIGRATE_CMA",
              f"pfn {s + 512:#x}")
    m = _boot(cmdline="cma=64M", mem="1G")
    m.mm.zone_of_pfn(s).cma_pages -= 512
    _reported(m.mm, f"cma: node 0 zone {z.name}: cma_pages = {e - s - 512}, its CMA areas hold {e - s}")
