"""Stateful property test: random alloc / free / page_ext offline-online sequences keep
every law of pextlab.kernel.debug.check_invariants, on both profiles.

The offline/online rule drives the page_ext memory-hotplug notifier the way
mm/memory_hotplug.c does around it: MEM_OFFLINE then the section is offline;
MEM_GOING_ONLINE, and on failure MEM_CANCEL_ONLINE with the section left
offline; on success the section goes online.  pextlab does not empty the
section first (a real offline migrates or frees every page), so blocks that were
allocated while the section had no table, or before its table was re-created,
carry no owner record; the machine tracks those pfns and excuses them from the
page_owner law (and only them).
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, multiple, rule

import pextlab
from pextlab.kernel import page_alloc
from pextlab.kernel.debug import assert_invariants
from pextlab.kernel.mmzone import PG_HEAD
from pextlab.kernel.page_ext import ENOMEM, MEM_CANCEL_ONLINE, MEM_GOING_ONLINE, MEM_OFFLINE

GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC", "GFP_DMA")

SETTINGS = settings(max_examples=25, stateful_step_count=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


class AllocatorMachine(RuleBasedStateMachine):
    profile = "v6.12"
    cmdline = "page_owner=on"

    blocks = Bundle("blocks")
    exact = Bundle("exact")

    def __init__(self):
        super().__init__()
        self.m = pextlab.boot(mem="512M", nodes=2, profile=self.profile, cmdline=self.cmdline)
        self.mm = self.m.mm
        self.exempt: set[int] = set()
        self.nsec = sum(1 for s in self.mm.sections if s is not None and s.present)

    # --- allocator ------------------------------------------------------------------------
    @rule(target=blocks, order=st.integers(0, 10), gfp=st.sampled_from(GFPS), nid=st.sampled_from([0, 1]))
    def alloc(self, order, gfp, nid):
        free0 = sum(z.free_pages for z in self.mm.all_zones())
        guard0 = self.mm.nr_guard_pages
        pfn = self.m.alloc_pages(order, gfp, nid)
        if pfn is None:
            return multiple()
        mm = self.mm
        sec = mm.sections[pfn >> mm.section_shift]
        assert sec.flags[pfn & mm.section_mask] & PG_HEAD
        assert sec.order[pfn & mm.section_mask] == order
        assert pfn % (1 << order) == 0
        taken = free0 - sum(z.free_pages for z in mm.all_zones())
        # the block, plus the halves expand() turned into guard pages
        assert taken == (1 << order) + mm.nr_guard_pages - guard0, (taken, order)
        if sec.page_ext is None:
            self.exempt.add(pfn)            # allocated while its section had no table
        return (pfn, order)

    @rule(b=consumes(blocks))
    def free(self, b):
        pfn, order = b
        self.m.free_pages(pfn, order)
        self.exempt.discard(pfn)

    @rule(target=exact, size=st.integers(1, 3 << 20))
    def alloc_exact(self, size):
        pfn = self.m.alloc_pages_exact(size, "GFP_KERNEL")
        if pfn is None:
            return multiple()
        nr = (size + 4095) >> 12
        mm = self.mm
        sec = mm.sections[pfn >> mm.section_shift]
        off = pfn & mm.section_mask
        assert ((sec.flags_np()[off:off + nr] & PG_HEAD) != 0).all()
        if sec.page_ext is None:
            self.exempt.update(range(pfn, pfn + nr))
        return (pfn, size)

    @rule(b=consumes(exact))
    def free_exact(self, b):
        pfn, size = b
        page_alloc.free_pages_exact(self.mm, pfn, size)
        self.exempt.difference_update(range(pfn, pfn + ((size + 4095) >> 12)))

    # --- page_ext hotplug notifier ------------------------------------------------------
    @rule(data=st.data(), fail=st.booleans())
    def offline_online(self, data, fail):
        mm, pe = self.mm, self.mm.page_ext
        present = [s for s in mm.sections if s is not None and s.present]
        sec = present[data.draw(st.integers(0, len(present) - 1), label="section")]
        start, n, nid = sec.start_pfn, mm.pages_per_section, sec.nid
        had = sec.page_ext
        usage = pe.total_usage
        assert pe.page_ext_callback(MEM_OFFLINE, start, n, nid) == 0
        sec.online = False
        assert sec.page_ext is None and sec.nr not in pe.tables
        assert pe.total_usage == usage - (had.bytes if had is not None else 0)
        if fail:
            pe.fail_alloc = lambda fnid, nr: nr == sec.nr
            try:
                ret = pe.page_ext_callback(MEM_GOING_ONLINE, start, n, nid)
            finally:
                pe.fail_alloc = None
            assert ret == -ENOMEM
            assert sec.page_ext is None and sec.nr not in pe.tables
            assert pe.page_ext_callback(MEM_CANCEL_ONLINE, start, n, nid) == 0
            assert sec.page_ext is None and sec.nr not in pe.tables
            assert pe.total_usage == usage - (had.bytes if had is not None else 0)
            return
        assert pe.page_ext_callback(MEM_GOING_ONLINE, start, n, nid) == 0
        sec.online = True
        t = sec.page_ext
        assert t is not None and pe.tables[sec.nr] is t
        assert pe.total_usage == usage - (had.bytes if had is not None else 0) + t.bytes
        # a fresh table is zeroed: the blocks already allocated in the section have no owner
        assert not t.flags.any()
        if t.owner is not None:
            assert (t.owner == -1).all()
        heads = np.flatnonzero(sec.flags_np() & PG_HEAD)
        self.exempt.update(int(sec.start_pfn + i) for i in heads)

    @invariant()
    def laws(self):
        assert_invariants(self.mm, owner_exempt=self.exempt)


class AllocatorMachineV319(AllocatorMachine):
    profile = "v3.19"


class AllocatorMachineGuard(AllocatorMachine):
    cmdline = "page_owner=on debug_pagealloc=on debug_guardpage_minorder=1 cma=64M"


TestAllocatorV612 = AllocatorMachine.TestCase
TestAllocatorV612.settings = SETTINGS
TestAllocatorV319 = AllocatorMachineV319.TestCase
TestAllocatorV319.settings = SETTINGS
TestAllocatorGuardCma = AllocatorMachineGuard.TestCase
TestAllocatorGuardCma.settings = settings(SETTINGS, max_examples=10)
