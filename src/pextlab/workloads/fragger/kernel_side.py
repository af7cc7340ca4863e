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

The work per page -- each allocation and free, the slots, the page tables, the
slab caches -- is compiled (``_kernel_side.pyx``, :class:`~._kernel_side.KernelCore`,
which :class:`FraggerKernel` extends): the fill makes about 180 k page allocations
on 1 GiB, each a C call to the kernel's compiled fast path.
"""
from __future__ import annotations

from ...errors import PextlabError
from ..catalogue import load_catalogue
from .slab import SLAB_CACHES
# compiled: workloads/fragger/_kernel_side.pyx (the pextlab package checks that it is built)
from ._kernel_side import KernelCore, PageSlots

__all__ = ["PAGE_KINDS", "ALLOC_KINDS", "PageSlots", "FraggerKernel"]

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


#: every allocation kind, page kinds then slab caches: one namespace
ALLOC_KINDS = tuple(PAGE_KINDS) + tuple(SLAB_CACHES)


class FraggerKernel(KernelCore):
    """What the workload's system calls allocate, on one simulated machine (``mm``).

    The per-page methods (``alloc_page``, ``free_page``, ``map_page``, ``unmap_pages``,
    ``touch_anon``, ``unmap_anon``, ``obj``, ``unobj``), ``set_task`` (once per chunk of
    work) and ``counts``, ``failed``, ``lru``, ``po`` (``mm.page_owner``) are the compiled
    :class:`~._kernel_side.KernelCore`'s; this class adds what runs once per kind.
    """

    def __init__(self, mm, comm: str = "fragger", pid: int = 199):
        super().__init__(mm, ALLOC_KINDS, SLAB_CACHES)
        self.cat = load_catalogue()
        self._kinds: dict[str, tuple[int, int, int, int]] = {}
        self.comm, self.pid = comm, pid
        self.set_task(comm, pid, pid)

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

    def attach(self) -> None:
        """Follow migrations from now on (registers :meth:`PageSlots.follow_migration`)."""
        self.mm.migrate_notifiers.append(self.lru.follow_migration)

    def detach(self) -> None:
        """Stop following migrations."""
        self.mm.migrate_notifiers.remove(self.lru.follow_migration)

    # --- the fragger process's own anonymous mappings ------------------------------------------
    def mmap(self, npages: int) -> int:
        """A new anonymous mapping of ``npages``: its first virtual page number."""
        self.next_va -= npages + 1                # a guard gap between mappings
        return self.next_va
