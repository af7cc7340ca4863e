"""Lab controllers, without a browser: BootLab settings -> boot -> what it shows; HotplugLab
verbs -> log, frames, figure; the real i-hotplug run replayed through the controller."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pextlab  # noqa: E402
import pextlab.lab  # noqa: E402
from pextlab.errors import PextlabError  # noqa: E402
from pextlab.lab import I_HOTPLUG_STEPS, BootLab, HotplugLab, blocked_by  # noqa: E402
from pextlab.lab.hotplug_lab import merge_table_runs  # noqa: E402
from pextlab.plot import ZONE_COLORS  # noqa: E402

CAP = "data/real-kernel/i-hotplug"


# --- BootLab ---------------------------------------------------------------------------------
def test_clients_live_in_the_cmdline():
    lab = BootLab(cmdline="quiet page_owner=on")
    assert lab.clients == {"page_owner": True, "debug_pagealloc": False, "page_poison": False}
    lab.set_client("debug_pagealloc", True)
    assert lab.cmdline == "quiet page_owner=on debug_pagealloc=on"
    lab.set_client("page_owner", False)
    assert lab.cmdline == "quiet debug_pagealloc=on"
    lab.cmdline = "page_owner=on page_owner=off"       # last word wins, as in the kernel
    assert lab.clients["page_owner"] is False
    with pytest.raises(PextlabError, match="unknown page_ext client"):
        lab.set_client("kasan", True)


def test_boot_shows_page_ext_cost_dmesg_and_zones():
    lab = BootLab(mem="1G", cmdline="page_owner=on")
    m = lab.boot()
    assert lab.machine is m and lab.error is None and lab.version == 1
    s = lab.page_ext_summary()
    assert s["page_ext_bytes"] == 18874368 == m.page_ext_bytes      # the real b-1G number
    assert s["tables"] == 8 and s["via"] == "pages:8" and s["clients"] == "page_owner"
    assert s["bytes_per_page"] == pytest.approx(72, abs=0.1)
    ex = lab.dmesg_excerpt()
    assert "allocated 18874368 bytes of page_ext" in ex and "Kernel command line" in ex
    assert "Freeing unused" not in ex and len(ex.splitlines()) < len(m.dmesg.splitlines())
    z = lab.zone_table()
    assert z["zone"].astype(str).tolist() == ["DMA", "DMA32"]
    assert (z["spanned"] > 0).all()


def test_settings_reach_boot():
    lab = BootLab(mem="2G", nodes=2, interleave=True, profile="v3.19", memory_model="sparsemem",
                  machine_type="q35", cmdline="page_owner=on")
    assert lab.config()["node_pattern"] == [0, 1, 0, 1]
    m = lab.boot()
    assert m.profile.name == "v3.19" and m.layout.machine == "q35"
    assert lab.page_ext_summary()["bytes_per_page"] == pytest.approx(104, abs=0.1)
    # interleaved: node 0 owns two separate ranges
    assert sorted({r.nid for r in m.layout.ram}) == [0, 1]
    assert sum(r.nid == 0 for r in m.layout.ram if r.end_pfn - r.start_pfn > 1000) == 2


def test_page_owner_off_costs_nothing_and_history_compares():
    lab = BootLab(mem="1G", cmdline="page_owner=on")
    lab.boot()
    lab.set_client("page_owner", False)
    lab.boot()
    lab.mem, lab.memory_model = "512M", "flatmem"
    lab.set_client("page_owner", True)
    lab.boot()
    h = lab.df_history()
    assert h["boot"].tolist() == [1, 2, 3]
    assert h["page_ext_bytes"].tolist()[:2] == [18874368, 0]
    assert h["clients"].tolist() == ["page_owner", "none", "page_owner"]
    assert h["ram_gib"].tolist() == [1.0, 1.0, 0.5]
    assert h.loc[2, "memory_model"] == "flatmem" and h.loc[2, "tables"] == 1


def test_bad_settings_keep_previous_machine():
    lab = BootLab(mem="1G")
    m = lab.boot()
    lab.mem = "lots"
    with pytest.raises(PextlabError):
        lab.boot()
    assert lab.machine is m and lab.error and len(lab.history) == 1
    lab.mem, lab.interleave = "1G", True              # one node cannot interleave
    with pytest.raises(PextlabError, match="interleave"):
        lab.boot()
    with pytest.raises(PextlabError, match="boot"):
        BootLab().dmesg_excerpt()


def test_boot_draw():
    lab = BootLab(mem="1G", nodes=2)
    lab.boot()
    fig = lab.draw()
    assert len(fig.axes) == 1 and "2 node(s)" in fig.axes[0].get_title()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["node 0", "node 1"]
    lab.mem = "2G"
    lab.boot()
    fig2 = lab.draw(fig)
    assert fig2 is fig and len(fig.axes) == 2       # map + cost of the boots so far
    cost = fig.axes[1]
    assert [len(l.get_xdata()) for l in cost.lines] == [2]
    assert list(cost.lines[0].get_ydata()) == pytest.approx([18.0, 36.0])


# --- HotplugLab ------------------------------------------------------------------------------
def test_needs_a_hotplug_window():
    with pytest.raises(PextlabError, match="maxmem"):
        HotplugLab(pextlab.boot("1G"))
    lab = HotplugLab()
    assert lab.machine.layout.hotplug_end_pfn and "page_owner=on" in lab.machine.cmdline
    assert lab.block == 7 and lab.log == []


def test_add_online_offline_log_newest_first():
    lab = HotplugLab()
    e = lab.add_dimm("512M")
    assert e.ok and e.blocks == [32, 33, 34, 35] and lab.block == 32
    assert e.text == "add DIMM dimm0 512M at 0x100000000: memory32..memory35 (offline)"
    lab.online_as = "online_movable"
    e = lab.online()
    assert e.text == "online memory32 as online_movable: ok (zone Movable)"
    mb = lab.df_memory_blocks().set_index("block")
    assert mb.loc[32, "state"] == "online" and mb.loc[32, "zone"] == "Movable"
    e = lab.offline()
    assert e.text == "offline memory32: ok" and e.outcome.ok
    assert lab.log_lines() == ["offline memory32: ok",
                               "online memory32 as online_movable: ok (zone Movable)",
                               "add DIMM dimm0 512M at 0x100000000: memory32..memory35 (offline)"]
    assert lab.version == 3
    assert ("memory32 (offline, dimm0)", 32) in lab.block_options()
    assert ("memory1 (DMA32)", 1) in lab.block_options()
    with pytest.raises(PextlabError, match="online type"):
        lab.online(33, "online_dma")


def test_page_ext_tables_land_in_the_first_normal_block():
    lab = HotplugLab()
    lab.add_dimm()
    for b in (32, 33, 34, 35):
        assert lab.online(b, "online").ok
    pe = lab.page_ext_table(hot_added_only=True).set_index("section")
    assert list(pe.index) == [32, 33, 34, 35]
    # memory32's own table went to DMA32 memory (block 0 spans DMA and DMA32: no one zone)
    assert pe.loc[32, "lands_in"] == 0 and pd.isna(pe.loc[32, "lands_in_zone"])
    assert (pe.loc[[33, 34, 35], "lands_in"] == 32).all()
    assert (pe.loc[[33, 34, 35], "lands_in_zone"] == "Normal").all()
    assert "3 table(s) live inside hot-added blocks" in lab.page_ext_summary()
    e = lab.offline(32)
    assert (e.error, e.reason) == ("EBUSY", "failure to isolate range")
    assert "\u2014 blocked by init_section_page_ext" in e.text and "1728 pages" in e.text
    assert e.outcome.blocking["top_frame"].astype(str).eq("init_section_page_ext").all()
    # offline the blocks whose tables it holds, newest first: then it goes
    for b in (35, 34, 33):
        assert lab.offline(b).ok
    assert lab.offline(32).ok


def test_replay_real_i_hotplug_run():
    lab = HotplugLab(pextlab.boot(layout=pextlab.read_capture(CAP, snapshot="before_hotplug").layout,
                                  cmdline=pextlab.read_capture(CAP, snapshot="before_hotplug").cmdline))
    entries = lab.run(I_HOTPLUG_STEPS)
    assert [e.action for e in entries] == [s[0] for s in I_HOTPLUG_STEPS]
    assert lab.log == entries[::-1]
    by = {(e.action, e.target): e for e in entries if e.action == "online"}
    assert all(e.ok for e in by.values())
    off = [e for e in entries if e.action == "offline"]
    assert [(e.target, e.error) for e in off] == [
        ("memory34", None), ("memory32", "EBUSY"), ("memory7", "EINVAL"), ("memory4", None),
        ("memory0", "EINVAL"), ("memory32", "EBUSY"), ("memory33", None), ("memory35", None)]
    assert off[0].outcome.migrated == 139 and "139 pages migrated" in off[0].text
    assert off[2].text == "offline memory7: EINVAL (memory holes)"
    # memory32: the tables of memory33 and memory35 plus the shell's 35 kernel pages
    assert "init_section_page_ext (sh) 1152 pages" in off[1].text and "35 pages" in off[1].text
    assert off[1].text.endswith("first pfn 0x100000")
    rm = entries[-1]
    assert rm.text.startswith("remove dimm0: EBUSY") and "35 pages" in rm.text
    real = pextlab.read_capture(CAP, snapshot="after_unplug").df_memory_blocks()
    cols = ["block", "state", "valid_zones"]
    assert lab.df_memory_blocks()[cols].astype(str).values.tolist() == \
        real[cols].astype(str).values.tolist()


def test_remove():
    lab = HotplugLab()
    e = lab.remove(5)
    assert (e.ok, e.error) == (False, "EINVAL") and "boot memory" in e.text
    assert lab.remove("dimm9").error == "ENODEV"
    lab.add_dimm("256M")
    for b in (32, 33):
        lab.online(b, "online_movable")
    e = lab.remove()                        # the DIMM of the selected block (32)
    assert e.ok and e.text == "remove dimm0: ok"
    assert 32 not in lab.block_ids() and lab.block == 7
    assert lab.machine.memory_devices == {}


def test_add_dimm_failure_is_logged():
    lab = HotplugLab()
    lab.add_dimm("2G")
    e = lab.add_dimm("2G")                 # window is 4..7 GiB: 3 GiB
    assert not e.ok and e.text.startswith("add DIMM 2G: failed") and "no room" in e.text
    assert len(lab.machine.memory_devices) == 1


def test_alloc_records_the_task():
    lab = HotplugLab()
    lab.add_dimm()
    lab.online(32, "online")
    e = lab.alloc(5, "GFP_KERNEL", comm="sh", pid=99)
    assert e.ok and e.text == "alloc 5 x order-0 GFP_KERNEL as sh: ok (in memory32)"
    po = lab.machine.df_page_owner()
    assert (po[po["memory_block"] == 32]["comm"].astype(str) == "sh").sum() >= 5
    assert lab.machine.mm.comm != "sh" or lab.machine.mm.pid != 99     # task restored


def test_blocked_by_without_page_owner():
    lab = HotplugLab(pextlab.boot("1G", maxmem="4G"))       # page_owner off: no page_ext
    lab.add_dimm()
    lab.online(32, "online")
    lab.online(33, "online")
    assert lab.machine.page_ext_bytes == 0
    assert lab.offline(33).ok                   # no table in the way this time
    lab.alloc(3, "GFP_KERNEL")
    e = lab.offline(32)
    assert e.error == "EBUSY"
    assert "\u2014 blocked by 3 pfn(s), owners unknown (page_owner is off" in e.text
    assert blocked_by(pd.DataFrame()) == "no page recorded (reserved or untracked pages)"


def test_merge_table_runs():
    pe = pd.DataFrame({"node": [0, 0, 0, 1, 0], "table_pfn": [1000, 2024, 9000, 3048, -1],
                       "pages": [576] * 5})
    runs = merge_table_runs(pe)
    assert runs[["node", "table_pfn", "pages", "tables"]].values.tolist() == [
        [0, 1000, 2024 + 576 - 1000, 2], [1, 3048, 576, 1], [0, 9000, 576, 1], [0, -1, 576, 1]]
    m = pextlab.boot("16G", "page_owner=on")
    assert len(merge_table_runs(m.df_page_ext())) <= 4 < len(m.df_page_ext())


def test_hotplug_draw():
    lab = HotplugLab()
    lab.add_dimm()
    lab.online(32, "online_movable")
    fig = lab.draw()
    ax_map, ax_blk = fig.axes
    coll = [c for c in ax_blk.collections if c.get_gid() == "blocks"][0]
    faces = dict(zip(lab.block_ids(), (mcolors.to_hex(c) for c in coll.get_facecolor())))
    assert faces[32] == ZONE_COLORS["Movable"] and faces[1] == ZONE_COLORS["DMA32"]
    hl = [p for p in ax_blk.patches if p.get_gid() == "highlight"]
    assert len(hl) == 1
    assert [p for p in ax_map.patches if p.get_gid() == "zone:0:Movable"]
    lab.block = 34
    assert lab.draw(fig) is fig and len(fig.axes) == 2
    x = [p for p in fig.axes[1].patches if p.get_gid() == "highlight"][0].get_x()
    assert x == pytest.approx(10 - 0.46)          # block 34 is the 11th cell


def test_lab_package_exports():
    assert pextlab.lab.BootLab is BootLab and pextlab.lab.HotplugLab is HotplugLab
    assert set(pextlab.lab.__all__) >= {"BootLab", "HotplugLab", "LogEntry"}


def test_labs_never_import_widgets():
    """Layers run widgets -> lab: no lab module imports a view, ipywidgets or IPython, not
    even inside a function; a lab works and draws with none of them loaded."""
    for path in Path(pextlab.lab.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not re.search(r"(^|\.)(widgets|ipywidgets|IPython)(\.|$)", name), \
                    f"{path.name}:{node.lineno} imports {name}"
    code = ("import sys, pextlab.lab\n"
            "lab = pextlab.lab.HotplugLab()\n"
            "lab.add_dimm('256M'); lab.draw()\n"
            "print(sorted(m for m in sys.modules if m.startswith(('ipywidgets', 'IPython', "
            "'pextlab.widgets'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MPLBACKEND": "Agg"}, check=True).stdout
    assert out.strip() == "[]"
