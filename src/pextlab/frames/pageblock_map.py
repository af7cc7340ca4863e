"""One row per pageblock: what /proc/pagetypeinfo's block counts are made of.

/proc/pagetypeinfo counts, per zone, the pageblocks of each migratetype
(``pagetypeinfo_showblockcount_print``, mm/vmstat.c) and, with page_owner, the
"mixed" ones (``pagetypeinfo_showmixedcount_print``, mm/page_owner.c).
:func:`df_pageblock_map` keeps the blocks behind those numbers: every pageblock
of every populated zone with its migratetype, its free pages, its allocated pages
by the migratetype of the allocation, and whether it is mixed -- the frame a
pageblock map (``pextlab.plot.plot_pageblock_map``) is drawn from.

Rows walk each zone as both kernel functions do: from ``zone_start_pfn`` to
``zone_end_pfn`` in ``pageblock_nr_pages`` steps.  A block is ``"online"`` when
``pfn_to_online_page()`` finds its page and ``page_zone()`` is the zone -- the
blocks the kernel counts -- so the online rows of a zone, counted per
migratetype, are ``df_pageblocks``' ``nr_blocks``, and their mixed rows (CMA
blocks under Movable) its ``nr_mixed``.  Other rows say why the kernel skips
them: ``"offline"`` (the section is present but offline) or ``"hole"`` (no
memory of this zone there: no section, a section of another node, or of
another zone whose span overlaps this one).

Building the frame never changes the machine.  Reading /proc/pagetypeinfo with
page_owner drains the per-cpu lists first (``drain_all_pages`` in
``pagetypeinfo_showmixedcount``); this frame does not, so pages on per-cpu
lists are neither free nor allocated here.

Vectorised per memory section (numpy over the section's memmap and page_ext
arrays; a Python loop over sections, never over pages).  Deterministic.

>>> import pextlab
>>> m = pextlab.boot(mem="512M", cmdline="page_owner=on")
>>> pm = df_pageblock_map(m.mm)
>>> pm[["zone", "pfn", "migratetype", "state"]].head(2)
  zone  pfn migratetype   state
0  DMA    0   Unmovable  online
1  DMA  512     Movable  online
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.gfp import ZONE_NAMES
from ..kernel.mmzone import MT_MASK, MT_SHIFT, PG_BUDDY, PG_HEAD
from ..schema import conform
from ._pageblocks import pfns_in_zone, section_mixed_blocks

__all__ = ["df_pageblock_map", "PAGEBLOCK_STATES"]

PAGEBLOCK_STATES = ("online", "offline", "hole")
_ONLINE, _OFFLINE, _HOLE = range(3)


def _pages_per_pageblock(heads: np.ndarray, orders: np.ndarray, pageblock_order: int,
                         nr_blocks: int) -> np.ndarray:
    """Pages per pageblock of the buddy blocks at ``heads`` (section offsets) of
    ``orders``: a block of order <= pageblock_order lies in one pageblock, a bigger
    one fills ``2**(order - pageblock_order)`` whole pageblocks."""
    size = np.left_shift(np.int64(1), orders.astype(np.int64))
    span = np.maximum(size >> pageblock_order, 1)
    first = np.repeat(heads.astype(np.int64) >> pageblock_order, span)
    step = np.arange(int(span.sum()), dtype=np.int64) - np.repeat(np.cumsum(span) - span, span)
    pages = np.repeat(np.minimum(size, np.int64(1) << pageblock_order), span)
    return np.bincount(first + step, weights=pages, minlength=nr_blocks)[:nr_blocks].astype(
        np.int64)


def df_pageblock_map(mm) -> pd.DataFrame:
    """Every pageblock of every populated zone (SCHEMAS['pageblock_map']).

    Columns
    -------
    node, zone : the zone walked (a block of a span shared by zones appears under each).
    pfn : first pfn of the pageblock (``pageblock << pageblock_order``).
    pageblock : the block's index, ``pfn >> pageblock_order`` (as ``df_page_owner``).
    migratetype : the pageblock's migratetype (``get_pageblock_migratetype``); NaN
        unless ``state`` is ``"online"``.
    state : ``"online"`` (counted by /proc/pagetypeinfo), ``"offline"`` (present,
        offline section) or ``"hole"`` (no memory of this zone here).
    free_pages : pages of the block in free buddy blocks (what buddyinfo counts).
    allocated_pages : pages of the block in allocated blocks.
    alloc_unmovable, alloc_movable, alloc_reclaimable : ``allocated_pages`` by the
        migratetype of the allocation (``ac->migratetype`` of ``__alloc_pages``:
        ``gfp_migratetype`` of its gfp mask, Unmovable for every allocation while
        grouping by mobility is off).
    mixed : 1 when the block holds a page allocated with another migratetype than
        the block's (pagetypeinfo_showmixedcount_print's rule, from the page_owner
        records), 0 when not, -1 when unknown: page_owner is off, or the row is not
        ``"online"``.

    The page counts are 0 on rows that are not ``"online"``.  Pages on per-cpu
    lists, reserved pages, holes inside a section and guard pages are in none of
    the counts.
    """
    prof = mm.profile
    pbo = mm.pageblock_order
    pbn = 1 << pbo
    nblk = mm.pages_per_section >> pbo
    mt_cols = (prof.mt_unmovable, prof.mt_movable, prof.mt_reclaimable)
    show_mixed = mm.page_owner is not None
    cols = {k: [] for k in ("node", "zone", "pfn", "migratetype", "state", "free_pages",
                            "allocated_pages", "alloc", "mixed")}
    for z in mm.populated_zones():
        walk = np.arange(z.zone_start_pfn, z.zone_end_pfn, pbn, dtype=np.int64)
        n = len(walk)
        state = np.full(n, _HOLE, dtype=np.int8)
        mt = np.full(n, -1, dtype=np.int16)
        free = np.zeros(n, dtype=np.int64)
        allocated = np.zeros(n, dtype=np.int64)
        alloc = np.zeros((n, len(mt_cols)), dtype=np.int64)
        mixed = np.full(n, -1, dtype=np.int8)
        secnr = walk >> mm.section_shift
        present, first = np.unique(secnr, return_index=True)
        bounds = np.append(first, n)
        for i, nr in enumerate(present.tolist()):
            a, b = int(bounds[i]), int(bounds[i + 1])
            sec = mm.sections[nr] if nr < mm.nr_sections else None
            if sec is None or not sec.present or z.nid not in sec.nids:
                continue
            if not sec.online:
                state[a:b] = _OFFLINE
                continue
            rows = a + np.flatnonzero(pfns_in_zone(mm, z, sec, walk[a:b]))
            if not len(rows):
                continue
            local = (walk[rows] & mm.section_mask) >> pbo
            state[rows] = _ONLINE
            mt[rows] = sec.pageblock_np()[local]
            fl, od = sec.flags_np(), sec.order_np()
            heads = np.flatnonzero(fl & PG_BUDDY)
            free[rows] = _pages_per_pageblock(heads, od[heads], pbo, nblk)[local]
            heads = np.flatnonzero(fl & PG_HEAD)
            allocated[rows] = _pages_per_pageblock(heads, od[heads], pbo, nblk)[local]
            head_mt = (fl[heads] & MT_MASK) >> MT_SHIFT
            for j, m in enumerate(mt_cols):
                sel = heads[head_mt == m]
                alloc[rows, j] = _pages_per_pageblock(sel, od[sel], pbo, nblk)[local]
            if show_mixed and sec.page_ext is not None:
                lo = max(z.zone_start_pfn, sec.start_pfn) - sec.start_pfn
                hi = min(z.zone_end_pfn, sec.start_pfn + mm.pages_per_section) - sec.start_pfn
                mixed[rows] = section_mixed_blocks(mm, sec, lo, hi)[local]
        cols["node"].append(np.full(n, z.nid, dtype=np.int16))
        cols["zone"].append(np.full(n, z.name, dtype=object))
        cols["pfn"].append((walk >> pbo) << pbo)
        cols["migratetype"].append(mt)
        cols["state"].append(state)
        cols["free_pages"].append(free)
        cols["allocated_pages"].append(allocated)
        cols["alloc"].append(alloc)
        cols["mixed"].append(mixed)
    if cols["pfn"]:
        col = {k: np.concatenate(v) for k, v in cols.items()}
    else:
        col = {k: np.zeros(0, dtype=np.int64) for k in cols}
        col["zone"] = np.zeros(0, dtype=object)
        col["alloc"] = np.zeros((0, len(mt_cols)), dtype=np.int64)
    df = pd.DataFrame({
        "node": col["node"],
        "zone": pd.Categorical(col["zone"], categories=list(ZONE_NAMES)),
        "pfn": col["pfn"],
        "pageblock": col["pfn"] >> pbo,
        "migratetype": pd.Categorical.from_codes(col["migratetype"].astype(np.int64),
                                                 list(prof.migratetype_names)),
        "state": pd.Categorical.from_codes(col["state"].astype(np.int64), list(PAGEBLOCK_STATES)),
        "free_pages": col["free_pages"],
        "allocated_pages": col["allocated_pages"],
        "alloc_unmovable": col["alloc"][:, 0],
        "alloc_movable": col["alloc"][:, 1],
        "alloc_reclaimable": col["alloc"][:, 2],
        "mixed": col["mixed"],
    })
    return conform(df, "pageblock_map")
