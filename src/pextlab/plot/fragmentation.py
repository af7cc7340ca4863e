"""Pictures of fragmentation: metrics over time, the pageblock map, free pages per order.

Pure functions over frames, each returning the Axes it drew on:

* :func:`plot_fragmentation_timeseries` -- ``df_fragmentation()`` metrics against the
  sample (or time), one line per metric and zone;
* :func:`plot_pageblock_map` -- ``df_pageblock_map()``: every pageblock as a cell,
  coloured by its migratetype, lighter the more of it is free, crossed when mixed;
* :func:`plot_free_orders` -- free pages per order stacked by migratetype, from a
  ``df_pagetypeinfo()``, ``df_buddyinfo()`` or ``df_free_area_history()`` frame.

Zones are never picked for you: every zone of the frame is drawn (or summed, where a
sum means something) unless ``zone=`` / ``node=`` choose.

>>> import pextlab
>>> m = pextlab.boot(mem="512M", cmdline="page_owner=on")
>>> ax = plot_pageblock_map(m.df_pageblock_map(), zone="DMA32")
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ._common import new_axes, require_columns, zone_label, zone_sort_key
from .colors import HOLE_COLOR, MIGRATETYPE_COLORS, OFFLINE_COLOR, color_of

__all__ = ["plot_fragmentation_timeseries", "plot_pageblock_map", "plot_free_orders"]

_LINESTYLES = ("-", "--", ":", "-.")


def _select(df: pd.DataFrame, zone: str | None, node: int | None, func: str) -> pd.DataFrame:
    """The rows of ``zone`` (a name) and ``node``; ValueError when none is left."""
    sel = df
    if node is not None:
        sel = sel[sel["node"] == node]
    if zone is not None:
        sel = sel[sel["zone"].astype(str) == str(zone)]
    if sel.empty:
        where = ", ".join(f"{k}={v!r}" for k, v in (("node", node), ("zone", zone))
                          if v is not None)
        raise ValueError(f"{func}: no rows" + (f" for {where}" if where else ""))
    return sel


def _where(zone: str | None, node: int | None) -> str:
    if zone is None and node is None:
        return "all zones"
    if zone is None:
        return f"node {node}, all zones"
    return zone_label(node, zone) if node is not None else str(zone)


# --------------------------------------------------------------------------------------------
# metrics over time
# --------------------------------------------------------------------------------------------
def plot_fragmentation_timeseries(df: pd.DataFrame, *,
                                  metrics: Sequence[str] = ("free_pages_ge_pb", "unusable_o9",
                                                            "mixed_total"),
                                  zone: str | None = None, node: int | None = None,
                                  x: str = "sample", ax: Axes | None = None) -> Axes:
    """Fragmentation metrics against the sample (or time), one line per metric and zone.

    Parameters
    ----------
    df : DataFrame
        ``df_fragmentation()`` frame: ``sample``, ``label``, ``time_s``, ``node``,
        ``zone`` and the ``metrics`` columns.
    metrics : sequence of str
        Columns to draw.  With several, each metric is scaled to its maximum over the
        zones drawn (the legend gives it), so metrics of different units share the axis.
    zone, node : optional
        Draw only this zone (name) and/or node; default: every zone of the frame, one
        line per zone and metric (line style per zone, colour per metric).
    x : {"sample", "time_s"}
        The horizontal axis.  With ``"sample"`` the ticks are the samples' labels.
    ax : Axes, optional

    Returns
    -------
    Axes
        One ``Line2D`` per (zone, metric), labelled ``"<metric>"`` (one zone) or
        ``"<metric>, node N <zone>"``, with ``" (max M)"`` when scaled.

    Raises
    ------
    KeyError
        When a column is missing.
    ValueError
        When no row is left for ``zone`` / ``node``.
    """
    func = "plot_fragmentation_timeseries"
    metrics = list(metrics)
    require_columns(df, ["sample", "node", "zone", x, *metrics], func, "fragmentation")
    d = _select(df, zone, node, func)
    zones = sorted({(int(n), str(z)) for n, z in zip(d["node"], d["zone"])},
                   key=lambda k: zone_sort_key(*k))
    per_zone = {k: d[(d["node"] == k[0]) & (d["zone"].astype(str) == k[1])].sort_values("sample")
                for k in zones}
    ax = new_axes(ax, (8, 3.5))
    scaled = len(metrics) > 1
    for i, mname in enumerate(metrics):
        top = float(np.nanmax(np.abs(d[mname].to_numpy(dtype=float)))) if len(d) else 0.0
        scale = top if scaled and top > 0 else 1.0
        for j, k in enumerate(zones):
            g = per_zone[k]
            label = mname if len(zones) == 1 else f"{mname}, {zone_label(*k)}"
            if scale != 1.0:
                label += f" (max {top:g})"
            ax.plot(g[x].to_numpy(), g[mname].to_numpy(dtype=float) / scale, marker="o",
                    color=f"C{i}", linestyle=_LINESTYLES[j % len(_LINESTYLES)], label=label)
    if x == "sample" and "label" in d.columns:
        s = d.drop_duplicates("sample").sort_values("sample")
        ax.set_xticks(s["sample"].to_numpy())
        ax.set_xticklabels([str(s_) if lb is None or pd.isna(lb) else str(lb)
                            for s_, lb in zip(s["sample"], s["label"])], rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel("fraction of max" if scaled else metrics[0])
    ax.set_title(f"fragmentation over time ({_where(zone, node)})")
    ax.legend(fontsize="small")
    return ax


# --------------------------------------------------------------------------------------------
# the pageblock map
# --------------------------------------------------------------------------------------------
def _pageblock_nr_pages(df: pd.DataFrame) -> int:
    """Pages per pageblock, from the frame's ``pfn = pageblock << pageblock_order``."""
    nz = df[df["pageblock"] > 0]
    if len(nz):
        return int(nz["pfn"].iloc[0] // nz["pageblock"].iloc[0])
    return max(1, int((df["free_pages"] + df["allocated_pages"]).max()))


def plot_pageblock_map(df: pd.DataFrame, *, zone: str | None = None, node: int | None = None,
                       width: int = 64, ax: Axes | None = None) -> Axes:
    """Every pageblock as a cell, in pfn order, ``width`` cells a row, each zone from a
    new row.

    A block's colour is its migratetype (:data:`~pextlab.plot.colors.MIGRATETYPE_COLORS`),
    lighter the more of it is free (white = all free); a black ``x`` marks a mixed
    block (it holds a page allocated with another migratetype).  Offline blocks are
    light grey, holes white.

    Parameters
    ----------
    df : DataFrame
        ``df_pageblock_map()`` frame: ``node``, ``zone``, ``pfn``, ``pageblock``,
        ``migratetype``, ``state``, ``free_pages``, ``allocated_pages``, ``mixed``.
    zone, node : optional
        Only this zone (name) and/or node; default every zone of the frame.
    width : int
        Cells per row.
    ax : Axes, optional

    Returns
    -------
    Axes
        The cells are one RGBA image (``ax.images[0]``; cell ``i`` of the zone's rows
        at ``[row, col]``; cells after a zone's last block are transparent).  Mixed
        blocks are one scatter with gid ``"mixed"``.  The y tick labels give each
        row's first pfn, a zone's first row also the zone.

    Raises
    ------
    KeyError
        When a column is missing.
    ValueError
        When no row is left for ``zone`` / ``node``, or ``width < 1``.
    """
    func = "plot_pageblock_map"
    require_columns(df, ["node", "zone", "pfn", "pageblock", "migratetype", "state",
                         "free_pages", "allocated_pages", "mixed"], func, "pageblock_map")
    if width < 1:
        raise ValueError(f"{func}: width must be at least 1, got {width}")
    d = _select(df, zone, node, func)
    pbn = _pageblock_nr_pages(d)
    keys = sorted({(int(n), str(z)) for n, z in zip(d["node"], d["zone"])},
                  key=lambda k: zone_sort_key(*k))
    groups = [d[(d["node"] == n) & (d["zone"].astype(str) == z)].sort_values("pfn")
              for n, z in keys]
    nrows = sum(-(-len(g) // width) for g in groups)
    ax = new_axes(ax, (10, max(2.0, nrows * 0.18 + 1.2)))
    img = np.zeros((nrows, width, 4))
    ticks: list[str] = []
    mixed_x, mixed_y = [], []
    row = 0
    for (n, z), g in zip(keys, groups):
        i = np.arange(len(g))
        r, c = row + i // width, i % width
        state = g["state"].astype(str).to_numpy()
        mts = g["migratetype"].astype(str).to_numpy().astype(object)
        free = np.clip(g["free_pages"].to_numpy(dtype=float) / pbn, 0.0, 1.0)[:, None]
        online = (state == "online")[:, None]
        # online blocks by their type, the others by their state
        kinds, code = np.unique(np.where(online[:, 0], mts, state.astype(object)),
                                return_inverse=True)
        by_state = {"offline": OFFLINE_COLOR, "hole": HOLE_COLOR}
        rgb = np.array([to_rgb(by_state[k] if k in by_state else color_of(k, MIGRATETYPE_COLORS))
                        for k in kinds]).reshape(-1, 3)[code.ravel()]
        img[r, c, :3] = np.where(online, rgb * (1 - 0.75 * free) + 0.75 * free, rgb)
        img[r, c, 3] = 1.0
        mixed = (g["mixed"].to_numpy() == 1) & online[:, 0]
        mixed_x += c[mixed].tolist()
        mixed_y += r[mixed].tolist()
        pfn = g["pfn"].to_numpy()
        for k in range(-(-len(g) // width)):
            first = f"{int(pfn[k * width]):#x}"
            ticks.append(f"{zone_label(n, z)}  {first}" if k == 0 else first)
        row += -(-len(g) // width)
    state = d["state"].astype(str)
    on = d[state == "online"]
    types_seen = list(dict.fromkeys(on["migratetype"].astype(str)))
    n_offline, n_hole = int((state == "offline").sum()), int((state == "hole").sum())
    mixed_known = bool((on["mixed"] >= 0).any())
    ax.imshow(img, aspect="auto", interpolation="nearest", extent=(-0.5, width - 0.5,
                                                                    nrows - 0.5, -0.5))
    if mixed_x:
        ax.scatter(mixed_x, mixed_y, marker="x", s=12, c="black", linewidths=0.8, gid="mixed")
    ax.set_xticks([])
    ax.set_yticks(range(nrows), ticks, fontsize=6)
    handles = [Patch(color=color_of(t, MIGRATETYPE_COLORS), label=t) for t in types_seen]
    if n_offline:
        handles.append(Patch(facecolor=OFFLINE_COLOR, edgecolor="0.5", label="offline"))
    if n_hole:
        handles.append(Patch(facecolor=HOLE_COLOR, edgecolor="0.5", label="hole"))
    if mixed_known:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none",
                              label=f"mixed ({len(mixed_x)})"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small",
              frameon=False)
    mixed_note = "" if mixed_known else "; mixed unknown (page_owner off)"
    ax.set_title(f"pageblocks of {_where(zone, node)}: {len(on)} online "
                 f"(lighter = more free){mixed_note}", fontsize=9)
    return ax


# --------------------------------------------------------------------------------------------
# free pages per order
# --------------------------------------------------------------------------------------------
def plot_free_orders(df: pd.DataFrame, *, zone: str | None = None, node: int | None = None,
                     sample=None, by_migratetype: bool = True, ax: Axes | None = None) -> Axes:
    """Free pages per order (``nr_free << order``), stacked by migratetype.

    Parameters
    ----------
    df : DataFrame
        One of: ``df_pagetypeinfo()`` (``node``, ``zone``, ``migratetype``, ``order``,
        ``nr_free``), ``df_buddyinfo()`` (no ``migratetype``: one bar per order), or
        ``df_free_area_history()`` (also ``sample`` and ``pages``).
    zone, node : optional
        Only this zone (name) and/or node; default: the sum over every zone of the frame.
    sample : optional
        With a history frame: the sample to draw (default the last).
    by_migratetype : bool
        Stack by migratetype (when the frame has it); else one bar per order.
    ax : Axes, optional

    Returns
    -------
    Axes
        One ``BarContainer`` per migratetype with free pages (labelled with it), or one
        labelled ``"free"``; bar ``o`` of each is order ``o``.

    Raises
    ------
    KeyError
        When a column is missing.
    ValueError
        When no row is left for ``zone`` / ``node`` / ``sample``.
    """
    func = "plot_free_orders"
    require_columns(df, ["node", "zone", "order", "nr_free"], func, "free-area")
    d = df
    if "sample" in d.columns:
        s = d["sample"].max() if sample is None else sample
        d = d[d["sample"] == s]
    d = _select(d, zone, node, func)
    pages = d["nr_free"].to_numpy(np.int64) << d["order"].to_numpy(np.int64)
    d = d.assign(pages=pages)
    if by_migratetype and "migratetype" in d.columns:
        piv = d.pivot_table(index="order", columns="migratetype", values="pages",
                            aggfunc="sum", observed=True).fillna(0)
        piv = piv.loc[:, piv.sum() > 0]
    else:
        piv = d.groupby("order")["pages"].sum().to_frame("free")
    ax = new_axes(ax, (8, 3.5))
    bottom = np.zeros(len(piv))
    for i, c in enumerate(piv.columns):
        h = piv[c].to_numpy(dtype=float)
        ax.bar(piv.index.to_numpy(), h, bottom=bottom, label=str(c),
               color=color_of(c, MIGRATETYPE_COLORS, i) if c != "free" else "0.4")
        bottom += h
    ax.set_xlabel("order")
    ax.set_ylabel("free pages")
    ax.set_xticks(list(piv.index))
    ax.set_title(f"free pages per order ({_where(zone, node)})")
    ax.legend(fontsize="small")
    return ax
