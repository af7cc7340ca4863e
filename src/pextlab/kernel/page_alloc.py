"""The buddy allocator (mm/page_alloc.c), per zone, per order, per migratetype.

Functions are named after their kernel counterparts and take the simulated
kernel state ``mm`` (:class:`pextlab.kernel.state.MM`) first:

* ``__rmqueue_smallest`` / ``expand``: take the smallest free block of the
  wanted migratetype and split it, returning halves to the free lists (or
  turning them into guard pages below ``debug_guardpage_minorder``).
* ``__rmqueue_fallback``: steal from another migratetype, largest order first,
  with the profile's fallback table and claim rules (v3.19
  ``try_to_steal_freepages``; v6.12 ``steal_suitable_fallback`` with
  "alike" pages, v4.13+).
* ``__free_one_page``: merge with free buddies up to MAX_PAGE_ORDER.
* ``get_page_from_freelist`` / ``__alloc_pages``: zonelist walk with
  watermarks and lowmem_reserve; ``None`` (the kernel's NULL/-ENOMEM) when no
  zone can serve the request.

Not modelled (documented so nobody is surprised): per-cpu page lists (pages go
straight back to the buddy lists), the highatomic reserve, watermark boosting,
direct reclaim and compaction (issue: fragmentation studies), kswapd.

Hot paths touch ``bytearray`` s and dicts only; numpy is for whole-block work.
"""
from __future__ import annotations

import numpy as np

from ..errors import PextlabError
from .gfp import gfp_migratetype, gfp_zone, ZONE_MOVABLE
from .mmzone import PG_BUDDY, PG_RESERVED, PG_HEAD, PG_GUARD, PG_HOLE, MT_SHIFT, MT_MASK

__all__ = [
    "ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "ALLOC_NO_WATERMARKS",
    "ALLOC_MIN_RESERVE", "ALLOC_NON_BLOCK", "ALLOC_CMA",
    "expand", "__rmqueue_smallest", "__rmqueue_fallback", "__rmqueue", "__free_one_page",
    "zone_watermark_ok", "get_page_from_freelist", "__alloc_pages", "free_pages", "split_page",
    "alloc_pages_exact_nid", "free_pages_exact", "get_order", "get_pageblock_migratetype",
    "set_pageblock_migratetype", "move_freepages_block", "__free_pages_core",
]

ALLOC_WMARK_MIN = 0
ALLOC_WMARK_LOW = 1
ALLOC_WMARK_HIGH = 2
ALLOC_NO_WATERMARKS = 0x04
ALLOC_MIN_RESERVE = 0x08     # __GFP_HIGH: may dip to half of min
ALLOC_NON_BLOCK = 0x10       # atomic caller: another quarter
ALLOC_CMA = 0x80
_WMARK = ("min", "low", "high")


def get_order(size: int) -> int:
    """include/asm-generic/getorder.h: smallest order with 2^order pages >= size bytes."""
    pages = (size + 4095) >> 12
    return max(0, (pages - 1).bit_length())


# --- pageblock flags ----------------------------------------------------------------------

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


# --- free lists ---------------------------------------------------------------------------

def add_to_free_list(mm, zone, pfn: int, order: int, mt: int) -> None:
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = PG_BUDDY | (mt << MT_SHIFT)
    sec.order[off] = order
    zone.free_area[order][mt][pfn] = None
    zone.nr_free[order] += 1
    n = 1 << order
    zone.free_pages += n
    zone.free_mt[mt] += n


def del_page_from_free_list(mm, zone, pfn: int, order: int, mt: int) -> None:
    del zone.free_area[order][mt][pfn]
    sec = mm.sections[pfn >> mm.section_shift]
    sec.flags[pfn & mm.section_mask] = 0
    zone.nr_free[order] -= 1
    n = 1 << order
    zone.free_pages -= n
    zone.free_mt[mt] -= n


def set_page_guard(mm, zone, pfn: int, order: int, mt: int) -> bool:
    """mm/debug_page_alloc.c __set_page_guard: below debug_guardpage_minorder the
    split-off half becomes a guard page, "not available for any usage"."""
    if order >= mm.guard_minorder:
        return False
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = PG_GUARD | (mt << MT_SHIFT)
    sec.order[off] = order
    mm.nr_guard_pages += 1 << order
    if mm.page_ext_guard_hook is not None:          # v3.19: PAGE_EXT_DEBUG_GUARD bit
        mm.page_ext_guard_hook(pfn, True)
    return True


