"""CMA: areas as 6.12 reserves them, cma_alloc / cma_release over alloc_contig_range,
pins, and the CMA files of real captures.

Expected figures are worked out from the kernel's rules (mm/cma.c, kernel/dma/contiguous.c,
mm/page_alloc.c, mm/gup.c), not copied from the simulator's output.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.analysis.cma import cma_blockers
from pextlab.errors import ParseError, PextlabError
from pextlab.kernel import gup
from pextlab.kernel.cma import bitmap_find_next_zero_area_off
from pextlab.kernel.debug import check_invariants
from pextlab.procfs.cma import format_cma_files, read_cma
from pextlab.procfs.meminfo import meminfo_dict

REAL = Path(__file__).resolve().parents[1] / "data" / "real-kernel"
H = REAL / "h-1G-cma64M"
PB = 512                          # pageblock_nr_pages on x86_64 (order 9)


def _boot(mem="1G", cmdline="page_owner=on cma=64M", **kw):
    return pextlab.boot(mem, cmdline=cmdline, seed=1, **kw)


# --- the area of h-1G-cma64M ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def h_machine():
    cap = pextlab.read_capture(H)
    return cap, pextlab.boot(layout=cap.layout, cmdline=cap.cmdline)


def test_area_of_h_1g_cma64m(h_machine):
    cap, m = h_machine
    # cma=64M on 1 GiB: memblock_end (1 GiB) < 4 GiB + 64 MiB, so no bottom-up search; the
    # top-down search below the end of RAM finds the highest free 2 MiB-aligned 64 MiB: the
    # real kernel's "Reserved 64 MiB at 0x000000003be00000" -> pfn 0x3be00 = 245248
    df = m.df_cma()
    assert df[["name", "base_pfn", "count", "order_per_bit"]].values.tolist() == [["reserved", 245248, 16384, 0]]
    assert "cma: Reserved 64 MiB at 0x000000003be00000 on node -1" in m.dmesg
    pb = m.df_pageblocks()
    assert pb.loc[pb["migratetype"] == "CMA", "nr_blocks"].sum() == 16384 // PB == 32
    real, sim = meminfo_dict(cap.df_meminfo()), meminfo_dict(m.df_meminfo())
    assert sim["CmaTotal"] == real["CmaTotal"] == 65536
    assert sim["CmaFree"] == real["CmaFree"] == 65536
    vs = dict(zip(m.df_vmstat()["field"].astype(str), m.df_vmstat()["value"]))
    vr = dict(zip(cap.df_vmstat()["field"].astype(str), cap.df_vmstat()["value"]))
    assert vs["nr_free_cma"] == vr["nr_free_cma"] == 16384
    # zoneinfo's cma line: zone->cma_pages, the area's pages in DMA32
    assert m.df_zones().set_index("zone").loc["DMA32", "cma"] == cap.df_zones().set_index("zone").loc["DMA32", "cma"] == 16384


def test_real_cma_files_parse_into_df_cma(h_machine):
    cap, m = h_machine
    real = cap.df_cma()
    assert real[["name", "base_pfn", "count", "end_pfn", "used", "maxchunk", "zone",
                 "alloc_pages_success", "alloc_pages_fail", "release_pages_success",
                 "free_cma_pages"]].values.tolist() == \
        [["reserved", 245248, 16384, 261632, 0, 16384, "DMA32", 0, 0, 0, 16384]]
    sim = m.df_cma()
    cols = ["name", "base_pfn", "count", "end_pfn", "order_per_bit", "zone", "used", "maxchunk",
            "alloc_pages_success", "alloc_pages_fail", "release_pages_success", "free_cma_pages"]
    pd.testing.assert_frame_equal(sim[cols], real[cols])


def test_simulated_files_are_the_capture_format(h_machine):
    cap, m = h_machine
    dbg, sysf = format_cma_files(m.mm.cma_areas)
    assert dbg == (H / "cma_debugfs.txt").read_text()
    assert sysf == (H / "cma_sysfs.txt").read_text()
    assert m.debugfs("cma/reserved/base_pfn") == "245248\n"
    assert m.sysfs("mm/cma/reserved/alloc_pages_fail") == "0\n"
    with pytest.raises(PextlabError, match="write-only"):
        m.debugfs("cma/reserved/alloc")
    with pytest.raises(PextlabError, match="no CMA area named 'nope'"):
        m.debugfs("cma/nope/used")


@pytest.mark.parametrize("bad, what", [
    ("### /sys/kernel/debug/cma/reserved/count\nlots\n", "count (a number)"),
    ("### /sys/kernel/debug/cmaa/reserved/count\n1\n", "'### /sys/kernel/debug/cma/<area>/<file>'"),
    ("16384\n", "a '### <path>' line first"),
    ("### /sys/kernel/debug/cma/r/count\n512\n", "/sys/kernel/debug/cma/r/base_pfn"),
    ("### /sys/kernel/debug/cma/r/base_pfn\n1\n\n### /sys/kernel/debug/cma/r/count\n512\n\n"
     "### /sys/kernel/debug/cma/r/bitmap\n0 0\n", "16 bitmap words"),
    ("### /sys/kernel/debug/cma/r/base_pfn\n1\n\n### /sys/kernel/debug/cma/r/count\n64\n\n"
     "### /sys/kernel/debug/cma/r/bitmap\n0 4294967296\n", "a bitmap word (u32)"),
    ("### /sys/kernel/debug/cma/r/base_pfn\n1\n\n### /sys/kernel/debug/cma/r/count\n64\n\n"
     "### /sys/kernel/debug/cma/r/used\n65\n", "used at most count"),
    ("### /sys/kernel/debug/cma/r/base_pfn\n1\n2\n", "one number for base_pfn"),
])
def test_malformed_cma_files_are_parse_errors(bad, what):
    with pytest.raises(ParseError, match=what.replace("(", r"\(").replace(")", r"\)")):
        read_cma(bad)


def test_malformed_sysfs_is_a_parse_error():
    with pytest.raises(ParseError, match="alloc_pages_fail"):
        read_cma((H / "cma_debugfs.txt").read_text(),
                 "### /sys/kernel/mm/cma/reserved/alloc_pages_fail\n-1\n")


# --- placement (kernel/dma/contiguous.c, mm/cma.c cma_declare_contiguous_nid) --------------------

def test_cma_with_a_base_is_fixed_there():
    # cma=32M@512M: limit = base + size, so the area is fixed at 512 MiB = pfn 0x20000
    m = _boot(cmdline="cma=32M@512M")
    a = m.mm.cma_areas[0]
    assert (a.base_pfn, a.count) == (0x20000, 8192)
    assert "cma: Reserved 32 MiB at 0x0000000020000000 on node -1" in m.dmesg


def test_cma_range_is_searched_top_down_below_its_limit():
    # cma=16M@128M-256M: not fixed; top-down below 256 MiB: [240 MiB, 256 MiB)
    m = _boot(cmdline="cma=16M@128M-256M")
    a = m.mm.cma_areas[0]
    assert (a.base_pfn, a.end_pfn) == ((240 << 20) >> 12, (256 << 20) >> 12)


def test_cma_misaligned_fixed_base_fails_with_the_kernel_lines():
    m = _boot(cmdline="cma=16M@1M")
    assert m.mm.cma_areas == []
    assert "cma: Region at 0x0000000000100000 must be aligned to 0x0000000000200000 bytes" in m.dmesg
    assert "cma: Failed to reserve 16 MiB on node -1" in m.dmesg
    assert m.df_cma().empty


def test_cma_above_4g_goes_bottom_up_from_4g():
    # memblock_end >= 4 GiB + size: "try a bottom-up allocation first ... Avoid using first
    # 4GB": the area starts at the first free aligned address at or above 4 GiB
    m = _boot(mem="6G", cmdline="cma=64M")
    a = m.mm.cma_areas[0]
    assert a.base_pfn == (4 << 30) >> 12
    assert m.df_cma()["zone"].tolist() == ["Normal"]
    assert check_invariants(m.mm) == []


def test_per_node_areas():
    # dma_numa_cma_reserve: for each online node, pernuma<N> then numa<N>; then "reserved"
    m = _boot(cmdline="cma_pernuma=8M numa_cma=1:16M cma=32M", nodes=2)
    df = m.df_cma()
    assert df["name"].tolist() == ["pernuma0", "pernuma1", "numa1", "reserved"]
    assert df["count"].tolist() == [2048, 2048, 4096, 8192]
    assert df["nid"].tolist() == [0, 1, 1, -1]
    nodes = [m.mm.pfn_to_nid(p) for p in df["base_pfn"]]
    assert nodes[:3] == [0, 1, 1]
    assert check_invariants(m.mm) == []


# --- cma_alloc / cma_release ---------------------------------------------------------------------

def test_quiet_machine_whole_area():
    m = _boot()
    r = m.cma_alloc(16384)
    assert r.ok and r.error is None and r.pfn == 245248 and r.migrated == 0
    df = m.df_cma().iloc[0]
    assert (df["used"], df["maxchunk"], df["alloc_pages_success"], df["free_cma_pages"]) == (16384, 0, 16384, 0)
    assert m.df_cma_map()["state"].value_counts()["cma"] == 16384
    vm = dict(zip(m.df_vmstat()["field"].astype(str), m.df_vmstat()["value"]))
    assert vm["cma_alloc_success"] == 1
    # split_free_pages: 16384 order-0 pages, recorded by page_owner with cma_alloc's mask
    po = m.df_page_owner()
    mine = po[(po["pfn"] >= 245248) & (po["pfn"] < 245248 + 16384)]
    assert len(mine) == 16384 and (mine["order"] == 0).all() and set(mine["gfp"]) == {"GFP_KERNEL"}
    assert check_invariants(m.mm) == []
    assert m.cma_release(r)
    df = m.df_cma().iloc[0]
    assert (df["used"], df["maxchunk"], df["release_pages_success"], df["free_cma_pages"]) == (0, 16384, 16384, 16384)
    assert check_invariants(m.mm) == []


def test_bitmap_search_and_alignment():
    m = _boot()
    a = m.mm.cma_areas[0]
    assert m.cma_alloc(100, align=8).pfn == a.base_pfn            # bits 0..99
    assert m.cma_alloc(100, align=32).pfn == a.base_pfn + 128     # next 32-aligned free bit
    assert m.cma_alloc(28).pfn == a.base_pfn + 100                 # the hole before 128
    assert m.debugfs("cma/reserved/used") == "228\n"
    # bitmap words: 228 bits set from bit 0: words 0..6 all ones, word 7 = bits 224..227
    words = m.debugfs("cma/reserved/bitmap").split()
    assert len(words) == 512 and words[:8] == ["4294967295"] * 7 + ["15"]
    assert check_invariants(m.mm) == []


def test_bitmap_find_next_zero_area_off_is_lib_bitmap():
    bm = np.zeros(64, dtype=bool)
    bm[[3, 17]] = True
    assert bitmap_find_next_zero_area_off(bm, 64, 0, 4, 0, 0) == 4
    assert bitmap_find_next_zero_area_off(bm, 64, 0, 16, 15, 0) == 32
    assert bitmap_find_next_zero_area_off(bm, 64, 0, 16, 15, 4) == 28    # (28 + 4) % 16 == 0
    assert bitmap_find_next_zero_area_off(bm, 64, 0, 64, 0, 0) > 64      # no room: past the end


def test_bad_requests():
    m = _boot()
    with pytest.raises(PextlabError, match="power of two"):
        m.cma_alloc(16, align=3)
    with pytest.raises(PextlabError, match="no CMA area named 'dma'"):
        m.cma_alloc(16, name="dma")
    with pytest.raises(PextlabError, match="count must be >= 0"):
        m.cma_alloc(-1)
    # the kernel returns NULL before searching (no counters, no message); the debugfs
    # write that asked would return -ENOMEM
    for count in (0, 16385):
        r = m.cma_alloc(count)
        assert not r.ok and r.error == "ENOMEM" and r.reason and r.dmesg == []
    assert m.df_cma()["alloc_pages_fail"].tolist() == [0]
    with pytest.raises(PextlabError, match="no CMA area"):
        _boot(cmdline="page_owner=on").cma_alloc(1)
    assert m.cma_release(0x1000, 1) is False            # outside the area: cma_pages_valid
    with pytest.raises(PextlabError, match="not a range cma_alloc handed out"):
        m.cma_release(m.mm.cma_areas[0].base_pfn, 1)
    assert check_invariants(m.mm) == []


def _fill(m, pages=212_000):
    """A hog fills the machine until the CMA rule of __rmqueue holds the area's free
    pages at half the zone's free pages; returns (free, free CMA) of the zone."""
    m.run(W.hog("filler", pages=pages, ramp="2s"), duration="3s")
    z = m.mm.zone_of_pfn(m.mm.cma_areas[0].base_pfn)
    return z.free_pages, z.free_mt[m.mm.profile.mt_cma]


