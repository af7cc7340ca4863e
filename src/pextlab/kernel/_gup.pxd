# mm/gup.c's per-block work (kernel/_gup.pyx), for the runner's replay
# (workloads/_replay.pyx), which pins and unpins a pinning task's blocks as C.
from ._state cimport MMCore

cdef bint c_longterm_pinnable(MMCore mm, long pfn) except -1
cdef int c_pin(MMCore mm, long pfn) except -1
cdef int c_unpin(MMCore mm, long pfn) except -1
