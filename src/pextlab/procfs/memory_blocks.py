"""Memory blocks: ``/sys/devices/system/memory`` and the capture's text form.

A capture stores the sysfs tree as one text file, ``memory_blocks.txt``::

    block_size_bytes 8000000
    auto_online_blocks offline
    memory0 phys_index=00000000 state=online online=1 valid_zones=none removable=1 phys_device=0 node=0
    memory32 phys_index=00000020 state=offline online=0 valid_zones=Normal,Movable removable=1 phys_device=0 node=0

(``valid_zones`` has its spaces written as commas so each line stays
``key=value`` pairs.)  :func:`read_memory_blocks` parses that text,
:func:`read_memory_blocks_sysfs` reads a live (or copied) sysfs tree, and
:func:`format_memory_blocks` writes the capture text back.

Kernel facts used (drivers/base/memory.c, memory-hotplug.rst):
``block_size_bytes`` is printed ``"%lx"`` and is a power of two of at least
one section (``memory_dev_init`` panics otherwise); ``phys_index``
``"%08lx"`` is the block id -- the ``N`` of ``memoryN``, the first section
divided by the sections per block (``phys_index_show``, v3.19 and v6.12) --
so ``start_pfn = phys_index * block_size_bytes / PAGE_SIZE``; ``state`` is
``online``, ``offline`` or ``going-offline``; ``valid_zones`` of an online
block is its zone (``none`` when the block spans zones or nodes), of an
offline block the zones it could be onlined to.  A block whose memory belongs
to several nodes has a ``nodeN`` link for each; the capture text writes them
``node=0,1``, the frame's ``node`` column holds the first and ``nodes``
all of them as text (``"0,1"``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from ._common import categorical, load_text, parse_int
from .limits import INT_MAX, INT_MIN, MAX_NUMNODES, PAGE_SHIFT, PFN_LIMIT, SECTION_SIZE_BITS

__all__ = ["read_memory_blocks", "read_memory_blocks_sysfs", "format_memory_blocks",
           "DEFAULT_FIELDS", "PAGE_SHIFT", "SECTION_SIZE_BITS"]

#: The per-block keys a capture writes, in its order.
DEFAULT_FIELDS = ("phys_index", "state", "online", "valid_zones", "removable", "phys_device", "node")

_BLOCK_RE = re.compile(r"^memory(\d+)(?: (.*))?$")
_KV_RE = re.compile(r"^([a-z_]+)=(.*)$")
_STATES = ("online", "offline", "going-offline")
_NODES_RE = re.compile(r"\d+(?:,\d+)*")


def _build(rows: list[dict], block_size_bytes: int | None, section_size_bits: int) -> pd.DataFrame:
    if not rows:
        return empty("memory_blocks")
    pages_per_section = 1 << (section_size_bits - PAGE_SHIFT)
    block_pages = (block_size_bytes >> PAGE_SHIFT) if block_size_bytes else pages_per_section
    phys = np.array([r["phys_index"] for r in rows], dtype="int64")
    start = phys * block_pages
    states = [r["state"] for r in rows]
    valid = [r["valid_zones"] for r in rows]
    online = np.array([r["online"] for r in rows], dtype=bool)
    zone = [v if (on and v and v != "none" and " " not in v) else None
            for v, on in zip(valid, online)]
    df = pd.DataFrame({
        "block": np.array([r["block"] for r in rows], dtype="int64"),
        "phys_index": phys,
        "start_pfn": start,
        "end_pfn": start + block_pages,
        "state": categorical(states, [s for s in _STATES if s in states]),
        "online": online,
        "valid_zones": np.array(valid, dtype=object),
        "zone": pd.Categorical(zone),
        "node": np.array([r["nodes"][0] if r["nodes"] else -1 for r in rows], dtype="int64"),
        "nodes": np.array([",".join(map(str, r["nodes"])) for r in rows], dtype=object),
        "removable": np.array([r["removable"] for r in rows], dtype=bool),
    })
    return conform(df, "memory_blocks")


def _block_size(text: str, section_size_bits: int, name, lineno, line) -> int:
    """``block_size_bytes``: a power of two of at least one section (drivers/base/memory.c)."""
    size = parse_int(text, 1 << section_size_bits, 1 << 63, "block_size_bytes (hex)", name, lineno, line,
                     base=16)
    if size & (size - 1):
        raise ParseError(name, lineno, "block_size_bytes a power of two", line)
    return size


def _attrs(df: pd.DataFrame, block_size, auto, fields, phys_device: dict, rows: list[dict]) -> pd.DataFrame:
    df.attrs.update({"block_size_bytes": block_size, "auto_online_blocks": auto, "fields": fields,
                     "phys_device": phys_device})
    return df


def read_memory_blocks(src, *, section_size_bits: int = SECTION_SIZE_BITS) -> pd.DataFrame:
    """Read the capture's ``memory_blocks.txt`` into the ``"memory_blocks"`` frame.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.
    section_size_bits : int
        ``SECTION_SIZE_BITS`` of the machine (27 on x86_64).

    Returns
    -------
    pandas.DataFrame
        One row per ``memoryN`` line in file order.  ``attrs`` hold
        ``block_size_bytes`` (int or None), ``auto_online_blocks`` (str or
        None), ``fields`` (the per-block keys in file order),
        ``phys_device`` (``{block: value}``) and ``nodes`` (``{block: (node,
        ...)}``, every node of the block), the keys the schema has no column for.

    Raises
    ------
    ParseError
        On an unknown line, an unknown, repeated or missing key (a ``memoryN`` line without
        ``phys_index`` or ``state``), or a value the kernel cannot print (see
        the module docstring).
    """
    name, text = load_text(src, "memory_blocks")
    block_size = None
    auto = None
    rows: list[dict] = []
    seen: dict[int, int] = {}
    fields: tuple | None = None
    phys_device: dict[int, str] = {}
    max_block = PFN_LIMIT >> (section_size_bits - PAGE_SHIFT)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, _, value = line.partition(" ")
        if key in ("block_size_bytes", "auto_online_blocks"):
            if (block_size if key == "block_size_bytes" else auto) is not None:
                raise ParseError(name, lineno, f"one {key} line", line)
            if key == "block_size_bytes":
                block_size = _block_size(value.strip(), section_size_bits, name, lineno, line)
            else:
                auto = value.strip()
            continue
        m = _BLOCK_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'block_size_bytes', 'auto_online_blocks' or 'memoryN key=value ...'", line)
        block = parse_int(m.group(1), 0, max_block, "a block number", name, lineno, line)
        if block in seen:
            raise ParseError(name, lineno, f"each block once (memory{block} is on line {seen[block]})", line)
        seen[block] = lineno
        kv: dict[str, str] = {}
        for tok in (m.group(2) or "").split():
            t = _KV_RE.match(tok)
            if not t:
                raise ParseError(name, lineno, "key=value tokens", line)
            if t.group(1) not in DEFAULT_FIELDS:
                raise ParseError(name, lineno, f"keys among {', '.join(DEFAULT_FIELDS)}", line)
            if t.group(1) in kv:
                raise ParseError(name, lineno, f"one {t.group(1)}= value", line)
            kv[t.group(1)] = t.group(2)
        if fields is None:
            fields = tuple(kv)
        row = _row_from_values(block, kv, lambda k: (name, lineno, line))
        if "phys_device" in kv:
            phys_device[row["block"]] = kv["phys_device"]
        rows.append(row)
    df = _build(rows, block_size, section_size_bits)
    return _attrs(df, block_size, auto, fields or DEFAULT_FIELDS, phys_device, rows)


def _row_from_values(block: int, kv: dict[str, str], where) -> dict:
    """One block's values, checked; ``where(key)`` is ``(file, line, text)`` for errors."""
    def need(key, ok, expected):
        if not ok:
            raise ParseError(*where(key)[:2], expected, where(key)[2])

    for key in ("phys_index", "state"):
        need(key, key in kv, f"a {key}= value")
    # phys_index_show prints the block id: memory_block_id(start_section_nr)
    phys = parse_int(kv["phys_index"], block, block, "phys_index (hex) equal to the block id",
                     *where("phys_index"), base=16)
    state = kv["state"]
    need("state", state in _STATES, "state online, offline or going-offline")
    online = kv.get("online", "1" if state == "online" else "0")
    need("online", online in ("0", "1"), "online 0 or 1")
    removable = kv.get("removable", "0")
    need("removable", removable in ("0", "1"), "removable 0 or 1")
    if "phys_device" in kv:
        parse_int(kv["phys_device"], INT_MIN, INT_MAX, "phys_device", *where("phys_device"))
    nodes: tuple[int, ...] = ()
    if kv.get("node", "") != "":
        need("node", _NODES_RE.fullmatch(kv["node"]) is not None, "node=N or node=N,M,... (the block's nodes)")
        nodes = tuple(parse_int(n, 0, MAX_NUMNODES - 1, "node ids", *where("node"))
                      for n in kv["node"].split(","))
        need("node", list(nodes) == sorted(set(nodes)), "node ids in ascending order, each once")
    valid = kv.get("valid_zones", "").replace(",", " ")
    return {"block": block, "phys_index": phys, "state": state, "online": online == "1",
            "valid_zones": valid, "nodes": nodes, "removable": removable == "1"}


