"""Memory compaction (mm/compaction.c, v6.12), kswapd's part in it, kcompactd.

``compact_zone`` runs the two scanners of the kernel over one zone:

* the **migrate scanner** walks pageblocks up from the zone start (or the
  cached position) and isolates the movable allocated blocks of one pageblock
  (allocations with a MIGRATE_MOVABLE gfp: the LRU pages of the model, as in
  ``page_isolation``); unmovable and reclaimable pages stay where they are;
  blocks of order >= pageblock_order (hugetlb, THP) are skipped
  (``skip_isolation_on_order``); async direct compaction only takes movable
  pageblocks (``suitable_migration_source``);
* the **free scanner** walks pageblocks down from the zone end and isolates the
  free buddy blocks of MIGRATE_MOVABLE/CMA pageblocks (``suitable_migration_target``;
  never a block whose first page is a free block of the target order), as many
  as the migration needs, stopping at the min watermark (``__isolate_free_page``);
* each source is copied to an isolated free block (``compaction_alloc`` takes the
  smallest isolated block that fits and splits it), its page_owner record goes
  with it (``__folio_copy_owner``, ``last_migrate_reason: compaction``) and the
  source is freed, where it merges with its free buddies;
* pageblocks where a scanner found nothing get a skip hint
  (``set_pageblock_skip``), honoured until compaction restarts after deferral,
  kswapd goes to sleep after a direct compaction pass, or a
  ``compact_memory``/proactive/SYNC_FULL pass ignores them; scanner positions
  are cached per zone between passes (``compact_cached_*_pfn``);
* it ends when the scanners meet (COMPLETE / PARTIAL_SKIPPED), when a direct
  compaction sees a free block of its order it could use (SUCCESS, checked at
  pageblock boundaries), or for proactive compaction when the zone's
  fragmentation score drops to the low mark.

Entry points: ``compact_memory`` (``/proc/sys/vm/compact_memory``: every zone,
MIGRATE_SYNC, whole zones), ``try_to_compact_pages`` (direct compaction from the
allocator slow path, with ``compaction_suitable``/``extfrag_threshold``,
deferral and priorities), ``kcompactd_do_work`` (woken by kswapd for
pageblock_order), ``proactive_compact_node`` / ``kcompactd_timer``
(``vm.compaction_proactiveness``, every 500 ms of idle time).

Migration of pfns: callers holding pfns of movable pages register a callable in
``mm.migrate_notifiers``; it gets ``(moved, reason)`` with ``moved`` the list of
``(old_pfn, new_pfn, order)`` after each compaction run (a workload run's
``RunLog`` registers one that follows the blocks it holds).

Simplifications (documented): the scanners work a pageblock at a time (the
kernel isolates COMPACT_CLUSTER_MAX = 32 pages per round; the finish checks of
direct compaction only happen at pageblock boundaries anyway); no
``fast_find_migrateblock`` / ``fast_isolate_freepages`` free-list searches, no
async stride; the freed sources of a proactive pass go through a per-cpu-list
model (``pcp.PcpBuffer``: held until ``high`` and freed in batches, drained at
the end of the pass) because that is what makes the kernel over-compact; other
passes free straight to the buddy lists (the kernel drains the pcp lists at each
pageblock of a direct compaction).  With the allocator's pcp lists
(``pextlab.pcp=on``) the sources are freed through them instead and
``compact_zone`` drains the zone's lists after each migrated pageblock (orders > 0)
and at its end.  kswapd's reclaim is :mod:`~pextlab.kernel.vmscan`'s
``balance_node``; a watermark boost is dropped without boost reclaim.
"""
from __future__ import annotations

from . import migrate
from ._compaction import (COMPACTION_TARGET_STACK, MIGRATE_ASYNC, MIGRATE_SYNC,
                          MIGRATE_SYNC_LIGHT, isolate_migratepages, migrate_block)
from .buddy import (ALLOC_CMA, ALLOC_WMARK_MIN, __free_one_page, set_watermark_boost,
                    zone_watermark_boost, zone_watermark_ok)
from .fastpath import prepare_alloc_pages
from .gfp import direct_reclaim_flag
from .pcp import PcpBuffer, drain_zone_pages
from .vmscan import balance_node
from .vmstat import count_vm_event, extfrag_for_order, fragmentation_index

