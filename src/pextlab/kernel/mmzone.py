"""Nodes, zones, memory sections and the per-page state ("struct page").

Mirrors include/linux/mmzone.h.  The simulator's ``struct page`` is two bytes
per page held in ``bytearray`` s of one memory section each (``MemSection.flags``
and ``MemSection.order``), allocated when the section gets a memmap, as
SPARSEMEM does.  ``flags`` packs:

====  ===========  =============================================================
bit   name         meaning
====  ===========  =============================================================
0     PG_BUDDY     head of a free buddy block; ``order`` holds its order
1     PG_RESERVED  memblock-reserved (kernel image, memmap, firmware, ...)
2     PG_HEAD      head of an allocated block; ``order`` holds its order
3     PG_GUARD     head of a debug guard block (mm/debug_page_alloc.c)
4-6   mt           free-list migratetype of a buddy/guard head, or the
                   migratetype of an allocated head (gfp_migratetype)
7     PG_HOLE      no RAM behind this pfn (also PG_RESERVED)
====  ===========  =============================================================

Tail pages of an allocated block have flags 0.  Pins (``pin_user_pages``,
:mod:`pextlab.kernel.gup`) are counted per allocated head in ``MemSection.pincount``,
an int32 array created with a section's first pin (the kernel's
``GUP_PIN_COUNTING_BIAS`` in an order-0 page's refcount, ``_pincount`` of a large
folio): ``folio_maybe_dma_pinned`` reads it.  Pageblock migratetypes are one
byte per pageblock in ``MemSection.pageblock_mt`` (the kernel's
``usage->pageblock_flags``).  Touch these bytearrays per item in hot paths
(fast) and through ``numpy.frombuffer`` views for whole-section work.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gfp import ZONE_NAMES

__all__ = ["covered_by_free", "folio_maybe_dma_pinned", "pinned_heads", "GUP_PIN_COUNTING_BIAS",
           "PG_BUDDY", "PG_RESERVED", "PG_HEAD", "PG_GUARD", "PG_HOLE", "MT_SHIFT", "MT_MASK",
           "MemSection", "Zone", "PglistData"]

PG_BUDDY = 0x01
PG_RESERVED = 0x02
PG_HEAD = 0x04
PG_GUARD = 0x08
MT_SHIFT = 4
MT_MASK = 0x70
PG_HOLE = 0x80

# include/linux/mm.h: an order-0 page's refcount grows by this much per FOLL_PIN
GUP_PIN_COUNTING_BIAS = 1 << 10


class MemSection:
    """One memory section (include/linux/mmzone.h ``struct mem_section``)."""

    __slots__ = ("nr", "start_pfn", "nid", "nids", "present", "online", "flags", "order",
                 "pageblock_mt", "page_ext", "nr_present_pages", "early", "pincount")

    def __init__(self, nr: int, pages_per_section: int, pageblocks_per_section: int, nid: int):
        self.nr = nr
        self.start_pfn = nr * pages_per_section
        self.nid = nid              # the node that made it present (memory_present: the lowest)
        self.nids = (nid,)          # every node with memory in it (two across a numa=fake boundary)
        self.present = False        # SECTION_MARKED_PRESENT: has RAM, memmap allocated
        self.online = False         # SECTION_IS_ONLINE
        # memmap: every page starts as a reserved hole until RAM is registered
        self.flags = bytearray([PG_HOLE | PG_RESERVED]) * pages_per_section
        self.order = bytearray(pages_per_section)
        # memmap_init() marks every pageblock MIGRATE_MOVABLE (value set by caller)
        self.pageblock_mt = bytearray(pageblocks_per_section)
        self.page_ext = None        # section->page_ext (pextlab.kernel.page_ext.PageExtTable)
        self.nr_present_pages = 0
        self.early = True           # boot memory (not hot-added)
        self.pincount = None        # int32 per page, FOLL_PIN count of allocated heads (gup)

    def flags_np(self) -> np.ndarray:
        return np.frombuffer(self.flags, dtype=np.uint8)

    def order_np(self) -> np.ndarray:
        return np.frombuffer(self.order, dtype=np.uint8)

    def pageblock_np(self) -> np.ndarray:
        return np.frombuffer(self.pageblock_mt, dtype=np.uint8)


class Zone:
    """``struct zone``: span, counters, watermarks and the buddy free area.

    ``free_area[order][mt]`` is a dict used as an insertion-ordered free list:
    ``d[pfn] = None`` adds at the head, ``d.popitem()`` takes the head (LIFO,
    as ``list_add`` + ``list_first_entry`` do), ``del d[pfn]`` removes.
    """

    __slots__ = ("nid", "idx", "name", "zone_start_pfn", "spanned_pages", "present_pages",
                 "managed_pages", "free_area", "nr_free", "free_pages", "free_mt",
                 "watermark", "lowmem_reserve", "cma_pages", "present_early_pages",
                 "nr_reserved_highatomic", "pcp")

    def __init__(self, nid: int, idx: int, nr_orders: int, nr_mt: int):
        self.nid = nid
        self.idx = idx
        self.name = ZONE_NAMES[idx]
        self.zone_start_pfn = 0
        self.spanned_pages = 0
        self.present_pages = 0
        self.present_early_pages = 0
        self.managed_pages = 0
        self.cma_pages = 0
        self.free_area = [[{} for _ in range(nr_mt)] for _ in range(nr_orders)]
        self.nr_free = [0] * nr_orders          # free_area[order].nr_free
        self.free_pages = 0                      # NR_FREE_PAGES
        self.free_mt = [0] * nr_mt               # free pages on each migratetype's lists
        self.watermark = {"min": 0, "low": 0, "high": 0, "promo": 0}
        self.lowmem_reserve = [0] * len(ZONE_NAMES)
        self.nr_reserved_highatomic = 0
        self.pcp = None     # pextlab.kernel.pcp.PerCpuPages (boot option pextlab.pcp=on)

    def nr_pcp_pages(self) -> int:
        """Pages on this zone's per-cpu lists (0 without them)."""
        return self.pcp.count if self.pcp is not None else 0

    @property
    def zone_end_pfn(self) -> int:
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        return self.present_pages > 0

    def contains(self, pfn: int) -> bool:
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages

    def __repr__(self):
        return (f"<Zone node {self.nid} {self.name} pfn {self.zone_start_pfn:#x}+{self.spanned_pages}"
                f" present {self.present_pages} managed {self.managed_pages} free {self.free_pages}>")


