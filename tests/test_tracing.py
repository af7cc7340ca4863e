"""Tracing page allocations through the modelled ftrace ring buffer, against page_owner.

Expected figures are worked out by hand from kernel/trace/ring_buffer.c's rules:
a buffer page holds BUF_PAGE_SIZE = 4096 - 16 = 4080 bytes; an event takes its
struct (8-byte trace_entry + fields, 8-aligned) + a 4-byte header: mm_page_alloc
40 + 4 = 44, mm_page_free 24 + 4 = 28; an event 2^27 ns or more after the previous
one needs an 8-byte time extend unless it opens a page.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.errors import ParseError, PextlabError
from pextlab.kernel.ring_buffer import (EV_ALLOC, EV_FREE, NR_FIELDS, RB_EVENT_SIZE, Tracer,
                                        nr_buffer_pages)
from pextlab.procfs.trace import read_trace, trace_text_bytes
from pextlab.schema import SCHEMAS
from pextlab.workloads import runner

W = pextlab.workloads


def _stream(n, ev=EV_FREE, step=1, pid=7, t0=1000):
    rows = np.zeros((n, NR_FIELDS), np.int64)
    rows[:, 0] = ev
    rows[:, 1] = t0 + step * np.arange(n)
    rows[:, 2] = pid
    rows[:, 3] = 0x1000 + np.arange(n)
    return rows


def _emit(tr, rows):
    for r in rows.tolist():
        tr.pending.extend(r)
    tr.flush()


# --- the ring buffer on hand-made streams ------------------------------------------------------

def test_entry_sizes_and_pages():
    assert RB_EVENT_SIZE == (44, 28, 20, 36, 28, 44)
    assert nr_buffer_pages(1408 << 10) == 354       # ceil(1441792 / 4080)
    assert nr_buffer_pages(1 << 20) == 258          # 257 * 4080 = 1048560 < 1 MiB
    assert nr_buffer_pages(4096) == 2               # at least 2


def test_overwrite_loses_the_oldest_page():
    tr = Tracer(1, 2 * 4080, overwrite=True)        # 2 pages
    assert tr.nr_pages == 2
    _emit(tr, _stream(400))
    # 145 frees (28 B) per page: 145 * 28 = 4060, the 146th does not fit.
    # pages: [0,145) [145,290); event 290 needs a third: the head page goes.
    cb = tr.cpus[0]
    assert (cb.entries, cb.overrun, cb.dropped) == (400, 145, 0)
    assert tr.unread() == 255
    lost = np.frombuffer(tr.losses, np.int64).reshape(-1, 6)
    assert lost.tolist() == [[0, 0, 1000, 1144, 145, 1]]
    assert tr.consume(1000) == 255
    rows = tr.received_rows()
    assert rows[0, 3] == 0x1000 + 145 and rows[-1, 3] == 0x1000 + 399
    # the reader learns it at its first page swap: one marker before the first event
    assert np.frombuffer(tr.markers, np.int64).tolist() == [0, 0, 145]


def test_non_overwrite_drops_new_events_until_the_reader_frees_a_page():
    tr = Tracer(1, 2 * 4080, overwrite=False)
    _emit(tr, _stream(400))
    cb = tr.cpus[0]
    assert (cb.overrun, cb.dropped) == (0, 110)      # 290..399 refused
    assert tr.consume(100) == 100                    # the reader takes page [0,145)
    _emit(tr, _stream(200, t0=2000))
    # the full tail page is closed; one ring page is free again: 145 more fit, 55 dropped
    assert (cb.overrun, cb.dropped) == (0, 165)
    assert tr.unread() == 45 + 145 + 145
    kinds = np.frombuffer(tr.losses, np.int64).reshape(-1, 6)[:, [1, 4]].tolist()
    assert kinds == [[1, 110], [1, 55]]
    assert not len(tr.markers)                       # trace_pipe reports overruns only


def test_time_extends_and_mixed_sizes_fill_pages_as_the_kernel_does():
    tr = Tracer(1, 2 * 4080, overwrite=True)
    _emit(tr, _stream(200, ev=EV_ALLOC, step=1 << 27))
    # 44 for the first event of a page, 44 + 8 after: 44 + 52 * 77 = 4048 -> 78 per page
    assert tr.cpus[0].overrun == 78
    assert tr.unread() == 200 - 78
    tr2 = Tracer(1, 2 * 4080, overwrite=True)
    rows = _stream(300)
    rows[::2, 0] = EV_ALLOC                          # alloc, free, alloc, ...
    _emit(tr2, rows)
    # 56 pairs = 4032 bytes, one more alloc = 4076: 113 events per page
    assert tr2.cpus[0].overrun == 113


def test_cpus_are_merged_by_time_stamp():
    tr = Tracer(2, 2 * 4080)
    a = _stream(10, pid=2, step=2)                   # CPU 0 (pid % 2)
    b = _stream(10, pid=3, step=2, t0=1001)          # CPU 1
    _emit(tr, np.concatenate([a, b]))
    assert tr.consume(7) == 7
    got = tr.received_rows()
    assert got[:, 1].tolist() == [1000, 1001, 1002, 1003, 1004, 1005, 1006]
    assert got[:, NR_FIELDS].tolist() == [0, 1, 0, 1, 0, 1, 0]


# --- the simulated machine -----------------------------------------------------------------------

def _work():
    return W.mix(W.anon("app", rate=3000, lifetime="500ms"),
                 W.page_cache("cache", rate=1000, lifetime="2s"))


@pytest.fixture(scope="module")
def from_boot():
    m = pextlab.boot(mem="1G", seed=3, cmdline="page_owner=on trace_buf_size=8M "
                     "trace_event=kmem:mm_page_alloc,kmem:mm_page_free")
    t = m.tracing(reader=pextlab.tracing.reader(rate="1M/s", start=0))
    m.run(_work(), duration="3s")
    return m, t


def test_reader_from_boot_with_a_big_buffer_reconstructs_page_owner_exactly(from_boot):
    m, t = from_boot
    assert t.df_lost().empty
    text = t.text()
    assert t.bytes_written == len(text)              # what the reader wrote to its file
    t.read(10 ** 9)                                  # what its last wake-up allocated
    po = m.df_page_owner()
    cmp = pextlab.tracing.compare_with_page_owner(t, po)
    assert cmp.counts["wrong"] == 0 and cmp.counts["unknown"] == 0
    assert cmp.counts["right"] > 3 * 3000 * 0.5 * 0.5
    owners = pextlab.tracing.owners_from_trace(t.df_trace())
    real = po[~po["stack"].astype(str).str.contains("register_early_stack")]
    key = ["pfn", "order", "pid", "gfp_mask"]
    got = owners[owners["pfn"].isin(real["pfn"])][key + ["ts_ns"]].reset_index(drop=True)
    want = real[key + ["ts_ns"]].reset_index(drop=True)
    want["ts_ns"] = want["ts_ns"] // 1000 * 1000     # trace_pipe prints microseconds
    pd.testing.assert_frame_equal(got.astype("int64"), want.astype("int64"))
    # and every block the trace believes allocated is one page_owner has
    assert set(owners["pfn"]) <= set(po["pfn"])


def test_the_readers_pages_are_in_the_page_owner_dump_under_its_comm(from_boot):
    m, t = from_boot
    po = m.df_page_owner()
    mine = po[po["comm"] == "trace-cmd"]
    assert (mine["pid"] == 900).all()
    assert len(mine) == len(t.file_pfns) + len(t.buffer_pfns)
    assert len(t.buffer_pfns) == 32                  # 128 KiB of buffers
    assert len(t.file_pfns) == -(-t.bytes_written // 4096)
    assert set(mine["pfn"]) == set(t.file_pfns) | set(t.buffer_pfns)
    df = t.df_trace()
    assert (df["comm"] == "trace-cmd").sum() >= len(mine) - 1    # the trace sees it too
    # the ring buffer itself: (258 + 1 reader page) pages per CPU, from boot (early pages)
    assert [len(p) for p in t.tracer.buffer_pages] == [nr_buffer_pages(8 << 20) + 1]


def test_our_text_round_trips_through_read_trace():
    m = pextlab.boot(mem="512M", seed=1, cmdline="page_owner=on trace_buf_size=64K "
                     "trace_event=kmem:mm_page_alloc,kmem:mm_page_free,kmem:mm_page_alloc_zone_locked")
    t = m.tracing(reader=pextlab.tracing.reader(rate="50k/s", start="1s"))
    m.run(W.anon("app", rate=20000, lifetime="100ms"), duration="1.5s")
    df = t.df_trace()
    assert (df["event"] == "LOST").sum() > 0        # the reader started late
    assert not t.df_lost().empty
    back = read_trace(t.text())
    pd.testing.assert_frame_equal(back.astype({c: object for c in ("comm", "event", "gfp")}),
                                  df.astype({c: object for c in ("comm", "event", "gfp")}))
    lost = df.loc[df["event"] == "LOST", "lost"].sum()
    overrun = t.df_lost().query("kind == 'overrun'")["nr_events"].sum()
    assert 0 < lost <= overrun


def test_text_bytes_match_the_text():
    m = pextlab.boot(mem="512M", seed=2, cmdline="page_owner=on pextlab.pcp=on")
    t = m.tracing(events="kmem:*", reader=pextlab.tracing.reader(rate="1M/s", start=0))
    m.run(W.mix(W.anon("a", rate=5000, lifetime="50ms"),
                W.page_cache("b", rate=2000, lifetime="1s", order=2)), duration="0.5s")
    m.proc("pagetypeinfo")                           # drains the pcp lists: free_pcppages_bulk
    t.read(10 ** 9)
    tr = t.tracer
    rows = tr.received_rows()
    marks = np.frombuffer(tr.markers, np.int64).reshape(-1, 3).tolist()
    assert trace_text_bytes(rows, marks, tr.comms, m.profile) == len(t.text())
    ev = set(t.df_trace()["event"])
    assert {"mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked",
            "mm_page_pcpu_drain"} <= ev


def test_non_overwrite_keeps_the_oldest_events():
    m = pextlab.boot(mem="512M", seed=1, cmdline="page_owner=on")
    t = m.tracing(buffer_kb=16, overwrite=False,
                  reader=pextlab.tracing.reader(rate="10k/s", start="1s"))
    m.run(W.anon("app", rate=20000, lifetime="100ms"), duration="1.2s")
    lost = t.df_lost()
    assert set(lost["kind"]) == {"dropped"}
    assert (t.df_trace()["event"] != "LOST").all()
    first = t.df_trace()["time_ns"].iloc[0]
    assert first < 1e9                               # written before the reader started


def test_tracing_frames_follow_their_schemas(from_boot):
    _, t = from_boot
    for df, name in ((t.df_trace(), "trace"), (t.df_lost(), "trace_lost"),
                     (t.df_reader(), "trace_reader"), (t.df_buffer(), "trace")):
        assert dict(df.dtypes.astype(str)) == SCHEMAS[name]
    cmp = pextlab.tracing.compare_with_page_owner(t, t.machine.df_page_owner())
    assert dict(cmp.blocks.dtypes.astype(str)) == SCHEMAS["trace_verdicts"]
    own = pextlab.tracing.owners_from_trace(t.df_trace())
    assert dict(own.dtypes.astype(str)) == SCHEMAS["trace_owners"]


def test_same_scenario_same_trace():
    def one():
        m = pextlab.boot(mem="512M", seed=5, cmdline="page_owner=on")
        t = m.tracing(buffer_kb=32, reader=pextlab.tracing.reader(rate="20k/s", start="0.8s"))
        m.run(W.anon("app", rate=10000, lifetime="200ms"), duration="1s")
        return t.df_trace(), t.df_lost()
    a, b = one(), one()
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


def test_an_idle_step_hook_changes_no_run():
    def frames(hooks):
        m = pextlab.boot(mem="512M", seed=4, cmdline="page_owner=on")
        log = runner.RunLog(m.mm)
        runner.run(m.mm, _work(), 2_000_000_000, np.random.default_rng(4), record=True,
                   log=log, hooks=hooks)
        return m.df_page_owner(), m.df_buddyinfo()
    calls = []
    a = frames(())
    b = frames([(7_000_000, calls.append)])
    assert len(calls) > 200
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)


def test_tracing_off_leaves_the_kernel_untouched():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on")
    assert m.mm.trace is None
    assert "Tracing" not in m.dmesg


# --- real ftrace text -----------------------------------------------------------------------------

SAMPLE = """\
# tracer: nop
#
# entries-in-buffer/entries-written: 7/9   #P:2
#
#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION
#              | |         |   |||||     |         |
            bash-1234    [001] .....  4411.123456: mm_page_alloc: page=00000000c3d2a1f0 pfn=0x1d1ac1 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO
 kworker/u8:2-77      [000] d..1.  4411.123457: mm_page_alloc_zone_locked: page=000000007e1c2b3a pfn=0x20400 order=3 migratetype=0 percpu_refill=1
