"""mm/page_alloc.c __zone_watermark_ok compiled (kernel/_buddy.pyx): against the rule
written out here in Python, on zones whose free lists a random mix of allocations left
in many shapes, for every order, watermark, highest zone index and alloc flag the
allocator passes; and its arguments checked."""
from __future__ import annotations

import numpy as np
import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel.buddy import (ALLOC_CMA, ALLOC_MIN_RESERVE, ALLOC_NON_BLOCK,
                                  zone_watermark_ok)


def _rule(mm, zone, order, mark, high, flags):
    # __zone_watermark_ok: free pages less the 2^order - 1 the block would leave, less
    # CMA's free pages unless ALLOC_CMA; __GFP_HIGH takes half of the mark off, an atomic
    # caller a quarter of the rest; then lowmem_reserve[high]; above order 0 a free block
    # of that order or more on an unmovable/movable/reclaimable list (or CMA's, ALLOC_CMA)
    prof = mm.profile
    free = zone.free_pages - ((1 << order) - 1)
    if flags & ALLOC_MIN_RESERVE:
        mark -= mark // 2
        if flags & ALLOC_NON_BLOCK:
            mark -= mark // 4
    if not flags & ALLOC_CMA:
        free -= zone.free_mt[prof.mt_cma]
    if free <= mark + zone.lowmem_reserve[high]:
        return False
    if order == 0:
        return True
    lists = list(prof.pcptypes) + ([prof.mt_cma] if flags & ALLOC_CMA else [])
    return any(zone.free_area[o][mt] for o in range(order, mm.nr_orders) for mt in lists)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_compiled_check_follows_the_rule_on_many_free_list_shapes(seed):
    m = pextlab.boot(mem="512M", nodes=2, cmdline="page_owner=on cma=32M", seed=seed)
    mm = m.mm
    rng = np.random.default_rng(seed)
    live = []
    checked = 0
    for step in range(40):
        for _ in range(int(rng.integers(50, 400))):
            order = int(rng.choice([0, 0, 0, 1, 2, 3, 4, 6, 9]))
            gfp = str(rng.choice(["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_ATOMIC"]))
            p = m.alloc_pages(order, gfp)
            if p is not None:
                live.append((p, order))
        rng.shuffle(live)
        for p, o in live[: len(live) // 2]:
            m.free_pages(p, o)
        live = live[len(live) // 2:]
        for zone in mm.populated_zones():
            for order in range(mm.nr_orders):
                for mark in (0, 1, zone.watermark["min"], zone.watermark["high"],
                             zone.free_pages // 2, zone.free_pages + 7):
                    for high in range(len(zone.lowmem_reserve)):
                        for flags in (0, ALLOC_CMA, ALLOC_MIN_RESERVE,
                                      ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK,
                                      ALLOC_CMA | ALLOC_MIN_RESERVE | ALLOC_NON_BLOCK):
                            got = zone_watermark_ok(mm, zone, order, mark, high, flags)
                            assert got == _rule(mm, zone, order, mark, high, flags), \
                                (zone.name, order, mark, high, flags)
                            checked += 1
    assert checked > 10_000


def test_its_arguments_are_checked():
    m = pextlab.boot(mem="256M", seed=1)
    zone = m.mm.populated_zones()[0]
    with pytest.raises(PextlabError, match="zone index"):
        zone_watermark_ok(m.mm, zone, 0, 0, len(zone.lowmem_reserve), 0)
    with pytest.raises(PextlabError, match="order -1"):
        zone_watermark_ok(m.mm, zone, -1, 0, 0, 0)
    with pytest.raises(TypeError):
        zone_watermark_ok(m.mm, None, 0, 0, 0, 0)
