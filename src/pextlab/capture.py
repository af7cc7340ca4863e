"""A folder (or .tar.gz) of files copied from a real machine: ``read_capture``.

Capture folder convention (what ``pextlab capture`` writes and
``data/real-kernel/*`` follow): one file per kernel file, named after it --
``iomem``, ``zoneinfo``, ``buddyinfo``, ``pagetypeinfo``, ``meminfo``,
``vmstat``, ``cmdline``, ``dmesg``, ``page_owner``,
``page_owner_stacks_show_stacks``, ``extfrag_index``, ``unusable_index``,
``memory_blocks``, ``node_info``, ``kpageflags.bin``, ``cma_debugfs``,
``cma_sysfs`` -- each with an optional
``.txt`` and an optional ``.gz``, and an optional ``.<snapshot>`` label before
them (``buddyinfo.after_compact.txt``).  ``read_capture(path,
snapshot="after_compact")`` prefers the labelled files and falls back to the
unlabelled ones.

Every ``df_*`` method returns the same schema as the simulator's (pextlab.schema).
"""
from __future__ import annotations

import re
import tarfile
import tempfile
from functools import cached_property
from pathlib import Path

import pandas as pd

from .errors import ParseError, PextlabError
from .fidelity import compare as compare_with_simulator
from .kernel.layout import Layout, NumaMemblk, layout_from_iomem
from .procfs.buddyinfo import read_buddyinfo
from .procfs.cma import read_cma, zone_nr_free_cma
from .procfs.dmesg import read_dmesg
from .procfs.extfrag import read_extfrag
from .procfs.iomem import read_iomem, system_ram_ranges
from .procfs.meminfo import read_meminfo
from .procfs.memory_blocks import read_memory_blocks
from .procfs.page_owner import read_page_owner
from .procfs.pagetypeinfo import read_pagetypeinfo
from .procfs.stacks import read_show_stacks
from .procfs.vmstat import read_vmstat
from .procfs.zoneinfo import read_zoneinfo
from .procfs.limits import NR_CPUS_LIMIT, bounded_int
from .procfs.textio import find_capture_file, read_text
from .schema import empty

__all__ = ["Capture", "read_capture"]