def clear_page_guard(mm, zone, pfn: int, order: int) -> None:
    sec = mm.sections[pfn >> mm.section_shift]
    sec.flags[pfn & mm.section_mask] = 0
    mm.nr_guard_pages -= 1 << order
    if mm.page_ext_guard_hook is not None:
        mm.page_ext_guard_hook(pfn, False)


def expand(mm, zone, pfn: int, low: int, high: int, mt: int) -> None:
    """Split a 2^high block at ``pfn`` down to 2^low, freeing the upper halves."""
    guard = mm.guard_minorder
    while high > low:
        high -= 1
        buddy = pfn + (1 << high)
        if high < guard and set_page_guard(mm, zone, buddy, high, mt):
            continue
        add_to_free_list(mm, zone, buddy, high, mt)


def __rmqueue_smallest(mm, zone, order: int, mt: int) -> int:
    fa = zone.free_area
    for current in range(order, mm.nr_orders):
        d = fa[current][mt]
        if d:
            pfn = d.popitem()[0]         # the list head (most recently added), O(1)
            # del_page_from_free_list, inlined for the hot path
            mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask] = 0
            zone.nr_free[current] -= 1
            n = 1 << current
            zone.free_pages -= n
            zone.free_mt[mt] -= n
            if current != order:
                expand(mm, zone, pfn, order, current, mt)
            return pfn
    return -1


def __rmqueue_cma_fallback(mm, zone, order: int) -> int:
    return __rmqueue_smallest(mm, zone, order, mm.profile.mt_cma)


def can_steal_fallback(mm, order: int, start_mt: int) -> bool:
    """mm/page_alloc.c can_steal_fallback (v4.x..v6.12; v3.19 inline in
    try_to_steal_freepages with RECLAIMABLE only)."""
    pb = mm.pageblock_order
    if order >= pb:
        return True
    return (order >= pb // 2 or start_mt in mm.profile.always_steal_types
            or not mm.mobility_grouping)


def find_suitable_fallback(mm, zone, order: int, start_mt: int, only_stealable: bool):
    """Return (fallback_mt, can_steal) or (-1, False)."""
    if not zone.nr_free[order]:
        return -1, False
    area = zone.free_area[order]
    for fmt in mm.profile.fallbacks.get(start_mt, ()):
        if not area[fmt]:
            continue
        steal = can_steal_fallback(mm, order, start_mt)
        if not only_stealable or steal:
            return fmt, steal
    return -1, False


def _block_scan(mm, pfn: int):
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
    start, heads, _, _ = _block_scan(mm, pfn)
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


def steal_suitable_fallback(mm, zone, pfn: int, current_order: int, order: int,
                            start_mt: int, fallback_mt: int, whole_block: bool) -> int:
    """v6.12 steal_suitable_fallback: claim the block or take a single page.

    Returns the allocated pfn.
    """
    prof = mm.profile
    pb = mm.pageblock_order
    block_mt = get_pageblock_migratetype(mm, pfn)
    if prof.mt_highatomic is not None and block_mt == prof.mt_highatomic:
        whole_block = False
    if current_order >= pb:
        # a whole pageblock or more: change their type and split as start_mt
        del_page_from_free_list(mm, zone, pfn, current_order, fallback_mt)
        change_pageblock_range(mm, pfn, current_order, start_mt)
        expand(mm, zone, pfn, order, current_order, start_mt)
        mm.vm_events["pgsteal_fallback_claim"] = mm.vm_events.get("pgsteal_fallback_claim", 0) + 1
        return pfn
    if whole_block:
        start, heads, free_pages, movable_pages = _block_scan(mm, pfn)
        if start_mt == prof.mt_movable:
            alike = movable_pages
        elif block_mt == prof.mt_movable:
            alike = (1 << pb) - (free_pages + movable_pages)
        else:
            alike = 0
        if not prof.count_alike_pages:
            alike = 0
        if free_pages + alike >= (1 << (pb - 1)) or not mm.mobility_grouping:
            for hp, o, mt in heads:
                if mt != start_mt:
                    del_page_from_free_list(mm, zone, hp, o, mt)
                    add_to_free_list(mm, zone, hp, o, start_mt)
            set_pageblock_migratetype(mm, start, start_mt)
            mm.vm_events["pgsteal_fallback_claim"] = mm.vm_events.get("pgsteal_fallback_claim", 0) + 1
            return __rmqueue_smallest(mm, zone, order, start_mt)
    # single page: split on the block's own lists (freelist hygiene, v6.10+)
    del_page_from_free_list(mm, zone, pfn, current_order, fallback_mt)
    expand(mm, zone, pfn, order, current_order, fallback_mt)
    mm.vm_events["pgsteal_fallback_single"] = mm.vm_events.get("pgsteal_fallback_single", 0) + 1
    return pfn


