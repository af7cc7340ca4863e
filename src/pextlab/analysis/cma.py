"""Who sits in a CMA area: ``cma_blockers``, from a page_owner frame and a ``"cma"``
frame -- a simulated machine's or a real capture's alike.

A CMA allocation (mm/cma.c cma_alloc -> alloc_contig_range) needs every page of its
window free or movable.  The allocated blocks inside an area are therefore the
candidates for a failure: the kernel migrates the movable ones (the page allocator
only lets ``__GFP_MOVABLE`` requests into MIGRATE_CMA pageblocks, gfp_to_alloc_flags_cma),
and fails with -EBUSY on a page it cannot move.

What the page_owner frame can and cannot tell (say it plainly):

* the gfp mask gives the allocation's migratetype: a non-movable allocation
  inside a CMA area is either CMA's own (cma_alloc hands pages out with the
  caller's mask, GFP_KERNEL from the debugfs file or dma_alloc_from_contiguous;
  the stack names ``cma_alloc``) or should not be there at all;
* pins are not in a page_owner dump: a real dump does not say which movable
  page is pinned (only a ``dump_page`` refcount does), so ``migratable`` on a
  real capture means "movable, as far as the mask says".  The simulator knows
  its pins: pass their pfns (``pinned``, e.g. from ``df_cma_map``);
* page_owner keeps a record per allocation, not the page's references, so a
  page held by an elevated refcount (a short-term get_page) looks movable too.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cma_blockers", "pages_in_areas"]


def pages_in_areas(df_page_owner: pd.DataFrame, df_cma: pd.DataFrame) -> pd.DataFrame:
    """The page_owner rows of blocks overlapping a CMA area, with the area's name in
    a new ``area`` column and the overlap in ``pages`` (base pages inside the area).

    >>> po = pd.DataFrame({"pfn": [10, 30, 62], "nr_pages": [1, 4, 4]})
    >>> cma = pd.DataFrame({"name": ["r"], "base_pfn": [32], "end_pfn": [64]})
    >>> pages_in_areas(po, cma)[["pfn", "area", "pages"]].values.tolist()
    [[30, 'r', 2], [62, 'r', 2]]
    """
    start = df_page_owner["pfn"].to_numpy(dtype=np.int64)
    end = start + df_page_owner["nr_pages"].to_numpy(dtype=np.int64)
    parts = []
    for a in df_cma.itertuples():
        sel = (start < a.end_pfn) & (end > a.base_pfn)
        if sel.any():
            sub = df_page_owner[sel].copy()
            sub["area"] = a.name
            sub["pages"] = (np.minimum(end[sel], a.end_pfn) - np.maximum(start[sel], a.base_pfn))
            parts.append(sub)
    if not parts:
        out = df_page_owner.iloc[:0].copy()
        out["area"] = pd.Series(dtype=object)
        out["pages"] = pd.Series(dtype="int64")
        return out
    return pd.concat(parts, ignore_index=True)


def cma_blockers(df_page_owner: pd.DataFrame, df_cma: pd.DataFrame, pinned=None) -> pd.DataFrame:
    """Allocated pages inside each CMA area, grouped by owner and stack.

    Parameters
    ----------
    df_page_owner : DataFrame
        A ``"page_owner"`` frame (``Machine``, ``Snapshot`` or ``Capture``).
    df_cma : DataFrame
        A ``"cma"`` frame (``df_cma()``).
    pinned : iterable of int, optional
        Head pfns known to be pinned (the simulator's; a real dump does not say).

    Returns
    -------
    DataFrame
        One row per (area, comm, pid, stack): ``area``, ``comm``, ``pid``,
        ``top_frame``, ``stack``, ``migratetype`` (the allocation's), ``pages``
        (base pages inside the area), ``blocks``, ``pinned_pages``, ``by_cma``
        (the stack went through cma_alloc: CMA's own pages), ``migratable`` (a
        movable allocation with no pinned page: what alloc_contig_range would
        move), most pages first.

    >>> po = pd.DataFrame({"pfn": [32, 33, 40], "nr_pages": [1, 1, 1], "comm": ["a", "a", "b"],
    ...                    "pid": [1, 1, 2], "top_frame": ["f", "f", "g"], "stack": ["s", "s", "t"],
    ...                    "migratetype": ["Movable", "Movable", "Unmovable"]})
    >>> cma = pd.DataFrame({"name": ["r"], "base_pfn": [32], "end_pfn": [64]})
    >>> cma_blockers(po, cma, pinned=[33])[["comm", "pages", "pinned_pages", "migratable"]].values.tolist()
    [['a', 2, 1, False], ['b', 1, 0, False]]
    """
    inside = pages_in_areas(df_page_owner, df_cma)
    keys = ["area", "comm", "pid", "top_frame", "stack", "migratetype"]
    cols = keys + ["pages", "blocks", "pinned_pages", "by_cma", "migratable"]
    if inside.empty:
        return pd.DataFrame({c: [] for c in cols})
    pins = set(int(p) for p in pinned) if pinned is not None else set()
    inside["pinned_pages"] = np.where(inside["pfn"].isin(pins), inside["pages"], 0)
    inside["blocks"] = 1
    g = inside.astype({k: str for k in keys}).groupby(keys, sort=False)
    out = g[["pages", "blocks", "pinned_pages"]].sum().reset_index()
    out["by_cma"] = out["stack"].str.contains(r"\bcma_alloc|__cma_alloc", regex=True)
    out["migratable"] = (out["migratetype"] == "Movable") & (out["pinned_pages"] == 0) & ~out["by_cma"]
    out = out.sort_values(["pages", "area", "comm"], ascending=[False, True, True], kind="stable")
    return out[cols].reset_index(drop=True)
