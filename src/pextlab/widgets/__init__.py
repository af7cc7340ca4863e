"""ipywidgets views of the labs: thin, no logic.

Each view takes a controller from :mod:`pextlab.lab` and only wires controls to it:
a control's change or a button's click calls the controller, then the view re-renders
what the controller says (figure as a PNG in an ``Output``, tables as HTML, log lines).
Views are built by displaying a lab (``pextlab.lab.HotplugLab(m)`` as the last expression
of a cell) or explicitly::

    from pextlab.widgets import HotplugLabView
    view = HotplugLabView(pextlab.lab.HotplugLab(m))
    view.add_button.click(); view.online_button.click()      # what a person does

Every control carries a CSS class (``pextlab-add``, ``pextlab-block``, ...) that browser
tests select on; see each view's docstring.
"""
from .boot import BootLabView
from .hotplug import HotplugLabView

__all__ = ["BootLabView", "HotplugLabView"]
