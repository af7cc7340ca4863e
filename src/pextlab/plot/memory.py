"""Pictures of physical memory: the zone map, page_ext cost, buddy free lists, pageblocks.

Every function here takes pextlab frames (the schemas of :mod:`pextlab.schema`, from a
simulated ``Machine`` or a real ``Capture`` alike) and returns the matplotlib ``Axes`` it
drew on.  Nothing here knows about the simulated kernel: a frame with the right columns is
all a function needs, and a frame without them raises ``KeyError`` naming what is missing.

>>> import pextlab
>>> from pextlab.plot import plot_memory_map
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on")
>>> ax = plot_memory_map(m.df_zones(), m.df_sections(), page_ext=m.df_page_ext())
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ._common import require_columns, zone_label, zone_sort_key
from .colors import MIGRATETYPE_COLORS, ZONE_COLORS, color_of

__all__ = ["plot_memory_map", "plot_page_ext_cost", "plot_buddyinfo", "plot_pageblocks"]

PAGE_SIZE = 4096


# --------------------------------------------------------------------------------------------
# memory map
# --------------------------------------------------------------------------------------------
def _covered(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge [start, end) intervals."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _gaps(span: tuple[int, int], covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``span`` not in the merged ``covered`` intervals."""
    lo, hi = span
    gaps, cur = [], lo
    for s, e in covered:
        if e <= cur:
            continue
        if s >= hi:
            break
        if s > cur:
            gaps.append((cur, min(s, hi)))
        cur = max(cur, e)
    if cur < hi:
        gaps.append((cur, hi))
    return gaps


