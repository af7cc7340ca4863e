"""A folder (or .tar.gz) of files copied from a real machine: ``read_capture``.

Capture folder convention (what ``pextlab capture`` writes and
``data/real-kernel/*`` follow): one file per kernel file, named after it --
``iomem``, ``zoneinfo``, ``buddyinfo``, ``pagetypeinfo``, ``meminfo``,
``vmstat``, ``cmdline``, ``dmesg``, ``page_owner``,
``page_owner_stacks_show_stacks``, ``extfrag_index``, ``unusable_index``,
``memory_blocks``, ``node_info``, ``kpageflags.bin`` -- each with an optional
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

from .fidelity import compare as compare_with_simulator
from .errors import PextlabError
from .kernel.layout import Layout, NumaMemblk, layout_from_iomem
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
        from .procfs.dmesg import read_dmesg
        return read_dmesg(self.path("dmesg"))

    @cached_property
    def iomem(self):
        from .procfs.iomem import read_iomem
        return read_iomem(self.path("iomem"))

    @cached_property
    def nr_cpus(self) -> int:
        p = self.path("cpuinfo_summary", required=False)
        if p is not None:
            first = read_text(p).strip().splitlines()[0].strip()
            if first.isdigit():
                return int(first)
        return 1

    @cached_property
    def layout(self) -> Layout:
        """The machine's boot memory layout (iomem + dmesg node ranges)."""
        from .procfs.iomem import system_ram_ranges
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
        from .procfs.zoneinfo import read_zoneinfo
        return read_zoneinfo(self.path("zoneinfo"))

    def df_buddyinfo(self) -> pd.DataFrame:
        from .procfs.buddyinfo import read_buddyinfo
        return read_buddyinfo(self.path("buddyinfo"))

    def _pagetypeinfo(self):
        from .procfs.pagetypeinfo import read_pagetypeinfo
        return read_pagetypeinfo(self.path("pagetypeinfo"))

    def df_pagetypeinfo(self) -> pd.DataFrame:
        return self._pagetypeinfo()[0]

    def df_pageblocks(self) -> pd.DataFrame:
        return self._pagetypeinfo()[1]

    def df_extfrag(self) -> pd.DataFrame:
        from .procfs.extfrag import read_extfrag
        return read_extfrag(self.path("unusable_index", False), self.path("extfrag_index", False))

    def df_memory_blocks(self) -> pd.DataFrame:
        from .procfs.memory_blocks import read_memory_blocks
        if not self.has("memory_blocks"):
            return empty("memory_blocks")
        return read_memory_blocks(self.path("memory_blocks"))

    def df_meminfo(self) -> pd.DataFrame:
        from .procfs.meminfo import read_meminfo
        return read_meminfo(self.path("meminfo"))

    def df_vmstat(self) -> pd.DataFrame:
        from .procfs.vmstat import read_vmstat
        return read_vmstat(self.path("vmstat"))

    def df_page_owner(self) -> pd.DataFrame:
        from .procfs.page_owner import read_page_owner
        return read_page_owner(self.path("page_owner"), strict=self.strict)

    def df_stacks(self, threshold: int = 0) -> pd.DataFrame:
        """page_owner_stacks/show_stacks as captured, the stacks with at least
        ``threshold`` base pages (the kernel's count_threshold rule, stack_print)."""
        from .procfs.stacks import read_show_stacks
        df = read_show_stacks(self.path("page_owner_stacks_show_stacks"))
        if threshold:
            df = df[df["nr_base_pages"] >= int(threshold)].reset_index(drop=True)
        return df

    def compare(self, cmdline: str | None = None, profile: str = "v6.12") -> pd.DataFrame:
        """The simulator booted from this capture vs the real machine, figure by figure
        (:func:`pextlab.fidelity.compare`)."""
        return compare_with_simulator(self, cmdline=cmdline, profile=profile)


def read_capture(path, snapshot: str | None = None, strict: bool = True) -> Capture:
    """Open a capture folder or a ``.tar.gz`` of one.

    >>> cap = read_capture("data/real-kernel/b-1G")          # doctest: +SKIP
    >>> cap.layout.nodes, cap.cmdline                         # doctest: +SKIP
    ((0,), 'console=ttyS0 scenario=b-1G page_owner=on ...')
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
