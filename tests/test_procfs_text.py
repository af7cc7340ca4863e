"""Readers and writers of the /proc, /sys and dmesg text files of a capture.

Ground truth is the real Linux 6.12 captures copied into data/real-kernel.
"""
from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from pextlab.errors import ParseError
from pextlab.procfs.buddyinfo import format_buddyinfo, read_buddyinfo
from pextlab.procfs.dmesg import DmesgInfo, format_dmesg_line, read_dmesg, strip_timestamp
from pextlab.procfs.extfrag import (
    format_extfrag_index, format_unusable_index, fragmentation_index, read_extfrag, unusable_index,
)
from pextlab.procfs.iomem import IomemEntry, format_iomem, read_iomem, system_ram_ranges
from pextlab.procfs.meminfo import format_meminfo, meminfo_dict, read_meminfo
from pextlab.procfs.memory_blocks import (
    format_memory_blocks, read_memory_blocks, read_memory_blocks_sysfs,
)
from pextlab.procfs.pagetypeinfo import PAGETYPEINFO_FREE_CAP, format_pagetypeinfo, read_pagetypeinfo
from pextlab.procfs.vmstat import format_vmstat, read_vmstat, vmstat_delta
from pextlab.procfs.zoneinfo import (
    format_zoneinfo, lowmem_reserve, read_zoneinfo, read_zoneinfo_full,
)
from pextlab.procfs.textio import find_capture_file
from pextlab.schema import SCHEMAS

DATA = Path(__file__).parents[1] / "data" / "real-kernel"
SCENARIOS = ["a-512M", "b-1G", "e-1G-noowner", "f-numa2", "frag-s1", "g-1G-guard", "h-1G-cma64M", "i-hotplug"]


def _kind(path: Path) -> str:
    return path.name.split(".", 1)[0]


def _files(*kinds: str) -> list[Path]:
    out = sorted(p for s in SCENARIOS for p in (DATA / s).iterdir() if _kind(p) in kinds)
    assert out, kinds
    return out


def _ids(paths):
    return [f"{p.parent.name}/{p.name}" for p in paths]


def _first(scenario: str, kind: str) -> Path | None:
    """The unsuffixed capture file, or frag-s1's first snapshot (it has no unsuffixed ones)."""
    return find_capture_file(DATA / scenario, kind, "before_fill")


def _assert_schema(df: pd.DataFrame, name: str):
    assert list(df.columns) == list(SCHEMAS[name])
    assert [str(t) for t in df.dtypes] == list(SCHEMAS[name].values())


def test_every_scenario_was_copied():
    for s in SCENARIOS:
        names = {p.name for p in (DATA / s).iterdir()}
        for need in ("dmesg", "buddyinfo", "pagetypeinfo", "zoneinfo", "meminfo",
                     "vmstat", "unusable_index", "extfrag_index", "iomem", "cmdline", "sys_vm"):
            assert _first(s, need) is not None, (s, need)
        assert {"run.json", "MANIFEST.tsv"} <= names
    for top in ("README.md", "FRAG.md", "fragger.c"):
        assert (DATA / top).is_file()


# --------------------------------------------------------------------------- every file reads

READERS = {
    "buddyinfo": lambda p: _assert_schema(read_buddyinfo(p), "buddyinfo"),
    "pagetypeinfo": lambda p: [_assert_schema(f, n) for f, n in zip(read_pagetypeinfo(p)[:2], ["pagetypeinfo", "pageblocks"])],
    "pagetypeinfo_predrain": lambda p: [_assert_schema(f, n) for f, n in zip(read_pagetypeinfo(p)[:2], ["pagetypeinfo", "pageblocks"])],
    "zoneinfo": lambda p: _assert_schema(read_zoneinfo(p), "zones"),
    "zoneinfo_predrain": lambda p: _assert_schema(read_zoneinfo(p), "zones"),
    "meminfo": lambda p: _assert_schema(read_meminfo(p), "meminfo"),
    "vmstat": lambda p: _assert_schema(read_vmstat(p), "vmstat"),
    "unusable_index": lambda p: _assert_schema(read_extfrag(p, None), "extfrag"),
    "extfrag_index": lambda p: _assert_schema(read_extfrag(None, p), "extfrag"),
    "memory_blocks": lambda p: _assert_schema(read_memory_blocks(p), "memory_blocks"),
    "iomem": lambda p: _assert_iomem(read_iomem(p)),
    "dmesg": lambda p: _assert_dmesg(read_dmesg(p), p),
}


