"""The kernel's LRU lists on the C pfn table (kernel/_pfn_table.pyx ``PfnTable``,
kernel/_vmscan.pyx ``LruList``): the insertion-ordered dict ``pfn -> (order, holder)``
they were, read and written through C, with the oldest block found in amortised O(1);
and the run log's ``BlockTable``, which is the same table."""
from __future__ import annotations

import copy
import gc
import pickle
import time
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pextlab.errors import PextlabError
from pextlab.kernel._pfn_table import PfnTable
from pextlab.kernel._vmscan import LruList
from pextlab.workloads import _runlog
from pextlab.workloads._runlog import BlockTable


class Holder:
    def __init__(self, name):
        self.name = name
        self.lists = []                     # a holder may refer back to its lists

    def __repr__(self):
        return f"Holder({self.name!r})"


def _nr_holders(lru):
    # the registry's holders with blocks on the list, as __repr__ counts them
    return int(repr(lru).split(", ")[1].split()[0])


def _same(lru, model):
    assert list(lru) == list(model)
    assert len(lru) == len(model) and bool(lru) == bool(model)
    assert lru.items() == list(model.items()) and lru.values() == list(model.values())
    for pfn, v in model.items():
        assert pfn in lru and lru[pfn] == v and lru.get(pfn) == v
    assert _nr_holders(lru) == len({id(h) for _, h in model.values() if h is not None})
    if model:
        assert next(iter(lru)) == next(iter(model))


def test_order_after_set_reset_pop_and_readd():
    a, b = Holder("a"), Holder("b")
    lru = LruList()
    for pfn in (40, 10, 30, 20):
        lru[pfn] = (pfn % 7, a)
    assert list(lru) == [40, 10, 30, 20]
    lru[10] = (9, b)                            # a listed pfn keeps its place
    assert list(lru) == [40, 10, 30, 20] and lru[10] == (9, b)
    assert lru.pop(40) == (40 % 7, a)
    assert list(lru) == [10, 30, 20] and next(iter(lru)) == 10
    lru[40] = (1, a)                            # removed and added again: the newest
    assert list(lru) == [10, 30, 20, 40]
    assert lru.pop(30) == (30 % 7, a) and lru.pop(30, "gone") == "gone"
    lru[30] = (0, b)
    assert lru.items() == [(10, (9, b)), (20, (20 % 7, a)), (40, (1, a)), (30, (0, b))]
    assert lru.values() == [(9, b), (20 % 7, a), (1, a), (0, b)]
    assert 30 in lru and 31 not in lru and "x" not in lru and 1 << 70 not in lru
    assert lru.get(31) is None and lru.get(31, 5) == 5 and lru.get("x", 6) == 6
    with pytest.raises(KeyError):
        lru[31]
    with pytest.raises(KeyError):
        lru["x"]
    with pytest.raises(KeyError):
        lru.pop(31)
    # keys equal to an int find it, as in a dict; others are in no list
    assert np.int64(30) in lru and lru[np.int64(30)] == (0, b) and lru.get(30.0) == (0, b)
    assert 30.5 not in lru and lru.get(float("nan")) is None and lru.get(float("inf")) is None
    assert "30" not in lru and None not in lru and lru.get((30,)) is None
    assert lru.pop(np.int32(30)) == (0, b) and 30 not in lru
    lru[30] = (0, b)
    with pytest.raises(PextlabError):
        lru[5] = (256, a)                       # an order needs 8 bits at most
    with pytest.raises(PextlabError):
        lru[5] = (-1, a)
    assert 5 not in lru and len(lru) == 4


def test_the_oldest_block_after_many_pops_at_the_front():
    """shrink_node's pattern: take the oldest (``next(iter(lru))``), pop it, now and
    then put it back as the newest (an activated, pinned block).  Each lookup is
    amortised O(1): the dead entries at the front are not rescanned per lookup (that
    would be 4.5 * 10^10 steps for the first 300,000 pops here, over ten seconds; this
    is a fraction of one)."""
    h = Holder("h")
    lru, n = LruList(), 400_000
    for pfn in range(n):
        lru[pfn] = (0, h)
    t = time.perf_counter()
    for i in range(300_000):                    # pops only: no rebuild clears the front
        pfn = next(iter(lru))
        assert pfn == i
        lru.pop(pfn)
    assert time.perf_counter() - t < 3
    expect, back = list(range(300_000, n)), []
    for i in range(len(expect) - 1000):         # and with re-adds, past rebuilds
        pfn = next(iter(lru))
        assert pfn == expect[i]
        assert lru.pop(pfn) == (0, h)
        if pfn % 3 == 0:
            lru[pfn] = (1, h)
            back.append(pfn)
    assert list(lru) == expect[-1000:] + back
    assert next(iter(lru)) == n - 1000
    for pfn in list(lru):
        lru.pop(pfn)
    assert not lru and list(lru) == [] and _nr_holders(lru) == 0
    with pytest.raises(StopIteration):
        next(iter(lru))
    lru[7] = (2, h)                             # usable again once empty
    assert list(lru) == [7]