__all__ = ["COMPACT_SKIPPED", "COMPACT_DEFERRED", "COMPACT_CONTINUE", "COMPACT_COMPLETE",
           "COMPACT_PARTIAL_SKIPPED", "COMPACT_CONTENDED", "COMPACT_SUCCESS", "RESULT_NAMES",
           "CompactControl", "compact_zone", "compact_memory", "compact_node",
           "try_to_compact_pages", "compaction_suitable", "fragmentation_score_node",
           "fragmentation_score_zone", "kcompactd_timer", "kcompactd_do_work",
           "proactive_compact_node", "kswapd_run", "wake_all_kswapds", "compaction_state",
           "COMPACTION_TARGET_STACK", "COUNTERS", "COMPACT_PRIO_SYNC_FULL",
           "COMPACT_PRIO_SYNC_LIGHT", "COMPACT_PRIO_ASYNC", "compaction_enabled",
           "compaction_defer_reset"]

# enum compact_result (include/linux/compaction.h), ordered as the kernel's
COMPACT_NOT_SUITABLE_ZONE, COMPACT_SKIPPED, COMPACT_DEFERRED, COMPACT_NO_SUITABLE_PAGE, \
    COMPACT_CONTINUE, COMPACT_COMPLETE, COMPACT_PARTIAL_SKIPPED, COMPACT_CONTENDED, \
    COMPACT_SUCCESS = range(9)
RESULT_NAMES = ("not_suitable_zone", "skipped", "deferred", "no_suitable_page", "continue",
                "complete", "partial_skipped", "contended", "success")

# enum compact_priority (include/linux/compaction.h)
COMPACT_PRIO_SYNC_FULL = 0          # MIN_COMPACT_PRIORITY
COMPACT_PRIO_SYNC_LIGHT = 1         # MIN_COMPACT_COSTLY_PRIORITY
COMPACT_PRIO_ASYNC = 2              # INIT_COMPACT_PRIORITY
COMPACT_MAX_DEFER_SHIFT = 6
HPAGE_FRAG_CHECK_INTERVAL_NS = 500_000_000      # kcompactd's proactive check, 500 ms

#: vmstat counters this module maintains in mm.vm_events (mm/vmstat.c names)
COUNTERS = ("compact_migrate_scanned", "compact_free_scanned", "compact_isolated",
            "compact_stall", "compact_fail", "compact_success", "compact_daemon_wake",
            "compact_daemon_migrate_scanned", "compact_daemon_free_scanned",
            "pgmigrate_success", "pgmigrate_fail", "pageoutrun")

# enum migrate_mode (MIGRATE_ASYNC & co), COMPACTION_TARGET_STACK and the scanners' per-page
# work: kernel/_compaction.pyx


# --- per-zone state ---------------------------------------------------------------------------

class ZoneCompact:
    """The compaction fields of ``struct zone`` (compact_cached_*, defer, skip bits)."""

    def __init__(self, mm, zone):
        self.zone = zone
        self.skip = bytearray(0)
        self.base = 0
        self.cached_migrate = [zone.zone_start_pfn, zone.zone_start_pfn]
        self.cached_free = 0
        self.considered = 0
        self.defer_shift = 0
        self.order_failed = 0
        self.blockskip_flush = False
        self.span = None
        self.sync(mm)

    def sync(self, mm) -> None:
        """Follow zone span changes (hotplug)."""
        z = self.zone
        span = (z.zone_start_pfn, z.spanned_pages)
        if span == self.span:
            return
        self.span = span
        pb = mm.pageblock_order
        self.base = (z.zone_start_pfn >> pb) << pb
        n = ((z.zone_end_pfn - self.base) + (1 << pb) - 1) >> pb if z.spanned_pages else 0
        self.skip = bytearray(n)
        self.reset_cached_positions(mm)

    def reset_cached_positions(self, mm) -> None:
        z = self.zone
        self.cached_migrate = [z.zone_start_pfn, z.zone_start_pfn]
        pb = mm.pageblock_order
        self.cached_free = (((z.zone_end_pfn - 1) >> pb) << pb) if z.spanned_pages else 0

    def reset_isolation_suitable(self, mm) -> None:
        """__reset_isolation_suitable: clear every skip hint."""
        self.skip[:] = bytes(len(self.skip))
        self.blockskip_flush = False
        self.reset_cached_positions(mm)

    def block(self, mm, pfn: int) -> int:
        return (pfn - self.base) >> mm.pageblock_order


