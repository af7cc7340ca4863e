"""``/proc/meminfo``: system memory counters.

Each line is ``"<Field>:"`` padded to 16 characters, the value right-aligned
in 8, and ``" kB"`` for sizes (``HugePages_*`` counts have no unit).
:func:`read_meminfo` returns the long-form ``"meminfo"`` frame and
:func:`format_meminfo` prints it back.  The same shape is used by the
per-node ``/sys/devices/system/node/nodeN/meminfo`` files without their
``Node N`` prefix.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, load_text, parse_int
from .limits import S64_MAX

__all__ = ["read_meminfo", "format_meminfo", "meminfo_dict"]

_LINE_RE = re.compile(r"^([^:\s][^:]*): +(\d+)(?: (kB))?$")
# fs/proc/meminfo.c prints every value unsigned (show_val_kb, "%lu"); kB of a 64-bit
# physical address space and the counts fit the int64 column (below 2**63)


def read_meminfo(src) -> pd.DataFrame:
    """Read ``/proc/meminfo`` into the ``"meminfo"`` frame.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    pandas.DataFrame
        Columns ``field, value, unit``: ``value`` is in kB where ``unit`` is
        ``"kB"``, a plain count where ``unit`` is ``""``.

    Raises
    ------
    ParseError
        On a line that is not ``Field:  value [kB]``, a repeated field, or a
        value outside ``0..2**63-1``.
    """
    name, text = load_text(src, "meminfo")
    fields, values, units = [], [], []
    seen = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'Field:   value kB' or 'Field:   value'", line)
        if m.group(1) in seen:
            raise ParseError(name, lineno, "each field once", line)
        seen.add(m.group(1))
        fields.append(m.group(1))
        values.append(parse_int(m.group(2), 0, S64_MAX, "a value", name, lineno, line))
        units.append(m.group(3) or "")
    if not fields:
        return empty("meminfo")
    df = pd.DataFrame({
        "field": categorical(fields),
        "value": np.array(values, dtype="int64"),
        "unit": categorical(units, ["kB", ""]),
    })
    return conform(df, "meminfo")


def meminfo_dict(df: pd.DataFrame) -> dict[str, int]:
    """``{field: value}`` of a ``"meminfo"`` (or ``"vmstat"``) frame."""
    return dict(zip(df["field"].astype(str), df["value"].astype("int64").tolist()))


def format_meminfo(df: pd.DataFrame) -> str:
    """Print a ``"meminfo"`` frame as ``/proc/meminfo``.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``field, value, unit``.

    Returns
    -------
    str
        ``"%-16s%8d kB"`` lines (the label includes its colon), or without
        ``" kB"`` where ``unit`` is empty.
    """
    units = df["unit"].astype(object).where(df["unit"].notna(), "")
    lines = []
    for field, value, unit in zip(df["field"].astype(str), df["value"].to_numpy(), units):
        suffix = f" {unit}" if unit else ""
        lines.append(f"{field + ':':<16}{int(value):8d}{suffix}\n")
    return "".join(lines)
