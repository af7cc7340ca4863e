"""The fragger workload and one run of it: rounds of fill and free, /init's probe, frames.

:func:`fragger` builds the (frozen) :class:`Fragger` configuration; its
``run_on(machine, snapshot)`` -- what ``Machine.run`` calls for a self-running
workload -- returns a :class:`FraggerRun` once every phase is done.  A run
follows frag-s1's /init (FRAG.md): ``sleep 3`` and a snapshot before the fill,
then per round the fill (items until FILL % of MemTotal is used, interleaved),
``sleep 3``, a snapshot, the free, ``sleep 3``, a snapshot; with ``probe`` the
huge-page probe (``nr_hugepages = T``, ``0``, ``compact_memory``, ``T``).

The machine is driven through its facade, as /init drives a real one through
/proc: ``machine.mm`` (the kernel state the allocations go to), ``idle(s)``,
``set_nr_hugepages(n)``, ``nr_hugepages``, ``compact_memory()``.

While a run is in progress its kernel side follows page migrations (see
:mod:`.kernel_side`), whatever moves them: compaction in the allocator's slow
path or in the idle time before a snapshot, or the snapshot callback itself.
After the run nothing of fragger frees memory any more, and its follower is
taken off ``mm.migrate_notifiers``.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...errors import PextlabError
from .items import KINDS, FraggerItem, generate_items
from .kernel_side import FraggerKernel
from .process import FraggerProcess
from .rng import sched_stream

__all__ = ["Fragger", "FraggerRun", "fragger", "hugepage_target", "PROBE_PHASES"]

#: the probe of /init (FRAG.md): phase names of its snapshots, in order
PROBE_PHASES = ("after_probe1", "after_release", "after_compact", "after_probe2")
#: /init sleeps this long before each snapshot
SNAPSHOT_SLEEP_S = 3
#: /init dumps page_owner.after_free before the probe: 10.6 s of guest time in frag-s1
#: (MANIFEST.tsv 19.04 -> 29.69 s) in which kswapd and proactive compaction keep working
PROBE_DELAY_S = 10


def hugepage_target(memtotal_kb: int, pct: int = 30) -> int:
    """/init's probe target: MemTotal x 30 % / 2 MiB (147 on 1 GiB)."""
    return memtotal_kb * pct // 100 // 2048


@dataclass(frozen=True)
class Fragger:
    """The fragger workload (build it with :func:`fragger`; run it with ``Machine.run``)."""
    seed: int = 1
    fill: float = 0.75
    rounds: int = 1
    budget: int | None = None
    probe: bool = False
    probe_max: bool = False
    snapshots: object = True          # True, False, or a tuple of phase names to take
    step_ns: int = 669_000
    pid: int = 199
    hugepage_pct: int = 30

    @property
    def fill_pct(self) -> int:
        f = self.fill * 100 if self.fill <= 1 else self.fill
        return int(round(f))

    def to_dict(self) -> dict:
        return {"kind": "fragger", "seed": self.seed, "fill": self.fill, "rounds": self.rounds,
                "budget": self.budget, "probe": self.probe}

    def run_on(self, machine, snapshot=None) -> FraggerRun:
        """Run every phase on ``machine``; ``snapshot(name, fragger=run)`` is called after each."""
        r = FraggerRun(self, machine)
        r.execute(snapshot)
        return r


