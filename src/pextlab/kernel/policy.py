"""Fallback policies: what the buddy allocator does when a migratetype's own free
lists are empty (mm/page_alloc.c ``__rmqueue_fallback`` and friends).

Every rule that decides how pages of one migratetype end up in pageblocks of
another lives behind one small interface, :class:`FallbackPolicy`, so a
notebook user can swap it, subclass it, or write a new one, and
:func:`check_policy` runs the allocator invariants (``kernel.debug``) against it.

The allocator calls exactly one method, ``rmqueue_fallback(mm, zone, order,
start_mt, alloc_flags)``; it returns the head pfn of a 2^order block that the
policy took off the free lists (``-1`` when it found nothing).  The shipped
policies build that from smaller decisions a subclass can override:

``fallbacks(mm, start_mt)``
    the migratetypes to take from, in order (the kernel's ``fallbacks[][]``).
``should_try_claim_block(mm, order, start_mt)``
    whether a free block of ``order`` found on another type's list may be used
    to claim its whole pageblock (v6.12 ``should_try_claim_block``, older
    ``can_steal_fallback``).
``claim_enough(mm, free_pages, alike_pages)``
    whether a pageblock with that many free and "alike" pages is converted
    (``free + alike >= pageblock_nr_pages / 2``).
``boost``
    whether a fragmenting claim boosts the zone's watermarks
    (``boost_watermark``, ``vm.watermark_boost_factor``).
``mobility_grouping``
    ``False`` makes the machine behave as with ``page_group_by_mobility_disabled``:
    every allocation is MIGRATE_UNMOVABLE (gfp_migratetype) and every claim
    succeeds.  ``None`` keeps what the machine booted with.

Shipped policies
----------------
``ClaimStealPolicy`` ("v6.12")
    The fallback path of the captured 6.12.117 kernel: the v6.15 split,
    backported to 6.12.y stable ("mm: page_alloc: speed up fallbacks in
    rmqueue_bulk()", Cc: stable 6.10+): ``__rmqueue_claim`` walks orders from
    MAX_PAGE_ORDER down and claims a whole pageblock when it may
    (``try_to_claim_block``), then ``__rmqueue_steal`` takes the *smallest*
    suitable foreign block without touching the pageblock's type.
``StealSuitablePolicy`` ("v6.12-unsplit")
    The v6.10 ``__rmqueue_fallback`` with ``steal_suitable_fallback``: largest
    order first; a movable request that cannot claim falls back to the smallest
    block.
``V319Policy`` ("v3.19")
    ``try_to_steal_freepages`` of v3.19: largest order first, move the free
    pages of the block and keep it if half the block moved.
``NoMobilityGrouping`` ("no-grouping")
    ``ClaimStealPolicy`` with grouping by mobility switched off.

Example: a user rule -- never claim below a whole pageblock::

    class NoSmallClaims(ClaimStealPolicy):
        name = "no-small-claims"
        def should_try_claim_block(self, mm, order, start_mt):
            return order >= mm.pageblock_order

    m = pextlab.boot("1G", cmdline="page_owner=on", policy=NoSmallClaims())
    pextlab.check_policy(NoSmallClaims())      # [] when every invariant holds

The three generations of the fallback logic live here, each a function of the
policy object it runs for (so a subclass's decisions are the ones used):
``rmqueue_claim`` / ``rmqueue_steal`` (6.12.y), ``rmqueue_fallback_unsplit``
(v6.10), ``rmqueue_fallback_v319``.  They are built on the free-list
primitives of :mod:`pextlab.kernel.buddy`; the allocator reaches a policy only
through ``mm.policy.rmqueue_fallback`` (``buddy.__rmqueue``).
"""
from __future__ import annotations

from ..errors import PextlabError
from .buddy import (change_pageblock_range, del_page_from_free_list,
                    add_to_free_list, expand, rmqueue_smallest, scan_pageblock,
                    move_freepages_block, set_pageblock_migratetype, get_pageblock_migratetype,
                    boost_watermark)
