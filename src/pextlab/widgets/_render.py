"""Put a matplotlib figure, a DataFrame or text into an ``ipywidgets.Output``.

The views set ``Output.outputs`` directly (the output messages the front end renders)
instead of ``with out: display(...)``: that works the same inside a kernel and in plain
pytest (where ``Output`` has no kernel to capture from), replaces the previous content in
one trait change, and lets tests read back exactly what the browser gets.
"""
from __future__ import annotations

import base64
import html
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg

__all__ = ["figure_output", "html_output", "text_output", "png_bytes", "escape"]


def png_bytes(fig, dpi: int = 72) -> bytes:
    """Render a matplotlib Figure to PNG bytes with the Agg canvas (no pyplot state)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_output(fig, dpi: int = 72) -> tuple:
    """Output messages showing ``fig`` as an <img> (image/png)."""
    w, h = fig.get_size_inches()
    data = {"image/png": base64.b64encode(png_bytes(fig, dpi)).decode("ascii"),
            "text/plain": f"<Figure size {int(w * dpi)}x{int(h * dpi)} with {len(fig.axes)} Axes>"}
    return ({"output_type": "display_data", "data": data, "metadata": {}},)


def html_output(markup: str, plain: str = "") -> tuple:
    """Output messages showing ``markup`` as HTML (``plain`` for text front ends)."""
    return ({"output_type": "display_data",
             "data": {"text/html": markup, "text/plain": plain or markup}, "metadata": {}},)


def text_output(text: str) -> tuple:
    """Output messages printing ``text`` on stdout."""
    return ({"output_type": "stream", "name": "stdout", "text": text},)


def escape(text: str) -> str:
    """``text`` made safe inside HTML."""
    return html.escape(str(text))
