"""Per-cpu page lists in the allocator (boot option ``pextlab.pcp=on``; off by default)."""
import random

import numpy as np
import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel import page_alloc, pcp as pcpmod
from pextlab.kernel.debug import check_invariants


def machine(cmdline="pextlab.pcp=on", mem="1G", **kw):
    return pextlab.boot(mem, cmdline, **kw)


def dma32(m):
    return m.mm.zone(0, "DMA32")


def buddy_recount(z):
    return sum(len(d) << o for o, area in enumerate(z.free_area) for d in area)


def test_off_by_default_and_cmdline_knob():
    m = pextlab.boot("1G")
    assert all(z.pcp is None for z in m.mm.all_zones())
    assert not pcpmod.pcp_enabled(m.mm)
    m2 = machine("pextlab.pcp=off")
    assert all(z.pcp is None for z in m2.mm.all_zones())
    m3 = machine()
    z = dma32(m3)
    assert z.pcp is not None and z.pcp.batch == pcpmod.zone_batchsize(z.managed_pages) == 63
    assert z.pcp.high == max(page_alloc.base_watermark(m3.mm, z, "low"), 4 * 63)
    with pytest.raises(PextlabError):
        machine("pextlab.pcp=maybe")
    assert check_invariants(m3.mm) == []


def test_frees_go_to_pcp_until_high_then_a_batch_goes_back():
    m = machine()
    mm, z = m.mm, dma32(m)
    pcpmod.drain_all_pages(mm)
    gfp = mm.gfp("GFP_KERNEL")
    pfns = [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(z.pcp.high + 500)]
    pcpmod.drain_all_pages(mm)
    free0 = z.free_pages
    for i, p in enumerate(pfns[: z.pcp.high - 1]):
        page_alloc.free_pages(mm, p, 0)
    # below high: everything sits on the pcp list, nothing reached the buddy
    assert z.pcp.count == z.pcp.high - 1
    assert z.free_pages == free0
    page_alloc.free_pages(mm, pfns[z.pcp.high - 1], 0)      # count reaches high
    freed = z.free_pages - free0
    assert freed >= z.pcp.batch and z.pcp.count == z.pcp.high - freed
    # the oldest pages went back first (free_pcppages_bulk takes the list tail)
    assert pcpmod.pcp_block_of(mm, pfns[0]) is None
    assert pcpmod.pcp_block_of(mm, pfns[z.pcp.high - 1]) is not None
    assert check_invariants(mm) == []


def test_allocation_takes_pcp_pages_first_lifo():
    m = machine()
    mm, z = m.mm, dma32(m)
    gfp = mm.gfp("GFP_KERNEL")
    a = [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(10)]
    for p in a:
        page_alloc.free_pages(mm, p, 0)
    free = z.free_pages
    b = [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(10)]
    assert b == a[::-1]                       # last freed, first allocated
    assert z.free_pages == free               # the buddy was not touched
    for o in (1, 2, 3):
        p = page_alloc.__alloc_pages(mm, gfp, o)
        page_alloc.free_pages(mm, p, o)
        assert page_alloc.__alloc_pages(mm, gfp, o) == p
    assert check_invariants(mm) == []


def test_empty_list_is_refilled_in_a_batch():
    m = machine()
    mm, z = m.mm, dma32(m)
    pcpmod.drain_all_pages(mm)
    free = z.free_pages
    page_alloc.__alloc_pages(mm, mm.gfp("GFP_HIGHUSER_MOVABLE"), 0)
    taken = free - z.free_pages
    assert taken > 1 and z.pcp.count == taken - 1


def test_buddyinfo_and_zone_free_exclude_pcp_pages_drain_restores():
    m = machine("pextlab.pcp=on page_owner=on")
    mm, z = m.mm, dma32(m)
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    pfns = [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(3000)]
    for p in pfns:
        page_alloc.free_pages(mm, p, 0)
    assert z.pcp.count >= 3000
    bi = m.df_buddyinfo()
    row = bi[(bi.node == 0) & (bi.zone == "DMA32")]
    assert int((row.nr_free * np.left_shift(1, row.order.astype(np.int64))).sum()) == z.free_pages
    zs = m.df_zones().set_index("zone")
    assert zs.loc["DMA32", "free"] == z.free_pages == buddy_recount(z)
    assert z.nr_pcp_pages() == z.pcp.count
    total = z.free_pages + z.pcp.count
    assert "count: " in m.proc("zoneinfo")
    drained = pcpmod.drain_all_pages(mm)
    assert drained >= 3000 and z.pcp.count == 0
    assert z.free_pages == total == buddy_recount(z)
    assert m.df_zones().set_index("zone").loc["DMA32", "free"] == total
    assert check_invariants(mm) == []


def test_free_pages_rejects_a_page_on_a_pcp_list():
    m = machine()
    mm = m.mm
    p = page_alloc.__alloc_pages(mm, mm.gfp("GFP_KERNEL"), 0)
    page_alloc.free_pages(mm, p, 0)
    with pytest.raises(PextlabError, match="per-cpu"):
        page_alloc.free_pages(mm, p, 0)


