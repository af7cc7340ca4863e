# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""``struct mem_section`` and ``struct zone`` as Cython classes (docs/compiled-core.md).

Their fields are C struct fields (``_mmzone.pxd``): the compiled core reads a zone's
counters and a section's page bytes without a Python attribute lookup, and Python
code reads and writes them by the same names as before.  Counters are C integers
(every writer writes ints).  The free lists are C lists (``_free_area.pyx``); the
per-order and per-migratetype counts and ``lowmem_reserve`` are C arrays that Python
sees as lists of fixed length (``Counters``), and the watermarks four C integers that
Python sees as a dict (``Watermark``).  Python code may still replace any of them
whole (``z.nr_free = [0] * n``, ``z.watermark = {...}``): the zone takes a copy.
:mod:`pextlab.kernel.mmzone` re-exports the classes, with the page flag bits this
module defines (its docstring has their table).

A copy (a snapshot, ``copy.deepcopy``) or a pickle holds every field by name.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from ._free_area cimport py_index

import numpy as np

from ..errors import PextlabError
from ._free_area import FreeArea
from .gfp import ZONE_NAMES

__all__ = ["MemSection", "Zone", "Counters", "Watermark", "WATERMARKS", "PG_BUDDY",
           "PG_RESERVED", "PG_HEAD", "PG_GUARD", "PG_HOLE", "MT_SHIFT", "MT_MASK"]

# enum zone_watermarks (include/linux/mmzone.h): WMARK_MIN, WMARK_LOW, WMARK_HIGH,
# WMARK_PROMO -- the keys of zone.watermark and the indexes of Watermark.v
WATERMARKS = ("min", "low", "high", "promo")

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


cdef class Counters:
    """A zone's counters as C int64s (``nr_free``, ``free_mt``, ``lowmem_reserve``), a
    list of ints of fixed length to Python: index, assign, ``+=`` on an item, slices,
    ``len``, iteration, ``==`` with a list."""

    def __cinit__(self, values):
        cdef list vals = list(values)
        self.n = len(vals)
        self.v = <int64_t *>PyMem_Malloc(max(self.n, 1) * sizeof(int64_t))
        if self.v == NULL:
            raise MemoryError()
        for i, x in enumerate(vals):
            self.v[i] = x

    def __dealloc__(self):
        PyMem_Free(self.v)

    def tolist(self):
        return [self.v[i] for i in range(self.n)]

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self.tolist()[i]
        return self.v[py_index(i, self.n, "counter index")]

    def __setitem__(self, i, value):
        if not isinstance(i, slice):
            self.v[py_index(i, self.n, "counter index")] = value
            return
        idx = range(self.n)[i]
        vals = list(value)
        if len(vals) != len(idx):
            raise PextlabError(f"a zone's counters keep their length: {len(vals)} values "
                               f"for {len(idx)} counters")
        for k, x in zip(idx, vals):
            self.v[k] = x

    def __iter__(self):
        return iter(self.tolist())

    def __eq__(self, other):
        if isinstance(other, Counters):
            other = other.tolist()
        elif not isinstance(other, list):
            return NotImplemented
        return self.tolist() == other

    def __repr__(self):
        return repr(self.tolist())

    def __reduce__(self):
        return (Counters, (self.tolist(),))

    def __array__(self, dtype=None, copy=None):
        # numpy's protocol: copy=False asks for no copy, and an array of these C values
        # is always one
        if copy is False:
            raise ValueError("a zone's counters are C values: an array of them is a copy "
                             "(np.array(counters) makes one)")
        return np.array(self.tolist(), dtype=np.int64 if dtype is None else dtype)


cdef long _wmark(key) except -1:
    # a watermark's name -> its index (enum zone_watermarks)
    try:
        return WATERMARKS.index(key)
    except ValueError:
        raise KeyError(key) from None