def _assert_iomem(entries):
    """Every capture's iomem has System RAM from pfn 1 (the first page is reserved)."""
    ram = system_ram_ranges(entries)
    assert ram and ram[0][0] == 1 and all(s < e for s, e in ram)


def _assert_dmesg(info, path):
    """The boot log names the command line and the zone ranges of the machine."""
    cmdline = (path.parent / "cmdline.txt").read_text().strip()
    assert info.command_line.split() == cmdline.split()
    assert info.zone_ranges and info.total_pages > 0


@pytest.mark.parametrize("path", _files(*READERS), ids=_ids(_files(*READERS)))
def test_every_real_file_reads(path):
    READERS[_kind(path)](path)


OTHER = _files("cmdline", "run", "MANIFEST", "sys_vm", "node_info", "offline_actions", "offline_rest", "online_actions")


@pytest.mark.parametrize("path", OTHER, ids=_ids(OTHER))
def test_other_copied_files_are_sane(path):
    text = path.read_text()
    kind = _kind(path)
    if kind == "run":
        run = json.loads(text)
        assert run["name"] == path.parent.name
        assert run["kernel_cmdline"] in (DATA / path.parent.name / "cmdline.txt").read_text()
    elif kind == "MANIFEST":
        assert text.splitlines()[0].split("\t")[:2] == ["name", "file"]
    elif kind == "cmdline":
        assert f"scenario={path.parent.name}" in text
    else:
        assert text.strip()


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("path", _files("buddyinfo"), ids=_ids(_files("buddyinfo")))
def test_buddyinfo_roundtrip(path):
    assert format_buddyinfo(read_buddyinfo(path)) == path.read_text()


PT = _files("pagetypeinfo", "pagetypeinfo_predrain")


@pytest.mark.parametrize("path", PT, ids=_ids(PT))
def test_pagetypeinfo_roundtrip(path):
    free, blocks, header = read_pagetypeinfo(path)
    assert header["pageblock_order"] == 9 and header["pages_per_block"] == 512
    assert format_pagetypeinfo(free, blocks, header) == path.read_text()


UU = _files("unusable_index")


@pytest.mark.parametrize("path", UU, ids=_ids(UU))
def test_extfrag_roundtrip(path):
    efile = path.with_name(path.name.replace("unusable_index", "extfrag_index"))
    df = read_extfrag(path, efile)
    assert format_unusable_index(df) == path.read_text()
    assert format_extfrag_index(df) == efile.read_text()
    assert df["unusable_index"].between(0, 1).all()


@pytest.mark.parametrize("path", _files("memory_blocks"), ids=_ids(_files("memory_blocks")))
def test_memory_blocks_roundtrip(path):
    df = read_memory_blocks(path)
    assert df.attrs["block_size_bytes"] == 128 << 20
    assert format_memory_blocks(df) == path.read_text()
    assert (df["end_pfn"] - df["start_pfn"] == 32768).all()
    assert (df["start_pfn"] == df["block"] * 32768).all()


@pytest.mark.parametrize("path", _files("meminfo"), ids=_ids(_files("meminfo")))
def test_meminfo_roundtrip(path):
    assert format_meminfo(read_meminfo(path)) == path.read_text()


@pytest.mark.parametrize("path", _files("vmstat"), ids=_ids(_files("vmstat")))
def test_vmstat_roundtrip(path):
    assert format_vmstat(read_vmstat(path)) == path.read_text()


@pytest.mark.parametrize("path", _files("iomem"), ids=_ids(_files("iomem")))
def test_iomem_roundtrip(path):
    entries = read_iomem(path)
    assert format_iomem(entries) == path.read_text()


