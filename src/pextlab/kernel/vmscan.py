"""Page reclaim (mm/vmscan.c, v6.12): the LRU of reclaimable pages and ``shrink_node``.

The model's LRU holds what reclaim can take back without swap: clean page cache and
the pages of reclaimable slab caches.  Anonymous memory is never on it (no swap
device: ``can_reclaim_anon_pages`` is false), nor is anything unmovable.  One list
per node (the node's lruvec), oldest first: ``mm.lru[nid]`` is a
:class:`~pextlab.kernel._vmscan.LruList`, read and written as an insertion-ordered
dict ``pfn -> (order, holder)`` (it keeps one int per block in a C pfn table and a
registry of the holders, so the garbage collector has nothing per block to scan).  Whoever allocated a
reclaimable block puts it on the list (``lru_add``; ``folio_add_lru``) and takes it
off when it frees the block itself (``lru_del``); a block that migrates is taken
off and put back at its new pfn as the newest (``putback_movable_folio``).

``shrink_node`` takes blocks from the old end: it tells the holder
(``holder.reclaimed(pfn, order)``: the mapping loses the page, as
``__remove_mapping`` drops it from the page cache) and frees the block through the
normal free path, so page_owner records the free (by kswapd0, or by the task in
direct reclaim, with reclaim's stack).  Every block on the list is clean and
unmapped, so every page scanned is reclaimed (pgscan == pgsteal), except a block
someone pinned (``pin_user_pages``): reclaim leaves it, activated.

kswapd (``balance_pgdat``) lives with kcompactd's wake-up in
:mod:`~pextlab.kernel.compaction` and calls ``balance_node`` here; direct reclaim
(``__alloc_pages_direct_reclaim``) lives in :mod:`~pextlab.kernel.page_alloc` and
calls ``try_to_free_pages``.
"""
from __future__ import annotations

from .buddy import zone_watermark_ok
from .fastpath import free_pages
from .gfp import ZONE_NAMES
from .mmzone import folio_maybe_dma_pinned
from .ring_buffer import EV_FREE_BATCHED
from .vmstat import count_vm_event

# compiled: kernel/_vmscan.pyx (the pextlab package checks that it is built); the
# runner's replay calls them as C
from ._vmscan import lru_add, lru_del

__all__ = ["SWAP_CLUSTER_MAX", "RECLAIM_STACK", "KSWAPD_STACK", "DIRECT_STACK", "lru_add", "lru_del",
           "shrink_node", "balance_node", "try_to_free_pages"]

#: include/linux/swap.h: the batch one reclaim pass aims for
SWAP_CLUSTER_MAX = 32

#: the free stack page_owner records for a reclaimed page
RECLAIM_STACK = ("free_unref_folios+0x0/0x0", "shrink_folio_list+0x0/0x0",
                 "evict_folios+0x0/0x0", "try_to_shrink_lruvec+0x0/0x0",
                 "shrink_one+0x0/0x0", "shrink_node+0x0/0x0")
KSWAPD_STACK = RECLAIM_STACK + ("balance_pgdat+0x0/0x0", "kswapd+0x0/0x0",
                                "kthread+0x0/0x0", "ret_from_fork+0x0/0x0")
DIRECT_STACK = RECLAIM_STACK + ("do_try_to_free_pages+0x0/0x0", "try_to_free_pages+0x0/0x0",
                                "__alloc_pages_slowpath.constprop.0+0x0/0x0",
                                "__alloc_pages_noprof+0x0/0x0")


def _handle(mm, frames) -> int:
    po = mm.page_owner
    return po.depot.stack_depot_save(frames) if po is not None else 0


def _trace_free_batched(mm, tr, pfn: int, order: int) -> None:
    prof = mm.profile
    sec = mm.sections[pfn >> mm.section_shift]
    mt = sec.pageblock_mt[(pfn & mm.section_mask) >> mm.pageblock_order]
    if prof.pcp_allowed_order(order) and mt != prof.mt_isolate:
        tr.event(mm, EV_FREE_BATCHED, pfn, 0, 0, 0, 0)