def read_memory_blocks_sysfs(root="/sys/devices/system/memory", *,
                             section_size_bits: int = SECTION_SIZE_BITS) -> pd.DataFrame:
    """Read a ``/sys/devices/system/memory`` tree into the ``"memory_blocks"`` frame.

    Parameters
    ----------
    root : path
        The ``memory`` directory (live sysfs or a copy of it).
    section_size_bits : int
        ``SECTION_SIZE_BITS`` of the machine (27 on x86_64).

    Returns
    -------
    pandas.DataFrame
        One row per ``memoryN`` directory, sorted by block number, with the
        same ``attrs`` as :func:`read_memory_blocks`.  The nodes come from the
        ``nodeN`` links inside each block directory (none: ``node`` -1).

    Raises
    ------
    ParseError
        When a block's attribute cannot be parsed, naming its file.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(root)

    def attr(p: Path) -> str | None:
        try:
            return p.read_text().strip()
        except OSError:
            return None

    block_size = attr(root / "block_size_bytes")
    auto = attr(root / "auto_online_blocks")
    dirs = []
    max_block = PFN_LIMIT >> (section_size_bits - PAGE_SHIFT)
    for entry in os.scandir(root):
        m = re.fullmatch(r"memory(\d+)", entry.name)
        if m and entry.is_dir():
            dirs.append((parse_int(m.group(1), 0, max_block, "a block number", entry.path, 1, entry.name),
                         Path(entry.path)))
    dirs.sort()
    rows, phys_device = [], {}
    for block, d in dirs:
        kv = {}
        for key in DEFAULT_FIELDS:
            if key == "node":
                continue
            v = attr(d / key)
            if v is not None:
                kv[key] = v
        nodes = sorted(int(n[4:]) for n in os.listdir(d) if re.fullmatch(r"node\d{1,4}", n))
        if nodes:
            kv["node"] = ",".join(map(str, nodes))
        row = _row_from_values(block, kv, lambda k, d=d, kv=kv: (
            str(d / k) if k != "node" else str(d), 1, kv.get(k, "<missing>")))
        if "phys_device" in kv:
            phys_device[block] = kv["phys_device"]
        rows.append(row)
    bs = (_block_size(block_size, section_size_bits, root / "block_size_bytes", 1, block_size)
          if block_size else None)
    df = _build(rows, bs, section_size_bits)
    return _attrs(df, bs, auto, DEFAULT_FIELDS, phys_device, rows)


def format_memory_blocks(df: pd.DataFrame, *, block_size_bytes: int | None = None,
                         auto_online_blocks: str | None = None, fields=None) -> str:
    """Write the capture text form of a ``"memory_blocks"`` frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Schema ``"memory_blocks"``.
    block_size_bytes, auto_online_blocks : optional
        The global lines; default ``df.attrs`` values.  A global line is left
        out when its value is None.
    fields : sequence of str, optional
        Per-block keys to write, default ``df.attrs["fields"]`` or
        :data:`DEFAULT_FIELDS`.  ``phys_device`` comes from
        ``df.attrs["phys_device"]`` (default ``0``), ``node`` from the
        ``nodes`` column (``node=0,1``).

    Returns
    -------
    str
        The text, ``valid_zones`` spaces written as commas.
    """
    attrs = df.attrs
    bs = block_size_bytes if block_size_bytes is not None else attrs.get("block_size_bytes")
    auto = auto_online_blocks if auto_online_blocks is not None else attrs.get("auto_online_blocks")
    fields = tuple(fields or attrs.get("fields") or DEFAULT_FIELDS)
    phys_device = attrs.get("phys_device") or {}
    out = []
    if bs is not None:
        out.append(f"block_size_bytes {int(bs):x}\n")
    if auto is not None:
        out.append(f"auto_online_blocks {auto}\n")
    cols = {c: df[c].tolist() for c in ("block", "phys_index", "state", "online", "valid_zones", "nodes", "removable")}
    for i in range(len(df)):
        block = int(cols["block"][i])
        vals = {
            "phys_index": f"{int(cols['phys_index'][i]):08x}",
            "state": str(cols["state"][i]),
            "online": str(int(bool(cols["online"][i]))),
            "valid_zones": str(cols["valid_zones"][i]).replace(" ", ","),
            "removable": str(int(bool(cols["removable"][i]))),
            "phys_device": str(phys_device.get(block, 0)),
            "node": str(cols["nodes"][i]),
        }
        unknown = [f for f in fields if f not in vals]
        if unknown:
            raise ValueError(f"unknown memory block fields {unknown}")
        out.append(f"memory{block} " + " ".join(f"{f}={vals[f]}" for f in fields) + "\n")
    return "".join(out)

