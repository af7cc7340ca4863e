"""An exercise as plain data: :class:`ExerciseSpec` (frozen, declarative).

A spec says what the machine is (``mem``, ``nodes``, ``profile``, ``cmdline``),
what the student is asked (``question``, ``fields`` with ``tolerances``), how
the answer is found (``solver``: the reference strategy, which reads only the
hand-out) and how to help (``hints``, shown one at a time).  Its ``build``
function turns a seed into a :class:`Scenario`: the steps the machine goes
through -- :class:`Run` a workload for some seconds, :class:`Dump` the kernel
files (a snapshot of the capture folder), :class:`Compact` memory -- and the
facts the simulation cannot tell by itself (``{"leak": False}`` for a false
alarm).

The culprit is whatever task of the workloads carries ``label="culprit"``
(:data:`CULPRIT`); it allocates through exactly one catalogue stack
(``stacks=("kmalloc_large-0",)``), which nothing else in the workload uses, so
its ground truth -- comm, stack, node, order, pages, growth -- is read off the
simulated machine at each dump.  The decoys are ordinary tasks; ``decoys`` in
the scenario says in words what each one is there for (the instructor's
solution file prints it).

>>> from pextlab import workloads as W
>>> def build(seed, rng):
...     rate = int(rng.integers(100, 200))
...     leak = W.task("collectd", "kmalloc_large", rate / 4, "1s", leak=0.5,
...                   stacks=("kmalloc_large-0",), label=CULPRIT)
...     w = W.mix(W.anon("postgres", rate=500, lifetime="2s"), leak)
...     return Scenario(steps=(Run(w, 10), Dump(), Run(w, 10), Dump()))
>>> spec = ExerciseSpec(name="my-first-leak", level=1, skills=("top owners",),
...                     question="Which task leaks, and through which stack?",
...                     build=build, fields=("comm", "top_frame"))
>>> spec.build(0, np.random.default_rng(0)).dump_count
2
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from ..errors import PextlabError
from ..kernel.profiles import PROFILES
from ..workloads.spec import Task, Workload

__all__ = ["ExerciseSpec", "Scenario", "Run", "Dump", "Compact", "CULPRIT", "FIELDS",
           "NUMERIC_FIELDS", "SOLVERS", "DEFAULT_TOLERANCES", "pick", "sample"]

#: The label of the culprit's task(s).
CULPRIT = "culprit"

#: Every field an exercise can ask, with what it means.
FIELDS = {
    "comm": "the culprit's task name (comm) as page_owner prints it",
    "top_frame": "a frame of the culprit's allocation stack that no other stack in the last "
                 "dump has (or the whole stack)",
    "node": "the NUMA node the leaked pages are on",
    "order": "the order of the culprit's blocks",
    "pages": "the culprit's pages (base pages) in the last dump",
    "pages_per_s": "how fast the culprit's pages grow, base pages per second, between the "
                   "first and the last dump",
    "migrated_pages": "the culprit's pages in the last dump that compaction has moved",
    "leak": "whether the task that set off the alarm leaks (yes/no)",
}
#: Fields graded within a relative tolerance.
NUMERIC_FIELDS = ("pages", "pages_per_s", "migrated_pages")
#: Default relative tolerance of each numeric field.
DEFAULT_TOLERANCES = {"pages": 0.1, "pages_per_s": 0.25, "migrated_pages": 0.1}
#: Reference solving strategies (pextlab.exercises.solve): the culprit is the stack that
#: grows in every interval the most ("growth"), the stack that shrank to a remainder no
#: longer allocated to ("partial"), or the biggest early grower, which does not keep
#: growing ("false_alarm").
SOLVERS = ("growth", "partial", "false_alarm")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,47}$")


@dataclass(frozen=True)
class Run:
    """Run ``workload`` for ``seconds`` of simulated time (``Machine.run``).

    A task's window (``at``/``stop``) is relative to the start of this run; pids
    stay the same across runs for the same comm, and blocks still alive carry over.
    """
    workload: Workload
    seconds: float

    def __post_init__(self):
        if isinstance(self.workload, Task):
            object.__setattr__(self, "workload", Workload((self.workload,)))
        if not isinstance(self.workload, Workload):
            raise PextlabError(f"Run takes a Workload or Task, got {type(self.workload).__name__}")
        if not (isinstance(self.seconds, (int, float)) and 0 < self.seconds <= 3600):
            raise PextlabError(f"Run seconds must be in (0, 3600], got {self.seconds!r}")


@dataclass(frozen=True)
class Dump:
    """Write every kernel file into the hand-out, labelled ``t<seconds>s`` (time since the
    first run)."""


@dataclass(frozen=True)
class Compact:
    """``echo 1 > /proc/sys/vm/compact_memory``: compaction migrates movable pages
    (page_owner then records the migrate reason ``compaction``)."""


@dataclass(frozen=True)
class Scenario:
    """One seed's variant of an exercise: the steps, the facts, what the decoys are."""
    steps: tuple
    facts: Mapping = field(default_factory=dict)
    decoys: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "facts", dict(self.facts))
        object.__setattr__(self, "decoys", tuple(self.decoys))
        bad = [s for s in self.steps if not isinstance(s, (Run, Dump, Compact))]
        if bad:
            raise PextlabError(f"scenario steps are Run, Dump and Compact, got {bad[0]!r}")
        if self.dump_count < 1:
            raise PextlabError("a scenario takes at least one Dump (the hand-out's evidence)")
        if not isinstance(self.steps[-1], Dump):
            raise PextlabError("a scenario ends with a Dump (the last state is the evidence)")
        if not any(t.label == CULPRIT for t in self.tasks):
            raise PextlabError(f"no task of the scenario has label={CULPRIT!r}: say who the culprit is")
        stacks = {t.stacks for t in self.tasks if t.label == CULPRIT}
        if len(stacks) != 1 or len(next(iter(stacks))) != 1:
            raise PextlabError("the culprit's tasks name exactly one catalogue stack, the same "
                               "one (stacks=('kmalloc_large-0',)), so its pages can be told apart")
        mine = next(iter(stacks))
        kind = next(t.kind for t in self.tasks if t.label == CULPRIT)
        others = {t.comm for t in self.tasks if t.label != CULPRIT
                  and (mine[0] in t.stacks or (not t.stacks and t.kind == kind))}
        if others:
            raise PextlabError(f"decoy task(s) {sorted(others)} may allocate through the culprit's "
                               f"stack {mine[0]}")
        if "leak" in self.facts and not isinstance(self.facts["leak"], bool):
            raise PextlabError("facts['leak'] is True or False")

    @property
    def tasks(self) -> list[Task]:
        return [t for s in self.steps if isinstance(s, Run) for t in s.workload.tasks]

    @property
    def culprit_stack(self) -> str:
        """The catalogue id of the culprit's stack."""
        return next(t.stacks[0] for t in self.tasks if t.label == CULPRIT)

    @property
    def dump_count(self) -> int:
        return sum(isinstance(s, Dump) for s in self.steps)

    def dump_times(self) -> list[float]:
        """Seconds since the first run at each Dump."""
        t, out = 0.0, []
        for s in self.steps:
            if isinstance(s, Run):
                t += float(s.seconds)
            elif isinstance(s, Dump):
                out.append(t)
        return out


