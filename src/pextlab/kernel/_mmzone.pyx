# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""``struct mem_section`` and ``struct zone`` as Cython classes (docs/compiled-core.md).

Their fields are C struct fields (``_mmzone.pxd``): the compiled core reads a zone's
counters and a section's page bytes without a Python attribute lookup, and Python
code reads and writes them by the same names as before.  Counters are C integers
(every writer writes ints); the free lists, the per-order and per-migratetype
counts and the watermarks stay Python lists and dicts, which Python code indexes
and replaces.  :mod:`pextlab.kernel.mmzone` re-exports both classes, with the page
flag bits this module defines (its docstring has their table).

A copy (a snapshot, ``copy.deepcopy``) or a pickle holds every field by name.
"""
import numpy as np

from .gfp import ZONE_NAMES

__all__ = ["MemSection", "Zone", "PG_BUDDY", "PG_RESERVED", "PG_HEAD", "PG_GUARD",
           "PG_HOLE", "MT_SHIFT", "MT_MASK"]

# struct page's flags byte (pextlab.kernel.mmzone's table)
PG_BUDDY = 0x01
PG_RESERVED = 0x02
PG_HEAD = 0x04
PG_GUARD = 0x08
MT_SHIFT = 4
MT_MASK = 0x70
PG_HOLE = 0x80

_SECTION_FIELDS = ("nr", "start_pfn", "nid", "nids", "present", "online", "flags", "order",
                   "pageblock_mt", "page_ext", "nr_present_pages", "early", "pincount")
_ZONE_FIELDS = ("nid", "idx", "name", "zone_start_pfn", "spanned_pages", "present_pages",
                "present_early_pages", "managed_pages", "cma_pages", "free_area", "nr_free",
                "free_pages", "free_mt", "watermark", "lowmem_reserve",
                "nr_reserved_highatomic", "pcp")


def _blank(cls):
    # the object a copy or an unpickle fills in (__setstate__), made without __init__
    return cls.__new__(cls)


cdef dict _state(obj, tuple names):
    return {name: getattr(obj, name) for name in names}


cdef void _set_state(obj, dict state) except *:
    for name, value in state.items():
        setattr(obj, name, value)


cdef class MemSection:
    """One memory section (include/linux/mmzone.h ``struct mem_section``)."""

    def __init__(self, long nr, long pages_per_section, long pageblocks_per_section, long nid):
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

    def __reduce__(self):
        return (_blank, (type(self),), _state(self, _SECTION_FIELDS))

    def __setstate__(self, state):
        _set_state(self, state)

    def flags_np(self):
        return np.frombuffer(self.flags, dtype=np.uint8)

    def order_np(self):
        return np.frombuffer(self.order, dtype=np.uint8)

    def pageblock_np(self):
        return np.frombuffer(self.pageblock_mt, dtype=np.uint8)


cdef class Zone:
    """``struct zone``: span, counters, watermarks and the buddy free area.

    ``free_area[order][mt]`` is a dict used as an insertion-ordered free list:
    ``d[pfn] = None`` adds at the head, ``d.popitem()`` takes the head (LIFO,
    as ``list_add`` + ``list_first_entry`` do), ``del d[pfn]`` removes.
    """

    def __init__(self, long nid, long idx, long nr_orders, long nr_mt):
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

    def __reduce__(self):
        return (_blank, (type(self),), _state(self, _ZONE_FIELDS))

    def __setstate__(self, state):
        _set_state(self, state)

    def nr_pcp_pages(self):
        """Pages on this zone's per-cpu lists (0 without them)."""
        return self.pcp.count if self.pcp is not None else 0

    @property
    def zone_end_pfn(self):
        return self.zone_start_pfn + self.spanned_pages

    def populated(self):
        return self.present_pages > 0

    def contains(self, pfn):
        return self.zone_start_pfn <= pfn < self.zone_start_pfn + self.spanned_pages

    def __repr__(self):
        return (f"<Zone node {self.nid} {self.name} pfn {self.zone_start_pfn:#x}+{self.spanned_pages}"
                f" present {self.present_pages} managed {self.managed_pages} free {self.free_pages}>")