def plot_memory_map(zones: pd.DataFrame, sections: pd.DataFrame | None = None,
                    memory_blocks: pd.DataFrame | None = None,
                    page_ext: pd.DataFrame | None = None, *, ram: pd.DataFrame | None = None,
                    ax: Axes | None = None, unit: str = "GiB", labels: bool = True,
                    legend: bool = True) -> Axes:
    """Draw the physical memory map: one row per NUMA node along the pfn axis.

    Each zone that spans pages is a coloured band on its node's row.  Pfns that are not
    RAM (holes) are hatched.  Section starts are short dark ticks over the bands,
    memory-block starts short blue ticks under them, and each page_ext table is a black
    marker (triangle plus a bar as wide as the table's pages) where its memory lives.

    Parameters
    ----------
    zones : DataFrame
        ``df_zones()`` frame: ``node``, ``zone``, ``start_pfn``, ``end_pfn``, ``spanned``,
        ``present``.  Zones with ``spanned == 0`` are not drawn.
    sections : DataFrame, optional
        ``df_sections()`` frame: ``section``, ``start_pfn``, ``node``, ``present``.  Adds
        section-boundary ticks, and hatches sections that are not present.
    memory_blocks : DataFrame, optional
        ``df_memory_blocks()`` frame: ``start_pfn``, ``end_pfn``, ``node``, ``online``.
        Adds block-boundary ticks; offline blocks are outlined with a dashed box.
    page_ext : DataFrame, optional
        ``df_page_ext()`` frame: ``node``, ``table_pfn``, ``pages``.  Marks where each
        table's own memory lies (tables allocated by vmalloc, ``table_pfn == -1``, have no
        physical place and are only counted in the legend).
    ram : DataFrame, optional
        RAM ranges with ``start_pfn``, ``end_pfn`` (e.g. ``pd.DataFrame(m.layout.ram)``).
        When given, holes are exactly the pfns inside each node's span that no range
        covers.  Without it, holes are the gaps between a node's zones, plus the
        sections with ``present == False``; a hole inside a zone (``spanned > present``)
        cannot be placed from the zone table alone.
    ax : Axes, optional
        Axes to draw on; a new figure is made when omitted.
    unit : {"GiB", "pfn"}
        Unit of the horizontal axis (physical address in GiB, or page frame number).
    labels : bool
        Write the zone name and size inside bands that are wide enough.
    legend : bool
        Draw a legend to the right of the axes.

    Returns
    -------
    Axes
        Zone bands are ``Rectangle`` patches with gid ``"zone:<node>:<zone>"``, holes have
        gid ``"hole"``, page_ext tables ``"page_ext"``, offline blocks ``"offline"``.

    Raises
    ------
    KeyError
        When a frame lacks a needed column (the message names it).
    ValueError
        When no zone spans any page, or ``unit`` is unknown.

    Examples
    --------
    >>> import pandas as pd, pextlab
    >>> m = pextlab.boot(mem="4G", nodes=2, cmdline="page_owner=on")
    >>> ax = plot_memory_map(m.df_zones(), m.df_sections(), m.df_memory_blocks(),
    ...                      m.df_page_ext(), ram=pd.DataFrame(m.layout.ram))
    """
    func = "plot_memory_map"
    require_columns(zones, ["node", "zone", "start_pfn", "end_pfn", "spanned", "present"], func,
                    "zones")
    if sections is not None:
        require_columns(sections, ["start_pfn", "node", "present"], func, "sections")
    if memory_blocks is not None:
        require_columns(memory_blocks, ["start_pfn", "end_pfn", "node", "online"], func,
                        "memory_blocks")
    if page_ext is not None:
        require_columns(page_ext, ["node", "table_pfn", "pages"], func, "page_ext")
    if ram is not None:
        ram = ram.rename(columns={"nid": "node"})
        require_columns(ram, ["start_pfn", "end_pfn"], func, "ram")
    if unit not in ("GiB", "pfn"):
        raise ValueError(f"{func}: unit must be 'GiB' or 'pfn', got {unit!r}")
    scale = PAGE_SIZE / 2**30 if unit == "GiB" else 1.0

    z = zones[(zones["spanned"] > 0) & (zones["start_pfn"] >= 0)]
    if z.empty:
        raise ValueError(f"{func}: no zone in the zones frame spans any page")
    nodes = sorted(int(n) for n in z["node"].unique())
    row = {n: i for i, n in enumerate(nodes)}
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 1.1 + 1.0 * len(nodes)))
    h = 0.5                                  # band height; a row is 1.0 tall

    # zone bands
    for _, r in z.iterrows():
        n, s, e = int(r["node"]), int(r["start_pfn"]), int(r["end_pfn"])
        color = color_of(r["zone"], ZONE_COLORS, int(r.get("zone_idx", 0)))
        ax.add_patch(Rectangle((s * scale, row[n] - h / 2), (e - s) * scale, h,
                               facecolor=color, edgecolor="black", linewidth=0.8,
                               gid=f"zone:{n}:{r['zone']}"))
    xmax = int(z["end_pfn"].max())
    xmin = int(z["start_pfn"].min())

    # holes: per node, the span [first zone start, last zone end) minus RAM (or minus zones)
    holes: list[tuple[int, int, int]] = []
    for n in nodes:
        zn = z[z["node"] == n]
        span = (int(zn["start_pfn"].min()), int(zn["end_pfn"].max()))
        if ram is not None:
            rn = ram[ram["node"] == n] if "node" in ram.columns else ram
            cov = _covered([(int(a), int(b)) for a, b in zip(rn["start_pfn"], rn["end_pfn"])])
        else:
            cov = _covered([(int(a), int(b)) for a, b in zip(zn["start_pfn"], zn["end_pfn"])])
        holes += [(n, s, e) for s, e in _gaps(span, cov)]
    if sections is not None and ram is None and len(sections):
        per = int(np.diff(np.sort(sections["start_pfn"].to_numpy())).min()) if len(sections) > 1 else 0
        for _, r in sections[~sections["present"].astype(bool)].iterrows():
            if int(r["node"]) in row and per:
                holes.append((int(r["node"]), int(r["start_pfn"]), int(r["start_pfn"]) + per))
    for n, s, e in holes:
        ax.add_patch(Rectangle((s * scale, row[n] - h / 2), (e - s) * scale, h,
                               facecolor="white", edgecolor="0.35", hatch="////",
                               linewidth=0.6, gid="hole"))

    # labels inside wide-enough bands
    if labels:
        width = (xmax - xmin) or 1
        for _, r in z.iterrows():
            s, e = int(r["start_pfn"]), int(r["end_pfn"])
            if (e - s) / width < 0.06:
                continue
            mib = int(r["present"]) * PAGE_SIZE / 2**20
            size = f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"
            ax.text((s + e) / 2 * scale, row[int(r["node"])], f"{r['zone']}\n{size}",
                    ha="center", va="center", fontsize=8)

    # section ticks (below the band) and memory-block ticks (above it)
    if sections is not None and len(sections):
        for n, g in sections.groupby("node", observed=True):
            if int(n) not in row:
                continue
            y = row[int(n)]
            xs = g["start_pfn"].to_numpy() * scale
            ax.vlines(xs, y - h / 2 - 0.12, y - h / 2, color="0.2", linewidth=0.7,
                      gid="sections")
    if memory_blocks is not None and len(memory_blocks):
        for n, g in memory_blocks.groupby("node", observed=True):
            if int(n) not in row:
                continue
            y = row[int(n)]
            ax.vlines(g["start_pfn"].to_numpy() * scale, y + h / 2, y + h / 2 + 0.12,
                      color="tab:blue", linewidth=0.7, gid="memory_blocks")
            for _, r in g[~g["online"].astype(bool)].iterrows():
                s, e = int(r["start_pfn"]), int(r["end_pfn"])
                ax.add_patch(Rectangle((s * scale, y - h / 2), (e - s) * scale, h,
                                       fill=False, edgecolor="tab:blue", linestyle="--",
                                       linewidth=1.0, gid="offline"))
                xmax = max(xmax, e)

    # page_ext tables where their memory lives
    n_vmalloc = 0
    if page_ext is not None and len(page_ext):
        placed = page_ext[page_ext["table_pfn"] >= 0]
        n_vmalloc = len(page_ext) - len(placed)

        def _row_of(pfn, nid):
            hit = z[(z["start_pfn"] <= pfn) & (pfn < z["end_pfn"])]
            return row[int(hit["node"].iloc[0])] if len(hit) else row.get(int(nid), 0)

        xs, ys = [], []
        for _, r in placed.iterrows():
            pfn, pages = int(r["table_pfn"]), int(r["pages"])
            y = _row_of(pfn, r["node"])
            ax.add_patch(Rectangle((pfn * scale, y - h / 2), max(pages, 1) * scale, h,
                                   facecolor="black", edgecolor="none", gid="page_ext"))
            xs.append(pfn * scale)
            ys.append(y + h / 2 + 0.06)
        ax.plot(xs, ys, linestyle="none", marker="v", markersize=5, color="black",
                gid="page_ext_markers")

    ax.set_xlim(min(0, xmin) * scale, xmax * scale * 1.01)
    ax.set_ylim(len(nodes) - 0.4, -0.6)
    ax.set_yticks(range(len(nodes)), [f"node {n}" for n in nodes])
    ax.set_xlabel("physical address (GiB)" if unit == "GiB" else "pfn")
    ax.set_title("physical memory map")

    if legend:
        handles = [Patch(facecolor=color_of(name, ZONE_COLORS, i), edgecolor="black", label=name)
                   for i, name in enumerate(dict.fromkeys(str(x) for x in z["zone"]))]
        if holes:
            handles.append(Patch(facecolor="white", edgecolor="0.35", hatch="////",
                                 label="hole (no RAM)"))
        if sections is not None and len(sections):
            handles.append(Line2D([], [], color="0.2", marker="|", linestyle="none",
                                  markersize=8, label="section start"))
        if memory_blocks is not None and len(memory_blocks):
            handles.append(Line2D([], [], color="tab:blue", marker="|", linestyle="none",
                                  markersize=8, label="memory block start"))
            if (~memory_blocks["online"].astype(bool)).any():
                handles.append(Patch(fill=False, edgecolor="tab:blue", linestyle="--",
                                     label="offline block"))
        if page_ext is not None and len(page_ext):
            extra = f" ({n_vmalloc} via vmalloc, not shown)" if n_vmalloc else ""
            handles.append(Line2D([], [], color="black", marker="v", linestyle="none",
                                  label=f"page_ext table{extra}"))
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8,
                  frameon=False)
    return ax


