"""Scanning a page_owner dump in blocks of text (private to the reader).

:func:`records` reads the file in blocks of a few MB cut at record boundaries
(an empty line); :func:`scan` matches a block's records with one
``RECORD.findall`` and checks that every line was consumed (the fast path),
else walks it record by record (:func:`_scan_slow`), reporting or skipping
malformed records with :func:`~._diagnose.diagnose`.  Parsed records go into
a :class:`~._columns.Columns`.
"""
from __future__ import annotations

import gc
import io
import os
from itertools import repeat
from typing import IO, Iterator

import numpy as np

from ...errors import ParseError
from ..page_owner_grammar import (
    G_EXTRA, G_FREE, G_PFN, G_PREFIX, G_PREFIX_OLD, G_REST, G_STACK, G_TS, MAX_RECORD_CHARS, RECORD,
    RECORD_GROUPS, close_last_record, pfn_value, ts_value, HEADER, CUT)
from ..textio import iter_text, open_text, source_name
from ._columns import Columns
from ._diagnose import diagnose
from ._fast import scan_bytes

__all__ = ["BLOCK_CHARS", "is_text", "open_source", "scan", "pieces", "records"]

#: Characters read per block (the unit of work of the fast scan).
BLOCK_CHARS = 8 << 20

def is_text(src) -> bool:
    """``src`` is a dump's text itself rather than a path (a str with a newline, or a header)."""
    return isinstance(src, str) and (src == "" or "\n" in src or src.startswith(HEADER[:-len("order ")]))


def open_source(src) -> tuple[IO[str], str, bool]:
    """(text file object, name for errors, must close) for a path, file object or literal text."""
    if is_text(src):
        return io.StringIO(src), "<text>", True
    return open_text(src), source_name(src), isinstance(src, (str, os.PathLike))


