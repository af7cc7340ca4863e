"""CMA, the contiguous memory allocator (mm/cma.c, mm/cma_debug.c, mm/cma_sysfs.c,
kernel/dma/contiguous.c; v6.12).

An area (:class:`CMA`, the kernel's ``struct cma``) is a pageblock-aligned range
reserved from memblock at boot (``cma_declare_contiguous_nid``: ``cma=`` makes the
area named "reserved", ``cma_pernuma=`` / ``numa_cma=`` per-node areas
"pernuma<N>" / "numa<N>") and given to the buddy allocator at core_initcall
(``cma_init_reserved_areas``) with every pageblock MIGRATE_CMA.  Until a driver
asks for it the area's pages serve movable allocations only (``__rmqueue``'s CMA
rule, :mod:`pextlab.kernel.buddy`).

``cma_alloc(mm, cma, count, align)`` claims ``count`` pages: it searches the
area's bitmap (one bit per ``2^order_per_bit`` pages) for a free aligned window
(``bitmap_find_next_zero_area_off``), marks it, and asks
``alloc_contig_range(pfn, pfn + count, MIGRATE_CMA)``
(:func:`pextlab.kernel.page_alloc.alloc_contig_range`) for the pages: isolate,
migrate the movable pages away, take the free pages.  On -EBUSY (a page that
could not be moved, e.g. a pinned one) the window's bits are cleared and the
search goes on one alignment step further; any other error ends it.  A failure
prints the kernel's two lines (unless ``no_warn``), counts ``cma_alloc_fail``
and the area's ``alloc_pages_fail``; a success ``cma_alloc_success`` and
``alloc_pages_success``.  ``cma_release`` gives the pages back
(``free_contig_range``), clears the bits and counts ``release_pages_success``.

Failures are values (:class:`CmaAllocResult`: the errno name, the first busy
pfn, the dump of that page as the kernel's ``alloc_contig_dump_pages`` prints it
with dynamic debug on), never exceptions.  Each attempt is kept in
``mm.cma_log`` (the simulator's trace of ``cma_alloc_start`` /
``cma_alloc_busy_retry`` / ``cma_alloc_finish``).

What the model adds to ``struct cma``: ``allocations`` ({first pfn: count} of
what cma_alloc handed out, the debugfs ``mem_head`` list for every caller), so
``debug.check_invariants`` can check that the bitmap is exactly what CMA handed
out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PextlabError
from .buddy import set_pageblock_migratetype
from .debug import dump_page_lines
from .fastpath import free_pages, free_pages_memory
from .mmzone import PG_RESERVED
from .page_alloc import alloc_contig_range, ERRNO_NAMES
from .profiles import PAGE_SHIFT
from .vmstat import count_vm_event

__all__ = ["CMA", "CmaAllocResult", "MAX_CMA_AREAS", "CMA_ALLOC_STACK", "cma_declare_contiguous_nid",
           "cma_init_reserved_areas", "cma_alloc", "cma_release", "cma_used", "cma_maxchunk",
           "cma_area", "cma_of_pfn", "bitmap_find_next_zero_area_off", "cma_debugfs_files",
           "cma_sysfs_files", "dma_contiguous_reserve"]

#: CONFIG_CMA_AREAS of the captured 6.12 build (data/real-kernel/kernel.config)
MAX_CMA_AREAS = 20

EINVAL, ENOMEM, EBUSY, ENOSPC = 22, 12, 16, 28

#: page_owner stack of the pages cma_alloc hands out when a user writes to
#: /sys/kernel/debug/cma/<name>/alloc (mm/cma_debug.c cma_alloc_write); function
#: names without offsets: their offsets in the captured build are unknown.
CMA_ALLOC_STACK = (
    "post_alloc_hook", "split_free_pages", "alloc_contig_range_noprof", "__cma_alloc",
    "cma_alloc", "cma_alloc_mem", "cma_alloc_write", "simple_attr_write_xsigned",
    "debugfs_attr_write", "full_proxy_write", "vfs_write", "ksys_write", "do_syscall_64",
    "entry_SYSCALL_64_after_hwframe",
)


class CMA:
    """``struct cma`` (mm/cma.h): one contiguous area.

    >>> a = CMA("reserved", 0x3be00, 16384, 0, nid=-1)
    >>> a.end_pfn - a.base_pfn, a.bitmap_maxno, int(a.bitmap.sum())
    (16384, 16384, 0)
    """

    def __init__(self, name: str, base_pfn: int, count: int, order_per_bit: int = 0, nid: int = -1):
        self.name = name
        self.base_pfn = int(base_pfn)
        self.count = int(count)
        self.order_per_bit = int(order_per_bit)
        self.nid = int(nid)                  # the node asked for (-1: NUMA_NO_NODE)
        self.bitmap = np.zeros(self.count >> self.order_per_bit, dtype=bool)
        # /sys/kernel/mm/cma/<name>/ (mm/cma_sysfs.c): pages, not requests
        self.alloc_pages_success = 0
        self.alloc_pages_fail = 0
        self.release_pages_success = 0
        self.allocations: dict[int, int] = {}    # first pfn -> count handed out

    @property
    def end_pfn(self) -> int:
        return self.base_pfn + self.count

    @property
    def bitmap_maxno(self) -> int:
        """cma_bitmap_maxno: bits in the bitmap."""
        return self.count >> self.order_per_bit

    def __repr__(self):
        return (f"<CMA {self.name!r} pfn {self.base_pfn:#x}+{self.count} "
                f"order_per_bit {self.order_per_bit} used {cma_used(self)}>")


@dataclass
class CmaAllocResult:
    """What one cma_alloc request returned (the kernel returns a page or NULL; the
    model says why).

    ok, errno ("EBUSY", "ENOMEM", "EINVAL"; None when ok), pfn (first page, -1 on
    failure), count, align (order), name (the area), migrated (base pages moved out
    of the windows tried, failed requests too), retries (windows found busy),
    first_busy_pfn (of the last busy window, -1 when none), busy_pfns (every page
    that stopped the last busy window), dump (``dump_page`` lines of the first busy
    page with its page_owner record, as alloc_contig_dump_pages prints them with
    dynamic debug on), dmesg (lines this request printed), reason (why the kernel
    did not even try, for a NULL before the bitmap search).
    """
    ok: bool
    errno: str | None
    pfn: int
    count: int
    align: int
    name: str
    migrated: int = 0
    retries: int = 0
    first_busy_pfn: int = -1
    busy_pfns: list = field(default_factory=list)
    dump: list = field(default_factory=list)
    dmesg: list = field(default_factory=list)
    reason: str | None = None


# --- the bitmap (mm/cma.c, lib/bitmap.c) ---------------------------------------------------------

def cma_bitmap_aligned_mask(cma: CMA, align_order: int) -> int:
    if align_order <= cma.order_per_bit:
        return 0
    return (1 << (align_order - cma.order_per_bit)) - 1


def cma_bitmap_aligned_offset(cma: CMA, align_order: int) -> int:
    return (cma.base_pfn & ((1 << align_order) - 1)) >> cma.order_per_bit


def cma_bitmap_pages_to_bits(cma: CMA, pages: int) -> int:
    step = 1 << cma.order_per_bit
    return ((pages + step - 1) // step * step) >> cma.order_per_bit


def bitmap_find_next_zero_area_off(bitmap: np.ndarray, size: int, start: int, nr: int,
                                   align_mask: int, align_offset: int) -> int:
    """lib/bitmap.c: the first index >= ``start`` of ``nr`` zero bits whose index plus
    ``align_offset`` is a multiple of ``align_mask + 1``; a value past ``size`` when none.

    >>> bm = np.array([0, 1, 0, 0, 0, 0, 1, 0], dtype=bool)
    >>> bitmap_find_next_zero_area_off(bm, 8, 0, 3, 0, 0), bitmap_find_next_zero_area_off(bm, 8, 0, 2, 1, 0)
    (2, 2)
    >>> bitmap_find_next_zero_area_off(bm, 8, 0, 4, 3, 0)
    12
    """
    while True:
        rest = bitmap[start:size]
        zero = int(np.argmin(rest)) if len(rest) else 0
        index = start + zero if len(rest) and not rest[zero] else size
        index = ((index + align_offset + align_mask) & ~align_mask) - align_offset
        end = index + nr
        if end > size:
            return end
        busy = bitmap[index:end]
        if busy.any():
            start = index + int(np.argmax(busy)) + 1
            continue
        return index


def _runs(cma: CMA):
    """(start_bit, nr_bits) of every run of zero bits, in order."""
    b = np.concatenate(([True], cma.bitmap, [True])).astype(np.int8)
    d = np.diff(b)
    starts = np.flatnonzero(d == -1)
    ends = np.flatnonzero(d == 1)
    return list(zip(starts.tolist(), (ends - starts).tolist()))


def cma_used(cma: CMA) -> int:
    """debugfs ``used`` (cma_used_get): set bits << order_per_bit."""
    return int(cma.bitmap.sum()) << cma.order_per_bit


def cma_maxchunk(cma: CMA) -> int:
    """debugfs ``maxchunk`` (cma_maxchunk_get): the longest run of clear bits, in pages."""
    runs = _runs(cma)
    return (max(n for _, n in runs) if runs else 0) << cma.order_per_bit


def cma_debug_show_areas(cma: CMA) -> str:
    """The text of mm/cma.c cma_debug_show_areas (pr_info + pr_cont: one line)."""
    parts, total = [], 0
    for start, n in _runs(cma):
        pages = n << cma.order_per_bit
        parts.append(f"{'+' if total else ''}{pages}@{start}")
        total += pages
    return f"cma: number of available pages: {''.join(parts)}=> {total} free of {cma.count} total pages"


# --- the areas -------------------------------------------------------------------------------------

def cma_area(mm, name: str | None = None) -> CMA:
    """The area called ``name`` (None: the first, the default area of ``cma=``)."""
    if not mm.cma_areas:
        raise PextlabError("this machine has no CMA area: boot it with cma=<size> "
                           "(e.g. pextlab.boot('1G', cmdline='cma=64M'))")
    if name is None:
        return mm.cma_areas[0]
    for a in mm.cma_areas:
        if a.name == name:
            return a
    raise PextlabError(f"no CMA area named {name!r}; areas: {[a.name for a in mm.cma_areas]}")


def cma_of_pfn(mm, pfn: int) -> CMA | None:
    """The area holding ``pfn`` (None outside every area)."""
    for a in mm.cma_areas:
        if a.base_pfn <= pfn < a.end_pfn:
            return a
    return None


def cma_declare_contiguous_nid(mm, base: int, size: int, limit: int, alignment: int,
                               order_per_bit: int, fixed: bool, name: str, nid: int) -> int:
    """mm/cma.c cma_declare_contiguous_nid (bytes in, 0 or -errno out): reserve the area
    from memblock and append it to ``mm.cma_areas``.

    Alignment is at least CMA_MIN_ALIGNMENT_BYTES (a pageblock).  A fixed area must
    be aligned and free in memblock (-EBUSY).  Otherwise, when memory reaches 4 GiB
    + size, a bottom-up search from 4 GiB comes first ("avoid using first 4GB to not
    interfere with constrained zones like DMA/DMA32"), then the usual top-down one
    below ``limit`` (default: the end of memory).  x86_64 has no highmem, so the
    low/high boundary rule never applies.
    """
    mb = mm.memblock
    mb_end = max(e for _, _, e in mb.memory) << PAGE_SHIFT
    pb_bytes = mm.profile.pageblock_nr_pages << PAGE_SHIFT

    def err(ret, *lines):
        for line in lines:
            mm.printk(f"cma: {line}")
        mm.printk(f"cma: Failed to reserve {size >> 20} MiB on node {nid}")
        return ret

    if len(mm.cma_areas) == MAX_CMA_AREAS:
        mm.printk("cma: Not enough slots for CMA reserved regions!")
        return -ENOSPC
    if not size:
        return -EINVAL
    if alignment and alignment & (alignment - 1):
        return -EINVAL
    alignment = max(alignment, pb_bytes)
    if fixed and base & (alignment - 1):
        return err(-EINVAL, f"Region at {base:#018x} must be aligned to {alignment:#018x} bytes")
    base = (base + alignment - 1) & ~(alignment - 1)
    size = (size + alignment - 1) & ~(alignment - 1)
    limit &= ~(alignment - 1)
    if not base:
        fixed = False
    if (size >> PAGE_SHIFT) & ((1 << order_per_bit) - 1):
        return -EINVAL
    if limit == 0 or limit > mb_end:
        limit = mb_end
    if base + size > limit:
        return err(-EINVAL, f"Size ({size:#018x}) of region at {base:#018x} exceeds limit "
                            f"({limit:#018x})")
    nr, align_pfn = size >> PAGE_SHIFT, alignment >> PAGE_SHIFT
    want = None if nid < 0 else nid
    if fixed:
        s = base >> PAGE_SHIFT
        if mb.is_reserved_range(s, s + nr):
            return err(-EBUSY)
        mb.reserve(s, s + nr, "cma")
        addr = s
    else:
        addr = -1
        four_g = (4 << 30) >> PAGE_SHIFT
        if mb_end >= (4 << 30) + size:
            addr = mb.alloc_range(nr, "cma", four_g, limit >> PAGE_SHIFT, want, align_pfn,
                                  bottom_up=True)
        if addr < 0:
            addr = mb.alloc_range(nr, "cma", base >> PAGE_SHIFT, limit >> PAGE_SHIFT, want,
                                  align_pfn)
        if addr < 0:
            return err(-ENOMEM)
    mm.cma_areas.append(CMA(name, addr, nr, order_per_bit, nid))
    mm.printk(f"cma: Reserved {size >> 20} MiB at {addr << PAGE_SHIFT:#018x} on node {nid}")
    return 0


def dma_contiguous_reserve(mm) -> None:
    """kernel/dma/contiguous.c dma_contiguous_reserve (x86 setup_arch calls it with
    the end of the direct map as ``limit``): the per-node areas first
    (dma_numa_cma_reserve: ``cma_pernuma=`` then ``numa_cma=`` for each online node),
    then the global area of ``cma=size[@base[-limit]]`` ("reserved"; fixed when
    base + size == limit).  The captured build has CONFIG_CMA_SIZE_MBYTES=0: no
    area without ``cma=``."""
    p = mm.params
    online = set(mm.layout.nodes)
    for nid in sorted(online):
        for size, label in ((p.cma_pernuma, "pernuma"), (dict(p.numa_cma).get(nid), "numa")):
            if size:
                ret = cma_declare_contiguous_nid(mm, 0, size, 0, 0, 0, False, f"{label}{nid}", nid)
                if ret:
                    mm.printk(f"cma: dma_numa_cma_reserve: reservation failed: err {ret}, node {nid}")
    for n in sorted(n for n, _ in p.numa_cma if n not in online):
        mm.printk(f"cma: invalid node {n} specified")
    if p.cma:
        base, limit = p.cma_base, p.cma_limit
        fixed = bool(limit) and base + p.cma == limit
        cma_declare_contiguous_nid(mm, base, p.cma, limit, 0, 0, fixed, "reserved", -1)


def cma_init_reserved_areas(mm) -> None:
    """mm/cma.c cma_init_reserved_areas / cma_activate_area (core_initcall): each area's
    pageblocks become MIGRATE_CMA and its pages go to the buddy allocator
    (free_reserved_page / init_cma_reserved_pageblock); an area spanning two zones cannot be
    activated: its pages are freed as ordinary memory and its count becomes 0
    ("CMA area %s could not be activated")."""
    prof = mm.profile
    mm.memblock.reserved = [r for r in mm.memblock.reserved if r[2] != "cma"]
    for a in mm.cma_areas:
        s, e = a.base_pfn, a.end_pfn
        zone = mm.zone_of_pfn(s)
        same = zone is not None and mm.zone_of_pfn(e - 1) is zone and all(
            mm.zone_of_pfn(p) is zone for p in range(s, e, mm.pages_per_section))
        p = s
        while p < e:                  # section by section (an area may straddle sections)
            sec = mm.section_of(p)
            lo = p - sec.start_pfn
            hi = min(e, sec.start_pfn + mm.pages_per_section) - sec.start_pfn
            sec.flags_np()[lo:hi] &= ~PG_RESERVED & 0xFF
            p = sec.start_pfn + hi
        if not same:
            for q in range(s, e, prof.pageblock_nr_pages):
                free_pages_memory(mm, mm.zone_of_pfn(q), q, q + prof.pageblock_nr_pages)
                mm.zone_of_pfn(q).managed_pages += prof.pageblock_nr_pages
            a.count = 0
            a.bitmap = np.zeros(0, dtype=bool)
            mm.printk(f"cma: CMA area {a.name} could not be activated")
            continue
        for pb in range(s, e, prof.pageblock_nr_pages):
            set_pageblock_migratetype(mm, pb, prof.mt_cma)
        free_pages_memory(mm, zone, s, e)
        zone.managed_pages += e - s
        zone.cma_pages += e - s


# --- cma_alloc / cma_release ---------------------------------------------------------------------

class _AsTask:
    """Run as task ``comm``/``pid`` with allocation stack ``stack`` (page_owner records it)."""

    def __init__(self, mm, comm, pid, stack):
        self.mm, self.comm, self.pid, self.stack = mm, comm, pid, stack

    def __enter__(self):
        mm = self.mm
        self.saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
        mm.set_task(self.comm, self.pid)
        if mm.page_owner is not None:
            mm.current_handle = mm.page_owner.depot.stack_depot_save(self.stack)
        return self

    def __exit__(self, *exc):
        mm = self.mm
        mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = self.saved
        return False


def cma_alloc(mm, cma: CMA, count: int, align: int = 0, no_warn: bool = False,
              comm: str = "sh", pid: int = 700, stack=CMA_ALLOC_STACK) -> CmaAllocResult:
    """mm/cma.c cma_alloc (__cma_alloc with GFP_KERNEL, __GFP_NOWARN for ``no_warn``).

    ``align`` is an order (pages aligned to 2^align).  The pages come back as
    ``count`` order-0 allocations (split_free_pages) recorded by page_owner for
    ``comm``/``pid`` with ``stack``.
    """
    res = CmaAllocResult(False, None, -1, int(count), int(align), cma.name)
    t0 = mm.clock_ns
    n0 = len(mm.dmesg_lines)
    log = {"time_ns": t0, "name": cma.name, "count": int(count), "align": int(align)}
    if not cma.count or count <= 0:
        # "if (!cma || !cma->count || !cma->bitmap) return page; ... if (!count) return page;"
        res.errno = "ENOMEM"
        res.reason = "the area is empty" if not cma.count else "count is 0"
        return _finish(mm, cma, res, log, n0, counted=False)
    mask = cma_bitmap_aligned_mask(cma, align)
    offset = cma_bitmap_aligned_offset(cma, align)
    maxno = cma.bitmap_maxno
    nbits = cma_bitmap_pages_to_bits(cma, count)
    if nbits > maxno:
        res.errno = "ENOMEM"
        res.reason = f"{count} pages are more than the area's {cma.count}"
        return _finish(mm, cma, res, log, n0, counted=False)
    gfp = mm.gfp("GFP_KERNEL")
    if no_warn:
        gfp |= mm.profile.gfp_bits["__GFP_NOWARN"]
    ret = -ENOMEM
    start = 0
    with _AsTask(mm, comm, pid, stack):
        while True:
            bitmap_no = bitmap_find_next_zero_area_off(cma.bitmap, maxno, start, nbits, mask, offset)
            if bitmap_no >= maxno:
                break
            cma.bitmap[bitmap_no:bitmap_no + nbits] = True
            pfn = cma.base_pfn + (bitmap_no << cma.order_per_bit)
            cr = alloc_contig_range(mm, pfn, pfn + count, mm.profile.mt_cma, gfp)
            ret = cr.ret
            res.migrated += cr.migrated
            if ret == 0:
                res.pfn = pfn
                cma.allocations[pfn] = int(count)
                break
            cma.bitmap[bitmap_no:bitmap_no + nbits] = False     # cma_clear_bitmap
            if cr.busy_pfns:
                res.first_busy_pfn = cr.busy_pfns[0]
                res.busy_pfns = list(cr.busy_pfns)
                res.dump = dump_page_lines(mm, cr.busy_pfns[0], "migration failure")
            if ret != -EBUSY:
                break
            # pr_debug "memory range at pfn 0x%lx %p is busy, retrying" (not printed)
            res.retries += 1
            start = bitmap_no + mask + 1
    if ret and not no_warn:
        mm.printk(f"cma: __cma_alloc: {cma.name}: alloc failed, req-size: {count} pages, ret: {ret}")
        mm.printk(cma_debug_show_areas(cma))
    res.ok = ret == 0
    res.errno = None if res.ok else ERRNO_NAMES.get(-ret, str(ret))
    return _finish(mm, cma, res, log, n0, counted=True)


def _finish(mm, cma: CMA, res: CmaAllocResult, log: dict, n0: int, counted: bool) -> CmaAllocResult:
    if counted:
        if res.ok:
            count_vm_event(mm, "cma_alloc_success")
            cma.alloc_pages_success += res.count
        else:
            count_vm_event(mm, "cma_alloc_fail")
            cma.alloc_pages_fail += res.count
    res.dmesg = [line.split("] ", 1)[-1] for line in mm.dmesg_lines[n0:]]
    owner = _owner(mm, res.first_busy_pfn)
    log.update(ok=res.ok, errno=res.errno or "", pfn=res.pfn, migrated=res.migrated,
               retries=res.retries, first_busy_pfn=res.first_busy_pfn, **owner)
    mm.cma_log.append(log)
    return res


def _owner(mm, pfn: int) -> dict:
    """comm, pid and stack handle of the page_owner record of ``pfn`` (its block's)."""
    out = {"owner_comm": "", "owner_pid": -1, "owner_stack_handle": 0}
    po = mm.page_owner
    if pfn < 0 or po is None:
        return out
    rec = po.owner_of(pfn)
    if rec is not None:
        out.update(owner_comm=rec[0], owner_pid=int(rec[1]), owner_stack_handle=int(rec[2]))
    return out


def cma_release(mm, cma: CMA, pfn: int, count: int) -> bool:
    """mm/cma.c cma_release: False when ``pfn`` lies outside the area (cma_pages_valid),
    else free the pages (free_contig_range: each page to the buddy allocator), clear
    their bits and count release_pages_success.

    The kernel trusts its caller for the rest (VM_BUG_ON past the area's end); the
    model refuses, with a PextlabError, a range that is not one cma_alloc handed
    out (or its head part, as cma_debug's ``free`` releases)."""
    if pfn < cma.base_pfn or pfn >= cma.end_pfn:
        return False
    have = cma.allocations.get(pfn)
    if have is None or count <= 0 or count > have:
        raise PextlabError(f"cma_release: {cma.name}: pfn {pfn:#x}+{count} is not a range cma_alloc "
                           f"handed out (allocations: "
                           f"{[(hex(p), n) for p, n in sorted(cma.allocations.items())][:8]})")
    if count < have and cma.order_per_bit and count & ((1 << cma.order_per_bit) - 1):
        raise PextlabError(f"cma_release: {cma.name}: cannot release part of a bit "
                           f"(order_per_bit {cma.order_per_bit})")
    for p in range(pfn, pfn + count):
        free_pages(mm, p, 0)
    bit = (pfn - cma.base_pfn) >> cma.order_per_bit
    cma.bitmap[bit:bit + cma_bitmap_pages_to_bits(cma, count)] = False
    del cma.allocations[pfn]
    if count < have:
        cma.allocations[pfn + count] = have - count
    cma.release_pages_success += count
    return True


# --- the files -----------------------------------------------------------------------------------

def cma_debugfs_files(cma: CMA) -> dict[str, str]:
    """/sys/kernel/debug/cma/<name>/* as the kernel prints them (mm/cma_debug.c): the
    readable files; ``alloc`` and ``free`` are write-only (0200)."""
    words = np.zeros(-(-cma.bitmap_maxno // 32) * 32, dtype=np.uint64)
    words[:cma.bitmap_maxno] = cma.bitmap
    u32 = (words.reshape(-1, 32) << np.arange(32, dtype=np.uint64)).sum(axis=1)
    return {
        "base_pfn": f"{cma.base_pfn}\n",
        "bitmap": " ".join(str(int(w)) for w in u32) + "\n",
        "count": f"{cma.count}\n",
        "maxchunk": f"{cma_maxchunk(cma)}\n",
        "order_per_bit": f"{cma.order_per_bit}\n",
        "used": f"{cma_used(cma)}\n",
    }


def cma_sysfs_files(cma: CMA) -> dict[str, str]:
    """/sys/kernel/mm/cma/<name>/* (mm/cma_sysfs.c, "%llu\\n")."""
    return {"alloc_pages_fail": f"{cma.alloc_pages_fail}\n",
            "alloc_pages_success": f"{cma.alloc_pages_success}\n",
            "release_pages_success": f"{cma.release_pages_success}\n"}
