"""``/proc/iomem``: the physical address map.

Each line is ``"%*s%0*llx-%0*llx : %s"``: two spaces of indent per nesting
level, start and inclusive end in hex zero-padded to 8 digits (longer numbers
print in full), and the resource name.  :func:`read_iomem` returns the entries,
:func:`format_iomem` prints them back, and :func:`system_ram_ranges` gives the
page frame ranges of the top-level ``System RAM`` entries the way the kernel
counts them (partial pages left out).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ParseError
from ._common import load_text, parse_int
from .limits import PAGE_SHIFT, U64_MAX

__all__ = ["IomemEntry", "read_iomem", "format_iomem", "system_ram_ranges"]
_LINE_RE = re.compile(r"^( *)([0-9a-fA-F]+)-([0-9a-fA-F]+) : (.*)$")


@dataclass(frozen=True)
class IomemEntry:
    """One ``/proc/iomem`` resource.

    Attributes
    ----------
    start, end : int
        Physical addresses; ``end`` is inclusive, as printed.
    name : str
        Resource name (``System RAM``, ``Reserved``, ``Kernel code``, ...).
    depth : int
        Nesting level (indent / 2); 0 for top-level resources.
    """

    start: int
    end: int
    name: str
    depth: int = 0

    @property
    def size(self) -> int:
        """Bytes covered (``end - start + 1``)."""
        return self.end - self.start + 1


def read_iomem(src) -> list[IomemEntry]:
    """Read ``/proc/iomem``.

    Parameters
    ----------
    src : path, ``.gz`` path, file object, or str
        The file, or its text.

    Returns
    -------
    list of IomemEntry
        In file order.

    Raises
    ------
    ParseError
        On a line that is not ``start-end : name``, an odd indent, an indent
        deeper than one level below the previous line, ``end < start`` or an
        address past 64 bits (``resource_size_t`` is ``phys_addr_t``, u64).
    """
    name, text = load_text(src, "iomem")
    out: list[IomemEntry] = []
    prev_depth = -1
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if not m:
            raise ParseError(name, lineno, "'start-end : name' with hex addresses", line)
        indent = len(m.group(1))
        if indent % 2:
            raise ParseError(name, lineno, "an indent of two spaces per level", line)
        depth = indent // 2
        if depth > prev_depth + 1:
            raise ParseError(name, lineno, f"nesting depth at most {prev_depth + 1}", line)
        start = parse_int(m.group(2), 0, U64_MAX, "an address", name, lineno, line, 16)
        end = parse_int(m.group(3), 0, U64_MAX, "an address", name, lineno, line, 16)
        if end < start and not (start == 0 and end == 0):
            raise ParseError(name, lineno, "end >= start", line)
        out.append(IomemEntry(start, end, m.group(4), depth))
        prev_depth = depth
    return out


def format_iomem(entries, width: int = 8) -> str:
    """Print entries as ``/proc/iomem``.

    Parameters
    ----------
    entries : iterable of IomemEntry
        The resources, in order.
    width : int
        Zero-padding of the addresses (8 for the iomem root, as the kernel).

    Returns
    -------
    str
        The file text.
    """
    return "".join(f"{'':{2 * e.depth}}{e.start:0{width}x}-{e.end:0{width}x} : {e.name}\n" for e in entries)


def system_ram_ranges(entries, name: str = "System RAM") -> list[tuple[int, int]]:
    """Page frame ranges of the top-level ``System RAM`` resources.

    Parameters
    ----------
    entries : list of IomemEntry
        From :func:`read_iomem`.
    name : str
        Resource name to select.

    Returns
    -------
    list of (start_pfn, end_pfn_exclusive)
        ``start`` rounded up and ``end + 1`` rounded down to whole pages,
        ranges with no whole page dropped.  Empty when addresses read as 0
        (``/proc/iomem`` read without privileges).
    """
    page = 1 << PAGE_SHIFT
    out = []
    for e in entries:
        if e.depth != 0 or e.name != name:
            continue
        spfn = (e.start + page - 1) >> PAGE_SHIFT
        epfn = (e.end + 1) >> PAGE_SHIFT
        if epfn > spfn:
            out.append((spfn, epfn))
    return out
