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

It also has ``alloc_contig_range`` (CONFIG_CONTIG_ALLOC), CMA's way to a
range of pages: isolate (:mod:`~pextlab.kernel.page_isolation`), migrate the
movable pages out (:mod:`~pextlab.kernel.migrate`, reason ``contig_range``),
check the range is free, take its pages; ``free_contig_range`` gives them back.

Not modelled (documented so nobody is surprised): the highatomic reserve,
ALLOC_NOFRAGMENT (machines with ZONE_NORMAL above DMA32).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PextlabError
from . import migrate, page_isolation
from .buddy import (ALLOC_CMA, ALLOC_MIN_RESERVE, ALLOC_NO_WATERMARKS, ALLOC_NON_BLOCK,  # noqa: F401
                    ALLOC_WMARK_HIGH, ALLOC_WMARK_LOW, ALLOC_WMARK_MIN, __free_one_page,
                    __rmqueue, __rmqueue_smallest, base_watermark, expand,
                    get_order, get_pageblock_migratetype, move_freepages_block,
                    set_pageblock_migratetype, zone_watermark_boost, zone_watermark_ok)
from .compaction import (COMPACT_PRIO_ASYNC, COMPACT_PRIO_SYNC_FULL, COMPACT_PRIO_SYNC_LIGHT,
                         COMPACT_SKIPPED, COMPACT_SUCCESS, compaction_defer_reset,
                         compaction_enabled, try_to_compact_pages, wake_all_kswapds)
from .fastpath import (alloc_pages_fast, __free_pages_core, __free_pages_ok, free_pages,  # noqa: F401
                       get_page_from_freelist, init_per_zone_wmark_min, nr_free_zone_pages,
                       prep_new_page, prepare_alloc_pages, split_page)
from .gfp import ZONE_NORMAL, direct_reclaim_flag, retry_mayfail_flag
from .mmzone import PG_HEAD, MT_SHIFT, MT_MASK, covered_by_free, pinned_heads
from .buddy import WMARK_NAMES, del_page_from_free_list, find_free_block, rmqueue_run
from .pcp import drain_zone_pages, rmqueue_pcplist
from .oom_kill import out_of_memory
from .ring_buffer import EV_ALLOC, EV_FREE, EV_ZONE_LOCKED
from .vmscan import try_to_free_pages
from .vmstat import count_vm_event

__all__ = [
    "ALLOC_WMARK_MIN", "ALLOC_WMARK_LOW", "ALLOC_WMARK_HIGH", "ALLOC_NO_WATERMARKS",
    "ALLOC_MIN_RESERVE", "ALLOC_NON_BLOCK", "ALLOC_CMA", "MAX_COMPACT_RETRIES",
    "__alloc_pages", "alloc_pages", "alloc_pages_slow", "__alloc_pages_slowpath",
    "__alloc_pages_direct_compact",
    "__alloc_pages_direct_reclaim", "alloc_pages_bulk", "alloc_pages_loop",
    "alloc_pages_exact_nid", "make_alloc_exact", "free_pages_exact", "alloc_contig_range",
    "free_contig_range",
    "ContigRange", "ERRNO_NAMES", "CONTIG_TARGET_STACK",
    # re-exported from the lower modules of the allocator
    "expand", "__rmqueue_smallest", "__rmqueue", "__free_one_page", "zone_watermark_ok",
    "zone_watermark_boost", "base_watermark", "get_page_from_freelist", "prepare_alloc_pages",
    "free_pages", "__free_pages_ok", "__free_pages_core", "split_page", "get_order",
    "get_pageblock_migratetype", "set_pageblock_migratetype", "move_freepages_block",
    "init_per_zone_wmark_min", "nr_free_zone_pages",
]


def __alloc_pages(mm, gfp: int, order: int, nid: int | None = None) -> int:
    """Allocate 2^order pages; return the head pfn or -1 (the kernel's NULL).

    The fast path (``alloc_pages_fast``, compiled) uses the low watermark; the slow
    path (``__alloc_pages_slowpath``) retries at the min watermark, wakes kswapd and
    compacts for high orders.
    """
    pfn = alloc_pages_fast(mm, gfp, order, nid)
    if pfn >= 0:
        return pfn
    return alloc_pages_slow(mm, gfp, order, nid)


