"""Kernel text files from a simulated machine, via the same formatters the readers mirror."""
from __future__ import annotations

from .buddyinfo import format_buddyinfo
from .extfrag import format_extfrag_index, format_unusable_index
from .pagetypeinfo import format_pagetypeinfo
from .zoneinfo import format_zoneinfo

__all__ = ["proc_text", "PROC_FILES"]

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
