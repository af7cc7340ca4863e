"""The bulk paths: alloc_pages_bulk (mm/page_alloc.c alloc_pages_bulk_noprof), vmalloc's
page loop (mm/vmalloc.c vm_area_alloc_pages), a loop of single allocations taken a
block at a time, and release_pages / free_unref_folios.

Where the kernel's rules make a bulk call equal to single calls one after the other
(a loop of __alloc_pages; release_pages without per-cpu lists), the machines must be
equal bit for bit: every frame and text file (the golden digests), the memmap bytes
and the order of every free list.
"""
import numpy as np
import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel.mmzone import PG_BUDDY
from pextlab.schema import FRAMES
from tests.golden.scenarios import digest_frame, digest_machine


def raw_state(m):
    mm = m.mm
    secs = [(bytes(s.flags), bytes(s.order), bytes(s.pageblock_mt)) for s in mm.sections
            if s is not None]
    lists = [[list(d) for d in z.free_area[o]] for z in mm.all_zones() for o in range(mm.nr_orders)]
    counters = [(z.free_pages, list(z.free_mt), list(z.nr_free)) for z in mm.all_zones()]
    return secs, lists, counters, mm.nr_alloc_events, mm.nr_free_events


def digests(m):
    if m.mm.page_owner is not None:
        return digest_machine(m)
    out = {}
    for name, (_schema, sources) in FRAMES.items():
        if "machine" in sources:
            try:
                out[name] = digest_frame(getattr(m, name)())
            except PextlabError as e:       # a page_owner frame with page_owner off
                out[name] = str(e)
    return out


def assert_same(a, b):
    assert raw_state(a) == raw_state(b)
    assert digests(a) == digests(b)


def one_by_one(m, n, gfp="GFP_KERNEL", nid=None):
    out = []
    for _ in range(n):
        p = m.alloc_pages(0, gfp, nid)
        if p is None:
            break
        out.append(p)
    return out


def churned(cmdline, mem="1G", seed=3, **kw):
    """A machine whose free lists hold blocks of every order (mixed churn)."""
    m = pextlab.boot(mem=mem, cmdline=cmdline, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    held = []
    for i in range(3000):
        o = int(rng.integers(0, 4))
        g = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE")[i % 2]
        p = m.alloc_pages(o, g)
        if p is not None:
            held.append((p, o))
        if len(held) > 500 and rng.random() < 0.6:
            p, o = held.pop(int(rng.integers(0, len(held))))
            m.free_pages(p, o)
    return m


CASES = [
    ("page_owner=on", "GFP_KERNEL", {}),
    ("", "GFP_HIGHUSER_MOVABLE", {}),
    ("page_owner=on pextlab.pcp=on", "GFP_KERNEL", {}),
    ("page_owner=on trace_buf_size=1M trace_event=kmem:*", "GFP_KERNEL", {}),
    ("page_owner=on debug_guardpage_minorder=1", "GFP_KERNEL", {}),
    ("page_owner=on cma=64M", "GFP_HIGHUSER_MOVABLE", {}),
    ("page_owner=on", "GFP_KERNEL|__GFP_RECLAIMABLE", {"profile": "v3.19"}),
    ("page_owner=on", "GFP_ATOMIC", {"nodes": 2}),
]


@pytest.mark.parametrize("cmdline,gfp,kw", CASES)
def test_alloc_pages_loop_equals_single_calls(cmdline, gfp, kw):
    a, b = churned(cmdline, **kw), churned(cmdline, **kw)
    for n in (1, 7, 1000, 20_000):
        got = a.alloc_pages_loop(n, gfp)
        assert got.dtype == np.int64
        assert got.tolist() == one_by_one(b, n, gfp)
    assert_same(a, b)


@pytest.mark.parametrize("kw", [{}, {"profile": "v3.19"}])
def test_alloc_pages_loop_records_pages_of_sections_that_never_held_a_record(kw):
    # a fresh machine: most page_ext tables have no record yet (their owner array is
    # made on first use); pages taken there a block at a time get their records too
    a = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1, **kw)
    b = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1, **kw)
    got = a.alloc_pages_loop(60_000, "GFP_HIGHUSER_MOVABLE")
    assert got.tolist() == one_by_one(b, 60_000, "GFP_HIGHUSER_MOVABLE")
    assert len(a.mm.page_owner.records) == len(b.mm.page_owner.records)
    assert_same(a, b)


def test_alloc_pages_loop_until_the_machine_is_full():
    # more than the machine has: both stop at the same first failure (after reclaim/OOM
    # had their say in the slow path), with the same pages
    a = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    b = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    got = a.alloc_pages_loop(100_000)
    assert got.tolist() == one_by_one(b, 100_000)
    assert len(got) < 65_536
    assert_same(a, b)


