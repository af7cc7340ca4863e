"""GFP masks: parsing, %pGg names, zone and migratetype of a request.

Sources: include/linux/gfp_types.h and gfp.h (bit layout per version, held in
the profile), include/trace/events/mmflags.h (name table order),
lib/vsprintf.c ``format_flags`` (rendering: first matching table entry wins,
its bits are cleared, leftovers printed in hex).
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..errors import PextlabError
from .profiles import KernelProfile

__all__ = ["parse_gfp", "format_gfp", "gfp_migratetype", "check_gfp_migratetype", "gfp_zone",
           "direct_reclaim_flag", "retry_mayfail_flag", "ZONE_DMA", "ZONE_DMA32",
           "ZONE_NORMAL", "ZONE_MOVABLE", "ZONE_DEVICE", "ZONE_NAMES"]

# include/linux/mmzone.h zone_type on x86_64 (no HIGHMEM)
ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, ZONE_DEVICE = range(5)
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")

_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _table(profile: KernelProfile) -> dict[str, int]:
    t = dict(profile.gfp_bits)
    t.update(profile.gfp_composites)
    return t


@lru_cache(maxsize=4096)
def _parse(profile_name: str, text: str, profile: KernelProfile) -> int:
    table = _table(profile)
    value = 0
    for part in text.replace(" ", "").split("|"):
        if not part:
            continue
        if part.lower().startswith("0x") or part.isdigit():
            value |= int(part, 0)
            continue
        neg = part.startswith("~")
        key = part[1:] if neg else part
        if not _TOKEN.match(key) or key not in table:
            raise PextlabError(
                f"unknown gfp flag {key!r} for profile {profile_name}; "
                f"known: GFP_KERNEL, GFP_HIGHUSER_MOVABLE, __GFP_ZERO, ... "
                f"({len(table)} names)")
        value = value & ~table[key] if neg else value | table[key]
    return value


def parse_gfp(gfp, profile: KernelProfile) -> int:
    """Turn ``"GFP_KERNEL|__GFP_ZERO"``, ``0xdc0`` or ``"0xdc0"`` into an int mask.

    >>> from pextlab.kernel.profiles import get_profile
    >>> hex(parse_gfp("GFP_KERNEL|__GFP_ZERO", get_profile("v6.12")))
    '0xdc0'
    """
    if isinstance(gfp, int):
        if gfp < 0:
            raise PextlabError(f"gfp mask must be non-negative, got {gfp}")
        return gfp
    if not isinstance(gfp, str):
        raise PextlabError(f"gfp must be an int or a flag string, got {type(gfp).__name__}")
    return _parse(profile.name, gfp, profile)


@lru_cache(maxsize=8192)
def _format(profile_name: str, mask: int, profile: KernelProfile) -> str:
    table = _table(profile)
    parts = []
    rest = mask
    for name in profile.gfp_name_table:
        v = table[name]
        if v and (rest & v) == v:
            parts.append(name)
            rest &= ~v
            if not rest:
                break
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def format_gfp(mask: int, profile: KernelProfile) -> str:
    """%pGg rendering of ``mask`` (``""`` for 0, so the kernel prints ``mask 0x0()``).

    >>> from pextlab.kernel.profiles import get_profile
    >>> format_gfp(0x140dca, get_profile("v6.12"))
    'GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO'
    """
    return _format(profile.name, int(mask), profile)


def direct_reclaim_flag(profile: KernelProfile) -> int:
    """The bit that lets a request sleep and reclaim: __GFP_DIRECT_RECLAIM (v4.4+), which
    took the place of v3.19's __GFP_WAIT (commit d0164adc89f6, "mm, page_alloc:
    distinguish between being unable to sleep, unwilling to sleep and avoiding waking
    kswapd")."""
    b = profile.gfp_bits
    return b["__GFP_DIRECT_RECLAIM"] if "__GFP_DIRECT_RECLAIM" in b else b["__GFP_WAIT"]


def retry_mayfail_flag(profile: KernelProfile) -> int:
    """The bit that makes a costly request retry before failing: __GFP_RETRY_MAYFAIL
    (v4.13+), which replaced v3.19's __GFP_REPEAT (commit dcda9b04713c, "mm, tree wide:
    replace __GFP_REPEAT by __GFP_RETRY_MAYFAIL with more useful semantic")."""
    b = profile.gfp_bits
    return b["__GFP_RETRY_MAYFAIL"] if "__GFP_RETRY_MAYFAIL" in b else b["__GFP_REPEAT"]


