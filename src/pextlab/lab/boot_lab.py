"""The boot lab: choose a machine and a kernel command line, boot, and see what page_ext costs.

:class:`BootLab` is a pure-Python controller.  Its settings are plain attributes that a
view edits (``mem``, ``nodes``, ``interleave``, ``machine_type``, ``memory_model``,
``profile``, ``cmdline``, ``maxmem``); ``boot()`` boots ``pextlab.boot`` with them and keeps
the machine and one row per boot in ``history`` (so successive boots can be compared).

The page_ext clients (``page_owner``, ``debug_pagealloc``, ``page_poison``) are switched on
and off *in the command line*: ``set_client("page_owner", True)`` adds ``page_owner=on``,
``clients`` reads them back.  The command line is the one source of truth, as on a real
box, so a free-form edit and a checkbox can never disagree.

>>> import pextlab.lab
>>> lab = pextlab.lab.BootLab(mem="1G", cmdline="page_owner=on")
>>> m = lab.boot()
>>> lab.page_ext_summary()["page_ext_bytes"]
18874368
>>> lab.set_client("page_owner", False); lab.cmdline
''
"""
from __future__ import annotations

import re
import shlex

import pandas as pd
from matplotlib.figure import Figure

from ..errors import PextlabError
from ..kernel.layout import parse_size
from ..machine import boot as boot_machine
from ..plot import plot_memory_map, plot_page_ext_cost

__all__ = ["BootLab", "CLIENTS", "DMESG_PATTERN", "MEM_SIZES", "PROFILES", "MACHINES",
           "MEMORY_MODELS"]

# page_ext clients and the command-line word that makes their need() return true.
CLIENTS = {
    "page_owner": "page_owner=on",
    "debug_pagealloc": "debug_pagealloc=on",
    "page_poison": "page_poison=on",
}
# dmesg lines the lab shows: layout, command line, page_ext and its clients, totals.
DMESG_PATTERN = (r"Command line|Zone ranges|\]\s+(DMA|DMA32|Normal|Movable|Device)\s"
                 r"|node +\d+:|Initmem|Unknown kernel|Built \d+ zonelists|Memory:|page_ext"
                 r"|page.owner|early allocated|debug_guardpage|poison|Memory block size|Movable zone")
_ON = {"1", "y", "yes", "on", "true"}

MEM_SIZES = ("512M", "1G", "2G", "4G", "8G", "16G")
PROFILES = ("v6.12", "v3.19")
MACHINES = ("pc", "q35")
MEMORY_MODELS = ("sparsemem", "flatmem")


