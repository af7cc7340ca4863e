"""Fragmentation verbs and frames of a Machine: compaction, the hugetlb pool,
high-order probes, the fallback policy, and fragmentation metrics over time.

>>> m = pextlab.boot("1G", cmdline="page_owner=on")
>>> m.sample_fragmentation("boot")          # a row per zone into df_fragmentation()
>>> m.set_nr_hugepages(147)                  # -> pages the pool got (direct compaction inside)
>>> m.compact_memory()
>>> m.df_fragmentation()                     # every sample, one row per (sample, zone)

Pfns of movable pages change under compaction.  Code that holds pfns of
movable allocations registers a callable with :meth:`on_migrate`; the
Machine's workload runner is followed automatically (its pending frees are
re-pointed to the new pfns).
"""
from __future__ import annotations

import pandas as pd

from .errors import PextlabError
from .frames import fragmentation as ffrag
from .kernel import compaction, hugetlb, page_alloc, policy as kpolicy

__all__ = ["FragmentationMixin"]


class FragmentationMixin:
    """Machine verbs for fragmentation studies (``self.mm``)."""

    _frag_rows = None
    _frag_free_area = None

    # --- setup -----------------------------------------------------------------------------
    def _frag_init(self) -> None:
        """Called by ``pextlab.boot``: follow migrations for the workload runner."""
        self.on_migrate(self._frag_follow_run_log)

    def on_migrate(self, fn) -> None:
        """Register ``fn(moved, reason)``, called whenever pages migrate (compaction,
        memory hotplug) with ``moved`` = [(old_pfn, new_pfn, order)]."""
        lst = self.mm.migrate_notifiers
        if fn not in lst:
            lst.append(fn)

    def _frag_follow_run_log(self, moved, reason) -> None:
        log = getattr(self, "_wl_log", None)
        if log is None or not log.heap:
            return
        remap = {old: new for old, new, _ in moved}
        heap = log.heap
        for i, e in enumerate(heap):
            new = remap.get(e[2])
            if new is not None:
                heap[i] = e[:2] + (new,) + e[3:]       # (time, seq) order is unchanged

    # --- policy ----------------------------------------------------------------------------
    @property
    def policy(self):
        """The fallback policy (pextlab.kernel.policy).  Assign a name (``"v6.12"``,
        ``"v3.19"``, ``"no-grouping"``, ``"v6.12-unsplit"``), a class or an instance."""
        return self.mm.policy

    @policy.setter
    def policy(self, value) -> None:
        kpolicy.set_policy(self.mm, value)

    # --- tunables --------------------------------------------------------------------------
    def sysctl(self, name: str, value=None):
        """Read or write a vm sysctl of the model: ``compaction_proactiveness``,
        ``extfrag_threshold``, ``watermark_boost_factor``, ``nr_hugepages``,
        ``compact_memory`` (write only)."""
        st = compaction.compaction_state(self.mm)
        if name == "compact_memory":
            if value is not None:
                self.compact_memory()
            return None
        if name == "nr_hugepages":
            return self.nr_hugepages if value is None else self.set_nr_hugepages(int(value))
        attrs = {"compaction_proactiveness": (st, "proactiveness", 0, 100),
                 "extfrag_threshold": (st, "extfrag_threshold", 0, 1000),
                 "watermark_boost_factor": (self.mm, "watermark_boost_factor", 0, 1 << 30)}
        if name not in attrs:
            raise PextlabError(f"unknown vm sysctl {name!r}; known: {', '.join(attrs)}, "
                               f"nr_hugepages, compact_memory")
        obj, attr, lo, hi = attrs[name]
        if value is None:
            return getattr(obj, attr, 15000)
        v = int(value)
        if not lo <= v <= hi:
            raise PextlabError(f"vm.{name}: {v} is outside {lo}..{hi} (-EINVAL)")
        setattr(obj, attr, v)
        return v

    # --- compaction ------------------------------------------------------------------------
    def compact_memory(self) -> dict:
        """``echo 1 > /proc/sys/vm/compact_memory``.  Returns the counter deltas."""
        ev0 = dict(self.mm.vm_events)
        compaction.compact_memory(self.mm)
        return self._delta(ev0)

    def idle(self, seconds: float = 3.0) -> int:
        """Let time pass with no allocations: kswapd drops pending watermark boosts
        (waking kcompactd), kcompactd's proactive check runs every 500 ms.  Returns
        how many proactive passes ran (``sleep 3`` in frag-s1's /init = ``idle(3)``)."""
        return compaction.idle(self.mm, int(float(seconds) * 1e9))

    def _delta(self, ev0: dict) -> dict:
        ev = self.mm.vm_events
        return {k: ev.get(k, 0) - ev0.get(k, 0) for k in compaction.COUNTERS}

    def df_compaction_stats(self) -> pd.DataFrame:
        """One row per compaction run: time_ns, node, zone, order (-1: whole zone),
        mode, kind (direct/kcompactd/proactive/compact_memory), result,
        migrate_scanned, free_scanned, migrated, failed, pcp_pages_before_drain."""
        return ffrag.compaction_stats_frame(self.mm)

    def vmstat_compaction(self) -> dict:
        """The compaction/migration vmstat counters now."""
        ev = self.mm.vm_events
        return {k: ev.get(k, 0) for k in ffrag.VMSTAT_COLUMNS}

    # --- hugetlb and probes ----------------------------------------------------------------
    @property
    def nr_hugepages(self) -> int:
        pool = self.mm.hugetlb
        return 0 if pool is None else pool.nr_hugepages

    def set_nr_hugepages(self, n: int, comm: str = "sh", pid: int = 1) -> int:
        """``echo n > /proc/sys/vm/nr_hugepages``: grow or shrink the 2 MiB pool.
        Returns how many huge pages the pool has afterwards."""
        if int(n) < 0:
            raise PextlabError("nr_hugepages must be >= 0")
        return hugetlb.set_max_huge_pages(self.mm, int(n), comm=comm, pid=pid)

    def df_hugetlb(self) -> pd.DataFrame:
        """One row per nr_hugepages write: target, before, nr_hugepages and the
        compaction counters during the write."""
        return pd.DataFrame(hugetlb.hugetlb_pool(self.mm).log)

    def probe_high_order(self, order: int = 9, n: int = 1, gfp="GFP_KERNEL|__GFP_NORETRY",
                         keep: bool = False, nid: int | None = None) -> dict:
        """Try ``n`` allocations of ``order`` with ``gfp`` (default: a THP-like try that
        compacts once and gives up); free them again unless ``keep``.  Returns
        {"requested", "succeeded", "first_failure", "pfns" (when kept), counter deltas}."""
        mm = self.mm
        if not 0 <= int(order) <= mm.profile.max_page_order:
            raise PextlabError(f"order {order} is outside 0..{mm.profile.max_page_order}")
        mask = mm.gfp(gfp)
        ev0 = dict(mm.vm_events)
        got, first_fail = [], None
        A = page_alloc.alloc_pages
        for i in range(int(n)):
            p = A(mm, mask, int(order), nid)
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
                page_alloc.free_pages(mm, p, int(order))
        out.update(self._delta(ev0))
        return out

    # --- metrics over time -----------------------------------------------------------------
    def sample_fragmentation(self, label: str | None = None) -> pd.DataFrame:
        """Measure every populated zone now and keep the rows (a sampling hook for
        workloads and notebooks).  Returns this sample's rows."""
        if self._frag_rows is None:
            self._frag_rows = []
            self._frag_free_area = []
        s = 1 + max((r["sample"] for r in self._frag_rows), default=-1)
        rows = ffrag.fragmentation_rows(self.mm, s, label)
        self._frag_rows.extend(rows)
        self._frag_free_area.append(ffrag.free_area_rows(self.mm, s, label))
        return ffrag.frame_from_rows(rows)

    def df_fragmentation(self, current: bool = True) -> pd.DataFrame:
        """Fragmentation metrics, one row per (sample, zone): every sample taken with
        :meth:`sample_fragmentation`, plus (``current=True``) the state now as the
        last sample labelled ``"now"`` (not stored).

        Columns: sample, label, time_s, node, zone, managed_pages, free_pages,
        free_pages_ge_pb, free_blocks_ge_pb, free_o0..free_o10 (free pages per
        order), free_<migratetype> (pages on each type's lists),
        blocks_<migratetype>, mixed_<migratetype> (-1 without page_owner),
        mixed_total, unusable_o0..o10, extfrag_o0..o10 (fractions, -1.0 = a block
        is free), fragmentation_score (percent, proactive compaction's),
        watermark_boost, nr_hugepages, and the vmstat counters compact_stall,
        compact_success, compact_fail, compact_migrate_scanned,
        compact_free_scanned, compact_isolated, compact_daemon_*,
        pgmigrate_success, pgmigrate_fail, pageoutrun,
        pgsteal_fallback_claim/single (cumulative, machine-wide).
        """
        rows = list(self._frag_rows or [])
        if current:
            s = 1 + max((r["sample"] for r in rows), default=-1)
            rows += ffrag.fragmentation_rows(self.mm, s, "now")
        return ffrag.frame_from_rows(rows)

    def df_free_area_history(self) -> pd.DataFrame:
        """Long form of the samples: free blocks (nr_free) and pages per sample, zone,
        migratetype and order."""
        return ffrag.free_area_frame(list(self._frag_free_area or []),
                                     self.mm.profile.migratetype_names)
