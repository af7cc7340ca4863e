"""``pextlab sort`` without pandas: page_owner_sort on the dump's text, streaming.

:mod:`pextlab.analysis.page_owner_sort` works on the ``page_owner`` frame and
is the notebook API; building that frame needs numpy and pandas, whose import
alone costs more than the kernel's C tool takes for a whole run.  This module
is the command line's engine.  It uses the standard library only and works on
the records' text the way ``tools/mm/page_owner_sort.c`` (6.12) does:

1. **read**: the file (plain or gzip, by magic bytes) is read in chunks of a few
   MB cut at record boundaries; each record is the text up to an empty line.
   Its ``PFN ...`` line is set aside (it only decides ``CMA``/``SLAB``).
2. **parse** with the tool's regexes (``kernel-reference.md`` §3.4), applied to
   the record text: ``order\\s*([0-9]*),``, ``pid\\s*([0-9]*),``,
   ``tgid\\s*([0-9]*) ``, ``tgid\\s*[0-9]*\\s*\\((.*)\\),\\s*ts`` and
   ``ts\\s*([0-9]*)\\s*ns``.  A field the regexes do not find is -1 (pid, tgid,
   ts) or empty (comm).  The timestamp digits are deleted from the text before
   collating unless the primary sort key is the allocation time.
3. **select**, **cull** and **sort** as :func:`~pextlab.analysis.page_owner_sort.page_owner_sort`:
   a group's representative is its first record in file order and ties are
   broken by the cull keys ascending, so the output is deterministic.
4. **render** as :func:`~pextlab.analysis.page_owner_sort.render_page_owner_sort`.

Only per-distinct-value tables (header texts without timestamps, stacks, PFN
line tails) and one accumulator per group are kept, never the records.  The
header and the stack of a record are parsed once per distinct value, so a
record costs a few dictionary look-ups.

Checking the input
------------------
Input is accepted only when :func:`pextlab.procfs.page_owner.read_page_owner`
would accept it: each record is checked against the reader's grammar (header
alternatives, ``PFN`` token, PFN line tail, stack lines, then migrate/memcg/
handle lines).  Anything else -- garbage, a truncated record, a corrupt gzip
stream, or a layout this engine does not take apart itself (a record ended by
a line of blanks, two timestamps in a header) -- raises :class:`NotPlainDump`;
:func:`main` then runs the frame path, which names the file, line and what
was expected (and imports pandas, on that path only).

Differences from the frame path
-------------------------------
On dumps in the 6.7-6.12 format (every dump in ``data/real-kernel``) both paths
print the same bytes for every option.  They differ where the frame path
rebuilds the record text from the frame's fields (6.12 header, no memcg lines)
while this engine, like the C tool, keeps the text as printed:

* other header formats: ``free_ts %llu ns`` (5.13-6.6) stays in the text, so
  records only collate when their free times agree too; v3.19-v5.10 headers
  are printed as they are (no ``pid``/``tgid``/``ts`` fields); a 5.18
  ``pid %d (%s)`` header has no ``tgid`` for the comm regex, so comm is empty;
* ``Slab cache page``, ``Charged ...`` and ``handle: ...`` lines are part of
  the text (and of the stacktrace);
* trailing blanks on header, stack and migrate lines are kept;
* ``SLAB`` is seen when the PFN line contains ``slab`` (pre-6.10 page flags),
  ``CMA`` only when it contains ``CMA`` (not v3.19's numeric type 4);
* ``-d`` counts the records whose pid / tgid / ts the tool's regexes miss; the
  reader's warning about ``Block`` numbers that disagree with the PFN is not
  printed (the PFN line is not parsed beyond the grammar check).
"""
from __future__ import annotations

import getopt
import gzip
import io
import re
import sys
import zlib
from operator import itemgetter

__all__ = [
    "USAGE", "SortArgumentError", "NotPlainDump", "parse_sort", "parse_cull", "parse_num_list",
    "TextSortResult", "sort_text", "render_text", "main",
]

# --------------------------------------------------------------------------- option grammar
# The same grammar as pextlab.analysis.page_owner_sort (which imports pandas and
# so cannot be imported here); tests/test_sort_text.py checks that both agree.

