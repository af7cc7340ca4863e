"""The pageblock map as a frame first (frames/pageblock_map.py: what /proc/pagetypeinfo's
block counts are made of), then the fragmentation plots, each from a frame."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
from pextlab.frames.pageblock_map import df_pageblock_map  # noqa: E402
from pextlab.plot import (MIGRATETYPE_COLORS, plot_fragmentation_timeseries,  # noqa: E402
                          plot_free_orders, plot_pageblock_map)
from pextlab.schema import SCHEMAS  # noqa: E402

COUNTS = ["free_pages", "allocated_pages", "alloc_unmovable", "alloc_movable",
          "alloc_reclaimable"]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _churn(m, n=3000, seed=5):
    """Allocate a mix of movable, unmovable and reclaimable pages, free some: mixed blocks."""
    rng = np.random.default_rng(seed)
    gfps = ["GFP_HIGHUSER_MOVABLE", "GFP_KERNEL", "GFP_KERNEL|__GFP_RECLAIMABLE"]
    live = []
    for _ in range(n):
        k = int(rng.choice(3, p=[0.6, 0.2, 0.2]))
        p = m.alloc_pages(int(rng.integers(0, 3)), gfps[k])
        if p is not None:
            live.append(p)
    for p in live[::3]:
        m.free_pages(p, m.mm.sections[p >> m.mm.section_shift].order[p & m.mm.section_mask])
    return m


@pytest.fixture(scope="module")
def churned():
    return _churn(pextlab.boot("1G", cmdline="page_owner=on", seed=1))


def _as_pageblocks(pm: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The online rows counted the way /proc/pagetypeinfo prints them."""
    on = pm[pm["state"] == "online"]
    mt = on["migratetype"].astype(str).replace("CMA", "Movable")
    nb = on.groupby(["node", on["zone"].astype(str), on["migratetype"].astype(str)]).size()
    nm = (on["mixed"] == 1).groupby([on["node"], on["zone"].astype(str), mt]).sum()
    return nb, nm


def _check_against_pagetypeinfo(m):
    pm = df_pageblock_map(m.mm)
    pb = m.df_pageblocks()
    nb, nm = _as_pageblocks(pm)
    for r in pb.itertuples():
        key = (r.node, str(r.zone), str(r.migratetype))
        assert nb.get(key, 0) == r.nr_blocks, key
        assert (nm.get(key, 0) if r.nr_mixed >= 0 else -1) == r.nr_mixed, key
    return pm


# --- the frame ---------------------------------------------------------------------------------
def test_frame_schema_and_rows(churned):
    pm = df_pageblock_map(churned.mm)
    assert list(pm.columns) == list(SCHEMAS["pageblock_map"])
    assert {c: str(t) for c, t in pm.dtypes.items()} == SCHEMAS["pageblock_map"]
    assert (pm["pfn"] == pm["pageblock"] * 2 ** churned.mm.pageblock_order).all()
    zones = churned.df_zones().query("present > 0")
    # one row per pageblock of each populated zone's span, in pfn order
    for z in zones.itertuples():
        rows = pm[(pm["node"] == z.node) & (pm["zone"] == z.zone)]
        assert rows["pfn"].is_monotonic_increasing
        assert len(rows) == len(range(z.start_pfn, z.end_pfn, 512))
    assert set(pm["state"]) == {"online"}


def test_frame_sums_to_pagetypeinfo_and_buddyinfo(churned):
    pm = _check_against_pagetypeinfo(churned)
    assert (pm["mixed"] == 1).sum() > 0                      # the churn made mixed blocks
    free = pm.groupby(pm["zone"].astype(str))["free_pages"].sum()
    zones = churned.df_zones().query("present > 0")
    assert free.to_dict() == dict(zip(zones["zone"].astype(str), zones["free"]))
    pb = 1 << churned.mm.pageblock_order
    assert ((pm["free_pages"] + pm["allocated_pages"]) <= pb).all()
    split = pm[["alloc_unmovable", "alloc_movable", "alloc_reclaimable"]].sum(axis=1)
    assert (split <= pm["allocated_pages"]).all()


def test_allocations_land_in_their_columns():
    m = pextlab.boot("512M", cmdline="page_owner=on", seed=2)
    before = df_pageblock_map(m.mm)
    kern = [m.alloc_pages(0, "GFP_KERNEL") for _ in range(100)]
    rec = [m.alloc_pages(2, "GFP_KERNEL|__GFP_RECLAIMABLE") for _ in range(10)]
    big = m.alloc_pages(10, "GFP_HIGHUSER_MOVABLE")          # two whole pageblocks
    after = df_pageblock_map(m.mm)
    d = after[COUNTS].sum() - before[COUNTS].sum()
    assert d.to_dict() == {"free_pages": -(100 + 40 + 1024), "allocated_pages": 100 + 40 + 1024,
                           "alloc_unmovable": 100, "alloc_movable": 1024,
                           "alloc_reclaimable": 40}
    rows = after[(after["pfn"] >= big) & (after["pfn"] < big + 1024)]
    assert len(rows) == 2 and (rows["alloc_movable"] == 512).all()
    assert (rows["free_pages"] == 0).all()
    # the blocks of the small allocations hold them
    for p, pages, col in [(kern[0], 1, "alloc_unmovable"), (rec[0], 4, "alloc_reclaimable")]:
        row = after[after["pageblock"] == p >> 9].iloc[0]
        assert row[col] >= pages


