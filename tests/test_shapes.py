"""Shapes of real machines, each with its figures worked out by hand from the kernel's rules.

Rules used (v6.12):
* zone limits (arch/x86/mm/init.c zone_sizes_init, mm/mm_init.c free_area_init):
  DMA [first RAM pfn, 16 MiB), DMA32 [16 MiB, min(4 GiB, max_pfn)), Normal [4 GiB, max_pfn);
* a zone spans the node's [first, last RAM pfn) clamped to its limits, holes included
  (zone_spanned_pages_in_node); present = spanned - RAM-less pages of the node
  (zone_absent_pages_in_node);
* memmap_init: walking the RAM ranges, a hole before a zone's part of a range is reported
  as "On node N, zone Z: K pages in unavailable ranges" counting only pfns of present
  (128 MiB) sections; the tail up to the last section's end goes to the last zone;
* memory blocks (drivers/base/memory.c): one per block with a present section; a block's
  zone is the one populated zone of its node meeting the block, else valid_zones "none";
  a block with memory of two nodes is "none" too and cannot be offlined (-EINVAL);
  phys_index is the block id;
* block size (arch/x86/mm/init_64.c probe_memory_block_size): 128 MiB below 64 GiB of
  max_pfn; above, 2 GiB on bare metal, on a guest the largest size <= 2 GiB that
  aligns max_pfn.
"""
import re

import pytest

import pextlab
from pextlab.kernel.layout import Layout, NumaMemblk, RamRange, layout_from_iomem

GiB, MiB = 1 << 30, 1 << 20
P = 12                               # PAGE_SHIFT
SECTION = (128 * MiB) >> P            # pages per section
DMA_END, DMA32_END = (16 * MiB) >> P, (4 * GiB) >> P


def zones(m):
    return m.df_zones().astype({"zone": str}).set_index(["node", "zone"])


def holes(m):
    return [(int(n), z, int(k)) for n, z, k in
            re.findall(r"On node (\d+), zone (\w+): (\d+) pages in unavailable ranges", m.dmesg)]


def test_several_reserved_holes_in_e820():
    """A bare-metal-like map: usable [4K, 0x9d000), [1M, 0x79000000), reserved
    0x79000000-0x7b000000 (firmware), usable [0x7b000000, 0x7f000000), reserved up to
    4 GiB (PCI), usable [4 GiB, 18 GiB)."""
    ram = [(0x1, 0x9D), (0x100, 0x79000), (0x7B000, 0x7F000), (0x100000, 0x480000)]
    lay = layout_from_iomem(ram, hypervisor=False)
    m = pextlab.boot(layout=lay)
    z = zones(m)
    assert z.loc[(0, "DMA"), ["start_pfn", "spanned", "present"]].tolist() == \
        [1, DMA_END - 1, (0x9D - 1) + (DMA_END - 0x100)]
    assert z.loc[(0, "DMA32"), ["start_pfn", "spanned", "present"]].tolist() == \
        [DMA_END, DMA32_END - DMA_END, (0x79000 - DMA_END) + (0x7F000 - 0x7B000)]
    assert z.loc[(0, "Normal"), ["start_pfn", "spanned", "present"]].tolist() == \
        [DMA32_END, 0x480000 - DMA32_END, 0x480000 - DMA32_END]
    # [0,1) and [0x9d,0x100) in section 0; [0x79000,0x7b000) inside section 15 (it has RAM);
    # of [0x7f000, 4 GiB) only the rest of section 15 has a memmap (16-31 are not present)
    assert holes(m) == [(0, "DMA", 1), (0, "DMA", 0x100 - 0x9D), (0, "DMA32", 0x7B000 - 0x79000),
                        (0, "Normal", 0x80000 - 0x7F000)]
    b = m.df_memory_blocks().set_index("block")
    assert b.index.tolist() == list(range(16)) + list(range(32, 144))
    assert b.loc[0, "valid_zones"] == "none" and b.loc[15, "valid_zones"] == "DMA32"
    assert m.mm.memory_block_size == 128 * MiB


def test_q35_3g_dma32_spans_the_pci_hole():
    """q35 with 3 GiB: RAM up to 2 GiB - 128 KiB, the rest above 4 GiB; DMA32 still spans
    to 4 GiB."""
    m = pextlab.boot(mem="3G", machine="q35")
    low_end = (2 * GiB - 128 * 1024) >> P
    assert zones(m).loc[(0, "DMA32"), ["start_pfn", "spanned", "present"]].tolist() == \
        [DMA_END, DMA32_END - DMA_END, low_end - DMA_END]
    # the hole after low RAM is reported with the zone above it (Normal, from 4 GiB), and
    # only its part in section 15: the PCI hole's sections have no memmap
    assert holes(m) == [(0, "DMA", 1), (0, "DMA", 0x100 - 0x9F), (0, "Normal", 16 * SECTION - low_end)]


