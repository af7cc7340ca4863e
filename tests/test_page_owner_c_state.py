"""page_owner's record table and the page_ext tables' arrays as C state
(kernel/_page_owner.pyx ``RecordTable``, kernel/_page_ext.pyx ``PageExtArrays``):
the Python names stay, copies hold only the rows in use (as read-only chunks that
successive copies share where the table did not change) and stay independent, the
hooks the compiled allocator calls as C check their bounds."""
from __future__ import annotations

import copy
import gc
import pickle
import weakref

import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.kernel import fastpath
from pextlab.kernel.page_ext import PageExtTable
from pextlab.kernel._page_owner import CHUNK_ROWS, FrozenRows
from pextlab.kernel.page_owner import OwnerRecords, R_HANDLE, R_REASON


@pytest.fixture()
def m():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", seed=1)
    for order in (0, 0, 3, 0, 2):
        m.alloc_pages(order, "GFP_KERNEL")
    return m


def _table_of(mm, pfn):
    return mm.sections[pfn >> mm.section_shift].page_ext, pfn & mm.section_mask


def test_record_table_keeps_its_python_names(m):
    recs = m.mm.page_owner.records
    assert isinstance(recs, OwnerRecords) and len(recs) == recs.n > 0
    assert recs.rows.shape == (recs.cap, 12) and recs.rows.dtype == np.int64
    assert bytes(recs.buf[:96]) == recs.rows[0].tobytes()
    assert recs.comms[recs._comm_ids["swapper/0"]] == "swapper/0"
    assert not recs.rows[recs.n:].any()                 # rows past n are zero
    n = recs.n
    recs.reserve(recs.cap)                             # grows once, keeps the rows
    assert recs.cap >= 2 * n and recs.n == n
    with pytest.raises(ValueError):
        recs.n = recs.cap + 1
    with pytest.raises(ValueError):
        recs.n = -1
    assert not hasattr(recs, "__dict__")


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_record_copies_hold_only_the_rows_in_use_and_stay_independent(m, how):
    recs = m.mm.page_owner.records
    assert recs.cap > recs.n
    c = copy.deepcopy(recs) if how == "deepcopy" else pickle.loads(pickle.dumps(recs))
    assert type(c) is OwnerRecords and c.n == recs.n and c.cap == recs.n
    assert (c.as_numpy() == recs.as_numpy()).all() and c.comms == recs.comms
    before = recs.as_numpy()
    c.set(0, R_HANDLE, 12345)
    row = c.add(1, 2, 3, 4, 5, 6, 0)                   # the copy grows on its own
    assert row == recs.n and c.cap > recs.n and c.get(row, R_REASON) == -1
    assert (recs.as_numpy() == before).all()


def test_a_shallow_copy_does_not_share_rows(m):
    recs = m.mm.page_owner.records
    c = copy.copy(recs)
    c.set(0, R_HANDLE, 999)
    assert recs.get(0, R_HANDLE) != 999


def test_snapshots_copy_the_used_rows_and_run_on_alike(m):
    recs = m.mm.page_owner.records
    s = m.snapshot("x")
    sc = s.machine.mm.page_owner.records
    assert sc.cap == sc.n == recs.n
    twin = s.machine                                   # the copy runs on as the original
    orders = (0, 4, 0, 1) * 50
    for mach in (m, twin):
        mach.mm.clock_ns = 10 ** 12
        pfns = [mach.alloc_pages(o, "GFP_HIGHUSER_MOVABLE") for o in orders]
        for p, o in list(zip(pfns, orders))[::3]:
            mach.free_pages(p, o)
    pd.testing.assert_frame_equal(m.df_page_owner(), twin.df_page_owner())
    assert sc is not recs and sc.n == recs.n and sc.cap >= sc.n


