"""Frame builders: the simulated kernel's state as the documented DataFrames of
``pextlab.schema`` -- the same columns and dtypes a real capture's files give.

* :mod:`.sim` -- the /proc and sysfs views (zones, sections, memory blocks, page_ext,
  buddyinfo, pagetypeinfo, pageblocks, extfrag, meminfo, vmstat) and page_owner
  (``df_page_owner``, ``df_stacks``);
* :mod:`.pageblock_map` -- one row per pageblock (what pagetypeinfo's counts are made of);
* :mod:`.fragmentation` -- fragmentation metrics per sample, compaction runs;
* :mod:`.trace` -- the events a trace reader received, the events the ring buffer lost.

Building a frame never changes the machine.  May import ``pextlab.kernel``,
``pextlab.procfs`` (formats), ``pextlab.schema`` and ``pextlab.errors``; nothing above.
"""

__all__: list[str] = []
