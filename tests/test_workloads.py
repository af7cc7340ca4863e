"""Workloads: specs, the stack catalogue, and runs on a simulated machine.

Runs use small machines and a few simulated seconds so the file stays fast.
"""
import json

import numpy as np
import pandas as pd
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.analysis.owners import top_owners
from pextlab.errors import PextlabError
from pextlab.kernel import compaction
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.gfp import format_gfp, gfp_migratetype
from pextlab.kernel.mmzone import PG_HEAD
from pextlab.procfs.page_owner import format_page_owner, read_page_owner
from pextlab.schema import SCHEMAS

from conftest import REAL


def boot(mem="1G", nodes=2, cmdline="page_owner=on", seed=1):
    return pextlab.boot(mem=mem, nodes=nodes, cmdline=cmdline, seed=seed)


def mixed():
    return W.mix(
        W.anon("postgres", rate=1500, lifetime="1s"),
        W.page_cache("kworker/u8:1", rate=300, lifetime="3s"),
        W.slab("kworker/0:1", rate=100, lifetime="2s"),
        W.slab("updatedb", rate=100, lifetime="4s", reclaimable=True),
        W.page_tables("bash", rate=40),
        W.kernel_stacks("systemd", rate=10),
        W.thp("qemu", rate=3, lifetime="1s"),
        W.pipe_buffers("cat", rate=100),
        W.burst("make", pages=2000, at="1s", within="200ms", lifetime="500ms"),
        W.hog("java", pages=30_000, ramp="2s"),
        W.leak("leaky", pages=3000, fraction=0.25, over="3s", lifetime="200ms"),
        W.pin("rdma", pages=1000),
        name="mixed")


@pytest.fixture(scope="module")
def ran():
    m = boot()
    before = (m.mm.nr_alloc_events, m.mm.nr_free_events)
    summary = m.run(mixed(), duration="5s", record=True, sample="250ms")
    return m, summary, before


# --- specs -------------------------------------------------------------------------------------

def test_parse_duration():
    assert W.parse_duration("60s") == 60 * 10**9
    assert W.parse_duration("250ms") == 250_000_000
    assert W.parse_duration("2min") == 120 * 10**9
    assert W.parse_duration(0.5) == 500_000_000
    for bad in ("fast", "-1s", -2, True, "10 parsecs"):
        with pytest.raises(PextlabError):
            W.parse_duration(bad)


def test_task_validation():
    with pytest.raises(PextlabError, match="rate"):
        W.anon("a", rate=0)
    with pytest.raises(PextlabError, match="TASK_COMM_LEN"):
        W.anon("a" * 16)
    with pytest.raises(PextlabError, match="leak"):
        W.Task(comm="a", kind="anon", rate=1, leak=1.5)
    with pytest.raises(PextlabError, match="multiple"):
        W.hog("h", pages=1001, order=1)
    with pytest.raises(PextlabError, match="Tasks and Workloads"):
        W.mix(W.anon("a"), "b")


def test_constructors_encode_counts():
    h = W.hog("java", pages=1000, ramp="2s")
    assert (h.count, h.lifetime_ns, h.rate, h.label) == (1000, None, 500.0, "hog")
    lk = W.leak("leaky", pages=20_003, fraction=0.3, over="10s")
    assert lk.count == 66_677 and round(lk.leak * lk.count) == 20_003
    ks = W.kernel_stacks()
    assert ks.batch == 4 and ks.kind == "kernel_stack"
    assert W.thp().order == 9 and W.slab(reclaimable=True).kind == "slab_reclaimable"


def test_mix_flattens_and_adds():
    a, b, c = W.anon("a"), W.slab("b"), W.hog("c", pages=10)
    w = W.mix(a, W.mix(b), [c], name="w")
    assert w.tasks == (a, b, c) and w.name == "w"
    assert (W.mix(a) + W.mix(b, c)).tasks == (a, b, c)


def test_save_load_round_trip(tmp_path):
    w = mixed()
    p = tmp_path / "w.json"
    w.save(p)
    assert W.load(p) == w
    assert W.Workload.from_dict(json.loads(p.read_text())) == w
    d = w.to_dict()
    d["tasks"][0]["colour"] = "red"
    with pytest.raises(PextlabError, match="colour"):
        W.Workload.from_dict(d)
    with pytest.raises(PextlabError, match="format"):
        W.Workload.from_dict({"tasks": []})


