"""The bounds the kernel puts on the numbers it prints, for the readers' checks.

A value outside these bounds is not something a kernel (x86_64, v3.19 and
later) can print: the readers take it as damage and raise
:class:`~pextlab.errors.ParseError` instead of storing it.  Each bound names
where it comes from.  Standard library only (``pextlab sort`` checks
page_owner records with it).
"""
from __future__ import annotations

__all__ = [
    "PAGE_SHIFT", "U64_MAX", "S64_MAX", "INT_MIN", "INT_MAX", "U32_MAX", "PFN_LIMIT",
    "MAX_NUMNODES", "PID_MAX_LIMIT", "NR_CPUS_LIMIT", "SECTION_SIZE_BITS", "NR_PAGE_ORDERS_LIMIT",
    "PAGE_OWNER_ORDER_LIMIT", "TS_NS_LIMIT", "bounded_int", "span",
]

#: arch/x86/include/asm/page_types.h: 4 KiB pages.
PAGE_SHIFT = 12
#: ``%lu`` / ``%llu`` of ``unsigned long`` / ``u64`` on a 64-bit kernel.
U64_MAX = (1 << 64) - 1
#: ``%ld`` of ``long``; also the largest value an int64 column of pextlab.schema holds.
S64_MAX = (1 << 63) - 1
#: ``%d`` of ``int``.
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
#: ``%u`` of ``unsigned int`` (``gfp_t``, ``depot_stack_handle_t``).
U32_MAX = (1 << 32) - 1
#: Page frame numbers and page counts: ``phys_addr_t`` is 64-bit (include/linux/types.h),
#: so ``pfn << PAGE_SHIFT`` fits in 64 bits and every pfn (and count of pages) is below this.
PFN_LIMIT = 1 << (64 - PAGE_SHIFT)
#: include/linux/numa.h ``MAX_NUMNODES = 1 << NODES_SHIFT``; arch/x86/Kconfig
#: ``NODES_SHIFT`` has ``range 1 10``: node ids are below 1024.
MAX_NUMNODES = 1 << 10
#: include/linux/threads.h ``PID_MAX_LIMIT`` (4M when ``sizeof(long) > 4``):
#: ``pid_max`` is at most this, and pids are below ``pid_max``.
PID_MAX_LIMIT = 4 * 1024 * 1024
#: arch/x86/Kconfig ``NR_CPUS_RANGE_END`` (8192 with MAXSMP): CPU ids are below it.
NR_CPUS_LIMIT = 8192
#: arch/x86/include/asm/sparsemem.h (x86_64): 128 MiB memory sections.
SECTION_SIZE_BITS = 27
#: include/linux/mmzone.h refuses ``MAX_PAGE_ORDER + PAGE_SHIFT > SECTION_SIZE_BITS``
#: ("Allocator MAX_PAGE_ORDER exceeds SECTION_SIZE"): at most 16 orders (0..15) on x86_64.
NR_PAGE_ORDERS_LIMIT = SECTION_SIZE_BITS - PAGE_SHIFT + 1
#: The largest order page_owner records: ``MAX_PAGE_ORDER`` (10) for the buddy allocator,
#: but a PUD-sized gigantic folio (1 GiB, ``PUD_SHIFT`` 30 on x86_64) taken by
#: ``alloc_contig_range()`` with ``__GFP_COMP`` goes through ``prep_new_page()`` and so
#: ``set_page_owner()`` with its whole order (v6.10+): 18.
PAGE_OWNER_ORDER_LIMIT = 30 - PAGE_SHIFT
#: page_owner ``ts``/``free_ts`` are ``local_clock()`` nanoseconds since boot (u64);
#: 2**63 ns is 292 years of uptime, so larger values are damage (and the int64 column ends there).
TS_NS_LIMIT = 1 << 63


def bounded_int(text: str, lo: int, hi: int, base: int = 10) -> int | None:
    """``int(text, base)`` when ``text`` is a number in ``lo..hi``, else None.

    Never converts more than 40 characters (a 5,000-digit number is out of any
    bound, and ``int()`` refuses decimal strings past 4,300 digits).

    >>> bounded_int("12", 0, 100), bounded_int("1" * 5000, 0, 100), bounded_int("0x1f", 0, 64, 16)
    (12, None, 31)
    """
    if len(text) > 40:
        return None
    try:
        value = int(text, base)
    except ValueError:
        return None
    return value if lo <= value <= hi else None


def span(lo: int, hi: int) -> str:
    """``lo..hi`` for messages, powers of two near the top written as ``2**k``.

    >>> span(0, PFN_LIMIT - 1), span(-1, 4194303)
    ('0..2**52-1', '-1..4194303')
    """
    def show(v: int) -> str:
        for k in range(32, 65):
            if v == (1 << k):
                return f"2**{k}"
            if v == (1 << k) - 1:
                return f"2**{k}-1"
        return str(v)
    return f"{show(lo)}..{show(hi)}"
