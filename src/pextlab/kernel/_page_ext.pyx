# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The per-page arrays of a page_ext table, as a Cython class (docs/compiled-core.md).

``PageExtArrays`` is the base of :class:`pextlab.kernel.page_ext.PageExtTable` (a
section's or a node's table) and of its FLATMEM per-section window.  It holds the
shared flags byte of every page (``flags``, with its memoryview ``fmv``) and, with
page_owner, the record row of every page (``owner``, int32, -1 for none, with
``omv``), made on first use.  The compiled page_owner hooks (``_page_owner.pyx``)
reach both through C pointers (``fdata``, ``odata``) with bounds checks, without a
Python attribute lookup; Python code reads and assigns the same names as before.
"""
from libc.stdint cimport int32_t, uint8_t

import numpy as np

__all__ = ["PageExtArrays"]


cdef class PageExtArrays:
    """A table's ``flags`` (uint8 per page) and ``owner`` (int32 per page, or None)."""

    @property
    def flags(self):
        return self._flags

    @flags.setter
    def flags(self, value):
        cdef uint8_t[::1] mv = value          # 1-d, contiguous, writable uint8
        if len(value) == 0:
            raise ValueError("a page_ext table has at least one page")
        if self._owner_arr is not None and len(self._owner_arr) != len(value):
            raise ValueError("a page_ext table's flags and owner differ in length")
        self._flags = value
        self._fmv = memoryview(value)
        self.fdata = &mv[0]
        self.npages = len(value)

    @property
    def fmv(self):
        """A memoryview of ``flags`` (item access from Python code)."""
        return self._fmv

    @property
    def omv(self):
        """A memoryview of ``owner`` once made, else None."""
        return self._omv

    @property
    def _owner(self):
        return self._owner_arr

    @_owner.setter
    def _owner(self, value):
        self.owner = value

    @property
    def owner(self):
        """int32 record row per page, -1 where none (made now if not yet; None
        without page_owner)."""
        self.owner_data()
        return self._owner_arr

    @owner.setter
    def owner(self, value):
        cdef int32_t[::1] mv
        if value is None:
            self._owner_arr = self._omv = None
            self.odata = NULL
            return
        mv = value                            # 1-d, contiguous, writable int32
        if self._flags is not None and len(value) != self.npages:
            raise ValueError("a page_ext table's flags and owner differ in length")
        self._owner_arr = value
        self._omv = memoryview(value)
        self.odata = &mv[0]

    def owner_if_written(self):
        """``owner`` if any record was ever stored in this table, else None."""
        return self._owner_arr

    def owner_mv(self):
        """A memoryview of ``owner``, made now if not yet (None without page_owner)."""
        self.owner_data()
        return self._omv

    cdef int32_t* owner_data(self) except? NULL:
        # the record rows, made (all -1) at the table's first record; NULL without
        # page_owner
        if self.odata == NULL and self.with_owner:
            self.owner = np.full(self.npages, -1, dtype=np.int32)
        return self.odata

    cdef Py_ssize_t check_range(self, Py_ssize_t off, Py_ssize_t n) except -1:
        # pages off .. off+n-1 are in the table (a block never crosses its section)
        if off < 0 or n < 1 or off + n > self.npages:
            raise IndexError(f"pages {off}..{off + n - 1} are outside their page_ext table "
                             f"of {self.npages} pages")
        return 0
