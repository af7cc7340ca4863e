"""Fragmentation figures of one state: free memory by order, pageblocks by type, pollution.

Every function takes a *source*: anything with the ``df_*`` frames of
:mod:`pextlab.schema` -- a simulated Machine, one of its Snapshots, or a real
Capture (``pextlab.read_capture(path, snapshot="after_free")``) -- so a
simulated phase and the real capture of the same phase give comparable rows
(FRAG.md's per-phase figures).  Pandas in, plain numbers or DataFrames out.

>>> import pextlab
>>> f = frag_metrics(pextlab.boot(mem="1G", cmdline="page_owner=on"), owners=True)
>>> sorted(f)[:4], f["unusable_o9"] < 0.1
(['blocks_M', 'blocks_R', 'blocks_U', 'blocks_with_unmovable'], True)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.profiles import get_profile

__all__ = ["frag_metrics", "frag_table", "blocks_with_unmovable", "GFP_MOVABLE"]

#: ___GFP_MOVABLE: bit 3 in every kernel pextlab has a profile for (and every kernel since
#: v2.6.23, include/linux/gfp_types.h); page_owner prints the raw mask, so a capture's
#: masks are read with it too.
GFP_MOVABLE = get_profile("v6.12").gfp_bits["__GFP_MOVABLE"]
#: the pageblock types of FRAG.md's figures and their short names
_TYPES = (("Unmovable", "U"), ("Movable", "M"), ("Reclaimable", "R"))
#: the order of a 2 MiB huge page on x86_64 (pageblock_order)
_HUGE_ORDER = 9


def frag_metrics(src, zone: str | None = None, owners: bool = False) -> dict:
    """The FRAG.md per-phase figures of ``src`` (a Machine, Snapshot or Capture).

    Returns ``free_pages`` (on the buddy lists, all zones), ``free_pages_o9``
    (in free blocks of order >= 9), ``blocks_U/M/R`` and ``mixed_U/M/R``
    (pageblocks and mixed pageblocks per type, all zones), ``mixed`` (their
    sum) and ``unusable_o9`` (unusable_index at order 9 of ``zone``, by default
    the zone with the most free pages; NaN when the source has no such row).
    ``owners=True`` adds ``blocks_with_unmovable`` (see :func:`blocks_with_unmovable`).
    """
    bi = src.df_buddyinfo()
    order = bi["order"].to_numpy().astype(np.int64)
    pages = bi["nr_free"].to_numpy().astype(np.int64) << order
    pb = src.df_pageblocks()
    out = {"free_pages": int(pages.sum()), "free_pages_o9": int(pages[order >= _HUGE_ORDER].sum())}
    mt = pb["migratetype"].astype(str)
    for name, short in _TYPES:
        sel = mt == name
        out[f"blocks_{short}"] = int(pb.loc[sel, "nr_blocks"].sum())
        out[f"mixed_{short}"] = int(pb.loc[sel, "nr_mixed"].sum())
    out["mixed"] = out["mixed_U"] + out["mixed_M"] + out["mixed_R"]
    if zone is None and len(bi):
        zone = str(pd.Series(pages).groupby(bi["zone"].astype(str).to_numpy()).sum().idxmax())
    ex = src.df_extfrag()
    e = ex[(ex["zone"].astype(str) == zone) & (ex["order"] == _HUGE_ORDER)]
    out["unusable_o9"] = float(e["unusable_index"].iloc[0]) if len(e) else float("nan")
    if owners:
        out["blocks_with_unmovable"] = blocks_with_unmovable(src)
    return out


def blocks_with_unmovable(src) -> float:
    """Pageblocks holding at least one allocated page whose gfp lacks __GFP_MOVABLE.

    These are the blocks compaction cannot empty (the cause of lost huge pages
    that Contiguitas measured).  Read from the page_owner frame's gfp masks, so
    it does not depend on what the kernel *labelled* the pages: with grouping
    by mobility disabled every allocation is typed Unmovable, but page_owner
    still prints the gfp flags.  NaN when the page_owner frame is empty (a
    machine booted without page_owner).
    """
    po = src.df_page_owner()
    if not len(po):
        return float("nan")
    sel = (po["gfp_mask"].to_numpy().astype(np.int64) & GFP_MOVABLE) == 0
    return float(len(np.unique(po["pageblock"].to_numpy()[sel])))


def frag_table(sources: dict, owners: bool = False) -> pd.DataFrame:
    """One row per ``phase -> source`` of :func:`frag_metrics` (column ``phase`` first)."""
    return pd.DataFrame([{"phase": k, **frag_metrics(v, owners=owners)} for k, v in sources.items()])
