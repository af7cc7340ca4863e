"""read_page_owner in worker processes gives the serial result, whatever the number of workers.

The serial reference is ``iter_page_owner_chunks(src, chunk_records=None)``:
the text pipeline that reads a file in blocks in this process.  The parallel
reader is forced to cut the dump next to almost every record (tiny chunks), so
the cuts fall next to the tricky records of each synthetic dump: the first
record, a record without a stack, damaged records (non-strict), runs of empty
lines, the last record without its empty line or its newline, CRLF line ends,
old formats mixed in, bytes that are not UTF-8.
"""
import gzip
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REAL

import pextlab.procfs.page_owner._fast as fast
import pextlab.procfs.page_owner._parallel as parallel
from pextlab.errors import ParseError, PextlabError
from pextlab.procfs.page_owner import iter_page_owner_chunks, read_page_owner
from pextlab.procfs.page_owner._columns import Columns
from pextlab.procfs.page_owner._fast import scan_bytes
from pextlab.procfs.page_owner_grammar import ZONE_NAMES

WORKERS = (1, 2, 3, 7)
REAL_DUMPS = sorted(REAL.glob("*/page_owner*.txt.gz"))


@pytest.fixture(autouse=True)
def tiny_chunks(monkeypatch):
    """Cut inputs every few KB (plain files) or every 64K-character read (streams)."""
    monkeypatch.setattr(parallel, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 3000)


