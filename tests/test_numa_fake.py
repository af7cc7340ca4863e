"""numa=fake=N: the simulator's nodes are where the kernel's split puts them.

The reference below is written from mm/numa_emulation.c (split_nodes_interleave,
emu_setup_memblk, mem_hole_size) and mm/numa_memblks.c (numa_cleanup_meminfo,
dummy_numa_init's [0, max_pfn) block) on their own terms -- byte addresses and
the kernel's u64 arithmetic -- independently of pextlab.kernel.numa_emulation.
The e820 RAM of the qemu guests is written here from qemu's rules too.
"""
import re

import numpy as np
import pytest

import pextlab
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.layout import layout_from_spec
from pextlab.procfs.dmesg import read_dmesg

GiB, MiB = 1 << 30, 1 << 20
PAGE = 4096
U64 = (1 << 64) - 1
FAKE_NODE_MIN_SIZE = 32 * MiB
DMA32_END = 4 * GiB


def qemu_e820_ram(mem: int, machine: str):
    """Usable RAM of a SeaBIOS guest, page-trimmed as memblock holds it (bytes)."""
    if machine == "pc":
        lowmem = 0xC0000000 if mem >= 0xE0000000 else mem
    else:
        lowmem = 0x80000000 if mem >= 0xB0000000 else mem
    ram = [(0x1000, 0x9F000), (0x100000, lowmem - 0x20000)]
    if mem > lowmem:
        ram.append((4 * GiB, 4 * GiB + mem - lowmem))
    return ram