# --------------------------------------------------------------------------------------------
# page_ext cost of a sweep of boots
# --------------------------------------------------------------------------------------------
def plot_page_ext_cost(df: pd.DataFrame, *, x: str = "ram_gib", y: str = "page_ext_mib",
                       hue: str | None = "config", ax: Axes | None = None,
                       logx: bool = True, logy: bool = False) -> Axes:
    """Plot page_ext cost against machine size, one line per configuration.

    Parameters
    ----------
    df : DataFrame
        A tidy frame, one row per boot, e.g. columns ``ram_gib``, ``page_ext_mib``,
        ``config`` (any names; see ``x``, ``y``, ``hue``).
    x, y : str
        Columns for the axes.
    hue : str or None
        Column whose values split the rows into lines (one line each, in order of first
        appearance).  ``None`` draws one line.
    ax : Axes, optional
        Axes to draw on; a new figure is made when omitted.
    logx, logy : bool
        Base-2 log scale on x (machine sizes usually double), log scale on y.

    Returns
    -------
    Axes
        One ``Line2D`` per hue value, labelled with that value.

    Raises
    ------
    KeyError
        When ``x``, ``y`` or ``hue`` is not a column.
    ValueError
        When the frame is empty.

    Examples
    --------
    >>> df = pd.DataFrame({"ram_gib": [1, 2, 1, 2], "page_ext_mib": [18, 36, 26, 52],
    ...                    "config": ["v6.12", "v6.12", "v3.19", "v3.19"]})
    >>> len(plot_page_ext_cost(df).lines)
    2
    """
    func = "plot_page_ext_cost"
    require_columns(df, [c for c in (x, y, hue) if c is not None], func, "df")
    if df.empty:
        raise ValueError(f"{func}: the frame has no rows")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False, observed=True))
    for key, g in groups:
        g = g.sort_values(x)
        ax.plot(g[x], g[y], marker="o", label=None if key is None else str(key))
    if logx:
        ax.set_xscale("log", base=2)
        ticks = np.sort(df[x].unique())
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, which="major", alpha=0.3)
    if hue is not None:
        ax.legend(title=hue, fontsize=8)
    ax.set_title("page_ext cost")
    return ax


