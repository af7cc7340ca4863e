"""The grammar of a ``/sys/kernel/debug/page_owner`` record, standard library only.

One record per allocated head page, ended by an empty line::

    Page allocated via order %u, mask %#x(%pGg), pid %d, tgid %d (%s), ts %llu ns
    PFN 0x%lx type %s Block %lu type %s Flags %pGp
     %pS                                   (one stack frame per line)
    Page has been migrated, last migrate reason: %s      (optional)
    <empty line>

(every variant since v3.19: see :mod:`pextlab.procfs.page_owner`).  The
patterns and value checks here are the one definition of what a record is.  Two readers use
them: the pandas reader :func:`pextlab.procfs.page_owner.read_page_owner`
and ``pextlab sort``'s text engine :mod:`pextlab.analysis.sort_text`, which
must start without importing numpy or pandas -- hence this module imports
nothing but :mod:`re`.

The fast path matches a whole record with :data:`RECORD`, whose groups cut
the header into the part that repeats (order, mask, gfp names, pid, tgid,
comm) and the per-record times, and the PFN line into the pfn and the
(repeating) rest; the repeating parts are then checked once per distinct
value with :func:`parse_prefix` and :func:`parse_rest`, which also refuse
numbers the kernel cannot print (bounds from :mod:`.limits`); the pfn and
the times, which differ per record, with :func:`pfn_value` and
:func:`ts_value`.  :data:`HEADER_LINE` and :data:`PFN_LINE` match single
lines, to name the first bad line of a record.
"""
from __future__ import annotations

import functools
import os
import re

from .limits import (
    MAX_NUMNODES, PAGE_OWNER_ORDER_LIMIT, PFN_LIMIT, PID_MAX_LIMIT, TS_NS_LIMIT, U32_MAX, bounded_int)

__all__ = [
    "MIGRATETYPE_NAMES_V3_19", "MIGRATETYPE_NAMES", "ZONE_NAMES",
    "HEADER", "MIGRATE_PREFIX", "EXTRA_PREFIXES",
    "HEADER_LINE", "PFN_LINE", "RECORD", "RECORD_GROUPS",
    "G_PREFIX", "G_TS", "G_FREE", "G_PREFIX_OLD", "G_PFN", "G_REST", "G_STACK", "G_EXTRA",
    "HEADER_WITH_TIMES", "PREFIX_TS", "PREFIX_OLD", "REST_NEW", "REST_OLD",
    "PFN_TOKENS", "BODY", "EXTRA_LINE", "FULL_FRAME", "NODE_FLAG", "ZONE_FLAG", "ADDR_PREFIX",
    "HEADER_EXPECT", "PFN_EXPECT", "MAX_RECORD_CHARS",
    "parse_prefix", "parse_rest", "pfn_value", "ts_value",
    "header_in_grammar", "pfn_rest_in_grammar", "close_last_record",
    "CUT", "BYTE_CUT", "PARALLEL_MIN_BYTES", "cut_points", "default_workers",
]

#: v3.19's ``migratetype_names[]`` (index = the number the v3.19 PFN line prints).
MIGRATETYPE_NAMES_V3_19 = ("Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate")
#: v4.4+ ``migratetype_names[]`` (with CONFIG_CMA and CONFIG_MEMORY_ISOLATION).
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate")
#: x86_64 ``enum zone_type`` (include/linux/mmzone.h): the ``zone=Z`` of ``%pGp`` indexes it.
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")

#: Every record starts with this.
HEADER = "Page allocated via order "
#: mm/page_owner.c print_page_owner (v4.6+), when the page was migrated.
MIGRATE_PREFIX = "Page has been migrated, last migrate reason: "
#: Lines that may follow the stack: the migrate reason, ``Slab cache page`` and
#: memcg ``Charged ...`` (v6.10+ print_page_owner_memcg), ``handle: %u`` (filter modes).
EXTRA_PREFIXES = (MIGRATE_PREFIX, "Slab cache page", "Charged ", "handle: ")

_PFN_NUMBER = r"0x[0-9a-fA-F]+|\d+"                   # PFN %lu (v3.19..v6.4) or 0x%lx (v6.5+)
_MASK = r"0x[0-9a-fA-F]+|0"                            # mask 0x%x / %#x (prints 0 for 0)
_TIMES = r", ts (\d+) ns(?:, free_ts (\d+) ns)?"       # v5.11+ ts, v5.13..v6.6 free_ts
_EXTRA = "(?:" + "|".join(EXTRA_PREFIXES) + ")"       # no regex metacharacters in them
_STACK_LINES = r"(?: [^\n]*\n)+"
_EXTRA_LINES = rf"(?:{_EXTRA}[^\n]*\n)*"

