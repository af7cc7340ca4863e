# The per-page arrays of a page_ext table (kernel/_page_ext.pyx), for the compiled
# modules that cimport them: page_owner's hooks read and write them through C pointers.
from libc.stdint cimport int32_t, uint8_t

cdef class PageExtArrays:
    cdef object _flags, _fmv, _owner_arr, _omv
    cdef uint8_t* fdata             # flags byte per page
    cdef int32_t* odata             # page_owner's record row per page; NULL until made
    cdef readonly Py_ssize_t npages
    cdef public bint with_owner

    cdef int32_t* owner_data(self) except? NULL
    cdef Py_ssize_t check_range(self, Py_ssize_t off, Py_ssize_t n) except -1
