"""The hotplug lab widget in a real browser: JupyterLab + headless Debian chromium + Playwright.

Each test opens a fresh, output-free copy of a notebook on a fresh kernel, runs all cells from
JupyterLab's Run menu, then drives the widget by its CSS classes the way a user would:
Add DIMM, pick a block of the new DIMM, Online as online_movable, Online, Offline -- and after
each click waits for the results log line and for the map <img> to be redrawn.  Screenshots of
every step land in build/test-output/browser/.

``test_harness_selftest`` runs the same flow against a small fake lab (plain ipywidgets with the
same classes) written by the test itself, so a harness problem is told apart from a widget bug.
See conftest.py for the server/browser set-up and for when these tests skip.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_MS = 30_000  # any single wait; a healthy step takes well under 5 s
HOTPLUG_NB = REPO / "notebooks" / "04-hotplug.ipynb"
REPEATS = 3

ONLINE_LINE = r"^\s*online\b.*\bonline_movable\b.*\bok\b"
OFFLINE_LINE = r"^\s*offline\b.*\bok\b"

# first non-empty line of the results log (newest first)
JS_LOG_FIRST = """() => {
  const el = document.querySelector('.pextlab-log');
  if (!el) return null;
  const line = el.innerText.split('\\n').map(s => s.trim()).find(s => s.length);
  return line === undefined ? '' : line;
}"""
JS_MAP_SRC = """() => Array.from(document.querySelectorAll('.pextlab-map img'))
                     .map(i => i.getAttribute('src')).join('|')"""
JS_OPTIONS = """(sel) => {
  const s = document.querySelector(sel + ' select');
  return s ? Array.from(s.options).map(o => o.value) : null;
}"""


def block_key(label: str) -> str:
    m = re.search(r"memory\d+", label)
    return m.group(0) if m else label


class Flow:
    """The user's path through the hotplug lab, with a timing and a screenshot per step."""

    def __init__(self, lp):
        self.lp = lp
        self.page = lp.page
        self.t0 = time.monotonic()
        self.timings: list[tuple[str, float]] = []

    def mark(self, step: str) -> None:
        self.timings.append((step, time.monotonic() - self.t0))

    def fail(self, what: str, err: Exception) -> None:
        log = self.page.evaluate(JS_LOG_FIRST)
        raise AssertionError(
            f"{self.lp.prefix}: timed out waiting for {what}; newest log line: {log!r}; "
            f"steps so far: {self.timings}; server log tail:\n{self.lp.server.log_tail(1500)}"
        ) from err

    def wait(self, js: str, arg, what: str, timeout: int = STEP_TIMEOUT_MS) -> None:
        from playwright.sync_api import TimeoutError as PWTimeout

        try:
            self.page.wait_for_function(js, arg=arg, timeout=timeout, polling=100)
        except PWTimeout as e:
            self.fail(what, e)

    def map_src(self) -> str:
        return self.page.evaluate(JS_MAP_SRC)

    def log_first(self) -> str:
        return self.page.evaluate(JS_LOG_FIRST) or ""

    def settle_map(self, quiet: float = 0.5, limit: float = 20.0) -> str:
        """The map's src once the kernel has finished with everything sent so far: no redraw
        for ``quiet`` seconds, the kernel idle, and still no redraw a moment later.  So a
        redraw caused by a dropdown change cannot pass for the one caused by the next click."""
        src, since, end = self.map_src(), time.monotonic(), time.monotonic() + limit
        while time.monotonic() < end:
            time.sleep(0.1)
            now = self.map_src()
            if now != src:
                src, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet and self.lp.kernel_idle():
                time.sleep(0.3)  # let the last forwarded message reach the page
                if self.map_src() == src:
                    return src
        raise AssertionError(f"{self.lp.prefix}: the map / kernel did not settle in {limit} s")

    def wait_map_changed(self, old: str, what: str) -> str:
        self.wait(
            """(old) => { const s = Array.from(document.querySelectorAll('.pextlab-map img'))
                              .map(i => i.getAttribute('src')).join('|');
                          return s.length > 0 && s !== old; }""",
            old, f"the map <img> to be redrawn after {what}",
        )
        return self.map_src()

    def wait_log(self, pattern: str, what: str) -> str:
        self.wait(
            """(pat) => { const el = document.querySelector('.pextlab-log'); if (!el) return false;
                          const l = el.innerText.split('\\n').map(s => s.trim()).find(s => s.length);
                          return l !== undefined && new RegExp(pat, 'i').test(l); }""",
            pattern, f"a log line /{pattern}/ after {what}",
        )
        return self.log_first()

    def options(self, cls: str) -> list[str]:
        return self.page.evaluate(JS_OPTIONS, f".{cls}") or []

    def lab_output(self):
        cell = self.page.locator(".jp-Cell", has=self.page.locator(".pextlab-add")).first
        return cell.locator(".jp-Cell-outputArea")

    def shot(self, step: str) -> None:
        self.lp.shot(step, self.lab_output())

    # ---- the user's path ----------------------------------------------------------------

    def run(self, widget_timeout: int = 90_000) -> dict:
        page = self.page
        self.lp.run_all()
        self.mark("run all clicked")
        try:
            page.locator(".pextlab-add").first.wait_for(state="attached", timeout=widget_timeout)
            page.locator(".pextlab-map img").first.wait_for(state="attached", timeout=widget_timeout)
        except Exception as e:  # noqa: BLE001 - re-raised with context
            self.fail("the hotplug lab widget and its first map", e)
        self.mark("widget + map rendered")
        self.lab_output().scroll_into_view_if_needed()
        src = self.settle_map()
        self.shot("1-loaded")

        # Block labels carry the block's state ("memory32 (offline, dimm0)"), so blocks are
        # told apart by their memoryN name.
        known = [block_key(b) for b in self.options("pextlab-block")]
        page.locator(".pextlab-add").first.click()
        self.wait(
            """(known) => { const s = document.querySelector('.pextlab-block select');
                            if (!s) return false;
                            return Array.from(s.options).some(o => {
                              const m = o.value.match(/memory\\d+/);
                              return !known.includes(m ? m[0] : o.value); }); }""",
            known, "new blocks in the Block dropdown after Add DIMM",
        )
        src = self.wait_map_changed(src, "Add DIMM")
        self.mark("DIMM added")
        new_blocks = [b for b in self.options("pextlab-block") if block_key(b) not in known]
        block = new_blocks[0]
        page.locator(".pextlab-block select").first.select_option(value=block)
        assert "online_movable" in self.options("pextlab-online-as"), self.options("pextlab-online-as")
        page.locator(".pextlab-online-as select").first.select_option(value="online_movable")
        src = self.settle_map()
        self.shot("2-dimm-added")

        page.locator(".pextlab-online").first.click()
        online_line = self.wait_log(ONLINE_LINE, "Online")
        src = self.wait_map_changed(src, "Online")
        self.mark("block onlined")
        src = self.settle_map()
        self.shot("3-online")

        page.locator(".pextlab-offline").first.click()
        offline_line = self.wait_log(OFFLINE_LINE, "Offline")
        self.wait_map_changed(src, "Offline")
        self.mark("block offlined")
        self.settle_map()
        self.shot("4-offline")
        self.lp.shot("5-window")

        body = page.locator("body").inner_text()
        for bad in ("Error displaying widget", "Failed to load model class", "Traceback"):
            assert bad not in body, f"{bad!r} on the page after the run"
        # the log names the block that was picked
        assert re.search(rf"\b{block_key(block)}\b", online_line), (block, online_line)
        assert re.search(rf"\b{block_key(block)}\b", offline_line), (block, offline_line)
        assert page.locator(".pextlab-page-ext").count() >= 1
        timings = "; ".join(f"{s} {t:.1f}s" for s, t in self.timings)
        with open(self.lp.shots / "timings.txt", "a") as f:
            f.write(f"{self.lp.prefix}: notebook open + kernel idle {self.lp.open_seconds:.1f}s; "
                    f"then {timings}\n")
        return {"block": block, "online": online_line, "offline": offline_line}


