"""The hugetlb pool: nr_hugepages writes grow and shrink it through order-9 allocations
with the kernel's mask, page_owner records and direct compaction."""
from __future__ import annotations

import numpy as np
import pytest

import pextlab
from pextlab.kernel import page_alloc
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.hugetlb import HUGETLB_ALLOC_STACK, hugetlb_pool


def test_grow_and_shrink():
    m = pextlab.boot("1G", cmdline="page_owner=on")
    free0 = sum(z.free_pages for z in m.mm.all_zones())
    assert m.set_nr_hugepages(100) == 100 and m.nr_hugepages == 100
    assert free0 - sum(z.free_pages for z in m.mm.all_zones()) == 100 * 512
    pool = hugetlb_pool(m.mm)
    assert all(p % 512 == 0 for p in pool.pfns())
    assert m.set_nr_hugepages(30) == 30
    assert m.set_nr_hugepages(0) == 0
    assert sum(z.free_pages for z in m.mm.all_zones()) == free0
    assert check_invariants(m.mm) == []
    with pytest.raises(pextlab.PextlabError):
        m.set_nr_hugepages(-1)


def test_page_owner_records_of_pool_pages():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    m.set_nr_hugepages(5)
    po = m.df_page_owner()
    hp = po[po.order == 9]
    assert len(hp) == 5
    assert set(hp.pfn) == set(hugetlb_pool(m.mm).pfns())
    r = hp.iloc[0]
    for flag in ("GFP_HIGHUSER_MOVABLE", "__GFP_NOWARN", "__GFP_RETRY_MAYFAIL", "__GFP_COMP",
                 "__GFP_THISNODE"):
        assert flag in str(r.gfp)
    st = m.df_stacks()
    assert any("alloc_buddy_hugetlb_folio" in str(s) for s in st["stack"])
    assert "set_max_huge_pages+0x183/0x350" in HUGETLB_ALLOC_STACK


def test_pool_is_limited_by_memory_and_stops_trying_hard():
    m = pextlab.boot("256M", cmdline="page_owner=on")
    got = m.set_nr_hugepages(10_000)
    assert 0 < got < 128
    log = m.df_hugetlb()
    assert log.iloc[-1].nr_hugepages == got and log.iloc[-1].target == 10_000
    assert check_invariants(m.mm) == []


def test_probe_compacts_a_fragmented_machine():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    mm = m.mm
    rng = np.random.default_rng(2)
    A = page_alloc.alloc_pages
    mov, un = mm.gfp("GFP_HIGHUSER_MOVABLE"), mm.gfp("GFP_KERNEL")
    live = []
    for _ in range(2500):
        g = un if rng.random() < 0.1 else mov
        live.append([p for p in (A(mm, g, 0, None) for _ in range(int(rng.integers(8, 40)))) if p >= 0])
    for i, ch in enumerate(live):
        if i % 2 == 0:
            for p in ch:
                page_alloc.free_pages(mm, p, 0)
    free_blocks = sum(z.nr_free[o] << (o - 9) for z in mm.populated_zones() for o in (9, 10))
    want = free_blocks + 20
    got = m.set_nr_hugepages(want)
    assert got == want
    row = m.df_hugetlb().iloc[-1]
    assert row.compact_stall > 0 and row.compact_success > 0 and row.pgmigrate_success > 0
    assert check_invariants(mm) == []
