"""plot_owner_map: physical memory coloured by owner, from simulator and capture frames."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
from pextlab.plot import plot_owner_map  # noqa: E402

from conftest import REAL  # noqa: E402


def test_real_capture_leak_dominates():
    cap = pextlab.read_capture(REAL / "b-1G")
    ax = plot_owner_map(cap.df_page_owner(), by="comm", zones=cap.df_zones(), bins=256, top=3)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "leaky"                   # the biggest owner gets the first colour
    img = ax.get_images()[0].get_array()
    assert img.shape == (1, 256, 4)
    assert (img[0, :, :3] < 0.999).any(axis=1).sum() > 10     # allocated bins are coloured
    plt.close("all")


def test_simulator_frame_and_errors():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on")
    for _ in range(200):
        m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    ax = plot_owner_map(m.df_page_owner(), by="migratetype", zones=m.df_zones(), bins=64)
    assert ax.get_images()
    with pytest.raises(KeyError, match="nope"):
        plot_owner_map(m.df_page_owner(), by="nope")
    with pytest.raises(TypeError):
        plot_owner_map([1, 2, 3])
    plt.close("all")


def test_migratetypes_take_their_table_colours():
    from matplotlib.colors import to_hex

    from pextlab.plot import MIGRATETYPE_COLORS
    m = pextlab.boot(mem="512M", cmdline="page_owner=on")
    for _ in range(50):
        m.alloc_pages(0, "GFP_KERNEL|__GFP_RECLAIMABLE")
    ax = plot_owner_map(m.df_page_owner(), by="migratetype", bins=64)
    handles = ax.get_legend().legend_handles
    got = {h.get_label(): to_hex(h.get_facecolor()) for h in handles}
    assert got["Reclaimable"] == MIGRATETYPE_COLORS["Reclaimable"]
    assert got["Unmovable"] == MIGRATETYPE_COLORS["Unmovable"]
    plt.close("all")
