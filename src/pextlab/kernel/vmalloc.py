"""The page side of vmalloc (mm/vmalloc.c): ``vm_area_alloc_pages``.

vmalloc backs an area with order-0 pages taken by the bulk allocator in
requests of at most 100 pages; a request that comes back short (or page_owner
on, where the bulk allocator hands out one page per call) ends the bulk phase
and the rest come one ``__alloc_pages`` at a time until one fails.
"""
from __future__ import annotations

import numpy as np

from ..errors import PextlabError
from .page_alloc import alloc_pages_bulk, alloc_pages_loop

__all__ = ["VMALLOC_BULK_MAX", "vm_area_alloc_pages"]

VMALLOC_BULK_MAX = 100          # vm_area_alloc_pages: "hard-coded and is 100 pages per call"


def vm_area_alloc_pages(mm, gfp: int, nr_pages: int, nid: int | None = None) -> np.ndarray:
    """mm/vmalloc.c vm_area_alloc_pages (order 0): the pfns of up to ``nr_pages`` pages,
    fewer when the allocator fails."""
    if isinstance(nr_pages, bool) or not isinstance(nr_pages, (int, np.integer)):
        raise PextlabError(f"vm_area_alloc_pages: nr_pages must be an int, got {nr_pages!r}")
    nr_pages = int(nr_pages)
    parts = []
    got = 0
    while got < nr_pages:
        want = min(VMALLOC_BULK_MAX, nr_pages - got)
        a = alloc_pages_bulk(mm, gfp, want, nid)
        parts.append(a)
        got += len(a)
        if len(a) != want:
            break
    if got < nr_pages:
        parts.append(alloc_pages_loop(mm, gfp, nr_pages - got, nid))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
