"""The compiled scanners of compaction (pextlab.kernel._compaction): the migrate scanner
takes exactly the movable, unpinned heads below the order limit of one pageblock, in pfn
order; the free scanner isolates free blocks of movable pageblocks from the top down and
keeps its books; pinned blocks never move."""
from __future__ import annotations

import numpy as np

import pextlab
from pextlab.kernel import compaction, gup
from pextlab.kernel._compaction import isolate_migratepages, migrate_block
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.mmzone import MT_MASK, MT_SHIFT, PG_BUDDY, PG_HEAD
from tests.test_compaction import fragment


def _machine(seed=3):
    m = pextlab.boot("512M", cmdline="page_owner=on")
    tracker = fragment(m, seed=seed)
    return m, tracker


def _normal_zone(mm):
    return max(mm.populated_zones(), key=lambda z: z.present_pages)


def _control(mm, zone):
    cc = compaction.CompactControl(mm, zone, -1, compaction.MIGRATE_SYNC, 0, whole_zone=True,
                                   ignore_skip_hint=True)
    pb = mm.pageblock_order
    cc.migrate_pfn = zone.zone_start_pfn
    cc.free_pfn = ((zone.zone_end_pfn - 1) >> pb) << pb
    return cc, compaction.compaction_state(mm).zone(mm, zone)


def _movable_heads(mm, lo, hi, pinned=()):
    sec = mm.sections[lo >> mm.section_shift]
    off = lo & mm.section_mask
    fl = sec.flags_np()[off:off + hi - lo]
    od = sec.order_np()[off:off + hi - lo]
    heads = np.flatnonzero(fl & PG_HEAD)
    mts = (fl[heads] & MT_MASK) >> MT_SHIFT
    keep = (mts == mm.profile.mt_movable) & (od[heads] < mm.pageblock_order)
    return [(lo + int(i), int(od[i])) for i in heads[keep] if lo + int(i) not in pinned]


def test_the_migrate_scanner_takes_the_movable_unpinned_heads_of_one_pageblock():
    m, tracker = _machine()
    mm = m.mm
    zone = _normal_zone(mm)
    pbn = 1 << mm.pageblock_order
    movable = sorted(p for kind, c in tracker["chunks"] if kind == 0 for p in c)
    first_block = (movable[0] // pbn) * pbn
    pinned = set(movable[:4:2])
    assert gup.pin_user_pages(mm, [(p, 0) for p in sorted(pinned)]) == sorted(pinned)
    cc, zc = _control(mm, zone)
    cc.migrate_pfn = first_block
    isolated_before = mm.vm_events.get("compact_isolated", 0)
    src = isolate_migratepages(cc, zc)
    assert src, "a fragmented zone has movable pages to isolate"
    block = (src[0][0] // pbn) * pbn
    assert block == first_block and cc.migrate_pfn == block + pbn
    assert src == _movable_heads(mm, block, block + pbn, pinned)
    assert not pinned & {p for p, _ in src}
    assert cc.total_migrate_scanned == pbn
    assert mm.vm_events["compact_isolated"] - isolated_before == sum(1 << o for _, o in src)


def test_the_free_scanner_feeds_migrate_block_from_the_top_of_the_zone():
    m, _ = _machine(seed=4)
    mm = m.mm
    zone = _normal_zone(mm)
    cc, zc = _control(mm, zone)
    top = cc.free_pfn
    src = isolate_migratepages(cc, zc)
    free_before = zone.free_pages
    assert migrate_block(cc, zc, src)
    moved = cc.moved
    assert [(o, order) for o, _, order in moved] == src
    pb = mm.pageblock_order
    for old, new, order in moved:
        sec = mm.sections[new >> mm.section_shift]
        assert sec.flags[new & mm.section_mask] & PG_HEAD          # the target is allocated
        # from the free scanner's pageblocks: above the migrate scanner, at the top
        assert new > old and (cc.free_pfn >> pb) << pb <= new < top + (1 << pb)
    # the isolated blocks that were not used are off the buddy lists until released
    isolated = sum(len(lst) << o for o, lst in enumerate(cc.freepages))
    assert isolated == cc.nr_freepages
    for o, lst in enumerate(cc.freepages):
        for pfn in lst:
            assert not mm.sections[pfn >> mm.section_shift].flags[pfn & mm.section_mask] & PG_BUDDY
    compaction.release_free_list(cc, zc)
    assert cc.nr_freepages == 0
    # every source was freed and every target taken: the free page count is unchanged
    assert zone.free_pages == free_before
    assert check_invariants(mm) == []


def test_pinned_blocks_stay_where_they_are():
    m, tracker = _machine(seed=5)
    mm = m.mm
    movable = sorted(p for kind, c in tracker["chunks"] if kind == 0 for p in c)
    pinned = movable[::7]
    gup.pin_user_pages(mm, [(p, 0) for p in pinned])
    m.compact_memory()
    moved_from = {old for old, _, _ in tracker["moved"]}
    assert tracker["moved"] and not moved_from & set(pinned)
    for p in pinned:
        assert gup.page_pincount(mm, p) == 1
        assert mm.sections[p >> mm.section_shift].flags[p & mm.section_mask] & PG_HEAD
    assert check_invariants(mm) == []
