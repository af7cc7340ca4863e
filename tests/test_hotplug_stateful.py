"""Stateful property test: hot-add / online / offline / remove mixed with allocations.

After every step the allocator's laws hold (pextlab.kernel.debug.check_invariants:
every page in exactly one state, buddies merged, counters, page_ext tables exactly
for online sections, owner records); a failed offline or online leaves every frame
bit-identical; migrated pages keep their owner (memory_hotplug reason).
"""
from __future__ import annotations

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from pandas.testing import assert_frame_equal

import pextlab
from pextlab.kernel.debug import check_invariants

GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE")
FRAMES = ("df_buddyinfo", "df_pagetypeinfo", "df_page_owner", "df_memory_blocks", "df_zones",
          "df_page_ext", "df_stacks")

SETTINGS = settings(max_examples=12, stateful_step_count=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def frames(m):
    return {name: getattr(m, name)() for name in FRAMES}


class HotplugMachine(RuleBasedStateMachine):
    blocks = Bundle("blocks")

    def __init__(self):
        super().__init__()
        self.m = pextlab.boot(mem="512M", cmdline="page_owner=on", maxmem="2G")
        self.mm = self.m.mm
        self.live: dict[int, int] = {}        # pfn -> order of our allocations
        self.m.on_migrate(self._moved)

    def _moved(self, moved, reason):
        for old, new, order in moved:
            if old in self.live:
                self.live[new] = self.live.pop(old)

    def _hot_blocks(self):
        return sorted(b for d in self.m.memory_devices.values() for b in d["blocks"])

    def _state(self, block):
        df = self.m.df_memory_blocks()
        row = df[df.block == block]
        return None if row.empty else str(row.state.iloc[0])

    @rule(size=st.sampled_from(["128M", "256M"]))
    def hot_add(self, size):
        try:
            self.m.hot_add(size)
        except pextlab.PextlabError as e:
            assert "no room" in str(e)

    @rule(i=st.integers(0, 15), how=st.sampled_from(["online", "online_kernel", "online_movable"]))
    def online(self, i, how):
        blocks = [b for b in self._hot_blocks() if self._state(b) == "offline"]
        if not blocks:
            return
        b = blocks[i % len(blocks)]
        before = frames(self.m)
        r = self.m.online(b, how)
        if not r.ok:
            for k, v in frames(self.m).items():
                assert_frame_equal(before[k], v, obj=k)
        else:
            assert self._state(b) == "online"

    @rule(i=st.integers(0, 15), boot_block=st.booleans())
    def offline(self, i, boot_block):
        df = self.m.df_memory_blocks()
        pool = df[df.online].block.tolist() if boot_block else \
            [b for b in self._hot_blocks() if self._state(b) == "online"]
        if not pool:
            return
        b = pool[i % len(pool)]
        before = frames(self.m)
        r = self.m.offline(b)
        if not r.ok:
            assert r.error in ("EBUSY", "EINVAL", "EINTR"), r.error
            for k, v in frames(self.m).items():
                assert_frame_equal(before[k], v, obj=k)
        else:
            assert self._state(b) == "offline"

    @rule(i=st.integers(0, 7))
    def remove(self, i):
        devs = sorted(self.m.memory_devices)
        if not devs:
            return
        r = self.m.remove(devs[i % len(devs)], eject=False)
        assert r.ok or r.error == "EBUSY"

    @rule(order=st.integers(0, 4), gfp=st.sampled_from(GFPS))
    def alloc(self, order, gfp):
        pfn = self.m.alloc_pages(order, gfp)
        if pfn is not None:
            self.live[pfn] = order

    @rule(i=st.integers(0, 1000))
    def free(self, i):
        if not self.live:
            return
        pfn = sorted(self.live)[i % len(self.live)]
        self.m.free_pages(pfn, self.live.pop(pfn))

    @invariant()
    def laws(self):
        assert check_invariants(self.mm) == []
        online = {s.nr for s in self.mm.sections if s is not None and s.present and s.online}
        with_table = {s.nr for s in self.mm.sections if s is not None and s.page_ext is not None}
        assert online == with_table


TestHotplugStateful = HotplugMachine.TestCase
TestHotplugStateful.settings = SETTINGS