def scan(text: str, cols: Columns, **kw) -> int:
    """Parse the records of ``text`` into ``cols``; the number of lines in ``text``.

    The kernel's plain layout goes through :func:`~._fast.scan_bytes`, anything
    else through :func:`_scan_block` (same records, and the errors named).  The
    cyclic GC is paused (the scan creates many small objects and no cycles;
    collections during it cost a third of the time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        if text.endswith("\n\n"):
            n = scan_bytes(text.encode("utf-8", "surrogatepass"), cols, "surrogatepass")
            if n is not None:
                return n
        return _scan_block(text, cols, **kw)
    finally:
        if enabled:
            gc.enable()


def _scan_block(text: str, cols: Columns, *, base_line: int, name: str, strict: bool,
                 at_eof: bool, skipped: list) -> int:
    """Parse every record of ``text`` (which ends at a record boundary) into ``cols``.

    Returns the number of lines in ``text``.  In strict mode the first bad line
    of the text raises, whether the record's layout or one of its values is bad.
    """
    total_nl = text.count("\n")
    groups = RECORD.findall(text)
    nheaders = text.count("\nPage allocated via ") + text.startswith("Page allocated via ")
    fast = len(groups) == nheaders and text.endswith("\n")
    if fast:
        # Every line must belong to a matched record: compare line counts.
        cols_t = list(zip(*groups)) if groups else [()] * 8
        nl = 3 * len(groups) + sum(map(str.count, cols_t[G_STACK], repeat("\n", len(groups)))) \
            + sum(map(str.count, cols_t[G_EXTRA], repeat("\n", len(groups))))
        fast = nl == total_nl
    layout_error = None
    if fast:
        if not groups:
            return total_nl
        enc = cols.encode(groups, cols_t)
        lines = cols.lines_of(enc[3], enc[4])
        starts = np.empty(len(lines), dtype=np.int64)
        starts[0] = 0
        np.cumsum(lines[:-1], out=starts[1:])
    else:
        groups, starts, layout_error = _scan_slow(text, base_line=base_line, strict=strict, at_eof=at_eof,
                                                  skipped=skipped)
        if not groups:
            if layout_error is not None:
                raise ParseError(name, *layout_error)
            return total_nl
        enc = cols.encode(groups)
    bad = _value_problems(enc[0], enc[1], enc[2], cols)
    keep = None
    if bad:
        if strict:
            i, off, expected, got = bad[0]
            line = base_line + int(starts[i]) + off
            if layout_error is None or line < layout_error[0]:
                raise ParseError(name, line, expected, got)
        else:
            keep = np.ones(len(starts), dtype=bool)
            for i, off, _, _ in bad:
                keep[i] = False
                skipped.append(base_line + int(starts[i]) + off)
    if layout_error is not None:
        raise ParseError(name, *layout_error)
    cols.add(*enc, keep=keep)
    return total_nl


def _value_problems(cl: list, prefix: np.ndarray, rest: np.ndarray, cols: Columns) -> list[tuple]:
    """``(record, line offset, expected, got)`` of the first bad value of each bad record.

    The header parts and PFN-line parts were checked once per distinct text
    (:class:`Columns`); the pfn and the times differ per record and are checked
    here, only where their length allows a value out of bounds (a decimal
    below 16 digits is below 2**52, one below 19 digits below 2**63).
    """
    pbad, rbad = cols.bad_codes(prefix, rest)
    out: dict[int, tuple] = {}

    def header(i):
        hdr = cl[G_PREFIX][i] if cl[G_TS][i] else cl[G_PREFIX_OLD][i]
        ts = f", ts {cl[G_TS][i]} ns" if cl[G_TS][i] else ""
        free = f", free_ts {cl[G_FREE][i]} ns" if cl[G_FREE][i] else ""
        return "Page allocated via order " + hdr + ts + free

    for i in np.flatnonzero(pbad).tolist():
        out[i] = (i, 1, cols.why("prefix", int(prefix[i])), header(i))
    for col in (G_TS, G_FREE):
        if max(map(len, cl[col]), default=0) > 18:
            for i, digits in enumerate(cl[col]):
                if len(digits) > 18 and ts_value(digits) is None and i not in out:
                    out[i] = (i, 1, f"{RECORD_GROUPS[col]} below 2**63 ns (292 years of uptime)", header(i))
    for i in np.flatnonzero(rbad).tolist():
        if i not in out:
            out[i] = (i, 2, cols.why("rest", int(rest[i])), "PFN " + cl[G_PFN][i] + " " + cl[G_REST][i])
    if max(map(len, cl[G_PFN]), default=0) > 15:
        for i, token in enumerate(cl[G_PFN]):
            if len(token) > 15 and pfn_value(token) is None and i not in out:
                out[i] = (i, 2, "a PFN below 2**52 (a 64-bit physical address)",
                          "PFN " + token + " " + cl[G_REST][i])
    return [out[i] for i in sorted(out)]


def _scan_slow(text: str, *, base_line: int, strict: bool, at_eof: bool,
               skipped: list) -> tuple[list, np.ndarray, tuple | None]:
    """Record-by-record scan that finds and skips malformed records.

    Returns the records' groups, their line offsets in ``text`` and, in strict
    mode, the first layout error as ``(line, expected, got)`` (the scan stops
    there) or None.
    """
    pos = 0
    end = len(text)
    groups: list[tuple] = []
    starts: list[int] = []
    line = 0          # line offset of ``pos``
    while pos < end:
        m = RECORD.match(text, pos)
        if m is not None:
            groups.append(m.groups(""))
            starts.append(line)
            line += text.count("\n", pos, m.end())
            pos = m.end()
            continue
        k = pos
        while k < end and text[k] in " \t\n":      # stray empty lines between records
            k += 1
        if k >= end:
            break
        if k != pos:
            line += text.count("\n", pos, k)
            pos = k
            if RECORD.match(text, pos):
                continue
        line_off, resume, expected, got = diagnose(text, pos, at_eof)
        if strict:
            return groups, np.asarray(starts, dtype=np.int64), (base_line + line + line_off + 1, expected, got)
        skipped.append(base_line + line + line_off + 1)
        line += text.count("\n", pos, resume)
        pos = resume
    return groups, np.asarray(starts, dtype=np.int64), None


def pieces(fh: IO[str], name: str, block_chars: int = BLOCK_CHARS) -> Iterator[tuple[str, bool]]:
    """The text of ``fh`` cut into pieces at ``CUT`` places: ``(text, at_eof)``.

    (:data:`pextlab.procfs.page_owner_grammar.CUT`: an empty line before a
    header; pieces cut there read as the whole text does.)

    Each block read is cut at the last such place it holds.  Text with none in
    its first :data:`MAX_RECORD_CHARS` characters is cut at its last line end
    before that, and the scan names the line where the record is cut; the cut
    depends on the file only, not on ``block_chars``, so every block size reads
    a file the same way (a damaged gzip stream too: :func:`iter_text` raises
    after the pieces before the damage).  The last piece (``at_eof``) gets the
    empty line a dump cut after a complete line lacks (``close_last_record``).
    """
    carry = ""
    for block in iter_text(fh, block_chars, name):
        buf = carry + block if carry else block
        if len(buf) >= MAX_RECORD_CHARS and buf.find(CUT, 0, MAX_RECORD_CHARS) < 0:
            cut = buf.rfind("\n", 0, MAX_RECORD_CHARS) + 1 or MAX_RECORD_CHARS
        else:
            cut = buf.rfind(CUT)
            if cut < 0:
                carry = buf
                continue
            cut += 2
        head, carry = buf[:cut], buf[cut:]
        yield head, False
    tail = close_last_record(carry)
    if tail is None:
        tail = carry          # stops inside a record: the scan names the line
    if tail:
        yield tail, True


def records(fh: IO[str], cols: Columns, *, name: str, strict: bool, skipped: list,
            block_chars: int = BLOCK_CHARS) -> Iterator[int]:
    """Scan the :func:`pieces` of ``fh``; yields the record count after each piece."""
    base_line = 0
    for text, at_eof in pieces(fh, name, block_chars):
        base_line += scan(text, cols, base_line=base_line, name=name, strict=strict, at_eof=at_eof,
                          skipped=skipped)
        yield cols.n
    yield cols.n
