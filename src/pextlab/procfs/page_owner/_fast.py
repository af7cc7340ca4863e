"""Scanning well-formed page_owner text with numpy (private to the reader).

Most dumps are the kernel's own output: every record is a header with a
timestamp (v5.11+; with ``free_ts`` in v5.13-v6.6), a PFN line, stack lines and optional extra lines, ended by one
empty line.  For such text the record layout can be found with array
operations on the bytes instead of a regular expression walking every
character: the line ends give the records (the empty lines), fixed byte
positions give the header, ``, ts N ns`` and ``PFN`` fields, and only the
parts that repeat (header prefix, PFN line tail, stack) are cut out as
strings, to be interned and checked once per distinct value.  The text is
laid out in blocks of about a MB (whose arrays stay in the CPU caches), and
the short header prefixes are told apart as rows of an array, so that only
the distinct ones become strings.

:func:`scan_bytes` returns None as soon as the text is anything else (no
timestamp, ``free_ts`` in some headers of a block only, trailing blanks, a CR, two empty lines in a row, a
record cut short, a value out of bounds, a header, PFN tail or stack that
fails the grammar of :mod:`pextlab.procfs.page_owner_grammar` ...); the caller
then scans it with the regular expression, which names what is wrong.  When it
does not return None, the records it adds are exactly those that scan would
add, in the same order, with the same distinct values interned in the same
order.
"""
from __future__ import annotations

import functools
from typing import Iterator, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..page_owner_grammar import BODY, CUT, HEADER, parse_prefix, parse_rest
from ._columns import Columns

__all__ = ["scan_bytes"]

_HEADER = np.frombuffer(HEADER.encode(), np.uint8)     # "Page allocated via order "
_PFN = np.frombuffer(b"PFN ", np.uint8)
_NS = np.frombuffer(b" ns", np.uint8)
_TS = np.frombuffer(b", ts ", np.uint8)
_FREE_TS = np.frombuffer(b", free_ts ", np.uint8)
#: Bytes examined before `` ns`` for the timestamp (at most 18 digits: below 2**63).
_TS_WINDOW = 20
_TS_DIGITS = 18
#: Bytes examined after ``PFN `` (a token of at most 15 characters: below 2**52, then a space).
_PFN_WINDOW = 16