# --- catalogue ---------------------------------------------------------------------------------

def test_catalogue_entries_are_consistent():
    cat = W.load_catalogue()
    prof = pextlab.get_profile("v6.12")
    kinds = {"anon", "page_cache", "slab", "slab_reclaimable", "page_tables", "kernel_stack",
             "populate", "huge", "pipe"}
    for k in kinds:
        assert cat.entries(k), k
    for r in cat.to_records():
        e = cat[r["id"]]
        assert e.gfp == format_gfp(e.gfp_mask, prof)
        assert e.migratetype == prof.migratetype_names[gfp_migratetype(e.gfp_mask, prof)]
        assert 1 <= len(e.frames) <= 16 and e.observed_blocks >= 1
    anon = cat.entries("anon")[0]
    assert anon.gfp_mask == 0x140dca and anon.order == 0
    assert cat.entries("huge")[0].order == 9
    assert all(e.gfp_mask & prof.gfp_bits["__GFP_RECLAIMABLE"] for e in cat.entries("slab_reclaimable"))
    with pytest.raises(PextlabError, match="kinds"):
        cat.entries("nope")


def test_catalogue_stacks_come_from_the_real_dumps():
    cat = W.load_catalogue()
    raw = json.loads(W.catalogue.CATALOGUE_PATH.read_text())
    for name in ("b-1G", "f-numa2"):
        dump = read_page_owner(REAL / name / "page_owner.txt.gz")
        seen = set(zip(dump["stack"].astype(str), dump["gfp_mask"], dump["order"]))
        mine = [s for s in raw["stacks"] if f"{name}/page_owner.txt.gz" in s["sources"]]
        assert mine
        for s in mine:
            assert ("\n".join(s["frames"]), s["gfp_mask"], s["order"]) in seen, s["id"]
    assert len(cat) == len(raw["stacks"])


# --- runs --------------------------------------------------------------------------------------

def test_same_seed_same_frames_bit_for_bit():
    frames = []
    for _ in range(2):
        m = boot(seed=7)
        s = m.run(mixed(), duration="3s", record=True, sample="500ms")
        frames.append((s, m.df_page_owner(), m.df_stacks(), m.df_events(), m.df_memory_usage()))
    for a, b in zip(*frames):
        pd.testing.assert_frame_equal(a, b)
    m = boot(seed=8)
    m.run(mixed(), duration="3s", record=True)
    assert not m.df_events()["pfn"].equals(frames[0][3]["pfn"])


def test_seed_argument_overrides_machine_seed():
    a, b = boot(seed=1), boot(seed=2)
    for m in (a, b):
        m.run(W.anon("x", rate=500), duration="1s", record=True, seed=99)
    pd.testing.assert_frame_equal(a.df_events(), b.df_events())


def test_leak_is_exact_and_never_freed():
    m = boot()
    lk = W.leak("leaky", pages=1234, fraction=0.2, over="2s", lifetime="100ms",
                lifetime_dist="fixed")
    m.run(W.mix(W.anon("churn", rate=800, lifetime="300ms"), lk), duration="3s", record=True)
    po = m.df_page_owner()
    leaky = po[po["comm"] == "leaky"]
    assert leaky["nr_pages"].sum() == 1234
    ev = m.df_events()
    le = ev[ev["comm"] == "leaky"]
    assert (le["event"] == "alloc").sum() == lk.count
    assert (le["event"] == "alloc").sum() - (le["event"] == "free").sum() == 1234
    kept = set(leaky["pfn"])
    # later runs free what is due, never the leaked blocks
    m.run(W.anon("churn", rate=800, lifetime="300ms"), duration="2s", record=True)
    po2 = m.df_page_owner()
    leaky2 = po2[po2["comm"] == "leaky"]
    assert set(leaky2["pfn"]) == kept
    assert leaky2["ts_ns"].tolist() == leaky["ts_ns"].tolist()
    t = m.df_tasks()
    assert t.loc[t["comm"] == "leaky", "held"].tolist() == [1234]


def test_hog_is_the_top_owner(ran):
    m, _, _ = ran
    top = top_owners(m.df_page_owner(), by="comm", n=3)
    assert top["comm"].iloc[0] == "java"
    assert top["pages"].iloc[0] == 30_000