def test_page_ext_arrays_keep_their_names_and_refuse_bad_arrays(m):
    mm = m.mm
    p = m.alloc_pages(0, "GFP_KERNEL")
    t, off = _table_of(mm, p)
    assert isinstance(t, PageExtTable)
    assert t.flags[off] & 3 == 3 and t.fmv[off] == t.flags[off]
    assert t.owner[off] == t.omv[off] == t.owner_if_written()[off] == t.owner_mv()[off] >= 0
    with pytest.raises(ValueError):
        t.owner = np.full(len(t.flags) - 1, -1, dtype=np.int32)      # wrong length
    with pytest.raises(ValueError):
        t.flags = np.zeros(len(t.flags), dtype=np.int64)             # wrong type
    with pytest.raises(ValueError):
        t.flags = np.zeros(len(t.flags), dtype=np.uint8)[::2]        # not contiguous
    c = copy.deepcopy(t)
    c.flags[off] = 0
    c.owner[off] = -1
    assert t.flags[off] & 3 == 3 and t.owner[off] >= 0
    assert c.fmv[off] == 0 and c.omv[off] == -1                        # views of the copy's arrays
    assert pickle.loads(pickle.dumps(t)).owner_if_written()[off] == t.owner[off]


def test_a_table_makes_its_owner_array_at_its_first_record(m):
    mm = m.mm
    tables = [s.page_ext for s in mm.sections if s is not None and s.page_ext is not None]
    t = next(t for t in tables if t.owner_if_written() is None)
    assert t.omv is None
    pfn = t.start_pfn
    mm.alloc_hook(pfn, 0, 0)                           # the hook writes through C pointers
    assert t.owner_if_written() is not None and t.owner[0] == len(mm.page_owner.records) - 1
    assert t.flags[0] & 3 == 3


def test_the_hooks_are_called_as_c_and_check_their_bounds(m):
    mm = m.mm
    assert type(mm.alloc_hook).__name__ == "SetPageOwner"
    assert type(mm.free_hook).__name__ == "ResetPageOwner"
    p = m.alloc_pages(0, "GFP_KERNEL")
    n = len(mm.page_owner.records)
    with pytest.raises(IndexError, match="outside their page_ext table"):
        mm.alloc_hook(p, 30, 0)                        # a block larger than its section
    with pytest.raises(IndexError, match="outside their page_ext table"):
        mm.free_hook(p, 30)
    assert len(mm.page_owner.records) == n             # nothing written
    with pytest.raises(TypeError):
        mm.alloc_hook("p", 0, 0)
    fastpath.free_pages(mm, p, 0)
    t, off = _table_of(mm, p)
    assert t.flags[off] & 3 == 1                       # freed: OWNER kept, ALLOCATED cleared


def test_single_rows_are_read_and_written_within_the_table(m):
    recs = m.mm.page_owner.records
    r = recs.copy_row(0)                               # raw copy: decoded fields alike
    assert r == recs.n - 1 and (recs.as_numpy()[r] == recs.as_numpy()[0]).all()
    recs.set(r, R_REASON, 3)
    assert recs.get(r, R_REASON) == 3 and recs.rows[r, R_REASON] == 4     # stored +1
    for row, field in ((recs.n, 0), (-1, 0), (0, 12), (0, -1)):
        with pytest.raises(IndexError):
            recs.get(row, field)
        with pytest.raises(IndexError):
            recs.set(row, field, 1)
    with pytest.raises(IndexError):
        recs.copy_row(recs.n)


# --- copies share the chunks of rows the table has not changed (FrozenRows) -----------------
def _chunks(table):
    # the read-only chunks a copy holds (a copy not yet used hands out its own)
    return table.__reduce__()[2]["frozen"].chunks


def _big_table(nrows=3 * CHUNK_ROWS + 5):
    recs = OwnerRecords()
    rows = np.arange(nrows * 12, dtype=np.int64).reshape(nrows, 12)
    recs.add_rows(rows)
    return recs


