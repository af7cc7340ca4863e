"""page_owner record formats: one :class:`PageOwnerVariant` per kernel era, and detection.

The header line changed six times (v3.19 ``mask 0x%x``; v4.6 ``mask %#x(%pGg)``;
v5.11 ``, pid %d, ts %llu ns``; v5.13 ``, free_ts %llu ns``; v5.18 ``pid %d (%s)``;
v5.19 ``pid %d, tgid %d (%s)``; v6.7 without ``free_ts``), the PFN line three
times (v3.19's numeric ``PFN %lu Block %lu type %d %s Flags`` + 12 one-letter
columns; v4.6 ``PFN %lu type %s Block %lu type %s Flags %#lx(%pGp)``; v5.14
``Flags %pGp`` carrying ``node=N|zone=Z``; v6.5 hex ``PFN 0x%lx``) and the
stack lines once (`` [<ffffffff8116147e>] sym+0x1de/0xb00`` until about v4.14,
then `` sym+0x1de/0xb00``).  :data:`PAGE_OWNER_VARIANTS` names each era;
:func:`detect_variant` tells which one a text prints.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ParseError
from ..page_owner_grammar import (
    HEADER_EXPECT, HEADER_LINE, MIGRATETYPE_NAMES, MIGRATETYPE_NAMES_V3_19, PFN_EXPECT, PFN_LINE)

__all__ = [
    "PageOwnerVariant", "PAGE_OWNER_VARIANTS", "detect_variant",
    "MIGRATETYPE_NAMES_V3_19", "MIGRATETYPE_NAMES",
    "V3_19_GFP_MOVABLE", "V3_19_GFP_RECLAIMABLE", "GFP_MOVABLE", "GFP_RECLAIMABLE",
    "GFP_MOVABLE_SHIFT",
]

# MIGRATETYPE_NAMES(_V3_19) are defined with the record grammar and exported here too.

#: v3.19 include/linux/gfp.h ``__GFP_MOVABLE`` and ``__GFP_RECLAIMABLE``.
V3_19_GFP_MOVABLE, V3_19_GFP_RECLAIMABLE = 0x08, 0x80000
#: v4.4+ ``__GFP_MOVABLE`` and ``__GFP_RECLAIMABLE`` (gfp_migratetype: ``>> GFP_MOVABLE_SHIFT``).
GFP_MOVABLE, GFP_RECLAIMABLE, GFP_MOVABLE_SHIFT = 0x08, 0x10, 3


@dataclass(frozen=True)
class PageOwnerVariant:
    """One kernel era's page_owner record format.

    Attributes
    ----------
    name : str
        Variant name, the first kernel version printing it (``"v6.12"``).
    gfp_names : bool
        Header prints ``mask %#x(%pGg)`` (v4.6+) instead of ``mask 0x%x``.
    pid, ts : bool
        Header carries ``pid %d`` and ``ts %llu ns`` (v5.11+).
    comm : bool
        ``(%s)`` with the task's comm after pid/tgid (v5.18+).
    tgid : bool
        ``tgid %d`` (v5.19+).
    free_ts : bool
        ``free_ts %llu ns`` (v5.13 .. v6.6).
    pfn_line : str
        ``"numeric"`` (v3.19–v4.5 ``PFN %lu Block %lu type %d %s Flags <12 columns>``),
        ``"flags_names"`` (v4.6 ``... Flags %#lx(%pGp)``, names only) or
        ``"pGp"`` (v5.14+ ``... Flags %pGp`` carrying ``node=``/``zone=``).
    pfn_hex : bool
        ``PFN 0x%lx`` (v6.5+) instead of ``PFN %lu``.
    stack_addr : bool
        Stack lines `` [<%p>] %pS`` (until about v4.14) instead of `` %pS``.
    migrate_reason : bool
        Prints ``Page has been migrated, last migrate reason: %s`` (v4.6+).
    """

    name: str
    gfp_names: bool
    pid: bool
    ts: bool
    comm: bool
    tgid: bool
    free_ts: bool
    pfn_line: str
    pfn_hex: bool
    stack_addr: bool
    migrate_reason: bool

    @property
    def carries_node_zone(self) -> bool:
        return self.pfn_line == "pGp"


def _variant(name, gfp_names=True, pid=False, comm=False, tgid=False, free_ts=False,
             pfn_line="flags_names", pfn_hex=False, stack_addr=False, migrate_reason=True):
    return PageOwnerVariant(name, gfp_names, pid, pid, comm, tgid, free_ts, pfn_line, pfn_hex,
                            stack_addr, migrate_reason)


#: Named formats.  ``v5.4`` is v4.6's text with the later symbol-only stack lines;
#: ``v5.14`` is v5.13's header with the new ``Flags %pGp``.
PAGE_OWNER_VARIANTS: dict[str, PageOwnerVariant] = {
    v.name: v for v in (
        _variant("v3.19", gfp_names=False, pfn_line="numeric", stack_addr=True, migrate_reason=False),
        _variant("v4.6", stack_addr=True),
        _variant("v5.4"),
        _variant("v5.11", pid=True),
        _variant("v5.13", pid=True, free_ts=True),
        _variant("v5.14", pid=True, free_ts=True, pfn_line="pGp"),
        _variant("v5.18", pid=True, comm=True, free_ts=True, pfn_line="pGp"),
        _variant("v5.19", pid=True, comm=True, tgid=True, free_ts=True, pfn_line="pGp"),
        _variant("v6.5", pid=True, comm=True, tgid=True, free_ts=True, pfn_line="pGp", pfn_hex=True),
        _variant("v6.7", pid=True, comm=True, tgid=True, pfn_line="pGp", pfn_hex=True),
        _variant("v6.12", pid=True, comm=True, tgid=True, pfn_line="pGp", pfn_hex=True),
    )
}


def detect_variant(text_head: str) -> str:
    """Name of the :data:`PAGE_OWNER_VARIANTS` entry the text's first record matches.

    Looks at the first header, PFN and stack line.  Where several variants print
    the same text (``v6.7``/``v6.12``; ``v4.6``/``v5.4`` differ only by stack
    style), the newest is returned.  Raises :class:`ParseError` if no record
    header is found.
    """
    lines = text_head.split("\n")
    for i, ln in enumerate(lines):
        if ln.startswith("Page allocated via "):
            break
    else:
        raise ParseError("<text>", 1, "a 'Page allocated via order ...' header in the text", lines[0])
    h = HEADER_LINE.match(lines[i])
    if not h:
        raise ParseError("<text>", i + 1, HEADER_EXPECT, lines[i])
    pfn_line = lines[i + 1] if i + 1 < len(lines) else ""
    p = PFN_LINE.match(pfn_line)
    if not p:
        raise ParseError("<text>", i + 2, PFN_EXPECT, pfn_line)
    stack = lines[i + 2] if i + 2 < len(lines) else ""
    addr = stack.startswith(" [<")
    if h.group(3) is None:
        return "v3.19"
    if h.group(4) is None:
        return "v4.6" if addr else "v5.4"
    hexpfn = p.group(1).lower().startswith("0x")
    free = h.group(8) is not None
    # v5.13 and v5.14 differ only by the %pGp fields (node=, zone=) on the PFN line
    flags = p.group(5) or ""
    new_pgp = "node=" in flags or "zone=" in flags
    if hexpfn:
        return "v6.5" if free else "v6.12"
    if h.group(5) is not None:
        return "v5.19"
    if h.group(6) is not None:
        return "v5.18"
    if not free:
        return "v5.11"
    return "v5.14" if new_pgp else "v5.13"