ALLOCATOR_CMA, ALLOCATOR_SLAB, ALLOCATOR_VMALLOC, ALLOCATOR_OTHERS = 1 << 1, 1 << 2, 1 << 3, 1 << 4
_ALLOCATOR_NAMES = ((ALLOCATOR_CMA, "CMA"), (ALLOCATOR_SLAB, "SLAB"),
                    (ALLOCATOR_VMALLOC, "VMALLOC"), (ALLOCATOR_OTHERS, "OTHERS"))

USAGE = (
    "Usage: pextlab sort [OPTIONS] <input> [output]\n"
    "-a\t\t\tSort by memory allocation time.\n"
    "-m\t\t\tSort by total memory.\n"
    "-n\t\t\tSort by task command name.\n"
    "-p\t\t\tSort by pid.\n"
    "-P\t\t\tSort by tgid.\n"
    "-s\t\t\tSort by the stacktrace.\n"
    "-t\t\t\tSort by number of times record is seen (default).\n"
    "\n"
    "--pid <pidlist>\t\tSelect by pid. This selects the information of\n"
    "\t\t\tblocks whose process ID numbers appear in <pidlist>.\n"
    "--tgid <tgidlist>\tSelect by tgid. This selects the information of\n"
    "\t\t\tblocks whose Thread Group ID numbers appear in <tgidlist>.\n"
    "--name <cmdlist>\tSelect by command name. This selects the information\n"
    "\t\t\tof blocks whose command name appears in <cmdlist>.\n"
    "--cull <rules>\t\tCull by user-defined rules. <rules> is a single\n"
    "\t\t\targument in the form of a comma-separated list with some\n"
    "\t\t\tcommon fields predefined (pid, tgid, comm, stacktrace, allocator)\n"
    "--sort <order>\t\tSpecify sort order as: [+|-]key[,[+|-]key[,...]]\n"
)

_SORT_KEYS = {
    "pid": "pid", "p": "pid",
    "tgid": "tgid", "tg": "tgid",
    "name": "comm", "n": "comm",
    "stacktrace": "stacktrace", "st": "stacktrace",
    "txt": "text", "T": "text",
    "alloc_ts": "ts_ns", "at": "ts_ns",
    "allocator": "allocator", "ator": "allocator",
    "times": "times", "num": "times",
    "pages": "pages", "page_num": "pages",
}
_CULL_KEYS = {
    "pid": "pid", "p": "pid",
    "tgid": "tgid", "tg": "tgid",
    "name": "comm", "n": "comm", "comm": "comm",
    "stacktrace": "stacktrace", "st": "stacktrace",
    "allocator": "allocator", "ator": "allocator",
}
_CULL_ORDER = ("stacktrace", "pid", "tgid", "comm", "allocator")
_FLAG_SORT = {
    "a": ("ts_ns", True), "m": ("pages", False), "n": ("comm", True), "p": ("pid", True),
    "P": ("tgid", True), "s": ("stacktrace", True), "t": ("times", False),
}
_FLAG_ALIASES = {"alloc_ts": "a", "memory": "m", "name": "n", "pid": "p", "tgid": "P",
                 "stacktrace": "s", "times": "t"}


class SortArgumentError(ValueError):
    """A bad ``--sort``/``--cull``/pid-list argument; ``str()`` is the tool's message."""


class NotPlainDump(ValueError):
    """The input is not a dump this engine takes apart itself (see the module docstring)."""


def _explode(arg: str) -> list[str]:
    return arg.split(",")   # the tool keeps empty items: "a,,b" -> 3 items


def parse_sort(spec) -> list[tuple[str, bool]]:
    """``[+|-]key[,...]`` -> ``[(column, ascending), ...]``.

    >>> parse_sort("-pid,at")
    [('pid', False), ('ts_ns', True)]
    """
    items = _explode(spec) if isinstance(spec, str) else list(spec)
    original = spec if isinstance(spec, str) else ",".join(items)
    out = []
    for key in items:
        asc = True
        if key[:1] in "+-" and key:
            asc, key = key[0] == "+", key[1:]
        if key not in _SORT_KEYS:
            raise SortArgumentError(f"wrong argument after --sort option:{original}")
        out.append((_SORT_KEYS[key], asc))
    return out