def test_stacks_totals_match_page_owner(ran):
    m, _, _ = ran
    po = m.df_page_owner()
    st = m.df_stacks()
    by_handle = po.groupby("stack_handle")["nr_pages"].sum()
    by_handle = by_handle.drop(m.mm.page_owner.early_handle, errors="ignore")
    by_handle = by_handle[by_handle > 0].sort_index()
    counts = st.set_index("stack_handle")["nr_base_pages"].sort_index()
    pd.testing.assert_series_equal(by_handle, counts, check_names=False)
    # the workload's stacks are the catalogue's frames
    cat = W.load_catalogue()
    java = po[po["comm"] == "java"]["stack"].astype(str).unique()
    anon_stacks = {"\n".join(e.frames) for e in cat.entries("anon")}
    assert set(java) <= anon_stacks


def test_events_count_allocations_and_frees(ran):
    m, summary, (a0, f0) = ran
    ev = m.df_events()
    assert list(ev.columns) == list(SCHEMAS["events"])
    counts = ev["event"].value_counts()
    assert counts["alloc"] == m.mm.nr_alloc_events - a0 == summary["allocs"].sum()
    assert counts["free"] == m.mm.nr_free_events - f0 == summary["frees"].sum()
    assert counts.get("fail", 0) == summary["failed"].sum()
    assert len(ev) == summary[["allocs", "frees", "failed"]].to_numpy().sum()


def test_memory_usage_conserves_pages(ran):
    m, _, _ = ran
    mu = m.df_memory_usage()
    assert list(mu.columns) == list(SCHEMAS["memory_usage"])
    assert mu["time_ns"].nunique() == 21          # 0, 250ms, ..., 5s
    z = mu.groupby(["time_ns", "node", "zone"], observed=True).agg(
        free=("free", "sum"), used=("used", "sum"), managed=("managed", "first"))
    held_by_kernel = z["managed"] - z["free"] - z["used"]
    per_zone = held_by_kernel.groupby(level=["node", "zone"], observed=True).nunique()
    assert (per_zone == 1).all()
    zones = m.df_zones().set_index(["node", "zone"])
    last = z.xs(z.index.get_level_values(0).max(), level=0)
    for (node, zone), row in last.iterrows():
        assert row["free"] == zones.loc[(node, zone), "free"]
    assert z["used"].groupby(level=0).sum().iloc[-1] > 30_000


def test_allocator_invariants_after_run(ran):
    m, _, _ = ran
    assert check_invariants(m.mm) == []


def test_page_owner_text_round_trip(ran):
    m, _, _ = ran
    po = m.df_page_owner()
    back = read_page_owner(format_page_owner(po, variant="v6.12"))
    assert len(back) == len(po)
    for c in ("pfn", "order", "nr_pages", "gfp_mask", "pid", "tgid", "ts_ns", "node"):
        np.testing.assert_array_equal(back[c].to_numpy(), po[c].to_numpy(), err_msg=c)
    for c in ("comm", "stack", "gfp", "migratetype", "pageblock_migratetype", "zone"):
        assert back[c].astype(str).tolist() == po[c].astype(str).tolist(), c


def test_allocation_failure_is_counted_not_raised():
    m = boot(mem="256M", nodes=1)
    s = m.run(W.mix(W.hog("hog", pages=100_000, ramp="1s"), W.thp("qemu", rate=50, lifetime=None)),
              duration="2s", record=True)
    assert s.loc[s["comm"] == "hog", "failed"].iloc[0] > 0
    ev = m.df_events()
    fails = ev[ev["event"] == "fail"]
    assert len(fails) == s["failed"].sum() and (fails["pfn"] == -1).all()
    assert fails["zone"].isna().all() and fails["migratetype"].notna().all()
    assert check_invariants(m.mm) == []


def test_page_owner_off_still_runs():
    m = boot(cmdline="")
    s = m.run(W.mix(W.anon("a", rate=300), W.hog("h", pages=500)), duration="1s", record=True)
    assert m.df_page_owner().empty
    ev = m.df_events()
    assert (ev["stack_handle"] == 0).all() and ev["stack_id"].notna().all()
    assert s["allocs"].sum() == (ev["event"] == "alloc").sum()