def test_mem_cuts_a_section():
    """pc 2 GiB, mem=1000M: RAM ends at pfn 256000, inside section 7."""
    m = pextlab.boot(mem="2G", cmdline="mem=1000M")
    end = (1000 * MiB) >> P
    assert m.layout.max_pfn == end
    assert zones(m).loc[(0, "DMA32"), ["spanned", "present"]].tolist() == [end - DMA_END] * 2
    assert "  Normal   empty" in m.dmesg
    assert holes(m)[-1] == (0, "DMA32", 8 * SECTION - end)
    b = m.df_memory_blocks()
    assert b.block.tolist() == list(range(8)) and b.valid_zones.tolist()[1:] == ["DMA32"] * 7


def test_memmap_reserves_part_of_a_section():
    """pc 1 GiB, memmap=64M$0x30000000: 16384 pages inside section 6 are no longer RAM."""
    m = pextlab.boot(mem="1G", cmdline="memmap=64M$0x30000000 page_owner=on")
    top = 0x3FFE0                                     # SeaBIOS keeps the top 128 KiB
    cut = (64 * MiB) >> P
    assert zones(m).loc[(0, "DMA32"), ["spanned", "present"]].tolist() == \
        [top - DMA_END, top - DMA_END - cut]
    assert holes(m)[-2:] == [(0, "DMA32", cut), (0, "DMA32", 8 * SECTION - top)]
    b = m.df_memory_blocks().set_index("block")
    assert b.index.tolist() == list(range(8)) and b.loc[6, "valid_zones"] == "DMA32"
    res = m.offline(6)
    assert not res and (res.error, res.reason) == ("EINVAL", "memory holes")
    # every present section still gets a whole page_ext table
    assert "allocated 18874368 bytes of page_ext" in m.dmesg


def test_memmap_removes_whole_sections():
    """memmap=256M$512M: sections 4 and 5 have no RAM, so no memmap, no block, and no
    unavailable-range line for them."""
    m = pextlab.boot(mem="1G", cmdline="memmap=256M$512M")
    assert m.df_memory_blocks().block.tolist() == [0, 1, 2, 3, 6, 7]
    assert zones(m).loc[(0, "DMA32"), "present"] == 0x3FFE0 - DMA_END - 2 * SECTION
    assert holes(m) == [(0, "DMA", 1), (0, "DMA", 0x100 - 0x9F), (0, "DMA32", 8 * SECTION - 0x3FFE0)]


