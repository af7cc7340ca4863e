"""plot_memory_blocks: cells, colours, page_ext table markers and arrows, on synthetic,
simulated and real-capture frames."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
from pextlab.plot.blocks import block_of_pfn, plot_memory_blocks  # noqa: E402
from pextlab.plot.colors import MEMORY_BLOCK_STATE_COLORS, OFFLINE_COLOR, ZONE_COLORS  # noqa: E402

P = 32768


def _blocks(states, zones, first=0):
    n = len(states)
    ids = list(range(first, first + n))
    return pd.DataFrame({"block": ids, "start_pfn": [b * P for b in ids],
                         "end_pfn": [(b + 1) * P for b in ids], "state": states,
                         "online": [s == "online" for s in states],
                         "zone": pd.Categorical(zones)})


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _faces(ax):
    coll = [c for c in ax.collections if c.get_gid() == "blocks"]
    assert len(coll) == 1
    return [mcolors.to_hex(c) for c in coll[0].get_facecolor()]


def _gid(ax, gid):
    return [a for a in ax.get_children() if getattr(a, "get_gid", lambda: None)() == gid]


def test_block_of_pfn_edges():
    mb = _blocks(["online"] * 2, ["DMA32", "DMA32"], first=3)
    got = block_of_pfn(mb, [3 * P, 4 * P - 1, 4 * P, 5 * P, 0, -1])
    assert got.tolist() == [3, 3, 4, -1, -1, -1]
    assert block_of_pfn(mb.iloc[:0], [5]).tolist() == [-1]


def test_cells_coloured_by_zone_and_offline():
    mb = _blocks(["online", "online", "offline", "online"], ["DMA32", "Normal", None, "Movable"])
    ax = plot_memory_blocks(mb)
    assert _faces(ax) == [ZONE_COLORS["DMA32"], ZONE_COLORS["Normal"], OFFLINE_COLOR,
                          ZONE_COLORS["Movable"]]
    texts = [t.get_text() for t in ax.texts]
    assert texts[:2] == ["0", "DMA32"] and "offline" in texts
    assert ax.get_title() == "memory blocks (4, 3 online)"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["DMA32", "Normal", "Movable", "offline"]


def test_color_by_state_and_block_order():
    mb = _blocks(["offline", "online", "going-offline"], [None, "Normal", None]).iloc[::-1]
    ax = plot_memory_blocks(mb, color_by="state")
    assert _faces(ax) == [MEMORY_BLOCK_STATE_COLORS["offline"], MEMORY_BLOCK_STATE_COLORS["online"],
                          MEMORY_BLOCK_STATE_COLORS["going-offline"]]


def test_highlight_and_grid_shape():
    mb = _blocks(["online"] * 20, ["Normal"] * 20)
    ax = plot_memory_blocks(mb, highlight=17, ncols=8)
    (hl,) = _gid(ax, "highlight")
    assert (hl.get_x() + hl.get_width() / 2, hl.get_y() + hl.get_height() / 2) == \
        pytest.approx((1, 2))                       # block 17 = row 2, column 1
    assert ax.get_ylim()[0] == pytest.approx(3 - 0.4)  # 3 rows, row 0 at the top


def test_page_ext_markers_and_arrows():
    mb = _blocks(["online"] * 4, ["DMA32", "DMA32", "Normal", "Normal"], first=30)
    # tables of blocks 30, 31 live in block 30; tables of 32, 33 live in block 32
    pe = pd.DataFrame({"start_pfn": [30 * P, 31 * P, 32 * P, 33 * P],
                       "table_pfn": [30 * P + 10, 30 * P + 1034, 32 * P, 32 * P + 1024],
                       "pages": [576] * 4})
    ax = plot_memory_blocks(mb, page_ext=pe)
    markers = _gid(ax, "page_ext")
    xy = sorted((float(m.get_xdata()[0]), float(m.get_ydata()[0])) for m in markers)
    assert np.allclose(xy, [(0.33, 0.27), (2.33, 0.27)])     # in cells of blocks 30 and 32
    assert len(_gid(ax, "page_ext_arrow")) == 2          # 31 -> 30 and 33 -> 32
    assert sorted(t.get_text() for t in _gid(ax, "page_ext_elsewhere")) == ["\u219230",
                                                                             "\u219232"]
    only = plot_memory_blocks(mb, page_ext=pe, arrows=[33], ax=plt.subplots()[1])
    assert len(_gid(only, "page_ext_arrow")) == 1
    none = plot_memory_blocks(mb, page_ext=pe, arrows=False, ax=plt.subplots()[1])
    assert _gid(none, "page_ext_arrow") == [] and len(_gid(none, "page_ext")) == 2


def test_vmalloc_tables_counted_in_legend_only():
    mb = _blocks(["online"] * 2, ["Normal"] * 2)
    pe = pd.DataFrame({"start_pfn": [0, P], "table_pfn": [100, -1], "pages": [576, 576]})
    ax = plot_memory_blocks(mb, page_ext=pe)
    assert len(_gid(ax, "page_ext")) == 1
    assert "holds page_ext tables (1; 1 via vmalloc)" in [t.get_text() for t in
                                                          ax.get_legend().get_texts()]


def test_many_blocks_label_rows_not_cells():
    mb = _blocks(["online"] * 100, ["Normal"] * 100)
    ax = plot_memory_blocks(mb, highlight=50)
    assert [t.get_text() for t in ax.texts] == ["50"]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["memory0", "memory16"]


def test_errors():
    mb = _blocks(["online"], ["Normal"])
    with pytest.raises(KeyError, match="zone"):
        plot_memory_blocks(mb.drop(columns="zone"))
    with pytest.raises(KeyError, match="table_pfn"):
        plot_memory_blocks(mb, page_ext=pd.DataFrame({"start_pfn": [0], "pages": [1]}))
    with pytest.raises(ValueError, match="color_by"):
        plot_memory_blocks(mb, color_by="owner")
    with pytest.raises(ValueError, match="no rows"):
        plot_memory_blocks(mb.iloc[:0])
    with pytest.raises(TypeError):
        plot_memory_blocks(mb.to_dict())


def test_simulated_hotplug_tables_in_first_normal_block():
    m = pextlab.boot("1G", "page_owner=on", maxmem="4G")
    blocks = m.hot_add("512M")
    for b, how in zip(blocks, ["online", "online_kernel", "online_movable", "online_movable"]):
        assert m.online(b, how).ok
    ax = plot_memory_blocks(m.df_memory_blocks(), page_ext=m.df_page_ext(), arrows=blocks)
    faces = dict(zip(m.df_memory_blocks().sort_values("block")["block"], _faces(ax)))
    assert faces[32] == faces[33] == ZONE_COLORS["Normal"]
    assert faces[34] == faces[35] == ZONE_COLORS["Movable"]
    # 32's table is in DMA32 (block 0), 33..35's inside block 32
    assert sorted(t.get_text() for t in _gid(ax, "page_ext_elsewhere")) == \
        ["\u21920", "\u219232", "\u219232", "\u219232"]


def test_real_capture_blocks():
    cap = pextlab.read_capture("data/real-kernel/i-hotplug", snapshot="after_online")
    mb = cap.df_memory_blocks()
    ax = plot_memory_blocks(mb)
    faces = _faces(ax)
    zones = mb.sort_values("block")["zone"].astype(str).tolist()
    assert faces[-4:] == [ZONE_COLORS[z] for z in zones[-4:]] == \
        [ZONE_COLORS["Normal"]] * 2 + [ZONE_COLORS["Movable"]] * 2
    assert np.isin(["32", "35"], [t.get_text() for t in ax.texts]).all()
