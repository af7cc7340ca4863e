"""``page_owner_sort`` on a page_owner DataFrame.

The kernel ships ``tools/mm/page_owner_sort`` to summarise a dump of
``/sys/kernel/debug/page_owner``.  This module reproduces the 6.12 tool's
behaviour (see ``kernel-reference.md`` §3) as a pandas pipeline over the
``page_owner`` frame (``pextlab.schema.SCHEMAS["page_owner"]``):

1. **select** blocks whose pid / tgid / comm appear in ``--pid`` / ``--tgid`` /
   ``--name`` lists (exact matches; all given lists must match);
2. **cull** (group) them, either by the whole *block text* (no ``--cull``) or by
   the user's rules -- ``stacktrace``, ``pid``, ``tgid``, ``name``, ``allocator``;
   each group's ``times`` (records) and ``pages`` (``sum(1 << order)``) are summed;
3. **sort** the groups by the tool's keys, default ``-t``: times, descending.

Block text
----------
The tool collates on the text of each record minus its ``PFN ...`` line.  The
frame does not keep that text, so it is *reconstructed from the frame's fields
in the 6.12 format* (this module does not use the reader's formatter)::

    Page allocated via order 0, mask 0x140dca(GFP_HIGHUSER_MOVABLE|...), pid 185, tgid 185 (leaky), ts  ns
     get_page_from_freelist+0x1673/0x1730
     ...
    Page has been migrated, last migrate reason: compaction     (only when migrated)

Since 6.7 the tool deletes the timestamp digits before collating (leaving
``ts  ns``) unless the primary sort key is the allocation time, so identical
records from different moments collate; ``page_owner_sort`` does the same.
The "stacktrace" is the text after the first line (the stack lines and the
migrate-reason line).  memcg lines (``Charged ...``) are not in the frame schema
and so never appear in the reconstructed text.

Allocator classification
------------------------
As the tool: ``CMA`` when the PFN line says ``CMA`` (frame: ``migratetype`` or
``pageblock_migratetype`` is ``"CMA"``); ``SLAB`` when the PFN line's flags
contain ``slab`` -- the schema has no page-flags column, so this is only
detected when the frame carries an optional text column ``flags`` (on 6.10+
kernels PG_slab is a page type and never printed in the flags, so real 6.12
dumps never classify as SLAB either); ``VMALLOC`` when the first
``__vmalloc_node_range`` frame is preceded by a frame containing
``alloc_pages``; otherwise ``OTHERS``.  Several may apply at once.

Ties and representatives
------------------------
The C tool uses ``qsort`` (unstable), so the order of equal-keyed groups and
which record's pid/comm/ts represents a merged group are unspecified there.
Here the representative is the group's first record in frame (file) order and
ties are broken by the cull comparison keys, ascending (the order the tool's
first ``qsort`` produces), so results are deterministic.

Differences from the 6.12 C tool (deliberate)
---------------------------------------------
* ``--sort`` is honoured.  In 6.7-6.12 the single-letter default (``-t``) is
  applied *after* option parsing and silently replaces a ``--sort`` list; here
  an explicit ``--sort`` wins, and a single-letter flag is used only without it.
* ``--sort`` also accepts ``times``/``num`` and ``pages``/``page_num`` (the keys
  of ``-t``/``-m``), and ``--cull`` accepts ``comm`` as the usage text promises
  (the C parser only knows ``name``).

The option grammar is :mod:`pextlab.analysis.sort_options`; the ``pextlab
sort`` command is :mod:`pextlab.analysis.sort_cli`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .sort_options import (
    ALLOCATOR_CMA, ALLOCATOR_OTHERS, ALLOCATOR_SLAB, ALLOCATOR_VMALLOC, allocator_names, parse_cull,
    resolve_sort)

__all__ = ["allocator_masks", "block_text", "page_owner_sort", "render_page_owner_sort"]

_RESULT_COLUMNS = ["times", "pages", "pid", "tgid", "comm", "allocator", "ts_ns", "stacktrace", "text"]


def _vmalloc_stack(stack: str) -> bool:
    """True when the first ``__vmalloc_node_range`` frame follows an ``alloc_pages`` frame.

    ``stack`` holds frames joined by newlines (schema form).  The tool searches
    from the start of the preceding line up to the match for ``alloc_pages``.
    A vmalloc frame at the very top of the stack (preceded by the header line)
    is treated as not VMALLOC; the tool's backward scan is undefined there.
    """
    pos = stack.find("__vmalloc_node_range")
    if pos < 0:
        return False
    line_start = stack.rfind("\n", 0, pos) + 1
    if line_start == 0:
        return False
    prev_start = stack.rfind("\n", 0, line_start - 1) + 1
    return stack.find("alloc_pages", prev_start, pos) >= 0


def allocator_masks(df: pd.DataFrame) -> np.ndarray:
    """The tool's allocator bit mask for every row of a page_owner frame.

    Returns an ``int8`` array of ``ALLOCATOR_*`` bits (``ALLOCATOR_OTHERS`` when
    nothing else applies).  Vectorised: the stack test runs once per distinct stack.
    """
    n = len(df)
    mask = np.zeros(n, dtype=np.int8)
    for col in ("migratetype", "pageblock_migratetype"):
        if col in df:
            mask |= np.where(df[col].astype("object").eq("CMA").to_numpy(), ALLOCATOR_CMA, 0).astype(np.int8)
    if "flags" in df:
        slab = df["flags"].astype("object").fillna("").astype(str).str.contains("slab", regex=False)
        mask |= np.where(slab.to_numpy(), ALLOCATOR_SLAB, 0).astype(np.int8)
    stack = df["stack"]
    if not isinstance(stack.dtype, pd.CategoricalDtype):
        stack = stack.astype("category")
    cats = stack.cat.categories
    per_cat = np.fromiter((_vmalloc_stack(str(s)) for s in cats), dtype=bool, count=len(cats))
    codes = stack.cat.codes.to_numpy()
    vm = np.zeros(n, dtype=bool)
    known = codes >= 0
    vm[known] = per_cat[codes[known]]
    mask |= np.where(vm, ALLOCATOR_VMALLOC, 0).astype(np.int8)
    mask[mask == 0] = ALLOCATOR_OTHERS
    return mask


def _allocator_names(mask: pd.Series) -> pd.Series:
    """Mask -> "CMA VMALLOC" style names (space separated, tool's order)."""
    names = {m: allocator_names(m) for m in pd.unique(mask)}
    return mask.map(names)


# --------------------------------------------------------------------------- block text

def _map_unique(s: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value of ``s`` (NaN passed through to fn)."""
    values = pd.unique(s)
    table = {v: fn(v) for v in values if not pd.isna(v)}
    out = s.map(table)
    if s.isna().any():
        out = out.where(s.notna(), fn(None))
    return out.astype(object)


def _stack_lines(stack) -> str:
    if stack is None or stack == "":
        return ""
    return " " + str(stack).replace("\n", "\n ") + "\n"


def _migrate_line(reason) -> str:
    if reason is None:
        return ""
    return f"Page has been migrated, last migrate reason: {reason}\n"


def _stacktrace_text(df: pd.DataFrame) -> pd.Series:
    st = _map_unique(df["stack"].astype(object), _stack_lines)
    if "last_migrate_reason" in df:
        st = st + _map_unique(df["last_migrate_reason"].astype(object), _migrate_line)
    return st


def _str(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), "").astype(str)


def _header_text(df: pd.DataFrame, keep_ts: bool) -> pd.Series:
    mask_hex = _map_unique(df["gfp_mask"], lambda v: f"{int(v):#x}" if v is not None else "0x0")
    ts = df["ts_ns"].astype(str) if keep_ts else ""
    return ("Page allocated via order " + df["order"].astype(str)
            + ", mask " + mask_hex + "(" + _str(df["gfp"])
            + "), pid " + df["pid"].astype(str) + ", tgid " + df["tgid"].astype(str)
            + " (" + _str(df["comm"]) + "), ts " + ts + " ns\n")


def block_text(df: pd.DataFrame, *, keep_ts: bool = False) -> pd.Series:
    """The text ``page_owner_sort`` collates each record on (6.12 format, no PFN line).

    Reconstructed from the frame's fields: the header line (timestamp digits
    removed unless ``keep_ts``), one `` frame`` line per stack frame and the
    migrate-reason line when the page was migrated.

    >>> df = pd.DataFrame({"order": [0], "gfp_mask": [0xcc0], "gfp": ["GFP_KERNEL"],
    ...     "pid": [1], "tgid": [1], "comm": ["swapper/0"], "ts_ns": [42],
    ...     "stack": ["post_alloc_hook+0x1/0x2\\nkmalloc+0x3/0x4"], "last_migrate_reason": [None]})
    >>> print(block_text(df)[0], end="")
    Page allocated via order 0, mask 0xcc0(GFP_KERNEL), pid 1, tgid 1 (swapper/0), ts  ns
     post_alloc_hook+0x1/0x2
     kmalloc+0x3/0x4
    """
    return _header_text(df, keep_ts) + _stacktrace_text(df)


# --------------------------------------------------------------------------- pipeline

def _as_list(v, conv):
    if v is None:
        return None
    if isinstance(v, (str, int, np.integer)):
        v = [v]
    return [conv(x) for x in v]


def page_owner_sort(df: pd.DataFrame, *, sort=None, cull=None, pid=None, tgid=None, name=None,
                    flag: str | None = None, keep_ts: bool | None = None) -> pd.DataFrame:
    """Group and sort page_owner blocks as ``tools/mm/page_owner_sort`` (6.12) does.

    Parameters
    ----------
    df : DataFrame
        A ``page_owner`` frame (one row per allocated block).  An optional
        ``flags`` text column enables the SLAB classification.
    sort : str or list of str, optional
        ``--sort`` spec, ``"[+|-]key,..."`` with keys ``pid|p``, ``tgid|tg``,
        ``name|n``, ``stacktrace|st``, ``txt|T``, ``alloc_ts|at``,
        ``allocator|ator`` (and ``times|num``, ``pages|page_num``).
        Overrides ``flag``.
    cull : str or list of str, optional
        ``--cull`` rules: ``pid``, ``tgid``, ``name`` (or ``comm``),
        ``stacktrace``, ``allocator``.  Without it records are grouped by their
        whole block text.
    pid, tgid : int or list of int, optional
        Keep only blocks whose pid / tgid is listed (``--pid`` / ``--tgid``).
    name : str or list of str, optional
        Keep only blocks whose comm is listed exactly (``--name``).
    flag : str, optional
        One single-letter sort flag: ``a`` (alloc time asc), ``m`` (pages desc),
        ``n`` (comm asc), ``p`` (pid asc), ``P`` (tgid asc), ``s`` (stacktrace
        asc), ``t`` (times desc, the default); long aliases ``alloc_ts``,
        ``memory``, ``name``, ``pid``, ``tgid``, ``stacktrace``, ``times``.
    keep_ts : bool, optional
        Keep the timestamp digits in the block text.  Default: only when the
        primary sort key is the allocation time, as the tool.

    Returns
    -------
    DataFrame
        One row per group, in output order, with columns

        * ``times`` -- records in the group; ``pages`` -- ``sum(1 << order)``;
        * ``pid``, ``tgid``, ``comm``, ``allocator`` (``"OTHERS"``,
          ``"CMA VMALLOC"``, ...), ``ts_ns`` -- the cull keys, or the group's
          first record's values for fields not culled on;
        * ``stacktrace`` -- stack lines (each with its leading space) and the
          migrate-reason line; ``text`` -- the block text (header + stacktrace).

        ``attrs["cull"]`` and ``attrs["filters"]`` record the rules and the
        active selections for :func:`render_page_owner_sort`.

    Examples
    --------
    >>> df = pd.DataFrame({"order": [0, 0, 1], "nr_pages": [1, 1, 2],
    ...     "gfp_mask": [0xcc0] * 3, "gfp": ["GFP_KERNEL"] * 3, "pid": [7, 7, 8],
    ...     "tgid": [7, 7, 8], "comm": ["a", "a", "b"], "ts_ns": [1, 2, 3],
    ...     "stack": ["f+0x1/0x2", "f+0x1/0x2", "g+0x1/0x2"],
    ...     "migratetype": ["Unmovable"] * 3, "pageblock_migratetype": ["Unmovable"] * 3})
    >>> page_owner_sort(df)[["times", "pages", "comm"]]
       times  pages comm
    0      2      2    a
    1      1      2    b
    >>> page_owner_sort(df, cull="stacktrace", sort="-times")[["times", "pages", "stacktrace"]]
       times  pages    stacktrace
    0      2      2   f+0x1/0x2\\n
    1      1      2   g+0x1/0x2\\n
    >>> page_owner_sort(df, name="b")[["times", "pages", "pid"]]
       times  pages  pid
    0      1      2    8
    """
    cull_keys = parse_cull(cull)
    sort_keys = resolve_sort(sort, flag)
    if keep_ts is None:
        keep_ts = sort_keys[0][0] == "ts_ns"

    # 1. select (is_need): every given list must match.
    sel = np.ones(len(df), dtype=bool)
    filters = []
    pids = _as_list(pid, int)
    if pids is not None:
        sel &= df["pid"].isin(pids).to_numpy()
        filters.append("pid")
    tgids = _as_list(tgid, int)
    if tgids is not None:
        sel &= df["tgid"].isin(tgids).to_numpy()
        filters.append("tgid")
    names = _as_list(name, str)
    if names is not None:
        sel &= _str(df["comm"]).isin(names).to_numpy()
        filters.append("comm")
    d = df.loc[sel] if not sel.all() else df
    d = d.assign(_alloc=allocator_masks(d)) if len(d) else d.assign(_alloc=np.zeros(0, np.int8))
    if "last_migrate_reason" not in d:
        d = d.assign(last_migrate_reason=pd.Series(np.nan, index=d.index, dtype="object"))

    # 2. cull: group on the fields the compared text is made of (cheap categorical
    # groupby), render the text once per group, then merge groups whose text
    # compares equal (the tool compares strings, not fields).
    text_fields = ["order", "gfp_mask", "gfp", "pid", "tgid", "comm", "stack", "last_migrate_reason"]
    if keep_ts:
        text_fields.append("ts_ns")
    if cull_keys:
        fields = []
        for k in cull_keys:
            fields += ["stack", "last_migrate_reason"] if k == "stacktrace" else (
                ["_alloc"] if k == "allocator" else [k])
    else:
        fields = text_fields
    rep_cols = [c for c in dict.fromkeys(text_fields + ["ts_ns", "_alloc"]) if c not in fields]
    if len(d):
        g = d.groupby(fields, sort=False, observed=True, dropna=False)
        agg = g[rep_cols].first(skipna=False) if rep_cols else g.size().to_frame("_drop")
        agg["times"] = g.size()
        agg["pages"] = g["nr_pages"].sum()
        grp = agg.reset_index()
    else:
        grp = pd.DataFrame(columns=list(dict.fromkeys(fields + rep_cols)) + ["times", "pages"])
    grp["stacktrace"] = _stacktrace_text(grp) if len(grp) else pd.Series(dtype=object)
    grp["text"] = (_header_text(grp, keep_ts) + grp["stacktrace"]) if len(grp) else pd.Series(dtype=object)
    grp["comm"] = _str(grp["comm"]) if len(grp) else grp["comm"]

    compare = list(cull_keys) if cull_keys else ["text"]
    compare = ["_alloc" if c == "allocator" else c for c in compare]
    if len(grp) > 1 and grp.duplicated(compare).any():
        g2 = grp.groupby(compare, sort=False, dropna=False)
        others = [c for c in grp.columns if c not in compare and c not in ("times", "pages")]
        merged = g2[others].first(skipna=False)
        merged["times"] = g2["times"].sum()
        merged["pages"] = g2["pages"].sum()
        grp = merged.reset_index()

    # 3. sort: requested keys, ties broken by the cull comparison keys (ascending).
    by, asc = [], []
    for col, a in sort_keys:
        col = "_alloc" if col == "allocator" else col
        if col not in by:
            by.append(col)
            asc.append(a)
    for col in compare:
        if col not in by:
            by.append(col)
            asc.append(True)
    if len(grp):
        grp = grp.sort_values(by, ascending=asc, kind="stable")

    out = pd.DataFrame({
        "times": grp["times"].to_numpy(dtype=np.int64),
        "pages": grp["pages"].to_numpy(dtype=np.int64),
        "pid": grp["pid"].to_numpy(dtype=np.int32),
        "tgid": grp["tgid"].to_numpy(dtype=np.int32),
        "comm": grp["comm"].to_numpy(dtype=object),
        "allocator": _allocator_names(grp["_alloc"].astype(np.int64)).to_numpy(dtype=object),
        "ts_ns": grp["ts_ns"].to_numpy(dtype=np.int64),
        "stacktrace": grp["stacktrace"].to_numpy(dtype=object),
        "text": grp["text"].to_numpy(dtype=object),
    }, columns=_RESULT_COLUMNS)
    out.attrs["cull"] = cull_keys
    out.attrs["filters"] = tuple(filters)
    return out


def render_page_owner_sort(result: pd.DataFrame, *, cull=None, filters=None) -> str:
    """Print a :func:`page_owner_sort` result exactly as the tool writes its output file.

    Without cull rules every group is
    ``"%d times, %d pages, allocated by <ALLOCATORS> :\\n<block text>\\n"``
    (each allocator name is followed by a space).  With cull rules:
    ``"%d times, %d pages"``, then ``", PID %d"`` / ``", TGID %d"`` /
    ``", task_comm_name: %s"`` when culled *or selected* by pid / tgid / name,
    ``", allocated by ..."`` when culled by allocator, ``":\\n<stacktrace>"``
    when culled by stacktrace, then ``"\\n"``.

    ``cull`` and ``filters`` default to ``result.attrs``.

    >>> r = pd.DataFrame({"times": [3], "pages": [3], "pid": [185], "tgid": [185],
    ...     "comm": ["leaky"], "allocator": ["OTHERS"], "ts_ns": [0],
    ...     "stacktrace": [" f+0x1/0x2\\n"], "text": [""]})
    >>> print(render_page_owner_sort(r, cull="stacktrace", filters=["comm"]), end="")
    3 times, 3 pages, task_comm_name: leaky:
     f+0x1/0x2
    <BLANKLINE>
    """
    cull_keys = result.attrs.get("cull", ()) if cull is None else parse_cull(cull)
    filters = set(result.attrs.get("filters", ()) if filters is None else
                  ("comm" if f == "name" else f for f in filters))
    if len(result) == 0:
        return ""
    head = result["times"].astype(str) + " times, " + result["pages"].astype(str) + " pages"
    alloc = "allocated by " + result["allocator"].astype(str) + " "
    if not cull_keys:
        parts = head + ", " + alloc + ":\n" + result["text"].astype(str) + "\n"
    else:
        parts = head
        if "pid" in cull_keys or "pid" in filters:
            parts = parts + ", PID " + result["pid"].astype(str)
        if "tgid" in cull_keys or "tgid" in filters:
            parts = parts + ", TGID " + result["tgid"].astype(str)
        if "comm" in cull_keys or "comm" in filters:
            parts = parts + ", task_comm_name: " + result["comm"].astype(str)
        if "allocator" in cull_keys:
            parts = parts + ", " + alloc
        if "stacktrace" in cull_keys:
            parts = parts + ":\n" + result["stacktrace"].astype(str)
        parts = parts + "\n"
    return "".join(parts.tolist())
