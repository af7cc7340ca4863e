# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""mm/gup.c's per-block work, compiled (Cython; docs/compiled-core.md): the check that
a pfn heads an allocated block, ``folio_is_longterm_pinnable``, and taking or
dropping one pin (the count per allocated head in ``MemSection.pincount``).

``pextlab.kernel.gup`` builds ``pin_user_pages`` / ``unpin_user_pages`` on these
(the long-term pin's migration stays there, in Python); the runner's replay calls the
C forms (``_gup.pxd``) for a pinning task's blocks, and goes through ``gup`` only
when a long-term pin must migrate the block first.
"""
from libc.stdint cimport int32_t

from ._geometry cimport Geometry
from ._mmzone cimport MemSection, Zone
from ._state cimport MMCore

import numpy as np

from ..errors import PextlabError
from . import mmzone
from .gfp import ZONE_MOVABLE

__all__ = ["check_head", "folio_is_longterm_pinnable", "pin_head", "unpin_head"]

cdef long PG_HEAD = mmzone.PG_HEAD
cdef long C_ZONE_MOVABLE = ZONE_MOVABLE


cdef MemSection c_section(MMCore mm, long pfn, str what):
    # the present section of ``pfn``
    cdef Geometry g = mm.geometry
    cdef long nr = pfn >> g.shift
    cdef MemSection sec = None
    if pfn >= 0 and nr < len(g.sections) and g.sections[nr] is not None:
        sec = <MemSection?>g.sections[nr]
    if sec is None or not sec.present:
        raise PextlabError(f"{what}: pfn {pfn:#x} is outside the memory map")
    return sec


cdef MemSection c_head(MMCore mm, long pfn, str what):
    # the section of ``pfn``, which must head an allocated block
    cdef MemSection sec = c_section(mm, pfn, what)
    if not sec.flags[pfn & mm.geometry.mask] & PG_HEAD:
        raise PextlabError(f"{what}: pfn {pfn:#x} is not the head of an allocated block")
    return sec


cdef bint c_longterm_pinnable(MMCore mm, long pfn) except -1:
    # include/linux/mm.h folio_is_longterm_pinnable: not in a MIGRATE_CMA or
    # MIGRATE_ISOLATE pageblock, not in ZONE_MOVABLE
    cdef Geometry g = mm.geometry
    cdef MemSection sec = c_section(mm, pfn, "folio_is_longterm_pinnable")
    cdef long mt = sec.pageblock_mt[(pfn & g.mask) >> g.pageblock_order]
    if mt == g.mt_cma or mt == mm.profile.mt_isolate:
        return False
    zone = g.zone_of(pfn)
    return zone is None or (<Zone?>zone).idx != C_ZONE_MOVABLE


cdef int c_pin(MMCore mm, long pfn) except -1:
    # one more pin on the block headed at pfn (FOLL_PIN)
    cdef MemSection sec = c_head(mm, pfn, "pin_user_pages")
    if sec.pincount is None:
        sec.pincount = np.zeros(mm.geometry.mask + 1, dtype=np.int32)
    cdef int32_t[::1] pc = sec.pincount
    pc[pfn & mm.geometry.mask] += 1
    return 0


cdef int c_unpin(MMCore mm, long pfn) except -1:
    # unpin_user_page: one pin fewer; a block not pinned is refused
    cdef MemSection sec = c_head(mm, pfn, "unpin_user_pages")
    cdef int32_t[::1] pc
    cdef long off = pfn & mm.geometry.mask
    if sec.pincount is not None:
        pc = sec.pincount
        if pc[off] > 0:
            pc[off] -= 1
            return 0
    raise PextlabError(f"unpin_user_pages: pfn {pfn:#x} is not pinned")


def check_head(MMCore mm not None, long pfn, str what="pin_user_pages"):
    """PextlabError unless ``pfn`` heads an allocated block of the memory map."""
    c_head(mm, pfn, what)


def folio_is_longterm_pinnable(MMCore mm not None, long pfn):
    """include/linux/mm.h folio_is_longterm_pinnable for the block headed at ``pfn``:
    not in a MIGRATE_CMA or MIGRATE_ISOLATE pageblock, not in ZONE_MOVABLE."""
    return c_longterm_pinnable(mm, pfn)


def pin_head(MMCore mm not None, long pfn):
    """Take one pin on the allocated block headed at ``pfn``."""
    c_pin(mm, pfn)


def unpin_head(MMCore mm not None, long pfn):
    """Drop one pin of the block headed at ``pfn`` (PextlabError if it has none)."""
    c_unpin(mm, pfn)
