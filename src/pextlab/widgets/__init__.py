"""ipywidgets views of the labs: thin, no logic.

Each view takes a controller from :mod:`pextlab.lab` and only wires controls to it:
a control's change or a button's click calls the controller, then the view re-renders
what the controller says (figure as a PNG in an ``Output``, tables as HTML, log lines).
A view is an ``ipywidgets.VBox``: the last expression of a cell shows it::

    import pextlab.lab, pextlab.widgets
    view = pextlab.widgets.HotplugLabView(pextlab.lab.HotplugLab(m))
    view                                          # the widget
    view.add_button.click(); view.online_button.click()      # what a person does
    view.lab.offline(32); view.refresh()          # drive the controller, then re-render

Every control carries a CSS class (``pextlab-add``, ``pextlab-block``, ...) that browser
tests select on; see each view's docstring.

What this package may import: :mod:`pextlab.lab` (the controllers), :mod:`pextlab.errors`,
ipywidgets and matplotlib (to render a figure to PNG).  Nothing imports it back: the labs
never import widgets.
"""
from .boot import BootLabView
from .exercise import ExerciseLabView
from .hotplug import HotplugLabView

__all__ = ["BootLabView", "HotplugLabView", "ExerciseLabView"]
