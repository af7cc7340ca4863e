# vmscan's LRU bookkeeping as C functions, for the compiled modules that cimport them
# (workloads/_replay.pyx): kernel/_vmscan.pyx defines them, kernel/vmscan.py re-exports
# its def wrappers, so every caller shares one implementation.
from ._state cimport MMCore

cdef void c_lru_add(MMCore mm, long pfn, long order, object holder) except *
cdef void c_lru_del(MMCore mm, long pfn) except *
