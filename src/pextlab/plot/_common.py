"""What every plot module shares: checking a frame's columns, naming and ordering zones,
making Axes when the caller gave none.

>>> zone_label(0, "DMA32")
'node 0 DMA32'
>>> sorted([(0, "Normal"), (1, "DMA32"), (0, "DMA")], key=lambda k: zone_sort_key(*k))
[(0, 'DMA'), (0, 'Normal'), (1, 'DMA32')]
"""
from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from ..kernel.gfp import ZONE_NAMES

__all__ = ["require_columns", "zone_label", "zone_sort_key", "new_axes"]

_ZONE_INDEX = {name: i for i, name in enumerate(ZONE_NAMES)}


def require_columns(df, columns: Iterable[str], func: str, what: str = "the") -> None:
    """Raise ``TypeError`` when ``df`` is not a DataFrame, ``KeyError`` naming the missing
    columns when it lacks some of ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{func}: {what} frame must be a pandas DataFrame, "
                        f"got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"{func}: {what} frame is missing column(s) {missing} "
                       f"(has {list(df.columns)})")


def zone_label(node, zone) -> str:
    """How a plot names a zone: ``"node 0 DMA32"``."""
    return f"node {int(node)} {zone}"


def zone_sort_key(node, zone) -> tuple[int, int, str]:
    """Order zones as the kernel lists them: by node, then by zone index (DMA first)."""
    z = str(zone)
    return int(node), _ZONE_INDEX.get(z, len(_ZONE_INDEX)), z


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new pyplot figure of ``figsize`` when ``ax`` is None."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax
