"""page_owner: who allocated every page (mm/page_owner.c), a page_ext client.

Per-page data lives in the page_ext tables: the shared flags word
(``PAGE_EXT_OWNER``, ``PAGE_EXT_OWNER_ALLOCATED``) and, for this client, a
record index into :class:`OwnerRecords`.  The kernel copies one ``struct
page_owner`` into every subpage of an allocation (v5.4+); the simulator lets
the subpages of one allocation share a record row until something makes them
differ (split, migration), which gives the same answers at a fraction of the
cost.

Profile differences (see ``KernelProfile``):

* v6.12: records on every subpage, kept after free (only OWNER_ALLOCATED is
  cleared; free stack, time, pid and tgid are stored), early pages marked with
  the dummy ``early_handle``, per-stack counters for ``show_stacks``.
* v3.19: the record lives in ``struct page_ext`` of the head page only, and is
  lost on free (``PAGE_EXT_OWNER`` cleared); split records lose gfp and stack.
"""
from __future__ import annotations

import numpy as np

from ..errors import PextlabError
from .page_ext import PageExtOperations, PAGE_EXT_OWNER, PAGE_EXT_OWNER_ALLOCATED
from .gfp import format_gfp, gfp_migratetype
from .mmzone import PG_BUDDY, PG_RESERVED, covered_by_free
from .stackdepot import StackDepot

# compiled: kernel/_page_owner.pyx (the pextlab package checks that it is built)
from ._page_owner import (BIASED, OwnerHooks, RecordTable, ResetPageOwner, SetPageOwner,
                          ROW_BYTES)

__all__ = ["PageOwner", "OwnerRecords", "page_owner_ops", "REC_FIELDS"]

# record columns, in storage order (the free-side fields last, contiguous)
REC_FIELDS = ("order", "gfp", "handle", "ts", "pid", "tgid", "comm", "reason",
              "free_handle", "free_ts", "free_pid", "free_tgid")
_NF = len(REC_FIELDS)
R_ORDER, R_GFP, R_HANDLE, R_TS, R_PID, R_TGID, R_COMM, R_REASON, \
    R_FREE_HANDLE, R_FREE_TS, R_FREE_PID, R_FREE_TGID = range(_NF)
_ROW = _NF * 8
if ROW_BYTES != _ROW:
    raise ImportError("kernel/_page_owner.pyx writes rows of another size: rebuild it (make setup)")
# Stored with +1 so that a fresh (zeroed) row already means "never": reason, free_pid,
# free_tgid (the compiled table's BIASED).  gather()/get()/set() decode, so callers
# always see -1 for "never".
_BIASED = BIASED

# include/linux/migrate_mode.h / mm/debug.c migrate_reason_names (v6.12)
MIGRATE_REASONS = ("compaction", "memory_failure", "memory_hotplug", "syscall_or_cpuset",
                   "mempolicy_mbind", "numa_misplaced", "contig_range", "longterm_pin",
                   "demotion", "damon")

# the dummy stacks registered by init_page_owner (create_dummy_stack): 4 frames
# (symbol offsets as in the real 6.12 build of data/real-kernel)
_EARLY_STACK = ("register_early_stack+0x36/0x50", "init_page_owner+0x2b/0x2b0",
                "page_alloc_init_late+0x3ae/0x3d0", "kernel_init_freeable+0xa5/0x1e0")
_DUMMY_STACK = ("register_dummy_stack+0x36/0x50", "init_page_owner+0x21/0x2b0",
                "page_alloc_init_late+0x3ae/0x3d0", "kernel_init_freeable+0xa5/0x1e0")
_FAILURE_STACK = ("register_failure_stack+0x36/0x50", "init_page_owner+0x26/0x2b0",
                  "page_alloc_init_late+0x3ae/0x3d0", "kernel_init_freeable+0xa5/0x1e0")


