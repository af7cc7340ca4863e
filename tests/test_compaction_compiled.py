"""The compiled scanners of compaction (pextlab.kernel._compaction): the migrate scanner
takes exactly the movable, unpinned heads below the order limit of one pageblock, in pfn
order; the free scanner isolates free blocks of movable pageblocks from the top down and
keeps its books; pinned blocks never move.  Proactive compaction's pcp-like buffer
(pextlab.kernel._pcp) frees as the Python it replaced."""
from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd
import pytest

import pextlab
from pextlab.kernel import buddy, compaction, gup, pcp
from pextlab.kernel._compaction import isolate_migratepages, migrate_block
from pextlab.kernel._pcp import PcpBufferCore
from pextlab.errors import PextlabError
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.mmzone import MT_MASK, MT_SHIFT, PG_BUDDY, PG_HEAD
from pextlab.workloads.fragger import fragger
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


# --- proactive compaction's pcp-like buffer (kernel/_pcp.pyx) against the Python it replaced
class _PcpBufferPython:
    """pcp.PcpBuffer as the Python it was before it was compiled."""

    def __init__(self, mm, zone, high=None):
        self.mm, self.zone = mm, zone
        self.batch = pcp.zone_batchsize(zone.managed_pages)
        self.high = pcp.pcp_high(mm, zone) if high is None else int(high)
        self.pages, self.count, self.max_count = deque(), 0, 0

    adds = 0                         # add() calls, over every buffer

    def add(self, pfn, order):
        _PcpBufferPython.adds += 1
        self.pages.append((pfn, order))
        self.count += 1 << order
        self.max_count = max(self.max_count, self.count)
        if self.count >= self.high:
            self.free_bulk(min(self.count, max(self.batch, pcp.PCP_BULK_MAX)))

    def free_bulk(self, nr):
        mm, pb = self.mm, self.mm.pageblock_order
        while nr > 0 and self.pages:
            pfn, order = self.pages.popleft()
            sec = mm.sections[pfn >> mm.section_shift]
            mt = sec.pageblock_mt[(pfn & mm.section_mask) >> pb]
            buddy.free_one_page(mm, self.zone, pfn, order, mt)
            self.count -= 1 << order
            nr -= 1 << order

    def drain(self):
        n = self.count
        self.free_bulk(n)
        return n


def _proactive_run(monkeypatch, buffer_class):
    # frag-s1 on 256 MiB: kcompactd's proactive compaction in /init's sleeps and the probe
    monkeypatch.setattr(compaction, "PcpBuffer", buffer_class)
    m = pextlab.boot("256M", cmdline="page_owner=on")
    m.run(fragger(seed=1, fill=0.75, probe=True, snapshots=False))
    return m


def test_the_compiled_pcp_buffer_frees_as_the_python_one(monkeypatch):
    _PcpBufferPython.adds = 0
    ref = _proactive_run(monkeypatch, _PcpBufferPython)
    assert _PcpBufferPython.adds > 1000                    # the buffer was used, and bulk-freed
    got = _proactive_run(monkeypatch, pcp.PcpBuffer)
    pd.testing.assert_frame_equal(got.df_buddyinfo(), ref.df_buddyinfo())
    pd.testing.assert_frame_equal(got.df_compaction_stats(), ref.df_compaction_stats())
    assert got.vmstat_compaction() == ref.vmstat_compaction()
    for a, b in zip(got.mm.sections, ref.mm.sections):
        if a is not None:
            assert (a.flags, a.order, a.pageblock_mt) == (b.flags, b.order, b.pageblock_mt)
    ra, rb = got.mm.page_owner.records, ref.mm.page_owner.records
    assert np.array_equal(ra.rows[:ra.n], rb.rows[:rb.n])
    assert check_invariants(got.mm) == []


def test_the_pcp_buffer_holds_until_high_and_drains():
    m = pextlab.boot("256M")
    mm = m.mm
    z = _normal_zone(mm)
    buf = pcp.PcpBuffer(mm, z, high=16)
    assert (buf.batch, buf.high, buf.bulk_max) == (pcp.zone_batchsize(z.managed_pages), 16,
                                                   pcp.PCP_BULK_MAX)
    blocks = [m.alloc_pages(1, "GFP_HIGHUSER_MOVABLE") for _ in range(10)]
    free0 = z.free_pages

    def give(p):                    # what compaction's source free does before add()
        mm.sections[p >> mm.section_shift].flags[p & mm.section_mask] = 0
        buf.add(p, 1)

    for p in blocks[:7]:
        give(p)
    assert (buf.count, len(buf), z.free_pages) == (14, 7, free0)       # held below high
    give(blocks[7])                                                     # 16 >= high: bulk
    assert (buf.count, len(buf), buf.max_count, z.free_pages) == (0, 0, 16, free0 + 16)
    for p in blocks[8:]:
        give(p)
    assert buf.drain() == 4 and buf.count == 0 and len(buf) == 0 and z.free_pages == free0 + 20
    assert check_invariants(mm) == []


def test_the_pcp_buffer_refuses_bad_input():
    m = pextlab.boot("64M")
    z = _normal_zone(m.mm)
    with pytest.raises(PextlabError, match="kernel state"):
        PcpBufferCore(None, z, 1, 1, 1)
    with pytest.raises(PextlabError, match="kernel state"):
        PcpBufferCore(m.mm, "DMA32", 1, 1, 1)
    with pytest.raises(PextlabError, match="batch"):
        PcpBufferCore(m.mm, z, 0, 1, 1)
    buf = pcp.PcpBuffer(m.mm, z)
    with pytest.raises(PextlabError, match="order -1"):
        buf.add(0x1000, -1)
    assert buf.count == 0 and len(buf) == 0
