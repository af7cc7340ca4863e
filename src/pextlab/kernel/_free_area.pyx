# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""A zone's buddy free lists in C: ``struct free_area`` (include/linux/mmzone.h) for
every order, one ``list_head`` per migratetype (docs/compiled-core.md).

The kernel links a free block's head page into its list through ``page->buddy_list``;
here a block has a slot with its pfn, its list and the two links, and an
open-addressed table finds a block's slot by (pfn, list).  Memory follows the number
of free blocks, not of pages.  The lists keep the kernel's order: ``list_add``
(mm/page_alloc.c __add_to_free_list) puts a block at the head,
``get_page_from_free_area`` takes the head, ``list_del`` removes anywhere.

Python code sees ``zone.free_area[order][mt]`` as a dict of pfns in insertion order,
as the lists were before they were compiled: ``d[pfn] = None`` adds at the head,
``del d[pfn]`` removes, ``d.popitem()`` takes the head (the newest), iteration runs
oldest first and ``reversed(d)`` newest first.  ``zone.free_area[order][mt] = pfns``
replaces a list's blocks with ``pfns``, oldest first.  A copy or a pickle holds
every list's pfns in order.
"""
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int32_t, int64_t, uint64_t

from ..errors import PextlabError

__all__ = ["FreeArea"]

cdef uint64_t FIB = 0x9E3779B97F4A7C15ULL    # 2^64 / golden ratio: Fibonacci hashing
cdef int32_t MAX_SLOTS = 1 << 30


cdef void *_realloc(void *p, size_t size) except NULL:
    cdef void *q = PyMem_Realloc(p, size)
    if q == NULL:
        raise MemoryError()
    return q


cdef inline int64_t _home(FreeArea fa, int64_t pfn, long lid) noexcept:
    # the table index where the probe for (pfn, list) starts
    cdef uint64_t key = <uint64_t>pfn * <uint64_t>fa.nlists + <uint64_t>lid
    return <int64_t>((key * FIB) >> (64 - fa.tbits))


cdef inline int64_t _probe(FreeArea fa, int64_t pfn, long lid) noexcept:
    # the table index holding (pfn, list), or the empty one where it would go
    cdef int64_t i = _home(fa, pfn, lid)
    cdef int32_t s = fa.table[i]
    while s >= 0 and not (fa.pfn[s] == pfn and fa.lid[s] == lid):
        i = (i + 1) & fa.tmask
        s = fa.table[i]
    return i


cdef int _resize_table(FreeArea fa, int bits) except -1:
    # a fresh table of 2^bits entries, every block placed again
    cdef int64_t size = (<int64_t>1) << bits
    cdef int64_t i
    cdef int32_t s
    cdef long l
    PyMem_Free(fa.table)
    fa.table = NULL
    fa.table = <int32_t *>_realloc(NULL, size * sizeof(int32_t))
    for i in range(size):
        fa.table[i] = -1
    fa.tbits = bits
    fa.tmask = size - 1
    for l in range(fa.nlists):
        s = fa.head[l]
        while s >= 0:
            fa.table[_probe(fa, fa.pfn[s], l)] = s
            s = fa.older[s]
    return 0


cdef int _reserve(FreeArea fa, int64_t n) except -1:
    # room for n blocks: slots, and a table at most half full
    cdef int32_t cap = fa.cap
    cdef int bits = fa.tbits
    if n > MAX_SLOTS:
        raise MemoryError(f"more than {MAX_SLOTS} free blocks in one zone")
    while cap < n:
        cap *= 2
    if cap != fa.cap:
        fa.pfn = <int64_t *>_realloc(fa.pfn, cap * sizeof(int64_t))
        fa.lid = <int32_t *>_realloc(fa.lid, cap * sizeof(int32_t))
        fa.older = <int32_t *>_realloc(fa.older, cap * sizeof(int32_t))
        fa.newer = <int32_t *>_realloc(fa.newer, cap * sizeof(int32_t))
        fa.cap = cap
    while (<int64_t>1 << bits) < 2 * n:
        bits += 1
    if bits != fa.tbits:
        _resize_table(fa, bits)
    return 0


cdef inline int32_t _new_slot(FreeArea fa) noexcept:
    # a released slot, else the next never used one (_reserve made room)
    cdef int32_t s = fa.free_slot
    if s >= 0:
        fa.free_slot = fa.older[s]
        return s
    s = fa.top
    fa.top += 1
    return s


cdef inline long _list(FreeArea fa, long order, long mt) except -1:
    # free_area[order].free_list[mt] as one index
    if not (0 <= order < fa.nr_orders and 0 <= mt < fa.nr_mt):
        raise IndexError(f"no free list of order {order}, migratetype {mt}")
    return order * fa.nr_mt + mt


cdef void _table_delete(FreeArea fa, int64_t i) noexcept:
    # linear probing's deletion without tombstones: an entry further along the run
    # moves into the hole unless its home lies cyclically in (hole, entry]
    cdef int64_t j = i
    cdef int64_t k
    cdef int32_t s
    while True:
        j = (j + 1) & fa.tmask
        s = fa.table[j]
        if s < 0:
            break
        k = _home(fa, fa.pfn[s], fa.lid[s])
        if (k <= i or k > j) if i <= j else (k <= i and k > j):
            fa.table[i] = s
            i = j
    fa.table[i] = -1


cdef void _unlink(FreeArea fa, int32_t s, int64_t i) noexcept:
    # list_del of slot s (at table index i); the slot is free again
    cdef int32_t old = fa.older[s]
    cdef int32_t new = fa.newer[s]
    cdef long l = fa.lid[s]
    if new >= 0:
        fa.older[new] = old
    else:
        fa.head[l] = old
    if old >= 0:
        fa.newer[old] = new
    else:
        fa.tail[l] = new
    fa.count[l] -= 1
    fa.changes[l] += 1
    fa.nblocks -= 1
    _table_delete(fa, i)
    fa.older[s] = fa.free_slot
    fa.free_slot = s


cdef class FreeArea:
    """Every free list of one zone: ``free_area[order].free_list[mt]``."""

    def __cinit__(self, long nr_orders, long nr_mt):
        if nr_orders <= 0 or nr_mt <= 0:
            raise PextlabError(f"a free area needs orders and migratetypes, got {nr_orders}, "
                               f"{nr_mt}")
        self.nr_orders = nr_orders
        self.nr_mt = nr_mt
        self.nlists = nr_orders * nr_mt
        self.head = <int32_t *>_realloc(NULL, self.nlists * sizeof(int32_t))
        self.tail = <int32_t *>_realloc(NULL, self.nlists * sizeof(int32_t))
        self.count = <int64_t *>_realloc(NULL, self.nlists * sizeof(int64_t))
        self.changes = <uint64_t *>_realloc(NULL, self.nlists * sizeof(uint64_t))
        for l in range(self.nlists):
            self.head[l] = self.tail[l] = -1
            self.count[l] = 0
            self.changes[l] = 0
        self.free_slot = -1
        self.cap = 8
        self.tbits = 3
        _reserve(self, 16)

    def __dealloc__(self):
        PyMem_Free(self.pfn)
        PyMem_Free(self.lid)
        PyMem_Free(self.older)
        PyMem_Free(self.newer)
        PyMem_Free(self.table)
        PyMem_Free(self.head)
        PyMem_Free(self.tail)
        PyMem_Free(self.count)
        PyMem_Free(self.changes)

    cdef int add(self, int64_t pfn, long order, long mt) except -1:
        """list_add: the block goes to the head of its list; one already on that list
        stays where it is (as a dict's ``d[pfn] = None`` does)."""
        cdef long l = _list(self, order, mt)
        if 2 * (self.nblocks + 1) > self.tmask + 1 or self.free_slot < 0 and self.top == self.cap:
            _reserve(self, self.nblocks + 1)
        cdef int64_t i = _probe(self, pfn, l)
        if self.table[i] >= 0:
            return 0
        cdef int32_t s = _new_slot(self)
        cdef int32_t h = self.head[l]
        self.pfn[s] = pfn
        self.lid[s] = l
        self.older[s] = h
        self.newer[s] = -1
        if h >= 0:
            self.newer[h] = s
        else:
            self.tail[l] = s
        self.head[l] = s
        self.table[i] = s
        self.count[l] += 1
        self.changes[l] += 1
        self.nblocks += 1
        return 0

    cdef int remove(self, int64_t pfn, long order, long mt) except -1:
        """list_del; KeyError when the block is not on that list."""
        cdef int64_t i = _probe(self, pfn, _list(self, order, mt))
        cdef int32_t s = self.table[i]
        if s < 0:
            raise KeyError(pfn)
        _unlink(self, s, i)
        return 0

    cdef int64_t pop_head(self, long order, long mt) except? -2:
        """The head of the list (the newest block) taken off it, -1 when empty."""
        cdef long l = _list(self, order, mt)
        cdef int32_t s = self.head[l]
        if s < 0:
            return -1
        cdef int64_t pfn = self.pfn[s]
        _unlink(self, s, _probe(self, pfn, l))
        return pfn

    # --- Python: the per-order views, copies ------------------------------------------

    def __len__(self):
        return self.nr_orders

    def __getitem__(self, order):
        return FreeAreaOrder(self, py_index(order, self.nr_orders, "free_area order"))

    def __iter__(self):
        return iter([FreeAreaOrder(self, o) for o in range(self.nr_orders)])

    def __eq__(self, other):
        if not isinstance(other, FreeArea):
            return NotImplemented
        return list(self) == list(other)

    def __repr__(self):
        return f"<FreeArea {self.nr_orders} orders x {self.nr_mt} types, {self.nblocks} blocks>"

    def __reduce__(self):
        return (FreeArea, (self.nr_orders, self.nr_mt), _dump(self))

    def __setstate__(self, state):
        _load(self, state)


cdef bytes _dump(FreeArea fa):
    # a copy's state: every list's length, then every list's pfns oldest first (int64)
    cdef bytearray buf = bytearray(8 * (fa.nlists + fa.nblocks))
    cdef int64_t *p = <int64_t *><char *>buf
    cdef int64_t k = fa.nlists
    cdef long l
    cdef int32_t s
    for l in range(fa.nlists):
        p[l] = fa.count[l]
        s = fa.tail[l]
        while s >= 0:
            p[k] = fa.pfn[s]
            k += 1
            s = fa.newer[s]
    return bytes(buf)


cdef int _load(FreeArea fa, state) except -1:
    # _dump's state into an empty free area
    if fa.nblocks:
        raise PextlabError("a free area's state goes into an empty one")
    if not isinstance(state, bytes) or len(state) % 8 or len(state) < 8 * fa.nlists:
        raise PextlabError("a free area's state is its lists' lengths and pfns as int64 bytes")
    cdef const int64_t *p = <const int64_t *><const char *>state
    cdef int64_t n = len(state) // 8 - fa.nlists
    cdef int64_t total = 0, k = fa.nlists, end
    cdef long l
    for l in range(fa.nlists):
        if p[l] < 0:
            raise PextlabError(f"a free area's state has a list of {p[l]} blocks")
        total += p[l]
    if total != n:
        raise PextlabError(f"a free area's state counts {total} blocks but holds {n}")
    _reserve(fa, n)
    for l in range(fa.nlists):
        end = k + p[l]
        while k < end:
            fa.add(p[k], l // fa.nr_mt, l % fa.nr_mt)
            k += 1
    return 0


cdef long py_index(i, Py_ssize_t n, str what) except -1:
    # a Python index (negative from the end) checked against n (also Zone's counters')
    cdef Py_ssize_t k = i
    if k < 0:
        k += n
    if not 0 <= k < n:
        raise IndexError(f"{what} {i} out of range (0..{n - 1})")
    return k


cdef int _fill(FreeArea fa, long l, pfns) except -1:
    # each pfn added at the head in turn: the first ends up oldest
    cdef long order = l // fa.nr_mt, mt = l % fa.nr_mt
    for pfn in pfns:
        fa.add(pfn, order, mt)
    return 0


cdef class FreeAreaOrder:
    """``zone.free_area[order]``: its lists by migratetype."""
    cdef FreeArea fa
    cdef long order

    def __cinit__(self, FreeArea fa not None, long order):
        self.fa = fa
        self.order = order

    def __len__(self):
        return self.fa.nr_mt

    def __getitem__(self, mt):
        cdef long m = py_index(mt, self.fa.nr_mt, "free_area migratetype")
        return FreeList(self.fa, self.order * self.fa.nr_mt + m)

    def __setitem__(self, mt, pfns):
        """Replace the list's blocks with ``pfns`` (a dict or any iterable), oldest first."""
        cdef long l = self.order * self.fa.nr_mt + py_index(mt, self.fa.nr_mt, "free_area migratetype")
        cdef list new = list(pfns)          # first: ``pfns`` may be this very list
        FreeList(self.fa, l).clear()
        _fill(self.fa, l, new)

    def __iter__(self):
        cdef long base = self.order * self.fa.nr_mt
        return iter([FreeList(self.fa, base + mt) for mt in range(self.fa.nr_mt)])

    def __eq__(self, other):
        if not isinstance(other, (FreeAreaOrder, list)):
            return NotImplemented
        return list(self) == list(other)

    def __repr__(self):
        return repr(list(self))


cdef class FreeList:
    """``free_area[order].free_list[mt]`` as an insertion-ordered dict of pfns to None."""
    cdef FreeArea fa
    cdef long l

    def __cinit__(self, FreeArea fa not None, long l):
        self.fa = fa
        self.l = l

    def __len__(self):
        return self.fa.count[self.l]

    def __bool__(self):
        return self.fa.count[self.l] != 0

    def __contains__(self, pfn):
        if not isinstance(pfn, int):
            return False
        cdef int64_t p = pfn
        return self.fa.table[_probe(self.fa, p, self.l)] >= 0

    def __getitem__(self, pfn):
        if pfn not in self:
            raise KeyError(pfn)
        return None

    def __setitem__(self, int64_t pfn, value):
        if value is not None:
            raise PextlabError(f"a free list maps pfns to None, not to {value!r}")
        self.fa.add(pfn, self.l // self.fa.nr_mt, self.l % self.fa.nr_mt)

    def __delitem__(self, pfn):
        if pfn not in self:
            raise KeyError(pfn)
        self.fa.remove(pfn, self.l // self.fa.nr_mt, self.l % self.fa.nr_mt)

    def popitem(self):
        """The head (the newest block) off the list: (pfn, None)."""
        if not self.fa.count[self.l]:
            raise KeyError("popitem(): free list is empty")
        return self.fa.pop_head(self.l // self.fa.nr_mt, self.l % self.fa.nr_mt), None

    def clear(self):
        cdef long order = self.l // self.fa.nr_mt, mt = self.l % self.fa.nr_mt
        while self.fa.count[self.l]:
            self.fa.pop_head(order, mt)

    def keys(self):
        """The pfns oldest first (what ``dict.update`` and ``dict(d)`` read)."""
        return _FreeListIter(self.fa, self.l, False)

    def __iter__(self):
        return _FreeListIter(self.fa, self.l, False)

    def __reversed__(self):
        return _FreeListIter(self.fa, self.l, True)

    def __eq__(self, other):
        if isinstance(other, FreeList):
            other = dict.fromkeys(other)
        elif not isinstance(other, dict):
            return NotImplemented
        return dict.fromkeys(self) == other

    def __repr__(self):
        return repr(dict.fromkeys(self))


cdef class _FreeListIter:
    # one list's pfns, oldest first (or newest first); a change of the list stops it
    cdef FreeArea fa
    cdef long l
    cdef int32_t s
    cdef bint newest_first
    cdef uint64_t changes

    def __cinit__(self, FreeArea fa, long l, bint newest_first):
        self.fa = fa
        self.l = l
        self.newest_first = newest_first
        self.s = fa.head[l] if newest_first else fa.tail[l]
        self.changes = fa.changes[l]

    def __iter__(self):
        return self

    def __next__(self):
        cdef FreeArea fa = self.fa
        cdef int32_t s = self.s
        if fa.changes[self.l] != self.changes:
            raise RuntimeError("free list changed during iteration")
        if s < 0:
            raise StopIteration
        self.s = fa.older[s] if self.newest_first else fa.newer[s]
        return fa.pfn[s]