def test_a_whole_block_comes_in_a_row_and_a_cut_one_leaves_its_upper_pieces():
    # __rmqueue_smallest takes the head of the smallest non-empty list; expand() puts the
    # upper halves on the (empty) lower lists, so order-0 calls walk the block upwards.
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1)
    mm = m.mm
    mt = mm.profile.mt_unmovable
    zone = next(z for z in mm.zonelists[0] if z.free_pages)
    while True:        # empty the lists below order 2 of the first zone
        low = [o for o in range(2) if zone.free_area[o][mt]]
        if not low:
            break
        m.alloc_pages_loop(sum(len(zone.free_area[o][mt]) << o for o in low))
    c = next(o for o in range(2, mm.nr_orders) if zone.free_area[o][mt])
    head = next(reversed(zone.free_area[c][mt]))            # the list head (last added)
    got = m.alloc_pages_loop(3)
    assert got.tolist() == [head, head + 1, head + 2]
    # 2^c - 3 pages left: head+3 (order 0), then head + 2^o (order o) for o = 2..c-1;
    # the order-1 list stays empty
    assert list(zone.free_area[0][mt]) == [head + 3]
    assert list(zone.free_area[1][mt]) == []
    for o in range(2, c):
        assert list(zone.free_area[o][mt]) == [head + (1 << o)]
    assert head not in zone.free_area[c][mt]


def test_alloc_pages_bulk_page_owner_on_gives_one_page_per_call():
    # alloc_pages_bulk_noprof: page_owner_inited -> "failed": one __alloc_pages
    a = churned("page_owner=on")
    b = churned("page_owner=on")
    got = a.alloc_pages_bulk(50)
    assert got.tolist() == one_by_one(b, 1)
    assert_same(a, b)


@pytest.mark.parametrize("cmdline", ["", "pextlab.pcp=on", "debug_guardpage_minorder=1"])
def test_alloc_pages_bulk_without_page_owner_fills_from_one_zone(cmdline):
    # far above the watermark, __rmqueue_pcplist / __rmqueue per page give what single
    # allocations give
    a, b = churned(cmdline), churned(cmdline)
    got = a.alloc_pages_bulk(500)
    assert len(got) == 500
    assert got.tolist() == one_by_one(b, 500)      # plenty above the watermark: same pages
    assert a.mm.nr_alloc_events == b.mm.nr_alloc_events
    assert raw_state(a)[:3] == raw_state(b)[:3]
    assert a.alloc_pages_bulk(0).tolist() == []


def test_alloc_pages_bulk_checks_the_watermark_plus_the_request():
    # mark = wmark_pages(low) + nr_pages: a zone with fewer free pages above its low
    # watermark than asked for is skipped; with no zone left, one single allocation
    m = pextlab.boot(mem="256M", seed=1)
    zones = [z for z in m.mm.zonelists[0] if z.free_pages]
    room = max(z.free_pages - z.watermark["low"] - z.lowmem_reserve[2] for z in zones)
    assert len(m.alloc_pages_bulk(room + 10)) == 1


def test_vm_area_alloc_pages_bulk_requests_of_100_then_single_pages():
    a, b = churned(""), churned("")
    got = a.vm_area_alloc_pages(1234)
    want = []
    for _ in range(12):
        want += b.alloc_pages_bulk(100).tolist()
    want += b.alloc_pages_bulk(34).tolist()
    assert got.tolist() == want
    # page_owner on: the first bulk call gives one page, the rest one by one
    a, b = churned("page_owner=on"), churned("page_owner=on")
    assert a.vm_area_alloc_pages(5000).tolist() == one_by_one(b, 5000)
    assert_same(a, b)


@pytest.mark.parametrize("cmdline,kw", [("page_owner=on", {}), ("", {}),
                                        ("page_owner=on", {"profile": "v3.19"}),
                                        ("page_owner=on page_poison=on", {})])
def test_release_pages_equals_free_pages_one_by_one(cmdline, kw):
    a, b = churned(cmdline, **kw), churned(cmdline, **kw)
    pa = a.alloc_pages_loop(5000)
    pb = np.array(one_by_one(b, 5000))
    rng = np.random.default_rng(1)
    sel = rng.permutation(len(pa))[:3000]
    a.release_pages(pa[sel])
    for p in pb[sel].tolist():
        b.free_pages(p)
    assert_same(a, b)


def test_release_pages_of_order_4_free_to_the_buddy_at_once():
    a, b = churned("page_owner=on"), churned("page_owner=on")
    pa = [a.alloc_pages(4) for _ in range(40)]
    pb = [b.alloc_pages(4) for _ in range(40)]
    a.release_pages(pa, 4)
    for p in pb:
        b.free_pages(p, 4)
    assert_same(a, b)


