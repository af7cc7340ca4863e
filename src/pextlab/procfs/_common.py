"""Helpers the text readers of :mod:`pextlab.procfs` share.

Loading a source (path, gzip, file object, bytes or the text itself) into
``(name, text)``, building categorical columns in first-appearance order,
walking a frame's groups in that order, parsing a number within the bounds of
:mod:`.limits` and a row of unsigned counts.
"""
from __future__ import annotations

import os
import re

import pandas as pd

from ..errors import ParseError
from .limits import PFN_LIMIT, bounded_int, span
from .textio import read_text, source_name

__all__ = ["load_text", "categorical", "groups_in_order", "parse_int", "parse_counts"]


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


def parse_int(text: str, lo: int, hi: int, what: str, name: str, lineno: int | None, line: str,
              base: int = 10) -> int:
    """``text`` as an integer in ``lo..hi``.

    Raises
    ------
    ParseError
        At ``name:lineno`` expecting ``"<what> in lo..hi"``, when ``text`` is not
        a number or lies outside the bounds.
    """
    value = bounded_int(text, lo, hi, base)
    if value is None:
        raise ParseError(name, lineno, f"{what} in {span(lo, hi)}", line)
    return value


_COUNT_RE = re.compile(r" *(\d+) ")


def parse_counts(rest: str, name: str, lineno: int, line: str, hi: int = PFN_LIMIT - 1) -> list[int]:
    """Space-separated counts in ``0..hi`` (page and block counts by default).

    Raises
    ------
    ParseError
        On anything else, or on a count outside the bounds.
    """
    rest = rest.rstrip() + " "
    counts, pos = [], 0
    for m in _COUNT_RE.finditer(rest):
        if m.start() != pos:
            break
        counts.append(parse_int(m.group(1), 0, hi, "a count", name, lineno, line))
        pos = m.end()
    if pos != len(rest) and rest.strip():
        raise ParseError(name, lineno, "space-separated unsigned counts", line)
    return counts
