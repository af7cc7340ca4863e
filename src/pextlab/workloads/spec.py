"""Workloads as plain data: frozen dataclasses you can save, load, compare and sweep.

A :class:`Task` is one allocating task (``comm``, ``pid``, ``tgid``) that
allocates blocks of one *kind* from the stack catalogue
(:mod:`pextlab.workloads.catalogue`): Poisson arrivals at ``rate`` events per
second, each event allocating ``batch`` blocks through one catalogue stack,
freed after a random lifetime -- or never, for hogs, pins and the leaked
fraction of a leaky task.  A :class:`Workload` is a tuple of tasks; ``mix``
and ``+`` compose them.  Nothing here touches a machine: running is
:func:`pextlab.workloads.runner.run`'s job.

Times are simulated nanoseconds, written as ``"60s"``, ``"250ms"``,
``"2min"`` or a number of seconds in the constructors.

>>> w = mix(anon("postgres", rate=2000, lifetime="2s"), leak("leaky", pages=5000, fraction=0.25))
>>> [t.comm for t in w.tasks]
['postgres', 'leaky']
>>> Workload.from_dict(w.to_dict()) == w
True
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import PextlabError

__all__ = ["Task", "Workload", "mix", "task", "anon", "page_cache", "slab", "page_tables",
           "kernel_stacks", "thp", "pipe_buffers", "burst", "hog", "pin", "leak", "load",
           "parse_duration", "LIFETIME_DISTS", "PIN_KINDS"]

NS_PER_S = 1_000_000_000
LIFETIME_DISTS = ("exp", "lognormal", "fixed")
PIN_KINDS = ("", "longterm", "shortterm")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": NS_PER_S, "sec": NS_PER_S,
          "m": 60 * NS_PER_S, "min": 60 * NS_PER_S, "h": 3600 * NS_PER_S}
_DUR = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")


def parse_duration(value) -> int:
    """``"60s"``, ``"250ms"``, ``"2min"``, ``1.5`` (seconds) -> nanoseconds.

    >>> parse_duration("250ms"), parse_duration(2), parse_duration("1.5min")
    (250000000, 2000000000, 90000000000)
    """
    if isinstance(value, bool):
        raise PextlabError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0 or value != value:
            raise PextlabError(f"duration must be >= 0 seconds, got {value!r}")
        return int(round(value * NS_PER_S))
    if isinstance(value, str):
        m = _DUR.match(value)
        if m and m.group(2) in _UNITS:
            return int(round(float(m.group(1)) * _UNITS[m.group(2)]))
        if m and m.group(2) == "":
            return int(round(float(m.group(1)) * NS_PER_S))
    raise PextlabError(f"not a duration: {value!r} (use e.g. '60s', '250ms', '2min' or seconds)")


def _opt_duration(value):
    return None if value is None else parse_duration(value)


@dataclass(frozen=True)
class Task:
    """One allocating task.

    Attributes
    ----------
    comm, kind : str
        Task name as page_owner prints it; catalogue kind of its allocations.
    rate : float
        Allocation events per second (Poisson arrivals).
    lifetime_ns : int or None
        Mean lifetime of a block (median for ``"lognormal"``); ``None``: never freed.
    lifetime_dist : {"exp", "lognormal", "fixed"}
    lifetime_sigma : float
        Shape of the lognormal distribution.
    count : int or None
        Total events; ``None``: arrivals until ``stop_ns`` or the end of the run.
    leak : float
        Fraction of events whose blocks are never freed: exactly
        ``round(leak * count)`` events (chosen at random) when ``count`` is set,
        else each event with probability ``leak``.
    start_ns, stop_ns : int, int or None
        Active window, relative to the start of the run.
    batch : int
        Blocks allocated per event (same stack, time and lifetime), e.g. the 4
        pages of a 16 KiB vmalloc'ed kernel stack.
    order, gfp : int or None
        Override the catalogue's order (stacks of that order are preferred) or mask.
    stacks : tuple of str
        Restrict to these catalogue ids (default: every stack of ``kind``,
        weighted by how often the real dumps held it).
    pid, tgid : int or None
        Default: assigned per comm when the task first runs (tgid = pid).
    nid : int or None
        Preferred node (default: tasks are spread over the nodes in order).
    label : str
        Free text kept with the task (``"hog"``, ``"leak"``...): ground truth
        for exercises, never used by the simulation.
    pin : {"", "longterm", "shortterm"}
        Pin each user page the task allocates (mm/gup.c pin_user_pages, with
        FOLL_LONGTERM for ``"longterm"``) until the task frees it.
    """
    comm: str
    kind: str
    rate: float
    lifetime_ns: int | None = NS_PER_S
    lifetime_dist: str = "exp"
    lifetime_sigma: float = 1.0
    count: int | None = None
    leak: float = 0.0
    start_ns: int = 0
    stop_ns: int | None = None
    batch: int = 1
    order: int | None = None
    gfp: int | None = None
    stacks: tuple[str, ...] = field(default_factory=tuple)
    pid: int | None = None
    tgid: int | None = None
    nid: int | None = None
    label: str = ""
    pin: str = ""

    def __post_init__(self):
        if not isinstance(self.comm, str) or not self.comm:
            raise PextlabError(f"comm must be a non-empty string, got {self.comm!r}")
        if len(self.comm) > 15:
            raise PextlabError(f"comm {self.comm!r} is longer than TASK_COMM_LEN-1 (15)")
        if not (isinstance(self.rate, (int, float)) and self.rate > 0 and math.isfinite(self.rate)):
            raise PextlabError(f"{self.comm}: rate must be > 0 events/s, got {self.rate!r}")
        if self.lifetime_ns is not None and self.lifetime_ns < 0:
            raise PextlabError(f"{self.comm}: lifetime must be >= 0")
        if self.lifetime_dist not in LIFETIME_DISTS:
            raise PextlabError(f"{self.comm}: lifetime_dist must be one of {LIFETIME_DISTS}")
        if not 0.0 <= self.leak <= 1.0:
            raise PextlabError(f"{self.comm}: leak is a fraction in [0, 1], got {self.leak!r}")
        if self.count is not None and self.count < 0:
            raise PextlabError(f"{self.comm}: count must be >= 0")
        if self.batch < 1:
            raise PextlabError(f"{self.comm}: batch must be >= 1")
        if self.stop_ns is not None and self.stop_ns < self.start_ns:
            raise PextlabError(f"{self.comm}: stop is before start")
        if self.pin not in PIN_KINDS:
            raise PextlabError(f"{self.comm}: pin must be one of {PIN_KINDS}, got {self.pin!r}")
        object.__setattr__(self, "stacks", tuple(self.stacks))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stacks"] = list(self.stacks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        known = {f.name for f in fields(cls)}
        extra = set(d) - known
        if extra:
            raise PextlabError(f"unknown task field(s) {sorted(extra)}")
        return cls(**{**d, "stacks": tuple(d.get("stacks", ()))})


@dataclass(frozen=True)
class Workload:
    """Tasks that run together (``mix(...)``); compose with ``+``."""
    tasks: tuple[Task, ...]
    name: str = ""

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(self.tasks))
        for t in self.tasks:
            if not isinstance(t, Task):
                raise PextlabError(f"a workload holds Tasks, got {type(t).__name__}")

    def __add__(self, other) -> "Workload":
        return mix(self, other, name=self.name)

    def __len__(self) -> int:
        return len(self.tasks)

    def to_dict(self) -> dict:
        return {"format": "pextlab.workload/1", "name": self.name,
                "tasks": [t.to_dict() for t in self.tasks]}

    @classmethod
    def from_dict(cls, d: dict) -> "Workload":
        if d.get("format") != "pextlab.workload/1":
            raise PextlabError(f"not a pextlab workload (format {d.get('format')!r})")
        return cls(tuple(Task.from_dict(t) for t in d["tasks"]), d.get("name", ""))

    def save(self, path) -> None:
        """Write the workload as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path) -> "Workload":
        return cls.from_dict(json.loads(Path(path).read_text()))