def alloc_pages_slow(mm, gfp: int, order: int, nid: int | None = None) -> int:
    """What ``__alloc_pages`` does once its fast path (``alloc_pages_fast``) returned
    -1: the slow path, then the failure's count and trace event, or ``prep_new_page``.
    A caller that ran the fast path itself (the workload runner) goes on here."""
    if nid is None or nid < 0:
        nid = mm.current_nid
    mt, zones, high, flags = prepare_alloc_pages(mm, gfp, nid)
    zone, pfn = __alloc_pages_slowpath(mm, gfp, order, mt, zones, high, flags)
    if pfn < 0:
        count_vm_event(mm, "allocstall_fail")
        tr = mm.trace
        if tr is not None and tr.live[EV_ALLOC]:   # __alloc_pages_noprof traces after "out:", a NULL page too
            tr.event(mm, EV_ALLOC, -1, order, mt, gfp, 0)
        return -1
    prep_new_page(mm, pfn, order, mt, gfp)
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
    make_alloc_exact(mm, pfn, order, size)
    return pfn


def make_alloc_exact(mm, pfn: int, order: int, size: int) -> None:
    """mm/page_alloc.c make_alloc_exact: split the order-``order`` block at ``pfn`` and
    free its pages past ``size`` one at a time, lowest first (__free_pages_ok, no pcp).

    Freed one by one in ascending order, the tail coalesces into its maximal aligned
    blocks, each finished (and put on its list) when its last page is freed; every
    page in between was briefly a free head of lower order.  When no free-side hook
    watches the pages (page_owner, page poisoning, the mm_page_free tracepoint), the
    same end state -- lists, counters, the stale order bytes those brief heads
    leave -- is made with one ``__free_one_page`` per final block; a page_ext table
    per memory section at boot makes this the bulk of boot time.
    """
    nr = (size + 4095) >> 12
    split_page(mm, pfn, order)
    start, end = pfn + nr, pfn + (1 << order)
    tr = mm.trace
    if (mm.free_hook is not None or mm.poison is not None or order - 1 > mm.pageblock_order
            or (tr is not None and tr.live[EV_FREE])):
        for p in range(start, end):
            __free_pages_ok(mm, p, 0, False)
        return
    if start >= end:
        return
    sec = mm.sections[pfn >> mm.section_shift]
    base = pfn & mm.section_mask
    flags, orders = sec.flags_np(), sec.order_np()
    flags[base + nr:base + (1 << order)] = 0                 # free_pages_prepare
    k = np.arange(1 << order, dtype=np.int64)
    stale = np.maximum(np.log2((k & -k) | (k == 0)).astype(np.int64) - 1, 0).astype(np.uint8)
    zone = mm.zone_of_pfn(start)
    p = start
    while p < end:
        o = min(order - 1, (p & -p).bit_length() - 1)
        while p + (1 << o) > end:
            o -= 1
        off = p & mm.section_mask
        # a page at offset j (j > 0) of the block was last a head of order tz(j) - 1
        orders[off:off + (1 << o)] = stale[:1 << o]
        mt = sec.pageblock_mt[off >> mm.pageblock_order]
        __free_one_page(mm, zone, p, o, mt)
        p += 1 << o
    mm.nr_free_events += end - start


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


# --- many order-0 pages at once -------------------------------------------------------------

def _nr_pages(nr_pages, who: str) -> int:
    if isinstance(nr_pages, bool) or not isinstance(nr_pages, (int, np.integer)):
        raise PextlabError(f"{who}: nr_pages must be an int, got {nr_pages!r}")
    return int(nr_pages)


def _resolve_nid(mm, nid):
    if nid is None or nid < 0:
        return mm.current_nid
    if nid not in mm.zonelists:
        raise PextlabError(f"node {nid} does not exist (nodes: {sorted(mm.zonelists)})")
    return nid


def _runs_allowed(mm) -> bool:
    """Whether order-0 allocations may be taken block by block (``rmqueue_run``): no
    trace event would fire per page, no poisoning, no guard pages."""
    tr = mm.trace
    if tr is not None and (tr.live[EV_ALLOC] or tr.live[EV_ZONE_LOCKED]):
        return False
    return mm.poison is None and not mm.guard_minorder


