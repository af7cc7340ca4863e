"""Fallback policies (pextlab.kernel.policy): every shipped policy and a user-made one
pass check_policy; a broken policy is caught; claim/steal semantics of v6.12.y; mobility
grouping off leaves fewer free huge blocks and more mixed blocks on the same run."""
from __future__ import annotations

import numpy as np
import pytest

import pextlab
from pextlab.kernel import buddy, page_alloc
from pextlab.kernel.policy import (ClaimStealPolicy, FallbackPolicy, NoMobilityGrouping,
                                   StealSuitablePolicy, V319Policy)
from pextlab.policy_check import check_policy


class NoSmallClaims(ClaimStealPolicy):
    name = "no-small-claims"

    def should_try_claim_block(self, mm, order, start_mt):
        return order >= mm.pageblock_order


class Broken(ClaimStealPolicy):
    """Hands out a block but leaves it on the free list (a double allocation)."""
    name = "broken"

    def rmqueue_fallback(self, mm, zone, order, start_mt, alloc_flags):
        for o in range(mm.nr_orders - 1, order - 1, -1):
            for fmt in self.fallbacks(mm, start_mt):
                d = zone.free_area[o][fmt]
                if d:
                    return next(reversed(d))
        return -1


@pytest.mark.parametrize("pol,profile", [(ClaimStealPolicy(), "v6.12"), (StealSuitablePolicy(), "v6.12"),
                                         (NoMobilityGrouping(), "v6.12"), (NoSmallClaims(), "v6.12"),
                                         (V319Policy(), "v3.19"), ("no-grouping", "v3.19")])
def test_policies_conform(pol, profile):
    assert check_policy(pol, profile=profile, steps=2500) == []


def test_check_policy_catches_a_broken_policy():
    errs = check_policy(Broken(), steps=2500, compaction=False)
    assert errs and any("free" in e for e in errs)


def test_default_policy_and_setting_it():
    m = pextlab.boot("256M")
    assert m.policy.name == "v6.12" and isinstance(m.mm.policy, ClaimStealPolicy)
    assert pextlab.boot("256M", profile="v3.19").policy.name == "v3.19"
    m.policy = "no-grouping"
    assert not m.mm.mobility_grouping
    p = m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    sec = m.mm.sections[p >> m.mm.section_shift]
    assert (sec.flags[p & m.mm.section_mask] >> 4) & 7 == m.profile.mt_unmovable
    m.policy = None
    assert m.mm.mobility_grouping and m.policy.name == "v6.12"
    with pytest.raises(pextlab.PextlabError):
        m.policy = "nonsense"
    with pytest.raises(NotImplementedError):
        FallbackPolicy().rmqueue_fallback(m.mm, None, 0, 0, 0)


def _exhaust(m, gfp):
    mm = m.mm
    A = page_alloc.alloc_pages
    out = []
    while (p := A(mm, mm.gfp(gfp), 0, None)) >= 0:
        out.append(p)
    return out


def test_claim_whole_free_block_at_pageblock_order():
    """An unmovable request with only movable order-10 blocks free claims both pageblocks
    (no boost: current_order >= pageblock_order)."""
    m = pextlab.boot("256M")
    mm = m.mm
    z = mm.zone(0, "DMA32")
    assert z.free_area[10][mm.profile.mt_movable]
    un = mm.profile.mt_unmovable
    for o in range(mm.nr_orders):              # empty the unmovable/reclaimable lists
        for mt in (un, mm.profile.mt_reclaimable):
            for pfn in list(z.free_area[o][mt]):
                buddy.del_page_from_free_list(mm, z, pfn, o, mt)
                buddy.add_to_free_list(mm, z, pfn, o, mm.profile.mt_movable)
    head = next(reversed(z.free_area[10][mm.profile.mt_movable]))
    pfn = mm.policy.rmqueue_fallback(mm, z, 0, un, 0)
    assert pfn == head
    assert page_alloc.get_pageblock_migratetype(mm, head) == un
    assert page_alloc.get_pageblock_migratetype(mm, head + 512) == un
    assert page_alloc.zone_watermark_boost(mm, z) == 0


def _mixed_run(policy, seed=3):
    m = pextlab.boot("512M", cmdline="page_owner=on", policy=policy)
    mm = m.mm
    rng = np.random.default_rng(seed)
    g = [mm.gfp("GFP_HIGHUSER_MOVABLE"), mm.gfp("GFP_KERNEL"), mm.gfp("GFP_KERNEL|__GFP_RECLAIMABLE")]
    A = page_alloc.alloc_pages
    chunks = []
    total = sum(z.managed_pages for z in mm.all_zones())
    n = 0
    want = 0.75 * total - (total - sum(z.free_pages for z in mm.all_zones()))
    while n < want:
        k = int(rng.choice(3, p=[0.7, 0.15, 0.15]))
        c = [p for p in (A(mm, g[k], 0, None) for _ in range(int(rng.integers(1, 64)))) if p >= 0]
        n += len(c)
        chunks.append((k, c))
    for k, c in chunks:
        if k == 0 and rng.random() < 0.5:
            for p in c:
                page_alloc.free_pages(mm, p, 0)
    m.compact_memory()
    df = m.df_fragmentation()
    return df[df.zone == "DMA32"].iloc[-1]


def test_no_mobility_grouping_fragments_more():
    """The same fill/free run, then compact_memory: without grouping compaction finds no
    movable target blocks and unmovable pages sit everywhere."""
    on = _mixed_run("v6.12")
    off = _mixed_run("no-grouping")
    assert off["mixed_total"] >= on["mixed_total"] + 50
    assert off["free_blocks_ge_pb"] <= 0.8 * on["free_blocks_ge_pb"]
    assert off["unusable_o9"] > on["unusable_o9"]
