"""Memory blocks as a grid: which are online, in which zone, and whose page_ext tables they hold.

``/sys/devices/system/memory/memoryN`` is the unit of memory hotplug: a block is onlined
into a zone, offlined, removed.  :func:`plot_memory_blocks` draws one cell per block
(``df_memory_blocks()``), in block order, coloured by zone (or by state), and -- when a
``df_page_ext()`` frame is given -- marks the block each section's page_ext table lives in.

That last part is the point of the picture.  On hotplug, the page_ext memory notifier
(``page_ext_callback`` -> ``online_page_ext`` in ``mm/page_ext.c``) allocates the table of
each section at MEM_GOING_ONLINE, on the section's node, from whatever zone the
allocator picks.  Once the first hot-added block is online as Normal, the tables of the
blocks onlined after it usually land *inside* it; they are unmovable kernel memory, so
that block can no longer be offlined (EBUSY) until the blocks whose tables it holds go
away.  The grid draws an arrow from each such block to the block that holds its table.

Pure function over frames; returns the Axes.

>>> import pextlab
>>> from pextlab.plot.blocks import plot_memory_blocks
>>> m = pextlab.boot("1G", "page_owner=on", maxmem="4G")
>>> ax = plot_memory_blocks(m.df_memory_blocks(), page_ext=m.df_page_ext())
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ._common import require_columns
from .colors import MEMORY_BLOCK_STATE_COLORS, OFFLINE_COLOR, OTHER_COLOR, ZONE_COLORS

__all__ = ["plot_memory_blocks", "block_of_pfn"]

MAX_ARROWS = 40
MAX_CELL_TEXT = 48      # beyond this many blocks, rows are labelled on the y axis instead


def block_of_pfn(memory_blocks: pd.DataFrame, pfns) -> np.ndarray:
    """The memory block id holding each pfn (-1 where no block does).

    >>> mb = pd.DataFrame({"block": [0, 1], "start_pfn": [0, 32768], "end_pfn": [32768, 65536]})
    >>> block_of_pfn(mb, [5, 40000, 70000]).tolist()
    [0, 1, -1]
    """
    mb = memory_blocks.sort_values("start_pfn")
    starts = mb["start_pfn"].to_numpy(np.int64)
    ends = mb["end_pfn"].to_numpy(np.int64)
    ids = mb["block"].to_numpy(np.int64)
    p = np.asarray(pfns, dtype=np.int64)
    i = np.searchsorted(starts, p, side="right") - 1
    ok = (i >= 0) & (p >= 0)
    i = np.clip(i, 0, max(len(ids) - 1, 0))
    ok &= (p < ends[i]) if len(ids) else False
    return np.where(ok, ids[i] if len(ids) else -1, -1)


def plot_memory_blocks(memory_blocks: pd.DataFrame, *, page_ext: pd.DataFrame | None = None,
                       color_by: str = "zone", highlight=None, ncols: int | None = None,
                       ax: Axes | None = None, arrows=True, legend: bool = True) -> Axes:
    """Draw memory blocks as a grid of cells, in block order.

    Parameters
    ----------
    memory_blocks : DataFrame
        ``df_memory_blocks()`` frame (simulator or capture): ``block``, ``start_pfn``,
        ``end_pfn``, ``state``, ``online``, ``zone``.
    page_ext : DataFrame, optional
        ``df_page_ext()`` frame: ``start_pfn`` (first pfn the table describes),
        ``table_pfn`` (where the table's own memory is; -1 for vmalloc), ``pages``.
        Each block holding tables gets a black triangle and the number of tables it
        holds (see ``arrows`` for the blocks whose table lives elsewhere).
    color_by : {"zone", "state"}
        ``"zone"``: online blocks take their zone's colour (:data:`ZONE_COLORS`), offline
        blocks are light grey with a dashed edge, blocks online in several zones grey.
        ``"state"``: colour by ``state`` (:data:`MEMORY_BLOCK_STATE_COLORS`).
    highlight : int or iterable of int, optional
        Block ids drawn with a thick red edge (e.g. the block a widget has selected).
    ncols : int, optional
        Cells per row (default: all blocks in rows of at most 16).  Up to 48 blocks each
        cell is labelled with its id and zone (or state); beyond, rows are named on the
        y axis and only highlighted cells carry their id.
    ax : Axes, optional
        Axes to draw on; a new figure is made when omitted.
    arrows : bool or iterable of int
        Draw an arrow from each block whose table lives in another block to that block
        (``True``: all such blocks, up to 40; an iterable: only arrows into or out of those
        blocks, e.g. the hot-added ones; ``False``: none).  Such a block also gets a small
        ``"→N"`` (its table is in block N), drawn for the same blocks as the arrows.
    legend : bool
        Draw a legend to the right.

    Returns
    -------
    Axes
        The cells are one ``PatchCollection`` with gid ``"blocks"``; cell ``i`` (block
        order) has facecolor ``ax.collections[0].get_facecolor()[i]``.  Block labels are
        texts with the block id.  Table markers have gid ``"page_ext"``, arrows
        ``"page_ext_arrow"``, highlighted cells ``"highlight"``.

    Raises
    ------
    KeyError
        When a frame lacks a needed column.
    ValueError
        When the frame has no rows or ``color_by`` is unknown.
    """
    func = "plot_memory_blocks"
    require_columns(memory_blocks, ["block", "start_pfn", "end_pfn", "state", "online", "zone"],
                    func, "memory_blocks")
    if page_ext is not None:
        require_columns(page_ext, ["start_pfn", "table_pfn", "pages"], func, "page_ext")
    if color_by not in ("zone", "state"):
        raise ValueError(f"{func}: color_by must be 'zone' or 'state', got {color_by!r}")
    if memory_blocks.empty:
        raise ValueError(f"{func}: the memory_blocks frame has no rows")
    mb = memory_blocks.sort_values("block").reset_index(drop=True)
    n = len(mb)
    if ncols is None:
        ncols = min(n, 16)
    ncols = max(1, int(ncols))
    nrows = -(-n // ncols)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.0 + 0.7 * ncols, 12), 0.6 + 0.75 * nrows))

    ids = mb["block"].to_numpy(np.int64)
    pos = {int(b): (i % ncols, i // ncols) for i, b in enumerate(ids)}
    online = mb["online"].astype(bool).to_numpy()
    states = mb["state"].astype(str).to_numpy()
    zones = mb["zone"].astype(object).where(mb["zone"].notna(), None).to_numpy()

    faces, edges, styles = [], [], []
    for i in range(n):
        if color_by == "state":
            faces.append(MEMORY_BLOCK_STATE_COLORS.get(states[i], OTHER_COLOR))
        elif not online[i]:
            faces.append(OFFLINE_COLOR)
        elif zones[i] is None:
            faces.append(OTHER_COLOR)
        else:
            faces.append(ZONE_COLORS.get(str(zones[i]), OTHER_COLOR))
        styles.append("solid" if online[i] else (0, (3, 2)))
        edges.append("0.2" if online[i] else "0.45")
    w, h = 0.92, 0.82
    rects = [Rectangle((x - w / 2, y - h / 2), w, h) for x, y in (pos[int(b)] for b in ids)]
    coll = PatchCollection(rects, facecolors=faces, edgecolors=edges, linewidths=0.8,
                           linestyles=styles, gid="blocks")
    ax.add_collection(coll)

    fs = 8 if ncols <= 16 else 6
    cell_text = n <= MAX_CELL_TEXT
    for i, b in enumerate(ids):
        x, y = pos[int(b)]
        if not cell_text:
            continue
        ax.text(x, y - 0.2, str(int(b)), ha="center", va="center", fontsize=fs,
                fontweight="bold")
        sub = str(zones[i]) if online[i] and zones[i] is not None else states[i]
        ax.text(x, y + 0.05, sub, ha="center", va="center", fontsize=fs - 2, color="0.25")

    if highlight is not None:
        hl = [highlight] if np.isscalar(highlight) else list(highlight)
        for b in hl:
            if b is not None and int(b) in pos:
                x, y = pos[int(b)]
                ax.add_patch(Rectangle((x - w / 2, y - h / 2), w, h, fill=False,
                                       edgecolor="red", linewidth=2.2, gid="highlight"))
                if not cell_text:
                    ax.text(x, y, str(int(b)), ha="center", va="center", fontsize=fs,
                            fontweight="bold")

    n_tables = n_vmalloc = 0
    if page_ext is not None and len(page_ext):
        placed = page_ext[page_ext["table_pfn"] >= 0]
        n_vmalloc = len(page_ext) - len(placed)
        host = block_of_pfn(mb, placed["table_pfn"])
        owner = block_of_pfn(mb, placed["start_pfn"])
        counts = pd.Series(host[host >= 0]).value_counts()
        n_tables = int(counts.sum())
        for b, c in counts.items():
            x, y = pos[int(b)]
            ax.plot([x + 0.33], [y + 0.27], marker="v", color="black", markersize=5,
                    linestyle="none", gid="page_ext")
            ax.text(x + 0.25, y + 0.28, str(int(c)), ha="right", va="center", fontsize=fs - 2)
        cross = [(int(o), int(hb)) for o, hb in zip(owner, host) if o >= 0 and hb >= 0 and o != hb]
        if arrows is not True and arrows is not False and arrows is not None:
            only = {int(b) for b in arrows}
            cross = [(o, hb) for o, hb in cross if o in only or hb in only]
        for o, hb in cross:
            x, y = pos[o]
            ax.text(x - 0.4, y + 0.28, f"\u2192{hb}", ha="left", va="center", fontsize=fs - 2,
                    gid="page_ext_elsewhere")
        if arrows and 0 < len(cross) <= MAX_ARROWS:
            for o, hb in cross:
                (x0, y0), (x1, y1) = pos[o], pos[hb]
                rad = 0.35 if y0 == y1 else 0.1
                ax.annotate("", xy=(x1 + 0.3, y1 + 0.3), xytext=(x0, y0 + 0.3),
                            arrowprops=dict(arrowstyle="->", color="black", lw=0.7, alpha=0.7,
                                            connectionstyle=f"arc3,rad={rad}"),
                            gid="page_ext_arrow")

    ax.set_xlim(-0.6, ncols - 0.4)
    ax.set_ylim(nrows - 0.4, -0.75)
    ax.set_aspect("auto")
    ax.set_xticks([])
    if cell_text:
        ax.set_yticks([])
    else:       # text per cell is slow and unreadable: name each row by its first block
        ax.set_yticks(range(nrows), [f"memory{ids[r * ncols]}" for r in range(nrows)],
                      fontsize=fs)
        ax.tick_params(axis="y", length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(f"memory blocks ({n}, {int(online.sum())} online)", fontsize=9)

    if legend:
        handles = []
        if color_by == "zone":
            seen = dict.fromkeys(str(z) for z, o in zip(zones, online) if o and z is not None)
            handles += [Patch(facecolor=ZONE_COLORS.get(z, OTHER_COLOR), edgecolor="0.2",
                              label=z) for z in seen]
            if (online & np.array([z is None for z in zones])).any():
                handles.append(Patch(facecolor=OTHER_COLOR, edgecolor="0.2",
                                     label="online, several zones"))
            if (~online).any():
                handles.append(Patch(facecolor=OFFLINE_COLOR, edgecolor="0.45",
                                     linestyle="--", label="offline"))
        else:
            handles += [Patch(facecolor=MEMORY_BLOCK_STATE_COLORS.get(s, OTHER_COLOR),
                              edgecolor="0.2", label=s) for s in dict.fromkeys(states)]
        if n_tables:
            extra = f"; {n_vmalloc} via vmalloc" if n_vmalloc else ""
            handles.append(Line2D([], [], color="black", marker="v", linestyle="none",
                                  label=f"holds page_ext tables ({n_tables}{extra})"))
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7,
                  frameon=False)
    return ax