def try_to_steal_freepages_v319(mm, zone, pfn: int, current_order: int, start_mt: int,
                                fallback_mt: int) -> int:
    """v3.19 try_to_steal_freepages: returns the migratetype to split into."""
    prof = mm.profile
    pb = mm.pageblock_order
    if fallback_mt == prof.mt_cma:
        return fallback_mt
    if current_order >= pb:
        change_pageblock_range(mm, pfn, current_order, start_mt)
        return start_mt
    if current_order >= pb // 2 or start_mt in prof.always_steal_types or not mm.mobility_grouping:
        # move_freepages_block moves every free page of the block to start_mt's lists
        pages = move_freepages_block(mm, zone, pfn, start_mt)
        if pages >= (1 << (pb - 1)) or not mm.mobility_grouping:
            set_pageblock_migratetype(mm, pfn, start_mt)
            return start_mt
    return fallback_mt


def __rmqueue_fallback(mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    prof = mm.profile
    if prof.name == "v3.19":
        for current in range(mm.nr_orders - 1, order - 1, -1):
            area = zone.free_area[current]
            for fmt in prof.fallbacks.get(start_mt, ()):
                d = area[fmt]
                if not d:
                    continue
                pfn = next(reversed(d))
                new_mt = try_to_steal_freepages_v319(mm, zone, pfn, current, start_mt, fmt)
                # the block may have been moved to start_mt's list by move_freepages_block
                cur_mt = (mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask]
                          & MT_MASK) >> MT_SHIFT
                del_page_from_free_list(mm, zone, pfn, current, cur_mt)
                expand(mm, zone, pfn, order, current, new_mt)
                return pfn
        return -1
    # v6.12: largest order first; a movable request that cannot steal the block
    # takes the smallest suitable block instead (to avoid splitting big ones).
    min_order = order
    for current in range(mm.nr_orders - 1, min_order - 1, -1):
        fmt, steal = find_suitable_fallback(mm, zone, current, start_mt, False)
        if fmt == -1:
            continue
        if not steal and start_mt == prof.mt_movable and current > order:
            for current in range(order, mm.nr_orders):
                fmt, steal = find_suitable_fallback(mm, zone, current, start_mt, False)
                if fmt != -1:
                    break
        pfn = next(reversed(zone.free_area[current][fmt]))
        return steal_suitable_fallback(mm, zone, pfn, current, order, start_mt, fmt, steal)
    return -1


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
            pfn = __rmqueue_fallback(mm, zone, order, mt, alloc_flags)
    return pfn


# --- watermarks ---------------------------------------------------------------------------

def zone_watermark_ok(mm, zone, order: int, mark: int, highest_zoneidx: int, alloc_flags: int) -> bool:
    """mm/page_alloc.c __zone_watermark_ok."""
    free = zone.free_pages - ((1 << order) - 1)
    if alloc_flags & ALLOC_MIN_RESERVE:
        mark -= mark // 2
        if alloc_flags & ALLOC_NON_BLOCK:
            mark -= mark // 4
    if not (alloc_flags & ALLOC_CMA):
        free -= zone.free_mt[mm.profile.mt_cma]
    if free <= mark + zone.lowmem_reserve[highest_zoneidx]:
        return False
    if not order:
        return True
    cma = mm.profile.mt_cma
    pcp = mm.profile.pcptypes
    for o in range(order, mm.nr_orders):
        if not zone.nr_free[o]:
            continue
        area = zone.free_area[o]
        for mt in pcp:
            if area[mt]:
                return True
        if (alloc_flags & ALLOC_CMA) and area[cma]:
            return True
    return False


# --- allocation ---------------------------------------------------------------------------

