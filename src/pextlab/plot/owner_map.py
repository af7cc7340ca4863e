"""Physical memory coloured by owner: a pfn-axis map built from a page_owner frame.

``plot_owner_map(df_page_owner, by="comm")`` cuts the pfn range into bins and
colours each bin by the owner (comm, top frame, migratetype, gfp, ...) holding
most of its allocated pages; unallocated pages leave the bin pale.  Works the
same on a simulated machine's frame and on a real capture's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from ._common import new_axes, require_columns
from .colors import FALLBACK_COLORS, MIGRATETYPE_COLORS, OTHER_COLOR

__all__ = ["plot_owner_map"]

_NEEDED = ("pfn", "nr_pages")
# owner columns whose values have a colour of their own
_TABLES = {"migratetype": MIGRATETYPE_COLORS, "pageblock_migratetype": MIGRATETYPE_COLORS}


def plot_owner_map(page_owner: pd.DataFrame, *, by: str = "comm", zones: pd.DataFrame | None = None,
                   bins: int = 1024, top: int = 8, ax: Axes | None = None) -> Axes:
    """Colour the physical address space by who owns it.

    Parameters
    ----------
    page_owner : DataFrame
        A ``page_owner`` frame (``pfn``, ``nr_pages`` and the ``by`` column).
    by : str
        Column naming the owner: ``"comm"``, ``"top_frame"``, ``"migratetype"``,
        ``"gfp"``, ``"stack"``, ``"pid"``...  The ``top`` biggest owners get a
        colour each (a migratetype its colour of :data:`MIGRATETYPE_COLORS`), the rest
        are "other".
    zones : DataFrame, optional
        A ``zones`` frame: zone boundaries are drawn and the pfn range is taken
        from it (else from the frame's pfns).
    bins : int
        Number of pfn bins (columns of the map).
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        The map: x is the physical address in GiB; each bin's colour is its
        majority owner; its lightness shows how full of allocations it is.

    Examples
    --------
    >>> import pextlab
    >>> m = pextlab.boot("512M", cmdline="page_owner=on")
    >>> ax = plot_owner_map(m.df_page_owner(), by="comm", zones=m.df_zones())
    >>> ax.get_xlabel()[:8]
    'physical'

    """
    require_columns(page_owner, (*_NEEDED, by), "plot_owner_map", "page_owner")
    if bins < 1 or top < 1:
        raise ValueError("bins and top must be positive")
    ax = new_axes(ax, (10, 1.8))
    pfn = page_owner["pfn"].to_numpy(np.int64)
    pages = page_owner["nr_pages"].to_numpy(np.int64)
    if zones is not None and len(zones):
        z = zones[zones["spanned"] > 0]
        lo, hi = int(z["start_pfn"].min()), int(z["end_pfn"].max())
    elif len(pfn):
        lo, hi = int(pfn.min()), int((pfn + pages).max())
    else:
        raise ValueError("plot_owner_map: empty frame and no zones to size the map")
    span = max(1, hi - lo)
    width = -(-span // bins)
    owner = page_owner[by].astype(str)
    weight = pd.Series(pages).groupby(owner.to_numpy()).sum().sort_values(ascending=False)
    names = list(weight.index[:top])
    code = owner.map({n: i for i, n in enumerate(names)}).fillna(len(names)).to_numpy(np.int64)
    ncat = len(names) + 1
    b = np.clip((pfn - lo) // width, 0, bins - 1)
    counts = np.zeros((bins, ncat), dtype=np.int64)
    np.add.at(counts, (b, code), pages)
    filled = counts.sum(axis=1)
    major = counts.argmax(axis=1)
    table = _TABLES.get(by, {})
    colors = [to_rgba(table.get(str(n), FALLBACK_COLORS[i % len(FALLBACK_COLORS)]))
              for i, n in enumerate(names)] + [to_rgba(OTHER_COLOR)]
    img = np.ones((1, bins, 4))
    frac = np.clip(filled / width, 0, 1)
    for i in range(bins):
        if filled[i]:
            c = np.array(colors[major[i]])
            img[0, i, :3] = 1 - (1 - c[:3]) * (0.35 + 0.65 * frac[i])
    gib = (1 << 30) >> 12
    ax.imshow(img, aspect="auto", extent=(lo / gib, (lo + bins * width) / gib, 0, 1),
              interpolation="nearest")
    if zones is not None and len(zones):
        for r in zones[zones["spanned"] > 0].itertuples():
            ax.axvline(r.start_pfn / gib, color="k", lw=0.6)
            ax.text(r.start_pfn / gib, 1.02, f"{r.zone}", fontsize=7, va="bottom",
                    transform=ax.get_xaxis_transform())
    ax.set_yticks([])
    ax.set_xlabel("physical address (GiB)")
    ax.set_title(f"allocated pages by {by} (majority owner per {width * 4 // 1024} MiB bin)",
                 fontsize=9, pad=14)
    handles = [Patch(color=colors[i], label=str(n)[:40]) for i, n in enumerate(names)]
    if (code == len(names)).any():
        handles.append(Patch(color=colors[-1], label="other"))
    ax.legend(handles=handles, fontsize=7, ncol=min(4, len(handles)), loc="upper center",
              bbox_to_anchor=(0.5, -0.45), frameon=False)
    return ax
