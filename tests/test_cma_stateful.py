"""Stateful property test: allocations and frees, short- and long-term pins, cma_alloc
and cma_release, compaction and memory hotplug, interleaved at random, keep every law
of pextlab.kernel.debug.check_invariants -- among them: no non-movable page in a
MIGRATE_CMA pageblock but the ones cma_alloc handed out, the CMA bitmap is exactly
what CMA handed out, pin counts only on allocated heads -- and the rules of CMA:

* a cma_alloc success hands out ``count`` pages inside the area, aligned as asked;
* a failure is EBUSY only with a pinned (or otherwise unmovable) page in the way;
* a pinned page never moves, a held block follows every migration.

The default budget is small (a few seconds); raise it with the HYPOTHESIS_PROFILE or
by editing SETTINGS when hunting.
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import pextlab
from pextlab.kernel import gup
from pextlab.kernel.debug import assert_invariants
from pextlab.kernel.migrate import HeldBlocks

SETTINGS = settings(max_examples=10, stateful_step_count=30, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
GFPS = ("GFP_HIGHUSER_MOVABLE", "GFP_KERNEL", "GFP_KERNEL|__GFP_RECLAIMABLE")


class _Follower:
    """Blocks that follow migrations, like HeldBlocks, without the per-step check."""

    def __init__(self):
        self.blocks: dict[int, int] = {}

    def __call__(self, moved, reason):
        HeldBlocks.__call__(self, moved, reason)


class CmaMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.m = pextlab.boot("256M", cmdline="page_owner=on cma=32M", maxmem="512M", seed=3)
        self.mm = self.m.mm
        self.area = self.mm.cma_areas[0]
        self.held = HeldBlocks()               # checked by check_invariants
        self.m.on_migrate(self.held)
        self.filled = _Follower()              # the fill's pages (too many to check each step)
        self.m.on_migrate(self.filled)
        self.pinned: dict[int, int] = {}        # pfn -> pins the test holds
        self.cma: list = []                    # CmaOutcome of live allocations
        self.block = self.m.hot_add("128M")[0]  # offline until the online rule runs
        self.fill(4096)                        # start with half the area holding movable pages

    # --- the allocator ----------------------------------------------------------------------
    @rule(order=st.integers(0, 4), gfp=st.sampled_from(GFPS), n=st.integers(1, 200))
    def alloc(self, order, gfp, n):
        for _ in range(n):
            pfn = self.m.alloc_pages(order, gfp)
            if pfn is None:
                break
            self.held.blocks[pfn] = order

    @rule(left=st.integers(0, 8192))
    def fill(self, left):
        """Movable allocations until the area has at most ``left`` free pages: once the
        zone's free pages drop below twice its free CMA pages, __rmqueue takes CMA
        pages first (every other allocation)."""
        z = self.mm.zone_of_pfn(self.area.base_pfn)
        cma = self.mm.profile.mt_cma
        while z.free_mt[cma] > left:
            pfn = self.m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
            if pfn is None:
                break
            self.filled.blocks[pfn] = 0

    @rule(data=st.data())
    def free(self, data):
        free = [p for p in self.held.blocks if p not in self.pinned]
        if free:
            for pfn in data.draw(st.lists(st.sampled_from(sorted(free)), max_size=200, unique=True)):
                self.m.free_pages(pfn, self.held.blocks.pop(pfn))

    # --- pins -------------------------------------------------------------------------------
    @rule(data=st.data(), longterm=st.booleans(), in_cma=st.booleans())
    def pin(self, data, longterm, in_cma):
        a = self.area
        blocks = sorted(p for d in (self.held.blocks, self.filled.blocks) for p in d
                        if (a.base_pfn <= p < a.end_pfn) == in_cma)
        if not blocks:
            return
        pfn = data.draw(st.sampled_from(blocks))
        holder = self.held if pfn in self.held.blocks else self.filled
        order = holder.blocks[pfn]
        got = gup.pin_user_pages(self.mm, [(pfn, order)], longterm=longterm)
        if got is None:
            return                              # -ENOMEM: nothing pinned, nothing moved away
        new = got[0]
        assert new in holder.blocks             # a long-term pin's migration was followed
        if longterm:
            assert gup.folio_is_longterm_pinnable(self.mm, new)
        self.pinned[new] = self.pinned.get(new, 0) + 1

    @rule(data=st.data())
    def unpin(self, data):
        if self.pinned:
            pfn = data.draw(st.sampled_from(sorted(self.pinned)))
            gup.unpin_user_pages(self.mm, [pfn])
            self.pinned[pfn] -= 1
            if not self.pinned[pfn]:
                del self.pinned[pfn]

    # --- CMA --------------------------------------------------------------------------------
    @rule(count=st.integers(1, 8192), align=st.sampled_from([None, 1, 8, 512, 2048]))
    def cma_alloc(self, count, align):
        self._cma_alloc(count, align)

    @rule(count=st.integers(1, 600), align=st.sampled_from([None, 64, 512]))
    def cma_alloc_small(self, count, align):
        self._cma_alloc(count, align)

    def _cma_alloc(self, count, align):
        before = dict(self.pinned)
        r = self.m.cma_alloc(count, align=align)
        a = self.area
        if r.ok:
            assert a.base_pfn <= r.pfn and r.pfn + count <= a.end_pfn
            assert r.pfn % (align or 1) == 0          # the bitmap offset aligns the pfn itself
            self.cma.append(r)
        elif r.error == "EBUSY":
            # what stopped the last window: pinned pages, or pages no migration can move
            po = self.m.df_page_owner().set_index("pfn")
            for p in r.blocking_pfns:
                head = max((h for h in po.index if h <= p), default=None)
                pinned = gup.page_pincount(self.mm, head) if head is not None else 0
                assert pinned or head is None or po.loc[head, "migratetype"] != "Movable" \
                    or head in {x.pfn for x in self.cma}, p
        else:
            assert r.error == "ENOMEM"
        for p, n in before.items():             # pins never move
            assert gup.page_pincount(self.mm, p) == n

    @rule(data=st.data())
    def cma_release(self, data):
        if self.cma:
            r = self.cma.pop(data.draw(st.integers(0, len(self.cma) - 1)))
            assert self.m.cma_release(r)

    # --- compaction and hotplug ------------------------------------------------------------
    @rule()
    def compact(self):
        before = dict(self.pinned)
        self.m.compact_memory()
        for p, n in before.items():
            assert gup.page_pincount(self.mm, p) == n

    @precondition(lambda self: self.m.df_memory_blocks().set_index("block").loc[self.block, "online"])
    @rule()
    def offline(self):
        r = self.m.offline(self.block)
        if not r.ok:
            assert r.error in ("EBUSY", "EINTR")

    @precondition(lambda self: not self.m.df_memory_blocks().set_index("block").loc[self.block, "online"])
    @rule()
    def online(self):
        r = self.m.online(self.block, "online_movable")
        # a full machine may have no page for the block's page_ext table: MEM_GOING_ONLINE
        # fails and the block stays offline
        assert r.ok or r.error == "ENOMEM", r

    @invariant()
    def laws(self):
        assert_invariants(self.mm)
        for pfn in self.pinned:
            assert gup.page_pincount(self.mm, pfn) == self.pinned[pfn]


TestCmaStateful = CmaMachine.TestCase
TestCmaStateful.settings = SETTINGS
