"""Reading and writing ``/sys/kernel/debug/page_owner`` dumps, every format from v3.19 on.

The dump is a sequence of records, one per allocated head page, each ended by
an empty line::

    Page allocated via order 0, mask 0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), pid 185, tgid 185 (leaky), ts 1058431417 ns
    PFN 0x1731 type Movable Block 11 type Movable Flags 0x80000000020828(uptodate|lru|owner_2|swapbacked|node=0|zone=1)
     get_page_from_freelist+0x1673/0x1730
     __alloc_pages_noprof+0x12e/0x230
     ...
    <empty line>

The header line changed six times (v3.19 ``mask 0x%x``; v4.6 ``mask %#x(%pGg)``;
v5.11 ``, pid %d, ts %llu ns``; v5.13 ``, free_ts %llu ns``; v5.18 ``pid %d (%s)``;
v5.19 ``pid %d, tgid %d (%s)``; v6.7 without ``free_ts``), the PFN line three
times (v3.19's numeric ``PFN %lu Block %lu type %d %s Flags`` + 12 one-letter
columns; v4.6 ``PFN %lu type %s Block %lu type %s Flags %#lx(%pGp)``; v5.14
``Flags %pGp`` carrying ``node=N|zone=Z``; v6.5 hex ``PFN 0x%lx``) and the
stack lines once (`` [<ffffffff8116147e>] sym+0x1de/0xb00`` until about v4.14,
then `` sym+0x1de/0xb00``).  :func:`read_page_owner` accepts all of them, mixed
freely; :func:`format_page_owner` prints any of them (see
:data:`PAGE_OWNER_VARIANTS`).

Column meanings beyond ``pextlab.schema``
-----------------------------------------
``stack``
    The frames as printed, one per line, without the single leading space the
    kernel prints.  Old-style frames keep their address
    (``[<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00``) so that a
    v3.19/v4.6 dump can be printed back unchanged; ``top_frame`` strips it.
``stack_handle``
    1, 2, 3, ... numbering distinct ``stack`` texts in order of first
    appearance in the file (the kernel's depot handles are not printed).
``migratetype``
    v4.6+: the first ``type %s`` (the migratetype the gfp mask asks for).
    v3.19 prints only the pageblock's type (as a number) and ``Fallback`` when
    the page's type differs; there the page type is derived from the mask with
    v3.19's bits (``__GFP_MOVABLE`` 0x08, ``__GFP_RECLAIMABLE`` 0x80000) and
    ``mixed`` is the kernel's ``Fallback`` marker.
``pageblock``
    ``pfn >> pageblock_order``.  When the printed ``Block`` disagrees (wrong
    ``pageblock_order`` argument), a warning names the order the file implies
    and ``df.attrs["block_mismatch"]`` counts the records.
``node``, ``zone``
    From ``node=N|zone=Z`` inside the ``%pGp`` flags (v5.14+ kernels); -1 and
    NaN for older formats.
``free_ts_ns``
    -1 when the header has no ``free_ts`` or prints ``free_ts 0 ns`` (never freed).
``last_migrate_reason``
    The text after ``Page has been migrated, last migrate reason: ``; NaN if absent.

``Slab cache page``, ``Charged ...memcg ...`` and (2026 filter modes)
``handle: %u`` lines are accepted and ignored (the schema has no column for
them); the page flags other than node/zone are not kept either.
"""
from __future__ import annotations

import gc
import io
import os
import re
import warnings
from dataclasses import dataclass
from itertools import repeat
from typing import IO, Iterator

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import SCHEMAS, conform, empty, top_frame_of
from .textio import open_text, source_name

__all__ = [
    "read_page_owner",
    "iter_page_owner_chunks",
    "format_page_owner",
    "write_page_owner",
    "detect_variant",
    "PageOwnerVariant",
    "PAGE_OWNER_VARIANTS",
    "MIGRATETYPE_NAMES_V3_19",
    "MIGRATETYPE_NAMES",
]

#: v3.19's ``migratetype_names[]`` (index = the number the v3.19 PFN line prints).
MIGRATETYPE_NAMES_V3_19 = ("Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate")
#: v4.4+ ``migratetype_names[]`` (with CONFIG_CMA and CONFIG_MEMORY_ISOLATION).
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")

_V319_GFP_MOVABLE, _V319_GFP_RECLAIMABLE = 0x08, 0x80000
_GFP_MOVABLE, _GFP_RECLAIMABLE = 0x08, 0x10          # v4.4+ (GFP_MOVABLE_SHIFT 3)

# x86_64 6.12 page->flags layout seen in the captures (NODES_PGSHIFT 58,
# ZONES_PGSHIFT 55): used only to print a plausible %pGp value for node/zone.
_NODES_PGSHIFT, _ZONES_PGSHIFT = 58, 55


