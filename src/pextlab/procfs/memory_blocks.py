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
``block_size_bytes`` is printed ``"%lx"``; ``phys_index`` ``"%08lx"`` is the
block's first memory section, so ``start_pfn = phys_index * pages_per_section``;
``valid_zones`` of an online block is its zone (``none`` when the block spans
zones or nodes), of an offline block the zones it could be onlined to.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ParseError
from ..schema import conform, empty
from .buddyinfo import _categorical, _load

__all__ = ["read_memory_blocks", "read_memory_blocks_sysfs", "format_memory_blocks",
           "DEFAULT_FIELDS", "PAGE_SHIFT", "SECTION_SIZE_BITS"]

PAGE_SHIFT = 12
#: x86_64 default (128 MiB sections).
SECTION_SIZE_BITS = 27
#: The per-block keys a capture writes, in its order.
DEFAULT_FIELDS = ("phys_index", "state", "online", "valid_zones", "removable", "phys_device", "node")

_BLOCK_RE = re.compile(r"^memory(\d+)(?: (.*))?$")
_KV_RE = re.compile(r"^([a-z_]+)=(.*)$")
_STATES = ("online", "offline", "going-offline")


def _build(rows: list[dict], block_size_bytes: int | None, section_size_bits: int) -> pd.DataFrame:
    if not rows:
        return empty("memory_blocks")
    pages_per_section = 1 << (section_size_bits - PAGE_SHIFT)
    block_pages = (block_size_bytes >> PAGE_SHIFT) if block_size_bytes else pages_per_section
    phys = np.array([r["phys_index"] for r in rows], dtype="int64")
    start = phys * pages_per_section
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
        "state": _categorical(states, [s for s in _STATES if s in states] + sorted(set(states) - set(_STATES))),
        "online": online,
        "valid_zones": np.array(valid, dtype=object),
        "zone": pd.Categorical(zone),
        "node": np.array([r["node"] for r in rows], dtype="int64"),
        "nodes": np.array([str(r["node"]) for r in rows], dtype=object),
        "removable": np.array([r["removable"] for r in rows], dtype=bool),
    })
    return conform(df, "memory_blocks")


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
        None), ``fields`` (the per-block keys in file order) and
        ``phys_device`` (``{block: value}``, the one key the schema has no
        column for).

    Raises
    ------
    ParseError
        On an unknown line, a ``memoryN`` line without ``phys_index`` or
        ``state``, or a malformed value.
    """
    name, text = _load(src, "memory_blocks")
    block_size = None
    auto = None
    rows: list[dict] = []
    fields: tuple | None = None
    phys_device: dict[int, str] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("block_size_bytes "):
            try:
                block_size = int(line.split(" ", 1)[1].strip(), 16)
            except ValueError:
                raise ParseError(name, lineno, "block_size_bytes in hex", line) from None
            continue
        if line.startswith("auto_online_blocks "):
            auto = line.split(" ", 1)[1].strip()
            continue
        m = _BLOCK_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'block_size_bytes', 'auto_online_blocks' or 'memoryN key=value ...'", line)
        kv: dict[str, str] = {}
        for tok in (m.group(2) or "").split():
            t = _KV_RE.match(tok)
            if not t:
                raise ParseError(name, lineno, "key=value tokens", line)
            kv[t.group(1)] = t.group(2)
        if fields is None:
            fields = tuple(kv)
        row = _row_from_values(int(m.group(1)), kv, name, lineno, line)
        if "phys_device" in kv:
            phys_device[row["block"]] = kv["phys_device"]
        rows.append(row)
    df = _build(rows, block_size, section_size_bits)
    df.attrs.update({"block_size_bytes": block_size, "auto_online_blocks": auto,
                     "fields": fields or DEFAULT_FIELDS, "phys_device": phys_device})
    return df


def _row_from_values(block: int, kv: dict[str, str], name, lineno, line) -> dict:
    try:
        phys = int(kv["phys_index"], 16)
        state = kv["state"]
    except KeyError as e:
        raise ParseError(name, lineno, f"a {e.args[0]}= value", line) from None
    except ValueError:
        raise ParseError(name, lineno, "phys_index in hex", line) from None
    try:
        online = bool(int(kv["online"])) if "online" in kv else state == "online"
        node = int(kv["node"]) if "node" in kv and kv["node"] != "" else -1
        removable = bool(int(kv["removable"])) if "removable" in kv else False
    except ValueError:
        raise ParseError(name, lineno, "integer online=, node= and removable= values", line) from None
    valid = kv.get("valid_zones", "").replace(",", " ")
    return {"block": block, "phys_index": phys, "state": state, "online": online,
            "valid_zones": valid, "node": node, "removable": removable}


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
        same ``attrs`` as :func:`read_memory_blocks`.  The node comes from the
        ``nodeN`` link inside each block directory (-1 when there is none).

    Raises
    ------
    ParseError
        When a block's ``phys_index`` or ``state`` cannot be read or parsed.
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
    for entry in os.scandir(root):
        m = re.fullmatch(r"memory(\d+)", entry.name)
        if m and entry.is_dir():
            dirs.append((int(m.group(1)), Path(entry.path)))
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
        nodes = sorted(int(n[4:]) for n in os.listdir(d) if re.fullmatch(r"node\d+", n))
        if nodes:
            kv["node"] = str(nodes[0])
        row = _row_from_values(block, kv, d, None, str(kv))
        if "phys_device" in kv:
            phys_device[block] = kv["phys_device"]
        rows.append(row)
    try:
        bs = int(block_size, 16) if block_size else None
    except ValueError:
        raise ParseError(root / "block_size_bytes", 1, "a hex number", block_size) from None
    df = _build(rows, bs, section_size_bits)
    df.attrs.update({"block_size_bytes": bs, "auto_online_blocks": auto,
                     "fields": DEFAULT_FIELDS, "phys_device": phys_device})
    return df


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
        ``df.attrs["phys_device"]`` (default ``0``).

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
    cols = {c: df[c].tolist() for c in ("block", "phys_index", "state", "online", "valid_zones", "node", "removable")}
    for i in range(len(df)):
        block = int(cols["block"][i])
        vals = {
            "phys_index": f"{int(cols['phys_index'][i]):08x}",
            "state": str(cols["state"][i]),
            "online": str(int(bool(cols["online"][i]))),
            "valid_zones": str(cols["valid_zones"][i]).replace(" ", ","),
            "removable": str(int(bool(cols["removable"][i]))),
            "phys_device": str(phys_device.get(block, 0)),
            "node": str(int(cols["node"][i])),
        }
        unknown = [f for f in fields if f not in vals]
        if unknown:
            raise ValueError(f"unknown memory block fields {unknown}")
        out.append(f"memory{block} " + " ".join(f"{f}={vals[f]}" for f in fields) + "\n")
    return "".join(out)
