"""Fragmentation metrics of a simulated machine, as frames (one sample at a time).

``fragmentation_rows(mm, ...)`` measures every populated zone now; a Machine keeps
the rows of each sample (``pextlab.vm.FragmentationHistory``) and
``df_fragmentation`` stacks them.  Every figure is computed the kernel's way:

* free pages per order (``nr_free[o] << o``) and per migratetype list
  (/proc/buddyinfo, /proc/pagetypeinfo);
* free pages at order >= pageblock_order (what a 2 MiB allocation can use);
* pageblocks per migratetype and mixed pageblocks (pagetypeinfo's "Number of
  mixed blocks", from the page_owner records: -1 when page_owner is off);
* ``unusable_index`` / ``extfrag_index`` per order (debugfs extfrag, integer
  arithmetic, as fractions) and the zone's proactive-compaction fragmentation
  score (``extfrag_for_order`` at pageblock_order, percent);
* the compaction/migration vmstat counters (machine-wide, repeated per zone row).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..kernel.gfp import ZONE_NAMES
from ..kernel.vmstat import fragmentation_index, unusable_index
from ..kernel.buddy import zone_watermark_boost
from ..kernel.compaction import fragmentation_score_zone
from ._pageblocks import zone_pageblocks
from .sim import mixed_block_counts

__all__ = ["fragmentation_rows", "free_area_rows", "frame_from_rows", "free_area_frame",
           "compaction_stats_frame", "VMSTAT_COLUMNS"]

VMSTAT_COLUMNS = ("compact_stall", "compact_success", "compact_fail", "compact_migrate_scanned",
                  "compact_free_scanned", "compact_isolated", "compact_daemon_wake",
                  "compact_daemon_migrate_scanned", "compact_daemon_free_scanned",
                  "pgmigrate_success", "pgmigrate_fail", "pageoutrun",
                  "pgsteal_fallback_claim", "pgsteal_fallback_single",
                  "pgscan_kswapd", "pgsteal_kswapd", "pgscan_direct", "pgsteal_direct", "oom_kill")


def fragmentation_rows(mm, sample: int = 0, label: str | None = None) -> list[dict]:
    """One dict per populated zone with every metric (see the module docstring)."""
    prof = mm.profile
    names = prof.migratetype_names
    pb = mm.pageblock_order
    n = mm.nr_orders
    ev = mm.vm_events
    show_mixed = mm.page_owner is not None
    pool = mm.hugetlb
    rows = []
    for z in mm.populated_zones():
        r = {"sample": sample, "label": label, "time_s": mm.clock_ns / 1e9, "node": z.nid,
             "zone": z.name, "managed_pages": z.managed_pages, "free_pages": z.free_pages}
        ge = sum(z.nr_free[o] << o for o in range(pb, n))
        r["free_pages_ge_pb"] = ge
        r["free_blocks_ge_pb"] = ge >> pb
        for o in range(n):
            r[f"free_o{o}"] = z.nr_free[o] << o
        for mt, name in enumerate(names):
            r[f"free_{name}"] = z.free_mt[mt]
        _, mts = zone_pageblocks(mm, z)
        mts = mts[mts >= 0]
        nb = np.bincount(mts, minlength=len(names))[:len(names)]
        mixed = mixed_block_counts(mm, z) if show_mixed else np.full(len(names), -1)
        for mt, name in enumerate(names):
            r[f"blocks_{name}"] = int(nb[mt])
        for mt, name in enumerate(names):
            r[f"mixed_{name}"] = int(mixed[mt])
        r["mixed_total"] = int(mixed.sum()) if show_mixed else -1
        for o in range(n):
            r[f"unusable_o{o}"] = unusable_index(z.nr_free, o) / 1000
        for o in range(n):
            r[f"extfrag_o{o}"] = fragmentation_index(z.nr_free, o) / 1000
        r["fragmentation_score"] = fragmentation_score_zone(mm, z)
        r["watermark_boost"] = zone_watermark_boost(mm, z)
        r["nr_hugepages"] = sum(1 for p in pool.pages.get(z.nid, ()) if mm.zone_of_pfn(p) is z)
        for c in VMSTAT_COLUMNS:
            r[c] = ev.get(c, 0)
        rows.append(r)
    return rows


def free_area_rows(mm, sample: int = 0, label: str | None = None) -> dict:
    """Long-form columns: free blocks and pages per (zone, migratetype, order)."""
    names = mm.profile.migratetype_names
    n = mm.nr_orders
    cols = {k: [] for k in ("sample", "label", "time_s", "node", "zone", "migratetype", "order",
                            "nr_free", "pages")}
    for z in mm.populated_zones():
        for mt, name in enumerate(names):
            for o in range(n):
                c = len(z.free_area[o][mt])
                cols["sample"].append(sample)
                cols["label"].append(label)
                cols["time_s"].append(mm.clock_ns / 1e9)
                cols["node"].append(z.nid)
                cols["zone"].append(z.name)
                cols["migratetype"].append(name)
                cols["order"].append(o)
                cols["nr_free"].append(c)
                cols["pages"].append(c << o)
    return cols


def frame_from_rows(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    if len(df):
        df["zone"] = pd.Categorical(df["zone"], categories=list(ZONE_NAMES))
        df["label"] = df["label"].astype("object")
    return df


def free_area_frame(parts: list[dict], names) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["sample", "label", "time_s", "node", "zone", "migratetype",
                                     "order", "nr_free", "pages"])
    cols = {k: sum((p[k] for p in parts), []) for k in parts[0]}
    df = pd.DataFrame(cols)
    df["zone"] = pd.Categorical(df["zone"], categories=list(ZONE_NAMES))
    df["migratetype"] = pd.Categorical(df["migratetype"], categories=list(names))
    return df


def compaction_stats_frame(mm) -> pd.DataFrame:
    """One row per compaction run (compact_zone): when, where, why, what it did."""
    cols = ["time_ns", "node", "zone", "order", "mode", "kind", "result", "migrate_scanned",
            "free_scanned", "migrated", "failed", "pcp_pages_before_drain"]
    hist = mm.compaction.history
    df = pd.DataFrame(hist, columns=cols)
    df["zone"] = pd.Categorical(df["zone"], categories=list(ZONE_NAMES))
    for c in ("kind", "mode", "result"):
        df[c] = df[c].astype("category")
    return df
