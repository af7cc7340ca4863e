# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The allocation fast path and the free path of mm/page_alloc.c, compiled (Cython;
docs/compiled-core.md): ``prepare_alloc_pages``, ``alloc_pages_fast`` (__alloc_pages
up to its slow path), ``get_page_from_freelist``, ``prep_new_page``,
``free_pages`` with its bad-page checks (``check_free``) and ``__free_pages_ok``.

They run once per allocation or free, so the interpreter's cost per line was most of
their time.  They keep the state as the Python code around them does (the buddy's
dicts and bytearrays, the zones' counters, the hooks of the page_ext clients).
``pextlab.kernel.fastpath`` imports them; nothing else should.  The runner's replay
calls ``alloc_pages_fast`` and ``free_pages`` as C (``_fastpath.pxd``:
``c_alloc_pages_fast``, ``c_free_pages``), which make every check the def functions
make once their arguments are C integers.
"""
from cpython.number cimport PyNumber_Index

from ._buddy cimport c_free_one_page, c_mark, c_rmqueue_smallest, c_zone_watermark_ok
from ._geometry cimport Geometry
from ._mmzone cimport MemSection, Zone, section_at
from ._page_owner cimport ResetPageOwner, SetPageOwner
from ._state cimport AcSlot, AllocContextCache, MMCore

from ..errors import PextlabError
from . import mmzone, ring_buffer
from .buddy import (ALLOC_CMA, ALLOC_MIN_RESERVE, ALLOC_NO_WATERMARKS, ALLOC_NON_BLOCK,
                    ALLOC_WMARK_LOW, __rmqueue)
from .pcp import free_unref_page_commit, pcp_block_of, rmqueue_pcplist
from .gfp import (check_gfp_migratetype, direct_reclaim_flag, gfp_migratetype, gfp_zone,
                  ZONE_MOVABLE, ZONE_NAMES)

__all__ = ["prepare_alloc_pages", "alloc_pages_fast", "get_page_from_freelist", "prep_new_page",
           "free_pages", "check_free", "__free_pages_ok"]

# page flag bits (pextlab.kernel.mmzone) and trace event numbers, read once into C
cdef long PG_BUDDY = mmzone.PG_BUDDY
cdef long PG_RESERVED = mmzone.PG_RESERVED
cdef long PG_HEAD = mmzone.PG_HEAD
cdef long PG_GUARD = mmzone.PG_GUARD
cdef long MT_SHIFT = mmzone.MT_SHIFT
cdef long EV_ALLOC = ring_buffer.EV_ALLOC
cdef long EV_FREE = ring_buffer.EV_FREE
cdef long C_ALLOC_CMA = ALLOC_CMA
cdef long C_SPECIAL = ALLOC_NO_WATERMARKS | ALLOC_MIN_RESERVE
cdef long C_NO_WATERMARKS = ALLOC_NO_WATERMARKS


def prepare_alloc_pages(mm, gfp, nid):
    """mm/page_alloc.c prepare_alloc_pages + gfp_to_alloc_flags: the per (gfp, nid)
    constants of an allocation, cached: (migratetype, zonelist, highest zone idx, alloc_flags).

    A mask with both __GFP_MOVABLE and __GFP_RECLAIMABLE raises PextlabError
    (:func:`pextlab.kernel.gfp.check_gfp_migratetype`); it is never cached.
    """
    key = (gfp, nid)
    ctx = mm._ac_cache.get(key)
    if ctx is None:
        prof = mm.profile
        check_gfp_migratetype(gfp, prof)
        mt = gfp_migratetype(gfp, prof, mm.mobility_grouping)
        high = gfp_zone(gfp, prof)
        if high == ZONE_MOVABLE and not mm.movable_zone_used:
            high = ZONE_MOVABLE      # harmless: no populated movable zone to pick
        zl = [z for z in mm.zonelists[nid] if z.idx <= high]
        if gfp & prof.gfp_bits.get("__GFP_THISNODE", 0):
            zl = [z for z in zl if z.nid == nid]
        flags = ALLOC_WMARK_LOW
        if gfp & prof.gfp_bits["__GFP_HIGH"]:
            flags |= ALLOC_MIN_RESERVE
        direct = direct_reclaim_flag(prof)
        if not gfp & direct:
            flags |= ALLOC_NON_BLOCK
        if mt == prof.mt_movable:
            flags |= ALLOC_CMA
        ctx = (mt, tuple(zl), high, flags)
        mm._ac_cache[key] = ctx
    return ctx


cdef long _int(x, str what) except? -1:
    # an integer argument as the kernel's C would have it: ints and numpy integers,
    # never a float silently truncated (operator.index semantics)
    try:
        return PyNumber_Index(x)
    except TypeError:
        raise PextlabError(f"{what} must be an integer, got {x!r}") from None
    except OverflowError:
        raise PextlabError(f"{what} {x!r} is out of range") from None


def alloc_pages_fast(MMCore mm not None, gfp_arg, order_arg, nid):
    """__alloc_pages_noprof up to its slow path: the checks of its arguments, the
    per (gfp, nid) constants (prepare_alloc_pages), ``get_page_from_freelist`` at the
    low watermark and ``prep_new_page``.  Returns the head pfn, or -1 when the slow
    path must go on (``pextlab.kernel.page_alloc.__alloc_pages``).  ``nid`` None (or
    negative): the current node."""
    return c_alloc_pages_fast(mm, _int(gfp_arg, "gfp"), _int(order_arg, "order"),
                              -1 if nid is None else _nid(mm, nid))


cdef long _nid(MMCore mm, nid) except? -2:
    # a node number as C: anything that is no integer names no node
    try:
        return PyNumber_Index(nid)
    except (TypeError, OverflowError):
        raise _no_node(mm, nid) from None


cdef _no_node(MMCore mm, nid):
    return PextlabError(f"node {nid} does not exist (nodes: {sorted(mm.zonelists)})")


cdef long c_alloc_pages_fast(MMCore mm, long gfp, long order, long nid) except? -2:
    # alloc_pages_fast for C callers (the runner's replay): the order and the node
    # are checked here, so a bad one raises PextlabError whoever calls; nid < 0 is
    # the current node.  The per (gfp, nid) constants come from mm._ac_cache's C
    # table: no Python object per call once prepare_alloc_pages computed them
    cdef Geometry g = mm.geometry
    if order < 0 or order > g.max_order:
        raise PextlabError(f"order {order} is outside 0..MAX_PAGE_ORDER "
                           f"({mm.profile.max_page_order}) for profile {mm.profile.name}")
    # mm/page_alloc.c __alloc_pages_noprof runs prepare_alloc_pages on every call; its
    # result depends on (gfp, nid) and state that clears mm._ac_cache when it changes
    cdef AllocContextCache cache = mm._ac_cache
    cdef bint current = nid < 0
    if current:
        nid = mm.current_nid
    cdef AcSlot *ac = cache.c_get(gfp, nid)
    if ac is NULL:
        # an entry exists only for a node of the zonelists (prepare_alloc_pages reads
        # mm.zonelists[nid]) and goes when they are rebuilt (build_zonelists clears
        # the cache): only a miss needs the node checked
        if not current and nid not in mm.zonelists:
            raise _no_node(mm, nid)
        prepare_alloc_pages(mm, gfp, nid)
        ac = cache.c_get(gfp, nid)
        if ac is NULL:          # prepare_alloc_pages replaced by one that caches nothing
            raise PextlabError(f"prepare_alloc_pages cached nothing for gfp {gfp:#x}, node {nid}")
    cdef long mt = ac.mt
    cdef long pfn = c_get_page_from_freelist(mm, order, mt, cache.c_zones(ac), ac.high,
                                             ac.flags, None)
    if pfn >= 0:
        c_prep_new_page(mm, pfn, order, mt, gfp)
    return pfn


def get_page_from_freelist(MMCore mm not None, long order, long mt, zones, long high,
                           long alloc_flags):
    """mm/page_alloc.c get_page_from_freelist: the first zone of the zonelist above its
    watermark (and lowmem_reserve) that has the block; (zone, pfn) or (None, -1).

    rmqueue takes from the per-cpu lists first when the zone has them (boot option
    pextlab.pcp=on), else from the buddy lists."""
    if not 0 <= high < len(ZONE_NAMES):
        raise PextlabError(f"highest_zoneidx {high} is not a zone index")
    cdef list got = []
    cdef long pfn = c_get_page_from_freelist(mm, order, mt, tuple(zones), high, alloc_flags, got)
    return (got[0], pfn) if pfn >= 0 else (None, -1)


cdef long c_get_page_from_freelist(MMCore mm, long order, long mt, tuple zones, long high,
                                   long alloc_flags, list zone_out) except? -2:
    # get_page_from_freelist; the zone the block came from is appended to zone_out
    cdef long wm = alloc_flags & 3          # ALLOC_WMARK_MASK -> enum zone_watermarks
    if wm > 2:
        raise PextlabError(f"alloc_flags {alloc_flags:#x}: no watermark {wm}")
    cdef bint simple = not order and not (alloc_flags & C_SPECIAL)
    cdef bint cma_usable = alloc_flags & C_ALLOC_CMA
    cdef long mt_cma = mm.geometry.mt_cma
    cdef long free, pfn
    cdef Zone zone
    for z in zones:
        zone = <Zone?>z
        if not zone.free_pages:
            continue
        if simple:
            # order-0 fast path of __zone_watermark_ok: free pages (without CMA's when
            # the allocation may not use them) above the mark and lowmem_reserve
            free = zone.free_pages
            if not cma_usable:
                free -= zone.freemt.v[mt_cma]
            if free <= zone.wmark.v[wm] + zone.lowmem.v[high]:
                continue
        elif not (alloc_flags & C_NO_WATERMARKS):
            if not c_zone_watermark_ok(mm, zone, order, zone.wmark.v[wm], high, alloc_flags):
                continue
        pcp = zone.pcp
        if pcp is not None and pcp.allowed[order]:
            pfn = rmqueue_pcplist(mm, zone, pcp, order, mt, alloc_flags)
            if pfn < 0:
                pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        elif not cma_usable or not zone.freemt.v[mt_cma]:
            # __rmqueue without free CMA pages to consider: __rmqueue_smallest, then
            # (it failed, changing nothing) the whole of __rmqueue with its fallback
            pfn = c_rmqueue_smallest(mm, zone, order, mt)
            if pfn < 0:
                pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        else:
            pfn = __rmqueue(mm, zone, order, mt, alloc_flags)
        if pfn >= 0:
            if zone_out is not None:
                zone_out.append(zone)
            return pfn
    return -1


def prep_new_page(MMCore mm not None, long pfn, long order, long mt, long gfp):
    """mm/page_alloc.c prep_new_page / post_alloc_hook, then __alloc_pages' trace
    event: unpoison, mark the head, the page_ext clients' hook (set_page_owner),
    count, trace_mm_page_alloc(page, order, gfp, ac.migratetype)."""
    c_prep_new_page(mm, pfn, order, mt, gfp)


cdef void c_prep_new_page(MMCore mm, long pfn, long order, long mt, long gfp) except *:
    poison = mm.poison
    if poison is not None:
        poison.unpoison_pages(pfn, order)
    c_mark(mm.geometry, pfn, PG_HEAD | (mt << MT_SHIFT), order)
    hook = mm.alloc_hook
    if type(hook) is SetPageOwner:            # page_owner's, called as C
        (<SetPageOwner>hook).hooks.c_set(pfn, order, gfp, True)
    elif hook is not None:
        hook(pfn, order, gfp)
    mm.nr_alloc_events += 1
    tr = mm.trace
    if tr is not None and tr.live[EV_ALLOC]:
        tr.event(mm, EV_ALLOC, pfn, order, mt, gfp, 0)


def free_pages(MMCore mm not None, pfn, order):
    """__free_pages(): the caller's 2^order block at ``pfn`` goes back to the buddy.

    Raises PextlabError (naming the pfn and what it is) if the pfn is not the head
    of an allocated block of that order -- the kernel would report a bad page.
    """
    c_free_pages(mm, _int(pfn, "free_pages: pfn"), _int(order, "free_pages: order"))


cdef void c_free_pages(MMCore mm, long pfn, long order) except *:
    # free_pages for C callers (the runner's replay), with the same checks
    cdef long off
    cdef Geometry g = mm.geometry
    cdef MemSection sec
    if 0 <= pfn < g.max_section_pfn:
        s = g.sections[pfn >> g.shift]
        if s is not None:
            sec = <MemSection?>s
            off = pfn & g.mask
            pc = sec.pincount
            if (sec.flags[off] & PG_HEAD and sec.order[off] == order
                    and (pc is None or not pc[off])):
                c_free_pages_ok(mm, pfn, order, True)
                return
    check_free(mm, pfn, order)          # raises, naming what is wrong


def check_free(mm, pfn, order):
    """free_pages' checks (the kernel's bad-page report) without freeing."""
    sec = mm.sections[pfn >> mm.section_shift] if 0 <= pfn < mm.max_section_pfn else None
    if sec is None:
        raise PextlabError(f"free_pages: pfn {pfn:#x} is outside the memory map")
    off = pfn & mm.section_mask
    f = sec.flags[off]
    if not (f & PG_HEAD):
        what = ("free (in the buddy allocator)" if f & PG_BUDDY else "reserved" if f & PG_RESERVED
                else "a guard page" if f & PG_GUARD else "not the head of an allocation")
        if not f:
            if pcp_block_of(mm, pfn) is not None:
                what = "free (on a per-cpu page list)"
        raise PextlabError(f"free_pages: pfn {pfn:#x} is {what}")
    if sec.order[off] != order:
        raise PextlabError(f"free_pages: pfn {pfn:#x} was allocated with order {sec.order[off]}, "
                           f"freed with order {order}")
    pc = sec.pincount
    if pc is not None and pc[off]:
        # the pins hold references: put_page would not free it (unpin_user_pages first)
        raise PextlabError(f"free_pages: pfn {pfn:#x} is pinned ({int(pc[off])} pin(s)); "
                           f"unpin it first (unpin_user_pages)")


def __free_pages_ok(MMCore mm not None, long pfn, long order, bint to_pcp=True):
    """free_pages_prepare (page_owner, poison) then, with pcp lists, free_unref_page for
    pcp orders (pextlab.kernel.pcp), else __free_one_page.  ``to_pcp=False`` is the
    kernel's own __free_pages_ok (make_alloc_exact frees the tail that way): straight
    to the buddy lists."""
    c_free_pages_ok(mm, pfn, order, to_pcp)


cdef MemSection c_free_pages_prepare(MMCore mm, long pfn, long order):
    # mm/page_alloc.c free_pages_prepare: trace_mm_page_free, the head's flags cleared,
    # the page_ext clients (page_owner's __reset_page_owner, called as C) and poison;
    # returns the block's section
    tr = mm.trace
    if tr is not None and tr.live[EV_FREE]:
        tr.event(mm, EV_FREE, pfn, order, 0, 0, 0)
    cdef Geometry g = mm.geometry
    cdef MemSection sec = section_at(g.sections, pfn >> g.shift)
    sec.flags[pfn & g.mask] = 0
    hook = mm.free_hook
    if type(hook) is ResetPageOwner:
        (<ResetPageOwner>hook).hooks.c_reset(pfn, order)
    elif hook is not None:
        hook(pfn, order)
    poison = mm.poison
    if poison is not None:
        poison.poison_pages(pfn, order)
    return sec


cdef void c_free_pages_ok(MMCore mm, long pfn, long order, bint to_pcp) except *:
    cdef MemSection sec = c_free_pages_prepare(mm, pfn, order)
    cdef Geometry g = mm.geometry
    cdef long off = pfn & g.mask
    z = g.zone_of(pfn)           # page_zone(), in C (kernel/_geometry.pyx)
    if z is None:
        raise LookupError(f"pfn {pfn:#x} is in no zone")
    cdef Zone zone = <Zone?>z
    cdef long mt = sec.pageblock_mt[off >> g.pageblock_order]
    pcp = zone.pcp
    if to_pcp and pcp is not None and pcp.allowed[order] and mt != pcp.mt_isolate:
        # free_unref_page: onto the per-cpu list (boot option pextlab.pcp=on)
        sec.order[off] = order
        free_unref_page_commit(mm, zone, pcp, pfn, order, mt)
    else:
        c_free_one_page(mm, zone, pfn, order, mt)
    mm.nr_free_events += 1
