"""``pextlab.boot`` and the :class:`Machine` it returns: the simulated machine a user drives.

A Machine holds the pure kernel state (``mm``, :mod:`pextlab.kernel`) and the
user-side records of one simulated history -- the workload session, the
fragmentation samples, the snapshots -- and forwards each verb in one line to
the module that models that interface:

========================  =====================================================
verbs                     module
========================  =====================================================
alloc_pages, free_pages   :mod:`pextlab.kernel.page_alloc`
df_* of kernel state      :mod:`pextlab.frames.sim` (same schemas as a Capture)
proc, debugfs             :mod:`pextlab.procfs` writers
run, df_events, ...       :mod:`pextlab.workloads` (:class:`WorkloadSession`)
hot_add, online, ...      :mod:`pextlab.hotplug`
cma_alloc, cma_release    :mod:`pextlab.cma`
sysctl, compact_memory,   :mod:`pextlab.vm`
nr_hugepages, probes,
fragmentation samples
snapshot, snapshots       :mod:`pextlab.snapshot`
========================  =====================================================

>>> m = boot(mem="1G", cmdline="page_owner=on")
>>> "allocated 18874368 bytes of page_ext" in m.dmesg
True
>>> pfn = m.alloc_pages(2, "GFP_KERNEL")
>>> m.df_page_owner().query("pfn == @pfn")["order"].tolist()
[2]
"""
from __future__ import annotations

import pandas as pd

from . import capture_writer, cma, hotplug, tracing, vm
from .errors import PextlabError
from .frames import cma as cma_frames
from .frames import sim as frames
from .frames.pageblock_map import df_pageblock_map
from .kernel import fastpath, page_alloc, vmalloc
from .kernel.boot import boot_kernel
from .kernel.fastpath import alloc_pages_fast
from .kernel.layout import Layout, layout_from_spec
from .kernel.pcp import drain_all_pages
from .kernel.policy import set_policy
from .kernel.profiles import get_profile
from .procfs import writers
from .procfs.page_owner import format_page_owner
from .procfs.stacks import format_show_stacks
from .schema import SCHEMAS, FRAMES
from .snapshot import Snapshot
from .workloads import Fragger, WorkloadSession

__all__ = ["Machine", "boot", "ReplayInfo"]


class ReplayInfo:
    """How :func:`pextlab.replay` placed a capture's dump (``Machine.replay``).

    report : DataFrame     -- replayed vs captured /proc figures (``compare_with_capture``)
    conflicts : list       -- dump blocks that could not be placed
    unreserved : int       -- pages the simulator had reserved that the dump allocates
    """

    def __init__(self, report: pd.DataFrame, conflicts: list, unreserved: int):
        self.report = report
        self.conflicts = conflicts
        self.unreserved = unreserved


