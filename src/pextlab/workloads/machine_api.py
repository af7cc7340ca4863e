"""``Machine.run`` and the workload frames: a mixin for :class:`pextlab.Machine`.

:class:`WorkloadMixin` needs only ``self.mm`` (the kernel state) and
``self.seed``.  It keeps the run log and the random generator on the machine,
so successive runs continue one simulated history:

>>> import pextlab
>>> from pextlab.workloads import WorkloadMixin, anon, mix
>>> class M(WorkloadMixin, pextlab.Machine): pass
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1)
>>> m.__class__ = M                                     # until Machine has the mixin
>>> summary = m.run(mix(anon("app", rate=500, lifetime="1s")), duration="2s", record=True)
>>> set(m.df_events()["event"].unique()) <= {"alloc", "free", "fail"}
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PextlabError
from ..kernel.gfp import ZONE_NAMES
from ..schema import SCHEMAS, conform
from . import runner
from .spec import parse_duration

__all__ = ["WorkloadMixin", "events_frame", "memory_usage_frame", "tasks_frame"]

TASK_COLUMNS = ("run", "task", "comm", "pid", "tgid", "kind", "label", "nid", "allocs", "frees",
                "failed", "held", "live_blocks")


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


class WorkloadMixin:
    """Workload verbs and frames for a Machine (``self.mm``, ``self.seed``)."""

    _wl_log = None
    _wl_rng = None

    @property
    def run_log(self):
        """The machine's :class:`pextlab.workloads.runner.RunLog` (None before any run)."""
        return self._wl_log

    def run(self, workload, duration="60s", record: bool = False, sample="1s",
            seed: int | None = None) -> pd.DataFrame:
        """Run a workload for ``duration`` of simulated time, from the machine's clock.

        Parameters
        ----------
        workload : pextlab.workloads.Workload or Task
        duration : str or float
            ``"60s"``, ``"500ms"``, ``"2min"`` or seconds.
        record : bool
            Keep every alloc/free/fail event for :meth:`df_events`.
        sample : str, float or None
            Interval of the :meth:`df_memory_usage` samples (None: no sampling).
        seed : int, optional
            Re-seed the machine's workload generator; by default it is seeded
            once from the machine's ``seed`` and continues across runs.

        Returns
        -------
        DataFrame
            This run's tasks: run, task, comm, pid, tgid, kind, label, nid,
            allocs, frees, failed (allocations that returned NULL), held (blocks
            never to be freed: hogs, pins, leaks) and live_blocks (cumulative).
        """
        if seed is not None:
            self._wl_rng = np.random.default_rng(seed)
        elif self._wl_rng is None:
            self._wl_rng = np.random.default_rng(self.seed)
        if self._wl_log is None:
            self._wl_log = runner.RunLog(self.mm)
        every = None if sample is None else parse_duration(sample)
        if every == 0:
            raise PextlabError("sample interval must be > 0 (or None)")
        runner.run(self.mm, workload, parse_duration(duration), self._wl_rng, record=record,
                   sample_every_ns=every, log=self._wl_log)
        return tasks_frame(self._wl_log, run=len(self._wl_log.runs) - 1)

    def df_events(self) -> pd.DataFrame:
        """Alloc/free/fail events of every recorded run, in time order (SCHEMAS['events']).

        Empty unless a run had ``record=True``.
        """
        return events_frame(self._wl_log)

    def df_memory_usage(self) -> pd.DataFrame:
        """Free and used pages per (node, zone, migratetype) at each sample (SCHEMAS['memory_usage'])."""
        return memory_usage_frame(self._wl_log)

    def df_tasks(self, run: int | None = None) -> pd.DataFrame:
        """Every task of every run (or of run ``run``): counters of what it did."""
        return tasks_frame(self._wl_log, run)


def _document_columns():
    for meth, schema in (("df_events", "events"), ("df_memory_usage", "memory_usage")):
        f = getattr(WorkloadMixin, meth)
        cols = "\n".join(f"        {c} : {t}" for c, t in SCHEMAS[schema].items())
        f.__doc__ = (f.__doc__ or "") + f"\n\n        Columns\n        -------\n{cols}\n"


_document_columns()
