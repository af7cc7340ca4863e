"""Accumulating page_owner records as compact columns (private to the reader).

A dump of a million records repeats a few thousand distinct headers, PFN-line
tails and stacks.  :class:`Columns` keeps per record only numbers (pfn, times)
and codes into per-distinct-value tables (:class:`Interner`), and parses each
distinct header prefix, PFN tail, stack and extra-line block once, with the
checks of :mod:`pextlab.procfs.page_owner_grammar`, into :class:`Lut` rows.
A part that fails them is marked ``bad`` with what was expected (``why``);
the scanner then reports or skips its records.
"""
from __future__ import annotations

import functools

import numpy as np

from ...schema import top_frame_of
from ..page_owner_grammar import (
    G_EXTRA, G_FREE, G_PFN, G_PREFIX, G_PREFIX_OLD, G_REST, G_STACK, G_TS, MIGRATE_PREFIX,
    parse_prefix, parse_rest)

__all__ = ["Interner", "Lut", "Columns", "ints", "KINDS"]

#: The per-record parts kept as codes into per-distinct-value tables.
KINDS = ("prefix", "rest", "stack", "extra")


@functools.lru_cache(maxsize=1 << 16)
def _stack_fields(s: str) -> tuple[str, str, int]:
    """(frames without their leading space, top frame, lines) of stack lines ``s``;
    cached: every piece of a dump and every worker process meets the same stacks."""
    frames = [ln[1:].rstrip() for ln in s[:-1].split("\n")]
    return "\n".join(frames), top_frame_of(frames), s.count("\n")


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
        """Global codes for ``items`` (None -> -1) and the number of values before.

        A dict keeps the distinct items in order of first appearance (about five
        times faster than ``pandas.factorize`` on short lists of strings).
        """
        before = len(self.values)
        local = dict.fromkeys(items)
        code = self.code
        for k in local:
            local[k] = code(k)
        return np.fromiter(map(local.__getitem__, items), np.int64, len(items)), before