def _outcome(read):
    """(frame, attrs, warnings) or ("error", message, line)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            df = read()
        except ParseError as e:
            return ("error", str(e), e.line)
    return df, dict(df.attrs), [(w.category, str(w.message)) for w in caught]


def serial(src, strict=True):
    return _outcome(lambda: next(iter(iter_page_owner_chunks(src, chunk_records=None, strict=strict))))


def parallel_read(src, workers, strict=True):
    return _outcome(lambda: read_page_owner(src, strict=strict, workers=workers))


def assert_same(expected, got):
    if isinstance(expected[0], str):
        assert got[:3] == expected, got[:3]
        return
    assert not isinstance(got[0], str), got
    pd.testing.assert_frame_equal(got[0], expected[0], check_exact=True, check_categorical=True)
    for col in expected[0].columns:
        if isinstance(expected[0][col].dtype, pd.CategoricalDtype):
            assert list(got[0][col].cat.categories) == list(expected[0][col].cat.categories), col
    assert got[1] == expected[1]
    assert got[2] == expected[2]


# --------------------------------------------------------------------------- real dumps

@pytest.mark.parametrize("dump", REAL_DUMPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_dumps_same_frame_for_every_worker_count(dump, tmp_path):
    plain = tmp_path / "page_owner.txt"
    plain.write_bytes(gzip.decompress(dump.read_bytes()))
    ref = serial(plain)
    assert len(ref[0]) > 100
    for w in WORKERS:
        assert_same(ref, parallel_read(plain, w))
    # gzip: decompressed once by this process, pieces sent to the workers
    ref_gz = serial(dump)
    for w in (2, 3):
        assert_same(ref_gz, parallel_read(dump, w))
    assert ref_gz[0].equals(ref[0])


def test_cut_points_fall_after_an_empty_line_before_a_header(tmp_path):
    p = tmp_path / "d.txt"
    p.write_bytes(gzip.decompress((REAL / "a-512M" / "page_owner.txt.gz").read_bytes()))
    data = p.read_bytes()
    cuts = parallel.cut_points(p, len(data), 5000)
    assert cuts[0] == 0 and cuts[-1] == len(data) and len(cuts) > 10
    assert cuts == sorted(set(cuts))
    for c in cuts[1:-1]:
        assert data[c - 2:c] == b"\n\n" and data[c:].startswith(b"Page allocated via order ")


# --------------------------------------------------------------------------- synthetic dumps

def _record(i: int, *, stack: bool = True, comm: str = "stress-ng-brk") -> str:
    frames = "".join(f" func_{(i * 7 + k) % 5}+0x{k:x}/0x40\n" for k in range(1 + i % 4)) if stack else ""
    return (f"Page allocated via order {i % 3}, mask 0xd2cc0(GFP_KERNEL|__GFP_NOWARN), pid {100 + i % 9}, "
            f"tgid {100 + i % 9} ({comm}), ts {414987114269 + 1000 * i} ns\n"
            f"PFN 0x{0x1000 + 8 * i:x} type Unmovable Block {(0x1000 + 8 * i) >> 9} type Unmovable "
            f"Flags 0x200(workingset|node=0|zone={1 + i % 2})\n{frames}\n")


V3_19 = ("Page allocated via order 2, mask 0xd0\n"
         "PFN 8196 Block 16 type 2 Fallback Flags K      S    \n"
         " [<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00\n"
         " [<ffffffff811b1fba>] kmem_getpages+0x5a/0x120\n\n")
V5_13 = ("Page allocated via order 3, mask 0x52dc0(GFP_KERNEL|__GFP_COMP), pid 77, ts 510209702 ns, "
         "free_ts 500000001 ns\nPFN 5000 type Unmovable Block 9 type Movable Flags 0x10200(slab|head)\n"
         " allocate_slab+0x28/0x3f0\n\n")
MIGRATED = _record(5)[:-1] + "Page has been migrated, last migrate reason: compaction\n\n"


def _dump(n: int = 700, inserts: dict | None = None) -> str:
    """``n`` plain records; ``inserts`` maps a record index to text put before it."""
    inserts = inserts or {}
    return "".join(inserts.get(i, "") + _record(i) for i in range(n)) + inserts.get(n, "")


NO_STACK = _record(1, stack=False)
GARBAGE = "garbage line\n\n"
BLANK_INSIDE = _record(2).replace("\nPFN", "\n\nPFN", 1)            # an empty line after the header
BAD_VALUE = _record(3).replace("order 0", "order 99").replace("order 1", "order 99").replace(
    "order 2", "order 99")

DUMPS = {
    "plain": _dump(),
    "first record without stack": _dump(inserts={0: NO_STACK}),
    "records without stack": _dump(inserts={1: NO_STACK, 350: NO_STACK, 700: NO_STACK}),
    "damaged records": _dump(inserts={0: GARBAGE, 3: BLANK_INSIDE, 200: BAD_VALUE, 411: GARBAGE * 3,
                                      699: BLANK_INSIDE}),
    "empty lines between records": _dump(inserts={0: "\n", 10: "\n\n\n", 300: " \n\n", 500: "\t\n"}),
    "last record without its empty line": _dump()[:-1],
    "last record without its newline": _dump()[:-2],
    "cut inside the last record": _dump() + _record(9).split("\n")[0] + "\n",
    "old formats and a migrate reason": _dump(inserts={0: V3_19, 5: V5_13, 6: MIGRATED, 400: V3_19 + V5_13,
                                                       700: MIGRATED}),
    "crlf": _dump().replace("\n", "\r\n"),
    "crlf in one record": _dump(inserts={100: _record(4).replace("\n", "\r\n")}),
    "non-ascii comm": _dump(inserts={7: _record(7, comm="kwörker/ü"), 300: _record(8, comm="日本")}),
}


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "non-strict"])
@pytest.mark.parametrize("case", list(DUMPS))
def test_synthetic_dumps_same_result_for_every_worker_count(case, strict, tmp_path):
    text = DUMPS[case]
    plain = tmp_path / "d.txt"
    plain.write_bytes(text.encode())
    ref = serial(plain, strict)
    for w in WORKERS:
        assert_same(ref, parallel_read(plain, w, strict))
    gz = tmp_path / "d.txt.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert_same(serial(gz, strict), parallel_read(gz, 3, strict))
    assert_same(serial(text, strict), parallel_read(text, 2, strict))


def test_the_synthetic_dumps_hold_what_they_claim(tmp_path):
    # the tricky records are really there: the serial reader sees them
    assert serial(DUMPS["plain"])[1]["skipped"] == 0
    df = serial(DUMPS["damaged records"], strict=False)
    assert df[1]["skipped"] >= 5
    e = serial(DUMPS["damaged records"])
    assert isinstance(e[0], str) and e[2] == 1
    e = serial(DUMPS["records without stack"])
    # record 0 takes lines 1-4 (one frame); the stackless record's header and PFN
    # line are lines 5 and 6, and line 7 is its empty line where a frame should be
    assert isinstance(e[0], str) and e[2] == 7
    assert isinstance(serial(DUMPS["cut inside the last record"])[0], str)
    df = serial(DUMPS["old formats and a migrate reason"])[0]
    assert {"compaction"} <= set(df["last_migrate_reason"].dropna())
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(DUMPS["crlf"].encode())
    assert len(serial(crlf)[0]) == 700          # a file is read with universal newlines


def test_invalid_utf8_bytes_same_result(tmp_path):
    data = _dump(300).encode()
    data = data.replace(b"(stress-ng-brk), ts 414987134269", b"(stress\xff\xfe), ts 414987134269")
    p = tmp_path / "d.txt"
    p.write_bytes(data)
    ref = serial(p)
    assert "stress\ufffd\ufffd" in set(ref[0]["comm"])
    for w in WORKERS:
        assert_same(ref, parallel_read(p, w))


def test_strict_error_line_does_not_depend_on_workers(tmp_path):
    text = _dump(2000, inserts={1500: _record(6).replace("PFN 0x", "PFN 0y")})
    p = tmp_path / "d.txt"
    p.write_text(text)
    lines = sum(_record(i).count("\n") for i in range(1500))
    for w in WORKERS:
        with pytest.raises(ParseError) as ei:
            read_page_owner(p, workers=w)
        assert ei.value.line == lines + 2
        assert "PFN" in ei.value.expected


def test_workers_argument():
    assert parallel.plan_workers(DUMPS["plain"], None) == 1          # small input: serial
    assert parallel.plan_workers(DUMPS["plain"], 3) == 3
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(PextlabError, match="workers"):
            read_page_owner(DUMPS["plain"], workers=bad)


# --------------------------------------------------------------------------- pextlab sort

SORT_OPTIONS = [
    [], ["-m"], ["-s"], ["-p"], ["-P"], ["-n"], ["-a"], ["--cull=stacktrace"], ["--cull=pid,name"],
    ["--cull=allocator"], ["--name", "leaky", "--cull=stacktrace"], ["--pid", "1,185", "--cull=pid"],
    ["--tgid", "185,2"], ["--sort=-pid,at"], ["--sort=at", "--cull=st"], ["--sort=txt", "--cull=tgid"],
    ["--sort=-ator,n", "--cull=allocator,comm"], ["--cull=tgid,allocator,stacktrace,pid,name", "--sort=-T"],
    ["-d", "--cull=st", "-m"],
]


def _sort(argv, capsys) -> tuple[int, str, str]:
    from pextlab.analysis.sort_cli import main
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize("dump", [REAL / "b-1G" / "page_owner.txt.gz", REAL / "f-numa2" / "page_owner.txt.gz"],
                         ids=lambda p: p.parent.name)
def test_sort_same_bytes_for_every_worker_count(dump, tmp_path, capsys, monkeypatch):
    import pextlab.analysis.sort_parallel as sort_parallel
    monkeypatch.setattr(sort_parallel, "CHUNK_BYTES", 3000)
    plain = tmp_path / "page_owner.txt"
    plain.write_bytes(gzip.decompress(dump.read_bytes()))
    for opts in SORT_OPTIONS:
        want = _sort([*opts, "--workers", "1", str(plain)], capsys)
        assert want[0] == 0 and " times, " in want[1]
        assert want == _sort([*opts, str(dump)], capsys)          # gzip: read serially
        for w in (2, 3, 7):
            assert _sort([*opts, "--workers", str(w), str(plain)], capsys) == want, (opts, w)


@pytest.mark.parametrize("case", ["damaged records", "crlf", "old formats and a migrate reason",
                                  "last record without its newline", "empty lines between records"])
def test_sort_of_unusual_dumps_same_bytes_for_every_worker_count(case, tmp_path, capsys, monkeypatch):
    # the text engine hands what it does not take apart to the frame path, which
    # reads with the same workers: same output (or the same error message)
    import pextlab.analysis.sort_parallel as sort_parallel
    monkeypatch.setattr(sort_parallel, "CHUNK_BYTES", 3000)
    p = tmp_path / "d.txt"
    p.write_bytes(DUMPS[case].encode())
    for opts in ([], ["--cull=pid,name"]):
        want = _sort([*opts, "--workers", "1", str(p)], capsys)
        for w in (2, 7):
            assert _sort([*opts, "--workers", str(w), str(p)], capsys) == want, (opts, w)


def test_sort_workers_option(tmp_path, capsys):
    rc, _, err = _sort(["--workers", "0", str(tmp_path / "x")], capsys)
    assert rc == 1 and "--workers wants a positive number, got '0'" in err


# --------------------------------------------------------------------------- the numpy scan

def _with_free_ts(text: str) -> str:
    """v5.13-v6.6 headers: ", free_ts N ns" after the ts (0: never freed)."""
    n = iter(range(10**9))
    return re.sub(r", ts \d+ ns(?=\n)", lambda m: f"{m.group()}, free_ts {next(n) % 3 * 10**12} ns", text)


@pytest.mark.parametrize("dump", REAL_DUMPS[:3] + ["synthetic", "free_ts"], ids=str)
def test_numpy_scan_equals_the_regular_expression_scan(dump):
    # a blank after each header's "ns" is in the grammar but not in the kernel's
    # plain layout: the same dump then goes through the regular expression
    synthetic = _dump(3000, inserts={7: _record(7, comm="kwörker"), 9: MIGRATED})
    text = synthetic if dump == "synthetic" else _with_free_ts(synthetic) if dump == "free_ts" else \
        gzip.decompress(dump.read_bytes()).decode()
    assert scan_bytes(text.encode(), Columns(ZONE_NAMES)) is not None          # the numpy scan takes it
    fast = read_page_owner(text)
    slow = read_page_owner(text.replace(" ns\nPFN", " ns \nPFN"))
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    for col in fast.columns:
        if isinstance(fast[col].dtype, pd.CategoricalDtype):
            assert list(fast[col].cat.categories) == list(slow[col].cat.categories), col
    assert fast.attrs == slow.attrs
    if dump == "free_ts":
        assert (fast["free_ts_ns"] == -1).sum() == 1001 and (fast["free_ts_ns"] == 2 * 10**12).sum() == 1000


@pytest.mark.parametrize("block_bytes", [1, 700, 5000])
@pytest.mark.parametrize("row_hash", ["real", "every row alike"])
def test_numpy_scan_in_blocks_equals_the_regular_expression_scan(monkeypatch, block_bytes, row_hash):
    # the numpy scan lays the text out block by block and compares header
    # prefixes as hashed rows: tiny blocks (one record each: the plain and the
    # free_ts halves in blocks of their own) and a hash that groups every row
    # together (each group then fails its check) read as the whole text does
    text = _dump(300, inserts={7: _record(7, comm="kwörker"), 9: MIGRATED}) + _with_free_ts(_dump(300))
    slow = read_page_owner(text.replace(" ns\nPFN", " ns \nPFN"))
    monkeypatch.setattr(fast, "_BLOCK_BYTES", block_bytes)
    if row_hash != "real":
        monkeypatch.setattr(fast, "_ROW_HASH", np.zeros_like(fast._ROW_HASH))
    if block_bytes == 1:
        assert scan_bytes(text.encode(), Columns(ZONE_NAMES)) is not None
    fast_df = read_page_owner(text)
    pd.testing.assert_frame_equal(fast_df, slow, check_exact=True)
    for col in fast_df.columns:
        if isinstance(fast_df[col].dtype, pd.CategoricalDtype):
            assert list(fast_df[col].cat.categories) == list(slow[col].cat.categories), col


def _read_in_daemon(path, queue):
    df = read_page_owner(path, workers=3)
    queue.put((len(df), df.attrs["skipped"]))


def test_a_daemonic_process_reads_in_place(tmp_path):
    # daemonic processes (a multiprocessing pool's workers) may not start
    # processes: the reader then does the work itself, with the same result
    import multiprocessing
    p = tmp_path / "d.txt"
    p.write_text(_dump(500))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_read_in_daemon, args=(p, queue), daemon=True)
    proc.start()
    got = queue.get(timeout=120)
    proc.join(timeout=60)
    assert proc.exitcode == 0 and got == (500, 0)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_says_size_0_is_read_whole(tmp_path, monkeypatch, workers):
    """debugfs says size 0 for /sys/kernel/debug/page_owner however much it holds: such
    a file is read as a stream, giving the frame of the same text in a plain file."""
    text = gzip.decompress((REAL / "b-1G" / "page_owner.txt.gz").read_bytes())
    plain = tmp_path / "page_owner.txt"
    plain.write_bytes(text)
    want = read_page_owner(plain, workers=1)
    debugfs = tmp_path / "debugfs_page_owner"
    debugfs.write_bytes(text)
    real_stat = os.stat

    def stat_as_debugfs(path, *args, **kw):
        st = real_stat(path, *args, **kw)
        if str(path) == str(debugfs):
            fields = list(st)
            fields[6] = 0                               # st_size
            return os.stat_result(fields)
        return st

    monkeypatch.setattr(os, "stat", stat_as_debugfs)
    assert os.path.getsize(debugfs) == 0
    got = read_page_owner(debugfs, workers=workers)
    assert len(want) > 1000
    pd.testing.assert_frame_equal(got, want)
