"""Per-cpu page lists (mm/page_alloc.c ``struct per_cpu_pages``).

Two users:

* **The allocator's pcp lists** (boot option ``pextlab.pcp=on``; off by default,
  see below).  One CPU, so one :class:`PerCpuPages` per zone (``zone.pcp``;
  ``None`` when off).  As in v6.12:

  - ``pcp_allowed_order``: orders 0..PAGE_ALLOC_COSTLY_ORDER (3) and the THP
    order (pageblock_order) since v5.13; order 0 only before (v3.19 profile).
  - lists per (order, migratetype): ``order_to_pindex`` -- ``3 * order + mt``
    for MIGRATE_PCPTYPES, then two THP lists (non-movable, movable).
  - ``free_unref_page``: a freed block of an allowed order whose pageblock is
    not MIGRATE_ISOLATE goes on the head of its list (pageblocks of other
    types above the pcp types -- HIGHATOMIC, CMA -- use the MOVABLE list);
    when ``count >= high`` ``free_pcppages_bulk`` returns ``nr_pcp_free`` pages
    (``clamp(free_count, batch, high - batch)``; everything up to
    ``batch << CONFIG_PCP_BATCH_SCALE_MAX`` after consecutive high-order frees)
    to the buddy, round-robin over the lists starting at the one just freed
    to, oldest (list tail) first, re-reading each page's pageblock type.
  - ``rmqueue_pcplist``: allocations of an allowed order take the head of the
    list (LIFO); an empty list is refilled by ``rmqueue_bulk`` with
    ``nr_pcp_alloc`` blocks from ``__rmqueue`` (appended at the tail);
    ``alloc_factor`` and ``free_count`` scale the batches as in v6.12.
  - ``drain_all_pages``: every list back to the buddy lists (where the pages
    merge).  Called by ``df_pageblocks`` (the mixed-block count of
    /proc/pagetypeinfo, mm/vmstat.c), snapshots, memory offline (before
    isolation, like ``zone_pcp_disable``) and compaction (the kernel drains
    per pageblock of a direct compaction; the model at the end of
    ``compact_zone``).
  - ``high`` = ``zone_highsize`` without ``percpu_pagelist_high_fraction``: the
    zone's low watermark (at least 4 * batch), recomputed whenever the
    watermarks are; the kernel's auto-tuning between that and managed/8 is
    not modelled.  ``batch`` = ``zone_batchsize``.

  Pages on a pcp list are neither PageBuddy nor allocated: their memmap
  flags are 0 (no bit is free in the flags byte; the lists themselves say
  which pages they hold, :func:`pcp_block_of`), so ``__free_one_page`` never
  merges with them and ``free_pages`` refuses them.  They are not in
  ``free_area`` / ``nr_free`` / ``zone.free_pages`` (NR_FREE_PAGES), so
  buddyinfo, pagetypeinfo's free counts and zoneinfo's "pages free" exclude
  them; page_owner saw them freed when they were.

  Off by default: the boot and frag-s1 calibrations against the real captures
  were made without pcp lists.

* :class:`PcpBuffer`: what proactive compaction uses when the allocator has no
  pcp lists (its migrated sources are freed to a pcp-like buffer and judged on
  the buddy lists only, so it compacts well past its low mark):

  - ``high``: the zone's low watermark (``zone_highsize``: low watermark / local
    CPUs, one CPU here; the frag-s1 guest showed ~14k pages on 1 GiB, low = 13,863);
  - ``batch``: ``zone_batchsize`` (63 on 1 GiB);
  - a free that brings ``count`` to ``high`` frees the oldest pages in one bulk of
    up to ``SWAP_CLUSTER_MAX << CONFIG_PCP_BATCH_SCALE_MAX`` (1024) pages;
  - ``drain()`` is ``drain_zone_pages``.
"""
from __future__ import annotations

from collections import deque