def test_movable_pages_are_migrated_with_their_owners():
    m = _boot()
    free, cma_free = _fill(m)
    # once free CMA pages exceed half the free pages, movable allocations take CMA pages
    # first: the hog stopped with the two balanced
    assert cma_free == free // 2
    before = m.df_cma_map()
    movable = before.loc[before["state"] == "movable", "pfn"].to_numpy()
    assert len(movable) == 16384 - cma_free
    po = m.df_page_owner().set_index("pfn")
    owners = po.loc[movable, ["comm", "pid", "stack_handle", "ts_ns"]]
    held = pextlab.kernel.migrate.HeldBlocks()
    held.blocks.update({int(p): 0 for p in movable})
    m.on_migrate(held)
    r = m.cma_alloc(16384)
    assert r.ok and r.migrated == len(movable)
    # the hog's pages moved: its run log and the holder follow them, page_owner copied the
    # records (same task, stack, time) with last_migrate_reason contig_range
    po = m.df_page_owner().set_index("pfn")
    new = sorted(held.blocks)
    assert len(new) == len(movable) and not set(new) & set(range(245248, 245248 + 16384))
    after = po.loc[new]
    assert (after["last_migrate_reason"] == "contig_range").all()
    assert sorted(map(tuple, after[["comm", "pid", "stack_handle", "ts_ns"]].values.tolist())) == \
        sorted(map(tuple, owners.values.tolist()))
    vm = dict(zip(m.df_vmstat()["field"].astype(str), m.df_vmstat()["value"]))
    assert vm["pgmigrate_success"] == len(movable)
    assert check_invariants(m.mm) == []


