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
would accept it: each record is checked against the reader's grammar,
:mod:`pextlab.procfs.page_owner_grammar` (header
alternatives, ``PFN`` token, PFN line tail, stack lines, then migrate/memcg/
handle lines).  Anything else -- garbage, a truncated record, a corrupt gzip
stream, or a layout this engine does not take apart itself (a record ended by
a line of blanks, two timestamps in a header) -- raises :class:`NotPlainDump`;
:func:`pextlab.analysis.sort_cli.main` then runs the frame path, which names
the file, line and what was expected (and imports pandas, on that path only).

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

import re
import zlib
from operator import itemgetter

from ..procfs.page_owner_grammar import (
    BODY, HEADER, MAX_RECORD_CHARS, PFN_TOKENS, close_last_record, header_in_grammar, pfn_rest_in_grammar,
    pfn_value, ts_value)
from ..procfs.textio import open_text
from .sort_options import (
    ALLOCATOR_CMA, ALLOCATOR_OTHERS, ALLOCATOR_SLAB, ALLOCATOR_VMALLOC, allocator_names, parse_cull,
    resolve_sort)

__all__ = ["NotPlainDump", "TextSortResult", "SortEngine", "sort_text", "render_text"]

class NotPlainDump(ValueError):
    """The input is not a dump this engine takes apart itself (see the module docstring)."""


# --------------------------------------------------------------------------- the tool's regexes

_SP = r"[ \t\n\r\f\v]"            # POSIX [[:space:]] (glibc's \s), not Python's Unicode \s
_ORDER = re.compile(rf"order{_SP}*([0-9]*),")
_PID = re.compile(rf"pid{_SP}*([0-9]*),")
_TGID = re.compile(rf"tgid{_SP}*([0-9]*) ")
_COMM = re.compile(rf"tgid{_SP}*[0-9]*{_SP}*\((.*)\),{_SP}*ts")
_TS = re.compile(rf"ts{_SP}*([0-9]*){_SP}*ns")

_CHUNK_CHARS = 4 << 20


def _pfn_bits(rest: str) -> int:
    """Allocator bits the PFN line decides (after ``PFN <pfn> ``), or -1 if not in grammar."""
    if not pfn_rest_in_grammar(rest):
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
    """The number a tool regex captured, -1 when it found none.

    More than 18 digits (the tool's ``atoi`` would overflow) is unusual input
    for the frame path.
    """
    if m is None or not m.group(1):
        return -1
    if len(m.group(1)) > 18:
        raise NotPlainDump("a number in the record is too long for the tool")
    return int(m.group(1))


# --------------------------------------------------------------------------- reading

def _blocks(reads):
    """Yield lists of record texts (each without its final newline and empty line)
    from the text blocks ``reads``."""
    carry = ""
    for block in reads:
        if not block:
            break
        buf = carry + block if carry else block
        cut = buf.rfind("\n\n")
        if cut < 0:
            if len(buf) >= MAX_RECORD_CHARS:
                raise NotPlainDump("no record boundary in the input")
            carry = buf
            continue
        carry = buf[cut + 2:]
        yield buf[:cut].split("\n\n")
    tail = close_last_record(carry)
    if tail is None:
        raise NotPlainDump("the last record is incomplete")
    if tail:
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


