"""Which node owns which RAM: mm/numa_memblks.c and arch/x86/mm/numa.c (x86_numa_init).

The firmware's NUMA affinity ranges (ACPI SRAT, ``Layout.numa_memblks``) are
read first; without any, ``dummy_numa_init`` fakes one node over
[0, max_pfn) ("No NUMA configuration found", "Faking a node at ...").
``numa_memblks_init`` then

1. cleans the list (``numa_cleanup_meminfo``): a range without RAM moves to the
   reserved list (a hotplug window), the others are trimmed to
   [memblock start, memblock end) -- pfn 1 on x86, after the BIOS page -- and
   ranges of one node are merged when no other node's range lies between them
   ("NUMA: Node 0 [mem ...] + [mem ...] -> [mem ...]");
2. lets ``numa=fake=`` rewrite it (pextlab.kernel.numa_emulation) and cleans
   the result again;
3. stamps the node ids on memblock.memory (``numa_register_meminfo`` ->
   ``memblock_set_node``) -- the "Early memory node ranges" printed later.  If
   the ranges leave more than 1 MiB of RAM without a node
   (``memblock_validate_numa_coverage``) the SRAT is refused and the dummy
   node used.

:func:`numa_init` returns the layout with the RAM's final node ids and the
messages.  Ranges here are in pfns.
"""
from __future__ import annotations

from dataclasses import replace

from ..errors import LayoutError
from .layout import Layout, NumaMemblk, RamRange
from .numa_emulation import numa_emulation
from .profiles import PAGE_SHIFT

__all__ = ["numa_cleanup_meminfo", "numa_init"]


def _mem(a: int, b: int) -> str:
    return f"[mem {a << PAGE_SHIFT:#010x}-{(b << PAGE_SHIFT) - 1:#010x}]"


def numa_cleanup_meminfo(blks, layout: Layout):
    """mm/numa_memblks.c numa_cleanup_meminfo.  Returns (blocks, reserved, messages);
    raises LayoutError where the kernel returns -EINVAL (two nodes overlap)."""
    low = layout.ram[0].start_pfn            # memblock_start_of_DRAM
    high = layout.max_pfn                    # memblock_end_of_DRAM
    mi = [[b.nid, b.start_pfn, b.end_pfn, b.hotplug] for b in blks]
    reserved, msgs = [], []
    i = 0
    while i < len(mi):
        nid, s, e, hp = mi[i]
        if not any(r.start_pfn < e and s < r.end_pfn for r in layout.ram):
            reserved.append(NumaMemblk(nid, s, e, hp))
            del mi[i]
            continue
        s = max(s, low)
        if e > high:
            reserved.append(NumaMemblk(nid, high, e, hp))
            e = high
        if s >= e:
            del mi[i]
            continue
        mi[i] = [nid, s, e, hp]
        i += 1
    i = 0
    while i < len(mi):
        j = i + 1
        while j < len(mi):
            bi, bj = mi[i], mi[j]
            if bi[2] > bj[1] and bi[1] < bj[2]:
                if bi[0] != bj[0]:
                    raise LayoutError(f"node {bi[0]} {_mem(bi[1], bi[2])} overlaps with node "
                                      f"{bj[0]} {_mem(bj[1], bj[2])}")
                msgs.append(f"Warning: node {bi[0]} {_mem(bi[1], bi[2])} overlaps with itself "
                            f"{_mem(bj[1], bj[2])}")
            if bi[0] != bj[0]:
                j += 1
                continue
            start, end = min(bi[1], bj[1]), max(bi[2], bj[2])
            if any(bk[0] != bi[0] and start < bk[2] and end > bk[1] for bk in mi):
                j += 1
                continue
            msgs.append(f"NUMA: Node {bi[0]} {_mem(bi[1], bi[2])} + {_mem(bj[1], bj[2])} -> "
                        f"{_mem(start, end)}")
            mi[i] = [bi[0], start, end, bi[3] or bj[3]]
            del mi[j]
        i += 1
    return [NumaMemblk(*b) for b in mi], reserved, msgs


