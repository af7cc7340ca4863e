"""Memory hotplug in the simulated kernel: failures leave no trace, notifier vetoes,
migration keeps page_owner records, page_ext tables follow the online sections."""
import pytest
from pandas.testing import assert_frame_equal

import pextlab
from pextlab.errors import PextlabError
from pextlab.kernel.debug import check_invariants


HMachine = pextlab.Machine


def machine(cmdline="page_owner=on", mem="1G", maxmem="4G"):
    return pextlab.boot(mem, cmdline, maxmem=maxmem)


def frames(m):
    return {name: getattr(m, name)() for name in
            ("df_buddyinfo", "df_pagetypeinfo", "df_page_owner", "df_memory_blocks", "df_zones",
             "df_page_ext", "df_stacks")}


def assert_same(a, b):
    for k in a:
        assert_frame_equal(a[k], b[k], obj=k)


def online_sections(mm):
    return {s.nr for s in mm.sections if s is not None and s.present and s.online}


def test_hot_add_offline_blocks_and_memmap_cost():
    m = machine()
    free0 = m.df_zones().set_index("zone").loc["DMA32", "free"]
    blocks = m.hot_add("256M")
    assert len(blocks) == 2
    mb = m.df_memory_blocks().set_index("block")
    assert (mb.loc[blocks, "state"] == "offline").all()
    assert (mb.loc[blocks, "valid_zones"] == "Normal Movable").all()
    # vmemmap: 2 MiB per section from existing memory, plus a page table and a slab page
    free1 = m.df_zones().set_index("zone").loc["DMA32", "free"]
    assert free0 - free1 == 2 * 512 + 2
    assert check_invariants(m.mm) == []


def test_hot_add_checks():
    m = machine()
    with pytest.raises(PextlabError, match="unaligned"):
        m.hot_add("64M")
    with pytest.raises(PextlabError, match="maxmem"):
        pextlab.boot("1G", "page_owner=on").hot_add("128M")
    m.hot_add("128M", addr=0x100000000)
    with pytest.raises(PextlabError, match="EEXIST"):
        m.hot_add("128M", addr=0x100000000)


def test_memhp_default_state_onlines():
    m = machine("page_owner=on memhp_default_state=online_movable")
    blocks = m.hot_add("256M")
    mb = m.df_memory_blocks().set_index("block")
    assert (mb.loc[blocks, "zone"].astype(str) == "Movable").all()


def test_failed_offline_leaves_frames_identical():
    m = machine()
    b = m.hot_add("512M")
    m.online(b[0], "online")
    for x in b[1:]:
        m.online(x, "online_movable")
    for _ in range(50):
        m.alloc_pages(0, "GFP_KERNEL")
    before = frames(m)
    r = m.offline(b[0])                   # page_ext tables of the others + kernel pages
    assert (r.error, r.reason) == ("EBUSY", "failure to isolate range")
    assert len(r.blocking) == 50 + 3 * 576
    assert_same(before, frames(m))
    r0 = m.offline(0)                      # DMA/DMA32 block: valid_zones none
    assert r0.error == "EINVAL" and m.valid_zones(0) == "none"
    r7 = m.offline(7)                      # hole at the end of boot RAM
    assert (r7.error, r7.reason) == ("EINVAL", "memory holes")
    assert m.online(b[1], "online").error == "EINVAL"     # already online
    assert_same(before, frames(m))
    assert check_invariants(m.mm) == []


def test_online_vetoed_by_page_ext_leaves_state():
    m = machine()
    b = m.hot_add("256M")
    before = frames(m)
    target = b[1] * 1  # section numbers equal block numbers with 128 MiB blocks
    m.mm.page_ext.fail_alloc = lambda nid, section: section == target
    r = m.online(b[1], "online_movable")
    assert not r.ok and r.error == "ENOMEM"
    assert "page ext allocation failure" in m.dmesg
    assert_same(before, frames(m))
    assert m.df_memory_blocks().set_index("block").loc[b[1], "state"] == "offline"
    m.mm.page_ext.fail_alloc = None
    assert m.online(b[1], "online_movable").ok
    assert check_invariants(m.mm) == []


def test_migration_keeps_owner_and_reason():
    m = machine()
    b = m.hot_add("256M")
    for x in b:
        m.online(x, "online_movable")
    m.mm.set_task("worker", 4242)
    pfns = [(m.alloc_pages(o, "GFP_HIGHUSER_MOVABLE"), o) for o in (0, 0, 2, 3, 0, 9)]
    assert all(p >> 15 == b[0] for p, _ in pfns)      # lowest block first
    before = m.df_page_owner().set_index("pfn").loc[[p for p, _ in pfns]]
    stacks_before = m.df_stacks().set_index("stack_handle")["nr_base_pages"]
    r = m.offline(b[0])
    assert r.ok and r.migrated == sum(1 << o for _, o in pfns)
    after = m.df_page_owner()
    moved = after[after["last_migrate_reason"] == "memory_hotplug"]
    assert len(moved) == len(pfns)
    assert (moved["memory_block"] == b[1]).all()
    cols = ["order", "gfp_mask", "pid", "comm", "ts_ns", "stack_handle"]
    key = lambda df: sorted(map(tuple, df[cols].astype(str).values.tolist()))
    assert key(moved) == key(before)
    # show_stacks: the original stacks keep their counts, the migration stack nets zero
    stacks_after = m.df_stacks().set_index("stack_handle")["nr_base_pages"]
    common = stacks_before.index.intersection(stacks_after.index)
    diff = stacks_before[common] - stacks_after[common]
    changed = diff[diff != 0]
    # only the page_ext stack moved: memory b[0]'s table (576 pages) was freed at MEM_OFFLINE
    top = m.df_stacks().set_index("stack_handle")["top_frame"].astype(str)
    assert changed.to_dict() == {h: 576 for h in changed.index}
    assert all(top[h] == "init_section_page_ext" for h in changed.index)
    assert set(stacks_after.index) <= set(stacks_before.index)
    assert check_invariants(m.mm) == []


