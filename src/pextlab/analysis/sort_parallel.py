"""``pextlab sort`` on a big dump with several processes (standard library only).

A plain file is cut at :data:`~pextlab.procfs.page_owner_grammar.CUT` places
(an empty line before a header), each worker process reads its byte range into
its own :class:`~pextlab.analysis.sort_text.SortEngine`, and the parent merges
the groups in file order: a group's first record is the first in the file,
counts add up, and the sort that follows is the serial one, so the output is
the same bytes whatever the number of workers.  Input the text engine refuses
in any piece (:class:`~pextlab.analysis.sort_text.NotPlainDump`) is refused as
a whole, as the serial engine would.

The command imports this module only when it reads with more than one process
(multiprocessing alone takes longer to import than the kernel's tool takes to
sort a small dump).  Workers come from
:class:`concurrent.futures.ProcessPoolExecutor` (standard library; results in
submission order, errors reach the caller), forked where the platform allows.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from ..procfs.page_owner_grammar import cut_points
from ..procfs.textio import open_text_range
from .sort_text import SortEngine, TextSortResult

__all__ = ["CHUNK_BYTES", "sort_range", "sort_text_parallel"]

#: The largest piece a worker reads at a time.
CHUNK_BYTES = 8 << 20


def sort_range(path, start: int, stop: int, options: dict) -> tuple:
    """Worker: the :meth:`~pextlab.analysis.sort_text.SortEngine.partial` of bytes ``start:stop``."""
    engine = SortEngine(**options)
    with open_text_range(path, start, stop) as fh:
        engine.feed(fh)
    return engine.partial()


def sort_text_parallel(path, workers: int, **options) -> TextSortResult:
    """:func:`~pextlab.analysis.sort_text.sort_text` of a plain file with ``workers`` processes."""
    engine = SortEngine(**options)
    size = os.path.getsize(path)
    chunk = max(64 << 10, min(CHUNK_BYTES, size // (4 * workers)))
    ranges = list(itertools.pairwise(cut_points(path, size, chunk)))
    if multiprocessing.current_process().daemon:     # may not start processes: same work here
        for a, z in ranges:
            engine.merge(sort_range(path, a, z, options))
        return engine.result()
    ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as ex:
        futures = [ex.submit(sort_range, path, a, z, options) for a, z in ranges]
        try:
            for f in futures:
                engine.merge(f.result())
        finally:
            for f in futures:
                f.cancel()
    return engine.result()
