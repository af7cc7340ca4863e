"""pextlab.replay: a simulated machine in the state of a real capture."""
import pytest

import pextlab
from pextlab.kernel.debug import check_invariants

from conftest import REAL


@pytest.fixture(scope="module")
def b1g():
    cap = pextlab.read_capture(REAL / "b-1G")
    return cap, pextlab.replay(cap)


def test_replayed_allocations_equal_the_dump(b1g):
    cap, m = b1g
    real = cap.df_page_owner()
    sim = m.df_page_owner()
    assert len(sim) == len(real)
    assert sim.nr_pages.sum() == real.nr_pages.sum()
    for col in ("pfn", "order", "gfp_mask", "pid", "tgid", "ts_ns"):
        assert (sim[col].values == real.sort_values("pfn")[col].values).all(), col
    assert (sim.comm.astype(str).values == real.sort_values("pfn").comm.astype(str).values).all()
    assert m.replay_conflicts == []


def test_free_pages_within_two_percent(b1g):
    cap, m = b1g
    rep = m.replay_report
    free = rep[rep.what.str.startswith("free pages")]
    assert len(free) >= 2
    assert (free.rel.abs() <= 0.02).all(), free


def test_replayed_state_is_a_valid_kernel_state(b1g):
    cap, m = b1g
    assert check_invariants(m.mm) == []
    # the leak is found the same way in the replayed machine as in the dump
    df = m.df_page_owner()
    leak = df[df.comm.astype(str) == "leaky"].groupby(df["stack"].astype(str), observed=True)["nr_pages"].sum()
    assert sorted(leak[leak > 1000].tolist()) == [5000, 20003]
    st = m.df_stacks()
    top = st.sort_values("nr_base_pages").iloc[-1]
    assert top.nr_base_pages == df[df["stack"].astype(str) == str(top["stack"])].nr_pages.sum()
    # the real show_stacks, read seconds apart from the dump, agrees within 1 %
    real = cap.df_stacks().nr_base_pages.max()
    assert abs(top.nr_base_pages - real) <= 0.01 * real


def test_replay_report_columns(b1g):
    cap, m = b1g
    assert list(m.replay_report.columns) == ["node", "zone", "what", "real", "replayed", "diff", "rel"]


def test_replay_numa_leak_on_node_1():
    cap = pextlab.read_capture(REAL / "f-numa2")
    m = pextlab.replay(cap)
    df = m.df_page_owner()
    leak = df[df.comm.astype(str) == "leaky"]
    big = leak.groupby(leak["stack"].astype(str), observed=True)["nr_pages"].sum()
    assert sorted(big[big > 1000].tolist())[-2:] == [5000, 20000] or sorted(big[big > 1000].tolist())[-2:] == [5000, 20003]
    assert (leak[leak["stack"].astype(str).isin(big[big > 1000].index)].node == 1).all()
    rep = m.replay_report
    assert (rep[rep.what.str.startswith("free pages")].rel.abs() <= 0.02).all()


def test_replay_needs_a_dump(tmp_path):
    with pytest.raises(pextlab.PextlabError, match="no page_owner dump"):
        pextlab.replay(pextlab.read_capture(REAL / "e-1G-noowner"))
