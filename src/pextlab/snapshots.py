"""Snapshots: a machine's state frozen after a phase, with every ``df_*`` the machine has.

A real capture records each phase's /proc files (``buddyinfo.after_free.txt``
...); the simulator records a :class:`Snapshot` -- a private deep copy of the
machine taken at that moment, which answers every ``df_*`` (and ``proc``,
``debugfs``, ``dmesg``) exactly as the machine did then::

    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    m.run(pextlab.workloads.fragger(seed=1))
    m.snapshots["after_free"].df_pagetypeinfo()
    m.snapshot("mine")                         # take one by hand

:class:`SnapshotMixin` gives Machine ``snapshots``, ``snapshot(name)`` and a
``run`` that also accepts self-running workloads (objects with ``run_on``,
such as :func:`pextlab.workloads.fragger`), which take their phase snapshots
through it.  Snapshot frames are deterministic: the same scenario and seed give
identical frames.

If the kernel model has per-cpu page lists, a snapshot drains them first, as
reading /proc/pagetypeinfo with page_owner does on the real kernel (FRAG.md);
the zones' free counters before the drain are kept in ``Snapshot.predrain``.
"""
from __future__ import annotations

import copy

import pandas as pd

from .errors import PextlabError

__all__ = ["Snapshot", "SnapshotMixin"]

#: Machine attributes besides df_* that a snapshot answers
_PASSTHROUGH = ("proc", "debugfs", "dmesg", "page_ext_bytes", "profile", "layout", "cmdline",
                "seed", "spec")


def _drain(machine) -> dict:
    """Drain per-cpu page lists if the model has them; return per-zone counters before."""
    mm = machine.mm
    pre = {}
    for z in mm.populated_zones():
        pcp = getattr(z, "pcp_count", None)
        if pcp is None:
            pcp = getattr(z, "nr_pcp_pages", None)
        pre[(z.nid, z.name)] = {"free": int(z.free_pages),
                                "pcp": int(pcp() if callable(pcp) else (pcp or 0))}
    fn = getattr(machine, "drain_all_pages", None)
    if callable(fn):
        fn()
    else:
        try:
            from .kernel import pcp as _pcp          # the per-cpu list model, when present
        except ImportError:
            _pcp = None
        fn = getattr(_pcp, "drain_all_pages", None)
        if callable(fn):
            fn(mm)
    return pre


class Snapshot:
    """A frozen copy of a machine after a phase.

    Attributes
    ----------
    name : str
        The phase (``"after_free"``).
    time_ns : int
        The simulated clock when it was taken.
    info : dict
        What the taker recorded (fragger: ``summary`` frame, ``hugepages``).
    predrain : dict
        Per (node, zone): free pages and per-cpu pages before the drain.
    """

    def __init__(self, machine, name: str, info: dict | None = None):
        self.name = str(name)
        self.predrain = _drain(machine)
        self.time_ns = int(machine.mm.clock_ns)
        self.info = dict(info or {})
        self._m = _frozen_copy(machine)

    def __repr__(self):
        return f"<Snapshot {self.name!r} at {self.time_ns / 1e9:.3f} s of {self._m!r}>"

    def __getattr__(self, name):
        if name.startswith("df_") or name in _PASSTHROUGH:
            try:
                return getattr(self._m, name)
            except AttributeError:
                pass
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(f"a Snapshot is frozen: it has the machine's df_* frames, "
                             f"{', '.join(_PASSTHROUGH[:3])}, name, time_ns, info -- not {name!r}")

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | {n for n in dir(self._m) if n.startswith("df_")}
                      | set(_PASSTHROUGH))

    @property
    def mm(self):
        """The frozen kernel state (read it; changing it changes only this snapshot)."""
        return self._m.mm

    def frames(self) -> list[str]:
        """Names of the df_* frames this snapshot answers."""
        return sorted(n for n in dir(self._m) if n.startswith("df_") and callable(getattr(self._m, n)))