# --------------------------------------------------------------------------------------
# Variants
# --------------------------------------------------------------------------------------

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


def _v(name, gfp_names=True, pid=False, comm=False, tgid=False, free_ts=False,
       pfn_line="flags_names", pfn_hex=False, stack_addr=False, migrate_reason=True):
    return PageOwnerVariant(name, gfp_names, pid, pid, comm, tgid, free_ts, pfn_line, pfn_hex,
                            stack_addr, migrate_reason)


#: Named formats.  ``v5.4`` is v4.6's text with the later symbol-only stack lines;
#: ``v5.14`` is v5.13's header with the new ``Flags %pGp``.
PAGE_OWNER_VARIANTS: dict[str, PageOwnerVariant] = {
    v.name: v for v in (
        _v("v3.19", gfp_names=False, pfn_line="numeric", stack_addr=True, migrate_reason=False),
        _v("v4.6", stack_addr=True),
        _v("v5.4"),
        _v("v5.11", pid=True),
        _v("v5.13", pid=True, free_ts=True),
        _v("v5.14", pid=True, free_ts=True, pfn_line="pGp"),
        _v("v5.18", pid=True, comm=True, free_ts=True, pfn_line="pGp"),
        _v("v5.19", pid=True, comm=True, tgid=True, free_ts=True, pfn_line="pGp"),
        _v("v6.5", pid=True, comm=True, tgid=True, free_ts=True, pfn_line="pGp", pfn_hex=True),
        _v("v6.7", pid=True, comm=True, tgid=True, pfn_line="pGp", pfn_hex=True),
        _v("v6.12", pid=True, comm=True, tgid=True, pfn_line="pGp", pfn_hex=True),
    )
}


# --------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------

# Full-line patterns (diagnosis, variant detection).
_HDR_LINE = re.compile(
    r"Page allocated via order (\d+), mask (0x[0-9a-fA-F]+|0)(?:\(([^)\n]*)\))?"
    r"(?:, pid (-?\d+)(?:, tgid (-?\d+))?(?: \(([^\n]*)\))?, ts (\d+) ns"
    r"(?:, free_ts (\d+) ns)?)?[ \t]*$")
_PFN_LINE = re.compile(
    r"PFN (0x[0-9a-fA-F]+|\d+) (?:type (\S+) Block (\d+) type (\S+) Flags ([^\n]*)"
    r"|Block (\d+) type (\d+) +(Fallback +)?Flags(?: [^\n]*)?)$")

# The fast scanner: one match per record.  The header is cut into the part that
# repeats (order, mask, gfp names, pid, tgid, comm) and the per-record times; the
# PFN line into the pfn and the (repeating) rest.  Repeating parts are parsed once
# per distinct value by the stricter patterns below.
_RECORD = re.compile(
    r"Page allocated via order (?:([^\n]*), ts (\d+) ns(?:, free_ts (\d+) ns)?|([^\n]*))[ \t]*\n"
    r"PFN (0x[0-9a-fA-F]+|\d+) ([^\n]*)\n"
    r"((?: [^\n]*\n)+)"
    r"((?:(?:Page has been migrated, last migrate reason: |Slab cache page|Charged |handle: )[^\n]*\n)*)"
    r"[ \t]*\n")
G_PREFIX, G_TS, G_FREE, G_PREFIX_OLD, G_PFN, G_REST, G_STACK, G_EXTRA = range(8)

_PREFIX_TS = re.compile(r"(\d+), mask (0x[0-9a-fA-F]+|0)\(([^)\n]*)\), pid (-?\d+)"
                        r"(?:, tgid (-?\d+))?(?: \((.*)\))?")
_PREFIX_OLD = re.compile(r"(\d+), mask (0x[0-9a-fA-F]+|0)(?:\(([^)\n]*)\))?")
_REST_NEW = re.compile(r"type (\S+) Block (\d+) type (\S+) Flags (.*)")
_REST_OLD = re.compile(r"Block (\d+) type (\d+) +(Fallback +)?Flags(?: .*)?")

_EXTRA_LINE = re.compile(r"(?:Page has been migrated, last migrate reason: |Slab cache page|Charged |handle: )")
_FULL_FRAME = re.compile(r"^ (?:\[<[0-9a-fA-F]+>\] )?[^\s+]+(?:\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+)?(?: \[\S+\])?$")
_MIGRATE = "Page has been migrated, last migrate reason: "
_NODE_RE = re.compile(r"(?:\(|\|)node=(\d+)")
_ZONE_RE = re.compile(r"(?:\(|\|)zone=(\d+)")
_ADDR_PREFIX = re.compile(r"^\[<[0-9a-fA-F]+>\] ")

