"""Boot: the kernel command line and the init order that sets memory up.

``boot_kernel(layout, cmdline, profile, memory_model)`` walks the steps of
start_kernel()/mm_core_init() that matter for physical memory, printing what
the kernel prints:

1. early params (``page_owner=``, ``debug_pagealloc=``,
   ``debug_guardpage_minorder=``, ``page_poison=``, ``mem=``, ``memmap=``,
   ``movablecore=``, ``kernelcore=``, ``movable_node``, ``cma=``, ``numa=fake=``,
   ``numa=off``, ``swiotlb=noforce``, ``early_page_ext``; the simulator's own
   ``pextlab.pcp=on|off``: per-cpu page lists in the allocator, off by default,
   set up after the watermarks, see pextlab.kernel.pcp); words after ``--`` go
   to init, as init/main.c hands them over;
2. the e820 map edited by ``mem=``/``memmap=`` (pextlab.kernel.layout), the
   nodes (pextlab.kernel.numa_memblks: SRAT or one faked node, then
   ``numa=fake=``);
3. memblock: RAM ranges, reservations (first 1 MiB, kernel image, CMA,
   memmap, NODE_DATA, percpu, large system hashes, the stack depot hash table
   when page_owner is on);
4. free_area_init (mm/mm_init.c): zone limits (DMA < 16 MiB <= DMA32 < 4 GiB <=
   Normal), ZONE_MOVABLE from ``kernelcore=``/``movablecore=``/``movable_node``
   (find_zone_movable_pfns_for_nodes), each zone spanning from the first to the
   last pfn of its node inside its limits -- holes inside count as spanned, not
   present (zone_spanned_pages_in_node, zone_absent_pages_in_node) -- and
   memmap_init's "pages in unavailable ranges" for the holes of present sections;
5. FLATMEM only: page_ext_init_flatmem (memblock);
6. memblock_free_all: every unreserved page to the buddy allocator;
   watermarks (min_free_kbytes, THP's recommended value, lowmem_reserve);
7. early kernel allocations through the buddy allocator (slab, kernel stacks,
   page tables, NUMA-interleaved hashes) -- the "early allocated" pages;
8. SPARSEMEM: page_ext_init (a table per section from the buddy allocator),
   init callbacks (page_owner marks the early pages);
9. late: CMA areas activated, init memory freed, memory blocks registered.

A memory section -- and so a memory block -- may hold the memory of two nodes
(``numa=fake``, a node starting in the middle of a section): the section is
created by its lowest node (memory_present) and lists every node with memory in
it (``MemSection.nids``).

Numbers marked "≈ calibrated" reproduce the real 6.12 captures in
data/real-kernel (see tests/test_boot_real.py); they are not kernel constants.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from ..errors import LayoutError, PextlabError
from .cma import cma_init_reserved_areas, dma_contiguous_reserve
from .compaction import CompactionState
from .hugetlb import HugetlbPool
from .fastpath import free_pages_memory, init_per_zone_wmark_min
from .page_alloc import alloc_pages
from .pcp import setup_pcp
from .gfp import ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, ZONE_NAMES
from .layout import Layout, RamRange, apply_mem_limit, apply_memmap, parse_memmap, parse_size
from .numa_memblks import numa_init
from .mmzone import MemSection, PglistData, Zone, PG_HOLE, PG_RESERVED
from .page_ext import PageExt
from .debug_page_alloc import debug_guardpage_ops
from .page_owner import page_owner_ops
from .page_poison import PagePoison, page_poisoning_ops
from .policy import set_policy
from .profiles import KernelProfile, PAGE_SHIFT
from .state import MM
from .trace import trace_boot_init

__all__ = ["BootParams", "parse_cmdline", "boot_kernel", "KNOWN_PARAMS"]

GiB = 1 << 30

# Parameters the simulated kernel understands or knows to exist (others are
# reported as "Unknown kernel command line parameters", like init/main.c does).
KNOWN_PARAMS = {
    "page_owner", "debug_pagealloc", "debug_guardpage_minorder", "page_poison", "mem",
    "movablecore", "kernelcore", "cma", "cma_pernuma", "numa_cma", "numa", "early_page_ext",
    "movable_node",
    "memhp_default_state", "console", "root", "ro", "rw", "quiet", "loglevel", "init", "rdinit",
    "earlyprintk", "nokaslr", "panic", "hugepages", "hugepagesz", "default_hugepagesz",
    "transparent_hugepage", "memmap", "nosmp", "maxcpus", "nr_cpus", "ignore_loglevel",
    "norandmaps", "page_alloc.shuffle", "init_on_alloc", "init_on_free", "slub_debug",
    "memory_hotplug.memmap_on_memory", "numa_balancing", "debug", "earlycon", "noapic",
    "swiotlb", "mitigations", "reboot", "nomodule", "psi", "hashdist",
}


def _kstrtobool(v: str | None) -> bool | None:
    if v is None:
        return None
    v = v.strip().lower()
    if v in ("1", "y", "yes", "on", "true"):
        return True
    if v in ("0", "n", "no", "off", "false"):
        return False
    return None


@dataclass(frozen=True)
class BootParams:
    """The parsed kernel command line (what the simulator acts on)."""
    cmdline: str = ""
    page_owner: bool = False
    debug_pagealloc: bool = False
    debug_guardpage_minorder: int = 0
    page_poison: bool = False
    mem: int | None = None
    movablecore: int | None = None
    kernelcore: int | None = None
    movablecore_percent: int | None = None
    kernelcore_percent: int | None = None
    cma: int | None = None   # cma=size[@base[-limit]] (kernel/dma/contiguous.c early_cma), bytes
    cma_base: int = 0
    cma_limit: int = 0
    cma_pernuma: int = 0     # cma_pernuma=size: an area "pernuma<N>" on every node
    numa_cma: tuple = ()     # numa_cma=<node>:size[,...]: ((nid, bytes), ...), areas "numa<N>"
    memmap: tuple = ()       # parsed memmap= entries, in command-line order (layout.parse_memmap)
    numa_fake: str | None = None
    numa_off: bool = False
    swiotlb_noforce: bool = False
    early_page_ext: bool = False
    movable_node: bool = False
    memhp_default_state: str = "offline"
    pcp: bool = False        # pextlab.pcp=on: per-cpu page lists in the allocator (pextlab.kernel.pcp)
    trace_event: str | None = None    # trace_event=: events enabled from boot (kernel/trace/trace_events.c)
    trace_buf_size: int | None = None  # trace_buf_size=: bytes per CPU ring (kernel/trace/trace.c)
    unknown: tuple = ()
    messages: tuple = ()     # early messages in order (e.g. "Setting debug_guardpage_minorder to 1")
    errors: tuple = ()


def parse_cmdline(cmdline: str, profile: KernelProfile) -> BootParams:
    """Parse a kernel command line as the early_param / __setup handlers do."""
    try:
        words = shlex.split(cmdline or "")
    except ValueError as e:
        raise PextlabError(f"cannot parse kernel command line {cmdline!r}: {e}") from None
    kw: dict = {"cmdline": cmdline or ""}
    unknown, msgs, errs = [], [], []
    memmap = []
    for w in words:
        if w == "--":             # init/main.c: the rest is init's argv
            break
        key, eq, val = w.partition("=")
        v = val if eq else None
        if key == "page_owner":
            b = _kstrtobool(v)
            if b is None:
                errs.append(f"page_owner: invalid value {v!r} (expected on/off)")
            else:
                kw["page_owner"] = b
        elif key == "debug_pagealloc":
            b = _kstrtobool(v)
            kw["debug_pagealloc"] = bool(b)
        elif key == "debug_guardpage_minorder":
            try:
                n = int(v or "", 0)
            except ValueError:
                n = -1
            if n < 0 or n > profile.max_page_order // 2:
                msgs.append("Bad debug_guardpage_minorder value")
            else:
                kw["debug_guardpage_minorder"] = n
                msgs.append(f"Setting debug_guardpage_minorder to {n}")
        elif key == "page_poison":
            kw["page_poison"] = bool(_kstrtobool(v))
        elif key == "mem":
            try:
                kw[key] = parse_size(v or "")
            except LayoutError as e:
                errs.append(f"{key}=: {e}")
        elif key == "cma":
            try:
                kw.update(_early_cma(v or ""))
            except LayoutError as e:
                errs.append(f"cma=: {e}")
        elif key == "cma_pernuma":
            try:
                kw["cma_pernuma"] = parse_size(v or "")
            except LayoutError as e:
                errs.append(f"cma_pernuma=: {e}")
        elif key == "numa_cma":
            kw["numa_cma"] = _early_numa_cma(v or "")
        elif key in ("movablecore", "kernelcore"):
            if v and v.endswith("%"):
                try:
                    p = int(v[:-1])
                    if not 0 <= p <= 100:
                        raise ValueError
                    kw[key + "_percent"] = p
                except ValueError:
                    errs.append(f"{key}=: bad percentage {v!r}")
            elif v == "mirror":
                errs.append(f"{key}=mirror is not modelled")
            else:
                try:
                    kw[key] = parse_size(v or "")
                except LayoutError as e:
                    errs.append(f"{key}=: {e}")
        elif key == "memmap":
            try:
                memmap += parse_memmap(v or "")
            except LayoutError as e:
                errs.append(str(e))
        elif key == "numa":
            if v and v.startswith("fake="):
                if not v[5:].isdigit():
                    errs.append(f"numa=fake={v[5:]}: only numa=fake=N (a node count) is modelled")
                else:
                    kw["numa_fake"] = v[5:]
            elif v == "off":
                kw["numa_off"] = True
        elif key == "swiotlb":
            kw["swiotlb_noforce"] = "noforce" in (v or "").split(",")
        elif key == "early_page_ext":
            kw["early_page_ext"] = True
        elif key == "movable_node":
            kw["movable_node"] = True
        elif key == "memhp_default_state":
            if v in ("online", "offline", "online_kernel", "online_movable"):
                kw["memhp_default_state"] = v
            else:
                errs.append(f"memhp_default_state: unknown state {v!r}")
        elif key == "trace_event":
            # setup_trace_event: several occurrences are joined with ","
            if v:
                kw["trace_event"] = v if "trace_event" not in kw else kw["trace_event"] + "," + v
        elif key == "trace_buf_size":
            try:
                kw["trace_buf_size"] = max(4096, parse_size(v or ""))   # set_buf_size
            except LayoutError as e:
                errs.append(f"trace_buf_size=: {e}")
        elif key == "pextlab.pcp":
            b = _kstrtobool(v if eq else "on")
            if b is None:
                errs.append(f"pextlab.pcp: invalid value {v!r} (expected on/off)")
            else:
                kw["pcp"] = b
        elif key in KNOWN_PARAMS or "." in key:
            pass
        else:
            unknown.append(w)
    kw["memmap"] = tuple(memmap)
    kw["unknown"] = tuple(unknown)
    kw["messages"] = tuple(msgs)
    kw["errors"] = tuple(errs)
    return BootParams(**kw)


def _early_cma(v: str) -> dict:
    """kernel/dma/contiguous.c early_cma: ``size[@base[-limit]]``; without a limit the
    area is fixed at base (limit = base + size).

    >>> _early_cma("64M@256M")
    {'cma': 67108864, 'cma_base': 268435456, 'cma_limit': 335544320}
    """
    size, _, rest = v.partition("@")
    out = {"cma": parse_size(size)}
    if rest:
        base, dash, limit = rest.partition("-")
        out["cma_base"] = parse_size(base)
        out["cma_limit"] = parse_size(limit) if dash else out["cma_base"] + out["cma"]
    return out


def _early_numa_cma(v: str) -> tuple:
    """kernel/dma/contiguous.c early_numa_cma: ``<node>:size[,<node>:size...]``, parsed
    until the first item that does not fit (nodes >= MAX_NUMNODES end it too).

    >>> _early_numa_cma("0:16M,1:32M")
    ((0, 16777216), (1, 33554432))
    """
    out = []
    for item in v.split(","):
        nid, colon, size = item.partition(":")
        if not colon or not nid.isdigit() or int(nid) >= 1024:
            break
        try:
            out.append((int(nid), parse_size(size)))
        except LayoutError:
            break
    return tuple(out)


# --- ≈ calibrated boot-time costs of the 6.12 build in data/real-kernel ------------------------
# Kernel image numbers from "Memory: ... (6144K kernel code, 7608K rwdata, 1220K rodata,
# 904K init, 2332K bss ...)" and /proc/iomem.
KERNEL_IMAGE = {"code": 0x1000000, "rodata_end": 0x1731000, "data": 0x1800000,
                "data_end": 0x1F6E200, "bss": 0x21B9000, "end": 0x2400000,
                "init_kb": 904, "gap_kb": 828}
PERCPU_PAGES = 42            # "percpu: Embedded 42 pages/cpu"
MISC_RESERVED_PAGES = 24     # early page tables, ACPI copies, NODE_DATA of node 0, ... (≈ calibrated)
NODE_DATA_PAGES = 5
NUMA_BOOT_NODE_PAGES = 900   # extra early pages on the boot node per additional node (≈ calibrated)
# Early kernel allocations before page_owner starts (≈ calibrated: b-1G found 4938 early
# pages of which 4608 are the page_ext tables themselves).
EARLY_ALLOCS = (              # (what, gfp, order, count, per_cpu)
    ("slab", "GFP_KERNEL", 0, 150, False),
    ("slab", "GFP_KERNEL|__GFP_COMP", 1, 12, False),
    ("slab", "GFP_KERNEL|__GFP_COMP", 2, 8, False),
    ("slab", "GFP_KERNEL|__GFP_COMP", 3, 4, False),
    ("slab reclaimable", "GFP_KERNEL|__GFP_RECLAIMABLE", 0, 40, False),
    ("page tables", "GFP_KERNEL|__GFP_ZERO", 0, 16, False),
    ("kernel stacks", "GFP_KERNEL", 2, 4, True),
    ("percpu chunks", "GFP_KERNEL|__GFP_ZERO", 0, 14, True),
)


def _alloc_large_system_hash_entries(nr_kernel_pages: int, scale: int) -> int:
    """mm/mm_init.c alloc_large_system_hash: entries for a hash scaled by memory."""
    n = nr_kernel_pages
    n = (n + 255) & ~255                     # round_up to 1 MiB worth of pages
    n = n >> (scale - PAGE_SHIFT) if scale > PAGE_SHIFT else n << (PAGE_SHIFT - scale)
    return 1 << max(0, (n - 1).bit_length())


def _probe_memory_block_size(layout: Layout, profile: KernelProfile) -> int:
    """arch/x86/mm/init_64.c probe_memory_block_size: 128 MiB while max_pfn is below
    64 GiB; above, 2 GiB on bare metal, and on a guest (X86_FEATURE_HYPERVISOR) the
    largest size up to 2 GiB that aligns the end of boot memory."""
    end = layout.max_pfn << PAGE_SHIFT
    if end < 64 * GiB:
        return profile.memory_block_size
    bz = 2 * GiB
    if not layout.hypervisor:
        return bz
    while bz > profile.memory_block_size and end & (bz - 1):
        bz >>= 1
    return bz


def boot_kernel(layout: Layout, cmdline: str = "", profile: KernelProfile = None,
                memory_model: str = "sparsemem", fail_page_ext=None, policy=None) -> MM:
    """Boot the simulated kernel; returns its state.  Raises KernelPanic like the kernel.

    ``policy``: the allocator's fallback policy (a name, class or instance of
    ``pextlab.kernel.policy``; default: the profile's), installed once the zonelists
    are built (that is when the kernel decides whether to group by mobility).
    """
    if memory_model not in ("sparsemem", "flatmem"):
        raise PextlabError(f"memory_model must be 'sparsemem' or 'flatmem', got {memory_model!r}")
    params = parse_cmdline(cmdline, profile)
    if params.errors:
        raise PextlabError("kernel command line: " + "; ".join(params.errors))
    if params.mem is not None:
        layout = apply_mem_limit(layout, params.mem)
    if params.memmap:
        layout = apply_memmap(layout, params.memmap)
    layout, numa_messages = numa_init(layout, params.numa_fake, params.numa_off)
    ks, ke = layout.kernel_image
    if not any(r.start_pfn <= ks and ke <= r.end_pfn for r in layout.ram):
        # the decompressed image is loaded at LOAD_PHYSICAL_ADDR (16 MiB) and needs RAM
        # under all of it; the kernel cannot start on such a machine
        raise LayoutError(f"the kernel image [{ks << PAGE_SHIFT:#x}-{ke << PAGE_SHIFT:#x}) does not "
                          f"lie in RAM (RAM ends at {layout.max_pfn << PAGE_SHIFT:#x}): the machine "
                          f"needs at least {(ke << PAGE_SHIFT) >> 20} MiB plus what boot allocates")
    mm = MM(profile, layout, params, memory_model)
    mm.compaction = CompactionState()
    mm.printk(f"Linux version {profile.name[1:]}-pextlab (simulated, profile {profile.name})")
    mm.printk(f"Command line: {params.cmdline}")
    for m in params.messages:
        mm.printk(m)
    if params.debug_pagealloc and params.debug_guardpage_minorder:
        mm.guard_minorder = params.debug_guardpage_minorder
    for m in numa_messages:
        mm.printk(m)
    _setup_memblock(mm)
    _sparse_init(mm)
    _free_area_init(mm)
    mm.printk(f"Kernel command line: {params.cmdline}")
    if params.unknown:
        mm.printk('Unknown kernel command line parameters "' + " ".join(params.unknown)
                  + '", will be passed to user space.')
    # page_ext_ops[] in the profile's order (mm/page_ext.c)
    makers = {"page_owner": page_owner_ops, "page_poisoning": page_poisoning_ops,
              "debug_guardpage": debug_guardpage_ops}
    ops = [makers[name](mm) for name in profile.clients]
    if params.page_poison:
        mm.poison = PagePoison(mm)
    mm.page_ext = PageExt(mm, ops)
    if fail_page_ext is not None:
        mm.page_ext.fail_alloc = fail_page_ext
    _build_all_zonelists(mm)
    set_policy(mm, policy)
    mm.hugetlb = HugetlbPool(mm)
    if memory_model == "flatmem":
        mm.page_ext.page_ext_init_flatmem()
    _memblock_free_all(mm)
    init_per_zone_wmark_min(mm)
    if params.pcp:
        setup_pcp(mm)                 # setup_per_cpu_pageset
    trace_boot_init(mm)               # early_trace_init + trace_init (trace_event=)
    mm.advance(220_000_000)
    _early_allocations(mm)
    if memory_model == "sparsemem":
        mm.page_ext.page_ext_init()
    else:
        if mm.page_ext.enabled:
            mm.page_ext.invoke_init_callbacks()
    bs = _probe_memory_block_size(layout, profile)
    mm.memory_block_size = bs
    mm.printk(f"x86/mm: Memory block size: {bs >> 20}MB")
    _late_init(mm)
    if not params.page_owner:
        mm.printk("page_owner is disabled")
    return mm


def _setup_memblock(mm: MM) -> None:
    lay = mm.layout
    for r in lay.ram:
        mm.memblock.add(r.nid, r.start_pfn, r.end_pfn)
    mb = mm.memblock
    # x86: the first 1 MiB is always reserved (v5.13+, "x86/setup: Always reserve the first 1M")
    mb.reserve(0, 0x100, "first 1 MiB")
    ks, ke = lay.kernel_image
    mb.reserve(ks, ke, "kernel image")
    # arch/x86/kernel/pci-dma.c pci_swiotlb_detect: bounce buffers when memory (including
    # SRAT hotplug ranges, max_possible_pfn) reaches above 4 GiB: 64 MiB below 4 GiB
    top = max(lay.max_pfn, lay.hotplug_end_pfn)
    if top > (4 * GiB) >> PAGE_SHIFT and not mm.params.swiotlb_noforce:
        base = mb.alloc((64 << 20) >> PAGE_SHIFT, "swiotlb", align=512,
                        limit_pfn=(4 * GiB) >> PAGE_SHIFT)
        mm.swiotlb = base
    # CMA areas (kernel/dma/contiguous.c dma_contiguous_reserve -> mm/cma.c
    # cma_declare_contiguous_nid): pageblock aligned, see pextlab.kernel.cma
    dma_contiguous_reserve(mm)


def _sparse_init(mm: MM) -> None:
    """Create sections for RAM, mark pages RAM, allocate memmap (vmemmap, 2 MiB each)."""
    prof = mm.profile
    pps = mm.pages_per_section
    nb = pps >> prof.pageblock_order
    mov = prof.mt_movable
    for r in mm.layout.ram:
        for nr in range(r.start_pfn >> mm.section_shift, ((r.end_pfn - 1) >> mm.section_shift) + 1):
            sec = mm.sections[nr]
            if sec is None:
                sec = MemSection(nr, pps, nb, r.nid)    # pageblocks start as 0 (Unmovable)
                mm.sections[nr] = sec
            elif r.nid not in sec.nids:
                sec.nids += (r.nid,)      # a node boundary inside the section
            sec.present = True
            lo = max(r.start_pfn, sec.start_pfn) - sec.start_pfn
            hi = min(r.end_pfn, sec.start_pfn + pps) - sec.start_pfn
            sec.flags[lo:hi] = bytes(hi - lo)
            sec.nr_present_pages += hi - lo
    # memmap_init_range (mm/mm_init.c): pageblock-aligned RAM pfns get MIGRATE_MOVABLE;
    # a block whose aligned start is not RAM (e.g. pfn 0 of DMA, which starts at pfn 1)
    # keeps the default, Unmovable -- as every real capture's DMA zone shows.
    for sec in mm.sections:
        if sec is not None and sec.present:
            starts = sec.flags_np()[::1 << prof.pageblock_order]
            sec.pageblock_np()[(starts & PG_HOLE) == 0] = mov
    # memmap: 64 bytes of struct page per page
    mb = mm.memblock
    if mm.memory_model == "sparsemem":
        per = (pps * 64) >> PAGE_SHIFT
        for sec in mm.sections:
            if sec is not None and sec.present:
                if mb.alloc(per, "memmap", nid=sec.nid, align=per) < 0:
                    raise LayoutError("not enough memory for the memory map")
    for nid in mm.layout.nodes:
        mb.alloc(NODE_DATA_PAGES, f"NODE_DATA({nid})", nid=nid)
    for cpu, nid in enumerate(mm.layout.cpu_nodes):
        mb.alloc(PERCPU_PAGES, f"percpu cpu{cpu}", nid=nid)
    mb.alloc(MISC_RESERVED_PAGES, "page tables and firmware tables", nid=mm.layout.nodes[0])
    total = mm.layout.total_pages
    # large system hashes: linear (memblock) on one node, vmalloc'd (buddy) on NUMA
    if len(mm.layout.nodes) == 1:
        for name, scale, esize in (("Dentry cache", 13, 8), ("Inode-cache", 14, 8)):
            n = _alloc_large_system_hash_entries(total, scale)
            npages = max(1, (n * esize) >> PAGE_SHIFT)
            mb.alloc(npages, f"{name} hash table", align=1)
            mm.printk(f"{name} hash table entries: {n} (order: {(npages - 1).bit_length()}, "
                      f"{n * esize} bytes, linear)")
    if mm.params.page_owner and mm.profile.stackdepot_hash_early:
        n = _alloc_large_system_hash_entries(total, 14)
        npages = max(1, (n * 16) >> PAGE_SHIFT)
        mm.printk("stackdepot: allocating hash table via alloc_large_system_hash")
        mb.alloc(npages, "stackdepot hash table")
        mm.printk(f"stackdepot hash table entries: {n} (order: {(npages - 1).bit_length()}, "
                  f"{n * 16} bytes, linear)")
    if mm.memory_model == "flatmem":
        for nid in mm.layout.nodes:
            rr = mm.layout.node_ranges(nid)
            span = rr[-1].end_pfn - rr[0].start_pfn
            mb.alloc((span * 64 + 4095) >> PAGE_SHIFT, "memmap", nid=nid)


def _arch_zone_limits(mm: MM) -> dict[int, tuple[int, int]]:
    """arch_zone_lowest/highest_possible_pfn of DMA, DMA32 and Normal (mm/mm_init.c
    free_area_init over arch/x86/mm/init.c zone_sizes_init's max_zone_pfns: 16 MiB,
    4 GiB, max_pfn): each zone starts where the one below ends, the first at the
    start of memblock; an empty zone has low == high."""
    lay = mm.layout
    max_pfn = lay.max_pfn
    max_zone_pfn = {ZONE_DMA: min((16 << 20) >> PAGE_SHIFT, max_pfn),
                    ZONE_DMA32: min((4 * GiB) >> PAGE_SHIFT, max_pfn),
                    ZONE_NORMAL: max_pfn}
    start = lay.ram[0].start_pfn
    out = {}
    for zi in (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL):
        end = max(max_zone_pfn[zi], start)
        out[zi] = (start, end)
        start = end
    return out


def _hotpluggable_ram(mm: MM) -> list[RamRange]:
    """memblock regions marked hotplug by the SRAT (acpi_numa_memory_affinity_init) and
    still so after numa_clear_kernel_node_hotplug: a node holding kernel memory (here
    the first 1 MiB and the kernel image) is not hot-pluggable as a whole."""
    lay = mm.layout
    hot = [b for b in lay.srat if b.hotplug]
    ks, ke = lay.kernel_image
    kernel_nodes = {r.nid for r in lay.ram if (r.start_pfn < ke and ks < r.end_pfn) or r.start_pfn < 0x100}
    out = []
    for r in lay.ram:
        if r.nid in kernel_nodes:
            continue
        for b in hot:
            s, e = max(r.start_pfn, b.start_pfn), min(r.end_pfn, b.end_pfn)
            if s < e:
                out.append(RamRange(r.nid, s, e))
    return out


def _find_zone_movable_pfns(mm: MM, limits) -> dict[int, int]:
    """mm/mm_init.c find_zone_movable_pfns_for_nodes: the first pfn of ZONE_MOVABLE per
    node (nodes without one are left out).

    ``movable_node`` gives every hot-pluggable memblock region to ZONE_MOVABLE and
    ignores kernelcore=/movablecore=.  Otherwise kernelcore (or what movablecore
    leaves, movablecore rounded up to MAX_ORDER_NR_PAGES) is spread evenly over the
    nodes from their lowest pfns, memory below the zone ZONE_MOVABLE is taken from
    counting as kernel memory, with passes over fewer nodes until it is placed; the
    start is rounded up to MAX_ORDER_NR_PAGES.  (kernelcore=mirror is rejected at
    parse time.)"""
    p = mm.params
    lay = mm.layout
    nodes = lay.nodes
    mo = mm.profile.max_order_nr_pages
    zmp = {nid: 0 for nid in nodes}
    # find_usable_zone_for_movable: the highest zone with a non-empty arch range
    movable_zone = max(zi for zi, (lo, hi) in limits.items() if hi > lo)
    if p.movable_node:
        for r in _hotpluggable_ram(mm):
            zmp[r.nid] = min(r.start_pfn, zmp[r.nid]) if zmp[r.nid] else r.start_pfn
    else:
        totalpages = lay.total_pages
        required_kernelcore = p.kernelcore >> PAGE_SHIFT if p.kernelcore is not None else 0
        required_movablecore = p.movablecore >> PAGE_SHIFT if p.movablecore is not None else 0
        if p.kernelcore_percent:
            required_kernelcore = totalpages * 100 * p.kernelcore_percent // 10000
        if p.movablecore_percent:
            required_movablecore = totalpages * 100 * p.movablecore_percent // 10000
        if required_movablecore:
            required_movablecore = min(totalpages, -(-required_movablecore // mo) * mo)
            required_kernelcore = max(required_kernelcore, totalpages - required_movablecore)
        if not required_kernelcore or required_kernelcore >= totalpages:
            return {}
        usable_startpfn = limits[movable_zone][0]
        usable_nodes = len(nodes)
        while True:                                             # restart:
            kernelcore_node = required_kernelcore // usable_nodes
            for nid in nodes:
                if required_kernelcore < kernelcore_node:
                    kernelcore_node = required_kernelcore // usable_nodes
                remaining = kernelcore_node
                for r in lay.node_ranges(nid):
                    start, end = max(r.start_pfn, zmp[nid]), r.end_pfn
                    if start >= end:
                        continue
                    if start < usable_startpfn:
                        kernel_pages = min(end, usable_startpfn) - start
                        remaining -= min(kernel_pages, remaining)
                        required_kernelcore -= min(kernel_pages, required_kernelcore)
                        if end <= usable_startpfn:
                            zmp[nid] = end
                            continue
                        start = usable_startpfn
                    size_pages = min(end - start, remaining)
                    zmp[nid] = start + size_pages
                    required_kernelcore -= min(required_kernelcore, size_pages)
                    remaining -= size_pages
                    if not remaining:
                        break
            usable_nodes -= 1
            if not (usable_nodes and required_kernelcore > usable_nodes):
                break
    out = {}
    for nid in nodes:                                           # out2:
        start = -(-zmp[nid] // mo) * mo
        if 0 < start < max(r.end_pfn for r in lay.node_ranges(nid)):
            out[nid] = start
    return out


def _zone_span(nid: int, zi: int, node_start: int, node_end: int, limits, movable, movable_zone):
    """zone_spanned_pages_in_node (with adjust_zone_range_for_zone_movable): the zone's
    [start, end) in the node, clamped to the zone's limits -- holes included."""
    low, high = limits.get(zi, (0, 0))
    zs = min(max(node_start, low), high)
    ze = min(max(node_end, low), high)
    zmp = movable.get(nid)
    if zmp:
        if zi == ZONE_MOVABLE:
            zs, ze = zmp, min(node_end, limits[movable_zone][1])
        elif zs < zmp < ze:
            ze = zmp
        elif zs >= zmp:
            zs = ze
    if ze < node_start or zs > node_end:
        return 0, 0
    ze, zs = min(ze, node_end), max(zs, node_start)
    return (zs, ze) if ze > zs else (0, 0)