def test_reading_pagetypeinfo_drains_but_frames_do_not():
    """pagetypeinfo_showmixedcount calls drain_all_pages (mm/vmstat.c): reading the
    file drains, building a frame never changes the machine."""
    m = machine("pextlab.pcp=on page_owner=on")
    mm, z = m.mm, dma32(m)
    gfp = mm.gfp("GFP_KERNEL")
    for p in [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(500)]:
        page_alloc.free_pages(mm, p, 0)
    n = z.pcp.count
    assert n > 0
    free = z.free_pages
    m.df_pagetypeinfo()
    m.df_pageblocks()
    m.df_fragmentation()
    assert (z.pcp.count, z.free_pages) == (n, free)
    m.proc("pagetypeinfo")                      # the file: drains first
    assert z.pcp.count == 0 and z.free_pages == free + n
    # without page_owner there is no mixed count and no drain
    m2 = machine()
    z2 = dma32(m2)
    assert z2.pcp.count > 0
    m2.proc("pagetypeinfo")
    assert z2.pcp.count > 0


def test_snapshot_records_pcp_before_drain():
    m = machine("pextlab.pcp=on page_owner=on")
    z = dma32(m)
    n = z.pcp.count
    s = m.snapshot("x")
    assert s.predrain[(0, "DMA32")]["pcp"] == n
    assert z.pcp.count == 0


def test_offline_drains():
    m = pextlab.boot("1G", "pextlab.pcp=on page_owner=on", maxmem="2G")
    mm = m.mm
    b = m.hot_add("256M")
    for x in b:
        m.online(x, "online_movable")
    zm = [z for z in mm.populated_zones() if z.name == "Movable"][0]
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    got = []
    for _ in range(2000):
        p = page_alloc.__alloc_pages(mm, gfp, 0)
        if zm.contains(p):
            got.append(p)
    for p in got:
        page_alloc.free_pages(mm, p, 0)
    assert zm.pcp.count > 0
    r = m.offline(b[0])
    assert r.ok, (r.error, r.reason)
    assert check_invariants(mm) == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_under_random_churn(seed):
    m = machine("pextlab.pcp=on page_owner=on", mem="512M")
    mm = m.mm
    rng = random.Random(seed)
    gfps = [mm.gfp(g) for g in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE",
                                "GFP_KERNEL|__GFP_RECLAIMABLE")]
    live = []
    for i in range(20000):
        if live and rng.random() < 0.48:
            p, o = live.pop(rng.randrange(len(live)))
            page_alloc.free_pages(mm, p, o)
        else:
            o = rng.choice((0, 0, 0, 1, 2, 3, 4, 9))
            p = page_alloc.__alloc_pages(mm, rng.choice(gfps), o)
            if p >= 0:
                live.append((p, o))
        if i % 5000 == 4999:
            assert check_invariants(mm) == []
    assert check_invariants(mm) == []
    pcpmod.drain_all_pages(mm)
    assert all(z.pcp.count == 0 for z in mm.all_zones())
    assert check_invariants(mm) == []
    for p, o in live:
        page_alloc.free_pages(mm, p, o)
    pcpmod.drain_all_pages(mm)
    assert check_invariants(mm) == []


def test_compaction_with_pcp_keeps_invariants():
    m = machine("pextlab.pcp=on page_owner=on", mem="512M")
    mm = m.mm
    from pextlab.kernel import compaction
    rng = random.Random(5)
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    live = [page_alloc.__alloc_pages(mm, gfp, 0) for _ in range(40000)]
    rng.shuffle(live)
    for p in live[:30000]:
        page_alloc.free_pages(mm, p, 0)
    compaction.compact_node(mm, 0)
    assert all(z.pcp.count == 0 for z in mm.populated_zones())   # drained at the end
    assert check_invariants(mm) == []
    p = page_alloc.__alloc_pages(mm, gfp, 9)                      # THP order via the pcp
    assert p >= 0
    assert check_invariants(mm) == []


def test_real_boots_still_match_with_pcp_on():
    """With per-cpu lists on, the boot still reproduces the real captures: the page_ext
    tables' trimmed tails go straight back to the buddy (make_alloc_exact uses
    __free_pages_ok, not the pcp path), so they are not counted as early pages."""
    import re
    from conftest import REAL
    for name in ("a-512M", "b-1G", "f-numa2", "g-1G-guard"):
        cap = pextlab.read_capture(REAL / name)
        m = pextlab.boot(layout=cap.layout, cmdline=cap.cmdline + " pextlab.pcp=on")
        assert m.page_ext_bytes == cap.dmesg_info.page_ext_bytes
        early = {(int(a), b): int(c) for a, b, c in re.findall(
            r"Node (\d+), zone +(\w+): page owner found early allocated (\d+)", m.dmesg)}
        for key, n in cap.dmesg_info.early_allocated.items():
            assert abs(early[key] - n) <= 0.15 * max(n, 1) + (1 if n == 0 else 0), (name, key)
