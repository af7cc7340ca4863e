"""Debug guard pages (mm/debug_page_alloc.c; v3.19: mm/page_alloc.c + a page_ext bit).

With ``debug_pagealloc=on debug_guardpage_minorder=N`` the buddy allocator's
``expand()`` does not free the split-off halves below order N: it turns them
into *guard pages* that nobody can allocate, so an overrun into them faults.
They merge back when their buddy is freed.  The mechanism itself lives in
``buddy.set_page_guard`` / ``clear_page_guard``; ``mm.nr_guard_pages``
counts them.

v3.19..v5.3 marked guard pages with PAGE_EXT_DEBUG_GUARD in page_ext, so the
``debug_guardpage_ops`` client needs page_ext whenever debug_pagealloc is on;
v5.4+ uses a page type and no page_ext.
"""
from __future__ import annotations

from .page_ext import PAGE_EXT_DEBUG_GUARD, PageExtOperations

__all__ = ["debug_guardpage_ops", "GuardPageBits"]


class GuardPageBits:
    """v3.19's PAGE_EXT_DEBUG_GUARD bit, set and cleared as guard pages come and go
    (``mm.page_ext_guard_hook`` is its bound ``mark``: a copy of the machine -- a
    snapshot -- marks its own tables)."""

    def __init__(self, mm):
        self.mm = mm

    def mark(self, pfn: int, on: bool) -> None:
        m = self.mm
        t = m.sections[pfn >> m.section_shift].page_ext
        if t is None:
            return
        off = pfn & m.section_mask
        if on:
            t.fmv[off] = t.fmv[off] | PAGE_EXT_DEBUG_GUARD
        else:
            t.fmv[off] = t.fmv[off] & ~PAGE_EXT_DEBUG_GUARD


def need_debug_guardpage(m) -> bool:
    """mm/debug_page_alloc.c need_debug_guardpage: debug_pagealloc=on."""
    return bool(m.params.debug_pagealloc)


def init_debug_guardpage(m) -> None:
    """mm/debug_page_alloc.c init_debug_guardpage: the guard bit's hook."""
    m.page_ext_guard_hook = GuardPageBits(m).mark


def debug_guardpage_ops(mm) -> PageExtOperations:
    """The client's ``page_ext_operations`` (module-level functions: a machine pickles)."""
    return PageExtOperations("debug_guardpage", need_debug_guardpage, init_debug_guardpage,
                             size=0, need_shared_flags=True)
