"""Per-cpu page lists (mm/page_alloc.c ``struct per_cpu_pages``), as far as the model uses them.

The allocation fast path of pextlab has no per-cpu lists: frees go straight to the
buddy lists (documented in ``page_alloc``).  Where the lists change what the
kernel does -- proactive compaction frees its migrated sources to the pcp lists
and judges its progress on the buddy lists only, so it compacts well past its
low mark; ``/proc/pagetypeinfo`` with page_owner drains them before the mixed
block count -- a :class:`PcpBuffer` holds the freed pages:

* ``high``: the zone's low watermark (``zone_highsize``: low watermark / local
  CPUs, one CPU here; the kernel's auto-tuning lets it grow to managed/8 -- the
  frag-s1 guest showed ~14k pages on 1 GiB, low = 13,863);
* ``batch``: ``zone_batchsize`` (63 on 1 GiB);
* a free that brings ``count`` to ``high`` frees the oldest pages in one bulk of
  up to ``SWAP_CLUSTER_MAX << CONFIG_PCP_BATCH_SCALE_MAX`` (1024) pages
  (``free_pcppages_bulk`` takes from the tail);
* ``drain()`` is ``drain_zone_pages``: everything back to the buddy lists, where it
  merges.
"""
from __future__ import annotations

from collections import deque

from . import page_alloc

__all__ = ["PcpBuffer", "zone_batchsize", "pcp_high"]

PCP_BULK_MAX = 32 << 5          # SWAP_CLUSTER_MAX << CONFIG_PCP_BATCH_SCALE_MAX


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
    return max(page_alloc.base_watermark(mm, zone, "low"), 4 * zone_batchsize(zone.managed_pages))


class PcpBuffer:
    """One CPU's pcp lists of one zone (order <= PAGE_ALLOC_COSTLY_ORDER)."""

    def __init__(self, mm, zone, high: int | None = None):
        self.mm = mm
        self.zone = zone
        self.batch = zone_batchsize(zone.managed_pages)
        self.high = pcp_high(mm, zone) if high is None else int(high)
        self.pages: deque = deque()
        self.count = 0
        self.max_count = 0

    def add(self, pfn: int, order: int) -> None:
        """free_unref_page_commit: onto the list; bulk-free when ``count >= high``."""
        self.pages.append((pfn, order))
        self.count += 1 << order
        if self.count > self.max_count:
            self.max_count = self.count
        if self.count >= self.high:
            self.free_bulk(min(self.count, max(self.batch, PCP_BULK_MAX)))

    def free_bulk(self, nr: int) -> None:
        mm, zone = self.mm, self.zone
        free_one = page_alloc.__dict__["__free_one_page"]
        pb = mm.pageblock_order
        while nr > 0 and self.pages:
            pfn, order = self.pages.popleft()
            sec = mm.sections[pfn >> mm.section_shift]
            mt = sec.pageblock_mt[(pfn & mm.section_mask) >> pb]
            free_one(mm, zone, pfn, order, mt)
            self.count -= 1 << order
            nr -= 1 << order

    def drain(self) -> int:
        """drain_zone_pages: all back to the buddy lists.  Returns the pages drained."""
        n = self.count
        self.free_bulk(n)
        return n
