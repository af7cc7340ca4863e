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


# the record fields df_page_owner shows: {field: (column, dtype)}, each gathered
# straight into its column (the comm codes get their dtype per machine)
_OWNER_FIELDS = {R_ORDER: ("order", np.int8), R_GFP: ("gfp_mask", np.int64),
                 R_HANDLE: ("stack_handle", np.int64), R_TS: ("ts_ns", np.int64),
                 R_FREE_TS: ("free_ts_ns", np.int64), R_PID: ("pid", np.int32),
                 R_TGID: ("tgid", np.int32), R_REASON: ("reason", np.int8)}
# the columns filled a section at a time besides the record fields (codes of the
# categorical ones: pageblock migratetype, zone index, gfp code per unique mask)
_SECTION_COLUMNS = {"pfn": np.int64, "nr_pages": np.int64, "pageblock": np.int64,
                    "pb_mt": np.int8, "node": np.int16, "zone": np.int8, "section": np.int64,
                    "memory_block": np.int64}


def _owner_tables(mm, start_pfn: int, end_pfn: int):
    """(section nr, section, owner array) of every online page_ext table holding
    records whose section meets [start_pfn, end_pfn), ascending."""
    for nr, sec in enumerate(mm.sections):
        if sec is None or not sec.present or sec.page_ext is None:
            continue
        if sec.start_pfn + len(sec.flags) <= start_pfn or sec.start_pfn >= end_pfn:
            continue
        t = sec.page_ext
        owner = t.owner_if_written()
        if owner is not None and t.state == "online":
            yield nr, sec, owner


def _allocated(sec) -> np.ndarray:
    """Mask of the pages of ``sec`` whose page_ext has OWNER_ALLOCATED set."""
    return (sec.page_ext.flags & PAGE_EXT_OWNER_ALLOCATED) != 0


def _owner_candidates(sec, owner, start_pfn: int, end_pfn: int):
    """(offsets, record rows) in ``sec`` of the pages with OWNER_ALLOCATED set,
    outside free buddy blocks, with a record, in [start_pfn, end_pfn): the heads the
    page_owner read prints, before the checks that need the record (its order and
    stack handle, ``_keep_heads``).  Offsets ascend."""
    live = _allocated(sec)
    if not live.any():
        return np.zeros(0, np.int64), owner[:0]
    # the read skips PageBuddy blocks (their pages keep stale records)
    live &= ~covered_by_free(sec.flags_np(), sec.order_np())
    idx = np.flatnonzero(live)
    if sec.start_pfn < start_pfn or sec.start_pfn + len(sec.flags) > end_pfn:
        p = sec.start_pfn + idx
        idx = idx[(p >= start_pfn) & (p < end_pfn)]
    rows = owner[idx]
    keep = rows >= 0
    if not keep.all():
        idx, rows = idx[keep], rows[keep]
    return idx, rows


def _keep_heads(pfn: np.ndarray, order: np.ndarray, handle: np.ndarray):
    """Mask of the rows the page_owner read prints (read_page_owner, mm/page_owner.c):
    a pfn aligned to its record's order (only higher orders can fail: a tail page of
    a block) with a stack handle; None when every row passes (the usual case)."""
    bad = handle == 0
    hi = np.flatnonzero(order)
    if len(hi):
        bad[hi] |= (pfn[hi] & ((np.int64(1) << order[hi].astype(np.int64)) - 1)) != 0
    return ~bad if bad.any() else None


class _GfpCodes:
    """pd.factorize(masks, sort=True) of the gfp column, filled a section slice at a
    time while the slice is in cache: masks are few, and most slices hold one mask
    (an equality test), the others are hashed alone; uniques are numbered by first
    appearance and renumbered in sorted order once, at the end (``finish``)."""

    def __init__(self, n: int):
        self.codes = np.empty(n, dtype=np.int8)
        self.ids: dict[int, int] = {}

    def _id(self, mask: int) -> int:
        i = self.ids.setdefault(mask, len(self.ids))
        if i == 127 and self.codes.dtype == np.int8:      # more masks than int8 codes hold
            self.codes = self.codes.astype(np.int32)
        return i

    def add(self, sl: slice, masks: np.ndarray) -> None:
        if masks[0] == masks[-1] and (masks == masks[0]).all():
            self.codes[sl] = self._id(int(masks[0]))
            return
        local, uniq = pd.factorize(masks)
        ids = np.array([self._id(u) for u in uniq.tolist()], dtype=self.codes.dtype)
        self.codes[sl] = ids[local]

    def finish(self, n: int):
        """(codes of the first ``n`` rows into the sorted uniques, sorted uniques)."""
        uniq = np.fromiter(self.ids, dtype=np.int64, count=len(self.ids))
        by = np.argsort(uniq, kind="stable")
        codes = self.codes[:n]
        if (by != np.arange(len(by))).any():
            rank = np.empty(len(by), dtype=codes.dtype)
            rank[by] = np.arange(len(by))
            codes = rank[codes]
        return codes.astype(_codes_dtype(len(uniq)), copy=False), uniq[by]


