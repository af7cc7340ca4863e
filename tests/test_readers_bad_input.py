"""Readers never break: each reproducer of the bugs the readers had, now a result or a named ParseError.

Every ParseError names the file, the 1-based line and what was expected; the
commands exit 2 with one line on stderr, never a traceback.  The bounds come
from the kernel (pextlab.procfs.limits); files the kernel or ``pextlab
capture`` can write still read.
"""
from __future__ import annotations

import gzip
import shutil
import time

import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.cli import main as cli_main
from pextlab.errors import ParseError
from pextlab.procfs.buddyinfo import read_buddyinfo
from pextlab.procfs.dmesg import read_dmesg
from pextlab.procfs.extfrag import format_extfrag_index, read_extfrag, read_index_file
from pextlab.procfs.memory_blocks import format_memory_blocks, read_memory_blocks, read_memory_blocks_sysfs
from pextlab.procfs.meminfo import read_meminfo
from pextlab.procfs.page_owner import iter_page_owner_chunks, read_page_owner
from pextlab.procfs.pagetypeinfo import read_pagetypeinfo
from pextlab.procfs.stacks import read_show_stacks
from pextlab.procfs.vmstat import read_vmstat
from pextlab.procfs.zoneinfo import read_zoneinfo

from conftest import REAL

B1G = REAL / "b-1G"
REC = ("Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 185, tgid 185 (leaky), ts 1058431417 ns\n"
       "PFN 0x1731 type Unmovable Block 11 type Unmovable Flags 0x0(node=0|zone=1)\n"
       " get_page_from_freelist+0x1673/0x1730\n"
       " __alloc_pages_noprof+0x12e/0x230\n"
       "\n")


def parse_error(fn, *args, **kw) -> ParseError:
    with pytest.raises(ParseError) as ei:
        fn(*args, **kw)
    e = ei.value
    assert e.file and isinstance(e.line, int) and e.line >= 1 and e.expected, str(e)
    return e


def capture_copy(tmp_path, name="a-512M"):
    d = tmp_path / name
    shutil.copytree(REAL / name, d)
    return d


def run_cli(argv, capsys) -> tuple[int, str, str]:
    rc = cli_main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


# --------------------------------------------------------------------------------------
# 1. damaged gzip
# --------------------------------------------------------------------------------------

def test_gzip_cut_short_is_a_parse_error(tmp_path):
    p = tmp_path / "b.gz"
    p.write_bytes(gzip.compress(b"Node 0, zone DMA 1\n")[:20])
    e = parse_error(read_buddyinfo, p)
    assert e.file == str(p) and e.line == 1 and "gzip" in e.expected


@pytest.mark.parametrize("damage", ["cut", "flip", "trailing"])
def test_damaged_gzip_page_owner_names_where_the_text_stops(tmp_path, damage):
    text = (REC * 3000).encode()
    gz = gzip.compress(text, mtime=0)
    gz = {"cut": gz[:len(gz) // 2], "flip": gz[:len(gz) // 2] + bytes([gz[len(gz) // 2] ^ 0xFF])
          + gz[len(gz) // 2 + 1:], "trailing": gz + b"garbage"}[damage]
    p = tmp_path / "po.gz"
    p.write_bytes(gz)
    whole = parse_error(read_page_owner, p)
    # the text before the fault is read (a flipped byte may garble it first: that line is named)
    assert whole.line > 1 and ("gzip" in whole.expected or damage == "flip")
    for chunk in (1, 100):
        e = parse_error(lambda: list(iter_page_owner_chunks(p, chunk_records=chunk)))
        assert (e.line, e.expected) == (whole.line, whole.expected)


def test_commands_with_damaged_gzip_exit_2(tmp_path, capsys):
    d = capture_copy(tmp_path)
    (d / "dmesg.txt").write_bytes(gzip.compress((d / "dmesg.txt").read_bytes())[:200])
    rc, _, err = run_cli(["boot", "--capture", str(d), "--quiet"], capsys)
    assert rc == 2 and "dmesg.txt:" in err and err.count("\n") == 1
    rc, out, err = run_cli(["report", str(d)], capsys)
    assert rc in (0, 2) and (rc == 2) == (out == "")


# --------------------------------------------------------------------------------------
# 2. numbers that do not fit
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, text, line", [
    (read_buddyinfo, "Node 0, zone DMA 18446744073709551616 0\n", 1),
    (read_buddyinfo, "Node 0, zone DMA 1 0\nNode 99999, zone DMA32 1 0\n", 2),
    (read_vmstat, "nr_free_pages 5\nnr_bad " + "7" * 5000 + "\n", 2),
    (read_vmstat, "nr_free_pages -5\n", 1),
    (read_meminfo, "MemTotal:  " + "1" * 30 + " kB\n", 1),
    (read_page_owner, REC.replace("pid 185,", "pid 1099511627776,"), 1),
    (read_page_owner, REC + REC.replace("node=0", "node=99999"), 7),
    (read_page_owner, REC.replace("order 0,", f"order {2**70},"), 1),
    (read_page_owner, REC.replace("ts 1058431417", "ts " + "9" * 30), 1),
    (read_page_owner, REC.replace("PFN 0x1731", "PFN 0x" + "f" * 20), 2),
    (read_page_owner, REC.replace("mask 0xcc0", "mask 0x1cc0cc0cc0"), 1),
    (read_show_stacks, " a+0x1/0x2\nnr_base_pages: " + "9" * 5000 + "\n\n", 2),
])
def test_numbers_that_do_not_fit(fn, text, line):
    assert parse_error(fn, text).line == line


def test_sort_with_a_5000_digit_order(tmp_path, capsys):
    p = tmp_path / "po.txt"
    p.write_text(REC.replace("order 0,", "order " + "9" * 5000 + ","))
    rc, out, err = run_cli(["sort", str(p)], capsys)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"pextlab sort: cannot parse page_owner input: {p}:1: expected an order in 0..18")


