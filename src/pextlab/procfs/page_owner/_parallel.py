"""Reading a big page_owner dump in worker processes (private to the reader).

The dump is cut at :data:`~pextlab.procfs.page_owner_grammar.CUT` places (an empty line before a
header: no record spans one), the pieces are scanned in worker processes,
each into its own :class:`~._columns.Columns`, and the parent merges them in
file order (:meth:`~._columns.Columns.merge`), adding to each piece's line
numbers the lines of the pieces before it.  Scanning pieces cut at such places
in order gives what scanning the whole text gives, so the frame,
its ``attrs``, its warnings and, in strict mode, the first
:class:`~pextlab.errors.ParseError` and its line are those of the serial read,
whatever the number of workers.

A plain file is cut by the parent at byte offsets (a few small reads near each
cut) and every worker reads its own byte range; a gzip file, an open file or
literal text is read and cut by the parent (decompressed once, as a stream) and
the pieces are sent to the workers.

Worker processes, not threads: the scan is CPU-bound Python and threads share
one interpreter lock.  :class:`concurrent.futures.ProcessPoolExecutor` from the
standard library: results come back in submission order, a worker's exception
reaches the caller, and pending work is cancelled on the first error.  Workers
are forked where the platform allows it and the process runs a single thread
(no re-import of numpy and pandas), else started by the platform's default
method.  Starting them costs tens of milliseconds, hence the size below which
the default reads in this process
(:data:`~pextlab.procfs.page_owner_grammar.PARALLEL_MIN_BYTES`).
"""
from __future__ import annotations

import gc
import itertools
import multiprocessing
import os
import stat
import struct
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor

from ...errors import ParseError, PextlabError
from ..page_owner_grammar import MAX_RECORD_CHARS, PARALLEL_MIN_BYTES, cut_points, default_workers
from ..textio import open_text_range
from ._columns import Columns
from ._fast import scan_bytes
from ._scan import is_text, open_source, pieces, scan

__all__ = ["CHUNK_BYTES", "MIN_CHUNK_BYTES", "plan_workers", "plain_file", "read_parallel",
           "scan_file_range", "scan_piece"]

#: The largest piece a worker scans at a time.
CHUNK_BYTES = 8 << 20
#: The smallest piece (inputs are cut in about four pieces per worker).
MIN_CHUNK_BYTES = 64 << 10


