"""The hugetlb pool of 2 MiB pages (mm/hugetlb.c, v6.12), grown and shrunk through
``/proc/sys/vm/nr_hugepages``.

``set_max_huge_pages(mm, count)`` is what writing ``nr_hugepages`` does:

* grow: ``alloc_pool_huge_folio`` round-robin over the nodes with memory; each
  page is ``alloc_buddy_hugetlb_folio``: an order-9 ``__folio_alloc`` with
  ``htlb_alloc_mask`` (GFP_HIGHUSER_MOVABLE, hugepage migration is supported on
  x86_64) | __GFP_COMP | __GFP_NOWARN | __GFP_THISNODE, plus __GFP_RETRY_MAYFAIL
  unless the node already failed once in this write (``node_alloc_noretry``).
  So the allocator's slow path runs direct compaction (async, then sync-light,
  with retries) inside the write, as frag-s1's "probe1" shows.  The loop stops at
  the first failure on every node;
* shrink: free pool pages (``remove_pool_hugetlb_folio`` +
  ``update_and_free_hugetlb_folio``), the most recently allocated first, back to
  the buddy allocator.

Every pool page of the model is a *free* huge page (no mapping uses it), and free
huge pages are never migrated: memory offlining skips them when it looks for
movable pages (mm/memory_hotplug.c scan_movable_pages: only
``folio_test_hugetlb_migratable`` folios, i.e. in use, are migrated) and then
dissolves them (``dissolve_free_hugetlb_folios``: each one leaves the pool,
``max_huge_pages--``, and goes back to the buddy allocator inside the range being
offlined), so the pool shrinks by the pages the block held.  Compaction skips
them too (blocks of order >= pageblock_order).  The pool therefore never holds
a pfn that moved; ``debug.check_invariants`` checks that every pool pfn is an
allocated head of HUGETLB_PAGE_ORDER on its node.  alloc_contig_range (CMA)
replaces a free pool page in its range by a new one
(``HugetlbPool.alloc_and_dissolve_hugetlb_folio``).

The page_owner record of a pool page is the real one: order 9, the mask above,
the current task, and the stack of the write (``HUGETLB_ALLOC_STACK``, from the
frag-s1 page_owner dump).
"""
from __future__ import annotations

from .gfp import retry_mayfail_flag
from .page_alloc import alloc_pages, free_pages

__all__ = ["HUGETLB_ALLOC_STACK", "HUGETLB_REPLACE_STACK", "HugetlbPool", "hugetlb_pool", "set_max_huge_pages",
           "htlb_alloc_mask", "dissolve_free_hugetlb_folios"]

# 6.12.117 (frag-s1 page_owner.after_probe): the pool pages' allocation stack
HUGETLB_ALLOC_STACK = (
    "get_page_from_freelist+0x1673/0x1730",
    "__alloc_pages_noprof+0x12e/0x230",
    "__folio_alloc_noprof+0xf/0x30",
    "alloc_buddy_hugetlb_folio.isra.0+0x5b/0x100",
    "alloc_pool_huge_folio+0xdc/0xe0",
    "set_max_huge_pages+0x183/0x350",
    "hugetlb_sysctl_handler_common+0xc6/0xf0",
    "proc_sys_call_handler+0x158/0x210",
    "vfs_write+0x19b/0x2c0",
    "ksys_write+0x5a/0xd0",
    "do_syscall_64+0x3b/0xc0",
    "entry_SYSCALL_64_after_hwframe+0x4b/0x53",
)

# alloc_contig_range replacing a free pool page (no offsets: unknown in the captured build)
HUGETLB_REPLACE_STACK = (
    "get_page_from_freelist", "__alloc_pages_noprof", "__folio_alloc_noprof",
    "alloc_buddy_hugetlb_folio", "alloc_fresh_hugetlb_folio", "alloc_and_dissolve_hugetlb_folio",
    "isolate_or_dissolve_huge_page", "isolate_migratepages_block", "isolate_migratepages_range",
    "__alloc_contig_migrate_range", "alloc_contig_range_noprof", "__cma_alloc", "cma_alloc",
)


