"""The buddy allocator (mm/page_alloc.c), per zone, per order, per migratetype.

Functions are named after their kernel counterparts and take the simulated
kernel state ``mm`` (:class:`pextlab.kernel.state.MM`) first:

* ``__rmqueue_smallest`` / ``expand``: take the smallest free block of the
  wanted migratetype and split it, returning halves to the free lists (or
  turning them into guard pages below ``debug_guardpage_minorder``).
* ``__rmqueue_fallback``: take from another migratetype through the machine's
  fallback policy (``pextlab.kernel.policy``): v6.12 ``__rmqueue_claim`` /
  ``try_to_claim_block`` then ``__rmqueue_steal``, with watermark boosting;
  v3.19 ``try_to_steal_freepages``.
* ``__free_one_page``: merge with free buddies up to MAX_PAGE_ORDER.
* ``get_page_from_freelist`` / ``__alloc_pages``: zonelist walk with
  watermarks and lowmem_reserve; ``None`` (the kernel's NULL/-ENOMEM) when no
  zone can serve the request.

* ``__alloc_pages_slowpath``: min watermark, kswapd (boost reset, kcompactd
  wake-up; it reclaims nothing), direct compaction for high orders with the
  kernel's priorities and retry rules (``__GFP_NORETRY`` /
  ``__GFP_RETRY_MAYFAIL``), see ``pextlab.kernel.compaction``.

* per-cpu page lists (``pextlab.kernel.pcp``) when booted with ``pextlab.pcp=on``:
  ``get_page_from_freelist`` takes orders 0..3 (and the THP order) from
  ``zone.pcp`` first, ``__free_pages_ok`` puts them there (free_unref_page).
  Off by default: frees then go straight back to the buddy lists.

Not modelled (documented so nobody is surprised): the highatomic
reserve, ALLOC_NOFRAGMENT (machines with ZONE_NORMAL above DMA32), direct
reclaim and the OOM killer.

Hot paths touch ``bytearray`` s and dicts only; numpy is for whole-block work.
"""
from __future__ import annotations

import numpy as np

from ..errors import PextlabError
import math

from .gfp import gfp_migratetype, gfp_zone, ZONE_MOVABLE, ZONE_NORMAL
from .profiles import PAGE_SHIFT
from .mmzone import PG_BUDDY, PG_RESERVED, PG_HEAD, PG_GUARD, MT_SHIFT, MT_MASK
from .policy import policy_of

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
    """mm/page_alloc.c can_steal_fallback (v4.x..v6.14) / should_try_claim_block (v6.15,
    6.12.y): may a free block of ``order`` be used to claim its pageblock?  Asks the
    machine's fallback policy (pextlab.kernel.policy)."""
    return policy_of(mm).should_try_claim_block(mm, order, start_mt)


def find_suitable_fallback(mm, zone, order: int, start_mt: int, only_stealable: bool):
    """mm/page_alloc.c find_suitable_fallback: the first fallback migratetype with a
    free block of ``order``.  Returns (fallback_mt, can_claim) or (-1, False); with
    ``only_stealable`` (the kernel's ``claimable``) only a claimable one."""
    if not zone.nr_free[order]:
        return -1, False
    area = zone.free_area[order]
    pol = policy_of(mm)
    for fmt in pol.fallbacks(mm, start_mt):
        if not area[fmt]:
            continue
        steal = pol.should_try_claim_block(mm, order, start_mt)
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
    """v6.10 steal_suitable_fallback (before the claim/steal split): claim the block
    or take a single page.  Returns the allocated pfn."""
    prof = mm.profile
    pb = mm.pageblock_order
    pol = policy_of(mm)
    block_mt = get_pageblock_migratetype(mm, pfn)
    if prof.mt_highatomic is not None and block_mt == prof.mt_highatomic:
        whole_block = False
    if current_order >= pb:
        # a whole pageblock or more: change their type and split as start_mt
        del_page_from_free_list(mm, zone, pfn, current_order, fallback_mt)
        change_pageblock_range(mm, pfn, current_order, start_mt)
        expand(mm, zone, pfn, order, current_order, start_mt)
        _count(mm, "pgsteal_fallback_claim")
        return pfn
    if pol.boost:
        boost_watermark(mm, zone)
    if whole_block:
        start, heads, free_pages, movable_pages = _block_scan(mm, pfn)
        alike = _alike_pages(mm, start_mt, block_mt, free_pages, movable_pages)
        if pol.claim_enough(mm, free_pages, alike):
            for hp, o, mt in heads:
                if mt != start_mt:
                    del_page_from_free_list(mm, zone, hp, o, mt)
                    add_to_free_list(mm, zone, hp, o, start_mt)
            set_pageblock_migratetype(mm, start, start_mt)
            _count(mm, "pgsteal_fallback_claim")
            return __rmqueue_smallest(mm, zone, order, start_mt)
    # single page: split on the block's own lists (freelist hygiene, v6.10+)
    del_page_from_free_list(mm, zone, pfn, current_order, fallback_mt)
    expand(mm, zone, pfn, order, current_order, fallback_mt)
    _count(mm, "pgsteal_fallback_single")
    return pfn