def test_report_with_2_64_in_buddyinfo(tmp_path, capsys):
    d = capture_copy(tmp_path)
    lines = (d / "buddyinfo.txt").read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace("      0 ", f" {2**64} ", 1)
    (d / "buddyinfo.txt").write_text("".join(lines))
    with pytest.raises(ParseError):
        pextlab.read_capture(d).df_buddyinfo()
    rc, out, _ = run_cli(["report", str(d)], capsys)
    assert rc == 0 and "buddyinfo.txt:1: expected a count in 0..2**52-1" in out


# --------------------------------------------------------------------------------------
# 3. values the kernel cannot print are errors, not data
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [19, 63, 300])
def test_page_owner_orders_above_the_kernels(order):
    e = parse_error(read_page_owner, REC.replace("order 0,", f"order {order},"))
    assert e.line == 1 and "an order in 0..18" in e.expected


def test_page_owner_orders_the_kernel_prints():
    # MAX_PAGE_ORDER (10), and a 1 GiB gigantic folio from alloc_contig_range (18)
    for order in (10, 18):
        df = read_page_owner(REC.replace("order 0,", f"order {order},"))
        assert df.order.tolist() == [order] and df.nr_pages.tolist() == [1 << order]


@pytest.mark.parametrize("field", ["managed", "spanned", "min"])
def test_zoneinfo_without_a_required_field(field):
    text = (B1G / "zoneinfo.txt").read_text()
    lines = text.splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith(field + " "))
    zone_line = max(j for j in range(i) if lines[j].startswith("Node ")) + 1
    e = parse_error(read_zoneinfo, "".join(lines[:i] + lines[i + 1:]))
    assert e.line == zone_line and repr(field) in e.expected


def test_zoneinfo_field_twice():
    text = (B1G / "zoneinfo.txt").read_text()
    lines = text.splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("managed "))
    assert parse_error(read_zoneinfo, "".join(lines[:i + 1] + lines[i:])).line == i + 2


@pytest.mark.parametrize("text, line, expected", [
    ("block_size_bytes 8000000\nmemory0 phys_index=00000000 state=online\n"
     "memory0 phys_index=00000000 state=online\n", 3, "each block once"),
    ("block_size_bytes 8000000\nmemory0 phys_index=-1 state=online\n", 2, "phys_index"),
    ("block_size_bytes 8000000\nmemory3 phys_index=00000004 state=online\n", 2, "equal to the block id"),
    ("block_size_bytes 0\n", 1, "block_size_bytes"),
    ("block_size_bytes c000000\n", 1, "a power of two"),
    ("memory0 phys_index=00000000 state=sleeping\n", 1, "state online"),
    ("memory0 phys_index=00000000 state=online node=1024\n", 1, "node ids"),
    ("memory0 phys_index=00000000 state=online node=1,0\n", 1, "ascending"),
    ("memory0 phys_index=00000000 state=online state=offline\n", 1, "one state="),
    ("memory0 phys_index=00000000 state=online phys=0\n", 1, "keys among phys_index"),   # fuzz seed 10098549
])
def test_memory_blocks_the_kernel_cannot_show(text, line, expected):
    e = parse_error(read_memory_blocks, text)
    assert e.line == line and expected in e.expected