from .mmzone import MT_SHIFT, MT_MASK
from .ring_buffer import EV_EXTFRAG, pack_extfrag
from .vmstat import count_vm_event

__all__ = ["FallbackPolicy", "trace_extfrag", "ClaimStealPolicy", "StealSuitablePolicy", "V319Policy",
           "NoMobilityGrouping", "POLICIES", "get_policy", "default_policy", "set_policy",
           "rmqueue_claim", "rmqueue_steal", "rmqueue_fallback_unsplit", "rmqueue_fallback_v319",
           "try_to_claim_block", "find_suitable_fallback"]


class FallbackPolicy:
    """Base class of fallback policies (see the module docstring)."""

    name = "base"
    mobility_grouping: bool | None = None
    boost = True

    # --- decisions ------------------------------------------------------------------------
    def fallbacks(self, mm, start_mt: int) -> tuple:
        """Migratetypes to fall back to, in order (mm/page_alloc.c fallbacks[][])."""
        return mm.profile.fallbacks.get(start_mt, ())

    def should_try_claim_block(self, mm, order: int, start_mt: int) -> bool:
        """v6.12.y should_try_claim_block / older can_steal_fallback (mm/page_alloc.c)."""
        pb = mm.pageblock_order
        if order >= pb:
            return True
        # "Movable pages won't cause permanent fragmentation, so when you alloc small
        # pages, we just need to temporarily steal unmovable or reclaimable pages that
        # are closest to the request size."  Large orders claim anyway.
        if order >= pb // 2:
            return True
        if start_mt in mm.profile.always_steal_types:
            return True
        return not mm.mobility_grouping

    def claim_enough(self, mm, free_pages: int, alike_pages: int) -> bool:
        """try_to_claim_block: claim when at least half the block is free or alike."""
        if not mm.mobility_grouping:
            return True
        alike = alike_pages if mm.profile.count_alike_pages else 0
        return free_pages + alike >= (1 << (mm.pageblock_order - 1))

    # --- the one entry point --------------------------------------------------------------
    def rmqueue_fallback(self, mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
        """Take a 2^order block from another migratetype's lists; its head pfn or -1."""
        raise NotImplementedError(f"{type(self).__name__} must define rmqueue_fallback")

    # --- life cycle -----------------------------------------------------------------------
    def attach(self, mm) -> None:
        """Install on ``mm`` (called by :func:`set_policy`)."""
        if mm.boot_mobility_grouping is None:
            mm.boot_mobility_grouping = mm.mobility_grouping
        want = self.mobility_grouping
        mm.mobility_grouping = mm.boot_mobility_grouping if want is None else bool(want)
        mm._ac_cache.clear()       # gfp_migratetype depends on mobility grouping

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}>"


class ClaimStealPolicy(FallbackPolicy):
    """v6.12 (6.12.y with the claim/steal split): ``__rmqueue_claim`` then ``__rmqueue_steal``."""

    name = "v6.12"

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        pfn = rmqueue_claim(self, mm, zone, order, start_mt, alloc_flags)
        if pfn >= 0:
            return pfn
        return rmqueue_steal(self, mm, zone, order, start_mt)


class StealSuitablePolicy(FallbackPolicy):
    """v6.10 ``__rmqueue_fallback`` + ``steal_suitable_fallback`` (before the split)."""

    name = "v6.12-unsplit"

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        return rmqueue_fallback_unsplit(self, mm, zone, order, start_mt, alloc_flags)


class V319Policy(FallbackPolicy):
    """v3.19 ``__rmqueue_fallback`` + ``try_to_steal_freepages`` (no watermark boost then)."""

    name = "v3.19"
    boost = False

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        return rmqueue_fallback_v319(self, mm, zone, order, start_mt, alloc_flags)


class NoMobilityGrouping(ClaimStealPolicy):
    """Grouping by mobility off (page_group_by_mobility_disabled): one migratetype for all."""

    name = "no-grouping"
    mobility_grouping = False


POLICIES = {"v6.12": ClaimStealPolicy, "v6.12-unsplit": StealSuitablePolicy,
            "v3.19": V319Policy, "no-grouping": NoMobilityGrouping,
            "no-mobility-grouping": NoMobilityGrouping}


