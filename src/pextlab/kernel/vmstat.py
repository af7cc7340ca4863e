"""Fragmentation maths of mm/vmstat.c: free-block counts, unusable and fragmentation indexes.

The kernel derives every fragmentation number from one walk over a zone's
``free_area[order].nr_free``, ``fill_contig_page_info`` (v6.12), which fills a
``struct contig_page_info``::

    free_pages            sum of nr_free[o] << o           (free base pages)
    free_blocks_total     sum of nr_free[o]                (free blocks of any order)
    free_blocks_suitable  sum of nr_free[o] << (o - s)     over o >= s (blocks usable at order s)

and three readers of it:

* ``unusable_free_index(order, info)``: thousandths of the free memory that sits
  in blocks smaller than ``order`` (1000 when nothing is free) -- debugfs
  ``extfrag/unusable_index``, printed by ``unusable_show_print``;
* ``__fragmentation_index(order, info)``: -1000 when a block of ``order`` or
  larger is free (an allocation would succeed), 0 when nothing is free, else
  ``1000 - (1000 + free_pages * 1000 / 2^order) / free_blocks_total`` --
  towards 0 a failure is a lack of memory, towards 1000 fragmentation --
  debugfs ``extfrag/extfrag_index`` (``extfrag_show_print``) and compaction's
  ``fragmentation_index(zone, order)`` (``compaction_suitable``); an order above
  ``MAX_PAGE_ORDER`` hits ``WARN_ON_ONCE`` and gives 0;
* ``extfrag_for_order(zone, order)``: the same unusable share in percent, the
  proactive-compaction score (``fragmentation_score_zone``, v5.9+).

Every division is the kernel's unsigned ``div_u64``; the values are never
negative, so Python's ``//`` is the same.  The scalar functions take one
zone's free counts (``nr_free``, one entry per order: ``NR_PAGE_ORDERS``
entries, so ``len(nr_free) - 1`` is ``MAX_PAGE_ORDER``) and compute with
Python integers; :func:`unusable_show_print` and :func:`extfrag_show_print`
compute every order of many zones at once with numpy.

>>> fragmentation_index([4, 0, 0], 1)          # four free single pages, order-1 request
250
>>> unusable_index([4, 0, 0], 1)               # all of them unusable at order 1
1000
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["count_vm_event", 
    "ContigPageInfo", "fill_contig_page_info", "unusable_free_index", "__fragmentation_index",
    "fragmentation_index", "unusable_index", "extfrag_for_order",
    "unusable_show_print", "extfrag_show_print",
]


class ContigPageInfo(NamedTuple):
    """``struct contig_page_info`` (mm/vmstat.c)."""

    free_pages: int
    free_blocks_total: int
    free_blocks_suitable: int


def fill_contig_page_info(nr_free, suitable_order: int) -> ContigPageInfo:
    """mm/vmstat.c fill_contig_page_info: one zone's free counts summed for ``suitable_order``.

    >>> fill_contig_page_info([3, 1, 2], 1)
    ContigPageInfo(free_pages=13, free_blocks_total=6, free_blocks_suitable=5)
    """
    free_pages = free_blocks_total = free_blocks_suitable = 0
    for order, blocks in enumerate(nr_free):
        blocks = int(blocks)
        free_blocks_total += blocks
        free_pages += blocks << order
        if order >= suitable_order:
            free_blocks_suitable += blocks << (order - suitable_order)
    return ContigPageInfo(free_pages, free_blocks_total, free_blocks_suitable)


def unusable_free_index(order: int, info: ContigPageInfo) -> int:
    """mm/vmstat.c unusable_free_index, in thousandths (1000 when nothing is free)."""
    if info.free_pages == 0:
        return 1000
    return (info.free_pages - (info.free_blocks_suitable << order)) * 1000 // info.free_pages


def __fragmentation_index(order: int, info: ContigPageInfo, max_page_order: int) -> int:
    """mm/vmstat.c __fragmentation_index, in thousandths.

    0 for an order above ``max_page_order`` (the kernel's ``WARN_ON_ONCE``) or
    when nothing is free; -1000 when a suitable block is free.
    """
    if order > max_page_order:
        return 0
    if not info.free_blocks_total:
        return 0
    if info.free_blocks_suitable:
        return -1000
    return 1000 - (1000 + info.free_pages * 1000 // (1 << order)) // info.free_blocks_total


def fragmentation_index(nr_free, order: int) -> int:
    """mm/vmstat.c fragmentation_index(zone, order) for a zone's free counts per order.

    ``MAX_PAGE_ORDER`` is ``len(nr_free) - 1`` (``free_area`` has
    ``NR_PAGE_ORDERS`` entries); asking above it gives 0, as the kernel's
    ``WARN_ON_ONCE(order > MAX_PAGE_ORDER)``.

    >>> fragmentation_index([0, 0, 1], 1), fragmentation_index([8, 0, 0], 3)
    (-1000, 0)
    """
    return __fragmentation_index(order, fill_contig_page_info(nr_free, order), len(nr_free) - 1)


def unusable_index(nr_free, order: int) -> int:
    """One field of debugfs ``unusable_index``: ``unusable_free_index`` of a zone at ``order``."""
    return unusable_free_index(order, fill_contig_page_info(nr_free, order))


def extfrag_for_order(nr_free, order: int) -> int:
    """mm/vmstat.c extfrag_for_order: percent of free memory in blocks below ``order`` (0 if none free)."""
    info = fill_contig_page_info(nr_free, order)
    if info.free_pages == 0:
        return 0
    return (info.free_pages - (info.free_blocks_suitable << order)) * 100 // info.free_pages


# ---------------------------------------------------------------------------------------
# Every order of many zones at once (what the two debugfs files print)
# ---------------------------------------------------------------------------------------

def _contig_table(nr_free):
    """(counts, free_pages, free_blocks_total, free_blocks_suitable) for every suitable order.

    ``nr_free`` has shape ``(..., NR_PAGE_ORDERS)``; ``free_blocks_suitable`` has
    the same shape (last axis: the suitable order), the others drop the last
    axis.  int64 when ``free_pages * 1000`` fits, else exact Python integers.
    """
    counts = np.asarray(nr_free)
    if counts.ndim == 0 or counts.shape[-1] == 0:
        raise ValueError("nr_free needs one count per order (last axis)")
    k = counts.shape[-1]
    orders = np.arange(k)
    # suitable[s] = sum over o >= s of nr_free[o] << (o - s): a triangular matrix product
    shift = orders[:, None] - orders[None, :]
    weights = np.where(shift >= 0, np.left_shift(1, np.maximum(shift, 0), dtype=object), 0)
    exact = counts.astype(object)
    free_pages = (exact * np.left_shift(1, orders, dtype=object)).sum(axis=-1)
    fits = counts.size == 0 or (int(np.max(free_pages, initial=0)) < (1 << 53)
                                and int(np.min(exact, initial=0)) >= 0)
    if fits:
        counts = counts.astype(np.int64)
        free_pages = (counts << orders).sum(axis=-1)
        suitable = counts @ weights.astype(np.int64)
        total = counts.sum(axis=-1)
    else:
        free_pages = np.asarray(free_pages, dtype=object)
        suitable = exact @ weights
        total = np.asarray(exact.sum(axis=-1), dtype=object)
        orders = orders.astype(object)
    return orders, free_pages, total, suitable


def unusable_show_print(nr_free) -> np.ndarray:
    """debugfs ``extfrag/unusable_index`` numbers (mm/vmstat.c unusable_show_print), thousandths.

    Parameters
    ----------
    nr_free : array-like, shape ``(NR_PAGE_ORDERS,)`` or ``(zones, NR_PAGE_ORDERS)``
        Free blocks per order (buddyinfo lines).

    Returns
    -------
    numpy.ndarray of int64, same shape
        ``unusable_free_index(order, info)`` for every order.

    >>> unusable_show_print([[4, 0, 1], [0, 0, 0]]).tolist()
    [[0, 500, 500], [1000, 1000, 1000]]
    """
    orders, free_pages, _, suitable = _contig_table(nr_free)
    fp = free_pages[..., None]
    none_free = fp == 0
    used = np.where(none_free, 1, fp)
    out = np.where(none_free, 1000, (fp - (suitable << orders)) * 1000 // used)
    return np.asarray(out).astype(np.int64)


def extfrag_show_print(nr_free) -> np.ndarray:
    """debugfs ``extfrag/extfrag_index`` numbers (mm/vmstat.c extfrag_show_print), thousandths.

    ``__fragmentation_index(order, info)`` for every order ``0 .. NR_PAGE_ORDERS - 1``
    of every zone; same parameters and shape as :func:`unusable_show_print`.

    >>> extfrag_show_print([4, 0, 1]).tolist()
    [-1000, -1000, -1000]
    >>> extfrag_show_print([4, 0, 0]).tolist()
    [-1000, 250, 500]
    """
    orders, free_pages, total, suitable = _contig_table(nr_free)
    fp, tot = free_pages[..., None], total[..., None]
    nonzero = np.where(tot == 0, 1, tot)
    index = 1000 - (1000 + fp * 1000 // (np.left_shift(1, orders))) // nonzero
    out = np.where(tot == 0, 0, np.where(suitable > 0, -1000, index))
    return np.asarray(out).astype(np.int64)


def count_vm_event(mm, name: str, n: int = 1) -> None:
    """count_vm_events (include/linux/vmstat.h): add ``n`` to a vm event counter."""
    if n:
        ev = mm.vm_events
        ev[name] = ev.get(name, 0) + n
