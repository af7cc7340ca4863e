# The compiled kernel side of fragger (_kernel_side.pyx) as the other compiled module of
# the package sees it: _process.pyx calls these methods as C functions (cimport), without
# a Python call per page.
from cpython cimport array

from ...kernel._state cimport MMCore


cdef class PageSlots:
    cdef public array.array lru     # slot -> pfn ('q'), -1: empty
    cdef public array.array rmap    # pfn -> slot ('i'), -1: none
    cdef Py_ssize_t add_c(self, long pfn) except -1
    cdef long take_c(self, Py_ssize_t s) except? -2


cdef class Slab:
    cdef public long pfn
    cdef public long inuse
    cdef public str spec_key


cdef class KernelCore


cdef class KmemCache:
    cdef public KernelCore kern
    cdef public str key
    cdef public object spec
    cdef public list partial          # slabs with free objects (last = current)
    cdef public list empty            # empty slabs kept (min_partial)
    cdef public long nr_slabs, nr_objs, min_partial
    cdef int kid
    cdef long objs, order
    cdef Slab alloc_c(self)
    cdef int free_c(self, Slab s) except -1


cdef class KernelCore:
    cdef public MMCore mm
    cdef public object po             # mm.page_owner (None without page_owner)
    cdef public PageSlots lru
    cdef public long failed
    cdef public long next_va
    cdef public dict pte_ref, pte_pfn, pmd_ref, pmd_pfn
    cdef list names, slab, caches, counted
    cdef dict ids
    cdef array.array resolved, gfp, handle, fhandle, order, count
    cdef int k_anon, k_pte, k_pmd
    cdef int resolve(self, int kid) except -1
    cdef int set_task_c(self, str comm, long pid, long tgid) except -1
    cdef long alloc_c(self, int kid, long order) except? -2
    cdef int free_c(self, int kid, long pfn, long order) except -1
    cdef long map_c(self, int kid, list slots) except? -2
    cdef long touch_anon_c(self, long va, list slots) except? -2
    cdef Slab obj_c(self, int kid)
    cdef int unobj_c(self, int kid, Slab s) except -1
