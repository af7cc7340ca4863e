"""pextlab.plot: each plot_* returns the Axes with the artists its frame implies.

Checked on simulator frames and on a real capture's frames (data/real-kernel), and for the
error a frame without the needed columns raises.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
from pextlab.plot import (plot_buddyinfo, plot_memory_map, plot_page_ext_cost,  # noqa: E402
                          plot_pageblocks)

DATA = Path(__file__).resolve().parent.parent / "data" / "real-kernel"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def m2():
    """4 GiB on two nodes: node 1 has DMA32 below the 3-4 GiB hole and Normal above it."""
    return pextlab.boot(mem="4G", nodes=2, cmdline="page_owner=on")


@pytest.fixture(scope="module")
def cap():
    return pextlab.read_capture(DATA / "f-numa2")


def _patches(ax, prefix):
    return [p for p in ax.patches if (p.get_gid() or "").startswith(prefix)]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --- plot_memory_map ----------------------------------------------------------------------------
def test_memory_map_sim_zones_holes_sections_tables(m2):
    zones, sections, blocks, pe = (m2.df_zones(), m2.df_sections(), m2.df_memory_blocks(),
                                   m2.df_page_ext())
    ax = plot_memory_map(zones, sections, blocks, pe, ram=pd.DataFrame(m2.layout.ram), unit="pfn")
    spanning = zones[zones.spanned > 0]
    zp = _patches(ax, "zone:")
    assert len(zp) == len(spanning) == 4
    assert sorted(p.get_gid() for p in zp) == sorted(
        f"zone:{n}:{z}" for n, z in zip(spanning.node, spanning.zone))
    # each zone band covers exactly [start_pfn, end_pfn)
    for p in zp:
        _, n, z = p.get_gid().split(":")
        r = spanning[(spanning.node == int(n)) & (spanning.zone == z)].iloc[0]
        assert p.get_x() == r.start_pfn and p.get_width() == r.end_pfn - r.start_pfn
    holes = {(round(p.get_x()), round(p.get_x() + p.get_width())) for p in _patches(ax, "hole")}
    assert (786400, 1048576) in holes          # the PCI hole below 4 GiB, on node 1
    assert (159, 256) in holes                 # the legacy VGA/BIOS hole in DMA
    assert len(_patches(ax, "page_ext")) == len(pe) == 32
    ticks = [c for c in ax.collections if c.get_gid() == "sections"]
    assert sum(len(c.get_segments()) for c in ticks) == len(sections)
    ticks = [c for c in ax.collections if c.get_gid() == "memory_blocks"]
    assert sum(len(c.get_segments()) for c in ticks) == len(blocks)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["node 0", "node 1"]
    legend = _legend_texts(ax)
    for label in ("DMA", "DMA32", "Normal", "hole (no RAM)", "section start",
                  "memory block start", "page_ext table"):
        assert label in legend
    assert ax.get_xlim()[1] >= 1310720


def test_memory_map_holes_without_ram_and_units(m2):
    ax = plot_memory_map(m2.df_zones(), unit="GiB", legend=False)
    holes = [(p.get_x(), p.get_x() + p.get_width()) for p in _patches(ax, "hole")]
    # without RAM ranges only gaps between zones could be placed, and there are none:
    # DMA32 spans the PCI hole up to 4 GiB (mm/mm_init.c zone_spanned_pages_in_node)
    assert holes == []
    assert ax.get_legend() is None
    assert 5.0 <= ax.get_xlim()[1] < 5.2
    assert ax.get_xlabel() == "physical address (GiB)"


def test_memory_map_page_ext_table_lands_on_its_node_row(m2):
    pe = m2.df_page_ext()
    ax = plot_memory_map(m2.df_zones(), page_ext=pe, unit="pfn")
    rows = {}
    for p in _patches(ax, "page_ext"):
        rows[int(p.get_x())] = p.get_y() + p.get_height() / 2
    for r in pe.itertuples():
        assert rows[r.table_pfn] == r.node        # this machine keeps tables node-local
        assert rows[r.table_pfn] in (0, 1)


def test_memory_map_vmalloc_tables_and_offline_blocks(m2):
    pe = m2.df_page_ext().copy()
    pe.loc[0, "table_pfn"] = -1
    blocks = m2.df_memory_blocks().copy()
    blocks.loc[3, "online"] = False
    ax = plot_memory_map(m2.df_zones(), memory_blocks=blocks, page_ext=pe)
    assert len(_patches(ax, "page_ext")) == len(pe) - 1
    assert any("1 via vmalloc" in t for t in _legend_texts(ax))
    off = _patches(ax, "offline")
    assert len(off) == 1
    assert off[0].get_x() == pytest.approx(blocks.loc[3, "start_pfn"] * 4096 / 2**30)
    assert "offline block" in _legend_texts(ax)


def test_memory_map_flatmem_has_no_sections(tmp_path):
    m = pextlab.boot(mem="1G", memory_model="flatmem", cmdline="page_owner=on")
    ax = plot_memory_map(m.df_zones(), m.df_sections(), page_ext=m.df_page_ext())
    assert len(_patches(ax, "zone:")) == 2
    assert len(_patches(ax, "page_ext")) == 1
    assert "section start" not in _legend_texts(ax)


def test_memory_map_real_capture(cap):
    zones = cap.df_zones()
    ax = plot_memory_map(zones, memory_blocks=cap.df_memory_blocks(),
                         ram=pd.DataFrame(cap.layout.ram))
    assert len(_patches(ax, "zone:")) == (zones.spanned > 0).sum() == 3
    holes = {(round(p.get_x() * 2**30 / 4096), round((p.get_x() + p.get_width()) * 2**30 / 4096))
             for p in _patches(ax, "hole")}
    assert holes == {(159, 256)}
    ticks = [c for c in ax.collections if c.get_gid() == "memory_blocks"]
    assert sum(len(c.get_segments()) for c in ticks) == 16


def test_memory_map_uses_given_axes(m2):
    fig, (a, b) = plt.subplots(1, 2)
    assert plot_memory_map(m2.df_zones(), ax=b) is b
    assert not a.patches


def test_memory_map_errors(m2):
    zones = m2.df_zones()
    with pytest.raises(KeyError, match="spanned"):
        plot_memory_map(zones.drop(columns=["spanned"]))
    with pytest.raises(KeyError, match="present"):
        plot_memory_map(zones, m2.df_sections().drop(columns=["present"]))
    with pytest.raises(KeyError, match="table_pfn"):
        plot_memory_map(zones, page_ext=m2.df_page_ext().drop(columns=["table_pfn"]))
    with pytest.raises(KeyError, match="end_pfn"):
        plot_memory_map(zones, ram=pd.DataFrame({"start_pfn": [0]}))
    with pytest.raises(ValueError, match="spans"):
        plot_memory_map(zones.assign(spanned=0))
    with pytest.raises(ValueError, match="unit"):
        plot_memory_map(zones, unit="MiB")
    with pytest.raises(TypeError, match="DataFrame"):
        plot_memory_map(zones.to_dict())


# --- plot_page_ext_cost ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep():
    rows = []
    for profile in ("v6.12", "v3.19"):
        for mem, gib in (("512M", 0.5), ("1G", 1), ("4G", 4)):
            m = pextlab.boot(mem=mem, cmdline="page_owner=on", profile=profile)
            rows.append(dict(ram_gib=gib, config=profile, page_ext_mib=m.page_ext_bytes / 2**20))
    return pd.DataFrame(rows)


def test_page_ext_cost_one_line_per_config(sweep):
    ax = plot_page_ext_cost(sweep)
    assert [ln.get_label() for ln in ax.lines] == ["v6.12", "v3.19"]
    v612 = ax.lines[0]
    assert list(v612.get_xdata()) == [0.5, 1, 4]
    # 4, 8 and 32 sections of 32768 pages at 72 bytes each (as b-1G's dmesg says for 1G)
    assert list(v612.get_ydata()) == [9.0, 18.0, 72.0]
    assert list(ax.lines[1].get_ydata()) == [13.0, 26.0, 104.0]   # 104 bytes per page
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["v6.12", "v3.19"]


def test_page_ext_cost_options_and_errors(sweep):
    ax = plot_page_ext_cost(sweep.sample(frac=1, random_state=1), hue=None, logx=False)
    assert len(ax.lines) == 1
    assert list(ax.lines[0].get_xdata()) == sorted(sweep.ram_gib)
    assert ax.get_xscale() == "linear"
    with pytest.raises(KeyError, match="config"):
        plot_page_ext_cost(sweep.drop(columns=["config"]))
    with pytest.raises(KeyError, match="ram_mib"):
        plot_page_ext_cost(sweep, x="ram_mib")
    with pytest.raises(ValueError, match="no rows"):
        plot_page_ext_cost(sweep.iloc[:0])


# --- plot_buddyinfo -------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["sim", "capture"])
def test_buddyinfo_bars(source, m2, cap):
    bi = (m2 if source == "sim" else cap).df_buddyinfo()
    ax = plot_buddyinfo(bi)
    zones = bi[["node", "zone"]].drop_duplicates()
    orders = sorted(bi.order.unique())
    assert len(ax.containers) == len(orders) == 11
    assert all(len(c) == len(zones) for c in ax.containers)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"node {n} {z}" for n, z in zones.itertuples(index=False)]
    # bar heights are the nr_free values, zone by zone
    for o, c in zip(orders, ax.containers):
        want = [int(bi[(bi.node == n) & (bi.zone == z) & (bi.order == o)].nr_free.iloc[0])
                for n, z in zones.itertuples(index=False)]
        assert [b.get_height() for b in c] == want
    assert ax.get_yscale() == "log"


def test_buddyinfo_pages_and_errors(cap):
    bi = cap.df_buddyinfo()
    ax = plot_buddyinfo(bi, pages=True, log=False)
    top = ax.containers[10]
    want = bi[bi.order == 10].nr_free.to_numpy() * 1024
    assert np.array_equal([b.get_height() for b in top], want)
    assert ax.get_ylabel() == "free pages" and ax.get_yscale() == "linear"
    with pytest.raises(KeyError, match="nr_free"):
        plot_buddyinfo(bi.drop(columns=["nr_free"]))
    with pytest.raises(ValueError, match="no rows"):
        plot_buddyinfo(bi.iloc[:0])


# --- plot_pageblocks ------------------------------------------------------------------------------
def test_pageblocks_real_capture_with_mixed(cap):
    pb = cap.df_pageblocks()
    ax = plot_pageblocks(pb)
    with_blocks = pb.groupby("migratetype", observed=True).nr_blocks.sum()
    types = [t for t in pb.migratetype.unique() if with_blocks.get(t, 0) > 0]
    assert [c.get_label() for c in ax.containers] == types + ["mixed"]
    # segments stack up to each zone's total number of pageblocks
    zones = pb[["node", "zone"]].drop_duplicates()
    for j, (n, z) in enumerate(zones.itertuples(index=False)):
        total = pb[(pb.node == n) & (pb.zone == z)].nr_blocks.sum()
        assert sum(c[j].get_width() for c in ax.containers[:-1]) == total
    texts = [t.get_text().strip() for t in ax.texts]
    assert "1 mixed: Reclaimable 1" in texts       # f-numa2 node 0 DMA32
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "node 0 DMA", "node 0 DMA32", "node 1 DMA32"]


def test_pageblocks_without_mixed_counts():
    pb = pextlab.read_capture(DATA / "e-1G-noowner").df_pageblocks()
    assert (pb.nr_mixed == -1).all()
    ax = plot_pageblocks(pb)
    assert "mixed" not in [c.get_label() for c in ax.containers]
    assert "not printed" in ax.get_title()
    assert all(t.get_text().strip() == "mixed n/a" for t in ax.texts if "mixed" in t.get_text())


def test_pageblocks_sim_and_errors(m2):
    pb = m2.df_pageblocks()
    ax = plot_pageblocks(pb, show_mixed=False)
    assert "mixed" not in [c.get_label() for c in ax.containers]
    assert len(ax.get_yticklabels()) == len(pb[["node", "zone"]].drop_duplicates())
    with pytest.raises(KeyError, match="nr_mixed"):
        plot_pageblocks(pb.drop(columns=["nr_mixed"]))
    with pytest.raises(KeyError, match="migratetype"):
        plot_pageblocks(pb.drop(columns=["migratetype"]))


# --- plot_top_owners ------------------------------------------------------------------------------
def test_top_owners_bars_biggest_on_top():
    from pextlab.analysis.owners import top_owners
    from pextlab.plot import plot_top_owners
    po = pextlab.read_capture(DATA / "b-1G").df_page_owner()
    t = top_owners(po, by="comm", n=5)
    ax = plot_top_owners(t)
    (bars,) = ax.containers
    assert [b.get_width() for b in bars] == t["pages"].tolist()
    labels = [lb.get_text() for lb in ax.get_yticklabels()]
    assert labels[0] == "leaky" == str(t["comm"].iloc[0])
    assert ax.yaxis_inverted() and ax.get_xscale() == "log" and "comm" in ax.get_title()
    ax = plot_top_owners(top_owners(po, by="top_frame", n=3), "top_frame", weight="count",
                         log=False, label_width=8)
    assert all(len(lb.get_text()) <= 8 for lb in ax.get_yticklabels())
    assert ax.get_xlabel() == "blocks"
    with pytest.raises(ValueError, match="no rows"):
        plot_top_owners(t.iloc[:0])
    with pytest.raises(KeyError, match="pid"):
        plot_top_owners(t, "pid")
