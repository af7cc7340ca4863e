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

alloc_contig_range (CMA, :func:`pextlab.kernel.page_alloc.alloc_contig_range`)
isolates with ``migratetype=MIGRATE_CMA``: has_unmovable_pages then takes a
MIGRATE_CMA pageblock as movable without looking at its pages ("CMA allocations
(alloc_contig_range) really need to mark isolate CMA pageblocks even when they
are not movable in fact").  Its range need not end on MAX_PAGE_ORDER
boundaries: a free block larger than a pageblock that straddles an end of the
range is split into pageblocks first (move_freepages_block_isolate's
split_large_buddy), and undo frees each isolated block of pageblock order or
more back through ``__free_one_page`` so it merges again
(unset_migratetype_isolate's __putback_isolated_page).

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
from .buddy import __free_one_page, add_to_free_list, del_page_from_free_list
from .mmzone import covered_by_free

__all__ = ["unmovable_pages", "has_unmovable_pages", "start_isolate_page_range",
           "undo_isolate_page_range", "test_pages_isolated", "free_heads", "section_slices",
           "split_large_buddy"]


def section_slices(mm, start: int, end: int):
    """(section, lo, hi) for every section overlapping [start, end)."""
    pfn = start
    while pfn < end:
        sec = mm.sections[pfn >> mm.section_shift]
        nxt = ((pfn >> mm.section_shift) + 1) << mm.section_shift
        hi = min(end, nxt)
        yield sec, pfn - sec.start_pfn, hi - sec.start_pfn
        pfn = hi


def unmovable_pages(mm, zone, start: int, end: int, migratetype: int | None = None) -> np.ndarray:
    """Every pfn in [start, end) that ``has_unmovable_pages`` would stop at, ascending.

    The first page of every MIGRATE_CMA pageblock (none when ``migratetype`` is
    MIGRATE_CMA: those pageblocks are skipped whole); reserved pages always;
    outside ZONE_MOVABLE also heads of non-movable allocations and in-use pages
    that belong to no block (taken off the buddy).
    """
    mov = mm.profile.mt_movable
    cma = mm.profile.mt_cma
    pb = mm.pageblock_order
    out = []
    for sec, lo, hi in section_slices(mm, start, end):
        fl = sec.flags_np()
        bad = (fl[lo:hi] & PG_RESERVED) != 0
        is_cma = np.repeat(sec.pageblock_np() == cma, 1 << pb)[lo:hi]
        if migratetype == cma:
            skip = is_cma
        else:
            skip = np.zeros(hi - lo, dtype=bool)
            cma_blocks = np.flatnonzero(sec.pageblock_np() == cma) << pb
            cma_blocks = cma_blocks[(cma_blocks >= lo) & (cma_blocks < hi)]
            bad[cma_blocks - lo] = True
        if zone.idx != ZONE_MOVABLE:
            f = fl[lo:hi]
            mt = (f & MT_MASK) >> MT_SHIFT
            bad |= ((f & PG_HEAD) != 0) & (mt != mov)
            covered = covered_by_free(fl, sec.order_np(), PG_HEAD | PG_BUDDY | PG_GUARD)[lo:hi]
            bad |= (f == 0) & ~covered
        bad &= ~skip
        idx = np.flatnonzero(bad)
        if len(idx):
            out.append(sec.start_pfn + lo + idx)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def has_unmovable_pages(mm, zone, start: int, end: int, migratetype: int | None = None) -> int:
    """The first unmovable pfn of [start, end), or -1."""
    bad = unmovable_pages(mm, zone, start, end, migratetype)
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


def split_large_buddy(mm, zone, pfn: int) -> None:
    """A free block of order > pageblock_order that covers ``pfn`` (a pageblock
    boundary) without starting there is split into pageblock-order blocks, each on
    its pageblock's list (mm/page_alloc.c split_large_buddy)."""
    pb = mm.pageblock_order
    sec = mm.section_of(pfn)
    if sec is None:
        return
    for order in range(pb + 1, mm.nr_orders):
        head = pfn & ~((1 << order) - 1)
        if head == pfn or (head >> mm.section_shift) != sec.nr:
            continue
        off = head & mm.section_mask
        f = sec.flags[off]
        if f & PG_BUDDY and sec.order[off] == order:
            del_page_from_free_list(mm, zone, head, order, (f & MT_MASK) >> MT_SHIFT)
            for p in range(head, head + (1 << order), 1 << pb):
                add_to_free_list(mm, zone, p, pb, sec.pageblock_mt[(p & mm.section_mask) >> pb])
            return


def start_isolate_page_range(mm, zone, start: int, end: int, migratetype: int | None = None):
    """Isolate [start, end) (pageblock aligned).

    Returns ``(saved_types, -1)`` on success, where ``saved_types`` are the
    previous pageblock migratetypes (for undo), or ``(None, pfn)`` with the
    first unmovable pfn -- the page the kernel dumps as "unmovable page".
    ``migratetype``: MIGRATE_CMA when alloc_contig_range isolates a CMA range.
    """
    bad = has_unmovable_pages(mm, zone, start, end, migratetype)
    if bad >= 0:
        return None, bad
    split_large_buddy(mm, zone, start)
    split_large_buddy(mm, zone, end)
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
        off = pfn & mm.section_mask
        f = sec.flags[off]
        if not f & PG_BUDDY or sec.order[off] != order or (f & MT_MASK) >> MT_SHIFT != iso:
            continue                   # merged into a block put back before it
        new_mt = sec.pageblock_mt[off >> pb]
        del_page_from_free_list(mm, zone, pfn, order, iso)
        if order >= pb:
            # __putback_isolated_page: merges with a free buddy of the same type again
            __free_one_page(mm, zone, pfn, order, new_mt)
        else:
            add_to_free_list(mm, zone, pfn, order, new_mt)


def test_pages_isolated(mm, start: int, end: int) -> int:
    """0 when every page of [start, end) is a free buddy page, else the first busy pfn."""
    for sec, lo, hi in section_slices(mm, start, end):
        free = covered_by_free(sec.flags_np(), sec.order_np())[lo:hi]
        if not free.all():
            return sec.start_pfn + lo + int(np.flatnonzero(~free)[0])
    return 0
