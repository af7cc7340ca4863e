"""page_owner_sort on frames: grouping, sorting, output format, command line, real dump."""
from __future__ import annotations

import collections
import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pextlab.analysis.page_owner_sort import (
    allocator_masks, block_text, page_owner_sort, render_page_owner_sort,
)
from pextlab.analysis.sort_cli import main
from pextlab.analysis.sort_options import (
    USAGE, SortArgumentError, parse_cull, parse_num_list, parse_sort,
)
from pextlab.schema import conform, top_frame_of

REPO = Path(__file__).resolve().parents[1]
B1G = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"

FAULT = "get_page_from_freelist+0x1/0x2\nvma_alloc_folio_noprof+0x5c/0xb0\nexc_page_fault+0x1fb/0x590"
SLAB = "get_page_from_freelist+0x1/0x2\nallocate_slab+0x28/0x3f0\nkmalloc+0x9/0x10"
VMAL = "get_page_from_freelist+0x1/0x2\nalloc_pages_bulk_array_mempolicy_noprof+0xab/0x560\n" \
       "__vmalloc_node_range_noprof+0x223/0x770\nvmalloc+0x1/0x2"
VMAL_NOT = "get_page_from_freelist+0x1/0x2\nfoo+0x1/0x2\n__vmalloc_node_range_noprof+0x223/0x770"


def frame(rows: list[dict], flags: list[str] | None = None) -> pd.DataFrame:
    """A schema-conformant page_owner frame from a few fields per row."""
    base = dict(pfn=0, order=0, gfp_mask=0xcc0, gfp="GFP_KERNEL", migratetype="Unmovable",
                pageblock_migratetype="Unmovable", node=0, zone="Normal", stack_handle=1,
                stack=FAULT, pid=1, tgid=1, comm="init", ts_ns=100, free_ts_ns=-1,
                last_migrate_reason=np.nan)
    recs = []
    for i, r in enumerate(rows):
        d = {**base, "pfn": i * 16, **r}
        d["nr_pages"] = 1 << d["order"]
        d["pageblock"] = d["pfn"] >> 9
        d["mixed"] = d["migratetype"] != d["pageblock_migratetype"]
        d["section"] = d["pfn"] >> 15
        d["memory_block"] = d["section"]
        d["top_frame"] = top_frame_of(d["stack"].split("\n"))
        recs.append(d)
    df = conform(pd.DataFrame(recs), "page_owner")
    if flags is not None:
        df["flags"] = flags
    return df


# --------------------------------------------------------------------------- parsing

def test_parse_sort_prefixes_and_aliases():
    assert parse_sort("-pid,+tg,n,st,T,at,ator") == [
        ("pid", False), ("tgid", True), ("comm", True), ("stacktrace", True), ("text", True),
        ("ts_ns", True), ("allocator", True)]
    assert parse_sort(["-times", "pages"]) == [("times", False), ("pages", True)]


@pytest.mark.parametrize("spec", ["bogus", "pid,", "-", "pid,,tgid", "free_ts"])
def test_parse_sort_rejects_with_tool_message(spec):
    with pytest.raises(SortArgumentError) as e:
        parse_sort(spec)
    assert str(e.value) == f"wrong argument after --sort option:{spec}"


def test_parse_cull_orders_keys_as_the_tool_compares_them():
    assert parse_cull("allocator,name,pid,st") == ("stacktrace", "pid", "comm", "allocator")
    assert parse_cull("comm") == ("comm",)
    with pytest.raises(SortArgumentError, match=r"^wrong argument after --cull option:txt$"):
        parse_cull("txt")
    with pytest.raises(SortArgumentError, match=r"^wrong argument after --cull option:at$"):
        parse_cull("at")


def test_parse_num_list():
    assert parse_num_list("1,22,333") == [1, 22, 333]
    assert parse_num_list(" 7") == [7]
    for bad in ("1,x", "", "1,", "3 ", "0x10"):
        with pytest.raises(SortArgumentError) as e:
            parse_num_list(bad, "tgid")
        assert str(e.value) == f"wrong/invalid tgid in from the command line:{bad}"


# --------------------------------------------------------------------------- block text

