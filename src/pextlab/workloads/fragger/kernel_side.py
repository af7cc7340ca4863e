"""The kernel side of fragger: the page allocations its system calls make, with real stacks.

:class:`FraggerKernel` allocates through the simulated buddy allocator with the
gfp flags, orders and real 6.12 stacks (``data/stacks/catalogue.json``, or
symbolic frames where the catalogue has none) of each allocation kind
(``PAGE_KINDS`` and the slab caches of :mod:`.slab`), as the task set with
:meth:`~FraggerKernel.set_task`, and counts the pages held per kind.

Pages that migrate.  Anonymous and shmem pages are LRU pages: compaction and
memory offlining move them (mm/migrate.c ``migrate_pages``), and the kernel
re-points every mapping of a moved page through the reverse map it keeps in
the page itself (``page->mapping``/``page->index``; ``rmap_walk`` ->
``remove_migration_ptes``, and ``folio_migrate_mapping`` for the page cache).
The process never sees a pfn: it unmaps an address range or unlinks a file.
The simulated process holds *slots* instead (:class:`PageSlots`):
:meth:`~FraggerKernel.map_page` puts each LRU page it hands out in a slot of
``lru`` (slot -> pfn) and records the slot in ``rmap`` (pfn -> slot, one entry
per page frame, like ``page->index``); :meth:`PageSlots.follow_migration`,
registered on ``mm.migrate_notifiers`` while the workload runs, moves each
migrated page's slot to its new pfn.  The follower's object holds nothing but
the two flat ``array`` s, so a snapshot taken during the run (a deep copy of
the machine, notifiers included) copies them in one go.  Slab pages, page
tables, kernel stacks and pipe buffers are not LRU pages and never move
(``isolate_migratepages_block`` takes LRU and movable_ops pages only), so they
are held as plain pfns.

The process's page tables are modelled too: touching an anonymous page
allocates its pte page (one per 2 MiB) and pmd page (one per 1 GiB) first;
unmapping the last page of a range frees them (``free_pgtables``).
"""
from __future__ import annotations

from array import array

from ...errors import PextlabError
from ...kernel import page_alloc
from ..catalogue import load_catalogue
from .slab import SLAB_CACHES, KmemCache

__all__ = ["PAGE_KINDS", "PageSlots", "FraggerKernel"]

# module-level aliases: inside a class body the dunder name would be mangled
_alloc = page_alloc.__alloc_pages
_free = page_alloc.free_pages

