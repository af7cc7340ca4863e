"""Kernel profiles: every behaviour that changed between kernel versions, in one place.

A profile is a frozen description of one kernel version as pextlab models it.
Code elsewhere never tests a version string; it asks the profile
(``profile.per_subpage_owner``, ``profile.fallbacks``, ...).  Each field
names the kernel file and version it comes from.

Two profiles ship: ``v3.19`` (the seed: mm/page_ext.c as first merged, commit
eefa864b701d, with page_owner from commit 48c96a3685) and ``v6.12`` (checked against the real-kernel captures in
``data/real-kernel``).  Both model x86_64 with 4 KiB pages.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Mapping

from ..errors import ProfileError

__all__ = ["KernelProfile", "PROFILES", "get_profile", "PAGE_SHIFT", "PAGE_SIZE"]

PAGE_SHIFT = 12                 # arch/x86/include/asm/page_types.h
PAGE_SIZE = 1 << PAGE_SHIFT


@dataclass(frozen=True, eq=False)
class KernelProfile:
    name: str
    # --- orders (include/linux/mmzone.h) -------------------------------------------
    # v3.19..v6.3: MAX_ORDER=11 exclusive; v6.4: MAX_ORDER=10 inclusive;
    # v6.8: MAX_PAGE_ORDER=10, NR_PAGE_ORDERS=11.  Either way orders 0..10 exist.
    max_page_order: int
    pageblock_order: int            # include/linux/pageblock-flags.h: HUGETLB_PAGE_ORDER = 9
    costly_order: int               # PAGE_ALLOC_COSTLY_ORDER
    # --- migratetypes (include/linux/mmzone.h) -------------------------------------
    migratetype_names: tuple[str, ...]
    mt_unmovable: int
    mt_movable: int
    mt_reclaimable: int
    mt_highatomic: int | None       # v4.4+ (MIGRATE_HIGHATOMIC); None in v3.19
    mt_reserve: int | None          # v3.19 MIGRATE_RESERVE; removed in v4.4
    mt_cma: int
    mt_isolate: int
    fallbacks: Mapping[int, tuple[int, ...]]   # mm/page_alloc.c fallbacks[][]
    # can_steal_fallback(): start types that always steal whole blocks below
    # pageblock_order/2.  v3.19: RECLAIMABLE only; v4.x+: RECLAIMABLE and UNMOVABLE.
    always_steal_types: frozenset[int]
    count_alike_pages: bool         # v4.13+: claim a block when free+alike >= half
    # --- gfp (include/linux/gfp.h, gfp_types.h) -----------------------------------
    gfp_bits: Mapping[str, int]     # single-bit flags, name -> value
    gfp_composites: Mapping[str, int]
    gfp_name_table: tuple[str, ...]  # %pGg table order (include/trace/events/mmflags.h)
    gfp_movable_shift: int           # gfp_migratetype: (gfp & (RECLAIMABLE|MOVABLE)) >> shift
    # --- sparsemem / memory blocks (arch/x86/include/asm/sparsemem.h) -------------
    section_size_bits: int = 27
    memory_block_size: int = 128 << 20   # arch/x86/mm/init_64.c probe_memory_block_size (< 64 GiB)
    # --- page_ext (mm/page_ext.c, include/linux/page_ext.h) ----------------------
    page_ext_flags_size: int = 8        # sizeof(struct page_ext) (unsigned long flags)
    need_shared_flags: bool = True      # v6.3: flags word only if a client needs it
    page_owner_size: int = 0            # per-page bytes of the page_owner client area
    clients: tuple[str, ...] = ()       # page_ext_ops[] order
    page_ext_init_late: bool = True     # sparse: page_ext_init() after the buddy allocator is up
    # --- page_owner (mm/page_owner.c) ----------------------------------------------
    page_owner_variant: str = "v6.12"   # output format (pextlab.procfs.page_owner variants)
    per_subpage_owner: bool = True      # v5.4+: every subpage carries the record
    keep_owner_after_free: bool = True  # v5.4+: PAGE_EXT_OWNER_ALLOCATED cleared, record kept
    stack_depth: int = 16               # PAGE_OWNER_STACK_DEPTH (v3.19: 8 trace entries)
    has_show_stacks: bool = True        # v6.9 page_owner_stacks/
    guard_in_page_ext: bool = False     # v3.19..v5.3: PAGE_EXT_DEBUG_GUARD bit
    poison_in_page_ext: bool = False    # v3.19..v4.11: PAGE_EXT_DEBUG_POISON bit
    stackdepot_hash_early: bool = True  # page_owner=on reserves the stack depot hash table at boot
    mobility_grouping_min_pages: int = 0   # see build_all_zonelists: disabled below pageblock*types
    # per-cpu lists (mm/page_alloc.c pcp_allowed_order): v5.13+ orders 0..COSTLY and THP;
    # before, order 0 only
    pcp_high_orders: bool = True
    notes: str = ""

    # an immutable description: a copy is the profile itself, and a pickle names a
    # known profile (or carries a custom one's fields), so a machine copies and pickles
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        if PROFILES.get(self.name) is self:
            return get_profile, (self.name,)
        return _rebuild_profile, ({f.name: dict(v) if isinstance(v, MappingProxyType) else v
                                   for f in fields(self) for v in (getattr(self, f.name),)},)

    # derived ------------------------------------------------------------------------
    @property
    def nr_orders(self) -> int:
        return self.max_page_order + 1

    @property
    def max_order_nr_pages(self) -> int:
        return 1 << self.max_page_order

    @property
    def pageblock_nr_pages(self) -> int:
        return 1 << self.pageblock_order

    @property
    def pages_per_section(self) -> int:
        return 1 << (self.section_size_bits - PAGE_SHIFT)

    @property
    def sections_per_block(self) -> int:
        return self.memory_block_size >> self.section_size_bits

    @property
    def nr_migratetypes(self) -> int:
        return len(self.migratetype_names)

    @property
    def pcptypes(self) -> tuple[int, int, int]:
        return (self.mt_unmovable, self.mt_movable, self.mt_reclaimable)

    def pcp_allowed_order(self, order: int) -> bool:
        """mm/page_alloc.c pcp_allowed_order: orders up to PAGE_ALLOC_COSTLY_ORDER and the
        THP order (v5.13+); order 0 only before."""
        if not self.pcp_high_orders:
            return order == 0
        return order <= self.costly_order or order == self.pageblock_order

    def migratetype(self, name: str) -> int:
        try:
            return self.migratetype_names.index(name)
        except ValueError:
            raise ProfileError(f"profile {self.name}: unknown migratetype {name!r}; "
                               f"known: {', '.join(self.migratetype_names)}") from None

    def page_ext_size(self, clients_needed: tuple[str, ...]) -> int:
        """Bytes per page of page_ext for the clients whose need() returned true.

        v6.3+ (Pasha Tatashin, "Do not allocate space for page_ext->flags if not
        needed"): the flags word exists only if a flags-using client is active.
        v3.19: ``struct page_ext`` is one fixed struct (flags + owner fields).
        """
        if not clients_needed:
            return 0
        if self.name == "v3.19":
            # struct page_ext { unsigned long flags; unsigned int order; gfp_t gfp_mask;
            #   struct stack_trace trace; unsigned long trace_entries[8]; } = 8+4+4+24+64
            return 104
        size = self.page_ext_flags_size if self.need_shared_flags else 0
        if "page_owner" in clients_needed:
            size += self.page_owner_size
        return size


def _bits(pairs):
    return MappingProxyType(dict(pairs))


# --- v6.12 -------------------------------------------------------------------------
# include/linux/gfp_types.h (v6.9+ enum layout; 0x200 unused since __GFP_ATOMIC went in v6.3)
_GFP_BITS_612 = _bits([
    ("__GFP_DMA", 0x1), ("__GFP_HIGHMEM", 0x2), ("__GFP_DMA32", 0x4), ("__GFP_MOVABLE", 0x8),
    ("__GFP_RECLAIMABLE", 0x10), ("__GFP_HIGH", 0x20), ("__GFP_IO", 0x40), ("__GFP_FS", 0x80),
    ("__GFP_ZERO", 0x100), ("__GFP_DIRECT_RECLAIM", 0x400), ("__GFP_KSWAPD_RECLAIM", 0x800),
    ("__GFP_WRITE", 0x1000), ("__GFP_NOWARN", 0x2000), ("__GFP_RETRY_MAYFAIL", 0x4000),
    ("__GFP_NOFAIL", 0x8000), ("__GFP_NORETRY", 0x10000), ("__GFP_MEMALLOC", 0x20000),
    ("__GFP_COMP", 0x40000), ("__GFP_NOMEMALLOC", 0x80000), ("__GFP_HARDWALL", 0x100000),
    ("__GFP_THISNODE", 0x200000), ("__GFP_ACCOUNT", 0x400000), ("__GFP_ZEROTAGS", 0x800000),
])
_R = 0x400 | 0x800
_GFP_COMP_612 = {
    "__GFP_RECLAIM": _R,
    "GFP_ATOMIC": 0x20 | 0x800,
    "GFP_KERNEL": _R | 0x40 | 0x80,
    "GFP_KERNEL_ACCOUNT": _R | 0x40 | 0x80 | 0x400000,
    "GFP_NOWAIT": 0x800,
    "GFP_NOIO": _R,
    "GFP_NOFS": _R | 0x40,
    "GFP_USER": _R | 0x40 | 0x80 | 0x100000,
    "GFP_DMA": 0x1,
    "GFP_DMA32": 0x4,
    "GFP_HIGHUSER": _R | 0x40 | 0x80 | 0x100000 | 0x2,
    "GFP_HIGHUSER_MOVABLE": _R | 0x40 | 0x80 | 0x100000 | 0x2 | 0x8,
}
_GFP_COMP_612["GFP_TRANSHUGE_LIGHT"] = (
    (_GFP_COMP_612["GFP_HIGHUSER_MOVABLE"] | 0x40000 | 0x80000 | 0x2000) & ~_R)
_GFP_COMP_612["GFP_TRANSHUGE"] = _GFP_COMP_612["GFP_TRANSHUGE_LIGHT"] | 0x400
_GFP_COMP_612 = MappingProxyType(_GFP_COMP_612)
# %pGg name table order, include/trace/events/mmflags.h (v6.x)
_GFP_NAMES_612 = (
    "GFP_TRANSHUGE", "GFP_TRANSHUGE_LIGHT", "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER", "GFP_USER",
    "GFP_KERNEL_ACCOUNT", "GFP_KERNEL", "GFP_NOFS", "GFP_ATOMIC", "GFP_NOIO", "GFP_NOWAIT",
    "GFP_DMA", "__GFP_HIGHMEM", "GFP_DMA32", "__GFP_HIGH", "__GFP_IO", "__GFP_FS", "__GFP_NOWARN",
    "__GFP_RETRY_MAYFAIL", "__GFP_NOFAIL", "__GFP_NORETRY", "__GFP_COMP", "__GFP_ZERO",
    "__GFP_NOMEMALLOC", "__GFP_MEMALLOC", "__GFP_HARDWALL", "__GFP_THISNODE", "__GFP_RECLAIMABLE",
    "__GFP_MOVABLE", "__GFP_ACCOUNT", "__GFP_WRITE", "__GFP_RECLAIM", "__GFP_DIRECT_RECLAIM",
    "__GFP_KSWAPD_RECLAIM", "__GFP_ZEROTAGS",
)

V6_12 = KernelProfile(
    name="v6.12",
    max_page_order=10, pageblock_order=9, costly_order=3,
    # v4.4+ order (Mel Gorman): UNMOVABLE=0, MOVABLE=1, RECLAIMABLE=2, HIGHATOMIC=3, CMA, ISOLATE
    migratetype_names=("Unmovable", "Movable", "Reclaimable", "HighAtomic", "CMA", "Isolate"),
    mt_unmovable=0, mt_movable=1, mt_reclaimable=2, mt_highatomic=3, mt_reserve=None,
    mt_cma=4, mt_isolate=5,
    # v6.7+ fallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] (mm/page_alloc.c)
    fallbacks=MappingProxyType({0: (2, 1), 1: (2, 0), 2: (0, 1)}),
    always_steal_types=frozenset({0, 2}),
    count_alike_pages=True,
    gfp_bits=_GFP_BITS_612, gfp_composites=_GFP_COMP_612, gfp_name_table=_GFP_NAMES_612,
    gfp_movable_shift=3,
    # struct page_ext (8: unsigned long flags) + struct page_owner (64 bytes in v6.8+):
    # 72 bytes per page, confirmed by "allocated 18874368 bytes of page_ext" for 8 sections.
    page_ext_flags_size=8, need_shared_flags=True, page_owner_size=64,
    clients=("page_owner",),
    page_owner_variant="v6.12", per_subpage_owner=True, keep_owner_after_free=True,
    stack_depth=16, has_show_stacks=True,
    notes="Linux 6.12 x86_64 as built for the real-kernel captures (CONFIG_PAGE_OWNER, CMA, "
          "COMPACTION, MEMORY_HOTPLUG, DEBUG_PAGEALLOC, PAGE_POISONING, SPARSEMEM_VMEMMAP).",
)

# --- v3.19 -------------------------------------------------------------------------
# include/linux/gfp.h of v3.19 (≈ bit values as of that release; ___GFP_WAIT era)
_GFP_BITS_319 = _bits([
    ("__GFP_DMA", 0x1), ("__GFP_HIGHMEM", 0x2), ("__GFP_DMA32", 0x4), ("__GFP_MOVABLE", 0x8),
    ("__GFP_WAIT", 0x10), ("__GFP_HIGH", 0x20), ("__GFP_IO", 0x40), ("__GFP_FS", 0x80),
    ("__GFP_COLD", 0x100), ("__GFP_NOWARN", 0x200), ("__GFP_REPEAT", 0x400),
    ("__GFP_NOFAIL", 0x800), ("__GFP_NORETRY", 0x1000), ("__GFP_MEMALLOC", 0x2000),
    ("__GFP_COMP", 0x4000), ("__GFP_ZERO", 0x8000), ("__GFP_NOMEMALLOC", 0x10000),
    ("__GFP_HARDWALL", 0x20000), ("__GFP_THISNODE", 0x40000), ("__GFP_RECLAIMABLE", 0x80000),
    ("__GFP_NOTRACK", 0x200000), ("__GFP_NO_KSWAPD", 0x400000), ("__GFP_OTHER_NODE", 0x800000),
    ("__GFP_WRITE", 0x1000000),
])
_GFP_COMP_319 = MappingProxyType({
    "GFP_ATOMIC": 0x20,
    "GFP_NOIO": 0x10,
    "GFP_NOFS": 0x10 | 0x40,
    "GFP_KERNEL": 0x10 | 0x40 | 0x80,
    "GFP_TEMPORARY": 0x10 | 0x40 | 0x80 | 0x80000,
    "GFP_USER": 0x10 | 0x40 | 0x80 | 0x20000,
    "GFP_HIGHUSER": 0x10 | 0x40 | 0x80 | 0x20000 | 0x2,
    "GFP_HIGHUSER_MOVABLE": 0x10 | 0x40 | 0x80 | 0x20000 | 0x2 | 0x8,
    "GFP_DMA": 0x1,
    "GFP_DMA32": 0x4,
    "GFP_NOWAIT": 0x0,
    "GFP_TRANSHUGE": (0x10 | 0x40 | 0x80 | 0x20000 | 0x2 | 0x8) | 0x4000 | 0x10000 | 0x1000
                     | 0x200 | 0x400000,
})
# v3.19 printed "mask 0x%x" with no names (%pGg arrived in v4.6); pextlab still
# names flags for v3.19 frames using this table, in the same first-match style.
_GFP_NAMES_319 = (
    "GFP_TRANSHUGE", "GFP_HIGHUSER_MOVABLE", "GFP_HIGHUSER", "GFP_USER", "GFP_TEMPORARY",
    "GFP_KERNEL", "GFP_NOFS", "GFP_ATOMIC", "GFP_NOIO", "GFP_DMA", "__GFP_HIGHMEM", "GFP_DMA32",
    "__GFP_HIGH", "__GFP_WAIT", "__GFP_IO", "__GFP_FS", "__GFP_COLD", "__GFP_NOWARN",
    "__GFP_REPEAT", "__GFP_NOFAIL", "__GFP_NORETRY", "__GFP_COMP", "__GFP_ZERO",
    "__GFP_NOMEMALLOC", "__GFP_MEMALLOC", "__GFP_HARDWALL", "__GFP_THISNODE",
    "__GFP_RECLAIMABLE", "__GFP_MOVABLE", "__GFP_NOTRACK", "__GFP_NO_KSWAPD",
    "__GFP_OTHER_NODE", "__GFP_WRITE",
)

V3_19 = KernelProfile(
    name="v3.19",
    max_page_order=10, pageblock_order=9, costly_order=3,
    # v3.19 enum: UNMOVABLE=0, RECLAIMABLE=1, MOVABLE=2, RESERVE(=PCPTYPES)=3, CMA, ISOLATE
    migratetype_names=("Unmovable", "Reclaimable", "Movable", "Reserve", "CMA", "Isolate"),
    mt_unmovable=0, mt_movable=2, mt_reclaimable=1, mt_highatomic=None, mt_reserve=3,
    mt_cma=4, mt_isolate=5,
    # mm/page_alloc.c v3.19 (CONFIG_CMA build): MOVABLE tries CMA first, then the others.
    # Each row ends in MIGRATE_RESERVE there, used as the stop marker; it is left out here.
    fallbacks=MappingProxyType({0: (1, 2), 1: (0, 2), 2: (4, 1, 0)}),
    always_steal_types=frozenset({1}),
    count_alike_pages=False,
    gfp_bits=_GFP_BITS_319, gfp_composites=_GFP_COMP_319, gfp_name_table=_GFP_NAMES_319,
    gfp_movable_shift=0,   # v3.19: ((gfp & MOVABLE) != 0) << 1 | ((gfp & RECLAIMABLE) != 0)
    page_ext_flags_size=8, need_shared_flags=True, page_owner_size=0,
    clients=("debug_guardpage", "page_poisoning", "page_owner"),
    page_owner_variant="v3.19", per_subpage_owner=False, keep_owner_after_free=False,
    stack_depth=8, has_show_stacks=False, guard_in_page_ext=True, poison_in_page_ext=True,
    stackdepot_hash_early=False,
    pcp_high_orders=False,
    notes="The seed kernel: mm/page_ext.c as introduced in v3.19 (commit eefa864b701d, \"mm/page_ext: "
          "resurrect struct page extending code for debugging\") with page_owner (commit 48c96a3685, "
          "Joonsoo Kim, 2014-12).  Owner fields live in struct page_ext (104 bytes per page on x86_64).",
)

PROFILES: Mapping[str, KernelProfile] = MappingProxyType({"v6.12": V6_12, "v3.19": V3_19})


def _rebuild_profile(values: dict) -> KernelProfile:
    # a custom profile from its pickle: its mappings read-only again
    return KernelProfile(**{k: MappingProxyType(v) if isinstance(v, dict) else v
                            for k, v in values.items()})


def get_profile(name) -> KernelProfile:
    """Return the profile called ``name`` (or ``name`` itself if it is a profile)."""
    if isinstance(name, KernelProfile):
        return name
    try:
        return PROFILES[str(name)]
    except KeyError:
        raise ProfileError(f"unknown kernel profile {name!r}; known profiles: "
                           f"{', '.join(PROFILES)}") from None
