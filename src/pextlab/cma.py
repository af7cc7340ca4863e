"""CMA as a user drives it: ``cma_alloc`` / ``cma_release`` on a simulated machine
(what a driver's dma_alloc_from_contiguous, or a write to
``/sys/kernel/debug/cma/<name>/alloc``, does), over :mod:`pextlab.kernel.cma`.

Each function takes the kernel state ``mm``; :class:`pextlab.Machine` forwards its
verbs of the same names here.  A failure comes back as a value
(:class:`CmaOutcome`, ``error`` "EBUSY"...) with the page_owner records of the
pages that were in the way (``blocking``) -- the question a CMA failure always
raises: who holds those pages, and could the kernel have moved them?

>>> import pextlab
>>> m = pextlab.boot("1G", "page_owner=on cma=64M")
>>> r = m.cma_alloc(16384); r.ok, r.pfn, r.count
(True, 245248, 16384)
>>> m.df_cma()[["name", "used", "maxchunk", "alloc_pages_success"]].values.tolist()
[['reserved', 16384, 0, 16384]]
>>> m.cma_release(r)
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import PextlabError
from .frames.sim import df_page_owner
from .kernel import cma as kcma
from .schema import empty

__all__ = ["CmaOutcome", "cma_alloc", "cma_release"]


@dataclass
class CmaOutcome:
    """What a cma_alloc request returned.

    ok : bool
    error : str or None      -- "EBUSY" (a page could not be moved), "ENOMEM" (no free
                                window, no page to migrate to, or a request the kernel
                                refuses before trying: count 0 or above the area)
    pfn : int                -- first page (-1 on failure); ``count`` pages from there
    count, align (pages), name (the area)
    migrated : int           -- base pages migrated out of the windows tried
    retries : int            -- windows found busy
    first_busy_pfn : int     -- first page in use of the last busy window (-1 none)
    blocking : DataFrame     -- page_owner rows (df_page_owner schema) of the blocks in the
                                way of the last busy window (a ``pfn`` column only when
                                page_owner is off)
    blocking_pfns : list     -- every page in the way
    dump : list              -- dump_page of the first busy page with its page_owner record
    dmesg : list             -- the lines the request printed
    reason : str or None     -- why the kernel returned NULL without trying
    """
    ok: bool
    error: str | None
    pfn: int
    count: int
    align: int
    name: str
    migrated: int = 0
    retries: int = 0
    first_busy_pfn: int = -1
    blocking: pd.DataFrame = field(default_factory=lambda: empty("page_owner"))
    blocking_pfns: list = field(default_factory=list)
    dump: list = field(default_factory=list)
    dmesg: list = field(default_factory=list)
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self):
        if self.ok:
            return (f"<CmaOutcome ok {self.name} pfn {self.pfn:#x}+{self.count} "
                    f"migrated={self.migrated}>")
        return (f"<CmaOutcome {self.error} {self.name} count={self.count} "
                f"first_busy_pfn={self.first_busy_pfn:#x} blocking={len(self.blocking)} block(s)>"
                if self.first_busy_pfn >= 0 else
                f"<CmaOutcome {self.error} {self.name} count={self.count} reason={self.reason!r}>")


def _align_order(align) -> int:
    if align is None:
        return 0
    if isinstance(align, bool) or not isinstance(align, int) or align < 1 or align & (align - 1):
        raise PextlabError(f"align is a number of pages, a power of two (1, 2, 4, ...); got {align!r}")
    return align.bit_length() - 1


def _blocking(mm, pfns: list) -> pd.DataFrame:
    """page_owner rows of the allocated blocks holding any of ``pfns`` (a head may lie
    up to one MAX_PAGE_ORDER block before the first of them)."""
    if mm.page_owner is None:
        return pd.DataFrame({"pfn": pd.Series(pfns, dtype="int64")})
    if not pfns:
        return empty("page_owner")
    want = np.unique(np.asarray(pfns, dtype=np.int64))
    lo = max(int(want[0]) - (1 << mm.profile.max_page_order), 0)
    po = df_page_owner(mm, lo, int(want[-1]) + 1)
    start = po["pfn"].to_numpy()
    end = start + po["nr_pages"].to_numpy()
    hits = np.searchsorted(want, end) - np.searchsorted(want, start)
    return po[hits > 0].reset_index(drop=True)


def cma_alloc(mm, count: int, align=None, name: str | None = None, no_warn: bool = False) -> CmaOutcome:
    """Allocate ``count`` contiguous pages from the CMA area ``name`` (default: the first,
    "reserved" of ``cma=``), aligned to ``align`` pages (a power of two; default 1, as
    the debugfs ``alloc`` file asks).  mm/cma.c cma_alloc: see :mod:`pextlab.kernel.cma`."""
    if isinstance(count, bool) or not isinstance(count, int):
        raise PextlabError(f"count is a number of pages, got {count!r}")
    if count < 0:
        raise PextlabError(f"count must be >= 0 pages, got {count}")
    area = kcma.cma_area(mm, name)
    r = kcma.cma_alloc(mm, area, count, _align_order(align), no_warn)
    return CmaOutcome(r.ok, r.errno, r.pfn, r.count, 1 << r.align, r.name, r.migrated, r.retries,
                      r.first_busy_pfn, _blocking(mm, r.busy_pfns), list(r.busy_pfns), list(r.dump),
                      list(r.dmesg), r.reason)


def cma_release(mm, result_or_pfn, count: int | None = None, name: str | None = None) -> bool:
    """Give back pages cma_alloc handed out: a :class:`CmaOutcome` (all its pages), or a
    first pfn and ``count`` (default: the whole allocation starting there).  False when
    the pfn lies outside the area (the kernel's cma_release answer)."""
    if isinstance(result_or_pfn, CmaOutcome):
        if not result_or_pfn.ok:
            raise PextlabError("cma_release: this cma_alloc failed; there is nothing to release")
        pfn = result_or_pfn.pfn
        name = result_or_pfn.name if name is None else name
        count = result_or_pfn.count if count is None else count
    else:
        pfn = int(result_or_pfn)
    area = kcma.cma_area(mm, name)
    if count is None:
        count = area.allocations.get(pfn, 0)
    return kcma.cma_release(mm, area, pfn, int(count))