@dataclass(frozen=True)
class ExerciseSpec:
    """A leak-hunting exercise, declared.

    Attributes
    ----------
    name : str
        Lower-case words joined by ``-`` (``"slow-leak-under-churn"``).
    level : int
        1 (one dump is enough), 2 (a decoy hides the culprit), 3 (it takes two dumps
        and care).
    skills : tuple of str
        What solving it practises.
    question : str
        What to find, in words; must not give the answer away.
    build : callable
        ``build(seed, rng) -> Scenario``; ``rng`` is a ``numpy.random.Generator``
        seeded from the name and seed: every random choice comes from it.
    fields : tuple of str
        The answer's fields (:data:`FIELDS`).
    tolerances : mapping
        Relative tolerance of each numeric field asked (default
        :data:`DEFAULT_TOLERANCES`).
    hints : tuple of str
        Shown one by one (``Exercise.hint()``); generic, never the answer.
    mem, nodes, profile, cmdline
        The machine (``pextlab.boot``); page_owner must be on.
    solver : str
        The reference strategy (:data:`SOLVERS`).
    """
    name: str
    level: int
    skills: tuple
    question: str
    build: Callable
    fields: tuple
    tolerances: Mapping = field(default_factory=dict)
    hints: tuple = ()
    mem: str = "512M"
    nodes: int = 1
    profile: str = "v6.12"
    cmdline: str = "page_owner=on"
    solver: str = "growth"

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PextlabError(f"exercise name must be 2-48 lower-case letters, digits, '.' and '-', "
                               f"got {self.name!r}")
        if not isinstance(self.level, int) or isinstance(self.level, bool) or not 1 <= self.level <= 3:
            raise PextlabError(f"{self.name}: level is 1, 2 or 3, got {self.level!r}")
        for attr in ("skills", "fields", "hints"):
            v = getattr(self, attr)
            v = (v,) if isinstance(v, str) else tuple(v)
            if not all(isinstance(x, str) and x for x in v):
                raise PextlabError(f"{self.name}: {attr} are non-empty strings")
            object.__setattr__(self, attr, v)
        if not self.fields:
            raise PextlabError(f"{self.name}: an exercise asks at least one field")
        unknown = [f for f in self.fields if f not in FIELDS]
        if unknown:
            raise PextlabError(f"{self.name}: unknown field(s) {unknown}; fields: {list(FIELDS)}")
        if len(set(self.fields)) != len(self.fields):
            raise PextlabError(f"{self.name}: a field is asked twice")
        tol = {f: DEFAULT_TOLERANCES[f] for f in self.fields if f in NUMERIC_FIELDS}
        for f, v in dict(self.tolerances).items():
            if f not in tol:
                raise PextlabError(f"{self.name}: a tolerance for {f!r}, which is not a numeric "
                                   f"field asked ({[x for x in self.fields if x in NUMERIC_FIELDS]})")
            if not (isinstance(v, (int, float)) and 0 < v <= 1):
                raise PextlabError(f"{self.name}: tolerance of {f} is a fraction in (0, 1], got {v!r}")
            tol[f] = float(v)
        object.__setattr__(self, "tolerances", tol)
        if not isinstance(self.question, str) or not self.question.strip():
            raise PextlabError(f"{self.name}: the question is a non-empty string")
        if not callable(self.build):
            raise PextlabError(f"{self.name}: build is a function (seed, rng) -> Scenario")
        if self.profile not in PROFILES:
            raise PextlabError(f"{self.name}: unknown profile {self.profile!r}; known: {sorted(PROFILES)}")
        if "page_owner=on" not in self.cmdline.split():
            raise PextlabError(f"{self.name}: the machine needs page_owner=on in its cmdline")
        if self.solver not in SOLVERS:
            raise PextlabError(f"{self.name}: solver is one of {SOLVERS}, got {self.solver!r}")
        if self.profile == "v3.19":
            # v3.19 prints no pid, comm, timestamps or migrate reason
            bad = [f for f in ("comm", "migrated_pages") if f in self.fields]
            if bad or self.solver == "partial":
                raise PextlabError(f"{self.name}: the v3.19 dump has no comm, timestamps or migrate "
                                   f"reason; it cannot ask {bad or 'the partial solver'}")


def pick(rng: np.random.Generator, seq):
    """One element of ``seq``, drawn with ``rng``."""
    seq = list(seq)
    return seq[int(rng.integers(len(seq)))]


def sample(rng: np.random.Generator, seq, k: int) -> list:
    """``k`` distinct elements of ``seq``, in the order drawn."""
    seq = list(seq)
    idx = rng.choice(len(seq), size=k, replace=False)
    return [seq[int(i)] for i in idx]
