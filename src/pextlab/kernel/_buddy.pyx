# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The buddy free lists' hot functions, compiled (Cython): the first piece of the
compiled core (docs/compiled-core.md).

These are the functions of mm/page_alloc.c that every allocation and free goes
through: ``add_to_free_list`` / ``del_page_from_free_list``, ``expand`` (with
mm/debug_page_alloc.c's guard pages), ``__rmqueue_smallest`` and
``__free_one_page``.  They keep the state exactly as the Python code around them
does -- the zone's free lists (C lists, kernel/_free_area.pyx), the per-section
``bytearray`` s of page flags and orders, the zone's counters (C arrays) -- so every
other part of the kernel model reads and changes the same state.  What compiling
buys is the interpreter's cost per line: typed integer arithmetic, direct
``bytearray`` indexing, and the free lists and counters as C.

``pextlab.kernel.buddy`` imports them; nothing else should.
"""

from ._free_area cimport FreeArea
from ._geometry cimport Geometry
from ._mmzone cimport MemSection, Zone, section_at
from ._state cimport MMCore

from ..errors import PextlabError
from . import mmzone, ring_buffer

# the page flag bits and migratetype field (pextlab.kernel.mmzone) and the trace
# event number, read once from their Python homes into C variables
cdef long PG_BUDDY = mmzone.PG_BUDDY
cdef long PG_GUARD = mmzone.PG_GUARD
cdef long MT_SHIFT = mmzone.MT_SHIFT
cdef long MT_MASK = mmzone.MT_MASK
cdef long EV_ZONE_LOCKED = ring_buffer.EV_ZONE_LOCKED
cdef long PCPTYPES = 3    # MIGRATE_PCPTYPES: unmovable, movable, reclaimable
cdef long C_ALLOC_MIN_RESERVE = 0x08
cdef long C_ALLOC_NON_BLOCK = 0x10
cdef long C_ALLOC_CMA = 0x80

__all__ = ["add_to_free_list", "del_page_from_free_list", "set_page_guard",
           "clear_page_guard", "expand", "__rmqueue_smallest", "__free_one_page",
           "zone_watermark_ok", "ALLOC_MIN_RESERVE", "ALLOC_NON_BLOCK", "ALLOC_CMA"]

# alloc_flags (mm/internal.h) the watermark check reads; kernel/buddy.py has the rest
ALLOC_MIN_RESERVE = C_ALLOC_MIN_RESERVE     # __GFP_HIGH: may dip to half of min
ALLOC_NON_BLOCK = C_ALLOC_NON_BLOCK         # atomic caller: another quarter
ALLOC_CMA = C_ALLOC_CMA

cdef inline void _count(Zone zone, long order, long mt, long sign) except *:
    # a free list gained (sign 1) or lost (-1) a block: free_area[order].nr_free,
    # NR_FREE_PAGES and the per-migratetype count (mm/page_alloc.c account_freepages)
    cdef long n = sign << order
    zone.nrfree.v[order] += sign
    zone.free_pages += n
    zone.freemt.v[mt] += n


cdef inline void c_mark(Geometry g, long pfn, long bits, long order) except *:
    # a block's first page: its flags (PG_buddy / PG_guard / the allocated head, with
    # the migratetype) and its order (struct page's private field)
    cdef MemSection sec = section_at(g.sections, pfn >> g.shift)
    cdef long off = pfn & g.mask
    sec.flags[off] = bits
    sec.order[off] = order


cdef inline void c_add(Geometry g, Zone zone, long pfn, long order, long mt) except *:
    # __add_to_free_list
    c_mark(g, pfn, PG_BUDDY | (mt << MT_SHIFT), order)
    zone.fa.add(pfn, order, mt)
    _count(zone, order, mt, 1)


def add_to_free_list(MMCore mm not None, Zone zone not None, long pfn, long order, long mt):
    """mm/page_alloc.c __add_to_free_list: the block becomes a buddy head of its
    order and type, at the head of its list."""
    c_add(mm.geometry, zone, pfn, order, mt)


def del_page_from_free_list(MMCore mm not None, Zone zone not None, long pfn, long order,
                            long mt):
    """mm/page_alloc.c del_page_from_free_list: off its list, no longer a buddy."""
    c_del_page_from_free_list(mm.geometry, zone, pfn, order, mt)


cdef void c_del_page_from_free_list(Geometry g, Zone zone, long pfn, long order,
                                    long mt) except *:
    zone.fa.remove(pfn, order, mt)
    section_at(g.sections, pfn >> g.shift).flags[pfn & g.mask] = 0
    _count(zone, order, mt, -1)


def set_page_guard(MMCore mm not None, Zone zone not None, long pfn, long order, long mt):
    """mm/debug_page_alloc.c __set_page_guard: below debug_guardpage_minorder the
    split-off half becomes a guard page, "not available for any usage"."""
    return c_set_page_guard(mm, zone, pfn, order, mt)


cdef bint c_set_page_guard(MMCore mm, Zone zone, long pfn, long order, long mt) except -1:
    if order >= mm.guard_minorder:
        return False
    c_mark(mm.geometry, pfn, PG_GUARD | (mt << MT_SHIFT), order)
    mm.nr_guard_pages += 1 << order
    hook = mm.page_ext_guard_hook
    if hook is not None:          # v3.19: PAGE_EXT_DEBUG_GUARD bit
        hook(pfn, True)
    return True


def clear_page_guard(MMCore mm not None, Zone zone not None, long pfn, long order):
    """mm/debug_page_alloc.c __clear_page_guard."""
    c_clear_page_guard(mm, pfn, order)


cdef void c_clear_page_guard(MMCore mm, long pfn, long order) except *:
    cdef Geometry g = mm.geometry
    section_at(g.sections, pfn >> g.shift).flags[pfn & g.mask] = 0
    mm.nr_guard_pages -= 1 << order
    hook = mm.page_ext_guard_hook
    if hook is not None:
        hook(pfn, False)


cdef void c_expand(MMCore mm, Geometry g, Zone zone, long pfn, long low, long high,
                   long mt) except *:
    cdef long guard = mm.guard_minorder
    cdef long buddy
    while high > low:
        high -= 1
        buddy = pfn + (1 << high)
        if high < guard and c_set_page_guard(mm, zone, buddy, high, mt):
            continue
        c_add(g, zone, buddy, high, mt)


def expand(MMCore mm not None, Zone zone not None, long pfn, long low, long high, long mt):
    """mm/page_alloc.c expand: split a 2^high block at ``pfn`` down to 2^low, the
    upper half of each split back on the lists (or a guard page)."""
    c_expand(mm, mm.geometry, zone, pfn, low, high, mt)


cdef long c_rmqueue_smallest(MMCore mm, Zone zone, long order, long mt) except? -2:
    cdef FreeArea fa = zone.fa
    cdef Geometry g = mm.geometry
    cdef long current
    cdef long pfn
    for current in range(order, g.nr_orders):
        pfn = fa.pop_head(current, mt)   # the list head (most recently added), O(1)
        if pfn >= 0:
            section_at(g.sections, pfn >> g.shift).flags[pfn & g.mask] = 0
            _count(zone, current, mt, -1)
            if current != order:
                c_expand(mm, g, zone, pfn, order, current, mt)
            tr = mm.trace
            if tr is not None and tr.live[EV_ZONE_LOCKED]:
                # trace_mm_page_alloc_zone_locked, percpu_refill =
                # pcp_allowed_order(order) && migratetype < MIGRATE_PCPTYPES
                prof = mm.profile
                tr.event(mm, EV_ZONE_LOCKED, pfn, order, mt, 0,
                         int(prof.pcp_allowed_order(order) and mt < len(prof.pcptypes)))
            return pfn
    return -1


def __rmqueue_smallest(MMCore mm not None, Zone zone not None, long order, long mt):
    """mm/page_alloc.c __rmqueue_smallest: the head of the smallest non-empty list of
    type ``mt`` at ``order`` or above, split down to ``order``; -1 when none."""
    return c_rmqueue_smallest(mm, zone, order, mt)


cdef void c_free_one_page(MMCore mm, Zone zone, long pfn, long order, long mt) except *:
    cdef Geometry g = mm.geometry
    cdef list sections = g.sections
    cdef long shift = g.shift, mask = g.mask
    cdef long max_order = g.max_order
    cdef long pb = g.pageblock_order
    cdef long zstart = zone.zone_start_pfn
    cdef long zend = zstart + zone.spanned_pages
    cdef FreeArea fa = zone.fa
    cdef long buddy, off, f, buddy_mt, bmt
    cdef bytearray flags, orders, pbmt
    cdef MemSection sec
    while order < max_order:
        buddy = pfn ^ (1 << order)
        if buddy < zstart or buddy >= zend:
            break
        sec = section_at(sections, buddy >> shift)
        off = buddy & mask
        flags = sec.flags
        orders = sec.order
        f = flags[off]
        if not (f & (PG_BUDDY | PG_GUARD)) or orders[off] != order:
            break
        buddy_mt = (f & MT_MASK) >> MT_SHIFT
        if order >= pb:
            pbmt = sec.pageblock_mt
            bmt = pbmt[off >> pb]
            if bmt != mt and (mt >= PCPTYPES or bmt >= PCPTYPES):
                break
        if f & PG_GUARD:
            c_clear_page_guard(mm, buddy, order)
        else:
            fa.remove(buddy, order, buddy_mt)
            flags[off] = 0
            _count(zone, order, buddy_mt, -1)
        if order >= pb:
            # match the buddy's pageblock to ours so expand() later splits correctly
            if pbmt[off >> pb] != mt:
                pbmt[off >> pb] = mt
        pfn &= buddy
        order += 1
    c_add(g, zone, pfn, order, mt)


def __free_one_page(MMCore mm not None, Zone zone not None, long pfn, long order, long mt):
    """mm/page_alloc.c __free_one_page: merge with free buddies (and guard pages) as
    far as MAX_PAGE_ORDER, then add to the list of ``mt``.  Above pageblock order
    two blocks merge only when their pageblock types may (migratetype_is_mergeable:
    both below MIGRATE_PCPTYPES, or equal); the buddy's pageblock then takes ours."""
    c_free_one_page(mm, zone, pfn, order, mt)


cdef bint c_zone_watermark_ok(MMCore mm, Zone zone, long order, long mark, long high,
                              long alloc_flags) except -1:
    # mm/page_alloc.c __zone_watermark_ok: the free pages less the block (and CMA's
    # when the allocation may not use them) above the mark, eased for __GFP_HIGH and
    # atomic callers, plus lowmem_reserve[highest_zoneidx]; above order 0 also a free
    # block of that order or more on a list the allocation may take from (one of the
    # MIGRATE_PCPTYPES lists, or CMA's)
    cdef long free = zone.free_pages - ((1 << order) - 1)
    cdef long mt_cma = mm.geometry.mt_cma
    if alloc_flags & C_ALLOC_MIN_RESERVE:
        mark -= mark // 2
        if alloc_flags & C_ALLOC_NON_BLOCK:
            mark -= mark // 4
    if not (alloc_flags & C_ALLOC_CMA):
        free -= zone.freemt.v[mt_cma]
    if free <= mark + zone.lowmem.v[high]:
        return False
    if not order:
        return True
    cdef FreeArea fa = zone.fa
    cdef long o, mt, nm = fa.nr_mt
    for o in range(order, fa.nr_orders):
        if not zone.nrfree.v[o]:
            continue
        for mt in range(PCPTYPES):
            if fa.count[o * nm + mt]:
                return True
        if (alloc_flags & C_ALLOC_CMA) and fa.count[o * nm + mt_cma]:
            return True
    return False


def zone_watermark_ok(MMCore mm not None, Zone zone not None, long order, long mark,
                      long highest_zoneidx, long alloc_flags):
    """mm/page_alloc.c __zone_watermark_ok."""
    if not 0 <= highest_zoneidx < zone.lowmem.n:
        raise PextlabError(f"zone_watermark_ok: no zone index {highest_zoneidx}")
    if not 0 <= order < 63:
        raise PextlabError(f"zone_watermark_ok: order {order} is out of range")
    return c_zone_watermark_ok(mm, zone, order, mark, highest_zoneidx, alloc_flags)
