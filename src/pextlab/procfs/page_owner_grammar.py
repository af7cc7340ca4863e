"""The grammar of a ``/sys/kernel/debug/page_owner`` record, standard library only.

One record per allocated head page, ended by an empty line::

    Page allocated via order %u, mask %#x(%pGg), pid %d, tgid %d (%s), ts %llu ns
    PFN 0x%lx type %s Block %lu type %s Flags %pGp
     %pS                                   (one stack frame per line)
    Page has been migrated, last migrate reason: %s      (optional)
    <empty line>

(every variant since v3.19: see :mod:`pextlab.procfs.page_owner`).  The
patterns here are the one definition of what a record is.  Two readers use
them: the pandas reader :func:`pextlab.procfs.page_owner.read_page_owner`
and ``pextlab sort``'s text engine :mod:`pextlab.analysis.sort_text`, which
must start without importing numpy or pandas -- hence this module imports
nothing but :mod:`re`.

The fast path matches a whole record with :data:`RECORD`, whose groups cut
the header into the part that repeats (order, mask, gfp names, pid, tgid,
comm) and the per-record times, and the PFN line into the pfn and the
(repeating) rest; the repeating parts are then checked once per distinct
value with the strict :data:`PREFIX_TS` / :data:`PREFIX_OLD` /
:data:`REST_NEW` / :data:`REST_OLD`.  :data:`HEADER_LINE` and
:data:`PFN_LINE` match single lines, to name the first bad line of a record.
"""
from __future__ import annotations

import re

__all__ = [
    "HEADER", "MIGRATE_PREFIX", "EXTRA_PREFIXES",
    "HEADER_LINE", "PFN_LINE", "RECORD", "RECORD_GROUPS",
    "G_PREFIX", "G_TS", "G_FREE", "G_PREFIX_OLD", "G_PFN", "G_REST", "G_STACK", "G_EXTRA",
    "HEADER_WITH_TIMES", "PREFIX_TS", "PREFIX_OLD", "REST_NEW", "REST_OLD",
    "PFN_TOKENS", "BODY", "EXTRA_LINE", "FULL_FRAME", "NODE_FLAG", "ZONE_FLAG", "ADDR_PREFIX",
    "HEADER_EXPECT", "PFN_EXPECT",
    "header_in_grammar", "pfn_rest_in_grammar", "close_last_record",
]

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

HEADER_EXPECT = ("a header 'Page allocated via order %u, mask %#x(%pGg)[, pid %d[, tgid %d] (%s), "
                 "ts %llu ns[, free_ts %llu ns]]'")
PFN_EXPECT = ("a PFN line 'PFN %lu|0x%lx type %s Block %lu type %s Flags ...' "
              "or 'PFN %lu Block %lu type %d ... Flags ...'")


def header_in_grammar(line: str) -> tuple[bool, tuple[int, int] | None]:
    """(the line is a header the reader accepts, span of its ts digits or None)."""
    m = HEADER_WITH_TIMES.fullmatch(line)
    if m is not None:
        return PREFIX_TS.fullmatch(m.group(1).rstrip(" \t")) is not None, m.span(2)
    if not line.startswith(HEADER):
        return False, None
    return PREFIX_OLD.fullmatch(line[len(HEADER):].rstrip(" \t")) is not None, None


def pfn_rest_in_grammar(rest: str) -> bool:
    """The PFN line after ``PFN <number> `` is one the reader accepts."""
    return bool(REST_NEW.fullmatch(rest) or REST_OLD.fullmatch(rest.rstrip(" \t"))
                or REST_OLD.fullmatch(rest))


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
