# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""page_owner's record table and its work on the allocator's hot path, compiled
(Cython; docs/compiled-core.md): mm/page_owner.c __set_page_owner and
__reset_page_owner.

``RecordTable`` is the C part of ``page_owner.OwnerRecords``: the rows (12 int64
each, a numpy array ``rows`` of ``cap`` rows, ``n`` in use) reached through a C
pointer with bounds checks, and the task names (``comms``).  Columns: order, gfp,
handle, ts, pid, tgid, comm, reason+1, then the free side (handle, ts, pid+1,
tgid+1).  A copy (a snapshot) or a pickle holds only the ``n`` rows in use, as
read-only chunks (``FrozenRows``) that copies share: a chunk the table has not
changed since its last copy is that copy's chunk, not a new one (successive
snapshots of a run differ in a few chunks), and a copy makes its own array of
rows only when it is first used (most snapshots are never read, and their
fresh memory is what a copy costs).

``OwnerHooks(page_owner)`` holds what the two hooks need; its ``set_page_owner``
and ``reset_page_owner`` are the allocator's ``mm.alloc_hook`` / ``mm.free_hook``.
They write the record rows, and a page_ext table's per-page record row (int32)
and flags byte, through the C pointers of ``RecordTable`` and ``PageExtArrays``
(``_page_ext.pyx``): no Python attribute lookup per allocation or free.
``pextlab.kernel.page_owner`` makes the hooks; nothing else should.
"""
from cpython.buffer cimport PyBUF_FORMAT
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memcpy, memset
from cpython.mem cimport PyMem_Calloc, PyMem_Free

from ._mmzone cimport section_at
from ._page_ext cimport PageExtArrays
from ._state cimport MMCore

import weakref

import numpy as np

__all__ = ["RecordTable", "RowMemory", "FrozenRows", "OwnerHooks", "SetPageOwner",
           "ResetPageOwner", "ROW_BYTES", "BIASED", "CHUNK_ROWS"]

ROW_BYTES = NF * 8                # checked against page_owner's layout by its import
BIASED = (7, 10, 11)              # the fields stored +1 (_biased below)
CHUNK_ROWS = 1024                 # rows per chunk of a copy (96 KiB)


# --- the memory of the rows ----------------------------------------------------------------------
# Anonymous pages from the OS, zero until written and faulted in only where written; on
# Linux a bigger table moves its pages to the new place (mremap) instead of copying them,
# so growing a table of a million rows costs no copy of its 96 MB (it cost 0.18 s here,
# most of an alloc_pages_loop of a million pages).  Elsewhere: calloc and realloc.
cdef extern from *:
    """
    #include <stdlib.h>
    #include <string.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    static void *pxl_rows_map(size_t n) {
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    static void *pxl_rows_remap(void *p, size_t old, size_t n) {
        void *q = mremap(p, old, n, MREMAP_MAYMOVE);   /* the new pages read zero */
        return q == MAP_FAILED ? NULL : q;
    }
    static void pxl_rows_unmap(void *p, size_t n) { munmap(p, n); }
    #else
    static void *pxl_rows_map(size_t n) { return calloc(1, n); }
    static void *pxl_rows_remap(void *p, size_t old, size_t n) {
        char *q = realloc(p, n);
        if (q != NULL && n > old) memset(q + old, 0, n - old);
        return q;
    }
    static void pxl_rows_unmap(void *p, size_t n) { (void)n; free(p); }
    #endif
    """
    void *pxl_rows_map(size_t n) nogil
    void *pxl_rows_remap(void *p, size_t old, size_t n) nogil
    void pxl_rows_unmap(void *p, size_t n) nogil

cdef size_t MAP_UNIT = 1 << 16          # mappings are whole multiples of 64 KiB
cdef Py_ssize_t MAX_ROWS = 1LL << 52    # 432 PB of rows: sizes stay far from overflowing
cdef char *FORMAT_Q = "q"               # the rows' struct format: int64


cdef class RowMemory:
    """``rows`` zero record rows (rows x 12 int64) in memory of their own, seen through
    the buffer protocol (``np.asarray(mem)``).  ``resize`` keeps the rows and zeroes
    the new ones without copying (on Linux the pages move); it refuses while any
    buffer of the memory is held, as a numpy array of it would be left pointing at
    pages that moved."""

    def __cinit__(self, Py_ssize_t rows):
        if rows < 1:
            raise ValueError(f"a page_owner record table holds at least one row, not {rows}")
        if rows > MAX_ROWS:
            raise MemoryError(f"page_owner records: no memory for {rows} rows")
        self.p = NULL
        self.nbytes = self._bytes(rows)
        self.p = <char *>pxl_rows_map(self.nbytes)
        if self.p == NULL:
            raise MemoryError(f"page_owner records: no memory for {rows} rows")
        self.rows = rows
        self.exports = 0

    def __dealloc__(self):
        if self.p != NULL:
            pxl_rows_unmap(self.p, self.nbytes)

    cdef size_t _bytes(self, Py_ssize_t rows):
        cdef size_t b = <size_t>rows * NF * sizeof(int64_t)
        return (b + MAP_UNIT - 1) // MAP_UNIT * MAP_UNIT

    cdef int resize(self, Py_ssize_t rows) except -1:
        # the first min(rows, self.rows) rows kept, the others zero
        if self.exports:
            raise BufferError("page_owner records: the rows are in use and cannot move")
        if rows < 1 or rows > MAX_ROWS:
            raise MemoryError(f"page_owner records: no memory for {rows} rows")
        cdef size_t nb = self._bytes(rows)
        if nb != self.nbytes:
            q = <char *>pxl_rows_remap(self.p, self.nbytes, nb)
            if q == NULL:
                raise MemoryError(f"page_owner records: no memory for {rows} rows")
            self.p, self.nbytes = q, nb
        self.rows = rows
        return 0

    @property
    def in_use(self):
        """How many buffers of the memory are held (numpy arrays and memoryviews)."""
        return self.exports

    def __getbuffer__(self, Py_buffer *view, int flags):
        self.shape[0] = self.rows
        self.shape[1] = NF
        self.strides[0] = NF * sizeof(int64_t)
        self.strides[1] = sizeof(int64_t)
        view.buf = self.p
        view.obj = self
        view.len = self.rows * NF * sizeof(int64_t)
        view.readonly = 0
        view.itemsize = sizeof(int64_t)
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = FORMAT_Q
        view.ndim = 2
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL
        self.exports += 1

    def __releasebuffer__(self, Py_buffer *view):
        self.exports -= 1


cdef inline int _field(int field) except -1:
    if field < 0 or field >= NF:
        raise IndexError(f"page_owner record field {field} is not one of the {NF}")
    return field


cdef inline bint _biased(int field):
    # reason, free_pid and free_tgid are stored +1, so that a zero (fresh) row means
    # "never" (BIASED)
    return field == 7 or field == 10 or field == 11


def _blank(cls):
    # the object a copy or an unpickle fills in (__setstate__), made without __init__
    return cls.__new__(cls)


cdef class FrozenRows:
    """The rows of a copied record table: a tuple of read-only (k, 12) int64 chunks.
    Immutable, so a deep copy is the object itself: the copies of a table share it."""

    def __init__(self, tuple chunks):
        for c in chunks:
            if (type(c) is not np.ndarray or c.dtype != np.int64 or c.ndim != 2
                    or c.shape[1] != NF):
                raise ValueError(f"page_owner record chunks are k x {NF} int64 arrays")
            c.flags.writeable = False
        self.chunks = chunks

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return FrozenRows, (self.chunks,)


cdef class RecordTable:
    """A growable table of page_owner records: 12 int64 per row, ``n`` of ``cap``
    in use, rows past ``n`` zero.  Growth gives at least twice the capacity; the
    rows move there without a copy (``RowMemory.resize``) unless an array of
    them is held elsewhere, when they are copied into new memory.  A copy holds
    ``FrozenRows`` until it is first used (``_thaw``); every access to the rows
    goes through ``rows``, ``buf``, ``grow`` or ``row_ptr``, which thaw it."""
    def __init__(self, Py_ssize_t capacity=1 << 12):
        self._alloc(capacity)
        self._n = 0
        self.comms = []
        self._comm_ids = {}

    def _alloc(self, Py_ssize_t capacity):
        # fresh zero rows in memory of their own
        mem = RowMemory(max(capacity, 1))
        self._adopt(np.asarray(mem))
        self._mem = mem

    cdef void _adopt(self, rows) except *:
        # ``rows`` (C-contiguous, writable, k x 12 int64) becomes the storage
        cdef int64_t[:, ::1] mv = rows
        if mv.shape[1] != NF or mv.shape[0] < 1:
            raise ValueError(f"a page_owner record table is k x {NF} int64, k >= 1")
        self._rows = rows
        self._mem = None
        self.data = &mv[0, 0]
        self.cap = mv.shape[0]

    cdef int _thaw(self) except -1:
        # a copy's first use: its own array of the rows it shares as chunks
        if self._frozen is None:
            return 0
        cdef Py_ssize_t n = self._n
        rows = np.zeros((max(n, 1), NF), dtype=np.int64)
        if n:
            np.concatenate(self._frozen.chunks, out=rows[:n])
        self._adopt(rows)
        self._frozen = None
        return 0

    cdef FrozenRows _freeze(self):
        # the rows in use as read-only chunks: a chunk equal to the same chunk of this
        # table's last copy (if that copy is alive) is shared, the others are copied
        if self._frozen is not None:
            return self._frozen                 # a copy of a copy not yet used
        last = self._last() if self._last is not None else None
        cdef tuple prev = (<FrozenRows>last).chunks if last is not None else ()
        cdef Py_ssize_t n = self._n, a, i = 0
        cdef list out = []
        rows = self._rows
        for a in range(0, n, CHUNK_ROWS):
            cur = rows[a:min(a + CHUNK_ROWS, n)]
            if i < len(prev) and prev[i].shape[0] == cur.shape[0] and np.array_equal(prev[i], cur):
                out.append(prev[i])
            else:
                out.append(cur.copy())
            i += 1
        frozen = FrozenRows(tuple(out))
        self._last = weakref.ref(frozen)
        return frozen

    @property
    def rows(self):
        """Every row, used or not, as a (cap, 12) int64 numpy array (not a copy)."""
        self._thaw()
        return self._rows

    @property
    def buf(self):
        """A byte memoryview of ``rows``."""
        self._thaw()
        return memoryview(self._rows).cast("B")

    @property
    def n(self):
        """Rows in use."""
        return self._n

    @n.setter
    def n(self, Py_ssize_t value):
        self._thaw()                            # the chunks hold the old n rows
        if value < 0 or value > self.cap:
            raise ValueError(f"page_owner records: {value} rows in use of {self.cap}")
        if value > self._n:
            self.made += value - self._n
        self._n = value

    def __len__(self):
        return self._n

    def grow(self, Py_ssize_t need=1):
        """Room for ``need`` more rows (capacity at least doubles).  The rows move to
        the bigger memory without a copy unless some array or memoryview of them is
        held; then they are copied, and what is held keeps the old rows."""
        self._thaw()
        cdef Py_ssize_t n = self._n, cap = max(self.cap * 2, n + need)
        cdef RowMemory mem = self._mem
        if mem is not None:
            self._rows = None                   # the table's own array lets go of it
            if not mem.exports:
                try:
                    mem.resize(cap)
                finally:                        # grown, or as it was (no memory)
                    self._adopt(np.asarray(mem))
                    self._mem = mem
                return
            old = np.asarray(mem)               # held elsewhere: the rows are copied
            self._adopt(old)
            self._mem = mem
        else:
            old = self._rows
        self._alloc(cap)                        # no memory: the table keeps its rows
        self._rows[:n] = old[:n]

    cdef int64_t* row_ptr(self, Py_ssize_t row) except NULL:
        # row ``row`` (in use) of the table
        if row < 0 or row >= self._n:
            raise IndexError(f"page_owner record row {row} is outside the table ({self._n} rows)")
        if self.data == NULL:
            self._thaw()
        return self.data + row * NF

    cdef Py_ssize_t new_row(self) except -1:
        # a new (zero) row at the end, the table grown first if full
        if self.data == NULL:
            self._thaw()                        # before n changes: the chunks hold n rows
        cdef Py_ssize_t row = self._n
        if row == self.cap:
            self.grow()
        self._n = row + 1
        self.made += 1
        return row

    def add(self, int64_t order, int64_t gfp, int64_t handle, int64_t ts, int64_t pid,
            int64_t tgid, int64_t comm_id):
        """A new row: the allocation side; the rest stays 0 (biased fields: never)."""
        cdef Py_ssize_t row = self.new_row()
        cdef int64_t* r = self.row_ptr(row)
        r[0] = order
        r[1] = gfp
        r[2] = handle
        r[3] = ts
        r[4] = pid
        r[5] = tgid
        r[6] = comm_id
        return row

    def compact(self, list owners):
        """Drop the rows no page points at: ``owners`` are every page's record row
        (int32 arrays, -1 for none, each page once).  The rows left keep their order
        and the arrays are pointed at their new places, in one pass over each
        (PageOwner.collect_records).  Returns how many rows are left."""
        self._thaw()
        cdef Py_ssize_t n = self._n, i, k = 0
        cdef int32_t[::1] o
        cdef int32_t r
        cdef int32_t *where = <int32_t *>PyMem_Calloc(max(n, 1), sizeof(int32_t))
        if where == NULL:
            raise MemoryError()
        try:
            for arr in owners:                  # mark: where[r] = 1 for every row in use
                o = arr
                for i in range(o.shape[0]):
                    r = o[i]
                    if r >= 0:
                        if r >= n:
                            raise IndexError(f"page_owner: a page points at record row {r} of {n}")
                        where[r] = 1
            for i in range(n):                  # the rows in use move down, in order
                if where[i]:
                    if k != i:
                        memcpy(self.data + k * NF, self.data + i * NF, NF * sizeof(int64_t))
                    where[i] = <int32_t>k
                    k += 1
            if k < n:
                memset(self.data + k * NF, 0, (n - k) * NF * sizeof(int64_t))
                for arr in owners:
                    o = arr
                    for i in range(o.shape[0]):
                        if o[i] >= 0:
                            o[i] = where[o[i]]
                self._n = k
        finally:
            PyMem_Free(where)
        return k

    def copy_row(self, Py_ssize_t row):
        """A new row with the raw (biased) values of ``row``; its number."""
        self.row_ptr(row)                       # checked before the table may grow
        cdef Py_ssize_t new = self.new_row()
        memcpy(self.row_ptr(new), self.row_ptr(row), NF * sizeof(int64_t))
        return new

    def get(self, Py_ssize_t row, int field):
        """One field of ``row``, decoded (-1 for "never")."""
        cdef int64_t v = self.row_ptr(row)[_field(field)]
        return v - 1 if _biased(field) else v

    def set(self, Py_ssize_t row, int field, int64_t value):
        """One field of ``row``, given decoded."""
        self.row_ptr(row)[_field(field)] = value + 1 if _biased(field) else value

    # a copy holds the rows in use only, as chunks it shares with the other copies
    def __reduce__(self):
        return (_blank, (type(self),), {"frozen": self._freeze(), "n": self._n, "made": self.made,
                                        "comms": self.comms, "_comm_ids": self._comm_ids})

    def __setstate__(self, dict state):
        n = state["n"]
        frozen = state.get("frozen")
        if frozen is not None:
            if sum(len(c) for c in (<FrozenRows?>frozen).chunks) != n:
                raise ValueError(f"page_owner record chunks do not hold the {n} rows in use")
            self._frozen = frozen
            self._rows = None
            self.data = NULL
            self.cap = max(n, 1)
            self._n = n
            self.made = state.get("made", n)
            self.comms = state["comms"]
            self._comm_ids = state["_comm_ids"]
            return
        rows = state["rows"]                    # a copy made before the chunks
        if len(rows) > n:                       # a copy made when the whole table was held
            rows = rows[:n]
        # adopt an array nobody else sees (deepcopy's or unpickle's own), else copy it
        if (n == 0 or type(rows) is not np.ndarray or rows.base is not None
                or not rows.flags.writeable or not rows.flags.c_contiguous
                or rows.dtype != np.int64):
            fresh = np.zeros((max(n, 1), NF), dtype=np.int64)
            fresh[:n] = rows
            rows = fresh
        self._adopt(rows)
        self._n = n
        self.made = state.get("made", n)
        self.comms = state["comms"]
        self._comm_ids = state["_comm_ids"]


cdef class OwnerHooks:
    """The (set, reset) hooks of one page_owner client; rebuilt when its record
    table is replaced (``PageOwner.reset_records``)."""
    def __init__(self, po):
        self.sections = po._sections
        self.shift = po._shift
        self.mask = po._mask
        self.recs = po.records
        self.mm = po.mm
        self.subpage = po._subpage
        self.keep = po._keep
        self.make_room = po.make_room

    cdef PageExtArrays table(self, long pfn):
        # the page_ext table of pfn's section, or None
        t = section_at(self.sections, pfn >> self.shift).page_ext
        return None if t is None else <PageExtArrays?>t

    def set_page_owner(self, long pfn, long order, long gfp):
        """__set_page_owner: a new record (the allocation's order, gfp, stack handle,
        time and task) for the block; every page of it (v5.4+: each subpage) points
        at it, with PAGE_EXT_OWNER and PAGE_EXT_OWNER_ALLOCATED set."""
        self.c_set(pfn, order, gfp, True)

    def reset_page_owner(self, long pfn, long order):
        """__reset_page_owner: the pages lose PAGE_EXT_OWNER_ALLOCATED and the record
        gets the free's stack handle, time and task (v5.4+ keep the record; before,
        PAGE_EXT_OWNER is cleared and the record lost)."""
        self.c_reset(pfn, order)

    cdef int c_set(self, long pfn, long order, long gfp, bint may_collect) except -1:
        # __set_page_owner.  A full table first makes room (PageOwner.make_room: the
        # rows no page points at any more are collected) when ``may_collect``: the
        # caller holds no row number across the call (the allocator's hook does not;
        # point_targets, in the middle of its rows, does)
        cdef PageExtArrays t = self.table(pfn)
        if t is None:
            return 0
        cdef int32_t* owner = t.owner_data()     # the table's first record makes its array
        if owner == NULL:
            return 0
        cdef long off = pfn & self.mask
        cdef long n = 1 if (order == 0 or not self.subpage) else 1 << order
        t.check_range(off, n)
        cdef RecordTable recs = self.recs
        if may_collect and recs._n >= recs.cap and recs._frozen is None:
            self.make_room(1)                   # the owner arrays change in place only
        cdef Py_ssize_t row = recs.new_row()
        if row > 0x7FFFFFFF:
            raise OverflowError(f"page_owner record row {row} does not fit the int32 table")
        cdef MMCore mm = self.mm
        cdef int64_t* r = recs.row_ptr(row)
        r[0] = order
        r[1] = gfp
        r[2] = mm.current_handle
        r[3] = mm.clock_ns
        r[4] = mm.pid
        r[5] = mm.tgid
        r[6] = mm.comm_id
        cdef uint8_t* f = t.fdata + off
        owner += off
        cdef long i
        for i in range(n):
            owner[i] = <int32_t>row
            f[i] |= 3                   # __set_bit(PAGE_EXT_OWNER{,_ALLOCATED}): other bits stay
        return 0

    cdef int c_reset(self, long pfn, long order) except -1:
        # __reset_page_owner
        cdef PageExtArrays t = self.table(pfn)
        if t is None:
            return 0
        cdef int32_t* owner = t.owner_data()
        if owner == NULL:
            return 0
        cdef long off = pfn & self.mask
        cdef long n = 1 << order
        t.check_range(off, n)
        owner += off
        cdef long row = owner[0]
        cdef uint8_t* f = t.fdata + off
        cdef long i
        if not self.keep:
            # v3.19..v5.3: the record is lost (PAGE_EXT_OWNER cleared on all pages)
            for i in range(n):
                f[i] &= 0xFC
                owner[i] = -1
            return 0
        for i in range(n):
            f[i] &= 0xFD
        if row < 0:
            return 0
        cdef MMCore mm = self.mm
        cdef int64_t* r = self.recs.row_ptr(row)
        r[8] = mm.current_handle
        r[9] = mm.clock_ns
        r[10] = mm.pid + 1
        r[11] = mm.tgid + 1
        return 0

    def source_rows(self, list moved):
        """__folio_copy_owner's source side: the record row of each migrated block's
        old head page (``moved`` = [(old_pfn, new_pfn, order)]), -1 where its table
        never held a record or the page has none; an int64 array."""
        out = np.full(len(moved), -1, dtype=np.int64)
        cdef int64_t[::1] rows = out
        cdef PageExtArrays t
        cdef long old, off
        cdef Py_ssize_t i
        for i in range(len(moved)):
            old = moved[i][0]
            t = self.table(old)
            if t is None or t.odata == NULL:
                continue
            off = old & self.mask
            t.check_range(off, 1)
            rows[i] = t.odata[off]
        return out

    def point_targets(self, list moved, new_rows, long migrate_handle):
        """__folio_copy_owner's target side: every page of each migrated block's new
        place points at its copied record (``new_rows``, one per block) with
        PAGE_EXT_OWNER and PAGE_EXT_OWNER_ALLOCATED set; a block whose source had no
        record (row -1) keeps the record its own allocation made, on the migration
        stack ``migrate_handle``.  Returns the base pages of ``moved``."""
        cdef const int64_t[::1] rows = new_rows
        if rows.shape[0] != len(moved):
            raise ValueError("point_targets: one new row per migrated block")
        cdef PageExtArrays t
        cdef int32_t* owner
        cdef uint8_t* f
        cdef long new, order, off, n, row, saved, j, nr_pages = 0
        cdef Py_ssize_t i
        cdef MMCore mm = self.mm
        for i in range(len(moved)):
            item = moved[i]
            new = item[1]
            order = item[2]
            n = 1 << order
            nr_pages += n
            t = self.table(new)
            if t is None:
                continue
            owner = t.owner_data()
            if owner == NULL:
                continue
            row = rows[i]
            if row < 0:
                saved = mm.current_handle
                mm.current_handle = migrate_handle
                try:
                    self.c_set(new, order, 0, False)
                finally:
                    mm.current_handle = saved
                continue
            if row > 0x7FFFFFFF:
                raise OverflowError(f"page_owner record row {row} does not fit the int32 table")
            off = new & self.mask
            t.check_range(off, n)
            owner += off
            f = t.fdata + off
            for j in range(n):
                owner[j] = <int32_t>row
                f[j] |= 3
        return nr_pages


cdef class SetPageOwner:
    """``mm.alloc_hook`` of page_owner: ``OwnerHooks.set_page_owner`` as an object
    the compiled allocator (``_fastpath.pyx``) recognises and calls as C."""

    def __init__(self, OwnerHooks hooks not None):
        self.hooks = hooks

    def __call__(self, long pfn, long order, long gfp):
        self.hooks.c_set(pfn, order, gfp, True)


cdef class ResetPageOwner:
    """``mm.free_hook`` of page_owner: ``OwnerHooks.reset_page_owner``, called as C
    by the compiled allocator."""

    def __init__(self, OwnerHooks hooks not None):
        self.hooks = hooks

    def __call__(self, long pfn, long order):
        self.hooks.c_reset(pfn, order)
