"""Memory hotplug (mm/memory_hotplug.c and drivers/base/memory.c, v6.12).

Memory comes and goes in memory blocks (``memory_block_size``, 128 MiB on a
small x86_64 VM; block id = first section / sections per block):

* ``add_memory(mm, start_pfn, nr_pages, nid)`` -- a DIMM appears (ACPI
  ``acpi_memory_device_add`` -> ``__add_memory``): the range must be block
  aligned and inside the hotpluggable window (qemu ``maxmem``, SRAT
  "hotplug").  ``arch_add_memory`` maps it (one page-table page per GiB of
  direct map touched, GFP_ATOMIC|__GFP_ZERO as ``phys_pud_init`` allocates it in
  the real run), ``sparse_add_section`` gives each section its memmap: with
  SPARSEMEM_VMEMMAP a 2 MiB (order-9) block per 128 MiB section from the
  node's *existing* memory (``vmemmap_alloc_block``, GFP_KERNEL |
  __GFP_RETRY_MAYFAIL | __GFP_NOWARN), then the memory block devices appear
  offline (one slab page for their sysfs nodes, as the real run shows).
  ``memhp_default_state=online|online_kernel|online_movable`` onlines them at
  once.
* ``online_pages(mm, block, online_type)`` -- ``echo online > state``: the
  zone is chosen by ``zone_for_pfn_range`` (default "contig-zones" policy),
  the range joins the zone (span grows), MEM_GOING_ONLINE runs the notifier
  chain (page_ext allocates the sections' tables *from wherever the allocator
  finds memory* -- this is how later sections' tables end up in the first
  hot-added Normal block), pages go to the buddy in MAX_ORDER chunks at the
  tail of the free lists (pageblocks MOVABLE), present/managed grow, the
  zonelists are rebuilt when the zone was empty ("Built 1 zonelists ..."),
  watermarks are recomputed (``init_per_zone_wmark_min``), MEM_ONLINE.  A
  notifier veto gives MEM_CANCEL_ONLINE and leaves everything as it was.
* ``offline_pages(mm, block)`` -- ``echo offline > state``: EINVAL for a block
  spanning zones (no ``mem->zone``: valid_zones "none"), for holes ("memory
  holes"); isolation (EBUSY, "failure to isolate range", the offending page
  dumped with its page_owner record as "unmovable page"); MEM_GOING_OFFLINE;
  migration of every movable page (``migrate.migrate_pages``, reason
  "memory_hotplug"; free hugetlb pages are not migrated but dissolved,
  ``hugetlb.dissolve_free_hugetlb_folios``); ``__offline_isolated_pages``;
  counters shrink; watermarks; zonelists when the zone empties; MEM_OFFLINE
  (page_ext frees its tables); the zone span shrinks.  What a failure leaves
  behind: see :func:`offline_pages`.
* ``remove_memory`` (the kernel function: EBUSY unless every block is
  offline) and ``eject_memory_device`` (what ``device_del`` of a pc-dimm does
  through ACPI: offline every online block of the DIMM in two passes,
  "memory memoryN: Offline failed." when one stays busy, then remove).

Per-block state lives in ``mm.hotplug_blocks[block]`` (a dict: ``state``,
``zone`` (the Zone the block is online in, None = spans zones), ``nid``,
``device``); blocks never touched by hotplug are described by their boot
state.  ``mm.hotplug_devices`` (created here) maps a device id to its range,
blocks and the pages its memmap and page tables took.

pr_debug messages (the failure reasons, "Offlined Pages") are not printed to
the log, as on a kernel without dynamic debug; they are returned in the result.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PextlabError
from .gfp import ZONE_NORMAL, ZONE_MOVABLE, ZONE_NAMES, retry_mayfail_flag
from .mmzone import MemSection, PG_BUDDY, PG_RESERVED, PG_HEAD, PG_HOLE, MT_SHIFT, MT_MASK, covered_by_free
from .page_ext import (MEM_ONLINE, MEM_GOING_OFFLINE, MEM_OFFLINE, MEM_GOING_ONLINE,
                       MEM_CANCEL_ONLINE, MEM_CANCEL_OFFLINE)
from . import hugetlb, page_isolation, migrate
from .debug import dump_page  # noqa: F401 (mm/debug.c; used here and re-exported)
from .buddy import del_page_from_free_list
from .fastpath import free_pages, init_per_zone_wmark_min, nr_free_zone_pages
from .page_alloc import alloc_pages
from .pcp import drain_zone_pages
from .profiles import PAGE_SHIFT

__all__ = ["MMOP_OFFLINE", "MMOP_ONLINE", "MMOP_ONLINE_KERNEL", "MMOP_ONLINE_MOVABLE",
           "online_type_from_str", "HotplugResult", "block_pfn_range", "block_ids",
           "memory_block", "boot_memory_block", "zone_for_pfn_range", "valid_zones", "add_memory", "online_pages",
           "offline_pages", "remove_memory", "eject_memory_device", "init_per_zone_wmark_min",
           "build_all_zonelists", "dump_page", "VMEMMAP_STACK", "PAGE_EXT_ONLINE_STACK",
           "PAGES_PER_SUBSECTION"]

EINVAL, EBUSY, ENOMEM, EEXIST, EINTR = 22, 16, 12, 17, 4
_ERRNAME = {EINVAL: "EINVAL", EBUSY: "EBUSY", ENOMEM: "ENOMEM", EEXIST: "EEXIST", EINTR: "EINTR"}

# include/linux/memory_hotplug.h
MMOP_OFFLINE, MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE = range(4)
_ONLINE_TYPES = {"offline": MMOP_OFFLINE, "online": MMOP_ONLINE,
                 "online_kernel": MMOP_ONLINE_KERNEL, "online_movable": MMOP_ONLINE_MOVABLE}

# Allocation stacks of the hotplug path, as the real 6.12 run (data/real-kernel/i-hotplug,
# page_owner.after_online) recorded them.
VMEMMAP_STACK = (
    "get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
    "vmemmap_alloc_block+0x47/0xe0", "vmemmap_populate_hugepages+0xd8/0x170",
    "vmemmap_populate+0x35/0x60", "__populate_section_memmap+0x181/0x2f0",
    "sparse_add_section+0x148/0x2e0", "__add_pages+0x91/0xf0", "add_pages+0x3f/0xb0",
    "add_memory_resource+0xde/0x240", "__add_memory+0x37/0x70",
    "acpi_memory_device_add+0x188/0x2d0", "acpi_bus_attach+0x19b/0x2b0",
    "device_for_each_child+0x5e/0x90", "acpi_dev_for_each_child+0x27/0x30",
    "acpi_bus_attach+0x6e/0x2b0")
PAGETABLE_STACK = (
    "get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
    "alloc_pages_mpol_noprof+0xd1/0x190", "get_free_pages_noprof+0xc/0x30",
    "phys_pud_init+0x9a/0x2b0", "__kernel_physical_mapping_init+0xab/0x310",
    "init_memory_mapping+0x138/0x390", "arch_add_memory+0x2a/0x50",
    "add_memory_resource+0xde/0x240", "__add_memory+0x37/0x70",
    "acpi_memory_device_add+0x188/0x2d0", "acpi_bus_attach+0x19b/0x2b0",
    "device_for_each_child+0x5e/0x90", "acpi_dev_for_each_child+0x27/0x30",
    "acpi_bus_attach+0x6e/0x2b0", "acpi_bus_scan+0x67/0x1c0")
SYSFS_SLAB_STACK = (
    "get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
    "alloc_pages_mpol_noprof+0xd1/0x190", "allocate_slab+0x288/0x3f0",
    "___slab_alloc+0x603/0x9d0", "kmem_cache_alloc_noprof+0x139/0x240",
    "__kernfs_new_node.constprop.0+0x49/0x190", "kernfs_new_node+0x3e/0x60",
    "kernfs_create_link+0x30/0xa0", "sysfs_do_create_link_sd+0x55/0xc0",
    "acpi_bind_one+0x1da/0x2b0", "walk_memory_blocks+0x76/0xa0",
    "acpi_memory_device_add+0x1a9/0x2d0", "acpi_bus_attach+0x19b/0x2b0",
    "device_for_each_child+0x5e/0x90", "acpi_dev_for_each_child+0x27/0x30")
PAGE_EXT_ONLINE_STACK = (
    "get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
    "alloc_pages_exact_nid_noprof+0x73/0xd0", "init_section_page_ext+0x8a/0xf0",
    "page_ext_callback+0x84/0xd0", "blocking_notifier_call_chain+0x58/0x80",
    "online_pages+0xeb/0x260", "memory_subsys_online+0x182/0x250",
    "device_online+0x47/0x80", "state_store+0x8a/0x90",
    "kernfs_fop_write_iter+0x118/0x1e0", "vfs_write+0x19b/0x2c0", "ksys_write+0x5a/0xd0",
    "do_syscall_64+0x3b/0xc0", "entry_SYSCALL_64_after_hwframe+0x4b/0x53")



@dataclass
class HotplugResult:
    """Outcome of an online/offline/remove request (what the sysfs write returns)."""
    ok: bool
    error: str | None = None          # "EBUSY", "EINVAL", "ENOMEM", "EINTR", ... or None
    reason: str | None = None         # the kernel's pr_debug reason ("memory holes", ...)
    blocking: list = field(default_factory=list)   # pfns in the way (unmovable/busy pages)
    block: int | None = None
    start_pfn: int = 0
    end_pfn: int = 0
    zone: str | None = None
    migrated: int = 0                 # base pages migrated away (failed offlines too)
    messages: list = field(default_factory=list)   # pr_debug lines (not in the log)

    def __bool__(self) -> bool:
        return self.ok


def online_type_from_str(how: str) -> int:
    """drivers/base/memory.c mhp_online_type_from_str."""
    try:
        return _ONLINE_TYPES[how]
    except KeyError:
        raise PextlabError(f"unknown online type {how!r}; use one of "
                           f"{', '.join(k for k in _ONLINE_TYPES if k != 'offline')}") from None


# --- geometry and per-block state --------------------------------------------------------------

def _spb(mm) -> int:
    return mm.memory_block_size >> (mm.section_shift + PAGE_SHIFT)


def block_pfn_range(mm, block: int) -> tuple[int, int]:
    n = _spb(mm) << mm.section_shift
    return block * n, (block + 1) * n


def _block_sections(mm, block: int):
    spb = _spb(mm)
    return [mm.sections[nr] for nr in range(block * spb, min((block + 1) * spb, mm.nr_sections))
            if mm.sections[nr] is not None and mm.sections[nr].present]


def block_ids(mm) -> list[int]:
    """Every memory block with present sections, ascending."""
    spb = _spb(mm)
    return sorted({s.nr // spb for s in mm.sections if s is not None and s.present})


def _devices(mm) -> dict:
    d = mm.hotplug_devices
    return d


def boot_memory_block(mm, block: int) -> dict | None:
    """The record drivers/base/memory.c keeps for a boot memory block, or None when the
    block has no present memory: ``state`` (online when its sections are), ``nids`` (the
    nodes with memory in it: each registers the block, register_memory_blocks_under_node),
    ``nid`` (the last of them: memory_block_add_nid keeps the last one processed) and
    ``zone``: the single populated zone of its first node whose span meets the block
    (early_node_zone_for_memory_block), None when several do or when a second node
    has memory in the block -- valid_zones "none", and memory_block_offline refuses it
    (-EINVAL).  Computing it changes nothing (:func:`memory_block` stores it)."""
    secs = _block_sections(mm, block)
    if not secs:
        return None
    start, end = block_pfn_range(mm, block)
    nids = tuple(sorted({n for s in secs for n in s.nids}))
    zones = [z for z in mm.nodes[nids[0]].zones
             if z.present_pages and z.zone_start_pfn < end and start < z.zone_end_pfn]
    zone = zones[0] if len(zones) == 1 and len(nids) == 1 else None
    return {"state": "online" if all(s.online for s in secs) else "offline",
            "zone": zone, "nid": nids[-1], "nids": nids, "device": None}


def memory_block(mm, block: int) -> dict:
    """The block's record (``state``, ``zone``, ``nid``, ``nids``, ``device``), created for
    boot blocks by :func:`boot_memory_block` the first time hotplug touches them."""
    rec = mm.hotplug_blocks.get(block)
    if rec is not None:
        return rec
    rec = boot_memory_block(mm, block)
    if rec is None:
        raise PextlabError(f"memory{block} does not exist (no present memory in "
                           f"pfn {block_pfn_range(mm, block)[0]:#x}..)")
    mm.hotplug_blocks[block] = rec
    return rec


# --- zones (mm/memory_hotplug.c) ---------------------------------------------------------------

def _zone_intersects(zone, start: int, nr: int) -> bool:
    if not zone.spanned_pages:
        return False
    return start < zone.zone_end_pfn and zone.zone_start_pfn < start + nr


def _default_kernel_zone_for_pfn(mm, nid, start, nr):
    zones = mm.nodes[nid].zones
    for zid in range(ZONE_NORMAL + 1):
        if _zone_intersects(zones[zid], start, nr):
            return zones[zid]
    return zones[ZONE_NORMAL]


def _default_zone_for_pfn(mm, nid, start, nr):
    kernel = _default_kernel_zone_for_pfn(mm, nid, start, nr)
    movable = mm.nodes[nid].zones[ZONE_MOVABLE]
    in_kernel = _zone_intersects(kernel, start, nr)
    in_movable = _zone_intersects(movable, start, nr)
    if in_kernel ^ in_movable:
        return kernel if in_kernel else movable
    return movable if mm.params.movable_node else kernel


def zone_for_pfn_range(mm, online_type: int, nid: int, start: int, nr: int):
    """The zone an online of this type would use (contig-zones online_policy)."""
    if online_type == MMOP_ONLINE_KERNEL:
        return _default_kernel_zone_for_pfn(mm, nid, start, nr)
    if online_type == MMOP_ONLINE_MOVABLE:
        return mm.nodes[nid].zones[ZONE_MOVABLE]
    return _default_zone_for_pfn(mm, nid, start, nr)


def valid_zones(mm, block: int) -> str:
    """drivers/base/memory.c valid_zones_show: online -> its zone ("none" if it spans
    zones or nodes); offline -> the default zone first, then the other zones it could
    go to.  Reading it changes nothing."""
    rec = mm.hotplug_blocks.get(block) or boot_memory_block(mm, block)
    if rec is None:
        raise PextlabError(f"memory{block} does not exist (no present memory in "
                           f"pfn {block_pfn_range(mm, block)[0]:#x}..)")
    if rec["state"] == "online":
        return rec["zone"].name if rec["zone"] is not None else "none"
    start, end = block_pfn_range(mm, block)
    nid = rec["nid"]
    default = zone_for_pfn_range(mm, MMOP_ONLINE, nid, start, end - start)
    out = [default.name]
    for t in (MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE):
        z = zone_for_pfn_range(mm, t, nid, start, end - start)
        if z is not default:
            out.append(z.name)
    return " ".join(out)


def _resize_zone_range(zone, start: int, nr: int) -> None:
    if not zone.spanned_pages or start < zone.zone_start_pfn:
        old_end = zone.zone_end_pfn if zone.spanned_pages else start
        zone.zone_start_pfn = start
    else:
        old_end = zone.zone_end_pfn
    zone.spanned_pages = max(start + nr, old_end) - zone.zone_start_pfn


# include/linux/mmzone.h: SUBSECTION_SHIFT 21 (v5.3+), the unit of the zone shrink scans
PAGES_PER_SUBSECTION = 1 << (21 - PAGE_SHIFT)


def _subsection_in_zone(mm, zone, pfn: int) -> bool:
    """The test of find_smallest_section_pfn / find_biggest_section_pfn for the subsection
    of ``pfn``: online (pfn_to_online_page), on the zone's node, and page_zone() is
    ``zone``.  The model's zone boundaries are subsection aligned except where RAM ends,
    and the memmap gives a trailing hole the zone before it (memmap_init's
    init_unavailable_range), so the subsection's first page tells its zone."""
    first = pfn & ~(PAGES_PER_SUBSECTION - 1)
    sec = mm.section_of(first)
    if sec is None or not sec.online or zone.nid not in sec.nids:
        return False
    return mm.zone_of_pfn(first) is zone


