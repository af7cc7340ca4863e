"""Leak-hunting views: top owners, ages, snapshot diffs, leak suspects, folded stacks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pextlab.analysis.owners import (
    diff_snapshots, find_leak_suspects, folded_stacks, frame_function, only_older_than,
    outstanding_by_age, top_owners,
)
from pextlab.schema import conform, top_frame_of

REPO = Path(__file__).resolve().parents[1]
B1G = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"
S = 1_000_000_000

A = "get_page_from_freelist+0x1/0x2\n__alloc_pages_noprof+0x2/0x3\nkmalloc+0x9/0x10\nmain_a+0x1/0x2"
B = "get_page_from_freelist+0x1/0x2\n__alloc_pages_noprof+0x2/0x3\nvmalloc+0x5/0x10\nmain_b+0x1/0x2"
B2 = "get_page_from_freelist+0x1/0x2\n__alloc_pages_noprof+0x7/0x3\nvmalloc+0x6/0x10\nmain_b+0x1/0x2"


def frame(rows: list[dict]) -> pd.DataFrame:
    base = dict(order=0, gfp_mask=0xcc0, gfp="GFP_KERNEL", migratetype="Unmovable",
                pageblock_migratetype="Unmovable", node=0, zone="Normal", stack_handle=1,
                stack=A, pid=1, tgid=1, comm="init", ts_ns=0, free_ts_ns=-1,
                last_migrate_reason=np.nan)
    recs = []
    for i, r in enumerate(rows):
        d = {**base, "pfn": i * 16, **r}
        d["nr_pages"] = 1 << d["order"]
        d["pageblock"] = d["pfn"] >> 9
        d["mixed"] = False
        d["section"] = d["memory_block"] = d["pfn"] >> 15
        d["top_frame"] = top_frame_of(d["stack"].split("\n"))
        recs.append(d)
    return conform(pd.DataFrame(recs), "page_owner")


def test_top_owners_by_stack_with_shares():
    df = frame([dict(stack=A)] * 3 + [dict(stack=B, order=2)] + [dict(stack=B2)])
    t = top_owners(df)
    assert t.columns.tolist() == ["stack", "top_frame", "count", "pages", "share", "cum_share"]
    assert t["stack"].astype(str).tolist() == [B, A, B2]
    assert t["top_frame"].tolist() == ["vmalloc", "kmalloc", "vmalloc"]
    assert t["pages"].tolist() == [4, 3, 1] and t["count"].tolist() == [1, 3, 1]
    assert t["share"].tolist() == [0.5, 0.375, 0.125]
    assert t["cum_share"].tolist() == [0.5, 0.875, 1.0]
    tc = top_owners(df, by="top_frame", weight="count", n=1)
    assert tc.to_dict("records") == [dict(top_frame="kmalloc", count=3, pages=3, share=0.6, cum_share=0.6)]
    # several keys; a pages tie (4 order-0 pages vs one order-2 block) goes to the larger
    # count; shares are of the whole frame even when cut to n rows
    tm = top_owners(df, by=["comm", "order"], n=1)
    assert tm[["comm", "order", "count", "pages", "share"]].values.tolist() == [["init", 0, 4, 4, 0.5]]


def test_top_owners_rejects_bad_input():
    df = frame([dict()])
    with pytest.raises(ValueError):
        top_owners(df, weight="bytes")
    with pytest.raises(KeyError):
        top_owners(df, by="nope")


def test_outstanding_by_age_exact():
    df = frame([dict(ts_ns=100 * S), dict(ts_ns=95 * S, order=1), dict(ts_ns=30 * S),
                dict(ts_ns=-1, order=3), dict(ts_ns=200 * S)])
    t = outstanding_by_age(df, now_ns=100 * S)
    assert t.to_dict("list") == {
        "age": ["0s-1s", "1s-10s", "10s-1min", "1min-10min", "10min-1h", ">=1h", "unknown"],
        "age_lo_ns": [0, S, 10 * S, 60 * S, 600 * S, 3600 * S, -1],
        "age_hi_ns": [S, 10 * S, 60 * S, 600 * S, 3600 * S, -1, -1],
        "count": [1, 1, 0, 1, 0, 0, 1],
        "pages": [1, 2, 0, 1, 0, 0, 8],
        "share": [1 / 12, 2 / 12, 0.0, 1 / 12, 0.0, 0.0, 8 / 12],
        "pages_older": [4, 3, 1, 1, 0, 0, 8],
    }
    # default now = newest allocation (200 s): the 200 s block is now 0 s old
    t2 = outstanding_by_age(df, bins=[0, 150 * S])
    assert t2[["age", "count", "pages"]].values.tolist() == [
        ["0s-2.5min", 3, 4], [">=2.5min", 1, 1], ["unknown", 1, 8]]
    with pytest.raises(ValueError):
        outstanding_by_age(df, bins=[5, 1])


def test_only_older_than():
    df = frame([dict(ts_ns=1 * S), dict(ts_ns=8 * S), dict(ts_ns=-1), dict(ts_ns=10 * S)])
    assert only_older_than(df, 2 * S)["ts_ns"].tolist() == [1 * S, 8 * S]
    assert only_older_than(df, 5 * S, now_ns=12 * S)["ts_ns"].tolist() == [1 * S]


def test_diff_snapshots_by_stack():
    before = frame([dict(stack=A)] * 2 + [dict(stack=B)] * 3)
    after = frame([dict(stack=A)] * 5 + [dict(stack=B)] + [dict(stack=B2, order=1)])
    d = diff_snapshots(before, after)
    assert d.columns.tolist() == ["stack", "count_before", "count_after", "pages_before",
                                  "pages_after", "delta", "count_delta"]
    assert d[["stack", "pages_before", "pages_after", "delta", "count_delta"]].values.tolist() == [
        [A, 2, 5, 3, 3], [B2, 0, 2, 2, 1], [B, 3, 1, -2, -2]]


def test_find_leak_suspects_ranks_growth_and_counts_survivors():
    old = [dict(pfn=1000 + i, ts_ns=10 + i, stack=A, comm="leaky") for i in range(3)]
    before = frame(old + [dict(pfn=1, ts_ns=1, stack=B, comm="kworker")] * 4)
    after = frame(old + [dict(pfn=2000 + i, ts_ns=50 + i, stack=A, comm="leaky") for i in range(4)]
                  + [dict(pfn=3000, ts_ns=60, stack=B2, comm="sh")]
                  + [dict(pfn=1, ts_ns=1, stack=B, comm="kworker")] * 2)
    s = find_leak_suspects(before, after)
    assert s["stack"].tolist() == [A, B2]  # B shrank: not a suspect
    assert s["delta"].tolist() == [4, 1]
    assert s["growth"].tolist() == [7 / 3, np.inf]
    assert s["new"].tolist() == [False, True]
    assert s["share_of_growth"].tolist() == [0.8, 0.2]
    assert s["survived_pages"].tolist() == [3, 0]
    assert s["comm"].tolist() == ["leaky", "sh"]
    assert s["top_frame"].tolist() == ["kmalloc", "vmalloc"]
    assert find_leak_suspects(before, after, min_delta=2)["stack"].tolist() == [A]
    assert find_leak_suspects(before, after, by="comm")["comm"].tolist() == ["leaky", "sh"]


def test_frame_function():
    assert frame_function(" get_page_from_freelist+0x1673/0x1730") == "get_page_from_freelist"
    assert frame_function("xfs_file_read_iter+0x1f0/0x380 [xfs]") == "xfs_file_read_iter"
    assert frame_function("[<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00") == "__alloc_pages_nodemask"
    assert frame_function("0xffffffffc0001234") == "0xffffffffc0001234"


def test_folded_stacks_exact():
    df = frame([dict(stack=A)] * 2 + [dict(stack=B, order=2, comm="sh")] + [dict(stack=B2, comm="sh")])
    assert folded_stacks(df) == (
        "main_a;kmalloc;__alloc_pages_noprof;get_page_from_freelist 2\n"
        "main_b;vmalloc;__alloc_pages_noprof;get_page_from_freelist 5\n")
    assert folded_stacks(df, weight="count", root="comm") == (
        "init;main_a;kmalloc;__alloc_pages_noprof;get_page_from_freelist 2\n"
        "sh;main_b;vmalloc;__alloc_pages_noprof;get_page_from_freelist 2\n")
    assert folded_stacks(df.iloc[:0]) == ""
    nostack = df.copy()
    nostack["stack"] = pd.Categorical([np.nan, A, B, B], categories=[A, B])
    assert folded_stacks(nostack) == (
        "[no stack] 1\nmain_a;kmalloc;__alloc_pages_noprof;get_page_from_freelist 1\n"
        "main_b;vmalloc;__alloc_pages_noprof;get_page_from_freelist 5\n")


# --------------------------------------------------------------------------- real dump

needs_b1g = pytest.mark.skipif(not B1G.exists(), reason="data/real-kernel/b-1G/page_owner.txt.gz missing")


@pytest.fixture(scope="module")
def b1g():
    from pextlab.procfs.page_owner import read_page_owner
    return read_page_owner(B1G)


@needs_b1g
def test_real_top_owners_and_suspects(b1g):
    t = top_owners(b1g, n=2)
    # the fault stack is shared by other tasks (20107 pages in all, 20003 of them leaky's)
    assert t["top_frame"].tolist() == ["__handle_mm_fault", "__handle_mm_fault"]
    assert t["pages"].tolist() == [20107, 5000]
    leaky = b1g[b1g["comm"] == "leaky"]
    tl = top_owners(leaky, n=2)
    assert tl["pages"].tolist() == [20003, 5000]
    # a "before" dump without the leak: the two leak stacks are the top suspects
    before = b1g[b1g["comm"] != "leaky"]
    s = find_leak_suspects(before, b1g, n=2)
    assert s["delta"].tolist() == [20003, 5000]
    assert s["comm"].tolist() == ["leaky", "leaky"]
    assert s["stack"].tolist() == tl["stack"].tolist()
    # the folded export carries every base page exactly once
    folded = folded_stacks(b1g)
    assert sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines()) == int(b1g["nr_pages"].sum())
    assert ("asm_exc_page_fault;exc_page_fault;handle_mm_fault;__handle_mm_fault;vma_alloc_folio_noprof;"
            "alloc_pages_mpol_noprof;__alloc_pages_noprof;get_page_from_freelist ") in folded