# --------------------------------------------------------------------------------------------
# the fake lab: same classes and behaviour contract as pextlab.widgets.HotplugLabView

FAKE_LAB = r'''
import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.display import display

state = {}            # block name -> "offline" | "online_movable" | ...
next_block = [8]      # 1G machine: memory0..memory7 are boot memory
lines = []

add = W.Button(description="Add DIMM"); add.add_class("pextlab-add")
block = W.Dropdown(description="Block", options=[]); block.add_class("pextlab-block")
online_as = W.Dropdown(description="Online as",
                       options=["online", "online_kernel", "online_movable"]); online_as.add_class("pextlab-online-as")
on = W.Button(description="Online"); on.add_class("pextlab-online")
off = W.Button(description="Offline"); off.add_class("pextlab-offline")
rm = W.Button(description="Remove"); rm.add_class("pextlab-remove")
fig_out = W.Output(); fig_out.add_class("pextlab-map")
log = W.HTML(); log.add_class("pextlab-log")
page_ext = W.Output(); page_ext.add_class("pextlab-page-ext")

def relabel():
    # like the real lab: labels carry the state, values are the block names
    picked = block.value
    block.options = [(f"{n} ({v})", n) for n, v in state.items()]
    block.value = picked if picked in state else next(iter(state))

def note(s):
    lines.insert(0, s)
    log.value = "<br>".join(lines)

def redraw():
    with fig_out:
        fig_out.clear_output(wait=True)
        fig, ax = plt.subplots(figsize=(6, 1.6))
        names = [f"memory{i}" for i in range(8)] + list(state)
        colors = ["tab:blue"] * 8 + [{"offline": "lightgray"}.get(state[n], "tab:green") for n in state]
        ax.bar(range(len(names)), [1] * len(names), color=colors)
        ax.set_title("fake map: " + (", ".join(f"{n}={v}" for n, v in state.items()) or "no DIMM"))
        ax.set_yticks([])
        display(fig)
        plt.close(fig)

def on_add(_):
    new = [f"memory{next_block[0] + i}" for i in range(4)]
    next_block[0] += 4
    for n in new:
        state[n] = "offline"
    relabel()
    note(f"add_dimm 512M: ok ({new[0]}..{new[-1]})")
    redraw()

def on_online(_):
    state[block.value] = online_as.value
    relabel()
    note(f"online {block.value} as {online_as.value}: ok")
    redraw()

def on_offline(_):
    state[block.value] = "offline"
    relabel()
    note(f"offline {block.value}: ok")
    redraw()

add.on_click(on_add); on.on_click(on_online); off.on_click(on_offline)
redraw()
display(W.VBox([W.HBox([add, block, online_as, on, off, rm]), fig_out, log, page_ext]))
'''


