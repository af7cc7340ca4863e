"""A zone's free lists, counters and watermarks in C (kernel/_free_area.pyx,
kernel/_mmzone.pyx's ``Counters`` and ``Watermark``) against references written here
from the rules: a dict per (order, migratetype) list, insertion-ordered, as the lists
were before they were compiled; a Python list per counter; a dict of watermarks."""
from __future__ import annotations

import copy
import pickle
import random

import numpy as np
import pytest

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel import buddy, mmzone
from pextlab.kernel.mmzone import FreeArea
from pextlab.kernel.debug import check_invariants

ORDERS, TYPES = 4, 3


def as_dicts(fa):
    return [[list(d) for d in area] for area in fa]


def ref_dicts(ref):
    return [[list(d) for d in area] for area in ref]


def check_same(fa, ref):
    """Every list and every dict operation that reads agrees with the reference."""
    assert as_dicts(fa) == ref_dicts(ref)
    for o in range(ORDERS):
        for mt in range(TYPES):
            d, r = fa[o][mt], ref[o][mt]
            assert len(d) == len(r) and bool(d) == bool(r)
            assert list(reversed(d)) == list(reversed(r))
            assert d == r


@pytest.mark.parametrize("seed", range(6))
def test_free_lists_behave_as_insertion_ordered_dicts(seed):
    rnd = random.Random(seed)
    fa = FreeArea(ORDERS, TYPES)
    ref = [[{} for _ in range(TYPES)] for _ in range(ORDERS)]
    pfns = range(rnd.choice([50, 3000]))      # few keys: many collisions and re-adds
    for step in range(6000):
        o, mt = rnd.randrange(ORDERS), rnd.randrange(TYPES)
        d, r = fa[o][mt], ref[o][mt]
        op = rnd.random()
        pfn = rnd.choice(pfns)
        if op < 0.55:                      # grows the table and the slots
            d[pfn] = None
            r[pfn] = None
        elif op < 0.75:
            if pfn in r:
                del d[pfn]
                del r[pfn]
            else:
                with pytest.raises(KeyError):
                    del d[pfn]
        elif op < 0.9:
            if r:
                assert d.popitem() == r.popitem()
            else:
                with pytest.raises(KeyError):
                    d.popitem()
        elif op < 0.97:
            assert (pfn in d) == (pfn in r)
            if pfn in r:
                assert d[pfn] is None
        else:
            d.clear()
            r.clear()
        if step % 500 == 0:
            check_same(fa, ref)
    check_same(fa, ref)
    for other in (copy.deepcopy(fa), pickle.loads(pickle.dumps(fa)), copy.copy(fa)):
        check_same(other, ref)
        assert other == fa
    # a copy is its own: changing it leaves the original as it was
    c = copy.deepcopy(fa)
    c[0][0][10 ** 9] = None
    check_same(fa, ref)


def test_same_pfn_on_two_lists_and_big_pfns():
    fa = FreeArea(ORDERS, TYPES)
    for pfn in (0, 1 << 40, (1 << 62) + 5):
        fa[1][0][pfn] = None
        fa[1][2][pfn] = None       # a corrupted state the invariant checks must see
    assert list(fa[1][0]) == list(fa[1][2]) == [0, 1 << 40, (1 << 62) + 5]
    del fa[1][0][1 << 40]
    assert (1 << 40) in fa[1][2] and (1 << 40) not in fa[1][0]
    assert "x" not in fa[1][0]


def test_replacing_a_list_keeps_the_order_given():
    fa = FreeArea(ORDERS, TYPES)
    for pfn in (1, 2, 3):
        fa[2][1][pfn] = None
    nd = dict.fromkeys([30, 20, 10])
    nd.update(fa[2][1])                  # memory_hotplug: new blocks at the tail end
    fa[2][1] = nd
    assert list(fa[2][1]) == [30, 20, 10, 1, 2, 3]
    assert fa[2][1].popitem() == (3, None)
    fa[2][1] = fa[2][1]                  # itself: unchanged
    assert list(fa[2][1]) == [30, 20, 10, 1, 2]


def test_iteration_stops_when_the_list_changes():
    fa = FreeArea(ORDERS, TYPES)
    for pfn in range(5):
        fa[0][0][pfn] = None
    it = iter(fa[0][0])
    next(it)
    fa[1][1][7] = None                   # another list: fine
    next(it)
    del fa[0][0][4]
    with pytest.raises(RuntimeError, match="changed during iteration"):
        next(it)


