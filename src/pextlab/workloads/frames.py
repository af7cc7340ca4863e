"""The frames of workload runs, built from a :class:`~pextlab.workloads.runner.RunLog`:
``events`` (every alloc/free/fail of recorded runs), ``memory_usage`` (samples of
free and used pages) and the tasks table.  Columns: ``pextlab.schema.SCHEMAS``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.gfp import ZONE_NAMES
from ..schema import SCHEMAS, conform
from . import runner

__all__ = ["events_frame", "memory_usage_frame", "tasks_frame", "TASK_COLUMNS"]

TASK_COLUMNS = ("run", "task", "comm", "pid", "tgid", "kind", "label", "nid", "allocs", "frees",
                "failed", "held", "reclaimed", "oom_killed", "live_blocks")


def _cat_from_list(codes: np.ndarray, labels: list) -> pd.Categorical:
    """Categorical of ``labels[codes]`` (labels may repeat; code -1 is NaN)."""
    cats = list(dict.fromkeys(labels))
    pos = {c: i for i, c in enumerate(cats)}
    remap = np.array([pos[x] for x in labels] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(remap[codes] if len(codes) else np.zeros(0, np.int64), cats)


def _zone_arrays(log):
    nid = np.array([z.nid for z in log.zones] + [-1], dtype=np.int64)
    idx = np.array([z.idx for z in log.zones] + [-1], dtype=np.int64)
    return nid, idx


def events_frame(log) -> pd.DataFrame:
    """The ``events`` frame of a run log (see ``SCHEMAS['events']``)."""
    E = log.events_np() if log is not None else np.zeros((0, len(runner.EV_FIELDS)), np.int64)
    nm = log.nr_mt if log is not None else 1
    k = E[:, 6]
    ok = k >= 0
    zc = np.where(ok, k // nm, -1)
    mt = np.where(ok, k % nm, -1 - k)
    task = E[:, 4]
    slot = E[:, 5]
    order = E[:, 3]
    if log is not None:
        znid, zidx = _zone_arrays(log)
        tasks, slots = log.tasks, log.slots
        mt_names = list(log.mm.profile.migratetype_names)
    else:
        znid = zidx = np.array([-1])
        tasks, slots, mt_names = [], [], []
    pid = np.array([t["pid"] for t in tasks] + [-1], dtype=np.int64)
    tgid = np.array([t["tgid"] for t in tasks] + [-1], dtype=np.int64)
    handle = np.array([s["handle"] for s in slots] + [0], dtype=np.int64)
    df = pd.DataFrame({
        "time_ns": E[:, 0],
        "event": pd.Categorical.from_codes(E[:, 1], list(runner.EVENT_NAMES)),
        "pfn": E[:, 2],
        "order": order,
        "nr_pages": np.int64(1) << order,
        "node": znid[zc],
        "zone": pd.Categorical.from_codes(zidx[zc], list(ZONE_NAMES)),
        "migratetype": pd.Categorical.from_codes(mt, mt_names),
        "task": task,
        "pid": pid[task],
        "tgid": tgid[task],
        "comm": _cat_from_list(task, [t["comm"] for t in tasks]),
        "kind": _cat_from_list(slot, [s["kind"] for s in slots]),
        "stack_id": _cat_from_list(slot, [s["stack_id"] for s in slots]),
        "stack_handle": handle[slot],
    })
    return conform(df, "events")


def memory_usage_frame(log) -> pd.DataFrame:
    """The ``memory_usage`` frame of a run log (see ``SCHEMAS['memory_usage']``)."""
    if log is None:
        return conform(pd.DataFrame({c: [] for c in SCHEMAS["memory_usage"]}), "memory_usage")
    S = log.samples_np()
    znid, zidx = _zone_arrays(log)
    zc = S[:, 1]
    df = pd.DataFrame({
        "time_ns": S[:, 0],
        "node": znid[zc],
        "zone": pd.Categorical.from_codes(zidx[zc], list(ZONE_NAMES)),
        "migratetype": pd.Categorical.from_codes(S[:, 2], list(log.mm.profile.migratetype_names)),
        "free": S[:, 3],
        "used": S[:, 4],
        "managed": S[:, 5],
    })
    return conform(df, "memory_usage")


def tasks_frame(log, run: int | None = None) -> pd.DataFrame:
    """One row per task (per run): who it was and what it did."""
    rows = [] if log is None else [
        {**{c: t[c] for c in TASK_COLUMNS if c in t}, "task": i,
         "live_blocks": t["allocs"] - t["frees"]}
        for i, t in enumerate(log.tasks) if run is None or t["run"] == run]
    df = pd.DataFrame(rows, columns=list(TASK_COLUMNS))
    for c in ("comm", "kind", "label"):
        df[c] = df[c].astype("category")
    return df.astype({c: "int64" for c in TASK_COLUMNS if c not in ("comm", "kind", "label")})
