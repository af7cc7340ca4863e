# The fields of kernel/_state.pyx's MMCore (the base of state.MM), for the compiled
# modules that cimport it: what they read or write on every allocation and free.
from ._geometry cimport Geometry

cdef class MMCore:
    cdef public long clock_ns, pid, tgid, comm_id, current_handle, current_nid
    cdef public long nr_alloc_events, nr_free_events, nr_guard_pages, guard_minorder
    cdef public object comm
    cdef public object alloc_hook, free_hook, alloc_run_hook, free_run_hook, split_hook
    cdef public object page_ext_guard_hook, trace, poison
    cdef public Geometry geometry
    cdef public dict zonelists, _ac_cache, _gfp_cache
    cdef public bint mobility_grouping
