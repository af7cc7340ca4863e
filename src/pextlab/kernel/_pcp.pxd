# Proactive compaction's pcp-like buffer (kernel/_pcp.pyx), for the compiled compaction
# (kernel/_compaction.pyx), which frees the migrated sources into it as C calls.
from cpython cimport array

from ._mmzone cimport Zone
from ._state cimport MMCore


cdef class PcpBufferCore:
    cdef public MMCore mm
    cdef public Zone zone
    cdef public long batch, high, bulk_max, count, max_count
    cdef array.array pfns, orders       # the blocks held, oldest first from ``head``
    cdef Py_ssize_t head

    cdef int add_c(self, long pfn, long order) except -1
    cdef int free_bulk_c(self, long nr) except -1