def _alloc_context(mm, gfp: int, nid: int):
    """Per (gfp, nid) constants of an allocation, cached: (mt, zones, high_idx, flags)."""
    key = (gfp, nid)
    ctx = mm._ac_cache.get(key)
    if ctx is None:
        prof = mm.profile
        mt = gfp_migratetype(gfp, prof, mm.mobility_grouping)
        high = gfp_zone(gfp, prof)
        if high == ZONE_MOVABLE and not mm.movable_zone_used:
            high = ZONE_MOVABLE      # harmless: no populated movable zone to pick
        zl = [z for z in mm.zonelists[nid] if z.idx <= high]
        if gfp & prof.gfp_bits.get("__GFP_THISNODE", 0):
            zl = [z for z in zl if z.nid == nid]
        flags = ALLOC_WMARK_LOW
        if gfp & prof.gfp_bits["__GFP_HIGH"]:
            flags |= ALLOC_MIN_RESERVE
        direct = prof.gfp_bits.get("__GFP_DIRECT_RECLAIM", prof.gfp_bits.get("__GFP_WAIT", 0))
        if not gfp & direct:
            flags |= ALLOC_NON_BLOCK
        if mt == prof.mt_movable:
            flags |= ALLOC_CMA
        ctx = (mt, tuple(zl), high, flags)
        mm._ac_cache[key] = ctx
    return ctx


def get_page_from_freelist(mm, order: int, mt: int, zones, high: int, alloc_flags: int) -> tuple:
    wm = _WMARK[alloc_flags & 3]
    simple = not order and not (alloc_flags & (ALLOC_NO_WATERMARKS | ALLOC_MIN_RESERVE | ALLOC_CMA))
    for zone in zones:
        if not zone.free_pages:
            continue
        if simple:
            # order-0 fast path of __zone_watermark_ok
            if (zone.free_pages - zone.free_mt[mm.mt_cma]
                    <= zone.watermark[wm] + zone.lowmem_reserve[high]):
                continue
        elif not (alloc_flags & ALLOC_NO_WATERMARKS):
            if not zone_watermark_ok(mm, zone, order, zone.watermark[wm], high, alloc_flags):
                continue
        pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        if pfn >= 0:
            return zone, pfn
    return None, -1


def __alloc_pages(mm, gfp: int, order: int, nid: int | None = None) -> int:
    """Allocate 2^order pages; return the head pfn or -1 (the kernel's NULL).

    The fast path uses the low watermark; the slow path retries at the min
    watermark (kswapd is woken but not modelled; no reclaim or compaction).
    """
    if order < 0 or order > mm.profile.max_page_order:
        raise PextlabError(f"order {order} is outside 0..MAX_PAGE_ORDER "
                           f"({mm.profile.max_page_order}) for profile {mm.profile.name}")
    if nid is None or nid < 0:
        nid = mm.current_nid
    elif nid not in mm.zonelists:
        raise PextlabError(f"node {nid} does not exist (nodes: {sorted(mm.zonelists)})")
    mt, zones, high, flags = _alloc_context(mm, gfp, nid)
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
    if pfn < 0:
        zone, pfn = get_page_from_freelist(mm, order, mt, zones, high,
                                           (flags & ~3) | ALLOC_WMARK_MIN)
        if pfn < 0:
            mm.vm_events["allocstall_fail"] = mm.vm_events.get("allocstall_fail", 0) + 1
            return -1
    # prep_new_page / post_alloc_hook, inlined: unpoison (check), then set_page_owner
    if mm.poison is not None:
        mm.poison.unpoison_pages(pfn, order)
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = PG_HEAD | (mt << MT_SHIFT)
    sec.order[off] = order
    hook = mm.alloc_hook
    if hook is not None:
        hook(pfn, order, gfp)
    mm.nr_alloc_events += 1
    return pfn


def prep_new_page(mm, zone, pfn: int, order: int, gfp: int, mt: int) -> None:
    """post_alloc_hook: mark the head, run the page_ext clients' alloc hooks."""
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = PG_HEAD | (mt << MT_SHIFT)
    sec.order[off] = order
    zone_alloc = mm.alloc_hook
    if zone_alloc is not None:
        zone_alloc(pfn, order, gfp)
    mm.nr_alloc_events += 1