def test_holder_registry_counts_and_lets_holders_go():
    hs = [Holder(i) for i in range(3)]
    refs = [weakref.ref(h) for h in hs]
    lru = LruList()
    for pfn in range(30):
        lru[pfn] = (pfn % 4, hs[pfn % 3])
    assert _nr_holders(lru) == 3
    for pfn in range(0, 30, 3):                 # hs[0]'s blocks move to hs[1]
        lru[pfn] = (0, hs[1])
    assert _nr_holders(lru) == 2 and lru[0] == (0, hs[1]) and list(lru) == list(range(30))
    h0 = hs[0]
    hs[0] = None
    del h0
    gc.collect()
    assert refs[0]() is None                    # left the registry with its last block
    for pfn in range(2, 30, 3):                 # hs[2]'s blocks go
        lru.pop(pfn)
    assert _nr_holders(lru) == 1
    h3 = Holder(3)                              # a new holder takes a free slot
    lru[100] = (5, h3)
    assert lru[100] == (5, h3) and _nr_holders(lru) == 2
    # a holder re-set on its own block keeps counting once
    lru[100] = (6, h3)
    assert _nr_holders(lru) == 2
    assert lru.pop(100) == (6, h3) and _nr_holders(lru) == 1
    assert [lru[p][1] for p in lru] == [hs[1]] * len(lru)
    # the list refers to a C table (nothing for the collector) and its registry only
    refs_now = gc.get_referents(lru)
    assert sorted(type(x).__name__ for x in refs_now) == ["PfnTable", "list"]
    assert not any(gc.is_tracked(x) for x in refs_now if isinstance(x, PfnTable))


def _filled():
    a, b = Holder("a"), Holder("b")
    lru = LruList()
    for pfn in range(0, 200, 2):
        lru[pfn] = (pfn % 11, a if pfn % 3 else b)
    for pfn in range(0, 100, 4):
        lru.pop(pfn)                            # dead entries at the front and inside
    lru[0] = (3, b)
    a.lists.append(lru)                         # a holder reaching back to the list
    return lru, a, b


def test_copies_and_pickles_round_trip_in_order():
    lru, a, b = _filled()
    model = {p: lru[p] for p in lru}
    # pickle: the holders come along, as one object each
    c, ca, cb = pickle.loads(pickle.dumps((lru, a, b)))
    assert list(c) == list(model) and ca.lists == [c]
    assert [c[p] for p in c] == [(o, ca if h is a else cb) for o, h in model.values()]
    # deepcopy: the holders deep, through memo (the holder's list is the copy)
    d = copy.deepcopy(lru)
    da = d[2][1]
    assert da is not a and da.lists == [d] and list(d) == list(model)
    assert [x[0] for x in d.values()] == [o for o, _ in model.values()]
    # copy.copy: the same holders, entries of its own
    s = copy.copy(lru)
    assert s.items() == lru.items()
    for other in (c, d, s):
        other.pop(next(iter(other)))
        other[1] = (1, a)
    assert {p: lru[p] for p in lru} == model and list(lru) == list(model)
    assert list(s) == list(model)[1:] + [1] and s[1] == (1, a) and _nr_holders(s) == 2


def test_older_states_load_and_bad_ones_do_not():
    h, g = Holder("h"), Holder("g")
    lru = LruList()
    # the state as it was: (dict pfn -> order | slot << 8, holders)
    lru.__setstate__(({10: 2 | 1 << 8, 3: 0, 7: 5 | 1 << 8}, [h, g]))
    assert lru.items() == [(10, (2, g)), (3, (0, h)), (7, (5, g))]
    lru.__setstate__(([(4, 1), (2, 3)], (h,)))      # pairs and any sequence
    assert lru.items() == [(4, (1, h)), (2, (3, h))] and _nr_holders(lru) == 1
    with pytest.raises(PextlabError):
        lru.__setstate__(({1: 1 << 8}, [h]))        # slot 1 names no holder
    assert lru.items() == [(4, (1, h)), (2, (3, h))]    # unchanged
    wide = BlockTable(2)
    wide[1] = (1, 2)
    with pytest.raises(PextlabError):
        lru.__setstate__((wide, [h]))


