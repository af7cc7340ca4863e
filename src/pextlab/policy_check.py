"""``check_policy``: a conformance check for allocator fallback policies, the way
scikit-learn's ``check_estimator`` checks an estimator.

It boots a small machine with the policy (:func:`pextlab.boot`), drives the
allocator hard enough that the fallback path runs, and reports every violated
allocator invariant (``pextlab.kernel.debug.check_invariants``) and every
breach of the policy contract.  It lives above the kernel because it boots
machines; the policies themselves are :mod:`pextlab.kernel.policy`.

>>> from pextlab.kernel.policy import ClaimStealPolicy
>>> check_policy(ClaimStealPolicy(), mem="128M", steps=1000)
[]
"""
from __future__ import annotations

import numpy as np

from .kernel.compaction import compact_memory
from .kernel.debug import check_invariants
from .kernel.migrate import HeldBlocks
from .kernel.mmzone import PG_HEAD
from .kernel.page_alloc import alloc_pages, free_pages
from .kernel.policy import FallbackPolicy, get_policy
from .machine import boot

__all__ = ["check_policy", "CheckedPolicy"]


class CheckedPolicy(FallbackPolicy):
    """A policy wrapped so that each block it returns is checked against the contract
    of ``rmqueue_fallback``: aligned to the order, inside the zone, taken off the
    free lists (no free/used flag left on the head), at least 2^order pages off the
    zone's free counters.  Every decision is the wrapped policy's."""

    def __init__(self, inner: FallbackPolicy):
        self.inner = inner
        self.name = inner.name
        self.mobility_grouping = inner.mobility_grouping
        self.boost = inner.boost
        self.errors: list[str] = []
        self.calls = 0

    def fallbacks(self, mm, start_mt):
        return self.inner.fallbacks(mm, start_mt)

    def should_try_claim_block(self, mm, order, start_mt):
        return self.inner.should_try_claim_block(mm, order, start_mt)

    def claim_enough(self, mm, free_pages, alike_pages):
        return self.inner.claim_enough(mm, free_pages, alike_pages)

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        self.calls += 1
        free0 = zone.free_pages
        pfn = self.inner.rmqueue_fallback(mm, zone, order, start_mt, alloc_flags)
        if pfn >= 0:
            name = self.name
            if pfn & ((1 << order) - 1):
                self.errors.append(f"policy {name}: returned pfn {pfn:#x} not aligned to order {order}")
            if not zone.contains(pfn):
                self.errors.append(f"policy {name}: returned pfn {pfn:#x} outside zone {zone.name}")
            sec = mm.sections[pfn >> mm.section_shift]
            if sec.flags[pfn & mm.section_mask] & 0x0F:
                self.errors.append(f"policy {name}: returned pfn {pfn:#x} still marked free/used")
            taken = free0 - zone.free_pages
            if taken < (1 << order):
                self.errors.append(f"policy {name}: order-{order} fallback took only {taken} pages "
                                   f"off the free counters")
        return pfn


def check_policy(policy, profile: str = "v6.12", mem: str = "128M", steps: int = 4000,
                 seed: int = 0, compaction: bool = True, cmdline: str = "page_owner=on") -> list:
    """Conformance check: drive an allocator with ``policy`` and return every
    violated invariant (``pextlab.kernel.debug.check_invariants``), plus policy
    contract errors (see :class:`CheckedPolicy`).  ``[]`` means the policy conforms.

    The run: a seeded mix of order 0-10 allocations of the three mobile
    migratetypes and frees (about 65 % allocations, so memory fills and the
    fallback path runs), invariants checked every 500 steps and at the end, then
    (``compaction=True``) ``compact_memory`` and a check again.  A run that never
    reached the policy is reported too (the check would prove nothing).
    """
    checked = CheckedPolicy(get_policy(policy))
    m = boot(mem=mem, profile=profile, cmdline=cmdline, seed=seed, policy=checked)
    mm = m.mm
    errors = checked.errors
    held = HeldBlocks()                    # follows direct compaction's migrations and is
    mm.migrate_notifiers.append(held)      # itself checked by check_invariants
    live = held.blocks
    rng = np.random.default_rng(seed)
    gfps = [mm.gfp(g) for g in ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE",
                                "GFP_KERNEL|__GFP_RECLAIMABLE")]
    step = 0
    try:
        for step in range(steps):
            if live and rng.random() < 0.35:
                pfn = list(live)[int(rng.integers(len(live)))]
                free_pages(mm, pfn, live.pop(pfn))
            else:
                o = int(min(10, rng.geometric(0.45) - 1))
                pfn = alloc_pages(mm, gfps[int(rng.integers(3))], o, None)
                if pfn >= 0:
                    sec = mm.sections[pfn >> mm.section_shift]
                    if not sec.flags[pfn & mm.section_mask] & PG_HEAD:
                        errors.append(f"allocation returned {pfn:#x} which is not an "
                                      f"allocated head")
                    live[pfn] = o
            if step % 500 == 499:
                errors.extend(f"step {step}: {e}" for e in check_invariants(mm))
                if len(errors) > 50:
                    break
    except Exception as exc:     # a broken user policy can corrupt the state: report, not raise
        errors.append(f"step {step}: {type(exc).__name__}: {exc}")
    errors.extend(f"end: {e}" for e in check_invariants(mm))
    if not checked.calls:
        errors.append(f"policy {checked.name}: the run never reached the fallback path")
    if compaction and not errors:
        compact_memory(mm)
        errors.extend(f"after compact_memory: {e}" for e in check_invariants(mm))
    return errors
