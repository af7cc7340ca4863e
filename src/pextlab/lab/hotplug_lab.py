"""The hotplug lab: plug a DIMM, online its blocks as you like, try to offline and remove them.

:class:`HotplugLab` is a pure-Python controller over a booted :class:`pextlab.Machine`
(which has the hotplug verbs of :mod:`pextlab.hotplug_api`).  It holds everything a
person does in the lab and everything the view shows:

* the verbs ``add_dimm``, ``online``, ``offline``, ``remove`` (and ``alloc``, to leave
  kernel or user pages somewhere, as a running system does).  They never raise for a
  kernel refusal: each returns a :class:`LogEntry` and puts it at the head of ``log``;
* the selection a view edits (``block``, ``online_as``, ``dimm_size``);
* the frames and the figure the view shows (``df_memory_blocks``, ``page_ext_table``,
  ``draw``).

Its ipywidgets view is ``pextlab.widgets.HotplugLabView(lab)``; the controller itself
knows nothing of widgets and works without ipywidgets, which is how the tests drive it.

>>> import pextlab, pextlab.lab
>>> lab = pextlab.lab.HotplugLab()             # boot 1G, page_owner=on, maxmem=4G
>>> lab.add_dimm("512M").text
'add DIMM dimm0 512M at 0x100000000: memory32..memory35 (offline)'
>>> lab.online(32, "online").text
'online memory32 as online: ok (zone Normal)'
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..errors import PextlabError
from ..machine import boot
from ..plot import block_of_pfn, plot_memory_blocks, plot_memory_map
from ..workloads.catalogue import load_catalogue

__all__ = ["HotplugLab", "LogEntry", "ONLINE_TYPES", "DIMM_SIZES", "I_HOTPLUG_STEPS",
           "blocked_by", "merge_table_runs"]

ONLINE_TYPES = ("online", "online_kernel", "online_movable")
DIMM_SIZES = ("128M", "256M", "512M", "1G", "2G")

# The real i-hotplug run (data/real-kernel/i-hotplug, v6.12 under qemu; see
# tests/test_hotplug_real.py): boot 1G maxmem=4G, device_add a 512M pc-dimm, online it four
# ways while a shell leaves 35 kernel pages in the first block and a program 139 user pages
# in the Movable zone, offline in the real order, then device_del.
I_HOTPLUG_STEPS = (
    ("add", "512M"),
    ("online", 32, "online"),
    ("alloc", 35, "GFP_KERNEL", "sh"),
    ("online", 33, "online_kernel"),
    ("online", 34, "online_movable"),
    ("online", 35, "online_movable"),
    ("alloc", 139, "GFP_HIGHUSER_MOVABLE", "usemem"),
    ("offline", 34), ("offline", 32), ("offline", 7), ("offline", 4), ("offline", 0),
    ("offline", 32), ("offline", 33), ("offline", 35),
    ("remove", "dimm0"),
)


def blocked_by(blocking: pd.DataFrame, top: int = 3) -> str:
    """Who is in the way, in one line: the allocations of a failed offline, by owner.

    ``blocking`` is ``HotplugOutcome.blocking``: page_owner rows (``top_frame``, ``comm``,
    ``nr_pages``) when page_owner is on, else a frame with only ``pfn``.

    >>> b = pd.DataFrame({"top_frame": ["init_section_page_ext"] * 2 + ["kmalloc"],
    ...                   "comm": ["swapper/0", "swapper/0", "sh"], "nr_pages": [576, 576, 1],
    ...                   "pfn": [0x100000, 0x100240, 0x100480]})
    >>> blocked_by(b)
    'init_section_page_ext (swapper/0) 1152 pages, kmalloc (sh) 1 page; first pfn 0x100000'
    """
    if blocking is None or len(blocking) == 0:
        return "no page recorded (reserved or untracked pages)"
    first = f"first pfn {int(blocking['pfn'].min()):#x}" if "pfn" in blocking else ""
    if "top_frame" not in blocking.columns:
        return (f"{len(blocking)} pfn(s), owners unknown (page_owner is off: boot with "
                f"page_owner=on to see who); {first}")
    df = pd.DataFrame({"top_frame": blocking["top_frame"].astype(str),
                       "comm": blocking["comm"].astype(str) if "comm" in blocking else "",
                       "nr_pages": blocking["nr_pages"].astype("int64")})
    g = (df.groupby(["top_frame", "comm"], sort=False)["nr_pages"].sum()
         .sort_values(ascending=False, kind="stable"))
    parts = [f"{tf} ({c}) {n} page{'s' if n != 1 else ''}" for (tf, c), n in g.head(top).items()]
    if len(g) > top:
        parts.append(f"{len(g) - top} more owner(s) {int(g.iloc[top:].sum())} pages")
    return ", ".join(parts) + f"; {first}"


def merge_table_runs(page_ext: pd.DataFrame, gap: int = 1024) -> pd.DataFrame:
    """page_ext tables that lie close together in memory merged into one row per run.

    ``alloc_pages_exact_nid`` takes a 1024-page block for a 576-page table and frees the
    tail, so the tables of one boot or one hotplug step lie 1024 pages apart: a 16 GiB
    machine's 128 tables are a couple of runs.  The memory map then draws one marker per
    run instead of one per table (128 markers cost ~100 ms a redraw).  Rows: ``node``,
    ``table_pfn`` (first pfn of the run), ``pages`` (the run's span, gaps of at most
    ``gap`` pages included -- invisible at the map's scale), ``tables``.  vmalloc'd tables
    (``table_pfn == -1``) are kept, one row each.
    """
    placed = page_ext[page_ext["table_pfn"] >= 0].sort_values("table_pfn")
    vm = page_ext[page_ext["table_pfn"] < 0][["node", "table_pfn", "pages"]].assign(tables=1)
    if placed.empty:
        return vm.reset_index(drop=True)
    start = placed["table_pfn"].to_numpy(np.int64)
    end = start + placed["pages"].to_numpy(np.int64)
    node = placed["node"].to_numpy()
    new_run = (start[1:] > end[:-1] + gap) | (node[1:] != node[:-1])
    run = np.concatenate([[0], np.cumsum(new_run)])
    runs = (pd.DataFrame({"run": run, "node": node, "start": start, "end": end})
            .groupby("run", sort=True)
            .agg(node=("node", "first"), table_pfn=("start", "min"), end=("end", "max"),
                 tables=("start", "size")))
    runs["pages"] = runs.pop("end") - runs["table_pfn"]
    runs = runs[["node", "table_pfn", "pages", "tables"]].reset_index(drop=True)
    return pd.concat([runs, vm], ignore_index=True)


@dataclass
class LogEntry:
    """One action of the lab and what the kernel answered.

    action : str              -- "add", "online", "offline", "remove", "alloc"
    target : str              -- "memory32", "dimm0", ...
    ok : bool
    error : str or None       -- "EBUSY", "EINVAL", ... or a pextlab error's text
    reason : str or None      -- the kernel's reason ("failure to isolate range")
    text : str                -- the log line, e.g. "offline memory32: EBUSY (...) — blocked by ..."
    outcome : HotplugOutcome or None  -- the full result (``.blocking`` page_owner rows)
    blocks : list             -- block ids an "add" created
    """
    action: str
    target: str
    ok: bool
    error: str | None = None
    reason: str | None = None
    text: str = ""
    outcome: object = None
    blocks: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.ok


class HotplugLab:
    """Controller of the hotplug lab.

    Parameters
    ----------
    machine : pextlab.Machine, optional
        A machine booted with a hotplug window (``maxmem=``).  Default: a fresh
        ``pextlab.boot("1G", "page_owner=on", maxmem="4G")`` -- the real i-hotplug guest.
    dpi : int
        Resolution of the figures ``draw()`` makes (a view shows them at it).

    Attributes
    ----------
    machine : Machine
    log : list of LogEntry      -- newest first
    block : int or None         -- the selected block (a view's "Block" dropdown)
    online_as : str             -- "online", "online_kernel" or "online_movable"
    dimm_size : str             -- size of the next ``add_dimm()``
    version : int               -- bumped by every action (views redraw when it changes)
    """

    def __init__(self, machine=None, *, dpi: int = 72):
        if machine is None:
            machine = boot("1G", "page_owner=on", maxmem="4G")
        if not machine.layout.hotplug_end_pfn:
            raise PextlabError("HotplugLab needs a machine with a hotplug window: boot it with "
                               "maxmem= (e.g. pextlab.boot('1G', 'page_owner=on', maxmem='4G'))")
        self.machine = machine
        self.log: list[LogEntry] = []
        self.online_as = "online"
        self.dimm_size = "512M"
        self.dpi = int(dpi)
        self.version = 0
        self.block = None
        ids = self.block_ids()
        self.block = ids[-1] if ids else None

    def __repr__(self):
        return (f"<HotplugLab {self.machine!r}, {len(self.machine.memory_devices)} DIMM(s), "
                f"{len(self.log)} action(s)>")

    # --- what a view lists ---------------------------------------------------------------------
    def df_memory_blocks(self) -> pd.DataFrame:
        """``machine.df_memory_blocks()`` (SCHEMAS['memory_blocks'])."""
        return self.machine.df_memory_blocks()

    def block_ids(self) -> list[int]:
        """Every memory block id, in order."""
        return [int(b) for b in self.df_memory_blocks()["block"]]

    def block_options(self) -> list[tuple[str, int]]:
        """(label, block id) pairs for a dropdown, e.g. ``("memory32 (offline, dimm0)", 32)``."""
        mb = self.df_memory_blocks()
        dimm_of = {b: name for name, d in self.machine.memory_devices.items()
                   for b in d["blocks"]}
        out = []
        for b, st, z in zip(mb["block"], mb["state"].astype(str), mb["zone"]):
            what = str(z) if st == "online" and isinstance(z, str) else st
            extra = f", {dimm_of[int(b)]}" if int(b) in dimm_of else ""
            out.append((f"memory{int(b)} ({what}{extra})", int(b)))
        return out

    def df_ram(self) -> pd.DataFrame:
        """RAM ranges (``nid``, ``start_pfn``, ``end_pfn``): the boot RAM and every DIMM."""
        m = self.machine
        rows = [dict(nid=r.nid, start_pfn=r.start_pfn, end_pfn=r.end_pfn) for r in m.layout.ram]
        rows += [dict(nid=d["nid"], start_pfn=d["start_pfn"],
                      end_pfn=d["start_pfn"] + d["nr_pages"]) for d in m.memory_devices.values()]
        return pd.DataFrame(rows, columns=["nid", "start_pfn", "end_pfn"])

    def hot_added_blocks(self) -> list[int]:
        return sorted(b for d in self.machine.memory_devices.values() for b in d["blocks"])

    def page_ext_table(self, hot_added_only: bool = False) -> pd.DataFrame:
        """``df_page_ext()`` with where each table lives.

        Added columns: ``memory_block`` (the block the table describes), ``lands_in`` (the
        block holding the table's own memory; -1 for vmalloc or outside any block) and
        ``lands_in_zone`` (missing when that block is offline or spans zones).  ``hot_added_only`` keeps the tables of hot-added blocks and the
        tables that live in hot-added blocks.
        """
        pe = self.machine.df_page_ext()
        mb = self.df_memory_blocks()
        pe = pe.assign(memory_block=block_of_pfn(mb, pe["start_pfn"]),
                       lands_in=block_of_pfn(mb, pe["table_pfn"]))
        zone_of = {int(b): (z if isinstance(z, str) else None)
                   for b, z in zip(mb["block"], mb["zone"].astype(object))}
        pe["lands_in_zone"] = [zone_of.get(int(b)) if b >= 0 else None for b in pe["lands_in"]]
        if hot_added_only:
            hot = set(self.hot_added_blocks())
            pe = pe[pe["memory_block"].isin(hot) | pe["lands_in"].isin(hot)]
        return pe.reset_index(drop=True)

    def page_ext_summary(self) -> str:
        """One line: tables, bytes, and how many live inside hot-added blocks."""
        pe = self.page_ext_table()
        hot = set(self.hot_added_blocks())
        inside = int(pe["lands_in"].isin(hot).sum())
        return (f"page_ext: {len(pe)} table(s), {self.machine.page_ext_bytes:,} bytes; "
                f"{inside} table(s) live inside hot-added blocks")

    # --- the verbs -----------------------------------------------------------------------------
    def _record(self, entry: LogEntry) -> LogEntry:
        self.log.insert(0, entry)
        self.version += 1
        return entry

    def _outcome_entry(self, action: str, target: str, r, head: str) -> LogEntry:
        if r.ok:
            tail = []
            if r.zone and action == "online":
                tail.append(f"zone {r.zone}")
            if r.migrated:
                tail.append(f"{r.migrated} pages migrated")
            text = f"{head}: ok" + (f" ({', '.join(tail)})" if tail else "")
        else:
            text = f"{head}: {r.error}" + (f" ({r.reason})" if r.reason else "")
            if r.error == "EBUSY" or len(r.blocking_pfns):
                text += " \u2014 blocked by " + blocked_by(r.blocking)
        return self._record(LogEntry(action, target, r.ok, r.error, r.reason, text, r))

    def add_dimm(self, size=None, nid: int = 0) -> LogEntry:
        """qemu ``device_add pc-dimm``: plug ``size`` (default ``dimm_size``) into the window.

        The new blocks are offline (``memhp_default_state=offline``); the first one becomes
        the selected ``block``.
        """
        size = self.dimm_size if size is None else size
        before = set(self.machine.memory_devices)
        try:
            blocks = self.machine.hot_add(size, nid=nid)
        except PextlabError as e:
            return self._record(LogEntry("add", str(size), False, str(e), None,
                                         f"add DIMM {size}: failed \u2014 {e}"))
        name = next(iter(set(self.machine.memory_devices) - before), "dimm?")
        dev = self.machine.memory_devices.get(name, {})
        addr = int(dev.get("start_pfn", -1)) << 12
        mb = self.df_memory_blocks().set_index("block")
        states = sorted({str(mb.loc[b, "state"]) for b in blocks})
        span = f"memory{blocks[0]}..memory{blocks[-1]}" if len(blocks) > 1 else f"memory{blocks[0]}"
        self.block = blocks[0]
        return self._record(LogEntry("add", name, True, None, None,
                                     f"add DIMM {name} {size} at {addr:#x}: {span} "
                                     f"({'/'.join(states)})", blocks=list(blocks)))

    def _block(self, block) -> int:
        block = self.block if block is None else block
        if block is None:
            raise PextlabError("no block selected")
        return int(block)

    def online(self, block=None, how=None) -> LogEntry:
        """``echo <how> > memory<block>/state`` (defaults: the selected block, ``online_as``)."""
        how = self.online_as if how is None else how
        if how not in ONLINE_TYPES:
            raise PextlabError(f"online type must be one of {ONLINE_TYPES}, got {how!r}")
        b = self._block(block)
        return self._outcome_entry("online", f"memory{b}", self.machine.online(b, how),
                                   f"online memory{b} as {how}")

    def offline(self, block=None) -> LogEntry:
        """``echo offline > memory<block>/state`` (default: the selected block)."""
        b = self._block(block)
        return self._outcome_entry("offline", f"memory{b}", self.machine.offline(b),
                                   f"offline memory{b}")

    def remove(self, device=None, eject: bool = True) -> LogEntry:
        """qemu ``device_del``: unplug a DIMM (its name, or one of its blocks; default: the
        DIMM of the selected block).  ``eject=True`` offlines its blocks first."""
        if device is None:
            device = self._block(None)
        name = device
        if not isinstance(device, str):
            name = next((k for k, d in self.machine.memory_devices.items()
                         if int(device) in d["blocks"]), None)
            if name is None:
                return self._record(LogEntry("remove", f"memory{int(device)}", False, "EINVAL",
                                             None, f"remove memory{int(device)}: not part of a "
                                             f"hot-added DIMM (boot memory cannot be unplugged)"))
        if name not in self.machine.memory_devices:
            return self._record(LogEntry("remove", str(name), False, "ENODEV", None,
                                         f"remove {name}: no such DIMM"))
        r = self.machine.remove(name, eject=eject)
        entry = self._outcome_entry("remove", name, r, f"remove {name}")
        if r.ok and self.block not in self.block_ids():
            ids = self.block_ids()
            self.block = ids[-1] if ids else None
        return entry

    def alloc(self, count: int, gfp: str = "GFP_KERNEL", comm: str = "sh", pid: int = 741,
              order: int = 0, kind: str | None = None) -> LogEntry:
        """Allocate ``count`` blocks of ``2**order`` pages as task ``comm``, as a running
        system does between hotplug steps.

        With page_owner on, the records carry the task and a real 6.12 stack of ``kind``
        from the stack catalogue (``pextlab.workloads``; default ``"anon"`` for movable
        ``gfp``, ``"page_tables"`` otherwise), so an EBUSY names a believable owner.
        """
        mm = self.machine.mm
        saved = (mm.comm, mm.pid, mm.tgid, mm.current_handle)
        handle = None
        if mm.page_owner is not None:
            if kind is None:
                kind = "anon" if "MOVABLE" in str(gfp) else "page_tables"
            handle = mm.page_owner.depot.stack_depot_save(
                load_catalogue().entries(kind)[0].frames)
        mm.set_task(comm, pid, handle=handle)
        try:
            pfns = [self.machine.alloc_pages(order, gfp) for _ in range(int(count))]
        finally:
            mm.set_task(*saved[:3], handle=saved[3])
        got = [p for p in pfns if p is not None]
        blocks = sorted(set(self.block_of(got))) if got else []
        where = ", ".join(f"memory{b}" for b in blocks if b >= 0) or "-"
        ok = len(got) == int(count)
        text = (f"alloc {count} x order-{order} {gfp} as {comm}: "
                f"{'ok' if ok else f'only {len(got)}'} (in {where})")
        return self._record(LogEntry("alloc", comm, ok, None if ok else "ENOMEM", None, text,
                                     blocks=blocks))

    def block_of(self, pfns) -> list[int]:
        """The memory block holding each pfn (-1 where none does)."""
        return [int(b) for b in block_of_pfn(self.df_memory_blocks(), pfns)]

    def run(self, steps) -> list[LogEntry]:
        """Run steps such as ``("add", "512M")``, ``("online", 32, "online_movable")``,
        ``("offline", 32)``, ``("remove", "dimm0")``, ``("alloc", 35, "GFP_KERNEL", "sh")``;
        return their log entries in order.  ``I_HOTPLUG_STEPS`` is the real i-hotplug run."""
        verbs = {"add": self.add_dimm, "online": self.online, "offline": self.offline,
                 "remove": self.remove, "alloc": self.alloc}
        out = []
        for step in steps:
            verb, *args = step
            if verb not in verbs:
                raise PextlabError(f"unknown step {step!r}; verbs: {sorted(verbs)}")
            out.append(verbs[verb](*args))
        return out

    def log_lines(self) -> list[str]:
        """The log's lines, newest first."""
        return [e.text for e in self.log]

    # --- the picture ---------------------------------------------------------------------------
    def draw(self, fig=None):
        """Draw the physical memory map (top) and the memory-block grid with page_ext table
        locations and the selected block (bottom) into ``fig`` (cleared first; a new
        ``matplotlib.figure.Figure``, not registered with pyplot, when omitted).
        Return the figure."""
        m = self.machine
        if fig is None:
            fig = Figure(figsize=(9.5, 4.6), dpi=self.dpi)
        fig.clear()
        mb = self.df_memory_blocks()
        pe = m.df_page_ext()
        nrow = -(-len(mb) // 16)
        fig.set_size_inches(9.5, 2.2 + 0.36 * nrow + 0.7)
        ax_map, ax_blk = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1.0, 0.35 + 0.22 * nrow]})
        # one legend (the grid's, plus the map's hole hatch): each legend costs ~40 ms a redraw
        plot_memory_map(m.df_zones(), m.df_sections(), mb, merge_table_runs(pe),
                        ram=self.df_ram(), ax=ax_map, labels=True, legend=False)
        ax_map.set_title(f"physical memory map: {m.layout.total_pages >> 8} MiB boot RAM, "
                         f"{len(m.memory_devices)} DIMM(s); \u25bc page_ext tables, "
                         f"hatched: no RAM", fontsize=9)
        plot_memory_blocks(mb, page_ext=pe, highlight=self.block, ax=ax_blk,
                           arrows=self.hot_added_blocks())
        fig.subplots_adjust(left=0.1, right=0.78, top=0.93, bottom=0.02, hspace=0.65)
        return fig
