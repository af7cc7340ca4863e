"""page_owner's records stay within the pages (PageOwner.make_room / collect_records).

The kernel keeps a page's record in its page_ext: a new allocation overwrites it, so
the records never outgrow the pages.  The simulator keeps records as rows that pages
point at; a row no page points at any more is collected when the table is full.  A
collection must change nothing anyone can see: every frame of a machine that
collected equals that of the same machine that never did (the reference below keeps
every row), across runs, high-order allocations and splits, compaction, hotplug,
v3.19's records lost at free, and FLATMEM."""
from __future__ import annotations

import numpy as np
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.errors import PextlabError
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.page_owner import PageOwner

FRAMES = ("df_page_owner", "df_stacks", "df_buddyinfo", "df_pagetypeinfo", "df_pageblocks",
          "df_zones", "df_events", "df_tasks", "df_meminfo", "df_page_ext")


def _never_collect(monkeypatch):
    monkeypatch.setattr(PageOwner, "make_room", lambda self, need: self.records.reserve(need))


def _workload():
    return W.mix(W.anon("a", rate=30000, lifetime="300ms"), W.hog("h", pages=8000, ramp="1s"),
                 W.page_cache("c", rate=5000, lifetime="1s"))


def _story(kw):
    m = pextlab.boot(mem="256M", seed=3, **kw)
    m.run(_workload(), duration="3s", record=True, seed=1)
    live = [m.alloc_pages(o, "GFP_KERNEL") for o in (0, 2, 3, 5, 9) for _ in range(20)]
    m.alloc_pages_exact(5 * 4096 + 1)           # a split: each page its own record
    for i, p in enumerate(live):
        if p is not None and i % 3 == 0:
            m.free_pages(p, (0, 2, 3, 5, 9)[i // 20])
    m.compact_memory()                          # migration copies records
    if kw.get("memory_model") != "flatmem":
        blocks = m.df_memory_blocks()
        last = int(blocks.index[-1])
        m.offline(last)                         # a section's records leave with it
        m.online(last)
    m.run(_workload(), duration="3s", record=True, seed=2)
    return m


@pytest.mark.parametrize("kw", [dict(cmdline="page_owner=on"),
                                dict(cmdline="page_owner=on", profile="v3.19"),
                                dict(cmdline="page_owner=on", memory_model="flatmem")],
                         ids=["v6.12", "v3.19", "flatmem"])
def test_collecting_changes_no_frame(kw, monkeypatch):
    got = _story(kw)
    recs = got.mm.page_owner.records
    assert recs.made > 2 * recs.n                # it did collect, many times over
    assert check_invariants(got.mm) == []
    with monkeypatch.context() as mp:
        _never_collect(mp)
        ref = _story(kw)
    assert ref.mm.page_owner.records.n == ref.mm.page_owner.records.made
    for f in FRAMES:
        assert getattr(got, f)().equals(getattr(ref, f)()), f


def test_records_stay_within_a_few_times_the_pages_however_long_the_run():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    pages = m.mm.totalram_pages
    for seed in range(4):
        m.run(W.anon("a", rate=60000, lifetime="200ms"), duration="5s", seed=seed)
    recs = m.mm.page_owner.records
    assert recs.made > 1_000_000
    assert recs.n <= pages and recs.cap <= 4 * pages


def test_a_collection_keeps_the_live_rows_in_order_and_every_page_its_record():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    m.run(W.anon("a", rate=40000, lifetime="100ms"), duration="2s", seed=1)
    po = m.mm.page_owner
    arrays = po._owner_arrays()
    before = po.records.as_numpy()
    per_page = [before[o[o >= 0]] for o in arrays]
    live = np.zeros(len(before), dtype=bool)
    for o in arrays:
        live[o[o >= 0]] = True
    assert not live.all()                       # there is garbage to collect
    assert po.collect_records() == int(live.sum())
    after = po.records.as_numpy()
    assert np.array_equal(after, before[live])  # the live rows, in their order
    assert not po.records.rows[po.records.n:].any()
    for o, want in zip(po._owner_arrays(), per_page):
        assert np.array_equal(after[o[o >= 0]], want)
    assert check_invariants(m.mm) == []


def test_rows_made_count_every_row_even_across_collections():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    recs = m.mm.page_owner.records
    made = recs.made
    for _ in range(10):
        m.alloc_pages(0, "GFP_KERNEL")
    assert recs.made == made + 10
    m.mm.page_owner.collect_records()
    assert recs.made == made + 10


@pytest.mark.parametrize("seed", range(5))
def test_the_compiled_compaction_equals_the_numpy_rule(seed):
    from pextlab.kernel.page_owner import OwnerRecords
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    t = OwnerRecords(16)
    for i in range(n):
        t.add(i, int(rng.integers(0, 1 << 20)), i * 7, i * 11, 1, 2, 3)
    owners = [np.full(int(rng.integers(1, 5000)), -1, dtype=np.int32) for _ in range(4)]
    for o in owners:                            # some pages point at rows, some share them
        pick = rng.random(len(o)) < rng.random()
        o[pick] = rng.integers(0, n, int(pick.sum()))
    before = t.as_numpy()
    live = np.zeros(n, dtype=bool)
    for o in owners:
        live[o[o >= 0]] = True
    where = np.cumsum(live) - 1
    want_owners = [np.where(o >= 0, where[np.maximum(o, 0)], -1) for o in owners]
    k = t.compact(owners)
    assert k == int(live.sum()) == t.n
    assert np.array_equal(t.as_numpy(), before[live])
    assert not t.rows[k:].any()
    for o, w in zip(owners, want_owners):
        assert np.array_equal(o, w)


def test_a_page_pointing_past_the_records_is_refused_and_changes_nothing():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    po = m.mm.page_owner
    for _ in range(100):
        m.alloc_pages(0, "GFP_KERNEL")
    arrays = po._owner_arrays()
    rows = po.records.as_numpy()
    bad = [a.copy() for a in arrays]
    bad[0][0] = po.records.n + 5
    with pytest.raises(PextlabError, match="record row"):
        po.collect_records(bad)
    assert np.array_equal(po.records.as_numpy(), rows)
