"""The vm interfaces of a simulated machine: ``/proc/sys/vm/*`` (compaction,
the hugetlb pool, the fallback-related tunables), high-order probes, and the
fragmentation metrics sampled over time.

Each function takes the kernel state ``mm`` and drives the kernel module that
models the interface (:mod:`pextlab.kernel.compaction`,
:mod:`pextlab.kernel.hugetlb`); :class:`pextlab.Machine` forwards its verbs of
the same names here:

>>> import pextlab
>>> m = pextlab.boot("1G", cmdline="page_owner=on")
>>> m.set_nr_hugepages(16)                   # pages the pool got (direct compaction inside)
16
>>> sorted(m.compact_memory())[:2]           # the compaction counters' deltas
['compact_daemon_free_scanned', 'compact_daemon_migrate_scanned']
>>> m.sysctl("compaction_proactiveness")
20

Pfns of movable pages change under compaction.  Code that holds pfns of movable
allocations registers a callable on ``mm.migrate_notifiers``
(``Machine.on_migrate``); workload runs follow migrations by themselves.
"""
from __future__ import annotations

import pandas as pd

from .errors import PextlabError
from .frames import fragmentation as ffrag
from .kernel import compaction, hugetlb
from .kernel.page_alloc import alloc_pages, free_pages

__all__ = ["SYSCTLS", "sysctl", "compact_memory", "idle", "nr_hugepages", "set_nr_hugepages",
           "df_hugetlb", "probe_high_order", "df_compaction_stats", "vmstat_compaction",
           "FragmentationHistory"]

#: vm sysctls with a value: name -> (holder, attribute, min, max) where holder is
#: "compaction" (mm.compaction) or "mm"
SYSCTLS = {"compaction_proactiveness": ("compaction", "proactiveness", 0, 100),
           "extfrag_threshold": ("compaction", "extfrag_threshold", 0, 1000),
           "watermark_boost_factor": ("mm", "watermark_boost_factor", 0, 1 << 30)}


def _counter_delta(mm, ev0: dict) -> dict:
    ev = mm.vm_events
    return {k: ev.get(k, 0) - ev0.get(k, 0) for k in compaction.COUNTERS}


def sysctl(mm, name: str, value=None):
    """Read (``value=None``) or write a vm sysctl: ``compaction_proactiveness``,
    ``extfrag_threshold``, ``watermark_boost_factor``, ``nr_hugepages``,
    ``compact_memory`` (write only).  A value out of range is the kernel's -EINVAL,
    raised as PextlabError naming the range."""
    name = name.removeprefix("vm.")
    if name == "compact_memory":
        if value is not None:
            compact_memory(mm)
        return None
    if name == "nr_hugepages":
        return nr_hugepages(mm) if value is None else set_nr_hugepages(mm, int(value))
    if name not in SYSCTLS:
        raise PextlabError(f"unknown vm sysctl {name!r}; known: {', '.join(SYSCTLS)}, "
                           f"nr_hugepages, compact_memory")
    holder, attr, lo, hi = SYSCTLS[name]
    obj = mm.compaction if holder == "compaction" else mm
    if value is None:
        return getattr(obj, attr)
    v = int(value)
    if not lo <= v <= hi:
        raise PextlabError(f"vm.{name}: {v} is outside {lo}..{hi} (-EINVAL)")
    setattr(obj, attr, v)
    return v


def compact_memory(mm) -> dict:
    """``echo 1 > /proc/sys/vm/compact_memory``.  Returns the counter deltas."""
    ev0 = dict(mm.vm_events)
    compaction.compact_memory(mm)
    return _counter_delta(mm, ev0)


def idle(mm, seconds: float = 3.0) -> int:
    """Let time pass with no allocations: kswapd drops pending watermark boosts
    (waking kcompactd), kcompactd's proactive check runs every 500 ms.  Returns
    how many proactive passes ran (``sleep 3`` in frag-s1's /init = ``idle(3)``)."""
    return compaction.idle(mm, int(float(seconds) * 1e9))


