"""Pinning user pages (mm/gup.c, v6.12): ``pin_user_pages`` / ``unpin_user_pages``.

A pin (FOLL_PIN) is a reference a driver holds on a user page while a device
reads or writes it: the kernel adds GUP_PIN_COUNTING_BIAS to an order-0 page's
refcount (``_pincount`` for a large folio) and ``folio_maybe_dma_pinned`` tells
everyone else.  The model keeps the count per allocated head in
``MemSection.pincount`` (:mod:`pextlab.kernel.mmzone`).  While a page is pinned
it cannot be migrated (mm/migrate.c refuses it, :mod:`pextlab.kernel.migrate`),
so compaction skips it, memory offlining fails on it and so does
alloc_contig_range -- the classic reason a CMA allocation fails.

Two kinds of pin:

* short-term (``pin_user_pages`` without FOLL_LONGTERM: O_DIRECT I/O in flight):
  the page is pinned where it is, CMA or ZONE_MOVABLE included;
* long-term (FOLL_LONGTERM: RDMA registration, vfio): ``__gup_longterm_locked``
  first calls ``check_and_migrate_movable_pages``: every page that is not
  longterm-pinnable (``folio_is_longterm_pinnable``: in a MIGRATE_CMA or
  MIGRATE_ISOLATE pageblock, or in ZONE_MOVABLE) is migrated to a page that is
  (``migrate_longterm_unpinnable_folios``: GFP_USER | __GFP_NOWARN under
  memalloc_pin_save, so never movable, reason ``longterm_pin``), then the pin is
  retried (-EAGAIN) and taken on the new page.  When no page can be had the pin
  fails (-ENOMEM) and nothing is pinned.

The model pins blocks that are already allocated (the user's buffer was faulted
in before the pin: pages that GUP faults in itself under memalloc_pin_save are
allocated non-movable and never land in CMA in the first place).
"""
from __future__ import annotations

import numpy as np

from . import migrate

# compiled: kernel/_gup.pyx (the head check, folio_is_longterm_pinnable, one pin)
from ._gup import check_head, folio_is_longterm_pinnable, pin_head, unpin_head

__all__ = ["pin_user_pages", "unpin_user_pages", "folio_is_longterm_pinnable",
           "check_and_migrate_movable_pages", "page_pincount", "nr_pinned_pages",
           "LONGTERM_PIN_TARGET_STACK"]

#: the allocation of a long-term pin's migration target (no offsets: unknown in the
#: captured build)
LONGTERM_PIN_TARGET_STACK = (
    "get_page_from_freelist", "__alloc_pages_noprof", "__folio_alloc_noprof",
    "alloc_migration_target", "migrate_pages_batch", "migrate_pages",
    "migrate_longterm_unpinnable_folios", "check_and_migrate_movable_pages_or_folios",
    "__gup_longterm_locked", "pin_user_pages_fast",
)


def check_and_migrate_movable_pages(mm, blocks):
    """mm/gup.c check_and_migrate_movable_pages for ``blocks`` [(pfn, order)]: migrate
    the ones that are not longterm-pinnable.  Returns (pfns after migration, in
    order, or None for the whole call when a target could not be had: -ENOMEM)."""
    out = [p for p, _ in blocks]
    todo = [(i, p, o) for i, (p, o) in enumerate(blocks) if not folio_is_longterm_pinnable(mm, p)]
    if not todo:
        return out
    bits = mm.profile.gfp_bits
    gfp = mm.gfp("GFP_USER") | bits["__GFP_NOWARN"]          # memalloc_pin: never movable
    moved_all = []
    for i, p, o in todo:
        zone = mm.zone_of_pfn(p)
        moved, failed, _ = migrate.migrate_pages(mm, [(p, o)], "longterm_pin", zone.nid, zone.idx,
                                                 gfp=gfp, exclude_nid=False,
                                                 stack=LONGTERM_PIN_TARGET_STACK)
        if failed:
            migrate.notify_moved(mm, moved_all, "longterm_pin")
            return None
        moved_all += moved
        migrate.free_sources(mm, moved)
        out[i] = moved[0][1]
    migrate.notify_moved(mm, moved_all, "longterm_pin")
    return out


def pin_user_pages(mm, blocks, longterm: bool = False):
    """Pin allocated blocks [(pfn, order)] (FOLL_PIN, FOLL_LONGTERM when ``longterm``).

    Returns the pinned pfns (a long-term pin may have moved a block first; followers
    of ``mm.migrate_notifiers`` were told), or None when a long-term pin could not
    migrate a block (-ENOMEM: nothing pinned).
    """
    blocks = [(int(p), int(o)) for p, o in blocks]
    for p, _ in blocks:
        check_head(mm, p, "pin_user_pages")
    pfns = check_and_migrate_movable_pages(mm, blocks) if longterm else [p for p, _ in blocks]
    if pfns is None:
        return None
    for p in pfns:
        pin_head(mm, p)
    return pfns


def unpin_user_pages(mm, pfns) -> None:
    """mm/gup.c unpin_user_pages: drop one pin of each block (PextlabError at the first
    that is not a pinned block's head; the ones before it are unpinned)."""
    for p in pfns:
        unpin_head(mm, int(p))


def page_pincount(mm, pfn: int) -> int:
    """The pins held on the block headed at ``pfn`` (0 when none)."""
    sec = mm.section_of(pfn)
    if sec is None or sec.pincount is None:
        return 0
    return int(sec.pincount[pfn & mm.section_mask])


def nr_pinned_pages(mm) -> int:
    """Base pages of every pinned block (vmstat's nr_foll_pin_acquired counts pins,
    this counts pages)."""
    n = 0
    for sec in mm.sections:
        if sec is not None and sec.pincount is not None:
            idx = np.flatnonzero(sec.pincount > 0)
            n += int(np.sum(np.left_shift(1, sec.order_np()[idx].astype(np.int64))))
    return n