def parse_cull(spec) -> tuple[str, ...]:
    """Cull rules -> canonical names in the tool's comparison order.

    >>> parse_cull("name,stacktrace")
    ('stacktrace', 'comm')
    """
    if spec is None:
        return ()
    items = _explode(spec) if isinstance(spec, str) else list(spec)
    original = spec if isinstance(spec, str) else ",".join(items)
    chosen = set()
    for item in items:
        if item not in _CULL_KEYS:
            raise SortArgumentError(f"wrong argument after --cull option:{original}")
        chosen.add(_CULL_KEYS[item])
    return tuple(k for k in _CULL_ORDER if k in chosen)


def parse_num_list(arg: str, what: str = "pid") -> list[int]:
    """A comma-separated list of decimal ids, as the tool's ``--pid``/``--tgid``.

    >>> parse_num_list("185,1")
    [185, 1]
    """
    out = []
    for item in _explode(arg):
        s = item.lstrip(" \t\n\r\f\v")  # strtol skips leading white space
        try:
            if not s or s != s.strip() or "_" in s:
                raise ValueError
            out.append(int(s, 10))
        except ValueError:
            raise SortArgumentError(f"wrong/invalid {what} in from the command line:{arg}") from None
    return out


def _resolve_sort(sort, flag) -> list[tuple[str, bool]]:
    if sort is not None and not (isinstance(sort, str) and sort == "") and len(sort) > 0:
        return parse_sort(sort)
    if flag is None:
        return [_FLAG_SORT["t"]]
    letter = _FLAG_ALIASES.get(flag, flag)
    if letter not in _FLAG_SORT:
        raise ValueError(f"unknown sort flag {flag!r}; expected one of {sorted(_FLAG_SORT)}")
    return [_FLAG_SORT[letter]]


# --------------------------------------------------------------------------- the tool's regexes

_SP = r"[ \t\n\r\f\v]"            # POSIX [[:space:]] (glibc's \s), not Python's Unicode \s
_ORDER = re.compile(rf"order{_SP}*([0-9]*),")
_PID = re.compile(rf"pid{_SP}*([0-9]*),")
_TGID = re.compile(rf"tgid{_SP}*([0-9]*) ")
_COMM = re.compile(rf"tgid{_SP}*[0-9]*{_SP}*\((.*)\),{_SP}*ts")
_TS = re.compile(rf"ts{_SP}*([0-9]*){_SP}*ns")

# --------------------------------------------------------------------------- the reader's grammar
# (pextlab.procfs.page_owner accepts exactly these records; see its _RECORD and
# the strict per-part patterns)

_HEAD = "Page allocated via order "
_HDR_TS = re.compile(r"Page allocated via order ([^\n]*), ts (\d+) ns(?:, free_ts (\d+) ns)?[ \t]*")
_PREFIX_TS = re.compile(r"(\d+), mask (0x[0-9a-fA-F]+|0)\(([^)\n]*)\), pid (-?\d+)"
                        r"(?:, tgid (-?\d+))?(?: \((.*)\))?")
_PREFIX_OLD = re.compile(r"(\d+), mask (0x[0-9a-fA-F]+|0)(?:\(([^)\n]*)\))?")
_REST_NEW = re.compile(r"type (\S+) Block (\d+) type (\S+) Flags (.*)")
_REST_OLD = re.compile(r"Block (\d+) type (\d+) +(Fallback +)?Flags(?: .*)?")
_PFN_TOKENS = re.compile(r"(?:(?:0x[0-9a-fA-F]+|\d+) )*")
_EXTRA = r"(?:Page has been migrated, last migrate reason: |Slab cache page|Charged |handle: )"
_BODY = re.compile(rf"(?: [^\n]*\n)+(?:{_EXTRA}[^\n]*\n)*")
_EXTRA_LINE = re.compile(_EXTRA)
_FULL_FRAME = re.compile(r" (?:\[<[0-9a-fA-F]+>\] )?[^\s+]+(?:\+0x[0-9a-fA-F]+/0x[0-9a-fA-F]+)?(?: \[\S+\])?")

_CHUNK_CHARS = 4 << 20


