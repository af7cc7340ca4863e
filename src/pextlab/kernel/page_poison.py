"""Page poisoning (mm/page_poison.c; v3.19: mm/debug-pagealloc.c with a page_ext bit).

With ``page_poison=on`` every page freed to the buddy allocator is filled with
PAGE_POISON (0xaa) and checked when it is allocated again.  A byte that is not
0xaa means someone wrote to free memory: the kernel reports
``pagealloc: memory corruption`` (or ``single bit error`` when exactly one bit
flipped), a hex dump of the bad bytes, and ``dump_page()`` with the page's
page_owner record (who last allocated and freed it) -- see kernel-reference §4.6.

Profiles: v3.19 marks poisoned pages with PAGE_EXT_DEBUG_POISON in page_ext
(a page_ext client, so page_ext tables exist with page_poison on even without
page_owner); v4.12+ poisons every free page without page_ext.

In the simulator every free page is poisoned (the kernel poisons boot memory
too); only injected corruptions are stored, as ``{pfn: (offset, value)}``.
"""
from __future__ import annotations

from ..errors import PextlabError
from .buddy import find_free_block
from .debug import dump_page
from .page_ext import PAGE_EXT_DEBUG_POISON, PageExtOperations

__all__ = ["PagePoison", "PAGE_POISON", "page_poisoning_ops"]

PAGE_POISON = 0xAA


class PagePoison:
    """Poisoning state.  Every page freed to the buddy allocator is poisoned (boot
    memory included, as memblock_free_pages goes through free_pages_prepare), so
    "poisoned" is "free"; only injected corruptions need storing."""

    def __init__(self, mm):
        self.mm = mm
        self.corrupt: dict[int, tuple[int, int]] = {}
        self.reports: list[dict] = []
        self.in_page_ext = mm.profile.poison_in_page_ext

    def poison_pages(self, pfn: int, order: int) -> None:
        """kernel_poison_pages(): at free (v3.19 also sets PAGE_EXT_DEBUG_POISON)."""
        if self.in_page_ext:
            mm = self.mm
            t = mm.sections[pfn >> mm.section_shift].page_ext
            if t is not None:
                off = pfn & mm.section_mask
                t.flags[off:off + (1 << order)] |= PAGE_EXT_DEBUG_POISON

    def inject(self, pfn: int, offset: int = 0, value: int = 0x00) -> None:
        """Write ``value`` at byte ``offset`` of free page ``pfn`` (a use-after-free)."""
        if find_free_block(self.mm, pfn) is None:
            raise PextlabError(f"pfn {pfn:#x} is not a free (poisoned) page")
        if not 0 <= offset < 4096 or not 0 <= value <= 255 or value == PAGE_POISON:
            raise PextlabError("offset must be 0..4095 and value 0..255 other than 0xaa")
        self.corrupt[pfn] = (offset, value)

    def unpoison_pages(self, pfn: int, order: int) -> None:
        """kernel_unpoison_pages() -> check_poison_mem(): at allocation."""
        mm = self.mm
        n = 1 << order
        t = None
        if self.in_page_ext:
            t = mm.sections[pfn >> mm.section_shift].page_ext
        if self.corrupt:
            for p in range(pfn, pfn + n):
                if p in self.corrupt:
                    off, val = self.corrupt.pop(p)
                    # v3.19..v4.11 only checked pages carrying PAGE_EXT_DEBUG_POISON
                    if self.in_page_ext and (t is None or not
                                             t.flags[p & mm.section_mask] & PAGE_EXT_DEBUG_POISON):
                        continue
                    self._report(p, off, val)
        if t is not None:
            o = pfn & mm.section_mask
            t.flags[o:o + n] &= ~PAGE_EXT_DEBUG_POISON & 0xFF

    def _report(self, pfn: int, offset: int, value: int) -> None:
        mm = self.mm
        flip = value ^ PAGE_POISON
        single = flip and not (flip & (flip - 1))
        kind = "pagealloc: single bit error" if single else "pagealloc: memory corruption"
        lines = [kind]
        addr = 0xFFFF888000000000 + (pfn << 12) + offset
        lines.append(f"{addr:016x}: {value:02x}")
        lines.append(f"CPU: 0 UID: 0 PID: {mm.pid} Comm: {mm.comm} Not tainted "
                     f"{mm.profile.name[1:]}-pextlab #1")
        lines.append("Call Trace:")
        lines.append(" <TASK>")
        for fr in ("dump_stack_lvl+0x5d/0x80", "__kernel_unpoison_pages+0x145/0x1a0",
                   "post_alloc_hook+0x8e/0xd0", "get_page_from_freelist+0x3a1/0x1730",
                   "__alloc_pages_noprof+0x12e/0x230"):
            lines.append(f" {fr}")
        lines.append(" </TASK>")
        for l in lines:
            mm.printk(l)
        # dump_page() appends the page and its page_owner record (mm/debug.c)
        first = len(mm.dmesg_lines)
        dump_page(mm, pfn, "pagealloc: corrupted page details")
        lines.extend(l.split("] ", 1)[1] for l in mm.dmesg_lines[first:])
        self.reports.append({"pfn": pfn, "offset": offset, "value": value, "kind": kind,
                             "text": "\n".join(lines)})


def need_page_poisoning(m) -> bool:
    """mm/debug-pagealloc.c (v3.19) need_page_poisoning: page_poison=on."""
    return bool(m.params.page_poison)


def page_poisoning_ops(mm) -> PageExtOperations:
    """v3.19 client ``page_poisoning_ops``: needs page_ext for its flag bit (a
    module-level need(), so a machine pickles)."""
    return PageExtOperations("page_poisoning", need_page_poisoning, None, size=0,
                             need_shared_flags=True)
