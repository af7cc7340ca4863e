"""Physical memory layouts: what firmware hands the kernel (e820 + NUMA ranges).

A :class:`Layout` lists RAM ranges with their node, the kernel image, the CPUs
and the hotpluggable window.  It is built either from a spec that follows
qemu's rules (``layout_from_spec``: ``-machine pc``/``q35``, ``-m``,
``-numa``) or from a real machine's ``/proc/iomem`` and the dmesg "Early memory
node ranges" (``layout_from_iomem``).  Everything here is in pfns
([start, end) half-open) unless a name says bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..errors import LayoutError
from .profiles import PAGE_SHIFT

__all__ = ["Layout", "RamRange", "parse_size", "layout_from_spec", "layout_from_iomem",
           "apply_mem_limit", "apply_numa_fake"]

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
class Layout:
    """A machine's boot memory map.

    Attributes
    ----------
    ram : tuple of RamRange
        Usable RAM per node, sorted by pfn (memblock.memory with nids).
    kernel_image : (start_pfn, end_pfn)
        "Kernel code" .. "Kernel bss" from /proc/iomem.
    nr_cpus : int
    cpu_nodes : tuple of int
        Node of each CPU.
    hotplug_base_pfn, hotplug_end_pfn : int
        The window where DIMMs can be hot-added (qemu ``maxmem``); 0, 0 if none.
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
    e820_reserved: tuple = field(default=())

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
        if self.nr_cpus < 1:
            raise LayoutError("a machine needs at least one CPU")

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted({r.nid for r in self.ram}))

    @property
    def max_pfn(self) -> int:
        return max(r.end_pfn for r in self.ram)

    @property
    def total_pages(self) -> int:
        return sum(r.nr_pages for r in self.ram)

    def node_ranges(self, nid: int) -> list[RamRange]:
        return [r for r in self.ram if r.nid == nid]

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
    return Layout(ram=tuple(ram), nr_cpus=nr_cpus, cpu_nodes=cpu_nodes, machine=machine,
                  hotplug_base_pfn=hp_base, hotplug_end_pfn=hp_end,
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
                      cpu_nodes=None, hotplug=None, source="capture") -> Layout:
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
    """
    if node_ranges:
        ram = [RamRange(int(n), int(s), int(e)) for n, s, e in node_ranges]
    else:
        if not system_ram:
            raise LayoutError("no 'System RAM' ranges in iomem and no dmesg node ranges")
        ram = [RamRange(0, int(s), int(e)) for s, e in system_ram]
    ram.sort(key=lambda r: r.start_pfn)
    ram = _merge(ram)
    nodes = sorted({r.nid for r in ram})
    if cpu_nodes is None:
        cpu_nodes = tuple(nodes[i % len(nodes)] for i in range(nr_cpus))
    hp_base, hp_end = hotplug if hotplug else (0, 0)
    kw = {}
    if kernel_image:
        kw["kernel_image"] = tuple(kernel_image)
    return Layout(ram=tuple(ram), nr_cpus=nr_cpus, cpu_nodes=tuple(cpu_nodes), machine="capture",
                  hotplug_base_pfn=hp_base, hotplug_end_pfn=hp_end, source=source, **kw)


def apply_mem_limit(layout: Layout, limit_bytes: int) -> Layout:
    """``mem=``: drop RAM above the physical address ``limit_bytes`` (e820__range_remove)."""
    lim = limit_bytes >> PAGE_SHIFT
    ram = []
    for r in layout.ram:
        if r.start_pfn >= lim:
            continue
        ram.append(RamRange(r.nid, r.start_pfn, min(r.end_pfn, lim)))
    if not ram:
        raise LayoutError(f"mem={limit_bytes} leaves no RAM")
    return replace(layout, ram=tuple(ram))


def apply_numa_fake(layout: Layout, nr_nodes: int, align_pfns: int = (128 << 20) >> PAGE_SHIFT) -> Layout:
    """``numa=fake=N``: split RAM into N nodes of (about) equal size
    (arch/x86/mm/numa_emulation.c split_nodes_interleave / split_nodes_size_interleave).

    The kernel aligns fake nodes to FAKE_NODE_MIN_SIZE (32 MiB); the simulator
    aligns them to whole memory sections (128 MiB) so that no section holds
    memory of two nodes -- an honest simplification.
    """
    if nr_nodes < 1 or nr_nodes > 64:
        raise LayoutError(f"numa=fake={nr_nodes}: expected 1..64 nodes")
    total = layout.total_pages
    if total // nr_nodes < align_pfns:
        raise LayoutError(f"numa=fake={nr_nodes}: nodes would be smaller than one memory section")
    # cut points: the pfn where the cumulative RAM reaches k/N of the total, rounded to a section
    cuts, acc, k = [], 0, 1
    for r in layout.ram:
        while k < nr_nodes and acc + r.nr_pages >= total * k // nr_nodes:
            pfn = r.start_pfn + (total * k // nr_nodes - acc)
            cuts.append(((pfn + align_pfns // 2) // align_pfns) * align_pfns)
            k += 1
        acc += r.nr_pages
    ram = []
    for r in layout.ram:
        s = r.start_pfn
        while s < r.end_pfn:
            nid = sum(1 for c in cuts if c <= s)
            nxt = min([c for c in cuts if c > s] + [r.end_pfn])
            ram.append(RamRange(nid, s, nxt))
            s = nxt
    ram = _merge(ram)
    nodes = sorted({r.nid for r in ram})
    cpu_nodes = tuple(nodes[i % len(nodes)] for i in range(layout.nr_cpus))
    return replace(layout, ram=tuple(ram), cpu_nodes=cpu_nodes)