def test_free_area_refuses_bad_input():
    fa = FreeArea(ORDERS, TYPES)
    with pytest.raises(IndexError):
        fa[ORDERS]
    with pytest.raises(IndexError):
        fa[0][TYPES]
    assert fa[-1][-1] == {}
    with pytest.raises(PextlabError):
        fa[0][0][5] = 1
    with pytest.raises(TypeError):
        fa[0][0]["5"] = None
    with pytest.raises(PextlabError):
        FreeArea(0, 3)
    with pytest.raises(PextlabError):
        FreeArea(ORDERS, TYPES).__setstate__(b"\x01" * 9)
    with pytest.raises(PextlabError):
        FreeArea(1, 1).__setstate__((5).to_bytes(8, "little"))


def test_counters_behave_as_lists():
    ref = [3, 0, 7, 1]
    c = mmzone.Counters(ref)
    c[1] += 5
    ref[1] += 5
    c[-1] = 9
    ref[-1] = 9
    c[:2] = [4, 4]
    ref[:2] = [4, 4]
    assert c == ref and list(c) == ref and len(c) == 4 and c[1:3] == ref[1:3]
    assert repr(c) == repr(ref) and max(c) == 9 and sum(c) == sum(ref)
    assert np.asarray(c).tolist() == ref and np.asarray(c).dtype == np.int64
    assert np.array(c, dtype=np.int32).tolist() == ref
    with pytest.raises(ValueError, match="is a copy"):     # numpy's copy=False: never copy
        np.array(c, copy=False)
    assert copy.deepcopy(c) == ref and pickle.loads(pickle.dumps(c)) == ref
    with pytest.raises(IndexError):
        c[4]
    with pytest.raises(PextlabError):
        c[:] = [1, 2]
    assert c != (4, 4, 7, 9)            # a list is not a tuple, as before


def test_zone_counters_take_copies_and_keep_their_length():
    m = pextlab.boot(mem="256M", seed=1)
    z = m.mm.zonelists[0][0]
    n = len(z.nr_free)
    new = [0] * n
    z.nr_free = new
    new[0] = 99                          # the zone holds a copy in C
    assert z.nr_free == [0] * n
    with pytest.raises(PextlabError):
        z.nr_free = [0] * (n + 1)
    with pytest.raises(PextlabError):
        z.lowmem_reserve = [0]
    with pytest.raises(TypeError):
        z.free_mt = None
    with pytest.raises(TypeError):
        z.free_area = {}


def test_watermark_is_a_dict_and_replacing_it_is_seen_by_identity():
    m = pextlab.boot(mem="256M", seed=1)
    mm = m.mm
    z = max(mm.populated_zones(), key=lambda z: z.managed_pages)
    wm = z.watermark
    ref = dict(wm)
    assert set(ref) == {"min", "low", "high", "promo"} and wm == ref
    assert z.watermark is wm and list(wm.items()) == list(ref.items())
    wm["low"] += 1
    ref["low"] += 1
    assert wm == ref and wm.get("nope", 5) == 5 and "high" in wm
    with pytest.raises(KeyError):
        wm["nope"]
    with pytest.raises(PextlabError):
        z.watermark = {"min": 1}
    # a boost belongs to the watermarks it was made on: a recalculation drops it
    assert buddy.boost_watermark(mm, z)
    assert buddy.zone_watermark_boost(mm, z) > 0
    z.watermark = dict(z.watermark)
    assert z.watermark is not wm and buddy.zone_watermark_boost(mm, z) == 0


def test_a_copy_of_the_machine_keeps_lists_counters_and_the_boost():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=3)
    mm = m.mm
    rnd = random.Random(1)
    for _ in range(300):
        m.alloc_pages(rnd.randrange(3))
    z = max(mm.populated_zones(), key=lambda z: z.managed_pages)
    assert buddy.boost_watermark(mm, z)
    mc = m.snapshot("copy").machine.mm           # a deep copy, as snapshots make them
    for za, zb in zip(mm.all_zones(), mc.all_zones()):
        assert as_dicts(za.free_area) == as_dicts(zb.free_area)
        assert (za.nr_free, za.free_mt, za.lowmem_reserve, za.watermark) == (
            zb.nr_free, zb.free_mt, zb.lowmem_reserve, zb.watermark)
    zc = next(c for a, c in zip(mm.all_zones(), mc.all_zones()) if a is z)
    assert buddy.zone_watermark_boost(mc, zc) == buddy.zone_watermark_boost(mm, z) > 0
    assert check_invariants(mc) == []
