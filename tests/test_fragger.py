"""The fragger workload: the real item list, schedule and free choices, and what each kind allocates."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.analysis.fragmentation import frag_metrics
from pextlab.errors import PextlabError
from pextlab.kernel.debug import check_invariants
from pextlab.workloads.fragger import (KINDS, SLAB_CACHES, free_decision, fragger, generate_items,
                                       hash01, hugepage_target, read_items, read_steps, schedule,
                                       sched_stream, splitmix64)
from pextlab.workloads.fragger.kernel_side import PAGE_KINDS

FRAG = Path(__file__).resolve().parents[1] / "data" / "real-kernel" / "frag-s1"
REAL_BUDGET = 182016          # fragger_stdout: budget_pages=182016 on the real 1 GiB guest


@pytest.fixture(scope="module")
def real_items():
    return read_items(FRAG / "fragger_items.txt.gz")


@pytest.fixture(scope="module")
def run1():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    r = m.run(fragger(seed=1, fill=0.75, rounds=1))
    return m, r


def _real_summary(name):
    lines = (FRAG / f"fragger_summary.{name}.txt").read_text().splitlines()
    rows = [ln.split("\t") for ln in lines[2:7]]
    return {r[0]: (int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows}


def test_splitmix64_known_value():
    # splitmix64 with state 0: the reference first output
    assert splitmix64(0)[1] == 0xE220A8397B1DCDAF


def test_seed1_item_list_is_the_real_one(real_items):
    items, _ = generate_items(seed=1, budget=REAL_BUDGET)
    assert len(items) == len(real_items) == 1163
    assert [i.kind for i in items] == real_items["kind"].tolist()
    assert [i.size for i in items] == real_items["size"].tolist()
    assert [i.est for i in items] == real_items["est_pages"].tolist()
    dirs = real_items[real_items["kind"] == "dir"]
    det = dirs["detail"].str.extract(r"files=(\d+) links=(\d+) subdirs=(\d+)").astype(int)
    sim = [(i.nfiles, i.nlinks, i.nsubdirs) for i in items if i.kind == "dir"]
    assert sim == list(map(tuple, det.to_numpy()))


def test_seed1_schedule_is_the_real_one(real_items):
    items, _ = generate_items(seed=1, budget=REAL_BUDGET)
    steps = [(it.id, n) for it, n in schedule(items, sched_stream(1)) if n > 0]
    real = read_steps(FRAG / "fragger_steps.txt.gz")
    assert len(steps) == len(real) == 9832
    assert np.array_equal(np.array(steps), real[["item", "amount"]].to_numpy())
    chunks = pd.Series([s[0] for s in steps]).value_counts().sort_index()
    assert chunks.tolist() == real_items["chunks"].tolist()


def test_seed1_free_choices_are_the_real_ones(real_items):
    items, _ = generate_items(seed=1, budget=REAL_BUDGET)
    freed = {i.id for i in items if i.kind in ("anon", "file") and free_decision(1, 1, i.kind, i.id)}
    assert freed == set(real_items.loc[real_items["freed_round"] > 0, "id"])
    deleted = [sum(hash01(1, 2, i.id, e) < 0.3 for e in range(i.size)) for i in items if i.kind == "dir"]
    assert deleted == real_items.loc[real_items["kind"] == "dir", "deleted_entries"].tolist()


def test_other_seeds_and_budgets_differ():
    a, _ = generate_items(seed=1, budget=50_000)
    b, _ = generate_items(seed=2, budget=50_000)
    assert [i.size for i in a[:50]] != [i.size for i in b[:50]]
    # the item list depends only on seed and budget: a smaller budget is a prefix
    c, _ = generate_items(seed=1, budget=REAL_BUDGET)
    assert [i.size for i in a] == [i.size for i in c[:len(a)]]
    # kind weights 17/30/31/12/10 by count
    many, _ = generate_items(seed=7, budget=800_000)
    share = pd.Series([i.kind for i in many]).value_counts(normalize=True)
    for k, w in zip(KINDS, (17, 30, 31, 12, 10)):
        assert abs(share[k] - w / 100) < 0.03, (k, share[k])


def test_size_laws():
    items, _ = generate_items(seed=3, budget=1_000_000)
    by = {k: [i.size for i in items if i.kind == k] for k in KINDS}
    assert 16 <= min(by["anon"]) and max(by["anon"]) <= 2048
    assert 4 <= min(by["file"]) and max(by["file"]) <= 1024
    assert set(by["pipe"]) <= {16, 32, 64, 128, 256}
    assert 8 <= min(by["child"]) and max(by["child"]) <= 64
    assert 64 <= min(by["dir"]) and max(by["dir"]) <= 512
    # log-uniform: the median of anon sizes is near the geometric mean of the range
    assert 120 < np.median(by["anon"]) < 260


def test_run_budget_and_summary_match_the_workload(run1):
    m, r = run1
    total = m.mm.totalram_pages * 4
    assert r.budgets[0] % 256 == 0 and 0.70 * total / 4 < r.budgets[0] + 0 < 0.76 * total / 4
    s = r.summary().set_index("kind")
    items = r.df_items()
    assert s.loc["pipe", "pages"] == items.loc[items.kind == "pipe", "size"].sum()
    assert s.loc["pipe", "items_held"] == s.loc["pipe", "items"]
    assert s.loc["child", "pages_held"] == s.loc["child", "pages"]
    # anon/file roughly half freed, as in the real run (98/190, 174/341)
    for k in ("anon", "file"):
        assert 0.35 < s.loc[k, "items_held"] / s.loc[k, "items"] < 0.65


def test_kernel_side_allocations_like_the_real_dump(run1):
    """Held pages per allocation kind after free vs the real page_owner.after_free
    (fragger + fragchild): pipe 13456, shmem 24732, dentry 5275, shmem inodes 7732,
    maple nodes 491, leaf page tables of children 4552, kernel stacks 468."""
    m, r = run1
    k = r.df_kernel().set_index("what")["pages"]
    assert k["pipe"] == 13456
    assert abs(k["shmem"] - 24732) / 24732 < 0.15
    assert abs(k["dentry"] + k["dentry_open"] - 5275) / 5275 < 0.25
    assert abs(k["shmem_inode_cache"] - 7732) / 7732 < 0.25
    assert abs(k["maple_node"] - 491) / 491 < 0.25
    assert abs(k["kstack"] - 496) <= 8
    assert r.kern.failed == 0
    # the page_owner view: what each comm holds, by migratetype
    po = m.df_page_owner()
    mine = po[po["comm"].astype(str).isin(["fragger", "fragchild"])]
    by_mt = mine.groupby(mine["migratetype"].astype(str))["nr_pages"].sum()
    assert by_mt["Unmovable"] > 25_000 and by_mt["Reclaimable"] > 4_000
    child = mine[mine["comm"].astype(str) == "fragchild"]
    # P leaf page tables + P touched pages, plus a few vm_area slab pages (real: 9143)
    assert 2 * 4552 <= child["nr_pages"].sum() <= 2 * 4552 + 60
    assert set(mine.loc[mine["top_frame"].astype(str) == "pipe_write", "gfp"]) == {"GFP_HIGHUSER|__GFP_ACCOUNT"}


def test_phase_snapshots_are_taken(run1):
    m, r = run1
    assert list(m.snapshots) == ["before_fill", "after_fill", "after_free"]
    before, fill, free = (frag_metrics(m.snapshots[p]) for p in m.snapshots)
    assert before["free_pages"] > fill["free_pages"] < free["free_pages"]
    assert fill["blocks_U"] > before["blocks_U"]
    # freeing half the items frees pages but few whole pageblocks (they interleave)
    assert free["free_pages"] - fill["free_pages"] > 50_000
    assert free["free_pages_o9"] - fill["free_pages_o9"] < 10_000
    assert m.snapshots["after_free"].info["summary"].equals(r.summaries["free.r1"])


def test_same_seed_same_frames():
    a = pextlab.boot(mem="256M", cmdline="page_owner=on")
    b = pextlab.boot(mem="256M", cmdline="page_owner=on")
    ra = a.run(fragger(seed=5, fill=0.6))
    rb = b.run(fragger(seed=5, fill=0.6))
    pd.testing.assert_frame_equal(ra.df_steps(), rb.df_steps())
    for name in ("after_fill", "after_free"):
        for f in ("df_buddyinfo", "df_pagetypeinfo", "df_pageblocks", "df_page_owner"):
            pd.testing.assert_frame_equal(getattr(a.snapshots[name], f)(),
                                          getattr(b.snapshots[name], f)())
    c = pextlab.boot(mem="256M", cmdline="page_owner=on")
    c.run(fragger(seed=6, fill=0.6))
    assert not c.snapshots["after_fill"].df_buddyinfo().equals(a.snapshots["after_fill"].df_buddyinfo())


def test_rounds_name_earlier_snapshots_like_init():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    r = m.run(fragger(seed=2, fill=0.5, rounds=2))
    assert list(m.snapshots) == ["before_fill", "after_fill.r1", "after_free.r1", "after_fill",
                                 "after_free"]
    assert len(r.budgets) == 2 and r.df_items()["round"].max() == 2
    # round 2 frees among everything still held: nothing is freed twice
    items = r.df_items()
    assert set(items["freed_round"]) <= {0, 1, 2}


def test_bad_arguments():
    with pytest.raises(PextlabError):
        fragger(rounds=0)
    with pytest.raises(PextlabError):
        fragger(fill=1.5e3)
    m = pextlab.boot(mem="256M")
    with pytest.raises(PextlabError):
        m.run(fragger(seed=1), duration="1s")


def test_hugepage_target_is_inits():
    assert hugepage_target(1009464) == 147


def test_probe_on_a_small_machine():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    r = m.run(fragger(seed=1, fill=0.3, probe=True, snapshots=("after_probe2",)))
    assert list(m.snapshots) == ["after_probe2"]
    t = r.probe["target"]
    assert t == hugepage_target(m.mm.totalram_pages * 4) and t > 0
    # little is used: both probes get the whole target; the release empties the pool
    assert r.probe["probe1"] == r.probe["probe2"] == t
    assert r.probe["release"] == 0 and m.nr_hugepages == t


def _held_by_stack(m, r):
    """Pages fragger holds per stack handle: its own books, and page_owner's."""
    k = r.kern
    mine = {}
    for key, pages in k.counts.items():
        h = k.alloc_kind(key, key in SLAB_CACHES)[2]
        mine[h] = mine.get(h, 0) + pages
    po = m.df_page_owner()
    po = po[po["comm"].astype(str).isin(["fragger", "fragchild"])]
    owner = po.groupby("stack_handle")["nr_pages"].sum()
    return {h: n for h, n in mine.items() if n}, {h: int(n) for h, n in owner.items() if n}