def test_mixed_is_unknown_without_page_owner():
    m = _churn(pextlab.boot("512M", seed=3), n=500)
    pm = _check_against_pagetypeinfo(m)
    assert (pm["mixed"] == -1).all()
    assert pm["allocated_pages"].sum() > 0 and pm["alloc_unmovable"].sum() > 0


def test_building_it_never_changes_the_machine():
    m = pextlab.boot("1G", cmdline="page_owner=on pextlab.pcp=on", seed=4)
    pfns = [m.alloc_pages(0, "GFP_KERNEL") for _ in range(600)]
    for p in pfns[::2]:
        m.free_pages(p, 0)
    pcp = [z.nr_pcp_pages() for z in m.mm.populated_zones()]
    assert sum(pcp) > 0                                     # pages wait on per-cpu lists
    bi = m.df_buddyinfo()
    pm = df_pageblock_map(m.mm)
    assert [z.nr_pcp_pages() for z in m.mm.populated_zones()] == pcp
    assert bi.equals(m.df_buddyinfo())
    # per-cpu pages are neither free nor allocated in the frame
    free = pm.groupby(pm["zone"].astype(str))["free_pages"].sum()
    assert free.sum() == sum(z.free_pages for z in m.mm.populated_zones())


def test_deterministic():
    a = df_pageblock_map(_churn(pextlab.boot("512M", cmdline="page_owner=on", seed=7)).mm)
    b = df_pageblock_map(_churn(pextlab.boot("512M", cmdline="page_owner=on", seed=7)).mm)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("kw", [dict(nodes=2, node_pattern=[0, 1, 0, 1]),
                                dict(profile="v3.19"), dict(memory_model="flatmem")])
def test_other_machines_agree_with_pagetypeinfo(kw):
    m = _churn(pextlab.boot("2G", cmdline="page_owner=on", seed=8, **kw), n=1500)
    pm = _check_against_pagetypeinfo(m)
    if "node_pattern" in kw:
        # interleaved nodes: each zone's span crosses the other node's memory
        assert (pm["state"] == "hole").any()
        on = pm[pm["state"] == "online"]
        assert not on["pfn"].duplicated().any()