def _prep_runs(mm, runs: list, mt: int, gfp: int) -> None:
    """prep_new_page / post_alloc_hook of order-0 pages taken in ``runs`` [(pfn, n)]
    (each within one section), as that many allocations in a row do them."""
    sections, shift, mask = mm.sections, mm.section_shift, mm.section_mask
    head = PG_HEAD | (mt << MT_SHIFT)
    total = 0
    for pfn, n in runs:
        sec = sections[pfn >> shift]
        off = pfn & mask
        sec.flags[off:off + n] = bytes((head,)) * n
        sec.order[off:off + n] = bytes(n)
        total += n
    hook = mm.alloc_hook
    if hook is not None:
        run = mm.alloc_run_hook
        if run is not None and run[0] is hook:
            run[1](runs, gfp)
        else:
            for pfn, n in runs:
                for p in range(pfn, pfn + n):
                    hook(p, 0, gfp)
    mm.nr_alloc_events += total


def _prep_one(mm, pfn: int, mt: int, gfp: int) -> None:
    """prep_new_page of one order-0 page (no trace event: the bulk allocator's)."""
    if mm.poison is not None:
        mm.poison.unpoison_pages(pfn, 0)
    _prep_runs(mm, [(pfn, 1)], mt, gfp)


def _order0_room(mm, zone, high: int, alloc_flags: int) -> int:
    """How many order-0 allocations in a row pass the zone's watermark check
    (get_page_from_freelist / __zone_watermark_ok with order 0: ``free > mark +
    lowmem_reserve``, ``free`` dropping by one per page)."""
    if not zone.free_pages:
        return 0
    mark = zone.watermark[WMARK_NAMES[alloc_flags & 3]]
    if alloc_flags & ALLOC_MIN_RESERVE:
        mark -= mark // 2
        if alloc_flags & ALLOC_NON_BLOCK:
            mark -= mark // 4
    free = zone.free_pages
    if not alloc_flags & ALLOC_CMA:
        free -= zone.free_mt[mm.mt_cma]
    return max(0, free - mark - zone.lowmem_reserve[high])


def _as_array(parts: list) -> np.ndarray:
    """Pfns of ``parts``: runs (pfn, n) and lists of single pfns, in order."""
    starts, lens = [], []
    for p in parts:
        if isinstance(p, tuple):
            starts.append(p[0])
            lens.append(p[1])
        else:
            starts.extend(p)
            lens.extend([1] * len(p))
    if not starts:
        return np.empty(0, dtype=np.int64)
    lens = np.array(lens, dtype=np.int64)
    base = np.repeat(np.array(starts, dtype=np.int64) - np.cumsum(lens) + lens, lens)
    return base + np.arange(int(lens.sum()), dtype=np.int64)


def alloc_pages_loop(mm, gfp: int, nr_pages: int, nid: int | None = None) -> np.ndarray:
    """``nr_pages`` order-0 ``__alloc_pages`` calls in a row, stopping at the first
    failure (the single-page loop of mm/vmalloc.c vm_area_alloc_pages, or of any
    caller that wants n pages).  Returns the pfns in allocation order.

    The result is bit for bit that of the calls one by one (frames, free lists,
    page_owner rows); where a zone has room above its watermark and pages of the
    wanted type on its lists, the pages are taken whole blocks at a time
    (``buddy.rmqueue_run``), the rest call ``__alloc_pages`` (fallback, slow path).
    """
    nr_pages = _nr_pages(nr_pages, "alloc_pages_loop")
    if nr_pages <= 0:
        return np.empty(0, dtype=np.int64)
    nid = _resolve_nid(mm, nid)
    mt, zones, high, flags = prepare_alloc_pages(mm, gfp, nid)
    fast = _runs_allowed(mm) and not flags & ALLOC_NO_WATERMARKS
    run = mm.alloc_run_hook
    if fast and run is not None and run[0] is mm.alloc_hook:
        # the page_owner rows of the whole loop made at once, no more than the free
        # pages (a request far beyond the machine must not size the table by itself)
        run[2](min(nr_pages, sum(z.free_pages for z in zones)))
    cma = mm.mt_cma
    parts = []
    single = []
    got = 0
    while got < nr_pages:
        if fast:
            for zone in zones:
                room = _order0_room(mm, zone, high, flags)
                if room:
                    break
            else:
                zone = None
            if (zone is not None and zone.pcp is None
                    and not (flags & ALLOC_CMA and zone.free_mt[cma])):
                runs = rmqueue_run(mm, zone, mt, min(room, nr_pages - got))
                if runs:
                    if single:
                        parts.append(single)
                        single = []
                    _prep_runs(mm, runs, mt, gfp)
                    for p, n in runs:
                        parts.append((p, n))
                        got += n
                    continue
        pfn = __alloc_pages(mm, gfp, 0, nid)
        if pfn < 0:
            break
        single.append(pfn)
        got += 1
    if single:
        parts.append(single)
    return _as_array(parts)


def alloc_pages_bulk(mm, gfp: int, nr_pages: int, nid: int | None = None) -> np.ndarray:
    """mm/page_alloc.c alloc_pages_bulk_noprof (v6.12): up to ``nr_pages`` order-0 pages
    from one zone; returns their pfns (possibly fewer, possibly none).

    As the kernel: one page (``__alloc_pages``) when one is asked for or page_owner
    is on (page_owner_inited: the stack saving may recurse into the allocator, so
    the bulk path is skipped); else the first zone of the zonelist that passes the
    watermark plus ``nr_pages`` (a zone of another node than the preferred one
    ends the search), and from it pages as ``__rmqueue_pcplist`` gives them (the
    per-cpu list with pextlab.pcp=on, else ``__rmqueue``) with no further
    watermark check, until ``nr_pages`` or the lists fail; no zone, or no page
    at all from it, falls back to one ``__alloc_pages``.  The bulk pages are not
    traced (no mm_page_alloc event; __rmqueue_smallest's zone_locked ones are).
    There is no memcg here, so ``__GFP_ACCOUNT`` changes nothing.
    """
    nr_pages = _nr_pages(nr_pages, "alloc_pages_bulk")
    if nr_pages <= 0:
        return np.empty(0, dtype=np.int64)
    nid = _resolve_nid(mm, nid)
    if nr_pages == 1 or mm.page_owner is not None:
        pfn = __alloc_pages(mm, gfp, 0, nid)
        return np.array([pfn] if pfn >= 0 else [], dtype=np.int64)
    mt, zones, high, flags = prepare_alloc_pages(mm, gfp, nid)
    found = None
    multi = len(mm.nodes) > 1
    for zone in zones:
        if multi and zone is not zones[0] and zone.nid != zones[0].nid:
            break
        mark = zone.watermark[WMARK_NAMES[flags & 3]] + nr_pages
        if zone_watermark_ok(mm, zone, 0, mark, high, flags):
            found = zone
            break
    parts = []
    got = 0
    if found is not None:
        zone = found
        pcp = zone.pcp
        if (pcp is None and _runs_allowed(mm)
                and not (flags & ALLOC_CMA and zone.free_mt[mm.mt_cma])):
            runs = rmqueue_run(mm, zone, mt, nr_pages)
            _prep_runs(mm, runs, mt, gfp)
            for p, n in runs:
                parts.append((p, n))
                got += n
        single = []
        while got < nr_pages:
            if pcp is not None and pcp.allowed[0]:
                pfn = rmqueue_pcplist(mm, zone, pcp, 0, mt, flags)
            else:
                pfn = __rmqueue(mm, zone, 0, mt, flags)
            if pfn < 0:
                break
            _prep_one(mm, pfn, mt, gfp)
            single.append(pfn)
            got += 1
        parts.append(single)
    if not got:
        pfn = __alloc_pages(mm, gfp, 0, nid)
        return np.array([pfn] if pfn >= 0 else [], dtype=np.int64)
    return _as_array(parts)


# --- alloc_contig_range (CONFIG_CONTIG_ALLOC) ----------------------------------------------

EINVAL, ENOMEM, EBUSY, EINTR = 22, 12, 16, 4
ERRNO_NAMES = {EINVAL: "EINVAL", ENOMEM: "ENOMEM", EBUSY: "EBUSY", EINTR: "EINTR"}

#: the allocation of a migration target by alloc_contig_range (v6.12 call chain;
#: no offsets: unknown in the captured build)
CONTIG_TARGET_STACK = (
    "get_page_from_freelist", "__alloc_pages_noprof", "__folio_alloc_noprof",
    "alloc_migration_target", "migrate_pages_batch", "migrate_pages",
    "__alloc_contig_migrate_range", "alloc_contig_range_noprof", "__cma_alloc", "cma_alloc",
)