def _header_in_grammar(line: str):
    """(accepted by the reader, span of the reader's ts digits or None) for a header line."""
    m = _HDR_TS.fullmatch(line)
    if m is not None:
        return _PREFIX_TS.fullmatch(m.group(1).rstrip(" \t")) is not None, m.span(2)
    if not line.startswith(_HEAD):
        return False, None
    return _PREFIX_OLD.fullmatch(line[len(_HEAD):].rstrip(" \t")) is not None, None


def _pfn_bits(rest: str) -> int:
    """Allocator bits the PFN line decides (after ``PFN <pfn> ``), or -1 if not in grammar."""
    if not (_REST_NEW.fullmatch(rest) or _REST_OLD.fullmatch(rest.rstrip(" \t"))
            or _REST_OLD.fullmatch(rest)):
        return -1
    # the tool looks for the strings anywhere in the line; the PFN token has neither
    return (ALLOCATOR_CMA if "CMA" in rest else 0) | (ALLOCATOR_SLAB if "slab" in rest else 0)


def _vmalloc(text: str) -> bool:
    """The tool's VMALLOC test: the first ``__vmalloc_node_range`` is on a line
    whose preceding line contains ``alloc_pages``."""
    pos = text.find("__vmalloc_node_range")
    if pos < 0:
        return False
    line = text.rfind("\n", 0, pos) + 1
    if line == 0:
        return False            # in the header line: the tool's backward scan is undefined there
    prev = text.rfind("\n", 0, line - 1) + 1
    return text.find("alloc_pages", prev, pos) >= 0


def _num(m) -> int:
    return int(m.group(1)) if m is not None and m.group(1) else -1


# --------------------------------------------------------------------------- reading

def _open(src) -> io.TextIOBase:
    """A text stream over a plain or gzipped file (gzip detected by magic bytes)."""
    if hasattr(src, "read"):
        return src if isinstance(src, io.TextIOBase) else io.TextIOWrapper(src, encoding="utf-8",
                                                                           errors="replace")
    with open(src, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(src, "rb"), encoding="utf-8", errors="replace")
    return open(src, "r", encoding="utf-8", errors="replace")


def _blocks(fh, chunk_chars: int = _CHUNK_CHARS):
    """Yield lists of record texts (each without its final newline and empty line)."""
    carry = ""
    while True:
        block = fh.read(chunk_chars)
        if not block:
            break
        buf = carry + block if carry else block
        cut = buf.rfind("\n\n")
        if cut < 0:
            if len(buf) > 16 * chunk_chars:
                raise NotPlainDump("no record boundary in the input")
            carry = buf
            continue
        carry = buf[cut + 2:]
        yield buf[:cut].split("\n\n")
    tail = carry
    if tail.strip(" \t\n"):
        # the reader closes a last record whose empty line (or newline) is missing
        if tail.endswith("\n"):
            last = tail.rstrip("\n").rsplit("\n", 1)[-1]
            if not (last.startswith(" ") or _EXTRA_LINE.match(last)):
                raise NotPlainDump("the last record is incomplete")
        else:
            last = tail.rsplit("\n", 1)[-1]
            if not (_FULL_FRAME.fullmatch(last) or _EXTRA_LINE.match(last)):
                raise NotPlainDump("the file ends in the middle of a line")
        yield [tail.rstrip("\n")]


# --------------------------------------------------------------------------- the engine

class TextSortResult:
    """Groups in output order, as :func:`sort_text` returns them.

    ``rows`` holds one tuple per group: ``(times, pages, pid, tgid, comm,
    allocator_mask, ts_ns, stacktrace, text)`` (``ts_ns`` is None unless a sort
    key needed it).  ``loaded`` counts all records read; ``missing`` counts
    records without pid / tgid / ts_ns (the ``-d`` report).
    """

    __slots__ = ("rows", "loaded", "cull", "filters", "missing")

    def __init__(self, rows: list, loaded: int, cull: tuple = (), filters: tuple = (),
                 missing: dict | None = None):
        self.rows, self.loaded, self.cull, self.filters = rows, loaded, cull, filters
        self.missing = {} if missing is None else missing


def _alloc_names(mask: int) -> str:
    return " ".join(name for bit, name in _ALLOCATOR_NAMES if mask & bit)