def absent_bytes(ram, start, end):
    """mem_hole_size: PFN_PHYS(absent_pages_in_range(PFN_UP(start), PFN_DOWN(end)))."""
    s, e = -(-start // PAGE), end // PAGE
    if s >= e:
        return 0
    present = sum(max(0, min(b // PAGE, e) - max(a // PAGE, s)) for a, b in ram)
    return (e - s - present) * PAGE


def reference_split(ram, phys_blocks, nr_nodes):
    """split_nodes_interleave(ei, pi, 0, max_addr, nr_nodes) -> [(nid, start, end)] in
    creation order; phys_blocks: [(phys_nid, start, end)] after numa_cleanup_meminfo."""
    max_addr = max(b for _, b in ram)
    pi = [list(b) for b in phys_blocks]
    size = max_addr - 0 - absent_bytes(ram, 0, max_addr)
    size = ((size // PAGE) // nr_nodes) * PAGE
    big = ((size & (FAKE_NODE_MIN_SIZE - 1)) * nr_nodes) // FAKE_NODE_MIN_SIZE
    size &= ~(FAKE_NODE_MIN_SIZE - 1)
    assert size, "Not enough memory for each node"
    ei, nid = [], 0
    physnode_mask = sorted({b[0] for b in phys_blocks})
    while physnode_mask:
        for i in list(physnode_mask):
            blk = next((b for b in pi if b[0] == i), None)
            if blk is None:
                physnode_mask.remove(i)
                continue
            start, limit = blk[1], blk[2]
            end = start + size
            if nid < big:
                end += FAKE_NODE_MIN_SIZE
            while end - start - absent_bytes(ram, start, end) < size:
                end += FAKE_NODE_MIN_SIZE
                if end > limit:
                    end = limit
                    break
            if end < DMA32_END and (DMA32_END - end - absent_bytes(ram, end, DMA32_END)) & U64 < FAKE_NODE_MIN_SIZE:
                end = DMA32_END
            if (limit - end - absent_bytes(ram, end, limit)) & U64 < size:
                end = limit
            length = min(end, limit) - start
            ei.append((nid % nr_nodes, blk[1], blk[1] + length))
            nid += 1
            blk[1] += length
            if blk[1] >= blk[2]:
                pi.remove(blk)
    return ei


def node_ranges_of(ram, blocks):
    """memblock_set_node of every block over the RAM -> 'Early memory node ranges'
    (nid, start_pfn, end_pfn_exclusive), adjacent same-node pieces merged."""
    out = []
    for a, b in ram:
        cuts = sorted({a, b} | {x for _, s, e in blocks for x in (s, e) if a < x < b})
        for s, e in zip(cuts, cuts[1:]):
            nid = next(n for n, bs, be in blocks if bs <= s < be)
            if out and out[-1][0] == nid and out[-1][2] == s // PAGE:
                out[-1] = (nid, out[-1][1], e // PAGE)
            else:
                out.append((nid, s // PAGE, e // PAGE))
    return out


CASES = [(mem, machine, n) for mem in (1, 2, 3, 4) for machine in ("pc", "q35") for n in (2, 3, 4, 8)]


@pytest.mark.parametrize("mem,machine,n", CASES, ids=[f"{m}G-{k}-fake{n}" for m, k, n in CASES])
def test_fake_nodes_follow_split_nodes_interleave(mem, machine, n):
    ram = qemu_e820_ram(mem * GiB, machine)
    lay = layout_from_spec(f"{mem}G", machine=machine)
    assert [(r.start_pfn * PAGE, r.end_pfn * PAGE) for r in lay.ram] == ram
    max_addr = max(b for _, b in ram)
    # dummy_numa_init: node 0 over [0, max_pfn), trimmed to memblock's start by cleanup
    expected = reference_split(ram, [(0, ram[0][0], max_addr)], n)
    m = pextlab.boot(mem=f"{mem}G", machine=machine, cmdline=f"numa=fake={n}")
    faked = [(int(a), int(s, 16), int(e, 16) + 1) for a, s, e in
             re.findall(r"Faking node (\d+) at \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", m.dmesg)]
    assert faked == expected
    assert read_dmesg(m.dmesg).node_ranges == node_ranges_of(ram, expected)


def test_fake_nodes_interleave_over_physical_nodes():
    """Two SRAT nodes of 1 GiB (f-numa2's qemu machine): fake nodes are carved round
    robin, one from each physical node in turn."""
    lay = layout_from_spec("2G", nodes=2)
    ram = qemu_e820_ram(2 * GiB, "pc")
    # numa_cleanup_meminfo: node 0's [0, 640K) and [1M, 1G) merge and start at memblock's
    # first byte; node 1 is trimmed to the end of RAM
    phys = [(0, 0x1000, GiB), (1, GiB, ram[-1][1])]
    expected = reference_split(ram, phys, 4)
    m = pextlab.boot(layout=lay, cmdline="numa=fake=4")
    assert "NUMA: Node 0 [mem 0x00001000-0x0009ffff] + [mem 0x00100000-0x3fffffff] -> " \
           "[mem 0x00001000-0x3fffffff]" in m.dmesg
    faked = [(int(a), int(s, 16), int(e, 16) + 1) for a, s, e in
             re.findall(r"Faking node (\d+) at \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]", m.dmesg)]
    assert faked == expected
    assert [nid for nid, _, _ in expected] == [0, 1, 2, 3]
    assert read_dmesg(m.dmesg).node_ranges == node_ranges_of(ram, expected)


def test_fake_node_count_can_fall_short():
    """2 GiB pc, numa=fake=3: after node 1 less than a node's worth of RAM remains, so
    node 1 takes the rest of the block and there is no node 2 (the kernel's rule)."""
    m = pextlab.boot(mem="2G", cmdline="numa=fake=3")
    assert m.layout.nodes == (0, 1)
    assert "Faking node 2" not in m.dmesg


def test_blocks_across_fake_nodes_cannot_be_offlined():
    m = pextlab.boot(mem="2G", cmdline="numa=fake=4 page_owner=on")
    blocks = m.df_memory_blocks().set_index("block")
    # node 1 starts at 0x20001000: pfn 131073, in memory block 4 [131072, 163840)
    assert blocks.loc[4, ["node", "nodes", "valid_zones"]].tolist() == [0, "0,1", "none"]
    assert blocks.loc[5, ["node", "nodes", "valid_zones"]].tolist() == [1, "1", "DMA32"]
    res = m.offline(4)
    assert not res and res.error == "EINVAL"
    assert m.offline(5)


@pytest.mark.parametrize("cmd", ["numa=fake=4 page_owner=on", "numa=fake=8 pextlab.pcp=on"])
def test_sections_shared_by_nodes_keep_the_allocator_consistent(cmd):
    """Allocation churn on every node, compaction and frames over sections whose memory
    belongs to two nodes: every free block stays inside its zone and node."""
    m = pextlab.boot(mem="2G", cmdline=cmd)
    assert any(len(s.nids) > 1 for s in m.mm.sections if s is not None)
    rng = np.random.default_rng(1)
    held = []
    nodes = m.layout.nodes
    for i in range(6000):
        if held and rng.random() < 0.45:
            pfn, order = held.pop(int(rng.integers(len(held))))
            m.free_pages(pfn, order)
        else:
            order = int(rng.integers(0, 4))
            pfn = m.alloc_pages(order, "GFP_HIGHUSER_MOVABLE" if i % 2 else "GFP_KERNEL",
                                nid=int(rng.choice(nodes)))
            if pfn is not None:
                assert m.mm.pfn_to_nid(pfn) in nodes
                held.append((pfn, order))
    assert check_invariants(m.mm) == []
    m.compact_memory()
    assert check_invariants(m.mm) == []
    # pagetypeinfo counts every pageblock once: walking each zone from its start
    zones = m.df_zones()
    walked = sum(-(-int(z.spanned) // 512) for z in zones.itertuples() if z.spanned)
    assert m.df_pageblocks().nr_blocks.sum() == walked
