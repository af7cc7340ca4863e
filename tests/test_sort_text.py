"""The pandas-free ``pextlab sort`` engine (sort_text): same output as the frame path."""
from __future__ import annotations

import gzip
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from pextlab.analysis import page_owner_sort as pos
from pextlab.analysis import sort_options as so
from pextlab.analysis import sort_text as st
from pextlab.analysis.page_owner_sort import page_owner_sort, render_page_owner_sort
from pextlab.analysis.sort_cli import main
from pextlab.analysis.sort_text import NotPlainDump, render_text, sort_text
from pextlab.procfs.page_owner import read_page_owner

REPO = Path(__file__).resolve().parents[1]
DUMPS = sorted((REPO / "data" / "real-kernel").glob("*/page_owner*.txt.gz"))
B1G = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"


def text_out(src, **kw) -> str:
    return render_text(sort_text(src, **kw))


def frame_out(src, **kw) -> str:
    return render_page_owner_sort(page_owner_sort(read_page_owner(src), **kw))


# --------------------------------------------------------------------------- option grammar

def test_one_option_grammar_for_both_paths():
    # both engines take the option grammar from sort_options (stdlib-only, so the
    # command never imports pandas); a second copy would drift
    for mod in (pos, st):
        for name in ("parse_cull", "resolve_sort", "allocator_names"):
            assert getattr(mod, name) is getattr(so, name), (mod.__name__, name)


def test_one_record_grammar_for_both_readers():
    # sort_text checks records against the reader's own patterns, not a copy
    from pextlab.procfs import page_owner_grammar as g
    assert st.BODY is g.BODY and st.header_in_grammar is g.header_in_grammar
    assert st.close_last_record is g.close_last_record