def _frozen_copy(machine):
    """Deep copy of the machine's state (not its snapshots; the stack catalogue is shared)."""
    memo: dict = {}
    snaps = machine.__dict__.get("_snapshots")
    if snaps is not None:
        memo[id(snaps)] = {}
    from .workloads.catalogue import load_catalogue
    cat = load_catalogue()
    memo[id(cat)] = cat
    mm = machine.mm
    for shared in (mm.profile, mm.layout, getattr(mm, "params", None)):
        if shared is not None:                     # immutable descriptions: share them
            memo[id(shared)] = shared
    run = machine.__dict__.get("_fragger_run")
    if run is not None:
        memo[id(run)] = None
    tables = _page_ext_tables(mm)
    for t in tables:                               # memoryviews cannot be copied: rebuilt below
        memo[id(t.fmv)] = None
        if t.omv is not None:
            memo[id(t.omv)] = None
    twin = copy.deepcopy(machine, memo)
    for t in tables:
        c = memo[id(t)]
        c.fmv = memoryview(c.flags)
        c.omv = None if c.owner is None else memoryview(c.owner)
    return twin


def _page_ext_tables(mm) -> list:
    """Every page_ext table-like object (with ``fmv``/``omv`` views) of the state."""
    found: dict[int, object] = {}
    for sec in mm.sections:
        t = getattr(sec, "page_ext", None) if sec is not None else None
        if t is not None and hasattr(t, "fmv"):
            found[id(t)] = t
            inner = getattr(t, "table", None)
            if inner is not None and hasattr(inner, "fmv"):
                found[id(inner)] = inner
    pe = getattr(mm, "page_ext", None)
    for v in (vars(pe).values() if pe is not None and hasattr(pe, "__dict__") else ()):
        vals = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else (v,)
        for t in vals:
            if hasattr(t, "fmv") and hasattr(t, "omv"):
                found[id(t)] = t
    return list(found.values())


class SnapshotMixin:
    """``snapshots``, ``snapshot(name)`` and self-running workloads for a Machine."""

    @property
    def snapshots(self) -> dict:
        """Phase name -> :class:`Snapshot`, in the order they were taken."""
        d = self.__dict__.get("_snapshots")
        if d is None:
            d = self.__dict__["_snapshots"] = {}
        return d

    def snapshot(self, name: str, **info) -> Snapshot:
        """Freeze the machine now as ``snapshots[name]`` (replacing one of that name)."""
        if not isinstance(name, str) or not name:
            raise PextlabError("a snapshot needs a non-empty name")
        s = Snapshot(self, name, info)
        self.snapshots[name] = s
        return s

    def df_snapshots(self) -> pd.DataFrame:
        """One row per snapshot: name, time, free pages and pageblocks per migratetype."""
        rows = []
        for name, s in self.snapshots.items():
            pb = s.df_pageblocks()
            bi = s.df_buddyinfo()
            free = (bi["nr_free"].to_numpy().astype("int64")
                    << bi["order"].to_numpy().astype("int64")).sum()
            row = {"snapshot": name, "time_s": s.time_ns / 1e9, "free_pages": int(free)}
            for mt, n in pb.groupby("migratetype", observed=True)["nr_blocks"].sum().items():
                row[f"blocks_{mt}"] = int(n)
            row["mixed"] = int(pb["nr_mixed"].sum())
            rows.append(row)
        return pd.DataFrame(rows)

    def run(self, workload, *args, **kwargs):
        """Run a workload.  Self-running workloads (``pextlab.workloads.fragger``) run their
        phases and take their snapshots here and return their run object; every other
        workload goes to the event-driven runner (see ``WorkloadMixin.run``)."""
        run_on = getattr(workload, "run_on", None)
        if callable(run_on):
            if args or kwargs:
                raise PextlabError(f"{type(workload).__name__} runs its own phases; "
                                   f"run() takes no other arguments for it")

            def snap(name, **info):
                fr = info.pop("fragger", None)
                if fr is not None:
                    info["summary"] = fr.summary()
                    info["probe"] = dict(fr.probe)
                self.snapshot(name, **info)

            r = run_on(self, snapshot=snap)
            self.__dict__["_fragger_run"] = r
            return r
        return super().run(workload, *args, **kwargs)
