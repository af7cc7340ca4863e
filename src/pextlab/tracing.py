"""Tracing page allocations versus page_owner, measured.

The argument of page_owner's original commit: tracing allocations is a poor
substitute, because the trace buffer must be big enough not to overwrite itself
before a reader starts, a reader must keep draining it, and that reader changes
the system it watches -- while page_owner keeps the answer in memory.  The
simulator sees every event, so it can say exactly what a trace loses.

>>> import pextlab
>>> W = pextlab.workloads
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on trace_event=kmem:mm_page_alloc,"
...                  "kmem:mm_page_free trace_buf_size=1M")
>>> t = m.tracing(reader=pextlab.tracing.reader(rate="200k/s", start="0s"))
>>> _ = m.run(W.anon("app", rate=2000, lifetime="1s"), duration="3s")
>>> t.read(10**9) > 0         # what came after the reader's last wake-up
True
>>> cmp = pextlab.tracing.compare_with_page_owner(t, m.df_page_owner())
>>> cmp.counts["wrong"], cmp.counts["unknown"]
(0, 0)
>>> "trace-cmd" in set(m.df_page_owner()["comm"])
True

* :func:`reader` -- a trace reader's configuration (rate, start, comm, pid);
* ``Machine.tracing(buffer_kb=, overwrite=, reader=, events=)`` -> :class:`Tracing`:
  ``df_trace()`` (what the reader received, as trace_pipe shows it),
  ``df_lost()`` (what the ring buffer lost, per CPU and when), ``df_reader()``
  (the reader's progress and footprint), ``text()`` (the trace_pipe text);
* :func:`owners_from_trace` -- who owns each block according to a trace (the
  simulator's, or a real one read with :func:`pextlab.read_trace`);
* :func:`compare_with_page_owner` -- per block: the trace's owner right, wrong, or
  unknown, against page_owner's record.

The reader is a user-space task (``trace-cmd record`` or ``cat trace_pipe >
file``): while ``m.run`` advances simulated time it wakes every ``period``,
reads up to ``rate * period`` events (time it does not use is not saved up) and
writes their text to a file.  Its cost is real memory, allocated through the
normal path under its comm and pid, so page_owner's dump shows it and the trace
records it: its own buffers (``buffer_kb``, anonymous memory) when it starts, and
one page-cache page per 4 KiB of text written (no writeback or reclaim of that
file is modelled: the pages stay).

What a trace cannot know: the allocation stack (page_owner's ``stack``; these
events carry none), the tgid, pages allocated before tracing started (boot
before ``trace_init``), and pages that moved: compaction and offlining migrate a
block to a new pfn through ``compaction_alloc`` / the migration target allocator,
which fire no mm_page_alloc, while page_owner copies the owner to the new page.
"""
from __future__ import annotations

import math
import re
from array import array
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import PextlabError
from .frames.trace import lost_frame, trace_frame
from .kernel.page_alloc import alloc_pages
from .kernel.trace import trace_pipe_read, tracing_resize, tracing_setup
from .procfs.trace import format_trace, trace_text_bytes
from .schema import conform, empty
from .workloads import load_catalogue
from .workloads.spec import parse_duration

__all__ = ["ReaderConfig", "reader", "Tracing", "setup_tracing", "owners_from_trace",
           "compare_with_page_owner", "OwnerComparison", "DEFAULT_PERIOD_NS"]

DEFAULT_PERIOD_NS = 100_000_000       # a reader wakes every 100 ms (and the buffer is flushed)
FILE_PAGE = 4096
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*(?:/\s*s|/sec|events/s)?\s*$")


def _parse_rate(rate) -> float:
    if isinstance(rate, bool):
        raise PextlabError(f"not a rate: {rate!r}")
    if isinstance(rate, (int, float)):
        v = float(rate)
    else:
        m = _RATE.match(str(rate))
        if not m:
            raise PextlabError(f"not a rate: {rate!r} (use e.g. '200k/s', '1M/s' or events per "
                               f"second)")
        v = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if not math.isfinite(v) or v <= 0:
        raise PextlabError(f"a reader's rate must be > 0 events/s, got {rate!r}")
    return v


