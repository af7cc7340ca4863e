# A zone's buddy free lists in C (kernel/_free_area.pyx): the compiled buddy
# (_buddy.pyx) adds, removes and pops blocks through these methods without a Python call.
from libc.stdint cimport int32_t, int64_t, uint64_t


cdef class FreeArea:
    cdef readonly long nr_orders, nr_mt
    cdef long nlists
    # the blocks: one slot per free block head, linked into its list
    cdef int64_t *pfn          # slot -> pfn
    cdef int32_t *lid          # slot -> its list (order * nr_mt + mt)
    cdef int32_t *older        # slot -> the next slot toward the tail (list_head.next)
    cdef int32_t *newer        # slot -> the next slot toward the head (list_head.prev)
    cdef int32_t cap, top, free_slot
    # open-addressed table (linear probing): (pfn, list) -> slot, -1 empty
    cdef int32_t *table
    cdef int64_t tmask
    cdef int tbits
    cdef int64_t nblocks
    # per list: head (newest), tail (oldest), number of blocks
    cdef int32_t *head
    cdef int32_t *tail
    cdef int64_t *count
    cdef uint64_t *changes      # per list: changes, for an iterator's "changed during iteration"

    cdef int add(self, int64_t pfn, long order, long mt) except -1
    cdef int remove(self, int64_t pfn, long order, long mt) except -1
    cdef int64_t pop_head(self, long order, long mt) except? -2


# a Python index (negative from the end) checked against n; IndexError names ``what``
cdef long py_index(i, Py_ssize_t n, str what) except -1