_HDR_EXPECT = ("a header 'Page allocated via order %u, mask %#x(%pGg)[, pid %d[, tgid %d] (%s), "
               "ts %llu ns[, free_ts %llu ns]]'")
_PFN_EXPECT = ("a PFN line 'PFN %lu|0x%lx type %s Block %lu type %s Flags ...' "
               "or 'PFN %lu Block %lu type %d ... Flags ...'")


# --------------------------------------------------------------------------------------
# Column accumulation
# --------------------------------------------------------------------------------------

class _Interner:
    """Maps repeated strings to small ints, in order of first appearance."""

    __slots__ = ("index", "values")

    def __init__(self):
        self.index: dict = {}
        self.values: list = []

    def code(self, value) -> int:
        if value is None:
            return -1
        g = self.index.get(value)
        if g is None:
            g = self.index[value] = len(self.values)
            self.values.append(value)
        return g

    def codes(self, items) -> tuple[np.ndarray, int]:
        """Global codes for ``items`` (None -> -1) and the number of values before."""
        before = len(self.values)
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
        local, uniques = pd.factorize(arr, use_na_sentinel=True)
        lut = np.empty(len(uniques) + 1, dtype=np.int64)
        lut[-1] = -1
        code = self.code
        for i, u in enumerate(uniques):
            lut[i] = code(u)
        return lut[local], before


def _ints(items, *, base: int = 10, missing: int = -1) -> np.ndarray:
    """int64 array from decimal/hex strings; "" (an unmatched group) -> ``missing``."""
    n = len(items)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if "" in items:
        return np.fromiter((missing if x == "" else int(x, base) for x in items), np.int64, n)
    return np.fromiter(map(int, items, [base] * n), np.int64, n)


def _u64(items) -> np.ndarray:
    """Like :func:`_ints` for ``%llu`` (values >= 2**63 wrap into int64)."""
    try:
        return _ints(items)
    except OverflowError:
        return np.fromiter(((-1 if x == "" else (int(x) + 2**63) % 2**64 - 2**63) for x in items),
                           np.int64, len(items))


class _Lut:
    """A growing per-unique table of derived values (lists, turned into arrays on demand)."""

    def __init__(self, *names):
        self.cols = {n: [] for n in names}

    def __len__(self):
        return len(next(iter(self.cols.values())))

    def append(self, **kw):
        for k, v in kw.items():
            self.cols[k].append(v)

    def array(self, name, dtype=np.int64) -> np.ndarray:
        return np.asarray(self.cols[name], dtype=dtype)


