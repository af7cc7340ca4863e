"""Plots of fragmentation: metrics over time, a pageblock map coloured by type and
mixedness, free pages per order.  Each function returns the matplotlib Axes."""
from __future__ import annotations

import numpy as np

__all__ = ["plot_fragmentation_timeseries", "plot_pageblock_map", "plot_free_orders"]

_MT_COLORS = {"Unmovable": "#d62728", "Movable": "#2ca02c", "Reclaimable": "#1f77b4",
              "HighAtomic": "#9467bd", "CMA": "#8c564b", "Isolate": "#7f7f7f",
              "Reserve": "#9467bd"}


def _axes(ax, figsize=(8, 3.5)):
    if ax is None:
        import matplotlib.pyplot as plt
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_fragmentation_timeseries(df, metrics=("free_pages_ge_pb", "unusable_o9", "mixed_total"),
                                  zone: str | None = "DMA32", x: str = "sample", ax=None):
    """Metrics of ``df_fragmentation()`` against the sample (labels on the x axis) or
    ``time_s``; one line per metric, each scaled to its own maximum when they differ
    in unit (the legend gives the maximum)."""
    ax = _axes(ax)
    d = df if zone is None else df[df["zone"] == zone]
    if zone is None:
        d = d.groupby("sample", as_index=False).agg({**{m: "sum" for m in metrics},
                                                      "label": "first", "time_s": "first"})
    xs = d[x].to_numpy()
    for mname in metrics:
        y = d[mname].to_numpy(dtype=float)
        top = np.nanmax(np.abs(y)) if len(y) else 1.0
        scale = top if len(metrics) > 1 and top > 0 else 1.0
        ax.plot(xs, y / scale, marker="o", label=f"{mname} (max {top:g})" if scale != 1 else mname)
    if x == "sample" and "label" in d:
        ax.set_xticks(xs)
        ax.set_xticklabels([str(lb) if lb is not None else str(s) for s, lb in zip(xs, d["label"])],
                           rotation=30, ha="right")
    ax.set_xlabel(x)
    ax.set_ylabel("fraction of max" if len(metrics) > 1 else metrics[0])
    ax.set_title(f"fragmentation over time{'' if zone is None else ' (' + zone + ')'}")
    ax.legend(fontsize="small")
    return ax


def pageblock_table(mm):
    """Per pageblock of every populated zone: start pfn, migratetype name, mixed (has an
    allocated page of another gfp migratetype; page_owner only), free pages."""
    import pandas as pd
    from ..frames.sim import zone_pageblocks as _zone_pageblocks
    from ..kernel.mmzone import PG_BUDDY
    names = mm.profile.migratetype_names
    pb = mm.pageblock_order
    rows = []
    df_po = None
    if mm.page_owner is not None:
        from ..frames.sim import df_page_owner
        df_po = df_page_owner(mm)
    mixed_starts = set()
    if df_po is not None and len(df_po):
        mx = df_po[df_po["mixed"]]
        mixed_starts = set(((mx["pfn"].to_numpy() >> pb) << pb).tolist())
    for z in mm.populated_zones():
        starts, mts = _zone_pageblocks(mm, z)
        for s, mt in zip(starts.tolist(), mts.tolist()):
            if mt < 0:
                continue
            sec = mm.sections[s >> mm.section_shift]
            off = s & mm.section_mask
            fl = sec.flags_np()[off:off + (1 << pb)]
            od = sec.order_np()[off:off + (1 << pb)]
            idx = np.flatnonzero(fl & PG_BUDDY)
            free = int(np.sum(np.left_shift(1, od[idx].astype(np.int64)))) if len(idx) else 0
            rows.append((z.nid, z.name, s, names[mt], s in mixed_starts, min(free, 1 << pb)))
    return pd.DataFrame(rows, columns=["node", "zone", "pfn", "migratetype", "mixed", "free_pages"])


def plot_pageblock_map(machine_or_mm, width: int = 64, ax=None):
    """Every pageblock as a cell (rows of ``width`` blocks, pfn order): colour = its
    migratetype, hatched = mixed, lighter = more of it free."""
    from matplotlib.colors import to_rgb
    from matplotlib.patches import Patch
    mm = getattr(machine_or_mm, "mm", machine_or_mm)
    t = pageblock_table(mm)
    n = len(t)
    h = max(1, (n + width - 1) // width)
    ax = _axes(ax, figsize=(10, max(2.0, h * 0.18 + 1)))
    img = np.ones((h, width, 3))
    pbn = 1 << mm.pageblock_order
    for i, (mt, free) in enumerate(zip(t["migratetype"], t["free_pages"])):
        c = np.array(to_rgb(_MT_COLORS.get(mt, "#000000")))
        f = free / pbn
        img[i // width, i % width] = c * (1 - 0.7 * f) + 0.7 * f
    ax.imshow(img, aspect="auto", interpolation="nearest")
    mix = np.flatnonzero(t["mixed"].to_numpy())
    if len(mix):
        ax.scatter(mix % width, mix // width, marker="x", s=12, c="black", linewidths=0.8)
    ax.set_xticks([])
    ax.set_yticks(range(h))
    ax.set_yticklabels([f"{int(t['pfn'].iloc[r * width]):#x}" for r in range(h)], fontsize=6)
    handles = [Patch(color=_MT_COLORS.get(nm, "#000"), label=nm) for nm in sorted(set(t["migratetype"]))]
    handles.append(Patch(facecolor="white", edgecolor="black", label="x = mixed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    ax.set_title(f"pageblocks ({n}; lighter = more free)")
    return ax


def plot_free_orders(df_or_machine, sample=None, zone: str | None = "DMA32", by_migratetype=True,
                     ax=None):
    """Free pages per order (a histogram of buddyinfo in pages), stacked by migratetype.
    Takes a Machine (its state now) or ``df_free_area_history()`` (``sample``: which one,
    default the last)."""
    import pandas as pd
    if hasattr(df_or_machine, "df_pagetypeinfo"):
        d = df_or_machine.df_pagetypeinfo()
        d = d.assign(pages=d["nr_free"].to_numpy() * np.left_shift(1, d["order"].to_numpy().astype(np.int64)))
    else:
        d = df_or_machine
        s = d["sample"].max() if sample is None else sample
        d = d[d["sample"] == s]
    if zone is not None:
        d = d[d["zone"] == zone]
    ax = _axes(ax)
    piv = d.pivot_table(index="order", columns="migratetype", values="pages", aggfunc="sum",
                        observed=True).fillna(0)
    piv = piv.loc[:, piv.sum() > 0] if len(piv.columns) else piv
    if not by_migratetype:
        piv = pd.DataFrame({"free": piv.sum(axis=1)})
    bottom = np.zeros(len(piv))
    for c in piv.columns:
        ax.bar(piv.index, piv[c].to_numpy(), bottom=bottom, label=str(c),
               color=_MT_COLORS.get(str(c)))
        bottom += piv[c].to_numpy()
    ax.set_xlabel("order")
    ax.set_ylabel("free pages")
    ax.set_xticks(list(piv.index))
    ax.set_title(f"free pages per order{'' if zone is None else ' (' + zone + ')'}")
    ax.legend(fontsize="small")
    return ax
