"""Snapshots: a machine's state frozen after a phase, with every ``df_*`` the machine has.

A real capture records each phase's /proc files (``buddyinfo.after_free.txt``
...); the simulator records a :class:`Snapshot` -- a private deep copy of the
machine taken at that moment, which answers every ``df_*`` (and ``proc``,
``debugfs``, ``dmesg``) exactly as the machine did then::

    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    m.run(pextlab.workloads.fragger(seed=1))
    m.snapshots["after_free"].df_pagetypeinfo()
    m.snapshot("mine")                         # take one by hand

Taking a snapshot reads the machine's /proc files, so it first drains the
per-cpu page lists when the machine has them, as reading /proc/pagetypeinfo
with page_owner does on the real kernel (pagetypeinfo_showmixedcount calls
drain_all_pages, mm/vmstat.c); the zones' free and pcp counts before the drain
are kept in ``Snapshot.predrain``.  Snapshot frames are deterministic: the same
scenario and seed give identical frames.
"""
from __future__ import annotations

import copy

from .kernel.pcp import drain_all_pages, nr_pcp_pages
from .workloads.catalogue import load_catalogue

__all__ = ["Snapshot", "SNAPSHOT_ATTRIBUTES"]

#: Machine attributes besides df_* that a snapshot answers
SNAPSHOT_ATTRIBUTES = ("proc", "debugfs", "dmesg", "page_ext_bytes", "profile", "layout",
                       "cmdline", "seed", "spec", "mm")


class Snapshot:
    """A frozen copy of a machine after a phase.

    Attributes
    ----------
    name : str
        The phase (``"after_free"``).
    time_ns : int
        The simulated clock when it was taken.
    info : dict
        What the taker recorded (fragger: ``summary`` frame, ``probe``).
    predrain : dict
        Per (node, zone): free pages and per-cpu pages before the drain.
    """

    def __init__(self, machine, name: str, info: dict | None = None):
        mm = machine.mm
        self.name = str(name)
        self.predrain = {(z.nid, z.name): {"free": int(z.free_pages), "pcp": nr_pcp_pages(mm, z)}
                         for z in mm.populated_zones()}
        drain_all_pages(mm)
        self.time_ns = int(mm.clock_ns)
        self.info = dict(info or {})
        self.machine = _frozen_copy(machine)

    def __repr__(self):
        return f"<Snapshot {self.name!r} at {self.time_ns / 1e9:.3f} s of {self.machine!r}>"

    def __getattr__(self, name):
        # only reached for names not set in __init__: the frozen machine's frames
        if name.startswith("df_") or name in SNAPSHOT_ATTRIBUTES:
            return getattr(self.machine, name)
        raise AttributeError(f"a Snapshot is frozen: it has the machine's df_* frames, "
                             f"{', '.join(SNAPSHOT_ATTRIBUTES)}, name, time_ns, info, predrain "
                             f"-- not {name!r}")

    def __dir__(self):
        return sorted(set(object.__dir__(self)) | set(self.frames()) | set(SNAPSHOT_ATTRIBUTES))

    def frames(self) -> list[str]:
        """Names of the df_* frames this snapshot answers."""
        return sorted(n for n in dir(type(self.machine)) if n.startswith("df_"))


def _frozen_copy(machine):
    """Deep copy of the machine (not its snapshots, not the fragger run object that
    took it; the immutable descriptions -- profile, layout, command line, the stack
    catalogue -- are shared)."""
    mm = machine.mm
    memo = {id(machine.snapshots): {}, id(machine.fragger_run): None}
    for shared in (mm.profile, mm.layout, mm.params, load_catalogue()):
        memo[id(shared)] = shared
    return copy.deepcopy(machine, memo)
