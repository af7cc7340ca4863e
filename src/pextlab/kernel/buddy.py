"""The buddy free lists of mm/page_alloc.c: per zone, per order, per migratetype.

The bottom of the allocator; everything above (``pcp``, ``policy``,
``fastpath``, ``compaction``, ``page_alloc``) is built on these functions,
which take the simulated kernel state ``mm`` (:class:`pextlab.kernel.state.MM`)
first, as the kernel's take a zone:

* free lists: ``add_to_free_list`` / ``del_page_from_free_list`` keep a free
  block's head flags, the zone's counters and the insertion-ordered dict that is
  the list (LIFO: the most recently added block is the list head);
* ``expand`` splits a block, returning halves to the lists (or making guard
  pages below ``debug_guardpage_minorder``, mm/debug_page_alloc.c);
* ``__rmqueue_smallest``: the smallest free block of the wanted type;
  ``__rmqueue``: the CMA rule of v6.12 then the machine's fallback policy
  (``mm.policy``, see ``pextlab.kernel.policy``);
* ``__free_one_page``: merge with free buddies up to MAX_PAGE_ORDER;
* pageblock types, ``scan_pageblock`` and ``move_freepages_block``;
* ``zone_watermark_ok`` (__zone_watermark_ok) and watermark boosting
  (``boost_watermark``, v5.0+).

The list operations, ``expand``, ``__rmqueue_smallest`` and ``__free_one_page``
are compiled (``kernel/_buddy.pyx``, Cython; docs/compiled-core.md) and imported
here; they work on the same state as the rest.  Hot paths touch ``bytearray`` s and
dicts only; numpy is for whole-block work.  This module imports nothing of the
allocator above it.
"""
from __future__ import annotations

import numpy as np

from ..errors import PextlabError
from .mmzone import PG_BUDDY, PG_HEAD, MT_SHIFT, MT_MASK

# compiled: kernel/_buddy.pyx (the pextlab package checks that it is built)
from ._buddy import (add_to_free_list, del_page_from_free_list, set_page_guard,
                     clear_page_guard, expand, __rmqueue_smallest, __free_one_page,
                     zone_watermark_ok, ALLOC_MIN_RESERVE, ALLOC_NON_BLOCK, ALLOC_CMA)

__all__ = [
    "ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "ALLOC_NO_WATERMARKS",
    "ALLOC_MIN_RESERVE", "ALLOC_NON_BLOCK", "ALLOC_CMA", "WMARK_NAMES",
    "get_order", "get_pageblock_migratetype", "set_pageblock_migratetype",
    "change_pageblock_range", "add_to_free_list", "del_page_from_free_list", "set_page_guard",
    "clear_page_guard", "expand", "__rmqueue_smallest", "rmqueue_smallest",
    "__rmqueue_cma_fallback", "__rmqueue", "rmqueue_buddy", "scan_pageblock",
    "move_freepages_block", "__free_one_page", "free_one_page", "zone_watermark_ok",
    "find_free_block", "take_page_off_buddy", "zone_watermark_boost",
    "base_watermark", "set_watermark_boost", "boost_watermark", "rmqueue_run",
]

# alloc_flags (mm/internal.h): the watermark to check, and what may dip below it
ALLOC_WMARK_MIN = 0
ALLOC_WMARK_LOW = 1
ALLOC_WMARK_HIGH = 2
ALLOC_NO_WATERMARKS = 0x04
# ALLOC_MIN_RESERVE (__GFP_HIGH: may dip to half of min), ALLOC_NON_BLOCK (an atomic
# caller: another quarter) and ALLOC_CMA are defined beside the compiled watermark
# check that reads them (_buddy.pyx), imported above
WMARK_NAMES = ("min", "low", "high")      # ALLOC_WMARK_* -> zone.watermark key


def get_order(size: int) -> int:
    """include/asm-generic/getorder.h: smallest order with 2^order pages >= size bytes."""
    pages = (size + 4095) >> 12
    return max(0, (pages - 1).bit_length())


def get_pageblock_migratetype(mm, pfn: int) -> int:
    sec = mm.sections[pfn >> mm.section_shift]
    return sec.pageblock_mt[(pfn & mm.section_mask) >> mm.pageblock_order]


def set_pageblock_migratetype(mm, pfn: int, mt: int) -> None:
    sec = mm.sections[pfn >> mm.section_shift]
    sec.pageblock_mt[(pfn & mm.section_mask) >> mm.pageblock_order] = mt


