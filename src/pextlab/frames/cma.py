"""The CMA frames of a simulated machine: ``df_cma`` (one row per area, the schema a
real capture's CMA files give), ``df_cma_allocs`` (every cma_alloc request) and
``df_cma_map`` (every page of every area and what holds it).

Built from :mod:`pextlab.kernel.cma` state with numpy; building never changes the
machine.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.cma import cma_maxchunk, cma_used
from ..kernel.mmzone import PG_HEAD, MT_SHIFT, MT_MASK, covered_by_free
from ..kernel.page_isolation import section_slices
from ..schema import conform, empty, top_frame_of

__all__ = ["df_cma", "df_cma_allocs", "df_cma_map", "CMA_MAP_STATES"]

#: the ``state`` categories of df_cma_map, in drawing order
CMA_MAP_STATES = ("free", "movable", "pinned", "cma", "other")


def df_cma(mm) -> pd.DataFrame:
    """One row per CMA area (schema ``"cma"``)."""
    cma_mt = mm.profile.mt_cma
    rows = []
    for a in mm.cma_areas:
        zone = mm.zone_of_pfn(a.base_pfn) if a.count else None
        rows.append({
            "name": a.name, "base_pfn": a.base_pfn, "count": a.count, "end_pfn": a.end_pfn,
            "order_per_bit": a.order_per_bit, "nid": a.nid,
            "zone": zone.name if zone is not None else None,
            "used": cma_used(a), "maxchunk": cma_maxchunk(a),
            "alloc_pages_success": a.alloc_pages_success, "alloc_pages_fail": a.alloc_pages_fail,
            "release_pages_success": a.release_pages_success,
            "free_cma_pages": zone.free_mt[cma_mt] if zone is not None else -1,
        })
    if not rows:
        return empty("cma")
    return conform(pd.DataFrame(rows), "cma")


def df_cma_allocs(mm) -> pd.DataFrame:
    """Every cma_alloc request, in order (schema ``"cma_allocs"``)."""
    log = mm.cma_log
    if not log:
        return empty("cma_allocs")
    df = pd.DataFrame(log)
    po = mm.page_owner
    tops = {}
    for h in set(df["owner_stack_handle"].tolist()):
        tops[h] = top_frame_of(list(po.depot.fetch(h))) if h and po is not None else None
    df["owner_stack_top"] = pd.Categorical([tops[h] for h in df["owner_stack_handle"]])
    df["owner_comm"] = df["owner_comm"].replace("", None)
    return conform(df, "cma_allocs")


def df_cma_map(mm) -> pd.DataFrame:
    """One row per page of every CMA area: what holds it (schema ``"cma_map"``)."""
    parts = []
    mov = mm.profile.mt_movable
    for a in mm.cma_areas:
        if not a.count:
            continue
        state = np.full(a.count, 4, dtype=np.int8)               # "other"
        handed = np.zeros(a.count, dtype=bool)
        for pfn, n in a.allocations.items():
            handed[pfn - a.base_pfn:pfn - a.base_pfn + n] = True
        for sec, lo, hi in section_slices(mm, a.base_pfn, a.end_pfn):
            base = sec.start_pfn + lo - a.base_pfn
            fl, od = sec.flags_np(), sec.order_np()
            free = covered_by_free(fl, od)[lo:hi]
            heads = np.flatnonzero(fl & PG_HEAD)
            n = len(fl)
            cover = np.zeros(n + 1, dtype=np.int64)          # block index + 1 covering each page
            if len(heads):
                ends = np.minimum(heads + (np.int64(1) << od[heads].astype(np.int64)), n)
                mark = np.zeros(n + 1, dtype=np.int64)
                np.add.at(mark, heads, np.arange(1, len(heads) + 1))
                np.add.at(mark, ends, -np.arange(1, len(heads) + 1))
                cover = np.cumsum(mark)[:n]
                pinned = np.zeros(len(heads) + 1, dtype=bool)
                if sec.pincount is not None:
                    pinned[1:] = sec.pincount[heads] > 0
                movable = np.zeros(len(heads) + 1, dtype=bool)
                movable[1:] = (fl[heads] & MT_MASK) >> MT_SHIFT == mov
                c = cover[lo:hi]
                st = state[base:base + hi - lo]
                st[(c > 0) & movable[c]] = 1
                st[(c > 0) & pinned[c]] = 2
            state[base:base + hi - lo][free] = 0
        state[handed] = 3
        pfns = np.arange(a.base_pfn, a.end_pfn, dtype=np.int64)
        parts.append(pd.DataFrame({
            "name": pd.Categorical([a.name] * a.count),
            "pfn": pfns, "offset": pfns - a.base_pfn,
            "state": pd.Categorical.from_codes(state, categories=list(CMA_MAP_STATES)),
        }))
    if not parts:
        return empty("cma_map")
    df = pd.concat(parts, ignore_index=True)
    df["name"] = df["name"].astype("category")
    return conform(df, "cma_map")
