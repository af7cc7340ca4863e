"""Page migration (mm/migrate.c, v6.12) as memory offlining, alloc_contig_range
and long-term pins use it.

``migrate_pages(mm, sources, reason, nid)`` moves allocated blocks to new
pages: for each source a target of the same order is allocated with
``alloc_migration_target``'s mask (GFP_USER | __GFP_MOVABLE |
__GFP_RETRY_MAYFAIL by default, plus __GFP_HIGHMEM when the source sits in
ZONE_MOVABLE, __GFP_COMP for compound pages).  Memory offlining prefers another
node than the source's when one exists (mm/memory_hotplug.c do_migrate_range
clears the source node from the nodemask unless it is the only node,
``exclude_nid``); alloc_contig_range and gup prefer the source's node.  Targets
can never come from a range being offlined or allocated contiguously: its free
pages sit on the MIGRATE_ISOLATE lists.

A pinned block (``folio_maybe_dma_pinned``: pin_user_pages holds it, see
:mod:`pextlab.kernel.gup`) is never moved: its refcount is higher than the
mapping explains, so folio_migrate_mapping returns -EAGAIN, migrate_pages
retries it NR_MAX_MIGRATE_PAGES_RETRY (10) times and reports it failed.

page_owner (mm/page_owner.c __folio_copy_owner, v6.10+): the target takes the
source's record (stack, order, gfp, pid, tgid, comm, ts, free info) and the
migrate reason is set on it; the source keeps a record that now carries the
stack of the migration-target allocation, so that freeing the source takes
that stack's count back down and the original stack's count is unchanged.
The simulator does the same in bulk: targets are allocated without running the
allocation hook (its record would be overwritten at once), their stack count
is added to the migration stack explicitly, and records are copied with numpy.

Sources are not freed here; the caller frees them (``free_sources``) or, when
the whole range is about to go offline, drops them with the range.

Whoever holds pfns of movable blocks follows their migrations through
``mm.migrate_notifiers`` (``notify_moved``); :class:`HeldBlocks` is such a
holder, and ``debug.check_invariants`` checks that every block it holds is still
an allocated head of its order.
"""
from __future__ import annotations


from .buddy import ALLOC_WMARK_MIN, __rmqueue
from .fastpath import free_pages, get_page_from_freelist, prepare_alloc_pages
from .gfp import ZONE_MOVABLE, retry_mayfail_flag
from .mmzone import PG_HEAD, MT_SHIFT, folio_maybe_dma_pinned

__all__ = ["MIGRATE_TARGET_STACK", "alloc_migration_target", "migrate_pages", "free_sources",
           "drop_sources", "notify_moved", "HeldBlocks"]

# The allocation of a migration target during memory offlining (v6.12 call chain;
# frames without offsets are functions whose offsets in the captured build we do not know).
MIGRATE_TARGET_STACK = (
    "get_page_from_freelist+0x1673/0x1730",
    "__alloc_pages_noprof+0x12e/0x230",
    "__folio_alloc_noprof",
    "alloc_migration_target",
    "migrate_pages_batch",
    "migrate_pages",
    "do_migrate_range",
    "offline_pages",
    "memory_subsys_offline",
    "device_offline+0x47/0x80",
    "state_store+0x8a/0x90",
    "kernfs_fop_write_iter+0x118/0x1e0",
    "vfs_write+0x19b/0x2c0",
    "ksys_write+0x5a/0xd0",
    "do_syscall_64+0x3b/0xc0",
    "entry_SYSCALL_64_after_hwframe+0x4b/0x53",
)


def _target_context(mm, gfp: int, nid: int):
    """(mt, zones, highest_zoneidx, alloc_flags) with the source node masked out."""
    mt, zones, high, flags = prepare_alloc_pages(mm, gfp, nid)
    others = tuple(z for z in zones if z.nid != nid)
    if others:
        zones = others
    return mt, zones, high, flags


def alloc_migration_target(mm, ctx, order: int) -> int:
    """One target block (no page_owner hook: the caller copies the source's record)."""
    mt, zones, high, flags = ctx
    _, pfn = get_page_from_freelist(mm, order, mt, zones, high, flags)
    if pfn < 0:
        _, pfn = get_page_from_freelist(mm, order, mt, zones, high,
                                                   (flags & ~3) | ALLOC_WMARK_MIN)
        if pfn < 0:
            return -1
    sec = mm.sections[pfn >> mm.section_shift]
    off = pfn & mm.section_mask
    sec.flags[off] = PG_HEAD | (mt << MT_SHIFT)
    sec.order[off] = order
    mm.nr_alloc_events += 1
    return pfn


