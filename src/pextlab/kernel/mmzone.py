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

``MemSection`` and ``Zone`` are Cython classes (:mod:`pextlab.kernel._mmzone`), whose
fields the compiled core reads as C struct fields; they are imported from here, with a
zone's free lists (``FreeArea``, :mod:`pextlab.kernel._free_area`), counters
(``Counters``) and watermarks (``Watermark``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# compiled: kernel/_mmzone.pyx and kernel/_free_area.pyx (the pextlab package checks that
# they are built): the two structs as C fields for the compiled core, the zone's free
# lists, counters and watermarks in C, and the flag bits above
from ._free_area import FreeArea
from ._mmzone import (MemSection, Zone, Counters, Watermark, PG_BUDDY, PG_RESERVED, PG_HEAD,
                      PG_GUARD, PG_HOLE, MT_SHIFT, MT_MASK)

__all__ = ["covered_by_free", "folio_maybe_dma_pinned", "pinned_heads", "GUP_PIN_COUNTING_BIAS",
           "PG_BUDDY", "PG_RESERVED", "PG_HEAD", "PG_GUARD", "PG_HOLE", "MT_SHIFT", "MT_MASK",
           "MemSection", "Zone", "FreeArea", "Counters", "Watermark", "PglistData"]

# include/linux/mm.h: an order-0 page's refcount grows by this much per FOLL_PIN
GUP_PIN_COUNTING_BIAS = 1 << 10


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
