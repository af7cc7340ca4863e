"""CMA areas' files: ``/sys/kernel/debug/cma/<name>/*`` (mm/cma_debug.c) and
``/sys/kernel/mm/cma/<name>/*`` (mm/cma_sysfs.c), as a capture holds them.

``pextlab capture`` (and the scripts behind ``data/real-kernel``) write every file
of both trees into two text files, ``cma_debugfs.txt`` and ``cma_sysfs.txt``,
sorted by path, each file as a ``### <path>`` line, its text and a blank line::

    ### /sys/kernel/debug/cma/reserved/base_pfn
    245248

    ### /sys/kernel/debug/cma/reserved/bitmap
    0 0 0 ...

The write-only files (``alloc``, ``free``: mode 0200) show the reader's error
(``cat: read error: Permission denied``).  Numbers are ``%llu``
(DEFINE_DEBUGFS_ATTRIBUTE) and the bitmap ``debugfs_create_u32_array``'s
space-separated ``%u`` words.  :func:`read_cma` turns them into the ``"cma"``
frame; :func:`format_cma_files` prints a simulated machine's areas the same way.
"""
from __future__ import annotations

import re

import pandas as pd

from ..errors import ParseError
from ..kernel.cma import cma_debugfs_files, cma_sysfs_files
from ..schema import conform, empty
from ._common import load_text, parse_int
from .limits import PFN_LIMIT, S64_MAX, U32_MAX

__all__ = ["read_cma", "format_cma_files", "zone_nr_free_cma", "DEBUGFS_FILES", "SYSFS_FILES"]

#: mm/cma_debug.c cma_debugfs_add_one (v6.12): every file of an area's directory
DEBUGFS_FILES = ("alloc", "base_pfn", "bitmap", "count", "free", "maxchunk", "order_per_bit", "used")
#: mm/cma_sysfs.c cma_attrs (v5.14+)
SYSFS_FILES = ("alloc_pages_fail", "alloc_pages_success", "release_pages_success")
_WRITE_ONLY = ("alloc", "free")
_HEADER_RE = re.compile(r"^### /sys/kernel/(debug/cma|mm/cma)/([^/\s]+)/([^/\s]+)$")


def _sections(src, default: str):
    """(name, [(lineno, path kind, area, file, [lines], header line)]) of a capture file."""
    name, text = load_text(src, default)
    out = []
    cur = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("###"):
            m = _HEADER_RE.match(line)
            if not m:
                raise ParseError(name, lineno, "'### /sys/kernel/debug/cma/<area>/<file>' or "
                                 "'### /sys/kernel/mm/cma/<area>/<file>'", line)
            cur = (lineno, m.group(1), m.group(2), m.group(3), [], line)
            out.append(cur)
        elif cur is None:
            if line.strip():
                raise ParseError(name, lineno, "a '### <path>' line first", line)
        elif line.strip():
            cur[4].append((lineno, line))
    return name, out


def _number(name, sec, lo: int = 0, hi: int = PFN_LIMIT - 1) -> int:
    lineno, _, _, file, lines, header = sec
    if len(lines) != 1:
        got = lines[1][1] if len(lines) > 1 else "<no value>"
        raise ParseError(name, lines[1][0] if len(lines) > 1 else lineno,
                         f"one number for {file}", got)
    ln, text = lines[0]
    return parse_int(text.strip(), lo, hi, f"{file} (a number)", name, ln, text)


