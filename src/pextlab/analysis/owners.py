"""Leak-hunting views over the page_owner frame: top owners, ages, diffs, flame graphs.

Everything here takes ``page_owner`` frames (``pextlab.schema``: one row per
allocated block, ``nr_pages`` base pages each) and returns DataFrames or text;
nothing prints or plots.  The views follow what memory profilers users like
offer (toolkit-anchors §3): jeprof/heaptrack ``top`` with flat and cumulative
shares, bcc memleak's "outstanding and older than T", jeprof ``--base`` /
heaptrack diff between two snapshots, and Brendan Gregg's folded-stack format
for ``flamegraph.pl`` and speedscope.

A page_owner dump lists only blocks that are allocated when it is read, so
every row is "outstanding"; a leak shows up as a stack whose pages keep growing
between dumps and whose old pages survive.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "top_owners", "outstanding_by_age", "only_older_than", "diff_snapshots",
    "find_leak_suspects", "folded_stacks", "frame_function", "DEFAULT_AGE_BINS_NS",
]

_NS = 1_000_000_000
#: Default age bin edges (ns): 1 s, 10 s, 1 min, 10 min, 1 h.
DEFAULT_AGE_BINS_NS = (0, _NS, 10 * _NS, 60 * _NS, 600 * _NS, 3600 * _NS)


def _keys(by) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _check_weight(weight: str) -> str:
    if weight not in ("pages", "count"):
        raise ValueError(f"weight must be 'pages' or 'count', not {weight!r}")
    return weight


def _grouped(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """count and pages per key, in first-appearance order."""
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise KeyError(f"page_owner frame has no column(s) {missing}")
    g = df.groupby(keys, sort=False, observed=True, dropna=False)
    out = g.size().to_frame("count")
    out["pages"] = g["nr_pages"].sum()
    return out.reset_index()


def top_owners(df: pd.DataFrame, by: str | Sequence[str] = "stack", weight: str = "pages",
               n: int | None = 20) -> pd.DataFrame:
    """The biggest owners of outstanding pages, with flat and cumulative shares.

    Parameters
    ----------
    df : DataFrame
        A ``page_owner`` frame.
    by : str or list of str
        Column(s) to group on: ``"stack"``, ``"top_frame"``, ``"comm"``,
        ``"pid"``, ``"gfp"``, ``"migratetype"``, ``"order"``, ...
    weight : {"pages", "count"}
        Rank by base pages (``sum(nr_pages)``) or by number of blocks.
    n : int or None
        Keep the first ``n`` rows (``None``: all).

    Returns
    -------
    DataFrame
        ``by`` columns, then ``count`` (blocks), ``pages`` (base pages),
        ``share`` (this row's weight / the whole frame's) and ``cum_share``
        (running total of ``share``), sorted by ``weight`` then the other
        weight, descending.  When grouping by ``stack``, a ``top_frame``
        column (the first allocator-external function) follows the keys.

    Examples
    --------
    >>> df = pd.DataFrame({"comm": ["a", "b", "a", "c"], "nr_pages": [1, 4, 1, 2]})
    >>> top_owners(df, by="comm")
      comm  count  pages  share  cum_share
    0    b      1      4   0.50       0.50
    1    a      2      2   0.25       0.75
    2    c      1      2   0.25       1.00
    >>> top_owners(df, by="comm", weight="count", n=1)
      comm  count  pages  share  cum_share
    0    a      2      2    0.5        0.5
    """
    weight = _check_weight(weight)
    keys = _keys(by)
    out = _grouped(df, keys)
    other = "count" if weight == "pages" else "pages"
    out = out.sort_values([weight, other], ascending=False, kind="stable").reset_index(drop=True)
    total = out[weight].sum()
    out["share"] = out[weight] / total if total else 0.0
    out["cum_share"] = out["share"].cumsum()
    if "stack" in keys and "top_frame" not in keys and "top_frame" in df.columns:
        first = df.groupby(keys, sort=False, observed=True, dropna=False)["top_frame"].first()
        tf = out[keys].merge(first.rename("top_frame").reset_index(), on=keys, how="left")["top_frame"]
        out.insert(len(keys), "top_frame", tf.astype(object).to_numpy())
    if n is not None:
        out = out.head(n)
    return out


def _fmt_ns(ns: float) -> str:
    """A short duration label: 0s, 500ms, 10s, 1min, 10min, 1h."""
    if ns == 0:
        return "0s"
    for unit, size in (("h", 3600 * _NS), ("min", 60 * _NS), ("s", _NS), ("ms", 1_000_000),
                       ("us", 1_000), ("ns", 1)):
        if ns >= size:
            v = ns / size
            return f"{v:g}{unit}"
    return f"{ns:g}ns"


def outstanding_by_age(df: pd.DataFrame, now_ns: int | None = None,
                       bins: Sequence[int] = DEFAULT_AGE_BINS_NS) -> pd.DataFrame:
    """Outstanding pages by age (``now_ns - ts_ns``), youngest bin first.

    Parameters
    ----------
    df : DataFrame
        A ``page_owner`` frame.
    now_ns : int, optional
        The moment to measure ages at, on the kernel's ``local_clock`` (ns since
        boot).  Default: the newest allocation in the frame, a lower bound on
        when the dump was read.  Blocks allocated after ``now_ns`` are left out.
    bins : sequence of int
        Increasing age edges in ns; the last bin is open-ended.

    Returns
    -------
    DataFrame
        ``age`` (label such as ``"1s-10s"``, ``">=1h"``, or ``"unknown"`` for
        blocks without a timestamp), ``age_lo_ns``, ``age_hi_ns`` (``-1`` for the
        open end), ``count``, ``pages``, ``share`` (of pages in the table) and
        ``pages_older`` (pages at least ``age_lo_ns`` old: this bin and all older
        ones -- bcc memleak's ``-o`` threshold read as a table).

    Examples
    --------
    >>> df = pd.DataFrame({"ts_ns": [0, 5 * 10**9, 9 * 10**9, -1], "nr_pages": [1, 2, 4, 8]})
    >>> outstanding_by_age(df, now_ns=10 * 10**9, bins=[0, 2 * 10**9, 6 * 10**9])[["age", "count", "pages", "pages_older"]]
           age  count  pages  pages_older
    0    0s-2s      1      4            7
    1    2s-6s      1      2            3
    2     >=6s      1      1            1
    3  unknown      1      8            8
    """
    edges = [int(b) for b in bins]
    if len(edges) < 1 or any(b >= c for b, c in zip(edges, edges[1:])):
        raise ValueError("bins must be a non-empty increasing sequence of ns ages")
    ts = df["ts_ns"].to_numpy(dtype=np.int64)
    pages = df["nr_pages"].to_numpy(dtype=np.int64)
    known = ts >= 0
    if now_ns is None:
        now_ns = int(ts[known].max()) if known.any() else 0
    age = now_ns - ts
    in_range = known & (age >= 0) & (age >= edges[0])
    idx = np.searchsorted(np.asarray(edges, dtype=np.int64), age[in_range], side="right") - 1
    nb = len(edges)
    counts = np.bincount(idx, minlength=nb)[:nb]
    sums = np.bincount(idx, weights=pages[in_range], minlength=nb)[:nb].astype(np.int64)
    labels, his = [], []
    for i, lo in enumerate(edges):
        hi = edges[i + 1] if i + 1 < nb else -1
        labels.append(f"{_fmt_ns(lo)}-{_fmt_ns(hi)}" if hi >= 0 else f">={_fmt_ns(lo)}")
        his.append(hi)
    out = pd.DataFrame({"age": labels, "age_lo_ns": edges, "age_hi_ns": his,
                        "count": counts.astype(np.int64), "pages": sums})
    out["pages_older"] = out["pages"][::-1].cumsum()[::-1]
    if (~known).any():
        unk = pd.DataFrame({"age": ["unknown"], "age_lo_ns": [-1], "age_hi_ns": [-1],
                            "count": [int((~known).sum())], "pages": [int(pages[~known].sum())]})
        unk["pages_older"] = unk["pages"]
        out = pd.concat([out, unk], ignore_index=True)
    total = out["pages"].sum()
    out.insert(5, "share", out["pages"] / total if total else 0.0)
    return out


def only_older_than(df: pd.DataFrame, age_ns: int, now_ns: int | None = None) -> pd.DataFrame:
    """Rows allocated at least ``age_ns`` before ``now_ns`` (bcc memleak ``-o``).

    ``now_ns`` defaults to the newest allocation in the frame; rows without a
    timestamp (``ts_ns == -1``) are dropped.

    >>> df = pd.DataFrame({"ts_ns": [1, 5, 9, -1], "nr_pages": [1, 1, 1, 1]})
    >>> only_older_than(df, 4)["ts_ns"].tolist()
    [1, 5]
    """
    ts = df["ts_ns"]
    if now_ns is None:
        known = ts[ts >= 0]
        now_ns = int(known.max()) if len(known) else 0
    return df[(ts >= 0) & (now_ns - ts >= age_ns)]


def diff_snapshots(before: pd.DataFrame, after: pd.DataFrame,
                   by: str | Sequence[str] = "stack") -> pd.DataFrame:
    """Growth per key between two page_owner dumps (jeprof ``--base``, heaptrack diff).

    Returns
    -------
    DataFrame
        ``by`` columns, ``count_before``, ``count_after``, ``pages_before``,
        ``pages_after``, ``delta`` (``pages_after - pages_before``) and
        ``count_delta``; keys missing from one dump count as 0.  Sorted by
        ``delta`` descending (biggest growth first, biggest shrinkage last),
        then ``pages_after`` descending.

    Examples
    --------
    >>> a = pd.DataFrame({"comm": ["x", "y", "y"], "nr_pages": [1, 1, 1]})
    >>> b = pd.DataFrame({"comm": ["y", "y", "y", "z"], "nr_pages": [1, 1, 1, 4]})
    >>> print(diff_snapshots(a, b, by="comm").to_string())
      comm  count_before  count_after  pages_before  pages_after  delta  count_delta
    0    z             0            1             0            4      4            1
    1    y             2            3             2            3      1            1
    2    x             1            0             1            0     -1           -1
    """
    keys = _keys(by)
    gb = _grouped(before, keys).rename(columns={"count": "count_before", "pages": "pages_before"})
    ga = _grouped(after, keys).rename(columns={"count": "count_after", "pages": "pages_after"})
    for g in (gb, ga):
        for k in keys:
            if isinstance(g[k].dtype, pd.CategoricalDtype):
                g[k] = g[k].astype(object)
    out = ga.merge(gb, on=keys, how="outer", sort=False)
    for c in ("count_before", "count_after", "pages_before", "pages_after"):
        out[c] = out[c].fillna(0).astype(np.int64)
    out["delta"] = out["pages_after"] - out["pages_before"]
    out["count_delta"] = out["count_after"] - out["count_before"]
    out = out[keys + ["count_before", "count_after", "pages_before", "pages_after", "delta", "count_delta"]]
    return out.sort_values(["delta", "pages_after"], ascending=False, kind="stable").reset_index(drop=True)


def find_leak_suspects(before: pd.DataFrame, after: pd.DataFrame, by: str | Sequence[str] = "stack",
                       min_delta: int = 1, n: int | None = 20) -> pd.DataFrame:
    """Rank keys (stacks by default) by page growth between two dumps.

    A leak grows between dumps *and* its old pages stay allocated, so besides the
    growth this reports ``survived_pages``: pages of the key in ``after`` whose
    block (same ``pfn`` and allocation ``ts_ns``) was already there in
    ``before`` -- allocated before the first dump and never freed since.

    Parameters
    ----------
    before, after : DataFrame
        Two ``page_owner`` frames of the same boot, ``before`` taken first.
    by : str or list of str
        Grouping key(s), default ``"stack"``.
    min_delta : int
        Smallest growth in pages to report.
    n : int or None
        Keep the first ``n`` suspects.

    Returns
    -------
    DataFrame
        The :func:`diff_snapshots` columns for keys that grew by at least
        ``min_delta`` pages, plus ``growth`` (``pages_after / pages_before``,
        ``inf`` for new keys), ``new`` (absent before), ``share_of_growth``
        (of all positive growth), ``survived_pages``, ``comm`` (the comm owning
        most of the key's pages in ``after``) and ``top_frame`` when available.

    Examples
    --------
    >>> a = pd.DataFrame({"pfn": [1, 2], "ts_ns": [10, 20], "stack": ["s", "t"],
    ...                   "comm": ["k", "k"], "nr_pages": [1, 1]})
    >>> b = pd.DataFrame({"pfn": [1, 3, 4], "ts_ns": [10, 30, 31], "stack": ["s", "s", "s"],
    ...                   "comm": ["k", "leak", "leak"], "nr_pages": [1, 1, 1]})
    >>> find_leak_suspects(a, b)[["stack", "pages_before", "pages_after", "delta", "survived_pages", "comm"]]
      stack  pages_before  pages_after  delta  survived_pages  comm
    0     s             1            3      2               1  leak
    """
    keys = _keys(by)
    d = diff_snapshots(before, after, by=keys)
    d = d[d["delta"] >= min_delta].reset_index(drop=True)
    with np.errstate(divide="ignore"):
        d["growth"] = np.where(d["pages_before"] > 0,
                               d["pages_after"] / d["pages_before"].where(d["pages_before"] > 0, 1), np.inf)
    d["new"] = d["pages_before"] == 0
    total = d["delta"].sum()
    d["share_of_growth"] = d["delta"] / total if total else 0.0

    def _obj(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        f = frame[cols].copy()
        for c in cols:
            if isinstance(f[c].dtype, pd.CategoricalDtype):
                f[c] = f[c].astype(object)
        return f

    # Survivors: same block (pfn, ts) present in both dumps.
    if {"pfn", "ts_ns"} <= set(before.columns) and {"pfn", "ts_ns"} <= set(after.columns):
        a = _obj(after, keys + ["pfn", "ts_ns", "nr_pages"])
        b = before[["pfn", "ts_ns"]].drop_duplicates()
        surv = a.merge(b, on=["pfn", "ts_ns"], how="inner")
        surv = surv[surv["ts_ns"] >= 0].groupby(keys, sort=False, dropna=False)["nr_pages"].sum()
        d = d.merge(surv.rename("survived_pages").reset_index(), on=keys, how="left")
        d["survived_pages"] = d["survived_pages"].fillna(0).astype(np.int64)
    if "comm" in after.columns and "comm" not in keys:
        a = _obj(after, keys + ["comm", "nr_pages"])
        pc = a.groupby(keys + ["comm"], sort=False, dropna=False)["nr_pages"].sum().reset_index()
        pc = pc.sort_values("nr_pages", ascending=False, kind="stable").drop_duplicates(keys)
        d = d.merge(pc[keys + ["comm"]], on=keys, how="left")
    if "top_frame" in after.columns and "top_frame" not in keys and "stack" in keys:
        a = _obj(after, keys + ["top_frame"]).drop_duplicates(keys)
        d = d.merge(a, on=keys, how="left")
    if n is not None:
        d = d.head(n)
    return d


def frame_function(frame: str) -> str:
    """The function name of one stack frame, without ``+off/size``, module or address.

    >>> frame_function("xfs_file_read_iter+0x1f0/0x380 [xfs]")
    'xfs_file_read_iter'
    >>> frame_function("[<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00")
    '__alloc_pages_nodemask'
    """
    f = frame.strip()
    if f.startswith("[<"):
        parts = f.split("] ", 1)
        f = parts[1] if len(parts) > 1 else f
    return f.split("+", 1)[0].split(" ", 1)[0]


def _fold(stack) -> str:
    if stack is None or (isinstance(stack, float) and np.isnan(stack)) or stack == "":
        return "[no stack]"
    frames = [frame_function(f) for f in str(stack).split("\n") if f.strip()]
    return ";".join(reversed(frames)) if frames else "[no stack]"


def folded_stacks(df: pd.DataFrame, weight: str = "pages", root: str | None = None) -> str:
    """Brendan Gregg's folded-stack text for ``flamegraph.pl`` / speedscope.

    One line per distinct stack: function names root first (outermost caller
    first, the allocator last), joined by ``;``, a space and the weight.
    Offsets are dropped, so stacks that differ only in offsets share a line.
    Lines are sorted by the stack text.

    Parameters
    ----------
    df : DataFrame
        A ``page_owner`` frame.
    weight : {"pages", "count"}
        Base pages or number of blocks.
    root : str, optional
        A column (e.g. ``"comm"``) whose value is prepended as the root frame.

    Examples
    --------
    >>> df = pd.DataFrame({"stack": ["alloc+0x1/0x2\\nkmalloc+0x3/0x4\\nmain+0x5/0x6",
    ...                              "alloc+0x1/0x2\\nkmalloc+0x9/0x4\\nmain+0x5/0x6"],
    ...                    "comm": ["a", "b"], "nr_pages": [1, 2]}).astype({"stack": "category"})
    >>> print(folded_stacks(df), end="")
    main;kmalloc;alloc 3
    >>> print(folded_stacks(df, weight="count", root="comm"), end="")
    a;main;kmalloc;alloc 1
    b;main;kmalloc;alloc 1
    """
    weight = _check_weight(weight)
    if len(df) == 0:
        return ""
    stack = df["stack"]
    if not isinstance(stack.dtype, pd.CategoricalDtype):
        stack = stack.astype("category")
    cats = np.array([_fold(s) for s in stack.cat.categories] + ["[no stack]"], dtype=object)
    codes = stack.cat.codes.to_numpy()
    folded = pd.Series(cats[codes], index=df.index)  # code -1 (NaN) -> last entry
    if root is not None:
        r = df[root].astype(object).where(df[root].notna(), "[unknown]").astype(str)
        folded = r.str.replace(";", "_", regex=False) + ";" + folded
    w = df["nr_pages"] if weight == "pages" else pd.Series(1, index=df.index)
    sums = w.groupby(folded.to_numpy(), sort=True).sum()
    return "".join(f"{k} {int(v)}\n" for k, v in sums.items())
