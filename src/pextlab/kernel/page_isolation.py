"""Page isolation (mm/page_isolation.c, v6.12): MIGRATE_ISOLATE pageblocks.

Memory offlining isolates every pageblock of the range so the allocator cannot
hand out its free pages while the movable pages are migrated away:

* ``has_unmovable_pages`` decides whether a pageblock can be isolated.  Its
  rules (v6.12): a MIGRATE_CMA pageblock is unmovable (only CMA's own isolation,
  alloc_contig_range, may take it: the page returned is the pageblock's first);
  PG_reserved pages (memblock allocations, holes, offline
  memmap) are always unmovable; in ZONE_MOVABLE everything else is assumed
  movable; elsewhere every in-use page that is not on the LRU / __PageMovable
  is unmovable.  Free buddy pages and tail pages (refcount 0) are skipped.  The
  simulator's "movable" pages are allocations whose migratetype is
  MIGRATE_MOVABLE (user/page-cache pages, which live on the LRU); unmovable
  and reclaimable allocations (slab, page tables, kernel stacks, page_ext
  tables) are not.
* ``start_isolate_page_range`` sets MIGRATE_ISOLATE on every pageblock and
  moves its free blocks to the isolate free lists (nothing there can be
  allocated: no fallback reaches MIGRATE_ISOLATE); ``undo_isolate_page_range``
  reverts that.
* ``test_pages_isolated``: every page of the range is a free buddy page.

One deliberate difference: the kernel isolates pageblock after pageblock and,
when it meets an unmovable page, un-isolates the ones done so far with
``undo_isolate_page_range(..., MIGRATE_MOVABLE)`` -- which turns their
pageblocks into MIGRATE_MOVABLE and re-queues their free pages at the tail of
the lists.  The simulator checks the whole range first and touches nothing when
it would fail, and undo restores each pageblock's previous migratetype, so a
failed offline leaves the state exactly as it was.
"""
from __future__ import annotations

import numpy as np

from .gfp import ZONE_MOVABLE
from .mmzone import PG_BUDDY, PG_RESERVED, PG_HEAD, PG_GUARD, MT_SHIFT, MT_MASK
from .buddy import add_to_free_list, del_page_from_free_list
from .mmzone import covered_by_free

__all__ = ["unmovable_pages", "has_unmovable_pages", "start_isolate_page_range",
           "undo_isolate_page_range", "test_pages_isolated", "free_heads", "section_slices"]


def section_slices(mm, start: int, end: int):
    """(section, lo, hi) for every section overlapping [start, end)."""
    pfn = start
    while pfn < end:
        sec = mm.sections[pfn >> mm.section_shift]
        nxt = ((pfn >> mm.section_shift) + 1) << mm.section_shift
        hi = min(end, nxt)
        yield sec, pfn - sec.start_pfn, hi - sec.start_pfn
        pfn = hi


def unmovable_pages(mm, zone, start: int, end: int) -> np.ndarray:
    """Every pfn in [start, end) that ``has_unmovable_pages`` would stop at, ascending.

    The first page of every MIGRATE_CMA pageblock; reserved pages always; outside
    ZONE_MOVABLE also heads of non-movable allocations and in-use pages that belong
    to no block (taken off the buddy).
    """
    mov = mm.profile.mt_movable
    cma = mm.profile.mt_cma
    pb = mm.pageblock_order
    out = []
    for sec, lo, hi in section_slices(mm, start, end):
        fl = sec.flags_np()
        bad = (fl[lo:hi] & PG_RESERVED) != 0
        cma_blocks = np.flatnonzero(sec.pageblock_np() == cma) << pb
        cma_blocks = cma_blocks[(cma_blocks >= lo) & (cma_blocks < hi)]
        bad[cma_blocks - lo] = True
        if zone.idx != ZONE_MOVABLE:
            f = fl[lo:hi]
            mt = (f & MT_MASK) >> MT_SHIFT
            bad |= ((f & PG_HEAD) != 0) & (mt != mov)
            covered = covered_by_free(fl, sec.order_np(), PG_HEAD | PG_BUDDY | PG_GUARD)[lo:hi]
            bad |= (f == 0) & ~covered
        idx = np.flatnonzero(bad)
        if len(idx):
            out.append(sec.start_pfn + lo + idx)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def has_unmovable_pages(mm, zone, start: int, end: int) -> int:
    """The first unmovable pfn of [start, end), or -1."""
    bad = unmovable_pages(mm, zone, start, end)
    return int(bad[0]) if len(bad) else -1