_MODELED = re.compile(r"^(Node \d+, zone|  pages free|        (boost|min|low|high|promo|spanned|present|managed|cma"
                      r"|protection)|  start_pfn)")
ZI = _files("zoneinfo", "zoneinfo_predrain")


@pytest.mark.parametrize("path", ZI, ids=_ids(ZI))
def test_zoneinfo_roundtrip(path):
    text = path.read_text()
    zones = read_zoneinfo(path)
    modeled = "".join(line for line in text.splitlines(True) if _MODELED.match(line))
    assert format_zoneinfo(zones) == modeled
    # without the captured extras: boost 0, promo and protection computed
    bare = zones.copy()
    bare.attrs = {}
    assert format_zoneinfo(bare) == modeled
    # with every field read back, the whole file
    assert format_zoneinfo(zones, read_zoneinfo_full(path)) == text


def test_zoneinfo_frame_facts():
    z = read_zoneinfo(DATA / "i-hotplug" / "zoneinfo.after_online.txt")
    assert z["zone"].astype(str).tolist() == ["DMA", "DMA32", "Normal", "Movable", "Device"]
    assert z["zone_idx"].tolist() == [0, 1, 2, 3, 4]
    normal = z[z["zone"] == "Normal"].iloc[0]
    assert (normal.start_pfn, normal.end_pfn, normal.spanned) == (1048576, 1048576 + 65536, 65536)
    device = z[z["zone"] == "Device"].iloc[0]
    assert (device.start_pfn, device.end_pfn, device.present) == (-1, -1, 0)
    f = read_zoneinfo(DATA / "f-numa2" / "zoneinfo.txt")
    assert f.groupby("node").size().tolist() == [5, 5]
    full = read_zoneinfo_full(DATA / "f-numa2" / "zoneinfo.txt")
    assert "per_node_stats" in full[(0, "DMA")] and "per_node_stats" in full[(1, "DMA32")]
    assert [p["cpu"] for p in full[(0, "DMA32")]["pagesets"]] == [0, 1]
    assert full[(0, "DMA32")]["nr_free_pages"] == full[(0, "DMA32")]["free"]
    assert lowmem_reserve(f)[(1, "DMA")] == (0, 0, 0, 0, 0)


# --------------------------------------------------------------------------- cross-file facts

def test_buddyinfo_and_pagetypeinfo_agree_on_dma():
    # taken moments apart; the small DMA zone does not change in between
    for s in SCENARIOS:
        b = read_buddyinfo(_first(s, "buddyinfo"))
        free, _, _ = read_pagetypeinfo(_first(s, "pagetypeinfo"))
        dma_b = b[b["zone"] == "DMA"].set_index(["node", "order"])["nr_free"]
        dma_p = free[free["zone"] == "DMA"].groupby(["node", "order"])["nr_free"].sum()
        assert dma_b.sort_index().tolist() == dma_p.sort_index().tolist(), s


def test_extfrag_formulas_on_real_dma_zone():
    for s in SCENARIOS:
        b = read_buddyinfo(_first(s, "buddyinfo"))
        x = read_extfrag(_first(s, "unusable_index"), _first(s, "extfrag_index"))
        counts = b[(b["zone"] == "DMA") & (b["node"] == 0)]["nr_free"].tolist()
        row = x[(x["zone"] == "DMA") & (x["node"] == 0)]
        assert [unusable_index(counts, o) for o in range(11)] == [round(v * 1000) for v in row["unusable_index"]]
        assert [fragmentation_index(counts, o) for o in range(11)] == [round(v * 1000) for v in row["extfrag_index"]]


def test_extfrag_formulas_by_hand():
    # 6 free pages as 2 x order-0 + 1 x order-2; order-3 request
    counts = [2, 0, 1] + [0] * 8
    assert unusable_index(counts, 0) == 0
    assert unusable_index(counts, 1) == (6 - 4) * 1000 // 6     # 333
    assert unusable_index([0] * 11, 3) == 1000
    assert fragmentation_index(counts, 2) == -1000
    # 1000 - (1000 + 6000/8) / 3 = 1000 - 1750 // 3 = 417
    assert fragmentation_index(counts, 3) == 417
    assert fragmentation_index([0] * 11, 3) == 0