def _free_area_init(mm: MM) -> None:
    """mm/mm_init.c free_area_init: the zone limits, ZONE_MOVABLE, every node's zones
    (calculate_node_totalpages) and memmap_init's unavailable ranges."""
    prof = mm.profile
    lay = mm.layout
    limits = _arch_zone_limits(mm)
    movable = _find_zone_movable_pfns(mm, limits)
    movable_zone = max(zi for zi, (lo, hi) in limits.items() if hi > lo)
    mm.printk("Zone ranges:")
    for zi in (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL):
        lo, hi = limits[zi]
        if lo < hi:
            mm.printk(f"  {ZONE_NAMES[zi]:<8} [mem {lo << PAGE_SHIFT:#018x}-{(hi << PAGE_SHIFT) - 1:#018x}]")
        else:
            mm.printk(f"  {ZONE_NAMES[zi]:<8} empty")
    mm.printk(f"  {'Device':<8} empty")
    mm.printk("Movable zone start for each node")
    for nid, pfn in sorted(movable.items()):
        mm.printk(f"  Node {nid}: {pfn << PAGE_SHIFT:#018x}")
    mm.printk("Early memory node ranges")
    for r in lay.ram:
        mm.printk(f"  node {r.nid:3d}: [mem {r.start_pfn << PAGE_SHIFT:#018x}-"
                  f"{(r.end_pfn << PAGE_SHIFT) - 1:#018x}]")
    for nid in lay.nodes:
        rr = lay.node_ranges(nid)
        node = PglistData(nid)
        start, end = rr[0].start_pfn, max(r.end_pfn for r in rr)      # get_pfn_range_for_nid
        node.node_start_pfn = start
        mm.printk(f"Initmem setup node {nid} [mem {start << PAGE_SHIFT:#018x}-"
                  f"{(end << PAGE_SHIFT) - 1:#018x}]")
        zones = []
        for zi in range(len(ZONE_NAMES)):
            z = Zone(nid, zi, prof.nr_orders, prof.nr_migratetypes)
            zones.append(z)
            zs, ze = _zone_span(nid, zi, start, end, limits, movable, movable_zone)
            if ze <= zs:
                continue
            z.zone_start_pfn = zs
            z.spanned_pages = ze - zs
            z.present_pages = z.spanned_pages - lay.absent_pages(zs, ze, nid)
            z.present_early_pages = z.present_pages
            node.node_spanned_pages += z.spanned_pages
            node.node_present_pages += z.present_pages
            if zi == ZONE_MOVABLE:
                mm.movable_zone_used = True
        node.zones = zones
        mm.nodes[nid] = node
    _memmap_init_holes(mm)
    mm.rebuild_section_zones()