#: page allocations that are not slab: (catalogue id, gfp, order)
PAGE_KINDS = {
    "anon": ("anon-0", "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO", 0),
    "anon_cow": ("anon-2", "GFP_HIGHUSER_MOVABLE|__GFP_COMP", 0),
    "argpage": ("populate-1", "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO", 0),
    "shmem": ("page_cache-0", "GFP_HIGHUSER_MOVABLE|__GFP_COMP", 0),
    "pipe": ("pipe-0", "GFP_HIGHUSER|__GFP_ACCOUNT", 0),
    "pte": ("page_tables-0", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pte_do_fault": ("page_tables-4", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pte_relocate": ("page_tables-8", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pmd": ("page_tables-1", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pmd_relocate": ("page_tables-9", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pud": ("page_tables-3", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pud_gup": ("page_tables-6", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pgd": ("page_tables-7", "GFP_KERNEL_ACCOUNT|__GFP_ZERO", 0),
    "kstack": ("kernel_stack-0", "GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN|__GFP_ZERO", 0),
    "kmalloc_large": ("kmalloc_large-0", "GFP_KERNEL_ACCOUNT|__GFP_NOWARN|__GFP_COMP|__GFP_ZERO", 2),
}
# the catalogue's free stack each page kind is freed with (page tables otherwise)
_FREE_KIND = {"anon": "anon", "anon_cow": "anon", "argpage": "anon", "shmem": "page_cache",
              "pipe": "pipe", "kstack": "kernel_stack", "kmalloc_large": "kmalloc_large"}


class PageSlots:
    """The LRU pages a process holds, by slot, and their reverse map (pfn -> slot).

    Slots are never reused; an empty slot holds -1 (freed, or the allocation failed).
    """

    def __init__(self, nr_pfns: int):
        self.lru = array("q")                       # slot -> pfn
        self.rmap = array("i", [-1]) * nr_pfns       # pfn -> slot, -1: none

    def add(self, pfn: int) -> int:
        """A new slot holding ``pfn`` (-1: an empty slot)."""
        s = len(self.lru)
        self.lru.append(pfn)
        if pfn >= 0:
            self.rmap[pfn] = s
        return s

    def take(self, s: int) -> int:
        """Empty slot ``s``; returns the pfn it held (-1 if none)."""
        pfn = self.lru[s]
        if pfn >= 0:
            self.lru[s] = -1
            self.rmap[pfn] = -1
        return pfn

    def follow_migration(self, moved, reason: str) -> None:
        """A ``mm.migrate_notifiers`` follower: move the slot of every migrated page to its
        new pfn.  ``moved`` is [(old_pfn, new_pfn, order)]
        (``pextlab.kernel.migrate.notify_moved``)."""
        lru, rmap = self.lru, self.rmap
        hits = []
        for old, new, _ in moved:
            s = rmap[old]
            if s >= 0:
                rmap[old] = -1
                hits.append((s, new))
        for s, new in hits:
            lru[s] = new
            rmap[new] = s


class FraggerKernel:
    """What the workload's system calls allocate, on one simulated machine (``mm``)."""

    def __init__(self, mm, comm: str = "fragger", pid: int = 199):
        self.mm = mm
        self.po = mm.page_owner
        self.cat = load_catalogue()
        self._kinds: dict[str, tuple[int, int, int, int]] = {}
        self.caches = {k: KmemCache(self, k, s) for k, s in SLAB_CACHES.items()}
        self.failed = 0
        self.counts: dict[str, int] = {}
        self.comm, self.pid = comm, pid
        #: the LRU pages handed out, by slot
        self.lru = PageSlots(mm.max_section_pfn)
        # top-down virtual address allocator of the fragger process (in pages)
        self.next_va = 0x7F0000000000 >> 12
        self.pte_ref: dict[int, int] = {}       # 2 MiB region -> mapped pages
        self.pte_pfn: dict[int, int] = {}
        self.pmd_ref: dict[int, int] = {}       # 1 GiB region -> pte pages
        self.pmd_pfn: dict[int, int] = {}
        self.set_task(comm, pid, pid)

    # --- context -----------------------------------------------------------------------------
    def set_task(self, comm: str, pid: int, tgid: int) -> None:
        """The task the next allocations and frees are done by (page_owner's comm/pid/tgid)."""
        mm = self.mm
        mm.comm, mm.pid, mm.tgid = comm, pid, tgid
        mm.comm_id = self.po.records.comm_id(comm) if self.po is not None else 0

    def _gfp(self, text: str) -> int:
        mm = self.mm
        v = 0
        for part in text.split("|"):
            try:
                v |= mm.gfp(part)
            except PextlabError:
                pass                              # a flag this profile does not have
        return v

    def alloc_kind(self, key: str, slab: bool) -> tuple[int, int, int, int]:
        """(gfp mask, order, alloc stack handle, free stack handle) of allocation kind ``key``
        (a slab cache of ``SLAB_CACHES`` if ``slab``, else a ``PAGE_KINDS`` kind)."""
        s = self._kinds.get(key)
        if s is None:
            if slab:
                spec = SLAB_CACHES[key]
                sid, gfp, order, frames = spec.stack, spec.gfp, spec.order, spec.frames
                free_kind = "slab_reclaimable" if "RECLAIMABLE" in gfp else "slab"
            else:
                sid, gfp, order = PAGE_KINDS[key]
                frames = ()
                free_kind = _FREE_KIND.get(key, "page_tables")
            if sid:
                frames = self.cat[sid].frames
            handle = fhandle = 0
            if self.po is not None:
                handle = self.po.depot.stack_depot_save(frames)
                fr = self.cat.free_stacks.get(free_kind, self.cat.free_stacks["other"])
                fhandle = self.po.depot.stack_depot_save(fr)
            s = self._kinds[key] = (self._gfp(gfp), order, handle, fhandle)
        return s

    # --- pages ---------------------------------------------------------------------------------
    def alloc_page(self, key: str, order: int | None = None, slab: bool = False) -> int:
        """Allocate one block of kind ``key`` (its own order unless ``order``); -1 on failure."""
        gfp, o, handle, _ = self.alloc_kind(key, slab)
        if order is not None:
            o = order
        mm = self.mm
        mm.current_handle = handle
        pfn = _alloc(mm, gfp, o, None)
        if pfn < 0:
            self.failed += 1
        else:
            self.counts[key] = self.counts.get(key, 0) + (1 << o)
        return pfn

    def free_page(self, key: str, pfn: int, order: int | None = None, slab: bool = False) -> None:
        """Free a block of kind ``key`` (nothing for a failed allocation, ``pfn < 0``)."""
        if pfn < 0:
            return
        _, o, _, fhandle = self.alloc_kind(key, slab)
        if order is not None:
            o = order
        self.mm.current_handle = fhandle
        _free(self.mm, pfn, o)
        self.counts[key] -= 1 << o

    def map_page(self, key: str, slots: list) -> int:
        """Allocate an LRU page of kind ``key`` into a new slot, appended to ``slots`` (the
        holder's mapping or page cache).  Returns the pfn (-1 on failure: the slot stays
        empty)."""
        pfn = self.alloc_page(key)
        lru = self.lru                          # PageSlots.add, inlined: the fill's hot path
        s = len(lru.lru)
        lru.lru.append(pfn)
        if pfn >= 0:
            lru.rmap[pfn] = s
        slots.append(s)
        return pfn

    def unmap_pages(self, key: str, slots: list) -> None:
        """Free the page of every slot of ``slots`` (from :meth:`map_page`) and empty it."""
        take = self.lru.take
        for s in slots:
            self.free_page(key, take(s))
        slots.clear()

    def attach(self) -> None:
        """Follow migrations from now on (registers :meth:`PageSlots.follow_migration`)."""
        self.mm.migrate_notifiers.append(self.lru.follow_migration)

    def detach(self) -> None:
        """Stop following migrations."""
        self.mm.migrate_notifiers.remove(self.lru.follow_migration)

    # --- slab objects ----------------------------------------------------------------------------
    def obj(self, cache: str):
        """kmem_cache_alloc from ``SLAB_CACHES[cache]``: the object's slab (None on failure)."""
        return self.caches[cache].alloc()

    def unobj(self, cache: str, s) -> None:
        """kmem_cache_free of an object :meth:`obj` returned."""
        self.caches[cache].free(s)

    # --- the fragger process's own anonymous mappings ------------------------------------------
    def mmap(self, npages: int) -> int:
        """A new anonymous mapping of ``npages``: its first virtual page number."""
        self.next_va -= npages + 1                # a guard gap between mappings
        return self.next_va

    def touch_anon(self, va: int, slots: list) -> int:
        """Fault the anonymous page at ``va`` in: page tables first, then the zeroed page,
        whose slot is appended to ``slots`` (the mapping's pages, in address order)."""
        r = va >> 9
        if r not in self.pte_pfn:
            g = r >> 9
            if g not in self.pmd_pfn:
                self.pmd_pfn[g] = self.alloc_page("pmd")
                self.pmd_ref[g] = 0
            self.pmd_ref[g] += 1
            self.pte_pfn[r] = self.alloc_page("pte")
            self.pte_ref[r] = 0
        self.pte_ref[r] += 1
        return self.map_page("anon", slots)

    def unmap_anon(self, va: int, slots: list) -> None:
        """munmap of the mapping at ``va`` whose pages are in ``slots``: each page, then the
        page tables left without a mapped page (``free_pgtables``)."""
        take = self.lru.take
        for i, s in enumerate(slots):
            self.free_page("anon", take(s))
            r = (va + i) >> 9
            self.pte_ref[r] -= 1
            if not self.pte_ref[r]:
                self.free_page("pte", self.pte_pfn.pop(r))
                del self.pte_ref[r]
                g = r >> 9
                self.pmd_ref[g] -= 1
                if not self.pmd_ref[g]:
                    self.free_page("pmd", self.pmd_pfn.pop(g))
                    del self.pmd_ref[g]
        slots.clear()
