"""fragger's compiled parts (_kernel_side.pyx, _process.pyx, _rng.pyx) against what they
replaced: the same draws, the same kernel calls of a round's fill (against the Python loop
it replaced), the free choices, the reverse map that follows migrations and survives a
snapshot's copy, the SLUB rules of the slab caches, clear errors for bad input."""
import copy
import gc
import math

import numpy as np
import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.workloads.fragger import fragger, generate_items, schedule, sched_stream
from pextlab.workloads.fragger._process import fill_round as _fill_round
from pextlab.workloads.fragger.kernel_side import ALLOC_KINDS, FraggerKernel, PageSlots
from pextlab.workloads.fragger.process import FraggerProcess
from pextlab.workloads.fragger.rng import EST_DIR, Stream, dir_entries, free_decision, hash01


def _dir_entries_python(g, n):
    """fragger.c gen_items' directory entries, as the Python of items.py drew them."""
    et, el, files = bytearray(n), [-1] * n, []
    e = 0.0
    nf = nl = nd = 0
    for i in range(n):
        x = g.u01()
        t = 0 if x < 0.30 else 1 if x < 0.90 else 2
        if t == 1:
            if not files:
                t = 0
            else:
                el[i] = files[g.uniform(0, len(files) - 1)]
        et[i] = t
        if t == 0:
            files.append(i)
            nf += 1
            e += EST_DIR[0]
        elif t == 1:
            nl += 1
            e += EST_DIR[1]
        else:
            nd += 1
            e += EST_DIR[2]
    return bytes(et), tuple(el), nf, nl, nd, e


@pytest.mark.parametrize("seed", [0, 1, 99, 2**64 - 1])
def test_dir_entries_are_the_python_draws(seed):
    for n in (0, 1, 64, 512):
        a, b = Stream(seed + n), Stream(seed + n)
        got, want = dir_entries(a, n), _dir_entries_python(b, n)
        assert got == want and a.s == b.s
        assert math.ceil(got[5]) >= 0 and got[2] + got[3] + got[4] == n


def test_page_slots_follow_migrations_and_copy():
    p = PageSlots(64)
    assert [p.add(pfn) for pfn in (5, -1, 9)] == [0, 1, 2]
    p.follow_migration([(5, 40, 0), (7, 41, 0)], "compaction")     # pfn 7 is not ours
    assert list(p.lru) == [40, -1, 9] and p.rmap[40] == 0 and p.rmap[5] == -1
    assert p.rmap[41] == -1
    q = copy.deepcopy(p)
    assert p.take(0) == 40 and p.take(0) == -1 and p.take(1) == -1
    assert list(q.lru) == [40, -1, 9] and q.rmap[40] == 0       # the copy kept its own
    with pytest.raises(IndexError):
        p.take(3)
    with pytest.raises(IndexError):
        p.add(64)
    with pytest.raises(IndexError):
        p.follow_migration([(9, 64, 0)], "compaction")


def test_a_snapshot_during_the_run_copies_the_follower():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    r = m.run(fragger(seed=1, fill=0.5))
    (follow,) = m.snapshots["after_fill"].machine.mm.migrate_notifiers
    assert isinstance(follow.__self__, PageSlots) and follow.__self__ is not r.kern.lru
    assert r.kern.lru.follow_migration not in m.mm.migrate_notifiers


def test_slab_caches_follow_slub():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    k = FraggerKernel(m.mm)
    c = k.cache("dentry")                      # 21 objects per order-0 slab
    objs = [k.obj("dentry") for _ in range(22)]
    first, second = objs[0], objs[21]
    assert first is not second and c.nr_slabs == 2 and c.nr_objs == 22
    assert c.partial == [second] and first.inuse == 21           # a full slab leaves the list
    k.unobj("dentry", objs[1])
    assert c.partial == [first, second]                         # ...and comes back at the head
    assert k.counts == {"dentry": 2}
    for s in objs[:1] + objs[2:]:
        k.unobj("dentry", s)
    assert c.nr_objs == 0 and c.partial == [] and c.empty == [first, second]
    assert c.nr_slabs == 2 and k.counts == {"dentry": 2}         # min_partial keeps them


def test_kinds_are_named_clearly():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    k = FraggerKernel(m.mm)
    assert k.kind_id("anon") == ALLOC_KINDS.index("anon")
    with pytest.raises(PextlabError, match="no allocation kind"):
        k.alloc_page("nope")
    with pytest.raises(PextlabError, match="not a slab cache"):
        k.obj("anon")
    pfn = k.alloc_page("kmalloc_large", 3)
    assert pfn >= 0 and k.counts == {"kmalloc_large": 8}
    k.free_page("kmalloc_large", pfn, 3)
    assert k.counts == {"kmalloc_large": 0} and k.failed == 0