class CompactionState:
    """Tunables and per-zone state of one machine (``mm._compaction``)."""

    def __init__(self):
        self.zones: dict = {}
        self.proactiveness = 20          # vm.compaction_proactiveness
        self.extfrag_threshold = 500     # vm.extfrag_threshold
        self.enabled = True              # CONFIG_COMPACTION
        self.proactive_defer = 0
        self.last_timer_ns = None
        self.history: list[dict] = []    # one record per compact_zone run

    def zone(self, mm, zone) -> ZoneCompact:
        zc = self.zones.get(zone)
        if zc is None:
            zc = self.zones[zone] = ZoneCompact(mm, zone)
        else:
            zc.sync(mm)
        return zc


def compaction_state(mm) -> CompactionState:
    return mm.compaction


def compaction_enabled(mm) -> bool:
    return compaction_state(mm).enabled


# --- deferral (mm/compaction.c defer_compaction & co) --------------------------------------

def defer_compaction(mm, zone, order: int) -> None:
    zc = compaction_state(mm).zone(mm, zone)
    zc.considered = 0
    zc.defer_shift = min(zc.defer_shift + 1, COMPACT_MAX_DEFER_SHIFT)
    if order < zc.order_failed:
        zc.order_failed = order


def compaction_deferred(mm, zone, order: int) -> bool:
    zc = compaction_state(mm).zone(mm, zone)
    if order < zc.order_failed:
        return False
    limit = 1 << zc.defer_shift
    zc.considered += 1
    if zc.considered >= limit:
        zc.considered = limit
        return False
    return True


def compaction_defer_reset(mm, zone, order: int, alloc_success: bool) -> None:
    zc = compaction_state(mm).zone(mm, zone)
    if alloc_success:
        zc.considered = 0
        zc.defer_shift = 0
        zc.blockskip_flush = False
    if order >= zc.order_failed:
        zc.order_failed = order + 1


def compaction_restarting(mm, zone, order: int) -> bool:
    zc = compaction_state(mm).zone(mm, zone)
    if order < zc.order_failed:
        return False
    return zc.defer_shift == COMPACT_MAX_DEFER_SHIFT and zc.considered >= (1 << zc.defer_shift)


# --- suitability -------------------------------------------------------------------------------

def compaction_suitable(mm, zone, order: int, highest: int) -> bool:
    """mm/compaction.c compaction_suitable: order-0 free above low + compact_gap, and
    for costly orders a fragmentation index above vm.extfrag_threshold."""
    mark = zone.watermark["low"] + (2 << order)
    if not zone_watermark_ok(mm, zone, 0, mark, highest, ALLOC_CMA):
        return False
    if order > mm.profile.costly_order:
        fi = fragmentation_index(zone.nr_free, order)
        if 0 <= fi <= compaction_state(mm).extfrag_threshold:
            return False
    return True


def compaction_suit_allocation_order(mm, zone, order: int, highest: int, alloc_flags: int) -> int:
    mark = zone.watermark[("min", "low", "high")[alloc_flags & 3]]
    if zone_watermark_ok(mm, zone, order, mark, highest, alloc_flags):
        return COMPACT_SUCCESS
    if not compaction_suitable(mm, zone, order, highest):
        return COMPACT_SKIPPED
    return COMPACT_CONTINUE


def fragmentation_score_zone(mm, zone) -> int:
    return extfrag_for_order(zone.nr_free, mm.pageblock_order)


def fragmentation_score_node(mm, nid: int) -> int:
    node = mm.nodes[nid]
    present = sum(z.present_pages for z in node.zones)
    score = 0
    for z in node.zones:
        if z.present_pages:
            score += z.present_pages * fragmentation_score_zone(mm, z) // (present + 1)
    return score


