"""debugfs ``extfrag/unusable_index`` and ``extfrag/extfrag_index``.

Both files print one line per populated zone, ``"Node %d, zone %8s "`` and
then one field per order of an index the kernel computes in integer
thousandths: ``unusable_index`` prints ``"%d.%03d "`` and ``extfrag_index``
``"%2d.%03d "`` of ``index / 1000, index % 1000`` (C division, so -1000 prints
``-1.000``).  :func:`read_extfrag` joins the two files into the ``"extfrag"``
frame (values as floats, thousandths / 1000); the ``format_*`` functions print
them back exactly.

:func:`unusable_index` and :func:`fragmentation_index` (the mm/vmstat.c maths,
from :mod:`pextlab.kernel.vmstat`) compute the same integers from free-block
counts, for comparing a capture's buddyinfo with its extfrag files.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..kernel.vmstat import fragmentation_index, unusable_index
from ..schema import conform, empty
from ._common import categorical, groups_in_order, load_text

__all__ = [
    "read_extfrag", "read_index_file", "format_unusable_index", "format_extfrag_index",
    "unusable_index", "fragmentation_index",
]

_LINE_RE = re.compile(r"^Node (-?\d+), zone +(\S+) (.*)$")
_FIELD_RE = re.compile(r" *(-?)(\d+)\.(\d{3}) ")


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _fmt_thousandths(v: int, width: int) -> str:
    whole = _c_div(v, 1000)
    frac = v - whole * 1000          # C remainder: same sign as v
    return f"{whole:{width}d}.{frac:03d} " if width else f"{whole:d}.{frac:03d} "


def read_index_file(src, what: str = "unusable_index") -> list[tuple[int, str, list[int]]]:
    """Parse one index file into ``(node, zone, [thousandths per order])``.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        ``unusable_index`` or ``extfrag_index`` (or their text).
    what : str
        Name used in error messages when ``src`` is text.

    Returns
    -------
    list of tuple
        One entry per line, values as integers in thousandths (``-1.000`` is
        ``-1000``).

    Raises
    ------
    ParseError
        On a malformed line or one with a different number of orders.
    """
    name, text = load_text(src, what)
    out = []
    ncols = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'Node N, zone Z' followed by d.ddd fields", line)
        rest = m.group(3).rstrip() + " "
        vals, pos = [], 0
        for f in _FIELD_RE.finditer(rest):
            if f.start() != pos:
                break
            v = int(f.group(2)) * 1000 + int(f.group(3))
            vals.append(-v if f.group(1) else v)
            pos = f.end()
        if pos != len(rest) or not vals:
            raise ParseError(name, lineno, "fields printed as '%d.%03d '", line)
        if ncols is None:
            ncols = len(vals)
        elif len(vals) != ncols:
            raise ParseError(name, lineno, f"{ncols} fields (as on the first line)", line)
        out.append((int(m.group(1)), m.group(2), vals))
    return out


def read_extfrag(unusable_src=None, extfrag_src=None) -> pd.DataFrame:
    """Read ``unusable_index`` and ``extfrag_index`` into the ``"extfrag"`` frame.

    Parameters
    ----------
    unusable_src, extfrag_src : path, file object, str or None
        The two debugfs files; either may be None, and its column is then NaN.

    Returns
    -------
    pandas.DataFrame
        Schema ``"extfrag"``: one row per node, zone and order; zones in the
        order of the first file given, then any zone only the other file has.

    Raises
    ------
    ParseError
        On a malformed line, or when a zone has different numbers of orders
        in the two files.
    """
    uu = read_index_file(unusable_src, "unusable_index") if unusable_src is not None else []
    ee = read_index_file(extfrag_src, "extfrag_index") if extfrag_src is not None else []
    udict = {(n, z): v for n, z, v in uu}
    edict = {(n, z): v for n, z, v in ee}
    keys = list(dict.fromkeys([(n, z) for n, z, _ in uu] + [(n, z) for n, z, _ in ee]))
    if not keys:
        return empty("extfrag")
    nodes, zones, orders, ucol, ecol = [], [], [], [], []
    for key in keys:
        u, e = udict.get(key), edict.get(key)
        if u is not None and e is not None and len(u) != len(e):
            raise ParseError("extfrag_index", None,
                             f"as many orders for node {key[0]} zone {key[1]} as unusable_index ({len(u)})",
                             str(len(e)))
        n = len(u if u is not None else e)
        nodes += [key[0]] * n
        zones += [key[1]] * n
        orders += list(range(n))
        ucol += [np.nan] * n if u is None else [x / 1000 for x in u]
        ecol += [np.nan] * n if e is None else [x / 1000 for x in e]
    df = pd.DataFrame({
        "node": nodes, "zone": categorical(zones), "order": orders,
        "unusable_index": np.array(ucol, dtype="float64"),
        "extfrag_index": np.array(ecol, dtype="float64"),
    })
    return conform(df, "extfrag")


def _format(df: pd.DataFrame, column: str, width: int) -> str:
    lines = []
    for (node, zone), sub in groups_in_order(df, ["node", "zone"]):
        sub = sub.sort_values("order", kind="stable")
        vals = sub[column].to_numpy()
        if np.isnan(vals).any():
            raise ValueError(f"node {node} zone {zone}: {column} has NaN values")
        fields = "".join(_fmt_thousandths(int(round(v * 1000)), width) for v in vals)
        lines.append(f"Node {int(node)}, zone {zone:>8} {fields}\n")
    return "".join(lines)


def format_unusable_index(df: pd.DataFrame) -> str:
    """Print the ``unusable_index`` file from an ``"extfrag"`` frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Schema ``"extfrag"``; the ``unusable_index`` column is printed.

    Returns
    -------
    str
        ``"Node %d, zone %8s "`` then ``"%d.%03d "`` per order, per zone.
    """
    return _format(df, "unusable_index", 0)


def format_extfrag_index(df: pd.DataFrame) -> str:
    """Print the ``extfrag_index`` file from an ``"extfrag"`` frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Schema ``"extfrag"``; the ``extfrag_index`` column is printed.

    Returns
    -------
    str
        ``"Node %d, zone %8s "`` then ``"%2d.%03d "`` per order, per zone.
    """
    return _format(df, "extfrag_index", 2)