def test_hotplug_offline_and_overlapping_zones():
    m = pextlab.boot("1G", "page_owner=on", maxmem="4G")
    m.hot_add("512M")
    for b in (32, 33, 34):
        assert m.online(b, "online").ok
    assert m.offline(33).ok
    pm = df_pageblock_map(m.mm)
    normal = pm[pm["zone"] == "Normal"]
    per_block = normal.groupby(normal["pfn"] // 32768)["state"].agg(lambda s: set(s.astype(str)))
    assert per_block.to_dict() == {32: {"online"}, 33: {"offline"}, 34: {"online"}}
    assert normal.loc[normal["state"] != "online", COUNTS].eq(0).all().all()
    assert normal.loc[normal["state"] != "online", "migratetype"].isna().all()
    # memory35 Movable, memory33 back as Normal: Movable's span now covers Normal memory
    m2 = pextlab.boot("1G", "page_owner=on", maxmem="4G")
    m2.hot_add("512M")
    for b, how in [(32, "online_movable"), (33, "online"), (34, "online_movable")]:
        assert m2.online(b, how).ok
    pm2 = df_pageblock_map(m2.mm)
    mov = pm2[pm2["zone"] == "Movable"]
    holes = mov[mov["state"] == "hole"]
    assert len(holes) == 64 and (holes["pfn"] // 32768 == 33).all()     # page_zone is Normal
    on = pm2[pm2["state"] == "online"]
    assert not on["pfn"].duplicated().any()                 # each block counted once


# --- plot_pageblock_map ------------------------------------------------------------------------
def test_pageblock_map_cells(churned):
    pm = df_pageblock_map(churned.mm)
    ax = plot_pageblock_map(pm, width=32)
    img = ax.images[0].get_array()
    dma = pm[pm["zone"] == "DMA"]
    dma32 = pm[pm["zone"] == "DMA32"]
    rows_dma, rows_dma32 = -(-len(dma) // 32), -(-len(dma32) // 32)
    assert img.shape == (rows_dma + rows_dma32, 32, 4)
    assert (img[0, len(dma):, 3] == 0).all()                # DMA's row ends, DMA32 starts anew
    # a fully allocated block has its type's colour; a fully free one is pale
    full = dma32[(dma32["free_pages"] == 0)].iloc[0]
    i = dma32.index.get_loc(full.name)
    cell = img[rows_dma + i // 32, i % 32, :3]
    assert mcolors.to_hex(cell) == MIGRATETYPE_COLORS[str(full["migratetype"])]
    empty = dma32[dma32["free_pages"] == 512].iloc[0]
    i = dma32.index.get_loc(empty.name)
    assert img[rows_dma + i // 32, i % 32, :3].min() > 0.7
    mixed = [c for c in ax.collections if c.get_gid() == "mixed"]
    assert len(mixed) == 1 and len(mixed[0].get_offsets()) == (pm["mixed"] == 1).sum()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks[0] == "node 0 DMA  0x0" and ticks[rows_dma] == "node 0 DMA32  0x1000"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Movable" in labels and any(t.startswith("mixed (") for t in labels)


def test_pageblock_map_zone_node_and_errors(churned):
    pm = df_pageblock_map(churned.mm)
    ax = plot_pageblock_map(pm, zone="DMA32", node=0, width=64)
    assert ax.images[0].get_array().shape[0] == -(-len(pm[pm["zone"] == "DMA32"]) // 64)
    assert "node 0 DMA32" in ax.get_title()
    with pytest.raises(ValueError, match="zone='Normal'"):
        plot_pageblock_map(pm, zone="Normal")
    with pytest.raises(KeyError, match="mixed"):
        plot_pageblock_map(pm.drop(columns=["mixed"]))
    with pytest.raises(ValueError, match="width"):
        plot_pageblock_map(pm, width=0)
    off = df_pageblock_map(_churn(pextlab.boot("512M", seed=3), n=200).mm)
    ax = plot_pageblock_map(off)
    assert "mixed unknown" in ax.get_title()
    assert not [c for c in ax.collections if c.get_gid() == "mixed"]


def test_pageblock_map_draws_offline_and_holes():
    m = pextlab.boot("1G", "page_owner=on", maxmem="4G")
    m.hot_add("512M")
    for b in (32, 33, 34):
        m.online(b, "online")
    m.offline(33)
    ax = plot_pageblock_map(df_pageblock_map(m.mm), zone="Normal", width=64)
    img = ax.images[0].get_array()
    assert img.shape == (3, 64, 4)
    assert mcolors.to_hex(img[1, 0, :3]) == "#f0f0f0"       # memory33: offline
    assert "offline" in [t.get_text() for t in ax.get_legend().get_texts()]


# --- plot_free_orders ---------------------------------------------------------------------------
def test_free_orders_from_pagetypeinfo_buddyinfo_and_history(churned):
    pti = churned.df_pagetypeinfo()
    ax = plot_free_orders(pti)
    pages = pti.assign(p=pti["nr_free"] * 2 ** pti["order"].astype("int64"))
    want = pages.groupby("order")["p"].sum()
    heights = np.sum([[b.get_height() for b in c] for c in ax.containers], axis=0)
    assert heights.tolist() == want.tolist()
    assert "all zones" in ax.get_title()
    labels = [c.get_label() for c in ax.containers]
    assert set(labels) <= set(churned.profile.migratetype_names) and "Movable" in labels
    mov = ax.containers[labels.index("Movable")]
    assert mcolors.to_hex(mov[0].get_facecolor()) == MIGRATETYPE_COLORS["Movable"]
    ax = plot_free_orders(churned.df_buddyinfo(), zone="DMA")
    bi = churned.df_buddyinfo().query("zone == 'DMA'")
    assert [c.get_label() for c in ax.containers] == ["free"]
    assert [b.get_height() for b in ax.containers[0]] == (
        bi["nr_free"] * 2 ** bi["order"].astype("int64")).tolist()
    m = pextlab.boot("512M", cmdline="page_owner=on")
    m.sample_fragmentation("boot")
    _churn(m, n=500)
    m.sample_fragmentation("churn")
    h = m.df_free_area_history()
    first = plot_free_orders(h, sample=0, zone="DMA32")
    last = plot_free_orders(h, zone="DMA32")
    total = [sum(b.get_height() for c in a.containers for b in c) for a in (first, last)]
    assert total == [h[(h["sample"] == s) & (h["zone"] == "DMA32")]["pages"].sum() for s in (0, 1)]
    with pytest.raises(ValueError, match="no rows"):
        plot_free_orders(pti, zone="Movable")
    with pytest.raises(KeyError, match="nr_free"):
        plot_free_orders(pti.drop(columns=["nr_free"]))


# --- plot_fragmentation_timeseries --------------------------------------------------------------
def test_fragmentation_timeseries_every_zone_or_one():
    m = pextlab.boot("512M", cmdline="page_owner=on")
    m.sample_fragmentation("boot")
    _churn(m, n=500)
    m.sample_fragmentation("churn")
    fr = m.df_fragmentation(current=False)
    ax = plot_fragmentation_timeseries(fr)
    assert len(ax.lines) == 3 * 2                           # 3 metrics x (DMA, DMA32)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["boot", "churn"]
    labels = [ln.get_label() for ln in ax.lines]
    assert any(lb.startswith("mixed_total, node 0 DMA32") for lb in labels)
    ax = plot_fragmentation_timeseries(fr, zone="DMA32", metrics=["free_pages"])
    (line,) = ax.lines
    assert line.get_label() == "free_pages"
    assert line.get_ydata().tolist() == fr[fr["zone"] == "DMA32"]["free_pages"].tolist()
    with pytest.raises(KeyError, match="nope"):
        plot_fragmentation_timeseries(fr, metrics=["nope"])