def shrink_node(mm, nid: int, nr_to_reclaim: int, kswapd: bool) -> int:
    """mm/vmscan.c shrink_node: reclaim node ``nid``'s oldest blocks until
    ``nr_to_reclaim`` pages are freed or the list is empty.  Returns pages freed.

    Counts pgscan_/pgsteal_ kswapd or direct (pages).  kswapd frees as ``kswapd<nid>``
    (pid 0 in the model's task table); direct reclaim as the allocating task.
    """
    lru = mm.lru.get(nid)
    if not lru:
        return 0
    saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
    if kswapd:
        mm.set_task(f"kswapd{nid}", 0, 0)
    mm.current_handle = _handle(mm, KSWAPD_STACK if kswapd else DIRECT_STACK)
    freed = scanned = activated = 0
    # isolate_lru_folios takes each folio off the list once per pass: a block put
    # back (activated) is not scanned again by the same call
    budget = len(lru)
    try:
        while lru and freed < nr_to_reclaim and budget:
            budget -= 1
            pfn = next(iter(lru))
            order, holder = lru.pop(pfn)
            scanned += 1 << order
            if folio_maybe_dma_pinned(mm.sections[pfn >> mm.section_shift], pfn & mm.section_mask):
                # shrink_folio_list (v6.12): "No point in trying to reclaim folio if it
                # is pinned" -- goto activate_locked: it stays, on the active list (the
                # newest end of the model's one list per node), counted in pgactivate
                lru[pfn] = (order, holder)
                activated += 1 << order
                continue
            holder.reclaimed(pfn, order)
            free_pages(mm, pfn, order)
            freed += 1 << order
            tr = mm.trace
            if tr is not None and tr.live[EV_FREE_BATCHED]:
                # shrink_folio_list frees through free_unref_folios: free_pages_prepare
                # traced mm_page_free above, then trace_mm_page_free_batched for a
                # pcp order whose pageblock is not isolated
                _trace_free_batched(mm, tr, pfn, order)
    finally:
        mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = saved
    who = "kswapd" if kswapd else "direct"
    count_vm_event(mm, f"pgscan_{who}", scanned)
    count_vm_event(mm, f"pgsteal_{who}", freed)
    count_vm_event(mm, "pgactivate", activated)
    return freed


def _node_balanced(mm, node_zones, order: int, highest: int) -> bool:
    """pgdat_balanced: some eligible zone meets its high watermark for ``order``."""
    return any(zone_watermark_ok(mm, z, order, z.watermark["high"], highest, 0)
               for z in node_zones)


def balance_node(mm, nid: int, order: int, highest: int) -> int:
    """mm/vmscan.c balance_pgdat's reclaim: SWAP_CLUSTER_MAX batches (kswapd_shrink_node)
    until the node is balanced at the high watermark or nothing is left to reclaim.

    As kswapd_shrink_node does, once it reclaimed compact_gap(order) pages
    (2 << order) it checks for order 0 and leaves the high order to kcompactd.
    Returns pages freed.
    """
    node_zones = [z for z in mm.nodes[nid].zones if z.present_pages and z.idx <= highest]
    freed = 0
    while not _node_balanced(mm, node_zones, order, highest):
        got = shrink_node(mm, nid, SWAP_CLUSTER_MAX, True)
        if not got:
            break
        freed += got
        if order and freed >= 2 << order:
            order = 0
    return freed


def try_to_free_pages(mm, zones, order: int, highest: int) -> int:
    """mm/vmscan.c try_to_free_pages -> do_try_to_free_pages: one SWAP_CLUSTER_MAX
    reclaim pass over the nodes of the zonelist, in zonelist order, stopping when the
    batch is met.  Counts allocstall_<zone> for the request's highest zone
    (``__count_zid_vm_events(ALLOCSTALL, sc->reclaim_idx, 1)``).  Returns pages freed."""
    count_vm_event(mm, f"allocstall_{ZONE_NAMES[highest].lower()}")
    freed = 0
    done = set()
    for z in zones:
        if z.nid in done:
            continue
        done.add(z.nid)
        freed += shrink_node(mm, z.nid, SWAP_CLUSTER_MAX - freed, False)
        if freed >= SWAP_CLUSTER_MAX:
            break
    return freed