def fragger(seed: int = 1, fill: float = 0.75, rounds: int = 1, budget: int | None = None,
            probe: bool = False, probe_max: bool = False, snapshots=True,
            hugepage_pct: int = 30) -> Fragger:
    """The frag-s1 workload (``fragger -s SEED -f FILL -r ROUNDS [-b BUDGET]``).

    Parameters
    ----------
    seed : int
        splitmix64 seed: the item list, the interleaving and the free choices.
    fill : float
        Fill target as a fraction (0.75) or percent (75) of MemTotal.
    rounds : int
        Fill + free rounds; each round tops memory up to ``fill`` again.
    budget : int, optional
        Pages per round instead of the ``fill`` rule (fragger's ``-b``).
    probe : bool
        Also run /init's huge-page probe: ``nr_hugepages = T`` (snapshot
        ``after_probe1``), ``0`` (``after_release``), ``compact_memory``
        (``after_compact``), ``T`` again (``after_probe2``), T = 30 % of
        MemTotal in 2 MiB pages.
    probe_max : bool
        /init's extra step: release, then ask for (MemFree - 32 MiB) / 2 MiB
        (``after_probe_max``).
    snapshots : bool or sequence of str
        Take the phase snapshots into ``machine.snapshots`` (all, none, or
        only the named phases: each costs a copy of the machine).

    Examples
    --------
    >>> import pextlab
    >>> m = pextlab.boot(mem="256M", cmdline="page_owner=on")
    >>> r = m.run(fragger(seed=1, fill=0.5))
    >>> list(m.snapshots)
    ['before_fill', 'after_fill', 'after_free']
    """
    if int(rounds) < 1:
        raise PextlabError("fragger: rounds must be >= 1")
    f = fill * 100 if fill <= 1 else fill
    if not 0 < f <= 100:
        raise PextlabError(f"fragger: fill must be in (0, 1] or (0, 100], got {fill!r}")
    if budget is not None and int(budget) < 0:
        raise PextlabError("fragger: budget must be >= 0 pages")
    return Fragger(seed=int(seed), fill=fill, rounds=int(rounds),
                   budget=None if budget is None else int(budget), probe=bool(probe),
                   probe_max=bool(probe_max),
                   snapshots=snapshots if isinstance(snapshots, bool) else tuple(snapshots),
                   hugepage_pct=int(hugepage_pct))


def _meminfo_kb(mm) -> tuple[int, int]:
    """(MemTotal, MemFree) in kB."""
    total = mm.totalram_pages * 4
    free = sum(z.free_pages for z in mm.populated_zones()) * 4
    return total, free


