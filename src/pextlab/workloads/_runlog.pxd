# The run log's C records (workloads/_runlog.pyx defines them, workloads/_replay.pyx
# uses them directly, without a Python call).
from libc.stdint cimport int64_t

# one pending free of the expiry heap: the tuple layout the Python heap had
cdef struct Pending:
    int64_t time, seq, pfn, order, ti, si, k

cdef class ExpiryHeap:
    cdef Pending *a
    cdef Py_ssize_t n, cap
    cdef void reserve(self, Py_ssize_t need) except *
    cdef void siftdown(self, Py_ssize_t startpos, Py_ssize_t pos) noexcept
    cdef void siftup(self, Py_ssize_t pos) noexcept
    cdef void put(self, Pending e) except *
    cdef Pending take(self) noexcept
    cdef void heapify(self) noexcept

cdef class Int64Buffer:
    cdef int64_t *a
    cdef Py_ssize_t n, cap
    cdef int64_t *room(self, Py_ssize_t k) except NULL
