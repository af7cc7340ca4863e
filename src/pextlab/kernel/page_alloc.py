"""The buddy allocator's entry point, ``__alloc_pages``, and its slow path
(mm/page_alloc.c).

The allocator is four modules, each above the one before, as the kernel's
page_alloc.c reads from its free lists up to its slow path:

* :mod:`~pextlab.kernel.buddy` -- the free lists per zone, order and
  migratetype: ``expand``, ``__rmqueue_smallest``, ``__rmqueue`` (with v6.12's
  CMA rule and the machine's fallback policy, :mod:`~pextlab.kernel.policy`),
  ``__free_one_page``, pageblock types, watermark checks and boosting;
* :mod:`~pextlab.kernel.pcp` -- per-cpu page lists (boot option ``pextlab.pcp=on``);
* :mod:`~pextlab.kernel.fastpath` -- ``get_page_from_freelist``, the free path
  (``free_pages``, ``__free_pages_ok``), ``split_page``, watermark setup;
* this module -- ``__alloc_pages``: the fast path at the low watermark, then
  ``__alloc_pages_slowpath``: the min watermark, kswapd (reclaim to the high
  watermark, boost reset, kcompactd wake-up), direct reclaim
  (:mod:`~pextlab.kernel.vmscan`), direct compaction for high orders with the
  kernel's priorities and retry rules (``__GFP_NORETRY`` / ``__GFP_RETRY_MAYFAIL``,
  see :mod:`~pextlab.kernel.compaction`), the OOM killer
  (:mod:`~pextlab.kernel.oom_kill`); ``alloc_pages_exact_nid``.

The names of the lower modules that callers above the allocator use are
re-exported here (``page_alloc.free_pages``, ``page_alloc.zone_watermark_ok``).

Not modelled (documented so nobody is surprised): the highatomic reserve,
ALLOC_NOFRAGMENT (machines with ZONE_NORMAL above DMA32).
"""
from __future__ import annotations

from ..errors import PextlabError
from .buddy import (ALLOC_CMA, ALLOC_MIN_RESERVE, ALLOC_NO_WATERMARKS, ALLOC_NON_BLOCK,  # noqa: F401
                    ALLOC_WMARK_HIGH, ALLOC_WMARK_LOW, ALLOC_WMARK_MIN, __free_one_page,
                    __rmqueue, __rmqueue_smallest, base_watermark, expand,
                    get_order, get_pageblock_migratetype, move_freepages_block,
                    set_pageblock_migratetype, zone_watermark_boost, zone_watermark_ok)
from .compaction import (COMPACT_PRIO_ASYNC, COMPACT_PRIO_SYNC_FULL, COMPACT_PRIO_SYNC_LIGHT,
                         COMPACT_SKIPPED, COMPACT_SUCCESS, compaction_defer_reset,
                         compaction_enabled, try_to_compact_pages, wake_all_kswapds)
from .fastpath import (__free_pages_core, __free_pages_ok, free_pages,  # noqa: F401
                       get_page_from_freelist, init_per_zone_wmark_min, nr_free_zone_pages,
                       prepare_alloc_pages, split_page)
from .gfp import ZONE_NORMAL, direct_reclaim_flag, retry_mayfail_flag
from .mmzone import PG_HEAD, MT_SHIFT
from .oom_kill import out_of_memory
from .ring_buffer import EV_ALLOC
from .vmscan import try_to_free_pages
from .vmstat import count_vm_event

__all__ = [
    "ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "ALLOC_NO_WATERMARKS",
    "ALLOC_MIN_RESERVE", "ALLOC_NON_BLOCK", "ALLOC_CMA", "MAX_COMPACT_RETRIES",
    "__alloc_pages", "alloc_pages", "__alloc_pages_slowpath", "__alloc_pages_direct_compact",
    "__alloc_pages_direct_reclaim",
    "alloc_pages_exact_nid", "free_pages_exact",
    # re-exported from the lower modules of the allocator
    "expand", "__rmqueue_smallest", "__rmqueue", "__free_one_page", "zone_watermark_ok",
    "zone_watermark_boost", "base_watermark", "get_page_from_freelist", "prepare_alloc_pages",
    "free_pages", "__free_pages_ok", "__free_pages_core", "split_page", "get_order",
    "get_pageblock_migratetype", "set_pageblock_migratetype", "move_freepages_block",
    "init_per_zone_wmark_min", "nr_free_zone_pages",
]


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
    mt, zones, high, flags = prepare_alloc_pages(mm, gfp, nid)
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
    if pfn < 0:
        zone, pfn = __alloc_pages_slowpath(mm, gfp, order, mt, zones, high, flags)
        if pfn < 0:
            count_vm_event(mm, "allocstall_fail")
            tr = mm.trace
            if tr is not None and tr.live[EV_ALLOC]:   # __alloc_pages_noprof traces after "out:", a NULL page too
                tr.event(mm, EV_ALLOC, -1, order, mt, gfp, 0)
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
    tr = mm.trace
    if tr is not None and tr.live[EV_ALLOC]:   # __alloc_pages_noprof: trace_mm_page_alloc(page, order, gfp, ac.migratetype)
        tr.event(mm, EV_ALLOC, pfn, order, mt, gfp, 0)
    return pfn


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


# --- the slow path -------------------------------------------------------------------------

MAX_COMPACT_RETRIES = 16


