"""debugfs ``extfrag/unusable_index`` and ``extfrag/extfrag_index``.

Both files print one line per populated zone, ``"Node %d, zone %8s "`` and
then one field per order of an index the kernel computes in integer
thousandths: ``unusable_index`` prints ``"%d.%03d "`` and ``extfrag_index``
``"%2d.%03d "`` of ``index / 1000, index % 1000`` (C division, so -1000 prints
``-1.000`` and -500 -- one free block of half the requested size -- `` 0.-500``).  :func:`read_extfrag` joins the two files into the ``"extfrag"``
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
from ._common import categorical, groups_in_order, load_text, parse_int
from .limits import MAX_NUMNODES, NR_PAGE_ORDERS_LIMIT

__all__ = [
    "read_extfrag", "read_index_file", "format_unusable_index", "format_extfrag_index",
    "unusable_index", "fragmentation_index",
]

_LINE_RE = re.compile(r"^Node (\d+), zone +(\S+) (.*)$")
# "%d.%03d" of index / 1000 and index % 1000 (C): "-1.000", "0.-500", "1.000"
_FIELD_RE = re.compile(r" *(-?\d+)\.(\d{3}|-\d{2,3}) ")
#: Values each file can hold, in thousandths (mm/vmstat.c): unusable_free_index is a
#: share (0..1000); __fragmentation_index is -1000 when a block is free, else
#: 1000 - (1000 + free_pages * 1000 / 2^order) / free_blocks_total, which lies above
#: -1000 because every free block is smaller than 2^order.
_RANGES = {"unusable_index": (0, 1000), "extfrag_index": (-1000, 1000)}


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
        Which file: ``"unusable_index"`` or ``"extfrag_index"`` (the range
        of its values), and the name in error messages when ``src`` is text.

    Returns
    -------
    list of tuple
        One entry per line, values as integers in thousandths (``-1.000`` is
        ``-1000``).

    Raises
    ------
    ParseError
        On a malformed line, one with a different number of orders, a repeated
        zone, or a value the kernel cannot print.
    """
    return [row[:3] for row in _read_index_lines(src, what)]


def _read_index_lines(src, what: str) -> list[tuple[int, str, list[int], int, str, str]]:
    """:func:`read_index_file` rows with the line number, line and file name of each."""
    lo, hi = _RANGES[what]
    name, text = load_text(src, what)
    out = []
    seen = set()
    ncols = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'Node N, zone Z' followed by d.ddd fields", line)
        node = parse_int(m.group(1), 0, MAX_NUMNODES - 1, "a node id", name, lineno, line)
        rest = m.group(3).rstrip() + " "
        vals, pos = [], 0
        for f in _FIELD_RE.finditer(rest):
            if f.start() != pos:
                break
            v = _field_value(f.group(1), f.group(2), lo, hi)
            if v is None:
                raise ParseError(name, lineno, f"fields '%d.%03d ' of thousandths in {lo}..{hi}", line)
            vals.append(v)
            pos = f.end()
        if pos != len(rest) or not vals:
            raise ParseError(name, lineno, "fields printed as '%d.%03d '", line)
        if ncols is None:
            ncols = len(vals)
            if ncols > NR_PAGE_ORDERS_LIMIT:
                raise ParseError(name, lineno, f"at most {NR_PAGE_ORDERS_LIMIT} fields (one per order)", line)
        elif len(vals) != ncols:
            raise ParseError(name, lineno, f"{ncols} fields (as on the first line)", line)
        if (node, m.group(2)) in seen:
            raise ParseError(name, lineno, "each zone once", line)
        seen.add((node, m.group(2)))
        out.append((node, m.group(2), vals, lineno, line, name))
    return out


def _field_value(whole: str, frac: str, lo: int, hi: int) -> int | None:
    """The thousandths a ``%d.%03d`` field prints, or None when no value in ``lo..hi`` prints so."""
    if len(whole) > 3:
        return None
    w, f = int(whole), int(frac)
    v = w * 1000 + f
    if not lo <= v <= hi or _fmt_thousandths(v, 0) != f"{whole}.{frac} ":
        return None
    return v


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
    uu = _read_index_lines(unusable_src, "unusable_index") if unusable_src is not None else []
    ee = _read_index_lines(extfrag_src, "extfrag_index") if extfrag_src is not None else []
    udict = {(r[0], r[1]): r[2] for r in uu}
    edict = {(r[0], r[1]): r[2] for r in ee}
    where = {(r[0], r[1]): r[3:] for r in ee}
    keys = list(dict.fromkeys([(r[0], r[1]) for r in uu] + [(r[0], r[1]) for r in ee]))
    if not keys:
        return empty("extfrag")
    nodes, zones, orders, ucol, ecol = [], [], [], [], []
    for key in keys:
        u, e = udict.get(key), edict.get(key)
        if u is not None and e is not None and len(u) != len(e):
            lineno, line, name = where[key]
            raise ParseError(name, lineno, f"{len(u)} fields, as unusable_index has for this zone", line)
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
