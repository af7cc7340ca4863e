"""Plots of pextlab frames: pure functions ``plot_x(df, *, ax=None, ...) -> Axes``.

They take the DataFrames of :mod:`pextlab.schema` (from a simulated ``Machine`` or a real
``Capture``) and never touch the simulated kernel.
"""
from .memory import (MIGRATETYPE_COLORS, ZONE_COLORS, plot_buddyinfo, plot_memory_map,
                     plot_page_ext_cost, plot_pageblocks)

__all__ = ["plot_memory_map", "plot_page_ext_cost", "plot_buddyinfo", "plot_pageblocks",
           "ZONE_COLORS", "MIGRATETYPE_COLORS"]

from .blocks import plot_memory_blocks  # noqa: E402  (the memory-block grid of the labs)

__all__ += ["plot_memory_blocks"]

from .owner_map import plot_owner_map  # noqa: E402  (physical memory coloured by owner)

__all__ += ["plot_owner_map"]