def nr_hugepages(mm) -> int:
    """``/proc/sys/vm/nr_hugepages``."""
    return mm.hugetlb.nr_hugepages


def set_nr_hugepages(mm, n: int, comm: str = "sh", pid: int = 1) -> int:
    """``echo n > /proc/sys/vm/nr_hugepages``: grow or shrink the 2 MiB pool.
    Returns how many huge pages the pool has afterwards."""
    if int(n) < 0:
        raise PextlabError("nr_hugepages must be >= 0")
    return hugetlb.set_max_huge_pages(mm, int(n), comm=comm, pid=pid)


def df_hugetlb(mm) -> pd.DataFrame:
    """One row per nr_hugepages write: target, before, nr_hugepages and the
    compaction counters during the write."""
    return pd.DataFrame(mm.hugetlb.log)


def probe_high_order(mm, order: int = 9, n: int = 1, gfp="GFP_KERNEL|__GFP_NORETRY",
                     keep: bool = False, nid: int | None = None) -> dict:
    """Try ``n`` allocations of ``order`` with ``gfp`` (default: a THP-like try that
    compacts once and gives up); free them again unless ``keep``.  Returns
    {"requested", "succeeded", "first_failure", "pfns" (when kept), counter deltas}."""
    if not 0 <= int(order) <= mm.profile.max_page_order:
        raise PextlabError(f"order {order} is outside 0..{mm.profile.max_page_order}")
    mask = mm.gfp(gfp)
    ev0 = dict(mm.vm_events)
    got, first_fail = [], None
    for i in range(int(n)):
        p = alloc_pages(mm, mask, int(order), nid)
        if p < 0:
            if first_fail is None:
                first_fail = i
            continue
        got.append(p)
    out = {"requested": int(n), "succeeded": len(got), "first_failure": first_fail}
    if keep:
        out["pfns"] = got
    else:
        for p in got:
            free_pages(mm, p, int(order))
    out.update(_counter_delta(mm, ev0))
    return out


def df_compaction_stats(mm) -> pd.DataFrame:
    """One row per compaction run: time_ns, node, zone, order (-1: whole zone),
    mode, kind (direct/kcompactd/proactive/compact_memory), result,
    migrate_scanned, free_scanned, migrated, failed, pcp_pages_before_drain."""
    return ffrag.compaction_stats_frame(mm)


def vmstat_compaction(mm) -> dict:
    """The compaction/migration vmstat counters now."""
    ev = mm.vm_events
    return {k: ev.get(k, 0) for k in ffrag.VMSTAT_COLUMNS}


class FragmentationHistory:
    """The fragmentation samples a machine has taken (a recorder, not kernel state)."""

    def __init__(self):
        self.rows: list[dict] = []
        self.free_area: list[dict] = []
        self.nr_samples = 0

    def sample(self, mm, label: str | None = None) -> pd.DataFrame:
        """Measure every populated zone now and keep the rows; returns this sample's rows."""
        s = self.nr_samples
        self.nr_samples += 1
        rows = ffrag.fragmentation_rows(mm, s, label)
        self.rows.extend(rows)
        self.free_area.append(ffrag.free_area_rows(mm, s, label))
        return ffrag.frame_from_rows(rows)

    def df_fragmentation(self, mm, current: bool = True) -> pd.DataFrame:
        """Every sample, plus (``current``) the state now as a last sample labelled
        ``"now"`` (not stored).  Columns: see ``Machine.df_fragmentation``."""
        rows = list(self.rows)
        if current:
            rows += ffrag.fragmentation_rows(mm, self.nr_samples, "now")
        return ffrag.frame_from_rows(rows)

    def df_free_area_history(self, mm) -> pd.DataFrame:
        """Long form of the samples: free blocks and pages per sample, zone,
        migratetype and order."""
        return ffrag.free_area_frame(self.free_area, mm.profile.migratetype_names)