def test_block_text_strips_ts_and_adds_migrate_line():
    df = frame([dict(ts_ns=123456, gfp_mask=0, gfp="", stack="a+0x1/0x2\nb+0x3/0x4",
                     last_migrate_reason="compaction", comm="swapper/0", pid=0, tgid=0)])
    assert block_text(df)[0] == (
        "Page allocated via order 0, mask 0x0(), pid 0, tgid 0 (swapper/0), ts  ns\n"
        " a+0x1/0x2\n b+0x3/0x4\n"
        "Page has been migrated, last migrate reason: compaction\n")
    assert block_text(df, keep_ts=True)[0].startswith(
        "Page allocated via order 0, mask 0x0(), pid 0, tgid 0 (swapper/0), ts 123456 ns\n")


def test_allocator_classification():
    df = frame([dict(stack=FAULT), dict(stack=VMAL), dict(stack=VMAL_NOT),
                dict(stack=FAULT, pageblock_migratetype="CMA", migratetype="Movable"),
                dict(stack=VMAL, pageblock_migratetype="CMA"),
                dict(stack=SLAB)],
               flags=["", "", "", "", "", "0x200(slab|node=0|zone=1)"])
    assert allocator_masks(df).tolist() == [16, 8, 16, 2, 2 | 8, 4]
    # without a flags column SLAB cannot be seen (the schema has no page flags)
    assert allocator_masks(df.drop(columns="flags")).tolist()[-1] == 16


# --------------------------------------------------------------------------- pipeline

def test_default_groups_by_text_without_timestamps_and_sorts_by_times():
    df = frame([
        dict(ts_ns=1), dict(ts_ns=2), dict(ts_ns=3),          # same text, 3 times
        dict(pid=2, tgid=2, comm="sh", ts_ns=4),               # differs by pid/comm
        dict(pid=2, tgid=2, comm="sh", order=2, ts_ns=5),      # and by order
        dict(pid=2, tgid=2, comm="sh", order=2, ts_ns=6),
    ])
    r = page_owner_sort(df)
    assert r.columns.tolist() == ["times", "pages", "pid", "tgid", "comm", "allocator",
                                  "ts_ns", "stacktrace", "text"]
    assert r[["times", "pages", "pid", "comm"]].values.tolist() == [
        [3, 3, 1, "init"], [2, 8, 2, "sh"], [1, 1, 2, "sh"]]
    assert r["ts_ns"].tolist() == [1, 5, 4]  # the group's first record in file order
    stack_lines = " get_page_from_freelist+0x1/0x2\n vma_alloc_folio_noprof+0x5c/0xb0\n" \
                  " exc_page_fault+0x1fb/0x590\n"
    assert render_page_owner_sort(r) == (
        "3 times, 3 pages, allocated by OTHERS :\n"
        "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts  ns\n"
        + stack_lines + "\n"
        "2 times, 8 pages, allocated by OTHERS :\n"
        "Page allocated via order 2, mask 0xcc0(GFP_KERNEL), pid 2, tgid 2 (sh), ts  ns\n"
        + stack_lines + "\n"
        "1 times, 1 pages, allocated by OTHERS :\n"
        "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 2, tgid 2 (sh), ts  ns\n"
        + stack_lines + "\n")


def test_memory_flag_sorts_pages_descending():
    df = frame([dict(), dict(), dict(), dict(order=3, comm="big")])
    assert page_owner_sort(df, flag="m")["pages"].tolist() == [8, 3]
    assert page_owner_sort(df, flag="t")["pages"].tolist() == [3, 8]
    assert page_owner_sort(df, flag="memory")["pages"].tolist() == [8, 3]


def test_alloc_time_sort_keeps_timestamps_and_sorts_ascending():
    df = frame([dict(ts_ns=30), dict(ts_ns=10), dict(ts_ns=20), dict(ts_ns=10)])
    r = page_owner_sort(df, flag="a")
    assert r["ts_ns"].tolist() == [10, 20, 30]     # identical records at ts 10 still collate
    assert r["times"].tolist() == [2, 1, 1]
    assert ", ts 10 ns\n" in r["text"][0]
    # --sort at is the same primary key, so timestamps are kept too
    assert page_owner_sort(df, sort="-at")["ts_ns"].tolist() == [30, 20, 10]
    # other primary keys strip them
    assert page_owner_sort(df, sort="pid,at")["times"].tolist() == [4]


