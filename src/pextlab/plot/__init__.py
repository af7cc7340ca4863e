"""Plots of pextlab frames: pure functions ``plot_x(df, *, ..., ax=None) -> Axes``.

Every ``plot_*`` takes DataFrames of the schemas of :mod:`pextlab.schema` -- from a
simulated ``Machine``, a ``Snapshot`` or a real ``Capture`` alike -- draws on ``ax`` (a
new pyplot figure when omitted) and returns that Axes.  None of them takes a machine or
reads the simulated kernel: a frame with the right columns is all a plot needs, and a
frame without them raises ``KeyError`` naming what is missing.

Modules:

* :mod:`~pextlab.plot.memory` -- the physical memory map, page_ext cost, buddy free
  lists (buddyinfo), pageblocks per migratetype (pagetypeinfo);
* :mod:`~pextlab.plot.blocks` -- memory blocks as a grid, with their page_ext tables;
* :mod:`~pextlab.plot.fragmentation` -- metrics over time, the pageblock map, free
  pages per order;
* :mod:`~pextlab.plot.owners` -- pages per owner over time, memory usage, top owners;
* :mod:`~pextlab.plot.owner_map` -- physical memory coloured by owner;
* :mod:`~pextlab.plot.cma` -- a CMA area page by page (free, movable, pinned, CMA's own);
* :mod:`~pextlab.plot.colors` -- the one colour table of zones, migratetypes and
  memory-block states, used by every picture (plots, report, labs).

What this package may import: matplotlib, numpy, pandas, and from pextlab only
:mod:`pextlab.schema`, :mod:`pextlab.errors` and the kernel's name tables
(``pextlab.kernel.gfp.ZONE_NAMES``).  It never imports a facade (machine, capture),
``lab`` or ``widgets``; those import it.
"""
from .blocks import block_of_pfn, plot_memory_blocks
from .cma import plot_cma
from .colors import MEMORY_BLOCK_STATE_COLORS, MIGRATETYPE_COLORS, ZONE_COLORS
from .fragmentation import plot_fragmentation_timeseries, plot_free_orders, plot_pageblock_map
from .memory import plot_buddyinfo, plot_memory_map, plot_page_ext_cost, plot_pageblocks
from .owner_map import plot_owner_map
from .owners import owners_over_time, plot_memory_usage, plot_owners_over_time, plot_top_owners

__all__ = ["plot_memory_map", "plot_page_ext_cost", "plot_buddyinfo", "plot_pageblocks",
           "plot_memory_blocks", "block_of_pfn", "plot_fragmentation_timeseries",
           "plot_pageblock_map", "plot_free_orders", "plot_owners_over_time",
           "plot_memory_usage", "plot_top_owners", "owners_over_time", "plot_owner_map",
           "ZONE_COLORS", "MIGRATETYPE_COLORS", "MEMORY_BLOCK_STATE_COLORS", "plot_cma"]