def test_pagetypeinfo_tables():
    free, blocks, header = read_pagetypeinfo(DATA / "h-1G-cma64M" / "pagetypeinfo.txt")
    assert header["migratetypes"] == ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")
    cma = blocks[(blocks["zone"] == "DMA32") & (blocks["migratetype"] == "CMA")]
    assert cma["nr_blocks"].tolist() == [32]          # 64 MiB of 2 MiB blocks
    assert (blocks["nr_mixed"] >= 0).all()
    _, blocks_e, _ = read_pagetypeinfo(DATA / "e-1G-noowner" / "pagetypeinfo.txt")
    assert (blocks_e["nr_mixed"] == -1).all()         # no mixed table without page_owner
    _, blocks_f, _ = read_pagetypeinfo(DATA / "f-numa2" / "pagetypeinfo.txt")
    assert sorted(set(blocks_f["node"].tolist())) == [0, 1]
    assert not free["capped"].any()


def test_pagetypeinfo_capped_counts():
    text = (DATA / "a-512M" / "pagetypeinfo.txt").read_text()
    line = next(l for l in text.splitlines() if "DMA32, type      Movable" in l)
    fields = line.split()
    capped_line = line[: line.index("type      Movable") + len("type      Movable ")] + \
        "".join(f"{int(v):6d} " for v in fields[-11:-1]) + ">100000 "
    text2 = text.replace(line, capped_line)
    free, blocks, header = read_pagetypeinfo(text2)
    row = free[(free["zone"] == "DMA32") & (free["migratetype"] == "Movable") & (free["order"] == 10)]
    assert row["capped"].tolist() == [True] and row["nr_free"].tolist() == [100000]
    assert free["capped"].sum() == 1
    assert format_pagetypeinfo(free, blocks, header) == text2


def test_memory_blocks_hotplug_states():
    df = read_memory_blocks(DATA / "i-hotplug" / "memory_blocks.after_add.txt")
    new = df[df["block"] >= 32]
    assert new["state"].astype(str).tolist() == ["offline"] * 4
    assert new["valid_zones"].tolist() == ["Normal Movable"] * 4
    assert new["zone"].isna().all() and not new["online"].any()
    online = read_memory_blocks(DATA / "i-hotplug" / "memory_blocks.after_online.txt").set_index("block")
    assert online.loc[[32, 33, 34, 35], "zone"].astype(str).tolist() == ["Normal", "Normal", "Movable", "Movable"]
    assert pd.isna(online.loc[0, "zone"])              # valid_zones "none": spans DMA and DMA32
    assert online.loc[33, "start_pfn"] == 33 * 32768
    f = read_memory_blocks(DATA / "f-numa2" / "memory_blocks.txt")
    assert sorted(set(f["node"].tolist())) == [0, 1]


def test_memory_blocks_sysfs_tree(tmp_path):
    root = tmp_path / "memory"
    root.mkdir()
    (root / "block_size_bytes").write_text("8000000\n")
    (root / "auto_online_blocks").write_text("offline\n")
    spec = {0: ("online", "none", 0), 1: ("online", "DMA32", 0), 9: ("offline", "Normal Movable", 1)}
    for block, (state, zones, node) in spec.items():
        d = root / f"memory{block}"
        d.mkdir()
        (d / "phys_index").write_text(f"{block:08x}\n")
        (d / "state").write_text(state + "\n")
        (d / "online").write_text(("1" if state == "online" else "0") + "\n")
        (d / "valid_zones").write_text(zones + "\n")
        (d / "removable").write_text("1\n")
        (d / "phys_device").write_text("0\n")
        (d / f"node{node}").mkdir()
    (root / "probe").write_text("")                     # not a block
    df = read_memory_blocks_sysfs(root)
    _assert_schema(df, "memory_blocks")
    assert df["block"].tolist() == [0, 1, 9]
    assert df["node"].tolist() == [0, 0, 1]
    assert df["online"].tolist() == [True, True, False]
    assert df["valid_zones"].tolist() == ["none", "DMA32", "Normal Movable"]
    assert df["start_pfn"].tolist() == [0, 32768, 9 * 32768]
    assert df.attrs["block_size_bytes"] == 1 << 27 and df.attrs["auto_online_blocks"] == "offline"
    text = format_memory_blocks(df)
    assert "memory9 phys_index=00000009 state=offline online=0 valid_zones=Normal,Movable removable=1 " \
           "phys_device=0 node=1\n" in text
    again = read_memory_blocks(text)
    pd.testing.assert_frame_equal(again, df, check_categorical=False)
    (root / "memory1" / "phys_index").write_text("zz\n")
    with pytest.raises(ParseError):
        read_memory_blocks_sysfs(root)


