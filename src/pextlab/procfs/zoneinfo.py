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
from ._common import categorical, load_text

__all__ = ["read_zoneinfo", "read_zoneinfo_full", "format_zoneinfo", "lowmem_reserve",
           "LOWMEM_RESERVE_RATIO", "MODELED_FIELDS"]

#: ``vm.lowmem_reserve_ratio`` defaults by zone name (x86_64, v6.x).
LOWMEM_RESERVE_RATIO = {"DMA": 256, "DMA32": 256, "Normal": 32, "HighMem": 0, "Movable": 0, "Device": 0}

#: The ``pages``-block fields, in print order (``free`` is printed as ``pages free``).
MODELED_FIELDS = ("free", "boost", "min", "low", "high", "promo", "spanned", "present", "managed", "cma")

_ZONE_RE = re.compile(r"^Node (-?\d+), zone +(\S+)$")
_PAGES_RE = re.compile(r"^  pages free +(\d+)$")
_WMARK_RE = re.compile(r"^        (boost|min|low|high|promo|spanned|present|managed|cma) +(\d+)$")
_PROT_RE = re.compile(r"^        protection: \((-?\d+(?:, -?\d+)*)\)$")
_STAT_RE = re.compile(r"^      (\S+) +(-?\d+)$")
_CPU_RE = re.compile(r"^    cpu: (\d+)$")
_PCP_RE = re.compile(r"^              ([a-z_]+): +(-?\d+)$")
_TAIL_RE = re.compile(r"^  (vm stats threshold|node_unreclaimable|start_pfn): +(-?\d+)$")


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
        On a line that fits no part of the zoneinfo layout, or a zone without
        its ``pages free`` block.
    """
    name, text = load_text(src, "zoneinfo")
    zones: dict[tuple[int, str], dict] = {}
    cur: dict | None = None
    section = None     # "node", "zone", "pagesets"
    cur_line = 0

    def finish(lineno):
        if cur is not None and "free" not in cur:
            raise ParseError(name, lineno, "a 'pages free' line for the zone started at line %d" % cur_line, None)

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _ZONE_RE.match(line)
        if m:
            finish(lineno)
            key = (int(m.group(1)), m.group(2))
            if key in zones:
                raise ParseError(name, lineno, "each zone once", line)
            cur = zones[key] = {}
            cur_line = lineno
            section = "head"
            continue
        if cur is None:
            raise ParseError(name, lineno, "'Node N, zone NAME'", line)
        if line == "  per-node stats" and section == "head":
            cur["per_node_stats"] = {}
            section = "node"
            continue
        m = _PAGES_RE.match(line)
        if m and section in ("head", "node"):
            cur["free"] = int(m.group(1))
            section = "zone"
            continue
        if section == "node":
            m = _STAT_RE.match(line)
            if not m:
                raise ParseError(name, lineno, "a per-node counter '      name value'", line)
            cur["per_node_stats"][m.group(1)] = int(m.group(2))
            continue
        if section == "head":
            raise ParseError(name, lineno, "'  per-node stats' or '  pages free N'", line)
        m = _WMARK_RE.match(line)
        if m and section == "zone":
            cur[m.group(1)] = int(m.group(2))
            continue
        m = _PROT_RE.match(line)
        if m and section == "zone":
            cur["protection"] = tuple(int(x) for x in m.group(1).split(", "))
            continue
        m = _STAT_RE.match(line)
        if m and section == "zone":
            if m.group(1) in cur:
                raise ParseError(name, lineno, "each counter once per zone", line)
            cur[m.group(1)] = int(m.group(2))
            continue
        if line == "  pagesets" and section == "zone":
            cur["pagesets"] = []
            section = "pagesets"
            continue
        m = _CPU_RE.match(line)
        if m and section == "pagesets":
            cur["pagesets"].append({"cpu": int(m.group(1))})
            continue
        m = _PCP_RE.match(line)
        if m and section == "pagesets" and cur["pagesets"]:
            cur["pagesets"][-1][m.group(1)] = int(m.group(2))
            continue
        m = _TAIL_RE.match(line)
        if m and section == "pagesets" and m.group(1) == "vm stats threshold" and cur["pagesets"]:
            # printed once per CPU, after that CPU's pageset
            cur["pagesets"][-1]["vm_stats_threshold"] = int(m.group(2))
            continue
        if m and section in ("zone", "pagesets", "tail"):
            cur[m.group(1).replace(" ", "_")] = int(m.group(2))
            section = "tail"
            continue
        raise ParseError(name, lineno, "a zoneinfo field line", line)
    finish(None)
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