def test_cull_stacktrace_with_name_filter_renders_like_the_tool():
    df = frame([dict(comm="leaky", pid=185, tgid=185)] * 3
               + [dict(comm="leaky", pid=185, tgid=185, stack=SLAB, order=1)]
               + [dict(comm="other", pid=9, tgid=9)] * 5
               + [dict(comm="leaky", pid=186, tgid=186, ts_ns=7)])   # same stack, other pid
    r = page_owner_sort(df, name="leaky", cull="stacktrace")
    assert r[["times", "pages"]].values.tolist() == [[4, 4], [1, 2]]
    assert render_page_owner_sort(r) == (
        "4 times, 4 pages, task_comm_name: leaky:\n"
        " get_page_from_freelist+0x1/0x2\n vma_alloc_folio_noprof+0x5c/0xb0\n"
        " exc_page_fault+0x1fb/0x590\n\n"
        "1 times, 2 pages, task_comm_name: leaky:\n"
        " get_page_from_freelist+0x1/0x2\n allocate_slab+0x28/0x3f0\n kmalloc+0x9/0x10\n\n")


def test_cull_pid_and_selections_print_their_fields():
    df = frame([dict(pid=5, tgid=4, comm="a")] * 2 + [dict(pid=6, tgid=4, comm="b")]
               + [dict(pid=7, tgid=8, comm="c")])
    r = page_owner_sort(df, cull="pid", tgid=[4])
    assert render_page_owner_sort(r) == ("2 times, 2 pages, PID 5, TGID 4\n"
                                         "1 times, 1 pages, PID 6, TGID 4\n")
    r = page_owner_sort(df, cull="tgid,name", pid=[5, 7], sort="-name")
    assert render_page_owner_sort(r) == (
        "1 times, 1 pages, PID 7, TGID 8, task_comm_name: c\n"
        "2 times, 2 pages, PID 5, TGID 4, task_comm_name: a\n")
    # every given list must match
    assert page_owner_sort(df, pid=5, name="b").empty


def test_cull_allocator_output():
    df = frame([dict(stack=VMAL)] * 2 + [dict(stack=FAULT)] * 3
               + [dict(stack=VMAL, pageblock_migratetype="CMA")])
    r = page_owner_sort(df, cull="allocator")
    assert r["allocator"].tolist() == ["OTHERS", "VMALLOC", "CMA VMALLOC"]
    assert render_page_owner_sort(r) == (
        "3 times, 3 pages, allocated by OTHERS \n"
        "2 times, 2 pages, allocated by VMALLOC \n"
        "1 times, 1 pages, allocated by CMA VMALLOC \n")
    # sorting by allocator compares the tool's bit values: VMALLOC 8 < CMA|VMALLOC 10 < OTHERS 16
    assert page_owner_sort(df, cull="ator", sort="ator")["allocator"].tolist() == [
        "VMALLOC", "CMA VMALLOC", "OTHERS"]


def test_migrated_pages_differ_in_stacktrace():
    df = frame([dict(), dict(last_migrate_reason="compaction"), dict()])
    r = page_owner_sort(df, cull="st")
    assert r["times"].tolist() == [2, 1]
    assert r["stacktrace"][1].endswith("Page has been migrated, last migrate reason: compaction\n")


def test_multi_key_sort_and_deterministic_ties():
    df = frame([dict(pid=3, tgid=3, comm="z"), dict(pid=1, tgid=1, comm="y"),
                dict(pid=2, tgid=2, comm="x"), dict(pid=2, tgid=2, comm="x")])
    assert page_owner_sort(df, cull="pid", sort="-pid")["pid"].tolist() == [3, 2, 1]
    assert page_owner_sort(df, cull="pid", sort="+n")["comm"].tolist() == ["x", "y", "z"]
    # -t ties (pid 1 and 3 each once) are broken by the cull keys ascending
    assert page_owner_sort(df, cull="pid")["pid"].tolist() == [2, 1, 3]
    assert page_owner_sort(df, cull="pid", sort="-times,-pid")["pid"].tolist() == [2, 3, 1]