def _set_nodes(layout: Layout, blks) -> tuple[list[RamRange], int]:
    """memblock_set_node for every block: the RAM split at block edges with their node
    ids; returns the ranges and the pages no block covers (they keep node 0)."""
    cuts = sorted({p for b in blks for p in (b.start_pfn, b.end_pfn)})
    out, uncovered = [], 0
    for r in layout.ram:
        points = [r.start_pfn] + [c for c in cuts if r.start_pfn < c < r.end_pfn] + [r.end_pfn]
        for a, b in zip(points, points[1:]):
            owner = next((blk.nid for blk in blks if blk.start_pfn <= a < blk.end_pfn), None)
            if owner is None:
                uncovered += b - a
                owner = 0
            if out and out[-1].nid == owner and out[-1].end_pfn == a:
                out[-1] = RamRange(owner, out[-1].start_pfn, b)
            else:
                out.append(RamRange(owner, a, b))
    return out, uncovered


def _dummy(layout: Layout, numa_off: bool):
    msgs = ["NUMA turned off" if numa_off else "No NUMA configuration found",
            f"Faking a node at [mem {0:#018x}-{(layout.max_pfn << PAGE_SHIFT) - 1:#018x}]"]
    return [NumaMemblk(0, 0, layout.max_pfn)], [0], msgs


def numa_init(layout: Layout, numa_fake: str | None = None, numa_off: bool = False):
    """x86_numa_init -> numa_memblks_init: the layout with each RAM range's node as the
    kernel decides it, and the messages in the kernel's order.  CPUs keep their node;
    with ``numa=fake`` a CPU of a physical node goes to that node's first emulated
    node (numa_emu_update_cpu_to_node), or round robin over the nodes without SRAT."""
    msgs = []
    srat = () if numa_off else layout.numa_memblks
    if srat:
        msgs += [f"ACPI: SRAT: Node {b.nid} PXM {b.nid} {_mem(b.start_pfn, b.end_pfn)}"
                 + (" hotplug" if b.hotplug else "") for b in layout.srat]
        blks, parsed = list(srat), sorted({b.nid for b in srat})
    else:
        blks, parsed, m = _dummy(layout, numa_off)
        msgs += m
    try:
        blks, _, m = numa_cleanup_meminfo(blks, layout)
    except LayoutError as e:
        msgs.append(str(e))
        blks, parsed, m = _dummy(layout, numa_off)
        msgs += m
        blks, _, m = numa_cleanup_meminfo(blks, layout)
    msgs += m
    ram, uncovered = _set_nodes(layout, blks)
    if srat and uncovered >= (1 << 20) >> PAGE_SHIFT:
        msgs.append(f"NUMA: no nodes coverage for {uncovered >> (20 - PAGE_SHIFT)}MB of "
                    f"{layout.total_pages >> (20 - PAGE_SHIFT)}MB RAM")
        blks, parsed, m = _dummy(layout, numa_off)
        msgs += m
        blks, _, m = numa_cleanup_meminfo(blks, layout)
        msgs += m
        srat = ()
    cpu_nodes = layout.cpu_nodes if srat else tuple(0 for _ in range(layout.nr_cpus))
    if numa_fake is not None:
        emu, to_phys, m = numa_emulation(blks, parsed, layout, numa_fake)
        msgs += m
        if emu is not None:
            blks, _, m = numa_cleanup_meminfo(emu, layout)
            msgs += m
            nodes = sorted({b.nid for b in blks})
            if srat:
                first = {}
                for fake in sorted(to_phys):
                    first.setdefault(to_phys[fake], fake)
                cpu_nodes = tuple(first.get(n, 0) for n in cpu_nodes)
            else:
                cpu_nodes = tuple(nodes[i % len(nodes)] for i in range(layout.nr_cpus))
    ram, _ = _set_nodes(layout, blks)
    return replace(layout, ram=tuple(ram), cpu_nodes=cpu_nodes), msgs