class SortEngine:
    """:func:`sort_text`'s state: per-distinct-value tables, one accumulator per group.

    :meth:`feed` reads text; :meth:`partial` and :meth:`merge` carry the groups
    of a piece of the dump read elsewhere (a worker process) into this engine,
    in file order; :meth:`result` selects nothing more and sorts.  Group keys
    hold the stack text itself (one object per distinct stack), so the groups
    of pieces read by different engines merge by key.
    """

    def __init__(self, *, sort=None, cull=None, pid=None, tgid=None, name=None, flag: str | None = None,
                 keep_ts: bool | None = None, debug: bool = False, chunk_chars: int = _CHUNK_CHARS):
        self.cull_keys = parse_cull(cull)
        self.sort_keys = resolve_sort(sort, flag)
        self.keep_ts = self.sort_keys[0][0] == "ts_ns" if keep_ts is None else keep_ts
        self.want_ts = any(k == "ts_ns" for k, _ in self.sort_keys)
        self.pids = None if pid is None else {int(x) for x in ([pid] if isinstance(pid, (int, str)) else pid)}
        self.tgids = None if tgid is None else {
            int(x) for x in ([tgid] if isinstance(tgid, (int, str)) else tgid)}
        self.names = None if name is None else {str(x) for x in ([name] if isinstance(name, str) else name)}
        self.filters = tuple(f for f, v in (("pid", self.pids), ("tgid", self.tgids), ("comm", self.names))
                             if v is not None)
        self.debug = debug
        self.chunk_chars = chunk_chars
        self.groups: dict = {}
        self.loaded = self.no_ts = self.n_pid = self.n_tgid = 0
        # per distinct value tables
        self.hdr_pos: dict[str, int] = {}     # stripped header -> position of the ts digits (-1: bad)
        self.old_hdr: dict[str, bool] = {}    # header without a ts match -> in grammar
        self.rests: dict[str, int] = {}       # PFN line tail -> allocator bits (-1: bad)
        self.bodies: dict[str, str] = {}      # stack (+ extra lines) as read -> canonical body
        self.fields: dict[tuple, tuple] = {}  # (header, body) -> (pages, pid, tgid, comm, vmalloc bits)

    def _body(self, body: str) -> str:
        """The canonical body (no final newline), the one object used for equal bodies."""
        canon = body.rstrip("\n")            # "...\n\n\n" runs leave newlines at the end
        if BODY.fullmatch(canon + "\n") is None:
            raise NotPlainDump("a record's stack is not in the reader's grammar")
        canon = self.bodies.setdefault(canon, canon)
        self.bodies[body] = canon
        return canon

    @staticmethod
    def _header_pos(hs: str, s: int) -> int:
        ok, span = header_in_grammar(hs[:s] + "0" + hs[s:])
        return s if ok and span == (s, s + 1) else -1

    @staticmethod
    def _parse_fields(hs: str, body: str) -> tuple:
        text = hs + "\n" + body
        order = _num(_ORDER.search(text))
        pages = 1 << order if 0 <= order <= 64 else 0
        c = _COMM.search(text)
        vm = ALLOCATOR_VMALLOC if _vmalloc(text) else 0
        return pages, _num(_PID.search(text)), _num(_TGID.search(text)), c.group(1) if c else "", vm

    def feed(self, fh) -> None:
        """Read the records of the text file ``fh`` (see :func:`sort_text` for what is refused)."""
        self.feed_blocks(iter(lambda: fh.read(self.chunk_chars), ""))

    def feed_blocks(self, reads) -> None:
        """Read the records of the text given in blocks (an iterable of str)."""
        cull_idx = [{"stacktrace": 0, "pid": 1, "tgid": 2, "comm": 3, "allocator": 4}[k] for k in self.cull_keys]
        cull_get = itemgetter(*cull_idx) if cull_idx else None
        keep_ts, want_ts, debug = self.keep_ts, self.want_ts, self.debug
        pids, tgids, names = self.pids, self.tgids, self.names
        selecting = bool(self.filters)
        hdr_pos, old_hdr, rests, bodies, fields, groups = (
            self.hdr_pos, self.old_hdr, self.rests, self.bodies, self.fields, self.groups)
        tssearch = _TS.search
        loaded = no_ts = n_pid = n_tgid = 0
        try:
            for blocks in _blocks(reads):
                toks = []
                add_tok = toks.append
                for b in blocks:
                    if not b.startswith(HEADER):
                        b = b.lstrip(" \t\n")         # empty lines between records
                        if not b:
                            continue
                        if not b.startswith(HEADER):
                            raise NotPlainDump("a record does not start with a header")
                    h, _, r = b.partition("\n")
                    p, _, body = r.partition("\n")
                    m = tssearch(h)
                    if m is not None:
                        s, e = m.span(1)
                        hs = h[:s] + h[e:]
                        pos = hdr_pos.get(hs)
                        if pos is None:
                            pos = hdr_pos[hs] = self._header_pos(hs, s)
                        if pos != s or e == s or (e - s > 18 and ts_value(h[s:e]) is None):
                            raise NotPlainDump("a header is not in the reader's grammar")
                    else:
                        ok = old_hdr.get(h)
                        if ok is None:
                            ok = old_hdr[h] = header_in_grammar(h)[0]
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
                    st = bodies.get(body)
                    if st is None:
                        st = self._body(body)
                    if m is None:
                        # no timestamp in the header: the tool searches the whole record
                        m = tssearch(st)
                        if m is None:
                            no_ts += 1
                        elif not keep_ts:
                            st = self._body(st[:m.start(1)] + st[m.end(1):])
                    fk = (hs, st)
                    f = fields.get(fk)
                    if f is None:
                        f = fields[fk] = self._parse_fields(hs, st)
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
                        key = (h, st) if keep_ts else fk
                    else:
                        key = cull_get((st, f[1], f[2], f[3], alloc))
                    g = groups.get(key)
                    if g is None:
                        ts = _num(m) if want_ts else None
                        groups[key] = [1, f[0], f[1], f[2], f[3], alloc, ts, st, h if keep_ts else hs]
                    else:
                        g[0] += 1
                        g[1] += f[0]
                if toks and (PFN_TOKENS.fullmatch(" ".join(toks) + " ") is None or (
                        max(map(len, toks)) > 15 and any(pfn_value(t) is None for t in toks if len(t) > 15))):
                    raise NotPlainDump("a PFN number is not in the reader's grammar")
        except (EOFError, OSError, zlib.error, UnicodeError) as e:
            if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise NotPlainDump(f"{type(e).__name__}: {e}") from e
        finally:
            self.loaded += loaded
            self.no_ts += no_ts
            self.n_pid += n_pid
            self.n_tgid += n_tgid

    def partial(self) -> tuple:
        """The groups (in order of first appearance) and counts, for :meth:`merge`."""
        return list(self.groups.items()), self.loaded, self.no_ts, self.n_pid, self.n_tgid

    def merge(self, partial: tuple) -> None:
        """Add the :meth:`partial` of an engine that read the text following ours."""
        items, loaded, no_ts, n_pid, n_tgid = partial
        groups = self.groups
        for key, g in items:
            mine = groups.get(key)
            if mine is None:
                groups[key] = g
            else:
                mine[0] += g[0]
                mine[1] += g[1]
        self.loaded += loaded
        self.no_ts += no_ts
        self.n_pid += n_pid
        self.n_tgid += n_tgid

    def result(self) -> TextSortResult:
        """The groups sorted: requested keys, then the cull comparison keys (ascending); stable."""
        cull_keys = self.cull_keys
        missing = {"pid": self.n_pid, "tgid": self.n_tgid, "ts_ns": self.no_ts} if self.debug else {}
        rows = [(g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7] + "\n", g[8] + "\n" + g[7] + "\n")
                for g in self.groups.values()]
        col = {"times": 0, "pages": 1, "pid": 2, "tgid": 3, "comm": 4, "allocator": 5, "ts_ns": 6,
               "stacktrace": 7, "text": 8}
        compare = list(cull_keys) if cull_keys else ["text"]
        by: list[tuple[int, bool]] = []
        seen = set()
        for c, asc in list(self.sort_keys) + [(c, True) for c in compare]:
            if c not in seen:
                seen.add(c)
                by.append((col[c], asc))
        for i, asc in reversed(by):
            rows.sort(key=itemgetter(i), reverse=not asc)
        return TextSortResult(rows=rows, loaded=self.loaded, cull=cull_keys, filters=self.filters,
                              missing=missing)


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
    :func:`pextlab.analysis.sort_parallel.sort_text_parallel` reads a plain
    file the same way with several processes.
    """
    engine = SortEngine(sort=sort, cull=cull, pid=pid, tgid=tgid, name=name, flag=flag, keep_ts=keep_ts,
                        debug=debug, chunk_chars=chunk_chars)
    fh = open_text(src)
    try:
        engine.feed(fh)
    finally:
        if not hasattr(src, "read"):
            fh.close()
        elif fh is not src:
            fh.detach()         # our wrapper around the caller's binary file: leave it open
    return engine.result()


def render_text(result: TextSortResult) -> str:
    """The tool's output file for a :func:`sort_text` result (as ``render_page_owner_sort``)."""
    cull, filters = result.cull, set(result.filters)
    out = []
    put = out.append
    if not cull:
        for times, pages, _, _, _, alloc, _, _, text in result.rows:
            put(f"{times} times, {pages} pages, allocated by {allocator_names(alloc)} :\n{text}\n")
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
            s += f", allocated by {allocator_names(alloc)} "
        if show_st:
            s += ":\n" + st
        put(s + "\n")
    return "".join(out)
