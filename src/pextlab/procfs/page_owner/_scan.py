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
from itertools import repeat
from typing import IO, Iterator

import numpy as np

from ...errors import ParseError
from ..page_owner_grammar import (
    G_PFN, G_PREFIX, G_PREFIX_OLD, G_REST, G_STACK, G_EXTRA, G_TS, HEADER_EXPECT, PFN_EXPECT,
    RECORD, close_last_record)
from ._columns import Columns
from ._diagnose import diagnose

__all__ = ["BLOCK_CHARS", "scan", "records"]

#: Characters read per block (the unit of work of the fast scan).
BLOCK_CHARS = 8 << 20


def scan(text: str, cols: Columns, **kw) -> int:
    """:func:`_scan_block` with the cyclic GC paused (the scan creates many small
    tuples and no cycles; collections during it cost a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan_block(text, cols, **kw)
    finally:
        if enabled:
            gc.enable()


def _scan_block(text: str, cols: Columns, *, base_line: int, name: str, strict: bool,
                 at_eof: bool, skipped: list) -> int:
    """Parse every record of ``text`` (which ends at a record boundary) into ``cols``.

    Returns the number of lines in ``text``.
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
    if fast:
        if not groups:
            return total_nl
        enc = cols.encode(groups, cols_t)
        lines = cols.lines_of(enc[3], enc[4])
        starts = np.empty(len(lines), dtype=np.int64)
        starts[0] = 0
        np.cumsum(lines[:-1], out=starts[1:])
    else:
        groups, starts = _scan_slow(text, base_line=base_line, name=name, strict=strict,
                                    at_eof=at_eof, skipped=skipped)
        if not groups:
            return total_nl
        enc = cols.encode(groups)
    # parts the fast pattern let through but the strict per-unique patterns reject
    pbad, rbad = cols.bad_codes(enc[1], enc[2])
    keep = None
    if pbad.any() or rbad.any():
        badrec = np.flatnonzero(pbad | rbad)
        if strict:
            i = int(badrec[0])
            is_pfn = not pbad[i]
            cl = enc[0]
            if is_pfn:
                got = "PFN " + cl[G_PFN][i] + " " + cl[G_REST][i]
                raise ParseError(name, base_line + int(starts[i]) + 2, PFN_EXPECT, got)
            hdr = cl[G_PREFIX][i] if cl[G_TS][i] else cl[G_PREFIX_OLD][i]
            got = "Page allocated via order " + hdr
            if cl[G_TS][i]:
                got += f", ts {cl[G_TS][i]} ns"
            raise ParseError(name, base_line + int(starts[i]) + 1, HEADER_EXPECT, got)
        keep = ~(pbad | rbad)
        for i in badrec:
            skipped.append(base_line + int(starts[i]) + (1 if pbad[i] else 2))
    cols.add(*enc, keep=keep)
    return total_nl


def _scan_slow(text: str, *, base_line: int, name: str, strict: bool, at_eof: bool,
                skipped: list) -> tuple[list, np.ndarray]:
    """Record-by-record scan that finds, reports or skips malformed records."""
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
            raise ParseError(name, base_line + line + line_off + 1, expected, got)
        skipped.append(base_line + line + line_off + 1)
        line += text.count("\n", pos, resume)
        pos = resume
    return groups, np.asarray(starts, dtype=np.int64)


def records(fh: IO[str], cols: Columns, *, name: str, strict: bool, skipped: list,
            block_chars: int = BLOCK_CHARS) -> Iterator[int]:
    """Read ``fh`` in blocks, scan complete records; yields the record count after each block."""
    carry = ""
    base_line = 0
    while True:
        block = fh.read(block_chars)
        if not block:
            break
        buf = carry + block if carry else block
        cut = buf.rfind("\n\n")
        if cut < 0:
            if len(buf) < 4 * block_chars:
                carry = buf
                continue
            # no record boundary in megabytes of text: not a page_owner dump;
            # scan it so that the diagnosis names the first bad line
            cut = len(buf) - 2
        cut += 2
        head, carry = buf[:cut], buf[cut:]
        base_line += scan(head, cols, base_line=base_line, name=name, strict=strict, at_eof=False,
                           skipped=skipped)
        yield cols.n
    tail = close_last_record(carry)
    if tail is None:
        tail = carry          # stops inside a record: the scan names the line
    if tail:
        scan(tail, cols, base_line=base_line, name=name, strict=strict, at_eof=True, skipped=skipped)
    yield cols.n