def read_cma(debugfs, sysfs=None, zones: dict | None = None) -> pd.DataFrame:
    """Read a capture's ``cma_debugfs`` (and ``cma_sysfs``) text into the ``"cma"`` frame.

    Parameters
    ----------
    debugfs, sysfs : path, ``.gz`` path, file object, or str
        The files (or their text); ``sysfs`` may be None (counters are then -1).
    zones : dict, optional
        ``{(node, zone): (start_pfn, end_pfn, nr_free_cma)}`` from the capture's
        zoneinfo: names each area's zone and its free CMA pages.

    Raises
    ------
    ParseError
        A header that is not a CMA path, a value that is not one number in range,
        a bitmap of the wrong length or with non-u32 words, an area without
        ``base_pfn`` or ``count``, ``used``/``maxchunk`` above ``count``.

    >>> text = "### /sys/kernel/debug/cma/r/base_pfn\\n4096\\n\\n### /sys/kernel/debug/cma/r/count\\n512\\n"
    >>> read_cma(text)[["name", "base_pfn", "count", "used"]].values.tolist()
    [['r', 4096, 512, -1]]
    """
    name, secs = _sections(debugfs, "cma_debugfs")
    areas: dict[str, dict] = {}
    where: dict[tuple[str, str], int] = {}     # (area, file or "") -> line of its header
    for sec in secs:
        lineno, kind, area, file, lines, header = sec
        if kind != "debug/cma":
            raise ParseError(name, lineno, "a /sys/kernel/debug/cma path in the debugfs file", header)
        a = areas.setdefault(area, {})
        where.setdefault((area, ""), lineno)
        where[(area, file)] = lineno
        if file in _WRITE_ONLY or file not in DEBUGFS_FILES:
            continue                  # write-only (the reader's error), or a later kernel's file
        if file == "bitmap":
            a["bitmap"] = (sec, [_words(name, sec)])
        else:
            a[file] = _number(name, sec, 0, 63 if file == "order_per_bit" else PFN_LIMIT - 1)
    if sysfs is not None:
        sname, ssecs = _sections(sysfs, "cma_sysfs")
        for sec in ssecs:
            lineno, kind, area, file, lines, header = sec
            if kind != "mm/cma":
                raise ParseError(sname, lineno, "a /sys/kernel/mm/cma path in the sysfs file", header)
            if file in SYSFS_FILES:
                areas.setdefault(area, {})[file] = _number(sname, sec, 0, S64_MAX)
    rows = []
    for area, a in areas.items():
        for need in ("base_pfn", "count"):
            if need not in a:      # named at the area's first file
                raise ParseError(name, where.get((area, ""), 1),
                                 f"a /sys/kernel/debug/cma/{area}/{need} file for area {area!r}")
        opb = a.get("order_per_bit", 0)
        for f in ("used", "maxchunk"):
            if a.get(f, 0) > a["count"]:
                raise ParseError(name, where[(area, f)], f"{area}/{f} at most count ({a['count']})",
                                 str(a[f]))
        if "bitmap" in a:
            sec, (words,) = a["bitmap"]
            want = -(-(a["count"] >> opb) // 32)
            if len(words) != want:
                raise ParseError(name, sec[0], f"{want} bitmap words for {a['count']} pages "
                                 f"(order_per_bit {opb})", f"{len(words)} words")
        zone, free = None, -1
        for (node, zname), (zs, ze, nfree) in (zones or {}).items():
            if zs <= a["base_pfn"] < ze:
                zone, free = zname, nfree
        rows.append({"name": area, "base_pfn": a["base_pfn"], "count": a["count"],
                     "end_pfn": a["base_pfn"] + a["count"], "order_per_bit": opb, "nid": -1,
                     "zone": zone, "used": a.get("used", -1), "maxchunk": a.get("maxchunk", -1),
                     **{f: a.get(f, -1) for f in SYSFS_FILES}, "free_cma_pages": free})
    if not rows:
        return empty("cma")
    return conform(pd.DataFrame(rows), "cma")


def _words(name, sec) -> list[int]:
    lineno, _, _, _, lines, _ = sec
    if len(lines) != 1:
        raise ParseError(name, lines[1][0] if len(lines) > 1 else lineno,
                         "the bitmap's words on one line", lines[1][1] if len(lines) > 1 else "<empty>")
    ln, text = lines[0]
    return [parse_int(w, 0, U32_MAX, "a bitmap word (u32)", name, ln, text) for w in text.split()]


def format_cma_files(areas) -> tuple[str, str]:
    """(cma_debugfs text, cma_sysfs text) of kernel CMA areas, as a capture holds them."""
    dbg, sysf = [], []
    for a in sorted(areas, key=lambda a: a.name):
        files = dict(cma_debugfs_files(a))
        for f in _WRITE_ONLY:
            files[f] = "cat: read error: Permission denied\n"
        for f in sorted(files):
            dbg.append(f"### /sys/kernel/debug/cma/{a.name}/{f}\n{files[f]}\n")
        for f, v in sorted(cma_sysfs_files(a).items()):
            sysf.append(f"### /sys/kernel/mm/cma/{a.name}/{f}\n{v}\n")
    return "".join(dbg), "".join(sysf)


_ZONE_RE = re.compile(r"^Node (\d+), zone +(\S+)$")
_FREE_CMA_RE = re.compile(r"^ +nr_free_cma +(\d+)$")


def zone_nr_free_cma(zoneinfo, zones: pd.DataFrame) -> dict:
    """``{(node, zone): (start_pfn, end_pfn, nr_free_cma)}`` from /proc/zoneinfo text and
    its ``"zones"`` frame (a zone without the counter gets -1)."""
    name, text = load_text(zoneinfo, "zoneinfo")
    free: dict = {}
    key = None
    for line in text.splitlines():
        m = _ZONE_RE.match(line)
        if m:
            key = (int(m.group(1)), m.group(2))
            continue
        m = _FREE_CMA_RE.match(line)
        if m and key is not None and key not in free:
            free[key] = int(m.group(1))
    return {(int(r.node), str(r.zone)): (int(r.start_pfn), int(r.end_pfn),
                                         free.get((int(r.node), str(r.zone)), -1))
            for r in zones.itertuples() if int(r.spanned)}