class _Columns:
    """Accumulates parsed records as compact numpy pieces plus per-unique tables."""

    def __init__(self, zone_names):
        self.zone_names = tuple(zone_names)
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in (
            "ts", "free_ts", "pfn", "prefix", "rest", "stack", "extra")}
        self.prefix, self.rest, self.stack, self.extra = _Interner(), _Interner(), _Interner(), _Interner()
        # category interners for derived text values
        self.gfp, self.comm, self.mt, self.zone, self.reason = (
            _Interner(), _Interner(), _Interner(), _Interner(), _Interner())
        self.prefix_lut = _Lut("order", "mask", "gfp", "pid", "tgid", "comm", "bad")
        self.rest_lut = _Lut("mt", "block", "pbmt", "node", "zone", "num", "fallback", "bad")
        self.stack_lut = _Lut("text", "top", "nl")
        self.extra_lut = _Lut("reason", "nl")
        self.n = 0

    # -- per-unique parsing -------------------------------------------------------------
    def _parse_prefix(self, key: str):
        with_ts = not key.startswith("\0")
        text = (key if with_ts else key[1:]).rstrip(" \t")
        m = (_PREFIX_TS if with_ts else _PREFIX_OLD).fullmatch(text)
        if m is None:
            self.prefix_lut.append(order=0, mask=0, gfp=-1, pid=-1, tgid=-1, comm=-1, bad=True)
            return
        g = m.groups()
        pid = int(g[3]) if with_ts else -1
        tgid = int(g[4]) if with_ts and g[4] is not None else -1
        comm = g[5] if with_ts else None
        self.prefix_lut.append(order=int(g[0]), mask=int(g[1], 16) & 0xFFFFFFFF, gfp=self.gfp.code(g[2]),
                               pid=pid, tgid=tgid, comm=self.comm.code(comm), bad=False)

    def _parse_rest(self, text: str):
        m = _REST_NEW.fullmatch(text)
        if m is not None:
            mt, block, pbmt, flags = m.groups()
            n = _NODE_RE.search(flags)
            z = _ZONE_RE.search(flags)
            zone = None
            if z:
                zi = int(z.group(1))
                zone = self.zone_names[zi] if zi < len(self.zone_names) else str(zi)
            self.rest_lut.append(mt=self.mt.code(mt), block=int(block), pbmt=self.mt.code(pbmt),
                                 node=int(n.group(1)) if n else -1, zone=self.zone.code(zone),
                                 num=-1, fallback=False, bad=False)
            return
        m = _REST_OLD.fullmatch(text.rstrip(" \t")) or _REST_OLD.fullmatch(text)
        if m is not None:
            block, num, fb = m.groups()
            k = int(num)
            pb = MIGRATETYPE_NAMES_V3_19[k] if k < len(MIGRATETYPE_NAMES_V3_19) else str(k)
            code = self.mt.code(pb)
            self.rest_lut.append(mt=code, block=int(block), pbmt=code, node=-1, zone=-1,
                                 num=k, fallback=fb is not None, bad=False)
            return
        self.rest_lut.append(mt=-1, block=-1, pbmt=-1, node=-1, zone=-1, num=-1, fallback=False, bad=True)

    def _parse_stack(self, s: str):
        frames = [ln[1:].rstrip() for ln in s[:-1].split("\n")]
        self.stack_lut.append(text="\n".join(frames), top=top_frame_of(frames), nl=s.count("\n"))

    def _parse_extra(self, e):
        reason = None
        nl = 0
        if e:
            nl = e.count("\n")
            for ln in e.split("\n"):
                if ln.startswith(_MIGRATE):
                    reason = ln[len(_MIGRATE):].rstrip()
        self.extra_lut.append(reason=self.reason.code(reason), nl=nl)

    # -- adding a block of records ------------------------------------------------------
    def lines_of(self, stack_codes, extra_codes) -> np.ndarray:
        """Lines per record (header, PFN, frames, extras, empty line)."""
        return 3 + self.stack_lut.array("nl")[stack_codes] + self.extra_lut.array("nl")[extra_codes]

    def encode(self, groups: list[tuple], cols: list | None = None):
        """Intern the repeating parts of ``groups``; returns the per-record code arrays.

        ``cols`` may pass ``list(zip(*groups))`` when the caller already has it.
        """
        if cols is None:
            cols = list(zip(*groups))
        ts = cols[G_TS]
        if "" in ts:   # headers without "ts": keyed with a leading NUL
            keys = [a if t else "\0" + b for a, t, b in zip(cols[G_PREFIX], ts, cols[G_PREFIX_OLD])]
        else:
            keys = cols[G_PREFIX]
        prefix, p0 = self.prefix.codes(keys)
        for k in self.prefix.values[p0:]:
            self._parse_prefix(k)
        rest, r0 = self.rest.codes(cols[G_REST])
        for k in self.rest.values[r0:]:
            self._parse_rest(k)
        stack, s0 = self.stack.codes(cols[G_STACK])
        for k in self.stack.values[s0:]:
            self._parse_stack(k)
        extra, e0 = self.extra.codes([e or None for e in cols[G_EXTRA]])
        extra_lut_codes = np.where(extra < 0, 0, extra + 1)   # slot 0 = no extra lines
        if not self.extra_lut.cols["nl"]:
            self._parse_extra(None)
        for k in self.extra.values[e0:]:
            self._parse_extra(k)
        return cols, prefix, rest, stack, extra_lut_codes

    def add(self, cols, prefix, rest, stack, extra, keep=None) -> None:
        pfns = cols[G_PFN]
        hexa = any(s[:2] in ("0x", "0X") for s in pfns)
        arrays = {
            "ts": _u64(cols[G_TS]), "free_ts": _u64(cols[G_FREE]),
            "pfn": _ints(pfns, base=0 if hexa else 10),
            "prefix": prefix, "rest": rest, "stack": stack, "extra": extra,
        }
        if keep is not None:
            arrays = {k: v[keep] for k, v in arrays.items()}
        for k, v in arrays.items():
            self.parts[k].append(v)
        self.n += len(arrays["pfn"])

    def bad_codes(self, prefix, rest):
        """Per-record flags: header part or PFN part failed its strict pattern."""
        pb = self.prefix_lut.array("bad", bool)[prefix]
        rb = self.rest_lut.array("bad", bool)[rest]
        return pb, rb

    def take(self) -> dict[str, np.ndarray]:
        """Concatenate and reset the per-record parts (unique tables are kept)."""
        out = {k: (np.concatenate(v) if v else np.empty(0, np.int64)) for k, v in self.parts.items()}
        for v in self.parts.values():
            v.clear()
        return out