def test_successive_copies_share_the_unchanged_chunks():
    recs = _big_table()
    c1 = copy.deepcopy(recs)
    recs.set(CHUNK_ROWS + 7, R_HANDLE, -5)             # changes chunk 1 only
    c2 = copy.deepcopy(recs)
    a, b = _chunks(c1), _chunks(c2)
    assert len(a) == len(b) == 4 and len(a[3]) == 5
    assert a[0] is b[0] and a[2] is b[2] and a[3] is b[3] and a[1] is not b[1]
    assert all(not c.flags.writeable for c in b)
    want = recs.as_numpy()
    rows = recs.add_rows(np.ones((3, 12), dtype=np.int64))      # the last chunk grows
    c3 = copy.deepcopy(recs)
    assert _chunks(c3)[3] is not b[3] and _chunks(c3)[0] is b[0] and c3.n == rows + 3
    assert c1.get(CHUNK_ROWS + 7, R_HANDLE) != -5 and c2.get(CHUNK_ROWS + 7, R_HANDLE) == -5
    assert np.array_equal(c2.as_numpy(), want) and c2.cap == c2.n
    assert np.array_equal(c3.rows[:c3.n], recs.rows[:recs.n])
    c4 = copy.deepcopy(recs)                   # c3 is in use now: its chunks are gone
    assert _chunks(c4)[0] is not b[0] and np.array_equal(c4.as_numpy(), recs.as_numpy())


def test_copies_sharing_chunks_stay_independent():
    recs = _big_table()
    c1, c2 = copy.deepcopy(recs), copy.deepcopy(recs)
    assert _chunks(c1)[0] is _chunks(c2)[0]
    want = recs.as_numpy()
    c1.set(3, R_HANDLE, 111)                           # thaws c1 into rows of its own
    recs.set(3, R_HANDLE, 222)
    c2.add(1, 2, 3, 4, 5, 6, 0)                       # a new row thaws c2 first
    assert c1.get(3, R_HANDLE) == 111 and recs.get(3, R_HANDLE) == 222
    assert c2.get(3, R_HANDLE) == want[3, R_HANDLE] and c2.n == recs.n + 1
    assert np.array_equal(c2.as_numpy()[:-1], want)
    c2.n = 2                                          # shrinking thaws it too
    assert c2.n == 2 and np.array_equal(c2.as_numpy(), want[:2])


def test_a_copy_of_an_unused_copy_is_free_and_pickles():
    recs = _big_table()
    c1 = copy.deepcopy(recs)
    c2 = copy.deepcopy(c1)
    assert c1.__reduce__()[2]["frozen"] is c2.__reduce__()[2]["frozen"]
    for t in (recs, c1):
        p = pickle.loads(pickle.dumps(t))
        assert type(p) is OwnerRecords and np.array_equal(p.as_numpy(), recs.as_numpy())
        assert bytes(p.buf[:96]) == recs.rows[0].tobytes()
    empty = copy.deepcopy(OwnerRecords())
    assert empty.n == 0 and empty.cap == 1 and empty.rows.shape == (1, 12)
    assert empty.add(0, 0, 0, 0, 0, 0, 0) == 0


def test_chunks_of_a_dead_copy_are_not_kept():
    recs = _big_table()
    c1 = copy.deepcopy(recs)
    first = weakref.ref(_chunks(c1)[0])
    del c1
    gc.collect()
    assert first() is None                             # the table keeps no chunk alive
    c2 = copy.deepcopy(recs)
    assert np.array_equal(c2.as_numpy(), recs.as_numpy())


def test_frozen_rows_refuse_bad_chunks_and_old_copies_still_load():
    with pytest.raises(ValueError, match="int64"):
        FrozenRows((np.zeros((2, 11), dtype=np.int64),))
    with pytest.raises(ValueError, match="int64"):
        FrozenRows((np.zeros((2, 12), dtype=np.int32),))
    recs = _big_table(10)
    state = dict(recs.__reduce__()[2], n=11)
    blank = OwnerRecords.__new__(OwnerRecords)
    with pytest.raises(ValueError, match="11 rows in use"):
        blank.__setstate__(state)
    old = {"rows": recs.rows[:12].copy(), "n": 10, "comms": [], "_comm_ids": {}}
    blank.__setstate__(old)                            # a copy made before the chunks
    assert blank.n == 10 and np.array_equal(blank.as_numpy(), recs.as_numpy())


