"""The development machine (data/real-kernel/dev-24G-firecracker-6.18): a 24 GiB firecracker
guest on Linux 6.18 with RAM at [4K, 3 GiB) and [4 GiB, 25 GiB).  Booted from its capture,
the simulator's layout is the real one, figure by figure."""
import re

import pytest

import pextlab
from pextlab.procfs.dmesg import read_dmesg

from conftest import REAL

DEV = REAL / "dev-24G-firecracker-6.18"


@pytest.fixture(scope="module")
def pair():
    cap = pextlab.read_capture(DEV)
    return cap, pextlab.boot(layout=cap.layout, cmdline=cap.cmdline)


def test_the_capture_keeps_no_init_service_or_network_lines():
    cmdline = (DEV / "cmdline.txt").read_text()
    dmesg = (DEV / "dmesg.txt").read_text()
    assert " -- " not in cmdline and "rdinit=" not in cmdline
    for word in ("process_api", "vsock", "0.0.0.0", "as init process", "TCP", "UDP", "NET: Registered"):
        assert word not in dmesg and word not in cmdline


def test_zone_geometry_is_exact(pair):
    cap, m = pair
    real = cap.df_zones().astype({"zone": str}).set_index(["node", "zone"])
    sim = m.df_zones().astype({"zone": str}).set_index(["node", "zone"])
    cols = ["start_pfn", "spanned", "present"]
    populated = real[real.spanned > 0]
    assert sim.loc[populated.index, cols].values.tolist() == populated[cols].values.tolist()
    # DMA32 spans the PCI hole [3 GiB, 4 GiB) up to its 4 GiB limit
    assert real.loc[(0, "DMA32"), "spanned"] == (4 << 18) - 4096 == 1044480
    assert (real.spanned == 0).equals(sim.spanned == 0)


def test_node_ranges_and_unavailable_ranges_are_the_kernels(pair):
    cap, m = pair
    assert read_dmesg(m.dmesg).node_ranges == cap.dmesg_info.node_ranges
    pat = r"On node \d+, zone \w+: \d+ pages in unavailable ranges"
    assert re.findall(pat, m.dmesg) == re.findall(pat, cap.dmesg)
    zones = r"^\[[ \d.]+\] (  (?:DMA|DMA32|Normal|Device) .*)$"
    assert re.findall(zones, m.dmesg, re.M) == re.findall(zones, cap.dmesg, re.M)


def test_memory_blocks_are_exact(pair):
    cap, m = pair
    cols = ["block", "phys_index", "state", "valid_zones", "node", "nodes"]
    assert m.df_memory_blocks()[cols].astype(str).values.tolist() == \
        cap.df_memory_blocks()[cols].astype(str).values.tolist()
    assert m.mm.memory_block_size == cap.dmesg_info.memory_block_size


def test_compare_explains_every_difference():
    df = pextlab.read_capture(DEV).compare()
    layout = df[df.metric.isin(["node start_pfn", "node end_pfn", "node present", "start_pfn",
                                "spanned", "present", "sections", "memory blocks",
                                "memory blocks agreeing", "memory block size", "zonelist total pages"])]
    assert (layout.verdict == "exact").all()
    off = df[df.verdict != "exact"]
    assert len(off) and (off.why.str.len() > 0).all()
    normal = df[(df.metric == "managed") & (df.zone == "Normal")].iloc[0]
    assert normal.verdict == "differs" and "deferred_init=lazy" in normal.why
    assert "5361477 pages were left" in normal.why
    assert "Linux 6.18" in normal.why
