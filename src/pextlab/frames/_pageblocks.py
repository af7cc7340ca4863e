"""Per-pageblock facts shared by the pageblock frames (``df_pageblocks``,
``df_pageblock_map``, ``df_fragmentation``, ``df_page_owner``'s ``mixed``
column): one implementation of the kernel's rules, vectorised per section.
"""
from __future__ import annotations

import numpy as np

from ..kernel.mmzone import PG_RESERVED, covered_by_free
from ..kernel.page_ext import PAGE_EXT_OWNER_ALLOCATED
from ..kernel.page_owner import REC_FIELDS

__all__ = ["gfp_migratetype_vec", "pfns_in_zone", "section_mixed_blocks", "zone_pageblocks"]

_GFP = REC_FIELDS.index("gfp")


def gfp_migratetype_vec(gfp: np.ndarray, prof, mobility_grouping: bool = True) -> np.ndarray:
    """include/linux/gfp.h gfp_migratetype() over an array of masks: Unmovable for
    every mask while grouping by mobility is off (page_group_by_mobility_disabled)."""
    if not mobility_grouping:
        return np.full(len(gfp), prof.mt_unmovable, dtype=np.int64)
    mov = prof.gfp_bits["__GFP_MOVABLE"]
    rec = prof.gfp_bits["__GFP_RECLAIMABLE"]
    gfp = np.asarray(gfp, dtype=np.int64)
    if prof.gfp_movable_shift:
        return (gfp & (mov | rec)) >> prof.gfp_movable_shift
    return (((gfp & mov) != 0).astype(np.int64) << 1) | ((gfp & rec) != 0).astype(np.int64)


def pfns_in_zone(mm, zone, sec, pfns: np.ndarray) -> np.ndarray:
    """``page_zone(pfn_to_page(pfn)) == zone`` for pfns of one online section holding
    memory of the zone's node: the section's zone, or (a section shared by zones, as at
    the DMA/DMA32 boundary or after hotplug made zone spans overlap, or by nodes) the
    first zone of the section's nodes whose span holds the pfn (``MM.zone_of_pfn``)."""
    owner = mm.section_zone[sec.nr]
    if owner is not None:
        return np.full(len(pfns), owner is zone)
    owner_ix = np.full(len(pfns), -1, dtype=np.int64)
    mine = -2
    for k, z in enumerate(z for nid in sec.nids for z in mm.nodes[nid].zones):
        if z.spanned_pages:
            owner_ix[(owner_ix < 0) & (pfns >= z.zone_start_pfn) & (pfns < z.zone_end_pfn)] = k
            if z is zone:
                mine = k
    return owner_ix == mine


def zone_pageblocks(mm, zone):
    """The pageblocks /proc/pagetypeinfo counts for ``zone``
    (pagetypeinfo_showblockcount_print, mm/vmstat.c): walking the zone span in
    pageblock steps, a block counts when pfn_to_online_page() finds its first page
    and page_zone() of it is the zone.  Returns (start pfns, migratetypes), the
    type -1 for blocks the kernel skips."""
    pb = mm.profile.pageblock_nr_pages
    starts = np.arange(zone.zone_start_pfn, zone.zone_end_pfn, pb, dtype=np.int64)
    mts = np.full(len(starts), -1, dtype=np.int16)
    secnr = starts >> mm.section_shift
    present, first = np.unique(secnr, return_index=True)
    bounds = np.append(first, len(starts))
    for i, nr in enumerate(present.tolist()):
        sec = mm.sections[nr] if nr < mm.nr_sections else None
        if sec is None or not sec.present or not sec.online or zone.nid not in sec.nids:
            continue
        a, b = int(bounds[i]), int(bounds[i + 1])
        rows = a + np.flatnonzero(pfns_in_zone(mm, zone, sec, starts[a:b]))
        mts[rows] = sec.pageblock_np()[(starts[rows] & mm.section_mask) >> mm.pageblock_order]
    return starts, mts


def section_mixed_blocks(mm, sec, lo: int, hi: int) -> np.ndarray:
    """Per pageblock of a section: 1 when an allocated page of it in ``[lo, hi)``
    (section offsets: the zone's part) was allocated with another migratetype than
    the block's, else 0 -- pagetypeinfo_showmixedcount_print's test (mm/page_owner.c):
    pages that are not in a free buddy block, not reserved, and have
    PAGE_EXT_OWNER_ALLOCATED set, compared by gfp_migratetype of their page_owner
    gfp mask."""
    pbo = mm.pageblock_order
    pb_mt = sec.pageblock_np()
    out = np.zeros(len(pb_mt), dtype=np.int8)
    fl, od, ext = sec.flags_np(), sec.order_np(), sec.page_ext
    owner = ext.owner_if_written()
    if owner is None:
        return out                      # no record was ever stored in this section
    ok = (~covered_by_free(fl, od) & ((fl & PG_RESERVED) == 0)
          & ((ext.flags & PAGE_EXT_OWNER_ALLOCATED) != 0))
    ok[:lo] = False
    ok[hi:] = False
    idx = np.flatnonzero(ok)
    rows = owner[idx]
    idx, rows = idx[rows >= 0], rows[rows >= 0]
    if not len(idx):
        return out
    page_mt = gfp_migratetype_vec(mm.page_owner.records.column(rows, _GFP), mm.profile,
                                  mm.mobility_grouping)
    blk = idx >> pbo
    out[np.unique(blk[page_mt != pb_mt[blk]])] = 1
    return out
