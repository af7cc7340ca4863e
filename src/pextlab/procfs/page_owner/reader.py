"""Reading page_owner dumps into ``page_owner`` frames, whole or in chunks."""
from __future__ import annotations

import warnings
from typing import Iterator

import pandas as pd

from ..page_owner_grammar import ZONE_NAMES
from ._frame import Builder
from ._parallel import plain_file, plan_workers, read_parallel
from ._scan import BLOCK_CHARS, open_source, records

__all__ = ["read_page_owner", "iter_page_owner_chunks"]


def _finish(df: pd.DataFrame, b: Builder, skipped: list, name: str) -> pd.DataFrame:
    df.attrs["skipped"] = len(skipped)
    df.attrs["skipped_lines"] = sorted(skipped)[:20]
    df.attrs["source"] = name
    if b.block_mismatch:
        df.attrs["block_mismatch"] = b.block_mismatch
        hint = f" (the file implies pageblock_order={b.implied_order})" if b.implied_order is not None else ""
        warnings.warn(f"{name}: {b.block_mismatch} records print a Block number different from "
                      f"pfn >> {b.pageblock_order}{hint}", stacklevel=3)
    return df


def read_page_owner(src, *, strict: bool = True, pageblock_order: int = 9, section_size_bits: int = 27,
                    sections_per_block: int = 1, zone_names=ZONE_NAMES, workers: int | None = None) -> pd.DataFrame:
    """Read a ``/sys/kernel/debug/page_owner`` dump of any kernel version into a frame.

    Parameters
    ----------
    src : path, file object or str
        A plain or gzipped file (detected by magic bytes), an open text/binary
        file, or the dump's text itself (a string containing a newline).
    strict : bool
        True: the first malformed record raises :class:`~pextlab.errors.ParseError`
        naming the file, the 1-based line and what was expected -- a line out
        of the format, a record cut short, a damaged gzip stream, or a number
        the kernel cannot print (an order above 18, a pid from PID_MAX_LIMIT
        on, a node from MAX_NUMNODES on, a zone index beyond ``zone_names``, a
        pfn or ``Block`` from 2**52 on, a time from 2**63 ns on: see
        :mod:`pextlab.procfs.limits`).  False: bad records are skipped;
        ``df.attrs["skipped"]`` counts them and ``df.attrs["skipped_lines"]``
        lists (up to 20) line numbers where they failed.
    pageblock_order : int
        For the ``pageblock`` column (``pfn >> pageblock_order``; 9 on x86_64).
    section_size_bits : int
        SECTION_SIZE_BITS (27 on x86_64): ``section = pfn >> (section_size_bits - 12)``.
    sections_per_block : int
        Sections per memory block: ``memory_block = section // sections_per_block``.
    zone_names : sequence of str
        Zone index -> name for ``zone=Z`` in the ``%pGp`` flags.
    workers : int or None
        Processes that parse the dump: None reads inputs of 32 MB or more
        (``page_owner_grammar.PARALLEL_MIN_BYTES``) with one process per core
        and smaller ones in this process; 1 reads serially; N uses N processes.  The result
        does not depend on it: the same rows, dtypes, ``attrs`` and warnings,
        and in strict mode the same error naming the same line.

    Returns
    -------
    pandas.DataFrame
        Schema ``"page_owner"`` (see ``pextlab.schema`` and this module's
        docstring), one row per record in file order.

    Notes
    -----
    The file is read in blocks of a few MB, cut at record boundaries (an empty
    line before a header) and parsed with array operations where a block has
    the kernel's plain layout, else with one regular expression per block; only
    compact numpy columns and interned strings (stacks, comms, gfp names) are
    kept, so a multi-GB dump needs memory in proportion to its record count,
    not its size.  With several workers, a plain file is cut into byte ranges
    that the workers read themselves; a gzip file is decompressed once, as a
    stream, by this process, which sends the pieces to the workers.  Either
    way the pieces' results are merged in file order.
    """
    n = plan_workers(src, workers)
    if n > 1 or plain_file(src) is not None:
        b = Builder(pageblock_order=pageblock_order, section_size_bits=section_size_bits,
                    sections_per_block=sections_per_block, zone_names=zone_names)
        skipped: list[int] = []
        name = read_parallel(src, n, b.cols, strict=strict, skipped=skipped)
        return _finish(b.frame(), b, skipped, name)
    parts = list(iter_page_owner_chunks(src, chunk_records=None, strict=strict,
                                        pageblock_order=pageblock_order,
                                        section_size_bits=section_size_bits,
                                        sections_per_block=sections_per_block,
                                        zone_names=zone_names))
    return parts[0]


def iter_page_owner_chunks(src, chunk_records: int | None = 100_000, *, strict: bool = True,
                           pageblock_order: int = 9, section_size_bits: int = 27,
                           sections_per_block: int = 1, zone_names=ZONE_NAMES) -> Iterator[pd.DataFrame]:
    """Stream a page_owner dump as frames of about ``chunk_records`` rows.

    Same parameters and schema as :func:`read_page_owner`.  ``stack_handle``
    numbering and categories are consistent across chunks (a stack keeps its
    handle); each chunk's ``attrs`` carries the running ``skipped`` count.
    Nothing is yielded for an empty file.  ``chunk_records=None`` yields one frame.
    Any chunk size reads a file as :func:`read_page_owner` does: the same
    rows, or the same :class:`~pextlab.errors.ParseError` (strict mode).
    """
    b = Builder(pageblock_order=pageblock_order, section_size_bits=section_size_bits,
                 sections_per_block=sections_per_block, zone_names=zone_names)
    fh, name, close = open_source(src)
    skipped: list[int] = []
    try:
        pending = 0
        block = BLOCK_CHARS if chunk_records is None else max(1 << 16, min(BLOCK_CHARS, chunk_records * 512))
        for n in records(fh, b.cols, name=name, strict=strict, skipped=skipped, block_chars=block):
            if chunk_records is not None and n - pending >= chunk_records:
                pending = n
                yield _finish(b.frame(), b, skipped, name)
        if chunk_records is None or b.cols.n > pending:
            yield _finish(b.frame(), b, skipped, name)
    finally:
        if close:
            fh.close()