# --- the round's fill and the free phase, compiled (_process.fill_round, delete_dir) -------
def _fill_python(proc, items, sch, rnd, step_ns, steps):
    """The fill as the Python of workload.py / process.py did it before it was compiled:
    items.schedule's draws, then each chunk's work through the kernel side's public
    per-page methods."""
    k, mm = proc.k, proc.k.mm
    for it, n in schedule(items, sch):
        if n == 0:
            proc.open(it)
            continue
        if n < 0:
            proc.close(it)
            continue
        if it.first_step < 0:
            it.first_step = len(steps)
        it.last_step = len(steps)
        it.nchunks += 1
        mm.clock_ns += step_ns
        st = it.state
        if it.kind == "child":
            proc.child(it)
        else:
            k.set_task("fragger", proc.pid, proc.pid)
            if it.kind == "anon":
                for i in range(n):
                    k.touch_anon(st.va + it.done + i, st.slots)
            elif it.kind == "file":
                for i in range(it.done, it.done + n):
                    if i % 64 == 0:
                        st.xa.append(k.obj("radix_tree_node"))
                        if i == 64:
                            st.xa.append(k.obj("radix_tree_node"))
                    k.map_page("shmem", st.slots)
            elif it.kind == "pipe":
                st.pages += [k.alloc_page("pipe") for _ in range(n)]
            elif it.kind == "dir":
                for e in range(it.done, it.done + n):
                    t = it.etype[e]
                    if t == 1:
                        st.dentries.append(k.obj("dentry"))
                        st.inodes.append(None)
                        st.nlink[it.elink[e]] += 1
                    else:
                        st.dentries.append(k.obj("dentry_open" if t == 0 else "dentry"))
                        st.inodes.append(k.obj("shmem_inode_cache"))
                    st.nlink.append(1)
                    if (e + 1) % 14 == 0:
                        st.maple.append(k.obj("maple_node"))
        steps.append((rnd, it.id, n))


def _fill_both(seed, budget, mem="256M"):
    """Two machines filled from the same items, the compiled way and the Python way."""
    out = []
    for fill_with in ("compiled", "python"):
        m = pextlab.boot(mem=mem, cmdline="page_owner=on")
        k = FraggerKernel(m.mm)
        proc = FraggerProcess(k, seed, 199)
        proc.exec_self()
        items, _ = generate_items(seed, budget)
        sch, steps = sched_stream(seed), []
        if fill_with == "compiled":
            proc.fill(items, sch, 1, 669_000, steps)
        else:
            _fill_python(proc, items, sch, 1, 669_000, steps)
        out.append((m, k, items, sch, steps))
    return out


def _same_kernel_state(a, b):
    (ma, ka, _, _, _), (mb, kb, _, _, _) = a, b
    ra, rb = ma.mm.page_owner.records, mb.mm.page_owner.records
    assert ra.n == rb.n and np.array_equal(ra.rows[:ra.n], rb.rows[:rb.n])
    for sa, sb in zip(ma.mm.sections, mb.mm.sections):
        if sa is not None and sa.page_ext is not None:
            assert np.array_equal(sa.page_ext.flags, sb.page_ext.flags)
            assert np.array_equal(sa.page_ext.owner, sb.page_ext.owner)
    assert ma.mm.clock_ns == mb.mm.clock_ns
    assert (ma.mm.comm, ma.mm.pid, ma.mm.comm_id) == (mb.mm.comm, mb.mm.pid, mb.mm.comm_id)
    assert ka.counts == kb.counts and ka.failed == kb.failed
    assert list(ka.lru.lru) == list(kb.lru.lru) and ka.lru.rmap == kb.lru.rmap
    assert ka.pte_pfn == kb.pte_pfn and ka.pmd_ref == kb.pmd_ref


@pytest.mark.parametrize("seed,budget", [(1, 20_000), (7, 12_000), (2**64 - 1, 6_000)])
def test_the_compiled_fill_is_the_python_fill(seed, budget):
    a, b = _fill_both(seed, budget)
    _same_kernel_state(a, b)
    (_, _, ia, sa, pa), (_, _, ib, sb, pb) = a, b
    assert pa == pb and len(pa) > 100 and sa.s == sb.s            # same draws, same steps
    keys = ("done", "nchunks", "first_step", "last_step", "pid")
    assert [[getattr(i, f) for f in keys] for i in ia] == [[getattr(i, f) for f in keys] for i in ib]
    for i, j in zip(ia, ib):
        si, sj = i.state, j.state
        assert (si.slots, si.pages, si.va, si.nlink, si.pt) == (sj.slots, sj.pages, sj.va,
                                                                 sj.nlink, sj.pt)
        assert [(c, s.pfn) for c, s in si.objs] == [(c, s.pfn) for c, s in sj.objs]
        for f in ("xa", "dentries", "maple"):
            assert [s.pfn for s in getattr(si, f)] == [s.pfn for s in getattr(sj, f)]
        assert [None if s is None else s.pfn for s in si.inodes] == \
            [None if s is None else s.pfn for s in sj.inodes]