def _input_size(src) -> int | None:
    """Bytes of text ``src`` holds, when known without reading it (gzip: its trailer)."""
    if is_text(src):
        return len(src)
    if not isinstance(src, (str, os.PathLike)):
        return None
    size = os.path.getsize(src)
    with open(src, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b" or size < 20:
            return size
        fh.seek(-4, os.SEEK_END)
        isize = struct.unpack("<I", fh.read(4))[0]     # RFC 1952 ISIZE: length mod 2**32
    return max(isize, size)


def plan_workers(src, workers: int | None) -> int:
    """How many processes read ``src``: ``workers``, or with None every core when
    the input is at least ``PARALLEL_MIN_BYTES`` (a gzip file: as its trailer says),
    else 1; always 1 inside a daemonic process (which may not have children)."""
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise PextlabError(f"workers must be a positive int or None, got {workers!r}")
    else:
        size = _input_size(src)
        workers = 1 if size is None or size < PARALLEL_MIN_BYTES else default_workers()
    if workers > 1 and multiprocessing.current_process().daemon:
        return 1            # a daemonic process may not start processes: read here, same result
    return workers


def plain_file(src) -> int | None:
    """The size of ``src`` when it is a path to an uncompressed regular file whose size
    is known, else None: it is then read as a stream.  debugfs and procfs files
    (``/sys/kernel/debug/page_owner`` itself) say size 0 however much they hold, and
    a pipe has no size."""
    if is_text(src) or not isinstance(src, (str, os.PathLike)):
        return None
    st = os.stat(src)
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return None
    with open(src, "rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return None
    return st.st_size


def _chunk(size: int, workers: int) -> int:
    return max(MIN_CHUNK_BYTES, min(CHUNK_BYTES, size // (4 * workers)))


def _context():
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return None


def _scan_pieces(fh, *, zone_names, strict: bool, name: str) -> tuple:
    """Scan the text of ``fh`` piece by piece, as :func:`~._scan.records` does."""
    cols = Columns(zone_names)
    skipped: list[int] = []
    lines = 0
    try:
        for piece, eof in pieces(fh, name):
            lines += scan(piece, cols, base_line=lines, name=name, strict=strict, at_eof=eof, skipped=skipped)
    except ParseError as e:
        return None, lines, skipped, (e.line, e.expected, e.got)
    return cols, lines, skipped, None


def scan_file_range(path, start: int, stop: int, *, zone_names, strict: bool, name: str) -> tuple:
    """Worker: scan bytes ``start:stop`` of a plain file.

    Returns ``(columns, lines, skipped lines, error)`` with line numbers counted
    from the range's first line; ``error`` is ``(line, expected, got)`` of the
    first bad line in strict mode (``columns`` is then None).
    """
    if stop - start <= MAX_RECORD_CHARS:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(stop - start)
        cols = Columns(zone_names)
        enabled = gc.isenabled()
        gc.disable()
        try:
            n = scan_bytes(data, cols, "replace")
        finally:
            if enabled:
                gc.enable()
        if n is not None:
            return cols, n, [], None
    with open_text_range(path, start, stop) as fh:
        return _scan_pieces(fh, zone_names=zone_names, strict=strict, name=name)


def scan_piece(data: bytes, at_eof: bool, *, zone_names, strict: bool, name: str) -> tuple:
    """Worker: scan one piece of text cut by the parent (UTF-8, surrogates passed);
    returns as :func:`scan_file_range`."""
    cols = Columns(zone_names)
    skipped: list[int] = []
    try:
        lines = scan(data.decode("utf-8", "surrogatepass"), cols, base_line=0, name=name, strict=strict,
                     at_eof=at_eof, skipped=skipped)
    except ParseError as e:
        return None, 0, skipped, (e.line, e.expected, e.got)
    return cols, lines, skipped, None


class _Merger:
    """Merges the workers' results in file order into ``cols``."""

    def __init__(self, cols: Columns, skipped: list, name: str):
        self.cols, self.skipped, self.name = cols, skipped, name
        self.lines = 0

    def add(self, result: tuple) -> None:
        cols, lines, skipped, error = result
        if error is not None:
            line, expected, got = error
            raise ParseError(self.name, self.lines + line, expected, got)
        self.cols.merge(cols)
        self.skipped.extend(self.lines + s for s in skipped)
        self.lines += lines


def read_parallel(src, workers: int, cols: Columns, *, strict: bool, skipped: list) -> str:
    """Read ``src`` with ``workers`` processes into ``cols`` (and ``skipped``), as
    :func:`~._scan.records` would read it; returns the name errors give the input.

    With one worker a plain file is read range by range in this process (the
    bytes are scanned as they are, without decoding the whole text).
    """
    size = plain_file(src)
    if size is not None:
        name = str(src)
        merger = _Merger(cols, skipped, name)
        kw = {"zone_names": cols.zone_names, "strict": strict, "name": name}
        ranges = list(itertools.pairwise(cut_points(src, size, _chunk(size, workers))))
        if workers == 1:
            for a, z in ranges:
                merger.add(scan_file_range(src, a, z, **kw))
            return name
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as ex:
            futures = [ex.submit(scan_file_range, src, a, z, **kw) for a, z in ranges]
            try:
                for f in futures:
                    merger.add(f.result())
            finally:
                for f in futures:
                    f.cancel()
        return name
    fh, name, close = open_source(src)
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as ex:
            _read_pieces(fh, _input_size(src), ex, workers, _Merger(cols, skipped, name),
                         {"zone_names": cols.zone_names, "strict": strict, "name": name})
    finally:
        if close:
            fh.close()
    return name


def _read_pieces(fh, size: int | None, ex, workers: int, merger: _Merger, kw: dict) -> None:
    """The parent cuts the text (a gzip stream, an open file, literal text) and sends the pieces."""
    chunk = _chunk(size if size is not None else CHUNK_BYTES * workers, workers)
    pending: deque = deque()
    text = pieces(fh, kw["name"], chunk)
    try:
        while True:
            try:
                piece, at_eof = next(text)
            except StopIteration:
                break
            except ParseError:
                # a damaged gzip stream: the pieces before the damage come first
                while pending:
                    merger.add(pending.popleft().result())
                raise
            pending.append(ex.submit(scan_piece, piece.encode("utf-8", "surrogatepass"), at_eof, **kw))
            while len(pending) > 2 * workers:
                merger.add(pending.popleft().result())
        while pending:
            merger.add(pending.popleft().result())
    finally:
        for f in pending:
            f.cancel()