def _cat(codes: np.ndarray, categories: list) -> pd.Categorical:
    """Categorical from codes into ``categories`` (deduplicated if needed)."""
    cats = pd.Index(categories, dtype=object)
    if cats.has_duplicates:
        uniq, inv = np.unique(np.asarray(categories, dtype=object), return_inverse=True)
        lut = np.append(inv, -1)
        return pd.Categorical.from_codes(lut[codes], categories=pd.Index(uniq, dtype=object))
    return pd.Categorical.from_codes(codes, categories=cats)


class _Builder:
    """Turns accumulated columns into schema frames."""

    def __init__(self, *, pageblock_order, section_size_bits, sections_per_block, zone_names):
        self.pageblock_order = pageblock_order
        self.section_shift = section_size_bits - 12
        self.sections_per_block = sections_per_block
        self.cols = _Columns(zone_names)
        self.block_mismatch = 0
        self.implied_order: int | None = None

    def frame(self) -> pd.DataFrame:
        c = self.cols
        a = c.take()
        n = len(a["pfn"])
        if n == 0:
            return empty("page_owner")
        P, R = a["prefix"], a["rest"]
        pl, rl = c.prefix_lut, c.rest_lut
        pfn = a["pfn"]
        order = pl.array("order")[P]
        mask = pl.array("mask")[P]
        pageblock = pfn >> self.pageblock_order
        block = rl.array("block")[R]
        bad = pageblock != block
        if bad.any():
            self.block_mismatch += int(bad.sum())
            i = int(np.flatnonzero(bad)[0])
            if block[i] > 0:
                ratio = int(pfn[i] // block[i])
                if ratio > 0 and ratio & (ratio - 1) == 0:
                    self.implied_order = ratio.bit_length() - 1

        mt = rl.array("mt")[R]
        pbmt = rl.array("pbmt")[R]
        mixed = mt != pbmt
        num = rl.array("num")[R]
        numeric = num >= 0
        if numeric.any():
            # v3.19 numeric line: the page's type comes from the mask (v3.19 bits)
            # where the kernel printed "Fallback"; else it equals the block's.
            fb = rl.array("fallback", bool)[R] & numeric
            names = MIGRATETYPE_NAMES_V3_19
            derived = (((mask & _V319_GFP_MOVABLE) != 0).astype(np.int64) << 1) | \
                ((mask & _V319_GFP_RECLAIMABLE) != 0)
            name_code = np.array([c.mt.code(x) for x in names[:4]], dtype=np.int64)
            mt = np.where(fb, name_code[derived], mt)
            mixed = np.where(numeric, fb, mixed)

        section = pfn >> self.section_shift
        S = a["stack"]
        sl = c.stack_lut
        free_ts = a["free_ts"]
        free_ts = np.where(free_ts == 0, -1, free_ts)
        df = pd.DataFrame({
            "pfn": pfn,
            "order": order.astype(np.int8),
            "nr_pages": np.left_shift(np.int64(1), order),
            "gfp_mask": mask,
            "gfp": _cat(pl.array("gfp")[P], c.gfp.values),
            "migratetype": _cat(mt, c.mt.values),
            "pageblock": pageblock,
            "pageblock_migratetype": _cat(pbmt, c.mt.values),
            "mixed": mixed.astype(bool),
            "node": rl.array("node", np.int16)[R],
            "zone": _cat(rl.array("zone")[R], c.zone.values),
            "section": section,
            "memory_block": section // self.sections_per_block,
            "stack_handle": S + 1,
            "stack": _cat(S, sl.cols["text"]),
            "top_frame": _cat(S, sl.cols["top"]),
            "pid": pl.array("pid", np.int32)[P],
            "tgid": pl.array("tgid", np.int32)[P],
            "comm": _cat(pl.array("comm")[P], c.comm.values),
            "ts_ns": a["ts"],
            "free_ts_ns": free_ts,
            "last_migrate_reason": _cat(c.extra_lut.array("reason")[a["extra"]], c.reason.values),
        })
        return conform(df, "page_owner")


# --------------------------------------------------------------------------------------
# Chunked scanning
# --------------------------------------------------------------------------------------

_BLOCK_CHARS = 8 << 20


def _diagnose(text: str, pos: int, at_eof: bool) -> tuple[int, int, str, str]:
    """Find the first bad line of the record starting at ``pos``.

    Returns ``(line_offset, resume_pos, expected, got)``: ``line_offset`` is the
    0-based line of the fault relative to ``pos``; ``resume_pos`` where to
    continue after skipping the bad record (the next header line, or len(text)).
    """
    end = len(text)
    nxt = text.find("\nPage allocated via ", pos)
    resume = end if nxt < 0 else nxt + 1
    lines = text[pos:resume].split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    at_end = at_eof and nxt < 0

    def fault(i, expected):
        if at_end and i >= len(lines) and lines and not text.endswith("\n"):
            # the file stops in the middle of its last line
            return len(lines) - 1, resume, "a complete line (the file ends in the middle of it: " \
                "truncated record)", lines[-1]
        got = lines[i] if i < len(lines) else "<end of file>"
        return i, resume, expected, got

    trunc = " (truncated record)"
    if not lines or not _HDR_LINE.match(lines[0]):
        return fault(0, _HDR_EXPECT)
    if len(lines) < 2:
        return fault(1, _PFN_EXPECT + (trunc if at_end else ""))
    if not _PFN_LINE.match(lines[1]):
        return fault(1, _PFN_EXPECT)
    i = 2
    if i >= len(lines) or not lines[i].startswith(" "):
        return fault(i, "a stack line ' symbol+0xoff/0xsize'" + (trunc if i >= len(lines) and at_end else ""))
    while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
        i += 1
    if at_end and i == len(lines) and not text.endswith("\n"):
        return fault(i - 1, "a complete stack line ' symbol+0xoff/0xsize'" + trunc)
    while i < len(lines) and _EXTRA_LINE.match(lines[i]):
        i += 1
    if i >= len(lines):
        return fault(i, "an empty line ending the record" + (trunc if at_end else ""))
    if lines[i].strip() != "":
        return fault(i, "a stack line, 'Page has been migrated, last migrate reason: %s', "
                        "'Slab cache page', 'Charged ...' or the empty line ending the record")
    j = i + 1
    while j < len(lines) and lines[j].strip() == "":
        j += 1
    return fault(j, _HDR_EXPECT)


def _scan(text: str, cols: _Columns, **kw) -> int:
    """:func:`_scan_block` with the cyclic GC paused (the scan creates many small
    tuples and no cycles; collections during it cost a third of the time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan_block(text, cols, **kw)
    finally:
        if enabled:
            gc.enable()


def _scan_block(text: str, cols: _Columns, *, base_line: int, name: str, strict: bool,
                at_eof: bool, skipped: list) -> int:
    """Parse every record of ``text`` (which ends at a record boundary) into ``cols``.

    Returns the number of lines in ``text``.
    """
    total_nl = text.count("\n")
    groups = _RECORD.findall(text)
    nheaders = text.count("\nPage allocated via ") + text.startswith("Page allocated via ")
    fast = len(groups) == nheaders and text.endswith("\n")
    if fast:
        # Every line must belong to a matched record: compare line counts.
        cols_t = list(zip(*groups)) if groups else [()] * 8
        nl = 3 * len(groups) + sum(map(str.count, cols_t[G_STACK], repeat("\n", len(groups)))) \
            + sum(map(str.count, cols_t[G_EXTRA], repeat("\n", len(groups))))
        fast = nl == total_nl
    if fast:
        if not groups:
            return total_nl
        enc = cols.encode(groups, cols_t)
        lines = cols.lines_of(enc[3], enc[4])
        starts = np.empty(len(lines), dtype=np.int64)
        starts[0] = 0
        np.cumsum(lines[:-1], out=starts[1:])
    else:
        groups, starts = _scan_slow(text, base_line=base_line, name=name, strict=strict,
                                    at_eof=at_eof, skipped=skipped)
        if not groups:
            return total_nl
        enc = cols.encode(groups)
    # parts the fast pattern let through but the strict per-unique patterns reject
    pbad, rbad = cols.bad_codes(enc[1], enc[2])
    keep = None
    if pbad.any() or rbad.any():
        badrec = np.flatnonzero(pbad | rbad)
        if strict:
            i = int(badrec[0])
            is_pfn = not pbad[i]
            cl = enc[0]
            if is_pfn:
                got = "PFN " + cl[G_PFN][i] + " " + cl[G_REST][i]
                raise ParseError(name, base_line + int(starts[i]) + 2, _PFN_EXPECT, got)
            hdr = cl[G_PREFIX][i] if cl[G_TS][i] else cl[G_PREFIX_OLD][i]
            got = "Page allocated via order " + hdr
            if cl[G_TS][i]:
                got += f", ts {cl[G_TS][i]} ns"
            raise ParseError(name, base_line + int(starts[i]) + 1, _HDR_EXPECT, got)
        keep = ~(pbad | rbad)
        for i in badrec:
            skipped.append(base_line + int(starts[i]) + (1 if pbad[i] else 2))
    cols.add(*enc, keep=keep)
    return total_nl


def _scan_slow(text: str, *, base_line: int, name: str, strict: bool, at_eof: bool,
               skipped: list) -> tuple[list, np.ndarray]:
    """Record-by-record scan that finds, reports or skips malformed records."""
    pos = 0
    end = len(text)
    groups: list[tuple] = []
    starts: list[int] = []
    line = 0          # line offset of ``pos``
    while pos < end:
        m = _RECORD.match(text, pos)
        if m is not None:
            groups.append(m.groups(""))
            starts.append(line)
            line += text.count("\n", pos, m.end())
            pos = m.end()
            continue
        k = pos
        while k < end and text[k] in " \t\n":      # stray empty lines between records
            k += 1
        if k >= end:
            break
        if k != pos:
            line += text.count("\n", pos, k)
            pos = k
            if _RECORD.match(text, pos):
                continue
        line_off, resume, expected, got = _diagnose(text, pos, at_eof)
        if strict:
            raise ParseError(name, base_line + line + line_off + 1, expected, got)
        skipped.append(base_line + line + line_off + 1)
        line += text.count("\n", pos, resume)
        pos = resume
    return groups, np.asarray(starts, dtype=np.int64)


def _prepare_tail(tail: str) -> str:
    """Close the last record of a file whose final empty line (or newline) is missing."""
    if not tail.strip():
        return ""
    if tail.endswith("\n\n"):
        return tail
    if tail.endswith("\n"):
        last = tail.rstrip("\n").rsplit("\n", 1)[-1]
        return tail + "\n" if last.startswith(" ") or _EXTRA_LINE.match(last) else tail
    last = tail.rsplit("\n", 1)[-1]
    if _FULL_FRAME.match(last) or _EXTRA_LINE.match(last):
        return tail + "\n\n"
    return tail  # cut mid-line: left for the diagnosis to report


def _records(fh: IO[str], cols: _Columns, *, name: str, strict: bool, skipped: list,
             block_chars: int = _BLOCK_CHARS) -> Iterator[int]:
    """Read ``fh`` in blocks, scan complete records; yields the record count after each block."""
    carry = ""
    base_line = 0
    while True:
        block = fh.read(block_chars)
        if not block:
            break
        buf = carry + block if carry else block
        cut = buf.rfind("\n\n")
        if cut < 0:
            if len(buf) < 4 * block_chars:
                carry = buf
                continue
            # no record boundary in megabytes of text: not a page_owner dump;
            # scan it so that the diagnosis names the first bad line
            cut = len(buf) - 2
        cut += 2
        head, carry = buf[:cut], buf[cut:]
        base_line += _scan(head, cols, base_line=base_line, name=name, strict=strict, at_eof=False,
                           skipped=skipped)
        yield cols.n
    tail = _prepare_tail(carry)
    if tail:
        _scan(tail, cols, base_line=base_line, name=name, strict=strict, at_eof=True, skipped=skipped)
    yield cols.n


def _open(src):
    """(file object, name, must_close) for a path, file object or literal text."""
    if isinstance(src, str) and (src == "" or "\n" in src or src.startswith("Page allocated via")):
        return io.StringIO(src), "<text>", True
    fh = open_text(src)
    return fh, source_name(src), isinstance(src, (str, os.PathLike))


def _finish(df: pd.DataFrame, b: _Builder, skipped: list, name: str) -> pd.DataFrame:
    df.attrs["skipped"] = len(skipped)
    df.attrs["skipped_lines"] = sorted(skipped)[:20]
    df.attrs["source"] = name
    if b.block_mismatch:
        df.attrs["block_mismatch"] = b.block_mismatch
        hint = f" (the file implies pageblock_order={b.implied_order})" if b.implied_order is not None else ""
        warnings.warn(f"{name}: {b.block_mismatch} records print a Block number different from "
                      f"pfn >> {b.pageblock_order}{hint}", stacklevel=3)
    return df


def read_page_owner(src, *, strict: bool = True, pageblock_order: int = 9, section_size_bits: int = 27,
                    sections_per_block: int = 1,
                    zone_names=("DMA", "DMA32", "Normal", "Movable", "Device")) -> pd.DataFrame:
    """Read a ``/sys/kernel/debug/page_owner`` dump of any kernel version into a frame.

    Parameters
    ----------
    src : path, file object or str
        A plain or gzipped file (detected by magic bytes), an open text/binary
        file, or the dump's text itself (a string containing a newline).
    strict : bool
        True: the first malformed record raises :class:`~pextlab.errors.ParseError`
        naming the file, the 1-based line and what was expected.  False: bad
        records are skipped; ``df.attrs["skipped"]`` counts them and
        ``df.attrs["skipped_lines"]`` lists (up to 20) line numbers where they failed.
    pageblock_order : int
        For the ``pageblock`` column (``pfn >> pageblock_order``; 9 on x86_64).
    section_size_bits : int
        SECTION_SIZE_BITS (27 on x86_64): ``section = pfn >> (section_size_bits - 12)``.
    sections_per_block : int
        Sections per memory block: ``memory_block = section // sections_per_block``.
    zone_names : sequence of str
        Zone index -> name for ``zone=Z`` in the ``%pGp`` flags.

    Returns
    -------
    pandas.DataFrame
        Schema ``"page_owner"`` (see ``pextlab.schema`` and this module's
        docstring), one row per record in file order.

    Notes
    -----
    The file is read in blocks of a few MB, cut at record boundaries and
    matched with one regular expression per block; only compact numpy columns
    and interned strings (stacks, comms, gfp names) are kept, so a multi-GB dump
    needs memory in proportion to its record count, not its size.
    """
    parts = list(iter_page_owner_chunks(src, chunk_records=None, strict=strict,
                                        pageblock_order=pageblock_order,
                                        section_size_bits=section_size_bits,
                                        sections_per_block=sections_per_block,
                                        zone_names=zone_names))
    return parts[0]


def iter_page_owner_chunks(src, chunk_records: int | None = 100_000, *, strict: bool = True,
                           pageblock_order: int = 9, section_size_bits: int = 27,
                           sections_per_block: int = 1,
                           zone_names=("DMA", "DMA32", "Normal", "Movable", "Device"),
                           ) -> Iterator[pd.DataFrame]:
    """Stream a page_owner dump as frames of about ``chunk_records`` rows.

    Same parameters and schema as :func:`read_page_owner`.  ``stack_handle``
    numbering and categories are consistent across chunks (a stack keeps its
    handle); each chunk's ``attrs`` carries the running ``skipped`` count.
    Nothing is yielded for an empty file.  ``chunk_records=None`` yields one frame.
    """
    b = _Builder(pageblock_order=pageblock_order, section_size_bits=section_size_bits,
                 sections_per_block=sections_per_block, zone_names=zone_names)
    fh, name, close = _open(src)
    skipped: list[int] = []
    try:
        pending = 0
        try:
            block = _BLOCK_CHARS if chunk_records is None else \
                max(1 << 16, min(_BLOCK_CHARS, chunk_records * 512))
            for n in _records(fh, b.cols, name=name, strict=strict, skipped=skipped, block_chars=block):
                if chunk_records is not None and n - pending >= chunk_records:
                    pending = n
                    yield _finish(b.frame(), b, skipped, name)
        except (ParseError, GeneratorExit):
            raise
        except (UnicodeError, OSError, EOFError, ValueError, OverflowError, IndexError) as e:
            # e.g. a corrupt gzip stream or a number too large for int64
            raise ParseError(name, None, "a readable page_owner dump", f"{type(e).__name__}: {e}") from e
        if chunk_records is None or b.cols.n > pending:
            yield _finish(b.frame(), b, skipped, name)
    finally:
        if close:
            fh.close()


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------

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
        raise ParseError("<text>", None, "a 'Page allocated via order ...' header", text_head[:80])
    h = _HDR_LINE.match(lines[i])
    if not h:
        raise ParseError("<text>", i + 1, _HDR_EXPECT, lines[i])
    pfn_line = lines[i + 1] if i + 1 < len(lines) else ""
    p = _PFN_LINE.match(pfn_line)
    if not p:
        raise ParseError("<text>", i + 2, _PFN_EXPECT, pfn_line)
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
    default_zones = ("DMA", "DMA32", "Normal", "Movable", "Device")
    for (pfn, order, mask, gfp, mt, pb, pbmt, mixed, node, zone, stack, pid, tgid, comm, ts, free_ts,
         reason) in zip(*cols):
        mask = int(mask) & 0xFFFFFFFF
        mt = _ifnan(mt, None)
        if mt is None:
            mt = MIGRATETYPE_NAMES[(mask & (_GFP_MOVABLE | _GFP_RECLAIMABLE)) >> 3]
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
                        zone_idx[zone] = default_zones.index(zone) if zone in default_zones else int(zone)
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
                has_addr = bool(_ADDR_PREFIX.match(f))
                if v.stack_addr and not has_addr:
                    f = "[<0000000000000000>] " + f
                elif not v.stack_addr and has_addr:
                    f = _ADDR_PREFIX.sub("", f)
                out.append(" " + f + "\n")
            s = stack_cache[stack] = "".join(out)
        extra = ""
        reason = _ifnan(reason, None)
        if v.migrate_reason and reason is not None:
            extra = f"{_MIGRATE}{reason}\n"
        write(f"{h}\n{p}\n{s}{extra}\n")
