"""Accumulating page_owner records as compact columns (private to the reader).

A dump of a million records repeats a few thousand distinct headers, PFN-line
tails and stacks.  :class:`Columns` keeps per record only numbers (pfn, times)
and codes into per-distinct-value tables (:class:`Interner`), and parses each
distinct header prefix, PFN tail, stack and extra-line block once, with the
strict patterns of :mod:`pextlab.procfs.page_owner_grammar`, into
:class:`Lut` rows.  A part that fails its strict pattern is marked ``bad``;
the scanner then reports or skips its records.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...schema import top_frame_of
from ..page_owner_grammar import (
    G_EXTRA, G_FREE, G_PFN, G_PREFIX, G_PREFIX_OLD, G_REST, G_STACK, G_TS, MIGRATE_PREFIX,
    NODE_FLAG, PREFIX_OLD, PREFIX_TS, REST_NEW, REST_OLD, ZONE_FLAG)
from .variants import MIGRATETYPE_NAMES_V3_19

__all__ = ["Interner", "Lut", "Columns", "ints", "u64"]


class Interner:
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


def ints(items, *, base: int = 10, missing: int = -1) -> np.ndarray:
    """int64 array from decimal/hex strings; "" (an unmatched group) -> ``missing``."""
    n = len(items)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if "" in items:
        return np.fromiter((missing if x == "" else int(x, base) for x in items), np.int64, n)
    return np.fromiter(map(int, items, [base] * n), np.int64, n)


def u64(items) -> np.ndarray:
    """Like :func:`ints` for ``%llu`` (values >= 2**63 wrap into int64)."""
    try:
        return ints(items)
    except OverflowError:
        return np.fromiter(((-1 if x == "" else (int(x) + 2**63) % 2**64 - 2**63) for x in items),
                           np.int64, len(items))


class Lut:
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


class Columns:
    """Accumulates parsed records as compact numpy pieces plus per-unique tables."""

    def __init__(self, zone_names):
        self.zone_names = tuple(zone_names)
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in (
            "ts", "free_ts", "pfn", "prefix", "rest", "stack", "extra")}
        self.prefix, self.rest, self.stack, self.extra = Interner(), Interner(), Interner(), Interner()
        # category interners for derived text values
        self.gfp, self.comm, self.mt, self.zone, self.reason = (
            Interner(), Interner(), Interner(), Interner(), Interner())
        self.prefix_lut = Lut("order", "mask", "gfp", "pid", "tgid", "comm", "bad")
        self.rest_lut = Lut("mt", "block", "pbmt", "node", "zone", "num", "fallback", "bad")
        self.stack_lut = Lut("text", "top", "nl")
        self.extra_lut = Lut("reason", "nl")
        self.n = 0

    # -- per-unique parsing -------------------------------------------------------------
    def _parse_prefix(self, key: str):
        with_ts = not key.startswith("\0")
        text = (key if with_ts else key[1:]).rstrip(" \t")
        m = (PREFIX_TS if with_ts else PREFIX_OLD).fullmatch(text)
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
        m = REST_NEW.fullmatch(text)
        if m is not None:
            mt, block, pbmt, flags = m.groups()
            n = NODE_FLAG.search(flags)
            z = ZONE_FLAG.search(flags)
            zone = None
            if z:
                zi = int(z.group(1))
                zone = self.zone_names[zi] if zi < len(self.zone_names) else str(zi)
            self.rest_lut.append(mt=self.mt.code(mt), block=int(block), pbmt=self.mt.code(pbmt),
                                 node=int(n.group(1)) if n else -1, zone=self.zone.code(zone),
                                 num=-1, fallback=False, bad=False)
            return
        m = REST_OLD.fullmatch(text.rstrip(" \t")) or REST_OLD.fullmatch(text)
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
                if ln.startswith(MIGRATE_PREFIX):
                    reason = ln[len(MIGRATE_PREFIX):].rstrip()
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
            "ts": u64(cols[G_TS]), "free_ts": u64(cols[G_FREE]),
            "pfn": ints(pfns, base=0 if hexa else 10),
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