def gfp_migratetype(mask: int, profile: KernelProfile, mobility_grouping: bool = True) -> int:
    """include/linux/gfp.h gfp_migratetype() (v3.19: gfpflags_to_migratetype)."""
    if not mobility_grouping:
        return profile.mt_unmovable
    mov = profile.gfp_bits["__GFP_MOVABLE"]
    rec = profile.gfp_bits["__GFP_RECLAIMABLE"]
    if profile.gfp_movable_shift:
        return (mask & (mov | rec)) >> profile.gfp_movable_shift
    return (((mask & mov) != 0) << 1) | ((mask & rec) != 0)


def check_gfp_migratetype(mask: int, profile: KernelProfile) -> None:
    """Refuse a mask with both __GFP_MOVABLE and __GFP_RECLAIMABLE (PextlabError).

    include/linux/gfp.h gfp_migratetype() (v3.19 gfpflags_to_migratetype) calls such a
    mask a caller bug -- ``VM_WARN_ON((gfp_flags & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK)``
    -- and then returns ``GFP_MOVABLE_MASK >> GFP_MOVABLE_SHIFT`` = 3, the first type past
    MIGRATE_PCPTYPES (MIGRATE_HIGHATOMIC in v6.12, MIGRATE_RESERVE in v3.19).  Nothing
    downstream is defined for it: order_to_pindex(3, order) is the first list of
    order + 1, so rmqueue_pcplist hands out a block of the next order as one of this
    order.  There is no kernel result to model, so the request is refused as bad input,
    as an unknown flag name is.

    >>> from pextlab.kernel.profiles import get_profile
    >>> check_gfp_migratetype(0x18, get_profile("v6.12"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pextlab.errors.PextlabError: gfp mask 0x18 (__GFP_RECLAIMABLE|__GFP_MOVABLE) ...
    """
    both = profile.gfp_bits["__GFP_MOVABLE"] | profile.gfp_bits["__GFP_RECLAIMABLE"]
    if mask & both == both:
        raise PextlabError(
            f"gfp mask {mask:#x} ({format_gfp(mask, profile)}) has both __GFP_MOVABLE and "
            f"__GFP_RECLAIMABLE: gfp_migratetype() warns (VM_WARN_ON) and its result indexes "
            f"no free or per-cpu list of the request's order; use one of the two")


def gfp_zone(mask: int, profile: KernelProfile, movable_zone_exists: bool = True) -> int:
    """Highest zone a request may use (include/linux/gfp.h gfp_zone on x86_64).

    __GFP_DMA -> DMA, __GFP_DMA32 -> DMA32, __GFP_HIGHMEM|__GFP_MOVABLE -> MOVABLE
    (ZONE_MOVABLE needs both on x86_64, which has no HIGHMEM), else NORMAL.

    Two or more of __GFP_DMA, __GFP_DMA32 and __GFP_HIGHMEM name no zone: they are the
    GFP_ZONE_BAD entries of GFP_ZONE_TABLE (v3.19 and v6.12 alike, __GFP_MOVABLE or
    not), where gfp_zone() stops the kernel (VM_BUG_ON).  There is no outcome to model,
    so the mask is refused as bad input (PextlabError), as check_gfp_migratetype does.
    """
    b = profile.gfp_bits
    zone_bits = mask & (b["__GFP_DMA"] | b["__GFP_DMA32"] | b["__GFP_HIGHMEM"])
    if zone_bits & (zone_bits - 1):
        raise PextlabError(
            f"gfp mask {mask:#x} ({format_gfp(mask, profile)}) has more than one of "
            f"__GFP_DMA, __GFP_DMA32 and __GFP_HIGHMEM: GFP_ZONE_BAD, a combination "
            f"gfp_zone() refuses (VM_BUG_ON); use one zone modifier")
    if mask & b["__GFP_DMA"]:
        return ZONE_DMA
    if mask & b["__GFP_DMA32"]:
        return ZONE_DMA32
    if (mask & b["__GFP_MOVABLE"]) and (mask & b["__GFP_HIGHMEM"]):
        return ZONE_MOVABLE
    return ZONE_NORMAL
