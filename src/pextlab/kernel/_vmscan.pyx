# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""mm/vmscan.c's LRU bookkeeping, compiled (Cython; docs/compiled-core.md):
``lru_add`` (folio_add_lru) and ``lru_del``, over ``mm.lru`` (one :class:`LruList`
per node, oldest block first: kernel/vmscan.py).

The runner's replay calls them as C for every reclaimable block it allocates or
frees; ``pextlab.kernel.vmscan`` re-exports the def functions for Python callers.
"""
from copy import deepcopy

from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int64_t

from ._pfn_table cimport PfnTable
from ._state cimport MMCore

from ..errors import PextlabError

__all__ = ["LruList", "lru_add", "lru_del"]

cdef enum:
    ORDER_BITS = 8              # an entry: order | holder slot << ORDER_BITS
    ORDER_MASK = (1 << ORDER_BITS) - 1

_MISSING = object()


cdef class LruList:
    """One node's LRU list (its lruvec), oldest block first, read and written as the
    insertion-ordered dict ``pfn -> (order, holder)`` it was: ``next(iter(lru))`` is
    the oldest, ``lru[pfn] = (order, holder)`` makes a new pfn the newest (a pfn
    already on it keeps its place), ``pop``, ``get``, ``len``, ``in``, ``items``,
    ``values`` (lists, in order).

    It stores no Python object per block: the list is a C pfn table
    (``kernel/_pfn_table.pyx``, a dict's order) whose record is the one int
    ``order | slot << 8``, ``slot`` indexing a small registry of the holders that
    have blocks on the list (a holder is whoever allocated the block; reclaim calls
    ``holder.reclaimed(pfn, order)``).  Adding and removing a block (``c_set``,
    ``c_pop``) makes no Python object, and the garbage collector has nothing to scan
    per block.  A holder leaves the registry with its last block.

    ``iter(lru)`` walks the table as a dict's iterator does (:exc:`RuntimeError` if
    the list changes size meanwhile) and starts at the oldest live block in amortised
    O(1), so reclaim taking the oldest block again and again stays linear.
    """
    def __cinit__(self):
        self.blocks = PfnTable(1)
        self.holders = []
        self.nr = NULL

    def __dealloc__(self):
        PyMem_Free(self.nr)

    # --- C ---------------------------------------------------------------------------------
    cdef Py_ssize_t slot_of(self, holder) except -1:
        # the holder's slot: its own, else the first free one, else a new one
        cdef Py_ssize_t i, n = len(self.holders), free = -1
        for i in range(n):
            if self.holders[i] is holder:
                return i
            if free < 0 and not self.nr[i]:
                free = i
        if free >= 0:
            self.holders[free] = holder
            return free
        q = <Py_ssize_t *>PyMem_Realloc(self.nr, (n + 1) * sizeof(Py_ssize_t))
        if q == NULL:
            raise MemoryError()
        self.nr = q
        self.nr[n] = 0
        self.holders.append(holder)
        return n

    cdef void forget(self, long entry) except *:
        # an entry left the list: its holder has one block fewer on it
        cdef Py_ssize_t s = entry >> ORDER_BITS
        self.nr[s] -= 1
        if not self.nr[s]:
            self.holders[s] = None

    cdef void c_set(self, long pfn, long order, object holder) except *:
        # lru[pfn] = (order, holder): a new pfn goes last, a listed one keeps its place
        if not 0 <= order <= ORDER_MASK:
            raise PextlabError(f"LRU: order {order} of pfn {pfn:#x} is out of range")
        cdef Py_ssize_t s = self.slot_of(holder), live = self.blocks.live
        cdef int64_t *rec = self.blocks.put(pfn)
        self.nr[s] += 1
        if self.blocks.live == live:            # it was listed: its old entry leaves
            self.forget(rec[0])
        rec[0] = order | s << ORDER_BITS

    cdef bint c_pop(self, long pfn) except -1:
        # take pfn off the list; whether it was on it
        cdef Py_ssize_t e = self.blocks.remove(pfn)
        if e < 0:
            return False
        self.forget(self.blocks.val[e])
        return True

    cdef tuple entry(self, long e):
        return (e & ORDER_MASK, self.holders[e >> ORDER_BITS])

    cdef Py_ssize_t find(self, pfn) except -2:
        # the table entry of a Python key, or -1.  A key that is no int but equals one
        # (a numpy integer, 3.0) finds that int's entry, as it did in the dict
        cdef Py_ssize_t e = self.blocks.entry(pfn)
        if e >= 0 or isinstance(pfn, int):
            return e
        try:
            k = int(pfn)
        except (TypeError, ValueError, OverflowError):
            return -1
        return self.blocks.entry(k) if k == pfn else -1

    # --- the dict's interface --------------------------------------------------------------
    def __len__(self):
        return self.blocks.live

    def __iter__(self):
        return self.blocks.iterkeys()

    def __contains__(self, pfn):
        return self.find(pfn) >= 0

    def __getitem__(self, pfn):
        cdef Py_ssize_t e = self.find(pfn)
        if e < 0:
            raise KeyError(pfn)
        return self.entry(self.blocks.val[e])

    def __setitem__(self, long pfn, value):
        order, holder = value
        self.c_set(pfn, order, holder)

    def get(self, pfn, default=None):
        cdef Py_ssize_t e = self.find(pfn)
        return default if e < 0 else self.entry(self.blocks.val[e])

    def pop(self, pfn, default=_MISSING):
        cdef Py_ssize_t e = self.find(pfn)
        if e < 0:
            if default is _MISSING:
                raise KeyError(pfn)
            return default
        got = self.entry(self.blocks.val[e])   # before its holder may leave the registry
        self.c_pop(pfn)
        return got

    def items(self):
        cdef PfnTable t = self.blocks
        cdef Py_ssize_t e
        return [(t.pfn[e], self.entry(t.val[e])) for e in range(t.head, t.n) if not t.dead[e]]

    def values(self):
        cdef PfnTable t = self.blocks
        cdef Py_ssize_t e
        return [self.entry(t.val[e]) for e in range(t.head, t.n) if not t.dead[e]]

    def __repr__(self):
        return f"LruList({self.blocks.live} blocks, {sum(h is not None for h in self.holders)} holders)"

    # --- copies and pickles: the entries and the holders, copied with the machine --------
    def __reduce__(self):
        # the state: the table (pickled as its entries, in order) and the registry
        return (LruList, (), (self.blocks, self.holders))

    def __setstate__(self, state):
        # (PfnTable, holders); the older (dict or list of (pfn, entry) pairs, holders)
        # loads too.  The table is copied: a shallow copy shares the state.
        cdef PfnTable t
        cdef int64_t *rec
        cdef Py_ssize_t i, e, n
        cdef Py_ssize_t *nr
        blocks, holders = state
        if isinstance(blocks, PfnTable):
            if (<PfnTable>blocks).w != 1:
                raise PextlabError("an LRU list's table has one int per block")
            t = (<PfnTable>blocks).clone()
        else:
            t = PfnTable(1)
            for pfn, v in dict(blocks).items():
                rec = t.put(pfn)
                rec[0] = v
        holders = list(holders)
        n = len(holders)
        nr = <Py_ssize_t *>PyMem_Realloc(NULL, max(n, 1) * sizeof(Py_ssize_t))
        if nr == NULL:
            raise MemoryError()
        for i in range(n):
            nr[i] = 0
        for e in range(t.n):
            if not t.dead[e]:
                i = t.val[e] >> ORDER_BITS
                if not 0 <= i < n:
                    PyMem_Free(nr)
                    raise PextlabError(f"LRU: pfn {t.pfn[e]:#x} names no holder")
                nr[i] += 1
        PyMem_Free(self.nr)
        self.nr = nr
        self.blocks, self.holders = t, holders

    def __deepcopy__(self, memo):
        # the entries are ints: the table is copied as it is, the holders deep (a holder
        # reaching back to this list finds the copy in memo)
        cdef LruList new = LruList()
        memo[id(self)] = new
        new.__setstate__((self.blocks, deepcopy(self.holders, memo)))
        return new


def lru_add(MMCore mm not None, long pfn, long order, holder):
    """folio_add_lru: ``pfn`` (head of a 2^order block) becomes the node's newest
    reclaimable block; ``holder.reclaimed(pfn, order)`` is called if reclaim takes it."""
    c_lru_add(mm, pfn, order, holder)


def lru_del(MMCore mm not None, long pfn):
    """The holder frees (or migrates) the block at ``pfn``: off its node's list."""
    c_lru_del(mm, pfn)


cdef void c_lru_add(MMCore mm, long pfn, long order, object holder) except *:
    # lruvec of page_to_nid(page), made on first use
    cdef dict lists = mm.lru
    nid = mm.geometry.nid_of(pfn)
    lru = lists.get(nid)
    if lru is None:
        lru = lists[nid] = LruList()
    (<LruList?>lru).c_set(pfn, order, holder)


cdef void c_lru_del(MMCore mm, long pfn) except *:
    # A block is on one node's list at most, the one lru_add (or a migration's
    # putback) put it on: that list first, then every list, in order, in case the
    # block's node is not the one it was added under
    cdef dict lists = mm.lru
    lru = lists.get(mm.geometry.nid_of(pfn))
    if lru is not None and (<LruList?>lru).c_pop(pfn):
        return
    for lru in lists.values():
        if (<LruList?>lru).c_pop(pfn):
            return
