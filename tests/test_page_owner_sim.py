"""page_owner in the simulator: kernel text round trips, stacks, mixed blocks."""
import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.frames.sim import df_page_owner, mixed_block_counts
from pextlab.kernel import page_alloc
from pextlab.procfs.page_owner import read_page_owner
from pextlab.procfs.stacks import read_show_stacks

GFPS = ["GFP_KERNEL", "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO", "GFP_KERNEL|__GFP_RECLAIMABLE",
        "GFP_ATOMIC", "GFP_NOFS"]
STACKS = [
    ("get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
     "allocate_slab+0x288/0x3f0", "___slab_alloc+0x603/0x9d0"),
    ("get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
     "alloc_pages_mpol_noprof+0xd1/0x190", "vma_alloc_folio_noprof+0x5c/0xb0",
     "__handle_mm_fault+0x15ac/0x1d60", "handle_mm_fault+0x146/0x240",
     "exc_page_fault+0x1fb/0x590", "asm_exc_page_fault+0x26/0x30"),
    ("get_page_from_freelist+0x1673/0x1730", "__alloc_pages_noprof+0x12e/0x230",
     "__pte_alloc+0x2a/0x160", "do_anonymous_page+0x3a/0x6b0"),
]


def churn(m, n=3000, seed=3):
    mm = m.mm
    rng = np.random.default_rng(seed)
    po = mm.page_owner
    handles = [po.depot.stack_depot_save(s) for s in STACKS]
    live = []
    for i in range(n):
        mm.advance(int(rng.integers(1000, 50000)))
        if live and rng.random() < 0.4:
            pfn, o = live.pop(int(rng.integers(len(live))))
            mm.current_handle = handles[0]
            m.free_pages(pfn, o)
            continue
        mm.set_task(["bash", "leaky", "kworker/0:1"][i % 3], 100 + i % 7, 100 + i % 7,
                    handles[int(rng.integers(len(handles)))])
        o = int(rng.choice([0, 0, 0, 1, 2, 3, 9]))
        pfn = m.alloc_pages(o, GFPS[int(rng.integers(len(GFPS)))])
        if pfn is not None:
            live.append((pfn, o))
    return live


KEY = ["pfn", "order", "nr_pages", "gfp_mask", "migratetype", "pageblock", "pageblock_migratetype",
       "mixed", "node", "zone", "pid", "tgid", "comm", "ts_ns"]


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_page_owner_text_round_trip(profile):
    m = pextlab.boot(mem="512M", nodes=2, cmdline="page_owner=on", profile=profile, seed=1)
    churn(m)
    df = m.df_page_owner()
    text = m.debugfs("page_owner")
    assert text.count("Page allocated via") == len(df)
    back = read_page_owner(__import__("io").StringIO(text))
    cols = [c for c in KEY if not (profile == "v3.19" and c in ("pid", "tgid", "comm", "ts_ns", "node", "zone"))]
    for c in cols:
        a, b = df[c], back[c]
        if isinstance(a.dtype, pd.CategoricalDtype):
            a, b = a.astype(str), b.astype(str)
        assert (a.values == b.values).all(), c
    # stacks survive (v6.12 prints frames as " sym+off/size")
    if profile == "v6.12":
        assert (df["stack"].astype(str).values == back["stack"].astype(str).values).all()


def test_show_stacks_equal_page_owner_grouped():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", seed=1)
    churn(m, 5000)
    st = m.df_stacks()
    po = m.df_page_owner()
    early = m.mm.page_owner.depot.text(m.mm.page_owner.early_handle)
    s = po["stack"].astype(str)
    grouped = po[s != early].groupby(s[s != early])["nr_pages"].sum()
    got = st.set_index(st["stack"].astype(str))["nr_base_pages"]
    assert got.sort_index().to_dict() == grouped[grouped > 0].sort_index().to_dict()
    # text round trip and the threshold
    back = read_show_stacks(__import__("io").StringIO(m.debugfs("page_owner_stacks/show_stacks")))
    assert back.nr_base_pages.tolist() == st.nr_base_pages.tolist()
    thr = int(st.nr_base_pages.median()) + 1
    m.set_count_threshold(thr)
    shown = read_show_stacks(__import__("io").StringIO(m.debugfs("page_owner_stacks/show_stacks")))
    assert (shown.nr_base_pages >= thr).all()
    assert len(shown) == int((st.nr_base_pages >= thr).sum())


