# page_owner's record table and hooks (kernel/_page_owner.pyx), for the compiled
# allocator (kernel/_fastpath.pyx), which calls the hooks as C functions.
from libc.stdint cimport int64_t

from ._page_ext cimport PageExtArrays
from ._state cimport MMCore

cdef enum:
    NF = 12                     # int64 fields per record row


cdef class FrozenRows:
    cdef readonly tuple chunks
    cdef object __weakref__


cdef class RowMemory:
    cdef char *p
    cdef size_t nbytes
    cdef readonly Py_ssize_t rows
    cdef int exports
    cdef Py_ssize_t shape[2]
    cdef Py_ssize_t strides[2]

    cdef size_t _bytes(self, Py_ssize_t rows)
    cdef int resize(self, Py_ssize_t rows) except -1


cdef class RecordTable:
    cdef object _rows
    cdef readonly RowMemory _mem       # the memory of _rows when the table made it
    cdef int64_t* data
    cdef readonly Py_ssize_t cap
    cdef Py_ssize_t _n
    cdef readonly int64_t made         # rows ever made (new_row, or n raised)
    cdef public list comms
    cdef public dict _comm_ids
    cdef FrozenRows _frozen            # a copy not yet used: its rows (data is NULL)
    cdef object _last                  # weakref to the chunks of this table's last copy

    cdef void _adopt(self, rows) except *
    cdef int _thaw(self) except -1
    cdef FrozenRows _freeze(self)
    cdef int64_t* row_ptr(self, Py_ssize_t row) except NULL
    cdef Py_ssize_t new_row(self) except -1


cdef class OwnerHooks:
    cdef list sections
    cdef long shift, mask
    cdef RecordTable recs
    cdef MMCore mm
    cdef bint subpage, keep
    cdef object make_room               # page_owner's: room for k rows, collecting first

    cdef PageExtArrays table(self, long pfn)
    cdef int c_set(self, long pfn, long order, long gfp, bint may_collect) except -1
    cdef int c_reset(self, long pfn, long order) except -1


cdef class SetPageOwner:
    cdef readonly OwnerHooks hooks


cdef class ResetPageOwner:
    cdef readonly OwnerHooks hooks