from ..errors import PextlabError
from .buddy import base_watermark, free_one_page, rmqueue_buddy
from .ring_buffer import EV_PCPU_DRAIN
# compiled: kernel/_pcp.pyx, PcpBuffer's list and bulk free (the pextlab package checks
# that it is built)
from ._pcp import PcpBufferCore

__all__ = ["PcpBuffer", "PerCpuPages", "zone_batchsize", "pcp_high", "pcp_enabled",
           "setup_pcp", "zone_pcp_update", "free_unref_page_commit", "free_pcppages_bulk",
           "rmqueue_pcplist", "drain_zone_pages", "drain_all_pages", "nr_pcp_pages",
           "pcp_block_of", "pcp_blocks"]

PCP_BATCH_SCALE_MAX = 5         # CONFIG_PCP_BATCH_SCALE_MAX
PCP_BULK_MAX = 32 << PCP_BATCH_SCALE_MAX   # SWAP_CLUSTER_MAX << CONFIG_PCP_BATCH_SCALE_MAX
MIGRATE_PCPTYPES = 3


def zone_batchsize(managed_pages: int) -> int:
    """mm/page_alloc.c zone_batchsize (MMU): about a quarter of a 1024th of the zone,
    at most 1 MiB, then (2^n - 1)."""
    batch = min(managed_pages >> 10, (1 << 20) >> 12)
    batch //= 4
    if batch < 1:
        batch = 1
    v = batch + batch // 2
    return (1 << (v.bit_length() - 1)) - 1 if v > 1 else 1


def pcp_high(mm, zone) -> int:
    return max(base_watermark(mm, zone, "low"), 4 * zone_batchsize(zone.managed_pages))


# --- the allocator's per-cpu lists ----------------------------------------------------------

