"""mm/gup.c's per-block work compiled (kernel/_gup.pyx): folio_is_longterm_pinnable
against the rule written out here, the head checks and pin counts of pin/unpin, and
the runner's pins taken as C (short-term, long-term in place, long-term that must
migrate first through gup)."""
from __future__ import annotations

import numpy as np
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.errors import PextlabError
from pextlab.kernel import gup
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.gfp import ZONE_MOVABLE
from pextlab.workloads.events import EV_ALLOC


def _rule(mm, pfn):
    # folio_is_longterm_pinnable: not in a MIGRATE_CMA or MIGRATE_ISOLATE pageblock,
    # not in ZONE_MOVABLE
    sec = mm.section_of(pfn)
    mt = sec.pageblock_mt[(pfn & mm.section_mask) >> mm.pageblock_order]
    if mt in (mm.profile.mt_cma, mm.profile.mt_isolate):
        return False
    z = mm.zone_of_pfn(pfn)
    return z is None or z.idx != ZONE_MOVABLE


def test_longterm_pinnable_follows_the_rule_in_cma_movable_and_normal_memory():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on cma=64M movablecore=256M", seed=1)
    mm = m.mm
    rng = np.random.default_rng(1)
    pfns = [s.start_pfn + int(o) for s in mm.sections if s is not None and s.present
            for o in rng.integers(0, mm.pages_per_section, 40)]
    got = [gup.folio_is_longterm_pinnable(mm, p) for p in pfns]
    assert got == [_rule(mm, p) for p in pfns]
    assert True in got and False in got


def test_pins_count_per_head_and_bad_pfns_are_refused():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    mm = m.mm
    p = m.alloc_pages(2, "GFP_KERNEL")
    assert gup.pin_user_pages(mm, [(p, 2), (p, 2)]) == [p, p]
    assert gup.page_pincount(mm, p) == 2 and gup.nr_pinned_pages(mm) == 4
    gup.unpin_user_pages(mm, [p])
    assert gup.page_pincount(mm, p) == 1
    for bad, what in ((p + 1, "not the head"), (-1, "outside the memory map"),
                      (1 << 40, "outside the memory map")):
        with pytest.raises(PextlabError, match=what):
            gup.pin_user_pages(mm, [(bad, 0)])
        with pytest.raises(PextlabError, match=what):
            gup.unpin_user_pages(mm, [bad])
    gup.unpin_user_pages(mm, [p])
    with pytest.raises(PextlabError, match="is not pinned"):
        gup.unpin_user_pages(mm, [p])
    assert gup.page_pincount(mm, p) == 0 and check_invariants(mm) == []


@pytest.mark.parametrize("longterm", [False, True])
def test_the_runner_pins_and_unpins_as_the_rule_says(longterm):
    m = pextlab.boot(mem="1G", cmdline="page_owner=on cma=64M movablecore=128M", seed=2)
    m.run(W.mix(W.hog("fill", pages=120_000, ramp="1s"),
                W.pin("rdma", pages=400, longterm=longterm),
                W.anon("churn", rate=20000, lifetime="200ms")), duration="3s", seed=1,
          record=True)
    mm, log = m.mm, m.run_log
    ti = [i for i, t in enumerate(log.tasks) if t["comm"] == "rdma"][0]
    rdma = log.tasks[ti]
    # every movable block the pinning task got was pinned (or the pin failed: -ENOMEM);
    # its other allocations (a page table's page) are not user pages
    E = log.events_np()
    mine = E[(E[:, 1] == EV_ALLOC) & (E[:, 4] == ti)]
    movable = int((mine[:, 6] % log.nr_mt == mm.profile.mt_movable).sum())
    assert rdma["pinned"] + rdma.get("pin_failed", 0) == movable > 300
    assert len(log.pins) == rdma["pinned"] - rdma["frees"]
    for pfn in log.pins:
        assert gup.page_pincount(mm, pfn) == 1
        if longterm:
            assert gup.folio_is_longterm_pinnable(mm, pfn)
    assert check_invariants(mm) == []
