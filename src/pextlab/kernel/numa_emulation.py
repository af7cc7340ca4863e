"""NUMA emulation: ``numa=fake=N`` (mm/numa_emulation.c since v6.10, arch/x86/mm/numa_emulation.c
before).

split_nodes_interleave cuts the usable memory into N fake nodes of equal usable
size, FAKE_NODE_MIN_SIZE (32 MiB) granular, carving them one after the other
from the physical nodes' memory blocks (round robin over the physical nodes):

* the target size is (RAM pages below max_pfn) / N, rounded down to 32 MiB;
  the remainders are consolidated into "big" nodes: the first
  ``(remainder * N) / 32 MiB`` fake nodes get 32 MiB more;
* a node starts where the previous one ended (the first at the physical
  block's start, pfn 1 on x86: memblock starts after the BIOS page) and grows
  in 32 MiB steps until it holds ``size`` of RAM -- holes do not count;
* it extends to 4 GiB when less than 32 MiB of RAM would be left below 4 GiB
  for the next node (ZONE_DMA32), and to the end of the physical block when the
  rest could not make a full node.

So boundaries fall at ``start + k * 32 MiB``: not on section (128 MiB) or
memory-block boundaries, and a section -- a memory block -- can hold memory of
two nodes.  Every node prints "Faking node N at [mem ...] (NMB)".

``numa=fake=<size>[MG]`` and ``numa=fake=NU`` (split_nodes_size_interleave*)
are not modelled: boot rejects them.
"""
from __future__ import annotations

from .layout import Layout, NumaMemblk
from .profiles import PAGE_SHIFT

__all__ = ["FAKE_NODE_MIN_PAGES", "split_nodes_interleave", "numa_emulation"]

#: FAKE_NODE_MIN_SIZE (32 MiB) in pages.
FAKE_NODE_MIN_PAGES = (32 << 20) >> PAGE_SHIFT
#: numa_emu_dma_end() on x86: the end of ZONE_DMA32, 4 GiB.
_DMA32_END_PFN = (4 << 30) >> PAGE_SHIFT
#: MAX_NUMNODES of the simulated build (CONFIG_NODES_SHIFT 6).
MAX_NUMNODES = 64


def _fmt(nid: int, start: int, end: int) -> str:
    return (f"Faking node {nid} at [mem {start << PAGE_SHIFT:#018x}-{(end << PAGE_SHIFT) - 1:#018x}] "
            f"({(end - start) >> (20 - PAGE_SHIFT)}MB)")


def split_nodes_interleave(pi: list, nodes_parsed, layout: Layout, nr_nodes: int):
    """split_nodes_interleave(ei, pi, 0, max_addr, nr_nodes).

    Parameters
    ----------
    pi : list of NumaMemblk
        The physical nodes' blocks after numa_cleanup_meminfo (consumed here).
    nodes_parsed : iterable of int
        numa_nodes_parsed: the physical node ids.
    layout : Layout
        Its RAM decides what a hole is (mem_hole_size: absent_pages_in_range).

    Returns
    -------
    (blocks, emu_nid_to_phys, messages), blocks None when the kernel gives up.
    """
    msgs = []
    if nr_nodes <= 0:
        return None, {}, msgs
    if nr_nodes > MAX_NUMNODES:
        msgs.append(f"numa=fake={nr_nodes} too large, reducing to {MAX_NUMNODES}")
        nr_nodes = MAX_NUMNODES
    hole = layout.absent_pages
    max_pfn = layout.max_pfn
    blks = [[b.nid, b.start_pfn, b.end_pfn] for b in pi]
    size = (max_pfn - hole(0, max_pfn)) // nr_nodes
    big = ((size & (FAKE_NODE_MIN_PAGES - 1)) * nr_nodes) // FAKE_NODE_MIN_PAGES
    size &= ~(FAKE_NODE_MIN_PAGES - 1)
    if not size:
        msgs.append("Not enough memory for each node.  NUMA emulation disabled.")
        return None, {}, msgs
    out, to_phys = [], {}
    nid = 0
    mask = sorted(set(nodes_parsed))
    while mask:
        for i in list(mask):
            idx = next((k for k, b in enumerate(blks) if b[0] == i), -1)
            if idx < 0:
                mask.remove(i)
                continue
            start, limit = blks[idx][1], blks[idx][2]
            end = start + size
            if nid < big:
                end += FAKE_NODE_MIN_PAGES
            # grow while the node holds less than `size` of RAM
            while end - start - hole(start, end) < size:
                end += FAKE_NODE_MIN_PAGES
                if end > limit:
                    end = limit
                    break
            # leave the next node at least 32 MiB of RAM below 4 GiB, or take it all
            if end < _DMA32_END_PFN and _DMA32_END_PFN - end - hole(end, _DMA32_END_PFN) < FAKE_NODE_MIN_PAGES:
                end = _DMA32_END_PFN
            # too little left for another node: take the rest of the block
            # (limit - end wraps in the kernel's u64 when end > limit: no change then)
            if end <= limit and limit - end - hole(end, limit) < size:
                end = limit
            fake = nid % nr_nodes
            nid += 1
            length = min(end, limit) - start
            out.append(NumaMemblk(fake, start, start + length))
            to_phys.setdefault(fake, i)
            blks[idx][1] += length
            if blks[idx][1] >= blks[idx][2]:
                del blks[idx]
            msgs.append(_fmt(fake, start, start + length))
    return out, to_phys, msgs


def numa_emulation(pi: list, nodes_parsed, layout: Layout, spec: str):
    """mm/numa_emulation.c numa_emulation for ``numa=fake=<spec>``: the emulated
    blocks (not yet cleaned up), the emulated -> physical node map and the messages;
    blocks None when emulation fails or is off (the physical nodes stay)."""
    if not spec.isdigit():
        return None, {}, [f"numa=fake={spec}: only numa=fake=N is modelled"]
    return split_nodes_interleave(pi, nodes_parsed, layout, int(spec))
