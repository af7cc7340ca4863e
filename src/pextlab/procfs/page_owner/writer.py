"""Printing ``page_owner`` frames as the kernel's text, in any variant."""
from __future__ import annotations

import io

import pandas as pd

from ...schema import SCHEMAS
from ..page_owner_grammar import ADDR_PREFIX, MIGRATE_PREFIX, ZONE_NAMES
from .variants import (
    GFP_MOVABLE, GFP_MOVABLE_SHIFT, GFP_RECLAIMABLE, MIGRATETYPE_NAMES, MIGRATETYPE_NAMES_V3_19,
    PAGE_OWNER_VARIANTS)

__all__ = ["format_page_owner", "write_page_owner"]

# x86_64 6.12 page->flags layout seen in the captures (NODES_PGSHIFT 58,
# ZONES_PGSHIFT 55): used only to print a plausible %pGp value for node/zone.
_NODES_PGSHIFT, _ZONES_PGSHIFT = 58, 55


def _ifnan(v, default):
    return default if v is None or (isinstance(v, float) and v != v) else v


def format_page_owner(df: pd.DataFrame, *, variant: str = "v6.12") -> str:
    """The kernel's text for every row of a ``page_owner`` frame, in one variant.

    Parameters
    ----------
    df : pandas.DataFrame
        Schema ``"page_owner"`` (extra columns are ignored).
    variant : str
        A key of :data:`PAGE_OWNER_VARIANTS`.

    Notes
    -----
    Fields the variant does not print are dropped.  Missing values print as the
    kernel's neutral value: pid/tgid -1 as ``-1``, ``ts``/``free_ts`` -1 as 0,
    a NaN comm as empty.  The frame keeps no page flags, so flags print as
    ``0x0()`` (v3.19: twelve blank columns), except that ``%pGp`` variants
    (v5.14+) print ``node=N|zone=Z`` with the value those fields have in the
    6.12 x86_64 ``page->flags`` layout.  A NaN ``migratetype`` is derived from
    the mask; a NaN ``pageblock_migratetype`` copies ``migratetype``.
    Address-style variants (v3.19, v4.6) print a frame without an address as
    ``[<0000000000000000>] frame``; symbol-style ones drop ``[<...>] `` prefixes.
    """
    buf = io.StringIO()
    write_page_owner(df, buf, variant=variant)
    return buf.getvalue()


def write_page_owner(df: pd.DataFrame, fh, *, variant: str = "v6.12") -> None:
    """Write :func:`format_page_owner`'s text to an open text file ``fh``, row by row."""
    try:
        v = PAGE_OWNER_VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown page_owner variant {variant!r}; "
                         f"known: {', '.join(PAGE_OWNER_VARIANTS)}") from None
    missing = [c for c in SCHEMAS["page_owner"] if c not in df.columns and c not in ("top_frame",)]
    if missing:
        raise KeyError(f"frame is missing page_owner columns {missing}")
    zone_idx = {}
    stack_cache: dict = {}
    v319_idx = {n: i for i, n in enumerate(MIGRATETYPE_NAMES_V3_19)}
    v319_idx.setdefault("HighAtomic", 3)
    write = fh.write
    cols = [df[c].tolist() for c in (
        "pfn", "order", "gfp_mask", "gfp", "migratetype", "pageblock", "pageblock_migratetype",
        "mixed", "node", "zone", "stack", "pid", "tgid", "comm", "ts_ns", "free_ts_ns",
        "last_migrate_reason")]
    for (pfn, order, mask, gfp, mt, pb, pbmt, mixed, node, zone, stack, pid, tgid, comm, ts, free_ts,
         reason) in zip(*cols):
        mask = int(mask) & 0xFFFFFFFF
        mt = _ifnan(mt, None)
        if mt is None:
            mt = MIGRATETYPE_NAMES[(mask & (GFP_MOVABLE | GFP_RECLAIMABLE)) >> GFP_MOVABLE_SHIFT]
        pbmt = _ifnan(pbmt, mt)
        # header
        if v.gfp_names:
            h = f"Page allocated via order {int(order)}, mask {mask:#x}({_ifnan(gfp, '')})"
        else:
            h = f"Page allocated via order {int(order)}, mask 0x{mask:x}"
        if v.pid:
            c = _ifnan(comm, "")
            if v.tgid:
                h += f", pid {int(pid)}, tgid {int(tgid)} ({c})"
            elif v.comm:
                h += f", pid {int(pid)} ({c})"
            else:
                h += f", pid {int(pid)}"
            h += f", ts {max(int(ts), 0)} ns"
            if v.free_ts:
                h += f", free_ts {max(int(free_ts), 0)} ns"
        # PFN line
        pfn = int(pfn)
        if v.pfn_line == "numeric":
            k = v319_idx.get(pbmt, 0)
            p = f"PFN {pfn} Block {int(pb)} type {k} {'Fallback' if mixed else ' ' * 8} Flags {' ' * 12}"
        else:
            pfs = f"0x{pfn:x}" if v.pfn_hex else str(pfn)
            if v.pfn_line == "pGp":
                fields = []
                value = 0
                node = int(node)
                zone = _ifnan(zone, None)
                if node >= 0:
                    fields.append(f"node={node}")
                    value |= node << _NODES_PGSHIFT
                if zone is not None:
                    if zone not in zone_idx:
                        zone_idx[zone] = ZONE_NAMES.index(zone) if zone in ZONE_NAMES else int(zone)
                    zi = zone_idx[zone]
                    fields.append(f"zone={zi}")
                    value |= zi << _ZONES_PGSHIFT
                flags = f"{value:#x}({'|'.join(fields)})"
            else:
                flags = "0x0()"
            p = f"PFN {pfs} type {mt} Block {int(pb)} type {pbmt} Flags {flags}"
        # stack
        s = stack_cache.get(stack)
        if s is None:
            frames = str(_ifnan(stack, "")).split("\n") if _ifnan(stack, "") != "" else []
            out = []
            for f in frames:
                has_addr = bool(ADDR_PREFIX.match(f))
                if v.stack_addr and not has_addr:
                    f = "[<0000000000000000>] " + f
                elif not v.stack_addr and has_addr:
                    f = ADDR_PREFIX.sub("", f)
                out.append(" " + f + "\n")
            s = stack_cache[stack] = "".join(out)
        extra = ""
        reason = _ifnan(reason, None)
        if v.migrate_reason and reason is not None:
            extra = f"{MIGRATE_PREFIX}{reason}\n"
        write(f"{h}\n{p}\n{s}{extra}\n")