#: A whole header line (groups: order, mask, gfp names, pid, tgid, comm, ts, free_ts).
HEADER_LINE = re.compile(
    rf"Page allocated via order (\d+), mask ({_MASK})(?:\(([^)\n]*)\))?"
    r"(?:, pid (-?\d+)(?:, tgid (-?\d+))?(?: \(([^\n]*)\))?, ts (\d+) ns"
    r"(?:, free_ts (\d+) ns)?)?[ \t]*$")
#: A whole PFN line: v4.6+ ``PFN n type T Block b type T Flags ...`` (groups 1-5) or
#: v3.19 ``PFN n Block b type k [Fallback] Flags ...`` (groups 1, 6-8).
PFN_LINE = re.compile(
    rf"PFN ({_PFN_NUMBER}) (?:type (\S+) Block (\d+) type (\S+) Flags ([^\n]*)"
    r"|Block (\d+) type (\d+) +(Fallback +)?Flags(?: [^\n]*)?)$")

#: One whole record, for the fast scan (``findall``); see :data:`RECORD_GROUPS`.
RECORD = re.compile(
    rf"Page allocated via order (?:([^\n]*){_TIMES}|([^\n]*))[ \t]*\n"
    rf"PFN ({_PFN_NUMBER}) ([^\n]*)\n"
    rf"({_STACK_LINES})"
    rf"({_EXTRA_LINES})"
    r"[ \t]*\n")
#: :data:`RECORD`'s groups: the header before ``, ts`` (with ts), ts, free_ts, the
#: header after ``order `` (without ts), the PFN number, the PFN line after it,
#: the stack lines, the extra lines.
RECORD_GROUPS = ("prefix", "ts", "free_ts", "prefix_old", "pfn", "rest", "stack", "extra")
G_PREFIX, G_TS, G_FREE, G_PREFIX_OLD, G_PFN, G_REST, G_STACK, G_EXTRA = range(len(RECORD_GROUPS))

#: A header line with times (``fullmatch``; groups: prefix, ts, free_ts).
HEADER_WITH_TIMES = re.compile(rf"Page allocated via order ([^\n]*){_TIMES}[ \t]*")
#: The prefix of a v5.11+ header (after ``order ``, before ``, ts``), ``fullmatch``.
PREFIX_TS = re.compile(rf"(\d+), mask ({_MASK})\(([^)\n]*)\), pid (-?\d+)"
                       r"(?:, tgid (-?\d+))?(?: \((.*)\))?")
#: A header without times (v3.19 .. v5.10) after ``order ``, ``fullmatch``.
PREFIX_OLD = re.compile(rf"(\d+), mask ({_MASK})(?:\(([^)\n]*)\))?")
#: The PFN line after the number, v4.6+ (``fullmatch``).
REST_NEW = re.compile(r"type (\S+) Block (\d+) type (\S+) Flags (.*)")
#: The PFN line after the number, v3.19 (``fullmatch``).
REST_OLD = re.compile(r"Block (\d+) type (\d+) +(Fallback +)?Flags(?: .*)?")

#: PFN numbers, each followed by a space (``fullmatch`` on ``" ".join(numbers) + " "``).
PFN_TOKENS = re.compile(rf"(?:(?:{_PFN_NUMBER}) )*")
#: Stack lines then extra lines, each ending in a newline (``fullmatch``).
BODY = re.compile(_STACK_LINES + _EXTRA_LINES)
#: The start of an extra line (``match``).
EXTRA_LINE = re.compile(_EXTRA)
#: A complete stack line: `` [<addr>] sym+0xoff/0xsize [module]`` (``fullmatch``).
FULL_FRAME = re.compile(r" (?:\[<[0-9a-fA-F]+>\] )?[^\s+]+(?:\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+)?(?: \[\S+\])?")
#: ``node=N`` / ``zone=Z`` inside the ``%pGp`` flags (v5.14+).
NODE_FLAG = re.compile(r"(?:\(|\|)node=(\d+)")
ZONE_FLAG = re.compile(r"(?:\(|\|)zone=(\d+)")
#: The ``[<ffffffff8116147e>] `` address of an old-style stack line.
ADDR_PREFIX = re.compile(r"^\[<[0-9a-fA-F]+>\] ")

