# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""page_owner's work on the allocator's hot path, compiled (Cython;
docs/compiled-core.md): mm/page_owner.c __set_page_owner and __reset_page_owner.

``OwnerHooks(page_owner)`` holds what the two hooks need; its ``set_page_owner``
and ``reset_page_owner`` are the allocator's ``mm.alloc_hook`` / ``mm.free_hook``.
A record row is 12 int64 of ``OwnerRecords.rows`` (written through ``buf``, the
byte memoryview of that numpy array, whose data pointer they take): order, gfp, handle, ts, pid, tgid, comm, reason+1, then the
free side (handle, ts, pid+1, tgid+1).  A page_ext table's per-page record row
(int32) and flags byte are read and written the same way, through the data pointers
of its ``omv`` / ``fmv`` memoryviews.  ``pextlab.kernel.page_owner`` makes the
hooks; nothing else should.
"""
from cpython.memoryview cimport PyMemoryView_GET_BUFFER
from libc.stdint cimport int32_t, int64_t, uint8_t

from ._mmzone cimport section_at
from ._state cimport MMCore

__all__ = ["OwnerHooks", "ROW_BYTES"]

DEF ROW = 96                      # 12 int64 fields
ROW_BYTES = ROW                   # checked against page_owner's layout by its import


cdef inline int64_t* _row(buf, long row) except NULL:
    # row ``row`` of the record table, through ``buf``: the byte memoryview of
    # OwnerRecords.rows (growth replaces both, so it is looked up at every call)
    if type(buf) is not memoryview:
        raise TypeError("OwnerRecords.buf must be the memoryview of its rows")
    cdef Py_buffer* view = PyMemoryView_GET_BUFFER(buf)
    if view.readonly or (row + 1) * ROW > view.len:
        raise IndexError(f"page_owner record row {row} is outside the table")
    return <int64_t*>(<char*>view.buf + row * ROW)


cdef inline char* _item(mv, Py_ssize_t itemsize, long i) except NULL:
    # item ``i`` of a page_ext table's 1-d memoryview (``omv``: int32 record rows,
    # ``fmv``: uint8 flags), checked as indexing the memoryview would be
    if type(mv) is not memoryview:
        raise TypeError("a page_ext table's omv/fmv must be memoryviews")
    cdef Py_buffer* view = PyMemoryView_GET_BUFFER(mv)
    if view.readonly or view.ndim != 1 or view.itemsize != itemsize:
        raise TypeError("a page_ext table's omv/fmv must be writable 1-d int32/uint8 views")
    if i < 0 or i >= view.shape[0]:
        raise IndexError(f"page {i} is outside its page_ext table")
    return <char*>view.buf + i * view.strides[0]


cdef class OwnerHooks:
    """The (set, reset) hooks of one page_owner client; rebuilt when its record
    table is replaced (``PageOwner.reset_records``)."""
    cdef list sections
    cdef long shift, mask
    cdef object recs
    cdef MMCore mm
    cdef bint subpage, keep

    def __init__(self, po):
        self.sections = po._sections
        self.shift = po._shift
        self.mask = po._mask
        self.recs = po.records
        self.mm = po.mm
        self.subpage = po._subpage
        self.keep = po._keep

    def set_page_owner(self, long pfn, long order, gfp):
        """__set_page_owner: a new record (the allocation's order, gfp, stack handle,
        time and task) for the block; every page of it (v5.4+: each subpage) points
        at it, with PAGE_EXT_OWNER and PAGE_EXT_OWNER_ALLOCATED set."""
        t = section_at(self.sections, pfn >> self.shift).page_ext
        if t is None:
            return
        omv = t.omv
        if omv is None:
            omv = t.owner_mv()          # the table's first record: make its array
            if omv is None:
                return
        recs = self.recs
        cdef long row = recs.n
        if row == <long>recs.cap:
            recs.grow()
        cdef MMCore mm = self.mm
        cdef int64_t* r = _row(recs.buf, row)
        r[0] = order
        r[1] = gfp
        r[2] = mm.current_handle
        r[3] = mm.clock_ns
        r[4] = mm.pid
        r[5] = mm.tgid
        r[6] = mm.comm_id
        recs.n = row + 1
        cdef long off = pfn & self.mask
        cdef long n
        cdef uint8_t* f
        if order == 0 or not self.subpage:
            if row > 0x7FFFFFFF:
                raise OverflowError(f"page_owner record row {row} does not fit the int32 table")
            (<int32_t*>_item(omv, 4, off))[0] = <int32_t>row
            f = <uint8_t*>_item(t.fmv, 1, off)
            f[0] |= 3                   # __set_bit(PAGE_EXT_OWNER{,_ALLOCATED}): other bits stay
        else:
            n = 1 << order
            t.owner[off:off + n] = row
            t.flags[off:off + n] |= 3

    def reset_page_owner(self, long pfn, long order):
        """__reset_page_owner: the pages lose PAGE_EXT_OWNER_ALLOCATED and the record
        gets the free's stack handle, time and task (v5.4+ keep the record; before,
        PAGE_EXT_OWNER is cleared and the record lost)."""
        t = section_at(self.sections, pfn >> self.shift).page_ext
        if t is None:
            return
        omv = t.omv
        if omv is None:
            omv = t.owner_mv()
            if omv is None:
                return
        cdef long off = pfn & self.mask
        cdef int32_t* o = <int32_t*>_item(omv, 4, off)
        cdef long row = o[0]
        cdef long n = 1 << order
        cdef uint8_t* f = <uint8_t*>_item(t.fmv, 1, off)
        if not self.keep:
            # v3.19..v5.3: the record is lost (PAGE_EXT_OWNER cleared on all pages)
            if n == 1:
                f[0] &= 0xFC
                o[0] = -1
            else:
                t.flags[off:off + n] &= 0xFC
                t.owner[off:off + n] = -1
            return
        if n == 1:
            f[0] &= 0xFD
        else:
            t.flags[off:off + n] &= 0xFD
        if row < 0:
            return
        cdef MMCore mm = self.mm
        cdef int64_t* r = _row(self.recs.buf, row)
        r[8] = mm.current_handle
        r[9] = mm.clock_ns
        r[10] = mm.pid + 1
        r[11] = mm.tgid + 1
