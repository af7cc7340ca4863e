# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""mm/vmscan.c's LRU bookkeeping, compiled (Cython; docs/compiled-core.md):
``lru_add`` (folio_add_lru) and ``lru_del``, over ``mm.lru`` (one :class:`LruList`
per node, oldest block first: kernel/vmscan.py).

The runner's replay calls them as C for every reclaimable block it allocates or
frees; ``pextlab.kernel.vmscan`` re-exports the def functions for Python callers.
"""
from copy import deepcopy

from cpython.mem cimport PyMem_Free, PyMem_Realloc

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

    It stores no Python object per block: an entry is the int
    ``order | slot << 8``, ``slot`` indexing a small registry of the holders that
    have blocks on the list (a holder is whoever allocated the block; reclaim calls
    ``holder.reclaimed(pfn, order)``).  A dict of ints is not tracked by the garbage
    collector, so a long list costs the collector nothing, where one tuple per block,
    in a reference cycle with its holder, was scanned at every full collection.  A
    holder leaves the registry with its last block.
    """
    def __cinit__(self):
        self.blocks = {}
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
        # lru[pfn] = (order, holder)
        if not 0 <= order <= ORDER_MASK:
            raise PextlabError(f"LRU: order {order} of pfn {pfn:#x} is out of range")
        cdef Py_ssize_t s = self.slot_of(holder)
        self.nr[s] += 1
        key = pfn
        old = self.blocks.get(key)
        if old is not None:
            self.forget(old)
        self.blocks[key] = order | s << ORDER_BITS

    cdef bint c_pop(self, long pfn) except -1:
        # take pfn off the list; whether it was on it
        old = self.blocks.pop(pfn, None)
        if old is None:
            return False
        self.forget(old)
        return True

    cdef tuple entry(self, long e):
        return (e & ORDER_MASK, self.holders[e >> ORDER_BITS])

    # --- the dict's interface --------------------------------------------------------------
    def __len__(self):
        return len(self.blocks)

    def __iter__(self):
        return iter(self.blocks)

    def __contains__(self, pfn):
        return pfn in self.blocks

    def __getitem__(self, pfn):
        return self.entry(self.blocks[pfn])

    def __setitem__(self, long pfn, value):
        order, holder = value
        self.c_set(pfn, order, holder)

    def get(self, pfn, default=None):
        e = self.blocks.get(pfn)
        return default if e is None else self.entry(e)

    def pop(self, pfn, default=_MISSING):
        e = self.blocks.get(pfn)
        if e is None:
            if default is _MISSING:
                raise KeyError(pfn)
            return default
        got = self.entry(e)             # before its holder may leave the registry
        self.c_pop(pfn)
        return got

    def items(self):
        return [(pfn, self.entry(e)) for pfn, e in self.blocks.items()]

    def values(self):
        return [self.entry(e) for e in self.blocks.values()]

    def __repr__(self):
        return f"LruList({len(self.blocks)} blocks, {sum(h is not None for h in self.holders)} holders)"

    # --- copies and pickles: the entries and the holders, copied with the machine --------
    def __reduce__(self):
        return (LruList, (), (self.blocks, self.holders))

    def __setstate__(self, state):
        cdef Py_ssize_t i, n
        blocks, holders = state
        self.blocks, self.holders = dict(blocks), list(holders)
        n = len(self.holders)
        q = <Py_ssize_t *>PyMem_Realloc(self.nr, max(n, 1) * sizeof(Py_ssize_t))
        if q == NULL:
            raise MemoryError()
        self.nr = q
        for i in range(n):
            self.nr[i] = 0
        for e in self.blocks.values():
            self.nr[<long>e >> ORDER_BITS] += 1

    def __deepcopy__(self, memo):
        # the entries are ints: the dict is copied as it is, the holders deep (a holder
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