class Machine:
    """A booted simulated machine.

    Attributes
    ----------
    mm : pextlab.kernel.state.MM
        The kernel state (numpy + stdlib only).
    profile, layout, cmdline, seed, spec
        What it was booted with.
    workloads : WorkloadSession
        The run log and random generator of every ``run``.
    fragmentation : pextlab.vm.FragmentationHistory
        The samples of :meth:`sample_fragmentation`.
    snapshots : dict
        Name -> :class:`~pextlab.snapshot.Snapshot`, in the order taken.
    fragger_run : FraggerRun or None
        The last self-running workload's run object.
    replay : ReplayInfo or None
        Set by :func:`pextlab.replay`.
    """

    def __init__(self, mm, seed: int = 0, spec: dict | None = None):
        self.mm = mm
        self.profile = mm.profile
        self.layout = mm.layout
        self.cmdline = mm.params.cmdline
        self.seed = seed
        self.spec = dict(spec or {})
        self.workloads = WorkloadSession(mm, seed)
        self.fragmentation = vm.FragmentationHistory()
        self.snapshots: dict[str, Snapshot] = {}
        self.fragger_run = None
        self.replay: ReplayInfo | None = None

    def __repr__(self):
        mb = self.layout.total_pages >> 8
        return (f"<Machine {self.profile.name} {self.mm.memory_model} {mb} MiB, "
                f"{len(self.layout.nodes)} node(s), cmdline={self.cmdline!r}>")

    # --- the log ---------------------------------------------------------------------------
    @property
    def dmesg(self) -> str:
        """The kernel log, in the kernel's own words."""
        return "\n".join(self.mm.dmesg_lines) + "\n"

    @property
    def page_ext_bytes(self) -> int:
        """``total_usage`` of page_ext (0 when no client needed it)."""
        pe = self.mm.page_ext
        return pe.total_usage if pe is not None else 0

    # --- allocator (mm/page_alloc.c) -------------------------------------------------------
    def alloc_pages(self, order: int = 0, gfp="GFP_KERNEL", nid: int | None = None):
        """Allocate 2^order pages; return the head pfn, or None when the kernel would fail.

        ``gfp`` is a flag string (``"GFP_KERNEL|__GFP_ZERO"``) or an int mask.
        ``nid`` picks the preferred node (default: the current CPU's node).
        An order that is not an integer, or above MAX_PAGE_ORDER, raises PextlabError.
        """
        mm = self.mm
        mask = mm.gfp(gfp)
        # page_alloc.__alloc_pages without its Python frame: the compiled fast path
        # (which checks the arguments), the slow path only when that returns -1
        pfn = alloc_pages_fast(mm, mask, order, nid)
        if pfn < 0:
            pfn = page_alloc.alloc_pages_slow(mm, mask, order, nid)
        return None if pfn < 0 else pfn

    def free_pages(self, pfn: int, order: int = 0) -> None:
        """Free a block returned by ``alloc_pages`` (same order).  A pfn or order that
        is not an integer (a float is never rounded) raises PextlabError."""
        page_alloc.free_pages(self.mm, pfn, order)

    def alloc_pages_exact(self, size: int, gfp="GFP_KERNEL", nid: int | None = None):
        """alloc_pages_exact_nid: exactly ceil(size/4096) pages, or None."""
        pfn = page_alloc.alloc_pages_exact_nid(self.mm, -1 if nid is None else nid, int(size),
                                               self.mm.gfp(gfp))
        return None if pfn < 0 else pfn

    # --- many pages at once (bulk allocator, vmalloc's page loop, release_pages) ------------
    def alloc_pages_bulk(self, nr_pages: int, gfp="GFP_KERNEL", nid: int | None = None):
        """alloc_pages_bulk: up to ``nr_pages`` order-0 pfns (an int64 array) by the kernel's rules
        (one page per call with page_owner on; see :func:`pextlab.kernel.page_alloc.alloc_pages_bulk`)."""
        return page_alloc.alloc_pages_bulk(self.mm, self.mm.gfp(gfp), nr_pages, nid)

    def vm_area_alloc_pages(self, nr_pages: int, gfp="GFP_KERNEL", nid: int | None = None):
        """vmalloc's page loop: ``nr_pages`` order-0 pfns (bulk requests of 100, then one by one)."""
        return vmalloc.vm_area_alloc_pages(self.mm, self.mm.gfp(gfp), nr_pages, nid)

    def alloc_pages_loop(self, nr_pages: int, gfp="GFP_KERNEL", nid: int | None = None):
        """``nr_pages`` calls of ``alloc_pages(0, gfp, nid)`` as one, stopping at the first failure."""
        return page_alloc.alloc_pages_loop(self.mm, self.mm.gfp(gfp), nr_pages, nid)

    def release_pages(self, pfns, order: int = 0) -> None:
        """release_pages: free many blocks of one order (each checked first, as free_pages does)."""
        fastpath.release_pages(self.mm, pfns, order)

    # --- frames of the kernel state (same names and schemas as a Capture's) ----------------
    def df_zones(self) -> pd.DataFrame:
        """Zones per node (/proc/zoneinfo)."""
        return frames.df_zones(self.mm)

    def df_sections(self) -> pd.DataFrame:
        """Memory sections."""
        return frames.df_sections(self.mm)

    def df_memory_blocks(self) -> pd.DataFrame:
        """Memory blocks as /sys/devices/system/memory shows them."""
        return frames.df_memory_blocks(self.mm)

    def df_page_ext(self) -> pd.DataFrame:
        """page_ext tables with their cost and where they live."""
        return frames.df_page_ext(self.mm)

    def df_buddyinfo(self) -> pd.DataFrame:
        """/proc/buddyinfo, long form."""
        return frames.df_buddyinfo(self.mm)

    def df_pagetypeinfo(self) -> pd.DataFrame:
        """/proc/pagetypeinfo free lists."""
        return frames.df_pagetypeinfo(self.mm)

    def df_pageblocks(self) -> pd.DataFrame:
        """/proc/pagetypeinfo block counts and mixed blocks."""
        return frames.df_pageblocks(self.mm)

    def df_pageblock_map(self) -> pd.DataFrame:
        """Every pageblock of every populated zone: type, state, free and allocated
        pages, mixed (what df_pageblocks counts; :mod:`pextlab.frames.pageblock_map`)."""
        return df_pageblock_map(self.mm)

    def df_extfrag(self) -> pd.DataFrame:
        """unusable_index / extfrag_index per zone and order."""
        return frames.df_extfrag(self.mm)

    def df_meminfo(self) -> pd.DataFrame:
        """/proc/meminfo, the fields the model keeps."""
        return frames.df_meminfo(self.mm)

    def df_vmstat(self) -> pd.DataFrame:
        """/proc/vmstat, the counters the model keeps."""
        return frames.df_vmstat(self.mm)

    def df_page_owner(self) -> pd.DataFrame:
        """One row per allocated block; empty when page_owner is off."""
        return frames.df_page_owner(self.mm)

    def df_stacks(self, threshold: int = 0) -> pd.DataFrame:
        """page_owner_stacks/show_stacks: stacks with at least ``threshold`` base pages."""
        return frames.df_stacks(self.mm, threshold)

    # --- kernel text -----------------------------------------------------------------------
    def proc(self, name: str) -> str:
        """The text of a /proc file: ``buddyinfo``, ``pagetypeinfo``, ``zoneinfo``.

        Reading pagetypeinfo with page_owner on drains the per-cpu lists first, as
        pagetypeinfo_showmixedcount does (mm/vmstat.c)."""
        if name == "pagetypeinfo" and self.mm.page_owner is not None:
            drain_all_pages(self.mm)
        return writers.proc_text(self, name)

    def debugfs(self, name: str) -> str:
        """Text of a debugfs file: ``page_owner``, ``page_owner_stacks/show_stacks``,
        ``page_owner_stacks/count_threshold``, ``extfrag/unusable_index``,
        ``extfrag/extfrag_index`` -- exactly as the kernel of this profile prints it.

        Reading page_owner with page_owner off fails as the kernel does (-EINVAL:
        the file does not exist).
        """
        po = self.mm.page_owner
        if name.startswith("extfrag/"):
            return writers.proc_text(self, name.split("/", 1)[1])
        if name.startswith("cma/"):
            return writers.cma_file(self.mm, name, "debugfs")
        if name in ("page_owner", "page_owner_stacks/show_stacks", "page_owner_stacks/count_threshold"):
            if po is None:
                raise PextlabError(f"/sys/kernel/debug/{name}: no such file (page_owner is disabled; "
                                   f"boot with page_owner=on)")
            if name == "page_owner":
                return format_page_owner(self.df_page_owner(), variant=self.profile.page_owner_variant)
            if not self.profile.has_show_stacks:
                raise PextlabError(f"/sys/kernel/debug/{name}: not in {self.profile.name} "
                                   f"(page_owner_stacks arrived in v6.9)")
            if name.endswith("count_threshold"):
                return f"{po.count_threshold}\n"
            return format_show_stacks(self.df_stacks(), threshold=po.count_threshold)
        raise PextlabError(f"unknown debugfs file {name!r}; known: page_owner, "
                           f"page_owner_stacks/show_stacks, page_owner_stacks/count_threshold, "
                           f"extfrag/unusable_index, extfrag/extfrag_index, cma/<area>/<file>")

    def set_count_threshold(self, n: int) -> None:
        """``echo n > /sys/kernel/debug/page_owner_stacks/count_threshold``."""
        if self.mm.page_owner is None:
            raise PextlabError("page_owner is disabled; no page_owner_stacks/count_threshold")
        if int(n) < 0:
            raise PextlabError("count_threshold is an unsigned number")
        self.mm.page_owner.count_threshold = int(n)

    # --- workloads -------------------------------------------------------------------------
    def run(self, workload, duration="60s", record: bool = False, sample="1s",
            seed: int | None = None):
        """Run a workload from the machine's clock.  The return type follows the kind:

        * a :class:`~pextlab.workloads.Workload` or ``Task`` runs for ``duration`` on
          the event-driven runner (:meth:`WorkloadSession.run`) and returns this
          run's tasks as a DataFrame;
        * a :func:`~pextlab.workloads.fragger` workload runs its own phases, takes its
          phase snapshots (``snapshots["after_fill"]``...) and returns its
          ``FraggerRun``; it takes no other argument.
        """
        if isinstance(workload, Fragger):
            if (duration, record, sample, seed) != ("60s", False, "1s", None):
                raise PextlabError("a fragger workload runs its own phases; "
                                   "run() takes no other arguments for it")
            self.fragger_run = workload.run_on(self, snapshot=self._fragger_snapshot)
            return self.fragger_run
        return self.workloads.run(workload, duration, record=record, sample=sample, seed=seed)

    def _fragger_snapshot(self, name: str, fragger=None, **info) -> None:
        if fragger is not None:
            info["summary"] = fragger.summary()
            info["probe"] = dict(fragger.probe)
        self.snapshot(name, **info)

    @property
    def run_log(self):
        """The :class:`~pextlab.workloads.RunLog` of every run (None before any run)."""
        return self.workloads.log

    def df_events(self) -> pd.DataFrame:
        """Alloc/free/fail events of every recorded run, in time order."""
        return self.workloads.df_events()

    def df_memory_usage(self) -> pd.DataFrame:
        """Free and used pages per (node, zone, migratetype) at each run sample."""
        return self.workloads.df_memory_usage()

    def df_tasks(self, run: int | None = None) -> pd.DataFrame:
        """Every task of every run (or of run ``run``): counters of what it did."""
        return self.workloads.df_tasks(run)

    def on_migrate(self, fn) -> None:
        """Register ``fn(moved, reason)``, called whenever pages migrate (compaction,
        memory hotplug) with ``moved`` = [(old_pfn, new_pfn, order)]."""
        if fn not in self.mm.migrate_notifiers:
            self.mm.migrate_notifiers.append(fn)

    # --- snapshots -------------------------------------------------------------------------
    def snapshot(self, name: str, **info) -> Snapshot:
        """Freeze the machine now as ``snapshots[name]`` (replacing one of that name)."""
        if not isinstance(name, str) or not name:
            raise PextlabError("a snapshot needs a non-empty name")
        s = self.snapshots[name] = Snapshot(self, name, info)
        return s

    def df_snapshots(self) -> pd.DataFrame:
        """One row per snapshot: name, time, free pages and pageblocks per migratetype."""
        rows = []
        for name, s in self.snapshots.items():
            pb = s.df_pageblocks()
            bi = s.df_buddyinfo()
            free = (bi["nr_free"].to_numpy().astype("int64")
                    << bi["order"].to_numpy().astype("int64")).sum()
            row = {"snapshot": name, "time_s": s.time_ns / 1e9, "free_pages": int(free)}
            for mt, n in pb.groupby("migratetype", observed=True)["nr_blocks"].sum().items():
                row[f"blocks_{mt}"] = int(n)
            row["mixed"] = int(pb["nr_mixed"].sum())
            rows.append(row)
        return pd.DataFrame(rows)

    # --- memory hotplug (pextlab.hotplug) --------------------------------------------------
    def hot_add(self, size, nid: int = 0, addr=None, online: str | None = None) -> list[int]:
        """Plug a DIMM into the maxmem window; its block ids (:func:`pextlab.hotplug.hot_add`)."""
        return hotplug.hot_add(self.mm, size, nid, addr, online)

    def online(self, block: int, how: str = "online") -> hotplug.HotplugOutcome:
        """``echo <how> > .../memory<block>/state`` (:func:`pextlab.hotplug.online`)."""
        return hotplug.online(self.mm, block, how)

    def offline(self, block: int) -> hotplug.HotplugOutcome:
        """``echo offline > .../memory<block>/state`` (:func:`pextlab.hotplug.offline`)."""
        return hotplug.offline(self.mm, block)

    def remove(self, device, eject: bool = True) -> hotplug.HotplugOutcome:
        """Unplug a hot-added DIMM (:func:`pextlab.hotplug.remove`)."""
        return hotplug.remove(self.mm, device, eject)

    def valid_zones(self, block: int) -> str:
        """/sys/devices/system/memory/memory<block>/valid_zones."""
        return hotplug.valid_zones(self.mm, block)

    @property
    def memory_devices(self) -> dict:
        """Hot-added DIMMs: id -> start_pfn, nr_pages, nid, blocks."""
        return hotplug.memory_devices(self.mm)

    # --- vm: sysctls, compaction, hugetlb, probes (pextlab.vm) -----------------------------
    @property
    def policy(self):
        """The fallback policy (pextlab.kernel.policy).  Assign a name (``"v6.12"``,
        ``"v3.19"``, ``"no-grouping"``, ``"v6.12-unsplit"``), a class or an instance."""
        return self.mm.policy

    @policy.setter
    def policy(self, value) -> None:
        set_policy(self.mm, value)

    def sysctl(self, name: str, value=None):
        """Read or write a vm sysctl (:func:`pextlab.vm.sysctl`)."""
        return vm.sysctl(self.mm, name, value)

    def compact_memory(self) -> dict:
        """``echo 1 > /proc/sys/vm/compact_memory``; the counter deltas."""
        return vm.compact_memory(self.mm)

    def idle(self, seconds: float = 3.0) -> int:
        """Let time pass with no allocations (:func:`pextlab.vm.idle`)."""
        return vm.idle(self.mm, seconds)

    @property
    def nr_hugepages(self) -> int:
        """/proc/sys/vm/nr_hugepages."""
        return vm.nr_hugepages(self.mm)

    def set_nr_hugepages(self, n: int, comm: str = "sh", pid: int = 1) -> int:
        """``echo n > /proc/sys/vm/nr_hugepages``; the pool size afterwards."""
        return vm.set_nr_hugepages(self.mm, n, comm, pid)

    def df_hugetlb(self) -> pd.DataFrame:
        """One row per nr_hugepages write."""
        return vm.df_hugetlb(self.mm)

    def probe_high_order(self, order: int = 9, n: int = 1, gfp="GFP_KERNEL|__GFP_NORETRY",
                         keep: bool = False, nid: int | None = None) -> dict:
        """Try ``n`` allocations of ``order`` (:func:`pextlab.vm.probe_high_order`)."""
        return vm.probe_high_order(self.mm, order, n, gfp, keep, nid)

    def df_compaction_stats(self) -> pd.DataFrame:
        """One row per compaction run."""
        return vm.df_compaction_stats(self.mm)

    def vmstat_compaction(self) -> dict:
        """The compaction/migration vmstat counters now."""
        return vm.vmstat_compaction(self.mm)

    def sample_fragmentation(self, label: str | None = None) -> pd.DataFrame:
        """Measure every populated zone now and keep the rows for :meth:`df_fragmentation`."""
        return self.fragmentation.sample(self.mm, label)

    def df_fragmentation(self, current: bool = True) -> pd.DataFrame:
        """Fragmentation metrics, one row per (sample, zone): every sample taken with
        :meth:`sample_fragmentation`, plus (``current=True``) the state now as the
        last sample labelled ``"now"`` (not stored).

        Columns: sample, label, time_s, node, zone, managed_pages, free_pages,
        free_pages_ge_pb, free_blocks_ge_pb, free_o0..free_o10 (free pages per
        order), free_<migratetype> (pages on each type's lists),
        blocks_<migratetype>, mixed_<migratetype> (-1 without page_owner),
        mixed_total, unusable_o0..o10, extfrag_o0..o10 (fractions, -1.0 = a block
        is free), fragmentation_score (percent, proactive compaction's),
        watermark_boost, nr_hugepages, and the vmstat counters compact_stall,
        compact_success, compact_fail, compact_migrate_scanned,
        compact_free_scanned, compact_isolated, compact_daemon_*,
        pgmigrate_success, pgmigrate_fail, pageoutrun,
        pgsteal_fallback_claim/single, pgscan/pgsteal_kswapd/direct, oom_kill
        (cumulative, machine-wide).
        """
        return self.fragmentation.df_fragmentation(self.mm, current)

    def df_free_area_history(self) -> pd.DataFrame:
        """Free blocks and pages per sample, zone, migratetype and order."""
        return self.fragmentation.df_free_area_history(self.mm)

    # --- the machine as a capture folder (pextlab.capture_writer) ---------------------------
    def write_capture(self, folder, label: str | None = None) -> list[dict]:
        """Write the kernel files of this machine into a capture folder that
        ``pextlab.read_capture(folder, snapshot=label)`` reads; the manifest rows
        (:func:`pextlab.capture_writer.write_capture`)."""
        return capture_writer.write_capture(self, folder, label)

    # --- CMA (pextlab.cma) -------------------------------------------------------------------
    def cma_alloc(self, count: int, align=None, name: str | None = None,
                  no_warn: bool = False) -> cma.CmaOutcome:
        """Allocate ``count`` contiguous pages from a CMA area (:func:`pextlab.cma.cma_alloc`)."""
        return cma.cma_alloc(self.mm, count, align, name, no_warn)

    def cma_release(self, result_or_pfn, count: int | None = None, name: str | None = None) -> bool:
        """Give back what cma_alloc handed out (:func:`pextlab.cma.cma_release`)."""
        return cma.cma_release(self.mm, result_or_pfn, count, name)

    def df_cma(self) -> pd.DataFrame:
        """One row per CMA area: the debugfs and sysfs figures."""
        return cma_frames.df_cma(self.mm)

    def df_cma_allocs(self) -> pd.DataFrame:
        """Every cma_alloc request: result, errno, pages migrated, first busy page and its owner."""
        return cma_frames.df_cma_allocs(self.mm)

    def df_cma_map(self) -> pd.DataFrame:
        """Every page of every CMA area: free, movable, pinned, handed out by CMA, other."""
        return cma_frames.df_cma_map(self.mm)

    def sysfs(self, name: str) -> str:
        """Text of a /sys/kernel file the model keeps: ``mm/cma/<area>/<file>``."""
        return writers.cma_file(self.mm, name, "sysfs")

    # --- replay (pextlab.replay) ------------------------------------------------------------
    @property
    def replay_report(self) -> pd.DataFrame | None:
        """``replay.report`` (None unless the machine came from :func:`pextlab.replay`)."""
        return None if self.replay is None else self.replay.report

    # --- tracing (kernel/trace) ------------------------------------------------------------
    def tracing(self, buffer_kb: int | None = None, overwrite: bool = True, reader=None,
                events=None) -> "tracing.Tracing":
        """Trace the page allocator's kmem events through the ring buffer, with an
        optional reader task (:func:`pextlab.tracing.reader`); see :mod:`pextlab.tracing`."""
        return tracing.setup_tracing(self, buffer_kb, overwrite, reader, events)

    @property
    def replay_conflicts(self) -> list | None:
        """``replay.conflicts``: dump blocks that could not be placed."""
        return None if self.replay is None else self.replay.conflicts

    @property
    def replay_unreserved(self) -> int | None:
        """``replay.unreserved``: reserved pages the dump allocates."""
        return None if self.replay is None else self.replay.unreserved


