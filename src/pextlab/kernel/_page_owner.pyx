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
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memcpy

from ._mmzone cimport section_at
from ._page_ext cimport PageExtArrays
from ._state cimport MMCore

import weakref

import numpy as np

__all__ = ["RecordTable", "FrozenRows", "OwnerHooks", "SetPageOwner", "ResetPageOwner",
           "ROW_BYTES", "BIASED", "CHUNK_ROWS"]

ROW_BYTES = NF * 8                # checked against page_owner's layout by its import
BIASED = (7, 10, 11)              # the fields stored +1 (_biased below)
CHUNK_ROWS = 1024                 # rows per chunk of a copy (96 KiB)


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
    in use, rows past ``n`` zero.  Growth makes a new array of at least twice the
    capacity (a fresh ``np.zeros`` is faulted in only where rows are then written)
    and copies the rows in use; nobody keeps ``rows`` or ``buf`` across a call
    that may add rows.  A copy holds ``FrozenRows`` until it is first used
    (``_thaw``); every access to the rows goes through ``rows``, ``buf``,
    ``grow`` or ``row_ptr``, which thaw it."""
    def __init__(self, Py_ssize_t capacity=1 << 12):
        self._alloc(capacity)
        self._n = 0
        self.comms = []
        self._comm_ids = {}

    def _alloc(self, Py_ssize_t capacity):
        self._adopt(np.zeros((max(capacity, 1), NF), dtype=np.int64))

    cdef void _adopt(self, rows) except *:
        # ``rows`` (C-contiguous, writable, k x 12 int64) becomes the storage
        cdef int64_t[:, ::1] mv = rows
        if mv.shape[1] != NF or mv.shape[0] < 1:
            raise ValueError(f"a page_owner record table is k x {NF} int64, k >= 1")
        self._rows = rows
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
        self._n = value

    def __len__(self):
        return self._n

    def grow(self, Py_ssize_t need=1):
        """Room for ``need`` more rows (capacity at least doubles)."""
        self._thaw()
        old, n = self._rows, self._n
        self._alloc(max(self.cap * 2, n + need))
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
        return (_blank, (type(self),), {"frozen": self._freeze(), "n": self._n,
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

    cdef PageExtArrays table(self, long pfn):
        # the page_ext table of pfn's section, or None
        t = section_at(self.sections, pfn >> self.shift).page_ext
        return None if t is None else <PageExtArrays?>t

    def set_page_owner(self, long pfn, long order, long gfp):
        """__set_page_owner: a new record (the allocation's order, gfp, stack handle,
        time and task) for the block; every page of it (v5.4+: each subpage) points
        at it, with PAGE_EXT_OWNER and PAGE_EXT_OWNER_ALLOCATED set."""
        self.c_set(pfn, order, gfp)

    def reset_page_owner(self, long pfn, long order):
        """__reset_page_owner: the pages lose PAGE_EXT_OWNER_ALLOCATED and the record
        gets the free's stack handle, time and task (v5.4+ keep the record; before,
        PAGE_EXT_OWNER is cleared and the record lost)."""
        self.c_reset(pfn, order)

    cdef int c_set(self, long pfn, long order, long gfp) except -1:
        # __set_page_owner
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
                    self.c_set(new, order, 0)
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
        self.hooks.c_set(pfn, order, gfp)


cdef class ResetPageOwner:
    """``mm.free_hook`` of page_owner: ``OwnerHooks.reset_page_owner``, called as C
    by the compiled allocator."""

    def __init__(self, OwnerHooks hooks not None):
        self.hooks = hooks

    def __call__(self, long pfn, long order):
        self.hooks.c_reset(pfn, order)