@pytest.mark.parametrize("profile", ["v6.12", "v3.19"])
def test_mixed_blocks_two_independent_paths(profile):
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", profile=profile, seed=2)
    churn(m, 6000, seed=5)
    po = m.df_page_owner()
    # path 1: from the frame -- blocks with at least one page of another type
    mixed = po[po.mixed]
    names = m.profile.migratetype_names
    pbt = mixed.pageblock_migratetype.astype(str).replace({"CMA": "Movable"})
    from_frame = mixed.assign(t=pbt).groupby(["zone", "t"], observed=True)["pageblock"].nunique()
    # path 2: the kernel's per-pageblock walk over page_ext records
    for z in m.mm.populated_zones():
        counts = mixed_block_counts(m.mm, z)
        for i, name in enumerate(names):
            expect = int(from_frame.get((z.name, name), 0))
            assert counts[i] == expect, (z.name, name, counts[i], expect)
    assert m.df_pageblocks().nr_mixed.sum() == mixed.pageblock.nunique()


def test_page_owner_off_costs_nothing():
    m = pextlab.boot(mem="512M")
    assert m.mm.page_owner is None and m.mm.alloc_hook is None
    assert len(m.df_page_owner()) == 0
    with pytest.raises(pextlab.PextlabError, match="page_owner is disabled"):
        m.debugfs("page_owner")
    assert (m.df_pageblocks().nr_mixed == -1).all()
    assert "Number of mixed blocks" not in m.proc("pagetypeinfo")


def test_v319_records_lost_on_free_and_split_loses_gfp():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on", profile="v3.19")
    pfn = m.alloc_pages(2, "GFP_KERNEL")
    row = m.df_page_owner().set_index("pfn").loc[pfn]
    assert row.order == 2 and row.gfp_mask == m.mm.gfp("GFP_KERNEL")
    m.free_pages(pfn, 2)
    assert pfn not in set(m.df_page_owner().pfn)
    pfn = m.alloc_pages(2, "GFP_KERNEL")
    page_alloc.split_page(m.mm, pfn, 2)
    df = m.df_page_owner().set_index("pfn")
    # v3.19 split: set_page_owner(page + i, 0, 0): order 0, gfp 0, no stack -> not printed
    assert not set(range(pfn, pfn + 4)) & set(df.index)


def test_v612_record_kept_after_free_and_split():
    m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    pfn = m.alloc_pages(2, "GFP_KERNEL")
    page_alloc.split_page(m.mm, pfn, 2)
    df = m.df_page_owner().set_index("pfn")
    assert all(df.loc[pfn + i, "order"] == 0 for i in range(4))
    assert all(df.loc[pfn + i, "gfp_mask"] == m.mm.gfp("GFP_KERNEL") for i in range(4))
    m.mm.advance(1000)
    for i in range(4):
        m.free_pages(pfn + i, 0)
    assert not set(range(pfn, pfn + 4)) & set(m.df_page_owner().pfn)


def test_df_page_owner_of_a_pfn_range_is_the_full_frames_rows_in_it():
    """frames.sim.df_page_owner(mm, start, end): the blocks whose head lies in the range,
    with the values the whole frame has for them (the range may cut sections)."""
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=3)
    W = pextlab.workloads
    m.run(W.mix(W.anon("a", rate=3000), W.thp("q", rate=5, lifetime="5s")), duration="2s")
    full = df_page_owner(m.mm)
    cut = int(full["pfn"].iloc[len(full) // 2])
    ranges = [(0, None), (cut - 700, cut + 700), (cut, None), (0, cut), (cut, cut + 1), (10**9, None)]
    for lo, hi in ranges:
        part = df_page_owner(m.mm, lo, hi)
        want = full[(full["pfn"] >= lo) & (full["pfn"] < (hi if hi is not None else 1 << 62))]
        assert len(part) == len(want)
        for c in full.columns:
            a, b = part[c].reset_index(drop=True), want[c].reset_index(drop=True)
            if isinstance(a.dtype, pd.CategoricalDtype):
                a, b = a.astype(object), b.astype(object)
            pd.testing.assert_series_equal(a, b, check_dtype=False, check_names=False)
    assert len(df_page_owner(m.mm, cut, cut + 1)) == 1          # the head at ``cut`` itself


def test_records_fields_into_writes_slices():
    """OwnerRecords.fields_into (df_page_owner fills its columns a section slice at a
    time with it) gives what ``column`` gives, and writes nothing outside the slices."""
    from pextlab.kernel.page_owner import REC_FIELDS
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=3)
    churn(m, n=2000)
    recs = m.mm.page_owner.records
    n = len(recs)
    rows = np.concatenate([np.arange(n - 600, n - 100), np.arange(0, 300)[::-1],
                           np.arange(100, 400)]).astype(np.int32)
    want = {f: np.int64 for f in range(len(REC_FIELDS))} | {0: np.int8, 4: np.int32, 7: np.int8}
    out = {f: np.full(len(rows) + 10, 99, dtype=dt) for f, dt in want.items()}
    recs.fields_into(rows, {f: o[5:-5] for f, o in out.items()}, chunk=100)
    for f, dt in want.items():
        assert np.array_equal(out[f][5:-5], recs.column(rows, f, dt)), REC_FIELDS[f]
        assert (out[f][:5] == 99).all() and (out[f][-5:] == 99).all()