def test_iomem_ranges_and_partial_pages():
    entries = read_iomem(DATA / "b-1G" / "iomem.txt")
    assert entries[0] == IomemEntry(0, 0xFFF, "Reserved", 0)
    kernel = [e for e in entries if e.name == "Kernel code"]
    assert kernel and kernel[0].depth == 1
    # 00001000-0009fbff: the last partial page (0x9f000-0x9fbff) is not counted
    assert system_ram_ranges(entries) == [(1, 0x9F), (0x100, 0x3FFE0)]
    dm = read_dmesg(DATA / "b-1G" / "dmesg.txt")
    assert [(s, e) for _, s, e in dm.node_ranges] == system_ram_ranges(entries)
    odd = "00000800-00002fff : System RAM\n"
    assert system_ram_ranges(read_iomem(odd)) == [(1, 3)]
    assert system_ram_ranges(read_iomem("00000000-00000000 : System RAM\n")) == []


def test_meminfo_and_vmstat_values():
    m = meminfo_dict(read_meminfo(DATA / "h-1G-cma64M" / "meminfo.txt"))
    assert m["CmaTotal"] == 65536
    mi = read_meminfo(DATA / "frag-s1" / "meminfo.after_fill.txt")
    units = dict(zip(mi["field"].astype(str), mi["unit"].astype(str)))
    assert units["HugePages_Total"] == "" and units["MemTotal"] == "kB"
    v1 = read_vmstat(DATA / "b-1G" / "vmstat.txt")
    v2 = read_vmstat(DATA / "b-1G" / "vmstat.after_compact.txt")
    d = vmstat_delta(v1, v2).set_index("field")
    assert len(d) == len(v2) and d["delta"].ne(0).any()
    assert d.loc["nr_free_pages", "after"] == meminfo_dict(v2)["nr_free_pages"]
    assert (d["after"] - d["before"] == d["delta"]).all()


def test_sources_gz_fileobj_and_text(tmp_path):
    src = DATA / "a-512M" / "buddyinfo.txt"
    text = src.read_text()
    gz = tmp_path / "buddyinfo.txt.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    ref = read_buddyinfo(src)
    for s in (gz, str(gz), io.StringIO(text), io.BytesIO(text.encode()), text):
        pd.testing.assert_frame_equal(read_buddyinfo(s), ref)


# --------------------------------------------------------------------------- dmesg