def load(path) -> Workload:
    """Read a workload saved with :meth:`Workload.save`."""
    return Workload.load(path)


def mix(*parts, name: str = "") -> Workload:
    """Compose tasks and workloads into one workload (order kept)."""
    tasks = []
    for p in parts:
        if isinstance(p, Task):
            tasks.append(p)
        elif isinstance(p, Workload):
            tasks.extend(p.tasks)
        elif isinstance(p, (list, tuple)):
            tasks.extend(mix(*p).tasks)
        else:
            raise PextlabError(f"mix() takes Tasks and Workloads, got {type(p).__name__}")
    return Workload(tuple(tasks), name)


# --- constructors ------------------------------------------------------------------------------

def task(comm: str, kind: str, rate: float, lifetime="1s", *, at=0, stop=None, **kw) -> Task:
    """A task of any catalogue kind; ``lifetime=None`` never frees.

    ``at``/``stop`` bound the active window (durations from the run's start);
    other keywords are :class:`Task` fields.
    """
    return Task(comm=comm, kind=kind, rate=float(rate), lifetime_ns=_opt_duration(lifetime),
                start_ns=parse_duration(at), stop_ns=_opt_duration(stop), **kw)


def anon(comm: str = "app", rate: float = 1000, lifetime="2s", **kw) -> Task:
    """Anonymous page faults (GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO, order 0)."""
    return task(comm, "anon", rate, lifetime, **kw)


def page_cache(comm: str = "cp", rate: float = 500, lifetime="10s", **kw) -> Task:
    """Page-cache folios (shmem writes in the real dumps; movable)."""
    return task(comm, "page_cache", rate, lifetime, **kw)


def slab(comm: str = "kworker/0:1", rate: float = 100, lifetime="5s", reclaimable: bool = False,
         **kw) -> Task:
    """Slab pages: unmovable caches, or reclaimable ones (dentries, inodes) with ``reclaimable``.

    Orders follow the real caches (0 to 3).
    """
    return task(comm, "slab_reclaimable" if reclaimable else "slab", rate, lifetime, **kw)