def change_pageblock_range(mm, pfn: int, order: int, mt: int) -> None:
    nr = 1 << max(0, order - mm.pageblock_order)
    for i in range(nr):
        set_pageblock_migratetype(mm, pfn + (i << mm.pageblock_order), mt)



def rmqueue_run(mm, zone, mt: int, nr: int) -> list:
    """``nr`` order-0 ``__rmqueue_smallest`` calls of type ``mt`` in a row, block by block.

    Returns the pages taken as runs ``[(pfn, n), ...]`` in the order the calls
    return them (fewer than ``nr`` pages when ``mt``'s lists run dry: the caller
    goes on with ``__rmqueue``, whose fallback may steal).  Order-0 calls empty the
    smallest non-empty list's head block lowest page first: ``expand`` leaves one
    upper half per lower order on lists that were empty, and each next call takes
    the lowest of them.  So a whole block is ``2^order`` pages in a row with the
    lists as before, and a block cut short leaves the aligned pieces above the last
    page taken, one per order, as the calls would.  No trace events, no guard pages:
    callers use it only when neither is on (mm/page_alloc.c __rmqueue_smallest,
    expand).
    """
    fa = zone.free_area
    sections, shift, mask = mm.sections, mm.section_shift, mm.section_mask
    nr_orders = mm.nr_orders
    runs = []
    while nr > 0:
        for current in range(nr_orders):
            d = fa[current][mt]
            if d:
                break
        else:
            break
        pfn = d.popitem()[0]
        sections[pfn >> shift].flags[pfn & mask] = 0
        zone.nr_free[current] -= 1
        size = 1 << current
        zone.free_pages -= size
        zone.free_mt[mt] -= size
        if size <= nr:
            runs.append((pfn, size))
            nr -= size
            continue
        runs.append((pfn, nr))
        pos = pfn + nr
        for o in range(current):
            if (pos - pfn) & (1 << o):
                add_to_free_list(mm, zone, pos, o, mt)
                pos += 1 << o
        nr = 0
    return runs


def __rmqueue_cma_fallback(mm, zone, order: int) -> int:
    return __rmqueue_smallest(mm, zone, order, mm.profile.mt_cma)


def scan_pageblock(mm, pfn: int):
    """Free buddy heads and movable pages of the pageblock containing ``pfn``.

    Returns (start_pfn, heads, free_pages, movable_pages) where heads is a list of
    (pfn, order, mt) of free blocks inside the pageblock.
    """
    pb = mm.pageblock_order
    start = (pfn >> pb) << pb
    sec = mm.sections[start >> mm.section_shift]
    off = start & mm.section_mask
    n = 1 << pb
    fl = np.frombuffer(sec.flags, dtype=np.uint8, count=n, offset=off)
    od = np.frombuffer(sec.order, dtype=np.uint8, count=n, offset=off)
    idx = np.flatnonzero(fl & PG_BUDDY)
    heads = [(start + int(i), int(od[i]), (int(fl[i]) & MT_MASK) >> MT_SHIFT) for i in idx]
    free_pages = int(np.sum(np.left_shift(1, od[idx].astype(np.int64)))) if len(idx) else 0
    mov = mm.profile.mt_movable
    alloc = np.flatnonzero((fl & PG_HEAD) != 0)
    if len(alloc):
        amt = (fl[alloc] & MT_MASK) >> MT_SHIFT
        sel = alloc[amt == mov]
        movable_pages = int(np.sum(np.left_shift(1, od[sel].astype(np.int64))))
    else:
        movable_pages = 0
    return start, heads, free_pages, movable_pages


def move_freepages_block(mm, zone, pfn: int, new_mt: int, only_from: int | None = None) -> int:
    """Move every free block of the pageblock to ``new_mt``'s lists; return pages moved."""
    start, heads, _, _ = scan_pageblock(mm, pfn)
    moved = 0
    for hp, o, mt in heads:
        if only_from is not None and mt != only_from:
            continue
        if mt == new_mt:
            continue
        del_page_from_free_list(mm, zone, hp, o, mt)
        add_to_free_list(mm, zone, hp, o, new_mt)
        moved += 1 << o
    return moved