@pytest.mark.parametrize("what, value", [
    ("unusable_index", "1.001"), ("unusable_index", "-1.000"), ("unusable_index", "0.-500"),
    ("extfrag_index", "-2.000"), ("extfrag_index", "-0.500"), ("extfrag_index", "1.500"),
    ("extfrag_index", "0.-000"),
])
def test_index_values_outside_their_range(what, value):
    e = parse_error(read_index_file, f"Node 0, zone DMA 0.000 \nNode 0, zone DMA32 {value} \n", what)
    assert e.line == 2


def test_extfrag_index_between_minus_one_and_zero_reads():
    # one free block of half the requested size: 1000 - (1000 + 500) / 1 = -500,
    # printed "%2d.%03d" of (-500 / 1000, -500 % 1000) in C: " 0.-500"
    rows = read_index_file("Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125 \n", "extfrag_index")
    assert rows == [(0, "DMA", [-1000, -500, -250, -125])]
    df = read_extfrag(None, "Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125 \n")
    assert format_extfrag_index(df) == "Node 0, zone      DMA -1.000  0.-500  0.-250  0.-125 \n"


def test_dmesg_reversed_ranges():
    zones = "[    0.000000] Zone ranges:\n[    0.000000]   DMA      [mem 0x0000000000002000-0x0000000000001fff]\n"
    assert parse_error(read_dmesg, zones).line == 2
    nodes = "Early memory node ranges\n  node   0: [mem 0x0000000000100000-0x000000000009ffff]\n"
    assert parse_error(read_dmesg, nodes).line == 2
    assert parse_error(read_dmesg, "Early memory node ranges\n  node   5000: [mem 0x0-0x1]\n").line == 2


def test_pagetypeinfo_capped_counts_are_the_cap():
    text = (B1G / "pagetypeinfo.txt").read_text()
    lines = text.splitlines(keepends=True)
    i = next(i for i, ln in enumerate(lines) if ln.startswith("Node") and "type" in ln)
    bad = lines[i].rstrip("\n").rsplit(" ", 2)[0] + "   >7 \n"
    assert parse_error(read_pagetypeinfo, "".join(lines[:i] + [bad] + lines[i + 1:])).line == i + 1
    good = lines[i].rstrip("\n").rsplit(" ", 2)[0] + " >100000 \n"
    free, _, _ = read_pagetypeinfo("".join(lines[:i] + [good] + lines[i + 1:]))
    assert free.capped.sum() == 1 and free.nr_free[free.capped].tolist() == [100000]


# --------------------------------------------------------------------------------------
# 4. chunked reading agrees with whole-file reading
# --------------------------------------------------------------------------------------

def test_20000_frame_stack_reads_whole_and_in_chunks(tmp_path):
    deep = REC.replace(" __alloc_pages_noprof+0x12e/0x230\n", " __alloc_pages_noprof+0x12e/0x230\n" * 20_000)
    p = tmp_path / "po.txt"
    p.write_text(REC * 300 + deep + REC * 300)
    whole = read_page_owner(p)
    assert len(whole) == 601
    for chunk in (1, 200, 100_000):
        parts = list(iter_page_owner_chunks(p, chunk_records=chunk))
        got = pd.concat(parts, ignore_index=True)
        pd.testing.assert_frame_equal(got.astype(object), whole.astype(object))


def test_first_bad_line_wins_in_any_chunking(tmp_path):
    # a bad value early and a bad layout later: every chunking names the value's line
    text = REC * 150 + REC.replace("pid 185,", "pid 99999999,") + REC * 150 + "garbage\n\n" + REC
    p = tmp_path / "po.txt"
    p.write_text(text)
    want = parse_error(read_page_owner, p)
    assert want.line == 150 * 5 + 1 and "pid" in want.expected
    for chunk in (1, 7, 200):
        e = parse_error(lambda: list(iter_page_owner_chunks(p, chunk_records=chunk)))
        assert (e.line, e.expected) == (want.line, want.expected)