def test_empty_selection():
    df = frame([dict()])
    r = page_owner_sort(df, pid=[99], cull="stacktrace")
    assert len(r) == 0 and render_page_owner_sort(r) == ""
    assert page_owner_sort(df.iloc[:0]).empty


def test_bad_arguments_raise():
    df = frame([dict()])
    with pytest.raises(SortArgumentError):
        page_owner_sort(df, sort="nope")
    with pytest.raises(SortArgumentError):
        page_owner_sort(df, cull="ts")
    with pytest.raises(ValueError):
        page_owner_sort(df, flag="x")


# --------------------------------------------------------------------------- command line

RECORDS = (
    "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts 5 ns\n"
    "PFN 0x10 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=1)\n"
    " get_page_from_freelist+0x1/0x2\n kmalloc+0x9/0x10\n\n"
    "Page allocated via order 1, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts 9 ns\n"
    "PFN 0x12 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=1)\n"
    " get_page_from_freelist+0x1/0x2\n kmalloc+0x9/0x10\n\n"
    "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts 7 ns\n"
    "PFN 0x14 type Unmovable Block 0 type Unmovable Flags 0x0(node=0|zone=1)\n"
    " get_page_from_freelist+0x1/0x2\n kmalloc+0x9/0x10\n\n"
)


@pytest.fixture
def dump(tmp_path):
    p = tmp_path / "page_owner.txt"
    p.write_text(RECORDS)
    return p


def test_cli_default_to_stdout(dump, capsys):
    assert main([str(dump)]) == 0
    out, err = capsys.readouterr()
    hdr = "mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts  ns\n"
    st = " get_page_from_freelist+0x1/0x2\n kmalloc+0x9/0x10\n"
    assert out == ("2 times, 2 pages, allocated by OTHERS :\nPage allocated via order 0, " + hdr + st + "\n"
                   "1 times, 2 pages, allocated by OTHERS :\nPage allocated via order 1, " + hdr + st + "\n")
    assert err == ""


def test_cli_output_file_and_options(dump, tmp_path, capsys):
    out = tmp_path / "sorted.txt"
    assert main(["--cull=stacktrace", "-m", str(dump), str(out)]) == 0
    assert out.read_text() == ("3 times, 4 pages:\n get_page_from_freelist+0x1/0x2\n"
                               " kmalloc+0x9/0x10\n\n")
    err = capsys.readouterr().err
    assert "loaded 3\n" in err and "sorting ....\n" in err and "culling\n" in err
    # options after the operands and "--opt value" spelling (getopt_long permutes)
    assert main([str(dump), "--pid", "1", "--cull", "pid", "-a"]) == 0
    assert capsys.readouterr().out == "3 times, 4 pages, PID 1\n"


@pytest.mark.parametrize("argv, message", [
    (["--sort=bogus"], "wrong argument after --sort option:bogus\n"),
    (["--cull", "txt"], "wrong argument after --cull option:txt\n"),
    (["--pid=1,x"], "wrong/invalid pid in from the command line:1,x\n"),
    (["--tgid", "abc"], "wrong/invalid tgid in from the command line:abc\n"),
])
def test_cli_bad_arguments_give_the_tools_messages(dump, capsys, argv, message):
    assert main(argv + [str(dump)]) == 1
    out, err = capsys.readouterr()
    assert err == message and out == ""


def test_cli_two_sort_flags_print_usage(dump, capsys):
    assert main(["-m", "-t", str(dump)]) == 1
    err = capsys.readouterr().err
    assert "only one of -a/-m/-n/-p/-P/-s/-t" in err and USAGE in err
    assert main(["-t", "-t", str(dump)]) == 0  # the same flag twice is one flag


