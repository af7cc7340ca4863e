"""Consistency checks of the simulated kernel state (a CONFIG_DEBUG_VM for pextlab).

``check_invariants(mm)`` returns a list of violated laws, each naming the pfn,
section or zone involved; ``assert_invariants(mm)`` raises AssertionError with
that list.  The per-page laws are computed with numpy over each section's
``flags``/``order`` bytearrays (no Python loop over pages); only free-list
entries, zones and page_ext tables are walked in Python.

Laws checked
------------
memmap (per section)
    * every page's flags encode one state: a free buddy head (PG_BUDDY), an
      allocated head (PG_HEAD), a guard head (PG_GUARD), a tail (flags 0),
      reserved (PG_RESERVED) or a hole (PG_HOLE|PG_RESERVED);
    * every RAM page lies in exactly one of: one free block, one allocated
      block, one guard block (each covering 2^order pages from its head),
      or is reserved; holes lie in no block; every tail lies in a block;
    * heads have order <= MAX_PAGE_ORDER, are aligned to their order and their
      block ends inside the section;
    * ``mm.nr_guard_pages`` equals the pages of the guard blocks.
    * with per-cpu lists (pextlab.pcp=on) a block on a pcp list is a fourth kind
      of block: its pages have flags 0 and lie in no other block.
pcp (per zone, pextlab.pcp=on)
    * every zone has its lists (none without the option); every entry is an
      aligned block of the list's order, in an online section, in the zone
      (page_zone of its first and last page), on one list only, with flags 0 at
      its head; ``count`` equals the pages on the lists.
buddy (per zone)
    * every entry of ``zone.free_area[o][mt]`` is a PG_BUDDY head of order o
      whose flags carry migratetype mt, lies with its whole block in that zone
      (page_zone of its first and last page: zone spans overlap after hotplug,
      so the span alone proves nothing), and is on no other list;
    * every PG_BUDDY head of the memmap is on a free list;
    * buddies are maximally merged: no free block of order < MAX_PAGE_ORDER
      whose buddy is a free (or guard) block of the same order in the same zone
      that ``__free_one_page`` would merge with it (at order >= pageblock_order
      only if both pageblock migratetypes are < MIGRATE_PCPTYPES or equal);
    * ``nr_free[o]``, ``free_pages`` and ``free_mt[mt]`` equal a recount;
    * MIGRATE_CMA pageblocks: their free blocks are on the CMA lists (and CMA
      lists hold nothing else); their allocated blocks are movable ones.
CMA areas
    * every online pageblock of a CMA area (``mm.cma_areas``) is MIGRATE_CMA and
      every MIGRATE_CMA pageblock lies in an area; ``zone.cma_pages`` equals the
      pages of the areas in the zone;
    * an area's bitmap is exactly the bits of what cma_alloc handed out
      (``allocations``), and those pages are allocated order-0 pages -- the only
      non-movable allocations a MIGRATE_CMA pageblock may hold.
pins (gup)
    * a pin count is never negative and only an allocated head holds pins.
holders of pfns (the followers of migrations)
    * every page of the hugetlb pool is an allocated head of the pool's order
      in an online section of the node it is listed under, listed once;
    * every page a hot-added memory device took (page tables, memmap, sysfs)
      is an allocated head of its order;
    * every block of every ``migrate.HeldBlocks`` on ``mm.migrate_notifiers``
      is an allocated head of its order (a holder that missed a migration).
page_ext
    * no table at all when no client needs page_ext; with SPARSEMEM a table
      exactly for every present, online section (``section.page_ext`` and
      ``tables`` agree); with FLATMEM one per node with pages;
    * ``total_usage`` equals the sum of the tables' ``bytes``;
    * the pages holding a table are allocated in the buddy ("pages": the
      ``alloc_pages_exact`` range; "vmalloc": each order-0 page) or reserved
      ("memblock").
page_owner (when running)
    * every allocated head in a section with a live table carries
      PAGE_EXT_OWNER_ALLOCATED (v6.12; PAGE_EXT_OWNER for v3.19, which has no
      ALLOCATED bit) and a record of the block's order (early-allocated pages,
      marked with order 0 by init_page_owner, are exempt from the order check);
    * v6.12: no page of a free or guard block carries PAGE_EXT_OWNER_ALLOCATED,
      except pages whose record is the early one (guard pages are not PageBuddy,
      so init_page_owner marks them; the bit stays when they merge later).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .migrate import HeldBlocks
from .page_isolation import section_slices
from .mmzone import (PG_BUDDY, PG_RESERVED, PG_HEAD, PG_GUARD, PG_HOLE, MT_SHIFT, MT_MASK,
                     GUP_PIN_COUNTING_BIAS)
from .page_ext import PAGE_EXT_OWNER, PAGE_EXT_OWNER_ALLOCATED
from .page_owner import R_ORDER, R_HANDLE

__all__ = ["check_invariants", "assert_invariants", "dump_page", "dump_page_lines"]

# per-page state codes of the coverage map
S_ORPHAN, S_FREE, S_ALLOC, S_GUARD, S_RESERVED, S_HOLE, S_CONFLICT, S_PCP = range(8)
_STATE_NAMES = ("orphan", "free", "allocated", "guard", "reserved", "hole", "conflicting",
                "on a pcp list")

_MAX_PER_LAW = 20      # report at most this many individual violations per law


class _Report:
    def __init__(self):
        self.msgs: list[str] = []
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, law: str, text: str) -> None:
        self.counts[law] += 1
        if self.counts[law] <= _MAX_PER_LAW:
            self.msgs.append(f"{law}: {text}")

    def finish(self) -> list[str]:
        for law, n in self.counts.items():
            if n > _MAX_PER_LAW:
                self.msgs.append(f"{law}: ... and {n - _MAX_PER_LAW} more")
        return self.msgs


def _runs(mask: np.ndarray, base: int, limit: int = 3) -> str:
    """Describe where a boolean mask is true: count and the first pfns."""
    idx = np.flatnonzero(mask)
    first = ", ".join(f"{base + int(i):#x}" for i in idx[:limit])
    more = "" if len(idx) <= limit else ", ..."
    return f"{len(idx)} page(s) at pfn {first}{more}"


def _section_memmap(mm, sec, rep: _Report, states: dict, heads_out: dict, pcp=None) -> None:
    """Per-page state laws of one section; fills ``states[nr]`` (uint8 codes) and
    ``heads_out[nr]`` = (buddy_idx, alloc_idx, guard_idx).  ``pcp``: offsets and orders
    of the blocks on per-cpu lists in this section (their pages have flags 0)."""
    pps = mm.pages_per_section
    maxo = mm.profile.max_page_order
    base = sec.start_pfn
    fl = sec.flags_np()
    od = sec.order_np()
    kind = fl & np.uint8(~MT_MASK & 0xFF)    # state bits without the migratetype
    head_bits = kind & (PG_BUDDY | PG_HEAD | PG_GUARD)
    is_head = head_bits != 0
    ok_form = ((kind == 0) | (kind == PG_BUDDY) | (kind == PG_HEAD) | (kind == PG_GUARD)
               | (kind == PG_RESERVED) | (kind == (PG_HOLE | PG_RESERVED)))
    if not ok_form.all():
        bad = ~ok_form
        vals = sorted({int(v) for v in fl[bad][:64]})
        rep.add("page state", f"section {sec.nr}: flags {[hex(v) for v in vals]} encode no single "
                f"state (not one of buddy/head/guard/tail/reserved/hole): {_runs(bad, base)}")
    if not sec.present and (fl != (PG_HOLE | PG_RESERVED)).any():
        rep.add("page state", f"section {sec.nr} is not present but has RAM pages: "
                f"{_runs(fl != (PG_HOLE | PG_RESERVED), base)}")
    hidx = np.flatnonzero(is_head)
    horder = od[hidx].astype(np.int64)
    too_big = horder > maxo
    if too_big.any():
        for i in hidx[too_big][:_MAX_PER_LAW]:
            rep.add("order", f"pfn {base + int(i):#x}: head of order {int(od[i])} > MAX_PAGE_ORDER {maxo}")
    size = np.left_shift(np.int64(1), np.minimum(horder, 62))
    misaligned = (hidx & (size - 1)) != 0
    if misaligned.any():
        for i, o in zip(hidx[misaligned][:_MAX_PER_LAW], horder[misaligned][:_MAX_PER_LAW]):
            rep.add("alignment", f"pfn {base + int(i):#x}: {_kind_name(int(fl[i]))} block of order "
                    f"{int(o)} is not aligned to its order")
    ends = hidx + size
    past = ends > pps
    if past.any():
        for i, o in zip(hidx[past][:_MAX_PER_LAW], horder[past][:_MAX_PER_LAW]):
            rep.add("page state", f"pfn {base + int(i):#x}: order-{int(o)} block runs past the end "
                    f"of section {sec.nr}")
        ends = np.minimum(ends, pps)
    cover = np.cumsum(np.bincount(hidx, minlength=pps + 1)[:pps]
                      - np.bincount(ends, minlength=pps + 1)[:pps])
    pcp_cover = None
    if pcp is not None:
        pidx = np.asarray(pcp[0], dtype=np.int64)
        pends = np.minimum(pidx + np.left_shift(np.int64(1), np.asarray(pcp[1], dtype=np.int64)), pps)
        pcp_cover = np.cumsum(np.bincount(pidx, minlength=pps + 1)[:pps]
                              - np.bincount(pends, minlength=pps + 1)[:pps])
        cover = cover + pcp_cover
    reserved = kind == PG_RESERVED
    hole = kind == (PG_HOLE | PG_RESERVED)
    tail = kind == 0
    # heads: covered by exactly themselves; tails: by exactly one block; reserved/holes: by none
    multi = cover > 1
    if multi.any():
        rep.add("page state", f"section {sec.nr}: pages inside more than one block: {_runs(multi, base)}")
    orphan = tail & (cover == 0)
    if orphan.any():
        rep.add("page state", f"section {sec.nr}: tail pages (flags 0) inside no free, allocated "
                f"or guard block: {_runs(orphan, base)}")
    inside = (reserved | hole) & (cover > 0)
    if inside.any():
        rep.add("page state", f"section {sec.nr}: reserved or hole pages inside a block: "
                f"{_runs(inside, base)}")
    # a tail must have flags exactly 0 (no stray migratetype bits)
    dirty_tail = (cover == 1) & ~is_head & (fl != 0)
    dirty_tail &= ~(reserved | hole)      # reported above
    if dirty_tail.any():
        rep.add("page state", f"section {sec.nr}: tail pages with nonzero flags: {_runs(dirty_tail, base)}")
    # state map: which kind of block covers each page (by the kind of its head)
    state = np.full(pps, S_ORPHAN, dtype=np.uint8)
    for bit, code in ((PG_BUDDY, S_FREE), (PG_HEAD, S_ALLOC), (PG_GUARD, S_GUARD)):
        sel = (head_bits[hidx] & bit) != 0
        h, e = hidx[sel], ends[sel]
        c = np.cumsum(np.bincount(h, minlength=pps + 1)[:pps] - np.bincount(e, minlength=pps + 1)[:pps])
        state[c > 0] = code
    if pcp_cover is not None:
        state[pcp_cover > 0] = S_PCP
    state[reserved] = S_RESERVED
    state[hole] = S_HOLE
    state[multi | inside] = S_CONFLICT
    states[sec.nr] = state
    buddy_idx = hidx[(head_bits[hidx] == PG_BUDDY)]
    alloc_idx = hidx[(head_bits[hidx] == PG_HEAD)]
    guard_idx = hidx[(head_bits[hidx] == PG_GUARD)]
    heads_out[sec.nr] = (buddy_idx, alloc_idx, guard_idx)


def _kind_name(f: int) -> str:
    if f & PG_BUDDY:
        return "free"
    if f & PG_HEAD:
        return "allocated"
    if f & PG_GUARD:
        return "guard"
    return "non-head"


def _zone_label(z) -> str:
    return f"node {z.nid} zone {z.name}"


def _check_free_lists(mm, rep: _Report, heads: dict) -> None:
    shift, mask = mm.section_shift, mm.section_mask
    seen: dict[int, tuple] = {}
    cma = mm.profile.mt_cma
    for zone in mm.all_zones():
        zl = _zone_label(zone)
        nr_free = [0] * mm.nr_orders
        free_mt = [0] * len(zone.free_mt)
        free_pages = 0
        for o, areas in enumerate(zone.free_area):
            for mt, d in enumerate(areas):
                n = len(d)
                nr_free[o] += n
                free_mt[mt] += n << o
                free_pages += n << o
                for pfn in d:
                    where = f"{zl} free_area[{o}][{mt}] pfn {pfn:#x}"
                    if pfn in seen:
                        rep.add("free list", f"{where} is also on {seen[pfn]}")
                        continue
                    seen[pfn] = (zl, o, mt)
                    sec = mm.section_of(pfn)
                    if sec is None:
                        rep.add("free list", f"{where} is outside the memory map")
                        continue
                    off = pfn & mask
                    f = sec.flags[off]
                    if f & ~MT_MASK & 0xFF != PG_BUDDY:
                        rep.add("free list", f"{where} is not a PG_BUDDY head (flags {f:#x})")
                    elif (f & MT_MASK) >> MT_SHIFT != mt:
                        rep.add("free list", f"{where} carries migratetype {(f & MT_MASK) >> MT_SHIFT} "
                                f"in its flags")
                    pbmt = sec.pageblock_mt[off >> mm.pageblock_order]
                    if (pbmt == cma) != (mt == cma):
                        rep.add("cma", f"{where} lies in a pageblock of migratetype {pbmt}: free "
                                f"blocks of MIGRATE_CMA pageblocks belong on the CMA lists only")
                    if sec.order[off] != o:
                        rep.add("free list", f"{where} has order {sec.order[off]} in the memmap")
                    if pfn & ((1 << o) - 1):
                        rep.add("alignment", f"{where} is not aligned to order {o}")
                    if not _in_zone(mm, zone, pfn, o):
                        rep.add("zone", f"{where}: block [{pfn:#x}, {pfn + (1 << o):#x}) is not in "
                                f"the zone (page_zone of its first and last page)")
                    elif zone.nid not in sec.nids:
                        rep.add("zone", f"{where} lies in section {sec.nr} of node(s) {sec.nids}")
        for o in range(mm.nr_orders):
            if zone.nr_free[o] != nr_free[o]:
                rep.add("counter", f"{zl}: nr_free[{o}] = {zone.nr_free[o]}, free lists hold {nr_free[o]}")
        if zone.free_pages != free_pages:
            rep.add("counter", f"{zl}: free_pages = {zone.free_pages}, free lists hold {free_pages}")
        for mt in range(len(free_mt)):
            if zone.free_mt[mt] != free_mt[mt]:
                rep.add("counter", f"{zl}: free_mt[{mt}] = {zone.free_mt[mt]}, free lists hold "
                        f"{free_mt[mt]}")
    # every PG_BUDDY head of the memmap is on a list
    for nr, (bidx, _, _) in heads.items():
        if not len(bidx):
            continue
        base = nr << shift
        missing = [base + int(i) for i in bidx if (base + int(i)) not in seen]
        for pfn in missing[:_MAX_PER_LAW]:
            sec = mm.sections[nr]
            rep.add("free list", f"PG_BUDDY head pfn {pfn:#x} (order {sec.order[pfn & mask]}) is on "
                    f"no free list")
        for _ in missing[_MAX_PER_LAW:]:
            rep.counts["free list"] += 1


def _in_zone(mm, zone, pfn: int, order: int) -> bool:
    """page_zone of the block's first and last page is ``zone``."""
    last = pfn + (1 << order) - 1
    if mm.section_of(last) is None:
        return False
    return mm.zone_of_pfn(pfn) is zone and mm.zone_of_pfn(last) is zone


