"""df_events / df_memory_usage: internal consistency, and the owners-over-time plots.

The events and the samples are recorded separately by the runner; here each is
rebuilt from the other (and from page_owner) to check they tell one story.
"""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
import pextlab.workloads as W  # noqa: E402
from pextlab.plot.owners import (owners_over_time, plot_memory_usage,  # noqa: E402
                                 plot_owners_over_time)

from conftest import REAL  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def machine():
    m = pextlab.boot(mem="1G", nodes=2, cmdline="page_owner=on", seed=3)
    wl = W.mix(W.anon("app", rate=1000, lifetime="500ms"),
               W.slab("kw", rate=200, lifetime="1s", reclaimable=True),
               W.slab("kw2", rate=100, lifetime="1s"),
               W.thp("qemu", rate=4, lifetime="700ms"),
               W.hog("java", pages=5000, ramp="1s"),
               W.leak("leaky", pages=800, fraction=0.5, over="2s", lifetime="100ms"))
    m.run(wl, duration="2s", record=True, sample="100ms")
    m.run(W.anon("app", rate=1000, lifetime="500ms"), duration="1s", record=True, sample="100ms")
    runs = m.run_log.runs                # the second run continues the first one's history
    assert len(runs) == 2 and runs[1]["start_ns"] == runs[0]["end_ns"]
    return m


def test_events_are_time_ordered_and_frees_match_allocs(machine):
    ev = machine.df_events()
    assert ev["time_ns"].is_monotonic_increasing
    live = {}
    for e, pfn, order, task in zip(ev["event"].astype(str), ev["pfn"], ev["order"], ev["task"]):
        if e == "alloc":
            assert pfn not in live
            live[pfn] = (order, task)
        elif e == "free":
            assert live.pop(pfn) == (order, task)
    po = machine.df_page_owner()
    mine = po[po["comm"].isin(["app", "kw", "kw2", "qemu", "java", "leaky"])]
    assert set(live) == set(mine["pfn"])


def test_event_columns_agree_with_page_owner(machine):
    ev = machine.df_events()
    po = machine.df_page_owner().set_index("pfn")
    a = ev[(ev["event"] == "alloc") & ev["pfn"].isin(po.index)]
    # the latest alloc of each still-allocated pfn is its page_owner record
    a = a.drop_duplicates("pfn", keep="last").set_index("pfn")
    p = po.loc[a.index]
    np.testing.assert_array_equal(a["time_ns"], p["ts_ns"])
    np.testing.assert_array_equal(a["pid"], p["pid"])
    np.testing.assert_array_equal(a["stack_handle"], p["stack_handle"])
    np.testing.assert_array_equal(a["order"], p["order"])
    np.testing.assert_array_equal(a["node"], p["node"])
    assert a["zone"].astype(str).tolist() == p["zone"].astype(str).tolist()
    assert a["migratetype"].astype(str).tolist() == p["migratetype"].astype(str).tolist()


def test_used_samples_equal_the_sum_of_events(machine):
    ev = machine.df_events()
    ev = ev[ev["event"] != "fail"]
    sign = np.where(ev["event"] == "free", -1, 1)
    ev = ev.assign(delta=ev["nr_pages"] * sign, zone=ev["zone"].astype(str),
                   migratetype=ev["migratetype"].astype(str))
    mu = machine.df_memory_usage()
    mu = mu.assign(zone=mu["zone"].astype(str), migratetype=mu["migratetype"].astype(str))
    times = np.sort(mu["time_ns"].unique())
    assert len(times) == 21 + 10        # two runs: 0..2s and 2..3s, the boundary sampled once
    assert not mu.duplicated(["time_ns", "node", "zone", "migratetype"]).any()
    for s in times[::5]:
        before = ev[ev["time_ns"] < s]      # a sample shows the state before events at its time
        want = before.groupby(["node", "zone", "migratetype"])["delta"].sum()
        got = mu[mu["time_ns"] == s].groupby(["node", "zone", "migratetype"])["used"].sum()
        got = got[got != 0]
        want = want[want != 0]
        pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False,
                                       check_dtype=False)


def test_owners_over_time_from_events(machine):
    ev = machine.df_events()
    wide = owners_over_time(ev, "comm", points=50)
    assert wide.index.name == "time_s" and len(wide) == 50
    assert wide.columns[0] == "java" and wide["java"].iloc[-1] == 5000
    assert wide["leaky"].iloc[-1] == 800
    po = machine.df_page_owner()
    final = po.groupby("comm", observed=True)["nr_pages"].sum()
    for c in ("app", "kw", "qemu", "java", "leaky"):
        assert wide[c].iloc[-1] == final[c]
    top2 = owners_over_time(ev, "comm", top=2, points=10)
    assert list(top2.columns) == ["java", wide.columns[1], "other"]
    np.testing.assert_array_equal(top2.sum(axis=1), owners_over_time(ev, "comm", points=10).sum(axis=1))


def test_owners_over_time_from_a_real_dump():
    from pextlab.procfs.page_owner import read_page_owner
    po = read_page_owner(REAL / "b-1G" / "page_owner.txt.gz")
    wide = owners_over_time(po, "comm", top=3, points=20)
    assert wide.columns[0] == "leaky"
    assert wide["leaky"].iloc[-1] == po.loc[po["comm"] == "leaky", "nr_pages"].sum()
    assert wide["leaky"].is_monotonic_increasing


def test_plots_return_axes(machine):
    ax = plot_owners_over_time(machine.df_events(), by="comm", top=4)
    assert len(ax.get_lines()) == 5
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"java", "other"}
    ax = plot_owners_over_time(machine.df_page_owner(), by="comm", stacked=True, mib=True)
    assert ax.collections and ax.get_ylabel() == "MiB held"
    ax = plot_memory_usage(machine.df_memory_usage())
    assert [l.get_label() for l in ax.get_lines()] == ["free"]
    assert len(ax.collections) >= 2
    ax = plot_memory_usage(machine.df_memory_usage(), node=1, zone="DMA32", show_free=False)
    assert not ax.get_lines()
    with pytest.raises(KeyError, match="missing"):
        plot_memory_usage(pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="no samples"):
        plot_memory_usage(machine.df_memory_usage(), node=7)
