# The compiled buddy functions other compiled modules call directly (cimport), without
# a Python call: kernel/_buddy.pyx defines them, kernel/_fastpath.pyx and
# kernel/_compaction.pyx use them.
from ._geometry cimport Geometry
from ._mmzone cimport Zone
from ._state cimport MMCore

cdef void c_mark(Geometry g, long pfn, long bits, long order) except *
cdef void c_del_page_from_free_list(Geometry g, Zone zone, long pfn, long order,
                                    long mt) except *
cdef long c_rmqueue_smallest(MMCore mm, Zone zone, long order, long mt) except? -2
cdef void c_free_one_page(MMCore mm, Zone zone, long pfn, long order, long mt) except *
cdef bint c_zone_watermark_ok(MMCore mm, Zone zone, long order, long mark, long high,
                              long alloc_flags) except -1
