"""``/proc/pagetypeinfo``: free lists per migratetype, pageblock types, mixed blocks.

The file holds one section per node with memory::

    Page block order: 9
    Pages per block:  512

    Free pages count per migrate type at order       0      1 ...
    Node    0, zone      DMA, type    Unmovable      0      0 ...
    ...

    Number of blocks type     Unmovable      Movable ...
    Node 0, zone      DMA            1            7 ...

    Number of mixed blocks    Unmovable      Movable ...
    Node 0, zone      DMA            0            0 ...

Free counts are ``"%s%6lu "`` where the prefix is ``">"`` when the kernel
stopped walking a free list at its 100000-entry cap (v5.4+).  The mixed-blocks
table exists only when page_owner is enabled.

:func:`read_pagetypeinfo` returns ``(pagetypeinfo_df, pageblocks_df, header)``
and :func:`format_pagetypeinfo` prints the three back to the same text.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, groups_in_order, load_text, parse_counts, parse_int
from .limits import MAX_NUMNODES, NR_PAGE_ORDERS_LIMIT, PFN_LIMIT

__all__ = ["read_pagetypeinfo", "format_pagetypeinfo", "PAGETYPEINFO_FREE_CAP"]

#: The kernel stops counting a free list at this many entries and prints ``>``
#: (mm/vmstat.c pagetypeinfo_showfree_print, v5.4+): a capped count is exactly this.
PAGETYPEINFO_FREE_CAP = 100000

_ORDER_RE = re.compile(r"^Page block order: (\d+)$")
_PPB_RE = re.compile(r"^Pages per block: +(\d+)$")
_FREE_HDR = "Free pages count per migrate type at order"
_FREE_ROW_RE = re.compile(r"^Node +(\d+), zone +(\S+), type +(\S+) (.*)$")
_BLOCKS_HDR = "Number of blocks type"
_MIXED_HDR = "Number of mixed blocks"
_TABLE_ROW_RE = re.compile(r"^Node (\d+), zone +(\S+) (.*)$")
_FREE_FIELD_RE = re.compile(r"(>?) *(\d+) ")


def _parse_free_fields(rest: str, name: str, lineno: int, line: str) -> tuple[list[int], list[bool]]:
    rest = rest.rstrip() + " "
    counts, capped, pos = [], [], 0
    for m in _FREE_FIELD_RE.finditer(rest):
        if rest[pos:m.start()].strip():
            break
        if m.group(1):
            parse_int(m.group(2), PAGETYPEINFO_FREE_CAP, PAGETYPEINFO_FREE_CAP, "a capped count '>'",
                      name, lineno, line)
            counts.append(PAGETYPEINFO_FREE_CAP)
        else:
            counts.append(parse_int(m.group(2), 0, PFN_LIMIT - 1, "a free count", name, lineno, line))
        capped.append(m.group(1) == ">")
        pos = m.end()
    if rest[pos:].strip() or not counts:
        raise ParseError(name, lineno, "free counts '%6lu ' (optionally prefixed '>')", line)
    return counts, capped


def read_pagetypeinfo(src):
    """Read ``/proc/pagetypeinfo``.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    pagetypeinfo_df : pandas.DataFrame
        Schema ``"pagetypeinfo"``: one row per node, zone, migratetype and
        order with ``nr_free`` and ``capped`` (printed with ``>``).
    pageblocks_df : pandas.DataFrame
        Schema ``"pageblocks"``: one row per node, zone and migratetype with
        ``nr_blocks`` and ``nr_mixed`` (-1 when the file has no mixed table).
    header : dict
        ``pageblock_order``, ``pages_per_block``, ``nr_orders`` and
        ``migratetypes`` (the column names of the block tables, in order).

    Raises
    ------
    ParseError
        On an unexpected line, a truncated section, or a row whose number of
        columns differs from its table's header.
    """
    name, text = load_text(src, "pagetypeinfo")
    lines = text.splitlines()
    header: dict = {}
    free_rows: list[tuple[int, str, str, list[int], list[bool]]] = []
    block_rows: dict[tuple[int, str], list[int]] = {}
    mixed_rows: dict[tuple[int, str], list[int]] = {}
    block_order: list[tuple[int, str]] = []
    mt_names: list[str] | None = None
    norders: int | None = None
    state = "start"   # start, ppb, blank, freehdr, free, blocks, mixed
    table: dict | None = None
    sections = 0
    saw_mixed_per_section: list[bool] = []
    section_lines: list[int] = []          # line of each section's free-count header
    row_lines: dict[tuple, int] = {}       # (table, node, zone) -> line of its row

    def need(cond, lineno, expected, got):
        if not cond:
            raise ParseError(name, lineno, expected, got)

    for lineno, line in enumerate(lines, 1):
        if state == "start":
            m = _ORDER_RE.match(line)
            need(m, lineno, "'Page block order: N'", line)
            # include/linux/pageblock-flags.h: pageblock_order <= MAX_PAGE_ORDER
            order = parse_int(m.group(1), 0, NR_PAGE_ORDERS_LIMIT - 1, "a page block order", name, lineno, line)
            need(header.get("pageblock_order", order) == order, lineno, "the same page block order in every section", line)
            header["pageblock_order"] = order
            state = "ppb"
        elif state == "ppb":
            m = _PPB_RE.match(line)
            need(m, lineno, "'Pages per block:  N'", line)
            ppb = 1 << header["pageblock_order"]    # pageblock_nr_pages = 1UL << pageblock_order
            header["pages_per_block"] = parse_int(m.group(1), ppb, ppb, "pages per block", name, lineno, line)
            state = "blank"
        elif state == "blank":
            need(line == "", lineno, "an empty line", line)
            state = "freehdr"
        elif state == "freehdr":
            need(line.startswith(_FREE_HDR), lineno, f"'{_FREE_HDR}' header", line)
            cols = line[len(_FREE_HDR):].split()
            need(cols and cols == [str(i) for i in range(len(cols))] and len(cols) <= NR_PAGE_ORDERS_LIMIT,
                 lineno, f"order numbers 0..n-1 (at most {NR_PAGE_ORDERS_LIMIT})", line)
            need(norders in (None, len(cols)), lineno, f"{norders} orders as in the first section", line)
            norders = len(cols)
            sections += 1
            saw_mixed_per_section.append(False)
            section_lines.append(lineno)
            state = "free"
        elif state == "free":
            if line == "":
                state = "blockshdr"
                continue
            m = _FREE_ROW_RE.match(line)
            need(m, lineno, "'Node N, zone Z, type T counts...'", line)
            node = parse_int(m.group(1), 0, MAX_NUMNODES - 1, "a node id", name, lineno, line)
            counts, capped = _parse_free_fields(m.group(4), name, lineno, line)
            need(len(counts) == norders, lineno, f"{norders} free counts", line)
            key = ("free", node, m.group(2), m.group(3))
            need(key not in row_lines, lineno, "each migratetype once per zone", line)
            row_lines[key] = lineno
            row_lines.setdefault(("free", node, m.group(2)), lineno)
            free_rows.append((node, m.group(2), m.group(3), counts, capped))
        elif state == "blockshdr":
            need(line.startswith(_BLOCKS_HDR), lineno, f"'{_BLOCKS_HDR}' header", line)
            cols = line[len(_BLOCKS_HDR):].split()
            need(cols, lineno, "migratetype names", line)
            need(mt_names in (None, cols), lineno, "the same migratetype columns in every table", line)
            mt_names = cols
            table = block_rows
            state = "table"
        elif state == "table":
            if line == "":
                state = "after_table"
                continue
            m = _ORDER_RE.match(line)
            if m:  # the next node's section follows the last table directly
                need(int(m.group(1)) == header["pageblock_order"], lineno,
                     "the same page block order in every section", line)
                state = "ppb"
                continue
            m = _TABLE_ROW_RE.match(line)
            need(m, lineno, "'Node N, zone Z counts...'", line)
            node = parse_int(m.group(1), 0, MAX_NUMNODES - 1, "a node id", name, lineno, line)
            counts = parse_counts(m.group(3), name, lineno, line)
            need(len(counts) == len(mt_names), lineno, f"{len(mt_names)} counts (one per migratetype)", line)
            key = (node, m.group(2))
            need(key not in table, lineno, "each zone once per table", line)
            table[key] = counts
            row_lines[("blocks" if table is block_rows else "mixed", *key)] = lineno
            if table is block_rows:
                block_order.append(key)
        elif state == "after_table":
            need(line.startswith(_MIXED_HDR) and table is block_rows, lineno, f"'{_MIXED_HDR}' header", line)
            cols = line[len(_MIXED_HDR):].split()
            need(cols == mt_names, lineno, "the same migratetype columns as the blocks table", line)
            table = mixed_rows
            saw_mixed_per_section[-1] = True
            state = "table"
        else:  # pragma: no cover - all states handled above
            raise AssertionError(state)

    if state in ("ppb", "blank", "freehdr", "blockshdr") or (state == "free" and sections):
        raise ParseError(name, len(lines), "a complete section (truncated file)", None)
    if state == "start" and not lines:
        return empty("pagetypeinfo"), empty("pageblocks"), {}
    if state == "after_table":
        raise ParseError(name, len(lines), f"'{_MIXED_HDR}' table after the empty line (truncated file)", None)
    free_zones = list(dict.fromkeys((r[0], r[1]) for r in free_rows))
    for key in block_order:
        if key not in set(free_zones):
            raise ParseError(name, row_lines[("blocks", *key)], "a zone of the free-count table",
                             lines[row_lines[("blocks", *key)] - 1])
    for key in free_zones:
        if key not in block_rows:
            raise ParseError(name, row_lines[("free", *key)], "a zone that has a blocks row",
                             lines[row_lines[("free", *key)] - 1])
    if any(saw_mixed_per_section) and not all(saw_mixed_per_section):
        first = section_lines[saw_mixed_per_section.index(False)]
        raise ParseError(name, first, "a mixed-blocks table in every section or in none "
                         "(this section has none)", lines[first - 1])

    header["nr_orders"] = norders
    header["migratetypes"] = tuple(mt_names or ())

    # free lists, long form, built column-wise
    nrows = len(free_rows)
    ptype = pd.DataFrame({
        "node": np.repeat(np.array([r[0] for r in free_rows], dtype="int64"), norders),
        "zone": categorical([r[1] for r in free_rows for _ in range(norders)]),
        "migratetype": categorical([r[2] for r in free_rows for _ in range(norders)], _mt_cats(free_rows, mt_names)),
        "order": np.tile(np.arange(norders), nrows),
        "nr_free": np.array([c for r in free_rows for c in r[3]], dtype="int64"),
        "capped": np.array([c for r in free_rows for c in r[4]], dtype=bool),
    })

    nmt = len(mt_names)
    for key in mixed_rows:
        if key not in block_rows:
            at = row_lines[("mixed", *key)]
            raise ParseError(name, at, "a zone that has a blocks row", lines[at - 1])
    has_mixed = bool(saw_mixed_per_section) and all(saw_mixed_per_section)
    nr_mixed = []
    for key in block_order:
        if has_mixed:
            if key not in mixed_rows:
                at = row_lines[("blocks", *key)]
                raise ParseError(name, at, "a zone that also has a mixed-blocks row", lines[at - 1])
            nr_mixed.extend(mixed_rows[key])
        else:
            nr_mixed.extend([-1] * nmt)
    blocks = pd.DataFrame({
        "node": np.repeat(np.array([k[0] for k in block_order], dtype="int64"), nmt),
        "zone": categorical([k[1] for k in block_order for _ in range(nmt)]),
        "migratetype": categorical([mt for _ in block_order for mt in mt_names], mt_names),
        "nr_blocks": np.array([c for k in block_order for c in block_rows[k]], dtype="int64"),
        "nr_mixed": np.array(nr_mixed, dtype="int64"),
    })
    return conform(ptype, "pagetypeinfo"), conform(blocks, "pageblocks"), header


def _mt_cats(free_rows, mt_names):
    seen = list(dict.fromkeys(r[2] for r in free_rows))
    if mt_names:
        return list(mt_names) + [m for m in seen if m not in mt_names]
    return seen


def format_pagetypeinfo(pagetypeinfo: pd.DataFrame, pageblocks: pd.DataFrame, header: dict | None = None) -> str:
    """Print ``/proc/pagetypeinfo`` from the frames :func:`read_pagetypeinfo` returns.

    One section per node (in order of first appearance in ``pagetypeinfo``).
    The mixed-blocks table of a node is printed when its ``nr_mixed`` values
    are not -1.

    Parameters
    ----------
    pagetypeinfo : pandas.DataFrame
        Schema ``"pagetypeinfo"`` (free counts per order and migratetype).
    pageblocks : pandas.DataFrame
        Schema ``"pageblocks"`` (block and mixed counts per migratetype).
    header : dict, optional
        ``pageblock_order`` (default 9), ``pages_per_block`` (default
        ``1 << pageblock_order``) and ``migratetypes`` (column order of the
        block tables; default: order of appearance in ``pageblocks``).

    Returns
    -------
    str
        The file text.
    """
    header = dict(header or {})
    pb_order = int(header.get("pageblock_order", 9))
    ppb = int(header.get("pages_per_block", 1 << pb_order))
    mts = list(header.get("migratetypes") or ())
    if not mts:
        mts = list(dict.fromkeys(pageblocks["migratetype"].astype(str)))
    nodes = list(dict.fromkeys(pagetypeinfo["node"].tolist() + pageblocks["node"].tolist()))
    out = []
    for node in nodes:
        free = pagetypeinfo[pagetypeinfo["node"] == node]
        blocks = pageblocks[pageblocks["node"] == node]
        norders = int(free["order"].max()) + 1 if len(free) else int(header.get("nr_orders", 11))
        out.append(f"Page block order: {pb_order}\n")
        out.append(f"Pages per block:  {ppb}\n")
        out.append("\n")
        out.append(f"{_FREE_HDR:<43} " + "".join(f"{o:6d} " for o in range(norders)) + "\n")
        for (n, zone, mt), sub in groups_in_order(free, ["node", "zone", "migratetype"]):
            sub = sub.sort_values("order", kind="stable")
            if not np.array_equal(sub["order"].to_numpy(), np.arange(norders)):
                raise ValueError(f"node {n} zone {zone} type {mt}: orders must be 0..{norders - 1}")
            fields = "".join(f"{'>' if cap else ''}{int(c):6d} "
                             for c, cap in zip(sub["nr_free"].to_numpy(), sub["capped"].to_numpy()))
            out.append(f"Node {int(n):4d}, zone {zone:>8}, type {mt:>12} {fields}\n")
        zones = list(groups_in_order(blocks, ["node", "zone"]))
        out.append(f"\n{_BLOCKS_HDR + ' ':<23}" + "".join(f"{m:>12} " for m in mts) + "\n")
        mixed_vals = blocks["nr_mixed"].to_numpy()
        if len(mixed_vals) and (mixed_vals == -1).any() and not (mixed_vals == -1).all():
            raise ValueError(f"node {node}: nr_mixed must be -1 for every row or for none")
        has_mixed = len(mixed_vals) > 0 and not (mixed_vals == -1).all()
        for column in (["nr_blocks", "nr_mixed"] if has_mixed else ["nr_blocks"]):
            if column == "nr_mixed":
                out.append(f"\n{_MIXED_HDR + ' ':<23}" + "".join(f"{m:>12} " for m in mts) + "\n")
            for (n, zone), sub in zones:
                by_mt = dict(zip(sub["migratetype"].astype(str), sub[column].to_numpy()))
                missing = [m for m in mts if m not in by_mt]
                if missing:
                    raise ValueError(f"node {n} zone {zone}: no {column} for {missing}")
                out.append(f"Node {int(n)}, zone {zone:>8} " + "".join(f"{int(by_mt[m]):12d} " for m in mts) + "\n")
    return "".join(out)