def _check_merged(mm, rep: _Report, heads: dict) -> None:
    maxo = mm.profile.max_page_order
    pb = mm.pageblock_order
    shift = mm.section_shift
    for nr, (bidx, _, _) in heads.items():
        if not len(bidx):
            continue
        sec = mm.sections[nr]
        fl = sec.flags_np()
        od = sec.order_np()
        o = od[bidx].astype(np.int64)
        sel = o < maxo
        b, o = bidx[sel], o[sel]
        if not len(b):
            continue
        bud = b ^ (np.int64(1) << o)
        inb = bud < len(fl)
        b, o, bud = b[inb], o[inb], bud[inb]
        cand = ((fl[bud] & (PG_BUDDY | PG_GUARD)) != 0) & (od[bud] == o)
        cand &= (fl[bud] & PG_HEAD) == 0
        # count a buddy/buddy pair once; buddy/guard pairs always
        cand &= ~(((fl[bud] & PG_BUDDY) != 0) & (bud < b))
        base = nr << shift
        for i, j, oo in zip(b[cand], bud[cand], o[cand]):
            pfn, bpfn, oo = base + int(i), base + int(j), int(oo)
            z1, z2 = mm.zone_of_pfn(pfn), mm.zone_of_pfn(bpfn)
            if z1 is not z2:
                continue
            if oo >= pb:
                m1 = sec.pageblock_mt[int(i) >> pb]
                m2 = sec.pageblock_mt[int(j) >> pb]
                if m1 != m2 and (m1 >= 3 or m2 >= 3):
                    continue
            what = "guard" if fl[j] & PG_GUARD else "free"
            rep.add("merge", f"{_zone_label(z1)}: free order-{oo} block at pfn {pfn:#x} and its "
                    f"{what} buddy at pfn {bpfn:#x} were not merged")


