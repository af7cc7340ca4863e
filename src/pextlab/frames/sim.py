"""DataFrames from the simulated kernel's state (``pextlab.kernel.state.MM``).

Every builder returns a frame of the schema of the same name in
``pextlab.schema`` (see there for the columns), built from the per-section
arrays with numpy -- no Python loop over pages.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel import memory_hotplug
from ..kernel.gfp import ZONE_NAMES, format_gfp
from ..kernel.mmzone import covered_by_free
from ..kernel.page_ext import PAGE_EXT_OWNER_ALLOCATED
from ..kernel.page_owner import (R_ORDER, R_GFP, R_HANDLE, R_TS, R_FREE_TS, R_PID, R_TGID,
                                 R_COMM, R_REASON, MIGRATE_REASONS)
from ..kernel.vmstat import fragmentation_index, unusable_index
from ..schema import conform, empty, top_frame_of
from ._pageblocks import gfp_migratetype_vec, section_mixed_blocks, zone_pageblocks

__all__ = ["df_zones", "df_sections", "df_memory_blocks", "df_page_ext", "df_buddyinfo",
           "df_pagetypeinfo", "df_pageblocks", "df_extfrag", "df_page_owner", "df_stacks",
           "df_meminfo", "df_vmstat", "mixed_block_counts"]


def _cat(values, categories=None):
    return pd.Categorical(values, categories=categories)


def df_zones(mm) -> pd.DataFrame:
    """Zones of every node, as /proc/zoneinfo lists them (empty zones included).

    ``free`` is NR_FREE_PAGES: the buddy lists, without pages on per-cpu lists."""
    rows = {k: [] for k in ("node", "zone", "zone_idx", "start_pfn", "end_pfn", "spanned",
                            "present", "managed", "free", "min", "low", "high", "cma")}
    for z in mm.all_zones():
        spanned = z.spanned_pages
        rows["node"].append(z.nid)
        rows["zone"].append(z.name)
        rows["zone_idx"].append(z.idx)
        rows["start_pfn"].append(z.zone_start_pfn if spanned else -1)
        rows["end_pfn"].append(z.zone_end_pfn if spanned else -1)
        rows["spanned"].append(spanned)
        rows["present"].append(z.present_pages)
        rows["managed"].append(z.managed_pages)
        rows["free"].append(z.free_pages)
        rows["min"].append(z.watermark["min"])
        rows["low"].append(z.watermark["low"])
        rows["high"].append(z.watermark["high"])
        rows["cma"].append(z.cma_pages)
    df = pd.DataFrame(rows)
    df["zone"] = _cat(df["zone"], ZONE_NAMES)
    return conform(df, "zones")


def df_sections(mm) -> pd.DataFrame:
    """Memory sections with RAM or a memmap (SPARSEMEM); empty under FLATMEM."""
    if mm.memory_model != "sparsemem":
        return empty("sections")
    secs = [s for s in mm.sections if s is not None]
    spb = mm.memory_block_size >> (mm.section_shift + 12)
    df = pd.DataFrame({
        "section": [s.nr for s in secs],
        "start_pfn": [s.start_pfn for s in secs],
        "node": [s.nid for s in secs],
        "present": [s.present for s in secs],
        "online": [s.online for s in secs],
        "nr_present_pages": [s.nr_present_pages for s in secs],
        "memory_block": [s.nr // spb for s in secs],
        "page_ext": [s.page_ext is not None for s in secs],
    })
    return conform(df, "sections")


def memory_block_state(mm, block: int):
    """(state, valid_zones, zone, nodes) of memory block ``block``, None if it has no
    present memory.  ``nodes`` are the nodes with memory in the block, ascending.
    Blocks touched by memory hotplug are described by their record, the others by
    the record drivers/base/memory.c registered at boot
    (``pextlab.kernel.memory_hotplug.boot_memory_block``): one zone, or "none" when
    they span zones or nodes."""
    rec = mm.hotplug_blocks.get(block) or memory_hotplug.boot_memory_block(mm, block)
    if rec is None:
        return None
    zone = rec["zone"].name if rec["state"] == "online" and rec["zone"] is not None else None
    return rec["state"], memory_hotplug.valid_zones(mm, block), zone, rec["nids"]


def df_memory_blocks(mm) -> pd.DataFrame:
    """/sys/devices/system/memory/memoryN for every block with present memory.

    ``node`` is the block's first node, ``nodes`` every node with memory in it
    ("0,1" for a block across a node boundary: sysfs links it under both)."""
    if mm.memory_model != "sparsemem":
        return empty("memory_blocks")
    spb = mm.memory_block_size >> (mm.section_shift + 12)
    nblocks = (mm.nr_sections + spb - 1) // spb
    rows = {k: [] for k in ("block", "phys_index", "start_pfn", "end_pfn", "state", "online",
                            "valid_zones", "zone", "node", "nodes", "removable")}
    pages = spb << mm.section_shift
    for b in range(nblocks):
        st = memory_block_state(mm, b)
        if st is None:
            continue
        state, valid, zone, nodes = st
        rows["block"].append(b)
        rows["phys_index"].append(b)      # phys_index_show: start_section_nr / sections_per_block
        rows["start_pfn"].append(b * pages)
        rows["end_pfn"].append((b + 1) * pages)
        rows["state"].append(state)
        rows["online"].append(state == "online")
        rows["valid_zones"].append(valid)
        rows["zone"].append(zone)
        rows["node"].append(nodes[0])
        rows["nodes"].append(",".join(str(n) for n in nodes))
        rows["removable"].append(True)
    df = pd.DataFrame(rows)
    df["zone"] = _cat(df["zone"], ZONE_NAMES)
    df["state"] = _cat(df["state"], ["online", "offline", "going-offline"])
    return conform(df, "memory_blocks")


def df_page_ext(mm) -> pd.DataFrame:
    """Every page_ext table: per section (SPARSEMEM) or per node (FLATMEM)."""
    pe = mm.page_ext
    if pe is None or not pe.tables:
        return empty("page_ext")
    ts = sorted(pe.tables.values(), key=lambda t: (t.section, t.nid, t.start_pfn))
    df = pd.DataFrame({
        "node": [t.nid for t in ts],
        "section": [t.section for t in ts],
        "start_pfn": [t.start_pfn for t in ts],
        "nr_pages": [t.nr_pages for t in ts],
        "bytes": [t.bytes for t in ts],
        "pages": [t.pages for t in ts],
        "via": _cat([t.via for t in ts], ["pages", "vmalloc", "memblock", "replayed"]),
        "table_pfn": [t.table_pfn for t in ts],
        "state": _cat([t.state for t in ts], ["online", "invalid"]),
    })
    return conform(df, "page_ext")


def df_buddyinfo(mm) -> pd.DataFrame:
    """/proc/buddyinfo in long form (populated zones only, as the kernel prints)."""
    zs = mm.populated_zones()
    n = mm.nr_orders
    df = pd.DataFrame({
        "node": np.repeat([z.nid for z in zs], n),
        "zone": _cat(np.repeat([z.name for z in zs], n), ZONE_NAMES),
        "order": np.tile(np.arange(n), len(zs)),
        "nr_free": np.concatenate([z.nr_free for z in zs]) if zs else [],
    })
    return conform(df, "buddyinfo")


def df_pagetypeinfo(mm) -> pd.DataFrame:
    """Free blocks per order per migratetype per zone (/proc/pagetypeinfo, first table)."""
    names = mm.profile.migratetype_names
    zs = mm.populated_zones()
    n, nm = mm.nr_orders, len(names)
    counts = [[len(z.free_area[o][mt]) for o in range(n)] for z in zs for mt in range(nm)]
    df = pd.DataFrame({
        "node": np.repeat([z.nid for z in zs], nm * n),
        "zone": _cat(np.repeat([z.name for z in zs], nm * n), ZONE_NAMES),
        "migratetype": _cat(np.tile(np.repeat(names, n), len(zs)), list(names)),
        "order": np.tile(np.arange(n), len(zs) * nm),
        "nr_free": np.array(counts, dtype=np.int64).reshape(-1) if counts else [],
        "capped": False,
    })
    return conform(df, "pagetypeinfo")


def mixed_block_counts(mm, z) -> np.ndarray:
    """pagetypeinfo_showmixedcount_print for one zone (mm/page_owner.c): per
    migratetype, the blocks of the zone that hold a page allocated with another
    migratetype (``section_mixed_blocks``), each counted once under its own type,
    CMA under Movable."""
    prof = mm.profile
    counts = np.zeros(prof.nr_migratetypes, dtype=np.int64)
    if mm.page_owner is None:
        return counts
    starts, mts = zone_pageblocks(mm, z)
    secnr = starts >> mm.section_shift
    for nr in np.unique(secnr[mts >= 0]).tolist():
        sec = mm.sections[nr]
        if sec.page_ext is None:
            continue
        lo = max(z.zone_start_pfn, sec.start_pfn) - sec.start_pfn
        hi = min(z.zone_end_pfn, sec.start_pfn + mm.pages_per_section) - sec.start_pfn
        mixed = section_mixed_blocks(mm, sec, lo, hi)
        sel = (secnr == nr) & (mts >= 0)
        local = (starts[sel] & mm.section_mask) >> mm.pageblock_order
        bmt = mts[sel][mixed[local] == 1].astype(np.int64)
        bmt[bmt == prof.mt_cma] = prof.mt_movable
        np.add.at(counts, bmt, 1)
    return counts


def df_pageblocks(mm) -> pd.DataFrame:
    """Pageblocks per migratetype per zone, and mixed blocks (page_owner on only).

    Building the frame changes nothing: pages on per-cpu lists (pextlab.pcp=on) are
    neither free buddy pages nor owned, as in the kernel before a drain.  Reading
    /proc/pagetypeinfo drains them first (pagetypeinfo_showmixedcount calls
    drain_all_pages, mm/vmstat.c): ``Machine.proc("pagetypeinfo")`` does that.
    """
    names = mm.profile.migratetype_names
    nm = len(names)
    show_mixed = mm.page_owner is not None
    zs = mm.populated_zones()
    nb, nmix = [], []
    for z in zs:
        _, mts = zone_pageblocks(mm, z)
        mts = mts[mts >= 0]
        nb.append(np.bincount(mts, minlength=nm)[:nm])
        nmix.append(mixed_block_counts(mm, z) if show_mixed else np.full(nm, -1))
    df = pd.DataFrame({
        "node": np.repeat([z.nid for z in zs], nm),
        "zone": _cat(np.repeat([z.name for z in zs], nm), ZONE_NAMES),
        "migratetype": _cat(np.tile(names, len(zs)), list(names)),
        "nr_blocks": np.concatenate(nb) if nb else [],
        "nr_mixed": np.concatenate(nmix) if nmix else [],
    })
    return conform(df, "pageblocks")


def df_extfrag(mm) -> pd.DataFrame:
    """unusable_index and extfrag_index per zone and order (mm/vmstat.c, integer math)."""
    zs = mm.populated_zones()
    n = mm.nr_orders
    un, ex = [], []
    for z in zs:
        for o in range(n):
            un.append(unusable_index(z.nr_free, o) / 1000)
            ex.append(fragmentation_index(z.nr_free, o) / 1000)
    df = pd.DataFrame({
        "node": np.repeat([z.nid for z in zs], n),
        "zone": _cat(np.repeat([z.name for z in zs], n), ZONE_NAMES),
        "order": np.tile(np.arange(n), len(zs)),
        "unusable_index": un,
        "extfrag_index": ex,
    })
    return conform(df, "extfrag")


# the record fields df_page_owner shows, each gathered straight into its column's dtype
_OWNER_FIELDS = {R_ORDER: np.int8, R_GFP: np.int64, R_HANDLE: np.int64, R_TS: np.int64,
                 R_FREE_TS: np.int64, R_PID: np.int32, R_TGID: np.int32, R_REASON: np.int8}


def _owner_heads(mm, start_pfn: int = 0, end_pfn: int | None = None):
    """(pfns, {field: values}) of the heads the page_owner read prints: OWNER_ALLOCATED
    set, not inside a free buddy block, aligned to the record's order, non-zero stack
    handle; heads in [start_pfn, end_pfn) only.  pfns come out sorted; the fields are
    those of ``_OWNER_FIELDS`` and the comm id (in the smallest code dtype for
    ``records.comms``)."""
    po = mm.page_owner
    hi = mm.max_section_pfn if end_pfn is None else end_pfn
    out_pfn, out_row = [], []
    for sec in mm.sections:
        if sec is None or not sec.present or sec.page_ext is None:
            continue
        sec_end = sec.start_pfn + len(sec.flags)
        if sec_end <= start_pfn or sec.start_pfn >= hi:
            continue
        t = sec.page_ext
        owner = t.owner_if_written()
        if owner is None or t.state != "online":
            continue
        # the read skips PageBuddy blocks (their pages keep stale records)
        live = (t.flags & PAGE_EXT_OWNER_ALLOCATED) != 0
        if not live.any():
            continue
        live &= ~covered_by_free(sec.flags_np(), sec.order_np())
        idx = np.flatnonzero(live)
        if sec.start_pfn < start_pfn or sec_end > hi:
            p = sec.start_pfn + idx
            idx = idx[(p >= start_pfn) & (p < hi)]
        rows = owner[idx]
        keep = rows >= 0
        out_pfn.append(sec.start_pfn + idx[keep])
        out_row.append(rows[keep])
    recs = po.records
    pfn = np.concatenate(out_pfn) if out_pfn else np.zeros(0, np.int64)
    rows = np.concatenate(out_row).astype(np.int64) if out_row else np.zeros(0, np.int64)
    fields = dict(_OWNER_FIELDS)
    fields[R_COMM] = np.int8 if len(recs.comms) < 127 else np.int32
    f = recs.fields(rows, fields)
    del rows
    # heads only: a pfn aligned to its record's order (higher orders only can fail)
    hi = np.flatnonzero(f[R_ORDER] != 0)
    bad = np.zeros(len(pfn), dtype=bool) if len(hi) else None
    if len(hi):
        bad[hi] = (pfn[hi] & ((np.int64(1) << f[R_ORDER][hi].astype(np.int64)) - 1)) != 0
    nohandle = f[R_HANDLE] == 0
    if nohandle.any():
        bad = nohandle if bad is None else bad | nohandle
    del nohandle
    if bad is not None and bad.any():
        sel = ~bad
        pfn = pfn[sel]
        f = {k: v[sel] for k, v in f.items()}
    return pfn, f


def _codes_dtype(n: int):
    """The dtype pandas keeps the codes of a categorical with ``n`` categories in."""
    return np.int8 if n < 127 else np.int16 if n < 32767 else np.int32


def _factorize_small(values: np.ndarray, bound: int):
    """(codes, sorted uniques) of non-negative ints below ``bound`` (stack handles),
    counted rather than hashed: pd.factorize(values, sort=True) in its result."""
    present = np.bincount(values, minlength=bound) > 0
    uniq = np.flatnonzero(present)
    lut = (np.cumsum(present) - 1).astype(_codes_dtype(len(uniq)))
    return lut[values], uniq


def df_page_owner(mm, start_pfn: int = 0, end_pfn: int | None = None) -> pd.DataFrame:
    """One row per allocated block, as /sys/kernel/debug/page_owner prints them (blocks
    whose head lies in [start_pfn, end_pfn) only, as the file read from an offset does).

    Built from the record table: each record is read once (``OwnerRecords.fields``),
    categorical columns come from codes per unique value (stack handles counted,
    gfp masks hashed once), pageblock types and zones per section slice."""
    po = mm.page_owner
    if po is None:
        return empty("page_owner")
    prof = mm.profile
    pfn, f = _owner_heads(mm, start_pfn, end_pfn)
    n = len(pfn)
    order, gfp, handle = f[R_ORDER], f[R_GFP], f[R_HANDLE]
    names = prof.migratetype_names
    # gfp: codes per unique mask; the page's migratetype is a property of the mask
    ginv, ug = pd.factorize(gfp, sort=True)
    gcodes = ginv.astype(_codes_dtype(len(ug)))
    del ginv
    gfp_names = [format_gfp(int(g), prof) for g in ug]
    ug_mt = gfp_migratetype_vec(np.asarray(ug, dtype=np.int64), prof, mm.mobility_grouping)
    page_mt = ug_mt.astype(np.int8)[gcodes] if n else np.zeros(0, np.int8)
    # pageblock types and zones, per section: pfns are sorted, so each section's
    # rows are one slice, never a mask over all rows
    pbo = mm.pageblock_order
    secnr = pfn >> mm.section_shift
    pb_mt = np.zeros(n, dtype=np.int8)
    node = np.zeros(n, dtype=np.int16)
    zone_idx = np.zeros(n, dtype=np.int8)
    starts = np.flatnonzero(np.diff(secnr) != 0) + 1 if n else np.zeros(0, np.int64)
    bounds = np.concatenate(([0], starts, [n])) if n else np.zeros(1, np.int64)
    for i in range(len(bounds) - 1):
        a, b = int(bounds[i]), int(bounds[i + 1])
        nr = int(secnr[a])
        sec = mm.sections[nr]
        p = pfn[a:b]
        pb_mt[a:b] = sec.pageblock_np()[(p & mm.section_mask) >> pbo]
        node[a:b] = sec.nid
        z = mm.section_zone[nr]
        if z is not None:
            zone_idx[a:b] = z.idx
        else:
            # a section shared by zones, or by nodes (node boundary inside it)
            for zz in (zz for nid in sec.nids for zz in mm.nodes[nid].zones):
                if zz.spanned_pages:
                    inz = (p >= zz.zone_start_pfn) & (p < zz.zone_end_pfn)
                    zone_idx[a:b][inz] = zz.idx
                    node[a:b][inz] = zz.nid
    # stacks: handles are small depot indices, so counted, not hashed
    hcodes, uh = _factorize_small(handle, len(po.depot.stacks))
    stacks = [po.depot.text(int(h)) for h in uh]
    tops = [top_frame_of(list(po.depot.fetch(int(h)))) for h in uh]
    comms = po.records.comms
    spb = mm.memory_block_size >> (mm.section_shift + 12)
    free_ts = f[R_FREE_TS]
    free_ts[free_ts <= 0] = -1
    df = pd.DataFrame({
        "pfn": pfn,
        "order": order,
        "nr_pages": np.left_shift(np.int64(1), order, dtype=np.int64),
        "gfp_mask": gfp,
        "gfp": _codes_cat(gcodes, gfp_names),
        "migratetype": pd.Categorical.from_codes(page_mt, list(names)),
        "pageblock": pfn >> pbo,
        "pageblock_migratetype": pd.Categorical.from_codes(pb_mt, list(names)),
        "mixed": page_mt != pb_mt,
        "node": node,
        "zone": pd.Categorical.from_codes(zone_idx, list(ZONE_NAMES)),
        "section": secnr,
        "memory_block": secnr // spb,
        "stack_handle": handle,
        "stack": _codes_cat(hcodes, stacks),
        "top_frame": _codes_cat(hcodes, tops),
        "pid": f[R_PID],
        "tgid": f[R_TGID],
        "comm": pd.Categorical.from_codes(f[R_COMM], comms) if n else _cat([]),
        "ts_ns": f[R_TS],
        "free_ts_ns": free_ts,
        "last_migrate_reason": pd.Categorical.from_codes(f[R_REASON], list(MIGRATE_REASONS)),
    }, copy=False)
    return conform(df, "page_owner")          # pfns are already in order


def _uniq_cats(names):
    seen = {}
    for n in names:
        seen.setdefault(n, len(seen))
    return list(seen)


def _codes_cat(codes, labels):
    """Categorical from per-unique codes whose labels may repeat (e.g. top frames)."""
    cats = _uniq_cats(labels)
    if len(cats) == len(labels):            # no label repeats: the codes are already right
        return pd.Categorical.from_codes(codes, cats)
    pos = {c: i for i, c in enumerate(cats)}
    remap = np.array([pos[l] for l in labels], dtype=_codes_dtype(len(cats)))
    return pd.Categorical.from_codes(remap[codes] if len(codes) else codes, cats)


def df_stacks(mm, threshold: int = 0) -> pd.DataFrame:
    """page_owner_stacks/show_stacks: outstanding base pages per stack (v6.9+ order:
    newest stack first), hiding entries below 1 or ``threshold``."""
    po = mm.page_owner
    if po is None or not mm.profile.has_show_stacks:
        return empty("stacks")
    counts = po.stack_counts()
    hs = [h for h in reversed(list(counts)) if counts[h] >= 1 and counts[h] >= threshold]
    frames = [po.depot.fetch(h) for h in hs]
    df = pd.DataFrame({
        "stack_handle": hs,
        "stack": _cat(["\n".join(f) for f in frames]),
        "top_frame": _cat([top_frame_of(list(f)) for f in frames]),
        "depth": [len(f) for f in frames],
        "nr_base_pages": [counts[h] for h in hs],
    })
    return conform(df, "stacks")


def df_meminfo(mm) -> pd.DataFrame:
    """/proc/meminfo, the fields the model keeps (fs/proc/meminfo.c meminfo_proc_show):
    MemTotal (totalram_pages), MemFree (NR_FREE_PAGES: the buddy lists; pages on
    per-cpu lists are not free there either), the HugePages_* lines of the default
    hstate, Hugepagesize, Hugetlb, CmaTotal and CmaFree.  Fields the model has no
    counter for (Cached, Slab, MemAvailable...) are absent, not invented."""
    prof = mm.profile
    pool = mm.hugetlb
    kb = 1 << (prof.pageblock_order + 2)       # HPAGE_PMD_SIZE in kB: 2048 on x86-64
    cma_total = sum(a.count for a in mm.cma_areas)           # totalcma_pages
    cma_free = sum(z.free_mt[prof.mt_cma] for z in mm.all_zones())
    free = sum(z.free_pages for z in mm.all_zones())
    nr_huge = pool.nr_hugepages
    rows = [("MemTotal", mm.totalram_pages * 4, "kB"), ("MemFree", free * 4, "kB"),
            ("CmaTotal", cma_total * 4, "kB"), ("CmaFree", cma_free * 4, "kB"),
            ("HugePages_Total", nr_huge, ""), ("HugePages_Free", nr_huge, ""),
            ("HugePages_Rsvd", 0, ""), ("HugePages_Surp", 0, ""),
            ("Hugepagesize", kb, "kB"), ("Hugetlb", nr_huge * kb, "kB")]
    df = pd.DataFrame(rows, columns=["field", "value", "unit"])
    return conform(df, "meminfo")


def df_vmstat(mm) -> pd.DataFrame:
    """/proc/vmstat, the counters the model keeps (mm/vmstat.c vmstat_show):
    nr_free_pages, nr_free_cma, then every vm event the simulator has counted
    (compaction, migration, fallback, kswapd...), in name order."""
    cma = mm.profile.mt_cma
    rows = [("nr_free_pages", sum(z.free_pages for z in mm.all_zones())),
            ("nr_free_cma", sum(z.free_mt[cma] for z in mm.all_zones()))]
    rows += sorted(mm.vm_events.items())
    df = pd.DataFrame(rows, columns=["field", "value"])
    return conform(df, "vmstat")