class BootLab:
    """Controller of the boot lab.

    Parameters
    ----------
    mem : str
        RAM (``"1G"``).
    nodes : int
        NUMA nodes (RAM split evenly).
    interleave : bool
        Interleave the nodes (N0|N1|N0|N1 in equal chunks, ``node_pattern``) instead of
        giving each one contiguous range -- the layout ``mm/page_ext.c``'s init loop
        comments on.  Needs ``nodes >= 2``.
    machine_type : {"pc", "q35"}
    memory_model : {"sparsemem", "flatmem"}
    profile : {"v6.12", "v3.19"}
    cmdline : str
        The kernel command line (clients included).
    maxmem : str, optional
        A hotplug window (``"4G"``), as qemu's ``-m ...,maxmem=``.
    dpi : int
        Resolution of the figures ``draw()`` makes (a view shows them at it).

    Attributes
    ----------
    machine : Machine or None   -- the last booted machine
    history : list of dict      -- one row per boot (``df_history()``)
    error : str or None         -- why the last boot() failed (None after a good boot)
    version : int               -- bumped by every boot
    """

    def __init__(self, mem: str = "1G", nodes: int = 1, interleave: bool = False,
                 machine_type: str = "pc", memory_model: str = "sparsemem",
                 profile: str = "v6.12", cmdline: str = "page_owner=on", maxmem=None,
                 *, dpi: int = 72):
        self.mem = mem
        self.nodes = int(nodes)
        self.interleave = bool(interleave)
        self.machine_type = machine_type
        self.memory_model = memory_model
        self.profile = profile
        self.cmdline = cmdline
        self.maxmem = maxmem
        self.dpi = int(dpi)
        self.machine = None
        self.history: list[dict] = []
        self.error: str | None = None
        self.version = 0

    def __repr__(self):
        state = repr(self.machine) if self.machine is not None else "not booted"
        return f"<BootLab {self.config()} -> {state}>"

    # --- settings ------------------------------------------------------------------------------
    def config(self) -> dict:
        """The settings as the keyword arguments of ``pextlab.boot``."""
        return dict(mem=self.mem, cmdline=self.cmdline, profile=self.profile,
                    machine=self.machine_type, nodes=self.nodes,
                    memory_model=self.memory_model, node_pattern=self.node_pattern(),
                    maxmem=self.maxmem or None)

    def node_pattern(self):
        """``node_pattern`` for ``pextlab.boot``: ``[0, 1, .., 0, 1, ..]`` when interleaving."""
        if not self.interleave or self.nodes < 2:
            return None
        return list(range(self.nodes)) * 2

    @property
    def clients(self) -> dict:
        """Which page_ext clients the command line turns on (last word wins, as in the kernel)."""
        on = dict.fromkeys(CLIENTS, False)
        for w in self._words():
            key, eq, val = w.partition("=")
            if key in on:
                on[key] = (val.strip().lower() in _ON) if eq else False
        return on

    def _words(self) -> list[str]:
        try:
            return shlex.split(self.cmdline or "")
        except ValueError:
            return (self.cmdline or "").split()

    def set_client(self, name: str, on: bool) -> None:
        """Switch a page_ext client on or off by editing the command line."""
        if name not in CLIENTS:
            raise PextlabError(f"unknown page_ext client {name!r}; known: {list(CLIENTS)}")
        words = [w for w in self._words() if w.partition("=")[0] != name]
        if on:
            words.append(CLIENTS[name])
        self.cmdline = " ".join(words)

    # --- boot ----------------------------------------------------------------------------------
    def boot(self):
        """Boot with the current settings; return the Machine.

        Raises PextlabError (and sets ``error``) when the settings are invalid; the previous
        machine stays.
        """
        cfg = self.config()
        if self.interleave and self.nodes < 2:
            self.error = "node interleave needs at least 2 nodes"
            raise PextlabError(self.error)
        try:
            m = boot_machine(**cfg)
        except PextlabError as e:
            self.error = str(e)
            raise
        self.machine = m
        self.error = None
        self.version += 1
        s = self.page_ext_summary()
        self.history.append(dict(boot=len(self.history) + 1, mem=self.mem,
                                 ram_gib=parse_size(self.mem) / 2**30, nodes=self.nodes,
                                 interleave=self.interleave, machine=self.machine_type,
                                 memory_model=self.memory_model, profile=self.profile,
                                 cmdline=self.cmdline, **s))
        return m

    def _need(self):
        if self.machine is None:
            raise PextlabError("nothing booted yet: call boot() first")
        return self.machine

    # --- what the lab shows --------------------------------------------------------------------
    def dmesg_excerpt(self, pattern: str = DMESG_PATTERN) -> str:
        """The boot log lines about layout, command line and page_ext."""
        rx = re.compile(pattern)
        return "\n".join(l for l in self._need().dmesg.splitlines() if rx.search(l))

    def page_ext_summary(self) -> dict:
        """page_ext cost of the booted machine.

        Keys: ``page_ext_bytes`` (dmesg's ``allocated N bytes``), ``page_ext_mib``,
        ``tables``, ``via`` (how tables were allocated, e.g. ``"pages:8"``),
        ``bytes_per_page`` (per RAM page), ``pct_of_ram``, ``clients`` (on, comma-separated).
        """
        m = self._need()
        pe = m.df_page_ext()
        ram = m.layout.total_pages
        b = int(m.page_ext_bytes)
        via = ",".join(f"{k}:{v}" for k, v in pe["via"].astype(str).value_counts().items())
        return dict(page_ext_bytes=b, page_ext_mib=round(b / 2**20, 3), tables=len(pe), via=via,
                    bytes_per_page=round(b / ram, 2) if ram else 0.0,
                    pct_of_ram=round(100 * b / (ram * 4096), 3) if ram else 0.0,
                    clients=",".join(k for k, v in self.clients.items() if v) or "none")

    def zone_table(self) -> pd.DataFrame:
        """Zones that span pages: node, zone, start/end pfn, spanned, present, managed, free."""
        z = self._need().df_zones()
        return z[z["spanned"] > 0][["node", "zone", "start_pfn", "end_pfn", "spanned",
                                    "present", "managed", "free"]].reset_index(drop=True)

    def df_history(self) -> pd.DataFrame:
        """One row per boot: the settings and ``page_ext_summary()``."""
        return pd.DataFrame(self.history)

    def draw(self, fig=None):
        """Draw the memory map of the booted machine (top) and, once two boots differ in
        RAM or configuration, the page_ext cost of every boot so far (bottom).  ``fig`` is
        cleared first; a new ``matplotlib.figure.Figure`` (not registered with pyplot) when
        omitted.  Return the figure."""
        m = self._need()
        if fig is None:
            fig = Figure(figsize=(9.5, 4.4), dpi=self.dpi)
        fig.clear()
        hist = self.df_history()
        show_cost = len(hist) >= 2
        if show_cost:
            ax_map, ax_cost = fig.subplots(2, 1, gridspec_kw={"height_ratios": [1, 1.2]})
        else:
            ax_map, ax_cost = fig.subplots(1, 1), None
        plot_memory_map(m.df_zones(), m.df_sections(), m.df_memory_blocks(), m.df_page_ext(),
                        ram=pd.DataFrame(m.layout.ram), ax=ax_map)
        ax_map.set_title(f"{m.layout.total_pages >> 8} MiB, {self.nodes} node(s), "
                         f"{self.profile} {self.memory_model}: page_ext "
                         f"{m.page_ext_bytes / 2**20:.1f} MiB", fontsize=9)
        if ax_cost is not None:
            h = hist.assign(config=hist["profile"] + " " + hist["memory_model"] + "\n"
                            + hist["clients"].str.replace(",", "+"))
            plot_page_ext_cost(h, x="ram_gib", y="page_ext_mib", hue="config", ax=ax_cost,
                               logx=h["ram_gib"].nunique() > 1)
            ax_cost.set_title("page_ext cost of the boots so far", fontsize=9)
            ax_cost.set_xlabel("RAM (GiB)")
            ax_cost.set_ylabel("page_ext (MiB)")
            ax_cost.legend(title="profile, model, clients", fontsize=7, title_fontsize=7,
                           loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        fig.subplots_adjust(left=0.08, right=0.72, top=0.92, bottom=0.1, hspace=0.6)
        return fig
