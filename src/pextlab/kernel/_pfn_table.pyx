# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""A pfn -> record-of-ints table in C, insertion-ordered like a dict (Cython;
docs/compiled-core.md), so that per-block bookkeeping holds no Python object per block.

Its users call its C methods (``kernel/_pfn_table.pxd``): the kernel's LRU lists
(``kernel/_vmscan.pyx`` ``LruList``, a record of one int per block) and the workload
runner's per-block records (``workloads/_runlog.pyx`` re-exports :class:`PfnTable` as
``BlockTable``; ``workloads/_replay.pyx`` adds and removes them).
"""
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy

from ..errors import PextlabError

__all__ = ["PfnTable", "PfnKeyIterator"]

cdef uint64_t FIB = 0x9E3779B97F4A7C15ULL    # 2^64 / golden ratio: Fibonacci hashing
cdef int32_t EMPTY = -1                     # a table slot never used since the last rebuild
cdef int32_t DUMMY = -2                     # a table slot whose entry was removed
cdef Py_ssize_t MAX_ENTRIES = 1 << 30       # entry indices are int32 in the table
cdef Py_ssize_t MAX_WIDTH = 8
_I64_MIN, _I64_END = -(2 ** 63), 2 ** 63      # the keys a table can hold: int64


cdef void *_alloc(size_t size) except NULL:
    cdef void *p = PyMem_Realloc(NULL, size)
    if p == NULL:
        raise MemoryError()
    return p


cdef inline Py_ssize_t _capacity_for(Py_ssize_t live) noexcept:
    # the entry arrays' size a rebuild gives ``live`` entries plus one more: half free
    # afterwards, so that rebuilds cost amortised O(1) per addition
    cdef Py_ssize_t cap = 8
    while cap < 2 * (live + 1):
        cap *= 2
    return cap


cdef class PfnTable:
    """pfn -> a record of ``width`` ints, in C: the run log's per-block records
    (``held``, ``lru``) and the kernel's LRU lists add and remove them without a Python
    object per block.

    The layout is CPython's compact dict (Objects/dictobject.c): the entries sit in an
    array in insertion order, an open-addressed table keyed by pfn holds their indices,
    and a removed entry leaves a dummy in the table and a dead entry until the next
    rebuild, which compacts the entries in order.  So Python code sees a dict of
    tuples, and iterates it in a dict's order: a new pfn goes last, a changed one keeps
    its place, one removed and added again goes last.  A tuple is built on reading;
    ``keys()``, ``values()`` and ``items()`` are lists (a copy), and so is what
    ``iter()`` walks; :meth:`iterkeys` walks the table itself, as a dict's iterator
    does.  It compares equal to a mapping with the same items; copies and pickles hold
    the entries in order.

    The oldest live entry is found in amortised O(1) (:meth:`oldest`): a cursor
    (``head``) stays past the dead entries at the front, so taking the oldest entry
    again and again (reclaim) does not rescan them.
    """

    def __cinit__(self, int width):
        if not 1 <= width <= MAX_WIDTH:
            raise PextlabError(f"a pfn table's records hold 1 to {MAX_WIDTH} ints, not {width}")
        self.w = width
        self.pfn = self.val = NULL
        self.dead = NULL
        self.table = NULL
        self.n = self.live = self.cap = self.head = self.rebuilds = 0
        self.rebuild(8)

    def __dealloc__(self):
        PyMem_Free(self.pfn)
        PyMem_Free(self.val)
        PyMem_Free(self.dead)
        PyMem_Free(self.table)

    # --- C ---------------------------------------------------------------------------------
    cdef Py_ssize_t home(self, int64_t key) noexcept:
        return <Py_ssize_t>((<uint64_t>key * FIB) >> (64 - self.tbits))

    cdef int rebuild(self, Py_ssize_t cap) except -1:
        # the live entries, in order, into arrays of ``cap`` (a power of two >= live)
        # entries, indexed in a fresh table of 2 * cap slots: as every table slot in use
        # names a distinct entry, the table is at most half full, dummies included
        cdef Py_ssize_t i, j = 0, size = 2 * cap
        cdef Py_ssize_t mask = size - 1
        cdef int64_t *keys = NULL
        cdef int64_t *vals = NULL
        cdef char *dead = NULL
        cdef int32_t *table = NULL
        if cap > MAX_ENTRIES:
            raise MemoryError(f"more than {MAX_ENTRIES} blocks in a pfn table")
        try:
            keys = <int64_t *>_alloc(cap * sizeof(int64_t))
            vals = <int64_t *>_alloc(cap * self.w * sizeof(int64_t))
            dead = <char *>_alloc(cap)
            table = <int32_t *>_alloc(size * sizeof(int32_t))
        except MemoryError:
            PyMem_Free(keys)
            PyMem_Free(vals)
            PyMem_Free(dead)
            raise
        for i in range(self.head, self.n):
            if not self.dead[i]:
                keys[j] = self.pfn[i]
                memcpy(vals + j * self.w, self.val + i * self.w, self.w * sizeof(int64_t))
                dead[j] = 0
                j += 1
        PyMem_Free(self.pfn)
        PyMem_Free(self.val)
        PyMem_Free(self.dead)
        PyMem_Free(self.table)
        self.pfn, self.val, self.dead, self.table = keys, vals, dead, table
        self.n = self.live = j
        self.cap = cap
        self.head = 0
        self.rebuilds += 1
        self.tbits = 0
        while (<Py_ssize_t>1 << self.tbits) < size:
            self.tbits += 1
        for i in range(size):
            table[i] = EMPTY
        for j in range(self.n):
            i = self.home(keys[j])
            while table[i] != EMPTY:
                i = (i + 1) & mask
            table[i] = <int32_t>j
        return 0

    cdef Py_ssize_t slot_of(self, int64_t key) noexcept:
        """The table slot naming ``key``'s entry, or -1 (the table always has an empty slot)."""
        cdef Py_ssize_t mask = (<Py_ssize_t>1 << self.tbits) - 1
        cdef Py_ssize_t i = self.home(key)
        cdef int32_t e = self.table[i]
        while e != EMPTY:
            if e >= 0 and self.pfn[e] == key:
                return i
            i = (i + 1) & mask
            e = self.table[i]
        return -1

    cdef int64_t *put(self, int64_t key) except NULL:
        """The ``w`` values of ``key``'s record, to write: a new entry goes last (its
        values are the caller's to set, all of them; ``live`` grows by one only then)."""
        cdef Py_ssize_t i = self.slot_of(key)
        if i >= 0:
            return self.val + <Py_ssize_t>self.table[i] * self.w
        if self.n == self.cap:
            self.rebuild(_capacity_for(self.live))
        i = self.home(key)
        while self.table[i] >= 0:               # the first empty or dummy slot: key is absent
            i = (i + 1) & ((<Py_ssize_t>1 << self.tbits) - 1)
        self.table[i] = <int32_t>self.n
        self.pfn[self.n] = key
        self.dead[self.n] = 0
        self.n += 1
        self.live += 1
        return self.val + (self.n - 1) * self.w

    cdef Py_ssize_t remove(self, int64_t key) noexcept:
        """Remove ``key``'s entry; its index, or -1 if there was none.  The removed
        entry's values stay readable (``val + index * w``) until the next :meth:`put`."""
        cdef Py_ssize_t i = self.slot_of(key)
        cdef Py_ssize_t e
        if i < 0:
            return -1
        e = self.table[i]
        self.dead[e] = 1
        self.table[i] = DUMMY
        self.live -= 1
        return e

    cdef bint discard(self, int64_t key) noexcept:
        """Remove ``key``'s entry; whether there was one."""
        return self.remove(key) >= 0

    cdef Py_ssize_t oldest(self) noexcept:
        """The index of the oldest live entry, or -1: ``head`` moves past the dead
        entries it meets, each once between rebuilds (a rebuild leaves none)."""
        while self.head < self.n and self.dead[self.head]:
            self.head += 1
        return self.head if self.head < self.n else -1

    cdef PfnTable clone(self):
        """A copy: the live entries, in order (compacted)."""
        cdef PfnTable t = PfnTable(self.w)
        cdef Py_ssize_t e
        t.rebuild(_capacity_for(self.live))
        for e in range(self.head, self.n):
            if not self.dead[e]:
                memcpy(t.put(self.pfn[e]), self.val + e * self.w, self.w * sizeof(int64_t))
        return t

    # --- the dict interface ------------------------------------------------------------------
    cdef tuple record(self, Py_ssize_t e):
        cdef int64_t *v = self.val + e * self.w
        return tuple([v[j] for j in range(self.w)])

    cdef Py_ssize_t entry(self, key) except -2:
        # the entry of a Python key, or -1: a key that is no int64 is in no table
        if not isinstance(key, int) or not _I64_MIN <= key < _I64_END:
            return -1
        cdef Py_ssize_t i = self.slot_of(key)
        return -1 if i < 0 else self.table[i]

    def __len__(self):
        return self.live

    def __contains__(self, key):
        return self.entry(key) >= 0

    def __getitem__(self, key):
        cdef Py_ssize_t e = self.entry(key)
        if e < 0:
            raise KeyError(key)
        return self.record(e)

    def get(self, key, default=None):
        cdef Py_ssize_t e = self.entry(key)
        return default if e < 0 else self.record(e)

    def __setitem__(self, key, value):
        cdef int64_t v[8]
        cdef Py_ssize_t j
        cdef int64_t *row
        if not isinstance(key, int) or not _I64_MIN <= key < _I64_END:
            raise PextlabError(f"a pfn table is keyed by pfn (an int64), not {key!r}")
        vs = tuple(value)
        if len(vs) != self.w:
            raise PextlabError(f"a pfn table's record is {self.w} ints, not {value!r}")
        for j in range(self.w):                 # all converted before the table changes
            v[j] = vs[j]
        row = self.put(key)
        for j in range(self.w):
            row[j] = v[j]

    def __delitem__(self, key):
        if self.entry(key) < 0:
            raise KeyError(key)
        self.discard(key)

    def pop(self, key, *default):
        """dict.pop: the record of ``key`` (a tuple), removed; ``default`` if absent."""
        cdef Py_ssize_t e = self.entry(key)
        if e < 0:
            if default:
                return default[0]
            raise KeyError(key)
        r = self.record(e)
        self.discard(key)
        return r

    def keys(self):
        cdef Py_ssize_t e
        return [self.pfn[e] for e in range(self.head, self.n) if not self.dead[e]]

    def values(self):
        cdef Py_ssize_t e
        return [self.record(e) for e in range(self.head, self.n) if not self.dead[e]]

    def items(self):
        cdef Py_ssize_t e
        return [(self.pfn[e], self.record(e)) for e in range(self.head, self.n) if not self.dead[e]]

    def __iter__(self):
        return iter(self.keys())

    def iterkeys(self):
        """The keys in order, read from the table as they are reached (a dict's
        iterator): :exc:`RuntimeError` once the table changed size, or was compacted,
        since the iterator was made; a record changed in place is fine."""
        cdef PfnKeyIterator it = PfnKeyIterator.__new__(PfnKeyIterator)
        self.oldest()
        it.t, it.pos, it.live, it.rebuilds = self, self.head, self.live, self.rebuilds
        return it

    def __eq__(self, other):
        if not isinstance(other, (PfnTable, dict)):
            return NotImplemented
        if len(self) != len(other):
            return False
        for k, v in self.items():
            if k not in other or other[k] != v:
                return False
        return True

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        return f"PfnTable({self.w}, {dict(self.items())!r})"

    def copy(self):
        return self.clone()

    def __reduce__(self):
        # a copy (a snapshot) or a pickle: the live entries' pfns and records, in order,
        # as native int64s
        cdef Py_ssize_t e, i = 0, rec = self.w * sizeof(int64_t)
        cdef bytearray ks = bytearray(self.live * sizeof(int64_t))
        cdef bytearray vs = bytearray(self.live * rec)
        cdef char *k = ks
        cdef char *v = vs
        for e in range(self.head, self.n):
            if not self.dead[e]:
                memcpy(k + i * sizeof(int64_t), &self.pfn[e], sizeof(int64_t))
                memcpy(v + i * rec, self.val + e * self.w, rec)
                i += 1
        return pfn_table_from_bytes, (self.w, bytes(ks), bytes(vs))