def page_tables(comm: str = "bash", rate: float = 50, lifetime="5s", **kw) -> Task:
    """Page-table pages (pte/pmd/pud/pgd; GFP_KERNEL_ACCOUNT|__GFP_ZERO, unmovable)."""
    return task(comm, "page_tables", rate, lifetime, **kw)


def kernel_stacks(comm: str = "kthreadd", rate: float = 10, lifetime="3s", **kw) -> Task:
    """Kernel stacks of new tasks: 4 vmalloc'ed order-0 pages per fork (16 KiB on x86_64)."""
    kw.setdefault("batch", 4)
    return task(comm, "kernel_stack", rate, lifetime, **kw)


def thp(comm: str = "qemu", rate: float = 2, lifetime="10s", **kw) -> Task:
    """Huge (order-9) movable pages.

    The real dumps hold no THP fault, so the stacks are the hugetlb pool's
    (``alloc_buddy_hugetlb_folio``, order 9, __GFP_THISNODE): same size and
    mobility, different caller.  Failures are counted; there is no fallback to
    base pages and no compaction.
    """
    kw.setdefault("order", 9)
    return task(comm, "huge", rate, lifetime, **kw)


def pipe_buffers(comm: str = "cat", rate: float = 200, lifetime="100ms", **kw) -> Task:
    """Pipe buffer pages (GFP_HIGHUSER|__GFP_ACCOUNT, unmovable), short-lived."""
    return task(comm, "pipe", rate, lifetime, **kw)


def burst(comm: str = "make", pages: int = 10_000, at="10s", within="500ms", lifetime="2s",
          kind: str = "anon", **kw) -> Task:
    """``pages`` order-0 blocks allocated around ``at``, at ``pages/within`` per second."""
    n = _events(pages, kw)
    return task(comm, kind, n / max(parse_duration(within) / NS_PER_S, 1e-9), lifetime, at=at,
                count=n, label=kw.pop("label", "burst"), **kw)


def hog(comm: str = "hog", pages: int = 100_000, ramp="5s", at=0, kind: str = "anon", **kw) -> Task:
    """A task that takes ``pages`` over ``ramp`` and holds them for good."""
    n = _events(pages, kw)
    return task(comm, kind, n / max(parse_duration(ramp) / NS_PER_S, 1e-9), None, at=at, count=n,
                label=kw.pop("label", "hog"), **kw)


def pin(comm: str = "rdma_app", pages: int = 10_000, ramp="1s", at=0, longterm: bool = True,
        hold=None, **kw) -> Task:
    """User memory faulted in and pinned (mm/gup.c pin_user_pages), ``pages`` over ``ramp``.

    ``longterm=True`` (FOLL_LONGTERM: RDMA, vfio): each page is first migrated out
    of CMA and ZONE_MOVABLE if it landed there, then pinned.  ``longterm=False``: a
    short-term pin (I/O in flight) of the page where it is -- in CMA too, where it
    makes cma_alloc fail while held.  ``hold``: how long each page stays pinned
    (then it is unpinned and freed); ``None``: for good, past the end of the run.
    Stacks are the dumps' ``__mm_populate``/``__get_user_pages`` ones; the task's
    page-table pages are allocated too, and never pinned.
    """
    n = _events(pages, kw)
    return task(comm, "populate", n / max(parse_duration(ramp) / NS_PER_S, 1e-9), hold, at=at,
                count=n, label=kw.pop("label", "pin"),
                pin="longterm" if longterm else "shortterm", **kw)


def leak(comm: str = "leaky", pages: int = 20_000, fraction: float = 0.25, over="30s",
         lifetime="1s", at=0, kind: str = "anon", **kw) -> Task:
    """A task whose allocations are mostly freed -- except ``fraction`` of them, ``pages`` in all.

    It makes ``ceil(pages / fraction)`` order-0 allocations (``batch`` 1) over
    ``over``; exactly ``pages`` of them, chosen at random, are never freed.
    """
    if not 0 < fraction <= 1:
        raise PextlabError(f"leak fraction must be in (0, 1], got {fraction!r}")
    if kw.get("batch", 1) != 1:
        raise PextlabError("leak() allocates one block per event (batch 1)")
    leaked = _events(pages, kw)
    n = math.ceil(leaked / fraction)
    return task(comm, kind, n / max(parse_duration(over) / NS_PER_S, 1e-9), lifetime, at=at,
                count=n, leak=leaked / n, label=kw.pop("label", "leak"), **kw)


def _events(pages: int, kw: dict) -> int:
    """Events needed for ``pages`` base pages with the order/batch in ``kw`` (order 0 default)."""
    kw.setdefault("order", 0)
    per = (1 << kw["order"]) * kw.get("batch", 1)
    if pages < 0 or pages % per:
        raise PextlabError(f"pages ({pages}) must be a non-negative multiple of "
                           f"{per} (order {kw['order']}, batch {kw.get('batch', 1)})")
    return pages // per