def sort_text(src, *, sort=None, cull=None, pid=None, tgid=None, name=None, flag: str | None = None,
              keep_ts: bool | None = None, debug: bool = False,
              chunk_chars: int = _CHUNK_CHARS) -> TextSortResult:
    """Select, cull and sort the records of a page_owner dump, from its text.

    Same parameters and grouping as
    :func:`~pextlab.analysis.page_owner_sort.page_owner_sort`; ``src`` is a path
    (plain or gzip) or an open file.  Raises :class:`NotPlainDump` for input
    the reader would reject or that this engine does not take apart (see the
    module docstring), and :class:`SortArgumentError` for bad arguments.
    ``debug`` counts the records without pid / tgid / ts (``missing``).
    """
    cull_keys = parse_cull(cull)
    sort_keys = _resolve_sort(sort, flag)
    if keep_ts is None:
        keep_ts = sort_keys[0][0] == "ts_ns"
    want_ts = any(k == "ts_ns" for k, _ in sort_keys)
    pids = None if pid is None else {int(x) for x in ([pid] if isinstance(pid, (int, str)) else pid)}
    tgids = None if tgid is None else {int(x) for x in ([tgid] if isinstance(tgid, (int, str)) else tgid)}
    names = None if name is None else {str(x) for x in ([name] if isinstance(name, str) else name)}
    filters = tuple(f for f, v in (("pid", pids), ("tgid", tgids), ("comm", names)) if v is not None)
    selecting = bool(filters)

    # per distinct value tables
    hdr_pos: dict[str, int] = {}          # stripped header -> position of the ts digits (-1: bad)
    old_hdr: dict[str, bool] = {}         # header without a ts match -> in grammar
    rests: dict[str, int] = {}            # PFN line tail -> allocator bits (-1: bad)
    bodies: dict[str, int] = {}           # stack (+ extra lines) -> body id
    body_text: list[str] = []             # body id -> canonical body (no final newline)
    fields: dict[tuple, tuple] = {}       # (header, body id) -> (pages, pid, tgid, comm, vmalloc bits)
    groups: dict = {}
    loaded = no_ts = n_pid = n_tgid = 0

    # cull key = fields of (body id, pid, tgid, comm, allocator)
    cull_idx = [{"stacktrace": 0, "pid": 1, "tgid": 2, "comm": 3, "allocator": 4}[k] for k in cull_keys]
    cull_get = itemgetter(*cull_idx) if cull_idx else None

    def body_id(body: str) -> int:
        canon = body.rstrip("\n")            # "...\n\n\n" runs leave newlines at the end
        if _BODY.fullmatch(canon + "\n") is None:
            raise NotPlainDump("a record's stack is not in the reader's grammar")
        bid = bodies.get(canon)
        if bid is None:
            bid = len(body_text)
            body_text.append(canon)
            bodies[canon] = bid
        bodies[body] = bid
        return bid

    def header_pos(hs: str, s: int) -> int:
        ok, span = _header_in_grammar(hs[:s] + "0" + hs[s:])
        return s if ok and span == (s, s + 1) else -1

    def parse_fields(hs: str, bid: int) -> tuple:
        text = hs + "\n" + body_text[bid]
        m = _ORDER.search(text)
        order = int(m.group(1)) if m is not None and m.group(1) else -1
        pages = 1 << order if 0 <= order <= 64 else 0
        c = _COMM.search(text)
        vm = ALLOCATOR_VMALLOC if _vmalloc(text) else 0
        return pages, _num(_PID.search(text)), _num(_TGID.search(text)), c.group(1) if c else "", vm

    tssearch = _TS.search
    fh = _open(src)
    try:
        for blocks in _blocks(fh, chunk_chars):
            toks = []
            add_tok = toks.append
            for b in blocks:
                if not b.startswith(_HEAD):
                    b = b.lstrip(" \t\n")         # empty lines between records
                    if not b:
                        continue
                    if not b.startswith(_HEAD):
                        raise NotPlainDump("a record does not start with a header")
                h, _, r = b.partition("\n")
                p, _, body = r.partition("\n")
                m = tssearch(h)
                if m is not None:
                    s, e = m.span(1)
                    hs = h[:s] + h[e:]
                    pos = hdr_pos.get(hs)
                    if pos is None:
                        pos = hdr_pos[hs] = header_pos(hs, s)
                    if pos != s or e == s:
                        raise NotPlainDump("a header is not in the reader's grammar")
                else:
                    ok = old_hdr.get(h)
                    if ok is None:
                        ok = old_hdr[h] = _header_in_grammar(h)[0]
                    if not ok:
                        raise NotPlainDump("a header is not in the reader's grammar")
                    hs = h
                if p[:4] != "PFN ":
                    raise NotPlainDump("a record's second line is not a PFN line")
                sp = p.find(" ", 4)
                rest = p[sp + 1:] if sp > 0 else ""
                bits = rests.get(rest)
                if bits is None:
                    bits = rests[rest] = _pfn_bits(rest)
                if bits < 0 or sp < 0:
                    raise NotPlainDump("a PFN line is not in the reader's grammar")
                add_tok(p[4:sp])
                bid = bodies.get(body)
                if bid is None:
                    bid = body_id(body)
                if m is None:
                    # no timestamp in the header: the tool searches the whole record
                    t = body_text[bid]
                    m = tssearch(t)
                    if m is None:
                        no_ts += 1
                    elif not keep_ts:
                        bid = body_id(t[:m.start(1)] + t[m.end(1):])
                fk = (hs, bid)
                f = fields.get(fk)
                if f is None:
                    f = fields[fk] = parse_fields(hs, bid)
                loaded += 1
                if debug:
                    n_pid += f[1] < 0
                    n_tgid += f[2] < 0
                if selecting and ((pids is not None and f[1] not in pids)
                                  or (tgids is not None and f[2] not in tgids)
                                  or (names is not None and f[3] not in names)):
                    continue
                alloc = bits | f[4] or ALLOCATOR_OTHERS
                if cull_get is None:
                    key = (h, bid) if keep_ts else fk
                else:
                    key = cull_get((bid, f[1], f[2], f[3], alloc))
                g = groups.get(key)
                if g is None:
                    ts = _num(m) if want_ts else None
                    groups[key] = [1, f[0], f[1], f[2], f[3], alloc, ts, bid, h if keep_ts else hs]
                else:
                    g[0] += 1
                    g[1] += f[0]
            if toks and _PFN_TOKENS.fullmatch(" ".join(toks) + " ") is None:
                raise NotPlainDump("a PFN number is not in the reader's grammar")
    except (EOFError, OSError, zlib.error, UnicodeError) as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise NotPlainDump(f"{type(e).__name__}: {e}") from e
    finally:
        if not hasattr(src, "read"):
            fh.close()
        elif fh is not src:
            fh.detach()         # our wrapper around the caller's binary file: leave it open

    missing = {"pid": n_pid, "tgid": n_tgid, "ts_ns": no_ts} if debug else {}
    rows = [(g[0], g[1], g[2], g[3], g[4], g[5], g[6], body_text[g[7]] + "\n",
             g[8] + "\n" + body_text[g[7]] + "\n") for g in groups.values()]

    # sort: requested keys, then the cull comparison keys (ascending); stable
    col = {"times": 0, "pages": 1, "pid": 2, "tgid": 3, "comm": 4, "allocator": 5, "ts_ns": 6,
           "stacktrace": 7, "text": 8}
    compare = list(cull_keys) if cull_keys else ["text"]
    by: list[tuple[int, bool]] = []
    seen = set()
    for c, asc in list(sort_keys) + [(c, True) for c in compare]:
        if c not in seen:
            seen.add(c)
            by.append((col[c], asc))
    for i, asc in reversed(by):
        rows.sort(key=itemgetter(i), reverse=not asc)
    return TextSortResult(rows=rows, loaded=loaded, cull=cull_keys, filters=filters, missing=missing)