class HugetlbPool:
    """The default hstate (2 MiB): its free pages per node (``hugepage_freelists``).

    ``pages[nid]`` is an insertion-ordered dict used as the node's free list: keys
    are head pfns, the last key the most recently enqueued (the list head).
    """

    def __init__(self, mm):
        self.mm = mm
        self.order = mm.pageblock_order          # HUGETLB_PAGE_ORDER == pageblock_order on x86
        self.pages: dict[int, dict[int, None]] = {nid: {} for nid in sorted(mm.nodes)}
        self.next_nid = 0
        self.log: list[dict] = []                # one row per write

    @property
    def nr_hugepages(self) -> int:
        return sum(len(v) for v in self.pages.values())

    def pfns(self) -> list[int]:
        return [p for nid in sorted(self.pages) for p in self.pages[nid]]

    def __contains__(self, pfn: int) -> bool:
        """PageHuge: is ``pfn`` the head of one of the pool's pages?"""
        return any(pfn in d for d in self.pages.values())

    def alloc_and_dissolve_hugetlb_folio(self, pfn: int) -> int:
        """mm/hugetlb.c alloc_and_dissolve_hugetlb_folio, for alloc_contig_range: the
        free pool page at ``pfn`` is replaced by a fresh one on its node
        (alloc_fresh_hugetlb_folio with htlb_alloc_mask | __GFP_THISNODE; it cannot
        come from the isolated range) and freed to the buddy allocator.  0, or
        -ENOMEM (the kernel's -ENOMEM) when no new page can be had."""
        mm = self.mm
        nid = next(n for n, d in self.pages.items() if pfn in d)
        gfp = htlb_alloc_mask(mm) | mm.profile.gfp_bits["__GFP_THISNODE"]
        saved = mm.current_handle
        if mm.page_owner is not None:
            mm.current_handle = mm.page_owner.depot.stack_depot_save(HUGETLB_REPLACE_STACK)
        new = alloc_pages(mm, gfp, self.order, nid)
        mm.current_handle = saved
        if new < 0:
            return -12
        del self.pages[nid][pfn]
        self.pages[nid][new] = None          # enqueue_hugetlb_folio
        free_pages(mm, pfn, self.order)
        return 0


def hugetlb_pool(mm) -> HugetlbPool:
    return mm.hugetlb


def htlb_alloc_mask(mm) -> int:
    b = mm.profile.gfp_bits
    return (mm.gfp("GFP_HIGHUSER_MOVABLE") | b.get("__GFP_COMP", 0) | b["__GFP_NOWARN"])


def alloc_buddy_hugetlb_folio(mm, pool: HugetlbPool, nid: int, noretry: set) -> int:
    b = mm.profile.gfp_bits
    gfp = htlb_alloc_mask(mm) | b["__GFP_THISNODE"]
    try_hard = nid not in noretry
    if try_hard:
        gfp |= retry_mayfail_flag(mm.profile)
    pfn = alloc_pages(mm, gfp, pool.order, nid)
    if pfn >= 0 and not try_hard:
        noretry.discard(nid)
    if pfn < 0 and try_hard:
        noretry.add(nid)
    return pfn


def set_max_huge_pages(mm, count: int, comm: str = "sh", pid: int = 1) -> int:
    """Write ``count`` to nr_hugepages; returns the pool size after the write."""
    if count < 0:
        raise ValueError("nr_hugepages must be >= 0")
    pool = hugetlb_pool(mm)
    po = mm.page_owner
    saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
    mm.comm, mm.pid, mm.tgid = comm, pid, pid
    if po is not None:
        mm.comm_id = po.records.comm_id(comm)
        mm.current_handle = po.depot.stack_depot_save(HUGETLB_ALLOC_STACK)
    before = pool.nr_hugepages
    ev0 = dict(mm.vm_events)
    try:
        nids = [n for n in sorted(mm.nodes)
                if any(z.present_pages for z in mm.nodes[n].zones)]
        noretry: set = set()
        while pool.nr_hugepages < count and nids:
            # alloc_pool_huge_folio: for_each_node_mask_to_alloc, round robin
            got = -1
            for _ in range(len(nids)):
                nid = nids[pool.next_nid % len(nids)]
                pool.next_nid += 1
                got = alloc_buddy_hugetlb_folio(mm, pool, nid, noretry)
                if got >= 0:
                    pool.pages.setdefault(nid, {})[got] = None      # enqueue_hugetlb_folio
                    break
            if got < 0:
                break
        while pool.nr_hugepages > count:
            # remove_pool_hugetlb_folio: the node to free from round-robins too; the
            # folio is the list head (the most recently enqueued)
            nid = max(pool.pages, key=lambda n: (len(pool.pages[n]), -n))
            pfn = pool.pages[nid].popitem()[0]
            free_pages(mm, pfn, pool.order)
    finally:
        mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = saved
    ev = mm.vm_events
    pool.log.append({
        "time_ns": mm.clock_ns, "target": int(count), "before": before,
        "nr_hugepages": pool.nr_hugepages,
        **{k: ev.get(k, 0) - ev0.get(k, 0) for k in
           ("compact_stall", "compact_success", "compact_fail", "pgmigrate_success",
            "compact_migrate_scanned", "compact_free_scanned")},
    })
    return pool.nr_hugepages


def dissolve_free_hugetlb_folios(mm, start_pfn: int, end_pfn: int) -> int:
    """mm/hugetlb.c dissolve_free_hugetlb_folios: every free pool page with its head in
    [start_pfn, end_pfn) leaves the pool (``remove_hugetlb_folio``, ``max_huge_pages--``)
    and goes back to the buddy allocator (``update_and_free_hugetlb_folio``).

    Memory offlining calls it once the range has no movable page left; the pages
    freed land on the range's isolated free lists and go offline with it.  The
    kernel's -EBUSY cases (no available huge page because of reservations, no
    memory to restore an optimized vmemmap) do not exist in the model.  Returns
    the pages dissolved.
    """
    pool = hugetlb_pool(mm)
    n = 0
    for pages in pool.pages.values():
        for pfn in sorted(p for p in pages if start_pfn <= p < end_pfn):
            del pages[pfn]
            free_pages(mm, pfn, pool.order)
            n += 1
    return n
