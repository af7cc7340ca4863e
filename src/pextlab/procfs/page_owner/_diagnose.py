"""Naming the first bad line of a page_owner record (private to the reader).

The fast scan matches whole records; where it stops, :func:`diagnose` walks
the record line by line against :mod:`pextlab.procfs.page_owner_grammar` and
says which line is wrong and what was expected there, and where the next
record starts (so a non-strict read can skip the bad one).
"""
from __future__ import annotations

from ..page_owner_grammar import EXTRA_LINE, HEADER_EXPECT, HEADER_LINE, PFN_EXPECT, PFN_LINE

__all__ = ["diagnose"]


def diagnose(text: str, pos: int, at_eof: bool) -> tuple[int, int, str, str]:
    """Find the first bad line of the record starting at ``pos``.

    Returns ``(line_offset, resume_pos, expected, got)``: ``line_offset`` is the
    0-based line of the fault relative to ``pos``; ``resume_pos`` where to
    continue after skipping the bad record (the next header line, or len(text)).
    """
    end = len(text)
    nxt = text.find("\nPage allocated via ", pos)
    resume = end if nxt < 0 else nxt + 1
    lines = text[pos:resume].split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    at_end = at_eof and nxt < 0

    def fault(i, expected):
        if at_end and i >= len(lines) and lines and not text.endswith("\n"):
            # the file stops in the middle of its last line
            return len(lines) - 1, resume, "a complete line (the file ends in the middle of it: " \
                "truncated record)", lines[-1]
        got = lines[i] if i < len(lines) else "<end of file>"
        return i, resume, expected, got

    trunc = " (truncated record)"
    if not lines or not HEADER_LINE.match(lines[0]):
        return fault(0, HEADER_EXPECT)
    if len(lines) < 2:
        return fault(1, PFN_EXPECT + (trunc if at_end else ""))
    if not PFN_LINE.match(lines[1]):
        return fault(1, PFN_EXPECT)
    i = 2
    if i >= len(lines) or not lines[i].startswith(" "):
        return fault(i, "a stack line ' symbol+0xoff/0xsize'" + (trunc if i >= len(lines) and at_end else ""))
    while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
        i += 1
    if at_end and i == len(lines) and not text.endswith("\n"):
        return fault(i - 1, "a complete stack line ' symbol+0xoff/0xsize'" + trunc)
    while i < len(lines) and EXTRA_LINE.match(lines[i]):
        i += 1
    if i >= len(lines):
        return fault(i, "an empty line ending the record" + (trunc if at_end else ""))
    if lines[i].strip() != "":
        return fault(i, "a stack line, 'Page has been migrated, last migrate reason: %s', "
                        "'Slab cache page', 'Charged ...' or the empty line ending the record")
    j = i + 1
    while j < len(lines) and lines[j].strip() == "":
        j += 1
    return fault(j, HEADER_EXPECT)