def test_node_starts_in_the_middle_of_a_section():
    """Two SRAT nodes: 1300 MiB and 748 MiB.  Node 1 starts at pfn 332800, inside section
    10 [327680, 360448): memory block 10 belongs to both nodes."""
    m = pextlab.boot(layout=pextlab.layout_from_spec("2G", node_mem=["1300M", "748M"]),
                     cmdline="page_owner=on")
    start1 = (1300 * MiB) >> P
    z = zones(m)
    assert z.loc[(0, "DMA32"), ["start_pfn", "spanned", "present"]].tolist() == \
        [DMA_END, start1 - DMA_END, start1 - DMA_END]
    assert z.loc[(1, "DMA32"), ["start_pfn", "spanned", "present"]].tolist() == \
        [start1, 0x7FFE0 - start1, 0x7FFE0 - start1]
    assert holes(m)[-1] == (1, "DMA32", 16 * SECTION - 0x7FFE0)
    b = m.df_memory_blocks().set_index("block")
    assert b.loc[10, ["node", "nodes", "valid_zones"]].tolist() == [0, "0,1", "none"]
    assert b.loc[11, ["nodes", "valid_zones"]].tolist() == ["1", "DMA32"]
    assert m.offline(10).error == "EINVAL"
    # the shared section gets one page_ext table (init_section_page_ext skips a section
    # that already has one): 16 sections of 32768 pages x 72 bytes
    assert f"allocated {16 * SECTION * 72} bytes of page_ext" in m.dmesg
    # pagetypeinfo walks each zone from its start in pageblock steps
    pb = m.df_pageblocks().groupby("node").nr_blocks.sum()
    assert pb.tolist() == [8 + (start1 - DMA_END) // 512, -(-(0x7FFE0 - start1) // 512)]


@pytest.mark.parametrize("hypervisor,end_gib,block_gib", [(True, 66, 2), (True, 65, 1), (False, 65, 2)])
def test_large_machine_block_size(hypervisor, end_gib, block_gib):
    """RAM [4K, 2 GiB) and [64 GiB, end): max_pfn >= 64 GiB, so blocks grow to 2 GiB on bare
    metal, or to the largest size that aligns the end of RAM on a guest."""
    ram = [(0x1, 0x9F), (0x100, 0x7FFE0), ((64 * GiB) >> P, (end_gib * GiB) >> P)]
    m = pextlab.boot(layout=layout_from_iomem(ram, hypervisor=hypervisor))
    assert m.mm.memory_block_size == block_gib * GiB
    assert f"x86/mm: Memory block size: {block_gib * 1024}MB" in m.dmesg
    spb = block_gib * GiB // (128 * MiB)
    b = m.df_memory_blocks()
    want = sorted({s // spb for s in list(range(16)) + list(range(512, end_gib * 8))})
    assert b.block.tolist() == want and b.phys_index.tolist() == want
    assert (b.end_pfn - b.start_pfn == (block_gib * GiB) >> P).all()


def test_memory_above_1_tib():
    """Node 0 at the bottom (2 GiB), node 1: 2 GiB at 1 TiB (SRAT).  End of RAM 1 TiB +
    2 GiB: 2 GiB blocks; node 1 is all Normal, its block is memory512."""
    ram = (RamRange(0, 0x1, 0x9F), RamRange(0, 0x100, 0x7FFE0),
           RamRange(1, (1 << 40) >> P, ((1 << 40) + 2 * GiB) >> P))
    srat = (NumaMemblk(0, 0, (2 * GiB) >> P), NumaMemblk(1, (1 << 40) >> P, ((1 << 40) + 2 * GiB) >> P))
    m = pextlab.boot(layout=Layout(ram=ram, srat=srat, nr_cpus=2, cpu_nodes=(0, 1)))
    z = zones(m)
    assert z.loc[(1, "Normal"), ["start_pfn", "spanned", "present"]].tolist() == \
        [1 << (40 - P), (2 * GiB) >> P, (2 * GiB) >> P]
    assert z.loc[(0, "Normal"), "spanned"] == 0 and z.loc[(1, "DMA32"), "spanned"] == 0
    assert "  Normal   [mem 0x0000000100000000-0x000001007fffffff]" in m.dmesg
    assert "  node   1: [mem 0x0000010000000000-0x000001007fffffff]" in m.dmesg
    assert m.mm.memory_block_size == 2 * GiB
    b = m.df_memory_blocks().set_index("block")
    assert b.index.tolist() == [0, 512]
    assert b.loc[512, ["nodes", "valid_zones"]].tolist() == ["1", "Normal"]
    assert b.loc[0, "valid_zones"] == "none"               # DMA and DMA32


@pytest.mark.parametrize("movable_node", [False, True])
def test_srat_hotpluggable_range(movable_node):
    """Node 1 [4 GiB, 6 GiB) is flagged hot-pluggable in the SRAT and present at boot.
    With movable_node its memory is ZONE_MOVABLE from its first pfn (rounded up to
    MAX_ORDER_NR_PAGES: already aligned); without, it is Normal.  Node 0 holds the
    kernel, so a hotplug flag on it is cleared (numa_clear_kernel_node_hotplug)."""
    ram = (RamRange(0, 0x1, 0x9F), RamRange(0, 0x100, 0x7FFE0),
           RamRange(1, DMA32_END, DMA32_END + ((2 * GiB) >> P)))
    srat = (NumaMemblk(0, 0, (2 * GiB) >> P, True), NumaMemblk(1, DMA32_END, DMA32_END + ((2 * GiB) >> P), True))
    m = pextlab.boot(layout=Layout(ram=ram, srat=srat, nr_cpus=2, cpu_nodes=(0, 1)),
                     cmdline="movable_node" if movable_node else "")
    assert "ACPI: SRAT: Node 1 PXM 1 [mem 0x100000000-0x17fffffff] hotplug" in m.dmesg
    z = zones(m)
    node1 = (2 * GiB) >> P
    kernel, movable = ("Movable", "Normal") if movable_node else ("Normal", "Movable")
    assert z.loc[(1, kernel), ["start_pfn", "spanned"]].tolist() == [DMA32_END, node1]
    assert z.loc[(1, movable), "spanned"] == 0
    assert z.loc[(0, "Movable"), "spanned"] == 0
    assert ("  Node 1: 0x0000000100000000" in m.dmesg) == movable_node
    b = m.df_memory_blocks().set_index("block")
    assert b.loc[32, "valid_zones"] == kernel
