"""Boot facts from the kernel log (``dmesg``).

:func:`read_dmesg` pulls the memory-layout and page_ext/page_owner lines a
capture's ``dmesg.txt`` holds into a :class:`DmesgInfo`; lines may carry the
``[    0.000000] `` timestamp prefix or not.  :func:`format_dmesg_line`
prints a line with the kernel's ``"[%5lu.%06lu] "`` prefix.

Lines recognised (Linux 6.12 wording):

* ``Command line: ...`` / ``Kernel command line: ...``
* ``Zone ranges:`` then ``  DMA      [mem 0x...-0x...]`` or ``  Normal   empty``
* ``Movable zone start for each node`` then ``  Node N: 0x...``
* ``Early memory node ranges`` then ``  node   N: [mem 0x...-0x...]``
* ``No NUMA configuration found`` / ``Faking a node at [mem 0x...-0x...]``
* ``Built N zonelists, mobility grouping on.  Total pages: N``
* ``Unknown kernel command line parameters "...", will be passed to user space.``
* ``Memory: AK/BK available (CK kernel code, ..., DK cma-reserved)``
* ``allocated N bytes of page_ext``, ``page_owner is disabled``
* ``Node N, zone NAME: page owner found early allocated N pages``
* ``x86/mm: Memory block size: 128MB``
* ``cma: Reserved N MiB at ...``
* ``Setting debug_guardpage_minorder to N``
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import ParseError
from ._common import load_text, parse_int
from .limits import MAX_NUMNODES, NR_PAGE_ORDERS_LIMIT, PAGE_SHIFT, PFN_LIMIT, S64_MAX, U64_MAX

__all__ = ["DmesgInfo", "read_dmesg", "format_dmesg_line", "strip_timestamp"]

#: kB in a 64-bit physical address space (the ``Memory:`` line's numbers).
_KB_LIMIT = 1 << 54
_TS_RE = re.compile(r"^\[ *(\d+)\.(\d{6})\] ?")
_MEM_RANGE = r"\[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\]"
_ZONE_RANGE_RE = re.compile(r"^  (\S+) +(?:" + _MEM_RANGE + r"|(empty))$")
_NODE_RANGE_RE = re.compile(r"^  node +(\d+): " + _MEM_RANGE + "$")
_MOVABLE_RE = re.compile(r"^  Node (\d+): (0x[0-9a-fA-F]+)$")
_CMDLINE_RE = re.compile(r"^(Kernel command line|Command line): ?(.*)$")
_FAKE_RE = re.compile(r"^Faking a node at " + _MEM_RANGE)
_TOTAL_RE = re.compile(r"^Built (\d+) zonelists, mobility grouping (on|off)\.\s+Total pages: (\d+)")
_UNKNOWN_RE = re.compile(r'^Unknown kernel command line parameters "(.*)", will be passed to user space\.')
_MEMORY_RE = re.compile(r"^Memory: (\d+)K/(\d+)K available \((.*)\)$")
_MEMORY_PART_RE = re.compile(r"^(\d+)K (.+)$")
_PAGE_EXT_RE = re.compile(r"^allocated (\d+) bytes of page_ext$")
_EARLY_RE = re.compile(r"^Node (\d+), zone +(\S+): page owner found early allocated (\d+) pages$")
_BLOCK_RE = re.compile(r"^x86/mm: Memory block size: (\d+)([KMG]B)$")
_CMA_RE = re.compile(r"^cma: Reserved (\d+) ([KMG]iB) at")
_GUARD_RE = re.compile(r"^Setting debug_guardpage_minorder to (\d+)$")
_UNITS = {"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


@dataclass(frozen=True)
class DmesgInfo:
    """Memory-layout facts from one boot log.

    Attributes
    ----------
    command_line : str or None
        The kernel command line (``Kernel command line:``, else ``Command line:``).
    node_ranges : list of (nid, start_pfn, end_pfn_exclusive)
        ``Early memory node ranges``.
    zone_ranges : dict
        Zone name -> ``(start_pfn, end_pfn_exclusive)``, or None for ``empty``.
    movable_zone_start : dict
        Node -> first pfn of ZONE_MOVABLE, where the kernel printed one.
    numa_fake : tuple or None
        ``(start_pfn, end_pfn_exclusive)`` of ``Faking a node at``.
    no_numa_config : bool
        ``No NUMA configuration found`` was printed.
    page_ext_bytes : int or None
        ``allocated N bytes of page_ext``.
    page_owner_disabled : bool
        ``page_owner is disabled`` was printed.
    early_allocated : dict
        ``(nid, zone) -> pages`` from ``page owner found early allocated``.
    memory_block_size : int or None
        Bytes, from ``x86/mm: Memory block size``.
    memory_line : dict or None
        ``Memory:`` line numbers in kB: ``available_kb``, ``total_kb`` and
        one ``<name>_kb`` per part (``kernel_code_kb``, ``rwdata_kb``,
        ``rodata_kb``, ``init_kb``, ``bss_kb``, ``reserved_kb``,
        ``cma_reserved_kb``).
    cma_reserved : int or None
        Bytes reserved by ``cma: Reserved`` lines (summed), None when none.
    unknown_parameters : list of str
        From ``Unknown kernel command line parameters``.
    guardpage_minorder : int or None
        From ``Setting debug_guardpage_minorder to N``.
    total_pages : int or None
        ``Built N zonelists ... Total pages: N`` at boot (the first such line).
    nr_zonelists : int or None
        The N of the boot ``Built N zonelists``.
    total_pages_all : list of int
        Total pages of every ``Built ... zonelists`` line (memory hotplug
        rebuilds the zonelists and prints the line again).
    """

    command_line: str | None = None
    node_ranges: list = field(default_factory=list)
    zone_ranges: dict = field(default_factory=dict)
    movable_zone_start: dict = field(default_factory=dict)
    numa_fake: tuple | None = None
    no_numa_config: bool = False
    page_ext_bytes: int | None = None
    page_owner_disabled: bool = False
    early_allocated: dict = field(default_factory=dict)
    memory_block_size: int | None = None
    memory_line: dict | None = None
    cma_reserved: int | None = None
    unknown_parameters: list = field(default_factory=list)
    guardpage_minorder: int | None = None
    total_pages: int | None = None
    nr_zonelists: int | None = None
    total_pages_all: list = field(default_factory=list)

    def early_allocated_per_node(self) -> dict[int, int]:
        """Early allocated pages summed per node."""
        out: dict[int, int] = {}
        for (nid, _zone), n in self.early_allocated.items():
            out[nid] = out.get(nid, 0) + n
        return out


def strip_timestamp(line: str) -> str:
    """``line`` without a leading ``[    0.000000] `` prefix."""
    m = _TS_RE.match(line)
    return line[m.end():] if m else line


def format_dmesg_line(ts, text: str) -> str:
    """A kernel log line with the ``"[%5lu.%06lu] "`` timestamp prefix.

    Parameters
    ----------
    ts : float or int
        Seconds since boot (a float), or nanoseconds when an ``int``.
    text : str
        The message (no trailing newline needed).

    Returns
    -------
    str
        E.g. ``"[    0.239624] allocated 18874368 bytes of page_ext"``.
    """
    if isinstance(ts, int):
        usec = ts // 1000
    else:
        usec = int(round(float(ts) * 1_000_000))
    return f"[{usec // 1_000_000:5d}.{usec % 1_000_000:06d}] {text}"


def read_dmesg(src) -> DmesgInfo:
    """Read the memory-layout facts of a boot log.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The log, or its text.

    Returns
    -------
    DmesgInfo
        Facts for every recognised line (a fact not printed stays at its
        default).  Lines that are not recognised are ignored.

    Raises
    ------
    ParseError
        When a recognised line is malformed: a zone-range, movable-start or
        node-range line inside its block that does not parse, a ``Memory:``
        line whose parts are not ``NK name``, a ``[mem start-end]`` range that
        ends before it starts, or a number the kernel cannot print there (an
        address past 64 bits, a node id from ``MAX_NUMNODES`` on, ...).
    """
    name, text = load_text(src, "dmesg")
    kw: dict = {"node_ranges": [], "zone_ranges": {}, "movable_zone_start": {},
                "early_allocated": {}, "unknown_parameters": [], "total_pages_all": []}
    block = None     # "zones", "movable", "nodes"
    cma = 0
    saw_cma = False
    cmdlines: dict[str, str] = {}
    lineno, raw = 0, ""

    # the helpers check a number of the current line (lineno, raw)
    def num(digits, lo, hi, what, base=10):
        return parse_int(digits, lo, hi, what, name, lineno, raw, base)

    def pfn_range(a: str, b: str) -> tuple[int, int]:
        # "[mem %#018Lx-%#018Lx]" (%pR): start and inclusive end of a u64 range
        start, end = num(a, 0, U64_MAX, "an address", 16), num(b, 0, U64_MAX, "an address", 16)
        if end < start:
            raise ParseError(name, lineno, "a range '[mem start-end]' with end >= start", raw)
        return start >> PAGE_SHIFT, (end + 1) >> PAGE_SHIFT

    def node_id(digits):
        return num(digits, 0, MAX_NUMNODES - 1, "a node id")

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = strip_timestamp(raw)
        if block is not None and line.startswith("  "):
            if block == "zones":
                m = _ZONE_RANGE_RE.match(line)
                if not m:
                    raise ParseError(name, lineno, "'  ZONE  [mem 0x..-0x..]' or '  ZONE  empty'", raw)
                kw["zone_ranges"][m.group(1)] = None if m.group(4) else pfn_range(m.group(2), m.group(3))
            elif block == "movable":
                m = _MOVABLE_RE.match(line)
                if not m:
                    raise ParseError(name, lineno, "'  Node N: 0x...'", raw)
                kw["movable_zone_start"][node_id(m.group(1))] = num(m.group(2), 0, U64_MAX, "an address",
                                                                    16) >> PAGE_SHIFT
            else:
                m = _NODE_RANGE_RE.match(line)
                if not m:
                    raise ParseError(name, lineno, "'  node   N: [mem 0x..-0x..]'", raw)
                kw["node_ranges"].append((node_id(m.group(1)), *pfn_range(m.group(2), m.group(3))))
            continue
        block = None
        if line == "Zone ranges:":
            block = "zones"
            continue
        if line == "Movable zone start for each node":
            block = "movable"
            continue
        if line == "Early memory node ranges":
            block = "nodes"
            continue
        m = _CMDLINE_RE.match(line)
        if m:
            cmdlines.setdefault(m.group(1), m.group(2))
            continue
        if line.startswith("No NUMA configuration found"):
            kw["no_numa_config"] = True
            continue
        m = _FAKE_RE.match(line)
        if m:
            kw["numa_fake"] = pfn_range(m.group(1), m.group(2))
            continue
        m = _TOTAL_RE.match(line)
        if m:
            # rebuilt at every hotplug online/offline; the first is the boot value
            total = num(m.group(3), 0, PFN_LIMIT - 1, "a page count")
            kw.setdefault("nr_zonelists", num(m.group(1), 1, MAX_NUMNODES, "a number of zonelists"))
            kw.setdefault("total_pages", total)
            kw["total_pages_all"].append(total)
            continue
        m = _UNKNOWN_RE.match(line)
        if m:
            kw["unknown_parameters"].extend(m.group(1).split())
            continue
        m = _MEMORY_RE.match(line)
        if m:
            info = {"available_kb": num(m.group(1), 0, _KB_LIMIT, "kB"),
                    "total_kb": num(m.group(2), 0, _KB_LIMIT, "kB")}
            for part in m.group(3).split(", "):
                p = _MEMORY_PART_RE.match(part)
                if not p:
                    raise ParseError(name, lineno, "'Memory:' parts like '6144K kernel code'", raw)
                info[re.sub(r"[^a-z0-9]+", "_", p.group(2).lower()) + "_kb"] = num(p.group(1), 0, _KB_LIMIT, "kB")
            kw["memory_line"] = info
            continue
        m = _PAGE_EXT_RE.match(line)
        if m:
            kw["page_ext_bytes"] = num(m.group(1), 0, S64_MAX, "a size in bytes")
            continue
        if line.startswith("page_owner is disabled"):
            kw["page_owner_disabled"] = True
            continue
        m = _EARLY_RE.match(line)
        if m:
            kw["early_allocated"][(node_id(m.group(1)), m.group(2))] = num(m.group(3), 0, PFN_LIMIT - 1,
                                                                            "a page count")
            continue
        m = _BLOCK_RE.match(line)
        if m:
            kw["memory_block_size"] = num(m.group(1), 0, S64_MAX // _UNITS[m.group(2)], "a size") \
                * _UNITS[m.group(2)]
            continue
        m = _CMA_RE.match(line)
        if m:
            cma += num(m.group(1), 0, U64_MAX // _UNITS[m.group(2)], "a size") * _UNITS[m.group(2)]
            saw_cma = True
            continue
        m = _GUARD_RE.match(line)
        if m:
            # mm/page_alloc.c debug_guardpage_minorder_setup: at most MAX_PAGE_ORDER / 2
            kw["guardpage_minorder"] = num(m.group(1), 0, NR_PAGE_ORDERS_LIMIT // 2, "an order")
            continue
    kw["command_line"] = cmdlines.get("Kernel command line", cmdlines.get("Command line"))
    kw["cma_reserved"] = cma if saw_cma else None
    return DmesgInfo(**kw)