def default_policy(profile) -> FallbackPolicy:
    return V319Policy() if profile.name == "v3.19" else ClaimStealPolicy()


def get_policy(policy) -> FallbackPolicy:
    """A policy instance from a name, a class or an instance."""
    if isinstance(policy, FallbackPolicy):
        return policy
    if isinstance(policy, type) and issubclass(policy, FallbackPolicy):
        return policy()
    try:
        return POLICIES[str(policy)]()
    except KeyError:
        raise PextlabError(f"unknown fallback policy {policy!r}; known: {', '.join(POLICIES)} "
                           f"(or a FallbackPolicy subclass/instance)") from None


def set_policy(mm, policy) -> FallbackPolicy:
    """Install ``policy`` on ``mm`` (``None``: the profile's default)."""
    pol = default_policy(mm.profile) if policy is None else get_policy(policy)
    pol.attach(mm)
    mm.policy = pol
    return pol


# --- the shared claim step ------------------------------------------------------------------

def _alike_pages(mm, start_mt: int, block_mt: int, free_pages: int, movable_pages: int) -> int:
    """try_to_claim_block's "alike" pages (v4.13+): movable pages for a movable request;
    for a movable block, the pages that are neither free nor movable."""
    mov = mm.profile.mt_movable
    if start_mt == mov:
        return movable_pages
    if block_mt == mov:
        return (1 << mm.pageblock_order) - (free_pages + movable_pages)
    return 0


def _claim_range(mm, zone, pfn: int, current_order: int, order: int, start_mt: int,
                 block_mt: int) -> int:
    """A free block of pageblock_order or more: it becomes ``start_mt`` whole and is
    split on ``start_mt``'s lists (the first branch of try_to_claim_block, v6.12.y, and
    of steal_suitable_fallback, v6.10)."""
    del_page_from_free_list(mm, zone, pfn, current_order, block_mt)
    change_pageblock_range(mm, pfn, current_order, start_mt)
    expand(mm, zone, pfn, order, current_order, start_mt)
    count_vm_event(mm, "pgsteal_fallback_claim")
    return pfn


def _claim_pageblock(pol, mm, zone, pfn: int, order: int, start_mt: int, block_mt: int) -> int:
    """Convert the pageblock holding ``pfn`` to ``start_mt`` if the policy's
    ``claim_enough`` holds for its free and "alike" pages, then allocate from it.

    prep_move_freepages_block (v6.10+) refuses a block that straddles the zone;
    __move_freepages_block moves the free pages on ``block_mt``'s lists (with
    v6.10's freelist hygiene that is every free page of the block).  The same step
    in 6.12.y try_to_claim_block and v6.10 steal_suitable_fallback.  Returns the
    pfn or -1 (not claimed).
    """
    start, heads, free_pages, movable_pages = scan_pageblock(mm, pfn)
    if start < zone.zone_start_pfn or start + (1 << mm.pageblock_order) > zone.zone_end_pfn:
        return -1
    alike = _alike_pages(mm, start_mt, block_mt, free_pages, movable_pages)
    if not pol.claim_enough(mm, free_pages, alike):
        return -1
    for hp, o, mt in heads:
        if mt != start_mt and mt == block_mt:
            del_page_from_free_list(mm, zone, hp, o, mt)
            add_to_free_list(mm, zone, hp, o, start_mt)
    set_pageblock_migratetype(mm, start, start_mt)
    count_vm_event(mm, "pgsteal_fallback_claim")
    return rmqueue_smallest(mm, zone, order, start_mt)


def _take_single(mm, zone, pfn: int, current_order: int, order: int, block_mt: int) -> int:
    """Split a foreign free block on its own lists; the pageblock keeps its type (the
    only way a block becomes mixed; freelist hygiene, v6.10+)."""
    del_page_from_free_list(mm, zone, pfn, current_order, block_mt)
    expand(mm, zone, pfn, order, current_order, block_mt)
    count_vm_event(mm, "pgsteal_fallback_single")
    return pfn