def migrate_pages(mm, sources, reason: str, nid: int, src_zone_idx: int, *, gfp: int | None = None,
                  exclude_nid: bool = True, stack=MIGRATE_TARGET_STACK):
    """Migrate ``sources`` [(pfn, order)].

    ``gfp``: the migration_target_control mask (default GFP_USER | __GFP_MOVABLE |
    __GFP_RETRY_MAYFAIL); ``exclude_nid``: targets avoid node ``nid`` when another
    node exists (memory offlining), else they prefer it; ``stack``: the allocation
    stack of the targets (page_owner).

    Returns (moved [(old, new, order)], failed [(pfn, order)], counted) where
    ``counted`` is the base pages now counted on the migration stack (the
    sources' records), which freeing or dropping the sources takes back.
    """
    bits = mm.profile.gfp_bits
    if gfp is None:
        gfp = mm.gfp("GFP_USER") | bits["__GFP_MOVABLE"] | retry_mayfail_flag(mm.profile)
    base = gfp
    if src_zone_idx == ZONE_MOVABLE:
        base |= bits["__GFP_HIGHMEM"]
    ctxs = {}
    moved, failed = [], []
    # Order-0 fast path: once a zone served a target at the low watermark, the zones
    # before it in the zonelist stay below theirs (nothing is freed during the pass), so
    # the next target comes from the same zone while it stays above its watermark --
    # the choice get_page_from_freelist would make, without re-walking the zonelist.
    fast_zone, fast_limit, fast_head = None, 0, 0
    sections, shift, mask = mm.sections, mm.section_shift, mm.section_mask
    rmqueue = __rmqueue
    for pfn, order in sources:
        if folio_maybe_dma_pinned(sections[pfn >> shift], pfn & mask):
            # folio_migrate_mapping: -EAGAIN (unexpected references), retried, then failed
            failed.append((pfn, order))
            continue
        ctx = ctxs.get(order)
        if ctx is None:
            g = base | (bits.get("__GFP_COMP", 0) if order else 0)
            ctx = ctxs[order] = (_target_context(mm, g, nid) if exclude_nid
                                 else prepare_alloc_pages(mm, g, nid))
        if order == 0 and fast_zone is not None and fast_zone.free_pages > fast_limit:
            new = rmqueue(mm, fast_zone, 0, ctx[0], ctx[3])
            if new >= 0:
                sec = sections[new >> shift]
                sec.flags[new & mask] = fast_head
                sec.order[new & mask] = 0
                mm.nr_alloc_events += 1
                moved.append((pfn, new, 0))
                continue
        new = alloc_migration_target(mm, ctx, order)
        if new < 0:
            failed.append((pfn, order))
            fast_zone = None
            continue
        moved.append((pfn, new, order))
        if order == 0:
            mt, zones, high, flags = ctx
            z = mm.zone_of_pfn(new)
            wm = z.watermark[("min", "low", "high")[flags & 3]] + z.lowmem_reserve[high]
            if z.free_pages > wm:          # served at the low watermark, not the min retry
                fast_zone, fast_limit, fast_head = z, wm, PG_HEAD | (mt << MT_SHIFT)
    counted = 0
    if moved and mm.page_owner is not None:
        counted = mm.page_owner.folio_copy_owners(moved, reason, stack)
    return moved, failed, counted


def free_sources(mm, moved) -> None:
    """Free every migrated source block to the buddy (its isolated pageblock's list)."""
    for old, _, order in moved:
        free_pages(mm, old, order)


def drop_sources(mm, moved, counted: int) -> int:
    """The sources of a range that goes offline as a whole: their pages leave with it.

    Equivalent to freeing each source and taking it off the isolate lists again
    in __offline_isolated_pages (their records leave with the section, so the
    migration stack's show_stacks count drops by itself).  Returns the pages dropped.
    """
    mm.nr_free_events += len(moved)
    return sum(1 << o for _, _, o in moved)


def notify_moved(mm, moved, reason: str) -> None:
    """Tell the registered followers (``mm.migrate_notifiers``: workload runners, tests,
    users holding pfns) that pages moved: ``fn(moved, reason)`` with
    ``moved = [(old_pfn, new_pfn, order), ...]``.  Every migration path calls this."""
    if moved:
        for fn in list(mm.migrate_notifiers):
            fn(moved, reason)


class HeldBlocks:
    """Allocated blocks a caller holds, as ``blocks`` {head pfn: order}, that follow
    their migrations.

    Register it on ``mm.migrate_notifiers`` (``Machine.on_migrate``): called as
    ``fn(moved, reason)`` it moves each migrated block to its new pfn.
    ``debug.check_invariants`` checks every registered HeldBlocks: each block must
    be an allocated head of its order, so a missed migration is reported.

    >>> held = HeldBlocks()
    >>> held.blocks[0x1000] = 2
    >>> held([(0x1000, 0x2000, 2)], "compaction")
    >>> held.blocks
    {8192: 2}
    """

    def __init__(self):
        self.blocks: dict[int, int] = {}

    def __call__(self, moved, reason: str) -> None:
        blocks = self.blocks
        for old, new, _ in moved:          # in migration order: a block may move twice
            order = blocks.pop(old, None)
            if order is not None:
                blocks[new] = order

    def __len__(self) -> int:
        return len(self.blocks)

    def __repr__(self):
        return f"<HeldBlocks {len(self.blocks)} block(s)>"