def test_no_record_no_events_but_samples():
    m = boot()
    m.run(W.anon("a", rate=200), duration="1s", sample="500ms")
    assert m.df_events().empty and list(m.df_events().columns) == list(SCHEMAS["events"])
    assert m.df_memory_usage()["time_ns"].nunique() == 3
    m2 = boot()
    m2.run(W.anon("a", rate=200), duration="1s", sample=None)
    assert m2.df_memory_usage().empty


def test_pids_are_stable_per_comm_and_tasks_spread_over_nodes():
    m = boot()
    s1 = m.run(W.mix(W.anon("a", rate=100), W.anon("b", rate=100)), duration="500ms")
    s2 = m.run(W.mix(W.anon("b", rate=100), W.anon("c", rate=100, pid=42)), duration="500ms")
    assert s1["pid"].tolist() == [1000, 1001] and s2["pid"].tolist() == [1001, 42]
    assert s1["nid"].tolist() == [0, 1]
    po = m.df_page_owner()
    assert set(po.loc[po["comm"] == "c", "pid"]) == {42}
    assert m.mm.clock_ns == m.run_log.runs[-1]["end_ns"]


def test_task_windows_and_explicit_stacks():
    m = boot()
    m.run(W.anon("late", rate=1000, at="1s", stop="1.5s", stacks=("anon-1",)), duration="2s",
          record=True)
    ev = m.df_events()
    a = ev[ev["event"] == "alloc"]
    t0 = m.run_log.runs[0]["start_ns"]
    assert a["time_ns"].min() >= t0 + 10**9 and a["time_ns"].max() < t0 + 15 * 10**8
    assert set(a["stack_id"].astype(str)) == {"anon-1"}
    with pytest.raises(PextlabError, match="kind"):
        m.run(W.anon("x", stacks=("slab-0",)), duration="1s")
    with pytest.raises(PextlabError, match="catalogue kinds"):
        m.run(W.task("x", "teleport", rate=1), duration="1s")


def test_runs_continue_one_history():
    m = boot()
    assert m.run_log is None
    s1 = m.run(W.anon("a", rate=200, lifetime="10s", lifetime_dist="fixed"), duration="1s")
    log = m.run_log
    assert isinstance(log, W.RunLog)
    assert len(log.heap) == s1["allocs"].sum() > 100          # nothing was due yet
    s2 = m.run(W.anon("b", rate=100, lifetime=None), duration="1s")
    assert m.run_log is log and len(log.runs) == 2 and len(log.held) == s2["held"].sum()
    assert m.mm.clock_ns == log.runs[1]["end_ns"] == log.runs[0]["end_ns"] + 10**9


# --- migration ---------------------------------------------------------------------------------

def _owned(m, log, comms):
    """pfns the log frees later or holds, and the workload's blocks page_owner lists."""
    po = m.df_page_owner()
    mine = po[po["comm"].astype(str).isin(comms)]
    return {e[2] for e in log.heap} | set(log.held), set(mine["pfn"])


def _used_by_zone(log):
    nm = log.nr_mt
    out = {}
    for c, z in enumerate(log.zones):
        n = sum(log.used[c * nm:(c + 1) * nm])
        if n:
            out[(z.nid, z.name)] = n
    return out


def test_run_log_follows_compaction():
    """Compaction moves pending and held blocks; the log re-points them and later frees
    each block where it is now."""
    m = boot(mem="256M", nodes=1)
    log = W.RunLog(m.mm)                  # a log of its own: only its own follower moves it
    assert log.follow_migration in m.mm.migrate_notifiers
    rng = np.random.default_rng(5)
    # ~30000 anon pages live, 20000 held, 6000 slab: a full machine but no OOM kill
    w = W.mix(W.anon("app", rate=15000, lifetime="2s"), W.hog("hog", pages=20000, ramp="2s"),
              W.slab("s", rate=3000, lifetime="20s"))
    W.run(m.mm, w, W.parse_duration("2s"), rng, log=log)
    assert "oom_kill" not in m.mm.vm_events
    # a quiet second: freed anon pages leave holes between the hog's and the pending ones
    W.run(m.mm, W.anon("app", rate=10), W.parse_duration("1s"), rng, log=log)
    comms = ("app", "hog", "s")
    pfns, owned = _owned(m, log, comms)
    assert pfns == owned
    heap0, held0 = {e[2] for e in log.heap}, set(log.held)
    ev = m.compact_memory()
    assert ev["pgmigrate_success"] > 5000
    # both pending frees and held blocks moved
    assert len(heap0 - {e[2] for e in log.heap}) > 1000 and len(held0 - set(log.held)) > 1000
    moved = m.df_page_owner()
    moved = moved[moved["comm"].astype(str).isin(comms) & moved["last_migrate_reason"].notna()]
    assert set(moved["comm"].astype(str)) == {"app", "hog"}   # slab pages stay where they are
    after, owned = _owned(m, log, comms)
    assert after == owned
    W.run(m.mm, w, W.parse_duration("10s"), rng, log=log)      # frees the moved blocks
    assert check_invariants(m.mm) == []
    after, owned = _owned(m, log, comms)
    assert after == owned