def test_iteration_while_the_list_changes():
    """As a dict's iterator: a size change during the iteration is a RuntimeError; a
    block re-set in place is fine; no entry is skipped or seen twice."""
    h = Holder("h")
    lru = LruList()
    for pfn in range(10):
        lru[pfn] = (0, h)
    seen = []
    for pfn in lru:                             # re-setting listed blocks: allowed
        seen.append(pfn)
        lru[pfn] = (1, h)
    assert seen == list(range(10)) and lru.values() == [(1, h)] * 10
    for change in (lambda: lru.pop(5), lambda: lru.__setitem__(50, (0, h))):
        it = iter(lru)
        assert next(it) == next(iter(lru))
        change()
        with pytest.raises(RuntimeError):
            next(it)
    # the same size but compacted (one added, one removed, across a rebuild): entry
    # indices moved, so the iterator refuses rather than skip or repeat
    it = iter(lru)
    next(it)
    for pfn in range(1000, 1100):
        lru[pfn] = (0, h)
        lru.pop(pfn)
    with pytest.raises(RuntimeError):
        next(it)
    # an exhausted iterator stays exhausted
    it = iter(lru)
    assert list(it) == list(lru)
    lru[99] = (0, h)
    with pytest.raises(StopIteration):
        next(it)


def test_the_run_logs_block_table_is_the_pfn_table():
    assert BlockTable is PfnTable
    t = BlockTable(4)
    t[9] = (1, 2, 3, 4)
    t[3] = (5, 6, 7, 8)
    c = pickle.loads(pickle.dumps(t))
    assert c == t and c.keys() == [9, 3] and type(c) is BlockTable
    # a pickle made before the table moved names it in workloads/_runlog.pyx
    old = pickle.dumps(t, 2).replace(b"cpextlab.kernel._pfn_table\npfn_table_from_bytes\n",
                                     b"cpextlab.workloads._runlog\n_table_from_bytes\n")
    assert b"_runlog" in old
    assert pickle.loads(old).items() == [(9, (1, 2, 3, 4)), (3, (5, 6, 7, 8))]
    assert _runlog._table_from_bytes is not None


def test_pfn_table_iterkeys_walks_from_the_oldest_live_entry():
    t = PfnTable(1)
    for k in range(100):
        t[k] = (k,)
    for k in range(0, 100, 2):
        del t[k]
    assert list(t.iterkeys()) == list(range(1, 100, 2)) == t.keys() == list(t)
    for k in range(1, 60, 2):
        t.pop(k)
    assert list(t.iterkeys()) == list(range(61, 100, 2))
    t[0] = (0,)
    assert list(t.iterkeys())[-1] == 0 and t.copy().keys() == t.keys()
    assert copy.copy(t).keys() == t.keys() and copy.deepcopy(t) == t


# --- against a plain dict, at random --------------------------------------------------------------

_HOLDERS = [Holder(i) for i in range(4)] + [None]

_op = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 600), st.integers(0, 255), st.integers(0, 4)),
    st.tuples(st.just("set"), st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 255),
              st.integers(0, 4)),
    st.tuples(st.just("pop"), st.integers(0, 600), st.just(0), st.just(0)),
    st.tuples(st.just("oldest"), st.just(0), st.just(0), st.just(0)),      # reclaim one
    st.tuples(st.just("activate"), st.just(0), st.just(0), st.just(0)),    # pop + re-add
    st.tuples(st.just("fill"), st.integers(0, 5000), st.integers(1, 400), st.integers(0, 4)),
    st.tuples(st.just("drain"), st.integers(0, 400), st.just(0), st.just(0)),
    st.tuples(st.just("copy"), st.sampled_from(["pickle", "copy", "deepcopy"]), st.just(0),
              st.just(0)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_op, max_size=60))
def test_lru_list_is_an_insertion_ordered_dict(ops):
    """Random adds (new and listed pfns, int64 extremes), pops, reclaim of the oldest,
    activation, bulk fills and drains (so the table grows, compacts and rebuilds), and
    copies: the list reads as the dict model does, after every step."""
    lru, model = LruList(), {}
    for op, a, b, c in ops:
        if op == "set":
            lru[a] = (b, _HOLDERS[c])
            model[a] = (b, _HOLDERS[c])
        elif op == "pop":
            assert lru.pop(a, None) == model.pop(a, None)
        elif op in ("oldest", "activate") and model:
            pfn = next(iter(lru))
            assert pfn == next(iter(model))
            got = lru.pop(pfn)
            assert got == model.pop(pfn)
            if op == "activate":
                lru[pfn] = got
                model[pfn] = got
        elif op == "fill":
            for pfn in range(a, a + b):
                lru[pfn] = (pfn & 255, _HOLDERS[(pfn + c) % 5])
                model[pfn] = (pfn & 255, _HOLDERS[(pfn + c) % 5])
        elif op == "drain":
            for _ in range(min(a, len(model))):
                pfn = next(iter(lru))
                assert lru.pop(pfn) == model.pop(pfn)
        elif op == "copy":
            if a == "pickle":
                holders = _HOLDERS[:4]
                lru2, h2 = pickle.loads(pickle.dumps((lru, holders)))
                remap = {id(x): y for x, y in zip(holders, h2)}
                remap[id(None)] = None
                assert lru2.items() == [(p, (o, remap[id(h)])) for p, (o, h) in model.items()]
            else:
                lru = copy.copy(lru) if a == "copy" else copy.deepcopy(lru, {id(h): h for h in _HOLDERS})
        _same(lru, model)