_DIGIT = np.full(256, -1, np.int8)
_DIGIT[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEXDIGIT = _DIGIT.copy()
_HEXDIGIT[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEXDIGIT[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)
_POW10 = 10 ** np.arange(_TS_DIGITS + 1, dtype=np.int64)
#: Decimal place of each byte of the timestamp window, and its weight (0 beyond 18 digits).
_TS_PLACE = np.arange(_TS_WINDOW - 1, -1, -1)
_TS_WEIGHT = np.where(_TS_PLACE <= _TS_DIGITS, 10 ** np.minimum(_TS_PLACE, _TS_DIGITS), 0).astype(np.int64)
#: Weight of each byte of the PFN window for a token ending at column 14 (at most
#: 13 hex digits after "0x", 15 decimal digits: the sums stay below 2**63).
_PFN_WEIGHT16 = np.array([16 ** max(0, 14 - c) if c <= 14 else 0 for c in range(_PFN_WINDOW)], np.int64)
_PFN_WEIGHT10 = np.array([10 ** max(0, 14 - c) if c <= 14 else 0 for c in range(_PFN_WINDOW)], np.int64)
#: Bytes laid out at a time: a block's arrays stay in the CPU caches (a 160 MB
#: dump scans about a quarter faster in 1 MB blocks than in 8 MB ones).
_BLOCK_BYTES = 1 << 20
_CUT = CUT.encode()
#: The longest part :func:`_distinct_short` compares as array rows, and its row
#: hash: a sum of the row's 8-byte words times odd constants (mod 2**64).
_SHORT_BYTES = 256
_ROW_HASH = np.arange(1, 2 * (_SHORT_BYTES // 8), 2, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def _gather(a: np.ndarray, at: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``a[at[i] + lo : at[i] + hi]`` for every i, as an (len(at), hi - lo) array
    (rows of a sliding window view: a copy of the bytes, no index matrix)."""
    return sliding_window_view(a, hi - lo)[at + lo]


def _matches(a: np.ndarray, at: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Per position of ``at``: ``a`` holds ``text`` there (one byte column at a time)."""
    ok = a[at] == text[0]
    for k in range(1, len(text)):
        ok &= a[at + k] == text[k]
    return ok


def _time_before(a: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``N`` of the ``N ns`` ending at each of ``end`` and where its digits start,
    or None unless every one has 1 to 18 digits (below 2**63 ns)."""
    win = _gather(a, end, -3 - _TS_WINDOW, 0)            # " ns" and the bytes before it
    if not (win[:, -3:] == _NS).all():
        return None
    digit = win[:, :-3] - np.uint8(48)                   # "0".."9": 0..9, anything else above 9
    isdig = digit < 10
    ndig = np.argmin(isdig[:, ::-1], axis=1)             # trailing digits
    if not (ndig >= 1).all() or (ndig > _TS_DIGITS).any() or isdig.all(axis=1).any():
        return None
    digit[_TS_PLACE[None, :] >= ndig[:, None]] = 0
    return digit @ _TS_WEIGHT, end - 3 - ndig


def _factorize(items: list) -> tuple[list, np.ndarray]:
    """(distinct items in order of first appearance, local code per item)."""
    local = dict.fromkeys(items)
    for i, k in enumerate(local):
        local[k] = i
    return list(local), np.fromiter(map(local.__getitem__, items), np.int64, len(items))


def _slices(data: bytes, start: np.ndarray, stop: np.ndarray) -> list:
    return list(map(data.__getitem__, map(slice, start.tolist(), stop.tolist())))


def _distinct_short(data: bytes, base: int, a: np.ndarray, start: np.ndarray,
                    stop: np.ndarray) -> tuple[list, np.ndarray]:
    """:func:`_factorize` of the short parts ``data[base + start : base + stop]``.

    Only the distinct parts are cut out as bytes: the parts are compared as
    rows of a zero-padded array, grouped by a hash of each row and every row
    checked against its group's first (slices and a dict instead when a part
    is long or two different rows share a hash).
    """
    length = stop - start
    width = (int(length.max()) + 7) & ~7
    if width <= _SHORT_BYTES and int(start[-1]) + width <= len(a):
        rows = _gather(a, start, 0, width)
        rows[np.arange(width)[None, :] >= length[:, None]] = 0
        _, first, inv = np.unique(rows.view(np.uint64) @ _ROW_HASH[:width // 8], return_index=True,
                                  return_inverse=True)
        if (rows == rows[first[inv]]).all():
            order = np.argsort(first)
            rank = np.empty_like(order)
            rank[order] = np.arange(len(order))
            return _slices(data, base + start[first[order]], base + stop[first[order]]), rank[inv]
    return _factorize(_slices(data, base + start, base + stop))


@functools.lru_cache(maxsize=1 << 16)
def _split_body(body: str) -> tuple[str, str | None] | None:
    """(stack lines, extra lines or None), each line ending in a newline, as the
    regular expression groups them; None when the body is not in the grammar."""
    text = body + "\n"
    if BODY.fullmatch(text) is None:
        return None
    pos = 0
    while text.startswith(" ", pos):
        pos = text.index("\n", pos) + 1
    return text[:pos], (text[pos:] or None)


class _Block(NamedTuple):
    """One block's records: per-record numbers and codes into the block's distinct parts."""

    lines: int
    ts: np.ndarray
    free_ts: np.ndarray
    pfn: np.ndarray
    prefixes: list            # header parts between "order " and ", ts" (bytes)
    prefix_code: np.ndarray
    tails: list               # PFN line after the number, then the body (bytes)
    tail_code: np.ndarray


def _blocks(data: bytes) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of pieces of about :data:`_BLOCK_BYTES`, cut at :data:`CUT` places."""
    start, end = 0, len(data)
    while start < end:
        cut = data.find(_CUT, start + _BLOCK_BYTES)
        stop = end if cut < 0 else cut + 2
        yield start, stop
        start = stop


def _layout(data: bytes, start: int, stop: int) -> _Block | None:
    """The records of ``data[start:stop]`` (which ends with an empty line), or None
    unless they have the kernel's plain layout."""
    a = np.frombuffer(data, np.uint8, stop - start, start)
    ends = np.flatnonzero(a == 10)                       # line ends
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    empty = np.flatnonzero(ends == starts)               # the records' empty lines
    first = np.empty_like(empty)
    first[0] = 0
    first[1:] = empty[:-1] + 1
    if (empty - first < 3).any():                        # header, PFN line, a stack line at least
        return None

    # header: "Page allocated via order <prefix>, ts <digits> ns"
    hs, he = starts[first], ends[first]
    if ((he - hs) < len(_HEADER) + 9).any():
        return None
    if not (_gather(a, hs, 0, len(_HEADER)) == _HEADER).all():
        return None
    last = _time_before(a, he)
    if last is None:
        return None
    ts, tss = last
    free_ts = np.full(len(ts), -1, np.int64)
    freed = (tss - len(_FREE_TS) >= hs + len(_HEADER)) & (a[tss - 4] == 95)    # "_ts "
    if freed.any():
        freed &= _matches(a, tss - len(_FREE_TS), _FREE_TS)
    if freed.any():                                      # v5.13-v6.6: ", ts N ns, free_ts M ns"
        if not freed.all():
            return None
        free_ts = ts
        last = _time_before(a, tss - len(_FREE_TS))
        if last is None:
            return None
        ts, tss = last
    if ((tss - 5) < hs + len(_HEADER)).any() or not _matches(a, tss - 5, _TS).all():
        return None

    # PFN line: "PFN <0x hex | decimal> <rest>"
    ps, pe = starts[first + 1], ends[first + 1]
    if ((pe - ps) < 6).any():
        return None
    if ps[-1] + 4 + _PFN_WINDOW > len(a):               # a tiny last record: pad the text
        a = np.concatenate([a, np.zeros(_PFN_WINDOW, np.uint8)])
    win = _gather(a, ps, 0, 4 + _PFN_WINDOW)
    if not (win[:, :4] == _PFN).all():
        return None
    win = win[:, 4:]
    space = win == 32
    sp = np.argmax(space, axis=1)                        # token length
    if not space[np.arange(len(sp)), sp].all() or (ps + 4 + sp >= pe).any():
        return None
    hexa = (win[:, 0] == 48) & (win[:, 1] == 120)
    lead = np.where(hexa, 2, 0)
    col = np.arange(_PFN_WINDOW)
    inside = (col[None, :] >= lead[:, None]) & (col[None, :] < sp[:, None])
    all_hex, any_hex = bool(hexa.all()), bool(hexa.any())
    val = _HEXDIGIT[win] if all_hex else _DIGIT[win] if not any_hex else \
        np.where(hexa[:, None], _HEXDIGIT[win], _DIGIT[win])
    if not (sp > lead).all() or (inside & (val < 0)).any():
        return None
    # digits weighted as if the token ended at the window's last column, then scaled down
    digits = np.where(inside, val, 0)
    shift = _PFN_WINDOW - 1 - sp
    if all_hex:
        pfn = (digits @ _PFN_WEIGHT16) >> (4 * shift)
    elif not any_hex:
        pfn = (digits @ _PFN_WEIGHT10) // _POW10[shift]
    else:
        pfn = np.where(hexa, (digits @ _PFN_WEIGHT16) >> (4 * shift), (digits @ _PFN_WEIGHT10) // _POW10[shift])

    # the parts that repeat, cut out as bytes and kept once per distinct value;
    # the PFN line's tail and the body are cut out together (one string per record)
    prefixes, prefix_code = _distinct_short(data, start, a, hs + len(_HEADER), tss - 5)
    tails, tail_code = _factorize(_slices(data, start + ps + 4 + sp + 1, start + ends[empty - 1]))
    return _Block(len(ends), ts, free_ts, pfn, prefixes, prefix_code, tails, tail_code)


def _combine(values: list[list], codes: list[np.ndarray]) -> tuple[list, np.ndarray]:
    """One block's (distinct values, codes) from several blocks' in file order."""
    if len(values) == 1:
        return values[0], codes[0]
    distinct, code = _factorize([v for vs in values for v in vs])
    bounds = np.cumsum([0] + [len(vs) for vs in values])
    return distinct, np.concatenate([code[lo:hi][c] for lo, hi, c in zip(bounds[:-1], bounds[1:], codes)])


def scan_bytes(data: bytes, cols: Columns, errors: str = "strict") -> int | None:
    """Add the records of ``data`` (UTF-8 page_owner text) to ``cols``; the number of lines.

    ``data`` must end with the empty line of its last record.  ``errors`` is
    the decoding error handler for the distinct values (``"replace"`` for file
    bytes, ``"surrogatepass"`` for text encoded from a ``str``).  Returns None,
    leaving ``cols`` untouched, when the text is not the kernel's plain layout
    (see the module docstring).

    The layout is found block by block (:data:`_BLOCK_BYTES`, cut at record
    boundaries); each record is read on its own, so the blocks' records are
    those of the whole text.
    """
    if len(data) < 2 or not data.endswith(b"\n\n") or b"\r" in data:
        return None
    blocks = []
    for start, stop in _blocks(data):
        block = _layout(data, start, stop)
        if block is None:
            return None
        blocks.append(block)
    prefixes, prefix_code = _combine([b.prefixes for b in blocks], [b.prefix_code for b in blocks])
    tails, tail_code = _combine([b.tails for b in blocks], [b.tail_code for b in blocks])

    prefixes = [p.decode("utf-8", errors) for p in prefixes]
    pairs = [t.decode("utf-8", errors).partition("\n") for t in tails]
    rests, rest_local = _factorize([r for r, _, _ in pairs])
    bodies, body_local = _factorize([b for _, _, b in pairs])
    rest_code, body_code = rest_local[tail_code], body_local[tail_code]
    split = [_split_body(b) for b in bodies]
    if None in split:
        return None
    known = cols.prefix.index
    if any(isinstance(parse_prefix(p.rstrip(" \t"), True), str) for p in prefixes if p not in known):
        return None
    known, nz = cols.rest.index, len(cols.zone_names)
    if any(isinstance(parse_rest(r, nz), str) for r in rests if r not in known):
        return None

    stack_lut = cols.intern("stack", [s for s, _ in split])
    extra_lut = cols.intern("extra", [e for _, e in split])
    cols.add_arrays(*(np.concatenate([getattr(b, k) for b in blocks]) for k in ("ts", "free_ts", "pfn")),
                    cols.intern("prefix", prefixes)[prefix_code], cols.intern("rest", rests)[rest_code],
                    stack_lut[body_code], extra_lut[body_code])
    return sum(b.lines for b in blocks)