def _fill_section(mm, cols: dict, gfp: _GfpCodes, recs, pos: int, nr: int, idx, rows) -> int:
    """Write the rows of section ``nr``'s heads from ``pos`` on into ``cols``; return
    how many were written (the candidates ``_keep_heads`` keeps)."""
    sec = mm.sections[nr]
    k = len(idx)
    sl = slice(pos, pos + k)
    recs.fields_into(rows, {f: cols[name][sl] for f, (name, _) in _OWNER_FIELDS.items()}
                     | {R_COMM: cols["comm"][sl]})
    pfn = cols["pfn"][sl]
    np.add(idx, sec.start_pfn, out=pfn)
    keep = _keep_heads(pfn, cols["order"][sl], cols["stack_handle"][sl])
    if keep is not None:
        idx = idx[keep]
        k = len(idx)
        for name in (*(name for name, _ in _OWNER_FIELDS.values()), "comm", "pfn"):
            c = cols[name]
            c[pos:pos + k] = c[sl][keep]
        sl = slice(pos, pos + k)
        pfn = cols["pfn"][sl]
    if not k:
        return 0
    np.left_shift(np.int64(1), cols["order"][sl], out=cols["nr_pages"][sl], dtype=np.int64)
    pbo = mm.pageblock_order
    np.right_shift(pfn, pbo, out=cols["pageblock"][sl])
    cols["pb_mt"][sl] = sec.pageblock_np()[idx >> pbo]
    cols["section"][sl] = nr
    cols["memory_block"][sl] = nr // (mm.memory_block_size >> (mm.section_shift + 12))
    node, zone = cols["node"][sl], cols["zone"][sl]
    node[:] = sec.nid
    z = mm.section_zone[nr]
    if z is not None:
        zone[:] = z.idx
    else:
        # a section shared by zones, or by nodes (node boundary inside it)
        zone[:] = 0
        for zz in (zz for nid in sec.nids for zz in mm.nodes[nid].zones):
            if zz.spanned_pages:
                inz = (pfn >= zz.zone_start_pfn) & (pfn < zz.zone_end_pfn)
                zone[inz] = zz.idx
                node[inz] = zz.nid
    fts = cols["free_ts_ns"][sl]
    fts[fts <= 0] = -1                      # never freed
    gfp.add(sl, cols["gfp_mask"][sl])
    return k


def _owner_columns(mm, start_pfn: int, end_pfn: int):
    """The per-row columns of df_page_owner, filled a section at a time (every record
    read once, each section's slice of every column written while it is in cache, no
    whole-frame temporaries), and the gfp codes and sorted masks.

    The columns are allocated for every OWNER_ALLOCATED page of the tables read, a
    bound on the rows (tail pages of higher-order blocks and stale records in free
    blocks count too); past the rows kept, at most one section's candidates are
    written, so the bound costs address space, not memory."""
    recs = mm.page_owner.records
    tables = list(_owner_tables(mm, start_pfn, end_pfn))
    bound = sum(int(np.count_nonzero(_allocated(sec))) for _, sec, _ in tables)
    comm_dtype = np.int8 if len(recs.comms) < 127 else np.int32
    cols = {name: np.empty(bound, dtype=dt) for name, dt in _OWNER_FIELDS.values()}
    cols["comm"] = np.empty(bound, dtype=comm_dtype)
    cols |= {name: np.empty(bound, dtype=dt) for name, dt in _SECTION_COLUMNS.items()}
    gfp = _GfpCodes(bound)
    n = 0
    for nr, sec, owner in tables:
        idx, rows = _owner_candidates(sec, owner, start_pfn, end_pfn)
        if len(idx):
            n += _fill_section(mm, cols, gfp, recs, n, nr, idx, rows)
    cols = {name: c[:n] for name, c in cols.items()}
    gcodes, ug = gfp.finish(n)
    return cols, gcodes, ug


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

    Built from the record table in one pass over the sections (``_owner_columns``);
    categorical columns come from codes per unique value (stack handles counted, gfp
    masks per slice), so no column is re-cast or copied on the way to the frame."""
    po = mm.page_owner
    if po is None:
        return empty("page_owner")
    prof = mm.profile
    hi = mm.max_section_pfn if end_pfn is None else end_pfn
    c, gcodes, ug = _owner_columns(mm, start_pfn, hi)
    n = len(c["pfn"])
    names = list(prof.migratetype_names)
    # the page's migratetype is a property of its gfp mask
    gfp_names = [format_gfp(int(g), prof) for g in ug]
    ug_mt = gfp_migratetype_vec(ug, prof, mm.mobility_grouping).astype(np.int8)
    page_mt = ug_mt[gcodes] if n else np.zeros(0, np.int8)
    # stacks: handles are small depot indices, so counted, not hashed
    hcodes, uh = _factorize_small(c["stack_handle"], len(po.depot.stacks))
    stacks = [po.depot.text(int(h)) for h in uh]
    tops = [top_frame_of(list(po.depot.fetch(int(h)))) for h in uh]
    df = pd.DataFrame({
        "pfn": c["pfn"],
        "order": c["order"],
        "nr_pages": c["nr_pages"],
        "gfp_mask": c["gfp_mask"],
        "gfp": _codes_cat(gcodes, gfp_names),
        "migratetype": pd.Categorical.from_codes(page_mt, names),
        "pageblock": c["pageblock"],
        "pageblock_migratetype": pd.Categorical.from_codes(c["pb_mt"], names),
        "mixed": page_mt != c["pb_mt"],
        "node": c["node"],
        "zone": pd.Categorical.from_codes(c["zone"], list(ZONE_NAMES)),
        "section": c["section"],
        "memory_block": c["memory_block"],
        "stack_handle": c["stack_handle"],
        "stack": _codes_cat(hcodes, stacks),
        "top_frame": _codes_cat(hcodes, tops),
        "pid": c["pid"],
        "tgid": c["tgid"],
        "comm": pd.Categorical.from_codes(c["comm"], po.records.comms) if n else _cat([]),
        "ts_ns": c["ts_ns"],
        "free_ts_ns": c["free_ts_ns"],
        "last_migrate_reason": pd.Categorical.from_codes(c["reason"], list(MIGRATE_REASONS)),
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