README_PAGE_EXT = {
    "a-512M": 9_437_184, "b-1G": 18_874_368, "e-1G-noowner": None, "f-numa2": 37_748_736,
    "g-1G-guard": 18_874_368, "h-1G-cma64M": 18_874_368, "i-hotplug": 18_874_368, "frag-s1": 18_874_368,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dmesg_page_ext_bytes_match_readme(scenario):
    info = read_dmesg(DATA / scenario / "dmesg.txt")
    assert info.page_ext_bytes == README_PAGE_EXT[scenario]
    assert info.page_owner_disabled == (scenario == "e-1G-noowner")
    assert info.memory_block_size == 128 << 20
    assert info.command_line == (DATA / scenario / "cmdline.txt").read_text().strip()
    assert f"scenario={scenario}" in info.unknown_parameters
    # README: N = sections with memory x 32768 x 72
    if info.page_ext_bytes:
        sections = {pfn >> 15 for _, s, e in info.node_ranges for pfn in range(s, e, 4096)}
        assert info.page_ext_bytes == len(sections) * 32768 * 72


def test_dmesg_facts_from_readme():
    b = read_dmesg(DATA / "b-1G" / "dmesg.txt")
    assert b.early_allocated == {(0, "DMA"): 0, (0, "DMA32"): 4938}
    assert b.zone_ranges == {"DMA": (1, 4096), "DMA32": (4096, 0x3FFE0), "Normal": None, "Device": None}
    assert b.numa_fake == (0, 0x3FFE0) and b.no_numa_config
    assert b.total_pages == 262014
    assert b.memory_line["total_kb"] == 1048056 and b.memory_line["cma_reserved_kb"] == 0
    assert b.cma_reserved is None and b.guardpage_minorder is None
    f = read_dmesg(DATA / "f-numa2" / "dmesg.txt")
    assert f.early_allocated_per_node() == {0: 6266, 1: 5093}
    assert f.node_ranges == [(0, 1, 0x9F), (0, 0x100, 0x40000), (1, 0x40000, 0x7FFE0)]
    assert f.numa_fake is None
    assert read_dmesg(DATA / "e-1G-noowner" / "dmesg.txt").early_allocated == {}
    h = read_dmesg(DATA / "h-1G-cma64M" / "dmesg.txt")
    assert h.cma_reserved == 64 << 20 and h.memory_line["cma_reserved_kb"] == 65536
    assert read_dmesg(DATA / "g-1G-guard" / "dmesg.txt").guardpage_minorder == 1
    i = read_dmesg(DATA / "i-hotplug" / "dmesg.after_unplug.txt")
    assert i.total_pages == 262014 and len(i.total_pages_all) > 1


def test_dmesg_without_timestamps_and_line_format():
    text = (DATA / "b-1G" / "dmesg.txt").read_text()
    bare = "\n".join(strip_timestamp(l) for l in text.splitlines()) + "\n"
    assert read_dmesg(bare) == read_dmesg(text)
    assert format_dmesg_line(0.239624, "allocated 18874368 bytes of page_ext") == \
        "[    0.239624] allocated 18874368 bytes of page_ext"
    assert format_dmesg_line(123456789012, "x") == "[  123.456789] x"
    for line in text.splitlines()[:50]:
        m = re.match(r"^\[ *(\d+)\.(\d{6})\] (.*)$", line)
        assert format_dmesg_line(int(m.group(1)) * 10**9 + int(m.group(2)) * 1000, m.group(3)) == line
    info = read_dmesg("Movable zone start for each node\n  Node 0: 0x0000000100000000\nEarly memory node ranges\n"
                      "  node   0: [mem 0x0000000000001000-0x000000000009efff]\n")
    assert info.movable_zone_start == {0: 0x100000} and info.node_ranges == [(0, 1, 0x9F)]
    assert isinstance(info, DmesgInfo)


# --------------------------------------------------------------------------- malformed input

def _err(fn, text, line):
    with pytest.raises(ParseError) as ei:
        fn(text)
    assert ei.value.line == line
    return ei.value


def test_malformed_inputs_raise_parse_error(tmp_path):
    good = (DATA / "b-1G" / "buddyinfo.txt").read_text().splitlines(True)
    # garbled line
    e = _err(read_buddyinfo, good[0] + "Node 0, zone DMA32 12 x3 4\n", 2)
    assert "buddyinfo" in e.file
    # wrong column count
    _err(read_buddyinfo, good[0] + good[1].rstrip().rsplit(" ", 1)[0] + " \n", 2)
    # the file name appears when reading a path
    p = tmp_path / "buddyinfo.txt"
    p.write_text(good[0] + "garbage\n")
    with pytest.raises(ParseError) as ei:
        read_buddyinfo(p)
    assert ei.value.file == str(p) and ei.value.line == 2 and f"{p}:2" in str(ei.value)

    pt = (DATA / "b-1G" / "pagetypeinfo.txt").read_text().splitlines(True)
    # truncated: stop inside the free table
    with pytest.raises(ParseError):
        read_pagetypeinfo("".join(pt[:8]))
    # truncated blocks table (a zone missing)
    blocks_at = next(i for i, l in enumerate(pt) if l.startswith("Number of blocks"))
    with pytest.raises(ParseError):
        read_pagetypeinfo("".join(pt[: blocks_at + 2]))
    # wrong column count in the free table and in the blocks table
    _err(read_pagetypeinfo, "".join(pt[:4]) + pt[4].rstrip("\n").rsplit(" ", 2)[0] + " \n" + "".join(pt[5:]), 5)
    bad = pt[blocks_at + 1].replace("            1 ", "", 1)
    _err(read_pagetypeinfo, "".join(pt[: blocks_at + 1]) + bad + "".join(pt[blocks_at + 2:]), blocks_at + 2)
    # garbled header
    _err(read_pagetypeinfo, "Page block order: x\n" + "".join(pt[1:]), 1)

    uu = (DATA / "b-1G" / "unusable_index.txt").read_text().splitlines(True)
    _err(lambda t: read_extfrag(t, None), uu[0] + uu[1].replace("0.000", "0.00", 1), 2)
    _err(lambda t: read_extfrag(None, t), uu[0] + uu[1].rsplit(" ", 2)[0] + " \n", 2)

    zi = (DATA / "b-1G" / "zoneinfo.txt").read_text().splitlines(True)
    _err(read_zoneinfo, "".join(zi[:3]) + "  what is this\n", 4)
    _err(read_zoneinfo, "  pages free     3\n", 1)
    _err(read_meminfo, "MemTotal:  12 kB\nMemFree 3 kB\n", 2)
    _err(read_vmstat, "nr_free_pages 3\nnr_bad x\n", 2)
    _err(read_memory_blocks, "block_size_bytes 8000000\nmemory0 phys_index=zz state=online\n", 2)
    _err(read_memory_blocks, "block_size_bytes 8000000\nmemory0 state=online\n", 2)
    _err(read_memory_blocks, "block_size_bytes 8000000\nmem0 phys_index=0\n", 2)
    _err(read_iomem, "00000000-00000fff : Reserved\n00001000 : System RAM\n", 2)
    _err(read_iomem, "00000000-00000fff : Reserved\n    00001000-00001fff : deep\n", 2)
    _err(read_dmesg, "[    0.000000] Zone ranges:\n[    0.000000]   DMA      [mem 0x1000-]\n", 2)


# --------------------------------------------------------------------------- properties

ZONE_NAMES = ["DMA", "DMA32", "Normal", "Movable"]
MTS = ["Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"]


@st.composite
def layouts(draw):
    nodes = draw(st.lists(st.integers(0, 7), min_size=1, max_size=3, unique=True))
    zones = {n: draw(st.lists(st.sampled_from(ZONE_NAMES), min_size=1, max_size=4, unique=True)) for n in nodes}
    norders = draw(st.integers(1, 12))
    return [(n, z) for n in nodes for z in zones[n]], norders


@settings(max_examples=60, deadline=None)
@given(layouts(), st.data())
def test_buddyinfo_property(layout, data):
    pairs, norders = layout
    counts = data.draw(st.lists(st.integers(0, 10**9), min_size=len(pairs) * norders, max_size=len(pairs) * norders))
    df = pd.DataFrame({
        "node": np.repeat([p[0] for p in pairs], norders).astype("int16"),
        "zone": pd.Categorical([p[1] for p in pairs for _ in range(norders)]),
        "order": np.tile(np.arange(norders), len(pairs)).astype("int8"),
        "nr_free": np.array(counts, dtype="int64"),
    })
    back = read_buddyinfo(format_buddyinfo(df))
    pd.testing.assert_frame_equal(back, df, check_categorical=False)
    assert format_buddyinfo(back) == format_buddyinfo(df)


@settings(max_examples=60, deadline=None)
@given(layouts(), st.booleans(), st.data())
def test_pagetypeinfo_property(layout, mixed, data):
    pairs, norders = layout
    nodes = list(dict.fromkeys(p[0] for p in pairs))
    pairs = [(n, z) for n in nodes for (m, z) in pairs if m == n]
    nfree = len(pairs) * len(MTS) * norders
    capped = data.draw(st.lists(st.booleans(), min_size=nfree, max_size=nfree))
    # the kernel prints ">" only where it stopped counting, at PAGETYPEINFO_FREE_CAP
    counts = [PAGETYPEINFO_FREE_CAP if cap else c for cap, c in zip(capped, data.draw(
        st.lists(st.integers(0, 10**7), min_size=nfree, max_size=nfree)))]
    free = pd.DataFrame({
        "node": np.repeat([p[0] for p in pairs], len(MTS) * norders).astype("int16"),
        "zone": pd.Categorical([p[1] for p in pairs for _ in range(len(MTS) * norders)]),
        "migratetype": pd.Categorical([m for _ in pairs for m in MTS for _ in range(norders)], categories=MTS),
        "order": np.tile(np.arange(norders), len(pairs) * len(MTS)).astype("int8"),
        "nr_free": np.array(counts, dtype="int64"),
        "capped": np.array(capped, dtype=bool),
    })
    nb = len(pairs) * len(MTS)
    blocks = pd.DataFrame({
        "node": np.repeat([p[0] for p in pairs], len(MTS)).astype("int16"),
        "zone": pd.Categorical([p[1] for p in pairs for _ in MTS]),
        "migratetype": pd.Categorical([m for _ in pairs for m in MTS], categories=MTS),
        "nr_blocks": np.array(data.draw(st.lists(st.integers(0, 10**6), min_size=nb, max_size=nb)), dtype="int64"),
        "nr_mixed": np.array(data.draw(st.lists(st.integers(0, 10**6), min_size=nb, max_size=nb))
                             if mixed else [-1] * nb, dtype="int64"),
    })
    header = {"pageblock_order": 9, "pages_per_block": 512}
    text = format_pagetypeinfo(free, blocks, header)
    free2, blocks2, header2 = read_pagetypeinfo(text)
    pd.testing.assert_frame_equal(free2, free, check_categorical=False)
    pd.testing.assert_frame_equal(blocks2, blocks, check_categorical=False)
    assert header2["migratetypes"] == tuple(MTS) and header2["nr_orders"] == norders
    assert format_pagetypeinfo(free2, blocks2, header2) == text


@settings(max_examples=60, deadline=None)
@given(layouts(), st.data())
def test_extfrag_property(layout, data):
    pairs, norders = layout
    n = len(pairs) * norders
    unusable = data.draw(st.lists(st.integers(0, 1000), min_size=n, max_size=n))
    extfrag = data.draw(st.lists(st.one_of(st.just(-1000), st.integers(0, 999)), min_size=n, max_size=n))
    df = pd.DataFrame({
        "node": np.repeat([p[0] for p in pairs], norders).astype("int16"),
        "zone": pd.Categorical([p[1] for p in pairs for _ in range(norders)]),
        "order": np.tile(np.arange(norders), len(pairs)).astype("int8"),
        "unusable_index": np.array(unusable) / 1000,
        "extfrag_index": np.array(extfrag) / 1000,
    })
    u, e = format_unusable_index(df), format_extfrag_index(df)
    back = read_extfrag(u, e)
    pd.testing.assert_frame_equal(back, df, check_categorical=False)
    assert format_unusable_index(back) == u and format_extfrag_index(back) == e


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=11, max_size=11), st.integers(0, 10))
def test_extfrag_formula_ranges(counts, order):
    u = unusable_index(counts, order)
    f = fragmentation_index(counts, order)
    assert 0 <= u <= 1000
    assert f == -1000 or 0 <= f < 1000
    if sum(c << o for o, c in enumerate(counts)) and any(counts[order:]):
        assert f == -1000
