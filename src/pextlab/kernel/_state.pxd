# The fields of kernel/_state.pyx's MMCore (the base of state.MM), for the compiled
# modules that cimport it: what they read or write on every allocation and free.
from ._geometry cimport Geometry

cdef enum:
    AC_SLOTS = 64                       # AllocContextCache's table: a power of two

# one slot of AllocContextCache's C table: prepare_alloc_pages' result for (gfp, nid)
cdef struct AcSlot:
    bint used
    long gfp, nid, mt, high, flags

cdef class AllocContextCache:
    cdef dict entries                   # (gfp, nid) -> (mt, zones, high, alloc_flags)
    cdef AcSlot slots[AC_SLOTS]
    cdef list slot_zones                # the zones tuple of each slot
    cdef AcSlot *c_get(self, long gfp, long nid) except? NULL
    cdef tuple c_zones(self, AcSlot *s)

cdef class MMCore:
    cdef public long clock_ns, pid, tgid, comm_id, current_handle, current_nid
    cdef public long nr_alloc_events, nr_free_events, nr_guard_pages, guard_minorder
    cdef public object comm
    cdef public object alloc_hook, free_hook, alloc_run_hook, free_run_hook, split_hook
    cdef public object page_ext_guard_hook, trace, poison
    cdef public Geometry geometry
    cdef public dict zonelists, _gfp_cache, lru
    cdef public AllocContextCache _ac_cache
    cdef public bint mobility_grouping
