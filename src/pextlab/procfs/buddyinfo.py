"""``/proc/buddyinfo``: free blocks per order per zone.

The kernel prints one line per populated zone::

    Node 0, zone    DMA32      2      2      0      2      3 ...

``"Node %d, zone %8s "`` followed by ``"%6lu "`` for every order (0 ..
NR_PAGE_ORDERS-1) and a newline.  :func:`read_buddyinfo` turns that into the
long-form ``"buddyinfo"`` frame (one row per node, zone and order) and
:func:`format_buddyinfo` prints such a frame back byte for byte.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, groups_in_order, load_text, parse_counts, parse_int
from .limits import MAX_NUMNODES, NR_PAGE_ORDERS_LIMIT

__all__ = ["read_buddyinfo", "format_buddyinfo", "parse_node_zone_counts"]

_NODE_ZONE_RE = re.compile(r"^Node (\d+), zone +(\S+) ?(.*)$")


def parse_node_zone_counts(text: str, name: str, what: str = "buddyinfo") -> list[tuple[int, str, list[int]]]:
    """Parse ``Node N, zone NAME  c0  c1 ...`` lines into ``(node, zone, counts)``.

    Every line must carry the same number of counts (``NR_PAGE_ORDERS``, at
    most :data:`~.limits.NR_PAGE_ORDERS_LIMIT`), each zone appears once, node
    ids are below ``MAX_NUMNODES`` and counts are page or block counts (below
    :data:`~.limits.PFN_LIMIT`).

    Raises
    ------
    ParseError
        On a line of another shape, a line with a different count of columns,
        a repeated zone or a number outside its bounds.
    """
    out = []
    seen = set()
    ncols = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _NODE_ZONE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, f"a {what} line 'Node N, zone NAME counts...'", line)
        node = parse_int(m.group(1), 0, MAX_NUMNODES - 1, "a node id", name, lineno, line)
        counts = parse_counts(m.group(3) + " ", name, lineno, line)
        if ncols is None:
            ncols = len(counts)
            if not 1 <= ncols <= NR_PAGE_ORDERS_LIMIT:
                raise ParseError(name, lineno, f"1..{NR_PAGE_ORDERS_LIMIT} counts (one per order)", line)
        elif len(counts) != ncols:
            raise ParseError(name, lineno, f"{ncols} counts (as on the first line)", line)
        if (node, m.group(2)) in seen:
            raise ParseError(name, lineno, "each zone once", line)
        seen.add((node, m.group(2)))
        out.append((node, m.group(2), counts))
    return out


def read_buddyinfo(src) -> pd.DataFrame:
    """Read ``/proc/buddyinfo`` into the long-form ``"buddyinfo"`` frame.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text (a ``str`` containing a newline).

    Returns
    -------
    pandas.DataFrame
        Columns ``node, zone, order, nr_free`` (schema ``"buddyinfo"``), one
        row per zone line and order, in file order.

    Raises
    ------
    ParseError
        On a malformed line or a line with a different number of orders.
    """
    name, text = load_text(src, "buddyinfo")
    rows = parse_node_zone_counts(text, name, "buddyinfo")
    if not rows:
        return empty("buddyinfo")
    norders = len(rows[0][2])
    nodes = np.repeat([r[0] for r in rows], norders)
    zones = [r[1] for r in rows for _ in range(norders)]
    orders = np.tile(np.arange(norders), len(rows))
    counts = np.concatenate([np.asarray(r[2], dtype="int64") for r in rows])
    df = pd.DataFrame({
        "node": nodes, "zone": categorical(zones), "order": orders, "nr_free": counts,
    })
    return conform(df, "buddyinfo")


def format_buddyinfo(df: pd.DataFrame) -> str:
    """Print a ``"buddyinfo"`` frame the way ``/proc/buddyinfo`` does.

    Zones are printed in order of first appearance; orders ascending.  Each
    zone must have the orders ``0 .. n-1`` exactly once.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame with columns ``node, zone, order, nr_free``.

    Returns
    -------
    str
        The file text, one ``"Node %d, zone %8s "`` line per zone.
    """
    lines = []
    for (node, zone), sub in groups_in_order(df, ["node", "zone"]):
        sub = sub.sort_values("order", kind="stable")
        orders = sub["order"].to_numpy()
        if not np.array_equal(orders, np.arange(len(orders))):
            raise ValueError(f"node {node} zone {zone}: orders must be 0..n-1, got {orders.tolist()}")
        counts = "".join(f"{int(c):6d} " for c in sub["nr_free"].to_numpy())
        lines.append(f"Node {int(node)}, zone {zone:>8} {counts}\n")
    return "".join(lines)
