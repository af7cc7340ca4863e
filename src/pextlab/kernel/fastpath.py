"""The allocation fast path and the free path of mm/page_alloc.c.

* ``prepare_alloc_pages``: what a gfp mask and a node mean for one allocation
  (migratetype, zonelist, highest zone, alloc_flags), cached per (gfp, nid);
* ``get_page_from_freelist``: the zonelist walk with watermarks and
  lowmem_reserve; ``rmqueue`` takes from the per-cpu lists first when the
  machine has them (``pextlab.kernel.pcp``), else from the buddy lists
  (``buddy.__rmqueue``, which falls back through the machine's policy);
* the free path: ``free_pages`` (__free_pages with the kernel's bad-page checks),
  ``__free_pages_ok`` (free_pages_prepare: page_owner, poisoning; then
  free_unref_page onto a pcp list or ``__free_one_page``), ``split_page``;
  ``release_pages`` / ``free_unref_folios``: many blocks at once (order-0 runs
  given upwards are freed an aligned block at a time, with the result of page by
  page);
* the watermarks: ``init_per_zone_wmark_min``, ``setup_per_zone_wmarks``,
  ``setup_per_zone_lowmem_reserve``, ``nr_free_zone_pages``.

The slow path (``__alloc_pages``, reclaim, compaction, OOM) is
:mod:`pextlab.kernel.page_alloc`, above this module and compaction.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import PextlabError
from .buddy import (__free_one_page, get_pageblock_migratetype)
from .gfp import (ZONE_MOVABLE, ZONE_NORMAL)
from .mmzone import PG_HEAD
from .pcp import free_unref_page_commit, zone_pcp_update
from .profiles import PAGE_SHIFT
from .ring_buffer import EV_FREE, EV_FREE_BATCHED

# compiled: kernel/_fastpath.pyx (the pextlab package checks that it is built)
from ._fastpath import (prepare_alloc_pages, alloc_pages_fast, get_page_from_freelist,
                        prep_new_page, free_pages, check_free, __free_pages_ok)

FOLIO_BATCH_SIZE = 31           # include/linux/pagevec.h PAGEVEC_SIZE

__all__ = ["prepare_alloc_pages", "alloc_pages_fast", "get_page_from_freelist", "prep_new_page", "free_pages", "__free_pages_ok",
           "release_pages", "free_unref_folios", "FOLIO_BATCH_SIZE",
           "free_pages_ok", "check_free", "__free_pages_core", "free_pages_memory", "split_page", "nr_free_zone_pages",
           "setup_per_zone_wmarks", "setup_per_zone_lowmem_reserve", "thp_enabled",
           "init_per_zone_wmark_min"]
def release_pages(mm, pfns, order: int = 0) -> None:
    """mm/swap.c release_pages: free many blocks of one order (the last reference of
    each), in folio batches of FOLIO_BATCH_SIZE through ``free_unref_folios``.

    Every block is checked first (as ``free_pages`` checks one): a bad pfn, or one
    given twice, raises PextlabError before anything is freed.
    """
    try:
        pfns = np.asarray(pfns, dtype=np.int64).ravel()
        order = int(order)
    except (TypeError, ValueError, OverflowError):
        raise PextlabError(f"release_pages: pfns must be integers and order an int, got "
                           f"{type(pfns).__name__} and {order!r}") from None
    if not len(pfns):
        return
    srt = np.sort(pfns)
    if len(srt) > 1 and (srt[1:] == srt[:-1]).any():
        _, idx, cnt = np.unique(pfns, return_index=True, return_counts=True)
        raise PextlabError(f"release_pages: pfn {int(pfns[idx[cnt > 1][0]]):#x} is given "
                           f"more than once")
    bad = _bad_frees(mm, pfns, order)
    if len(bad):
        check_free(mm, int(pfns[bad[0]]), order)       # raises, naming what is wrong
    if not order and _free_in_blocks_allowed(mm):
        _free_order0_in_blocks(mm, pfns)
        return
    lst = pfns.tolist()
    for i in range(0, len(lst), FOLIO_BATCH_SIZE):
        free_unref_folios(mm, lst[i:i + FOLIO_BATCH_SIZE], order)


def _free_in_blocks_allowed(mm) -> bool:
    """Whether order-0 frees may be done block by block (``_free_order0_in_blocks``): no
    trace event would fire per page, no poisoning, no guard pages, no pcp lists, and a
    free hook (if any) that has a many-pages form."""
    tr = mm.trace
    if tr is not None and (tr.live[EV_FREE] or tr.live[EV_FREE_BATCHED]):
        return False
    if mm.poison is not None or mm.guard_minorder or mm.pcp_enabled:
        return False
    hook = mm.free_hook
    run = mm.free_run_hook
    return hook is None or (run is not None and run[0] is hook)


def _stale_orders(k: int) -> bytes:
    """The order bytes an aligned 2^k block of order-0 pages is left with once freed
    page by page upwards (before the merge of the whole block goes on): the page at
    offset i > 0 was last a free head at order tz(i) - 1 (its lower buddy was
    already free, its upper one not yet), odd offsets never were (0); the head was
    last added at order k - 1."""
    out = bytearray(1 << k)
    for i in range(1, 1 << k):
        tz = (i & -i).bit_length() - 1
        if tz:
            out[i] = tz - 1
    if k:
        out[0] = k - 1
    return bytes(out)


_STALE = [_stale_orders(k) for k in range(13)]


def _free_order0_in_blocks(mm, pfns: np.ndarray) -> None:
    """release_pages of order-0 pages, checked, when ``_free_in_blocks_allowed``.

    free_pages_prepare of every page first (clearing its flags, page_owner's reset:
    independent page by page), then the frees in the given order.  A run of pfns
    given one after the other upwards that covers an aligned 2^k block (k up to
    pageblock_order, inside one zone) ends as freeing it page by page ends: the block
    merges inside itself completely (every buddy below 2^k is inside it and free when
    its upper half completes), leaving the order bytes ``_stale_orders`` on its pages,
    then the whole block goes through ``__free_one_page`` (merging on outside it);
    the pieces added and removed on the way leave no trace in the lists.  Every other
    page is freed by itself.
    """
    sections, shift, mask, pb = mm.sections, mm.section_shift, mm.section_mask, mm.pageblock_order
    hook = mm.free_hook
    if hook is not None:
        mm.free_run_hook[1](pfns)
    nrs = pfns >> shift
    for nr in np.unique(nrs).tolist():
        sec = sections[nr]
        sec.flags_np()[pfns[nrs == nr] & mask] = 0
    # ascending runs: where pfn[i+1] != pfn[i] + 1 a new run starts
    cuts = (np.flatnonzero(np.diff(pfns) != 1) + 1).tolist()
    starts = [0, *cuts]
    ends = [*cuts, len(pfns)]
    first = pfns[starts].tolist()
    section_zone = mm.section_zone
    for s0, n in zip(first, (np.array(ends) - np.array(starts)).tolist()):
        pfn, end = s0, s0 + n
        while pfn < end:
            k = min(pb, (pfn & -pfn).bit_length() - 1 if pfn else pb)
            while pfn + (1 << k) > end:
                k -= 1
            zone = section_zone[pfn >> shift]
            if zone is None:
                zone = mm.zone_of_pfn(pfn)
            sec = sections[pfn >> shift]
            off = pfn & mask
            mt = sec.pageblock_mt[off >> pb]
            size = 1 << k
            if k and zone.zone_start_pfn <= pfn and pfn + size <= zone.zone_start_pfn + zone.spanned_pages:
                sec.order[off:off + size] = _STALE[k]
                __free_one_page(mm, zone, pfn, k, mt)
            else:
                for p in range(pfn, pfn + size):
                    z = section_zone[p >> shift]
                    if z is None:
                        z = mm.zone_of_pfn(p)
                    __free_one_page(mm, z, p, 0, mt)
            pfn += size
    mm.nr_free_events += len(pfns)


def _bad_frees(mm, pfns: np.ndarray, order: int) -> np.ndarray:
    """Indices of ``pfns`` that free_pages would refuse (check_free), ascending."""
    if not len(pfns):
        return np.empty(0, dtype=np.int64)
    ok = (pfns >= 0) & (pfns < mm.max_section_pfn)
    nrs = np.where(ok, pfns >> mm.section_shift, -1)
    by = np.argsort(nrs, kind="stable")
    snr = nrs[by]
    cuts = np.flatnonzero(np.diff(snr)) + 1
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(snr)]):
        nr = int(snr[lo])
        if nr < 0:
            continue
        sel = by[lo:hi]
        sec = mm.sections[nr]
        if sec is None:
            ok[sel] = False
            continue
        off = pfns[sel] & mm.section_mask
        good = ((sec.flags_np()[off] & PG_HEAD) != 0) & (sec.order_np()[off] == order)
        if sec.pincount is not None:
            good &= sec.pincount[off] == 0
        ok[sel] = good
    return np.flatnonzero(~ok)


def free_unref_folios(mm, pfns, order: int) -> None:
    """mm/page_alloc.c free_unref_folios (v6.12): free a batch of checked blocks.

    First free_pages_prepare for each (mm_page_free, page_owner, poison), blocks of
    an order the pcp lists do not take going straight to ``free_one_page``; then
    each of the others, re-reading its pageblock's type: mm_page_free_batched, and
    onto the pcp list (pextlab.pcp=on; an isolated pageblock's go to the buddy), or
    without pcp lists to ``__free_one_page``, in the batch's order.
    """
    sections, shift, mask, pb = mm.sections, mm.section_shift, mm.section_mask, mm.pageblock_order
    tr = mm.trace
    hook = mm.free_hook
    poison = mm.poison
    to_pcp = mm.profile.pcp_allowed_order(order)
    later = []
    for pfn in pfns:
        if tr is not None and tr.live[EV_FREE]:
            tr.event(mm, EV_FREE, pfn, order, 0, 0, 0)
        sections[pfn >> shift].flags[pfn & mask] = 0
        if hook is not None:
            hook(pfn, order)
        if poison is not None:
            poison.poison_pages(pfn, order)
        if to_pcp:
            later.append(pfn)
        else:
            sec = sections[pfn >> shift]
            __free_one_page(mm, mm.zone_of_pfn(pfn), pfn, order,
                            sec.pageblock_mt[(pfn & mask) >> pb])
    isolate = mm.profile.mt_isolate
    for pfn in later:
        sec = sections[pfn >> shift]
        off = pfn & mask
        mt = sec.pageblock_mt[off >> pb]
        zone = mm.section_zone[pfn >> shift]
        if zone is None:
            zone = mm.zone_of_pfn(pfn)
        if mt == isolate:
            __free_one_page(mm, zone, pfn, order, mt)
            continue
        if tr is not None and tr.live[EV_FREE_BATCHED]:
            tr.event(mm, EV_FREE_BATCHED, pfn, 0, 0, 0, 0)
        pcp = zone.pcp
        if pcp is not None:
            sec.order[off] = order
            free_unref_page_commit(mm, zone, pcp, pfn, order, mt)
        else:
            __free_one_page(mm, zone, pfn, order, mt)
    mm.nr_free_events += len(pfns)


def __free_pages_core(mm, zone, pfn: int, order: int) -> None:
    """Release boot/hotplug memory to the buddy allocator (memblock_free_pages)."""
    mt = get_pageblock_migratetype(mm, pfn)
    __free_one_page(mm, zone, pfn, order, mt)


def free_pages_memory(mm, zone, start: int, end: int) -> int:
    """mm/memblock.c __free_pages_memory: release [start, end) to the buddy allocator in
    maximal aligned blocks, highest pfn first (so the lowest pfns end at the head of the
    LIFO lists, as FPI_TO_TAIL frees give).  Returns the pages released."""
    maxo = mm.profile.max_page_order
    blocks = []
    pfn = start
    while pfn < end:
        order = min(maxo, (pfn & -pfn).bit_length() - 1 if pfn else maxo)
        while pfn + (1 << order) > end:
            order -= 1
        blocks.append((pfn, order))
        pfn += 1 << order
    for pfn, order in reversed(blocks):
        __free_pages_core(mm, zone, pfn, order)
    return end - start


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
        zone_pcp_update(mm)          # zone_pcp_update: high follows the low watermark


# a plain alias: a kernel name with a leading ``__`` is mangled inside a class body
free_pages_ok = __free_pages_ok