def test_allocation_kinds_are_one_namespace():
    assert not PAGE_KINDS.keys() & SLAB_CACHES.keys()


def test_pages_that_migrate_are_followed():
    """Compaction moves fragger's anon and shmem pages between fill and free; the free
    phase frees them at their new pfns, never a pfn fragger no longer owns."""
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    migrated = []

    def compact_after_fill(name, **_):
        if name.startswith("after_fill"):
            migrated.append(m.compact_memory()["pgmigrate_success"])

    r = fragger(seed=3, fill=0.8, rounds=2).run_on(m, snapshot=compact_after_fill)
    assert len(migrated) == 2 and min(migrated) > 100 and sum(migrated) > 1000
    assert check_invariants(m.mm) == []
    assert r.kern.failed == 0
    mine, owner = _held_by_stack(m, r)
    assert mine == owner
    # the follower is off the list once the run is over
    assert r.kern.lru.follow_migration not in m.mm.migrate_notifiers


@pytest.mark.slow
def test_fill_92_three_rounds_runs_to_the_end():
    """Issue 10: proactive compaction in the sleep before after_fill of round 3 migrates
    ~20k of fragger's pages; the free phase must free them where they are now."""
    for cmdline in ("page_owner=on", "page_owner=on movablecore=512M"):
        m = pextlab.boot(mem="1G", cmdline=cmdline)
        r = m.run(fragger(seed=1, fill=0.92, rounds=3, snapshots=False))
        assert m.mm.vm_events["pgmigrate_success"] > 5000, cmdline
        assert check_invariants(m.mm) == []
        assert r.summary().set_index("kind").loc["anon", "items_held"] < 0.5 * len(
            [i for i in r.items if i.kind == "anon"])
        mine, owner = _held_by_stack(m, r)
        assert mine == owner, cmdline