@dataclass
class ContigRange:
    """What alloc_contig_range did: ``ret`` (0 or -errno), ``migrated`` (base pages
    moved out), ``busy_pfns`` (the pages still in use after migration, the first
    being test_pages_isolated's), ``failed`` (blocks whose migration failed)."""
    ret: int
    migrated: int = 0
    busy_pfns: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def _verify_gfp(mm, gfp: int):
    """mm/page_alloc.c __alloc_contig_verify_gfp_mask: (ok, the compaction mask)."""
    b = mm.profile.gfp_bits
    g = lambda n: b.get(n, 0)  # noqa: E731
    zonemask = g("__GFP_DMA") | g("__GFP_HIGHMEM") | g("__GFP_DMA32") | g("__GFP_MOVABLE")
    gfp &= ~(zonemask | g("__GFP_RECLAIMABLE") | g("__GFP_WRITE") | g("__GFP_HARDWALL")
             | g("__GFP_THISNODE") | g("__GFP_MOVABLE"))
    reclaim = g("__GFP_IO") | g("__GFP_FS") | g("__GFP_DIRECT_RECLAIM") | g("__GFP_KSWAPD_RECLAIM")
    action = (g("__GFP_COMP") | retry_mayfail_flag(mm.profile) | g("__GFP_NOWARN") | g("__GFP_ZERO")
              | g("__GFP_ZEROTAGS") | g("__GFP_SKIP_ZERO") | g("__GFP_SKIP_KASAN"))
    if gfp & ~(reclaim | action):
        return False, 0
    cc = ((gfp & (reclaim | retry_mayfail_flag(mm.profile) | g("__GFP_NOWARN")))
          | g("__GFP_HARDWALL") | g("__GFP_MOVABLE") | retry_mayfail_flag(mm.profile))
    return True, cc


def _movable_in(mm, start: int, end: int):
    """isolate_migratepages_range with cc->alloc_contig: the movable blocks that
    overlap [start, end) -- a block whose head lies before ``start`` is taken whole --
    minus pinned ones (an anonymous folio with more references than mappings is not
    isolated) and free huge pages (replaced, not migrated).  Returns (sources, huge)."""
    mov = mm.profile.mt_movable
    pool = mm.hugetlb
    lo_pfn = max(start - (1 << mm.profile.max_page_order), 0)
    sources, huge = [], []
    for sec, lo, hi in page_isolation.section_slices(mm, lo_pfn, end):
        f = sec.flags_np()[lo:hi]
        od = sec.order_np()[lo:hi]
        idx = np.flatnonzero(((f & PG_HEAD) != 0) & (((f & MT_MASK) >> MT_SHIFT) == mov))
        if not len(idx):
            continue
        idx = idx[lo + idx + (np.int64(1) << od[idx].astype(np.int64)) > start - sec.start_pfn]
        idx = idx[~pinned_heads(sec, lo + idx)]
        for p, o in zip((sec.start_pfn + lo + idx).tolist(), od[idx].tolist()):
            if pool is not None and o == pool.order and p in pool:
                huge.append(p)
            else:
                sources.append((p, o))
    return sources, huge


def _busy_pfns(mm, start: int, end: int) -> list[int]:
    """Pages of [start, end) that are not free (test_pages_isolated's first is [0])."""
    out = []
    for sec, lo, hi in page_isolation.section_slices(mm, start, end):
        free = covered_by_free(sec.flags_np(), sec.order_np())[lo:hi]
        out.extend((sec.start_pfn + lo + np.flatnonzero(~free)).tolist())
    return out