def trace_extfrag(mm, pfn: int, order: int, current_order: int, start_mt: int,
                  fallback_mt: int) -> None:
    """trace_mm_page_alloc_extfrag(page, alloc_order, fallback_order, alloc_migratetype,
    fallback_migratetype): change_ownership is read when the event fires
    (alloc_migratetype == the pageblock's type then), include/trace/events/kmem.h."""
    tr = mm.trace
    if tr is not None and tr.live[EV_EXTFRAG]:
        owner = int(get_pageblock_migratetype(mm, pfn) == start_mt)
        tr.event(mm, EV_EXTFRAG, pfn, order, start_mt, 0,
                 pack_extfrag(current_order, fallback_mt, owner))


# --- 6.12.y: __rmqueue_claim, then __rmqueue_steal ---------------------------------------------

def try_to_claim_block(pol, mm, zone, pfn: int, current_order: int, order: int, start_mt: int,
                       block_mt: int, alloc_flags: int) -> int:
    """mm/page_alloc.c try_to_claim_block (v6.15; 6.12.y): claim the pageblock of the free
    block at ``pfn`` (on ``block_mt``'s list) for ``start_mt`` and allocate from it.

    Orders >= pageblock_order change the whole range.  Below, the zone's watermarks
    are boosted first (when the policy boosts), then the block is converted if the
    policy's ``claim_enough`` holds.  Returns the pfn or -1 (block not claimed).
    """
    if current_order >= mm.pageblock_order:
        return _claim_range(mm, zone, pfn, current_order, order, start_mt, block_mt)
    if pol.boost:
        boost_watermark(mm, zone)
    return _claim_pageblock(pol, mm, zone, pfn, order, start_mt, block_mt)


