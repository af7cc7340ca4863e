"""The simulator soak (tools/soak.py) with a small budget: every configuration, random
operations, the kernel state's laws checked every 250 operations.  ``make soak`` runs the
same generator for a million operations and more.

The last tests put two reported bugs back (issue 11, items 8 and 9) to show that the soak
finds them.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from pextlab.kernel import fastpath, memory_hotplug, page_isolation
from pextlab.kernel.mmzone import MT_MASK, MT_SHIFT, PG_HEAD

# tools/ is no package: load tools/soak.py as the module ``soak``
_spec = importlib.util.spec_from_file_location(
    "soak", Path(__file__).resolve().parents[1] / "tools" / "soak.py")
soak = sys.modules.setdefault("soak", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(soak)

pytestmark = pytest.mark.slow

OPS = 3000        # per configuration: about 20 s in all on this kind of machine


@pytest.fixture(scope="module")
def stats():
    return soak.soak(OPS, seed=11)


def test_no_violation_and_no_error_in_any_configuration(stats):
    reports = [r for st in stats for r in st.reports]
    assert not reports, "\n\n".join(reports)
    assert [(st.config, st.violations, st.errors) for st in stats] == \
        [(st.config, 0, 0) for st in stats]
    assert all(st.checks >= OPS // 250 for st in stats)


def test_every_configuration_ran_every_kind_of_operation(stats):
    assert [st.config for st in stats] == list(soak.CONFIGS)
    for st in stats:
        assert st.ops == OPS
        assert st.hugetlb > 0 and st.compaction > 0, st.row()
        assert (st.hotplug > 0) == soak.runs_hotplug(st.config), st.row()
    # memory ran out (failures as values) and bad input was refused
    assert sum(st.failed for st in stats) > 0
    assert sum(st.refused for st in stats) > 0


def test_the_table_lists_each_configuration_and_a_total(stats):
    text = soak.format_table(stats)
    lines = text.splitlines()
    assert lines[0].split() == ["config", "ops", "hotplug", "hugetlb", "compaction", "failed",
                                "refused", "violations", "errors", "seconds"]
    assert [ln.split()[0] for ln in lines[2:2 + len(stats)]] == [st.config for st in stats]
    assert lines[-1].split()[:2] == ["total", str(OPS * len(stats))]


def test_the_soak_finds_movable_and_reclaimable_masks_accepted(monkeypatch):
    # item 9 back: prepare_alloc_pages no longer refuses __GFP_MOVABLE|__GFP_RECLAIMABLE
    # patched where prepare_alloc_pages is defined (the compiled kernel/_fastpath.pyx)
    home = sys.modules[fastpath.prepare_alloc_pages.__module__]
    monkeypatch.setattr(home, "check_gfp_migratetype", lambda mask, profile: None)
    st = soak.Soak("v6.12-pcp", 5).run(1500)
    assert st.errors + st.violations > 0
    assert any("bad input accepted" in r or "pcp" in r for r in st.reports), st.reports


def test_the_soak_finds_a_hugetlb_pool_left_with_stale_pfns(monkeypatch):
    # item 8 back: offline migrates free huge pages like LRU pages and dissolves nothing
    def movable_heads(mm, start, end):
        mov = mm.profile.mt_movable
        out = []
        for sec, lo, hi in page_isolation.section_slices(mm, start, end):
            f = sec.flags_np()[lo:hi]
            for i in ((f & PG_HEAD) != 0).nonzero()[0]:
                if (int(f[i]) & MT_MASK) >> MT_SHIFT == mov:
                    out.append((sec.start_pfn + lo + int(i), int(sec.order[lo + int(i)])))
        return out
    monkeypatch.setattr(memory_hotplug, "_movable_heads", movable_heads)
    monkeypatch.setattr(memory_hotplug.hugetlb, "dissolve_free_hugetlb_folios",
                        lambda mm, start, end: 0)
    reports = []
    for seed in range(6):                 # a block holding pool pages must go offline
        st = soak.Soak("v6.12-plain", seed).run(3000)
        reports += st.reports
        if st.violations + st.errors:
            break
    assert any("hugetlb: node 0 pool page" in r for r in reports), reports