def _valid_pfns(mm: MM, start: int, end: int) -> int:
    """Pages of [start, end) with a memmap (pfn_valid: the section is present)."""
    n, pfn = 0, start
    while pfn < end:
        nxt = min(end, ((pfn >> mm.section_shift) + 1) << mm.section_shift)
        if mm.pfn_valid(pfn):
            n += nxt - pfn
        pfn = nxt
    return n


def _memmap_init_holes(mm: MM) -> None:
    """mm/mm_init.c memmap_init: walking every memblock range and populated zone, a
    hole before a range's part of a zone is initialised as that zone's and reported
    ("On node N, zone Z: K pages in unavailable ranges", counting only pfns with a
    memmap); the end of the last section goes to the last range's highest zone."""
    hole = 0
    zone_id, nid = 0, mm.layout.ram[0].nid
    end = 0
    for r in mm.layout.ram:
        nid, end = r.nid, r.end_pfn
        for z in mm.nodes[r.nid].zones:
            if not z.present_pages:
                continue
            s = min(max(r.start_pfn, z.zone_start_pfn), z.zone_end_pfn)
            e = min(max(r.end_pfn, z.zone_start_pfn), z.zone_end_pfn)
            if s < e:
                n = _valid_pfns(mm, hole, s) if hole < s else 0
                if n:
                    mm.printk(f"On node {r.nid}, zone {z.name}: {n} pages in unavailable ranges")
                hole = e
            zone_id = z.idx
    if mm.memory_model == "sparsemem":
        end = (end + mm.section_mask) & ~mm.section_mask
    else:
        mo = mm.profile.max_order_nr_pages
        end = -(-end // mo) * mo
    n = _valid_pfns(mm, hole, end) if hole < end else 0
    if n:
        mm.printk(f"On node {nid}, zone {ZONE_NAMES[zone_id]}: {n} pages in unavailable ranges")


def _build_all_zonelists(mm: MM) -> None:
    total = sum(z.present_pages for z in mm.all_zones())
    # mm/page_alloc.c build_all_zonelists: grouping off on tiny machines
    prof = mm.profile
    if total < prof.pageblock_nr_pages * prof.nr_migratetypes:
        mm.mobility_grouping = False
    mm.printk(f"Built {len(mm.nodes)} zonelists, mobility grouping "
              f"{'on' if mm.mobility_grouping else 'off'}.  Total pages: {total}")


def _mark_reserved(mm: MM) -> None:
    for s, e, _ in mm.memblock.reserved:
        pfn = s
        while pfn < e:
            sec = mm.section_of(pfn)
            nxt = ((pfn >> mm.section_shift) + 1) << mm.section_shift
            hi = min(e, nxt)
            if sec is not None:
                lo_o, hi_o = pfn - sec.start_pfn, hi - sec.start_pfn
                a = sec.flags_np()
                a[lo_o:hi_o] |= PG_RESERVED
            pfn = hi


def _memblock_free_all(mm: MM) -> None:
    """Release every unreserved RAM page to the buddy allocator; managed pages."""
    _mark_reserved(mm)
    reserved_by_zone = {}
    for zone in mm.all_zones():
        if not zone.present_pages:
            continue
        freed = 0
        z0, z1 = zone.zone_start_pfn, zone.zone_end_pfn
        for r in mm.layout.node_ranges(zone.nid):
            a, b = max(r.start_pfn, z0), min(r.end_pfn, z1)
            if a >= b:
                continue
            # split around reservations
            for s, e in mm.memblock.free_ranges(a, b):
                freed += free_pages_memory(mm, zone, s, e)
        zone.managed_pages = freed
        reserved_by_zone[(zone.nid, zone.name)] = zone.present_pages - freed
    mm.totalram_pages = sum(z.managed_pages for z in mm.all_zones())
    physpages = mm.layout.total_pages
    reserved = physpages - mm.totalram_pages
    cma = sum(a.count for a in mm.cma_areas)
    ki = KERNEL_IMAGE
    mm.printk(f"Memory: {mm.totalram_pages * 4}K/{physpages * 4}K available "
              f"(6144K kernel code, 7608K rwdata, "
              f"1220K rodata, {ki['init_kb']}K init, 2332K bss, {(reserved - cma) * 4}K reserved, "
              f"{cma * 4}K cma-reserved)")
    _build_zonelists_after_free(mm)


def _build_zonelists_after_free(mm: MM) -> None:
    mm.build_zonelists()


def _early_allocations(mm: MM) -> None:
    """Kernel allocations between the buddy going live and page_owner starting."""
    gfp = mm.gfp
    nodes = mm.layout.nodes
    mm.comm, mm.pid, mm.tgid = "swapper/0", 0, 0
    for what, flags, order, count, per_cpu in EARLY_ALLOCS:
        g = gfp(flags)
        targets = [(c, n) for c, n in enumerate(mm.layout.cpu_nodes)] if per_cpu else [(0, nodes[0])]
        for _, nid in targets:
            for _ in range(count):
                if alloc_pages(mm, g, order, nid) < 0:
                    break
    if len(nodes) > 1:
        # NUMA: large system hashes are vmalloc'ed, pages interleaved over nodes
        total = mm.layout.total_pages
        pages = 0
        for scale, esize in ((13, 8), (14, 8)):
            n = _alloc_large_system_hash_entries(total, scale)
            pages += (n * esize) >> PAGE_SHIFT
        g = gfp("GFP_KERNEL")
        for i in range(pages):
            alloc_pages(mm, g, 0, nodes[i % len(nodes)])
        # per-node and per-CPU structures the boot CPU sets up on its own node
        # (≈ calibrated on f-numa2: 2 nodes, 2 CPUs)
        for _ in range(NUMA_BOOT_NODE_PAGES * (len(nodes) - 1)):
            alloc_pages(mm, g, 0, nodes[0])
    mm.advance(20_000_000)


def _late_init(mm: MM) -> None:
    # CMA activation (cma_init_reserved_areas, core_initcall): pageblocks become MIGRATE_CMA
    cma_init_reserved_areas(mm)
    # free_initmem and the rodata/data gap (mark_rodata_ro)
    ks, ke = mm.layout.kernel_image
    ki = KERNEL_IMAGE
    if mm.layout.kernel_image == (ki["code"] >> PAGE_SHIFT, ki["end"] >> PAGE_SHIFT):
        regions = [(ki["rodata_end"] >> PAGE_SHIFT, ki["data"] >> PAGE_SHIFT),
                   ((ki["bss"] >> PAGE_SHIFT) - (ki["init_kb"] >> 2), ki["bss"] >> PAGE_SHIFT)]
    else:
        regions = []
    mm.advance(300_000_000)
    for s, e in regions:
        mm.memblock.reserved = _unreserve(mm.memblock.reserved, s, e)
        zone = mm.zone_of_pfn(s)
        sec = mm.section_of(s)
        sec.flags_np()[s - sec.start_pfn:e - sec.start_pfn] &= ~PG_RESERVED & 0xFF
        free_pages_memory(mm, zone, s, e)
        zone.managed_pages += e - s
    if regions:
        mm.printk(f"Freeing unused kernel image (initmem) memory: {ki['init_kb']}K")
        mm.printk(f"Freeing unused kernel image (rodata/data gap) memory: {ki['gap_kb']}K")
    mm.totalram_pages = sum(z.managed_pages for z in mm.all_zones())
    # khugepaged's set_recommended_min_free_kbytes runs late and recomputes watermarks
    init_per_zone_wmark_min(mm)
    for sec in mm.sections:
        if sec is not None and sec.present:
            sec.online = True
    mm.build_zonelists()


def _unreserve(reserved, s, e):
    out = []
    for a, b, label in reserved:
        if b <= s or e <= a:
            out.append((a, b, label))
            continue
        if a < s:
            out.append((a, s, label))
        if e < b:
            out.append((e, b, label))
    return out