def render_text(result: TextSortResult) -> str:
    """The tool's output file for a :func:`sort_text` result (as ``render_page_owner_sort``)."""
    cull, filters = result.cull, set(result.filters)
    out = []
    put = out.append
    if not cull:
        for times, pages, _, _, _, alloc, _, _, text in result.rows:
            put(f"{times} times, {pages} pages, allocated by {_alloc_names(alloc)} :\n{text}\n")
        return "".join(out)
    show_pid = "pid" in cull or "pid" in filters
    show_tgid = "tgid" in cull or "tgid" in filters
    show_comm = "comm" in cull or "comm" in filters
    show_alloc = "allocator" in cull
    show_st = "stacktrace" in cull
    for times, pages, pid, tgid, comm, alloc, _, st, _ in result.rows:
        s = f"{times} times, {pages} pages"
        if show_pid:
            s += f", PID {pid}"
        if show_tgid:
            s += f", TGID {tgid}"
        if show_comm:
            s += f", task_comm_name: {comm}"
        if show_alloc:
            s += f", allocated by {_alloc_names(alloc)} "
        if show_st:
            s += ":\n" + st
        put(s + "\n")
    return "".join(out)


# --------------------------------------------------------------------------- command line

_LONG_OPTS = ["pid=", "tgid=", "name=", "cull=", "sort=", "help"]