def fragmentation_score_wmark(mm, low: bool) -> int:
    wmark_low = max(100 - compaction_state(mm).proactiveness, 5)
    return wmark_low if low else min(wmark_low + 10, 100)


# --- compact_control ---------------------------------------------------------------------------

class CompactControl:
    """struct compact_control."""

    def __init__(self, mm, zone, order: int, mode: str, migratetype: int, *, direct=False,
                 whole_zone=False, ignore_skip_hint=False, ignore_block_suitable=False,
                 proactive=False, alloc_flags=0, highest=0, kcompactd=False):
        self.mm = mm
        self.zone = zone
        self.order = order
        self.mode = mode
        self.migratetype = migratetype
        self.direct = direct
        self.whole_zone = whole_zone
        self.ignore_skip_hint = ignore_skip_hint
        self.ignore_block_suitable = ignore_block_suitable
        self.proactive = proactive
        self.kcompactd = kcompactd
        self.alloc_flags = alloc_flags
        self.highest = highest
        self.migrate_pfn = 0
        self.free_pfn = 0
        self.freepages = [[] for _ in range(mm.nr_orders)]
        self.nr_freepages = 0
        self.total_migrate_scanned = 0
        self.total_free_scanned = 0
        self.nr_isolated = 0
        self.nr_migrated = 0
        self.nr_failed = 0
        self.moved: list = []
        self.pcp = None


def compact_scanners_met(cc) -> bool:
    pb = cc.mm.pageblock_order
    return (cc.free_pfn >> pb) <= (cc.migrate_pfn >> pb)


# --- the isolated free blocks that were not used -----------------------------------------

def release_free_list(cc, zc) -> None:
    """Give the isolated free blocks that were not used back to the buddy allocator."""
    mm = cc.mm
    top = -1
    for o, lst in enumerate(cc.freepages):
        for pfn in lst:
            _free_block(cc, pfn, o)
            top = max(top, pfn)
        lst.clear()
    cc.nr_freepages = 0
    if top >= 0:
        pb = mm.pageblock_order
        fp = (top >> pb) << pb
        if fp > zc.cached_free:
            zc.cached_free = fp


def _free_block(cc, pfn: int, order: int) -> None:
    """A free block goes back (the model's __free_pages of an isolated free page)."""
    mm = cc.mm
    if cc.pcp is not None and order <= mm.profile.costly_order:
        cc.pcp.add(pfn, order)
        return
    sec = mm.sections[pfn >> mm.section_shift]
    mt = sec.pageblock_mt[(pfn & mm.section_mask) >> mm.pageblock_order]
    __free_one_page(mm, cc.zone, pfn, order, mt)


# --- compact_zone ------------------------------------------------------------------------------

def __compact_finished(cc) -> int:
    mm = cc.mm
    if compact_scanners_met(cc):
        zc = compaction_state(mm).zone(mm, cc.zone)
        zc.reset_cached_positions(mm)
        if cc.direct:
            zc.blockskip_flush = True
        return COMPACT_COMPLETE if cc.whole_zone else COMPACT_PARTIAL_SKIPPED
    if cc.proactive:
        score = fragmentation_score_zone(mm, cc.zone)
        return COMPACT_CONTINUE if score > fragmentation_score_wmark(mm, True) else COMPACT_SUCCESS
    if cc.order < 0:
        return COMPACT_CONTINUE
    zone = cc.zone
    prof = mm.profile
    pol = mm.policy
    mt = cc.migratetype
    for o in range(cc.order, mm.nr_orders):
        if not zone.nr_free[o]:
            continue
        area = zone.free_area[o]
        if area[mt]:
            return COMPACT_SUCCESS
        if mt == prof.mt_movable and area[prof.mt_cma]:
            return COMPACT_SUCCESS
        if pol.should_try_claim_block(mm, o, mt) and any(area[f] for f in pol.fallbacks(mm, mt)):
            return COMPACT_SUCCESS
    return COMPACT_CONTINUE        # COMPACT_NO_SUITABLE_PAGE, mapped by compact_finished


