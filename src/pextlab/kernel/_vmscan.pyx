# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""mm/vmscan.c's LRU bookkeeping, compiled (Cython; docs/compiled-core.md):
``lru_add`` (folio_add_lru) and ``lru_del``, over ``mm.lru`` (one insertion-ordered
dict ``pfn -> (order, holder)`` per node, oldest first: kernel/vmscan.py).

The runner's replay calls them as C for every reclaimable block it allocates or
frees; ``pextlab.kernel.vmscan`` re-exports the def functions for Python callers.
"""
from ._geometry cimport Geometry
from ._state cimport MMCore

__all__ = ["lru_add", "lru_del"]


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
        lru = lists[nid] = {}
    (<dict?>lru)[pfn] = (order, holder)


cdef void c_lru_del(MMCore mm, long pfn) except *:
    # A block is on one node's list at most, the one lru_add (or a migration's
    # putback) put it on: that list first, then every list, in order, in case the
    # block's node is not the one it was added under
    cdef dict lists = mm.lru
    lru = lists.get(mm.geometry.nid_of(pfn))
    if lru is not None and (<dict?>lru).pop(pfn, None) is not None:
        return
    for lru in lists.values():
        if (<dict?>lru).pop(pfn, None) is not None:
            return