def write_fake_lab(path: Path) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("Harness self-test: a fake hotplug lab in plain ipywidgets."),
        nbformat.v4.new_code_cell("import matplotlib\nprint(matplotlib.get_backend())"),
        nbformat.v4.new_code_cell(FAKE_LAB.strip()),
    ]
    nbformat.write(nb, path)
    return path


def test_harness_selftest(lab_page, tmp_path):
    """The harness itself: server, browser, Run All, clicks, log and map waits, screenshots."""
    src = write_fake_lab(tmp_path / "fake-hotplug-lab.ipynb")
    lab_page.open_fresh(src, "_selftest-fake-hotplug-lab.ipynb")
    got = Flow(lab_page).run(widget_timeout=60_000)
    assert got["block"] == "memory8 (offline)"
    assert got["online"] == "online memory8 as online_movable: ok"
    assert got["offline"] == "offline memory8: ok"
    for step in ("1-loaded", "2-dimm-added", "3-online", "4-offline", "5-window"):
        assert (lab_page.shots / f"{lab_page.prefix}-{step}.png").stat().st_size > 5_000


@pytest.mark.parametrize("repeat", range(1, REPEATS + 1))
def test_hotplug_lab_in_browser(lab_page, repeat):
    """notebooks/04-hotplug.ipynb, on a fresh kernel each repeat: online then offline a block."""
    lab_page.open_fresh(HOTPLUG_NB, f"04-hotplug.run{repeat}.ipynb")
    got = Flow(lab_page).run()
    assert got["online"] and got["offline"]
