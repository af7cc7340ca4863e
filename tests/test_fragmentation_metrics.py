"""df_fragmentation and friends agree with the /proc frames they summarise, follow the
machine over time, and plot."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import pextlab
from pextlab.plot.fragmentation import (plot_fragmentation_timeseries, plot_free_orders,
                                        plot_pageblock_map)


@pytest.fixture(scope="module")
def machine():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    m.sample_fragmentation("boot")
    rng = np.random.default_rng(5)
    live = []
    for _ in range(1500):
        k = int(rng.choice(3, p=[0.7, 0.15, 0.15]))
        live += [(k, p) for p in (m.alloc_pages(0, ["GFP_HIGHUSER_MOVABLE", "GFP_KERNEL",
                                                     "GFP_KERNEL|__GFP_RECLAIMABLE"][k])
                                  for _ in range(int(rng.integers(1, 64)))) if p is not None]
    m.sample_fragmentation("fill")

    def follow(moved, reason):
        rm = {o: n for o, n, _ in moved}
        live[:] = [(k, rm.get(p, p)) for k, p in live]
    m.on_migrate(follow)
    for i, (k, p) in enumerate(live):
        if k == 0 and i % 2:
            m.free_pages(p)
    m.sample_fragmentation("free")
    m.set_nr_hugepages(40)
    m.sample_fragmentation("probe")
    m.compact_memory()
    m.sample_fragmentation("compact")
    return m


def test_current_state_matches_proc_frames(machine):
    m = machine
    df = m.df_fragmentation()
    now = df[df.label == "now"]
    assert list(now.zone.astype(str)) == [z.name for z in m.mm.populated_zones()]
    bi = m.df_buddyinfo()
    pb = m.df_pageblocks()
    ex = m.df_extfrag()
    for _, r in now.iterrows():
        b = bi[bi.zone == r.zone]
        assert r.free_pages == int((b.nr_free * np.left_shift(1, b.order.to_numpy().astype(np.int64))).sum())
        for o in range(11):
            assert r[f"free_o{o}"] == int(b[b.order == o].nr_free.iloc[0]) << o
        assert r.free_pages_ge_pb == sum(r[f"free_o{o}"] for o in (9, 10))
        p = pb[pb.zone == r.zone].set_index("migratetype")
        for mt in ("Unmovable", "Movable", "Reclaimable"):
            assert r[f"blocks_{mt}"] == p.loc[mt, "nr_blocks"]
            assert r[f"mixed_{mt}"] == p.loc[mt, "nr_mixed"]
        e = ex[ex.zone == r.zone].set_index("order")
        assert r.unusable_o9 == e.loc[9, "unusable_index"]
        assert r.extfrag_o9 == e.loc[9, "extfrag_index"]
        assert sum(r[f"free_{mt}"] for mt in m.profile.migratetype_names) == r.free_pages


def test_samples_follow_the_run(machine):
    df = machine.df_fragmentation(current=False)
    d = df[df.zone == "DMA32"].set_index("label")
    assert list(d.index) == ["boot", "fill", "free", "probe", "compact"]
    assert d.loc["fill", "free_pages"] < d.loc["boot", "free_pages"]
    assert d.loc["free", "free_pages"] > d.loc["fill", "free_pages"]
    assert d.loc["probe", "nr_hugepages"] == 40
    assert d.loc["compact", "free_pages_ge_pb"] > d.loc["probe", "free_pages_ge_pb"]
    assert d.loc["compact", "unusable_o9"] < d.loc["probe", "unusable_o9"]
    assert d.loc["compact", "pgmigrate_success"] > d.loc["free", "pgmigrate_success"]
    assert (d["time_s"].diff().dropna() >= 0).all()


def test_free_area_history_is_pagetypeinfo(machine):
    h = machine.df_free_area_history()
    last = h[h["sample"] == h["sample"].max()]
    pt = machine.df_pagetypeinfo()
    a = last.set_index(["zone", "migratetype", "order"])["nr_free"].sort_index()
    b = pt.set_index(["zone", "migratetype", "order"])["nr_free"].sort_index()
    assert (a.to_numpy() == b.to_numpy()).all()


def test_hugetlb_log_and_compaction_stats(machine):
    hl = machine.df_hugetlb()
    assert hl.iloc[0].nr_hugepages == 40 and hl.iloc[0].target == 40
    st = machine.df_compaction_stats()
    assert {"compact_memory"} <= set(st.kind)
    assert set(st.columns) >= {"kind", "result", "migrated", "migrate_scanned", "free_scanned"}


def test_plots(machine):
    ax = plot_fragmentation_timeseries(machine.df_fragmentation(current=False), zone="DMA32")
    assert len(ax.lines) == 3
    ax = plot_pageblock_map(machine.df_pageblock_map())
    assert ax.images
    ax = plot_free_orders(machine.df_pagetypeinfo())
    assert ax.patches
    ax = plot_free_orders(machine.df_free_area_history(), sample=0)
    assert ax.patches


def test_sysctl_validation(machine):
    assert machine.sysctl("compaction_proactiveness") == 20
    with pytest.raises(pextlab.PextlabError):
        machine.sysctl("compaction_proactiveness", 101)
    with pytest.raises(pextlab.PextlabError):
        machine.sysctl("swappiness", 1)