def try_to_steal_freepages_v319(mm, zone, pfn: int, current_order: int, start_mt: int,
                                fallback_mt: int) -> int:
    """v3.19 try_to_steal_freepages: returns the migratetype to split into."""
    prof = mm.profile
    pb = mm.pageblock_order
    pol = policy_of(mm)
    if fallback_mt == prof.mt_cma:
        return fallback_mt
    if current_order >= pb:
        change_pageblock_range(mm, pfn, current_order, start_mt)
        return start_mt
    if pol.should_try_claim_block(mm, current_order, start_mt):
        # move_freepages_block moves every free page of the block to start_mt's lists
        pages = move_freepages_block(mm, zone, pfn, start_mt)
        if pol.claim_enough(mm, pages, 0):
            set_pageblock_migratetype(mm, pfn, start_mt)
            return start_mt
    return fallback_mt


def __rmqueue_fallback(mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """Take a 2^order block from another migratetype: whatever the machine's fallback
    policy does (pextlab.kernel.policy; v6.12: __rmqueue_claim then __rmqueue_steal)."""
    return mm.policy.rmqueue_fallback(mm, zone, order, start_mt, alloc_flags)


def _rmqueue_fallback_v319(mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """v3.19 __rmqueue_fallback: largest order first, try_to_steal_freepages."""
    pol = policy_of(mm)
    for current in range(mm.nr_orders - 1, order - 1, -1):
        area = zone.free_area[current]
        for fmt in pol.fallbacks(mm, start_mt):
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


def _rmqueue_fallback_unsplit(mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """v6.10 __rmqueue_fallback: largest order first; a movable request that cannot
    claim the block takes the smallest suitable block instead."""
    prof = mm.profile
    for current in range(mm.nr_orders - 1, order - 1, -1):
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
        pcp = zone.pcp
        if pcp is not None and pcp.allowed[order]:
            # rmqueue: the per-cpu lists first (boot option pextlab.pcp=on)
            pfn = _rmqueue_pcplist(mm, zone, pcp, order, mt, alloc_flags)
            if pfn < 0:
                pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        else:
            pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        if pfn >= 0:
            return zone, pfn
    return None, -1


def __alloc_pages(mm, gfp: int, order: int, nid: int | None = None) -> int:
    """Allocate 2^order pages; return the head pfn or -1 (the kernel's NULL).

    The fast path uses the low watermark; the slow path (``__alloc_pages_slowpath``)
    retries at the min watermark, wakes kswapd and compacts for high orders.
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
        zone, pfn = __alloc_pages_slowpath(mm, gfp, order, mt, zones, high, flags)
        if pfn < 0:
            mm.vm_events["allocstall_fail"] = mm.vm_events.get("allocstall_fail", 0) + 1
            return -1
    # prep_new_page / post_alloc_hook (inlined: this is the hot path): unpoison and
    # check, mark the head, then the page_ext clients' hook (set_page_owner)
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
        if not f:
            from .pcp import pcp_block_of
            if pcp_block_of(mm, pfn) is not None:
                what = "free (on a per-cpu page list)"
        raise PextlabError(f"free_pages: pfn {pfn:#x} is {what}")
    if sec.order[off] != order:
        raise PextlabError(f"free_pages: pfn {pfn:#x} was allocated with order {sec.order[off]}, "
                           f"freed with order {order}")
    __free_pages_ok(mm, pfn, order)


def __free_pages_ok(mm, pfn: int, order: int, to_pcp: bool = True) -> None:
    """free_pages_prepare (page_owner, poison) then, with pcp lists, free_unref_page for
    pcp orders (pextlab.kernel.pcp), else __free_one_page.  ``to_pcp=False`` is the
    kernel's own __free_pages_ok (make_alloc_exact frees the tail that way): straight
    to the buddy lists."""
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
    pcp = zone.pcp
    if to_pcp and pcp is not None and pcp.allowed[order] and mt != pcp.mt_isolate:
        # free_unref_page: onto the per-cpu list (boot option pextlab.pcp=on)
        sec.order[off] = order
        _free_unref_page_commit(mm, zone, pcp, pfn, order, mt)
    else:
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
        __free_pages_ok(mm, p, 0, False)     # make_alloc_exact: __free_pages_ok, no pcp
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


# --- fallback: claim / steal (v6.12.y) ------------------------------------------------------

def _count(mm, name: str, n: int = 1) -> None:
    ev = mm.vm_events
    ev[name] = ev.get(name, 0) + n


def _alike_pages(mm, start_mt: int, block_mt: int, free_pages: int, movable_pages: int) -> int:
    """try_to_claim_block's "alike" pages (v4.13+): movable pages for a movable request;
    for a movable block, the pages that are neither free nor movable."""
    mov = mm.profile.mt_movable
    if start_mt == mov:
        return movable_pages
    if block_mt == mov:
        return (1 << mm.pageblock_order) - (free_pages + movable_pages)
    return 0


def try_to_claim_block(mm, zone, pfn: int, current_order: int, order: int, start_mt: int,
                       block_mt: int, alloc_flags: int) -> int:
    """mm/page_alloc.c try_to_claim_block (v6.15; 6.12.y): claim the pageblock of the free
    block at ``pfn`` (on ``block_mt``'s list) for ``start_mt`` and allocate from it.

    Orders >= pageblock_order change the whole range.  Below, the zone's watermarks
    are boosted first, then the block is converted if the policy's ``claim_enough``
    holds for its free and "alike" pages.  Returns the pfn or -1 (block not claimed).
    """
    pol = policy_of(mm)
    if current_order >= mm.pageblock_order:
        del_page_from_free_list(mm, zone, pfn, current_order, block_mt)
        change_pageblock_range(mm, pfn, current_order, start_mt)
        expand(mm, zone, pfn, order, current_order, start_mt)
        _count(mm, "pgsteal_fallback_claim")
        return pfn
    if pol.boost:
        boost_watermark(mm, zone)
    start, heads, free_pages, movable_pages = _block_scan(mm, pfn)
    if start < zone.zone_start_pfn or start + (1 << mm.pageblock_order) > zone.zone_end_pfn:
        return -1       # prep_move_freepages_block: the block straddles the zone
    alike = _alike_pages(mm, start_mt, block_mt, free_pages, movable_pages)
    if not pol.claim_enough(mm, free_pages, alike):
        return -1
    for hp, o, mt in heads:                     # __move_freepages_block
        if mt != start_mt and mt == block_mt:
            del_page_from_free_list(mm, zone, hp, o, mt)
            add_to_free_list(mm, zone, hp, o, start_mt)
    set_pageblock_migratetype(mm, start, start_mt)
    _count(mm, "pgsteal_fallback_claim")
    return __rmqueue_smallest(mm, zone, order, start_mt)


def __rmqueue_claim(mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """mm/page_alloc.c __rmqueue_claim (6.12.y): from MAX_PAGE_ORDER down, take the largest
    foreign free block whose pageblock may be claimed and try to claim it."""
    pol = policy_of(mm)
    fa = zone.free_area
    nr_free = zone.nr_free
    for current in range(mm.nr_orders - 1, order - 1, -1):
        if not nr_free[current]:
            continue
        if not pol.should_try_claim_block(mm, current, start_mt):
            continue
        area = fa[current]
        for fmt in pol.fallbacks(mm, start_mt):
            d = area[fmt]
            if not d:
                continue
            pfn = next(reversed(d))          # get_page_from_free_area: the list head
            got = try_to_claim_block(mm, zone, pfn, current, order, start_mt, fmt, alloc_flags)
            if got >= 0:
                return got
            break                            # find_suitable_fallback returns the first type
    return -1


def __rmqueue_steal(mm, zone, order: int, start_mt: int) -> int:
    """mm/page_alloc.c __rmqueue_steal (6.12.y): the *smallest* foreign free block, split on
    its own lists; the pageblock keeps its type (the only way a block becomes mixed)."""
    pol = policy_of(mm)
    fa = zone.free_area
    for current in range(order, mm.nr_orders):
        if not zone.nr_free[current]:
            continue
        area = fa[current]
        for fmt in pol.fallbacks(mm, start_mt):
            d = area[fmt]
            if not d:
                continue
            pfn = next(reversed(d))
            del_page_from_free_list(mm, zone, pfn, current, fmt)
            expand(mm, zone, pfn, order, current, fmt)
            _count(mm, "pgsteal_fallback_single")
            return pfn
    return -1


# --- watermark boosting (v5.0+, mm/page_alloc.c boost_watermark) ---------------------------
#
# zone.watermark holds what the kernel's wmark_pages() returns: _watermark[] plus
# watermark_boost (so the fast path needs no change, and /proc/zoneinfo's min/low/high
# are the boosted values, as the kernel prints them).  The base values live in
# mm._wm_boost[zone] = [watermark dict they belong to, base dict, boost]; a watermark
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


def wakeup_kswapd(mm, zone, order: int, gfp: int) -> None:
    """kswapd, woken (mm/vmscan.c wakeup_kswapd + balance_pgdat), run at once.

    It reclaims nothing here (no reclaim is modelled).  A boosted node gets its
    boost dropped and kcompactd woken for pageblock_order (balance_pgdat's end);
    a node that is balanced but too fragmented for ``order`` wakes kcompactd
    directly when the caller cannot reclaim itself.
    """
    from . import compaction
    compaction.kswapd_run(mm, zone, order, gfp)


# --- the slow path -------------------------------------------------------------------------

COMPACT_PRIO_SYNC_FULL = 0          # MIN_COMPACT_PRIORITY
COMPACT_PRIO_SYNC_LIGHT = 1         # MIN_COMPACT_COSTLY_PRIORITY
COMPACT_PRIO_ASYNC = 2              # INIT_COMPACT_PRIORITY
MAX_COMPACT_RETRIES = 16


def __alloc_pages_direct_compact(mm, gfp: int, order: int, mt: int, zones, high: int,
                                 alloc_flags: int, prio: int):
    """mm/page_alloc.c __alloc_pages_direct_compact.  Returns (zone, pfn, result)."""
    from . import compaction
    result, cap_zone = compaction.try_to_compact_pages(mm, gfp, order, mt, zones, high,
                                                       alloc_flags, prio)
    if result == compaction.COMPACT_SKIPPED:
        return None, -1, result
    _count(mm, "compact_stall")
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, alloc_flags)
    if pfn < 0 and cap_zone is not None:
        # compaction_capture: the block compaction just freed goes to the caller
        # (no watermark check)
        pfn = __rmqueue(mm, cap_zone, order, mt, alloc_flags)
        zone = cap_zone if pfn >= 0 else None
    if pfn >= 0:
        compaction.compaction_defer_reset(mm, zone, order, True)
        _count(mm, "compact_success")
        return zone, pfn, result
    _count(mm, "compact_fail")
    return None, -1, result


def __alloc_pages_slowpath(mm, gfp: int, order: int, mt: int, zones, high: int,
                           alloc_flags: int):
    """mm/page_alloc.c __alloc_pages_slowpath (v6.12), without reclaim and OOM.

    min watermark; wake kswapd; for orders > 0 that may compact (__GFP_IO, direct
    reclaim; costly orders or non-movable ones) an async direct compaction, then
    the retry loop: compaction at rising priority while should_compact_retry()
    allows, honouring __GFP_NORETRY and __GFP_RETRY_MAYFAIL for costly orders.
    Returns (zone, pfn).
    """
    from . import compaction
    bits = mm.profile.gfp_bits
    flags = (alloc_flags & ~3) | ALLOC_WMARK_MIN
    if gfp & bits.get("__GFP_KSWAPD_RECLAIM", 0) or mm.boosted_zones:
        compaction.wake_all_kswapds(mm, zones, order, gfp)
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
    if pfn >= 0 or not order or not compaction.compaction_enabled(mm):
        return zone, pfn
    direct = bits.get("__GFP_DIRECT_RECLAIM", bits.get("__GFP_WAIT", 0))
    can_direct_reclaim = bool(gfp & direct)
    if not can_direct_reclaim:
        return None, -1
    costly = order > mm.profile.costly_order
    can_compact = bool(gfp & bits["__GFP_IO"])
    noretry = bool(gfp & bits.get("__GFP_NORETRY", 0))
    mayfail = bool(gfp & bits.get("__GFP_RETRY_MAYFAIL", bits.get("__GFP_REPEAT", 0)))
    prio = COMPACT_PRIO_ASYNC
    if can_compact and (costly or mt != mm.profile.mt_movable):
        zone, pfn, result = __alloc_pages_direct_compact(mm, gfp, order, mt, zones, high,
                                                         flags, prio)
        if pfn >= 0:
            return zone, pfn
        if costly and noretry:
            # "compaction failed or was deferred: do not retry costly orders"
            return None, -1
    retries = 0
    while True:
        zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
        if pfn >= 0:
            return zone, pfn
        # (direct reclaim: nothing reclaimable in the model)
        result = compaction.COMPACT_SKIPPED
        if can_compact:
            zone, pfn, result = __alloc_pages_direct_compact(mm, gfp, order, mt, zones, high,
                                                             flags, prio)
            if pfn >= 0:
                return zone, pfn
        if noretry or (costly and not mayfail):
            return None, -1
        # should_compact_retry
        if not can_compact or result == compaction.COMPACT_SKIPPED:
            return None, -1         # compaction_zonelist_suitable: reclaim cannot help here
        if result == compaction.COMPACT_SUCCESS:
            limit = MAX_COMPACT_RETRIES // 4 if costly else MAX_COMPACT_RETRIES
            retries += 1
            if retries <= limit:
                continue
        min_prio = COMPACT_PRIO_SYNC_LIGHT if costly else COMPACT_PRIO_SYNC_FULL
        if prio > min_prio:
            prio -= 1
            retries = 0
            continue
        return None, -1


# --- watermarks (mm/page_alloc.c, mm/khugepaged.c) ------------------------------------------------

def nr_free_zone_pages(mm, highest_idx: int) -> int:
    """Sum of managed - high over the local zonelist's zones up to ``highest_idx``."""
    total = 0
    for z in mm.zonelists.get(mm.current_nid, ()):
        if z.idx <= highest_idx:
            size, high = z.managed_pages, z.watermark["high"]
            if size > high:
                total += size - high
    return total


def setup_per_zone_wmarks(mm, min_free_kbytes: int) -> None:
    pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
    zones = list(mm.all_zones())
    lowmem = sum(z.managed_pages for z in zones if z.idx != ZONE_MOVABLE)
    wsf = 10    # vm.watermark_scale_factor
    for z in zones:
        tmp = pages_min * z.managed_pages // lowmem if lowmem else 0
        if z.idx == ZONE_MOVABLE:
            mn = min(max(z.managed_pages // 1024, 32), 128)
        else:
            mn = tmp
        step = max(tmp >> 2, z.managed_pages * wsf // 10000)
        z.watermark = {"min": mn, "low": mn + step, "high": mn + 2 * step, "promo": mn + 3 * step}


def setup_per_zone_lowmem_reserve(mm) -> None:
    ratio = (256, 256, 32, 0, 0)     # vm.lowmem_reserve_ratio
    for node in mm.nodes.values():
        zs = node.zones
        for i, z in enumerate(zs):
            z.lowmem_reserve = [0] * len(zs)
            managed = 0
            for j in range(i + 1, len(zs)):
                managed += zs[j].managed_pages
                z.lowmem_reserve[j] = managed // ratio[i] if ratio[i] and z.managed_pages else 0


def thp_enabled(mm) -> bool:
    """mm/huge_memory.c hugepage_init: THP (and so khugepaged's recommended
    min_free_kbytes) is off for good when boot RAM is below 512 MiB."""
    return mm.layout.total_pages >= (512 << 20) >> PAGE_SHIFT


def init_per_zone_wmark_min(mm) -> None:
    """mm/page_alloc.c init_per_zone_wmark_min: min_free_kbytes = sqrt(lowmem_kb * 16)
    from nr_free_buffer_pages(), watermarks, lowmem_reserve, then khugepaged's
    set_recommended_min_free_kbytes (capped to 5 % of nr_free_buffer_pages())."""
    lowmem_kb = nr_free_zone_pages(mm, ZONE_NORMAL) * 4
    mfk = min(max(math.isqrt(lowmem_kb * 16), 128), 262144)
    setup_per_zone_wmarks(mm, mfk)
    setup_per_zone_lowmem_reserve(mm)
    if thp_enabled(mm):
        pb = mm.profile.pageblock_nr_pages
        nr_zones = sum(1 for z in mm.populated_zones() if z.idx <= ZONE_NORMAL)
        rec = pb * nr_zones * 2 + pb * nr_zones * 3 * 3
        rec = min(rec, nr_free_zone_pages(mm, ZONE_NORMAL) // 20)
        if rec * 4 > mfk:
            mfk = rec * 4
        setup_per_zone_wmarks(mm, mfk)
    mm.min_free_kbytes = mfk
    if mm.pcp_enabled:
        from .pcp import zone_pcp_update
        zone_pcp_update(mm)          # zone_pcp_update: high follows the low watermark


def _rmqueue_pcplist(mm, zone, pcp, order, mt, alloc_flags):
    from .pcp import rmqueue_pcplist
    return rmqueue_pcplist(mm, zone, pcp, order, mt, alloc_flags)


def _free_unref_page_commit(mm, zone, pcp, pfn, order, mt):
    from .pcp import free_unref_page_commit
    free_unref_page_commit(mm, zone, pcp, pfn, order, mt)
