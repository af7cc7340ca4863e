"""Owners and memory over time: who held how many pages when (heaptrack "Consumed", bytehound #46).

Pure functions over pextlab frames; each ``plot_*`` returns the Axes it drew on.

* :func:`owners_over_time` -- the data: live pages per owner on a time grid, from
  an ``events`` frame (exact: +pages at alloc, -pages at free) or from a
  ``page_owner`` frame (a single dump: the pages still allocated, accumulated by
  allocation time -- what a real dump can tell, and where a leak shows as a
  straight ramp while churn stays flat).
* :func:`plot_owners_over_time` -- those lines, the biggest owners named, the rest
  summed as ``other``.
* :func:`plot_memory_usage` -- a ``memory_usage`` frame: used pages stacked by
  migratetype and free pages as a line.
* :func:`plot_top_owners` -- a ``top_owners()`` table as bars, the biggest on top.

>>> import pandas as pd
>>> ev = pd.DataFrame({"time_ns": [0, 10**9, 2 * 10**9], "event": ["alloc", "alloc", "free"],
...                    "nr_pages": [4, 2, 4], "comm": ["a", "b", "a"]})
>>> owners_over_time(ev, points=3).to_dict("list")
{'a': [4, 4, 0], 'b': [0, 2, 2]}
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._common import new_axes, require_columns
from .colors import MIGRATETYPE_COLORS, color_of

__all__ = ["owners_over_time", "plot_owners_over_time", "plot_memory_usage", "plot_top_owners"]

NS = 1_000_000_000


def owners_over_time(df: pd.DataFrame, by: str = "comm", *, top: int | None = None,
                     points: int = 200, start_ns: int | None = None,
                     end_ns: int | None = None) -> pd.DataFrame:
    """Live pages per owner on a regular time grid.

    Parameters
    ----------
    df : DataFrame
        An ``events`` frame (``time_ns``, ``event``, ``nr_pages``, ``by``) or a
        ``page_owner`` frame (``ts_ns``, ``nr_pages``, ``by``).  For events,
        ``fail`` rows are ignored; frees of blocks allocated before recording
        began make a group dip below zero.  For page_owner, rows without a
        timestamp (``ts_ns < 0``) are dropped.
    by : str
        Owner column: ``comm``, ``stack``, ``top_frame``, ``kind``, ``pid``...
    top : int, optional
        Keep the ``top`` owners with the largest peak; the rest are summed into
        a column ``"other"``.
    points : int
        Grid size (``start`` and ``end`` included).
    start_ns, end_ns : int, optional
        Grid bounds (default: first and last event).

    Returns
    -------
    DataFrame
        Index ``time_s`` (seconds, float), one int64 column per owner (in order
        of decreasing peak), value = pages held at that time (events at
        exactly that time included).
    """
    func = "owners_over_time"
    if "event" in df.columns:
        require_columns(df, ["time_ns", "event", "nr_pages", by], func)
        ev = df[df["event"].astype(str) != "fail"]
        t = ev["time_ns"].to_numpy(np.int64)
        sign = np.where(ev["event"].astype(str).to_numpy() == "free", -1, 1)
        delta = ev["nr_pages"].to_numpy(np.int64) * sign
        key = ev[by]
    else:
        require_columns(df, ["ts_ns", "nr_pages", by], func)
        po = df[df["ts_ns"] >= 0]
        t = po["ts_ns"].to_numpy(np.int64)
        delta = po["nr_pages"].to_numpy(np.int64)
        key = po[by]
    if points < 2:
        raise ValueError(f"{func}: points must be >= 2")
    lo = int(t.min()) if start_ns is None and len(t) else int(start_ns or 0)
    hi = int(t.max()) if end_ns is None and len(t) else int(end_ns if end_ns is not None else lo)
    grid = np.linspace(lo, hi, points).round().astype(np.int64)
    codes, names = pd.factorize(key.astype(object).where(key.notna(), "[unknown]"), sort=False)
    order = np.lexsort((codes, t))
    t, codes, delta = t[order], codes[order], delta[order]
    cols = {}
    for c, name in enumerate(names):
        sel = codes == c
        cum = np.cumsum(delta[sel])
        idx = np.searchsorted(t[sel], grid, side="right") - 1
        cols[name] = np.where(idx >= 0, cum[np.maximum(idx, 0)], 0)
    out = pd.DataFrame(cols, index=pd.Index(grid / NS, name="time_s"))
    if out.shape[1]:
        peak = out.max().sort_values(ascending=False, kind="stable")
        out = out[peak.index]
        if top is not None and out.shape[1] > top:
            rest = out.iloc[:, top:].sum(axis=1)
            out = out.iloc[:, :top].copy()
            out["other"] = rest
    return out.astype(np.int64)


def plot_owners_over_time(df: pd.DataFrame, by: str = "comm", *, top: int = 8, points: int = 300,
                          ax: Axes | None = None, mib: bool = False, stacked: bool = False,
                          title: str | None = None) -> Axes:
    """Pages held per owner over time (one line per owner, or stacked areas).

    Parameters
    ----------
    df : DataFrame
        ``events`` or ``page_owner`` frame (see :func:`owners_over_time`).
    by : str
        Owner column (``comm``, ``stack_id``, ``top_frame``, ``kind``...).
    top : int
        Owners drawn by name; the others are summed as ``other``.
    points : int
        Time grid size.
    ax : Axes, optional
    mib : bool
        MiB on the y axis instead of pages.
    stacked : bool
        Stacked areas instead of lines.
    title : str, optional

    Returns
    -------
    Axes
        One line (or one area) per owner column, labelled with the owner.
    """
    wide = owners_over_time(df, by, top=top, points=points)
    if wide.shape[1] == 0:
        raise ValueError("plot_owners_over_time: the frame has no allocations")
    if mib:
        wide = wide * 4096 / 2**20
    ax = new_axes(ax, (9, 4.5))
    labels = [str(c) if len(str(c)) <= 60 else str(c)[:57] + "..." for c in wide.columns]
    x = wide.index.to_numpy()
    if stacked:
        ax.stackplot(x, wide.to_numpy().T.clip(min=0), labels=labels, alpha=0.85)
    else:
        for col, lab in zip(wide.columns, labels):
            ax.plot(x, wide[col].to_numpy(), label=lab, lw=1.6)
    ax.set_xlabel("time (s)" if "event" in df.columns else "allocation time (s)")
    ax.set_ylabel("MiB held" if mib else "pages held")
    src = "events" if "event" in df.columns else "blocks still allocated, by allocation time"
    ax.set_title(title or f"pages held per {by} ({src})")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(True, alpha=0.3)
    return ax


def plot_memory_usage(df: pd.DataFrame, *, node: int | None = None, zone: str | None = None,
                      ax: Axes | None = None, mib: bool = False, show_free: bool = True,
                      title: str | None = None) -> Axes:
    """Used pages stacked by migratetype, free pages as a line, over time.

    Parameters
    ----------
    df : DataFrame
        A ``memory_usage`` frame (``time_ns``, ``node``, ``zone``,
        ``migratetype``, ``free``, ``used``).
    node, zone : optional
        Restrict to one node and/or zone (default: the whole machine).
    ax : Axes, optional
    mib : bool
        MiB instead of pages.
    show_free : bool
        Draw total free pages as a black line.

    Returns
    -------
    Axes
        One stacked area per migratetype with used pages (``ax.collections``)
        and, with ``show_free``, one line labelled ``"free"``.
    """
    func = "plot_memory_usage"
    require_columns(df, ["time_ns", "node", "zone", "migratetype", "free", "used"], func)
    sel = df
    if node is not None:
        sel = sel[sel["node"] == node]
    if zone is not None:
        sel = sel[sel["zone"].astype(str) == zone]
    if sel.empty:
        raise ValueError(f"{func}: no samples (node={node}, zone={zone})")
    used = sel.pivot_table(index="time_ns", columns="migratetype", values="used", aggfunc="sum",
                           observed=True)
    used = used.loc[:, used.max() > 0]
    free = sel.groupby("time_ns")["free"].sum()
    scale = 4096 / 2**20 if mib else 1
    ax = new_axes(ax, (9, 4.5))
    x = used.index.to_numpy() / NS
    if used.shape[1]:
        ax.stackplot(x, (used.to_numpy() * scale).T, labels=[f"used {c}" for c in used.columns],
                     colors=[color_of(c, MIGRATETYPE_COLORS, i) for i, c in enumerate(used.columns)],
                     alpha=0.8)
    if show_free:
        ax.plot(free.index.to_numpy() / NS, free.to_numpy() * scale, color="black", lw=1.5,
                label="free")
    where = " ".join(s for s in (f"node {node}" if node is not None else "", zone or "") if s)
    ax.set_title(title or f"workload memory over time{' (' + where + ')' if where else ''}")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MiB" if mib else "pages")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(True, alpha=0.3)
    return ax


def plot_top_owners(top: pd.DataFrame, by: str | None = None, *, weight: str = "pages",
                    ax: Axes | None = None, log: bool = True, color: str = "#4c72b0",
                    label_width: int = 28, title: str | None = None) -> Axes:
    """The biggest owners as horizontal bars, the biggest on top.

    Parameters
    ----------
    top : DataFrame
        A ``top_owners()`` frame (:mod:`pextlab.analysis.owners`): the owner column, then
        ``count`` (blocks) and ``pages``, in the order to draw (biggest first).
    by : str, optional
        The owner column (default: the frame's first column).
    weight : {"pages", "count"}
        Bar length: base pages or blocks.
    ax : Axes, optional
    log : bool
        Log scale on the bar axis (owners span several decades).
    color : str
        Bar colour.
    label_width : int
        Owner names longer than this are cut (with ``~``).
    title : str, optional

    Returns
    -------
    Axes
        One ``BarContainer`` (``ax.containers[0]``) with one bar per row, top row first
        in the frame and drawn at the top; y tick labels are the owners.

    Raises
    ------
    KeyError
        When ``by`` or ``weight`` is not a column.
    ValueError
        When the frame has no rows.
    """
    func = "plot_top_owners"
    if weight not in ("pages", "count"):
        raise ValueError(f"{func}: weight must be 'pages' or 'count', got {weight!r}")
    require_columns(top, [weight] if by is None else [by, weight], func, "top_owners")
    if top.empty:
        raise ValueError(f"{func}: the top_owners frame has no rows")
    by = top.columns[0] if by is None else by
    names = ["" if pd.isna(v) else str(v) for v in top[by].astype(object)]
    labels = [n if len(n) <= label_width else n[:label_width - 1] + "~" for n in names]
    ax = new_axes(ax, (6, 0.6 + 0.3 * len(top)))
    ys = np.arange(len(top))
    ax.barh(ys, top[weight].to_numpy(), color=color)
    ax.set_yticks(ys, labels, fontsize=7)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel("pages" if weight == "pages" else "blocks")
    ax.set_title(title or f"top owners by {by}", fontsize=9)
    return ax
