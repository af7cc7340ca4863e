"""Boot in bulk: the bulk paths give what the kernel's one-at-a-time rules give.

* make_alloc_exact releases the tail of an alloc_pages_exact block page by page in
  the kernel (mm/page_alloc.c make_alloc_exact); the bulk path must leave the same
  lists, counters and page bytes;
* memblock's reservation index answers as the plain list of reservations does;
* page_owner's per-page record array of a page_ext table is made on first write,
  and readers do not make it;
* OwnerRecords.fields reads the same values as column().
"""
import random

import numpy as np
import pytest

import pextlab
from pextlab.kernel import page_alloc as PA
from pextlab.kernel.buddy import find_free_block
from pextlab.kernel.page_owner import REC_FIELDS
from pextlab.kernel.state import Memblock


def _state(mm):
    out = []
    for s in mm.sections:
        if s is not None:
            out.append((bytes(s.flags), bytes(s.order), bytes(s.pageblock_mt)))
    for z in mm.all_zones():
        out.append(([[list(d) for d in fa] for fa in z.free_area], list(z.nr_free),
                    z.free_pages, list(z.free_mt)))
    out.append(mm.nr_free_events)
    return out


@pytest.fixture(scope="module")
def two_machines():
    return pextlab.boot(mem="2G").mm, pextlab.boot(mem="2G").mm


def test_make_alloc_exact_576_of_1024_leaves_orders_6_7_8():
    # worked by hand: a 576-page table in an order-10 block frees 448 = 64 + 128 + 256
    # pages, which merge into free blocks at offsets 576 (order 6), 640 (7), 768 (8)
    mm = pextlab.boot(mem="2G").mm
    g = mm.gfp("GFP_KERNEL")
    pfn = PA.alloc_pages_exact_nid(mm, 0, 576 * 4096, g)
    assert pfn >= 0 and pfn % 1024 == 0
    assert find_free_block(mm, pfn + 576) == (pfn + 576, 6, PA.get_pageblock_migratetype(mm, pfn + 576))
    assert find_free_block(mm, pfn + 640)[:2] == (pfn + 640, 7)
    assert find_free_block(mm, pfn + 768)[:2] == (pfn + 768, 8)
    assert find_free_block(mm, pfn + 575) is None


@pytest.mark.parametrize("size", [1, 4096, 4097, 3 * 4096, 65 * 4096, 576 * 4096 + 5,
                                  1000 * 4096, 4 * 1024 * 1024 - 4096])
def test_make_alloc_exact_in_bulk_equals_page_by_page(two_machines, size):
    a, b = two_machines
    g = a.gfp("GFP_KERNEL")
    o = PA.get_order(size)
    pa, pb = PA.__alloc_pages(a, g, o, 0), PA.__alloc_pages(b, g, o, 0)
    assert pa == pb >= 0
    PA.split_page(a, pa, o)
    for p in range(pa + ((size + 4095) >> 12), pa + (1 << o)):   # the kernel's loop
        PA.__free_pages_ok(a, p, 0, False)
    PA.make_alloc_exact(b, pb, o, size)
    assert _state(a) == _state(b)


def _gaps_reference(reserved, start, end):
    """Unreserved sub-ranges of [start, end), highest first, from the definition."""
    free = [p for p in range(start, end) if not any(s <= p < e for s, e, _ in reserved)]
    gaps = []
    for p in free:
        if gaps and gaps[-1][1] == p:
            gaps[-1][1] = p + 1
        else:
            gaps.append([p, p + 1])
    return [tuple(g) for g in reversed(gaps)]


def test_memblock_index_answers_as_the_reservation_list():
    rnd = random.Random(15)
    for _ in range(150):
        mb = Memblock()
        for _ in range(rnd.randint(0, 25)):
            a = rnd.randint(0, 120)
            mb.reserve(a, a + rnd.randint(-2, 20), "x")
            if rnd.random() < 0.1:                     # replaced wholesale, as cma does
                mb.reserved = [r for r in mb.reserved if r[0] % 3]
            s = rnd.randint(-3, 130)
            e = s + rnd.randint(-3, 60)
            assert mb.free_ranges(s, e) == _gaps_reference(mb.reserved, s, e)


def test_memblock_alloc_top_down_with_alignment():
    mb = Memblock()
    mb.add(0, 0, 4096)
    mb.reserve(3900, 4096, "top")
    assert mb.alloc(512, "memmap", nid=0, align=512) == 3072      # highest aligned fit
    assert mb.alloc(512, "memmap", nid=0, align=512) == 2560
    assert mb.alloc(100, "any") == 3800                             # 3584..3900 is free
    assert mb.free_ranges(0, 4096) == [(3584, 3800), (0, 2560)]


def test_owner_array_is_made_on_first_record_only():
    m = pextlab.boot(mem="4G", cmdline="page_owner=on")
    mm = m.mm
    tables = [s.page_ext for s in mm.sections if s is not None and s.page_ext is not None]
    untouched = [t for t in tables if t.owner_if_written() is None]
    assert untouched, "a fresh machine has tables without records"
    before = sum(t.owner_if_written() is None for t in tables)
    m.df_page_owner()
    m.df_pageblocks()
    assert sum(t.owner_if_written() is None for t in tables) == before   # readers make none
    t = untouched[0]
    assert (t.owner == -1).all() and t.owner_if_written() is not None      # asked: made, empty


def test_records_fields_equal_columns():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    w = m.mm
    g = w.gfp("GFP_KERNEL")
    for i in range(300):
        PA.alloc_pages(w, g, i % 3, None)
    recs = w.page_owner.records
    rows = np.random.default_rng(0).integers(0, len(recs), 5000)
    want = {f: np.int64 for f in range(len(REC_FIELDS))} | {0: np.int8, 4: np.int32, 7: np.int8}
    got = recs.fields(rows, want, chunk=1000)
    for f, dt in want.items():
        assert np.array_equal(got[f], recs.column(rows, f, dt)), REC_FIELDS[f]