def test_short_term_pins_make_it_fail_and_name_the_culprit():
    m = _boot()
    free, cma_free = _fill(m)
    assert cma_free == free // 2
    m.run(W.pin("rdma", pages=300, longterm=False), duration="2s")
    # from C == F // 2 the rule alternates: a non-CMA page (C > (F-1)//2 after it), then a
    # CMA page (back to C == F // 2), ...: exactly half of the 300 pinned pages are in CMA
    amap = m.df_cma_map()
    pinned = amap.loc[amap["state"] == "pinned", "pfn"]
    assert len(pinned) == 150
    movable = int((amap["state"] == "movable").sum())
    r = m.cma_alloc(16384)
    assert not r.ok and r.error == "EBUSY" and r.pfn == -1
    assert r.dmesg == ["cma: __cma_alloc: reserved: alloc failed, req-size: 16384 pages, ret: -16",
                       "cma: number of available pages: 16384@0=> 16384 free of 16384 total pages"]
    assert sorted(r.blocking_pfns) == sorted(pinned.tolist())
    assert r.first_busy_pfn == int(pinned.min())
    rdma_pid = m.df_tasks().set_index("comm").loc["rdma", "pid"]
    assert r.blocking.groupby(["comm", "pid"], observed=True).size().to_dict() == {("rdma", rdma_pid): 150}
    assert r.dump[0].startswith("page: refcount:1025 ")          # 1 + GUP_PIN_COUNTING_BIAS
    assert "(rdma)" in r.dump[4]
    row = m.df_cma_allocs().iloc[-1]
    assert (row["errno"], row["owner_comm"], row["owner_pid"], row["owner_stack_top"]) == \
        ("EBUSY", "rdma", rdma_pid, "__handle_mm_fault")   # past the allocator frames
    assert m.df_cma()["alloc_pages_fail"].tolist() == [16384]
    # the unpinned movable pages of the window were migrated before the pinned ones stopped it
    assert r.migrated == movable and r.retries == 1
    assert (m.df_cma_map()["state"] == "movable").sum() == 0
    assert check_invariants(m.mm) == []
    # a smaller request finds a window free of pins: the search moves past each busy one
    r2 = m.cma_alloc(512, align=512)
    busy_blocks = {(p - 245248) // 512 for p in pinned}
    first_free = min(set(range(32)) - busy_blocks)
    assert r2.ok and r2.pfn == 245248 + 512 * first_free and r2.retries == first_free
    assert check_invariants(m.mm) == []


def test_long_term_pins_move_out_of_cma_first():
    m = _boot()
    _fill(m)
    m.run(W.pin("rdma", pages=300, longterm=True), duration="2s")
    amap = m.df_cma_map()
    assert (amap["state"] != "pinned").all()
    po = m.df_page_owner()
    rdma = po[(po["comm"] == "rdma") & (po["gfp"] == "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO")]
    # pinned pages sit outside the area, as non-movable targets (GFP_USER under memalloc_pin)
    assert not rdma["pfn"].between(245248, 245248 + 16383).any()
    assert (rdma["last_migrate_reason"] == "longterm_pin").sum() > 0
    assert m.run_log.tasks[-1]["pinned"] == 300
    assert m.cma_alloc(16384).ok
    assert check_invariants(m.mm) == []


def test_pins_block_compaction_and_offline():
    m = pextlab.boot("1G", cmdline="page_owner=on", maxmem="2G", seed=1)
    blocks = m.hot_add("128M", online="online_movable")
    s = blocks[0] * 32768
    pfn = m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    while pfn is not None and pfn < s:
        pfn = m.alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
    assert pfn is not None and pfn >= s
    assert gup.pin_user_pages(m.mm, [(pfn, 0)]) == [pfn]
    with pytest.raises(PextlabError, match="pinned"):
        m.free_pages(pfn, 0)
    r = m.offline(blocks[0])
    assert not r.ok and pfn in r.blocking_pfns
    assert check_invariants(m.mm) == []
    gup.unpin_user_pages(m.mm, [pfn])
    assert gup.page_pincount(m.mm, pfn) == 0
    with pytest.raises(PextlabError, match="not pinned"):
        gup.unpin_user_pages(m.mm, [pfn])


def test_cma_blockers_on_the_real_dump(h_machine):
    cap, _ = h_machine
    b = cma_blockers(cap.df_page_owner(), cap.df_cma())
    po = cap.df_page_owner()
    inside = po[(po["pfn"] + po["nr_pages"] > 245248) & (po["pfn"] < 261632)]
    assert b["pages"].sum() == inside["nr_pages"].sum()
    assert set(b.columns) >= {"area", "comm", "pid", "stack", "pages", "blocks", "migratable"}


def test_cma_blockers_on_the_simulator():
    m = _boot()
    _fill(m)
    m.run(W.pin("rdma", pages=300, longterm=False), duration="2s")
    pinned = m.df_cma_map().query("state == 'pinned'")["pfn"]
    b = cma_blockers(m.df_page_owner(), m.df_cma(), pinned=pinned)
    rd = b[b["comm"] == "rdma"]
    assert rd["pages"].sum() == 150 and not rd["migratable"].any()
    assert b[b["comm"] == "filler"]["migratable"].all()


def test_plot_cma():
    import matplotlib
    matplotlib.use("Agg")
    from pextlab.plot import plot_cma
    m = _boot()
    ax = plot_cma(m.df_cma_map())
    assert ax.get_title().startswith("CMA area reserved")
    with pytest.raises(KeyError, match="state"):
        plot_cma(pd.DataFrame({"pfn": [1]}))
