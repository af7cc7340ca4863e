"""Labs: pure-Python controllers behind the notebook widgets.

* :class:`BootLab` -- boot machines with a chosen RAM size, nodes, node interleave, machine
  type, memory model, kernel profile, page_ext clients and free-form command line; see
  the dmesg excerpt, page_ext cost, zone table and memory map.
* :class:`HotplugLab` -- add a DIMM, online its blocks as online/online_kernel/online_movable,
  offline, remove; see the map, the page_ext tables and a log of what the kernel said
  (an EBUSY names the owners of the pages in the way).

Each controller holds all the logic and state and is used (and tested) without a browser.
Displaying one in a notebook shows its ipywidgets view, built on first use::

    import pextlab.lab
    pextlab.lab.BootLab()                       # last expression of a cell: the widget
    lab = pextlab.lab.HotplugLab(m)             # m = pextlab.boot(..., maxmem="4G")
    lab                                         # the widget; lab.widget is the same object
    lab.offline(32).text                        # drive it from code; the widget follows

The views themselves are :mod:`pextlab.widgets` (``BootLabView``, ``HotplugLabView``).
"""
from .boot_lab import CLIENTS, BootLab
from .hotplug_lab import I_HOTPLUG_STEPS, ONLINE_TYPES, HotplugLab, LogEntry, blocked_by

__all__ = ["BootLab", "HotplugLab", "LogEntry", "blocked_by", "CLIENTS", "ONLINE_TYPES",
           "I_HOTPLUG_STEPS"]