def test_snapshots_of_a_run_share_rows_and_read_alike(m):
    recs = m.mm.page_owner.records
    s1 = m.snapshot("one")
    s2 = m.snapshot("two")                             # nothing changed in between
    assert _chunks(s1.machine.mm.page_owner.records) == _chunks(s2.machine.mm.page_owner.records)
    m.alloc_pages(3, "GFP_KERNEL")
    s3 = m.snapshot("three")
    pd.testing.assert_frame_equal(s1.df_page_owner(), s2.df_page_owner())
    assert len(s3.df_page_owner()) > len(s1.df_page_owner())
    assert s3.machine.mm.page_owner.records.n == recs.n


# --- the rows' memory: growing moves the rows, never leaves an array pointing nowhere ------------
def _filled(k):
    t = OwnerRecords(k)
    for i in range(k):
        t.add(i, 2 * i, 3 * i, 4 * i, 5, 6, 7)
    return t


def test_growing_keeps_the_memory_and_the_rows_and_zeroes_the_new_ones():
    t = _filled(1000)
    mem = t._mem
    before = t.rows[:1000].copy()
    t.reserve(200_000)                          # 19 MB more: moved, not copied
    assert t._mem is mem and mem.rows == t.cap >= 201_000
    assert np.array_equal(t.rows[:1000], before)
    assert not t.rows[1000:].any()              # rows past n are zero
    assert mem.in_use == 1                      # the table's own array only


@pytest.mark.parametrize("held", ["rows", "view", "buf"])
def test_growing_while_rows_are_held_copies_and_leaves_what_is_held_valid(held):
    t = _filled(64)
    old_mem = t._mem
    keep = {"rows": lambda: t.rows, "view": lambda: t.rows[10:20], "buf": lambda: t.buf}[held]()
    snapshot = np.array(keep, copy=True)
    assert old_mem.in_use == 1                  # one buffer: the table's array, which keep shares
    t.reserve(10_000)
    assert t._mem is not old_mem                # held rows cannot move: a copy was made
    t.set(12, R_HANDLE, -99)                    # the table's new rows are its own
    assert np.array_equal(np.asarray(keep), snapshot)
    assert t.get(12, R_HANDLE) == -99 and t.get(13, R_HANDLE) == 3 * 13
    del keep
    gc.collect()
    assert old_mem.in_use == 0 and t._mem.in_use == 1


def test_a_grown_table_copies_and_pickles_alike():
    t = _filled(3000)
    t.reserve(50_000)
    for c in (copy.deepcopy(t), pickle.loads(pickle.dumps(t))):
        assert c.n == 3000 and np.array_equal(c.as_numpy(), t.as_numpy())
        c.add(1, 1, 1, 1, 1, 1, 1)
        assert t.n == 3000


def test_row_memory_refuses_an_empty_table():
    from pextlab.kernel._page_owner import RowMemory
    with pytest.raises(ValueError, match="at least one row"):
        RowMemory(0)


@pytest.mark.parametrize("held", [False, True])
def test_a_growth_the_memory_cannot_give_leaves_the_table_as_it_was(held):
    t = _filled(100)
    keep = t.rows if held else None             # held: the growth would copy into new memory
    before = t.as_numpy()
    with pytest.raises(MemoryError):
        t.grow(1 << 50)                          # 100 PB of rows
    with pytest.raises(MemoryError):
        t.grow(1 << 62)                          # its size in bytes would overflow
    assert t.n == 100 and np.array_equal(t.as_numpy(), before)
    t.add(7, 7, 7, 7, 7, 7, 7)                   # and it goes on
    assert t.n == 101 and t.get(100, 0) == 7
    del keep