def test_engine_modules_import_no_pandas():
    code = ("import sys; import pextlab.analysis.sort_cli, pextlab.procfs.page_owner_grammar; "
            "bad = [m for m in ('pandas', 'numpy') if m in sys.modules]; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_option_parsers():
    assert so.parse_sort("-pid,+tg,n,st,T,at,ator") == [
        ("pid", False), ("tgid", True), ("comm", True), ("stacktrace", True), ("text", True),
        ("ts_ns", True), ("allocator", True)]
    assert so.parse_sort("times,-page_num") == [("times", True), ("pages", False)]
    assert so.parse_cull("name,stacktrace") == ("stacktrace", "comm")
    assert so.parse_num_list("1,22") == [1, 22] and so.parse_num_list(" 7") == [7]
    for bad, fn, msg in (("bogus", so.parse_sort, "wrong argument after --sort option:bogus"),
                         ("pid,,tgid", so.parse_cull, "wrong argument after --cull option:pid,,tgid"),
                         ("3 ", so.parse_num_list, "wrong/invalid pid in from the command line:3 "),
                         ("0x10", so.parse_num_list, "wrong/invalid pid in from the command line:0x10")):
        with pytest.raises(so.SortArgumentError) as ei:
            fn(bad)
        assert str(ei.value) == msg


# --------------------------------------------------------------------------- real dumps

OPTIONS = [
    dict(), dict(flag="m"), dict(flag="s"), dict(flag="t"), dict(flag="p"), dict(flag="P"),
    dict(flag="n"), dict(flag="a"),
    dict(cull="stacktrace"), dict(cull="pid,name"), dict(cull="allocator"),
    dict(name=["leaky"], cull="stacktrace"), dict(name=["leaky", "systemd", "nope"]),
    dict(pid=[1, 185], cull="pid"), dict(tgid=[185, 2]), dict(pid=[185], tgid=[185], cull="tgid"),
    dict(sort="-pid,at"), dict(sort="at", cull="st"), dict(sort="txt", cull="tgid"),
    dict(sort="-ator,n", cull="allocator,comm"), dict(sort="-st"), dict(sort="pages,-times"),
    dict(cull="tgid,allocator,stacktrace,pid,name", sort="-T"), dict(cull="st", flag="m"),
]


@lru_cache(maxsize=1)
def _frame(path):
    return read_page_owner(path)


@pytest.mark.skipif(not DUMPS, reason="no real page_owner dumps in data/real-kernel")
@pytest.mark.parametrize("path", DUMPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_dumps_every_option_same_bytes_as_the_frame_path(path):
    df = _frame(path)
    for kw in OPTIONS:
        want = render_page_owner_sort(page_owner_sort(df, **kw))
        got = text_out(path, **kw)
        assert got == want, kw
    assert sort_text(path).loaded == len(df)


needs_b1g = pytest.mark.skipif(not B1G.exists(), reason="b-1G dump missing")


@needs_b1g
def test_real_leak_counts():
    r = sort_text(B1G, name="leaky", cull="stacktrace")
    assert [row[:2] for row in r.rows[:2]] == [(20003, 20003), (5000, 5000)]
    assert r.loaded == 31714


@needs_b1g
def test_plain_and_gzip_and_small_chunks_agree(tmp_path):
    plain = tmp_path / "po.txt"
    plain.write_bytes(gzip.decompress(B1G.read_bytes()))
    want = text_out(B1G, cull="pid,name")
    assert text_out(plain, cull="pid,name") == want
    # records cut by chunk boundaries everywhere
    assert text_out(plain, cull="pid,name", chunk_chars=3001) == want
    with open(plain, "rb") as fh:             # an open binary file, left open
        assert text_out(fh, cull="pid,name") == want
        assert not fh.closed


@needs_b1g
def test_cli_does_not_import_pandas(tmp_path):
    out = tmp_path / "out.txt"
    code = ("import sys; from pextlab.cli import main; "
            f"rc = main(['sort', '--name', 'leaky', '--cull=stacktrace', {str(B1G)!r}, {str(out)!r}]); "
            "assert rc == 0, rc; "
            "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules, 'imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "loaded 31714\nsorting ....\nculling\n"
    assert out.read_text().startswith("20003 times, 20003 pages, task_comm_name: leaky:\n")


# --------------------------------------------------------------------------- hand-written records

FAULT = [" get_page_from_freelist+0x1/0x2", " vma_alloc_folio_noprof+0x5c/0xb0",
         " exc_page_fault+0x1fb/0x590"]
VMAL = [" get_page_from_freelist+0x1/0x2", " alloc_pages_bulk_array_mempolicy_noprof+0xab/0x560",
        " __vmalloc_node_range_noprof+0x223/0x770", " vmalloc+0x1/0x2"]
VMAL_NOT = [" get_page_from_freelist+0x1/0x2", " foo+0x1/0x2", " __vmalloc_node_range_noprof+0x223/0x770"]


def rec(pid=1, comm="init", ts=5, order=0, pfn=0x10, stack=FAULT, mt="Unmovable", pbmt="Unmovable",
        extra=(), flags="0x0(node=0|zone=1)", tgid=None):
    tgid = pid if tgid is None else tgid
    return (f"Page allocated via order {order}, mask 0xcc0(GFP_KERNEL), pid {pid}, tgid {tgid} ({comm}), "
            f"ts {ts} ns\n"
            f"PFN {pfn:#x} type {mt} Block {pfn >> 9} type {pbmt} Flags {flags}\n"
            + "".join(s + "\n" for s in stack) + "".join(e + "\n" for e in extra) + "\n")


def both(text, tmp_path, **kw):
    p = tmp_path / "dump.txt"
    p.write_text(text)
    return text_out(p, **kw), frame_out(p, **kw)


def test_migrate_cma_and_vmalloc_records_as_the_frame_path(tmp_path):
    dump = (rec(ts=1) + rec(ts=2, extra=["Page has been migrated, last migrate reason: compaction"])
            + rec(ts=3) + rec(stack=VMAL, ts=4) + rec(stack=VMAL_NOT, ts=5)
            + rec(stack=VMAL, mt="Movable", pbmt="CMA", ts=6) + rec(mt="CMA", pbmt="CMA", ts=7, order=2))
    for kw in (dict(), dict(cull="allocator"), dict(cull="st"), dict(cull="allocator,st", flag="m"),
               dict(flag="a"), dict(sort="ator,-at")):
        got, want = both(dump, tmp_path, **kw)
        assert got == want, kw
    got, _ = both(dump, tmp_path, cull="allocator")
    # ties (1 time) in the order of the allocator bits: CMA 2 < VMALLOC 8 < CMA|VMALLOC 10
    assert got == ("4 times, 4 pages, allocated by OTHERS \n"
                   "1 times, 4 pages, allocated by CMA \n"
                   "1 times, 1 pages, allocated by VMALLOC \n"
                   "1 times, 1 pages, allocated by CMA VMALLOC \n")
    # the migrated record differs in its stacktrace only
    st_rows = sort_text(tmp_path / "dump.txt", cull="st").rows
    migrated = [r for r in st_rows if "last migrate reason: compaction\n" in r[7]]
    assert len(migrated) == 1 and migrated[0][0] == 1


def test_timestamps_removed_unless_sorting_by_alloc_time(tmp_path):
    dump = rec(ts=30) + rec(ts=10) + rec(ts=20) + rec(ts=10)
    got, want = both(dump, tmp_path)
    assert got == want
    assert got.startswith("4 times, 4 pages, allocated by OTHERS :\n"
                          "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init), ts  ns\n")
    got, want = both(dump, tmp_path, flag="a")
    assert got == want
    assert [ln.split(", ts ")[1] for ln in got.splitlines() if ln.startswith("Page")] == [
        "10 ns", "20 ns", "30 ns"]
    assert got.startswith("2 times, 2 pages")


def test_v6_6_free_ts_stays_in_the_text(tmp_path):
    # 5.13-6.6 headers end in ", free_ts %llu ns"; the tool only deletes the ts digits
    def old(ts, free_ts, pid=7):
        return rec(ts=ts, pid=pid, comm="sh").replace(f"ts {ts} ns\n", f"ts {ts} ns, free_ts {free_ts} ns\n")
    p = tmp_path / "v66.txt"
    p.write_text(old(1, 100) + old(2, 100) + old(3, 200) + old(4, 100, pid=8))
    out = text_out(p)
    assert out.startswith("2 times, 2 pages, allocated by OTHERS :\n"
                          "Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 7, tgid 7 (sh), "
                          "ts  ns, free_ts 100 ns\n")
    assert out.count(" times, ") == 3
    # pid/tgid/comm are still found by the tool's regexes
    assert text_out(p, name="sh", cull="pid") == "3 times, 3 pages, PID 7, task_comm_name: sh\n" \
                                                "1 times, 1 pages, PID 8, task_comm_name: sh\n"
    # the frame path rebuilds a 6.12 header: free_ts gone, all of pid 7 collate (documented)
    assert frame_out(p).startswith("3 times, 3 pages")


V319 = ("Page allocated via order 0, mask 0x201da\n"
        "PFN 674308 Block 1317 type 2          Flags   R UDLA     \n"
        " [<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00\n"
        " [<ffffffff811a4d1c>] alloc_pages_vma+0x9c/0x1c0\n\n")


def test_v3_19_header_has_no_pid_comm_or_ts(tmp_path):
    p = tmp_path / "v319.txt"
    p.write_text(V319 * 3 + V319.replace("0x201da", "0x200da"))
    r = sort_text(p, debug=True)
    assert r.missing == {"pid": 4, "tgid": 4, "ts_ns": 4}
    assert [(row[0], row[2], row[3], row[4]) for row in r.rows] == [(3, -1, -1, ""), (1, -1, -1, "")]
    assert render_text(r).startswith("3 times, 3 pages, allocated by OTHERS :\n" + V319.split("PFN")[0]
                                     + V319.split("\n", 2)[2])
    assert text_out(p, cull="pid,name") == "4 times, 4 pages, PID -1, task_comm_name: \n"
    assert text_out(p, pid=[1]) == ""


def test_v5_18_header_without_tgid_has_no_pid_or_comm_for_the_tool(tmp_path):
    p = tmp_path / "v518.txt"
    p.write_text(rec(ts=3).replace("pid 1, tgid 1 (init)", "pid 1 (init)"))
    # "pid\\s*([0-9]*)," wants a comma after the pid, and the comm regex starts at "tgid"
    assert text_out(p, cull="pid,tgid,comm") == "1 times, 1 pages, PID -1, TGID -1, task_comm_name: \n"
    assert frame_out(p, cull="pid,tgid,comm") == "1 times, 1 pages, PID 1, TGID -1, task_comm_name: init\n"
    assert text_out(p, name="init") == ""


def test_pfn_line_slab_and_memcg_lines_kept_like_the_tool(tmp_path):
    p = tmp_path / "memcg.txt"
    p.write_text(rec(flags="0x200(slab|node=0|zone=1)", extra=["Slab cache page", "Charged to memcg /"]))
    out = text_out(p)
    assert out.startswith("1 times, 1 pages, allocated by SLAB :\n")
    assert out.endswith(" exc_page_fault+0x1fb/0x590\nSlab cache page\nCharged to memcg /\n\n")
    # the frame path has no page flags or memcg lines (documented difference)
    assert frame_out(p).startswith("1 times, 1 pages, allocated by OTHERS :\n")


def test_layout_the_reader_tolerates(tmp_path):
    dump = rec(ts=1) + "\n \t\n" + rec(ts=2) + "\n\n" + rec(ts=3, pid=2).rstrip("\n")
    for kw in (dict(), dict(cull="pid")):
        got, want = both(dump, tmp_path, **kw)
        assert got == want, kw
    got, _ = both(dump, tmp_path, cull="pid")
    assert got == "2 times, 2 pages, PID 1\n1 times, 1 pages, PID 2\n"
    for empty in ("", "\n\n \n"):
        assert both(empty, tmp_path) == ("", "")


@pytest.mark.parametrize("text", [
    "hello world\nthis is not page_owner\n",
    rec() + rec().split("\n")[0] + "\n",                                  # truncated record
    rec() + rec().replace("PFN 0x10", "PFN zz"),                          # bad PFN number
    rec() + rec().replace(", ts 5 ns", ", ts  ns"),                       # ts without digits
    rec().replace(" exc_page_fault", "exc_page_fault"),                   # not a stack line
    rec(ts=1).replace("\n\n", "\n  \n") + rec(ts=2),                     # blank-ish record end
])
def test_input_outside_the_grammar_is_handed_on(tmp_path, text):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(NotPlainDump):
        sort_text(p)


def test_main_hands_unusual_layout_to_the_frame_path(tmp_path, capsys):
    p = tmp_path / "odd.txt"
    p.write_text(rec(ts=1).replace("\n\n", "\n  \n") + rec(ts=2))   # a line of blanks ends a record
    assert main([str(p)]) == 0
    assert capsys.readouterr().out == frame_out(p)


def test_main_bad_input_messages_come_from_the_reader(tmp_path, capsys):
    p = tmp_path / "bad.txt"
    p.write_text(rec() + rec().replace("PFN 0x10", "PFN zz"))
    assert main([str(p)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"pextlab sort: cannot parse page_owner input: {p}:8: expected a PFN line")
    assert main([str(tmp_path)]) == 1
    assert "cannot open" in capsys.readouterr().err


def test_main_debug_reports_missing_fields(tmp_path, capsys):
    p = tmp_path / "v319.txt"
    p.write_text(V319)
    assert main(["-d", str(p)]) == 0
    err = capsys.readouterr().err
    assert err == ("pextlab sort: 1 records without pid\npextlab sort: 1 records without tgid\n"
                   "pextlab sort: 1 records without ts_ns\n")