CPU:0 [LOST 12 EVENTS]
          <idle>-0       [000] ..s1.  4411.200000: mm_page_free: page=000000001f2e3d4c pfn=0x20400 order=3
   systemd-journal-301     [001] .....  4411.200001: mm_page_alloc: page=0000000000000000 pfn=0x0 order=9 migratetype=1 gfp_flags=GFP_TRANSHUGE_LIGHT
            bash-1234    [001] d..2.  4411.300000: mm_page_pcpu_drain: page=000000005a6b7c8d pfn=0x1d1ac1 order=0 migratetype=1
            bash-1234    [001] .....  4411.300002: sched_switch: prev_comm=bash prev_pid=1234
     kcompactd0-45      [000] d..1.  4411.400000: mm_page_alloc_extfrag: page=0000000011223344 pfn=0x3e00 alloc_order=0 fallback_order=9 pageblock_order=9 alloc_migratetype=0 fallback_migratetype=1 fragmenting=0 change_ownership=1
CPU:1 [LOST EVENTS]
              cc-999     [001] .....  4411.500000: mm_page_free_batched: page=00000000aabbccdd pfn=0x1d1ac2 order=0
"""


def test_hand_written_6_12_lines_parse():
    df = read_trace(SAMPLE)
    assert df["event"].tolist() == [
        "mm_page_alloc", "mm_page_alloc_zone_locked", "LOST", "mm_page_free", "mm_page_alloc",
        "mm_page_pcpu_drain", "mm_page_alloc_extfrag", "LOST", "mm_page_free_batched"]
    a = df.iloc[0]
    assert (a.time_ns, a.cpu, a.pid, a.comm, a.pfn, a.order, a.migratetype) == \
        (4411_123456_000, 1, 1234, "bash", 0x1d1ac1, 0, 1)
    # 6.12 gfp_types.h: __GFP_RECLAIM 0xc00 | __GFP_IO 0x40 | __GFP_FS 0x80 | __GFP_HARDWALL
    # 0x100000 | __GFP_HIGHMEM 0x2 | __GFP_MOVABLE 0x8 = GFP_HIGHUSER_MOVABLE; __GFP_ZERO 0x100
    assert a.gfp_mask == 0x100dca and a.gfp == "GFP_HIGHUSER_MOVABLE|__GFP_ZERO"
    assert df.iloc[1].comm == "kworker/u8:2" and df.iloc[1].percpu_refill == 1
    lost = df.iloc[2]
    assert (lost.cpu, lost.lost, lost.time_ns) == (0, 12, 4411_200000_000)
    assert df.iloc[3].comm == "<idle>" and df.iloc[3].nr_pages == 8
    failed = df.iloc[4]
    assert (failed.comm, failed.pfn, failed.order) == ("systemd-journal", -1, 9)
    x = df.iloc[6]
    assert (x.order, x.fallback_order, x.migratetype, x.fallback_migratetype,
            x.change_ownership) == (0, 9, 0, 1, 1)
    assert df.iloc[7].lost == -1
    assert df.iloc[8].order == 0
    assert dict(df.dtypes.astype(str)) == SCHEMAS["trace"]


def test_older_and_trace_cmd_variants_parse():
    text = ("  bash-1234  (   1234) [001] ....  12.000001: mm_page_free: page=ffffea0003db9f40 "
            "pfn=1155800 order=0\n"
            "  bash-1234 [001] 12.000002: mm_page_alloc: page=0xffffffff981685f3 pfn=0x122233 "
            "order=0 migratetype=1 gfp_flags=GFP_KERNEL\n")
    df = read_trace(text)
    assert df["pfn"].tolist() == [1155800, 0x122233]
    assert df["time_ns"].tolist() == [12_000_001_000, 12_000_002_000]


@pytest.mark.parametrize("line, what", [
    ("garbage here", "trace:2: expected an ftrace event line"),
    ("  bash-1 [000] ..... 1.000000: mm_page_free: page=0000000000000001 order=0",
     "mm_page_free with field(s) pfn"),
    ("  bash-1 [000] ..... 1.000000: mm_page_free: page=0000000000000001 pfn=0x10 order=x",
     "order= a number"),
    ("  bash-1 [000] ..... 1.000000: mm_page_alloc: page=0000000000000001 pfn=0x10 order=0 "
     "migratetype=0 gfp_flags=GFP_NONSENSE", "gfp_flags= names"),
    ("  bash-1 [000] ..... 1.000000: mm_page_free: page=0000000000000001 pfn=0x10 order=99",
     "order= a number in [0, 63]"),
])
def test_malformed_traces_raise_parse_errors_with_the_line(line, what):
    with pytest.raises(ParseError) as e:
        read_trace("# header\n" + line + "\n")
    assert what in str(e.value) and e.value.line == 2


def test_bad_input_is_refused_clearly():
    with pytest.raises(PextlabError, match="not a rate"):
        pextlab.tracing.reader(rate="fast")
    with pytest.raises(PextlabError, match="rate must be > 0"):
        pextlab.tracing.reader(rate=0)
    with pytest.raises(PextlabError, match="comm"):
        pextlab.tracing.reader(comm="")
    m = pextlab.boot(mem="512M", cmdline="page_owner=on")
    with pytest.raises(PextlabError, match="buffer_size_kb"):
        m.tracing(buffer_kb=0)
    with pytest.raises(PextlabError, match="unknown trace event"):
        m.tracing(events="kmem:mm_page_bogus")
    with pytest.raises(PextlabError, match="only kmem"):
        m.tracing(events="sched:sched_switch")
    with pytest.raises(PextlabError, match="reader must come from"):
        m.tracing(reader="trace-cmd")
    with pytest.raises(PextlabError, match="trace frame"):
        pextlab.tracing.compare_with_page_owner(m.df_buddyinfo(), m.df_page_owner())
    m2 = pextlab.boot(mem="512M", cmdline="page_owner=on trace_event=kmem:nope,kmem:mm_page_free")
    assert "Failed to enable trace event: kmem:nope" in m2.dmesg
    assert m2.mm.trace.enabled[1] and not m2.mm.trace.enabled[0]
    with pytest.raises(PextlabError, match="trace_buf_size"):
        pextlab.boot(mem="512M", cmdline="trace_event=kmem:mm_page_free trace_buf_size=lots")