class Capture:
    """Files of one real machine, read on demand into pextlab frames."""

    def __init__(self, folder, snapshot: str | None = None, strict: bool = True):
        self.folder = Path(folder)
        self.snapshot = snapshot
        self.strict = strict
        if not self.folder.is_dir():
            raise PextlabError(f"capture folder {self.folder} does not exist")

    def __repr__(self):
        snap = f", snapshot={self.snapshot!r}" if self.snapshot else ""
        return f"Capture({str(self.folder)!r}{snap})"

    # --- files -----------------------------------------------------------------------------
    def path(self, name: str, required: bool = True):
        p = find_capture_file(self.folder, name, self.snapshot)
        if p is None and required:
            raise PextlabError(f"capture {self.folder} has no '{name}' file "
                               f"(looked for {name}[.{self.snapshot}][.txt][.gz])")
        return p

    def has(self, name: str) -> bool:
        return self.path(name, required=False) is not None

    def text(self, name: str) -> str:
        return read_text(self.path(name))

    # --- facts -----------------------------------------------------------------------------
    @cached_property
    def cmdline(self) -> str:
        """The kernel command line (``cmdline`` file, else from dmesg)."""
        if self.has("cmdline"):
            return self.text("cmdline").strip()
        info = self.dmesg_info
        if info.command_line:
            return info.command_line
        raise PextlabError(f"capture {self.folder}: no cmdline file and no command line in dmesg")

    @cached_property
    def dmesg(self) -> str:
        return self.text("dmesg")

    @cached_property
    def dmesg_info(self):
        return read_dmesg(self.path("dmesg"))

    @cached_property
    def iomem(self):
        return read_iomem(self.path("iomem"))

    @cached_property
    def nr_cpus(self) -> int:
        """CPUs of the machine: the first line of ``cpuinfo_summary`` (1 without the file).

        ``pextlab capture`` writes the number of ``processor`` lines of
        /proc/cpuinfo there; 0 (none found) reads as 1.  Anything but a number
        below ``NR_CPUS_LIMIT`` (8192, arch/x86/Kconfig) is a ParseError.
        """
        p = self.path("cpuinfo_summary", required=False)
        if p is None:
            return 1
        lines = read_text(p).splitlines()
        first = lines[0].strip() if lines else ""
        n = bounded_int(first, 0, NR_CPUS_LIMIT) if first.isdigit() else None
        if n is None:
            raise ParseError(p, 1, f"the number of CPUs (0..{NR_CPUS_LIMIT}) on the first line",
                             lines[0] if lines else "<empty file>")
        return max(n, 1)

    @cached_property
    def layout(self) -> Layout:
        """The machine's boot memory layout (iomem + dmesg node ranges)."""
        ram = system_ram_ranges(self.iomem)
        info = self.dmesg_info
        kimg = None
        starts = [e.start for e in self.iomem if e.name == "Kernel code"]
        ends = [e.end for e in self.iomem if e.name == "Kernel bss"]
        if starts and ends:
            kimg = (starts[0] >> 12, (ends[0] + 4096) >> 12)
        if kimg is not None:
            # the kernel reserves whole 2 MiB-aligned image pages up to _end
            kimg = (kimg[0], ((kimg[1] + 511) // 512) * 512)
        nodes = sorted({n for n, _, _ in info.node_ranges}) or [0]
        # ACPI SRAT: "ACPI: SRAT: Node 0 PXM 0 [mem 0x100000000-0x2bfffffff] hotplug"
        srat = [NumaMemblk(int(n), int(a, 16) >> 12, (int(b, 16) + 1) >> 12, bool(h)) for n, a, b, h in
                re.findall(r"SRAT: Node (\d+) PXM \d+ \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]( hotplug)?",
                           self.dmesg)]
        hot = [(b.start_pfn, b.end_pfn) for b in srat if b.hotplug]
        hotplug = (min(a for a, _ in hot), max(b for _, b in hot)) if hot else None
        return layout_from_iomem(ram, info.node_ranges, kernel_image=kimg, nr_cpus=self.nr_cpus,
                                 hotplug=hotplug,
                                 cpu_nodes=tuple(nodes[i % len(nodes)] for i in range(self.nr_cpus)),
                                 source=f"capture {self.folder.name}", srat=srat,
                                 numa_fake="numa=fake=" in self.cmdline,
                                 # X86_FEATURE_HYPERVISOR: a PARAVIRT kernel names bare metal
                                 hypervisor="paravirtualized kernel on bare hardware" not in self.dmesg)

    # --- frames ----------------------------------------------------------------------------
    def df_zones(self) -> pd.DataFrame:
        return read_zoneinfo(self.path("zoneinfo"))

    def df_buddyinfo(self) -> pd.DataFrame:
        return read_buddyinfo(self.path("buddyinfo"))

    def _pagetypeinfo(self):
        return read_pagetypeinfo(self.path("pagetypeinfo"))

    def df_pagetypeinfo(self) -> pd.DataFrame:
        return self._pagetypeinfo()[0]

    def df_pageblocks(self) -> pd.DataFrame:
        return self._pagetypeinfo()[1]

    def df_extfrag(self) -> pd.DataFrame:
        return read_extfrag(self.path("unusable_index", False), self.path("extfrag_index", False))

    def df_memory_blocks(self) -> pd.DataFrame:
        if not self.has("memory_blocks"):
            return empty("memory_blocks")
        return read_memory_blocks(self.path("memory_blocks"))

    def df_meminfo(self) -> pd.DataFrame:
        return read_meminfo(self.path("meminfo"))

    def df_vmstat(self) -> pd.DataFrame:
        return read_vmstat(self.path("vmstat"))

    def df_page_owner(self) -> pd.DataFrame:
        """The page_owner dump (an empty frame when the capture has none, as a
        Machine with page_owner off gives)."""
        if not self.has("page_owner"):
            return empty("page_owner")
        return read_page_owner(self.path("page_owner"), strict=self.strict)

    def df_stacks(self, threshold: int = 0) -> pd.DataFrame:
        """page_owner_stacks/show_stacks as captured, the stacks with at least
        ``threshold`` base pages (the kernel's count_threshold rule, stack_print)."""
        if not self.has("page_owner_stacks_show_stacks"):
            return empty("stacks")
        df = read_show_stacks(self.path("page_owner_stacks_show_stacks"))
        if threshold:
            df = df[df["nr_base_pages"] >= int(threshold)].reset_index(drop=True)
        return df

    def df_cma(self) -> pd.DataFrame:
        """The CMA areas (``cma_debugfs`` and ``cma_sysfs`` files; zone and free CMA pages
        from zoneinfo); an empty frame when the capture has no CMA files."""
        if not self.has("cma_debugfs"):
            return empty("cma")
        zones = None
        if self.has("zoneinfo"):
            zones = zone_nr_free_cma(self.path("zoneinfo"), self.df_zones())
        return read_cma(self.path("cma_debugfs"), self.path("cma_sysfs", False), zones)

    def compare(self, cmdline: str | None = None, profile: str = "v6.12") -> pd.DataFrame:
        """The simulator booted from this capture vs the real machine, figure by figure
        (:func:`pextlab.fidelity.compare`)."""
        return compare_with_simulator(self, cmdline=cmdline, profile=profile)


def read_capture(path, snapshot: str | None = None, strict: bool = True) -> Capture:
    """Open a capture folder or a ``.tar.gz`` of one.

    >>> cap = read_capture("data/real-kernel/b-1G")
    >>> cap.layout.nodes, cap.cmdline
    ((0,), 'console=ttyS0 scenario=b-1G page_owner=on leaky=1 compact=1 compact_dump=1')
    """
    p = Path(path)
    if p.is_file() and (p.name.endswith(".tar.gz") or p.name.endswith(".tgz") or p.name.endswith(".tar")):
        tmp = Path(tempfile.mkdtemp(prefix="pextlab-capture-"))
        try:
            with tarfile.open(p) as tf:
                tf.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise PextlabError(f"cannot unpack capture archive {p}: {e}") from None
        subs = [d for d in tmp.iterdir() if d.is_dir()]
        folder = subs[0] if len(subs) == 1 and not any(tmp.glob("*.txt*")) else tmp
        return Capture(folder, snapshot, strict)
    if not p.exists():
        raise PextlabError(f"capture {p} does not exist")
    return Capture(p, snapshot, strict)
