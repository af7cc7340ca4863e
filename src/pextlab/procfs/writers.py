"""Kernel text files from a simulated machine, via the same formatters the readers mirror."""
from __future__ import annotations

from ..errors import PextlabError
from ..kernel.cma import cma_area, cma_debugfs_files, cma_sysfs_files
from .buddyinfo import format_buddyinfo
from .cma import DEBUGFS_FILES
from .extfrag import format_extfrag_index, format_unusable_index
from .pagetypeinfo import format_pagetypeinfo
from .zoneinfo import format_zoneinfo

__all__ = ["proc_text", "PROC_FILES", "cma_file"]

PROC_FILES = ("buddyinfo", "pagetypeinfo", "zoneinfo", "unusable_index", "extfrag_index")


def proc_text(machine, name: str) -> str:
    """The text of ``/proc/<name>`` (or debugfs extfrag/<name>) for a Machine."""
    if name == "buddyinfo":
        return format_buddyinfo(machine.df_buddyinfo())
    if name == "pagetypeinfo":
        prof = machine.profile
        header = {"pageblock_order": prof.pageblock_order,
                  "pages_per_block": prof.pageblock_nr_pages,
                  "migratetypes": list(prof.migratetype_names)}
        return format_pagetypeinfo(machine.df_pagetypeinfo(), machine.df_pageblocks(), header)
    if name == "zoneinfo":
        mm = machine.mm
        zones = machine.df_zones()
        promo = {(z.nid, z.name): z.watermark["promo"] for z in mm.all_zones()}
        prot = {(z.nid, z.name): tuple(z.lowmem_reserve) for z in mm.all_zones()}
        full = None
        if mm.pcp_enabled:
            # "pagesets / cpu: 0 / count / high / batch" (one CPU)
            full = {(z.nid, z.name): {"pagesets": [{"cpu": 0, "count": z.pcp.count,
                                                    "high": z.pcp.high, "batch": z.pcp.batch}]}
                    for z in mm.all_zones() if z.pcp is not None}
        return format_zoneinfo(zones, full=full, promo=promo, protection=prot)
    if name == "unusable_index":
        return format_unusable_index(machine.df_extfrag())
    if name == "extfrag_index":
        return format_extfrag_index(machine.df_extfrag())
    raise ValueError(f"unknown proc file {name!r}; known: {', '.join(PROC_FILES)}")


def cma_file(mm, name: str, tree: str) -> str:
    """One CMA file of a simulated machine: ``tree`` "debugfs" with ``name``
    ``cma/<area>/<file>`` (/sys/kernel/debug), or "sysfs" with ``mm/cma/<area>/<file>``
    (/sys/kernel).  A write-only file (``alloc``, ``free``) cannot be read."""
    parts = name.split("/")
    prefix = ["cma"] if tree == "debugfs" else ["mm", "cma"]
    root = "/sys/kernel/debug" if tree == "debugfs" else "/sys/kernel"
    if len(parts) != len(prefix) + 2 or parts[:len(prefix)] != prefix:
        raise PextlabError(f"{root}/{name}: not a CMA file (expected {'/'.join(prefix)}/<area>/<file>)")
    area = cma_area(mm, parts[-2])
    files = cma_debugfs_files(area) if tree == "debugfs" else cma_sysfs_files(area)
    if parts[-1] in files:
        return files[parts[-1]]
    if tree == "debugfs" and parts[-1] in DEBUGFS_FILES:
        raise PextlabError(f"{root}/{name}: write-only (mode 0200): write a page count to it")
    raise PextlabError(f"{root}/{name}: no such file; {area.name} has {sorted(files)}")