def _shrink_zone_span(mm, zone, start: int, end: int) -> None:
    """mm/memory_hotplug.c shrink_zone_span: only the ends move, to the nearest subsection
    still online in the zone (find_smallest_section_pfn / find_biggest_section_pfn, which
    step by PAGES_PER_SUBSECTION); an emptied zone gets start 0, span 0.  A boot section
    can hold two zones (DMA32 then Movable with movablecore=), so a whole-section test
    would cut the zone's own pages out of its span."""
    sub = PAGES_PER_SUBSECTION
    pps = mm.pages_per_section
    if zone.zone_start_pfn == start:
        pfn, zend = end, zone.zone_end_pfn
        while pfn < zend:
            if mm.section_of(pfn) is None:              # no memmap: the next section
                pfn = ((pfn // pps) + 1) * pps
                continue
            if _subsection_in_zone(mm, zone, pfn):
                break
            pfn += sub
        if pfn < zend:
            zone.spanned_pages = zend - pfn
            zone.zone_start_pfn = pfn
        else:
            zone.zone_start_pfn = 0
            zone.spanned_pages = 0
    elif zone.zone_end_pfn == end:
        zstart, pfn = zone.zone_start_pfn, start        # pfn: one past the subsection tested
        while pfn > zstart:
            if mm.section_of(pfn - 1) is None:
                pfn = ((pfn - 1) // pps) * pps
                continue
            if _subsection_in_zone(mm, zone, pfn - 1):
                break
            pfn -= sub
        if pfn > zstart:
            zone.spanned_pages = pfn - zstart
        else:
            zone.zone_start_pfn = 0
            zone.spanned_pages = 0


def _update_pgdat_span(mm, nid: int) -> None:
    node = mm.nodes[nid]
    zs = [z for z in node.zones if z.spanned_pages]
    if not zs:
        node.node_start_pfn, node.node_spanned_pages = 0, 0
        return
    s = min(z.zone_start_pfn for z in zs)
    e = max(z.zone_end_pfn for z in zs)
    node.node_start_pfn, node.node_spanned_pages = s, e - s


# --- zonelists (mm/page_alloc.c); the watermark code lives in page_alloc ---------------------------

def build_all_zonelists(mm) -> int:
    """Rebuild the zonelists at runtime and print what the kernel prints; returns Total pages."""
    mm.build_zonelists()
    nids = sorted(mm.nodes)
    for nid in nids:
        order = sorted(nids, key=lambda n: (abs(n - nid) if n != nid else -1, n))
        mm.printk(f"Fallback order for Node {nid}: " + "".join(f"{n} " for n in order))
    total = nr_free_zone_pages(mm, ZONE_MOVABLE)
    prof = mm.profile
    mm.mobility_grouping = total >= prof.pageblock_nr_pages * prof.nr_migratetypes
    mm.printk(f"Built {len(nids)} zonelists, mobility grouping "
              f"{'on' if mm.mobility_grouping else 'off'}.  Total pages: {total}")
    policy = max((z.idx for z in mm.populated_zones() if z.idx <= ZONE_NORMAL), default=ZONE_NORMAL)
    mm.printk(f"Policy zone: {ZONE_NAMES[policy]}")
    mm._ac_cache.clear()
    return total


# --- helpers ---------------------------------------------------------------------------------------

class _Task:
    """Run kernel work as a task with an allocation stack (page_owner records both)."""

    def __init__(self, mm, comm, pid, stack):
        self.mm, self.comm, self.pid, self.stack = mm, comm, pid, stack

    def __enter__(self):
        mm = self.mm
        self.saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
        po = mm.page_owner
        self.marks = (po.records.made, len(po.records.comms)) if po is not None else None
        if self.comm is not None:
            mm.set_task(self.comm, self.pid)
        if self.stack is not None and mm.page_owner is not None:
            mm.current_handle = mm.page_owner.depot.stack_depot_save(self.stack)
        return self

    def __exit__(self, *exc):
        mm = self.mm
        mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = self.saved
        po = mm.page_owner
        if self.marks is not None and po.records.made == self.marks[0]:
            # nothing was recorded: forget the task name registered on entry, so a request
            # that failed (or did nothing) leaves page_owner exactly as it was
            recs = po.records
            for name in recs.comms[self.marks[1]:]:
                recs._comm_ids.pop(name, None)
            del recs.comms[self.marks[1]:]
        return False


def _notify(mm, action: int, start: int, nr: int, nid: int) -> int:
    """memory_notify(): the chain has page_ext's callback when page_ext is in use."""
    pe = mm.page_ext
    if pe is None or not pe.notifier_registered:
        return 0
    return pe.page_ext_callback(action, start, nr, nid)


def _adjust_managed(mm, zone, delta: int) -> None:
    zone.managed_pages += delta
    mm.totalram_pages += delta


def _adjust_present(mm, zone, delta: int) -> None:
    zone.present_pages += delta
    mm.nodes[zone.nid].node_present_pages += delta


def _set_section_zone(mm, start: int, end: int, zone) -> None:
    for nr in range(start >> mm.section_shift, end >> mm.section_shift):
        mm.section_zone[nr] = zone
    mm._ac_cache.clear()


# --- hot-add -----------------------------------------------------------------------------------------



def _alloc(mm, gfp, order: int, nid: int, stack) -> int:
    with _Task(mm, None, None, stack):
        return alloc_pages(mm, mm.gfp(gfp), order, nid)


def add_memory(mm, start_pfn: int, nr_pages: int, nid: int = 0, online: str | None = None,
               comm: str = "kworker/u4:0", pid: int = 40) -> list[int]:
    """Hot-add [start_pfn, start_pfn + nr_pages) on node ``nid``; returns the new block ids.

    ``online``: None = ``memhp_default_state=`` from the command line (default
    "offline"), else "offline"/"online"/"online_kernel"/"online_movable".
    Raises PextlabError (with the kernel's errno name) when the kernel refuses.
    """
    if mm.memory_model != "sparsemem":
        raise PextlabError("memory hotplug needs SPARSEMEM (FLATMEM has no memory sections)")
    if nid not in mm.nodes:
        raise PextlabError(f"node {nid} does not exist (nodes: {sorted(mm.nodes)})")
    bs = mm.memory_block_size
    block_pages = bs >> PAGE_SHIFT
    lay = mm.layout
    if nr_pages <= 0 or start_pfn % block_pages or nr_pages % block_pages:
        msg = (f"Block size [{bs:#x}] unaligned hotplug range: start {start_pfn << PAGE_SHIFT:#x}, "
               f"size {nr_pages << PAGE_SHIFT:#x}")
        mm.printk(msg)
        raise PextlabError(f"EINVAL: {msg}")
    end_pfn = start_pfn + nr_pages
    if not (lay.hotplug_base_pfn <= start_pfn and end_pfn <= lay.hotplug_end_pfn):
        raise PextlabError(
            f"EINVAL: [mem {start_pfn << PAGE_SHIFT:#x}-{(end_pfn << PAGE_SHIFT) - 1:#x}] is outside "
            f"the hotpluggable window [{lay.hotplug_base_pfn << PAGE_SHIFT:#x}-"
            f"{lay.hotplug_end_pfn << PAGE_SHIFT:#x}) (boot with maxmem=)")
    first, last = start_pfn >> mm.section_shift, end_pfn >> mm.section_shift
    if any(mm.sections[nr] is not None and mm.sections[nr].present for nr in range(first, last)):
        raise PextlabError(f"EEXIST: System RAM resource [mem {start_pfn << PAGE_SHIFT:#x}-"
                           f"{(end_pfn << PAGE_SHIFT) - 1:#x}] cannot be added (already present)")
    prof = mm.profile
    pps = mm.pages_per_section
    nb = pps >> prof.pageblock_order
    dev_pages = []     # (pfn, order) the device's kernel structures took
    with _Task(mm, comm, pid, None):
        # arch_add_memory -> init_memory_mapping: a page-table page per GiB of direct map
        gib = (1 << 30) >> PAGE_SHIFT
        for g in range(start_pfn // gib, (end_pfn + gib - 1) // gib):
            p = _alloc(mm, "GFP_ATOMIC|__GFP_ZERO", 0, nid, PAGETABLE_STACK)
            if p < 0:
                _undo_pages(mm, dev_pages)
                raise PextlabError("ENOMEM: arch_add_memory: no page for the direct map")
            dev_pages.append((p, 0))
        # sparse_add_section: 2 MiB of vmemmap per section (64-byte struct page)
        vm_order = max(0, ((pps * 64) >> PAGE_SHIFT).bit_length() - 1)
        for nr in range(first, last):
            p = _alloc(mm, mm.gfp("GFP_KERNEL|__GFP_NOWARN") | retry_mayfail_flag(prof), vm_order,
                       nid, VMEMMAP_STACK)
            if p < 0:
                _undo_pages(mm, dev_pages)
                raise PextlabError("ENOMEM: sparse_add_section: no memory for the memmap "
                                   f"(vmemmap) of section {nr}")
            dev_pages.append((p, vm_order))
        # create_memory_block_devices / acpi_bind_one: sysfs nodes (one slab page, as in the run)
        p = _alloc(mm, "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP", 0, nid,
                   SYSFS_SLAB_STACK)
        if p >= 0:
            dev_pages.append((p, 0))
    mov = prof.mt_movable
    for nr in range(first, last):
        sec = MemSection(nr, pps, nb, nid)
        sec.pageblock_mt[:] = bytes([mov]) * nb
        sec.flags[:] = bytes([PG_RESERVED]) * pps     # memmap exists, pages offline
        sec.present = True
        sec.online = False
        sec.early = False
        sec.nr_present_pages = pps
        mm.sections[nr] = sec
        mm.section_zone[nr] = None
    mm.memblock.add(nid, start_pfn, end_pfn)
    devs = _devices(mm)
    dev_id = f"dimm{len(devs)}" if f"dimm{len(devs)}" not in devs else f"dimm{start_pfn:#x}"
    blocks = list(range(start_pfn // block_pages, end_pfn // block_pages))
    devs[dev_id] = {"start_pfn": start_pfn, "nr_pages": nr_pages, "nid": nid, "blocks": blocks,
                    "pages": dev_pages}
    for b in blocks:
        mm.hotplug_blocks[b] = {"state": "offline", "zone": None, "nid": nid, "nids": (nid,),
                                "device": dev_id}
    mm.advance(1_000_000)
    how = online if online is not None else mm.params.memhp_default_state
    if how != "offline":
        for b in blocks:
            online_pages(mm, b, online_type_from_str(how))
    return blocks


def _undo_pages(mm, pages) -> None:
    for p, o in pages:
        free_pages(mm, p, o)


# --- online ------------------------------------------------------------------------------------------

def online_pages(mm, block: int, online_type: int = MMOP_ONLINE, comm: str = "sh",
                 pid: int = 700) -> HotplugResult:
    """``echo online|online_kernel|online_movable > /sys/devices/system/memory/memoryN/state``."""
    if isinstance(online_type, str):
        online_type = online_type_from_str(online_type)
    rec = memory_block(mm, block)
    start, end = block_pfn_range(mm, block)
    res = HotplugResult(False, block=block, start_pfn=start, end_pfn=end)
    if online_type == MMOP_OFFLINE:
        raise PextlabError("online_pages: use offline_pages to offline a block")
    if rec["state"] == "online":
        res.error, res.reason = "EINVAL", "already online"
        return res
    secs = _block_sections(mm, block)
    if len(secs) != _spb(mm) or any(
            (s.flags_np() & PG_HOLE).any() for s in secs):
        # hot-added memory has no holes; boot blocks with holes are never offline
        res.error, res.reason = "EINVAL", "memory holes"
        return res
    nid = rec["nid"]
    nr = end - start
    zone = zone_for_pfn_range(mm, online_type, nid, start, nr)
    node = mm.nodes[nid]
    saved = (zone.zone_start_pfn, zone.spanned_pages, node.node_start_pfn, node.node_spanned_pages)
    with _Task(mm, comm, pid, PAGE_EXT_ONLINE_STACK):
        # move_pfn_range_to_zone
        _resize_zone_range(zone, start, nr)
        if not node.node_spanned_pages or start < node.node_start_pfn:
            old_end = node.node_end_pfn if node.node_spanned_pages else start
            node.node_start_pfn = start
        else:
            old_end = node.node_end_pfn
        node.node_spanned_pages = max(end, old_end) - node.node_start_pfn
        _set_section_zone(mm, start, end, zone)
        ret = _notify(mm, MEM_GOING_ONLINE, start, nr, nid)
        if ret:
            res.messages.append(f"online_pages [mem {start << PAGE_SHIFT:#010x}-"
                                f"{(end << PAGE_SHIFT) - 1:#010x}] failed")
            _notify(mm, MEM_CANCEL_ONLINE, start, nr, nid)
            # remove_pfn_range_from_zone: the span goes back
            (zone.zone_start_pfn, zone.spanned_pages,
             node.node_start_pfn, node.node_spanned_pages) = saved
            _set_section_zone(mm, start, end, None)
            res.error, res.reason = "ENOMEM", "notifier failure"
            return res
        need_rebuild = not zone.populated()
        _online_pages_range(mm, zone, secs)
        _adjust_present(mm, zone, nr)
        if need_rebuild:
            build_all_zonelists(mm)
        init_per_zone_wmark_min(mm)
        _notify(mm, MEM_ONLINE, start, nr, nid)
    rec["state"], rec["zone"] = "online", zone
    res.ok, res.zone = True, zone.name
    mm.advance(1_000_000)
    return res


def _online_pages_range(mm, zone, secs) -> None:
    """online_pages_range + generic_online_page: MAX_ORDER chunks freed with FPI_TO_TAIL
    (so existing free blocks stay ahead of them on the lists), pageblocks MOVABLE."""
    prof = mm.profile
    mov = prof.mt_movable
    order = min(prof.max_page_order, mm.section_shift)
    pps = mm.pages_per_section
    step = 1 << order
    heads = []
    for sec in secs:
        fl = sec.flags_np()
        od = sec.order_np()
        fl[:] = 0
        od[:] = 0
        fl[::step] = PG_BUDDY | (mov << MT_SHIFT)
        od[::step] = order
        sec.pageblock_mt[:] = bytes([mov]) * len(sec.pageblock_mt)
        sec.online = True
        heads.extend(range(sec.start_pfn, sec.start_pfn + pps, step))
    d = zone.free_area[order][mov]
    nd = dict.fromkeys(reversed(heads))       # tail end of the list: highest pfn last out
    nd.update(d)
    zone.free_area[order][mov] = nd
    n = len(heads)
    zone.nr_free[order] += n
    zone.free_pages += n << order
    zone.free_mt[mov] += n << order
    _adjust_managed(mm, zone, n << order)


# --- offline -----------------------------------------------------------------------------------------

def offline_pages(mm, block: int, comm: str = "sh", pid: int = 700,
                  max_passes: int = 3) -> HotplugResult:
    """``echo offline > /sys/devices/system/memory/memoryN/state``.

    Returns a HotplugResult.  mm/memory_hotplug.c offline_pages: isolate the range,
    then repeat {migrate every movable page (scan_movable_pages, do_migrate_range)
    until none is left; dissolve the free hugetlb pages
    (dissolve_free_hugetlb_folios); test_pages_isolated} until the range is free,
    then take it out of the buddy allocator.  ``max_passes``: the kernel repeats
    migration until it succeeds or a signal arrives; the simulator gives up after
    this many passes without progress ("signal backoff", EINTR, as when the user
    interrupts the write).

    What a failure leaves behind, as in the kernel (failed_removal_isolated:
    undo_isolate_page_range, MEM_CANCEL_OFFLINE):

    * EINVAL (already offline, spans zones, holes) and EBUSY (an unmovable page,
      a notifier veto): nothing has changed.  (The kernel may have isolated and
      un-isolated some pageblocks, turning them MIGRATE_MOVABLE; the model checks
      the whole range first, see :mod:`pextlab.kernel.page_isolation`.)
    * EINTR ("signal backoff"): the block stays online and its pageblocks get
      their types back, but the pages migrated before the failure stay where they
      went (``migrated`` counts them) -- their sources are freed inside the block,
      their page_owner records moved with them, and ``mm.migrate_notifiers`` were
      told of every move -- and
      hugetlb pages dissolved before the failure are gone from the pool (the
      kernel's comment on dissolve_free_hugetlb_folios: "all free hugetlb folios
      that were dissolved before that error are lost").
    """
    rec = memory_block(mm, block)
    start, end = block_pfn_range(mm, block)
    nr = end - start
    res = HotplugResult(False, block=block, start_pfn=start, end_pfn=end)
    rng = f"[mem {start << PAGE_SHIFT:#010x}-{(end << PAGE_SHIFT) - 1:#010x}]"
    if rec["state"] != "online":
        res.error, res.reason = "EINVAL", "already offline"
        return res
    zone = rec["zone"]
    if zone is None:
        # drivers/base/memory.c memory_block_offline: !mem->zone -> -EINVAL, nothing printed
        res.error = "EINVAL"
        res.messages.append("memory block spans multiple zones (valid_zones: none); "
                            "memory_block_offline() refuses it")
        return res
    res.zone = zone.name

    def fail(err, reason, blocking=()):
        res.error, res.reason = err, reason
        res.blocking = [int(p) for p in blocking]
        res.messages.append(f"memory offlining {rng} failed due to {reason}")
        return res

    secs = _block_sections(mm, block)
    holes = len(secs) != _spb(mm) or any((s.flags_np() & PG_HOLE).any() for s in secs)
    if holes:
        return fail("EINVAL", "memory holes")
    zs, ze = mm.zone_of_pfn(start), mm.zone_of_pfn(end - 1)
    if zs is not zone or ze is not zone:
        return fail("EINVAL", "multizone range")
    nid = rec["nid"]
    with _Task(mm, comm, pid, migrate.MIGRATE_TARGET_STACK):
        # zone_pcp_disable: the per-cpu lists are drained before isolation (pages freed
        # into isolated pageblocks later bypass them)
        if zone.pcp is not None:
            drain_zone_pages(mm, zone)
        saved, bad = page_isolation.start_isolate_page_range(mm, zone, start, end)
        if saved is None:
            dump_page(mm, bad, "unmovable page")
            blocking = page_isolation.unmovable_pages(mm, zone, start, end)
            return fail("EBUSY", "failure to isolate range", _blocking_heads(mm, blocking))
        ret = _notify(mm, MEM_GOING_OFFLINE, start, nr, nid)
        if ret:
            page_isolation.undo_isolate_page_range(mm, zone, start, end, saved)
            _notify(mm, MEM_CANCEL_OFFLINE, start, nr, nid)
            return fail("EBUSY", "notifier failure")
        all_moved, counted, failed, passes = [], 0, [], 0
        done: set[int] = set()     # migrated sources not freed yet (still look allocated)
        while True:
            sources = [s for s in _movable_heads(mm, start, end) if s[0] not in done]
            if not sources:
                break
            moved, failed, c = migrate.migrate_pages(mm, sources, "memory_hotplug", nid, zone.idx)
            migrate.notify_moved(mm, moved, "memory_hotplug")
            res.migrated += sum(1 << o for _, _, o in moved)
            all_moved += moved
            counted += c
            done.update(o for o, _, _ in moved)
            if failed:
                for pfn, _ in failed[:10]:      # ratelimited like do_migrate_range's warning
                    mm.printk(f"migrating pfn {pfn:x} failed ret:{len(failed)}")
                    dump_page(mm, pfn, "migration failure")
            if not moved:
                passes += 1
                if passes >= max_passes:
                    break
            # free what has moved so the next pass (and the isolation test) sees it free
            if failed:
                migrate.free_sources(mm, all_moved)
                all_moved, counted = [], 0
                done.clear()
        if not failed:
            # the movable pages are gone: the free huge pages of the range leave the pool
            hugetlb.dissolve_free_hugetlb_folios(mm, start, end)
        busy = _busy_after_migration(mm, start, end, all_moved)
        if failed or busy >= 0:
            if all_moved:
                migrate.free_sources(mm, all_moved)
            page_isolation.undo_isolate_page_range(mm, zone, start, end, saved)
            _notify(mm, MEM_CANCEL_OFFLINE, start, nr, nid)
            blocking = [p for p, _ in failed] or [busy]
            return fail("EINTR", "signal backoff", blocking)
        migrate.drop_sources(mm, all_moved, counted)
        managed = _offline_isolated_pages(mm, zone, start, end, secs)
        res.messages.append(f"Offlined Pages {nr}")
        _adjust_managed(mm, zone, -managed)
        _adjust_present(mm, zone, -nr)
        init_per_zone_wmark_min(mm)
        if not zone.populated():
            build_all_zonelists(mm)
        _notify(mm, MEM_OFFLINE, start, nr, nid)
        # remove_pfn_range_from_zone
        _set_section_zone(mm, start, end, None)
        _shrink_zone_span(mm, zone, start, end)
        _update_pgdat_span(mm, nid)
        mm.build_zonelists()
    rec["state"], rec["zone"] = "offline", None
    res.ok = True
    mm.advance(1_000_000)
    return res


def _blocking_heads(mm, pfns: np.ndarray) -> list[int]:
    return [int(p) for p in pfns]


def _movable_heads(mm, start: int, end: int) -> list[tuple[int, int]]:
    """scan_movable_pages: allocated movable (LRU) heads of the range, ascending; free
    hugetlb pages are not migratable (folio_test_hugetlb_migratable) and are left out."""
    mov = mm.profile.mt_movable
    pool = mm.hugetlb
    out = []
    for sec, lo, hi in page_isolation.section_slices(mm, start, end):
        f = sec.flags_np()[lo:hi]
        idx = np.flatnonzero(((f & PG_HEAD) != 0) & (((f & MT_MASK) >> MT_SHIFT) == mov))
        if len(idx):
            od = sec.order_np()[lo:hi]
            out.extend((p, o) for p, o in zip((sec.start_pfn + lo + idx).tolist(), od[idx].tolist())
                       if o != pool.order or p not in pool)
    return out


def _busy_after_migration(mm, start: int, end: int, moved) -> int:
    """test_pages_isolated, counting the migrated sources as freed: first busy pfn or -1."""
    if not moved:
        p = page_isolation.test_pages_isolated(mm, start, end)
        return p if p else -1
    by_sec: dict[int, list] = {}
    for old, _, order in moved:
        by_sec.setdefault(old >> mm.section_shift, []).append((old & mm.section_mask, order))
    for sec, lo, hi in page_isolation.section_slices(mm, start, end):
        free = covered_by_free(sec.flags_np(), sec.order_np())
        src = by_sec.get(sec.nr)
        if src:
            arr = np.array(src, dtype=np.int64)
            cover = np.zeros(len(free) + 1, dtype=np.int32)
            np.add.at(cover, arr[:, 0], 1)
            np.add.at(cover, arr[:, 0] + (np.int64(1) << arr[:, 1]), -1)
            free |= np.cumsum(cover[:-1]) > 0
        f = free[lo:hi]
        if not f.all():
            return sec.start_pfn + lo + int(np.flatnonzero(~f)[0])
    return -1


def _offline_isolated_pages(mm, zone, start: int, end: int, secs) -> int:
    """__offline_isolated_pages: sections offline, every free block off the isolate lists
    (migrated sources leave with the range); the memmap stays, pages PG_reserved."""
    for pfn, order, mt in page_isolation.free_heads(mm, start, end):
        del_page_from_free_list(mm, zone, pfn, order, mt)
    for sec in secs:
        sec.flags[:] = bytes([PG_RESERVED]) * len(sec.flags)
        sec.order[:] = bytes(len(sec.order))
        sec.online = False
    return end - start


# --- remove ------------------------------------------------------------------------------------------

def _device_of(mm, dev) -> tuple[str, dict]:
    devs = _devices(mm)
    if isinstance(dev, str):
        if dev not in devs:
            raise PextlabError(f"no hot-added memory device {dev!r} (devices: {sorted(devs)})")
        return dev, devs[dev]
    for k, d in devs.items():
        if dev in d["blocks"]:
            return k, d
    raise PextlabError(f"memory{dev} is not part of a hot-added memory device (boot memory "
                       f"cannot be removed); devices: {sorted(devs)}")


def remove_memory(mm, dev) -> HotplugResult:
    """mm/memory_hotplug.c remove_memory for a hot-added device (id or one of its blocks):
    EBUSY (with the kernel's warning) unless every block is offline; then the memory
    block devices, memmap (vmemmap pages freed), page tables and the sections go."""
    key, d = _device_of(mm, dev)
    res = HotplugResult(False, start_pfn=d["start_pfn"], end_pfn=d["start_pfn"] + d["nr_pages"])
    bpages = mm.memory_block_size >> PAGE_SHIFT
    for b in d["blocks"]:
        if mm.hotplug_blocks[b]["state"] == "online":
            s = b * bpages << PAGE_SHIFT
            mm.printk(f"removing memory fails, because memory [{s:#018x}-"
                      f"{s + mm.memory_block_size - 1:#018x}] is onlined")
            res.error, res.reason, res.block = "EBUSY", "memory block still online", b
            return res
    _undo_pages(mm, d["pages"])
    first = d["start_pfn"] >> mm.section_shift
    last = (d["start_pfn"] + d["nr_pages"]) >> mm.section_shift
    for nr in range(first, last):
        mm.sections[nr] = None
        mm.section_zone[nr] = None
    for b in d["blocks"]:
        del mm.hotplug_blocks[b]
    mm.memblock.memory = [r for r in mm.memblock.memory
                          if not (r[1] == d["start_pfn"] and r[2] == d["start_pfn"] + d["nr_pages"])]
    del _devices(mm)[key]
    mm._ac_cache.clear()
    res.ok = True
    return res


def eject_memory_device(mm, dev, comm: str = "kworker/u4:1", pid: int = 60) -> HotplugResult:
    """ACPI eject of a pc-dimm (qemu ``device_del``): drivers/acpi/scan.c
    acpi_scan_try_to_offline offlines every online block (a first pass and, when one
    fails, a second), warns "memory memoryN: Offline failed." and re-onlines what it
    offlined if a block stays busy; otherwise the memory is removed."""
    key, d = _device_of(mm, dev)
    offlined = []
    failed_block, last = None, None
    for second_pass in (False, True):
        failed_block = None
        for b in d["blocks"]:
            if mm.hotplug_blocks[b]["state"] != "online":
                continue
            zone_name = mm.hotplug_blocks[b]["zone"].name if mm.hotplug_blocks[b]["zone"] else None
            r = offline_pages(mm, b, comm=comm, pid=pid)
            last = r
            if r.ok:
                offlined.append((b, zone_name))
            else:
                failed_block = b
                if second_pass:
                    break
        if failed_block is None:
            break
    if failed_block is not None:
        mm.printk(f"memory memory{failed_block}: Offline failed.")
        for b, zname in offlined:                      # acpi_bus_online: put them back
            how = MMOP_ONLINE_MOVABLE if zname == "Movable" else MMOP_ONLINE_KERNEL
            online_pages(mm, b, how, comm=comm, pid=pid)
        res = HotplugResult(False, "EBUSY", last.reason if last is not None else None,
                            last.blocking if last is not None else [], block=failed_block,
                            start_pfn=d["start_pfn"], end_pfn=d["start_pfn"] + d["nr_pages"])
        return res
    return remove_memory(mm, key)
