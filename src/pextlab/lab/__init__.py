"""Labs: pure-Python controllers behind the notebook widgets.

* :class:`BootLab` -- boot machines with a chosen RAM size, nodes, node interleave, machine
  type, memory model, kernel profile, page_ext clients and free-form command line; see
  the dmesg excerpt, page_ext cost, zone table and memory map.
* :class:`HotplugLab` -- add a DIMM, online its blocks as online/online_kernel/online_movable,
  offline, remove; see the map, the page_ext tables and a log of what the kernel said
  (an EBUSY names the owners of the pages in the way).

Each controller holds all the logic and state and is used (and tested) without a browser
or ipywidgets: its verbs return plain values, its ``draw()`` a matplotlib Figure::

    import pextlab.lab
    lab = pextlab.lab.HotplugLab(m)             # m = pextlab.boot(..., maxmem="4G")
    lab.add_dimm("512M").text
    lab.offline(32).text

The ipywidgets views live one layer up, in :mod:`pextlab.widgets`, and take a controller::

    import pextlab.widgets
    view = pextlab.widgets.HotplugLabView(lab)  # last expression of a cell: the widget

What this package may import: the facades (:mod:`pextlab.machine`, :mod:`pextlab.exercises`), :mod:`pextlab.plot`,
:mod:`pextlab.workloads`, :mod:`pextlab.errors`, the kernel's layout helpers, matplotlib
(the figures), numpy and pandas.  Never :mod:`pextlab.widgets` or ipywidgets: widgets
import labs, not the reverse.
"""
from .boot_lab import CLIENTS, BootLab
from .exercise_lab import ExerciseLab
from .hotplug_lab import (I_HOTPLUG_STEPS, ONLINE_TYPES, HotplugLab, LogEntry, blocked_by,
                          merge_table_runs)

__all__ = ["BootLab", "HotplugLab", "ExerciseLab", "LogEntry", "blocked_by", "merge_table_runs", "CLIENTS",
           "ONLINE_TYPES", "I_HOTPLUG_STEPS"]
