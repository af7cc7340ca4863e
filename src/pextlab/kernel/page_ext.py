"""page_ext: extra per-page data kept outside struct page (mm/page_ext.c).

Design, as in the kernel (v3.19: commit eefa864b701d introduced page_ext and
48c96a3685 its page_owner client; and v6.12):

* Clients register a ``PageExtOperations`` (``need``, ``init``, and since v4.9
  ``size``/``offset``, since v6.3 ``need_shared_flags``).  At boot
  ``invoke_need_callbacks`` asks each client whether it needs page_ext this
  boot; if none does, nothing is allocated at all -- that is the point of the
  framework.  Otherwise the client areas are laid out in array order and
  ``invoke_init_callbacks`` runs once the tables exist.
* SPARSEMEM: one table per present memory section, allocated with
  ``alloc_pages_exact_nid`` on the section's node (``vzalloc`` fallback), at
  ``page_ext_init`` for boot memory and from the memory-hotplug notifier at
  MEM_GOING_ONLINE for hot-added memory; freed at MEM_OFFLINE and
  MEM_CANCEL_ONLINE.  A failure while onlining rolls back and vetoes the
  online.  A failure at boot panics.
* FLATMEM: one table per node from memblock at ``page_ext_init_flatmem``,
  sized by the node's spanned pages plus MAX_ORDER_NR_PAGES of padding when the
  node is not MAX_ORDER aligned; no hotplug.

The tables consume simulated memory exactly where the kernel puts them (the
allocator hands out real simulated pages), so ``page_owner=on`` leaves less for
workloads and can pin a hot-added block (the i-hotplug EBUSY).

Simulator storage: per table, numpy arrays of per-page data for each active
client (``flags`` for the shared flags word, ``owner`` for page_owner's record
index), held by the compiled base class ``PageExtArrays`` (``_page_ext.pyx``):
page_owner's hooks reach them through C pointers, Python code through the arrays
and their memoryviews (``fmv``, ``omv``).  ``bytes``/``pages`` report the
kernel's own accounting (``total_usage``), not the simulator's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import KernelPanic
from .fastpath import free_pages
from .page_alloc import alloc_pages, alloc_pages_exact_nid, free_pages_exact

# compiled: kernel/_page_ext.pyx (the pextlab package checks that it is built)
from ._page_ext import PageExtArrays

__all__ = ["PageExtOperations", "PageExtTable", "PageExt", "MEM_ONLINE", "MEM_GOING_OFFLINE",
           "MEM_OFFLINE", "MEM_GOING_ONLINE", "MEM_CANCEL_ONLINE", "MEM_CANCEL_OFFLINE",
           "PAGE_EXT_OWNER", "PAGE_EXT_OWNER_ALLOCATED", "PAGE_EXT_DEBUG_POISON",
           "PAGE_EXT_DEBUG_GUARD", "ENOMEM"]

# module-level alias: inside a class body the dunder name would be mangled

# include/linux/memory.h notifier actions
MEM_ONLINE = 1 << 0
MEM_GOING_OFFLINE = 1 << 1
MEM_OFFLINE = 1 << 2
MEM_GOING_ONLINE = 1 << 3
MEM_CANCEL_ONLINE = 1 << 4
MEM_CANCEL_OFFLINE = 1 << 5
ENOMEM = 12

# page_ext->flags bits.  v6.12: PAGE_EXT_OWNER, PAGE_EXT_OWNER_ALLOCATED.
# v3.19: PAGE_EXT_DEBUG_POISON, PAGE_EXT_DEBUG_GUARD, PAGE_EXT_OWNER (we keep one
# bit assignment for both; the profile decides which bits are used).
PAGE_EXT_OWNER = 0x01
PAGE_EXT_OWNER_ALLOCATED = 0x02
PAGE_EXT_DEBUG_POISON = 0x04
PAGE_EXT_DEBUG_GUARD = 0x08


@dataclass
class PageExtOperations:
    """``struct page_ext_operations``."""
    name: str
    need: Callable
    init: Callable | None = None
    size: int = 0
    need_shared_flags: bool = False
    offset: int = 0
    needed: bool = False


class PageExtTable(PageExtArrays):
    """One page_ext table: a section's (SPARSEMEM) or a node's (FLATMEM).

    ``flags`` and ``owner`` are the C-backed arrays of :class:`PageExtArrays`
    (``kernel/_page_ext.pyx``).  ``owner`` (page_owner's record row per page, -1
    for none; None without page_owner) is made on first use: a table that never
    held a record costs the simulator no memory, as most of a big machine's tables
    at boot.  Code that only reads records asks ``owner_if_written()`` so as not to
    make it.
    """

    __slots__ = ("nid", "section", "start_pfn", "nr_pages", "bytes", "pages", "via",
                 "table_pfn", "vmalloc_pfns", "state")
    # what a copy or a pickle holds (fmv/omv are remade from the arrays)
    _FIELDS = __slots__ + ("flags", "with_owner", "_owner")

    def __init__(self, nid, section, start_pfn, nr_pages, nbytes, via, table_pfn,
                 with_owner: bool, storage_pages: int):
        self.nid = nid
        self.section = section
        self.start_pfn = start_pfn
        self.nr_pages = nr_pages
        self.bytes = nbytes
        self.pages = (nbytes + 4095) >> 12
        self.via = via
        self.table_pfn = table_pfn
        self.vmalloc_pfns: list[int] = []
        self.state = "online"
        # simulator storage (zeroed, as __GFP_ZERO / vzalloc give)
        self.flags = np.zeros(storage_pages, dtype=np.uint8)
        self.with_owner = with_owner

    def __reduce__(self):
        return (_blank, (type(self),), self.__getstate__())

    def __getstate__(self):
        return {k: getattr(self, k) for k in self._FIELDS}

    def __setstate__(self, state):
        if "owner" in state:                    # a copy made before owner was lazy
            state = dict(state)
            state["_owner"] = state.pop("owner")
            state.setdefault("with_owner", state["_owner"] is not None)
        state = {k: v for k, v in state.items() if k not in ("fmv", "omv")}
        for k, v in state.items():
            setattr(self, k, v)


class _SectionView(PageExtArrays):
    """FLATMEM: a section-sized window on a node table, so lookups stay uniform.  A
    copy or a pickle is a window on the copied table (pages ``lo`` to ``lo + n``), so
    the copy's hooks, which write through the sections, and its node table still
    see one array."""
    __slots__ = ("table", "state", "lo")

    def __init__(self, table: PageExtTable, lo: int, n: int):
        self.table = table
        self.lo = lo
        self.flags = table.flags[lo:lo + n]
        self.with_owner = table.with_owner
        self.owner = None if table.owner is None else table.owner[lo:lo + n]
        self.state = "online"

    def __reduce__(self):
        return (_section_view, (self.table, self.lo, len(self.flags), self.state))


def _section_view(table: PageExtTable, lo: int, n: int, state: str) -> _SectionView:
    v = _SectionView(table, lo, n)
    v.state = state
    return v


def _blank(cls):
    # the object a copy or an unpickle fills in (__setstate__), made without __init__
    return cls.__new__(cls)


class PageExt:
    """The page_ext core of one simulated kernel."""

    def __init__(self, mm, ops: list[PageExtOperations]):
        self.mm = mm
        self.ops = ops
        self.total_usage = 0
        self.page_ext_size = 0
        self.enabled = False           # some client needed page_ext this boot
        self.notifier_registered = False
        self.tables: dict = {}         # section nr (sparse) or ("node", nid) (flat) -> table
        self.with_owner = False
        # fault injection: called as fail(nid, section) -> bool before each table allocation
        self.fail_alloc: Callable | None = None
        self.events: list[tuple] = []  # (action, start_pfn, nr_pages, result)

    # --- clients ---------------------------------------------------------------------------
    def invoke_need_callbacks(self) -> bool:
        """Lay out the client areas; True if any client needs page_ext.

        v6.3+ two passes: the shared flags word first if a flags user is active,
        then each needing client's area at the next offset.  v3.19: one fixed struct.
        """
        prof = self.mm.profile
        need_flags = False
        for op in self.ops:
            op.needed = bool(op.need(self.mm))
            if op.needed and op.need_shared_flags:
                need_flags = True
        needed = tuple(op.name for op in self.ops if op.needed)
        if not needed:
            return False
        size = prof.page_ext_flags_size if (need_flags or not prof.need_shared_flags) else 0
        if prof.name == "v3.19":
            size = prof.page_ext_size(needed)
        else:
            for op in self.ops:
                if op.needed:
                    op.offset = size
                    size += op.size
        self.page_ext_size = size
        self.with_owner = "page_owner" in needed
        return True

    def invoke_init_callbacks(self) -> None:
        for op in self.ops:
            if op.needed and op.init is not None:
                op.init(self.mm)

    # --- lookup ----------------------------------------------------------------------------
    def lookup_page_ext(self, pfn: int):
        """Return (table_or_view, index) for ``pfn`` or None (no table / invalid)."""
        sec = self.mm.section_of(pfn)
        if sec is None or sec.page_ext is None:
            return None
        t = sec.page_ext
        if t.state != "online":
            return None
        return t, pfn & self.mm.section_mask

    # --- SPARSEMEM ---------------------------------------------------------------------------
    def alloc_page_ext(self, size: int, nid: int, section: int):
        """alloc_pages_exact_nid(GFP_KERNEL|__GFP_ZERO|__GFP_NOWARN), else vzalloc_node."""
        mm = self.mm
        if self.fail_alloc is not None and self.fail_alloc(nid, section):
            return None
        gfp = mm.gfp("GFP_KERNEL|__GFP_ZERO|__GFP_NOWARN")
        pfn = alloc_pages_exact_nid(mm, nid, size, gfp)
        if pfn >= 0:
            return ("pages", pfn, [])
        # vzalloc_node: order-0 pages from anywhere, preferring nid
        pages = []
        for _ in range((size + 4095) >> 12):
            p = alloc_pages(mm, gfp, 0, nid)
            if p < 0:
                for q in pages:
                    free_pages(mm, q, 0)
                return None
            pages.append(p)
        return ("vmalloc", -1, pages)

    def init_section_page_ext(self, pfn: int, nid: int) -> int:
        mm = self.mm
        nr = pfn >> mm.section_shift
        sec = mm.sections[nr]
        if sec.page_ext is not None:
            return 0
        table_size = self.page_ext_size * mm.pages_per_section
        got = self.alloc_page_ext(table_size, nid, nr)
        if got is None:
            mm.printk("page ext allocation failure")
            return -ENOMEM
        via, tpfn, vpages = got
        t = PageExtTable(nid, nr, nr << mm.section_shift, mm.pages_per_section, table_size, via,
                         tpfn, self.with_owner, mm.pages_per_section)
        t.vmalloc_pfns = vpages
        sec.page_ext = t
        self.tables[nr] = t
        self.total_usage += table_size
        return 0

    def free_page_ext(self, t: PageExtTable) -> None:
        mm = self.mm
        if t.via == "vmalloc":
            for p in t.vmalloc_pfns:
                free_pages(mm, p, 0)
        elif t.via == "pages":
            free_pages_exact(mm, t.table_pfn, t.bytes)

    def __free_page_ext(self, pfn: int) -> None:
        mm = self.mm
        nr = pfn >> mm.section_shift
        sec = mm.sections[nr] if 0 <= nr < mm.nr_sections else None
        if sec is None or sec.page_ext is None:
            return
        t = sec.page_ext
        sec.page_ext = None
        self.tables.pop(nr, None)
        self.total_usage -= t.bytes
        self.free_page_ext(t)

    def online_page_ext(self, start_pfn: int, nr_pages: int, nid: int) -> int:
        mm = self.mm
        pps = mm.pages_per_section
        start = start_pfn & ~mm.section_mask
        end = (start_pfn + nr_pages + pps - 1) & ~mm.section_mask
        if nid == -1:
            nid = mm.pfn_to_nid(start_pfn)
        pfn, fail = start, 0
        done = []
        while not fail and pfn < end:
            sec = mm.sections[pfn >> mm.section_shift]
            if sec is not None and sec.present:
                had = sec.page_ext is not None
                fail = self.init_section_page_ext(pfn, nid)
                if not fail and not had:
                    done.append(pfn)
            pfn += pps
        if not fail:
            return 0
        # rollback: v3.19..v6.12 free every section of the range, which can also
        # free a table that existed before the call (newer kernels free only the
        # prefix this call allocated).
        for p in range(start, end, pps):
            self.__free_page_ext(p)
        return -ENOMEM

    def offline_page_ext(self, start_pfn: int, nr_pages: int) -> int:
        mm = self.mm
        pps = mm.pages_per_section
        start = start_pfn & ~mm.section_mask
        end = (start_pfn + nr_pages + pps - 1) & ~mm.section_mask
        # v6.0+: mark invalid, synchronize_rcu(), then free (lookups see NULL meanwhile)
        for p in range(start, end, pps):
            sec = mm.section_of(p)
            if sec is not None and sec.page_ext is not None:
                sec.page_ext.state = "invalid"
        for p in range(start, end, pps):
            self.__free_page_ext(p)
        return 0

    def page_ext_callback(self, action: int, start_pfn: int, nr_pages: int, nid: int = -1) -> int:
        """The memory-hotplug notifier (registered by page_ext_init); 0 or -ENOMEM."""
        ret = 0
        if not self.notifier_registered:
            return 0       # page_ext_init() registers the notifier only when a client needs it
        if action == MEM_GOING_ONLINE:
            ret = self.online_page_ext(start_pfn, nr_pages, nid)
        elif action in (MEM_OFFLINE, MEM_CANCEL_ONLINE):
            self.offline_page_ext(start_pfn, nr_pages)
        self.events.append((action, start_pfn, nr_pages, ret))
        return ret

    def page_ext_init(self) -> None:
        """SPARSEMEM boot: a table for every present section of every node."""
        mm = self.mm
        if not self.invoke_need_callbacks():
            return
        pps = mm.pages_per_section
        for nid in sorted(mm.nodes):
            node = mm.nodes[nid]
            pfn, end = node.node_start_pfn, node.node_end_pfn
            while pfn < end:
                sec = mm.section_of(pfn)
                # skip !pfn_valid and sections of another node (interleaved layouts)
                if sec is not None and sec.present and sec.nid == nid:
                    if self.init_section_page_ext(pfn, nid):
                        mm.printk("Kernel panic - not syncing: Out of memory")
                        raise KernelPanic("Kernel panic - not syncing: Out of memory "
                                          "(page_ext allocation failed at boot)",
                                          "\n".join(mm.dmesg_lines))
                pfn = (pfn + pps) & ~mm.section_mask
        self.notifier_registered = True
        self.enabled = True
        mm.printk(f"allocated {self.total_usage} bytes of page_ext")
        self.invoke_init_callbacks()

    # --- FLATMEM -----------------------------------------------------------------------------
    def page_ext_init_flatmem(self) -> None:
        """FLATMEM boot: one memblock table per node, before the buddy allocator."""
        mm = self.mm
        if not self.invoke_need_callbacks():
            return
        mo = mm.profile.max_order_nr_pages
        for nid in sorted(mm.nodes):
            node = mm.nodes[nid]
            nr_pages = node.node_spanned_pages
            if not nr_pages:
                continue
            if node.node_start_pfn % mo or node.node_end_pfn % mo:
                nr_pages += mo
            table_size = self.page_ext_size * nr_pages
            npages = (table_size + 4095) >> 12
            fail = self.fail_alloc is not None and self.fail_alloc(nid, -1)
            tpfn = -1 if fail else mm.memblock.alloc(npages, "page_ext", nid=nid)
            if tpfn < 0:
                mm.printk("allocation of page_ext failed.")
                mm.printk("Kernel panic - not syncing: Out of memory")
                raise KernelPanic("Kernel panic - not syncing: Out of memory "
                                  "(allocation of page_ext failed.)", "\n".join(mm.dmesg_lines))
            base = node.node_start_pfn - node.node_start_pfn % mo
            # storage: cover whole sections so per-section views stay uniform
            s_lo = base & ~mm.section_mask
            s_hi = (node.node_end_pfn + mm.section_mask) & ~mm.section_mask
            t = PageExtTable(nid, -1, base, nr_pages, table_size, "memblock", tpfn,
                             self.with_owner, s_hi - s_lo)
            node.node_page_ext = t
            self.tables[("node", nid)] = t
            self.total_usage += table_size
            for p in range(s_lo, s_hi, mm.pages_per_section):
                sec = mm.section_of(p)
                if sec is not None and sec.nid == nid:
                    sec.page_ext = _SectionView(t, p - s_lo, mm.pages_per_section)
        self.enabled = True
        mm.printk(f"allocated {self.total_usage} bytes of page_ext")
        # invoke_init_callbacks() runs later (page_ext_init_flatmem_late, v6.1+;
        # at the end of page_ext_init_flatmem in v3.19), after the buddy is up.
