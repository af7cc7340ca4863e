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
    check_policy(NoSmallClaims())      # [] when every invariant holds
"""
from __future__ import annotations

from ..errors import PextlabError

__all__ = ["FallbackPolicy", "ClaimStealPolicy", "StealSuitablePolicy", "V319Policy",
           "NoMobilityGrouping", "POLICIES", "get_policy", "default_policy", "set_policy",
           "check_policy"]


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
        """v6.12 should_try_claim_block / can_steal_fallback (mm/page_alloc.c)."""
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
        raise NotImplementedError(f"{type(self).__name__}.rmqueue_fallback")

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
        from . import page_alloc
        pfn = page_alloc.__dict__["__rmqueue_claim"](mm, zone, order, start_mt, alloc_flags)
        if pfn >= 0:
            return pfn
        return page_alloc.__dict__["__rmqueue_steal"](mm, zone, order, start_mt)


class StealSuitablePolicy(FallbackPolicy):
    """v6.10 ``__rmqueue_fallback`` + ``steal_suitable_fallback`` (before the split)."""

    name = "v6.12-unsplit"

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        from . import page_alloc
        return page_alloc._rmqueue_fallback_unsplit(mm, zone, order, start_mt, alloc_flags)


class V319Policy(FallbackPolicy):
    """v3.19 ``__rmqueue_fallback`` + ``try_to_steal_freepages`` (no watermark boost then)."""

    name = "v3.19"
    boost = False

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        from . import page_alloc
        return page_alloc._rmqueue_fallback_v319(mm, zone, order, start_mt, alloc_flags)


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
    if not callable(getattr(pol, "rmqueue_fallback", None)):
        raise PextlabError(f"{pol!r} has no rmqueue_fallback method")
    pol.attach(mm)
    mm.policy = pol
    return pol


def policy_of(mm) -> FallbackPolicy:
    pol = mm.policy
    if pol is None:
        pol = set_policy(mm, None)
    return pol


def check_policy(policy, profile: str = "v6.12", mem: str = "128M", steps: int = 4000,
                 seed: int = 0, compaction: bool = True, cmdline: str = "page_owner=on") -> list:
    """Conformance check: drive an allocator with ``policy`` and return every
    violated invariant (``pextlab.kernel.debug.check_invariants``), plus policy
    contract errors (a returned pfn that is not a free-list-removed block of the
    requested order).  ``[]`` means the policy conforms.

    The run: a seeded mix of order 0-10 allocations of the three mobile
    migratetypes and frees (about 65 % allocations, so memory fills and the
    fallback path runs), invariants checked every 500 steps and at the end, then
    (``compaction=True``) ``compact_memory`` and a check again.  A run that never
    reached the policy is reported too (the check would prove nothing).
    """
    import numpy as np

    from . import page_alloc
    from .debug import check_invariants
    from .mmzone import PG_HEAD
    from ..machine import boot

    m = boot(mem=mem, profile=profile, cmdline=cmdline, seed=seed)
    mm = m.mm
    pol = set_policy(mm, policy)
    errors: list[str] = []
    real = pol.rmqueue_fallback

    calls = [0]

    def checked(mm_, zone, order, start_mt, alloc_flags):
        calls[0] += 1
        free0 = zone.free_pages
        pfn = real(mm_, zone, order, start_mt, alloc_flags)
        if pfn >= 0:
            if pfn & ((1 << order) - 1):
                errors.append(f"policy {pol.name}: returned pfn {pfn:#x} not aligned to order {order}")
            if not zone.contains(pfn):
                errors.append(f"policy {pol.name}: returned pfn {pfn:#x} outside zone {zone.name}")
            sec = mm_.sections[pfn >> mm_.section_shift]
            if sec.flags[pfn & mm_.section_mask] & 0x0F:
                errors.append(f"policy {pol.name}: returned pfn {pfn:#x} still marked free/used")
            taken = free0 - zone.free_pages
            if taken < (1 << order):
                errors.append(f"policy {pol.name}: order-{order} fallback took only {taken} pages "
                              f"off the free counters")
        return pfn

    pol.rmqueue_fallback = checked
    live: list[tuple[int, int]] = []

    def follow(moved, reason):             # direct compaction moves movable blocks
        rm = {old: new for old, new, _ in moved}
        live[:] = [(rm.get(p, p), o) for p, o in live]
    mm.migrate_notifiers.append(follow)
    try:
        rng = np.random.default_rng(seed)
        gfps = [mm.gfp(g) for g in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE",
                                    "GFP_KERNEL|__GFP_RECLAIMABLE")]
        A = page_alloc.__dict__["__alloc_pages"]
        try:
            for step in range(steps):
                if live and rng.random() < 0.35:
                    i = int(rng.integers(len(live)))
                    pfn, o = live[i]
                    live[i] = live[-1]
                    live.pop()
                    page_alloc.free_pages(mm, pfn, o)
                else:
                    o = int(min(10, rng.geometric(0.45) - 1))
                    pfn = A(mm, gfps[int(rng.integers(3))], o, None)
                    if pfn >= 0:
                        sec = mm.sections[pfn >> mm.section_shift]
                        if not sec.flags[pfn & mm.section_mask] & PG_HEAD:
                            errors.append(f"allocation returned {pfn:#x} which is not an "
                                          f"allocated head")
                        live.append((pfn, o))
                if step % 500 == 499:
                    errors.extend(f"step {step}: {e}" for e in check_invariants(mm))
                    if len(errors) > 50:
                        break
        except Exception as exc:         # a broken policy can corrupt the state
            errors.append(f"step {step}: {type(exc).__name__}: {exc}")
        errors.extend(f"end: {e}" for e in check_invariants(mm))
        if not calls[0]:
            errors.append(f"policy {pol.name}: the run never reached the fallback path")
        if compaction and not errors:
            from .compaction import compact_memory
            compact_memory(mm)
            errors.extend(f"after compact_memory: {e}" for e in check_invariants(mm))
    finally:
        pol.__dict__.pop("rmqueue_fallback", None)
    return errors
