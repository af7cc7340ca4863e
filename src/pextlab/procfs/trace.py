"""ftrace text of the kmem page events, both ways (kernel/trace/trace_output.c,
include/trace/events/kmem.h).

A line of ``trace`` / ``trace_pipe`` (``print_trace_fmt`` with the default
options: context info and irq info on, tgid off)::

    {comm:>16}-{pid:<7} [{cpu:03d}] {flags} {secs:>5}.{usecs:06}: {event}: {TP_printk}

``trace_print_context`` prints ``%16s-%-7d [%03d] ``, ``trace_print_lat_fmt`` the
five irq/preempt flag characters, ``trace_print_time`` `` %5lu.%06lu``, then
``"%s: "`` with the event name and the event's TP_printk text (6.12):

* mm_page_alloc: ``page=%p pfn=0x%lx order=%d migratetype=%d gfp_flags=%s``
  (a failed allocation: page NULL, printed as 16 zeros, pfn=0x0; gfp_flags
  ``show_gfp_flags``: names joined by ``|``, ``none`` for 0);
* mm_page_free: ``page=%p pfn=0x%lx order=%d``; mm_page_free_batched: ``page=%p
  pfn=0x%lx order=0``;
* mm_page_alloc_zone_locked: ``page=%p pfn=0x%lx order=%u migratetype=%d
  percpu_refill=%d``; mm_page_pcpu_drain: ``page=%p pfn=0x%lx order=%d migratetype=%d``;
* mm_page_alloc_extfrag: ``page=%p pfn=0x%lx alloc_order=%d fallback_order=%d
  pageblock_order=%d alloc_migratetype=%d fallback_migratetype=%d fragmenting=%d
  change_ownership=%d``.

Lost events appear as ``CPU:%d [LOST %lu EVENTS]`` (or ``[LOST EVENTS]`` when the
count is unknown) before the next event of that CPU (``print_trace_line``).

The writer prints what the simulator knows: ``%p`` as the page's address in the
x86_64 vmemmap (what ``no_hash_pointers`` shows; a default kernel hashes it), the
flags as ``.....`` (process context, no irq/preempt state is modelled), pid 0 as
``<idle>`` (trace_find_cmdline).  The reader takes every variant seen in the
wild: hashed or raw pointers, decimal ``pfn=`` (kernels before v5.x printed
``pfn=%lu``), four flag characters or none, a ``(tgid)`` column, ``#`` header
lines, ``##### CPU N buffer started ####`` lines and other events' lines (skipped).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError, PextlabError
from ..kernel.gfp import format_gfp, parse_gfp
from ..kernel.profiles import get_profile
from ..kernel.ring_buffer import (EVENTS, EV_ALLOC, EV_EXTFRAG, EV_FREE, EV_FREE_BATCHED,
                                  EV_PCPU_DRAIN, EV_ZONE_LOCKED, F_EV, F_GFP, F_MT, F_ORDER,
                                  F_PFN, F_PID, F_TS, F_X, NR_FIELDS, unpack_extfrag)
from ..schema import conform, empty
from ._common import load_text
from .limits import NR_CPUS_LIMIT, PFN_LIMIT, PID_MAX_LIMIT, TS_NS_LIMIT, bounded_int

__all__ = ["read_trace", "format_trace", "trace_text_bytes", "trace_gfp_text", "VMEMMAP_START",
           "LOST_EVENT"]

VMEMMAP_START = 0xFFFFEA0000000000    # x86_64 vmemmap base (4-level paging, no KASLR)
STRUCT_PAGE_SIZE = 64
LOST_EVENT = "LOST"
FLAGS = "....."

_LINE = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s\[\]]{4,5})\s+)?(?P<secs>\d+)\.(?P<usecs>\d{6}):\s+"
    r"(?P<event>[A-Za-z_][\w]*):\s?(?P<rest>.*)$")
_LOST = re.compile(r"^CPU:(?P<cpu>\d+) \[LOST(?: (?P<n>\d+))? EVENTS\]\s*$")
_REQUIRED = {
    "mm_page_alloc": ("page", "pfn", "order", "migratetype", "gfp_flags"),
    "mm_page_free": ("page", "pfn", "order"),
    "mm_page_free_batched": ("page", "pfn"),
    "mm_page_alloc_zone_locked": ("page", "pfn", "order", "migratetype", "percpu_refill"),
    "mm_page_pcpu_drain": ("page", "pfn", "order", "migratetype"),
    "mm_page_alloc_extfrag": ("page", "pfn", "alloc_order", "fallback_order",
                              "alloc_migratetype", "fallback_migratetype", "change_ownership"),
}
_NULL_PAGES = {"0000000000000000", "(null)", "00000000", "0x0"}


def trace_gfp_text(mask: int, profile) -> str:
    """show_gfp_flags: the %pGg names, ``none`` for 0."""
    return format_gfp(int(mask), profile) if mask else "none"


def _page(pfn: int) -> str:
    return "0000000000000000" if pfn < 0 else f"{VMEMMAP_START + pfn * STRUCT_PAGE_SIZE:016x}"


def _fields(ev: int, pfn: int, order: int, mt: int, gfp: str, x: int, pb_order: int) -> str:
    head = f"page={_page(pfn)} pfn={max(pfn, 0):#x}"
    if ev == EV_ALLOC:
        return f"{head} order={order} migratetype={mt} gfp_flags={gfp}"
    if ev == EV_FREE:
        return f"{head} order={order}"
    if ev == EV_FREE_BATCHED:
        return f"{head} order=0"
    if ev == EV_ZONE_LOCKED:
        return f"{head} order={order} migratetype={mt} percpu_refill={x}"
    if ev == EV_PCPU_DRAIN:
        return f"{head} order={order} migratetype={mt}"
    fo, fmt, owner = unpack_extfrag(x)
    return (f"{head} alloc_order={order} fallback_order={fo} pageblock_order={pb_order} "
            f"alloc_migratetype={mt} fallback_migratetype={fmt} "
            f"fragmenting={int(fo < pb_order)} change_ownership={owner}")


def _comm(pid: int, comms: dict) -> str:
    if pid == 0:
        return "<idle>"                       # trace_find_cmdline
    return comms.get(pid, "<...>")[:15]       # TASK_COMM_LEN - 1


def format_trace(rows: np.ndarray, markers, comms: dict, profile="v6.12") -> str:
    """trace_pipe text of ``rows`` (the ring buffer layout + a CPU column, in read
    order) with ``markers`` = [(position, cpu, lost)] printed before their event."""
    prof = get_profile(profile)
    pb = prof.pageblock_order
    at = {}
    for pos, cpu, lost in markers:
        at.setdefault(int(pos), []).append(f"CPU:{cpu} [LOST {lost} EVENTS]\n")
    gfps: dict[int, str] = {}
    out = []
    for i, r in enumerate(rows.tolist()):
        if i in at:
            out.extend(at[i])
        ev, ts, pid = r[F_EV], r[F_TS], r[F_PID]
        g = r[F_GFP]
        gt = gfps.get(g)
        if gt is None:
            gt = gfps[g] = trace_gfp_text(g, prof)
        us = ts // 1000
        out.append(f"{_comm(pid, comms):>16}-{pid:<7} [{r[NR_FIELDS]:03d}] {FLAGS} "
                   f"{us // 1_000_000:5d}.{us % 1_000_000:06d}: {EVENTS[ev]}: "
                   f"{_fields(ev, r[F_PFN], r[F_ORDER], r[F_MT], gt, r[F_X], pb)}\n")
    return "".join(out)


_POW10 = np.array([10 ** i for i in range(1, 19)], dtype=np.int64)
_POW16 = np.array([16 ** i for i in range(1, 16)], dtype=np.int64)


def trace_text_bytes(rows: np.ndarray, markers, comms: dict, profile="v6.12") -> int:
    """Bytes :func:`format_trace` prints for these rows and markers, computed with numpy
    (what a reader writes to its file, without formatting millions of lines)."""
    total = sum(len(f"CPU:{cpu} [LOST {lost} EVENTS]\n") for _, cpu, lost in markers)
    if not len(rows):
        return total
    prof = get_profile(profile)
    ev = rows[:, F_EV]
    fo, fmt, _ = unpack_extfrag(rows[:, F_X])
    # decimal digits of every printed number in one searchsorted:
    # pid, cpu, seconds, order, migratetype, percpu_refill, fallback order and type
    nums = np.stack([rows[:, F_PID], rows[:, NR_FIELDS], rows[:, F_TS] // 1_000_000_000,
                     rows[:, F_ORDER], rows[:, F_MT], rows[:, F_X] & 1, fo, fmt])
    d = np.searchsorted(_POW10, nums, side="right") + 1
    dpid, dcpu, dsec, dord, dmt, dx, dfo, dfmt = d
    n = (np.maximum(7, dpid) + np.maximum(3, dcpu) + np.maximum(5, dsec)
         + _EV_LEN[ev] + _EV_FIXED[ev]
         + np.searchsorted(_POW16, np.maximum(rows[:, F_PFN], 0), side="right") + 1)
    n += np.where(ev == EV_ALLOC, dord + dmt, 0)
    n += np.where((ev == EV_FREE) | (ev == EV_ZONE_LOCKED) | (ev == EV_PCPU_DRAIN), dord, 0)
    n += np.where((ev == EV_ZONE_LOCKED) | (ev == EV_PCPU_DRAIN), dmt, 0)
    n += np.where(ev == EV_ZONE_LOCKED, dx, 0)
    n += np.where(ev == EV_EXTFRAG, dord + dfo + dmt + dfmt + len(str(prof.pageblock_order)), 0)
    total += int(n.sum())
    pids, counts = np.unique(rows[:, F_PID], return_counts=True)
    total += sum(max(16, len(_comm(p, comms))) * c for p, c in zip(pids.tolist(), counts.tolist()))
    m = ev == EV_ALLOC
    if m.any():
        gs, gc = np.unique(rows[m, F_GFP], return_counts=True)
        total += sum(len(trace_gfp_text(g, prof)) * c for g, c in zip(gs.tolist(), gc.tolist()))
    return total


# per event: its name's length, and the fixed characters of a line: "-", " ", "[]", " ",
# the flags, " ", ".", six microsecond digits, ": ", ": ", "\n" (18 + flags) and the
# fixed text of its TP_printk ("page=" + 16 + " pfn=0x" = 28, then the field names)
_EV_LEN = np.array([len(e) for e in EVENTS], np.int64)
_EV_FIXED = np.array([18 + len(FLAGS) + 28 + f for f in (
    7 + 13 + 11,                          # mm_page_alloc: order= migratetype= gfp_flags=
    7,                                    # mm_page_free: order=
    8,                                    # mm_page_free_batched: order=0
    7 + 13 + 15,                          # zone_locked: order= migratetype= percpu_refill=
    7 + 13,                               # pcpu_drain: order= migratetype=
    13 + 16 + 17 + 19 + 22 + 13 + 1 + 18 + 1)], np.int64)   # extfrag


def _bad(name, lineno, expected, line):
    raise ParseError(name, lineno, expected, line)


def _field_int(fields: dict, k: str, lo: int, hi: int, name, lineno: int, line: str) -> int:
    v = bounded_int(fields[k], lo, hi, 0)
    if v is None:
        _bad(name, lineno, f"{k}= a number in [{lo}, {hi}]", line)
    return v


def _line_int(text: str, lo: int, hi: int, what: str, name, lineno: int, line: str) -> int:
    """A number of ftrace's line prefix (cpu, pid, seconds) within the kernel's bounds."""
    v = bounded_int(text, lo, hi)
    if v is None:
        _bad(name, lineno, f"{what} in [{lo}, {hi}]", line)
    return v


def read_trace(src, profile="v6.12") -> pd.DataFrame:
    """Read ``trace`` / ``trace_pipe`` text of the kmem page events into the ``"trace"``
    frame (the schema of :meth:`pextlab.tracing.Tracing.df_trace`).

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text (a ``str`` containing a newline).
    profile : str
        Kernel profile whose gfp flag names ``gfp_flags=`` uses.

    Returns
    -------
    pandas.DataFrame
        One row per event line and per ``[LOST ...]`` line, in file order.

    Raises
    ------
    ParseError
        A line that is neither a header, an ftrace event line nor a LOST line; a kmem
        page event without one of its fields; a number out of range; an unknown gfp name.

    Examples
    --------
    >>> df = read_trace("  bash-1234    [001] ..... 12.000345: mm_page_free: "
    ...                 "page=00000000a1b2c3d4 pfn=0x1a2b order=1\\n")
    >>> df[["time_ns", "cpu", "pid", "comm", "event", "pfn", "order"]].values.tolist()
    [[12000345000, 1, 1234, 'bash', 'mm_page_free', 6699, 1]]
    """
    prof = get_profile(profile)
    name, text = load_text(src, "trace")
    cols = {c: [] for c in ("time_ns", "cpu", "pid", "comm", "event", "pfn", "order",
                            "migratetype", "gfp_mask", "gfp", "percpu_refill", "fallback_order",
                            "fallback_migratetype", "change_ownership", "lost")}
    pending_lost = []
    gfp_cache: dict[str, int] = {}

    def add(**kw):
        for c in cols:
            cols[c].append(kw.get(c, -1))

    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _LOST.match(s)
        if m:
            # kernel/trace/trace.c print_trace_line: "CPU:%d [LOST %lu EVENTS]"
            n = -1 if m.group("n") is None else _line_int(m.group("n"), 0, (1 << 63) - 1,
                                                          "a lost-event count", name, lineno, line)
            cpu = _line_int(m.group("cpu"), 0, NR_CPUS_LIMIT - 1, "a cpu", name, lineno, line)
            pending_lost.append(len(cols["time_ns"]))
            add(cpu=cpu, comm=None, event=LOST_EVENT, gfp=None, lost=n)
            continue
        m = _LINE.match(line)
        if not m:
            _bad(name, lineno, "an ftrace event line 'comm-pid [cpu] flags secs.usecs: event: "
                 "fields' or 'CPU:N [LOST n EVENTS]'", line)
        ev = m.group("event")
        ts = (_line_int(m.group("secs"), 0, TS_NS_LIMIT // 1_000_000_000 - 1, "seconds", name,
                        lineno, line) * 1_000_000_000 + int(m.group("usecs")) * 1000)
        for i in pending_lost:               # a LOST line belongs to the next event's time
            cols["time_ns"][i] = ts
        pending_lost.clear()
        if ev not in _REQUIRED:
            continue                         # another event: not ours
        fields = {}
        for part in m.group("rest").split():
            k, eq, v = part.partition("=")
            if eq:
                fields[k] = v
        missing = [k for k in _REQUIRED[ev] if k not in fields]
        if missing:
            _bad(name, lineno, f"{ev} with field(s) {', '.join(missing)}", line)

        def num(k, lo=0, hi=63, fields=fields, lineno=lineno, line=line):
            return _field_int(fields, k, lo, hi, name, lineno, line)

        pid = _line_int(m.group("pid"), 0, PID_MAX_LIMIT, "a pid", name, lineno, line)
        cpu = _line_int(m.group("cpu"), 0, NR_CPUS_LIMIT - 1, "a cpu", name, lineno, line)
        pfn = num("pfn", 0, PFN_LIMIT - 1)
        if fields["page"] in _NULL_PAGES or fields["page"].strip("0") == "":
            pfn = -1
        row = dict(time_ns=ts, cpu=cpu, pid=pid, comm=m.group("comm").strip(), event=ev,
                   pfn=pfn, gfp=None, lost=0)
        if ev == "mm_page_alloc_extfrag":
            row.update(order=num("alloc_order", 0, 63), migratetype=num("alloc_migratetype", 0, 63),
                       fallback_order=num("fallback_order", 0, 63),
                       fallback_migratetype=num("fallback_migratetype", 0, 63),
                       change_ownership=num("change_ownership", 0, 1))
        elif ev == "mm_page_free_batched":
            row.update(order=0)
        else:
            row.update(order=num("order", 0, 63))
            if "migratetype" in _REQUIRED[ev]:
                row.update(migratetype=num("migratetype", 0, 63))
            if ev == "mm_page_alloc_zone_locked":
                row.update(percpu_refill=num("percpu_refill", 0, 1))
            if ev == "mm_page_alloc":
                g = fields["gfp_flags"]
                mask = gfp_cache.get(g)
                if mask is None:
                    try:
                        mask = 0 if g == "none" else parse_gfp(g, prof)
                    except PextlabError as e:
                        _bad(name, lineno, f"gfp_flags= names of profile {prof.name} ({e})", line)
                    gfp_cache[g] = mask
                row.update(gfp_mask=mask, gfp=g)
        add(**row)
    if not cols["time_ns"]:
        return empty("trace")
    df = pd.DataFrame(cols)
    df["nr_pages"] = np.where(df["order"] >= 0, np.left_shift(1, df["order"].clip(lower=0)), 0)
    df.loc[df["event"] == LOST_EVENT, "nr_pages"] = 0
    return conform(df, "trace")
