"""The page allocator's tracepoints and the ftrace ring buffer they write to
(include/trace/events/kmem.h, kernel/trace/ring_buffer.c).

Why this shape
--------------
The tracepoints sit on the allocator's hot path, so emitting one must cost
little: the allocator tests ``mm.trace`` (``None`` unless tracing was set up,
so with tracing off the cost is that one attribute test) and calls
:meth:`Tracer.event`, which appends eight integers to a flat ``array('q')``.
The ring buffer's bookkeeping is done later, in bulk, by :meth:`Tracer.flush`
with numpy: the events are split per CPU and packed into buffer pages exactly
as ``__rb_reserve_next`` packs them, page by page (a ``searchsorted`` per
page, never a Python loop per event).

The events (6.12 fields; ``sizeof(struct trace_event_raw_<event>)`` on x86_64 is
``struct trace_entry`` (8 bytes) + the fields, padded to 8):

=========================  ========================================  ======  ==========
event                      fields                                    struct  ring event
=========================  ========================================  ======  ==========
mm_page_alloc              pfn, order, gfp_flags, migratetype        40      44
mm_page_free               pfn, order                                24      28
mm_page_free_batched       pfn                                       16      20
mm_page_alloc_zone_locked  pfn, order, migratetype, percpu_refill    32      36
mm_page_pcpu_drain         pfn, order, migratetype                   24      28
mm_page_alloc_extfrag      pfn, alloc/fallback order and type,       40      44
                           change_ownership
=========================  ========================================  ======  ==========

The ring buffer (kernel/trace/ring_buffer.c):

* each CPU has ``nr_pages = DIV_ROUND_UP(buffer_size_kb * 1024, BUF_PAGE_SIZE)``
  pages (at least 2) in its ring plus one reader page; a page holds
  ``BUF_PAGE_SIZE`` = 4096 - 16 (``struct buffer_data_page`` header) bytes;
* an event takes ``rb_calculate_event_length(struct size)``: + 4 bytes of
  ``struct ring_buffer_event`` header, 4-aligned (x86_64 has no forced 8-byte
  alignment and every struct here is below ``RB_MAX_SMALL_DATA``, 112 bytes);
  an event more than 2^27 ns after the previous one on its CPU needs an 8-byte
  ``TIME_EXTEND`` first, unless it opens a page (``__rb_reserve_next``: the page
  carries its own time stamp);
* an event that does not fit closes the page (``rb_reset_tail`` pads it) and
  moves to the next page (``rb_move_tail``).  When that page is the head --
  every ring page holds unread data -- overwrite mode drops the head page,
  counting its events as ``overrun`` (``rb_handle_head_page``); non-overwrite
  mode drops the new event (``dropped_events``) and every later one until the
  reader frees a page.  Events are lost in whole pages in overwrite mode;
* the reader (``trace_pipe``, :meth:`Tracer.consume`) reads its reader page,
  then swaps it for the head page (``rb_get_reader_page``) -- even the page
  being written, which the writer then keeps filling.  At each swap it learns
  ``overrun - last_overrun`` and prints ``CPU:%d [LOST %lu EVENTS]`` before the
  next event (``print_trace_line``).  Readers merge the CPUs by time stamp.

The model knows which task runs on which CPU only by rule: the simulator has no
scheduler, so a task runs on CPU ``pid % nr_cpus`` (boot's swapper, pid 0, on
CPU 0).  This module imports the standard library and numpy only.
"""
from __future__ import annotations

from array import array
from collections import deque

import numpy as np

from ..errors import PextlabError

__all__ = ["EVENTS", "EV_ALLOC", "EV_FREE", "EV_FREE_BATCHED", "EV_ZONE_LOCKED",
           "EV_PCPU_DRAIN", "EV_EXTFRAG", "ENTRY_SIZE", "RB_EVENT_SIZE", "BUF_PAGE_SIZE",
           "BUF_PAGE_HDR_SIZE", "RB_LEN_TIME_EXTEND", "TS_DELTA_LIMIT", "TRACE_BUF_SIZE_DEFAULT",
           "F_EV", "F_TS", "F_PID", "F_PFN", "F_ORDER", "F_MT", "F_GFP", "F_X", "NR_FIELDS",
           "LOSS_OVERRUN", "LOSS_DROPPED", "Tracer", "CpuBuffer", "nr_buffer_pages",
           "parse_event_names", "pack_extfrag", "unpack_extfrag"]

EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched", "mm_page_alloc_zone_locked",
          "mm_page_pcpu_drain", "mm_page_alloc_extfrag")
EV_ALLOC, EV_FREE, EV_FREE_BATCHED, EV_ZONE_LOCKED, EV_PCPU_DRAIN, EV_EXTFRAG = range(6)
#: sizeof(struct trace_event_raw_<event>) on x86_64 (8-byte struct trace_entry + fields)
ENTRY_SIZE = (40, 24, 16, 32, 24, 40)
RB_EVNT_HDR_SIZE = 4           # offsetof(struct ring_buffer_event, array)
RB_ALIGNMENT = 4
#: rb_calculate_event_length: header + struct, 4-aligned
RB_EVENT_SIZE = tuple((s + RB_EVNT_HDR_SIZE + RB_ALIGNMENT - 1) // RB_ALIGNMENT * RB_ALIGNMENT
                      for s in ENTRY_SIZE)
BUF_PAGE_HDR_SIZE = 16         # offsetof(struct buffer_data_page, data): u64 time_stamp + local_t commit
BUF_PAGE_SIZE = 4096 - BUF_PAGE_HDR_SIZE
RB_LEN_TIME_EXTEND = 8
TS_DELTA_LIMIT = 1 << 27       # TS_SHIFT: a delta that needs more than 27 bits
TRACE_BUF_SIZE_DEFAULT = 1441792   # kernel/trace/trace.c TRACE_BUF_SIZE_DEFAULT (1.4 MB per CPU)

# one pending event: 8 int64 fields
F_EV, F_TS, F_PID, F_PFN, F_ORDER, F_MT, F_GFP, F_X = range(8)
NR_FIELDS = 8
LOSS_OVERRUN, LOSS_DROPPED = 0, 1
_SIZES = np.array(RB_EVENT_SIZE, dtype=np.int64)


def pack_extfrag(fallback_order: int, fallback_mt: int, change_ownership: int) -> int:
    """The extra fields of mm_page_alloc_extfrag in one integer (``F_X``)."""
    return fallback_order | (fallback_mt << 8) | (change_ownership << 16)


def unpack_extfrag(x):
    """(fallback_order, fallback_migratetype, change_ownership) from ``F_X`` (scalars or arrays)."""
    return x & 0xFF, (x >> 8) & 0xFF, (x >> 16) & 1


