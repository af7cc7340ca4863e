"""Memory layouts: qemu-like specs, cmdline limits, NUMA, zones, memory blocks."""
import tarfile

import pytest

import pextlab
from pextlab.kernel.layout import layout_from_spec, parse_size

from conftest import REAL

GiB = 1 << 30


def ram_bytes(lay):
    return [(r.nid, r.start_pfn << 12, r.end_pfn << 12) for r in lay.ram]


def test_pc_1g_matches_qemu_e820():
    lay = layout_from_spec("1G")
    assert ram_bytes(lay) == [(0, 0x1000, 0x9F000), (0, 0x100000, 0x3FFE0000)]


def test_pc_and_q35_split_below_4g():
    pc = layout_from_spec("8G", machine="pc")
    q35 = layout_from_spec("8G", machine="q35")
    assert ram_bytes(pc)[-2][2] == 0xC0000000 - 0x20000 and ram_bytes(pc)[-1] == (0, 4 * GiB, 4 * GiB + 5 * GiB)
    assert ram_bytes(q35)[-2][2] == 0x80000000 - 0x20000 and ram_bytes(q35)[-1] == (0, 4 * GiB, 4 * GiB + 6 * GiB)
    small = layout_from_spec("3G", machine="q35")          # below 2.75 GiB threshold? no: 3G >= 2.75G
    assert ram_bytes(small)[-1][1] == 4 * GiB


def test_numa_split_and_interleave():
    lay = layout_from_spec("2G", nodes=2)
    assert [r.nid for r in lay.ram] == [0, 0, 1]
    assert lay.ram[-1].start_pfn == (1 * GiB) >> 12
    inter = layout_from_spec("1G", nodes=2, node_pattern=[0, 1, 0, 1])
    assert [r.nid for r in inter.ram] == [0, 0, 1, 0, 1]


def test_zones_on_a_big_machine():
    """pc, 8 GiB, two nodes of 4 GiB: node 0 holds [4 KiB, 3 GiB - 128 KiB) and
    [4 GiB, 5 GiB), node 1 [5 GiB, 9 GiB).  Node 0's DMA32 spans up to its 4 GiB limit
    across the PCI hole (mm/mm_init.c zone_spanned_pages_in_node); only RAM is present."""
    m = pextlab.boot(mem="8G", nodes=2)
    z = m.df_zones().set_index(["node", "zone"])
    assert z.loc[(0, "DMA"), ["start_pfn", "spanned", "present"]].tolist() == [1, 4095, 3998]
    low_ram_end = (3 * GiB - (128 << 10)) >> 12
    assert z.loc[(0, "DMA32"), ["start_pfn", "end_pfn", "present"]].tolist() == \
        [4096, (4 * GiB) >> 12, low_ram_end - 4096]
    assert z.loc[(0, "Normal"), ["start_pfn", "spanned"]].tolist() == [(4 * GiB) >> 12, GiB >> 12]
    assert z.loc[(1, "Normal"), ["start_pfn", "present"]].tolist() == [(5 * GiB) >> 12, (4 * GiB) >> 12]
    assert z.loc[(1, "DMA32"), "spanned"] == 0


def test_mem_limit_and_numa_fake():
    m = pextlab.boot(mem="1G", cmdline="mem=512M")
    assert m.layout.max_pfn == (512 << 20) >> 12
    f = pextlab.boot(mem="1G", cmdline="numa=fake=2")
    assert f.layout.nodes == (0, 1)
    assert len(f.df_zones().query("present > 0").node.unique()) == 2


@pytest.mark.parametrize("cmd", ["movablecore=25%", "movablecore=1G", "kernelcore=3G"])
def test_zone_movable(cmd):
    m = pextlab.boot(mem="4G", cmdline=cmd)
    z = m.df_zones().set_index("zone")
    mov = z.loc["Movable"]
    assert mov.present > 0
    assert mov.start_pfn % 1024 == 0                    # rounded up to MAX_ORDER_NR_PAGES
    assert (m.dmesg.count("Movable zone start for each node") == 1
            and "  Node 0: 0x" in m.dmesg)
    # movable allocations can use it, kernel ones cannot
    pfn = m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    assert pfn >= mov.start_pfn
    k = m.alloc_pages(0, "GFP_KERNEL")
    assert k < mov.start_pfn


def test_memory_block_size_rule():
    assert pextlab.boot(mem="16G").mm.memory_block_size == 128 << 20
    big = pextlab.boot(mem="66G")                      # end of RAM 67 GiB: 1 GiB aligned
    assert big.mm.memory_block_size == 1 << 30
    blocks = big.df_memory_blocks()
    assert (blocks.end_pfn - blocks.start_pfn == (1 << 30) >> 12).all()


def test_flatmem_has_no_sections_or_blocks():
    m = pextlab.boot(mem="1G", memory_model="flatmem", cmdline="page_owner=on")
    assert len(m.df_sections()) == 0 and len(m.df_memory_blocks()) == 0
    assert len(m.df_page_ext()) == 1


def test_parse_size():
    assert parse_size("1G") == GiB and parse_size("512M") == 512 << 20 and parse_size("0x1000") == 4096
    with pytest.raises(pextlab.LayoutError):
        parse_size("lots")


def test_read_capture_tarball_and_snapshot_fallback(tmp_path):
    tgz = tmp_path / "b.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        for name in ("iomem.txt", "dmesg.txt", "cmdline.txt", "buddyinfo.txt",
                     "buddyinfo.after_compact.txt", "zoneinfo.txt"):
            tf.add(REAL / "b-1G" / name, arcname=f"b-1G/{name}")
    cap = pextlab.read_capture(tgz, snapshot="after_compact")
    assert cap.path("buddyinfo").name == "buddyinfo.after_compact.txt"
    assert cap.path("zoneinfo").name == "zoneinfo.txt"          # no snapshot file: fallback
    assert cap.layout.total_pages == 262014
    with pytest.raises(pextlab.PextlabError, match="no 'pagetypeinfo' file"):
        cap.df_pagetypeinfo()
