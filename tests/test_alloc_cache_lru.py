"""The allocation fast path's per (gfp, nid) cache (``mm._ac_cache``, a C table behind a
dict's interface: kernel/_state.pyx) against prepare_alloc_pages, across hotplug; and the
kernel's LRU lists (``mm.lru[nid]``, kernel/_vmscan.pyx ``LruList``: ints and a holder
registry) against the insertion-ordered dict ``pfn -> (order, holder)`` they replace."""
from __future__ import annotations

import copy
import gc
import pickle
import random
import weakref

import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel import fastpath, page_alloc, vmscan
from pextlab.kernel._state import AllocContextCache
from pextlab.kernel._vmscan import LruList

# masks whose (gfp, nid) pairs, on two nodes, are more than the C table's 64 slots: the
# fast path meets keys sharing a slot
_BASES = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_USER", "GFP_ATOMIC", "GFP_NOWAIT",
          "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_DMA32")
_MODS = ("", "|__GFP_ZERO", "|__GFP_NOWARN", "|__GFP_COMP", "|__GFP_THISNODE",
         "|__GFP_HIGH", "|__GFP_ZERO|__GFP_NOWARN")


def _fresh_ctx(mm, gfp, nid):
    """prepare_alloc_pages computed anew, on an empty cache (the mm's is put back)."""
    saved = mm._ac_cache
    mm._ac_cache = AllocContextCache()
    try:
        return fastpath.prepare_alloc_pages(mm, gfp, nid)
    finally:
        mm._ac_cache = saved


def _zone_name(mm, pfn):
    return mm.zone_of_pfn(pfn).name


def test_the_fast_path_reads_the_cache_and_clear_forgets_its_c_table():
    """An entry put in the cache is what the fast path allocates by (a zonelist of one
    zone); clear() drops it from the C table too, not only from the dict."""
    m = pextlab.boot(mem="1G", nodes=2, seed=1)
    mm = m.mm
    gfp = mm.gfp("GFP_KERNEL")
    mt, zones, high, flags = fastpath.prepare_alloc_pages(mm, gfp, 0)
    assert all(z.nid == 0 for z in zones[:1]) and any(z.nid == 1 for z in zones)
    other = next(z for z in zones if z.nid == 1)
    mm._ac_cache.clear()
    mm._ac_cache[(gfp, 0)] = (mt, (other,), high, flags)
    assert mm.pfn_to_nid(fastpath.alloc_pages_fast(mm, gfp, 0, 0)) == 1
    assert mm.pfn_to_nid(fastpath.alloc_pages_fast(mm, gfp, 0, 0)) == 1   # from the C slot
    mm._ac_cache.clear()
    assert len(mm._ac_cache) == 0
    assert mm.pfn_to_nid(fastpath.alloc_pages_fast(mm, gfp, 0, 0)) == 0
    assert mm._ac_cache.get((gfp, 0)) == _fresh_ctx(mm, gfp, 0)


def test_replacing_an_entry_is_what_the_fast_path_reads_next():
    """``cache[key] = ctx`` over a key the C table already serves: the next allocation
    uses the new context, not the slot's copy of the old one."""
    m = pextlab.boot(mem="1G", nodes=2, seed=1)
    mm = m.mm
    gfp = mm.gfp("GFP_KERNEL")
    mt, zones, high, flags = fastpath.prepare_alloc_pages(mm, gfp, 0)
    assert mm.pfn_to_nid(fastpath.alloc_pages_fast(mm, gfp, 0, 0)) == 0   # slot filled
    other = next(z for z in zones if z.nid == 1)
    mm._ac_cache[(gfp, 0)] = (mt, (other,), high, flags)
    assert mm.pfn_to_nid(fastpath.alloc_pages_fast(mm, gfp, 0, 0)) == 1


def test_cached_contexts_match_prepare_alloc_pages_across_hotplug():
    """Every entry equals prepare_alloc_pages computed anew, before and after each
    hotplug step; the steps clear the cache, and a movable allocation finds the onlined
    ZONE_MOVABLE at once (a stale C slot would keep the old zonelist)."""
    m = pextlab.boot(mem="1G", maxmem="2G", nodes=2, seed=1, cmdline="page_owner=on")
    mm = m.mm
    movable = mm.gfp("GFP_HIGHUSER_MOVABLE")
    masks = [mm.gfp(b + x) for b in _BASES for x in _MODS]

    def allocate_all():
        for gfp in masks:
            for nid in (0, 1, None):
                fastpath.alloc_pages_fast(mm, gfp, 0, nid)
        for (gfp, nid) in list(mm._ac_cache):
            assert mm._ac_cache.get((gfp, nid)) == _fresh_ctx(mm, gfp, nid)

    allocate_all()
    assert _zone_name(mm, fastpath.alloc_pages_fast(mm, movable, 0, 0)) != "Movable"
    (block,) = m.hot_add("128M")
    assert m.online(block, "online_movable").ok
    assert len(mm._ac_cache) == 0
    assert _zone_name(mm, fastpath.alloc_pages_fast(mm, movable, 0, 0)) == "Movable"
    allocate_all()
    assert m.offline(block).ok
    assert len(mm._ac_cache) == 0
    assert _zone_name(mm, fastpath.alloc_pages_fast(mm, movable, 0, 0)) != "Movable"
    allocate_all()


