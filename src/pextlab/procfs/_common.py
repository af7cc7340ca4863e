"""Helpers the text readers of :mod:`pextlab.procfs` share.

Loading a source (path, gzip, file object, bytes or the text itself) into
``(name, text)``, building categorical columns in first-appearance order,
walking a frame's groups in that order, and parsing a row of unsigned counts.
"""
from __future__ import annotations

import os
import re

import pandas as pd

from ..errors import ParseError
from .textio import read_text, source_name

__all__ = ["load_text", "categorical", "groups_in_order", "parse_counts"]


def load_text(src, default_name: str = "<text>") -> tuple[str, str]:
    """Return ``(name, text)`` for a path, ``.gz`` path, file object, bytes or text.

    A ``str`` containing a newline (or the empty string) is taken as the file's
    text; any other ``str`` / ``os.PathLike`` is a path.
    """
    if isinstance(src, bytes):
        return default_name, src.decode("utf-8", errors="replace")
    if isinstance(src, str) and ("\n" in src or src == ""):
        return default_name, src
    if isinstance(src, (str, os.PathLike)):
        return str(src), read_text(src)
    name = source_name(src)
    return name, read_text(src)


def categorical(values, categories=None) -> pd.Categorical:
    """A categorical whose categories keep first-appearance order."""
    if categories is None:
        categories = list(dict.fromkeys(values))
    return pd.Categorical(list(values), categories=list(categories))


def groups_in_order(df: pd.DataFrame, keys: list[str]):
    """Yield ``(key_tuple, sub_frame)`` in order of first appearance."""
    if len(df) == 0:
        return
    for key, sub in df.groupby(keys, sort=False, observed=True):
        yield key, sub


_COUNT_RE = re.compile(r" *(\d+) ")


def parse_counts(rest: str, name: str, lineno: int, line: str) -> list[int]:
    """Space-separated non-negative integers; anything else is a ParseError."""
    rest = rest.rstrip() + " "
    counts, pos = [], 0
    for m in _COUNT_RE.finditer(rest):
        if m.start() != pos:
            break
        counts.append(int(m.group(1)))
        pos = m.end()
    if pos != len(rest) and rest.strip():
        raise ParseError(name, lineno, "space-separated unsigned counts", line)
    return counts