def alloc_contig_range(mm, start: int, end: int, migratetype: int, gfp: int) -> ContigRange:
    """mm/page_alloc.c alloc_contig_range_noprof (v6.12): take the pages [start, end).

    Isolate the pageblocks of the range (start_isolate_page_range with
    ``migratetype``: MIGRATE_CMA pageblocks are taken as movable), drain the per-cpu
    lists (drain_all_pages), migrate the movable blocks out
    (__alloc_contig_migrate_range: alloc_migration_target with the compaction mask,
    reason MR_CONTIG_RANGE; -ENOMEM when a target cannot be had; a free hugetlb page
    is replaced by a new one, alloc_and_dissolve_hugetlb_folio), then check the
    range is free from the free block holding ``start`` (find_large_buddy,
    test_pages_isolated: -EBUSY naming the first page in use), take the free blocks
    off the lists (isolate_freepages_range), split them into order-0 pages
    (split_free_pages: post_alloc_hook with ``gfp``, so page_owner records each) and
    free the head and tail outside the range; finally undo the isolation.
    Returns a :class:`ContigRange` (``ret`` 0 on success).

    The migration passes of the kernel (chunks of 32 pages, five tries of the pages
    that failed) are one pass here: the model's only migration failures are pinned
    pages, which fail every try, and missing targets, which end it with -ENOMEM.
    """
    ok, cc_gfp = _verify_gfp(mm, gfp)
    if not ok:
        return ContigRange(-EINVAL)
    zone = mm.zone_of_pfn(start)
    pb = mm.pageblock_order
    istart = (start >> pb) << pb
    iend = ((end + (1 << pb) - 1) >> pb) << pb
    saved, bad = page_isolation.start_isolate_page_range(mm, zone, istart, iend, migratetype)
    if saved is None:
        return ContigRange(-EBUSY, busy_pfns=[bad])
    res = ContigRange(0)
    try:
        if zone.pcp is not None:
            drain_zone_pages(mm, zone)
        sources, huge = _movable_in(mm, start, end)
        for p in huge:
            if mm.hugetlb.alloc_and_dissolve_hugetlb_folio(p) < 0:
                res.ret = -ENOMEM
                return res
        if sources:
            moved, failed, _ = migrate.migrate_pages(mm, sources, "contig_range", zone.nid, zone.idx,
                                                     gfp=cc_gfp, exclude_nid=False,
                                                     stack=CONTIG_TARGET_STACK)
            migrate.notify_moved(mm, moved, "contig_range")
            migrate.free_sources(mm, moved)
            pages = sum(1 << o for _, _, o in moved)
            res.migrated = pages
            count_vm_event(mm, "pgmigrate_success", pages)
            if failed:
                count_vm_event(mm, "pgmigrate_fail", sum(1 << o for _, o in failed))
                res.failed = [p for p, _ in failed]
                res.ret = -ENOMEM          # migrate_pages: no target page
                return res
        # find_large_buddy: the free block holding start (if any) starts the check
        fb = find_free_block(mm, start)
        outer_start = fb[0] if fb is not None else start
        busy = _busy_pfns(mm, outer_start, end)
        if busy:
            res.ret = -EBUSY
            res.busy_pfns = busy
            return res
        _take_range(mm, zone, outer_start, start, end, gfp)
        return res
    finally:
        page_isolation.undo_isolate_page_range(mm, zone, istart, iend, saved)


def _take_range(mm, zone, outer_start: int, start: int, end: int, gfp: int) -> None:
    """isolate_freepages_range + split_free_pages + freeing the head and tail."""
    outer_end = end
    for pfn, order, mt in page_isolation.free_heads(mm, outer_start, end):
        del_page_from_free_list(mm, zone, pfn, order, mt)
        outer_end = max(outer_end, pfn + (1 << order))
    mt_alloc = prepare_alloc_pages(mm, gfp, zone.nid)[0]
    head = PG_HEAD | (mt_alloc << MT_SHIFT)
    for sec, lo, hi in page_isolation.section_slices(mm, start, end):
        sec.flags[lo:hi] = bytes([head]) * (hi - lo)
        sec.order[lo:hi] = bytes(hi - lo)
    hook = mm.alloc_hook
    if mm.poison is not None or hook is not None:
        for p in range(start, end):
            if mm.poison is not None:
                mm.poison.unpoison_pages(p, 0)
            if hook is not None:
                hook(p, 0, gfp)
    mm.nr_alloc_events += end - start
    for a, b in ((outer_start, start), (end, outer_end)):
        _free_range_to_buddy(mm, zone, a, b)


def _free_range_to_buddy(mm, zone, a: int, b: int) -> None:
    """Free pages that were never handed out back to their (isolated) pageblocks' lists,
    in maximal aligned blocks (what freeing them page by page merges into)."""
    pb = mm.pageblock_order
    pfn = a
    while pfn < b:
        order = min(mm.profile.max_page_order, (pfn & -pfn).bit_length() - 1 if pfn else 64)
        while pfn + (1 << order) > b:
            order -= 1
        sec = mm.sections[pfn >> mm.section_shift]
        mt = sec.pageblock_mt[(pfn & mm.section_mask) >> pb]
        __free_one_page(mm, zone, pfn, order, mt)
        pfn += 1 << order


def free_contig_range(mm, pfn: int, nr_pages: int) -> None:
    """mm/page_alloc.c free_contig_range: free each page of the range."""
    for p in range(pfn, pfn + nr_pages):
        free_pages(mm, p, 0)