def rmqueue_claim(pol, mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """mm/page_alloc.c __rmqueue_claim (6.12.y): from MAX_PAGE_ORDER down, take the largest
    foreign free block whose pageblock may be claimed and try to claim it."""
    fa = zone.free_area
    nr_free = zone.nr_free
    for current in range(mm.nr_orders - 1, order - 1, -1):
        if not nr_free[current]:
            continue
        if not pol.should_try_claim_block(mm, current, start_mt):
            continue
        area = fa[current]
        for fmt in pol.fallbacks(mm, start_mt):
            d = area[fmt]
            if not d:
                continue
            pfn = next(reversed(d))          # get_page_from_free_area: the list head
            got = try_to_claim_block(pol, mm, zone, pfn, current, order, start_mt, fmt,
                                     alloc_flags)
            if got >= 0:
                if mm.trace is not None:      # __rmqueue_claim
                    trace_extfrag(mm, got, order, current, start_mt, fmt)
                return got
            break                            # find_suitable_fallback returns the first type
    return -1


def rmqueue_steal(pol, mm, zone, order: int, start_mt: int) -> int:
    """mm/page_alloc.c __rmqueue_steal (6.12.y): the *smallest* foreign free block, split on
    its own lists; the pageblock keeps its type."""
    fa = zone.free_area
    for current in range(order, mm.nr_orders):
        if not zone.nr_free[current]:
            continue
        area = fa[current]
        for fmt in pol.fallbacks(mm, start_mt):
            if area[fmt]:
                pfn = _take_single(mm, zone, next(reversed(area[fmt])), current, order, fmt)
                if mm.trace is not None:      # __rmqueue_steal
                    trace_extfrag(mm, pfn, order, current, start_mt, fmt)
                return pfn
    return -1


# --- v6.10: __rmqueue_fallback with steal_suitable_fallback ------------------------------------

def find_suitable_fallback(pol, mm, zone, order: int, start_mt: int, only_stealable: bool):
    """mm/page_alloc.c find_suitable_fallback: the first fallback migratetype with a
    free block of ``order``.  Returns (fallback_mt, can_claim) or (-1, False); with
    ``only_stealable`` (the kernel's ``claimable``) only a claimable one."""
    if not zone.nr_free[order]:
        return -1, False
    area = zone.free_area[order]
    for fmt in pol.fallbacks(mm, start_mt):
        if not area[fmt]:
            continue
        steal = pol.should_try_claim_block(mm, order, start_mt)
        if not only_stealable or steal:
            return fmt, steal
    return -1, False


def steal_suitable_fallback(pol, mm, zone, pfn: int, current_order: int, order: int,
                            start_mt: int, fallback_mt: int, whole_block: bool) -> int:
    """v6.10 steal_suitable_fallback: claim the block or take a single page.  Returns the
    allocated pfn."""
    prof = mm.profile
    block_mt = get_pageblock_migratetype(mm, pfn)
    if prof.mt_highatomic is not None and block_mt == prof.mt_highatomic:
        whole_block = False
    if current_order >= mm.pageblock_order:
        return _claim_range(mm, zone, pfn, current_order, order, start_mt, fallback_mt)
    if pol.boost:
        boost_watermark(mm, zone)
    if whole_block:
        got = _claim_pageblock(pol, mm, zone, pfn, order, start_mt, block_mt)
        if got >= 0:
            return got
    return _take_single(mm, zone, pfn, current_order, order, fallback_mt)


def rmqueue_fallback_unsplit(pol, mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """v6.10 __rmqueue_fallback: largest order first; a movable request that cannot
    claim the block takes the smallest suitable block instead."""
    prof = mm.profile
    for current in range(mm.nr_orders - 1, order - 1, -1):
        fmt, steal = find_suitable_fallback(pol, mm, zone, current, start_mt, False)
        if fmt == -1:
            continue
        if not steal and start_mt == prof.mt_movable and current > order:
            for current in range(order, mm.nr_orders):
                fmt, steal = find_suitable_fallback(pol, mm, zone, current, start_mt, False)
                if fmt != -1:
                    break
        pfn = next(reversed(zone.free_area[current][fmt]))
        got = steal_suitable_fallback(pol, mm, zone, pfn, current, order, start_mt, fmt, steal)
        if mm.trace is not None:              # v6.10 __rmqueue_fallback
            trace_extfrag(mm, got, order, current, start_mt, fmt)
        return got
    return -1


# --- v3.19: __rmqueue_fallback with try_to_steal_freepages -------------------------------------

def try_to_steal_freepages_v319(pol, mm, zone, pfn: int, current_order: int, start_mt: int,
                                fallback_mt: int) -> int:
    """v3.19 try_to_steal_freepages: returns the migratetype to split into."""
    if fallback_mt == mm.profile.mt_cma:
        return fallback_mt
    if current_order >= mm.pageblock_order:
        change_pageblock_range(mm, pfn, current_order, start_mt)
        return start_mt
    if pol.should_try_claim_block(mm, current_order, start_mt):
        # move_freepages_block moves every free page of the block to start_mt's lists
        pages = move_freepages_block(mm, zone, pfn, start_mt)
        if pol.claim_enough(mm, pages, 0):
            set_pageblock_migratetype(mm, pfn, start_mt)
            return start_mt
    return fallback_mt


def rmqueue_fallback_v319(pol, mm, zone, order: int, start_mt: int, alloc_flags: int) -> int:
    """v3.19 __rmqueue_fallback: largest order first, try_to_steal_freepages."""
    for current in range(mm.nr_orders - 1, order - 1, -1):
        area = zone.free_area[current]
        for fmt in pol.fallbacks(mm, start_mt):
            d = area[fmt]
            if not d:
                continue
            pfn = next(reversed(d))
            new_mt = try_to_steal_freepages_v319(pol, mm, zone, pfn, current, start_mt, fmt)
            # the block may have been moved to start_mt's list by move_freepages_block
            cur_mt = (mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask]
                      & MT_MASK) >> MT_SHIFT
            del_page_from_free_list(mm, zone, pfn, current, cur_mt)
            expand(mm, zone, pfn, order, current, new_mt)
            if mm.trace is not None:          # v3.19 __rmqueue_fallback
                trace_extfrag(mm, pfn, order, current, start_mt, fmt)
            return pfn
    return -1
