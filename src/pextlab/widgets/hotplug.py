"""HotplugLabView: the ipywidgets face of :class:`pextlab.lab.HotplugLab`.

Controls (CSS class for browser tests in brackets):

* Dropdown "DIMM" [``pextlab-dimm-size``], Button "Add DIMM" [``pextlab-add``]
* Dropdown "Block" [``pextlab-block``], Dropdown "Online as" [``pextlab-online-as``]
  (online / online_kernel / online_movable)
* Buttons "Online" [``pextlab-online``], "Offline" [``pextlab-offline``], "Remove"
  [``pextlab-remove``] (unplugs the DIMM of the selected block)
* Output [``pextlab-map``]: the memory map and block grid, redrawn as a PNG on every change
* HTML [``pextlab-log``]: one line per action, newest first
* Output [``pextlab-page-ext``]: the page_ext tables of hot-added blocks and where they live

The view holds no state of its own: every handler calls the controller, then ``refresh()``
re-reads the controller.  ``redraws`` counts the figures drawn (tests use it).
"""
from __future__ import annotations

import ipywidgets as W

from ..lab.hotplug_lab import DIMM_SIZES, ONLINE_TYPES, HotplugLab
from ._render import escape, figure_output, html_output

__all__ = ["HotplugLabView"]


def _button(label: str, css: str, style: str = "") -> W.Button:
    b = W.Button(description=label, button_style=style, layout=W.Layout(width="auto"))
    b.add_class(css)
    return b


class HotplugLabView(W.VBox):
    """A VBox of the hotplug lab's controls, log, map and page_ext table.

    Parameters
    ----------
    lab : HotplugLab
        The controller (``pextlab.lab.HotplugLab(m)``).
    """

    def __init__(self, lab: HotplugLab, **kwargs):
        self.lab = lab
        self.redraws = 0
        self._syncing = False
        self.figure = None
        self.dimm_size = W.Dropdown(options=list(DIMM_SIZES), value=lab.dimm_size,
                                    description="DIMM", layout=W.Layout(width="150px"))
        self.dimm_size.add_class("pextlab-dimm-size")
        self.add_button = _button("Add DIMM", "pextlab-add", "info")
        self.block = W.Dropdown(options=lab.block_options(), value=lab.block,
                                description="Block", layout=W.Layout(width="290px"))
        self.block.add_class("pextlab-block")
        self.online_as = W.Dropdown(options=list(ONLINE_TYPES), value=lab.online_as,
                                    description="Online as", layout=W.Layout(width="230px"))
        self.online_as.add_class("pextlab-online-as")
        self.online_button = _button("Online", "pextlab-online", "success")
        self.offline_button = _button("Offline", "pextlab-offline", "warning")
        self.remove_button = _button("Remove", "pextlab-remove", "danger")
        self.map = W.Output(layout=W.Layout(min_height="250px"))
        self.map.add_class("pextlab-map")
        self.log_view = W.HTML(value="", layout=W.Layout(max_height="160px", overflow="auto"))
        self.log_view.add_class("pextlab-log")
        self.page_ext = W.Output()
        self.page_ext.add_class("pextlab-page-ext")

        self.dimm_size.observe(self._on_dimm_size, names="value")
        self.block.observe(self._on_block, names="value")
        self.online_as.observe(self._on_online_as, names="value")
        self.add_button.on_click(lambda _: self._act(self.lab.add_dimm))
        self.online_button.on_click(lambda _: self._act(self.lab.online))
        self.offline_button.on_click(lambda _: self._act(self.lab.offline))
        self.remove_button.on_click(lambda _: self._act(self.lab.remove))

        controls = W.VBox([
            W.HBox([self.dimm_size, self.add_button]),
            W.HBox([self.block, self.online_as]),
            W.HBox([self.online_button, self.offline_button, self.remove_button]),
        ])
        super().__init__([controls, self.log_view, self.map, self.page_ext], **kwargs)
        self.add_class("pextlab-hotplug-lab")
        self.refresh()

    # --- handlers: call the controller, then re-read it -----------------------------------------
    def _on_dimm_size(self, change):
        self.lab.dimm_size = change["new"]

    def _on_online_as(self, change):
        self.lab.online_as = change["new"]

    def _on_block(self, change):
        if self._syncing or change["new"] is None:
            return
        self.lab.block = int(change["new"])
        self.redraw()

    def _act(self, verb):
        verb()
        self.refresh()

    # --- re-render from the controller ---------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the controller: block choices, log, map, page_ext table."""
        self._syncing = True
        try:
            opts = self.lab.block_options()
            if list(self.block.options) != opts:
                self.block.options = opts
            if self.lab.block is not None and self.block.value != self.lab.block:
                self.block.value = self.lab.block
        finally:
            self._syncing = False
        self.log_view.value = self._log_html()
        self._page_ext_table()
        self.redraw()

    def redraw(self) -> None:
        """Draw the controller's figure into the map Output (a PNG <img>)."""
        self.figure = self.lab.draw(self.figure)
        self.map.outputs = figure_output(self.figure, self.lab.dpi)
        self.redraws += 1

    def _log_html(self) -> str:
        if not self.lab.log:
            return "<i>no action yet: add a DIMM, pick a block, online it, offline it</i>"
        rows = []
        for e in self.lab.log:
            color = "#2ca02c" if e.ok else "#d62728"
            rows.append(f'<div class="pextlab-log-line" style="color:{color};'
                        f'font-family:monospace;font-size:12px">{escape(e.text)}</div>')
        return "".join(rows)

    def _page_ext_table(self) -> None:
        pe = self.lab.page_ext_table(hot_added_only=True)
        cols = ["section", "memory_block", "bytes", "pages", "via", "table_pfn", "lands_in",
                "lands_in_zone", "state"]
        summary = escape(self.lab.page_ext_summary())
        if pe.empty:
            body = "<i>no page_ext table belongs to or lives in a hot-added block yet</i>"
            plain = "(none)"
        else:
            pe = pe[cols].assign(table_pfn=pe["table_pfn"].map(lambda p: f"{p:#x}" if p >= 0
                                                              else "vmalloc"))
            body = pe.to_html(index=False, border=0)
            plain = pe.to_string(index=False)
        self.page_ext.outputs = html_output(f"<b>{summary}</b>{body}", f"{summary}\n{plain}")
