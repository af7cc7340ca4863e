"""Opening kernel text files the way captures store them.

A *capture* is a folder with one file per kernel file (see ``docs`` in the
README): ``buddyinfo``, ``buddyinfo.txt``, ``buddyinfo.txt.gz``, ``buddyinfo.gz``,
and snapshot variants ``buddyinfo.after_compact.txt`` etc.  ``find_capture_file``
resolves a kernel name (and optional snapshot label) to the file on disk;
``open_text`` opens plain or gzipped text for streaming; ``iter_text`` reads
it in blocks, turning a damaged or cut-short gzip stream into a
:class:`~pextlab.errors.ParseError` that names the line where the text stops.
Standard library only (``pextlab sort`` reads through it).
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import IO, Iterable, Iterator

from ..errors import ParseError

__all__ = ["open_text", "iter_text", "read_text", "open_text_range", "find_capture_file", "source_name"]

#: Characters per read (the granularity at which a damaged gzip stream is noticed).
_PIECE_CHARS = 1 << 16


def source_name(src) -> str:
    """A printable name for a path or file object (used in ParseError)."""
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    return getattr(src, "name", "<stream>")


def open_text(src) -> IO[str]:
    """Open ``src`` (path, ``.gz`` path, or an already open text/binary file) as text.

    Gzip is detected by magic bytes, not only by suffix.
    """
    if isinstance(src, (str, os.PathLike)):
        p = Path(src)
        with open(p, "rb") as fh:
            magic = fh.read(2)
        if magic == b"\x1f\x8b":
            return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", errors="replace")
        return open(p, "r", encoding="utf-8", errors="replace")
    if isinstance(src, io.TextIOBase):
        return src
    if hasattr(src, "read"):
        return io.TextIOWrapper(src, encoding="utf-8", errors="replace")
    raise TypeError(f"cannot open {src!r} as text")


def iter_text(fh: IO[str], block_chars: int, name: str) -> Iterator[str]:
    """The text of ``fh`` in blocks of about ``block_chars`` characters.

    A gzip stream that is cut short (``EOFError``), damaged
    (``gzip.BadGzipFile``, ``zlib.error``) or followed by garbage ends the text
    with a :class:`~pextlab.errors.ParseError` naming the line where the
    readable text stops.  The file is read in pieces of the same size whatever
    ``block_chars`` is, so a reader sees the same text before the fault and
    names the same line for any block size.
    """
    parts: list[str] = []
    have = lines = 0
    while True:
        try:
            piece = fh.read(_PIECE_CHARS)
        except (EOFError, OSError, zlib.error) as e:
            if parts:
                yield "".join(parts)
            raise ParseError(name, lines + 1, "readable text (a complete gzip stream, or plain text)",
                             f"{type(e).__name__}: {e}") from None
        if not piece:
            if parts:
                yield "".join(parts)
            return
        parts.append(piece)
        have += len(piece)
        lines += piece.count("\n")
        if have >= block_chars:
            yield "".join(parts)
            parts, have = [], 0


class _Window(io.RawIOBase):
    """Bytes ``start:stop`` of a file, as a raw stream."""

    def __init__(self, path, start: int, stop: int):
        super().__init__()
        self._fh = open(path, "rb", buffering=0)
        self._fh.seek(start)
        self._left = stop - start

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._fh.readinto(memoryview(b)[:min(len(b), self._left)]) or 0
        self._left -= n
        return n

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_text_range(path, start: int, stop: int) -> IO[str]:
    """Bytes ``start:stop`` of a plain file as text, read as :func:`open_text` reads
    the whole file (UTF-8 with replacement characters, universal newlines, streamed);
    ``start`` and ``stop`` must fall just after a newline or at the ends of the file."""
    return io.TextIOWrapper(io.BufferedReader(_Window(path, start, stop)), encoding="utf-8", errors="replace")


def read_text(src) -> str:
    """The whole text of a (small) kernel file.

    Raises
    ------
    ParseError
        For a damaged gzip stream, as :func:`iter_text`.
    """
    if isinstance(src, str) and "\n" in src:
        return src  # already text
    with open_text(src) as fh:
        return "".join(iter_text(fh, 1 << 62, source_name(src)))


def _candidates(name: str, snapshot: str | None) -> Iterable[str]:
    stems = [f"{name}.{snapshot}"] if snapshot else []
    stems.append(name)
    for stem in stems:
        for suffix in ("", ".txt", ".txt.gz", ".gz", ".bin", ".bin.gz"):
            yield stem + suffix


def find_capture_file(folder, name: str, snapshot: str | None = None) -> Path | None:
    """Resolve kernel file ``name`` in a capture folder, preferring ``snapshot``.

    ``find_capture_file(d, "buddyinfo", "after_compact")`` returns
    ``d/buddyinfo.after_compact.txt`` when present, else ``d/buddyinfo.txt``,
    else None.
    """
    folder = Path(folder)
    for cand in _candidates(name, snapshot):
        p = folder / cand
        if p.is_file():
            return p
    return None