def ints(items, *, hexa: bool = False, missing: int = -1) -> np.ndarray:
    """int64 array from decimal strings (or ``0x`` hex ones when ``hexa``); "" -> ``missing``.

    The values must have been checked to fit (``pfn_value``, ``ts_value``).
    """
    n = len(items)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if "" in items:
        return np.fromiter((missing if x == "" else int(x) for x in items), np.int64, n)
    if not hexa:
        return np.fromiter(map(int, items), np.int64, n)
    try:
        return np.fromiter(map(int, items, [0] * n), np.int64, n)
    except ValueError:   # a decimal PFN with leading zeros among hex ones
        return np.fromiter((int(x, 16) if x[:2] in ("0x", "0X") else int(x) for x in items), np.int64, n)


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
        self.prefix_lut = Lut("order", "mask", "gfp", "pid", "tgid", "comm", "bad", "why")
        self.rest_lut = Lut("mt", "block", "pbmt", "node", "zone", "num", "fallback", "bad", "why")
        self.stack_lut = Lut("text", "top", "nl")
        self.extra_lut = Lut("reason", "nl")
        self.n = 0

    # -- per-unique parsing -------------------------------------------------------------
    def _parse_prefix(self, key: str):
        with_ts = not key.startswith("\0")
        p = parse_prefix((key if with_ts else key[1:]).rstrip(" \t"), with_ts)
        if isinstance(p, str):
            self.prefix_lut.append(order=0, mask=0, gfp=-1, pid=-1, tgid=-1, comm=-1, bad=True, why=p)
            return
        order, mask, gfp, pid, tgid, comm = p
        self.prefix_lut.append(order=order, mask=mask, gfp=self.gfp.code(gfp), pid=pid, tgid=tgid,
                               comm=self.comm.code(comm), bad=False, why="")

    def _parse_rest(self, text: str):
        r = parse_rest(text, len(self.zone_names))
        if isinstance(r, str):
            self.rest_lut.append(mt=-1, block=-1, pbmt=-1, node=-1, zone=-1, num=-1, fallback=False,
                                 bad=True, why=r)
            return
        mt, block, pbmt, node, zone, num, fallback = r
        self.rest_lut.append(mt=self.mt.code(mt), block=block, pbmt=self.mt.code(pbmt), node=node,
                             zone=self.zone.code(self.zone_names[zone] if zone >= 0 else None),
                             num=num, fallback=fallback, bad=False, why="")

    def _parse_stack(self, s: str):
        text, top, nl = _stack_fields(s)
        self.stack_lut.append(text=text, top=top, nl=nl)

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

    def intern(self, kind: str, keys) -> np.ndarray:
        """Codes of distinct ``keys`` of one of :data:`KINDS`, parsing new ones in order.

        ``"extra"`` codes index ``extra_lut``, whose slot 0 is "no extra lines"
        (key None).
        """
        interner = getattr(self, kind)
        parse = {"prefix": self._parse_prefix, "rest": self._parse_rest, "stack": self._parse_stack,
                 "extra": self._parse_extra}[kind]
        if kind == "extra" and not self.extra_lut.cols["nl"]:
            self._parse_extra(None)
        out = np.empty(len(keys), dtype=np.int64)
        for i, k in enumerate(keys):
            if k is None:
                out[i] = -1
                continue
            before = len(interner.values)
            g = interner.code(k)
            if g == before:
                parse(k)
            out[i] = g
        return out + 1 if kind == "extra" else out

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
        codes = []
        for kind, items in (("prefix", keys), ("rest", cols[G_REST]), ("stack", cols[G_STACK]),
                            ("extra", [e or None for e in cols[G_EXTRA]])):
            local = dict.fromkeys(items)
            lut = self.intern(kind, list(local))
            for k, g in zip(local, lut.tolist()):
                local[k] = g
            codes.append(np.fromiter(map(local.__getitem__, items), np.int64, len(items)))
        return (cols, *codes)

    def add(self, cols, prefix, rest, stack, extra, keep=None) -> None:
        """Append records (``keep``: the ones to keep) whose pfn and times were checked."""
        if keep is not None:
            idx = np.flatnonzero(keep).tolist()
            cols = [[c[i] for i in idx] for c in cols]
            prefix, rest, stack, extra = prefix[keep], rest[keep], stack[keep], extra[keep]
        pfns = cols[G_PFN]
        hexa = any(s[:2] in ("0x", "0X") for s in pfns)
        arrays = {
            "ts": ints(cols[G_TS]), "free_ts": ints(cols[G_FREE]), "pfn": ints(pfns, hexa=hexa),
            "prefix": prefix, "rest": rest, "stack": stack, "extra": extra,
        }
        for k, v in arrays.items():
            self.parts[k].append(v)
        self.n += len(arrays["pfn"])

    def add_arrays(self, ts, free_ts, pfn, prefix, rest, stack, extra) -> None:
        """Append records given as arrays (``extra``: codes into ``extra_lut``)."""
        for k, v in (("ts", ts), ("free_ts", free_ts), ("pfn", pfn), ("prefix", prefix), ("rest", rest),
                     ("stack", stack), ("extra", extra)):
            self.parts[k].append(v)
        self.n += len(pfn)

    def merge(self, other: "Columns") -> None:
        """Append the records of ``other`` (read from the text that follows ours).

        ``other``'s distinct values are interned here in their order of first
        appearance there, so codes, handles and categories come out as if one
        :class:`Columns` had read both texts.
        """
        luts = {kind: self.intern(kind, getattr(other, kind).values) for kind in KINDS}
        luts["extra"] = np.concatenate([[0], luts["extra"]])
        for k, parts in other.parts.items():
            lut = luts.get(k)
            self.parts[k].extend(parts if lut is None else [lut[p] for p in parts])
        self.n += other.n

    def bad_codes(self, prefix, rest):
        """Per-record flags: header part or PFN part failed its checks."""
        pb = self.prefix_lut.array("bad", bool)[prefix]
        rb = self.rest_lut.array("bad", bool)[rest]
        return pb, rb

    def why(self, part: str, code: int) -> str:
        """What was expected of a bad ``"prefix"`` or ``"rest"`` (by its code)."""
        return (self.prefix_lut if part == "prefix" else self.rest_lut).cols["why"][code]

    def take(self) -> dict[str, np.ndarray]:
        """Concatenate and reset the per-record parts (unique tables are kept)."""
        out = {k: (np.concatenate(v) if v else np.empty(0, np.int64)) for k, v in self.parts.items()}
        for v in self.parts.values():
            v.clear()
        return out

