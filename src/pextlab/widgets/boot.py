"""BootLabView: the ipywidgets face of :class:`pextlab.lab.BootLab`.

Controls (CSS class for browser tests in brackets):

* Dropdown "RAM" [``pextlab-mem``], IntSlider "Nodes" [``pextlab-nodes``], Checkbox
  "interleave nodes" [``pextlab-interleave``], Dropdowns "Machine" [``pextlab-machine``],
  "Model" [``pextlab-memory-model``], "Profile" [``pextlab-profile``]
* one Checkbox per page_ext client [``pextlab-client-<name>``]: they edit the command line
* Text "cmdline" [``pextlab-cmdline``]: the whole kernel command line, free-form
* Button "Boot" [``pextlab-boot``]
* Output [``pextlab-dmesg``]: the dmesg excerpt (or why the boot failed)
* Output [``pextlab-page-ext``]: page_ext cost of this boot and of every boot so far
* Output [``pextlab-zones``]: the zone table
* Output [``pextlab-map``]: the memory map (and the cost of the boots so far), a PNG

Settings only reach the controller; nothing is booted until "Boot" is clicked.
"""
from __future__ import annotations

import ipywidgets as W

from ..errors import PextlabError
from ..lab.boot_lab import MACHINES, MEM_SIZES, MEMORY_MODELS, PROFILES, BootLab
from ._render import escape, figure_output, html_output, text_output

__all__ = ["BootLabView"]


def _css(w, name):
    w.add_class(name)
    return w


class BootLabView(W.VBox):
    """A VBox of the boot lab's settings, Boot button and results.

    Parameters
    ----------
    lab : BootLab
        The controller (``pextlab.lab.BootLab()``).
    """

    def __init__(self, lab: BootLab, **kwargs):
        self.lab = lab
        self.redraws = 0
        self.figure = None
        self._syncing = False
        mems = list(dict.fromkeys([*MEM_SIZES, lab.mem]))
        self.mem = _css(W.Dropdown(options=mems, value=lab.mem, description="RAM",
                                   layout=W.Layout(width="160px")), "pextlab-mem")
        self.nodes = _css(W.IntSlider(value=lab.nodes, min=1, max=4, description="Nodes",
                                      layout=W.Layout(width="240px")), "pextlab-nodes")
        self.interleave = _css(W.Checkbox(value=lab.interleave, description="interleave nodes",
                                          indent=False), "pextlab-interleave")
        self.machine_type = _css(W.Dropdown(options=list(MACHINES), value=lab.machine_type,
                                            description="Machine", layout=W.Layout(width="170px")),
                                 "pextlab-machine")
        self.memory_model = _css(W.Dropdown(options=list(MEMORY_MODELS), value=lab.memory_model,
                                            description="Model", layout=W.Layout(width="200px")),
                                 "pextlab-memory-model")
        self.profile = _css(W.Dropdown(options=list(PROFILES), value=lab.profile,
                                       description="Profile", layout=W.Layout(width="170px")),
                            "pextlab-profile")
        self.clients = {name: _css(W.Checkbox(value=on, description=name, indent=False,
                                              layout=W.Layout(width="160px")),
                                   f"pextlab-client-{name}")
                        for name, on in lab.clients.items()}
        self.cmdline = _css(W.Text(value=lab.cmdline, description="cmdline",
                                   placeholder="page_owner=on movablecore=25% ...",
                                   layout=W.Layout(width="560px")), "pextlab-cmdline")
        self.boot_button = _css(W.Button(description="Boot", button_style="primary"),
                                "pextlab-boot")
        self.dmesg = _css(W.Output(layout=W.Layout(max_height="260px", overflow="auto")),
                          "pextlab-dmesg")
        self.page_ext = _css(W.Output(), "pextlab-page-ext")
        self.zones = _css(W.Output(), "pextlab-zones")
        self.map = _css(W.Output(layout=W.Layout(min_height="200px")), "pextlab-map")

        for w, attr in ((self.mem, "mem"), (self.nodes, "nodes"),
                        (self.interleave, "interleave"), (self.machine_type, "machine_type"),
                        (self.memory_model, "memory_model"), (self.profile, "profile")):
            w.observe(self._setter(attr), names="value")
        for name, box in self.clients.items():
            box.observe(self._client_setter(name), names="value")
        self.cmdline.observe(self._on_cmdline, names="value")
        self.boot_button.on_click(lambda _: self.boot())

        settings = W.VBox([
            W.HBox([self.mem, self.nodes, self.interleave]),
            W.HBox([self.machine_type, self.memory_model, self.profile]),
            W.HBox([W.Label("page_ext clients:"), *self.clients.values()]),
            W.HBox([self.cmdline, self.boot_button]),
        ])
        results = W.HBox([self.dmesg, W.VBox([self.page_ext, self.zones])])
        super().__init__([settings, results, self.map], **kwargs)
        self.add_class("pextlab-boot-lab")
        self.dmesg.outputs = text_output("(press Boot)\n")

    # --- handlers ------------------------------------------------------------------------------
    def _setter(self, attr):
        def set_(change):
            setattr(self.lab, attr, change["new"])
        return set_

    def _client_setter(self, name):
        def set_(change):
            if self._syncing:
                return
            self.lab.set_client(name, change["new"])
            self._sync_from_lab()
        return set_

    def _on_cmdline(self, change):
        if self._syncing:
            return
        self.lab.cmdline = change["new"]
        self._sync_from_lab()

    def _sync_from_lab(self):
        """Show the controller's command line and the clients it turns on."""
        self._syncing = True
        try:
            self.cmdline.value = self.lab.cmdline
            for name, on in self.lab.clients.items():
                self.clients[name].value = on
        finally:
            self._syncing = False

    # --- boot and render -----------------------------------------------------------------------
    def boot(self) -> None:
        """What the Boot button does: boot the controller, show its results."""
        try:
            self.lab.boot()
        except PextlabError as e:
            self.dmesg.outputs = text_output(f"boot failed: {e}\n")
            return
        lab = self.lab
        self.dmesg.outputs = text_output(lab.dmesg_excerpt() + "\n")
        s = lab.page_ext_summary()
        hist = lab.df_history()[["boot", "mem", "nodes", "profile", "memory_model", "clients",
                                 "page_ext_bytes", "tables", "pct_of_ram"]]
        head = (f"<b>page_ext: {s['page_ext_bytes']:,} bytes in {s['tables']} table(s) "
                f"({escape(s['via'])}), {s['bytes_per_page']} B per RAM page, "
                f"{s['pct_of_ram']} % of RAM; clients: {escape(s['clients'])}</b>")
        self.page_ext.outputs = html_output(head + hist.to_html(index=False, border=0),
                                            hist.to_string(index=False))
        z = lab.zone_table()
        self.zones.outputs = html_output(z.to_html(index=False, border=0), z.to_string(index=False))
        self.figure = lab.draw(self.figure)
        self.map.outputs = figure_output(self.figure, lab.dpi)
        self.redraws += 1