def test_run_log_follows_offline_to_another_zone():
    """Offlining a ZONE_MOVABLE block migrates the workload's pages to DMA32: the log's
    used pages per zone follow them."""
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", maxmem="2G", seed=1)
    (block,) = m.hot_add("128M")
    assert m.online(block, "online_movable").ok
    log = W.RunLog(m.mm)
    rng = np.random.default_rng(2)
    w = W.mix(W.anon("app", rate=20000, lifetime="20s"), W.hog("hog", pages=20000, ramp="1s"))
    W.run(m.mm, w, W.parse_duration("2s"), rng, log=log, sample_every_ns=10**9)
    used = _used_by_zone(log)
    assert used[(0, "Movable")] > 20000
    assert m.offline(block).ok
    po = m.df_page_owner()
    mine = po[po["comm"].astype(str).isin(["app", "hog"])]
    by_zone = {(int(n), str(z)): int(p) for (n, z), p in
               mine.groupby(["node", "zone"], observed=True)["nr_pages"].sum().items() if p}
    assert (0, "Movable") not in by_zone and _used_by_zone(log) == by_zone
    assert sum(by_zone.values()) == sum(used.values())
    pfns, owned = _owned(m, log, ("app", "hog"))
    assert pfns == owned
    W.run(m.mm, w, W.parse_duration("30s"), rng, log=log, sample_every_ns=10**9)
    assert check_invariants(m.mm) == []
    S = log.samples_np()                 # time, zone code, migratetype, free, used, managed
    movable = [c for c, z in enumerate(log.zones) if z.name == "Movable"]
    last = S[S[:, 0] == S[:, 0].max()]
    assert last[np.isin(last[:, 1], movable), 4].sum() == 0


def _allocated_heads(mm, pfns) -> bool:
    return all(mm.sections[p >> mm.section_shift].flags[p & mm.section_mask] & PG_HEAD
               for p in pfns)


def test_run_log_survives_a_deep_copy_of_the_machine():
    """A snapshot deep-copies the machine, run log included: the copy's log follows the
    copy's migrations, the original's does not move."""
    m = boot(mem="256M", nodes=1, cmdline="")
    rng = np.random.default_rng(3)
    m.run(W.mix(W.anon("app", rate=20000, lifetime="2s"), W.hog("hog", pages=20000, ramp="2s")),
          duration="2s")
    m.run(W.anon("app", rate=10), duration="1s")
    snap = m.snapshot("copy")
    (tlog,) = [f.__self__ for f in snap.mm.migrate_notifiers if isinstance(f.__self__, W.RunLog)]
    log = m.run_log
    assert tlog is not log and tlog.mm is snap.mm and tlog.heap == log.heap
    heap0, held0 = list(log.heap), dict(log.held)
    moved0 = snap.mm.vm_events.get("pgmigrate_success", 0)
    compaction.compact_memory(snap.mm)
    assert snap.mm.vm_events["pgmigrate_success"] - moved0 > 1000
    assert log.heap == heap0 and log.held == held0            # the original did not move
    assert tlog.heap != heap0 and tlog.held != held0
    assert _allocated_heads(snap.mm, [e[2] for e in tlog.heap] + list(tlog.held))
    due = {e[1] for e in tlog.heap}                            # by sequence number
    W.run(snap.mm, W.anon("app", rate=100), W.parse_duration("10s"), rng, log=tlog)
    assert len(due - {e[1] for e in tlog.heap}) > 1000 and tlog.heap[0][0] > snap.mm.clock_ns
    assert check_invariants(snap.mm) == [] and check_invariants(m.mm) == []