def compact_zone(cc) -> int:
    """mm/compaction.c compact_zone.  Returns a COMPACT_* result."""
    mm = cc.mm
    zone = cc.zone
    st = compaction_state(mm)
    zc = st.zone(mm, zone)
    if not zone.spanned_pages or not zone.present_pages:
        return COMPACT_SKIPPED
    if cc.order > 0:
        ret = compaction_suit_allocation_order(mm, zone, cc.order, cc.highest, cc.alloc_flags)
        if ret != COMPACT_CONTINUE:
            return ret
        if compaction_restarting(mm, zone, cc.order):
            zc.reset_isolation_suitable(mm)
    pb = mm.pageblock_order
    sync = 0 if cc.mode == MIGRATE_ASYNC else 1
    zend_block = ((zone.zone_end_pfn - 1) >> pb) << pb
    if cc.whole_zone:
        cc.migrate_pfn = zone.zone_start_pfn
        cc.free_pfn = zend_block
    else:
        cc.migrate_pfn = zc.cached_migrate[sync]
        cc.free_pfn = zc.cached_free
        if cc.free_pfn < zone.zone_start_pfn or cc.free_pfn >= zone.zone_end_pfn:
            cc.free_pfn = zc.cached_free = zend_block
        if cc.migrate_pfn < zone.zone_start_pfn or cc.migrate_pfn >= zone.zone_end_pfn:
            cc.migrate_pfn = zone.zone_start_pfn
            zc.cached_migrate = [cc.migrate_pfn, cc.migrate_pfn]
        if cc.migrate_pfn <= zone.zone_start_pfn:
            cc.whole_zone = True
    if cc.proactive and zone.pcp is None:
        # no pcp lists in the allocator: the freed sources go through a pcp-like buffer
        cc.pcp = PcpBuffer(mm, zone)
    ret = COMPACT_CONTINUE
    while True:
        ret = __compact_finished(cc)
        if ret != COMPACT_CONTINUE:
            break
        sources = isolate_migratepages(cc, zc)
        if not sources:
            continue
        ok = migrate_block(cc, zc, sources)
        if zone.pcp is not None and not cc.proactive and cc.order > 0:
            # compact_zone: drain_local_pages once a cc->order block has been migrated
            drain_zone_pages(mm, zone)
        if not ok and not compact_scanners_met(cc):
            ret = COMPACT_CONTENDED
            break
    release_free_list(cc, zc)
    pcp_before = 0
    if cc.pcp is not None:
        pcp_before = cc.pcp.count
        cc.pcp.drain()
    elif zone.pcp is not None:
        # the allocator's pcp lists (pextlab.pcp=on) took the freed sources; the kernel
        # drains them per pageblock of a direct compaction, the model at the end
        pcp_before = drain_zone_pages(mm, zone)
    count_vm_event(mm, "compact_migrate_scanned", cc.total_migrate_scanned)
    count_vm_event(mm, "compact_free_scanned", cc.total_free_scanned)
    if cc.kcompactd or cc.proactive:
        count_vm_event(mm, "compact_daemon_migrate_scanned", cc.total_migrate_scanned)
        count_vm_event(mm, "compact_daemon_free_scanned", cc.total_free_scanned)
    st.history.append({
        "time_ns": mm.clock_ns, "node": zone.nid, "zone": zone.name, "order": cc.order,
        "mode": cc.mode, "kind": ("proactive" if cc.proactive else "kcompactd" if cc.kcompactd
                                  else "direct" if cc.direct else "compact_memory"),
        "result": RESULT_NAMES[ret], "migrate_scanned": cc.total_migrate_scanned,
        "free_scanned": cc.total_free_scanned, "migrated": cc.nr_migrated,
        "failed": cc.nr_failed, "pcp_pages_before_drain": pcp_before,
    })
    migrate.notify_moved(mm, cc.moved, "compaction")
    return ret


# --- entry points ------------------------------------------------------------------------------

def compact_node(mm, nid: int, proactive: bool = False) -> None:
    """mm/compaction.c compact_node: every populated zone of the node, whole zone,
    skip hints ignored; MIGRATE_SYNC (compact_memory) or SYNC_LIGHT (proactive)."""
    gk = mm.gfp("GFP_KERNEL")
    mt = prepare_alloc_pages(mm, gk, nid)[0]
    for zone in mm.nodes[nid].zones:
        if not zone.present_pages:
            continue
        cc = CompactControl(mm, zone, -1, MIGRATE_SYNC_LIGHT if proactive else MIGRATE_SYNC, mt,
                            whole_zone=True, ignore_skip_hint=True, proactive=proactive)
        compact_zone(cc)


