"""A CMA area page by page: ``plot_cma`` draws a ``"cma_map"`` frame (``df_cma_map``)
as a grid, one row per pageblock, coloured by what holds each page.

>>> import pandas as pd
>>> df = pd.DataFrame({"name": ["r"] * 1024, "pfn": range(1024), "offset": range(1024),
...                    "state": ["free"] * 1000 + ["pinned"] * 24})
>>> plot_cma(df).get_title()
'CMA area r: 1000 free, 24 pinned'
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from ._common import new_axes, require_columns
from .colors import MIGRATETYPE_COLORS, OTHER_COLOR

__all__ = ["plot_cma", "CMA_STATE_COLORS"]

#: one colour per df_cma_map state: free pages white-ish, movable pages the Movable
#: colour, pinned pages the Unmovable one (they cannot move), CMA's own pages the CMA one
CMA_STATE_COLORS = {"free": "#f7f7f7", "movable": MIGRATETYPE_COLORS["Movable"],
                    "pinned": MIGRATETYPE_COLORS["Unmovable"], "cma": MIGRATETYPE_COLORS["CMA"],
                    "other": OTHER_COLOR}


def plot_cma(cma_map, *, area: str | None = None, width: int = 512, ax=None):
    """Draw one area of a ``"cma_map"`` frame: ``width`` pages per row (a pageblock).

    ``area``: the area's name (default: the first in the frame).  Returns the Axes.
    """
    require_columns(cma_map, ["name", "offset", "state"], "plot_cma")
    names = list(dict.fromkeys(cma_map["name"].astype(str)))
    if not names:
        raise ValueError("plot_cma: the frame has no page (no CMA area)")
    name = names[0] if area is None else area
    if name not in names:
        raise ValueError(f"plot_cma: no area {name!r} in the frame (areas: {names})")
    df = cma_map[cma_map["name"].astype(str) == name]
    states = list(CMA_STATE_COLORS)
    code = {s: i for i, s in enumerate(states)}
    n = int(df["offset"].max()) + 1
    rows = -(-n // width)
    grid = np.full(rows * width, np.nan)
    grid[df["offset"].to_numpy()] = [code.get(str(s), len(states) - 1) for s in df["state"]]
    ax = new_axes(ax, figsize=(8, max(2.0, rows * 0.12)))
    ax.imshow(grid.reshape(rows, width), aspect="auto", interpolation="nearest",
              cmap=ListedColormap([CMA_STATE_COLORS[s] for s in states]), vmin=-0.5,
              vmax=len(states) - 0.5)
    counts = df["state"].astype(str).value_counts()
    ax.set_title(f"CMA area {name}: " + ", ".join(f"{int(counts[s])} {s}" for s in states
                                                   if counts.get(s, 0)))
    ax.set_xlabel(f"page within the row ({width} pages)")
    ax.set_ylabel("row (pageblock)")
    ax.legend(handles=[Patch(color=CMA_STATE_COLORS[s], label=s) for s in states],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return ax