class PerCpuPages:
    """``struct per_cpu_pages`` of the one CPU for one zone."""

    __slots__ = ("count", "high", "batch", "free_count", "alloc_factor", "prev_high_order",
                 "lists", "list_order", "allowed", "mt_movable", "mt_isolate", "thp_order")

    def __init__(self, mm, zone):
        prof = mm.profile
        self.count = 0
        self.free_count = 0
        self.alloc_factor = 0
        self.prev_high_order = False      # PCPF_PREV_FREE_HIGH_ORDER
        costly = prof.costly_order
        high_orders = prof.pcp_high_orders
        self.thp_order = prof.pageblock_order if high_orders else -1
        allowed = [False] * mm.nr_orders
        for o in range(mm.nr_orders):
            allowed[o] = (o <= costly if high_orders else o == 0) or o == self.thp_order
        self.allowed = tuple(allowed)
        n_low = MIGRATE_PCPTYPES * (costly + 1)
        self.lists = [deque() for _ in range(n_low + 2)]    # NR_PCP_LISTS (with NR_PCP_THP)
        self.list_order = [i // MIGRATE_PCPTYPES for i in range(n_low)] + [self.thp_order] * 2
        self.mt_movable = prof.mt_movable
        self.mt_isolate = prof.mt_isolate
        self.batch = 1
        self.high = 0
        self.update(mm, zone)

    def update(self, mm, zone) -> None:
        """zone_set_pageset_high_and_batch (high = high_min, no auto-tuning)."""
        self.batch = zone_batchsize(zone.managed_pages)
        self.high = pcp_high(mm, zone) if zone.managed_pages else 0

    def pindex(self, order: int, mt: int) -> int:
        """order_to_pindex: the list of (order, mt), mt one of MIGRATE_PCPTYPES.

        The kernel's ``MIGRATE_PCPTYPES * order + migratetype`` is the first list of
        order + 1 for any other type, and a block of the next order would be handed
        out as one of this order; so another type is an error here (callers map
        pageblock types above the pcp types to MOVABLE, as free_unref_page does, and
        prepare_alloc_pages refuses gfp masks that would give one).
        """
        if not 0 <= mt < MIGRATE_PCPTYPES:
            raise PextlabError(f"per-cpu lists hold MIGRATE_PCPTYPES only; migratetype {mt} "
                               f"(order {order}) has no pcp list")
        if order * MIGRATE_PCPTYPES >= len(self.lists) - 2:
            return len(self.lists) - 2 + (mt == self.mt_movable)
        return MIGRATE_PCPTYPES * order + mt

    def __repr__(self):
        return f"<pcp count {self.count} high {self.high} batch {self.batch}>"


def pcp_enabled(mm) -> bool:
    return mm.pcp_enabled


def setup_pcp(mm) -> None:
    """setup_per_cpu_pageset: give every zone its pcp lists (boot option pextlab.pcp=on)."""
    mm.pcp_enabled = True
    zone_pcp_update(mm)


def zone_pcp_update(mm) -> None:
    """Recompute high/batch of every zone (after watermarks or managed pages changed)."""
    if not pcp_enabled(mm):
        return
    for z in mm.all_zones():
        if z.pcp is None:
            z.pcp = PerCpuPages(mm, z)
        else:
            z.pcp.update(mm, z)


def free_pcppages_bulk(mm, zone, pcp: PerCpuPages, count: int, pindex: int) -> None:
    """mm/page_alloc.c free_pcppages_bulk: ``count`` pages back to the buddy lists,
    round-robin over the lists from ``pindex``, each list from its tail (oldest)."""
    count = min(count, pcp.count)
    if count <= 0:
        return
    lists = pcp.lists
    nl = len(lists)
    orders = pcp.list_order
    free_one = free_one_page
    sections = mm.sections
    shift, mask, pb = mm.section_shift, mm.section_mask, mm.pageblock_order
    pindex -= 1
    while count > 0:
        for _ in range(nl):
            pindex += 1
            if pindex >= nl:
                pindex = 0
            if lists[pindex]:
                break
        else:
            # pcp.count says pages remain but every list is empty: a corrupted pcp,
            # reported instead of searching the empty lists forever
            raise AssertionError(f"free_pcppages_bulk: node {zone.nid} zone {zone.name}: pcp "
                                 f"count {pcp.count} but every pcp list is empty")
        lst = lists[pindex]
        order = orders[pindex]
        n = 1 << order
        while True:
            pfn = lst.pop()
            count -= n
            pcp.count -= n
            sec = sections[pfn >> shift]
            mt = sec.pageblock_mt[(pfn & mask) >> pb]
            free_one(mm, zone, pfn, order, mt)
            tr = mm.trace
            if tr is not None and tr.live[EV_PCPU_DRAIN]:   # free_pcppages_bulk: trace_mm_page_pcpu_drain(page, order, mt)
                tr.event(mm, EV_PCPU_DRAIN, pfn, order, mt, 0, 0)
            if count <= 0 or not lst:
                break


def free_unref_page_commit(mm, zone, pcp: PerCpuPages, pfn: int, order: int, mt: int) -> None:
    """free_unref_page + free_unref_page_commit: onto the head of the pcp list; bulk-free
    to the buddy when the list reaches ``high`` (``mt``: the pageblock's, not isolate)."""
    if mt >= MIGRATE_PCPTYPES:
        mt = pcp.mt_movable
    pindex = pcp.pindex(order, mt)
    pcp.lists[pindex].appendleft(pfn)
    n = 1 << order
    pcp.count += n
    batch = pcp.batch
    free_high = False
    if order and order <= 3:
        free_high = pcp.free_count >= batch and pcp.prev_high_order
        pcp.prev_high_order = True
    elif pcp.prev_high_order:
        pcp.prev_high_order = False
    if pcp.free_count < (batch << PCP_BATCH_SCALE_MAX):
        pcp.free_count += n
    pcp.alloc_factor >>= 1
    high = 0 if free_high else pcp.high           # nr_pcp_high
    if pcp.count >= high:
        # nr_pcp_free
        if free_high:
            nr = min(pcp.count, batch << PCP_BATCH_SCALE_MAX)
        elif high < batch:
            nr = 1
        else:
            nr = min(max(pcp.free_count, batch), high - batch)
        free_pcppages_bulk(mm, zone, pcp, nr, pindex)


def nr_pcp_alloc(pcp: PerCpuPages, order: int) -> int:
    """mm/page_alloc.c nr_pcp_alloc (high fixed at high_min)."""
    base = pcp.batch
    high = pcp.high
    if high < base:
        return 1
    if order:
        batch = base
    else:
        batch = base << pcp.alloc_factor
        max_nr_alloc = max(high - pcp.count - base, base)
        if batch <= max_nr_alloc and pcp.alloc_factor < PCP_BATCH_SCALE_MAX:
            pcp.alloc_factor += 1
        batch = min(batch, max_nr_alloc)
    if batch > 1:
        batch = max(batch >> order, 2)
    return batch


def rmqueue_pcplist(mm, zone, pcp: PerCpuPages, order: int, mt: int, alloc_flags: int) -> int:
    """rmqueue_pcplist / __rmqueue_pcplist: the head of the (order, mt) list, refilled
    by rmqueue_bulk when empty.  Returns the pfn or -1."""
    pcp.free_count >>= 1
    pcp.prev_high_order = False
    lst = pcp.lists[pcp.pindex(order, mt)]
    if not lst:
        rmqueue = rmqueue_buddy
        got = 0
        for _ in range(nr_pcp_alloc(pcp, order)):
            p = rmqueue(mm, zone, order, mt, alloc_flags)
            if p < 0:
                break
            lst.append(p)                     # list_add_tail
            got += 1
        if not got:
            return -1
        pcp.count += got << order
    pcp.count -= 1 << order
    return lst.popleft()


def drain_zone_pages(mm, zone) -> int:
    """drain_pages_zone: the zone's pcp lists back to the buddy.  Returns pages drained."""
    pcp = zone.pcp
    if pcp is None or not pcp.count:
        return 0
    n = pcp.count
    free_pcppages_bulk(mm, zone, pcp, n, 0)
    return n


def drain_all_pages(mm, zone=None) -> int:
    """drain_all_pages(zone): every CPU's lists of ``zone`` (all zones for None)."""
    if zone is not None:
        return drain_zone_pages(mm, zone)
    return sum(drain_zone_pages(mm, z) for z in mm.all_zones())


def nr_pcp_pages(mm, zone=None) -> int:
    """Pages on the pcp lists of ``zone`` (all zones for None)."""
    zs = (zone,) if zone is not None else mm.all_zones()
    return sum(z.pcp.count for z in zs if z.pcp is not None)


def pcp_blocks(zone):
    """Yield (pfn, order, pindex) of every block on the zone's pcp lists."""
    pcp = zone.pcp
    if pcp is None:
        return
    for i, lst in enumerate(pcp.lists):
        o = pcp.list_order[i]
        for pfn in lst:
            yield pfn, o, i


def pcp_block_of(mm, pfn: int):
    """The pcp block containing ``pfn``: (head_pfn, order) or None (slow: walks the lists)."""
    if not pcp_enabled(mm):
        return None
    zone = mm.zone_of_pfn(pfn)
    if zone is None or zone.pcp is None:
        return None
    for head, o, _ in pcp_blocks(zone):
        if head <= pfn < head + (1 << o):
            return head, o
    return None


# --- proactive compaction's buffer (when the allocator has no pcp lists) ---------------------

class PcpBuffer(PcpBufferCore):
    """One CPU's pcp lists of one zone (order <= PAGE_ALLOC_COSTLY_ORDER).

    ``add`` (free_unref_page_commit), ``free_bulk`` (free_pcppages_bulk), ``drain``
    (drain_zone_pages), ``count`` and ``max_count`` are the compiled
    :class:`~._pcp.PcpBufferCore`'s; compaction's compiled source frees call ``add``
    as C."""

    def __init__(self, mm, zone, high: int | None = None):
        super().__init__(mm, zone, zone_batchsize(zone.managed_pages),
                         pcp_high(mm, zone) if high is None else int(high), PCP_BULK_MAX)
