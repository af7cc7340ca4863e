"""``/proc/vmstat``: one ``name value`` pair per line.

:func:`read_vmstat` returns the long-form ``"vmstat"`` frame and
:func:`format_vmstat` prints it back (``"%s %lu"``, the order kept).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, load_text, parse_int
from .limits import S64_MAX

__all__ = ["read_vmstat", "format_vmstat", "vmstat_delta"]

_LINE_RE = re.compile(r"^([A-Za-z0-9_]+) (\d+)$")
# mm/vmstat.c vmstat_show prints unsigned longs (global counters are clamped at 0);
# an event counter at 2**63 would take centuries, so values fit the int64 column


def read_vmstat(src) -> pd.DataFrame:
    """Read ``/proc/vmstat`` into the ``"vmstat"`` frame.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    pandas.DataFrame
        Columns ``field, value`` in file order.

    Raises
    ------
    ParseError
        On a line that is not ``name value``, a repeated name, or a value
        outside ``0..2**63-1``.
    """
    name, text = load_text(src, "vmstat")
    fields, values = [], []
    seen = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'name value'", line)
        if m.group(1) in seen:
            raise ParseError(name, lineno, "each counter once", line)
        seen.add(m.group(1))
        fields.append(m.group(1))
        values.append(parse_int(m.group(2), 0, S64_MAX, "a counter", name, lineno, line))
    if not fields:
        return empty("vmstat")
    df = pd.DataFrame({"field": categorical(fields), "value": np.array(values, dtype="int64")})
    return conform(df, "vmstat")


def format_vmstat(df: pd.DataFrame) -> str:
    """Print a ``"vmstat"`` frame as ``/proc/vmstat`` text.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``field, value``.

    Returns
    -------
    str
        One ``"name value"`` line per row.
    """
    return "".join(f"{f} {int(v)}\n" for f, v in zip(df["field"].astype(str), df["value"].to_numpy()))


def vmstat_delta(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Change of every counter between two ``"vmstat"`` frames.

    Parameters
    ----------
    before, after : pandas.DataFrame
        Two ``"vmstat"`` frames (e.g. before and after compaction).

    Returns
    -------
    pandas.DataFrame
        Columns ``field, before, after, delta`` for the counters present in
        both, in ``after``'s order.
    """
    b = dict(zip(before["field"].astype(str), before["value"].astype("int64")))
    fields = [f for f in after["field"].astype(str) if f in b]
    a = dict(zip(after["field"].astype(str), after["value"].astype("int64")))
    bv = np.array([b[f] for f in fields], dtype="int64")
    av = np.array([a[f] for f in fields], dtype="int64")
    return pd.DataFrame({"field": fields, "before": bv, "after": av, "delta": av - bv})
