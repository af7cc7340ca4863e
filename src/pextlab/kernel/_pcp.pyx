# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""Proactive compaction's pcp-like buffer, compiled (Cython; docs/compiled-core.md):
the list of freed blocks as two C arrays and the bulk free of the oldest as C calls to
``__free_one_page`` (``_buddy.pxd``), in the order of the Python it replaced (a deque
of (pfn, order) and a Python call per block).  ``pcp.PcpBuffer`` documents the model
and extends ``PcpBufferCore`` with its sizes; ``_compaction.pyx`` calls ``add_c``;
nothing else should.
"""
from cpython cimport array
import array as pyarray

from ._buddy cimport c_free_one_page
from ._geometry cimport Geometry
from ._mmzone cimport MemSection, Zone, section_at
from ._state cimport MMCore

from ..errors import PextlabError

__all__ = ["PcpBufferCore"]


cdef class PcpBufferCore:
    """One CPU's pcp lists of one zone (``pcp.PcpBuffer``): ``batch``, ``high``, the
    bulk free's cap ``bulk_max``; ``count`` pages held, ``max_count`` the most held."""

    def __init__(self, mm, zone, long batch, long high, long bulk_max):
        if not isinstance(mm, MMCore) or not isinstance(zone, Zone):
            raise PextlabError(f"a pcp buffer is of a machine's kernel state and one of its "
                               f"zones, got {type(mm).__name__} and {type(zone).__name__}")
        if batch < 1 or bulk_max < 1:
            raise PextlabError(f"a pcp buffer's batch and bulk size are >= 1 page, got "
                               f"{batch} and {bulk_max}")
        self.mm, self.zone = mm, zone
        self.batch, self.high, self.bulk_max = batch, high, bulk_max
        self.count = self.max_count = 0
        self.pfns = pyarray.array("q")
        self.orders = pyarray.array("q")
        self.head = 0

    def __len__(self):
        """Blocks held."""
        return len(self.pfns) - self.head

    def add(self, long pfn, long order):
        """free_unref_page_commit: onto the list; bulk-free when ``count >= high``."""
        self.add_c(pfn, order)

    def free_bulk(self, long nr):
        """free_pcppages_bulk: the oldest blocks back to the buddy lists, until ``nr``
        pages are freed or none is left."""
        self.free_bulk_c(nr)

    def drain(self):
        """drain_zone_pages: all back to the buddy lists.  Returns the pages drained."""
        cdef long n = self.count
        self.free_bulk_c(n)
        return n

    cdef int add_c(self, long pfn, long order) except -1:
        cdef Py_ssize_t n = len(self.pfns)
        if order < 0 or order >= 63:
            raise PextlabError(f"pcp buffer: order {order} of pfn {pfn:#x} is not a block order")
        array.resize_smart(self.pfns, n + 1)
        array.resize_smart(self.orders, n + 1)
        self.pfns.data.as_longlongs[n] = pfn
        self.orders.data.as_longlongs[n] = order
        self.count += 1 << order
        if self.count > self.max_count:
            self.max_count = self.count
        if self.count >= self.high:
            self.free_bulk_c(min(self.count, max(self.batch, self.bulk_max)))
        return 0

    cdef int free_bulk_c(self, long nr) except -1:
        # the oldest first, each to the free list of its pageblock's type now (mm/
        # page_alloc.c free_pcppages_bulk -> __free_one_page)
        cdef MMCore mm = self.mm
        cdef Geometry g = mm.geometry
        cdef long pb = g.pageblock_order
        cdef long pfn, order, mt
        cdef MemSection sec
        cdef Py_ssize_t end = len(self.pfns)
        while nr > 0 and self.head < end:
            pfn = self.pfns.data.as_longlongs[self.head]
            order = self.orders.data.as_longlongs[self.head]
            self.head += 1
            sec = section_at(g.sections, pfn >> g.shift)
            mt = (<bytearray>sec.pageblock_mt)[(pfn & g.mask) >> pb]
            c_free_one_page(mm, self.zone, pfn, order, mt)
            self.count -= 1 << order
            nr -= 1 << order
        if self.head == end:                    # all freed: the arrays start over
            array.resize(self.pfns, 0)
            array.resize(self.orders, 0)
            self.head = 0
        return 0