class OwnerRecords(RecordTable):
    """A growable table of page_owner records: 12 int64 per row.

    The rows live in one numpy array, ``rows`` (capacity x 12), kept by the C
    base class ``RecordTable`` (``kernel/_page_owner.pyx``), which the compiled
    hooks write through a pointer; ``n`` rows are in use and rows past ``n`` are
    zero.  The base class reads and writes single rows (``add``, ``copy_row``,
    ``get``, ``set``); here are the readers and writers of runs of rows (numpy).
    Growth (``grow``) gives at least twice the capacity (or what ``reserve``
    asks): the rows live in memory of their own (``RowMemory``), zero pages
    faulted in only where rows are then written, and a bigger table moves them
    there without copying unless someone holds an array of them (then they are
    copied, and the array held keeps the old rows).  A copy (a snapshot) holds
    the rows in use only.  Nobody should keep ``rows`` or ``buf`` across a call
    that may add rows: it is not wrong, but it costs that copy.
    """

    __slots__ = ()

    def comm_id(self, comm: str) -> int:
        i = self._comm_ids.get(comm)
        if i is None:
            i = len(self.comms)
            self._comm_ids[comm] = i
            self.comms.append(comm)
        return i

    def reserve(self, need: int) -> None:
        """Room for ``need`` more rows, made now: a bulk allocation that knows its size
        grows the table once instead of doubling (and copying) its way there."""
        if self.n + need > self.cap:
            self.grow(need)

    def add_rows(self, rows: np.ndarray) -> int:
        """Append an (k, 12) int64 array of rows; return the first row number."""
        first, k = self.n, len(rows)
        if first + k > self.cap:
            self.grow(k)
        block = self.rows[first:first + k]
        block[:] = rows
        block[:, _BIASED] += 1
        self.n = first + k
        return first

    def gather(self, rows) -> np.ndarray:
        """Rows ``rows`` as an (k, 12) int64 array (a copy, decoded)."""
        out = self.rows[np.asarray(rows, dtype=np.int64)]
        out[:, _BIASED] -= 1
        return out

    def column(self, rows, field: int, dtype=np.int64) -> np.ndarray:
        """One decoded field of ``rows``, gathered straight into ``dtype``.

        A narrower dtype (int32, int16, int8) reads the low bytes of each
        little-endian int64 field, so no int64 temporary is made -- worth it on
        10 M-row frames, where fresh memory costs more than the arithmetic.  The
        caller picks a dtype wide enough for the field's values.
        """
        dt = np.dtype(dtype)
        k = 8 // dt.itemsize
        view = self.rows.view(dt)
        out = view[np.asarray(rows, dtype=np.int64), field * k]
        if field in _BIASED:
            out -= 1
        return out

    def fields(self, rows, dtypes: dict, chunk: int = 1 << 14) -> dict:
        """Several decoded fields of ``rows`` at once: {field: array of its dtype}
        (``fields_into`` on fresh arrays)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = {f: np.empty(len(rows), dtype=dt) for f, dt in dtypes.items()}
        self.fields_into(rows, out, chunk)
        return out

    def fields_into(self, rows, out: dict, chunk: int = 1 << 14) -> None:
        """Write decoded fields of ``rows`` into ``out`` ({field: array of len(rows)}).

        Rows are copied a cache-sized chunk at a time and each field taken from
        the chunk, so every record is read from memory once however many fields
        are wanted, and no (rows x 12) temporary is made.  A narrower dtype keeps
        the low bytes of the field, as ``column`` does.  ``out`` may hold slices
        of bigger arrays (df_page_owner fills its columns a section at a time).
        """
        k = len(rows)
        view = self.rows
        tmp = np.empty((min(chunk, k), _NF), dtype=np.int64)
        for a in range(0, k, chunk):
            r = rows[a:a + chunk]
            t = tmp[:len(r)]
            np.take(view, r, axis=0, out=t, mode="clip")
            for f, o in out.items():
                np.copyto(o[a:a + len(r)], t[:, f], casting="unsafe")
        for f, o in out.items():
            if f in _BIASED:
                o -= 1

    def as_numpy(self) -> np.ndarray:
        """Every row as an (n, 12) int64 array (a copy, decoded)."""
        return self.gather(np.arange(self.n, dtype=np.int64))


class PageOwner:
    """The page_owner client state of one simulated kernel."""

    def __init__(self, mm):
        self.mm = mm
        self.prof = mm.profile
        self.records = OwnerRecords()
        self.depot = StackDepot(mm.profile.stack_depth)
        self.dummy_handle = self.depot.stack_depot_save(_DUMMY_STACK)
        self.failure_handle = self.depot.stack_depot_save(_FAILURE_STACK)
        self.early_handle = self.depot.stack_depot_save(_EARLY_STACK)
        self.inited = False
        # show_stacks: outstanding base pages per handle, and LIFO order of first use

        self.count_threshold = 0
        self.current_handle = self.dummy_handle
        self._sections = mm.sections
        self._shift = mm.section_shift
        self._mask = mm.section_mask
        self._subpage = mm.profile.per_subpage_owner
        self._keep = mm.profile.keep_owner_after_free
        self._stacks = mm.profile.has_show_stacks
        mm.comm_id = self.records.comm_id(mm.comm)

    def stack_counts(self) -> dict[int, int]:
        """Outstanding base pages per stack handle (page_owner_stacks, v6.9+).

        The kernel keeps a refcount per stack record, raised by ``1 << order`` at
        allocation and lowered at free.  The simulator derives the same numbers
        when asked, from the page_ext records (every allocated page carries its
        allocation's handle), which keeps the allocation path cheap; migration's
        handle swap and pages leaving with an offlined section need no bookkeeping.
        The early-boot stack is not counted, as in the kernel.  Keys ascend in
        creation order: show_stacks prints newest first, the init-time dummy
        stacks last, as the kernel's LIFO stack list does.
        """
        mm = self.mm
        counts = None
        for sec in mm.sections:
            if sec is None or not sec.present:
                continue
            t = sec.page_ext
            if t is None or t.state != "online":
                continue
            owner = t.owner_if_written()
            if owner is None:
                continue
            live = (t.flags & PAGE_EXT_OWNER_ALLOCATED) != 0
            if not live.any():
                continue
            live &= ~covered_by_free(sec.flags_np(), sec.order_np())
            rows = owner[live]
            rows = rows[rows >= 0]
            if not len(rows):
                continue
            h = self.records.column(rows, R_HANDLE, np.int32)
            c = np.bincount(h, minlength=len(self.depot.stacks))
            counts = c if counts is None else counts + c
        if counts is None:
            return {}
        counts[self.early_handle] = 0
        counts[0] = 0
        nz = np.flatnonzero(counts)
        return {int(h): int(counts[h]) for h in nz}

    @property
    def stack_count(self) -> dict[int, int]:
        """``stack_counts()`` (kept for readers of the older attribute)."""
        return self.stack_counts()

    @property
    def stack_order(self) -> list[int]:
        """Stack handles with outstanding pages, oldest first."""
        return list(self.stack_counts())

    # --- hooks --------------------------------------------------------------------------------
    def set_page_owner(self, pfn: int, order: int, gfp: int) -> None:
        """__set_page_owner (post_alloc_hook): record who allocated 2^order pages at pfn."""
        self._hooks[0](pfn, order, gfp)

    def reset_page_owner(self, pfn: int, order: int) -> None:
        """__reset_page_owner (free_pages_prepare)."""
        self._hooks[1](pfn, order)

    def set_page_owner_runs(self, runs, gfp: int) -> None:
        """__set_page_owner of order-0 allocations in a row: ``runs`` is a list of
        (pfn, n), n pages from pfn up within one section, in allocation order.  Writes
        what one set hook call per page writes (pages without page_ext get no row),
        the rows in one block."""
        sections, shift, mask = self._sections, self._shift, self._mask
        tables = []
        total = 0
        for pfn, n in runs:
            t = sections[pfn >> shift].page_ext
            # owner_mv(): a table's first record makes its owner array, as in the hook
            if t is not None and t.owner_mv() is not None:
                tables.append((t, pfn & mask, n))
                total += n
        if not total:
            return
        mm = self.mm
        recs = self.records
        self.make_room(total)
        first = recs.n
        # whole rows, contiguous; the biased free-side fields 0: never migrated, never freed
        recs.rows[first:first + total] = (0, gfp, mm.current_handle, mm.clock_ns, mm.pid,
                                          mm.tgid, mm.comm_id, 0, 0, 0, 0, 0)
        recs.n = first + total
        ids = np.arange(first, first + total, dtype=np.int32)
        i = 0
        for t, off, n in tables:
            t.owner[off:off + n] = ids[i:i + n]
            t.flags[off:off + n] |= 3
            i += n

    def reserve_records(self, nr_pages: int) -> None:
        """Room for the records of ``nr_pages`` order-0 allocations about to come."""
        self.make_room(nr_pages)

    # --- the rows no page points at ---------------------------------------------------------
    def make_room(self, need: int) -> None:
        """Room for ``need`` more record rows.

        The kernel keeps a page's record in its page_ext, so a new allocation
        overwrites what the page held before and the records never outgrow the
        pages.  Here a record is a row that pages point at, and a row no page points
        at any more (its pages were allocated again, split, or left with their
        section) is garbage: when the table is full and holds at least half as many
        rows as there are pages with records, those rows are collected first
        (``collect_records``), and the table grows only if that left it more than
        half full.  Each collection scans the pages and rows once and is paid for by
        at least half a table of new rows, so the records stay within a few times
        the pages however long a run goes on.
        """
        recs = self.records
        if recs.n + need <= recs.cap:
            return
        arrays = self._owner_arrays()
        collect = recs.n >= sum(len(o) for o in arrays) // 2
        if collect:
            self.collect_records(arrays)
        if recs.n + need > (recs.cap // 2 if collect else recs.cap):
            recs.grow(need)

    def _owner_arrays(self) -> list:
        # every page's record row, once: each page_ext table's owner array (a FLATMEM
        # section's window is a view of its node table's, which is the one listed)
        return [o for o in (t.owner_if_written() for t in self.mm.page_ext.tables.values())
                if o is not None]

    def collect_records(self, arrays=None) -> int:
        """Drop the record rows no page points at, keeping the others in their order
        (so every frame reads as before), and point the pages at the rows' new
        places.  Returns the rows left."""
        try:                                    # compiled: one pass over pages and rows
            return self.records.compact(self._owner_arrays() if arrays is None else arrays)
        except IndexError as e:
            raise PextlabError(str(e)) from None

    def reset_page_owner_pfns(self, pfns: np.ndarray) -> None:
        """__reset_page_owner of order-0 frees of ``pfns`` (distinct, int64): what one
        reset hook call per page writes, page by page being independent."""
        if not len(pfns):
            return
        mm = self.mm
        shift, mask = self._shift, self._mask
        nrs = pfns >> shift
        by = np.argsort(nrs, kind="stable")
        snr = nrs[by]
        cuts = (np.flatnonzero(np.diff(snr)) + 1).tolist()
        recs = self.records
        for lo, hi in zip([0, *cuts], [*cuts, len(snr)]):
            t = self._sections[int(snr[lo])].page_ext
            if t is None or t.omv is None:
                continue
            off = pfns[by[lo:hi]] & mask
            if not self._keep:
                # v3.19..v5.3: the record is lost (PAGE_EXT_OWNER cleared)
                t.flags[off] &= 0xFC
                t.owner[off] = -1
                continue
            t.flags[off] &= 0xFD
            rows = t.owner[off]
            rows = rows[rows >= 0].astype(np.int64)
            if len(rows):
                recs.rows[rows, R_FREE_HANDLE:] = (mm.current_handle, mm.clock_ns, mm.pid + 1,
                                                   mm.tgid + 1)

    def fast_hooks(self):
        """(set, reset): the page_owner work of the allocator's hot path, compiled
        (``kernel/_page_owner.pyx``: __set_page_owner / __reset_page_owner).  Rebuilt
        after replacing ``self.records`` (``reset_records``)."""
        hooks = OwnerHooks(self)
        return SetPageOwner(hooks), ResetPageOwner(hooks)

    def install_hooks(self) -> None:
        """Point the allocator's alloc/free/split hooks at this client."""
        mm = self.mm
        self._hooks = self.fast_hooks()
        mm.alloc_hook, mm.free_hook = self._hooks
        mm.alloc_run_hook = (mm.alloc_hook, self.set_page_owner_runs, self.reserve_records)
        mm.free_run_hook = (mm.free_hook, self.reset_page_owner_pfns)
        mm.split_hook = self.split_page_owner

    def reset_records(self) -> None:
        """Forget every record (replay); stack counts restart; hooks rebuilt."""
        self.records = OwnerRecords()
        self.mm.comm_id = self.records.comm_id(self.mm.comm)
        self.install_hooks()

    def split_page_owner(self, pfn: int, old_order: int, new_order: int) -> None:
        """__split_page_owner: every subpage gets its own record of ``new_order``.

        v3.19 called set_page_owner(page + i, 0, 0) instead: gfp and stack lost.
        """
        sec = self._sections[pfn >> self._shift]
        t = sec.page_ext
        if t is None or t.omv is None:
            return                          # no table, or no record ever stored in it
        off = pfn & self._mask
        row = t.omv[off]
        if row < 0:
            return
        n = 1 << old_order
        step = 1 << new_order
        recs = self.records
        for i in range(0, n, step):
            r = recs.copy_row(row)
            recs.set(r, R_ORDER, new_order)
            if not self.prof.per_subpage_owner:
                recs.set(r, R_GFP, 0)
                recs.set(r, R_HANDLE, 0)
            t.owner[off + i:off + i + step] = r
            t.flags[off + i:off + i + step] |= PAGE_EXT_OWNER | (
                PAGE_EXT_OWNER_ALLOCATED if self.prof.per_subpage_owner else 0)

    def folio_copy_owners(self, moved, reason: str, target_stack) -> int:
        """__folio_copy_owner for every migrated block (v6.10+ semantics: each subpage
        of the target gets a copy of the source's record, with ``last_migrate_reason``
        set); the sources then carry the migration target's stack (``target_stack``,
        mm/migrate.c), as their records will be freed from there.  A target whose
        source had no record keeps the record its own allocation made, on that stack.

        ``moved`` = [(old_pfn, new_pfn, order)].  Returns the base pages whose
        records were copied.
        """
        recs = self.records
        hooks = self._hooks[0].hooks            # the compiled OwnerHooks (kernel/_page_owner.pyx)
        if not isinstance(moved, list):
            moved = list(moved)
        old_rows = hooks.source_rows(moved)
        have = old_rows >= 0
        block = recs.gather(old_rows[have])
        block[:, R_REASON] = MIGRATE_REASONS.index(reason)
        n0 = recs.add_rows(block) if len(block) else len(recs)
        new_rows = np.full(len(moved), -1, dtype=np.int64)
        new_rows[have] = n0 + np.arange(int(have.sum()))
        migrate_handle = self.depot.stack_depot_save(target_stack)
        hooks.point_targets(moved, new_rows, migrate_handle)
        # the sources now carry the migration stack (their free will count it down)
        recs.rows[old_rows[have], R_HANDLE] = migrate_handle
        # show_stacks counts derive from the records (PageOwner.stack_counts), so the
        # kernel's refcount transfer needs no bookkeeping here
        orders = np.fromiter((o for _, _, o in moved), dtype=np.int64, count=len(moved))
        return int((np.int64(1) << orders[have]).sum())

    # --- boot -----------------------------------------------------------------------------------
    def init_early_allocated_pages(self) -> None:
        """Mark pages allocated before page_owner started (init_pages_in_zone).

        Skips buddy pages, reserved pages and pages that already have an owner;
        the rest get order 0, gfp 0 and the early stack.  Guard pages are not
        PageBuddy, so they are counted too, as on the real kernel (g-1G-guard).
        Prints the count per zone.
        """
        mm = self.mm
        recs = self.records
        row = recs.add(0, 0, self.early_handle, mm.clock_ns, 1, 1, recs.comm_id("swapper/0"))
        pps = mm.pages_per_section
        for zone in mm.all_zones():
            if not zone.present_pages:
                continue
            count = 0
            z0, z1 = zone.zone_start_pfn, zone.zone_end_pfn
            nr0 = z0 >> mm.section_shift
            nr1 = (z1 - 1) >> mm.section_shift
            for nr in range(nr0, nr1 + 1):
                sec = mm.sections[nr]
                if sec is None or not sec.present or zone.nid not in sec.nids or sec.page_ext is None:
                    continue
                t = sec.page_ext
                lo = max(z0, sec.start_pfn) - sec.start_pfn
                hi = min(z1, sec.start_pfn + pps) - sec.start_pfn
                fl = sec.flags_np()[lo:hi]
                od = sec.order_np()[lo:hi]
                heads = np.flatnonzero((fl & PG_BUDDY) != 0)
                nfree = int((np.int64(1) << od[heads].astype(np.int64)).sum())
                if nfree + np.count_nonzero(fl & PG_RESERVED) == hi - lo:
                    continue        # every page free or reserved (most of a fresh machine)
                free = covered_by_free(fl, od)
                cand = ~free & ((fl & PG_RESERVED) == 0)
                ext = t.flags[lo:hi]
                cand &= (ext & PAGE_EXT_OWNER) == 0
                idx = np.flatnonzero(cand)
                if len(idx):
                    t.owner[lo + idx] = row
                    t.flags[lo + idx] |= 3 if self.prof.per_subpage_owner else PAGE_EXT_OWNER
                    count += len(idx)
            mm.printk(f"Node {zone.nid}, zone {zone.name:>8s}: page owner found early allocated "
                      f"{count} pages")
        self.inited = True


def need_page_owner(m) -> bool:
    """mm/page_owner.c need_page_owner: page_owner=on."""
    return bool(m.params.page_owner)


def init_page_owner(m) -> None:
    """mm/page_owner.c init_page_owner: the client, its hooks, the early pages' records."""
    po = PageOwner(m)
    m.page_owner = po
    m.current_handle = po.dummy_handle
    po.install_hooks()
    po.init_early_allocated_pages()


def page_owner_ops(mm) -> PageExtOperations:
    """The client's ``page_ext_operations``: need() is ``page_owner=on``.  Its functions
    are module-level, so a machine pickles."""
    return PageExtOperations("page_owner", need_page_owner, init_page_owner,
                             size=mm.profile.page_owner_size, need_shared_flags=True)


def _dump_page_owner(self, pfn: int) -> list[str]:
    """dump_page_owner(): the owner lines dump_page() appends (mm/page_owner.c, ≈6.8-6.12)."""
    mm = self.mm
    t = mm.sections[pfn >> self._shift].page_ext if mm.section_of(pfn) else None
    if t is None:
        return ["There is not page extension available."]
    off = pfn & self._mask
    flags = int(t.flags[off])
    owner = t.owner_if_written()
    row = int(owner[off]) if owner is not None else -1
    if not flags & PAGE_EXT_OWNER or row < 0:
        return ["page_owner info is not present (never set?)"]
    out = []
    if self.prof.keep_owner_after_free:
        out.append("page_owner tracks the page as allocated" if flags & PAGE_EXT_OWNER_ALLOCATED
                   else "page_owner tracks the page as freed")
    r = self.records.as_numpy()[row]

    mt = self.prof.migratetype_names[gfp_migratetype(int(r[R_GFP]), self.prof)]
    comm = self.records.comms[int(r[R_COMM])]
    out.append(f"page last allocated via order {int(r[R_ORDER])}, migratetype {mt}, gfp_mask "
               f"{int(r[R_GFP]):#x}({format_gfp(int(r[R_GFP]), self.prof)}), pid {int(r[R_PID])}, "
               f"tgid {int(r[R_TGID])} ({comm}), ts {int(r[R_TS])}, free_ts {int(r[R_FREE_TS])}")
    h = int(r[R_HANDLE])
    out.extend(f" {f}" for f in self.depot.fetch(h)) if h else out.append(
        "page_owner allocation stack trace missing")
    if self.prof.keep_owner_after_free:
        out.append(f"page last free pid {int(r[R_FREE_PID])} tgid {int(r[R_FREE_TGID])} stack trace:")
        fh = int(r[R_FREE_HANDLE])
        if fh:
            out.extend(f" {f}" for f in self.depot.fetch(fh))
        else:
            out.append("page_owner free stack trace missing")
    reason = int(r[R_REASON])
    if reason >= 0:
        out.append(f"page has been migrated, last migrate reason: {MIGRATE_REASONS[reason]}")
    return out


PageOwner.dump_page_owner = _dump_page_owner


def _owner_of(self, pfn: int):
    """(comm, pid, stack handle) of the record page_owner holds for ``pfn`` as
    allocated, or None (no page_ext, no record, or the page is not allocated)."""
    mm = self.mm
    t = mm.sections[pfn >> self._shift].page_ext if mm.section_of(pfn) else None
    owner = None if t is None else t.owner_if_written()
    if owner is None:
        return None
    off = pfn & self._mask
    row = int(owner[off])
    if row < 0 or not int(t.flags[off]) & PAGE_EXT_OWNER_ALLOCATED:
        return None
    return (self.records.comms[self.records.get(row, R_COMM)], self.records.get(row, R_PID),
            self.records.get(row, R_HANDLE))


PageOwner.owner_of = _owner_of