@dataclass(frozen=True)
class ReaderConfig:
    """A trace reader: a task that drains trace_pipe (see :func:`reader`)."""
    rate: float                 # events per second it can read and write out
    start_ns: int               # when it starts (simulated time since boot)
    comm: str = "trace-cmd"
    pid: int = 900
    period_ns: int = DEFAULT_PERIOD_NS
    buffer_kb: int = 128        # its own buffers (anonymous memory)


def reader(rate="200k/s", start="5s", comm: str = "trace-cmd", pid: int = 900,
           period="100ms", buffer_kb: int = 128) -> ReaderConfig:
    """A trace reader's configuration.

    Parameters
    ----------
    rate : str or float
        Events per second it reads: ``"200k/s"``, ``"1M/s"``, ``50000``.
    start : str or float
        When it starts, in simulated time since boot (``"5s"``, ``0``).
    comm, pid : str, int
        The task page_owner and the trace see (pid 900: below the workloads' pids).
    period : str or float
        How often it wakes up to read.
    buffer_kb : int
        Its own buffers, allocated when it starts.

    >>> reader(rate="200k/s", start="5s").rate
    200000.0
    """
    if not isinstance(comm, str) or not comm or len(comm) > 15:
        raise PextlabError(f"a reader's comm must be 1..15 characters, got {comm!r}")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid <= 4194304:
        raise PextlabError(f"a reader's pid must be in 1..4194304, got {pid!r}")
    if not isinstance(buffer_kb, int) or isinstance(buffer_kb, bool) or buffer_kb < 0:
        raise PextlabError(f"buffer_kb must be an integer >= 0, got {buffer_kb!r}")
    per = parse_duration(period)
    if per <= 0:
        raise PextlabError("a reader's period must be > 0")
    return ReaderConfig(_parse_rate(rate), parse_duration(start), comm, pid, per, buffer_kb)