cdef class Watermark:
    """``zone->_watermark[]`` as ``wmark_pages()`` reads it (include/linux/mmzone.h):
    four C integers, a dict of ``min``, ``low``, ``high``, ``promo`` to Python.

    Replacing ``zone.watermark`` makes a new one, so a holder of the old one can tell
    by identity that the watermarks were recalculated (kernel/buddy.py's boost record:
    mm/page_alloc.c __setup_per_zone_wmarks zeroes watermark_boost)."""

    def __cinit__(self, values):
        if set(values) != set(WATERMARKS):
            raise PextlabError(f"a zone's watermarks are {', '.join(WATERMARKS)}; got "
                               f"{', '.join(map(str, values))}")
        for k in WATERMARKS:
            self.v[_wmark(k)] = values[k]

    def __getitem__(self, key):
        return self.v[_wmark(key)]

    def __setitem__(self, key, value):
        self.v[_wmark(key)] = value

    def get(self, key, default=None):
        return self.v[WATERMARKS.index(key)] if key in WATERMARKS else default

    def __contains__(self, key):
        return key in WATERMARKS

    def __len__(self):
        return len(WATERMARKS)

    def __iter__(self):
        return iter(WATERMARKS)

    def keys(self):
        return list(WATERMARKS)

    def values(self):
        return [self.v[i] for i in range(4)]

    def items(self):
        return list(zip(WATERMARKS, self.values()))

    def __eq__(self, other):
        if not isinstance(other, (Watermark, dict)):
            return NotImplemented
        return dict(self.items()) == dict(other)

    def __repr__(self):
        return repr(dict(self.items()))

    def __reduce__(self):
        return (Watermark, (dict(self.items()),))


cdef Counters _counters(value, Py_ssize_t n, str what):
    # what a zone holds for a whole new list of counts: a copy in C of n ints (a
    # copy's own Counters as they are)
    if isinstance(value, Counters):
        c = <Counters>value
    elif isinstance(value, list):
        c = Counters(value)
    else:
        raise TypeError(f"zone.{what} takes a list of ints, not {type(value).__name__}")
    if n >= 0 and c.n != n:
        raise PextlabError(f"zone.{what} has {n} entries, not {c.n}")
    return c


cdef class Zone:
    """``struct zone``: span, counters, watermarks and the buddy free area.

    ``free_area[order][mt]`` is an insertion-ordered free list with a dict's interface
    (``_free_area.pyx``): ``d[pfn] = None`` adds at the head, ``d.popitem()`` takes the
    head (LIFO, as ``list_add`` + ``list_first_entry`` do), ``del d[pfn]`` removes.
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
        self.fa = FreeArea(nr_orders, nr_mt)
        self.nrfree = Counters([0] * nr_orders)   # free_area[order].nr_free
        self.free_pages = 0                        # NR_FREE_PAGES
        self.freemt = Counters([0] * nr_mt)       # free pages on each migratetype's lists
        self.wmark = Watermark(dict.fromkeys(WATERMARKS, 0))
        self.lowmem = Counters([0] * len(ZONE_NAMES))
        self.nr_reserved_highatomic = 0
        self.pcp = None     # pextlab.kernel.pcp.PerCpuPages (boot option pextlab.pcp=on)

    def __reduce__(self):
        return (_blank, (type(self),), _state(self, _ZONE_FIELDS))

    def __setstate__(self, state):
        _set_state(self, state)

    @property
    def free_area(self):
        return self.fa

    @free_area.setter
    def free_area(self, value):
        if not isinstance(value, FreeArea):
            raise TypeError(f"zone.free_area is a FreeArea, not {type(value).__name__}")
        self.fa = value

    @property
    def nr_free(self):
        return self.nrfree

    @nr_free.setter
    def nr_free(self, value):
        self.nrfree = _counters(value, self.fa.nr_orders if self.fa is not None else -1,
                                "nr_free")

    @property
    def free_mt(self):
        return self.freemt

    @free_mt.setter
    def free_mt(self, value):
        self.freemt = _counters(value, self.fa.nr_mt if self.fa is not None else -1, "free_mt")

    @property
    def lowmem_reserve(self):
        return self.lowmem

    @lowmem_reserve.setter
    def lowmem_reserve(self, value):
        self.lowmem = _counters(value, len(ZONE_NAMES), "lowmem_reserve")

    @property
    def watermark(self):
        return self.wmark

    @watermark.setter
    def watermark(self, value):
        self.wmark = value if isinstance(value, Watermark) else Watermark(value)

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
