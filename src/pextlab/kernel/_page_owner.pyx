# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""page_owner's work on the allocator's hot path, compiled (Cython;
docs/compiled-core.md): mm/page_owner.c __set_page_owner and __reset_page_owner.

``OwnerHooks(page_owner)`` holds what the two hooks need; its ``set_page_owner``
and ``reset_page_owner`` are the allocator's ``mm.alloc_hook`` / ``mm.free_hook``.
A record row is 12 int64 in ``OwnerRecords.buf`` (native byte order, as the numpy
views that read it): order, gfp, handle, ts, pid, tgid, comm, reason+1, then the
free side (handle, ts, pid+1, tgid+1).  ``pextlab.kernel.page_owner`` makes the
hooks; nothing else should.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING
from libc.stdint cimport int64_t

__all__ = ["OwnerHooks", "ROW_BYTES"]

DEF ROW = 96                      # 12 int64 fields
ROW_BYTES = ROW                   # checked against page_owner's layout by its import


cdef class OwnerHooks:
    """The (set, reset) hooks of one page_owner client; rebuilt when its record
    table is replaced (``PageOwner.reset_records``)."""
    cdef list sections
    cdef long shift, mask
    cdef object recs, mm
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
        t = (<object>self.sections[pfn >> self.shift]).page_ext
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
        mm = self.mm
        cdef bytearray buf = recs.buf       # grows in place (bytearray.extend)
        cdef int64_t* r = <int64_t*>(PyByteArray_AS_STRING(buf) + row * ROW)
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
        if order == 0 or not self.subpage:
            omv[off] = row
            t.fmv[off] = 3
        else:
            n = 1 << order
            t.owner[off:off + n] = row
            t.flags[off:off + n] |= 3

    def reset_page_owner(self, long pfn, long order):
        """__reset_page_owner: the pages lose PAGE_EXT_OWNER_ALLOCATED and the record
        gets the free's stack handle, time and task (v5.4+ keep the record; before,
        PAGE_EXT_OWNER is cleared and the record lost)."""
        t = (<object>self.sections[pfn >> self.shift]).page_ext
        if t is None:
            return
        omv = t.omv
        if omv is None:
            omv = t.owner_mv()
            if omv is None:
                return
        cdef long off = pfn & self.mask
        cdef long row = omv[off]
        cdef long n = 1 << order
        fmv = t.fmv
        if not self.keep:
            # v3.19..v5.3: the record is lost (PAGE_EXT_OWNER cleared on all pages)
            if n == 1:
                fmv[off] = <long>fmv[off] & 0xFC
                omv[off] = -1
            else:
                t.flags[off:off + n] &= 0xFC
                t.owner[off:off + n] = -1
            return
        if n == 1:
            fmv[off] = <long>fmv[off] & 0xFD
        else:
            t.flags[off:off + n] &= 0xFD
        if row < 0:
            return
        mm = self.mm
        cdef bytearray buf = self.recs.buf
        cdef int64_t* r = <int64_t*>(PyByteArray_AS_STRING(buf) + row * ROW + 64)
        r[0] = mm.current_handle
        r[1] = mm.clock_ns
        r[2] = <long>mm.pid + 1
        r[3] = <long>mm.tgid + 1