def nr_buffer_pages(size_bytes: int) -> int:
    """ring_buffer_resize / __ring_buffer_alloc: pages of a per-CPU ring for ``size`` bytes."""
    return max(2, -(-int(size_bytes) // BUF_PAGE_SIZE))


def parse_event_names(spec) -> tuple[int, ...]:
    """``"kmem:mm_page_alloc,kmem:mm_page_free"``, ``"kmem:*"``, ``"kmem"`` or a list of
    names -> event ids (set_event / trace_event= syntax).  Unknown names raise."""
    words = spec.split(",") if isinstance(spec, str) else list(spec)
    ids: list[int] = []
    for w in words:
        w = str(w).strip()
        if not w:
            continue
        system, sep, name = w.rpartition(":")
        if not sep:
            system, name = ("kmem", "*") if w == "kmem" else ("", w)
        if system not in ("", "kmem", "*"):
            raise PextlabError(f"trace event {w!r}: only kmem events are modelled "
                               f"({', '.join(EVENTS)})")
        if name in ("*", ""):
            ids.extend(range(len(EVENTS)))
        elif name in EVENTS:
            ids.append(EVENTS.index(name))
        else:
            raise PextlabError(f"unknown trace event {w!r}; known: {', '.join(EVENTS)}")
    return tuple(sorted(set(ids)))


class CpuBuffer:
    """One CPU's ring (``struct ring_buffer_per_cpu``).

    The events written since the oldest unread one live in ``store`` (rows of
    the pending layout); a page is ``[lo, hi, bytes, closed]``, positions into
    ``store``.  ``ring`` holds the ring pages with data, head first, the tail
    (the page being written) last; ``rpage``/``rpos`` the reader page and how
    far it was read.  ``tail`` is the page the writer writes (a ring page, or
    the reader page after the reader took it).
    """

    def __init__(self, cpu: int, nr_pages: int):
        self.cpu = cpu
        self.nr_pages = nr_pages
        self.store = np.zeros((1024, NR_FIELDS), dtype=np.int64)
        self.n = 0
        self.ring: deque = deque()
        self.tail: list | None = None
        self.rpage: list | None = None
        self.rpos = 0
        self.last_ts = -1
        self.entries = 0          # events written
        self.overrun = 0          # events overwritten (overwrite mode)
        self.last_overrun = 0     # overrun at the reader's last page swap
        self.dropped = 0          # events dropped (non-overwrite mode)
        self.read = 0             # events consumed by readers

    # --- storage ---------------------------------------------------------------------------
    def _pages(self):
        if self.rpage is not None:
            yield self.rpage
        yield from self.ring

    def _append(self, rows: np.ndarray) -> int:
        """Store ``rows``; returns the position of the first.  Forgets what no page holds."""
        live = self.rpos if self.rpage is not None else (self.ring[0][0] if self.ring else self.n)
        if live and live >= self.n // 2:
            keep = self.n - live
            self.store[:keep] = self.store[live:self.n]
            for p in self._pages():
                p[0] -= live
                p[1] -= live
            self.rpos -= live if self.rpage is not None else 0
            self.n = keep
        need = self.n + len(rows)
        if need > len(self.store):
            grown = np.zeros((max(need, 2 * len(self.store)), NR_FIELDS), dtype=np.int64)
            grown[:self.n] = self.store[:self.n]
            self.store = grown
        p0 = self.n
        self.store[p0:need] = rows
        self.n = need
        return p0

    def unread(self) -> int:
        """Events in the buffer the reader has not consumed."""
        n = (self.rpage[1] - self.rpos) if self.rpage is not None else 0
        return n + sum(p[1] - p[0] for p in self.ring)

    # --- the writer ------------------------------------------------------------------------
    def write(self, rows: np.ndarray, overwrite: bool, losses: array) -> None:
        """Write ``rows`` (time-ordered, this CPU's) as __rb_reserve_next / rb_move_tail do."""
        k = len(rows)
        if not k:
            return
        ts = rows[:, F_TS]
        prev = np.empty(k, dtype=np.int64)
        prev[0] = self.last_ts if self.last_ts >= 0 else ts[0]
        prev[1:] = ts[:-1]
        ext = (ts - prev) >= TS_DELTA_LIMIT
        cost = _SIZES[rows[:, F_EV]] + RB_LEN_TIME_EXTEND * ext
        csum = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(cost, out=csum[1:])
        self.last_ts = int(ts[-1])
        p0 = self._append(rows)
        ring = self.ring
        i = 0
        while i < k:
            tail = self.tail
            if tail is not None and not tail[3]:
                used = tail[2]
                room = BUF_PAGE_SIZE - used
                first_free = RB_LEN_TIME_EXTEND * int(ext[i]) if used == 0 else 0
                j = int(np.searchsorted(csum, csum[i] + room + first_free, side="right")) - 1
                if j > i:
                    tail[1] = p0 + j
                    tail[2] = used + int(csum[j] - csum[i]) - first_free
                    self.entries += j - i
                    i = j
                    if i == k:
                        break
                tail[3] = True            # rb_reset_tail: the rest of the page is padding
            if len(ring) >= self.nr_pages:
                if not overwrite:
                    # rb_move_tail: the next page is the head; drop (dropped_events)
                    self.dropped += k - i
                    losses.extend((self.cpu, LOSS_DROPPED, int(ts[i]), int(ts[-1]), k - i, 0))
                    break
                self._overrun_head(losses)   # rb_handle_head_page: the head page is overwritten
            page = [p0 + i, p0 + i, 0, False]
            ring.append(page)
            self.tail = page

    def resize(self, nr_pages: int, losses: array) -> None:
        """ring_buffer_resize: fewer pages drop the oldest ring pages (counted as overrun)."""
        while len(self.ring) > nr_pages:
            if self._overrun_head(losses) is self.tail:
                self.tail = None
        self.nr_pages = nr_pages

    def _overrun_head(self, losses: array) -> list:
        """Take the oldest ring page away: its unread events count as overrun (one loss
        record of one page).  Returns the page."""
        head = self.ring.popleft()
        lost = head[1] - head[0]
        self.overrun += lost
        if lost:
            s = self.store
            losses.extend((self.cpu, LOSS_OVERRUN, int(s[head[0], F_TS]),
                           int(s[head[1] - 1, F_TS]), lost, 1))
        return head

    # --- the reader ------------------------------------------------------------------------
    def peek_ts(self, limit: int) -> np.ndarray:
        """Time stamps of the next ``limit`` unread events, oldest first."""
        out = []
        got = 0
        s = self.store
        if self.rpage is not None and self.rpos < self.rpage[1]:
            a = s[self.rpos:min(self.rpage[1], self.rpos + limit), F_TS]
            out.append(a)
            got += len(a)
        for p in self.ring:
            if got >= limit:
                break
            a = s[p[0]:min(p[1], p[0] + limit - got), F_TS]
            out.append(a)
            got += len(a)
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def consume(self, k: int):
        """Read ``k`` events (rb_get_reader_page + rb_advance_reader).  Returns (rows,
        markers): markers are (position in rows, lost events) for each page swap that
        found overruns since the previous one."""
        parts, markers, got = [], [], 0
        s = self.store
        while got < k:
            rp = self.rpage
            if rp is None or self.rpos >= rp[1]:
                if not self.ring:
                    break                  # nothing more written yet
                head = self.ring.popleft()   # swap the reader page with the head page
                self.rpage, self.rpos = head, head[0]
                lost = self.overrun - self.last_overrun
                self.last_overrun = self.overrun
                if lost:
                    markers.append((got, lost))
                rp = head
                if rp[0] == rp[1]:
                    continue
            take = min(k - got, rp[1] - self.rpos)
            parts.append(s[self.rpos:self.rpos + take].copy())
            self.rpos += take
            got += take
        self.read += got
        rows = np.concatenate(parts) if parts else np.zeros((0, NR_FIELDS), np.int64)
        return rows, markers

    def contents(self) -> np.ndarray:
        """Every unread event, oldest first (what ``cat trace`` shows, without consuming)."""
        s = self.store
        parts = []
        if self.rpage is not None and self.rpos < self.rpage[1]:
            parts.append(s[self.rpos:self.rpage[1]])
        parts.extend(s[p[0]:p[1]] for p in self.ring)
        return np.concatenate(parts) if parts else np.zeros((0, NR_FIELDS), np.int64)


class Tracer:
    """The global trace instance: which events are on, ``tracing_on``, the buffers.

    Emission (:meth:`event`) appends to ``pending``; :meth:`flush` writes the
    pending events into the per-CPU rings.  Everything a reader received stays in
    ``received`` (rows with the CPU appended) and ``markers`` ([LOST] lines).
    """

    def __init__(self, nr_cpus: int, size_bytes: int = TRACE_BUF_SIZE_DEFAULT,
                 overwrite: bool = True):
        if nr_cpus < 1:
            raise PextlabError("tracing needs at least one CPU")
        self.nr_cpus = nr_cpus
        self.size_bytes = int(size_bytes)
        self.nr_pages = nr_buffer_pages(size_bytes)
        self.overwrite = bool(overwrite)
        self.tracing_on = True
        self.enabled = [False] * len(EVENTS)
        self.live = [False] * len(EVENTS)      # enabled and tracing_on: what event() tests
        self.pending = array("q")
        self.comms: dict[int, str] = {}         # saved_cmdlines: pid -> comm
        self.cpus = [CpuBuffer(c, self.nr_pages) for c in range(nr_cpus)]
        self.losses = array("q")                # (cpu, kind, first_ts, last_ts, events, pages)
        self.received: list[np.ndarray] = []    # consumed rows + cpu column, in read order
        self.nr_received = 0
        self.markers = array("q")               # (position in received, cpu, lost events)
        self.buffer_pages: list[list[int]] = [[] for _ in range(nr_cpus)]   # pfns per CPU
        self.flushed_ns = 0

    # --- control ---------------------------------------------------------------------------
    def set_events(self, ids, enable: bool = True) -> None:
        for i in ids:
            self.enabled[i] = bool(enable)
        self._relive()

    def set_tracing_on(self, on: bool) -> None:
        self.tracing_on = bool(on)
        self._relive()

    def _relive(self) -> None:
        self.live = [e and self.tracing_on for e in self.enabled]

    def cpu_of(self, pid):
        """The CPU a task runs on (no scheduler: ``pid % nr_cpus``)."""
        return pid % self.nr_cpus

    # --- the hot path ----------------------------------------------------------------------
    def event(self, mm, ev: int, pfn: int, order: int, mt: int, gfp: int, x: int) -> None:
        """A tracepoint fires (trace_<event>): record it as the current task.  The caller
        tests ``live[ev]`` first (the tracepoint's static key), so a disabled event
        costs no call."""
        pid = mm.pid
        self.pending.extend((ev, mm.clock_ns, pid, pfn, order, mt, gfp, x))
        self.comms[pid] = mm.comm

    # --- bookkeeping -----------------------------------------------------------------------
    def flush(self, now: int | None = None) -> None:
        """Write every pending event into its CPU's ring."""
        if self.pending:
            rows = np.frombuffer(self.pending, dtype=np.int64).reshape(-1, NR_FIELDS).copy()
            del self.pending[:]
            if self.nr_cpus == 1:
                self.cpus[0].write(rows, self.overwrite, self.losses)
            else:
                cpu = rows[:, F_PID] % self.nr_cpus
                for c in range(self.nr_cpus):
                    sel = rows[cpu == c]
                    if len(sel):
                        self.cpus[c].write(sel, self.overwrite, self.losses)
        if now is not None:
            self.flushed_ns = max(self.flushed_ns, int(now))

    def resize(self, size_bytes: int) -> None:
        self.flush()
        self.size_bytes = int(size_bytes)
        self.nr_pages = nr_buffer_pages(size_bytes)
        for cb in self.cpus:
            cb.resize(self.nr_pages, self.losses)

    def consume(self, max_events: int) -> int:
        """trace_pipe: read up to ``max_events`` events, oldest first across CPUs
        (trace_find_next_entry_inc), into ``received``.  Returns how many."""
        if max_events <= 0:
            return 0
        if self.nr_cpus == 1:
            ks = [max_events]
        else:
            peeks = [cb.peek_ts(max_events) for cb in self.cpus]
            ts = np.concatenate(peeks)
            cpu = np.concatenate([np.full(len(p), c, np.int64) for c, p in enumerate(peeks)])
            pos = np.concatenate([np.arange(len(p)) for p in peeks])
            order = np.lexsort((pos, cpu, ts))[:max_events]
            ks = np.bincount(cpu[order], minlength=self.nr_cpus).tolist()
        parts, marks = [], []
        for c, k in enumerate(ks):
            if not k:
                continue
            rows, markers = self.cpus[c].consume(k)
            if len(rows):
                parts.append(np.column_stack([rows, np.full(len(rows), c, np.int64)]))
                marks.append([(m, c, lost, len(parts) - 1) for m, lost in markers])
        if not parts:
            return 0
        allrows = np.concatenate(parts)
        offs = np.cumsum([0] + [len(p) for p in parts])
        order = np.lexsort((allrows[:, NR_FIELDS], allrows[:, F_TS]))
        allrows = allrows[order]
        if any(marks):
            where = np.empty(len(order), np.int64)
            where[order] = np.arange(len(order))
            for ms in marks:
                for m, c, lost, pi in ms:
                    self.markers.extend((self.nr_received + int(where[offs[pi] + m]), c, lost))
        self.received.append(allrows)
        self.nr_received += len(allrows)
        return len(allrows)

    def unread(self) -> int:
        return sum(cb.unread() for cb in self.cpus)

    def contents(self) -> np.ndarray:
        """The unread events of every CPU, merged by time (``cat trace``), rows + cpu."""
        parts = [np.column_stack([cb.contents(), np.full(len(cb.contents()), c, np.int64)])
                 for c, cb in enumerate(self.cpus)]
        allrows = np.concatenate(parts) if parts else np.zeros((0, NR_FIELDS + 1), np.int64)
        return allrows[np.lexsort((allrows[:, NR_FIELDS], allrows[:, F_TS]))]

    def received_rows(self) -> np.ndarray:
        """Everything readers consumed, rows + cpu column, in read order."""
        if not self.received:
            return np.zeros((0, NR_FIELDS + 1), np.int64)
        return np.concatenate(self.received)

    def stats(self) -> list[dict]:
        """per_cpu/cpuN/stats: entries, overrun, dropped events, read events."""
        return [{"cpu": cb.cpu, "entries": cb.unread(), "written": cb.entries,
                 "overrun": cb.overrun, "dropped_events": cb.dropped, "read_events": cb.read,
                 "nr_pages": cb.nr_pages} for cb in self.cpus]