#: The most text a record can span for the readers: the kernel's records are a
#: few lines (PAGE_OWNER_STACK_DEPTH is 16 frames); text with no empty line in this
#: many characters is not a page_owner dump.
MAX_RECORD_CHARS = 32 << 20

HEADER_EXPECT = ("a header 'Page allocated via order %u, mask %#x(%pGg)[, pid %d[, tgid %d] (%s), "
                 "ts %llu ns[, free_ts %llu ns]]'")
PFN_EXPECT = ("a PFN line 'PFN %lu|0x%lx type %s Block %lu type %s Flags ...' "
              "or 'PFN %lu Block %lu type %d ... Flags ...'")


_PID_EXPECT = f"a pid/tgid in -1..{PID_MAX_LIMIT - 1} (below PID_MAX_LIMIT; -1: not known)"


def _pid(text: str | None) -> int | None:
    """A pid or tgid: -1 (what pextlab writes for an unknown one) or below PID_MAX_LIMIT."""
    return -1 if text is None else bounded_int(text, -1, PID_MAX_LIMIT - 1)


@functools.lru_cache(maxsize=1 << 16)
def parse_prefix(text: str, with_ts: bool):
    """The repeating part of a header, checked.

    ``text`` follows ``order `` and, when ``with_ts``, stops before ``, ts``.
    Returns ``(order, mask, gfp_names, pid, tgid, comm)`` (``gfp_names`` and
    ``comm`` None where not printed, pid/tgid -1), or a string saying what was
    expected: the pattern, an order up to ``PAGE_OWNER_ORDER_LIMIT``, a 32-bit
    ``gfp_t`` mask, pids below ``PID_MAX_LIMIT``.

    >>> parse_prefix("0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (init)", True)
    (0, 3264, 'GFP_KERNEL', 1, 1, 'init')
    """
    m = (PREFIX_TS if with_ts else PREFIX_OLD).fullmatch(text)
    if m is None:
        return HEADER_EXPECT
    g = m.groups()
    order = bounded_int(g[0], 0, PAGE_OWNER_ORDER_LIMIT)
    if order is None:
        return f"an order in 0..{PAGE_OWNER_ORDER_LIMIT}"
    mask = bounded_int(g[1], 0, U32_MAX, 16)
    if mask is None:
        return "a gfp mask of 32 bits (gfp_t is an unsigned int)"
    if not with_ts:
        return order, mask, g[2], -1, -1, None
    pid, tgid = _pid(g[3]), _pid(g[4])
    if pid is None or tgid is None:
        return _PID_EXPECT
    return order, mask, g[2], pid, tgid, g[5]


@functools.lru_cache(maxsize=1 << 16)
def parse_rest(text: str, nr_zones: int = len(ZONE_NAMES)):
    """The PFN line after ``PFN <number> ``, checked.

    Returns ``(migratetype, block, pageblock_migratetype, node, zone_index,
    v3_19_type, fallback)`` -- v4.6+ lines have node/zone -1 unless the
    ``%pGp`` flags carry them and ``v3_19_type`` -1; v3.19 lines give the
    block's type name for both migratetypes -- or a string saying what was
    expected: the pattern, a block below ``PFN_LIMIT``, a node below
    ``MAX_NUMNODES``, a zone index below ``nr_zones``, a v3.19 type below 6.

    >>> parse_rest("type Movable Block 11 type Movable Flags 0x2(node=0|zone=1)")
    ('Movable', 11, 'Movable', 0, 1, -1, False)
    """
    m = REST_NEW.fullmatch(text)
    if m is not None:
        mt, block, pbmt, flags = m.groups()
        n, z = NODE_FLAG.search(flags), ZONE_FLAG.search(flags)
        node = -1 if n is None else bounded_int(n.group(1), 0, MAX_NUMNODES - 1)
        zone = -1 if z is None else bounded_int(z.group(1), 0, nr_zones - 1)
        fallback, num = False, -1
    else:
        m = REST_OLD.fullmatch(text.rstrip(" \t")) or REST_OLD.fullmatch(text)
        if m is None:
            return PFN_EXPECT
        block, k, fb = m.groups()
        num = bounded_int(k, 0, len(MIGRATETYPE_NAMES_V3_19) - 1)
        if num is None:
            return f"a v3.19 migratetype number in 0..{len(MIGRATETYPE_NAMES_V3_19) - 1}"
        mt = pbmt = MIGRATETYPE_NAMES_V3_19[num]
        node = zone = -1
        fallback = fb is not None
    block = bounded_int(block, 0, PFN_LIMIT - 1)
    if block is None:
        return "a Block number below 2**52 (pfn >> pageblock_order)"
    if node is None:
        return f"node=N of a node id below {MAX_NUMNODES} (MAX_NUMNODES)"
    if zone is None:
        return f"zone=Z of a zone index below {nr_zones} ({', '.join(ZONE_NAMES[:nr_zones])})"
    return mt, block, pbmt, node, zone, num, fallback