@dataclass
class PglistData:
    """``pg_data_t`` of one NUMA node."""
    nid: int
    node_start_pfn: int = 0
    node_spanned_pages: int = 0
    node_present_pages: int = 0
    zones: list = field(default_factory=list)
    node_page_ext: object = None      # FLATMEM: the node's page_ext table

    @property
    def node_end_pfn(self) -> int:
        return self.node_start_pfn + self.node_spanned_pages


def folio_maybe_dma_pinned(sec, off: int) -> bool:
    """include/linux/mm.h folio_maybe_dma_pinned: the block whose head is ``off`` in
    ``sec`` holds at least one FOLL_PIN pin."""
    pc = sec.pincount
    return pc is not None and pc[off] > 0


def pinned_heads(sec, idx: np.ndarray) -> np.ndarray:
    """Boolean mask over head offsets ``idx`` of ``sec``: pinned ones."""
    pc = sec.pincount
    if pc is None:
        return np.zeros(len(idx), dtype=bool)
    return pc[idx] > 0


def covered_by_free(flags: np.ndarray, order: np.ndarray, bits: int = PG_BUDDY) -> np.ndarray:
    """Boolean mask of pages inside free buddy blocks (``bits``: also PG_GUARD)."""
    n = len(flags)
    heads = np.flatnonzero((flags & bits) != 0)      # nonzero of a bool array: the fast one
    if not len(heads):
        return np.zeros(n, dtype=bool)
    ends = np.minimum(heads + (np.int64(1) << order[heads].astype(np.int64)), n)
    cover = np.zeros(n + 1, dtype=np.int32)
    cover[heads] = 1
    np.subtract.at(cover, ends, 1)
    return np.cumsum(cover[:n], dtype=np.int32) > 0