def __free_one_page(mm, zone, pfn: int, order: int, mt: int) -> None:
    """Merge with free buddies as far as MAX_PAGE_ORDER and add to a free list."""
    sections = mm.sections
    shift, mask = mm.section_shift, mm.section_mask
    max_order = mm.profile.max_page_order
    pb = mm.pageblock_order
    zstart, zend = zone.zone_start_pfn, zone.zone_start_pfn + zone.spanned_pages
    pcp_limit = 3   # migratetype_is_mergeable: mt < MIGRATE_PCPTYPES
    while order < max_order:
        buddy = pfn ^ (1 << order)
        if buddy < zstart or buddy >= zend:
            break
        sec = sections[buddy >> shift]
        off = buddy & mask
        f = sec.flags[off]
        if not (f & (PG_BUDDY | PG_GUARD)) or sec.order[off] != order:
            break
        buddy_mt = (f & MT_MASK) >> MT_SHIFT
        if order >= pb:
            bmt = sec.pageblock_mt[off >> pb]
            if bmt != mt and (mt >= pcp_limit or bmt >= pcp_limit):
                break
        if f & PG_GUARD:
            clear_page_guard(mm, zone, buddy, order)
        else:
            del_page_from_free_list(mm, zone, buddy, order, buddy_mt)
        if order >= pb:
            # match the buddy's pageblock to ours so expand() later splits correctly
            if sec.pageblock_mt[off >> pb] != mt:
                sec.pageblock_mt[off >> pb] = mt
        pfn &= buddy
        order += 1
    add_to_free_list(mm, zone, pfn, order, mt)


def free_pages(mm, pfn: int, order: int) -> None:
    """__free_pages(): the caller's 2^order block at ``pfn`` goes back to the buddy.

    Raises PextlabError (naming the pfn and what it is) if the pfn is not the head
    of an allocated block of that order -- the kernel would report a bad page.
    """
    sec = mm.sections[pfn >> mm.section_shift] if 0 <= pfn < mm.max_section_pfn else None
    if sec is None:
        raise PextlabError(f"free_pages: pfn {pfn:#x} is outside the memory map")
    off = pfn & mm.section_mask
    f = sec.flags[off]
    if not (f & PG_HEAD):
        what = ("free (in the buddy allocator)" if f & PG_BUDDY else "reserved" if f & PG_RESERVED
                else "a guard page" if f & PG_GUARD else "not the head of an allocation")
        raise PextlabError(f"free_pages: pfn {pfn:#x} is {what}")
    if sec.order[off] != order:
        raise PextlabError(f"free_pages: pfn {pfn:#x} was allocated with order {sec.order[off]}, "
                           f"freed with order {order}")
    __free_pages_ok(mm, pfn, order)


def __free_pages_ok(mm, pfn: int, order: int) -> None:
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = 0
    hook = mm.free_hook
    if hook is not None:
        hook(pfn, order)
    if mm.poison is not None:
        mm.poison.poison_pages(pfn, order)
    zone = mm.zone_of_pfn(pfn)
    mt = sec.pageblock_mt[off >> mm.pageblock_order]
    __free_one_page(mm, zone, pfn, order, mt)
    mm.nr_free_events += 1


def __free_pages_core(mm, zone, pfn: int, order: int) -> None:
    """Release boot/hotplug memory to the buddy allocator (memblock_free_pages)."""
    mt = get_pageblock_migratetype(mm, pfn)
    __free_one_page(mm, zone, pfn, order, mt)


def split_page(mm, pfn: int, order: int) -> None:
    """mm/page_alloc.c split_page(): an order-N allocation becomes 2^N order-0 ones."""
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    f = sec.flags[off]
    if not (f & PG_HEAD) or sec.order[off] != order:
        raise PextlabError(f"split_page: pfn {pfn:#x} is not the head of an order-{order} block")
    n = 1 << order
    sec.flags[off:off + n] = bytes([f]) * n
    sec.order[off:off + n] = bytes(n)
    if mm.split_hook is not None:
        mm.split_hook(pfn, order, 0)


def alloc_pages_exact_nid(mm, nid: int, size: int, gfp: int) -> int:
    """mm/page_alloc.c alloc_pages_exact_nid + make_alloc_exact.

    Allocates an order-N block, splits it and frees the pages past ``size``
    (e.g. 2,359,296 bytes -> order 10, keep 576 pages, free 448).  Returns the
    first pfn or -1.
    """
    if size <= 0:
        return -1          # the kernel's get_order(0) is 52: the allocation fails (NULL)
    order = get_order(size)
    if order > mm.profile.max_page_order:
        return -1          # WARN and NULL, as __alloc_pages does above MAX_PAGE_ORDER
    comp = mm.profile.gfp_bits.get("__GFP_COMP", 0)
    pfn = __alloc_pages(mm, gfp & ~comp, order, nid)
    if pfn < 0:
        return -1
    nr = (size + 4095) >> 12
    split_page(mm, pfn, order)
    for p in range(pfn + nr, pfn + (1 << order)):
        __free_pages_ok(mm, p, 0)
    return pfn


def free_pages_exact(mm, pfn: int, size: int) -> None:
    nr = (size + 4095) >> 12
    for p in range(pfn, pfn + nr):
        free_pages(mm, p, 0)


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