def test_release_pages_checks_every_block_before_freeing_any():
    m = churned("page_owner=on")
    p = m.alloc_pages_loop(10)
    before = raw_state(m)
    free_pfn = next(iter(m.mm.zonelists[0][0].free_area[0][0]), None) or int(p[0]) + 10 ** 6
    with pytest.raises(PextlabError, match="release_pages: pfn .* more than once"):
        m.release_pages([p[0], p[1], p[0]])
    with pytest.raises(PextlabError, match="free_pages: pfn"):
        m.release_pages(list(p) + [free_pfn])
    with pytest.raises(PextlabError, match="order"):
        m.release_pages(p, 1)
    assert raw_state(m) == before


def test_release_pages_traces_free_then_free_batched_per_batch():
    # free_unref_folios: free_pages_prepare (mm_page_free) for the whole folio batch,
    # then mm_page_free_batched for each: 31 + 31 events per batch of 31
    m = pextlab.boot(mem="512M", seed=1, cmdline="page_owner=on")
    p = m.alloc_pages_loop(40)
    t = m.tracing(events="kmem:mm_page_free,kmem:mm_page_free_batched")
    m.release_pages(p)
    t.read(1000)
    df = t.df_trace()
    ev = df["event"].astype(str).tolist()
    assert ev == (["mm_page_free"] * 31 + ["mm_page_free_batched"] * 31
                  + ["mm_page_free"] * 9 + ["mm_page_free_batched"] * 9)
    assert df["pfn"].tolist() == p[:31].tolist() * 2 + p[31:].tolist() * 2


@pytest.mark.parametrize("cmdline,kw", [("page_owner=on", {}), ("", {}),
                                        ("page_owner=on", {"profile": "v3.19"}),
                                        ("page_owner=on", {"nodes": 2})])
def test_release_pages_of_runs_equals_free_pages_one_by_one(cmdline, kw):
    # runs given upwards are freed an aligned block at a time: the same lists, counters,
    # memmap bytes (the order bytes the page-by-page merges leave) and frames
    a, b = churned(cmdline, **kw), churned(cmdline, **kw)
    pa = a.vm_area_alloc_pages(30_000)
    pb = np.array(one_by_one(b, 30_000))
    assert pa.tolist() == pb.tolist()
    for sl in (slice(5, 9000), slice(9000, 9001), slice(12000, 20000, 2), slice(20000, 30000)):
        a.release_pages(pa[sl])
        for p in pb[sl].tolist():
            b.free_pages(p)
        assert raw_state(a) == raw_state(b), sl
    rest = np.setdiff1d(pa, np.concatenate([pa[5:9001], pa[12000:20000:2], pa[20000:]]))[::-1]
    a.release_pages(rest)                    # downwards: page by page
    for p in rest.tolist():
        b.free_pages(p)
    assert_same(a, b)


def test_a_block_freed_upwards_leaves_the_order_bytes_of_its_merges():
    # freeing 8 pages B..B+7 upwards: B+2j is added at order 0 (its upper buddy is not
    # free yet); B+4 then at order 1 (after B+5); B at orders 0, 1, 2, then merged at 3.
    # So B+1..B+7 keep the order bytes 0 0 0 1 0 0 0 and B is a free order->=3 head.
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1)
    p = m.alloc_pages_loop(4096)
    b = next(int(x) for x in p if x % 8 == 0 and x + 7 in set(p.tolist()))
    m.release_pages(np.arange(b, b + 8))
    sec = m.mm.sections[b >> m.mm.section_shift]
    off = b & m.mm.section_mask
    assert list(sec.order[off + 1:off + 8]) == [0, 0, 0, 1, 0, 0, 0]
    assert all(sec.flags[off + i] == 0 for i in range(1, 8))
    # B: the head of the merged block (order >= 3), or merged into a lower buddy,
    # keeping the order it was last added with (2)
    head = bool(sec.flags[off] & PG_BUDDY)
    assert (head and sec.order[off] >= 3) or (sec.flags[off] == 0 and sec.order[off] == 2)


def test_bad_input_is_a_clear_error_and_changes_nothing():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", seed=1)
    before = raw_state(m)
    for call in (lambda: m.alloc_pages_bulk("10"), lambda: m.alloc_pages_loop(None),
                 lambda: m.vm_area_alloc_pages(2.5), lambda: m.release_pages(["x"]),
                 lambda: m.alloc_pages_loop(10, nid=7)):
        with pytest.raises(PextlabError):
            call()
    assert m.release_pages([]) is None
    assert m.alloc_pages_loop(0).tolist() == m.alloc_pages_bulk(-3).tolist() == []
    assert raw_state(m) == before