def _err(msg: str) -> None:
    sys.stderr.write(msg if msg.endswith("\n") else msg + "\n")


def main(argv=None) -> int:
    """``pextlab sort [OPTIONS] <input> [output]``: the page_owner_sort command line.

    Options are spelled as the kernel tool's (``-a -m -n -p -P -s -t -d``,
    ``--pid``, ``--tgid``, ``--name``, ``--cull``, ``--sort``; ``--opt=value``
    or ``--opt value``).  Returns the exit status: 0 on success, 1 for usage
    errors (the tool's messages) and unopenable files, 2 for unreadable input
    (truncated or garbage page_owner text, corrupt gzip).  Messages go to
    stderr, one line each (plus the usage text for usage errors).

    The work is done by :func:`sort_text`; input it does not take (bad or
    unusually laid out) goes to the frame path, which reports what is wrong.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        opts, args = getopt.gnu_getopt(argv, "admnpstPh", _LONG_OPTS)
    except getopt.GetoptError as e:
        _err(f"pextlab sort: {e}")
        _err(USAGE)
        return 1

    flags: list[str] = []
    debug = False
    kw: dict = {}
    try:
        for opt, val in opts:
            if opt in ("-h", "--help"):
                sys.stdout.write(USAGE)
                return 0
            if opt == "-d":
                debug = True
            elif opt[1:] in _FLAG_SORT and len(opt) == 2:
                if opt[1] not in flags:
                    flags.append(opt[1])
            elif opt == "--pid":
                kw["pid"] = parse_num_list(val, "pid")
            elif opt == "--tgid":
                kw["tgid"] = parse_num_list(val, "tgid")
            elif opt == "--name":
                kw["name"] = _explode(val)
            elif opt == "--cull":
                kw["cull"] = val
                parse_cull(val)
            elif opt == "--sort":
                kw["sort"] = val
                parse_sort(val)
    except SortArgumentError as e:
        _err(str(e))
        return 1

    if len(flags) > 1:
        _err(f"pextlab sort: only one of -a/-m/-n/-p/-P/-s/-t may be given (got "
             f"{' '.join('-' + f for f in flags)})")
        _err(USAGE)
        return 1
    if not 1 <= len(args) <= 2:
        _err("pextlab sort: expected <input> [output]")
        _err(USAGE)
        return 1
    if flags:
        kw["flag"] = flags[0]
    src, dst = args[0], (args[1] if len(args) == 2 else None)

    try:
        result = sort_text(src, debug=debug, **kw)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        _err(f"pextlab sort: cannot open {src}: {e.strerror}")
        return 1
    except NotPlainDump:
        # the frame path parses (or rejects, naming file and line) everything else
        from .page_owner_sort import _main_frames
        return _main_frames(src, dst, kw, debug)

    if dst is not None:
        sys.stderr.write(f"loaded {result.loaded}\nsorting ....\nculling\n")
    if debug:
        for c in ("pid", "tgid", "ts_ns"):
            if result.missing.get(c):
                _err(f"pextlab sort: {result.missing[c]} records without {c}")
    return _write(render_text(result), dst)


def _write(text: str, dst) -> int:
    """Write the output to ``dst`` (stdout when None); the exit status."""
    if dst is None:
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            return 0
        return 0
    try:
        with open(dst, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as e:
        _err(f"pextlab sort: cannot write {dst}: {e.strerror}")
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
