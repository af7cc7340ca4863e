"""``pextlab.replay(cap)``: a simulated machine in the state a real capture shows.

Steps:

1. boot the capture's layout and command line (memblock reservations, zones,
   watermarks and page_ext tables as the simulator's boot makes them);
2. forget every page the simulated boot allocated from the buddy allocator
   (early kernel allocations and the page_ext tables' pages: on the real
   machine those pages are in the dump as "early allocated" records, at their
   real pfns; the simulator keeps the tables' contents and marks their place
   ``via="replayed"``);
3. set pageblock migratetypes: Movable for every block (as memmap_init does),
   then the type the dump prints for every block that holds an allocation
   ("Block N type T");
4. place every allocated block of the dump at its pfn with its owner record
   (order, gfp, stack, pid, tgid, comm, ts, migrate reason);
5. release every other RAM page to the buddy allocator (maximal aligned
   blocks, merged as __free_one_page merges them).

``Machine.replay.report`` (also ``Machine.replay_report``) then compares the replayed state with the captured
/proc files: free blocks per order (buddyinfo), free pages per zone (zoneinfo),
pageblocks and mixed blocks per type (pagetypeinfo) -- one row per
(node, zone, what, key) with real, replayed and difference.  Dump blocks that
land on pages the simulator reserved (its memblock placement differs a little
from the real one) are counted in ``replay_conflicts``.

Not replayed: per-cpu page lists (pages there are free on the real machine but
not in buddyinfo), and the exact location of reserved memory.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import PextlabError
from .kernel import page_alloc
from .kernel.fastpath import free_pages_memory
from .kernel.mmzone import MT_SHIFT, PG_HEAD, PG_HOLE, PG_RESERVED
from .kernel.page_owner import (MIGRATE_REASONS, R_ORDER, R_GFP, R_HANDLE, R_TS,
                                 R_FREE_TS, R_PID, R_TGID, R_COMM, R_FREE_PID, R_FREE_TGID,
                                 R_REASON)
from .capture import Capture, read_capture
from .machine import Machine, ReplayInfo, boot

__all__ = ["replay", "compare_with_capture"]


def _reset_allocator(mm) -> None:
    """Empty the buddy allocator and drop every buddy allocation (keep reservations)."""
    for z in mm.all_zones():
        for area in z.free_area:
            for d in area:
                d.clear()
        z.nr_free = [0] * mm.nr_orders
        z.free_pages = 0
        z.free_mt = [0] * len(z.free_mt)
        if z.pcp is not None:              # the per-cpu lists go with the buddy allocator
            for lst in z.pcp.lists:
                lst.clear()
            z.pcp.count = z.pcp.free_count = z.pcp.alloc_factor = 0
            z.pcp.prev_high_order = False
    for sec in mm.sections:
        if sec is None or not sec.present:
            continue
        fl = sec.flags_np()
        fl &= (PG_RESERVED | PG_HOLE)
        sec.order_np()[:] = 0
        t = sec.page_ext
        if t is not None:
            t.flags[:] = 0
            if t.owner_if_written() is not None:
                t.owner[:] = -1
    mm.nr_guard_pages = 0
    pe = mm.page_ext
    if pe is not None:
        for t in pe.tables.values():
            if t.via in ("pages", "vmalloc"):
                t.via = "replayed"
                t.table_pfn = -1
                t.vmalloc_pfns = []
    po = mm.page_owner
    if po is not None:
        po.reset_records()


def replay(cap, *, profile="v6.12") -> Machine:
    """Boot ``cap``'s machine and put it in the state of its page_owner dump.

    Parameters
    ----------
    cap : Capture or path
        A capture with iomem, dmesg, cmdline and page_owner (buddyinfo,
        zoneinfo, pagetypeinfo for the comparison).

    Returns
    -------
    Machine
        With ``replay`` (:class:`pextlab.machine.ReplayInfo`): ``report`` (DataFrame,
        see ``compare_with_capture``), ``conflicts`` (blocks of the dump that could not
        be placed) and ``unreserved``.
    """
    if not isinstance(cap, Capture):
        cap = read_capture(cap)
    if not cap.has("page_owner"):
        raise PextlabError(f"capture {cap.folder} has no page_owner dump to replay")
    dump = cap.df_page_owner()
    m = boot(layout=cap.layout, cmdline=cap.cmdline, profile=profile)
    mm = m.mm
    if mm.page_owner is None:
        raise PextlabError("the capture's cmdline does not enable page_owner; nothing to replay into")
    prof = mm.profile
    _reset_allocator(mm)
    names = list(prof.migratetype_names)
    pbo = prof.pageblock_order
    # 3. pageblock types from the dump
    pb = dump["pageblock"].to_numpy()
    pbt = dump["pageblock_migratetype"].astype(str).map({n: i for i, n in enumerate(names)})
    pbt = pbt.fillna(prof.mt_movable).astype(np.int64).to_numpy()
    pfn = dump["pfn"].to_numpy().astype(np.int64)
    order = dump["order"].to_numpy().astype(np.int64)
    # 4. owner records, appended in bulk
    po = mm.page_owner
    handles = {}
    stack_text = dump["stack"].astype(str).to_numpy()
    cats = pd.unique(stack_text)
    for s in cats:
        handles[s] = po.depot.stack_depot_save(tuple(s.split("\n")) if s else ())
    h = np.array([handles[s] for s in stack_text], dtype=np.int64)
    comm = dump["comm"].astype(str).to_numpy()
    comm_ids = np.array([po.records.comm_id(c) for c in pd.unique(comm)], dtype=np.int64)
    cmap = dict(zip(pd.unique(comm), comm_ids))
    comm_id = np.array([cmap[c] for c in comm], dtype=np.int64)
    reason = dump["last_migrate_reason"].astype(object).map(
        lambda r: MIGRATE_REASONS.index(r) if isinstance(r, str) and r in MIGRATE_REASONS else -1)
    gfp = dump["gfp_mask"].to_numpy().astype(np.int64)
    mt = _gfp_mt(gfp, prof)
    n = len(dump)
    rows = np.zeros((n, 12), dtype=np.int64)
    rows[:, R_ORDER] = order
    rows[:, R_GFP] = gfp
    rows[:, R_HANDLE] = h
    rows[:, R_TS] = dump["ts_ns"].to_numpy()
    rows[:, R_FREE_TS] = np.maximum(dump["free_ts_ns"].to_numpy(), 0)
    rows[:, R_PID] = dump["pid"].to_numpy()
    rows[:, R_TGID] = dump["tgid"].to_numpy()
    rows[:, R_COMM] = comm_id
    rows[:, R_FREE_PID] = -1
    rows[:, R_FREE_TGID] = -1
    rows[:, R_REASON] = reason.to_numpy().astype(np.int64)
    first = po.records.add_rows(rows)
    conflicts = []
    unreserved = [0]
    pps = mm.pages_per_section
    shift = mm.section_shift
    secnr = pfn >> shift
    for nr in np.unique(secnr):
        sec = mm.sections[nr] if 0 <= nr < mm.nr_sections else None
        sel = np.flatnonzero(secnr == nr)
        if sec is None or not sec.present:
            conflicts.extend(int(p) for p in pfn[sel])
            continue
        # pageblock types
        sec.pageblock_np()[(pb[sel] - (sec.start_pfn >> pbo))] = pbt[sel]
        fl = sec.flags_np()
        od = sec.order_np()
        off = pfn[sel] - sec.start_pfn
        o = order[sel]
        # blocks must lie on RAM.  Where the simulator reserved a page the real kernel
        # had allocated (its memblock placement differs a little), the dump wins: the
        # page is unreserved and counted as managed.
        ok = np.ones(len(sel), dtype=bool)
        for k in np.unique(o):
            kk = np.flatnonzero(o == k)
            span = off[kk][:, None] + np.arange(1 << int(k))[None, :]
            span = np.minimum(span, pps - 1)
            ok[kk] = ~((fl[span] & PG_HOLE) != 0).any(axis=1)
            res = span[ok[kk]].ravel()
            res = res[(fl[res] & PG_RESERVED) != 0]
            if len(res):
                fl[res] &= ~PG_RESERVED & 0xFF
                unreserved[0] += len(res)
                for z in (z for nid in sec.nids for z in mm.nodes[nid].zones):
                    inz = ((sec.start_pfn + res) >= z.zone_start_pfn) & ((sec.start_pfn + res) < z.zone_end_pfn)
                    z.managed_pages += int(inz.sum())
        conflicts.extend(int(p) for p in pfn[sel][~ok])
        sel, off, o = sel[ok], off[ok], o[ok]
        fl[off] = (PG_HEAD | (mt[sel] << MT_SHIFT)).astype(np.uint8)
        od[off] = o.astype(np.uint8)
        t = sec.page_ext
        if t is not None and t.owner is not None:
            for k in np.unique(o):
                kk = np.flatnonzero(o == k)
                span = (off[kk][:, None] + np.arange(1 << int(k))[None, :]).ravel()
                t.owner[span] = np.repeat(first + sel[kk], 1 << int(k))
                t.flags[span] |= 3
    # (show_stacks counts derive from the placed records: PageOwner.stack_counts)
    # pageblocks without any allocation: match pagetypeinfo's counts per type
    if cap.has("pagetypeinfo"):
        _match_block_counts(mm, cap.df_pageblocks(), set(pb.tolist()))
    # 5. everything else free
    for z in mm.populated_zones():
        _release_free(mm, z)
    mm.totalram_pages = sum(z.managed_pages for z in mm.all_zones())
    mm.build_zonelists()
    m.replay = ReplayInfo(compare_with_capture(m, cap), conflicts, unreserved[0])
    return m


def _match_block_counts(mm, real_blocks: pd.DataFrame, occupied: set) -> None:
    """Give pageblocks that hold no dump allocation the types pagetypeinfo counts.

    For each zone and each type with fewer blocks than the real count, the free
    blocks nearest to the blocks already of that type are converted (free pages
    cluster next to their kind, as fallback stealing leaves them).
    """
    prof = mm.profile
    pbo = prof.pageblock_order
    names = list(prof.migratetype_names)
    for z in mm.populated_zones():
        starts = np.arange(z.zone_start_pfn, z.zone_end_pfn, 1 << pbo, dtype=np.int64)
        blocks = starts >> pbo
        types = np.array([page_alloc.get_pageblock_migratetype(mm, int(p)) for p in starts])
        real = real_blocks[(real_blocks.node == z.nid) & (real_blocks.zone.astype(str) == z.name)]
        free_mask = np.array([b not in occupied for b in blocks.tolist()])
        for r in real.itertuples():
            t = names.index(str(r.migratetype))
            if t == prof.mt_movable:
                continue
            deficit = int(r.nr_blocks) - int((types == t).sum())
            if deficit <= 0:
                continue
            cand = np.flatnonzero(free_mask & (types == prof.mt_movable))
            if not len(cand):
                continue
            have = np.flatnonzero(types == t)
            anchor = have if len(have) else np.array([0])
            dist = np.abs(cand[:, None] - anchor[None, :]).min(axis=1)
            pick = cand[np.argsort(dist, kind="stable")[:deficit]]
            for i in pick:
                page_alloc.set_pageblock_migratetype(mm, int(starts[i]), t)
                types[i] = t


def _gfp_mt(gfp: np.ndarray, prof) -> np.ndarray:
    mov = prof.gfp_bits["__GFP_MOVABLE"]
    rec = prof.gfp_bits["__GFP_RECLAIMABLE"]
    if prof.gfp_movable_shift:
        return ((gfp & (mov | rec)) >> prof.gfp_movable_shift).astype(np.int64)
    return (((gfp & mov) != 0).astype(np.int64) << 1) | ((gfp & rec) != 0).astype(np.int64)


def _release_free(mm, zone) -> None:
    """Free every RAM page of ``zone`` that is neither reserved nor allocated."""
    pps = mm.pages_per_section
    z0, z1 = zone.zone_start_pfn, zone.zone_end_pfn
    for nr in range(z0 >> mm.section_shift, ((z1 - 1) >> mm.section_shift) + 1):
        sec = mm.sections[nr]
        if sec is None or not sec.present or zone.nid not in sec.nids:
            continue
        fl = sec.flags_np()
        od = sec.order_np()
        used = (fl & (PG_RESERVED | PG_HOLE)) != 0
        heads = np.flatnonzero(fl & PG_HEAD)
        if len(heads):
            cover = np.zeros(pps + 1, dtype=np.int32)
            ends = np.minimum(heads + (np.int64(1) << od[heads].astype(np.int64)), pps)
            np.add.at(cover, heads, 1)
            np.add.at(cover, ends, -1)
            used |= np.cumsum(cover[:pps]) > 0
        lo = max(z0, sec.start_pfn) - sec.start_pfn
        hi = min(z1, sec.start_pfn + pps) - sec.start_pfn
        free = ~used
        free[:lo] = False
        free[hi:] = False
        # runs of free pages
        d = np.diff(np.concatenate(([0], free.astype(np.int8), [0])))
        starts = np.flatnonzero(d == 1)
        ends = np.flatnonzero(d == -1)
        for s, e in zip(starts[::-1], ends[::-1]):
            free_pages_memory(mm, zone, sec.start_pfn + int(s), sec.start_pfn + int(e))


def compare_with_capture(m: Machine, cap) -> pd.DataFrame:
    """Replayed vs captured: buddyinfo per order, free pages per zone, pageblocks.

    Columns: node, zone, what ("nr_free order k", "free pages", "blocks T",
    "mixed T"), real, replayed, diff (replayed - real), rel (diff / real).
    """
    rows = []
    if cap.has("buddyinfo"):
        rb = cap.df_buddyinfo()
        sb = m.df_buddyinfo()
        mg = rb.merge(sb, on=["node", "zone", "order"], how="outer", suffixes=("_r", "_s")).fillna(0)
        for r in mg.itertuples():
            rows.append((r.node, str(r.zone), f"nr_free order {int(r.order)}", r.nr_free_r, r.nr_free_s))
        rp = (rb.assign(p=rb.nr_free * np.left_shift(1, rb.order.astype(np.int64)))
              .groupby(["node", "zone"], observed=True)["p"].sum())
        sp = (sb.assign(p=sb.nr_free * np.left_shift(1, sb.order.astype(np.int64)))
              .groupby(["node", "zone"], observed=True)["p"].sum())
        for key in rp.index:
            rows.append((key[0], str(key[1]), "free pages (buddyinfo)", rp[key], sp.get(key, 0)))
    if cap.has("zoneinfo"):
        rz = cap.df_zones().set_index(["node", "zone"])
        sz = m.df_zones().set_index(["node", "zone"])
        for key, r in rz[rz.present > 0].iterrows():
            rows.append((key[0], str(key[1]), "free pages (zoneinfo)", r.free, sz.loc[key].free))
    if cap.has("pagetypeinfo"):
        rpb = cap.df_pageblocks()
        spb = m.df_pageblocks()
        mg = rpb.merge(spb, on=["node", "zone", "migratetype"], suffixes=("_r", "_s"))
        for r in mg.itertuples():
            rows.append((r.node, str(r.zone), f"blocks {r.migratetype}", r.nr_blocks_r, r.nr_blocks_s))
            if r.nr_mixed_r >= 0:
                rows.append((r.node, str(r.zone), f"mixed {r.migratetype}", r.nr_mixed_r, r.nr_mixed_s))
    df = pd.DataFrame(rows, columns=["node", "zone", "what", "real", "replayed"])
    df["real"] = df["real"].astype(np.int64)
    df["replayed"] = df["replayed"].astype(np.int64)
    df["diff"] = df["replayed"] - df["real"]
    df["rel"] = np.where(df["real"] != 0, df["diff"] / df["real"].where(df["real"] != 0, 1), 0.0)
    return df