class Tracing:
    """The trace of one machine and its reader (``Machine.tracing``)."""

    def __init__(self, machine, reader_cfg: ReaderConfig | None):
        self.machine = machine
        self.mm = machine.mm
        self.tracer = self.mm.trace
        self.reader = reader_cfg
        self.started = False
        self.last_ns = 0
        self.carry = 0.0
        self.bytes_written = 0
        self.buffer_pfns: list[int] = []
        self.file_pfns: list[int] = []
        self.failed_allocs = 0
        self.samples = array("q")
        self._handles: dict[str, tuple[int, int]] = {}

    def __repr__(self):
        r = self.reader
        who = f"reader {r.comm}/{r.pid} at {r.rate:g} events/s from {r.start_ns / 1e9:g}s" \
            if r else "no reader"
        return (f"<Tracing {self.tracer.nr_pages} pages/CPU x {self.tracer.nr_cpus} CPU(s), "
                f"{'overwrite' if self.tracer.overwrite else 'no overwrite'}, {who}>")

    # --- the reader task -------------------------------------------------------------------
    def _entry(self, kind: str) -> tuple[int, int]:
        """(gfp, stack handle) of the reader's allocations of a catalogue kind."""
        got = self._handles.get(kind)
        if got is None:
            e = load_catalogue().entries(kind)[0]
            po = self.mm.page_owner
            h = po.depot.stack_depot_save(e.frames) if po is not None else 0
            got = self._handles[kind] = (e.gfp_mask, h)
        return got

    def _alloc_as_reader(self, kind: str, n: int, into: list, now: int) -> None:
        mm = self.mm
        r = self.reader
        gfp, handle = self._entry(kind)
        saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
        mm.clock_ns = max(mm.clock_ns, now)
        mm.set_task(r.comm, r.pid, r.pid, handle)
        try:
            for _ in range(n):
                pfn = alloc_pages(mm, gfp, 0, None)
                if pfn < 0:
                    self.failed_allocs += 1
                    break
                into.append(pfn)
        finally:
            mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = saved

    def step(self, now: int) -> None:
        """The per-step hook (``WorkloadSession.step_hooks``): write what is pending into
        the ring buffers; a started reader reads and writes out its share."""
        tr = self.tracer
        tr.flush(now)
        r = self.reader
        if r is None or now < r.start_ns:
            return
        if not self.started:
            self.started = True
            self.last_ns = r.start_ns
            self._alloc_as_reader("anon", (r.buffer_kb + 3) // 4, self.buffer_pfns, now)
        self.carry += r.rate * (now - self.last_ns) / 1e9
        self.last_ns = now
        budget = int(self.carry)
        self.carry -= budget                # a reader idle for lack of events saves nothing
        nmark = len(tr.markers) // 3
        got = tr.consume(budget)
        if got:
            marks = np.frombuffer(tr.markers, np.int64).reshape(-1, 3)[nmark:].tolist()
            self.bytes_written += trace_text_bytes(tr.received[-1], marks, tr.comms,
                                                   self.mm.profile)
            need = -(-self.bytes_written // FILE_PAGE) - len(self.file_pfns)
            if need > 0:
                self._alloc_as_reader("page_cache", need, self.file_pfns, now)
        self.samples.extend((now, tr.nr_received, self.bytes_written, len(self.file_pfns),
                             len(self.buffer_pfns), tr.unread()))

    def read(self, max_events: int) -> int:
        """``read(trace_pipe)`` now, as whoever runs (not the reader task): up to
        ``max_events`` events into :meth:`df_trace`.  Returns how many were read."""
        return trace_pipe_read(self.mm, max_events)

    # --- frames ----------------------------------------------------------------------------
    def _markers(self) -> np.ndarray:
        return np.frombuffer(self.tracer.markers, np.int64).reshape(-1, 3)

    def df_trace(self) -> pd.DataFrame:
        """The events read from trace_pipe so far (by the reader, or :meth:`read`), as
        trace_pipe shows them, with a ``LOST`` row where it printed ``[LOST n EVENTS]``
        (schema ``"trace"``, the frame :func:`pextlab.read_trace` gives for real text)."""
        tr = self.tracer
        return trace_frame(tr.received_rows(), self._markers(), tr.comms, self.mm.profile)

    def df_buffer(self) -> pd.DataFrame:
        """What ``cat trace`` shows now: the unread events in the ring buffers as of the
        last flush (schema ``"trace"``; nothing is consumed)."""
        tr = self.tracer
        return trace_frame(tr.contents(), np.zeros((0, 3), np.int64), tr.comms, self.mm.profile)

    def df_lost(self) -> pd.DataFrame:
        """Events the ring buffers lost: per CPU and incident, overwritten pages
        (``overrun``) or refused events (``dropped``), with the time span of the events
        lost (schema ``"trace_lost"``)."""
        return lost_frame(np.frombuffer(self.tracer.losses, np.int64).reshape(-1, 6))

    def df_reader(self) -> pd.DataFrame:
        """The reader at each wake-up: events read, bytes written, its file's page-cache
        pages, its own buffer pages, events waiting (schema ``"trace_reader"``)."""
        a = np.frombuffer(self.samples, np.int64).reshape(-1, 6)
        if not len(a):
            return empty("trace_reader")
        cols = ["time_ns", "events_read", "bytes_written", "file_pages", "buffer_pages", "unread"]
        return conform(pd.DataFrame(a, columns=cols), "trace_reader")

    def df_stats(self) -> pd.DataFrame:
        """per_cpu/cpuN/stats: entries, written, overrun, dropped events, read events."""
        return pd.DataFrame(self.tracer.stats())

    def text(self) -> str:
        """The trace_pipe text the reader received (what its file holds)."""
        tr = self.tracer
        return format_trace(tr.received_rows(), self._markers().tolist(), tr.comms,
                            self.mm.profile)

    @property
    def footprint_pages(self) -> int:
        """Pages the tracing costs now: ring buffers (all CPUs) + the reader's buffers and
        file."""
        return (sum(len(p) for p in self.tracer.buffer_pages) + len(self.buffer_pfns)
                + len(self.file_pfns))


def setup_tracing(machine, buffer_kb: int | None = None, overwrite: bool = True,
                  reader: ReaderConfig | None = None, events=None) -> Tracing:
    """``Machine.tracing``: set the trace up (or change it) and attach a reader.

    ``events`` (``"kmem:mm_page_alloc,kmem:mm_page_free"`` or names) replaces the
    enabled set; by default the events ``trace_event=`` enabled stay, and a machine
    booted without it gets mm_page_alloc and mm_page_free.  ``buffer_kb`` resizes
    every CPU's ring now (``buffer_size_kb``; the pages come from the allocator, as
    the reader task when there is one).  A previous ``Tracing``'s reader stops.
    """
    mm = machine.mm
    if reader is not None and not isinstance(reader, ReaderConfig):
        raise PextlabError(f"reader must come from pextlab.tracing.reader(...), got {reader!r}")
    if events is None and mm.trace is None:
        events = "kmem:mm_page_alloc,kmem:mm_page_free"
    tr = tracing_setup(mm, events)
    tr.overwrite = bool(overwrite)
    if buffer_kb is not None:
        saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
        if reader is not None:
            mm.set_task(reader.comm, reader.pid, reader.pid)
        try:
            tracing_resize(mm, buffer_kb)
        finally:
            mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = saved
    tr.flush(mm.clock_ns)
    t = Tracing(machine, reader)
    hooks = machine.workloads.step_hooks
    hooks[:] = [h for h in hooks if not isinstance(getattr(h[1], "__self__", None), Tracing)]
    hooks.append((reader.period_ns if reader is not None else DEFAULT_PERIOD_NS, t.step))
    return t


# --- reconstruction and comparison ---------------------------------------------------------------

_FREES = ("mm_page_free", "mm_page_free_batched")


def _page_events(df: pd.DataFrame):
    """The alloc/free events of a trace frame in time order, and for every page any of
    them touched: its last event.  Returns (events frame, pages, last event index)."""
    if not isinstance(df, pd.DataFrame) or "event" not in df.columns:
        raise PextlabError("expected a trace frame (Tracing.df_trace() or pextlab.read_trace)")
    missing = [c for c in ("time_ns", "pid", "pfn", "order", "gfp_mask") if c not in df.columns]
    if missing:
        raise PextlabError(f"the trace frame lacks columns {missing}")
    ev = df["event"].astype(str)
    keep = ((ev == "mm_page_alloc") & (df["pfn"] >= 0)) | (ev.isin(_FREES) & (df["pfn"] >= 0))
    e = df.loc[keep].copy()
    e["is_alloc"] = (ev[keep] == "mm_page_alloc").to_numpy()
    e = e.iloc[np.argsort(e["time_ns"].to_numpy(), kind="stable")].reset_index(drop=True)
    n = np.left_shift(1, e["order"].to_numpy().astype(np.int64).clip(0, 40))
    idx = np.repeat(np.arange(len(e)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    pages = np.repeat(e["pfn"].to_numpy(), n) + (np.arange(len(idx)) - start)
    o = np.lexsort((idx, pages))
    pages, idx = pages[o], idx[o]
    last = np.ones(len(pages), bool)
    last[:-1] = pages[1:] != pages[:-1]
    return e, pages[last], idx[last]


def owners_from_trace(df_trace: pd.DataFrame) -> pd.DataFrame:
    """Who owns each block according to a trace: replay mm_page_alloc / mm_page_free /
    mm_page_free_batched in time order; a page belongs to the allocation that touched it
    last, if that was an allocation.  One row per such allocation (schema
    ``"trace_owners"``; ``nr_pages`` counts its pages still owned), by pfn."""
    e, _, last = _page_events(df_trace)
    own = e["is_alloc"].to_numpy()[last]
    blocks, counts = np.unique(last[own], return_counts=True)
    if not len(blocks):
        return empty("trace_owners")
    b = e.iloc[blocks]
    out = pd.DataFrame({
        "pfn": b["pfn"].to_numpy(), "order": b["order"].to_numpy(), "nr_pages": counts,
        "pid": b["pid"].to_numpy(), "comm": b["comm"].astype(object).to_numpy(),
        "gfp_mask": b["gfp_mask"].to_numpy(), "gfp": b["gfp"].astype(object).to_numpy(),
        "migratetype": b["migratetype"].to_numpy(), "ts_ns": b["time_ns"].to_numpy()})
    out = out.sort_values("pfn", kind="stable").reset_index(drop=True)
    return conform(out, "trace_owners")


class OwnerComparison:
    """The result of :func:`compare_with_page_owner`.

    blocks : DataFrame   -- one row per block (schema ``"trace_verdicts"``)
    summary : DataFrame  -- verdict, blocks, pages, fraction of pages
    counts : dict        -- verdict -> pages
    """

    VERDICTS = ("right", "wrong", "unknown", "early")

    def __init__(self, blocks: pd.DataFrame):
        self.blocks = blocks
        g = blocks.groupby("verdict", observed=False)["nr_pages"]
        s = pd.DataFrame({"blocks": g.size(), "pages": g.sum()}).reindex(self.VERDICTS,
                                                                          fill_value=0)
        s.index.name = "verdict"
        total = s["pages"].sum()
        s["fraction"] = s["pages"] / total if total else 0.0
        self.summary = s.reset_index()
        self.counts = {v: int(p) for v, p in zip(self.summary["verdict"], self.summary["pages"])}

    def __repr__(self):
        parts = ", ".join(f"{v} {self.counts[v]}" for v in self.VERDICTS)
        return f"<OwnerComparison pages: {parts}>"


def _is_early(po: pd.DataFrame) -> np.ndarray:
    """page_owner's own early-boot records (init_pages_in_zone): order 0, mask 0 and the
    dummy ``register_early_stack`` stack."""
    early = (po["gfp_mask"].to_numpy() == 0) & (po["order"].to_numpy() == 0)
    if "stack" in po.columns and early.any():
        early &= po["stack"].astype(str).str.contains("register_early_stack").to_numpy()
    return early


def compare_with_page_owner(t_or_df, df_page_owner: pd.DataFrame,
                            ts_tolerance_ns: int = 0) -> OwnerComparison:
    """Per block, the trace's owner against page_owner's record.

    For each block of ``df_page_owner``, the trace's last alloc/free event on its head
    page decides: ``right`` -- an allocation at that pfn with the same order, pid and gfp
    mask, time stamped in the same microsecond (up to ``ts_tolerance_ns`` later, for a
    real machine, where the trace's clock reads after page_owner's); ``wrong`` -- a
    different allocation, or the trace last saw the page freed; ``unknown`` -- the trace
    has no event for the page; ``early`` -- page_owner's own early-boot record (it does
    not know that owner either).  Blocks the trace believes allocated that page_owner
    has no record for are ``wrong`` too.

    ``t_or_df``: a :class:`Tracing` (its ``df_trace()``) or a trace frame (a real one
    from :func:`pextlab.read_trace`).
    """
    df = t_or_df.df_trace() if isinstance(t_or_df, Tracing) else t_or_df
    if not isinstance(df_page_owner, pd.DataFrame) or "pfn" not in df_page_owner.columns:
        raise PextlabError("expected a page_owner frame (df_page_owner())")
    if not isinstance(ts_tolerance_ns, int) or ts_tolerance_ns < 0:
        raise PextlabError(f"ts_tolerance_ns must be an integer >= 0, got {ts_tolerance_ns!r}")
    e, pages, last = _page_events(df)
    po = df_page_owner
    pfn = po["pfn"].to_numpy()
    k = np.searchsorted(pages, pfn)
    k = np.minimum(k, max(len(pages) - 1, 0))
    seen = (pages[k] == pfn) if len(pages) else np.zeros(len(pfn), bool)
    ei = np.where(seen, last[k] if len(pages) else 0, 0)

    def col(name, fill):
        a = e[name].to_numpy() if len(e) else np.zeros(0, np.int64)
        return np.where(seen, a[ei] if len(a) else fill, fill)

    is_alloc = col("is_alloc", False).astype(bool)
    t_pfn, t_order, t_pid = col("pfn", -1), col("order", -1), col("pid", -1)
    t_gfp, t_ts = col("gfp_mask", -1), col("time_ns", -1)
    t_comm = np.where(seen & is_alloc, e["comm"].astype(object).to_numpy()[ei] if len(e) else None,
                      None)
    po_ts = po["ts_ns"].to_numpy()
    dt = t_ts - po_ts // 1000 * 1000
    verdict = np.full(len(po), "unknown", dtype=object)
    reason = np.full(len(po), "no event for this page in the trace", dtype=object)
    freed = seen & ~is_alloc
    verdict[freed], reason[freed] = "wrong", "the trace last saw it freed"
    a = seen & is_alloc
    checks = [
        (t_pfn != pfn, "inside a block the trace saw allocated at another pfn"),
        (t_order != po["order"].to_numpy(), "the order differs"),
        (t_pid != po["pid"].to_numpy(), "the pid differs"),
        (t_gfp != po["gfp_mask"].to_numpy(), "the gfp mask differs"),
        ((dt < 0) | (dt > ts_tolerance_ns), "another allocation (time stamps differ)"),
    ]
    undecided = a.copy()
    for bad, why in checks:
        hit = undecided & bad
        verdict[hit], reason[hit] = "wrong", why
        undecided &= ~bad
    verdict[undecided], reason[undecided] = "right", "the same allocation"
    early = _is_early(po)
    verdict[early] = "early"
    reason[early] = "page_owner's early-boot record (order 0, no gfp, no stack)"
    rows = pd.DataFrame({
        "pfn": pfn, "order": po["order"].to_numpy(), "nr_pages": po["nr_pages"].to_numpy(),
        "verdict": verdict, "reason": reason, "pid": po["pid"].to_numpy(),
        "comm": po["comm"].astype(object).to_numpy(), "ts_ns": po_ts,
        "trace_pid": np.where(a, t_pid, -1), "trace_comm": t_comm,
        "trace_ts_ns": np.where(a, t_ts, -1)})
    # blocks the trace believes allocated where page_owner has no block starting
    owners = owners_from_trace(df)
    extra = owners[~owners["pfn"].isin(pfn)]
    if len(extra):
        # a page_owner block covering the pfn (a tail page of it)?
        heads = np.sort(pfn)
        ends = po.set_index("pfn")["nr_pages"].reindex(heads).to_numpy() + heads
        j = np.searchsorted(heads, extra["pfn"].to_numpy(), side="right") - 1
        inside = (j >= 0) & (extra["pfn"].to_numpy() < ends[np.maximum(j, 0)]) if len(heads) \
            else np.zeros(len(extra), bool)
        rows = pd.concat([rows, pd.DataFrame({
            "pfn": extra["pfn"].to_numpy(), "order": extra["order"].to_numpy(),
            "nr_pages": extra["nr_pages"].to_numpy(), "verdict": "wrong",
            "reason": np.where(inside, "inside another page_owner block",
                               "free according to page_owner"),
            "pid": -1, "comm": None, "ts_ns": -1, "trace_pid": extra["pid"].to_numpy(),
            "trace_comm": extra["comm"].astype(object).to_numpy(),
            "trace_ts_ns": extra["ts_ns"].to_numpy()})], ignore_index=True)
    rows = rows.sort_values("pfn", kind="stable").reset_index(drop=True)
    return OwnerComparison(conform(rows, "trace_verdicts"))