def __alloc_pages_direct_compact(mm, gfp: int, order: int, mt: int, zones, high: int,
                                 alloc_flags: int, prio: int):
    """mm/page_alloc.c __alloc_pages_direct_compact.  Returns (zone, pfn, result)."""
    result, cap_zone = try_to_compact_pages(mm, gfp, order, mt, zones, high,
                                                       alloc_flags, prio)
    if result == COMPACT_SKIPPED:
        return None, -1, result
    count_vm_event(mm, "compact_stall")
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, alloc_flags)
    if pfn < 0 and cap_zone is not None:
        # compaction_capture: the block compaction just freed goes to the caller
        # (no watermark check)
        pfn = __rmqueue(mm, cap_zone, order, mt, alloc_flags)
        zone = cap_zone if pfn >= 0 else None
    if pfn >= 0:
        compaction_defer_reset(mm, zone, order, True)
        count_vm_event(mm, "compact_success")
        return zone, pfn, result
    count_vm_event(mm, "compact_fail")
    return None, -1, result


def __alloc_pages_direct_reclaim(mm, gfp: int, order: int, mt: int, zones, high: int,
                                 alloc_flags: int):
    """mm/page_alloc.c __alloc_pages_direct_reclaim: one try_to_free_pages pass
    (SWAP_CLUSTER_MAX pages, :mod:`~pextlab.kernel.vmscan`), then the freelists.
    Returns (zone, pfn, pages reclaimed)."""
    progress = try_to_free_pages(mm, zones, order, high)
    if not progress:
        return None, -1, 0
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, alloc_flags)
    return zone, pfn, progress


def _may_oom(mm, gfp: int, order: int, high: int) -> bool:
    """mm/page_alloc.c __alloc_pages_may_oom's rules, and out_of_memory's __GFP_FS one:
    not for costly orders ("the OOM killer will not help higher order allocs"), not
    for lowmem requests (highest zone below ZONE_NORMAL), not for __GFP_RETRY_MAYFAIL
    or __GFP_THISNODE, not without __GFP_FS (the kernel then reports progress and
    the request loops waiting for others to free; the model fails it)."""
    bits = mm.profile.gfp_bits
    if order > mm.profile.costly_order or high < ZONE_NORMAL:
        return False
    if gfp & (retry_mayfail_flag(mm.profile) | bits.get("__GFP_THISNODE", 0)):
        return False
    return bool(gfp & bits["__GFP_FS"])


def __alloc_pages_slowpath(mm, gfp: int, order: int, mt: int, zones, high: int,
                           alloc_flags: int):
    """mm/page_alloc.c __alloc_pages_slowpath (v6.12).

    min watermark; wake kswapd (which reclaims to the high watermark); for orders > 0
    that may compact (__GFP_IO, direct reclaim; costly orders or non-movable ones) an
    async direct compaction; then the retry loop: direct reclaim
    (SWAP_CLUSTER_MAX pages, oldest first), direct compaction at rising priority,
    __GFP_NORETRY and (costly orders) no __GFP_RETRY_MAYFAIL give up; a reclaim
    that made progress retries (should_reclaim_retry, orders up to costly), then
    should_compact_retry; last the OOM killer (__alloc_pages_may_oom), after whose
    kill the request retries -- unless the requester itself was the victim (it is
    exiting: the kernel's ``tsk_is_oom_victim`` nopage).  Returns (zone, pfn).
    """
    bits = mm.profile.gfp_bits
    flags = (alloc_flags & ~3) | ALLOC_WMARK_MIN
    kswapd = gfp & bits.get("__GFP_KSWAPD_RECLAIM", 0)
    if kswapd or mm.boosted_zones:
        wake_all_kswapds(mm, zones, order, gfp)
    zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
    if pfn >= 0:
        return zone, pfn
    direct = direct_reclaim_flag(mm.profile)
    can_direct_reclaim = bool(gfp & direct)
    if not can_direct_reclaim:
        return None, -1
    costly = order > mm.profile.costly_order
    can_compact = bool(order and compaction_enabled(mm) and gfp & bits["__GFP_IO"])
    noretry = bool(gfp & bits.get("__GFP_NORETRY", 0))
    mayfail = bool(gfp & retry_mayfail_flag(mm.profile))
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
        if kswapd:
            wake_all_kswapds(mm, zones, order, gfp)
        zone, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
        if pfn >= 0:
            return zone, pfn
        zone, pfn, progress = __alloc_pages_direct_reclaim(mm, gfp, order, mt, zones, high,
                                                           flags)
        if pfn >= 0:
            return zone, pfn
        result = COMPACT_SKIPPED
        if can_compact:
            zone, pfn, result = __alloc_pages_direct_compact(mm, gfp, order, mt, zones, high,
                                                             flags, prio)
            if pfn >= 0:
                return zone, pfn
        if noretry or (costly and not mayfail):
            return None, -1
        # should_reclaim_retry: reclaim made progress (orders up to costly)
        if progress and not costly:
            continue
        # should_compact_retry
        if can_compact and result != COMPACT_SKIPPED:
            if result == COMPACT_SUCCESS:
                limit = MAX_COMPACT_RETRIES // 4 if costly else MAX_COMPACT_RETRIES
                retries += 1
                if retries <= limit:
                    continue
            min_prio = COMPACT_PRIO_SYNC_LIGHT if costly else COMPACT_PRIO_SYNC_FULL
            if prio > min_prio:
                prio -= 1
                retries = 0
                continue
        # __alloc_pages_may_oom
        if not _may_oom(mm, gfp, order, high):
            return None, -1
        victim = out_of_memory(mm, gfp, order)
        if victim < 0 or victim == mm.pid:
            return None, -1
        retries = 0


# a plain alias: ``__alloc_pages`` is mangled when called from a class body
alloc_pages = __alloc_pages
