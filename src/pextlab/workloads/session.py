"""A machine's workload history: :class:`WorkloadSession` keeps the run log and the
seeded random generator, so successive runs continue one simulated history.

>>> import pextlab
>>> from pextlab.workloads import anon, mix
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=1)
>>> tasks = m.run(mix(anon("app", rate=500, lifetime="1s")), duration="2s", record=True)
>>> list(tasks["comm"])
['app']
>>> set(m.df_events()["event"].unique()) <= {"alloc", "free", "fail"}
True
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import PextlabError
from . import runner
from .frames import events_frame, memory_usage_frame, tasks_frame
from .spec import parse_duration

__all__ = ["WorkloadSession"]


class WorkloadSession:
    """The workload side of one machine (``Machine.workloads``).

    Attributes
    ----------
    log : RunLog or None
        Every task, event and sample of every run (None before the first run).
    rng : numpy.random.Generator
        Seeded once from the machine's seed; continues across runs.
    """

    def __init__(self, mm, seed: int):
        self.mm = mm
        self.log: runner.RunLog | None = None
        self.rng = np.random.default_rng(seed)
        # (period_ns, fn(t)) called by the runner as simulated time passes (a trace reader)
        self.step_hooks: list = []

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
            Re-seed the generator; by default it continues across runs.

        Returns
        -------
        DataFrame
            This run's tasks: run, task, comm, pid, tgid, kind, label, nid,
            allocs, frees, failed (allocations that returned NULL), held (blocks
            never to be freed: hogs, pins, leaks), reclaimed (blocks reclaim took
            back), oom_killed (1 when the OOM killer killed it) and live_blocks
            (cumulative).
        """
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        every = None if sample is None else parse_duration(sample)
        if every == 0:
            raise PextlabError("sample interval must be > 0 (or None)")
        dur = parse_duration(duration)
        if self.log is None:
            self.log = runner.RunLog(self.mm)         # it follows migrations itself
        runner.run(self.mm, workload, dur, self.rng, record=record, sample_every_ns=every,
                   log=self.log, hooks=self.step_hooks)
        return tasks_frame(self.log, run=len(self.log.runs) - 1)

    def df_events(self) -> pd.DataFrame:
        """Alloc/free/fail events of every recorded run, in time order (SCHEMAS['events'])."""
        return events_frame(self.log)

    def df_memory_usage(self) -> pd.DataFrame:
        """Free and used pages per (node, zone, migratetype) at each sample."""
        return memory_usage_frame(self.log)

    def df_tasks(self, run: int | None = None) -> pd.DataFrame:
        """Every task of every run (or of run ``run``): counters of what it did."""
        return tasks_frame(self.log, run)