def compact_memory(mm) -> None:
    """``echo 1 > /proc/sys/vm/compact_memory``: compact_nodes()."""
    for nid in sorted(mm.nodes):
        compact_node(mm, nid)


def compact_zone_order(mm, zone, order: int, gfp: int, mt: int, prio: int, alloc_flags: int,
                       highest: int) -> int:
    full = prio == COMPACT_PRIO_SYNC_FULL
    cc = CompactControl(mm, zone, order,
                        MIGRATE_ASYNC if prio == COMPACT_PRIO_ASYNC else MIGRATE_SYNC_LIGHT,
                        mt, direct=True, whole_zone=full, ignore_skip_hint=full,
                        ignore_block_suitable=full, alloc_flags=alloc_flags, highest=highest)
    return compact_zone(cc)


def try_to_compact_pages(mm, gfp: int, order: int, mt: int, zones, highest: int,
                         alloc_flags: int, prio: int):
    """mm/compaction.c try_to_compact_pages.  Returns (result, zone that succeeded or None)."""
    if not compaction_enabled(mm) or not gfp & mm.profile.gfp_bits["__GFP_IO"]:
        return COMPACT_SKIPPED, None
    rc = COMPACT_SKIPPED
    for zone in zones:
        if prio > COMPACT_PRIO_SYNC_FULL and compaction_deferred(mm, zone, order):
            rc = max(rc, COMPACT_DEFERRED)
            continue
        status = compact_zone_order(mm, zone, order, gfp, mt, prio, alloc_flags, highest)
        rc = max(rc, status)
        if status == COMPACT_SUCCESS:
            compaction_defer_reset(mm, zone, order, False)
            return rc, zone
        if prio != COMPACT_PRIO_ASYNC and status in (COMPACT_COMPLETE,
                                                               COMPACT_PARTIAL_SKIPPED):
            defer_compaction(mm, zone, order)
    return rc, None


def kcompactd_node_suitable(mm, nid: int, order: int, highest: int) -> bool:
    for z in mm.nodes[nid].zones:
        if z.present_pages and z.idx <= highest:
            if compaction_suit_allocation_order(mm, z, order, highest,
                                                ALLOC_WMARK_MIN) == COMPACT_CONTINUE:
                return True
    return False


def kcompactd_do_work(mm, nid: int, order: int, highest: int) -> None:
    """mm/compaction.c kcompactd_do_work: sync-light compaction of the node for ``order``."""
    count_vm_event(mm, "compact_daemon_wake")
    mt = mm.profile.mt_unmovable        # gfp_migratetype(GFP_KERNEL)
    for zone in mm.nodes[nid].zones:
        if not zone.present_pages or zone.idx > highest:
            continue
        if compaction_deferred(mm, zone, order):
            continue
        if compaction_suit_allocation_order(mm, zone, order, highest,
                                            ALLOC_WMARK_MIN) != COMPACT_CONTINUE:
            continue
        cc = CompactControl(mm, zone, order, MIGRATE_SYNC_LIGHT, mt, kcompactd=True,
                            alloc_flags=ALLOC_WMARK_MIN, highest=highest)
        status = compact_zone(cc)
        if status == COMPACT_SUCCESS:
            compaction_defer_reset(mm, zone, order, False)
        elif status in (COMPACT_PARTIAL_SKIPPED, COMPACT_COMPLETE):
            defer_compaction(mm, zone, order)


def wakeup_kcompactd(mm, nid: int, order: int, highest: int) -> None:
    if not compaction_enabled(mm) or order <= 0:
        return
    if kcompactd_node_suitable(mm, nid, order, highest):
        kcompactd_do_work(mm, nid, order, highest)


def proactive_compact_node(mm, nid: int) -> None:
    compact_node(mm, nid, proactive=True)


def should_proactive_compact_node(mm, nid: int) -> bool:
    st = compaction_state(mm)
    if not st.proactiveness or not compaction_enabled(mm):
        return False
    return fragmentation_score_node(mm, nid) > fragmentation_score_wmark(mm, False)


