"""``/proc/zoneinfo``: per-zone watermarks, sizes and counters.

Every zone of every online node gets a block, populated or not::

    Node 0, zone    DMA32
      pages free     222642
            boost    0
            min      11533
            ...
            cma      0
            protection: (0, 0, 256, 512, 512)
          nr_free_pages 222642
          ...
      pagesets
        cpu: 0
                  count: 0
                  high:  14416
                  batch: 63
      vm stats threshold: 8
      node_unreclaimable:  0
      start_pfn:           4096

The first populated zone of a node also carries the node's ``per-node stats``;
an unpopulated zone stops after ``protection``.  :func:`read_zoneinfo` gives
the ``"zones"`` frame; :func:`read_zoneinfo_full` every number per zone.
:func:`format_zoneinfo` prints the lines pextlab models (sizes, watermarks,
protection, start_pfn), or the whole file when given the full dicts.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, load_text, parse_int
from .limits import INT_MAX, INT_MIN, MAX_NUMNODES, NR_CPUS_LIMIT, PFN_LIMIT, S64_MAX, U32_MAX, U64_MAX

__all__ = ["read_zoneinfo", "read_zoneinfo_full", "format_zoneinfo", "lowmem_reserve",
           "LOWMEM_RESERVE_RATIO", "MODELED_FIELDS", "REQUIRED_FIELDS"]

#: ``vm.lowmem_reserve_ratio`` defaults by zone name (x86_64, v6.x).
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, "HighMem": 0, "Movable": 0, "Device": 0}

#: The ``pages``-block fields, in print order (``free`` is printed as ``pages free``).
MODELED_FIELDS = ("free", "boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma")

#: The ``pages`` block fields every zone prints in every kernel since v3.8
#: (mm/vmstat.c zoneinfo_show_print; boost, promo and cma came later).
REQUIRED_FIELDS = ("free", "min", "low", "high", "spanned", "present", "managed", "protection")

_ZONE_RE = re.compile(r"^Node (\d+), zone +(\S+)$")
_PAGES_RE = re.compile(r"^  pages free +(\d+)$")
_WMARK_RE = re.compile(r"^        (boost|min|low|high|promo|spanned|present|managed|cma) +(\d+)$")
_PROT_RE = re.compile(r"^        protection: \((-?\d+(?:, -?\d+)*)\)$")
_STAT_RE = re.compile(r"^      (\S+) +(\d+)$")
_CPU_RE = re.compile(r"^    cpu: (\d+)$")
_PCP_RE = re.compile(r"^              ([a-z_]+): +(-?\d+)$")
_TAIL_RE = re.compile(r"^  (vm stats threshold|node_unreclaimable|start_pfn): +(-?\d+)$")
# printed types: "%lu" for page counts and counters, "%ld" for protection (long
# lowmem_reserve), "%i" for the pageset numbers and "vm stats threshold", "%u" for
# node_unreclaimable; the page counts and start_pfn are also below PFN_LIMIT
_TAIL_RANGE = {"vm stats threshold": (INT_MIN, INT_MAX), "node_unreclaimable": (0, U32_MAX),
               "start_pfn": (0, PFN_LIMIT - 1)}


def read_zoneinfo_full(src) -> dict[tuple[int, str], dict]:
    """Every number of ``/proc/zoneinfo``, per zone.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    dict
        ``{(node, zone): fields}`` in file order.  ``fields`` holds ``free``,
        ``boost``, ``min``, ``low``, ``high``, ``promo``, ``spanned``,
        ``present``, ``managed``, ``cma`` (those printed), ``protection``
        (tuple), every zone/NUMA counter by name (``nr_free_pages``, ...),
        ``vm_stats_threshold``, ``node_unreclaimable``, ``start_pfn`` where
        printed, ``pagesets`` (list of ``{"cpu", "count", "high", "batch",
        "vm_stats_threshold"}``, one per CPU)
        and, on a node's first populated zone, ``per_node_stats`` (dict).

    Raises
    ------
    ParseError
        On a line that fits no part of the zoneinfo layout, a zone without one
        of :data:`REQUIRED_FIELDS`, a field printed twice, or a number the
        kernel cannot print there.
    """
    name, text = load_text(src, "zoneinfo")
    zones: dict[tuple[int, str], dict] = {}
    cur: dict | None = None
    section = None     # "node", "zone", "pagesets"
    cur_line = 0

    lines = text.splitlines()

    def finish(lineno):
        if cur is None:
            return
        missing = [f for f in REQUIRED_FIELDS if f not in cur]
        if missing:
            what = "'pages free'" if missing[0] == "free" else repr(missing[0])
            raise ParseError(name, cur_line, f"a {what} line in this zone's block (ending at line {lineno})",
                             lines[cur_line - 1])

    def num(text, lo, hi, what, lineno, line):
        return parse_int(text, lo, hi, what, name, lineno, line)

    last = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        m = _ZONE_RE.match(line)
        if m:
            finish(last)
            key = (num(m.group(1), 0, MAX_NUMNODES - 1, "a node id", lineno, line), m.group(2))
            if key in zones:
                raise ParseError(name, lineno, "each zone once", line)
            cur = zones[key] = {}
            cur_line = last = lineno
            section = "head"
            continue
        if cur is None:
            raise ParseError(name, lineno, "'Node N, zone NAME'", line)
        last = lineno
        if line == "  per-node stats" and section == "head":
            cur["per_node_stats"] = {}
            section = "node"
            continue
        m = _PAGES_RE.match(line)
        if m and section in ("head", "node"):
            cur["free"] = num(m.group(1), 0, PFN_LIMIT - 1, "a page count", lineno, line)
            section = "zone"
            continue
        if section == "node":
            m = _STAT_RE.match(line)
            if not m:
                raise ParseError(name, lineno, "a per-node counter '      name value'", line)
            if m.group(1) in cur["per_node_stats"]:
                raise ParseError(name, lineno, "each counter once per node", line)
            cur["per_node_stats"][m.group(1)] = num(m.group(2), 0, U64_MAX, "a counter", lineno, line)
            continue
        if section == "head":
            raise ParseError(name, lineno, "'  per-node stats' or '  pages free N'", line)
        m = _WMARK_RE.match(line) or _PROT_RE.match(line) or _STAT_RE.match(line)
        if m and section == "zone":
            key = m.group(1) if m.re is not _PROT_RE else "protection"
            if key in cur:
                raise ParseError(name, lineno, "each field once per zone", line)
            if m.re is _WMARK_RE:
                cur[key] = num(m.group(2), 0, PFN_LIMIT - 1, "a page count", lineno, line)
            elif m.re is _PROT_RE:
                cur[key] = tuple(num(x, -S64_MAX - 1, S64_MAX, "a protection value", lineno, line)
                                 for x in m.group(1).split(", "))
            else:
                cur[key] = num(m.group(2), 0, U64_MAX, "a counter", lineno, line)
            continue
        if line == "  pagesets" and section == "zone":
            cur["pagesets"] = []
            section = "pagesets"
            continue
        m = _CPU_RE.match(line)
        if m and section == "pagesets":
            cur["pagesets"].append({"cpu": num(m.group(1), 0, NR_CPUS_LIMIT - 1, "a cpu id", lineno, line)})
            continue
        m = _PCP_RE.match(line)
        if m and section == "pagesets" and cur["pagesets"]:
            if m.group(1) in cur["pagesets"][-1]:
                raise ParseError(name, lineno, "each pageset field once per cpu", line)
            cur["pagesets"][-1][m.group(1)] = num(m.group(2), INT_MIN, INT_MAX, "an int", lineno, line)
            continue
        m = _TAIL_RE.match(line)
        if m:
            value = num(m.group(2), *_TAIL_RANGE[m.group(1)], repr(m.group(1)), lineno, line)
        if m and section == "pagesets" and m.group(1) == "vm stats threshold" and cur["pagesets"]:
            # printed once per CPU, after that CPU's pageset
            cur["pagesets"][-1]["vm_stats_threshold"] = value
            continue
        if m and section in ("zone", "pagesets", "tail"):
            key = m.group(1).replace(" ", "_")
            if key in cur:
                raise ParseError(name, lineno, "each field once per zone", line)
            cur[key] = value
            section = "tail"
            continue
        raise ParseError(name, lineno, "a zoneinfo field line", line)
    finish(last)
    return zones


def read_zoneinfo(src) -> pd.DataFrame:
    """Read ``/proc/zoneinfo`` into the ``"zones"`` frame.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    pandas.DataFrame
        One row per zone (populated or not) in file order.  ``zone_idx`` is
        the zone's position in its node; ``start_pfn`` is -1 for a zone the
        kernel prints no ``start_pfn`` for (unpopulated) and ``end_pfn`` is
        ``start_pfn + spanned`` (-1 with it).  ``attrs`` hold ``boost``,
        ``promo`` and ``protection``, each ``{(node, zone): value}``, for
        :func:`format_zoneinfo`.

    Raises
    ------
    ParseError
        As :func:`read_zoneinfo_full`.
    """
    full = read_zoneinfo_full(src)
    if not full:
        return empty("zones")
    keys = list(full)
    idx, counter = [], {}
    for node, _ in keys:
        idx.append(counter.get(node, 0))
        counter[node] = idx[-1] + 1

    def col(field, default=0):
        return np.array([full[k].get(field, default) for k in keys], dtype="int64")

    start = col("start_pfn", -1)
    spanned = col("spanned")
    end = np.where(start >= 0, start + spanned, -1)
    df = pd.DataFrame({
        "node": [k[0] for k in keys], "zone": categorical([k[1] for k in keys]),
        "zone_idx": idx, "start_pfn": start, "end_pfn": end,
        "spanned": spanned, "present": col("present"), "managed": col("managed"),
        "free": col("free"), "min": col("min"), "low": col("low"), "high": col("high"),
        "cma": col("cma"),
    })
    df = conform(df, "zones")
    df.attrs["boost"] = {k: full[k].get("boost", 0) for k in keys}
    df.attrs["promo"] = {k: full[k]["promo"] for k in keys if "promo" in full[k]}
    df.attrs["protection"] = {k: full[k]["protection"] for k in keys if "protection" in full[k]}
    return df


def lowmem_reserve(zones: pd.DataFrame, ratios: dict[str, int] | None = None) -> dict[tuple[int, str], tuple]:
    """Compute each zone's ``protection`` (lowmem_reserve) from managed pages.

    For zone *i* and every higher zone *j* of the same node, the reserve is
    the managed pages of zones *i+1..j* divided by zone *i*'s
    ``lowmem_reserve_ratio``; entries for *j <= i*, and every entry of a
    zone whose ratio is 0 or which manages no pages itself, are 0 (as seen on
    6.12: an empty DMA zone of node 1 prints ``(0, 0, 0, 0, 0)``).

    Parameters
    ----------
    zones : pandas.DataFrame
        A ``"zones"`` frame.
    ratios : dict, optional
        Ratio per zone name, default :data:`LOWMEM_RESERVE_RATIO`.

    Returns
    -------
    dict
        ``{(node, zone): tuple}`` with one entry per zone of the node.
    """
    ratios = LOWMEM_RESERVE_RATIO if ratios is None else ratios
    out = {}
    for node, sub in zones.groupby("node", sort=False):
        sub = sub.sort_values("zone_idx", kind="stable")
        names = sub["zone"].astype(str).tolist()
        managed = sub["managed"].astype("int64").tolist()
        for i, zname in enumerate(names):
            ratio = ratios.get(zname, 0)
            prot, acc = [], 0
            for j in range(len(names)):
                if j <= i or ratio <= 0 or managed[i] == 0:
                    prot.append(0)
                    continue
                acc += managed[j]
                prot.append(acc // ratio)
            out[(int(node), zname)] = tuple(prot)
    return out


def format_zoneinfo(zones: pd.DataFrame, full: dict | None = None, *,
                    boost=None, promo=None, protection=None) -> str:
    """Print ``/proc/zoneinfo`` text for a ``"zones"`` frame.

    Parameters
    ----------
    zones : pandas.DataFrame
        Schema ``"zones"``; one block per row in order.
    full : dict, optional
        The dict :func:`read_zoneinfo_full` returns.  When given, everything
        it holds is printed as well (per-node stats, counters, pagesets, ...)
        so a file round-trips completely; values in ``zones`` take precedence
        for the modeled fields.
    boost, promo, protection : dict, optional
        ``{(node, zone): value}``; default ``zones.attrs``, then boost 0,
        promo ``high + (high - low)`` and protection from
        :func:`lowmem_reserve`.

    Returns
    -------
    str
        Without ``full``: per zone the ``Node``/``pages`` block, ``protection``
        and, for populated zones (present > 0), ``start_pfn``.
    """
    attrs = zones.attrs
    boost = boost if boost is not None else attrs.get("boost", {})
    promo = promo if promo is not None else attrs.get("promo", {})
    protection = protection if protection is not None else attrs.get("protection") or {}
    computed = None
    out = []
    for row in zones.itertuples(index=False):
        key = (int(row.node), str(row.zone))
        extra = (full or {}).get(key, {})
        vals = {
            "free": row.free, "boost": boost.get(key, extra.get("boost", 0)),
            "min": row.min, "low": row.low, "high": row.high,
            "promo": promo.get(key, extra.get("promo", row.high + (row.high - row.low))),
            "spanned": row.spanned, "present": row.present, "managed": row.managed, "cma": row.cma,
        }
        prot = protection.get(key, extra.get("protection"))
        if prot is None:
            if computed is None:
                computed = lowmem_reserve(zones)
            prot = computed[key]
        out.append(f"Node {key[0]}, zone {key[1]:>8}")
        if "per_node_stats" in extra:
            out.append("\n  per-node stats")
            out.extend(f"\n      {k:<12} {v}" for k, v in extra["per_node_stats"].items())
        out.append(f"\n  pages free     {int(vals['free'])}")
        for f in MODELED_FIELDS[1:]:
            out.append(f"\n        {f:<8} {int(vals[f])}")
        out.append("\n        protection: (" + ", ".join(str(int(p)) for p in prot) + ")")
        if row.present > 0:
            skip = set(MODELED_FIELDS) | {"protection", "per_node_stats", "pagesets", "vm_stats_threshold",
                                          "node_unreclaimable", "start_pfn"}
            out.extend(f"\n      {k:<12} {v}" for k, v in extra.items() if k not in skip)
            if "pagesets" in extra:
                out.append("\n  pagesets")
                for pcp in extra["pagesets"]:
                    out.append(f"\n    cpu: {pcp['cpu']}")
                    for k, v in pcp.items():
                        if k not in ("cpu", "vm_stats_threshold"):
                            out.append(f"\n              {k + ':':<6} {v}")
                    if "vm_stats_threshold" in pcp:
                        out.append(f"\n  vm stats threshold: {pcp['vm_stats_threshold']}")
            if "vm_stats_threshold" in extra:
                out.append(f"\n  vm stats threshold: {extra['vm_stats_threshold']}")
            if "node_unreclaimable" in extra:
                out.append(f"\n  node_unreclaimable:  {extra['node_unreclaimable']}")
            out.append(f"\n  start_pfn:           {int(row.start_pfn)}")
        out.append("\n")
    return "".join(out)
