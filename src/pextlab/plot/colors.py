"""The colour tables of every pextlab picture: one colour per zone, migratetype and
memory-block state, so a type or a zone has the same colour in every plot, the report
and the labs.

Names are spelled as the kernel prints them (/proc/zoneinfo zone names, /proc/pagetypeinfo
migratetype names of both profiles, /sys/devices/system/memory/memoryN/state values).
A name missing from a table takes a colour of the tab10 cycle by its position
(:func:`color_of`).

>>> MIGRATETYPE_COLORS["Reclaimable"]
'#ff7f0e'
>>> color_of("Unmovable", MIGRATETYPE_COLORS)
'#d62728'
"""
from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ZONE_COLORS", "MIGRATETYPE_COLORS", "MEMORY_BLOCK_STATE_COLORS", "OFFLINE_COLOR",
           "HOLE_COLOR", "OTHER_COLOR", "FALLBACK_COLORS", "color_of"]

# One colour per zone name, as /proc/zoneinfo spells them.
ZONE_COLORS = {
    "DMA": "#8da0cb", "DMA32": "#66c2a5", "Normal": "#fc8d62", "HighMem": "#ffd92f",
    "Movable": "#e78ac3", "Device": "#a6d854",
}
# One colour per migratetype name, as /proc/pagetypeinfo spells them (v3.19: Reserve;
# v4.4+: HighAtomic, which took Reserve's place in the enum).
MIGRATETYPE_COLORS = {
    "Unmovable": "#d62728", "Movable": "#2ca02c", "Reclaimable": "#ff7f0e",
    "HighAtomic": "#9467bd", "Reserve": "#9467bd", "CMA": "#8c564b", "Isolate": "#7f7f7f",
}
# One colour per /sys/devices/system/memory/memoryN/state value.
MEMORY_BLOCK_STATE_COLORS = {"online": "#66c2a5", "offline": "#f0f0f0",
                             "going-offline": "#ffd92f"}
OFFLINE_COLOR = "#f0f0f0"       # memory that is present but offline
HOLE_COLOR = "#ffffff"          # no memory at all
OTHER_COLOR = "#bdbdbd"         # several of a kind at once (a block spanning zones), "other"
# matplotlib's tab10, for names no table knows
FALLBACK_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def color_of(name, table: Mapping[str, str], i: int = 0) -> str:
    """``table[str(name)]``, or the ``i``-th tab10 colour when the table lacks the name."""
    return table.get(str(name), FALLBACK_COLORS[i % len(FALLBACK_COLORS)])