def test_a_fill_that_runs_out_of_memory_is_the_python_fill():
    # 4x the memory: the slow path, compaction and failed allocations, the same either way
    a, b = _fill_both(3, 4 * 16_384, mem="64M")
    assert a[1].failed > 0
    _same_kernel_state(a, b)
    assert a[4] == b[4]


def test_the_free_phase_deletes_the_entries_free_decision_chooses():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    r = m.run(fragger(seed=5, fill=0.5, rounds=2, snapshots=False))
    dirs = [i for i in r.items if i.kind == "dir"]
    assert dirs and sum(i.deleted for i in dirs) > 0
    for it in dirs:
        for e in range(it.size):
            first = next((rnd for rnd in (1, 2) if rnd >= it.round
                          and free_decision(5, rnd, "dir", it.id, e)), 0)
            assert it.edel[e] == first
        assert it.deleted == sum(1 for x in it.edel if x)


@pytest.mark.parametrize("seed", [0, 1, -1, 2**64 - 1, 2**70 + 3])
def test_free_decision_is_hash01_below_its_threshold(seed):
    for rnd in (0, 1, 2, 9):
        salt = 16 * (rnd - 1)
        for item in (0, 1, 63, 2**40):
            assert free_decision(seed, rnd, "anon", item) == (hash01(seed, 1 + salt, item, 0) < 0.5)
            assert free_decision(seed, rnd, "file", item) == (hash01(seed, 1 + salt, item, 0) < 0.5)
            for e in (0, 5, 511):
                assert free_decision(seed, rnd, "dir", item, e) == \
                    (hash01(seed, 2 + salt, item, e) < 0.3)
            assert free_decision(seed, rnd, "pipe", item) is False
    assert free_decision(seed, 1, "child", None) is False          # never looked at


def test_the_compiled_fill_refuses_bad_input():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    k = FraggerKernel(m.mm)
    proc = FraggerProcess(k, 1, 199)
    items, _ = generate_items(1, 200)
    with pytest.raises(PextlabError, match="window"):
        _fill_round(proc, items, sched_stream(1), 1, 0, [], 0)
    items[1].done = items[1].size
    with pytest.raises(PextlabError, match=f"item {items[1].id} has no work"):
        proc.fill(items, sched_stream(1), 1, 0, [])
    items[1].done, items[1].size = 0, 0
    with pytest.raises(PextlabError, match="no work"):
        proc.fill(items, sched_stream(1), 1, 0, [])
    with pytest.raises(PextlabError, match="comm"):
        k.set_task(None, 1, 1)
    with pytest.raises(PextlabError, match="comm"):
        k.set_task("", 1, 1)
    with pytest.raises(PextlabError, match="machine.mm"):
        FraggerKernel.__new__(FraggerKernel).__init__(m)


def test_set_task_names_the_task_in_the_records():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    k = FraggerKernel(m.mm)
    recs = m.mm.page_owner.records
    k.set_task("newcomm", 42, 40)
    assert (m.mm.comm, m.mm.pid, m.mm.tgid) == ("newcomm", 42, 40)
    assert recs.comms[m.mm.comm_id] == "newcomm"
    cid = m.mm.comm_id
    k.set_task("fragger", 1, 1)
    k.set_task("newcomm", 42, 40)
    assert m.mm.comm_id == cid and recs.comms.count("newcomm") == 1
    m2 = pextlab.boot(mem="64M")                      # no page_owner: comm id 0
    k2 = FraggerKernel(m2.mm)
    k2.set_task("x", 3, 3)
    assert m2.mm.comm_id == 0 and m2.mm.comm == "x"


def test_the_fill_gives_the_collector_back_as_it_found_it():
    m = pextlab.boot(mem="64M", cmdline="page_owner=on")
    proc = FraggerProcess(FraggerKernel(m.mm), 1, 199)
    items, _ = generate_items(1, 300)
    assert gc.isenabled()
    proc.fill(items, sched_stream(1), 1, 0, [])
    assert gc.isenabled()
    items[0].done = items[0].size                          # refused: still given back
    with pytest.raises(PextlabError):
        proc.fill(items, sched_stream(1), 1, 0, [])
    assert gc.isenabled()
    gc.disable()
    try:
        proc.fill(generate_items(2, 100)[0], sched_stream(2), 1, 0, [])
        assert not gc.isenabled()                          # a caller's choice stays
    finally:
        gc.enable()