def test_cli_unknown_option_and_missing_operands(dump, capsys):
    assert main(["-x", str(dump)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pextlab sort: option -x not recognized\n") and "Usage: pextlab sort" in err
    assert main(["--frobnicate", str(dump)]) == 1
    assert "option --frobnicate not recognized" in capsys.readouterr().err
    assert main([]) == 1
    assert "Usage: pextlab sort [OPTIONS] <input> [output]" in capsys.readouterr().err
    assert main(["--cull"]) == 1
    assert "requires argument" in capsys.readouterr().err


def test_cli_help(capsys):
    assert main(["--help"]) == 0
    assert capsys.readouterr().out == USAGE


def _one_line_error(capsys, argv, code=2):
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("pextlab sort: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_cli_garbage_input(tmp_path, capsys):
    p = tmp_path / "garbage.txt"
    p.write_text("hello world\nthis is not page_owner\n")
    err = _one_line_error(capsys, [str(p)])
    assert "garbage.txt:1" in err


def test_cli_truncated_record(tmp_path, capsys):
    p = tmp_path / "trunc.txt"
    p.write_text(RECORDS + RECORDS.split("\n")[0] + "\n")  # a header without its PFN line
    err = _one_line_error(capsys, [str(p)])
    assert "trunc.txt:17" in err and "truncated record" in err


def test_cli_truncated_gzip(tmp_path, capsys):
    p = tmp_path / "trunc.txt.gz"
    p.write_bytes(gzip.compress(RECORDS.encode() * 50)[:200])
    _one_line_error(capsys, [str(p)])


def test_cli_missing_file(tmp_path, capsys):
    err = _one_line_error(capsys, [str(tmp_path / "nope.txt")], code=1)
    assert "No such file or directory" in err


# --------------------------------------------------------------------------- the real b-1G dump

needs_b1g = pytest.mark.skipif(not B1G.exists(), reason="data/real-kernel/b-1G/page_owner.txt.gz missing")


@pytest.fixture(scope="module")
def b1g():
    from pextlab.procfs.page_owner import read_page_owner
    return read_page_owner(B1G)


@needs_b1g
def test_real_leak_by_name_cull_stacktrace(b1g):
    # The 6.12 tool run as `page_owner_sort --name leaky --cull=stacktrace` reports 20003 and 5000.
    r = page_owner_sort(b1g, name="leaky", cull="stacktrace")
    assert r["pages"].tolist()[:2] == [20003, 5000]
    assert r["times"].tolist()[:2] == [20003, 5000]
    assert r["pages"].sum() == 25071 + 0 and r["times"].sum() == 25071
    assert r["stacktrace"][0].endswith(" exc_page_fault+0x1fb/0x590\n asm_exc_page_fault+0x26/0x30\n")
    assert " __mm_populate+0xdc/0x120\n" in r["stacktrace"][1]
    text = render_page_owner_sort(r)
    assert text.startswith("20003 times, 20003 pages, task_comm_name: leaky:\n"
                           " get_page_from_freelist+0x1673/0x1730\n")
    assert "\n5000 times, 5000 pages, task_comm_name: leaky:\n" in text


@needs_b1g
def test_real_cli_leak(capsys):
    assert main(["--name", "leaky", "--cull=stacktrace", str(B1G)]) == 0
    out = capsys.readouterr().out
    heads = re.findall(r"^(\d+) times, (\d+) pages, task_comm_name: leaky:$", out, re.M)
    assert heads[:2] == [("20003", "20003"), ("5000", "5000")]


def _tool_blocks(path):
    """An independent text-level model of the tool's default run: read_block (PFN
    lines set aside), ts digits removed, identical texts counted."""
    with gzip.open(path, "rt") as fh:
        text = fh.read()
    times, pages = collections.Counter(), collections.Counter()
    for blk in text.split("\n\n"):
        if not blk.strip():
            continue
        lines = [ln for ln in blk.strip("\n").split("\n") if not ln.startswith("PFN")]
        body = "\n".join(lines) + "\n"
        body = re.sub(r"ts\s*[0-9]*\s*ns", "ts  ns", body, count=1)
        order = int(re.search(r"order\s*([0-9]*),", body).group(1))
        times[body] += 1
        pages[body] += 1 << order
    return times, pages


@needs_b1g
def test_real_default_matches_a_text_level_model(b1g):
    times, pages = _tool_blocks(B1G)
    r = page_owner_sort(b1g)
    assert len(r) == len(times)
    got = dict(zip(r["text"], zip(r["times"], r["pages"])))
    assert got == {t: (times[t], pages[t]) for t in times}
    assert r["times"].is_monotonic_decreasing
    assert r["times"].sum() == 31714
    # VMALLOC stacks exist in this dump (alloc_pages_* frame before __vmalloc_node_range)
    assert set(page_owner_sort(b1g, cull="allocator")["allocator"]) == {"OTHERS", "VMALLOC"}
