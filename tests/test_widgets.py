"""The lab widgets as a person uses them: set every control, click every button, then check
the controller's state and what the front end gets (the PNG in the map Output, the log HTML,
the tables).  No browser: ipywidgets run on comm's dummy comm; a recording comm checks that
the redraw is really sent to the front end."""
import base64
import io
from unittest import mock

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
import pextlab.lab  # noqa: E402
from pextlab.widgets import BootLabView, HotplugLabView  # noqa: E402

W = pytest.importorskip("ipywidgets")


@pytest.fixture
def sent():
    """Record every message widgets publish to the front end."""
    import comm
    messages = []

    class RecordingComm(comm.base_comm.BaseComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
            messages.append((msg_type, data or {}))

    with mock.patch.object(comm, "create_comm", RecordingComm):
        yield messages


def _png(output):
    """Decode the image/png of an Output; return (pixels, bytes)."""
    (msg,) = output.outputs
    assert msg["output_type"] == "display_data"
    raw = base64.b64decode(msg["data"]["image/png"])
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(io.BytesIO(raw), format="png"), raw


def _log(view):
    return [line.split(">", 1)[1].rsplit("</div", 1)[0]
            for line in view.log_view.value.split('<div class="pextlab-log-line"')[1:]]


def _css(w):
    return set(w._dom_classes)


@pytest.fixture(autouse=True)
def _no_pyplot_leak():
    before = plt.get_fignums()
    yield
    assert plt.get_fignums() == before          # views draw on pyplot-free Figures


# --- HotplugLabView --------------------------------------------------------------------------
def test_hotplug_controls_carry_the_contract_classes():
    v = HotplugLabView(pextlab.lab.HotplugLab())
    want = {v.add_button: ("pextlab-add", "Add DIMM"), v.online_button: ("pextlab-online", "Online"),
            v.offline_button: ("pextlab-offline", "Offline"),
            v.remove_button: ("pextlab-remove", "Remove"), v.block: ("pextlab-block", "Block"),
            v.online_as: ("pextlab-online-as", "Online as")}
    for w, (css, label) in want.items():
        assert css in _css(w) and w.description == label
    assert list(v.online_as.options) == ["online", "online_kernel", "online_movable"]
    assert "pextlab-map" in _css(v.map) and isinstance(v.map, W.Output)
    assert "pextlab-log" in _css(v.log_view) and isinstance(v.log_view, W.HTML)
    assert "pextlab-page-ext" in _css(v.page_ext) and isinstance(v.page_ext, W.Output)
    # everything is inside the view
    def walk(w):
        yield w
        for c in getattr(w, "children", ()):
            yield from walk(c)
    inside = set(map(id, walk(v)))
    assert all(id(w) in inside for w in [*want, v.map, v.log_view, v.page_ext])


def test_add_online_offline_clicks(sent):
    lab = pextlab.lab.HotplugLab()
    v = HotplugLabView(lab)
    img0, raw0 = _png(v.map)
    assert v.redraws == 1 and "no action yet" in v.log_view.value

    v.dimm_size.value = "256M"
    assert lab.dimm_size == "256M"
    v.add_button.click()
    assert lab.machine.memory_devices["dimm0"]["blocks"] == [32, 33]
    assert v.block.value == 32 == lab.block
    assert ("memory33 (offline, dimm0)", 33) in v.block.options
    assert _log(v) == ["add DIMM dimm0 256M at 0x100000000: memory32..memory33 (offline)"]

    v.online_as.value = "online_movable"
    assert lab.online_as == "online_movable"
    n = v.redraws
    v.online_button.click()
    assert _log(v)[0] == "online memory32 as online_movable: ok (zone Movable)"
    assert lab.df_memory_blocks().set_index("block").loc[32, "zone"] == "Movable"
    assert v.redraws == n + 1
    img1, raw1 = _png(v.map)
    assert raw1 != raw0 and img1.shape[1] == img0.shape[1]
    assert ("memory32 (Movable, dimm0)", 32) in v.block.options and v.block.value == 32

    v.offline_button.click()
    assert _log(v)[:2] == ["offline memory32: ok",
                           "online memory32 as online_movable: ok (zone Movable)"]
    assert lab.df_memory_blocks().set_index("block").loc[32, "state"] == "offline"
    # the redraw reached the front end: an update of the Output's outputs with a PNG
    updates = [d for t, d in sent if t == "comm_msg" and d.get("method") == "update"
               and "outputs" in d.get("state", {})]
    assert any("image/png" in o["data"] for d in updates for o in d["state"]["outputs"])


def test_ebusy_shows_who_is_in_the_way():
    lab = pextlab.lab.HotplugLab()
    v = HotplugLabView(lab)
    v.add_button.click()                       # 512M: memory32..35
    for b, how in [(32, "online"), (33, "online_kernel"), (34, "online_movable")]:
        v.block.value = b
        v.online_as.value = how
        v.online_button.click()
    assert all(e.ok for e in lab.log[:3])
    html = v.page_ext.outputs[0]["data"]["text/html"]
    assert "2 table(s) live inside hot-added blocks" in html
    assert html.count("<tr") == 1 + 3          # header + sections 32, 33, 34
    v.block.value = 32
    v.offline_button.click()
    line = _log(v)[0]
    assert line.startswith("offline memory32: EBUSY (failure to isolate range) \u2014 blocked by "
                           "init_section_page_ext")
    assert "1152 pages" in line
    assert 'style="color:#d62728' in v.log_view.value.split("</div>")[0]     # in red
    assert lab.df_memory_blocks().set_index("block").loc[32, "state"] == "online"


def test_remove_click_and_select_redraws():
    lab = pextlab.lab.HotplugLab()
    v = HotplugLabView(lab)
    v.add_button.click()
    n = v.redraws
    v.block.value = 34                         # selecting redraws (the highlight moves)
    assert lab.block == 34 and v.redraws == n + 1
    hl = [p for p in v.figure.axes[1].patches if p.get_gid() == "highlight"]
    assert len(hl) == 1 and hl[0].get_x() == pytest.approx(10 - 0.46)
    v.remove_button.click()
    assert _log(v)[0] == "remove dimm0: ok"
    assert lab.machine.memory_devices == {}
    assert all(b < 32 for b in lab.block_ids())
    assert [o[1] for o in v.block.options] == lab.block_ids() and v.block.value == lab.block
    v.block.value = 3
    v.remove_button.click()
    assert _log(v)[0].startswith("remove memory3: not part of a hot-added DIMM")


def test_a_view_is_the_widget_of_the_lab_it_was_given():
    lab = pextlab.lab.HotplugLab()
    v = HotplugLabView(lab)
    assert v.lab is lab and isinstance(v, W.VBox) and "pextlab-hotplug-lab" in _css(v)
    lab.add_dimm("256M")                       # driven from code: the view follows on refresh
    assert v.block.options != tuple(lab.block_options())
    v.refresh()
    assert list(v.block.options) == lab.block_options() and v.block.value == 32
    assert _log(v)[0].startswith("add DIMM dimm0 256M")
    boot = BootLabView(pextlab.lab.BootLab())
    assert isinstance(boot, W.VBox) and "pextlab-boot-lab" in _css(boot)
    # the labs know nothing of their views: no widget attribute, no display hook
    for ctl in (lab, boot.lab):
        assert not hasattr(ctl, "widget") and not hasattr(ctl, "_ipython_display_")


# --- BootLabView -----------------------------------------------------------------------------
def test_boot_controls_carry_the_contract_classes():
    v = BootLabView(pextlab.lab.BootLab())
    assert "pextlab-boot" in _css(v.boot_button) and v.boot_button.description == "Boot"
    assert "pextlab-cmdline" in _css(v.cmdline) and v.cmdline.description == "cmdline"
    assert isinstance(v.cmdline, W.Text)
    assert "pextlab-dmesg" in _css(v.dmesg) and "pextlab-map" in _css(v.map)
    assert v.map.outputs == () and "press Boot" in v.dmesg.outputs[0]["text"]


def test_client_checkboxes_and_cmdline_stay_in_step():
    lab = pextlab.lab.BootLab(cmdline="page_owner=on")
    v = BootLabView(lab)
    assert v.clients["page_owner"].value is True
    v.clients["debug_pagealloc"].value = True
    assert v.cmdline.value == lab.cmdline == "page_owner=on debug_pagealloc=on"
    v.clients["page_owner"].value = False
    assert v.cmdline.value == "debug_pagealloc=on"
    v.cmdline.value = "quiet page_owner=on"
    assert lab.cmdline == "quiet page_owner=on"
    assert {k: c.value for k, c in v.clients.items()} == \
        {"page_owner": True, "debug_pagealloc": False, "page_poison": False}


def test_every_setting_then_boot():
    lab = pextlab.lab.BootLab()
    v = BootLabView(lab)
    v.mem.value = "2G"
    v.nodes.value = 2
    v.interleave.value = True
    v.machine_type.value = "q35"
    v.memory_model.value = "flatmem"
    v.profile.value = "v3.19"
    v.cmdline.value = "page_owner=on"
    assert (lab.mem, lab.nodes, lab.interleave, lab.machine_type, lab.memory_model,
            lab.profile) == ("2G", 2, True, "q35", "flatmem", "v3.19")
    assert lab.machine is None                 # nothing boots before the click
    v.boot_button.click()
    m = lab.machine
    assert m.profile.name == "v3.19" and m.mm.memory_model == "flatmem"
    assert m.layout.machine == "q35" and len(m.layout.nodes) == 2
    text = v.dmesg.outputs[0]["text"]
    assert f"allocated {m.page_ext_bytes} bytes of page_ext" in text
    html = v.page_ext.outputs[0]["data"]["text/html"]
    assert f"{m.page_ext_bytes:,} bytes" in html and "v3.19" in html
    zones = v.zones.outputs[0]["data"]["text/plain"]
    assert "DMA32" in zones and "node" in zones
    img, _ = _png(v.map)
    assert img.ndim == 3 and img.shape[0] > 100 and v.redraws == 1
    assert len(v.figure.axes) == 1


def test_second_boot_compares_and_bad_boot_reports():
    lab = pextlab.lab.BootLab(mem="1G")
    v = BootLabView(lab)
    v.boot_button.click()
    v.cmdline.value = ""
    v.boot_button.click()
    assert lab.df_history()["page_ext_bytes"].tolist() == [18874368, 0]
    assert "allocated" not in v.dmesg.outputs[0]["text"]
    assert len(v.figure.axes) == 2             # map + cost of the boots so far
    assert v.page_ext.outputs[0]["data"]["text/html"].count("<tr") == 1 + 2
    v.nodes.value = 1
    v.interleave.value = True
    v.boot_button.click()
    assert v.dmesg.outputs[0]["text"].startswith("boot failed: node interleave")
    assert len(lab.history) == 2 and v.redraws == 2
