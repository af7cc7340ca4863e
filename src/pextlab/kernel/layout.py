"""Physical memory layouts: what firmware hands the kernel (e820 RAM + ACPI SRAT).

A :class:`Layout` lists the usable RAM (the e820 "usable" ranges, as
memblock.memory holds them), the firmware's NUMA affinity ranges (ACPI SRAT,
:class:`NumaMemblk`), the kernel image, the CPUs, the hotpluggable window and
whether a hypervisor runs the machine.  It is built either from a spec that
follows qemu's rules (``layout_from_spec``: ``-machine pc``/``q35``, ``-m``,
``-numa``, ``maxmem``) or from a real machine's ``/proc/iomem`` and dmesg
(``layout_from_iomem``).

The command line edits the e820 map before memblock sees it
(arch/x86/kernel/e820.c): ``mem=`` (:func:`apply_mem_limit`) and ``memmap=``
(:func:`apply_memmap`).  Which node owns which RAM is decided later, at boot,
from ``srat`` (pextlab.kernel.numa_memblks, and numa_emulation for
``numa=fake=``): the node ids of ``ram`` are what the firmware says.

Everything here is in pfns ([start, end) half-open) unless a name says bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..errors import LayoutError
from .profiles import PAGE_SHIFT

__all__ = ["Layout", "RamRange", "NumaMemblk", "parse_size", "layout_from_spec",
           "layout_from_iomem", "apply_mem_limit", "apply_memmap", "parse_memmap"]

MiB = 1 << 20
GiB = 1 << 30


def parse_size(text) -> int:
    """Kernel ``memparse``: ``"1G"``, ``"512M"``, ``"64k"``, ``"0x1000"`` -> bytes."""
    if isinstance(text, int):
        if text < 0:
            raise LayoutError(f"size must be non-negative, got {text}")
        return text
    m = re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*([kKmMgGtTpP]?)(?:i?B)?\s*", str(text))
    if not m:
        raise LayoutError(f"cannot parse size {text!r}: expected a number with an optional "
                          f"K/M/G/T suffix, e.g. '1G' or '512M'")
    n = int(m.group(1), 0)
    shift = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50}[m.group(2).lower()]
    return n << shift


@dataclass(frozen=True)
class RamRange:
    nid: int
    start_pfn: int
    end_pfn: int

    @property
    def nr_pages(self) -> int:
        return self.end_pfn - self.start_pfn


@dataclass(frozen=True)
class NumaMemblk:
    """One NUMA memory affinity range (``struct numa_memblk``; from an ACPI SRAT entry:
    ``ACPI: SRAT: Node N PXM N [mem 0x...-0x...]``, ``hotplug`` when the entry carries
    the hot-pluggable flag)."""
    nid: int
    start_pfn: int
    end_pfn: int
    hotplug: bool = False


@dataclass(frozen=True)
class Layout:
    """A machine's boot memory map.

    Attributes
    ----------
    ram : tuple of RamRange
        Usable RAM, sorted by pfn (memblock.memory), each with the node the
        firmware puts it in.
    srat : tuple of NumaMemblk
        The firmware's NUMA affinity ranges (ACPI SRAT), in table order.
        Empty: no SRAT -- one node ("No NUMA configuration found") unless
        ``ram`` names several nodes, whose contiguous runs then stand for the
        SRAT (:attr:`numa_memblks`).
    kernel_image : (start_pfn, end_pfn)
        "Kernel code" .. "Kernel bss" from /proc/iomem.
    nr_cpus : int
    cpu_nodes : tuple of int
        Node of each CPU.
    hotplug_base_pfn, hotplug_end_pfn : int
        The window where DIMMs can be hot-added (qemu ``maxmem``); 0, 0 if none.
    hypervisor : bool
        X86_FEATURE_HYPERVISOR: a guest (qemu, KVM, firecracker).  Bare metal
        above 64 GiB always gets 2 GiB memory blocks (probe_memory_block_size).
    machine : str
        "pc", "q35" or "capture".
    source : str
        Where the layout came from (for reports).
    """
    ram: tuple
    kernel_image: tuple = (0x1000, 0x2400)
    nr_cpus: int = 1
    cpu_nodes: tuple = (0,)
    hotplug_base_pfn: int = 0
    hotplug_end_pfn: int = 0
    machine: str = "pc"
    source: str = "spec"
    srat: tuple = field(default=())
    hypervisor: bool = True

    def __post_init__(self):
        if not self.ram:
            raise LayoutError("layout has no RAM ranges")
        last = -1
        for r in self.ram:
            if r.start_pfn >= r.end_pfn:
                raise LayoutError(f"empty or inverted RAM range node {r.nid} "
                                  f"[{r.start_pfn:#x}, {r.end_pfn:#x})")
            if r.start_pfn < last:
                raise LayoutError(f"RAM ranges overlap or are unsorted at pfn {r.start_pfn:#x}")
            if r.nid < 0 or r.nid > 1023:
                raise LayoutError(f"node id {r.nid} out of range 0..1023")
            last = r.end_pfn
        for b in self.srat:
            if b.start_pfn >= b.end_pfn or not 0 <= b.nid <= 1023:
                raise LayoutError(f"bad SRAT range node {b.nid} [{b.start_pfn:#x}, {b.end_pfn:#x})")
        if self.nr_cpus < 1:
            raise LayoutError("a machine needs at least one CPU")

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({r.nid for r in self.ram}))

    @property
    def max_pfn(self) -> int:
        """e820__end_of_ram_pfn: the end of the last RAM range."""
        return max(r.end_pfn for r in self.ram)

    @property
    def total_pages(self) -> int:
        return sum(r.nr_pages for r in self.ram)

    @property
    def numa_memblks(self) -> tuple:
        """The NUMA affinity the firmware reports: ``srat``, or, without one, the
        contiguous same-node runs of ``ram`` when it names several nodes (a layout
        built by hand), or () for a machine without NUMA information."""
        if self.srat:
            return self.srat
        if len(self.nodes) < 2:
            return ()
        out = []
        for r in self.ram:
            if out and out[-1].nid == r.nid:
                out[-1] = NumaMemblk(r.nid, out[-1].start_pfn, r.end_pfn)
            else:
                out.append(NumaMemblk(r.nid, r.start_pfn, r.end_pfn))
        return tuple(out)

    def node_ranges(self, nid: int) -> list[RamRange]:
        return [r for r in self.ram if r.nid == nid]

    def absent_pages(self, start_pfn: int, end_pfn: int, nid: int | None = None) -> int:
        """Pages of [start_pfn, end_pfn) with no RAM (of node ``nid``, or of any node):
        mm/mm_init.c __absent_pages_in_range."""
        if start_pfn >= end_pfn:
            return 0
        absent = end_pfn - start_pfn
        for r in self.ram:
            if nid is None or r.nid == nid:
                absent -= max(0, min(r.end_pfn, end_pfn) - max(r.start_pfn, start_pfn))
        return absent

    def describe(self) -> str:
        lines = [f"{self.machine} machine, {self.nr_cpus} CPU(s), "
                 f"{self.total_pages << PAGE_SHIFT >> 20} MiB RAM in {len(self.nodes)} node(s)"]
        for r in self.ram:
            lines.append(f"  node {r.nid}: [mem {r.start_pfn << PAGE_SHIFT:#018x}-"
                         f"{(r.end_pfn << PAGE_SHIFT) - 1:#018x}]")
        return "\n".join(lines)


def _pfn_down(addr: int) -> int:
    return addr >> PAGE_SHIFT


def _pfn_up(addr: int) -> int:
    return (addr + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT


def _qemu_srat(bounds, lowmem: int, hotplug) -> tuple:
    """qemu hw/i386/acpi-build.c build_srat: each node's share of RAM (in "ram offset"
    order) as guest addresses, with the 640 KiB hole [0xa0000, 0x100000) and the PCI
    hole below 4 GiB cut out, then the device-memory window as a hot-pluggable range
    of the last node."""
    out = []
    for nid, a, b in bounds:
        pieces = []
        if a < lowmem:
            lo, hi = a, min(b, lowmem)
            if lo < 0xA0000 < hi:
                pieces += [(lo, 0xA0000), (0x100000, hi)] if hi > 0x100000 else [(lo, 0xA0000)]
            else:
                pieces.append((max(lo, 0x100000) if 0xA0000 <= lo < 0x100000 else lo, hi))
        if b > lowmem:
            pieces.append((4 * GiB + max(a, lowmem) - lowmem, 4 * GiB + b - lowmem))
        out += [NumaMemblk(nid, s >> PAGE_SHIFT, e >> PAGE_SHIFT) for s, e in pieces if s < e]
    if hotplug:
        out.append(NumaMemblk(bounds[-1][0], hotplug[0], hotplug[1], True))
    return tuple(out)


def layout_from_spec(mem="1G", nodes=1, machine="pc", node_mem=None, node_pattern=None,
                     nr_cpus=None, maxmem=None) -> Layout:
    """A qemu-like layout.

    Parameters
    ----------
    mem : size
        Total RAM (``-m``).
    nodes : int
        Number of NUMA nodes; RAM is split evenly (``-numa node,memdev=...``),
        unless ``node_mem`` gives each node's size.
    machine : {"pc", "q35"}
        Where the below-4G RAM stops: pc puts RAM up to 3 GiB below 4 GiB when
        RAM >= 3.5 GiB (else all of it), q35 up to 2 GiB when RAM >= 2.75 GiB
        (else all of it) (qemu hw/i386/pc_piix.c, pc_q35.c).  SeaBIOS keeps the
        first page, 0x9fc00-0xfffff and the top 128 KiB of low RAM.
    node_pattern : sequence of int, optional
        Interleave nodes in equal chunks of this many sections' worth, e.g.
        ``[0, 1, 0, 1]``: RAM is cut into ``len(pattern)`` equal pieces owned by
        those nodes (the N0|N1|N0|N1 layout mm/page_ext.c's init loop mentions).
    maxmem : size, optional
        qemu ``maxmem``: DIMMs can be hot-added above the RAM, from the next
        1 GiB boundary above 4 GiB / the end of RAM.

    With several nodes or ``maxmem`` qemu builds an ACPI SRAT (``srat``): the
    nodes' memory as :func:`_qemu_srat` cuts it, and the hotplug window.
    """
    if machine not in ("pc", "q35"):
        raise LayoutError(f"unknown machine type {machine!r}; expected 'pc' or 'q35'")
    total = parse_size(mem)
    if total < 16 * MiB:
        raise LayoutError(f"mem={mem!r} is too small: the simulator needs at least 16 MiB")
    if total > (1 << 46):
        raise LayoutError(f"mem={mem!r} exceeds MAX_PHYSMEM_BITS (46 bits, 64 TiB) of x86_64 "
                          f"with 4-level paging")
    if node_mem is not None:
        sizes = [parse_size(s) for s in node_mem]
        if sum(sizes) != total:
            raise LayoutError(f"node_mem sizes add up to {sum(sizes)} bytes, not mem={total}")
        nodes = len(sizes)
    else:
        if not isinstance(nodes, int) or nodes < 1:
            raise LayoutError(f"nodes must be a positive integer, got {nodes!r}")
        if nodes > 64:
            raise LayoutError(f"nodes={nodes}: the simulator supports at most 64 nodes")
        per = (total // nodes) & ~(MiB - 1)
        if per < 16 * MiB:
            raise LayoutError(f"{nodes} nodes of {per >> 20} MiB: each node needs >= 16 MiB")
        sizes = [per] * (nodes - 1) + [total - per * (nodes - 1)]
    # guest-physical placement of RAM
    if machine == "pc":
        lowmem = 0xC0000000 if total >= 0xE0000000 else total
    else:
        lowmem = 0x80000000 if total >= 0xB0000000 else total
    low_end = lowmem - 0x20000          # SeaBIOS keeps the top 128 KiB of low RAM
    segments = [(0x1000, 0x9FC00), (0x100000, low_end)]
    if total > lowmem:
        segments.append((4 * GiB, 4 * GiB + (total - lowmem)))
    # assign guest-physical bytes to nodes in order of "ram offset" (qemu numa memdevs)
    if node_pattern:
        pattern = list(node_pattern)
        if any((not isinstance(n, int)) or n < 0 for n in pattern):
            raise LayoutError(f"node_pattern must list node ids, got {node_pattern!r}")
        chunk = total // len(pattern)
        bounds = [(pattern[i], i * chunk, (i + 1) * chunk if i < len(pattern) - 1 else total)
                  for i in range(len(pattern))]
        nodes = len(set(pattern))
    else:
        bounds, off = [], 0
        for nid, s in enumerate(sizes):
            bounds.append((nid, off, off + s))
            off += s
    ram = []
    # offset in RAM -> guest address: low RAM maps 1:1 up to lowmem, the rest above 4G
    def to_addr(off):
        return off if off < lowmem else 4 * GiB + (off - lowmem)
    for nid, a, b in bounds:
        pieces = []
        if a < lowmem:
            pieces.append((to_addr(a), to_addr(min(b, lowmem) - 1) + 1))
        if b > lowmem:
            pieces.append((to_addr(max(a, lowmem)), to_addr(b - 1) + 1))
        for pa, pb in pieces:
            for sa, sb in segments:
                lo, hi = max(pa, sa), min(pb, sb)
                if lo < hi:
                    s_pfn, e_pfn = _pfn_up(lo), _pfn_down(hi)
                    if s_pfn < e_pfn:
                        ram.append(RamRange(nid, s_pfn, e_pfn))
    ram.sort(key=lambda r: r.start_pfn)
    ram = _merge(ram)
    if nr_cpus is None:
        nr_cpus = max(1, len({r.nid for r in ram}))
    node_ids = sorted({r.nid for r in ram})
    cpu_nodes = tuple(node_ids[i % len(node_ids)] for i in range(nr_cpus))
    hp_base = hp_end = 0
    if maxmem is not None:
        maxb = parse_size(maxmem)
        if maxb < total:
            raise LayoutError(f"maxmem={maxmem!r} is below mem={mem!r}")
        # qemu: device memory starts at the 1 GiB-aligned end of above-4G RAM (or 4 GiB)
        top = max(4 * GiB, 4 * GiB + max(0, total - lowmem))
        top = (top + GiB - 1) & ~(GiB - 1)
        hp_base = top >> PAGE_SHIFT
        hp_end = (top + (maxb - total)) >> PAGE_SHIFT
    srat = ()
    if len(bounds) > 1 or maxmem is not None:
        srat = _qemu_srat(bounds, lowmem, (hp_base, hp_end) if hp_end > hp_base else None)
    return Layout(ram=tuple(ram), nr_cpus=nr_cpus, cpu_nodes=cpu_nodes, machine=machine,
                  hotplug_base_pfn=hp_base, hotplug_end_pfn=hp_end, srat=srat,
                  source=f"spec mem={mem} nodes={nodes} machine={machine}")


def _merge(ram: list[RamRange]) -> list[RamRange]:
    out: list[RamRange] = []
    for r in ram:
        if out and out[-1].nid == r.nid and out[-1].end_pfn == r.start_pfn:
            out[-1] = RamRange(r.nid, out[-1].start_pfn, r.end_pfn)
        else:
            out.append(r)
    return out


def layout_from_iomem(system_ram, node_ranges=None, kernel_image=None, nr_cpus=1,
                      cpu_nodes=None, hotplug=None, source="capture", srat=(),
                      numa_fake: bool = False, hypervisor: bool = True) -> Layout:
    """A layout from a real machine.

    Parameters
    ----------
    system_ram : list of (start_pfn, end_pfn)
        Top-level "System RAM" ranges of /proc/iomem (pfns, end exclusive).
    node_ranges : list of (nid, start_pfn, end_pfn), optional
        dmesg "Early memory node ranges".  When given they are the boot RAM
        (iomem may also list memory hot-added later); else every iomem range is
        boot RAM of node 0.
    kernel_image : (start_pfn, end_pfn), optional
    hotplug : (base_pfn, end_pfn), optional
    srat : sequence of NumaMemblk
        The dmesg ``ACPI: SRAT: Node`` ranges.
    numa_fake : bool
        The machine booted with ``numa=fake=``: its node ranges are the emulated
        nodes.  The layout gives the RAM back to the firmware's nodes (``srat``,
        else node 0), so that booting it with the same command line emulates the
        nodes again (pextlab.kernel.numa_emulation) rather than twice.
    hypervisor : bool
        The dmesg said "Hypervisor detected".
    """
    if node_ranges:
        ram = [RamRange(int(n), int(s), int(e)) for n, s, e in node_ranges]
    else:
        if not system_ram:
            raise LayoutError("no 'System RAM' ranges in iomem and no dmesg node ranges")
        ram = [RamRange(0, int(s), int(e)) for s, e in system_ram]
    ram.sort(key=lambda r: r.start_pfn)
    srat = tuple(srat)
    if numa_fake:
        ram = [RamRange(_firmware_nid(srat, r.start_pfn), r.start_pfn, r.end_pfn) for r in ram]
    ram = _merge(ram)
    nodes = sorted({r.nid for r in ram})
    if cpu_nodes is None or numa_fake:
        cpu_nodes = tuple(nodes[i % len(nodes)] for i in range(nr_cpus))
    hp_base, hp_end = hotplug if hotplug else (0, 0)
    kw = {}
    if kernel_image:
        kw["kernel_image"] = tuple(kernel_image)
    return Layout(ram=tuple(ram), nr_cpus=nr_cpus, cpu_nodes=tuple(cpu_nodes), machine="capture",
                  hotplug_base_pfn=hp_base, hotplug_end_pfn=hp_end, source=source, srat=srat,
                  hypervisor=hypervisor, **kw)


def _firmware_nid(srat, pfn: int) -> int:
    for b in srat:
        if b.start_pfn <= pfn < b.end_pfn:
            return b.nid
    return 0


def _remove_ram(ram, start: int, end: int) -> list[RamRange]:
    out = []
    for r in ram:
        if r.end_pfn <= start or end <= r.start_pfn:
            out.append(r)
            continue
        if r.start_pfn < start:
            out.append(RamRange(r.nid, r.start_pfn, start))
        if end < r.end_pfn:
            out.append(RamRange(r.nid, end, r.end_pfn))
    return out


def apply_mem_limit(layout: Layout, limit_bytes: int) -> Layout:
    """``mem=``: drop RAM above the physical address ``limit_bytes`` (arch/x86/kernel/e820.c
    parse_memopt: e820__range_remove(mem_size, ULLONG_MAX - mem_size, E820_TYPE_RAM))."""
    ram = _remove_ram(layout.ram, _pfn_down(limit_bytes), 1 << 52)
    if not ram:
        raise LayoutError(f"mem={limit_bytes} leaves no RAM")
    return replace(layout, ram=tuple(ram))


def parse_memmap(text: str) -> list[tuple]:
    """One ``memmap=`` value (several may be comma-separated) as (kind, size, start)
    tuples, as arch/x86/kernel/e820.c parse_memmap_one reads them: ``nn@ss`` adds RAM,
    ``nn$ss`` / ``nn#ss`` / ``nn!ss`` mark reserved / ACPI data / persistent memory (no
    longer RAM), ``nn%ss-t+u`` retypes, a bare ``nn`` limits memory like ``mem=``."""
    out = []
    for part in text.split(","):
        if part.strip() == "exactmap":
            raise LayoutError("memmap=exactmap is not modelled")
        m = re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+[kKmMgGtT]?)(?:([@$#!%])(0x[0-9a-fA-F]+|\d+[kKmMgGtT]?)"
                         r"(?:-(\d+)\+(\d+))?)?\s*", part)
        if not m:
            raise LayoutError(f"memmap={text!r}: cannot parse {part!r} (expected nn[KMG]@ss[KMG], "
                              f"nn$ss, nn#ss, nn!ss or nn)")
        size = parse_size(m.group(1))
        kind = m.group(2) or "limit"
        start = parse_size(m.group(3)) if m.group(3) else 0
        if kind == "%":
            kind = "ram" if m.group(5) == "1" else "retype"
        out.append((kind, size, start))
    return out


def apply_memmap(layout: Layout, entries) -> Layout:
    """Apply parsed ``memmap=`` entries to the RAM, in order (e820__range_add /
    e820__range_remove; a later non-RAM type wins over RAM where they overlap, as
    e820__update_table resolves overlaps).  Byte ranges become whole pages the way
    memblock trims them: RAM rounds inwards, a non-RAM range takes every page it
    touches."""
    ram = list(layout.ram)
    for kind, size, start in entries:
        if kind == "limit":
            ram = _remove_ram(ram, _pfn_down(size), 1 << 52)
        elif kind in ("@", "ram"):
            s, e = _pfn_up(start), _pfn_down(start + size)
            if s < e:
                nid = _firmware_nid(layout.numa_memblks, s) if layout.numa_memblks else ram[0].nid
                ram = _remove_ram(ram, s, e) + [RamRange(nid, s, e)]
                ram.sort(key=lambda r: r.start_pfn)
                ram = _merge(ram)
        else:
            ram = _remove_ram(ram, _pfn_down(start), _pfn_up(start + size))
    if not ram:
        raise LayoutError("memmap= leaves no RAM")
    return replace(layout, ram=tuple(ram))