# --------------------------------------------------------------------------------------------
# buddy free lists
# --------------------------------------------------------------------------------------------
def plot_buddyinfo(buddyinfo: pd.DataFrame, *, ax: Axes | None = None, log: bool = True,
                   pages: bool = False) -> Axes:
    """Free blocks per order (/proc/buddyinfo): one bar group per zone, one bar per order.

    Parameters
    ----------
    buddyinfo : DataFrame
        ``df_buddyinfo()`` frame: ``node``, ``zone``, ``order``, ``nr_free``.
    ax : Axes, optional
        Axes to draw on; a new figure is made when omitted.
    log : bool
        Log scale on the count axis (free counts span several decades).
    pages : bool
        Plot free pages (``nr_free << order``) instead of free blocks.

    Returns
    -------
    Axes
        One ``BarContainer`` per order (in ``ax.containers``), each with one bar per zone;
        the x tick labels name the zones (``"node 0 DMA32"``).

    Raises
    ------
    KeyError
        When a needed column is missing.
    ValueError
        When the frame is empty.
    """
    func = "plot_buddyinfo"
    require_columns(buddyinfo, ["node", "zone", "order", "nr_free"], func, "buddyinfo")
    if buddyinfo.empty:
        raise ValueError(f"{func}: the buddyinfo frame has no rows")
    df = buddyinfo.assign(zone=buddyinfo["zone"].astype(str))
    val = df["nr_free"] * (2 ** df["order"].astype("int64")) if pages else df["nr_free"]
    wide = (df.assign(val=val)
            .pivot_table(index=["node", "zone"], columns="order", values="val",
                         aggfunc="sum", fill_value=0, sort=False))
    wide = wide.loc[sorted(wide.index, key=lambda k: zone_sort_key(*k))]
    orders = sorted(wide.columns)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.8 * len(wide)), 4.5))
    cmap = plt.get_cmap("viridis")
    width = 0.8 / len(orders)
    xs = np.arange(len(wide))
    for i, o in enumerate(orders):
        ax.bar(xs - 0.4 + (i + 0.5) * width, wide[o].to_numpy(), width,
               color=cmap(i / max(len(orders) - 1, 1)), label=f"{o}")
    ax.set_xticks(xs, [zone_label(n, zn) for n, zn in wide.index])
    if log:
        ax.set_yscale("log")
    ax.set_ylabel("free pages" if pages else "free blocks")
    ax.set_title("buddy free lists per order" + (" (pages)" if pages else ""))
    ax.legend(title="order", fontsize=7, title_fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


# --------------------------------------------------------------------------------------------
# pageblocks per migratetype
# --------------------------------------------------------------------------------------------
def plot_pageblocks(pageblocks: pd.DataFrame, *, ax: Axes | None = None,
                    show_mixed: bool = True) -> Axes:
    """Pageblocks per migratetype per zone (/proc/pagetypeinfo), as stacked horizontal bars.

    Each zone is one bar, split by the pageblocks' migratetype.  Where the kernel printed
    "Number of mixed blocks" (page_owner on), the mixed blocks of each type are drawn
    hatched at the start of that type's segment and their total is written after the bar.

    Parameters
    ----------
    pageblocks : DataFrame
        ``df_pageblocks()`` frame: ``node``, ``zone``, ``migratetype``, ``nr_blocks``,
        ``nr_mixed`` (``-1`` when not printed).
    ax : Axes, optional
        Axes to draw on; a new figure is made when omitted.
    show_mixed : bool
        Draw the mixed-block overlay and totals.

    Returns
    -------
    Axes
        One ``BarContainer`` per migratetype that has blocks (labelled with the type),
        plus one labelled ``"mixed"`` when mixed counts are known.

    Raises
    ------
    KeyError
        When a needed column is missing.
    ValueError
        When the frame is empty.
    """
    func = "plot_pageblocks"
    require_columns(pageblocks, ["node", "zone", "migratetype", "nr_blocks", "nr_mixed"], func,
                    "pageblocks")
    if pageblocks.empty:
        raise ValueError(f"{func}: the pageblocks frame has no rows")
    df = pageblocks.assign(zone=pageblocks["zone"].astype(str),
                           migratetype=pageblocks["migratetype"].astype(str))
    types = list(dict.fromkeys(df["migratetype"]))
    blocks = df.pivot_table(index=["node", "zone"], columns="migratetype", values="nr_blocks",
                            aggfunc="sum", fill_value=0, sort=False)
    mixed = df.pivot_table(index=["node", "zone"], columns="migratetype", values="nr_mixed",
                           aggfunc="sum", fill_value=-1, sort=False)
    idx = sorted(blocks.index, key=lambda k: zone_sort_key(*k))
    blocks, mixed = blocks.loc[idx], mixed.loc[idx]
    types = [t for t in types if t in blocks.columns and blocks[t].sum() > 0]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.9 + 0.6 * len(blocks)))
    ys = np.arange(len(blocks))
    left = np.zeros(len(blocks))
    totals = blocks[types].sum(axis=1).to_numpy() if types else left.copy()
    known = (mixed[types] >= 0).to_numpy() if types else np.zeros((len(blocks), 0), bool)
    mixed_left, mixed_width = [], []
    for i, t in enumerate(types):
        w = blocks[t].to_numpy()
        bars = ax.barh(ys, w, left=left, color=color_of(t, MIGRATETYPE_COLORS, i),
                       edgecolor="white", linewidth=0.5, label=t)
        # count inside segments wide enough to hold it
        ax.bar_label(bars, labels=[str(int(v)) if v and v >= 0.04 * max(totals.max(), 1) else ""
                                   for v in w], label_type="center", fontsize=7, color="white")
        mx = np.where(known[:, i], mixed[t].to_numpy(), 0)
        mixed_left.append(left.copy())
        mixed_width.append(mx)
        left = left + w
    n_mixed = None
    if show_mixed and types and known.any():
        n_mixed = np.zeros(len(blocks))
        for lft, mx in zip(mixed_left, mixed_width):
            n_mixed += mx
        ml = np.concatenate(mixed_left)
        mw = np.concatenate(mixed_width)
        my = np.tile(ys, len(types))
        ax.barh(my, mw, left=ml, height=0.8, facecolor="none", edgecolor="black",
                hatch="xxxx", linewidth=0.6, label="mixed")
        for j, (y, tot, nm, kn) in enumerate(zip(ys, totals, n_mixed, known.any(axis=1))):
            parts = [f"{t} {int(mw[i * len(ys) + j])}" for i, t in enumerate(types)
                     if mw[i * len(ys) + j] > 0]
            text = (f"  {int(nm)} mixed: " + ", ".join(parts) if parts else "  0 mixed") \
                if kn else "  mixed n/a"
            ax.text(tot, y, text, va="center", fontsize=8)
    elif show_mixed and types:
        for y, tot in zip(ys, totals):
            ax.text(tot, y, "  mixed n/a", va="center", fontsize=8, color="0.4")
    ax.set_yticks(ys, [zone_label(n, zn) for n, zn in blocks.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(totals.max(), 1) * 1.4)
    ax.set_xlabel("pageblocks")
    ax.set_title("pageblocks per migratetype" + ("" if n_mixed is not None else
                                                 " (mixed counts not printed)"))
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax
