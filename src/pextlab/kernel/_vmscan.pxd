# vmscan's LRU bookkeeping as C functions, for the compiled modules that cimport them
# (workloads/_replay.pyx): kernel/_vmscan.pyx defines them, kernel/vmscan.py re-exports
# its def wrappers, so every caller shares one implementation.
from ._pfn_table cimport PfnTable
from ._state cimport MMCore

cdef class LruList:
    cdef PfnTable blocks        # pfn -> (order | holder slot << ORDER_BITS,): C, in list order
    cdef list holders           # holder slot -> holder (None: a free slot)
    cdef Py_ssize_t *nr         # holder slot -> its blocks on this list (0: a free slot)
    cdef Py_ssize_t slot_of(self, holder) except -1
    cdef void forget(self, long entry) except *
    cdef void c_set(self, long pfn, long order, object holder) except *
    cdef bint c_pop(self, long pfn) except -1
    cdef tuple entry(self, long e)
    cdef Py_ssize_t find(self, pfn) except -2

cdef void c_lru_add(MMCore mm, long pfn, long order, object holder) except *
cdef void c_lru_del(MMCore mm, long pfn) except *
