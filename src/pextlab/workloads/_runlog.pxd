# The run log's C records (workloads/_runlog.pyx defines them, workloads/_replay.pyx
# uses them directly, without a Python call).  Its per-block tables are the kernel's
# C pfn table (kernel/_pfn_table.pxd PfnTable, the log's BlockTable).
from libc.stdint cimport int64_t

# one pending free of the expiry heap: the tuple layout the Python heap had
cdef struct Pending:
    int64_t time, seq, pfn, order, ti, si, k

# the heap array holds an entry's key and the slot of the rest of it, so that a sift
# moves 24 bytes, not 56, and compares keys that sit closer together
cdef struct HeapKey:
    int64_t time, seq, slot

cdef struct Payload:
    int64_t pfn, order, ti, si, k

cdef class ExpiryHeap:
    cdef HeapKey *a
    cdef Payload *p             # by slot
    cdef int64_t *free_slots    # the slots of entries taken out, reused first
    cdef Py_ssize_t n, cap, nfree, top     # top: slots ever used (top - n of them free)
    cdef void reserve(self, Py_ssize_t need) except *
    cdef void siftdown(self, Py_ssize_t startpos, Py_ssize_t pos) noexcept
    cdef void siftup(self, Py_ssize_t pos) noexcept
    cdef void put(self, Pending e) except *
    cdef Pending take(self) noexcept
    cdef void heapify(self) noexcept
    cdef Pending entry(self, Py_ssize_t i) noexcept

cdef class Int64Buffer:
    cdef int64_t *a
    cdef Py_ssize_t n, cap
    cdef int64_t *room(self, Py_ssize_t k) except NULL
    cdef int put_event(self, int64_t t, int64_t ev, int64_t pfn, int64_t order, int64_t task,
                       int64_t slot, int64_t zone_mt) except -1