def _cma_handed_out(mm, rep: _Report) -> dict:
    """Per section, a mask of the pages cma_alloc handed out; checks each is an
    allocated order-0 page and that every area's bitmap is exactly its allocations."""
    out: dict = {}
    for a in mm.cma_areas:
        want = np.zeros(len(a.bitmap), dtype=bool)
        step = 1 << a.order_per_bit
        for pfn, count in a.allocations.items():
            bit = (pfn - a.base_pfn) >> a.order_per_bit
            want[bit:bit + -(-count // step)] = True
            for sec, lo, hi in section_slices(mm, pfn, pfn + count):
                fl, od = sec.flags_np()[lo:hi], sec.order_np()[lo:hi]
                bad = np.flatnonzero(((fl & PG_HEAD) == 0) | (od != 0))
                if len(bad):
                    rep.add("cma", f"area {a.name}: pfn {sec.start_pfn + lo + int(bad[0]):#x} of the "
                            f"allocation at {pfn:#x}+{count} is not an allocated order-0 page")
                m = out.setdefault(sec.nr, np.zeros(mm.pages_per_section, dtype=bool))
                m[lo:hi] = True
        diff = np.flatnonzero(want != a.bitmap)
        if len(diff):
            rep.add("cma", f"area {a.name}: bitmap bit {int(diff[0])} is {bool(a.bitmap[diff[0]])}, "
                    f"the allocations say {bool(want[diff[0]])} ({len(diff)} bit(s) differ)")
    return out


def _check_pins(mm, rep: _Report) -> None:
    """Pin counts (gup): never negative, only on allocated heads."""
    for sec in mm.sections:
        if sec is None or sec.pincount is None:
            continue
        pc = sec.pincount
        neg = np.flatnonzero(pc < 0)
        if len(neg):
            rep.add("pin", f"pfn {sec.start_pfn + int(neg[0]):#x} has pin count {int(pc[neg[0]])}")
        on = np.flatnonzero(pc > 0)
        stray = on[(sec.flags_np()[on] & PG_HEAD) == 0]
        for i in stray[:_MAX_PER_LAW]:
            rep.add("pin", f"pfn {sec.start_pfn + int(i):#x} holds {int(pc[i])} pin(s) but is not "
                    f"an allocated head (flags {int(sec.flags[i]):#x}: {_kind_name(sec.flags[i])})")


def _check_cma_allocations(mm, rep: _Report, heads: dict) -> None:
    """Only movable allocations may take pages of MIGRATE_CMA pageblocks -- besides the
    pages cma_alloc handed out."""
    cma, mov, pb = mm.profile.mt_cma, mm.profile.mt_movable, mm.pageblock_order
    handed = _cma_handed_out(mm, rep)
    for nr, (_, aidx, _) in heads.items():
        if not len(aidx):
            continue
        sec = mm.sections[nr]
        in_cma = sec.pageblock_np()[aidx >> pb] == cma
        if nr in handed:
            in_cma &= ~handed[nr][aidx]
        if not in_cma.any():
            continue
        fl = sec.flags_np()
        amt = (fl[aidx[in_cma]] & MT_MASK) >> MT_SHIFT
        bad = aidx[in_cma][amt != mov]
        for i in bad[:_MAX_PER_LAW]:
            rep.add("cma", f"allocated head pfn {sec.start_pfn + int(i):#x} of migratetype "
                    f"{(int(fl[i]) & MT_MASK) >> MT_SHIFT} lies in a MIGRATE_CMA pageblock")


def _check_page_ext(mm, rep: _Report, states: dict) -> None:
    pe = mm.page_ext
    if pe is None:
        return
    needed = any(bool(op.need(mm)) for op in pe.ops)
    tables = pe.tables
    if not needed:
        if tables:
            rep.add("page_ext", f"no client needs page_ext, yet {len(tables)} table(s) exist")
        if pe.total_usage:
            rep.add("page_ext", f"no client needs page_ext, yet total_usage = {pe.total_usage}")
        for sec in mm.sections:
            if sec is not None and sec.page_ext is not None:
                rep.add("page_ext", f"no client needs page_ext, yet section {sec.nr} has a table")
        return
    if not pe.enabled:
        rep.add("page_ext", "a client needs page_ext but page_ext is not enabled")
    if mm.memory_model == "sparsemem":
        want = {sec.nr for sec in mm.sections if sec is not None and sec.present and sec.online}
        have = set(k for k in tables)
        for nr in sorted(want - have):
            rep.add("page_ext", f"present online section {nr} (pfn {nr << mm.section_shift:#x}) "
                    f"has no page_ext table")
        for nr in sorted(have - want, key=str):
            sec = mm.sections[nr] if isinstance(nr, int) and 0 <= nr < mm.nr_sections else None
            why = ("does not exist" if sec is None else "is not present" if not sec.present
                   else "is offline")
            rep.add("page_ext", f"section {nr} {why} but has a page_ext table")
        for sec in mm.sections:
            if sec is None:
                continue
            if sec.page_ext is not tables.get(sec.nr):
                rep.add("page_ext", f"section {sec.nr}: section.page_ext and page_ext.tables disagree")
        size = pe.page_ext_size * mm.pages_per_section
        for nr, t in tables.items():
            if t.bytes != size:
                rep.add("page_ext", f"section {nr}: table of {t.bytes} bytes, expected "
                        f"{pe.page_ext_size} x {mm.pages_per_section} = {size}")
    else:
        want = {("node", nid) for nid, node in mm.nodes.items() if node.node_spanned_pages}
        have = set(tables)
        for k in sorted(want ^ have, key=str):
            rep.add("page_ext", f"FLATMEM: table {k} {'missing' if k in want else 'unexpected'}")
    total = sum(t.bytes for t in tables.values())
    if pe.total_usage != total:
        rep.add("page_ext", f"total_usage = {pe.total_usage}, tables hold {total} bytes")
    # where the tables live
    mask = mm.section_mask
    for key, t in tables.items():
        if t.via == "pages":
            _expect_state(mm, rep, states, key, t.table_pfn, t.pages, (S_ALLOC,), "allocated")
        elif t.via == "vmalloc":
            if len(t.vmalloc_pfns) != t.pages:
                rep.add("page_ext", f"table {key}: {len(t.vmalloc_pfns)} vmalloc pages for "
                        f"{t.bytes} bytes ({t.pages} pages)")
            for p in t.vmalloc_pfns:
                sec = mm.section_of(p)
                if sec is None or not (sec.flags[p & mask] & PG_HEAD) or sec.order[p & mask] != 0:
                    rep.add("page_ext", f"table {key}: vmalloc page pfn {p:#x} is not an allocated "
                            f"order-0 page")
        elif t.via == "memblock":
            _expect_state(mm, rep, states, key, t.table_pfn, t.pages, (S_RESERVED,), "reserved")


def _expect_state(mm, rep, states, key, start, n, codes, word) -> None:
    shift = mm.section_shift
    pfn, end = start, start + n
    if start < 0:
        rep.add("page_ext", f"table {key}: no table pfn ({start})")
        return
    while pfn < end:
        nr = pfn >> shift
        hi = min(end, (nr + 1) << shift)
        st = states.get(nr)
        if st is None:
            rep.add("page_ext", f"table {key}: pages [{pfn:#x}, {hi:#x}) lie in no section")
        else:
            a, b = pfn - (nr << shift), hi - (nr << shift)
            bad = ~np.isin(st[a:b], codes)
            if bad.any():
                seen = sorted({_STATE_NAMES[int(s)] for s in st[a:b][bad]})
                rep.add("page_ext", f"table {key}: its pages should be {word} but "
                        f"{_runs(bad, pfn)} are {'/'.join(seen)}")
        pfn = hi


def _check_page_owner(mm, rep: _Report, states: dict, heads: dict, exempt) -> None:
    po = mm.page_owner
    if po is None or not po.inited:
        return
    prof = mm.profile
    v612 = prof.per_subpage_owner
    bit = PAGE_EXT_OWNER_ALLOCATED if v612 else PAGE_EXT_OWNER
    bitname = "PAGE_EXT_OWNER_ALLOCATED" if v612 else "PAGE_EXT_OWNER"
    recs = po.records.as_numpy()
    nrec = len(recs)
    exempt = np.asarray(sorted(exempt), dtype=np.int64) if exempt else None
    for nr, (_, aidx, _) in heads.items():
        sec = mm.sections[nr]
        t = sec.page_ext
        if t is None or t.state != "online" or not t.with_owner:
            continue
        owner = t.owner_if_written()          # None: no record was ever stored here
        if owner is None:
            owner = np.full(len(t.flags), -1, dtype=np.int32)
        base = sec.start_pfn
        od = sec.order_np()
        if exempt is not None and len(aidx):
            aidx = aidx[~np.isin(base + aidx, exempt)]
        if len(aidx):
            ext = t.flags[aidx]
            lack = (ext & bit) == 0
            for i in aidx[lack][:_MAX_PER_LAW]:
                rep.add("page_owner", f"allocated head pfn {base + int(i):#x} (order {od[i]}) lacks "
                        f"{bitname}")
            rows = owner[aidx].astype(np.int64)
            norec = (rows < 0) | (rows >= nrec)
            for i in aidx[norec & ~lack][:_MAX_PER_LAW]:
                rep.add("page_owner", f"allocated head pfn {base + int(i):#x} has no owner record")
            ok = ~norec
            ai, rr = aidx[ok], rows[ok]
            rord = recs[rr, R_ORDER]
            early = recs[rr, R_HANDLE] == po.early_handle
            wrong = (rord != od[ai]) & ~early
            for i, ro in zip(ai[wrong][:_MAX_PER_LAW], rord[wrong][:_MAX_PER_LAW]):
                rep.add("page_owner", f"allocated head pfn {base + int(i):#x} is order {od[i]}, its "
                        f"owner record says order {int(ro)}")
        if v612:
            st = states[nr]
            freeish = (st == S_FREE) | (st == S_GUARD) | (st == S_PCP)
            stale = freeish & ((t.flags & PAGE_EXT_OWNER_ALLOCATED) != 0)
            if stale.any():
                # init_page_owner marks guard pages as early allocated (they are not
                # PageBuddy); merging them into a free block later keeps that bit
                sidx = np.flatnonzero(stale)
                rows = owner[sidx].astype(np.int64)
                okrow = (rows >= 0) & (rows < nrec)
                early = np.zeros(len(sidx), dtype=bool)
                early[okrow] = recs[rows[okrow], R_HANDLE] == po.early_handle
                stale[sidx[early]] = False
            if stale.any():
                rep.add("page_owner", f"section {nr}: free or guard pages carry "
                        f"PAGE_EXT_OWNER_ALLOCATED: {_runs(stale, base)}")


def _check_pcp(mm, rep: _Report) -> dict:
    """Laws of the per-cpu lists; returns {section nr: (offsets, orders)} of their blocks."""
    out: dict[int, tuple] = {}
    if not mm.pcp_enabled:
        for z in mm.all_zones():
            if z.pcp is not None:
                rep.add("pcp", f"{_zone_label(z)} has pcp lists but pextlab.pcp is off")
        return out
    shift, mask = mm.section_shift, mm.section_mask
    seen: dict[int, str] = {}
    for zone in mm.all_zones():
        pcp = zone.pcp
        zl = _zone_label(zone)
        if pcp is None:
            rep.add("pcp", f"{zl} has no pcp lists")
            continue
        count = 0
        for i, lst in enumerate(pcp.lists):
            o = pcp.list_order[i]
            if lst and (o < 0 or o >= mm.nr_orders or not pcp.allowed[o]):
                rep.add("pcp", f"{zl}: pcp list {i} (order {o}) holds pages")
                continue
            for pfn in lst:
                where = f"{zl} pcp list {i} (order {o}) pfn {pfn:#x}"
                count += 1 << o
                if pfn in seen:
                    rep.add("pcp", f"{where} is also on {seen[pfn]}")
                    continue
                seen[pfn] = f"pcp list {i}"
                sec = mm.section_of(pfn)
                if sec is None:
                    rep.add("pcp", f"{where} is outside the memory map")
                    continue
                if pfn & ((1 << o) - 1):
                    rep.add("alignment", f"{where} is not aligned to order {o}")
                    continue
                if not sec.online:
                    rep.add("pcp", f"{where} lies in offline section {sec.nr}")
                elif not _in_zone(mm, zone, pfn, o):
                    rep.add("zone", f"{where}: block is not in the zone (page_zone)")
                f = sec.flags[pfn & mask]
                if f:
                    rep.add("pcp", f"{where} has flags {f:#x} (a pcp page is neither buddy nor "
                            f"allocated: 0)")
                offs, ords = out.setdefault(pfn >> shift, ([], []))
                offs.append(pfn & mask)
                ords.append(o)
        if count != pcp.count:
            rep.add("counter", f"{zl}: pcp count = {pcp.count}, pcp lists hold {count}")
    return out


def _check_cma_areas(mm, rep: _Report) -> None:
    """CMA areas and MIGRATE_CMA pageblocks agree; zone.cma_pages counts the areas."""
    cma = mm.profile.mt_cma
    pb = mm.pageblock_order
    areas = [a for a in mm.cma_areas if a.count]
    starts = np.array([a.base_pfn for a in areas], dtype=np.int64)
    ends = np.array([a.end_pfn for a in areas], dtype=np.int64)
    for sec in mm.sections:
        if sec is None or not sec.present or not sec.online:
            continue
        pbs = sec.start_pfn + (np.arange(len(sec.pageblock_mt), dtype=np.int64) << pb)
        in_area = ((pbs[:, None] >= starts) & (pbs[:, None] < ends)).any(axis=1) if areas \
            else np.zeros(len(pbs), dtype=bool)
        is_cma = sec.pageblock_np() == cma
        stray = is_cma & ~in_area
        if stray.any():
            rep.add("cma", f"section {sec.nr}: MIGRATE_CMA pageblocks outside every CMA area at "
                    f"pfn {', '.join(hex(int(p)) for p in pbs[stray][:3])}")
        lost = in_area & ~is_cma
        if lost.any():
            rep.add("cma", f"section {sec.nr}: pageblocks of a CMA area that are not MIGRATE_CMA "
                    f"at pfn {', '.join(hex(int(p)) for p in pbs[lost][:3])}")
    want: dict = defaultdict(int)
    for a in areas:
        want[mm.zone_of_pfn(a.base_pfn)] += a.count
    for z in mm.all_zones():
        if z.cma_pages != want.get(z, 0):
            rep.add("cma", f"{_zone_label(z)}: cma_pages = {z.cma_pages}, its CMA areas hold "
                    f"{want.get(z, 0)}")


def _expect_head(mm, rep: _Report, law: str, what: str, pfn: int, order: int,
                 nid: int | None = None) -> None:
    """``pfn`` is an allocated head of ``order`` in an online section (of node ``nid``)."""
    sec = mm.section_of(pfn)
    if sec is None or not sec.present or not sec.online:
        rep.add(law, f"{what} pfn {pfn:#x} (order {order}) lies in no online section")
        return
    off = pfn & mm.section_mask
    f = sec.flags[off]
    if not f & PG_HEAD:
        rep.add(law, f"{what} pfn {pfn:#x} (order {order}) is not an allocated head "
                f"(flags {f:#x}: {_kind_name(f)})")
    elif sec.order[off] != order:
        rep.add(law, f"{what} pfn {pfn:#x} is an allocated head of order {sec.order[off]}, "
                f"held as order {order}")
    elif nid is not None and mm.pfn_to_nid(pfn) != nid:
        rep.add(law, f"{what} pfn {pfn:#x} lies on node {mm.pfn_to_nid(pfn)}, listed under node {nid}")


def _check_holders(mm, rep: _Report) -> None:
    """Everything that keeps pfns of allocated blocks still points at them."""
    pool = mm.hugetlb
    if pool is not None:
        seen: set[int] = set()
        for nid, pages in pool.pages.items():
            for pfn in pages:
                if pfn in seen:
                    rep.add("hugetlb", f"pool page pfn {pfn:#x} is listed twice")
                    continue
                seen.add(pfn)
                _expect_head(mm, rep, "hugetlb", f"node {nid} pool page", pfn, pool.order, nid)
    for dev, d in mm.hotplug_devices.items():
        for pfn, order in d["pages"]:
            _expect_head(mm, rep, "hotplug", f"{dev}: device page", pfn, order)
    for i, fn in enumerate(mm.migrate_notifiers):
        if isinstance(fn, HeldBlocks):
            for pfn, order in fn.blocks.items():
                _expect_head(mm, rep, "follower", f"migrate_notifiers[{i}] holds", pfn, order)


def check_invariants(mm, owner_exempt=()) -> list[str]:
    """Check the simulated kernel state; return the violated laws (empty when all hold).

    ``owner_exempt``: pfns of allocated heads excused from the page_owner law
    (blocks allocated before their section's page_ext table was re-created by a
    simulated offline/online that did not empty the section).
    """
    rep = _Report()
    states: dict[int, np.ndarray] = {}
    heads: dict[int, tuple] = {}
    pcp_secs = _check_pcp(mm, rep)
    for sec in mm.sections:
        if sec is not None:
            _section_memmap(mm, sec, rep, states, heads, pcp_secs.get(sec.nr))
    nguard = 0
    for nr, (_, _, gidx) in heads.items():
        if len(gidx):
            nguard += int(np.sum(np.left_shift(1, mm.sections[nr].order_np()[gidx].astype(np.int64))))
    if nguard != mm.nr_guard_pages:
        rep.add("counter", f"nr_guard_pages = {mm.nr_guard_pages}, guard blocks hold {nguard} pages")
    _check_free_lists(mm, rep, heads)
    _check_merged(mm, rep, heads)
    _check_cma_allocations(mm, rep, heads)
    _check_cma_areas(mm, rep)
    _check_pins(mm, rep)
    _check_holders(mm, rep)
    _check_page_ext(mm, rep, states)
    _check_page_owner(mm, rep, states, heads, owner_exempt)
    return rep.finish()


def assert_invariants(mm, owner_exempt=()) -> None:
    """Raise AssertionError listing every violated law (see :func:`check_invariants`)."""
    errs = check_invariants(mm, owner_exempt)
    if errs:
        raise AssertionError(f"{len(errs)} kernel state invariant(s) violated:\n  " + "\n  ".join(errs))


# --- dump_page (mm/debug.c __dump_page) -----------------------------------------------------------

# include/linux/page-flags.h (v6.12) bit numbers used by dump_page's "flags:" line
_PG_reserved_bit = 13
_ZONES_PGSHIFT = 55       # zone=2 prints as 0x100000000000000 in the real run
_NODES_PGSHIFT = 58


def dump_page(mm, pfn: int, reason: str) -> None:
    """Print the kernel's dump of one page (the first lines of __dump_page, then
    dump_page_owner).  The ``raw:`` struct-page words are not modelled."""
    for line in dump_page_lines(mm, pfn, reason):
        mm.printk(line)


def dump_page_lines(mm, pfn: int, reason: str) -> list[str]:
    """The lines :func:`dump_page` prints (a pinned order-0 page's refcount carries
    GUP_PIN_COUNTING_BIAS per pin, as the kernel's does)."""
    sec = mm.section_of(pfn)
    off = pfn & mm.section_mask
    f = sec.flags[off]
    zone = mm.section_zone[pfn >> mm.section_shift] or mm.zone_of_pfn(pfn)
    zidx = zone.idx if zone is not None else 0
    value = (zidx << _ZONES_PGSHIFT) | (sec.nid << _NODES_PGSHIFT)
    names = []
    if f & PG_RESERVED:
        value |= 1 << _PG_reserved_bit
        names.append("reserved")
    names += [f"node={sec.nid}", f"zone={zidx}"]
    refcount = 1
    if sec.pincount is not None and sec.pincount[off]:
        pins = int(sec.pincount[off])
        refcount += pins * GUP_PIN_COUNTING_BIAS if not sec.order[off] else pins
    out = [f"page: refcount:{refcount} mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}",
           f"flags: {value:#x}({'|'.join(names)})",
           f"page dumped because: {reason}"]
    po = mm.page_owner
    if po is not None:
        out.extend(po.dump_page_owner(pfn))
    return out
