"""``pextlab.boot`` and the :class:`Machine` it returns: the simulated machine a user drives.

A Machine wraps the pure kernel state (``pextlab.kernel``) and gives it the
user-facing verbs (``alloc_pages``, ``free_pages``) and every ``df_*`` frame,
in the same schemas a real capture gives (``pextlab.read_capture``).
"""
from __future__ import annotations

import pandas as pd

from .errors import PextlabError
from .frames import sim as frames
from .kernel import page_alloc
from .kernel.boot import boot_kernel
from .kernel.layout import Layout, layout_from_spec
from .kernel.profiles import get_profile
from .hotplug_api import HotplugMixin
from .frag_api import FragmentationMixin
from .workloads.machine_api import WorkloadMixin
from .snapshots import SnapshotMixin

__all__ = ["Machine", "boot"]

# module-level alias: inside a class body the name would be mangled
_alloc_pages = page_alloc.__alloc_pages


class Machine(SnapshotMixin, WorkloadMixin, HotplugMixin, FragmentationMixin):
    """A booted simulated machine.

    Attributes
    ----------
    mm : pextlab.kernel.state.MM
        The kernel state (numpy + stdlib only).
    profile : KernelProfile
    layout : Layout
    cmdline : str
    seed : int
    """

    def __init__(self, mm, seed: int = 0, spec: dict | None = None):
        self.mm = mm
        self.profile = mm.profile
        self.layout = mm.layout
        self.cmdline = mm.params.cmdline
        self.seed = seed
        self.spec = dict(spec or {})

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

    # --- allocator -------------------------------------------------------------------------
    def alloc_pages(self, order: int = 0, gfp="GFP_KERNEL", nid: int | None = None):
        """Allocate 2^order pages; return the head pfn, or None when the kernel would fail.

        ``gfp`` is a flag string (``"GFP_KERNEL|__GFP_ZERO"``) or an int mask.
        ``nid`` picks the preferred node (default: the current CPU's node).
        An order above MAX_PAGE_ORDER raises PextlabError.
        """
        mask = self.mm.gfp(gfp)
        if not isinstance(order, int):
            raise PextlabError(f"order must be an int, got {order!r}")
        pfn = _alloc_pages(self.mm, mask, order, nid)
        return None if pfn < 0 else pfn

    def free_pages(self, pfn: int, order: int = 0) -> None:
        """Free a block returned by ``alloc_pages`` (same order)."""
        page_alloc.free_pages(self.mm, int(pfn), int(order))

    def alloc_pages_exact(self, size: int, gfp="GFP_KERNEL", nid: int | None = None):
        """alloc_pages_exact_nid: exactly ceil(size/4096) pages, or None."""
        pfn = page_alloc.alloc_pages_exact_nid(self.mm, -1 if nid is None else nid, int(size),
                                               self.mm.gfp(gfp))
        return None if pfn < 0 else pfn

    # --- frames ----------------------------------------------------------------------------
    def df_zones(self) -> pd.DataFrame:
        """Zones per node (/proc/zoneinfo). Columns: see pextlab.schema SCHEMAS['zones']."""
        return frames.df_zones(self.mm)

    def df_sections(self) -> pd.DataFrame:
        """Memory sections (SCHEMAS['sections'])."""
        return frames.df_sections(self.mm)

    def df_memory_blocks(self) -> pd.DataFrame:
        """Memory blocks as /sys/devices/system/memory shows them (SCHEMAS['memory_blocks'])."""
        return frames.df_memory_blocks(self.mm)

    def df_page_ext(self) -> pd.DataFrame:
        """page_ext tables with their cost and where they live (SCHEMAS['page_ext'])."""
        return frames.df_page_ext(self.mm)

    def df_buddyinfo(self) -> pd.DataFrame:
        """/proc/buddyinfo, long form (SCHEMAS['buddyinfo'])."""
        return frames.df_buddyinfo(self.mm)

    def df_pagetypeinfo(self) -> pd.DataFrame:
        """/proc/pagetypeinfo free lists (SCHEMAS['pagetypeinfo'])."""
        return frames.df_pagetypeinfo(self.mm)

    def df_pageblocks(self) -> pd.DataFrame:
        """/proc/pagetypeinfo block counts and mixed blocks (SCHEMAS['pageblocks'])."""
        return frames.df_pageblocks(self.mm)

    def df_extfrag(self) -> pd.DataFrame:
        """unusable_index / extfrag_index per zone and order (SCHEMAS['extfrag'])."""
        return frames.df_extfrag(self.mm)

    def df_page_owner(self) -> pd.DataFrame:
        """One row per allocated block (SCHEMAS['page_owner']); empty when page_owner is off."""
        return frames.df_page_owner(self.mm)

    def df_stacks(self, threshold: int = 0) -> pd.DataFrame:
        """page_owner_stacks/show_stacks (SCHEMAS['stacks'])."""
        return frames.df_stacks(self.mm, threshold)

    # --- kernel text -----------------------------------------------------------------------
    def debugfs(self, name: str) -> str:
        """Text of a debugfs file: ``page_owner``, ``page_owner_stacks/show_stacks``,
        ``page_owner_stacks/count_threshold``, ``extfrag/unusable_index``,
        ``extfrag/extfrag_index`` -- exactly as the kernel of this profile prints it.

        Reading page_owner with page_owner off fails as the kernel does (-EINVAL:
        the file does not exist).
        """
        from .procfs import writers
        from .procfs.page_owner import format_page_owner
        from .procfs.stacks import format_show_stacks
        po = self.mm.page_owner
        if name.startswith("extfrag/"):
            return writers.proc_text(self, name.split("/", 1)[1])
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
                           f"extfrag/unusable_index, extfrag/extfrag_index")

    def set_count_threshold(self, n: int) -> None:
        """``echo n > /sys/kernel/debug/page_owner_stacks/count_threshold``."""
        if self.mm.page_owner is None:
            raise PextlabError("page_owner is disabled; no page_owner_stacks/count_threshold")
        if int(n) < 0:
            raise PextlabError("count_threshold is an unsigned number")
        self.mm.page_owner.count_threshold = int(n)

    def proc(self, name: str) -> str:
        """The text of a /proc file: ``buddyinfo``, ``pagetypeinfo``, ``zoneinfo``."""
        from .procfs import writers
        return writers.proc_text(self, name)


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
    >>> "allocated 18874368 bytes of page_ext" in m.dmesg
    True
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
    m = Machine(mm, seed=seed, spec=spec)
    m._frag_init()
    return m


def _document_columns():
    """Append each frame's column list (from pextlab.schema) to the df_* docstrings."""
    from .schema import SCHEMAS
    names = {"df_zones": "zones", "df_sections": "sections", "df_memory_blocks": "memory_blocks",
             "df_page_ext": "page_ext", "df_buddyinfo": "buddyinfo",
             "df_pagetypeinfo": "pagetypeinfo", "df_pageblocks": "pageblocks",
             "df_extfrag": "extfrag", "df_page_owner": "page_owner", "df_stacks": "stacks"}
    for meth, schema in names.items():
        f = getattr(Machine, meth)
        cols = "\n".join(f"        {c} : {t}" for c, t in SCHEMAS[schema].items())
        f.__doc__ = (f.__doc__ or "") + f"\n\n        Columns\n        -------\n{cols}\n"


_document_columns()