def __rmqueue(mm, zone, order: int, mt: int, alloc_flags: int) -> int:
    prof = mm.profile
    cma = prof.mt_cma
    if (alloc_flags & ALLOC_CMA) and zone.free_mt[cma] > zone.free_pages // 2:
        pfn = __rmqueue_cma_fallback(mm, zone, order)
        if pfn >= 0:
            return pfn
    pfn = __rmqueue_smallest(mm, zone, order, mt)
    if pfn < 0:
        if (alloc_flags & ALLOC_CMA) and zone.free_mt[cma]:
            pfn = __rmqueue_cma_fallback(mm, zone, order)
        if pfn < 0:
            # __rmqueue_fallback: whatever the machine's fallback policy does
            # (pextlab.kernel.policy; v6.12.y: __rmqueue_claim then __rmqueue_steal)
            pfn = mm.policy.rmqueue_fallback(mm, zone, order, mt, alloc_flags)
    return pfn


def find_free_block(mm, pfn: int):
    """The free buddy block containing ``pfn``: (head_pfn, order, mt) or None."""
    for order in range(mm.nr_orders):
        head = pfn & ~((1 << order) - 1)
        sec = mm.sections[head >> mm.section_shift]
        if sec is None:
            return None
        off = head & mm.section_mask
        f = sec.flags[off]
        if (f & PG_BUDDY) and sec.order[off] == order:
            return head, order, (f & MT_MASK) >> MT_SHIFT
    return None


def take_page_off_buddy(mm, pfn: int, order: int = 0) -> bool:
    """Take the free, aligned 2^order block at ``pfn`` out of the buddy allocator.

    mm/page_alloc.c take_page_off_buddy() does this for one page (memory failure):
    the free block containing it is split and every other part goes back to the
    free lists.  Here any order is allowed.  The pages are left with flags 0 (in
    use, no head); callers mark them.  Returns False if not all of it is free.
    """
    if pfn & ((1 << order) - 1):
        raise PextlabError(f"take_page_off_buddy: pfn {pfn:#x} is not aligned to order {order}")
    found = find_free_block(mm, pfn)
    if found is None:
        return False
    head, border, mt = found
    if border < order:
        return False
    zone = mm.zone_of_pfn(head)
    del_page_from_free_list(mm, zone, head, border, mt)
    # split the block, keeping the half that contains pfn, until it is 2^order
    cur, o = head, border
    while o > order:
        o -= 1
        half = 1 << o
        if pfn >= cur + half:
            add_to_free_list(mm, zone, cur, o, mt)
            cur += half
        else:
            add_to_free_list(mm, zone, cur + half, o, mt)
    return True


# --- watermark boosting (v5.0+, mm/page_alloc.c boost_watermark) ---------------------------
#
# zone.watermark holds what the kernel's wmark_pages() returns: _watermark[] plus
# watermark_boost (so the fast path needs no change, and /proc/zoneinfo's min/low/high
# are the boosted values, as the kernel prints them).  The base values live in
# mm.wm_boost[zone] = [watermark dict they belong to, base dict, boost]; a watermark
# recalculation (which in the kernel also zeroes watermark_boost) replaces the dict.

def _boost_state(mm, zone):
    st = mm.wm_boost
    rec = st.get(zone)
    if rec is None or rec[0] is not zone.watermark:
        rec = st[zone] = [zone.watermark, dict(zone.watermark), 0]
    return rec


def zone_watermark_boost(mm, zone) -> int:
    """zone->watermark_boost."""
    rec = mm.wm_boost.get(zone)
    return rec[2] if rec is not None and rec[0] is zone.watermark else 0


def base_watermark(mm, zone, which: str = "min") -> int:
    """zone->_watermark[which] (without the boost)."""
    return zone.watermark[which] - zone_watermark_boost(mm, zone)


def set_watermark_boost(mm, zone, boost: int) -> None:
    rec = _boost_state(mm, zone)
    base = rec[1]
    wm = zone.watermark
    for k, v in base.items():
        wm[k] = v + boost
    rec[2] = boost


def boost_watermark(mm, zone) -> bool:
    """mm/page_alloc.c boost_watermark: raise the zone's watermarks by a pageblock, up
    to high * watermark_boost_factor / 10000; not for zones under 4 pageblocks."""
    factor = mm.watermark_boost_factor
    if not factor:
        return False
    pbn = 1 << mm.pageblock_order
    if pbn * 4 > zone.managed_pages:
        return False
    rec = _boost_state(mm, zone)
    max_boost = max(pbn, rec[1]["high"] * factor // 10000)
    set_watermark_boost(mm, zone, min(rec[2] + pbn, max_boost))
    mm.boosted_zones.add(zone)
    return True


# plain aliases: a kernel name with a leading ``__`` is mangled inside a class body
rmqueue_smallest = __rmqueue_smallest
rmqueue_buddy = __rmqueue
free_one_page = __free_one_page
