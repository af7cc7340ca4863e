"""The seed's other page_ext clients: debug guard pages and page poisoning."""
import numpy as np
import pytest

import pextlab

try:
    from pextlab.kernel.debug import check_invariants
except ImportError:                       # pragma: no cover - the checker lands separately
    check_invariants = None

CMD = "page_owner=on page_poison=on debug_pagealloc=on debug_guardpage_minorder=2"


def _churn(m, n=4000, seed=7):
    rng = np.random.default_rng(seed)
    live = []
    for _ in range(n):
        if live and rng.random() < 0.45:
            p, o = live.pop(int(rng.integers(len(live))))
            m.free_pages(p, o)
        else:
            o = int(rng.choice([0, 0, 1, 2, 3]))
            p = m.alloc_pages(o, ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE"][int(rng.integers(2))])
            if p is not None:
                live.append((p, o))
    return live


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_guard_pages_are_made_in_expand_and_merged_back(profile):
    m = pextlab.boot(mem="256M", cmdline=CMD, profile=profile)
    mm = m.mm
    assert mm.guard_minorder == 2
    g0 = mm.nr_guard_pages
    live = _churn(m)
    assert mm.nr_guard_pages > g0
    # guard pages are never handed out
    from pextlab.kernel.mmzone import PG_GUARD
    for p, o in live:
        assert not mm.sections[p >> mm.section_shift].flags[p & mm.section_mask] & PG_GUARD
    if check_invariants is not None:
        assert check_invariants(mm) == []
    for p, o in live:
        m.free_pages(p, o)
    # with everything freed, buddies (and their guards) merge back
    assert mm.nr_guard_pages <= g0
    if check_invariants is not None:
        assert check_invariants(mm) == []


def test_guard_pages_need_debug_pagealloc():
    m = pextlab.boot(mem="256M", cmdline="debug_guardpage_minorder=2")
    assert m.mm.guard_minorder == 0
    _churn(m, 500)
    assert m.mm.nr_guard_pages == 0


def test_v319_guard_bit_lives_in_page_ext():
    from pextlab.kernel.page_ext import PAGE_EXT_DEBUG_GUARD
    m = pextlab.boot(mem="256M", cmdline="debug_pagealloc=on debug_guardpage_minorder=1",
                     profile="v3.19")
    assert m.page_ext_bytes == 2 * 32768 * 104          # the guard client alone needs page_ext
    _churn(m, 500)
    marked = sum(int((t.flags & PAGE_EXT_DEBUG_GUARD).astype(bool).sum())
                 for t in m.mm.page_ext.tables.values())
    assert marked > 0


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_poison_corruption_reported_with_owner(profile):
    m = pextlab.boot(mem="256M", cmdline="page_owner=on page_poison=on", profile=profile)
    mm = m.mm
    h = mm.page_owner.depot.stack_depot_save(("get_page_from_freelist+0x1673/0x1730",
                                              "__alloc_pages_noprof+0x12e/0x230",
                                              "pipe_write+0x1c4/0x6a0"))
    mm.set_task("writer", 321, 321, h)
    p = m.alloc_pages(0, "GFP_HIGHUSER")
    m.free_pages(p, 0)
    mm.poison.inject(p, offset=100, value=0x00)
    mm.set_task("victim", 400, 400)
    assert m.alloc_pages(0) == p                       # LIFO: the freed page comes back
    rep = mm.poison.reports[-1]
    assert rep["pfn"] == p and rep["kind"] == "pagealloc: memory corruption"
    assert "page dumped because: pagealloc: corrupted page details" in m.dmesg
    if profile == "v6.12":
        assert "page_owner tracks the page as freed" in rep["text"]
        assert "pid 321, tgid 321 (writer)" in rep["text"]
        assert " pipe_write+0x1c4/0x6a0" in rep["text"]
    # a single flipped bit is reported as such
    q = m.alloc_pages(0)
    m.free_pages(q, 0)
    mm.poison.inject(q, 7, 0xAA ^ 0x10)
    m.alloc_pages(0)
    assert mm.poison.reports[-1]["kind"] == "pagealloc: single bit error"


def test_inject_needs_a_free_page():
    m = pextlab.boot(mem="256M", cmdline="page_poison=on")
    p = m.alloc_pages(0)
    with pytest.raises(pextlab.PextlabError, match="not a free"):
        m.mm.poison.inject(p, 0, 1)