def test_many_keys_sharing_slots_allocate_as_an_uncached_fast_path():
    """Interleaved allocations over more (gfp, nid) keys than the C table has slots give
    the pfns a fast path recomputing prepare_alloc_pages every time gives."""
    a = pextlab.boot(mem="1G", nodes=2, seed=1)
    b = a.snapshot("b").machine
    keys = [(a.mm.gfp(x + y), nid) for x in _BASES for y in _MODS for nid in (0, 1)]
    assert len(keys) > 64
    rnd = random.Random(5)
    for _ in range(3000):
        gfp, nid = rnd.choice(keys)
        got = fastpath.alloc_pages_fast(a.mm, gfp, 0, nid)
        b.mm._ac_cache.clear()
        assert got == fastpath.alloc_pages_fast(b.mm, gfp, 0, nid)


def test_a_bad_gfp_raises_and_is_never_cached():
    m = pextlab.boot(mem="256M", seed=1)
    mm = m.mm
    bad = mm.gfp("GFP_KERNEL|__GFP_MOVABLE") | mm.profile.gfp_bits["__GFP_RECLAIMABLE"]
    n = len(mm._ac_cache)
    for _ in range(2):
        with pytest.raises(PextlabError):
            fastpath.alloc_pages_fast(mm, bad, 0, None)
        with pytest.raises(PextlabError):
            fastpath.prepare_alloc_pages(mm, bad, 0)
    assert len(mm._ac_cache) == n and (bad, 0) not in mm._ac_cache


@pytest.mark.parametrize("nid", [2, 7, 1 << 70, 1.5, "x"])
def test_a_node_that_does_not_exist_keeps_its_message(nid):
    m = pextlab.boot(mem="512M", nodes=2, seed=1)
    gfp = m.mm.gfp("GFP_KERNEL")
    fastpath.alloc_pages_fast(m.mm, gfp, 0, 0)           # a cached key of another node
    with pytest.raises(PextlabError, match=r"node .* does not exist \(nodes: \[0, 1\]\)"):
        fastpath.alloc_pages_fast(m.mm, gfp, 0, nid)
    with pytest.raises(PextlabError, match=r"does not exist \(nodes: \[0, 1\]\)"):
        m.alloc_pages(0, "GFP_KERNEL", nid)


def test_the_cache_is_copied_with_the_machine_and_pickled():
    """A snapshot's cache holds the snapshot's zones; a pickled cache its entries."""
    m = pextlab.boot(mem="512M", nodes=2, seed=1)
    gfp = m.mm.gfp("GFP_KERNEL")
    m.alloc_pages(0, "GFP_KERNEL", 1)
    c = m.snapshot("s").machine
    ctx = c.mm._ac_cache.get((gfp, 1))
    assert ctx == _fresh_ctx(c.mm, gfp, 1)
    assert all(any(z is y for y in c.mm.nodes[z.nid].zones) for z in ctx[1])
    assert c.alloc_pages(0, "GFP_KERNEL", 1) == m.alloc_pages(0, "GFP_KERNEL", 1)
    p = pickle.loads(pickle.dumps(m.mm._ac_cache))
    assert list(p) == list(m.mm._ac_cache)
    for key in p:
        (mt, zones, high, flags), ref = p.get(key), m.mm._ac_cache.get(key)
        assert (mt, high, flags) == (ref[0], ref[2], ref[3])
        assert [(z.nid, z.name) for z in zones] == [(z.nid, z.name) for z in ref[1]]


# --- the LRU -------------------------------------------------------------------------------------

class Holder:
    def __init__(self, name):
        self.name = name
        self.taken = []

    def reclaimed(self, pfn, order):
        self.taken.append((pfn, order))


def _model_check(lru, model):
    assert list(lru) == list(model)
    assert len(lru) == len(model) and bool(lru) == bool(model)
    assert lru.items() == list(model.items()) and lru.values() == list(model.values())
    for pfn, v in model.items():
        assert pfn in lru and lru[pfn] == v and lru.get(pfn) == v