def boot(mem="1G", cmdline: str = "", profile="v6.12", machine: str = "pc", nodes: int = 1,
         memory_model: str = "sparsemem", layout: Layout | None = None, seed: int = 0,
         node_pattern=None, nr_cpus: int | None = None, maxmem=None, policy=None) -> Machine:
    """Boot a simulated machine.

    Parameters
    ----------
    mem : size
        RAM (``"1G"``, ``"512M"``, bytes), ignored when ``layout`` is given.
    cmdline : str
        Kernel command line (``"page_owner=on"``, ``"debug_pagealloc=on
        debug_guardpage_minorder=1"``, ``"movablecore=25%"``, ``"cma=64M"``, ...).
    profile : {"v6.12", "v3.19"}
    machine : {"pc", "q35"}
    nodes : int
        NUMA nodes (RAM split evenly).
    memory_model : {"sparsemem", "flatmem"}
    layout : Layout, optional
        A layout from ``read_capture(...).layout`` ("simulate my machine").
    seed : int
        Seed of every random choice made later (workloads).
    policy : str, FallbackPolicy subclass or instance, optional
        The allocator's fallback policy (pextlab.kernel.policy; default: the profile's).

    Examples
    --------
    >>> m = boot(mem="1G", cmdline="page_owner=on")
    >>> m.df_zones().query("present > 0")[["zone", "spanned"]].values.tolist()
    [['DMA', 4095], ['DMA32', 258016]]
    """
    prof = get_profile(profile)
    if layout is None:
        layout = layout_from_spec(mem=mem, nodes=nodes, machine=machine,
                                  node_pattern=node_pattern, nr_cpus=nr_cpus, maxmem=maxmem)
    elif not isinstance(layout, Layout):
        raise PextlabError(f"layout must be a pextlab Layout (e.g. read_capture(...).layout), "
                           f"got {type(layout).__name__}")
    mm = boot_kernel(layout, cmdline, prof, memory_model, policy=policy)
    spec = dict(mem=mem, cmdline=cmdline, profile=prof.name, machine=machine, nodes=nodes,
                memory_model=memory_model, seed=seed)
    return Machine(mm, seed=seed, spec=spec)


def _document_columns():
    """Append each frame's column list (pextlab.schema) to the df_* docstrings."""
    for meth, (schema, sources) in FRAMES.items():
        if schema is None or "machine" not in sources:
            continue
        f = getattr(Machine, meth)
        cols = "\n".join(f"        {c} : {t}" for c, t in SCHEMAS[schema].items())
        f.__doc__ = (f.__doc__ or "") + f"\n\n        Columns\n        -------\n{cols}\n"


_document_columns()
