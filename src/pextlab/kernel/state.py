"""The simulated kernel's state: one object (``MM``) the mechanisms operate on.

``MM`` holds what the kernel keeps in globals: the memory sections
(``mem_section[]``), the nodes (``NODE_DATA``) and their zones, the zonelists,
memblock's reservations, the page_ext core, the clients, counters, the log and
the clock.  Mechanism modules (``page_alloc``, ``page_ext``, ``page_owner``,
``memory_hotplug``) are functions over it, like their kernel files.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np

from .gfp import ZONE_NAMES
from .mmzone import MemSection, PglistData, PG_HOLE
from .profiles import KernelProfile, PAGE_SHIFT

# compiled: kernel/_geometry.pyx and kernel/_state.pyx (the pextlab package checks that
# they are built)
from ._geometry import Geometry
from ._state import AllocContextCache, MMCore

__all__ = ["MM", "Memblock"]


class Memblock:
    """memblock: boot-time RAM and reservations (mm/memblock.c), top-down allocation.

    ``reserved`` keeps every reservation as made, in order, with its label.  Queries
    go through a sorted index of their union (disjoint, adjacent ones merged, as
    mm/memblock.c memblock_merge_regions keeps ``memblock.reserved``), kept up to date
    by ``reserve`` and rebuilt after ``reserved`` is replaced: a boot that reserves a
    memmap for each of thousands of sections stays linear.
    """

    def __init__(self):
        self.memory: list[tuple[int, int, int]] = []      # (nid, start_pfn, end_pfn)
        self._reserved: list[tuple[int, int, str]] = []   # (start_pfn, end_pfn, label)
        self._union: tuple[list[int], list[int]] | None = ([], [])   # merged (starts, ends)

    @property
    def reserved(self) -> list[tuple[int, int, str]]:
        """Every reservation (start_pfn, end_pfn, label), in the order made."""
        return self._reserved

    @reserved.setter
    def reserved(self, value) -> None:
        self._reserved = list(value)
        self._union = None

    def _index(self) -> tuple[list[int], list[int]]:
        if self._union is None:
            starts: list[int] = []
            ends: list[int] = []
            for s, e, _ in sorted(self._reserved):
                if e <= s:
                    continue
                if ends and s <= ends[-1]:
                    ends[-1] = max(ends[-1], e)
                else:
                    starts.append(s)
                    ends.append(e)
            self._union = (starts, ends)
        return self._union

    def add(self, nid: int, start: int, end: int) -> None:
        self.memory.append((nid, start, end))
        self.memory.sort(key=lambda r: r[1])

    def reserve(self, start: int, end: int, label: str) -> None:
        if end > start:
            self._reserved.append((start, end, label))
            if self._union is not None:
                starts, ends = self._union
                i = bisect_left(ends, start)        # first with end >= start: touches or overlaps
                j = bisect_right(starts, end)       # those with start <= end come before j
                if i < j:
                    start, end = min(start, starts[i]), max(end, ends[j - 1])
                starts[i:j] = [start]
                ends[i:j] = [end]

    def is_reserved_range(self, start: int, end: int) -> bool:
        return any(s < end and start < e for s, e, _ in self._reserved)

    def _gaps_desc(self, start: int, end: int):
        """Unreserved sub-ranges of [start, end), highest first, one at a time."""
        if start >= end:
            return
        starts, ends = self._index()
        i = bisect_left(starts, end) - 1            # the highest starting below end
        cur = end
        while i >= 0 and ends[i] > start and cur > start:
            if ends[i] < cur:
                yield ends[i], cur
            cur = starts[i]
            i -= 1
        if cur > start:
            yield start, cur

    def free_ranges(self, start: int, end: int) -> list[tuple[int, int]]:
        """Unreserved sub-ranges of [start, end), highest first (for_each_free_mem_range
        walked in reverse)."""
        return list(self._gaps_desc(start, end))

    def alloc(self, nr_pages: int, label: str, nid: int | None = None, align: int = 1,
              limit_pfn: int | None = None) -> int:
        """memblock_alloc_try_nid: top-down, on ``nid`` if it has room, else anywhere.

        Returns the first pfn, or -1 if nothing fits.
        """
        for want_nid in ([nid] if nid is not None else []) + [None]:
            for rnid, rs, re_ in sorted(self.memory, key=lambda r: -r[2]):
                if want_nid is not None and rnid != want_nid:
                    continue
                hi = re_ if limit_pfn is None else min(re_, limit_pfn)
                for gs, ge in self._gaps_desc(rs, hi):
                    start = ((ge - nr_pages) // align) * align
                    if start >= gs:
                        self.reserve(start, start + nr_pages, label)
                        return start
        return -1

    def alloc_range(self, nr_pages: int, label: str, start: int, end: int, nid: int | None = None,
                    align: int = 1, bottom_up: bool = False) -> int:
        """memblock_alloc_range_nid with exact_nid: ``nr_pages`` aligned to ``align`` in
        [start, end) on node ``nid`` (None: any), top-down or bottom-up.  Returns the
        first pfn, or -1 if nothing fits."""
        ranges = sorted((max(rs, start), min(re_, end)) for rnid, rs, re_ in self.memory
                        if (nid is None or rnid == nid) and rs < end and start < re_)
        gaps = [g for rs, re_ in ranges for g in self.free_ranges(rs, re_)]
        gaps.sort(reverse=not bottom_up)
        for gs, ge in gaps:
            if bottom_up:
                s = -(-gs // align) * align
                if s + nr_pages <= ge:
                    self.reserve(s, s + nr_pages, label)
                    return s
            else:
                s = ((ge - nr_pages) // align) * align
                if s >= gs:
                    self.reserve(s, s + nr_pages, label)
                    return s
        return -1


class MM(MMCore):
    """The whole simulated kernel state of one machine.

    The fields the compiled core reads on every allocation and free (the clock, the
    task, the hooks, the counters: ``kernel/_state.pyx``) are C fields of its base
    class ``MMCore``; the others are ordinary attributes.  Both are set and read by
    name alike."""

    def __init__(self, profile: KernelProfile, layout, params, memory_model: str):
        self.profile = profile
        self.layout = layout
        self.params = params
        self.memory_model = memory_model
        self.nr_orders = profile.nr_orders
        self.pageblock_order = profile.pageblock_order
        self.mt_cma = profile.mt_cma
        self.section_shift = profile.section_size_bits - PAGE_SHIFT
        self.section_mask = (1 << self.section_shift) - 1
        self.pages_per_section = 1 << self.section_shift
        top = layout.max_pfn
        if layout.hotplug_end_pfn:
            top = max(top, layout.hotplug_end_pfn)
        self.nr_sections = (top + self.section_mask) >> self.section_shift
        self.max_section_pfn = self.nr_sections << self.section_shift
        self.sections: list[MemSection | None] = [None] * self.nr_sections
        self.section_zone: list = [None] * self.nr_sections   # zone if the section is in one zone
        self.nodes: dict[int, PglistData] = {}
        self.geometry = Geometry(self)        # the above, as C fields for the compiled core
        self.zonelists: dict[int, tuple] = {}
        self.memblock = Memblock()
        self.mobility_grouping = True
        self.movable_zone_used = False
        self.guard_minorder = 0               # 0 = guard pages off
        self.nr_guard_pages = 0
        self.current_nid = 0
        self.clock_ns = 0
        self.comm, self.pid, self.tgid = "swapper/0", 0, 0
        self.comm_id = 0
        self.current_handle = 0
        # hooks set by page_ext clients (page_owner, page_poison, v3.19 guard bit)
        self.alloc_hook = None
        self.free_hook = None
        # (the alloc_hook it stands for, fn(runs, gfp), reserve(nr)): order-0 allocations
        # in a row, runs [(pfn, n)]; reserve(nr) makes room for nr of them in the
        # client's storage ahead of a bulk allocation (no effect on results)
        self.alloc_run_hook = None
        # (the free_hook it stands for, fn(pfns)): order-0 frees of an array of pfns
        self.free_run_hook = None
        self.split_hook = None
        self.page_ext_guard_hook = None
        self.page_ext = None                  # pextlab.kernel.page_ext.PageExt
        self.page_owner = None                # pextlab.kernel.page_owner.PageOwner when enabled
        self.poison = None                    # pextlab.kernel.page_poison.PagePoison (page_poison=on)
        self.vm_events: dict[str, int] = {}
        self.nr_alloc_events = 0
        self.nr_free_events = 0
        self.min_free_kbytes = 0
        self.totalram_pages = 0
        self.dmesg_lines: list[str] = []
        # prepare_alloc_pages' results per (gfp, nid); cleared by whatever they depend on
        self._ac_cache = AllocContextCache()
        self._gfp_cache: dict = {}            # flag string -> mask (MMCore.gfp)
        self.cma_areas: list = []             # pextlab.kernel.cma.CMA, in declaration order
        self.cma_log: list = []               # one dict per cma_alloc request (kernel.cma)
        self.swiotlb = -1
        self.hotplug_blocks: dict = {}
        self.hotplug_devices: dict = {}       # memory_hotplug: DIMM id -> range, node, blocks
        # the allocator's fallback policy (pextlab.kernel.policy), installed at boot
        self.policy = None
        self.boot_mobility_grouping: bool | None = None   # what the command line asked for
        self.pcp_enabled = False              # per-cpu page lists (boot option pextlab.pcp=on)
        # set by boot_kernel: pextlab.kernel.hugetlb.HugetlbPool, .compaction.CompactionState
        self.hugetlb = None
        self.compaction = None
        # watermark boosting (mm/page_alloc.c boost_watermark): zone -> [watermark dict, base, boost]
        self.wm_boost: dict = {}
        self.boosted_zones: set = set()
        self.watermark_boost_factor = 15000   # vm.watermark_boost_factor
        # callables fn(moved, reason) told of every migration: [(old_pfn, new_pfn, order)]
        self.migrate_notifiers: list = []
        # vmscan: per node, the reclaimable blocks oldest first, pfn -> (order, holder)
        # (a kernel._vmscan.LruList); the holder (whoever allocated the block) gets
        # holder.reclaimed(pfn, order)
        self.lru: dict[int, object] = {}
        # oom_kill: the tasks the OOM killer may choose, pid -> object with comm,
        # rss_pages() and oom_kill() (frees the task's blocks, returns the pages freed)
        self.oom_tasks: dict = {}
        # ftrace: the trace instance (pextlab.kernel.ring_buffer.Tracer) once tracing is
        # set up (trace_event= at boot, or later); None keeps every tracepoint one test
        self.trace = None

    def __setstate__(self, state: dict) -> None:
        """A copy of the state (a snapshot, ``copy.deepcopy``): hooks that are closures
        belong to the original's client, so the copy's page_owner installs its own
        (bound methods are copied with their objects)."""
        for name, value in state.items():
            setattr(self, name, value)
        if self.page_owner is not None:
            self.page_owner.install_hooks()

    # --- log and clock ---------------------------------------------------------------------
    def printk(self, text: str) -> None:
        t = self.clock_ns / 1e9
        self.dmesg_lines.append(f"[{t:12.6f}] {text}")

    def set_task(self, comm: str, pid: int, tgid: int | None = None, handle: int | None = None):
        """Make (comm, pid, tgid) the current task; page_owner records it on allocations."""
        self.comm, self.pid, self.tgid = comm, pid, pid if tgid is None else tgid
        if self.page_owner is not None:
            self.comm_id = self.page_owner.records.comm_id(comm)
        if handle is not None:
            self.current_handle = handle

    def advance(self, ns: int) -> None:
        self.clock_ns += int(ns)

    # --- lookups ---------------------------------------------------------------------------
    def section_of(self, pfn: int):
        if pfn < 0 or pfn >= self.max_section_pfn:
            return None
        return self.sections[pfn >> self.section_shift]

    def pfn_valid(self, pfn: int) -> bool:
        sec = self.section_of(pfn)
        return sec is not None and sec.present

    def zone_of_pfn(self, pfn: int):
        """page_zone(): the section's zone, else the zone of the section's nodes whose
        span holds ``pfn`` (a section shared by zones or by nodes); None outside the
        memory map or any zone.  Compiled: ``Geometry.zone_of_pfn`` (kernel/_geometry.pyx)."""
        return self.geometry.zone_of_pfn(pfn)

    def pfn_to_nid(self, pfn: int) -> int:
        """page_to_nid(): the section's node, or for a section holding memory of several
        nodes the node whose zone spans ``pfn``; -1 outside the memory map.  Compiled:
        ``Geometry.pfn_to_nid`` (kernel/_geometry.pyx)."""
        return self.geometry.pfn_to_nid(pfn)

    def all_zones(self):
        for nid in sorted(self.nodes):
            yield from self.nodes[nid].zones

    def populated_zones(self):
        return [z for z in self.all_zones() if z.present_pages]

    def rebuild_section_zones(self) -> None:
        for nr, sec in enumerate(self.sections):
            self.section_zone[nr] = None
            if sec is None:
                continue
            ram = np.flatnonzero((sec.flags_np() & PG_HOLE) == 0)
            if not len(ram):
                continue
            s, e = sec.start_pfn + int(ram[0]), sec.start_pfn + int(ram[-1]) + 1
            hits = [z for nid in sec.nids for z in self.nodes[nid].zones
                    if z.spanned_pages and z.zone_start_pfn < e and s < z.zone_end_pfn]
            if len(hits) == 1 and hits[0].zone_start_pfn <= s and e <= hits[0].zone_end_pfn:
                self.section_zone[nr] = hits[0]
        self._ac_cache.clear()

    def build_zonelists(self) -> None:
        """mm/page_alloc.c build_zonelists: local node first, then by node distance
        (here: ascending distance = |a - b|, ties by id), zones highest first."""
        nids = sorted(self.nodes)
        for nid in nids:
            order = sorted(nids, key=lambda n: (abs(n - nid) if n != nid else -1, n))
            zl = []
            for n in order:
                zl.extend(z for z in reversed(self.nodes[n].zones) if z.managed_pages or z.free_pages)
            self.zonelists[nid] = tuple(zl)
        self._ac_cache.clear()

    def zone(self, nid: int, name: str):
        for z in self.nodes[nid].zones:
            if z.name == name:
                return z
        raise KeyError(f"node {nid} has no zone {name!r}; zones: {ZONE_NAMES}")