def pfn_value(token: str) -> int | None:
    """The PFN a ``PFN %lu`` / ``PFN 0x%lx`` token prints, None when not below 2**52."""
    return bounded_int(token, 0, PFN_LIMIT - 1, 16 if token[:2] in ("0x", "0X") else 10)


def ts_value(digits: str) -> int | None:
    """A ``ts``/``free_ts`` value, None when not below 2**63 (292 years of ``local_clock()``)."""
    return bounded_int(digits, 0, TS_NS_LIMIT - 1)


def header_in_grammar(line: str) -> tuple[bool, tuple[int, int] | None]:
    """(the line is a header the reader accepts, span of its ts digits or None).

    The ts digits themselves are not checked (see :func:`ts_value`).
    """
    m = HEADER_WITH_TIMES.fullmatch(line)
    if m is not None:
        ok = not isinstance(parse_prefix(m.group(1).rstrip(" \t"), True), str)
        return ok and (m.group(3) is None or ts_value(m.group(3)) is not None), m.span(2)
    if not line.startswith(HEADER):
        return False, None
    return not isinstance(parse_prefix(line[len(HEADER):].rstrip(" \t"), False), str), None


def pfn_rest_in_grammar(rest: str) -> bool:
    """The PFN line after ``PFN <number> `` is one the reader accepts."""
    return not isinstance(parse_rest(rest), str)


def close_last_record(tail: str) -> str | None:
    """The end of a dump, with the last record's missing empty line (or newline) added.

    A dump cut after a complete stack line or extra line still holds a whole
    record: the reader accepts it.  Returns ``""`` for blank text, ``tail``
    itself when it ends with an empty line, ``tail`` plus what is missing when
    its last line is a complete stack or extra line, and None when the text
    stops inside a record (after its header or PFN line, or in the middle of
    a line).
    """
    if not tail.strip():
        return ""
    if tail.endswith("\n\n"):
        return tail
    if tail.endswith("\n"):
        last = tail.rstrip("\n").rsplit("\n", 1)[-1]
        return tail + "\n" if last.startswith(" ") or EXTRA_LINE.match(last) else None
    last = tail.rsplit("\n", 1)[-1]
    if FULL_FRAME.fullmatch(last) or EXTRA_LINE.match(last):
        return tail + "\n\n"
    return None


# --------------------------------------------------------------------------- cutting a dump

#: Where a dump's text may be cut: after an empty line that a header follows.
#: No record spans such a place, and a bad record's text (what a non-strict
#: read skips, up to the next header) ends there, so cutting a dump at any of
#: them and reading the pieces in order gives the same records, skipped lines
#: and first error as reading it whole: how both readers cut blocks, and how
#: they share a dump between worker processes.
CUT = "\n\n" + HEADER[:-len("order ")]
#: :data:`CUT` in a file's bytes, with LF or CRLF line ends (the cut goes before ``P``).
BYTE_CUT = re.compile(rb"\n\r?\nPage allocated via ")
#: Inputs at least this big are read by every core when the caller lets the reader choose.
PARALLEL_MIN_BYTES = 32 << 20
#: Bytes read at each cut place to find it (a record is a few hundred: one read mostly).
_CUT_WINDOW = 64 << 10


def cut_points(path, size: int, chunk: int) -> list[int]:
    """Byte offsets ``[0, ..., size]`` cutting the plain file ``path`` about
    ``chunk`` bytes apart, each at a :data:`BYTE_CUT` (a few small reads)."""
    cuts = [0]
    pos = chunk
    with open(path, "rb") as fh:
        while pos < size:
            fh.seek(pos)
            window = fh.read(_CUT_WINDOW)
            m = BYTE_CUT.search(window)
            if m is None:
                if len(window) < _CUT_WINDOW:
                    break
                pos += len(window) - 32
                continue
            cut = pos + m.start() + m.group().index(b"P")
            cuts.append(cut)
            pos = cut + chunk
    cuts.append(size)
    return cuts


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1
