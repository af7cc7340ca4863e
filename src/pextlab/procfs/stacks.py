"""``/sys/kernel/debug/page_owner_stacks/show_stacks`` (v6.9+) as a frame, and back.

Each entry is a stack (one `` %pS`` frame per line, leading space), a count and
an empty line::

     get_page_from_freelist+0x1673/0x1730
     __alloc_pages_noprof+0x12e/0x230
     ...
    nr_base_pages: 20095
    <empty line>

Variants accepted by :func:`read_show_stacks`:

* ``stack_count: %d`` instead of ``nr_base_pages: %d`` (v6.9-rc1 only; the
  value is stored in ``nr_base_pages`` as printed and ``df.attrs["count_field"]``
  says ``"stack_count"``);
* v6.19 ``handle: %d`` lines: ``show_handles`` (handle + nr_base_pages, no
  frames) and ``show_stacks_handles`` (frames + handle, no count: ``nr_base_pages``
  is -1).  When a file has ``handle:`` lines they give ``stack_handle``;
  otherwise entries are numbered 1, 2, ... in file order.

Columns (schema ``"stacks"``): ``stack`` holds the frames joined with ``"\\n"``
without the leading space (the same text as the ``stack`` column of
``read_page_owner``), ``depth`` the number of frames, ``top_frame`` the first
frame outside the page allocator.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty, top_frame_of
from ._common import parse_int
from .limits import INT_MAX, INT_MIN, U32_MAX
from .textio import read_text, source_name

__all__ = ["read_show_stacks", "format_show_stacks", "write_show_stacks"]

_COUNT = re.compile(r"(nr_base_pages|stack_count): (-?\d+)[ \t]*$")
_HANDLE = re.compile(r"handle: (-?\d+)[ \t]*$")
#: The ``depth`` column is int16; page_owner saves at most PAGE_OWNER_STACK_DEPTH (16) frames.
_MAX_DEPTH = (1 << 15) - 1


def _load(src) -> tuple[str, str]:
    """``(name, text)`` of a path, file object or the text itself."""
    if isinstance(src, str) and ("\n" in src or src.startswith((" ", "handle:", "nr_base_pages:"))):
        return "<text>", src
    return source_name(src), read_text(src)


def read_show_stacks(src) -> pd.DataFrame:
    """Read a ``page_owner_stacks/show_stacks`` (or v6.19 ``show_handles`` /
    ``show_stacks_handles``) file.

    Parameters
    ----------
    src : path, file object or str
        Plain or gzipped file, open file, or the text itself.

    Returns
    -------
    pandas.DataFrame
        Schema ``"stacks"``, one row per entry in file order (the kernel prints
        its stack list newest first).  ``attrs["count_field"]`` is
        ``"nr_base_pages"``, ``"stack_count"`` or None (no count lines).

    Raises
    ------
    ParseError
        On a line that is neither a frame, a count, a handle nor an empty line,
        on an entry without frames, handle or count, on a truncated entry, or
        on a number the kernel cannot print (mm/page_owner.c stack_print
        prints ``nr_base_pages``, an ``int``, only from 1 on, and the ``u32``
        handle with ``%d``).  The line number is 1-based.
    """
    name, text = _load(src)
    stacks: list[str] = []
    starts: list[int] = []
    handles: list[int] = []
    counts: list[int] = []
    frames: list[str] = []
    handle = count = None
    fields: set[str] = set()
    lineno = start = 0

    def end_entry(at):
        nonlocal frames, handle, count
        if frames or handle is not None or count is not None:
            if count is None and handle is None:
                raise ParseError(name, at, "'nr_base_pages: %d' (or 'handle: %d') ending the stack",
                                 "<empty line>" if at <= lineno else "<end of file>")
            stacks.append("\n".join(frames))
            starts.append(start)
            handles.append(-1 if handle is None else handle)
            counts.append(-1 if count is None else count)
        frames, handle, count = [], None, None

    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()                  # the newline ending the last line
    for lineno, line in enumerate(lines, 1):
        if not (frames or handle is not None or count is not None):
            start = lineno
        if line.startswith(" "):
            if count is not None or handle is not None:
                raise ParseError(name, lineno, "an empty line after the count", line)
            f = line[1:].rstrip()
            if not f:
                raise ParseError(name, lineno, "a stack frame ' symbol+0xoff/0xsize'", line)
            if len(frames) == _MAX_DEPTH:
                raise ParseError(name, lineno, f"at most {_MAX_DEPTH} frames in a stack", line)
            frames.append(f)
            continue
        if not line.strip():
            end_entry(lineno)
            continue
        m = _COUNT.match(line)
        if m:
            if count is not None:
                raise ParseError(name, lineno, "an empty line after the count", line)
            fields.add(m.group(1))
            count = parse_int(m.group(2), 1, INT_MAX, m.group(1), name, lineno, line)
            continue
        m = _HANDLE.match(line)
        if m:
            if handle is not None or count is not None:
                raise ParseError(name, lineno, "an empty line or a count after the handle", line)
            # "handle: %d" of the u32 depot handle: stored as the u32
            handle = parse_int(m.group(1), INT_MIN, INT_MAX, "a handle", name, lineno, line) & U32_MAX
            continue
        raise ParseError(name, lineno, "a stack frame ' symbol+0xoff/0xsize', 'nr_base_pages: %d', "
                                       "'stack_count: %d', 'handle: %d' or an empty line", line)
    if frames and count is None and handle is None:
        raise ParseError(name, lineno + 1, "'nr_base_pages: %d' ending the stack (truncated file)",
                         "<end of file>")
    end_entry(lineno + 1)
    if not stacks:
        df = empty("stacks")
    else:
        h = np.asarray(handles, dtype=np.int64)
        if (h < 0).all():
            h = np.arange(1, len(stacks) + 1, dtype=np.int64)
        elif (h < 0).any():
            at = starts[int(np.flatnonzero(h < 0 if h[0] >= 0 else h >= 0)[0])]
            raise ParseError(name, at, "'handle: %d' in every entry or in none (this entry differs "
                             "from the first)", lines[at - 1])
        tops = {s: top_frame_of(s.split("\n")) if s else "" for s in set(stacks)}
        df = conform(pd.DataFrame({
            "stack_handle": h,
            "stack": pd.Categorical(stacks),
            "top_frame": pd.Categorical([tops[s] for s in stacks]),
            "depth": np.array([s.count("\n") + 1 if s else 0 for s in stacks], dtype=np.int16),
            "nr_base_pages": np.asarray(counts, dtype=np.int64),
        }), "stacks")
    df.attrs["count_field"] = ("stack_count" if "stack_count" in fields else
                               "nr_base_pages" if fields else None)
    df.attrs["source"] = name
    return df


def format_show_stacks(df: pd.DataFrame, threshold: int = 0) -> str:
    """Print a ``"stacks"`` frame the way v6.9+ ``show_stacks`` does.

    Parameters
    ----------
    df : pandas.DataFrame
        Schema ``"stacks"``; rows are printed in frame order.
    threshold : int
        ``page_owner_stacks/count_threshold``: entries with
        ``nr_base_pages < 1`` or ``nr_base_pages < threshold`` are hidden.

    Returns
    -------
    str
        Frames with one leading space, ``nr_base_pages: %d``, an empty line.
    """
    out = []
    for stack, n in zip(df["stack"].tolist(), df["nr_base_pages"].tolist()):
        n = int(n)
        if n < 1 or n < threshold:
            continue
        if isinstance(stack, str) and stack:
            out.extend(" " + f + "\n" for f in stack.split("\n"))
        out.append(f"nr_base_pages: {n}\n\n")
    return "".join(out)


def write_show_stacks(df: pd.DataFrame, fh, threshold: int = 0) -> None:
    """Write :func:`format_show_stacks` text to the open text file ``fh``."""
    fh.write(format_show_stacks(df, threshold=threshold))