# --------------------------------------------------------------------------------------
# 5. cpuinfo_summary
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, line", [("9223372036854775808\n", "9223372036854775808"),
                                           ("", "<empty file>"), ("eight\n", "eight")])
def test_cpuinfo_summary_the_capture_tool_cannot_write(tmp_path, capsys, content, line):
    d = capture_copy(tmp_path)
    (d / "cpuinfo_summary.txt").write_text(content)
    cap = pextlab.read_capture(d)
    t0 = time.perf_counter()
    e = parse_error(lambda: cap.layout)
    assert time.perf_counter() - t0 < 5
    assert e.line == 1 and e.got == line and e.file == str(d / "cpuinfo_summary.txt")
    rc, _, err = run_cli(["boot", "--capture", str(d), "--quiet"], capsys)
    assert rc == 2 and "cpuinfo_summary.txt:1: expected the number of CPUs" in err


def test_cpuinfo_summary_zero_reads_as_one_cpu(tmp_path):
    # the capture tool writes 0 when /proc/cpuinfo has no "processor" lines
    d = capture_copy(tmp_path)
    (d / "cpuinfo_summary.txt").write_text("0\n")
    assert pextlab.read_capture(d).nr_cpus == 1


# --------------------------------------------------------------------------------------
# A memory block on two nodes (what the capture tool writes for it)
# --------------------------------------------------------------------------------------

def test_memory_block_on_two_nodes_text():
    text = ("block_size_bytes 8000000\n"
            "memory0 phys_index=00000000 state=online online=1 valid_zones=none removable=1 "
            "phys_device=0 node=0\n"
            "memory1 phys_index=00000001 state=online online=1 valid_zones=none removable=1 "
            "phys_device=0 node=0,1\n")
    df = read_memory_blocks(text)
    assert df.node.tolist() == [0, 0]
    assert df.nodes.tolist() == ["0", "0,1"]
    assert format_memory_blocks(df) == text


def test_memory_block_on_two_nodes_sysfs(tmp_path):
    root = tmp_path / "memory"
    root.mkdir()
    (root / "block_size_bytes").write_text("8000000\n")
    for block, nodes in ((0, (0,)), (1, (0, 1))):
        d = root / f"memory{block}"
        d.mkdir()
        (d / "phys_index").write_text(f"{block:08x}\n")
        (d / "state").write_text("online\n")
        for n in nodes:
            (d / f"node{n}").mkdir()
    df = read_memory_blocks_sysfs(root)
    assert df.node.tolist() == [0, 0] and df.nodes.tolist() == ["0", "0,1"]
    again = read_memory_blocks(format_memory_blocks(df))
    assert again.nodes.tolist() == df.nodes.tolist()
    (root / "memory1" / "phys_index").write_text("00000002\n")
    e = parse_error(read_memory_blocks_sysfs, root)
    assert e.file == str(root / "memory1" / "phys_index") and e.line == 1


def test_memory_block_start_pfn_is_block_id_times_block_pages():
    # 2 GiB blocks (16 sections): phys_index is the block id, not the first section
    df = read_memory_blocks("block_size_bytes 80000000\nmemory3 phys_index=00000003 state=offline\n")
    assert df.start_pfn.tolist() == [3 * (0x80000000 >> 12)]
    assert df.end_pfn.tolist() == [4 * (0x80000000 >> 12)]


# --------------------------------------------------------------------------------------
# Real files still read
# --------------------------------------------------------------------------------------

def test_every_real_capture_still_reads():
    for d in sorted(p for p in REAL.iterdir() if p.is_dir()):
        cap = pextlab.read_capture(d)
        for f in ("df_zones", "df_buddyinfo", "df_pagetypeinfo", "df_extfrag", "df_meminfo", "df_vmstat",
                  "df_memory_blocks"):
            if f == "df_memory_blocks" or cap.has(f[3:].replace("zones", "zoneinfo")
                                                  .replace("pageblocks", "pagetypeinfo")
                                                  .replace("extfrag", "unusable_index")):
                assert isinstance(getattr(cap, f)(), pd.DataFrame)
        assert cap.nr_cpus >= 1 and np.isfinite(cap.layout.total_pages)
