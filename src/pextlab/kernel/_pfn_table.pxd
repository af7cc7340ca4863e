# The C pfn table (kernel/_pfn_table.pyx defines it): kernel/_vmscan.pyx (LruList) and
# the run log (workloads/_runlog.pyx re-exports it as BlockTable, workloads/_replay.pyx
# calls it) use its C methods directly, without a Python call.
cimport cython
from libc.stdint cimport int32_t, int64_t

@cython.final                           # callers use its C methods directly, no vtable
cdef class PfnTable:
    cdef int64_t *pfn                   # the entries' keys, in insertion order (dead ones skipped)
    cdef int64_t *val                   # w values per entry
    cdef char *dead
    cdef int32_t *table                 # open-addressed: entry index, EMPTY or DUMMY
    cdef Py_ssize_t w, n, live, cap
    cdef Py_ssize_t head                # every entry before it is dead: the oldest live is at or after it
    cdef Py_ssize_t rebuilds            # rebuilds so far: an iterator's entry indices hold until the next
    cdef int tbits
    cdef Py_ssize_t home(self, int64_t key) noexcept
    cdef int rebuild(self, Py_ssize_t cap) except -1
    cdef Py_ssize_t slot_of(self, int64_t key) noexcept
    cdef int64_t *put(self, int64_t key) except NULL
    cdef Py_ssize_t remove(self, int64_t key) noexcept
    cdef bint discard(self, int64_t key) noexcept
    cdef Py_ssize_t oldest(self) noexcept
    cdef tuple record(self, Py_ssize_t e)
    cdef Py_ssize_t entry(self, key) except -2
    cdef PfnTable clone(self)


cdef class PfnKeyIterator:
    cdef PfnTable t                     # None once exhausted
    cdef Py_ssize_t pos, live, rebuilds
