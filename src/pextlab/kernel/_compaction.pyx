# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""Compaction's per-page work, compiled (Cython; docs/compiled-core.md).

mm/compaction.c's two scanners and the migration of one pageblock's sources:
``isolate_migratepages`` (isolate_migratepages_block's scan for movable heads),
``isolate_freepages`` (isolate_freepages_block's scan and __isolate_free_page),
``migrate_block`` (migrate_pages with compaction_alloc as the target allocator,
then the free of each source).  They walk the per-section flag and order
``bytearray`` s in C and keep every step in the kernel's order -- which page is
taken, which isolated free block is the target, the order of frees and list
operations -- exactly as the Python model did; ``kernel/compaction.py`` (which
alone imports this module) keeps the control flow around them and documents the
simplifications.
"""

from ._buddy cimport c_del_page_from_free_list
from ._fastpath cimport c_free_pages_prepare
from ._geometry cimport Geometry
from ._mmzone cimport MemSection, Zone, section_at
from ._pcp cimport PcpBufferCore
from ._state cimport MMCore

from . import mmzone
from .buddy import base_watermark
from .fastpath import free_pages
from .vmstat import count_vm_event

__all__ = ["MIGRATE_ASYNC", "MIGRATE_SYNC_LIGHT", "MIGRATE_SYNC", "COMPACTION_TARGET_STACK",
           "isolate_migratepages", "migrate_block"]

# the page flag bits and migratetype field (pextlab.kernel.mmzone) and the trace event
# number, read once from their Python homes into C variables
cdef long PG_BUDDY = mmzone.PG_BUDDY
cdef long PG_HEAD = mmzone.PG_HEAD
cdef long MT_SHIFT = mmzone.MT_SHIFT
cdef long MT_MASK = mmzone.MT_MASK

# enum migrate_mode (include/linux/migrate_mode.h)
MIGRATE_ASYNC, MIGRATE_SYNC_LIGHT, MIGRATE_SYNC = "async", "sync_light", "sync"

# The allocation of a compaction migration target (post_alloc_hook in compaction_alloc),
# v6.12 call chain; frames without offsets are functions whose offsets we do not know.
COMPACTION_TARGET_STACK = (
    "post_alloc_hook",
    "compaction_alloc",
    "migrate_pages_batch",
    "migrate_pages",
    "compact_zone",
    "compact_zone_order",
    "try_to_compact_pages",
    "__alloc_pages_direct_compact",
    "__alloc_pages_slowpath.constprop.0",
    "__alloc_pages_noprof+0x12e/0x230",
)


# --- pageblocks ---------------------------------------------------------------------------------

cdef inline object _zone_of(MMCore mm, Geometry g, long pfn):
    # page_zone (state.MM.zone_of_pfn): the section's zone when it has one, else the lookup
    z = g.section_zone[pfn >> g.shift]
    if z is None:
        z = mm.zone_of_pfn(pfn)
    return z


cdef MemSection _block_view(MMCore mm, Geometry g, Zone zone, long bstart, long* lo,
                            long* hi):
    """The section of the part [lo, hi) of pageblock ``bstart`` in ``zone``'s span, or
    None when the scanners must skip the block.

    mm/compaction.c pageblock_pfn_to_page / mm/page_alloc.c __pageblock_pfn_to_page:
    skipped when the block has no online memmap or when its first or last page is not
    in ``zone`` (page_zone).  Zone spans overlap after hotplug -- a block onlined to
    Normal above a Movable one stretches Normal's span over it -- and the pages of the
    other zone's blocks are on that zone's free lists, not on ours.
    """
    cdef long zstart = zone.zone_start_pfn
    lo[0] = bstart if bstart > zstart else zstart
    hi[0] = bstart + (1 << g.pageblock_order)
    if hi[0] > zstart + zone.spanned_pages:
        hi[0] = zstart + zone.spanned_pages
    if hi[0] <= lo[0]:
        return None
    cdef Py_ssize_t nr = lo[0] >> g.shift
    if nr >= len(g.sections):
        raise LookupError(f"pfn {lo[0]:#x} is outside the memory map")
    s = g.sections[nr]
    if s is None:
        return None
    cdef MemSection sec = <MemSection?>s
    if not sec.present or not sec.online:
        return None
    if _zone_of(mm, g, lo[0]) is not zone or _zone_of(mm, g, hi[0] - 1) is not zone:
        return None
    return sec


cdef inline bint _isolation_suitable(bytearray skip, long i):
    # isolation_suitable: no skip hint on the block (the caller honours ignore_skip_hint)
    return not (0 <= i < len(skip) and skip[i])


cdef inline void _set_skip(bytearray skip, long i) except *:
    # set_pageblock_skip
    if 0 <= i < len(skip):
        skip[i] = 1


cdef void _update_cached_migrate(zc, long pbn, long pfn, bint sync) except *:
    # update_cached_migrate: the cached position moves up to the block's end
    cdef list cached = zc.cached_migrate
    pfn = ((pfn + pbn - 1) // pbn) * pbn
    if pfn > <long>cached[0]:
        cached[0] = pfn
    if sync and pfn > <long>cached[1]:
        cached[1] = pfn


# --- the migrate scanner ------------------------------------------------------------------------

def isolate_migratepages(cc, zc):
    """mm/compaction.c isolate_migratepages: the movable blocks of the next suitable
    pageblock, as [(pfn, order)]; advances cc.migrate_pfn."""
    cdef MMCore mm = cc.mm
    cdef Geometry g = mm.geometry
    cdef Zone zone = cc.zone
    cdef long pb = g.pageblock_order, pbn = 1 << pb, mask = g.mask
    prof = mm.profile
    cdef long mov = prof.mt_movable, cma = prof.mt_cma
    cdef long order = cc.order
    cdef long limit = pb if order <= 0 else min(order, pb)
    cdef long free_pfn = cc.free_pfn
    cdef long migrate_pfn = cc.migrate_pfn
    cdef long bstart = (migrate_pfn >> pb) << pb
    cdef long bend = bstart + pbn
    cdef long zbase = zc.base
    cdef bytearray skip = zc.skip
    cdef bint ignore_skip = cc.ignore_skip_hint
    cdef bint sync = cc.mode != MIGRATE_ASYNC
    cdef bint async_direct = not sync and cc.direct
    cdef long cmt = cc.migratetype
    cdef long lo, hi, start, pfn, off, f, o, bmt, isolated
    cdef bytearray flags, orders
    cdef MemSection sec
    cdef list src
    while bend <= free_pfn:
        sec = _block_view(mm, g, zone, bstart, &lo, &hi)
        if sec is None or not (ignore_skip or _isolation_suitable(skip, (bstart - zbase) >> pb)):
            migrate_pfn = bstart = bend
            bend += pbn
            continue
        if async_direct:
            # suitable_migration_source: async direct compaction takes only blocks of
            # its own migratetype (movable and CMA for a movable request)
            bmt = sec.pageblock_mt[(lo & mask) >> pb]
            if not ((bmt == mov or bmt == cma) if cmt == mov else bmt == cmt):
                _update_cached_migrate(zc, pbn, bend, sync)
                migrate_pfn = bstart = bend
                bend += pbn
                continue
        start = lo if lo > migrate_pfn else migrate_pfn
        flags = sec.flags
        orders = sec.order
        pc = sec.pincount
        src = []
        isolated = 0
        for pfn in range(start, hi):
            off = pfn & mask
            f = flags[off]
            if not (f & PG_HEAD) or (f & MT_MASK) >> MT_SHIFT != mov:
                continue
            o = orders[off]
            if o >= limit:
                continue            # skip_isolation_on_order: hugetlb, THP
            if pc is not None and pc[off] > 0:
                # isolate_migratepages_block: a pinned folio (more references than
                # mappings) is not isolated -- its migration would fail
                continue
            src.append((pfn, o))
            isolated += 1 << o
        cc.total_migrate_scanned += hi - start
        migrate_pfn = bend
        if not src:
            _set_skip(skip, (bstart - zbase) >> pb)
            _update_cached_migrate(zc, pbn, hi, sync)
            bstart = bend
            bend += pbn
            continue
        cc.migrate_pfn = migrate_pfn
        count_vm_event(mm, "compact_isolated", isolated)
        return src
    cc.migrate_pfn = migrate_pfn
    return []


# --- the free scanner ---------------------------------------------------------------------------

cdef bint _suitable_target(cc, MemSection sec, Geometry g, long lo, long mov,
                           long cma) except -1:
    # suitable_migration_target: never a block whose first page is a free block of the
    # target order; else a movable or CMA pageblock (any with ignore_block_suitable)
    cdef long off = lo & g.mask
    cdef long order = cc.order
    if sec.flags[off] & PG_BUDDY:
        if sec.order[off] >= (order if order > 0 else g.pageblock_order):
            return False
    if cc.ignore_block_suitable:
        return True
    cdef long bmt = sec.pageblock_mt[off >> g.pageblock_order]
    return bmt == mov or bmt == cma


cdef void c_isolate_freepages(cc, zc, long need) except *:
    # mm/compaction.c isolate_freepages: take free blocks off the buddy lists, from the
    # top of the zone down, until cc->nr_freepages >= need
    cdef MMCore mm = cc.mm
    cdef Geometry g = mm.geometry
    cdef Zone zone = cc.zone
    cdef long pb = g.pageblock_order, pbn = 1 << pb, mask = g.mask
    prof = mm.profile
    cdef long mov = prof.mt_movable, cma = prof.mt_cma
    cdef long isolate_start = cc.free_pfn
    cdef long bstart = (isolate_start >> pb) << pb
    cdef long low = ((<long>cc.migrate_pfn >> pb) + 1) << pb       # pageblock_end_pfn(migrate_pfn)
    cdef long wm_min = base_watermark(mm, zone, "min")
    cdef long zbase = zc.base
    cdef bytearray skip = zc.skip
    cdef bint ignore_skip = cc.ignore_skip_hint
    cdef list freepages = cc.freepages
    cdef long nr_freepages = cc.nr_freepages
    cdef long scanned = 0, isolated = 0
    cdef long lo, hi, nxt, start, pos, skipped, pfn, off, f, o, n
    cdef bint failed
    cdef bytearray flags, orders
    cdef MemSection sec
    while bstart >= low:
        sec = _block_view(mm, g, zone, bstart, &lo, &hi)
        nxt = bstart - pbn
        if sec is None or not _suitable_target(cc, sec, g, lo, mov, cma) or not (
                ignore_skip or _isolation_suitable(skip, (bstart - zbase) >> pb)):
            bstart = isolate_start = nxt
            continue
        start = lo if lo > isolate_start else isolate_start
        flags = sec.flags
        orders = sec.order
        pos = hi
        failed = False
        skipped = 0
        for pfn in range(start, hi):
            off = pfn & mask
            f = flags[off]
            if not (f & PG_BUDDY):
                continue
            o = orders[off]
            n = 1 << o
            if zone.free_pages <= wm_min + n:          # __isolate_free_page's watermark
                pos = pfn
                failed = True
                break
            c_del_page_from_free_list(g, zone, pfn, o, (f & MT_MASK) >> MT_SHIFT)
            (<list>freepages[o]).append(pfn)
            nr_freepages += n
            isolated += n
            skipped += n - 1
            if nr_freepages >= need:
                pos = pfn + n
                break
        scanned += (pos - start) - skipped
        isolate_start = pos
        if pos >= hi:
            _set_skip(skip, (bstart - zbase) >> pb)
            if nxt < <long>zc.cached_free:
                zc.cached_free = nxt
        if nr_freepages >= need:
            if isolate_start >= hi:
                isolate_start = nxt
            break
        if failed:
            break
        bstart = isolate_start = nxt
    # what the scan did, written back once (the kernel counts compact_isolated per
    # isolated block; nothing reads it in between)
    cc.nr_freepages = nr_freepages
    cc.total_free_scanned += scanned
    cc.free_pfn = isolate_start
    count_vm_event(mm, "compact_isolated", isolated)


cdef long c_compaction_alloc(cc, zc, list freepages, long* nr_freepages, long order,
                             long need_more) except? -2:
    # mm/compaction.c compaction_alloc (v6.9+: high-order isolated blocks, split on use):
    # the smallest isolated block that fits, its upper halves back on the isolated lists.
    # ``nr_freepages`` is cc->nr_freepages, held by the caller while it migrates.
    cdef long attempt, o, pfn
    cdef list lst
    for attempt in range(2):
        for o in range(order, len(freepages)):
            lst = <list>freepages[o]
            if lst:
                pfn = lst.pop()
                nr_freepages[0] -= 1 << o
                while o > order:
                    o -= 1
                    (<list>freepages[o]).append(pfn + (1 << o))
                    nr_freepages[0] += 1 << o
                return pfn
        if attempt == 0:
            cc.nr_freepages = nr_freepages[0]
            c_isolate_freepages(cc, zc, need_more)
            nr_freepages[0] = cc.nr_freepages
    return -1


# --- migration ----------------------------------------------------------------------------------

def migrate_block(cc, zc, list sources):
    """Migrate ``sources`` to isolated free blocks; free the sources.  False when targets
    ran out (the kernel's -ENOMEM from migrate_pages)."""
    cdef MMCore mm = cc.mm
    cdef Geometry g = mm.geometry
    cdef long shift = g.shift, mask = g.mask
    cdef long need = 0, pfn, new, order, off, pages, nfailed
    for _, order in sources:
        need += 1 << order
    if cc.nr_freepages < need:
        c_isolate_freepages(cc, zc, need)
    cdef list freepages = cc.freepages
    cdef long nr_freepages = cc.nr_freepages
    cdef list moved = []
    cdef bint enomem = False
    cdef long mov_head = PG_HEAD | (<long>mm.profile.mt_movable << MT_SHIFT)
    cdef MemSection sec
    poison = mm.poison
    for pfn, order in sources:
        new = c_compaction_alloc(cc, zc, freepages, &nr_freepages, order, need)
        if new < 0:
            enomem = True
            break
        need -= 1 << order
        # the target becomes the source's allocated head (migrate_folio_unmap/move)
        sec = section_at(g.sections, new >> shift)
        off = new & mask
        sec.flags[off] = section_at(g.sections, pfn >> shift).flags[pfn & mask] or mov_head
        sec.order[off] = order
        if poison is not None:
            poison.unpoison_pages(new, order)
        mm.nr_alloc_events += 1
        moved.append((pfn, new, order))
    cc.nr_freepages = nr_freepages
    nfailed = len(sources) - len(moved)
    if moved:
        owner = mm.page_owner
        if owner is not None:
            owner.folio_copy_owners(moved, "compaction", COMPACTION_TARGET_STACK)
        pcp = cc.pcp
        costly = mm.profile.costly_order
        pages = 0
        for pfn, new, order in moved:
            _free_source(mm, pcp, costly, pfn, order)
            pages += 1 << order
        count_vm_event(mm, "pgmigrate_success", pages)
        cc.nr_migrated += pages
        (<list>cc.moved).extend(moved)
    if nfailed:
        pages = 0
        for pfn, order in sources[len(moved):]:
            pages += 1 << order
        count_vm_event(mm, "pgmigrate_fail", pages)
        cc.nr_failed += nfailed
    return not enomem


cdef void _free_source(MMCore mm, pcp, long costly, long pfn, long order) except *:
    # the migrated source goes back: through proactive compaction's pcp-like buffer
    # (cc->pcp; free_unref_page: page_owner and poison see the free now, the buddy lists
    # later) up to PAGE_ALLOC_COSTLY_ORDER (``costly``), else __free_pages
    if pcp is None or order > costly:
        free_pages(mm, pfn, order)
        return
    c_free_pages_prepare(mm, pfn, order)
    mm.nr_free_events += 1
    if isinstance(pcp, PcpBufferCore):
        (<PcpBufferCore>pcp).add_c(pfn, order)      # pcp.PcpBuffer, as C
    else:
        pcp.add(pfn, order)