cdef class PfnKeyIterator:
    """:meth:`PfnTable.iterkeys`: the table's live keys from the oldest on."""

    def __iter__(self):
        return self

    def __next__(self):
        cdef PfnTable t = self.t
        if t is None:
            raise StopIteration
        if t.live != self.live:
            raise RuntimeError("pfn table changed size during iteration")
        if t.rebuilds != self.rebuilds:         # the entry indices moved
            raise RuntimeError("pfn table was rebuilt during iteration")
        while self.pos < t.n and t.dead[self.pos]:
            self.pos += 1
        if self.pos == t.n:
            self.t = None                       # exhausted for good, as a dict's iterator
            raise StopIteration
        self.pos += 1
        return t.pfn[self.pos - 1]

    def __reduce__(self):
        raise TypeError("a pfn table's iterator cannot be copied or pickled")


def pfn_table_from_bytes(int width, bytes keys, bytes vals):
    """A table from its pickle (:meth:`PfnTable.__reduce__`): ``width`` ints per
    record, the pfns and the records as native int64s, in order."""
    cdef PfnTable t = PfnTable(width)
    cdef Py_ssize_t e, n = len(keys) // sizeof(int64_t)
    cdef int64_t key
    cdef const char *k = keys
    cdef const char *v = vals
    if len(keys) != n * sizeof(int64_t) or len(vals) != n * width * sizeof(int64_t):
        raise PextlabError("a pfn table's pickle does not hold whole records")
    t.rebuild(_capacity_for(n))
    for e in range(n):
        memcpy(&key, k + e * sizeof(int64_t), sizeof(int64_t))
        memcpy(t.put(key), v + e * width * sizeof(int64_t), width * sizeof(int64_t))
    return t