def test_lru_list_matches_an_insertion_ordered_dict():
    """Random adds (new and already listed pfns), removals and pops, with several
    holders: the list reads as the dict model does, oldest first."""
    rnd = random.Random(3)
    holders = [Holder(i) for i in range(4)] + [None]
    lru, model = LruList(), {}
    for step in range(5000):
        op = rnd.random()
        pfn = rnd.randrange(300)
        if op < 0.5:
            v = (rnd.randrange(11), rnd.choice(holders))
            lru[pfn] = v
            model[pfn] = v
        elif op < 0.8:
            assert lru.pop(pfn, None) == model.pop(pfn, None)
        elif model:
            p = next(iter(model))
            assert lru.pop(p) == model.pop(p)
        if step % 250 == 0:
            _model_check(lru, model)
    _model_check(lru, model)
    with pytest.raises(KeyError):
        lru.pop(10 ** 6)
    with pytest.raises(PextlabError):
        lru[5] = (256, holders[0])


def test_lru_holds_no_tracked_object_per_block_and_lets_holders_go():
    lru = LruList()
    h = Holder("h")
    ref = weakref.ref(h)
    for p in range(10000):
        lru[p] = (p % 4, h)
    # the entries are a C table (no Python object per block, nothing the collector
    # scans); the list refers to it and to the registry of holders only
    refs = gc.get_referents(lru)
    assert sorted(type(x).__name__ for x in refs) == ["PfnTable", "list"]
    assert not any(gc.is_tracked(x) for x in refs if type(x).__name__ == "PfnTable")
    assert [x for x in refs if isinstance(x, list)] == [[h]]
    for p in range(10000):
        lru.pop(p)
    del h
    assert ref() is None                # its last block gone, the registry let it go


def test_shrink_node_calls_each_holder_and_activates_pinned_blocks():
    """Reclaim through the kernel's lists: every holder is told of its own blocks, in
    the list's order; the lists stay what the dict model says."""
    m = pextlab.boot(mem="128M", cmdline="page_owner=on", seed=1)
    mm = m.mm
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE|__GFP_COMP")
    hs = [Holder(i) for i in range(3)]
    model = {}
    for i in range(60):
        o = i % 3
        p = page_alloc.alloc_pages(mm, gfp, o)
        vmscan.lru_add(mm, p, o, hs[i % 3])
        model[p] = (o, hs[i % 3])
    for p in list(model)[10:20:3]:
        vmscan.lru_del(mm, p)
        page_alloc.free_pages(mm, p, model.pop(p)[0])
    _model_check(mm.lru[0], model)
    freed = vmscan.shrink_node(mm, 0, 30, False)
    taken = [(p, o, h) for p, (o, h) in model.items()][:len(sum((h.taken for h in hs), []))]
    assert freed == sum(1 << o for _, o, _ in taken) >= 30
    for h in hs:
        assert h.taken == [(p, o) for p, o, x in taken if x is h]
    for p, _, _ in taken:
        del model[p]
    _model_check(mm.lru[0], model)


def test_lru_copies_keep_their_holders_and_are_independent():
    """A snapshot (deepcopy) of the machine, or a pickle of its lists, keeps each
    block's holder: the copy of the holder, wherever the copy refers to it."""
    m = pextlab.boot(mem="128M", seed=1)
    mm = m.mm
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    hs = [Holder(i) for i in range(2)]
    mm.holders_for_test = hs                       # the machine refers to them too
    pfns = [page_alloc.alloc_pages(mm, gfp, 0) for _ in range(6)]
    for i, p in enumerate(pfns):
        vmscan.lru_add(mm, p, 0, hs[i % 2])
    snap = m.snapshot("s").machine.mm
    lists, chs = pickle.loads(pickle.dumps((mm.lru, hs)))
    for lru, chs in ((snap.lru[0], snap.holders_for_test), (lists[0], chs)):
        assert list(lru) == pfns
        assert [lru[p][1] for p in pfns] == [chs[i % 2] for i in range(6)]
        assert all(x is not y for x, y in zip(chs, hs))
    assert vmscan.shrink_node(snap, 0, 2, True) == 2
    assert [h.taken for h in snap.holders_for_test] == [[(pfns[0], 0)], [(pfns[1], 0)]]
    assert list(mm.lru[0]) == pfns and [h.taken for h in hs] == [[], []]
    lru = lists[0]                       # a shallow copy has its own entries
    c = copy.copy(lru)
    c.pop(pfns[0])
    assert list(lru) == pfns and list(c) == pfns[1:] and c[pfns[1]] == lru[pfns[1]]
