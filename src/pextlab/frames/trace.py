"""Frames of the simulated trace (:mod:`pextlab.kernel.ring_buffer`): the events a
reader received -- the ``"trace"`` schema that :func:`pextlab.read_trace` also gives
for real ftrace text -- and the events the ring buffer lost (``"trace_lost"``).
Built from the tracer's arrays with numpy; building never changes the tracer."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.ring_buffer import (EVENTS, EV_ALLOC, EV_EXTFRAG, EV_PCPU_DRAIN, EV_ZONE_LOCKED,
                                  EV_FREE_BATCHED, F_EV, F_GFP, F_MT, F_ORDER, F_PFN, F_PID,
                                  F_TS, F_X, LOSS_OVERRUN, NR_FIELDS, unpack_extfrag)
from ..procfs.trace import LOST_EVENT, trace_gfp_text
from ..schema import conform, empty

__all__ = ["trace_frame", "lost_frame"]


def trace_frame(rows: np.ndarray, markers: np.ndarray, comms: dict, profile) -> pd.DataFrame:
    """``rows`` (ring buffer layout + CPU column, read order) and ``markers``
    ((position, cpu, lost) rows) as trace_pipe shows them: time stamps in whole
    microseconds, pid 0 as ``<idle>``, a ``LOST`` row before the event it precedes."""
    n = len(rows)
    if not n and not len(markers):
        return empty("trace")
    ev = rows[:, F_EV]
    pid = rows[:, F_PID]
    upid, pinv = np.unique(pid, return_inverse=True)
    names = ["<idle>" if p == 0 else comms.get(int(p), "<...>")[:15] for p in upid]
    comm = np.array(names, dtype=object)[pinv.ravel()]
    alloc = ev == EV_ALLOC
    is_mt = alloc | (ev == EV_ZONE_LOCKED) | (ev == EV_PCPU_DRAIN) | (ev == EV_EXTFRAG)
    order = np.where(ev == EV_FREE_BATCHED, 0, rows[:, F_ORDER])
    fo, fmt, owner = unpack_extfrag(rows[:, F_X])
    ext = ev == EV_EXTFRAG
    g = rows[:, F_GFP]
    ug, ginv = np.unique(g[alloc], return_inverse=True)
    gtext = np.full(n, None, dtype=object)
    if alloc.any():
        gtext[alloc] = np.array([trace_gfp_text(int(x), profile) for x in ug], object)[ginv.ravel()]
    df = pd.DataFrame({
        "time_ns": rows[:, F_TS] // 1000 * 1000,
        "cpu": rows[:, NR_FIELDS],
        "pid": pid,
        "comm": comm,
        "event": np.array(EVENTS, dtype=object)[ev],
        "pfn": rows[:, F_PFN],
        "order": order,
        "nr_pages": np.left_shift(1, order),
        "migratetype": np.where(is_mt, rows[:, F_MT], -1),
        "gfp_mask": np.where(alloc, g, -1),
        "gfp": gtext,
        "percpu_refill": np.where(ev == EV_ZONE_LOCKED, rows[:, F_X], -1),
        "fallback_order": np.where(ext, fo, -1),
        "fallback_migratetype": np.where(ext, fmt, -1),
        "change_ownership": np.where(ext, owner, -1),
        "lost": np.zeros(n, np.int64),
    })
    if len(markers):
        pos = markers[:, 0]
        lost = pd.DataFrame({
            "time_ns": df["time_ns"].to_numpy()[np.minimum(pos, max(n - 1, 0))] if n else -1,
            "cpu": markers[:, 1], "pid": -1, "comm": None, "event": LOST_EVENT, "pfn": -1,
            "order": -1, "nr_pages": 0, "migratetype": -1, "gfp_mask": -1, "gfp": None,
            "percpu_refill": -1, "fallback_order": -1, "fallback_migratetype": -1,
            "change_ownership": -1, "lost": markers[:, 2]})
        # a LOST line goes right before the event it was found with
        key = np.concatenate([np.arange(n) * 2 + 1, pos * 2])
        df = pd.concat([df, lost], ignore_index=True).iloc[np.argsort(key, kind="stable")]
    return conform(df.reset_index(drop=True), "trace")


def lost_frame(losses: np.ndarray) -> pd.DataFrame:
    """``losses`` rows (cpu, kind, first_ts, last_ts, events, pages) as ``"trace_lost"``."""
    if not len(losses):
        return empty("trace_lost")
    return conform(pd.DataFrame({
        "cpu": losses[:, 0],
        "kind": np.where(losses[:, 1] == LOSS_OVERRUN, "overrun", "dropped"),
        "first_ns": losses[:, 2], "last_ns": losses[:, 3],
        "nr_events": losses[:, 4], "nr_pages": losses[:, 5]}), "trace_lost")