class FraggerRun:
    """One fragger run on a machine: the items, steps, summaries and probe results."""

    def __init__(self, wl: Fragger, machine):
        self.wl = wl
        self.m = machine
        self.items: list[FraggerItem] = []
        self.steps: list[tuple[int, int, int]] = []     # (round, item, amount)
        self.budgets: list[int] = []
        self.summaries: dict[str, pd.DataFrame] = {}
        self.probe: dict = {}
        self.phase_seconds: dict[str, float] = {}
        self.kern: FraggerKernel | None = None
        self.proc: FraggerProcess | None = None

    def __repr__(self):
        return (f"<FraggerRun seed={self.wl.seed} items={len(self.items)} steps={len(self.steps)} "
                f"budget={self.budgets}>")

    # --- phases -----------------------------------------------------------------------------
    @contextmanager
    def _timed(self, name: str):
        # wall seconds per phase; "idle" (the kernel's work in /init's sleeps) and
        # "snapshots" add up over the run
        t0 = time.perf_counter()
        yield
        self.phase_seconds[name] = self.phase_seconds.get(name, 0.0) + time.perf_counter() - t0

    def _idle(self, seconds: int) -> None:
        with self._timed("idle"):
            self.m.idle(seconds)

    def execute(self, snapshot=None) -> None:
        """Run every phase; ``snapshot(name, fragger=self)`` after each (see :func:`fragger`)."""
        wl, m = self.wl, self.m
        mm = m.mm
        which = wl.snapshots

        def snap(name: str) -> None:
            if snapshot is not None and which and (which is True or name in which):
                with self._timed("snapshots"):
                    snapshot(name, fragger=self)

        # /init sleeps before each snapshot; the kernel keeps working meanwhile
        # (kswapd drops watermark boosts, proactive compaction runs every 500 ms)
        self._idle(SNAPSHOT_SLEEP_S)
        snap("before_fill")
        self.kern = k = FraggerKernel(mm, pid=wl.pid)
        self.proc = proc = FraggerProcess(k, wl.seed, wl.pid)
        k.attach()
        try:
            proc.exec_self()
            gen = None
            sch = sched_stream(wl.seed)
            for rnd in range(1, wl.rounds + 1):
                last = rnd == wl.rounds
                with self._timed(f"fill.r{rnd}"):
                    total, free = _meminfo_kb(mm)
                    if wl.budget is not None:
                        budget = wl.budget
                    else:   # FILL % of MemTotal minus what is used, in whole MiB
                        want = wl.fill_pct * total // 100 - (total - free)
                        budget = (want // 1024) * 256 if want > 0 else 0
                    self.budgets.append(budget)
                    new, gen = generate_items(wl.seed, budget, gen, first_id=len(self.items),
                                              rnd=rnd)
                    self.items.extend(new)
                    proc.fill(new, sch, rnd, wl.step_ns, self.steps)
                    self.summaries[f"fill.r{rnd}"] = self.summary()
                self._idle(SNAPSHOT_SLEEP_S)
                snap("after_fill" if last else f"after_fill.r{rnd}")
                with self._timed(f"free.r{rnd}"):
                    proc.free_round(self.items, rnd)
                    self.summaries[f"free.r{rnd}"] = self.summary()
                self._idle(SNAPSHOT_SLEEP_S)
                snap("after_free" if last else f"after_free.r{rnd}")
            if wl.probe or wl.probe_max:
                self._probe(snap)
        finally:
            k.detach()

    def _probe(self, snap) -> None:
        m = self.m
        total, _ = _meminfo_kb(m.mm)
        t = hugepage_target(total, self.wl.hugepage_pct)
        self.probe["target"] = t
        self._idle(PROBE_DELAY_S)
        if self.wl.probe:
            for name, action in (("probe1", lambda: m.set_nr_hugepages(t)),
                                 ("release", lambda: m.set_nr_hugepages(0)),
                                 ("compact", lambda: m.compact_memory()),
                                 ("probe2", lambda: m.set_nr_hugepages(t))):
                with self._timed(name):
                    res = action()
                self.probe[name] = m.nr_hugepages
                self.probe[name + "_result"] = res
                # kcompactd, woken by the allocations' direct compaction, works while
                # /init reads the pool size back and takes the snapshot
                self._idle(1)
                snap(f"after_{name}")
        if self.wl.probe_max:
            m.set_nr_hugepages(0)
            _, free = _meminfo_kb(m.mm)
            want = max(0, (free - 32 * 1024) // 2048)
            m.set_nr_hugepages(want)
            self.probe["probe_max_target"] = want
            self.probe["probe_max"] = m.nr_hugepages
            snap("after_probe_max")

    # --- frames ----------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Per kind: items, pages, items held, pages held (fragger_summary's table)."""
        rows = []
        for kind in ("anon", "file", "pipe", "child", "dir"):
            its = [i for i in self.items if i.kind == kind]
            pages = [0 if kind == "dir" else i.done for i in its]
            held = [i for i, p in zip(its, pages) if not i.freed]
            rows.append({"kind": kind, "items": len(its), "pages": int(sum(pages)),
                         "items_held": len(held),
                         "pages_held": int(sum(0 if kind == "dir" else i.done for i in held)),
                         "entries": int(sum(i.size for i in its)) if kind == "dir" else 0,
                         "entries_deleted": int(sum(i.deleted for i in its)) if kind == "dir" else 0})
        return pd.DataFrame(rows)

    def df_items(self) -> pd.DataFrame:
        """One row per item, the columns of fragger_items.txt (without the guest details)."""
        unit = {"dir": "entries", "child": "pt_pages"}
        return pd.DataFrame({
            "id": [i.id for i in self.items], "round": [i.round for i in self.items],
            "kind": pd.Categorical([i.kind for i in self.items], categories=list(KINDS)),
            "size": [i.size for i in self.items],
            "unit": [unit.get(i.kind, "pages") for i in self.items],
            "est_pages": [i.est for i in self.items], "chunks": [i.nchunks for i in self.items],
            "first_step": [i.first_step for i in self.items],
            "last_step": [i.last_step for i in self.items],
            "freed_round": [i.freed for i in self.items],
            "deleted_entries": [i.deleted for i in self.items],
            "files": [i.nfiles for i in self.items], "links": [i.nlinks for i in self.items],
            "subdirs": [i.nsubdirs for i in self.items], "pid": [i.pid for i in self.items]})

    def df_steps(self) -> pd.DataFrame:
        """Every interleaving step (fragger_steps.txt): step, round, item, kind, amount."""
        a = np.array(self.steps, dtype=np.int64).reshape(-1, 3)
        kinds = np.array([KINDS.index(i.kind) for i in self.items] + [0], dtype=np.int64)
        return pd.DataFrame({"step": np.arange(len(a)), "round": a[:, 0], "item": a[:, 1],
                             "kind": pd.Categorical.from_codes(kinds[a[:, 1]] if len(a) else
                                                               np.zeros(0, np.int64), list(KINDS)),
                             "amount": a[:, 2]})

    def df_kernel(self) -> pd.DataFrame:
        """Pages the workload holds now per allocation kind (anon, shmem, pte, slab caches ...)."""
        k = self.kern
        rows = [{"what": key, "pages": v} for key, v in sorted(k.counts.items())] if k else []
        return pd.DataFrame(rows, columns=["what", "pages"])
