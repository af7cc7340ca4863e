"""Snapshots: frozen copies of a machine after a phase, with every df_* of the machine."""
import pandas as pd
import pytest

import pextlab
from pextlab.snapshot import Snapshot


@pytest.fixture()
def m():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    for _ in range(200):
        m.alloc_pages(0, "GFP_KERNEL")
    return m


def test_snapshot_is_frozen(m):
    s = m.snapshot("start")
    bi, po = s.df_buddyinfo(), s.df_page_owner()
    pfns = [m.alloc_pages(3, "GFP_HIGHUSER_MOVABLE") for _ in range(300)]
    m.free_pages(pfns[0], 3)
    pd.testing.assert_frame_equal(s.df_buddyinfo(), bi)
    pd.testing.assert_frame_equal(s.df_page_owner(), po)
    assert not m.df_buddyinfo().equals(bi)
    assert len(m.df_page_owner()) == len(po) + 299


def test_snapshot_has_every_machine_frame(m):
    s = m.snapshot("x", note="by hand")
    frames = [n for n in dir(pextlab.Machine) if n.startswith("df_") and n != "df_snapshots"]
    assert set(frames) <= set(s.frames())
    for name in ("df_zones", "df_pageblocks", "df_extfrag", "df_stacks", "df_memory_blocks"):
        pd.testing.assert_frame_equal(getattr(s, name)(), getattr(m, name)())
    assert s.proc("buddyinfo") == m.proc("buddyinfo")
    assert s.debugfs("page_owner") == m.debugfs("page_owner")
    assert s.info == {"note": "by hand"} and s.name == "x"
    assert "df_buddyinfo" in dir(s)


def test_snapshot_refuses_verbs(m):
    s = m.snapshot("x")
    with pytest.raises(AttributeError, match="frozen"):
        s.alloc_pages(0)
    with pytest.raises(AttributeError):
        s.run


def test_snapshots_dict_and_summary(m):
    m.snapshot("a")
    m.alloc_pages(9, "GFP_KERNEL")
    m.snapshot("b")
    assert list(m.snapshots) == ["a", "b"] and isinstance(m.snapshots["a"], Snapshot)
    t = m.df_snapshots().set_index("snapshot")
    assert t.loc["a", "free_pages"] - t.loc["b", "free_pages"] == 512
    # a snapshot does not copy the machine's other snapshots
    assert m.snapshots["b"].machine.snapshots == {}
    m.snapshot("a")                       # replaced, not duplicated
    assert list(m.snapshots) == ["a", "b"]


def test_snapshot_of_a_machine_without_page_owner():
    m = pextlab.boot(mem="128M")
    s = m.snapshot("plain")
    assert len(s.df_page_owner()) == 0
    pd.testing.assert_frame_equal(s.df_pagetypeinfo(), m.df_pagetypeinfo())


def test_bad_name(m):
    with pytest.raises(pextlab.PextlabError):
        m.snapshot("")


def test_a_snapshot_has_its_own_page_owner_hooks():
    """page_owner's allocation hooks are closures: a copy of the machine must install
    its own, or changes to the snapshot's state write into the original's records."""
    from pextlab.kernel.compaction import compact_memory
    from pextlab.kernel.debug import check_invariants
    m = pextlab.boot("256M", cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1",
                     seed=2)
    pfns = [m.alloc_pages(o % 3, "GFP_HIGHUSER_MOVABLE") for o in range(400)]
    for p in pfns[::2]:
        m.free_pages(p, pfns.index(p) % 3)
    snap = m.snapshot("s")
    before = m.df_page_owner()
    compact_memory(snap.mm)                     # migrations on the copy only
    p = snap.machine.alloc_pages(2, "GFP_KERNEL")
    assert check_invariants(snap.mm) == []
    assert check_invariants(m.mm) == []
    assert m.df_page_owner().equals(before)
    assert p in set(snap.df_page_owner()["pfn"])
