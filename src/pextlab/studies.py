"""Ready-made fragmentation studies: boot, run fragger, measure -- one call per scenario.

Functions shaped for :func:`pextlab.sweep` (keyword arguments in, a DataFrame
out), so a grid of seeds, fallback policies and zone layouts is one line::

    from pextlab.studies import frag_study
    pextlab.sweep(frag_study, grid={"seed": range(10),
                                    "policy": ["v6.12", "no-mobility-grouping"]})

A facade-level module: it boots machines (:mod:`pextlab.machine`) and runs
workloads on them (:mod:`pextlab.workloads`); the figures come from
:mod:`pextlab.analysis.fragmentation`.
"""
from __future__ import annotations

import pandas as pd

from .analysis.fragmentation import frag_metrics
from .machine import Machine, boot
from .workloads.fragger import PROBE_PHASES, fragger

__all__ = ["boot_for_study", "frag_study"]


def boot_for_study(mem="1G", policy="v6.12", movable=None, cmdline: str = "page_owner=on",
                   seed: int = 0) -> Machine:
    """Boot a machine for a fragmentation study.

    ``policy`` is a fallback policy of ``pextlab.kernel.policy`` (``"v6.12"``,
    ``"v3.19"``, ``"no-mobility-grouping"``, ...; None: the profile's), passed
    to ``pextlab.boot``.  ``movable`` adds ``movablecore=`` (``True`` = 30 %,
    or a size/percentage string): a ZONE_MOVABLE.
    """
    if movable:
        cmdline = f"{cmdline} movablecore={'30%' if movable is True else movable}".strip()
    return boot(mem=mem, cmdline=cmdline, seed=seed, policy=policy)


def frag_study(seed: int = 1, policy: str = "v6.12", movable=False, mem="1G", fill: float = 0.75,
               rounds: int = 1, probe: bool = False, owners: bool = False,
               phases=None, compact: bool = False) -> pd.DataFrame:
    """Boot, run fragger, return :func:`~pextlab.analysis.fragmentation.frag_metrics` per phase
    (one row each, column ``phase`` first).

    ``phases`` picks the phases (default: after_fill, after_free and, with
    ``probe``, the probe's); ``owners`` adds ``blocks_with_unmovable``;
    ``compact`` (without ``probe``) runs ``compact_memory`` after the free phase
    and adds an ``after_compact`` row -- the cheap way to ask how much compaction
    can recover.  With ``probe``, ``hugepages_probe1`` / ``hugepages_probe2``
    give the pool sizes the probes got.  The figures are taken on the live
    machine at each phase: no snapshot copies.
    """
    m = boot_for_study(mem=mem, policy=policy, movable=movable)
    if phases is None:
        phases = ("after_fill", "after_free") + (PROBE_PHASES if probe else ())
    if compact and not probe:
        phases = tuple(phases) + ("after_compact",)
    rows = []

    def at(name, **_):
        if name in phases:
            rows.append({"phase": name, **frag_metrics(m, owners=owners)})

    r = fragger(seed=seed, fill=fill, rounds=rounds, probe=probe).run_on(m, snapshot=at)
    if compact and not probe:
        m.compact_memory()
        at("after_compact")
    t = pd.DataFrame(rows)
    if probe:
        for name in ("probe1", "probe2"):
            t[f"hugepages_{name}"] = r.probe.get(name, -1)
    return t