def kcompactd_timer(mm, nid: int | None = None) -> bool:
    """One 500 ms timeout of kcompactd: proactive compaction if the node's score is above
    the high mark (with the kernel's back-off when a pass did not lower it).
    Returns True if a pass ran."""
    st = compaction_state(mm)
    ran = False
    for n in ([nid] if nid is not None else sorted(mm.nodes)):
        if not should_proactive_compact_node(mm, n):
            continue
        if st.proactive_defer:
            st.proactive_defer -= 1
            continue
        prev = fragmentation_score_node(mm, n)
        proactive_compact_node(mm, n)
        ran = True
        if fragmentation_score_node(mm, n) >= prev:
            st.proactive_defer = COMPACT_MAX_DEFER_SHIFT
    return ran


# --- kswapd: the boost, reclaim to the high watermark, the kcompactd wake-up ---------------

def kswapd_run(mm, zone, order: int, gfp: int) -> None:
    wake_all_kswapds(mm, [zone], order, gfp)


def wake_all_kswapds(mm, zones, order: int, gfp: int) -> None:
    """wake_all_kswapds + kswapd's balance_pgdat, run at once, per node.

    A boosted node: kswapd runs (pageoutrun), drops the zones' watermark_boost
    (no boost reclaim), clears the skip hints a direct compaction asked to flush,
    and wakes kcompactd for pageblock_order.  A balanced node too fragmented for
    ``order``: kcompactd is woken directly when the caller cannot reclaim.  An
    unbalanced node: kswapd runs (pageoutrun) and reclaims the node's oldest
    reclaimable pages until it is balanced at the high watermark
    (mm/vmscan.c balance_pgdat, :func:`~pextlab.kernel.vmscan.balance_node`); then,
    about to sleep (kswapd_try_to_sleep), it wakes kcompactd for ``order``.
    """
    direct = direct_reclaim_flag(mm.profile)
    boosted_zones = mm.boosted_zones
    done = set()
    st = compaction_state(mm)
    for z in zones:
        nid = z.nid
        if nid in done or nid not in mm.nodes:
            continue
        done.add(nid)
        node_zones = [nz for nz in mm.nodes[nid].zones if nz.present_pages]
        highest = max((nz.idx for nz in node_zones), default=0)
        boosted = [nz for nz in node_zones if zone_watermark_boost(mm, nz)]
        if boosted:
            count_vm_event(mm, "pageoutrun")
            for nz in boosted:
                set_watermark_boost(mm, nz, 0)
                boosted_zones.discard(nz)
            for nz in node_zones:
                zc = st.zones.get(nz)
                if zc is not None and zc.blockskip_flush:
                    zc.reset_isolation_suitable(mm)
            wakeup_kcompactd(mm, nid, mm.pageblock_order, highest)
            continue
        balanced = any(zone_watermark_ok(mm, nz, order, nz.watermark["high"], highest, 0)
                       for nz in node_zones)
        if balanced:
            if not gfp & direct:
                wakeup_kcompactd(mm, nid, order, highest)
        else:
            count_vm_event(mm, "pageoutrun")
            for nz in node_zones:
                zc = st.zones.get(nz)
                if zc is not None and zc.blockskip_flush:
                    zc.reset_isolation_suitable(mm)
            if balance_node(mm, nid, order, highest) and order:
                wakeup_kcompactd(mm, nid, order, highest)


def idle(mm, ns: int) -> int:
    """Let ``ns`` of simulated time pass with no allocations: kswapd handles pending
    boosts, kcompactd's proactive timer fires every 500 ms.  Returns the passes run."""
    boosted = mm.boosted_zones
    if boosted:
        wake_all_kswapds(mm, list(boosted), 0, 0)
    passes = 0
    end = mm.clock_ns + int(ns)
    t = mm.clock_ns
    while t + HPAGE_FRAG_CHECK_INTERVAL_NS <= end:
        t += HPAGE_FRAG_CHECK_INTERVAL_NS
        mm.clock_ns = t
        if kcompactd_timer(mm):
            passes += 1
    mm.clock_ns = end
    return passes
