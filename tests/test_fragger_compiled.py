"""fragger's compiled parts (_kernel_side.pyx, _process.pyx, _rng.dir_entries) against what
they replaced: the same draws, the reverse map that follows migrations and survives a
snapshot's copy, the SLUB rules of the slab caches, clear errors for unknown kinds."""
import copy
import math

import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.workloads.fragger import fragger
from pextlab.workloads.fragger.kernel_side import ALLOC_KINDS, FraggerKernel, PageSlots
from pextlab.workloads.fragger.rng import EST_DIR, Stream, dir_entries


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