def free_heads(mm, start: int, end: int):
    """(pfn, order, mt) of every free buddy head in [start, end), ascending."""
    out = []
    for sec, lo, hi in section_slices(mm, start, end):
        f = sec.flags_np()[lo:hi]
        idx = np.flatnonzero(f & PG_BUDDY)
        if len(idx):
            od = sec.order_np()[lo:hi]
            base = sec.start_pfn + lo
            out.extend(zip((base + idx).tolist(), od[idx].tolist(),
                           ((f[idx] & MT_MASK) >> MT_SHIFT).tolist()))
    return out


def _pageblock_types(mm, start: int, end: int) -> bytes:
    pb = mm.pageblock_order
    parts = []
    for sec, lo, hi in section_slices(mm, start, end):
        parts.append(bytes(sec.pageblock_mt[lo >> pb:(hi + (1 << pb) - 1) >> pb]))
    return b"".join(parts)


def _set_pageblock_types(mm, start: int, end: int, types) -> None:
    pb = mm.pageblock_order
    i = 0
    for sec, lo, hi in section_slices(mm, start, end):
        a, b = lo >> pb, (hi + (1 << pb) - 1) >> pb
        if isinstance(types, int):
            sec.pageblock_mt[a:b] = bytes([types]) * (b - a)
        else:
            sec.pageblock_mt[a:b] = types[i:i + b - a]
        i += b - a


def start_isolate_page_range(mm, zone, start: int, end: int):
    """Isolate [start, end) (pageblock aligned).

    Returns ``(saved_types, -1)`` on success, where ``saved_types`` are the
    previous pageblock migratetypes (for undo), or ``(None, pfn)`` with the
    first unmovable pfn -- the page the kernel dumps as "unmovable page".
    """
    bad = has_unmovable_pages(mm, zone, start, end)
    if bad >= 0:
        return None, bad
    saved = _pageblock_types(mm, start, end)
    iso = mm.profile.mt_isolate
    _set_pageblock_types(mm, start, end, iso)
    # move_freepages_block_isolate: the free pages go to the isolate lists
    for pfn, order, mt in free_heads(mm, start, end):
        if mt != iso:
            del_page_from_free_list(mm, zone, pfn, order, mt)
            add_to_free_list(mm, zone, pfn, order, iso)
    return saved, -1


def undo_isolate_page_range(mm, zone, start: int, end: int, saved_types: bytes) -> None:
    """Give every pageblock its previous migratetype back; free pages follow it."""
    _set_pageblock_types(mm, start, end, saved_types)
    iso = mm.profile.mt_isolate
    pb = mm.pageblock_order
    for pfn, order, mt in free_heads(mm, start, end):
        if mt != iso:
            continue
        sec = mm.sections[pfn >> mm.section_shift]
        new_mt = sec.pageblock_mt[(pfn & mm.section_mask) >> pb]
        del_page_from_free_list(mm, zone, pfn, order, iso)
        add_to_free_list(mm, zone, pfn, order, new_mt)


def test_pages_isolated(mm, start: int, end: int) -> int:
    """0 when every page of [start, end) is a free buddy page, else the first busy pfn."""
    for sec, lo, hi in section_slices(mm, start, end):
        free = covered_by_free(sec.flags_np(), sec.order_np())[lo:hi]
        if not free.all():
            return sec.start_pfn + lo + int(np.flatnonzero(~free)[0])
    return 0