def test_page_ext_tables_exactly_for_online_sections():
    m = machine()
    b = m.hot_add("512M")
    seen = []
    for step in [("online", b[0], "online"), ("online", b[1], "online_movable"),
                 ("online", b[2], "online_movable"), ("offline", b[1], None),
                 ("offline", 4, None), ("online", 4, "online"), ("offline", b[2], None),
                 ("online", b[1], "online")]:
        if step[0] == "online":
            assert m.online(step[1], step[2]).ok, step
        else:
            assert m.offline(step[1]).ok, step
        pe = m.df_page_ext()
        assert set(pe["section"]) == online_sections(m.mm), step
        assert m.page_ext_bytes == len(pe) * 2359296
        seen.append(check_invariants(m.mm))
    assert all(s == [] for s in seen)
    # memory4 came back to DMA32 (it intersects it); valid_zones while offline listed it
    assert m.df_memory_blocks().set_index("block").loc[4, "zone"] == "DMA32"


def test_offline_boot_block_valid_zones_and_zone_counts():
    m = machine()
    z0 = m.df_zones().set_index("zone").loc["DMA32"]
    assert m.offline(4).ok
    z1 = m.df_zones().set_index("zone").loc["DMA32"]
    assert z0["present"] - z1["present"] == 32768
    assert z0["managed"] - z1["managed"] == 32768
    assert z1["spanned"] == z0["spanned"]              # a hole in the middle: span stays
    assert m.valid_zones(4) == "DMA32 Movable"


def test_remove_needs_offline_blocks_and_gives_memory_back():
    m = machine()
    free0 = int(m.df_zones()["free"].sum())
    b = m.hot_add("256M")
    m.online(b[0], "online_movable")
    r = m.remove("dimm0", eject=False)
    assert r.error == "EBUSY" and "is onlined" in m.dmesg
    r = m.remove("dimm0")                              # ACPI eject offlines memory first
    assert r.ok
    assert m.memory_devices == {}
    assert set(m.df_memory_blocks()["block"]) == set(range(8))
    assert int(m.df_zones()["free"].sum()) == free0
    assert check_invariants(m.mm) == []
    with pytest.raises(PextlabError):
        m.online(b[0])


def test_eject_fails_like_the_real_run():
    m = machine()
    b = m.hot_add("256M")
    m.online(b[0], "online")
    m.online(b[1], "online_movable")
    for _ in range(3):
        m.alloc_pages(0, "GFP_KERNEL")
    before = frames(m)
    n = len(m.mm.dmesg_lines)
    r = m.remove(b[0])
    assert (r.error, r.reason) == ("EBUSY", "failure to isolate range")
    # the first pass offlined b[1] (its page_ext table went with it), so only the three
    # kernel pages are left in the way when the second pass gives up
    assert len(r.blocking_pfns) == 3 and len(r.blocking) == 3
    log = m.mm.dmesg_lines[n:]
    assert sum("unmovable page" in l for l in log) == 2
    warn = [i for i, l in enumerate(log) if l.endswith(f"memory memory{b[0]}: Offline failed.")]
    dumps = [i for i, l in enumerate(log) if "unmovable page" in l]
    assert len(warn) == 1 and warn[0] > dumps[-1]
    # the block the eject offlined on the way was put back online
    mb = m.df_memory_blocks().set_index("block")
    assert mb.loc[b[1], "state"] == "online" and mb.loc[b[1], "zone"] == "Movable"
    assert_frame_equal(before["df_memory_blocks"], m.df_memory_blocks())
    assert check_invariants(m.mm) == []


def test_workload_follows_pages_migrated_by_offline():
    """A running workload's pending frees follow its pages when offline migrates them."""
    import pextlab.workloads as W
    m = machine(mem="1G", maxmem="4G")
    blocks = m.hot_add("256M")
    for b in blocks:
        assert m.online(b, "online_movable").ok
    m.run(W.mix(W.anon("app", rate=20000, lifetime="20s")), duration="1s")
    before = m.df_page_owner()
    on_dimm = before[(before.pfn >= blocks[0] * 32768) & (before.comm.astype(str) == "app")]
    assert len(on_dimm) > 0
    r = m.offline(blocks[0])
    assert r.ok, r.reason
    moved = m.df_page_owner()
    assert (moved[moved.comm.astype(str) == "app"].last_migrate_reason.astype(str)
            == "memory_hotplug").sum() >= len(on_dimm[on_dimm.pfn < (blocks[0] + 1) * 32768])
    # the workload keeps running and frees the moved pages at their new pfns
    m.run(W.mix(W.anon("app2", rate=100, lifetime="1s")), duration="30s")
    assert check_invariants(m.mm) == []
