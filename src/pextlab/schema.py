"""Frame schemas shared by the simulator and the real-capture readers.

Every ``df_*`` frame pextlab emits, whether built from the simulated kernel or
read from a real machine's files, has exactly the columns and dtypes listed
here, in this order.  ``conform(df, name)`` enforces that; a test asserts that
simulator frames and capture frames agree.

Conventions
-----------
* Missing integers are ``-1`` (numpy-friendly, fast); missing text is ``NaN``
  in a ``category`` column.
* ``node`` is the NUMA node id, ``zone`` the zone name as the kernel prints it
  (``DMA``, ``DMA32``, ``Normal``, ``Movable``, ``Device``).
* Text columns that repeat (zone, migratetype, comm, stack, gfp) are
  ``category``.

This module has no dependencies inside pextlab; it imports only pandas.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["SCHEMAS", "FRAMES", "FRAME_SOURCES", "conform", "empty", "ALLOCATOR_FRAME_PREFIXES",
           "top_frame_of"]

I8, I16, I32, I64 = "int8", "int16", "int32", "int64"
CAT, BOOL, F64, STR = "category", "bool", "float64", "object"

SCHEMAS: dict[str, dict[str, str]] = {
    # One row per allocated block (head page) -- /sys/kernel/debug/page_owner.
    "page_owner": {
        "pfn": I64,                    # head page frame number
        "order": I8,                   # allocation order
        "nr_pages": I64,               # 1 << order
        "gfp_mask": I64,               # numeric gfp mask as printed (mask 0x...)
        "gfp": CAT,                    # %pGg names, e.g. "GFP_KERNEL|__GFP_ZERO" ("" for 0)
        "migratetype": CAT,            # gfp_migratetype(gfp_mask) name ("type %s" on the PFN line)
        "pageblock": I64,              # pfn >> pageblock_order
        "pageblock_migratetype": CAT,  # the pageblock's current type (second "type %s")
        "mixed": BOOL,                 # migratetype differs from pageblock_migratetype
        "node": I16,                   # NUMA node (-1 unknown)
        "zone": CAT,                   # zone name
        "section": I64,                # pfn >> (SECTION_SIZE_BITS - PAGE_SHIFT)
        "memory_block": I64,           # section // sections_per_block
        "stack_handle": I64,           # stack depot handle (captures: 1.. by first appearance)
        "stack": CAT,                  # frames, one per line, "symbol+0xoff/0xsize"
        "top_frame": CAT,              # first frame outside the page allocator (see top_frame_of)
        "pid": I32,                    # -1 where the kernel version has no pid
        "tgid": I32,
        "comm": CAT,
        "ts_ns": I64,                  # allocation time, ns (-1 unknown)
        "free_ts_ns": I64,             # last free time, ns (-1 unknown / never)
        "last_migrate_reason": CAT,    # NaN when never migrated
    },
    # page_owner_stacks/show_stacks: outstanding base pages per stack.
    "stacks": {
        "stack_handle": I64,
        "stack": CAT,
        "top_frame": CAT,
        "depth": I16,                  # number of frames
        "nr_base_pages": I64,
    },
    # /proc/buddyinfo in long form.
    "buddyinfo": {"node": I16, "zone": CAT, "order": I8, "nr_free": I64},
    # /proc/pagetypeinfo in long form: free blocks per order per migratetype.
    "pagetypeinfo": {
        "node": I16, "zone": CAT, "migratetype": CAT, "order": I8,
        "nr_free": I64,                # free blocks of this order on this list
        "capped": BOOL,                # printed with ">" (list walk hit the 100000 cap)
    },
    # /proc/pagetypeinfo "Number of blocks type" and "Number of mixed blocks".
    "pageblocks": {
        "node": I16, "zone": CAT, "migratetype": CAT,
        "nr_blocks": I64,
        "nr_mixed": I64,               # -1 when the kernel does not print mixed counts (page_owner off)
    },
    # One row per pageblock of every populated zone, walked as pagetypeinfo walks it
    # (zone_start_pfn .. zone_end_pfn in pageblock steps); simulator only.
    "pageblock_map": {
        "node": I16, "zone": CAT,
        "pfn": I64,                    # first pfn of the pageblock
        "pageblock": I64,              # pfn >> pageblock_order
        "migratetype": CAT,            # the pageblock's type (NaN unless state is "online")
        "state": CAT,                  # "online" (counted by pagetypeinfo), "offline" (present,
                                       # offline section), "hole" (no memory of this zone here)
        "free_pages": I64,             # pages in free buddy blocks
        "allocated_pages": I64,        # pages in allocated blocks
        "alloc_unmovable": I64,        # allocated pages by the allocation's migratetype
        "alloc_movable": I64,          # (gfp_migratetype of the request)
        "alloc_reclaimable": I64,
        "mixed": I8,                   # 1: holds a page of another migratetype (the "Number of
                                       # mixed blocks" rule), 0: not, -1: unknown (page_owner
                                       # off, or not online)
    },
    # debugfs extfrag/unusable_index and extfrag_index, per zone and order.
    "extfrag": {
        "node": I16, "zone": CAT, "order": I8,
        "unusable_index": F64,         # 0.000 .. 1.000 (integer thousandths / 1000)
        "extfrag_index": F64,          # -1.000 when a suitable block exists
    },
    # /proc/zoneinfo, one row per zone (populated or not).
    "zones": {
        "node": I16, "zone": CAT, "zone_idx": I8,
        "start_pfn": I64, "end_pfn": I64,   # [start, end): end = start + spanned
        "spanned": I64, "present": I64, "managed": I64,
        "free": I64, "min": I64, "low": I64, "high": I64, "cma": I64,
    },
    # memory sections (SPARSEMEM).
    "sections": {
        "section": I64, "start_pfn": I64, "node": I16,
        "present": BOOL, "online": BOOL,
        "nr_present_pages": I64,       # RAM pages (not holes) in the section
        "memory_block": I64,
        "page_ext": BOOL,              # a page_ext table exists for the section
    },
    # /sys/devices/system/memory/memoryN.
    "memory_blocks": {
        "block": I64, "phys_index": I64, "start_pfn": I64, "end_pfn": I64,
        "state": CAT,                  # online / offline / going-offline
        "online": BOOL,
        "valid_zones": STR,            # as printed: "DMA32", "none", "Normal Movable"
        "zone": CAT,                   # the zone of an online block (NaN offline / spanning)
        "node": I16,                   # the first node with memory in the block
        "nodes": STR,                  # every node with memory in it: "0", or "0,1" across a boundary
        "removable": BOOL,
    },
    # page_ext tables: one row per section (SPARSEMEM) or per node (FLATMEM).
    "page_ext": {
        "node": I16,
        "section": I64,                # -1 for a FLATMEM per-node table
        "start_pfn": I64, "nr_pages": I64,   # pages the table describes
        "bytes": I64,                  # table size as counted in total_usage
        "pages": I64,                  # memory pages the table occupies
        "via": CAT,                    # "pages" (alloc_pages_exact_nid), "vmalloc", "memblock",
                                       # "replayed" (place taken from a capture, not tracked)
        "table_pfn": I64,              # first pfn of the table's own memory (-1 for vmalloc)
        "state": CAT,                  # "online", "invalid" (being offlined)
    },
    # /proc/meminfo and /proc/vmstat, long form.
    "meminfo": {"field": CAT, "value": I64, "unit": CAT},
    "vmstat": {"field": CAT, "value": I64},
    # Workload alloc/free/fail events in time order (Machine.run(..., record=True)).
    "events": {
        "time_ns": I64,                # simulated time of the event
        "event": CAT,                  # "alloc", "free" or "fail" (allocation returned NULL)
        "pfn": I64,                    # head pfn (-1 for a failure)
        "order": I8,
        "nr_pages": I64,               # 1 << order
        "node": I16, "zone": CAT,      # where the block is (-1 / NaN for a failure)
        "migratetype": CAT,            # gfp_migratetype of the request
        "task": I32,                   # index of the task in the machine's run log
        "pid": I32, "tgid": I32, "comm": CAT,
        "kind": CAT,                   # catalogue kind: anon, page_cache, slab, ...
        "stack_id": CAT,               # catalogue stack id ("anon-0")
        "stack_handle": I64,           # depot handle of the allocation stack (0: page_owner off)
    },
    # Free and workload-used pages per zone and migratetype over time (Machine.run(sample=...)).
    "memory_usage": {
        "time_ns": I64,
        "node": I16, "zone": CAT, "migratetype": CAT,
        "free": I64,                   # pages on this migratetype's free lists
        "used": I64,                   # live workload pages of this gfp migratetype
        "managed": I64,                # zone managed pages (managed - sum(free) - sum(used):
                                       # pages the kernel holds outside workloads)
    },
    # --- tracing (pextlab.tracing; read_trace gives "trace" from real ftrace text) -----------
    # kmem page events as trace/trace_pipe print them, plus "CPU:N [LOST n EVENTS]" lines.
    "trace": {
        "time_ns": I64,                # time stamp as printed (microseconds, in ns)
        "cpu": I16,
        "pid": I32,
        "comm": CAT,                   # saved_cmdlines name ("<idle>" for pid 0; NaN on LOST rows)
        "event": CAT,                  # mm_page_alloc, mm_page_free, ... or "LOST"
        "pfn": I64,                    # -1: no page (a failed mm_page_alloc, LOST rows)
        "order": I8,                   # order (alloc_order of mm_page_alloc_extfrag); -1 n/a
        "nr_pages": I64,               # 1 << order (0 on LOST rows)
        "migratetype": I16,            # migratetype= (alloc_migratetype=); -1 n/a
        "gfp_mask": I64,               # gfp_flags= as a mask (mm_page_alloc); -1 n/a
        "gfp": CAT,                    # gfp_flags= text
        "percpu_refill": I8,           # mm_page_alloc_zone_locked; -1 n/a
        "fallback_order": I8,          # mm_page_alloc_extfrag; -1 n/a
        "fallback_migratetype": I16,   # mm_page_alloc_extfrag; -1 n/a
        "change_ownership": I8,        # mm_page_alloc_extfrag; -1 n/a
        "lost": I64,                   # LOST rows: events lost (-1: "[LOST EVENTS]"); 0 otherwise
    },
    # Events a trace lost, per CPU and incident (simulator: Tracing.df_lost).
    "trace_lost": {
        "cpu": I16,
        "kind": CAT,                   # "overrun" (overwrite mode: oldest page overwritten) or
                                       # "dropped" (non-overwrite mode: new events refused)
        "first_ns": I64, "last_ns": I64,   # time stamps of the first and last event lost
        "nr_events": I64,
        "nr_pages": I64,               # buffer pages overwritten (0 for dropped events)
    },
    # Who owns each block, reconstructed from a trace (pextlab.tracing.owners_from_trace).
    "trace_owners": {
        "pfn": I64, "order": I8,
        "nr_pages": I64,               # pages of the block still owned (a part may be freed)
        "pid": I32, "comm": CAT,
        "gfp_mask": I64, "gfp": CAT,
        "migratetype": I16,
        "ts_ns": I64,                  # time stamp of the mm_page_alloc event
    },
    # Per block: the trace's owner against page_owner's (pextlab.tracing.compare_with_page_owner).
    "trace_verdicts": {
        "pfn": I64, "order": I8, "nr_pages": I64,
        "verdict": CAT,                # right / wrong / unknown / early (page_owner's own
                                       # early-boot record: neither side knows the owner)
        "reason": CAT,
        "pid": I32, "comm": CAT, "ts_ns": I64,              # page_owner (-1/NaN: none)
        "trace_pid": I32, "trace_comm": CAT, "trace_ts_ns": I64,   # the trace (-1/NaN: none)
    },
    # The trace reader's progress and footprint at each of its wake-ups (Tracing.df_reader).
    "trace_reader": {
        "time_ns": I64,
        "events_read": I64,            # cumulative
        "bytes_written": I64,          # text written to its output file (cumulative)
        "file_pages": I64,             # page cache pages of that file
        "buffer_pages": I64,           # the reader's own buffers
        "unread": I64,                 # events waiting in the ring buffers
    },
    # CMA areas (/sys/kernel/debug/cma/<name>/*, /sys/kernel/mm/cma/<name>/*), one row per area.
    "cma": {
        "name": CAT,                   # the area's name ("reserved" for cma=, "pernuma0", "numa1")
        "base_pfn": I64,               # debugfs base_pfn
        "count": I64,                  # debugfs count: pages of the area
        "end_pfn": I64,                # base_pfn + count
        "order_per_bit": I8,           # debugfs order_per_bit: pages per bitmap bit = 2^this
        "nid": I16,                    # node the area was declared for (-1: any; unknown in captures)
        "zone": CAT,                   # zone holding the area (NaN when unknown)
        "used": I64,                   # debugfs used: pages whose bit is set (handed out by cma_alloc)
        "maxchunk": I64,               # debugfs maxchunk: longest run of clear bits, in pages
        "alloc_pages_success": I64,    # sysfs counters, in pages (-1 without the files)
        "alloc_pages_fail": I64,
        "release_pages_success": I64,
        "free_cma_pages": I64,         # free CMA pages of the area's zone (zoneinfo nr_free_cma;
                                       # shared by the areas of one zone; -1 unknown)
    },
    # Every cma_alloc request of a simulated machine, in order (simulator only).
    "cma_allocs": {
        "time_ns": I64,
        "name": CAT,                   # the area
        "count": I64,                  # pages asked for
        "align": I8,                   # alignment order (pages aligned to 2^align)
        "ok": BOOL,
        "errno": CAT,                  # "" when ok, else "EBUSY", "ENOMEM", ...
        "pfn": I64,                    # first page handed out (-1 on failure)
        "migrated": I64,               # base pages migrated out of the windows tried
        "retries": I64,                # windows found busy before the result
        "first_busy_pfn": I64,         # first page in use of the last busy window (-1 none)
        "owner_comm": CAT,             # page_owner record of that page: task (NaN when none)
        "owner_pid": I32,              # (-1 when none)
        "owner_stack_top": CAT,        # first frame outside the allocator (NaN when none)
    },
    # One row per page of every CMA area of a simulated machine (simulator only).
    "cma_map": {
        "name": CAT,                   # the area
        "pfn": I64,
        "offset": I64,                 # pfn - base_pfn
        "state": CAT,                  # "free" (buddy), "movable" (allocated, migratable),
                                       # "pinned" (allocated, pinned: cannot move), "cma" (handed
                                       # out by cma_alloc), "other" (per-cpu list, isolated...)
    },
}


#: Where a frame can come from: a simulated ``Machine`` (and its ``Snapshot`` s, which
#: answer every frame the machine has), or a real ``Capture``.
FRAME_SOURCES = ("machine", "capture")

#: The frame protocol: every ``df_*`` method of Machine, Snapshot and Capture, the
#: schema of what it returns (a key of SCHEMAS, or None for a frame documented in its
#: method), and which sources have it.  A frame that two sources have has the same
#: name, signature and schema in both (tests/test_frame_protocol.py checks this).
FRAMES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "df_zones": ("zones", ("machine", "capture")),
    "df_buddyinfo": ("buddyinfo", ("machine", "capture")),
    "df_pagetypeinfo": ("pagetypeinfo", ("machine", "capture")),
    "df_pageblocks": ("pageblocks", ("machine", "capture")),
    "df_extfrag": ("extfrag", ("machine", "capture")),
    "df_memory_blocks": ("memory_blocks", ("machine", "capture")),
    "df_meminfo": ("meminfo", ("machine", "capture")),
    "df_vmstat": ("vmstat", ("machine", "capture")),
    "df_page_owner": ("page_owner", ("machine", "capture")),
    "df_stacks": ("stacks", ("machine", "capture")),
    "df_sections": ("sections", ("machine",)),
    "df_pageblock_map": ("pageblock_map", ("machine",)),
    "df_page_ext": ("page_ext", ("machine",)),
    "df_events": ("events", ("machine",)),
    "df_memory_usage": ("memory_usage", ("machine",)),
    "df_tasks": (None, ("machine",)),
    "df_fragmentation": (None, ("machine",)),
    "df_free_area_history": (None, ("machine",)),
    "df_compaction_stats": (None, ("machine",)),
    "df_hugetlb": (None, ("machine",)),
    "df_snapshots": (None, ("machine",)),
    "df_cma": ("cma", ("machine", "capture")),
    "df_cma_allocs": ("cma_allocs", ("machine",)),
    "df_cma_map": ("cma_map", ("machine",)),
}


def empty(name: str) -> pd.DataFrame:
    """An empty frame of the named schema, with the right dtypes."""
    return conform(pd.DataFrame({c: [] for c in SCHEMAS[name]}), name)


def conform(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Return ``df`` with exactly the columns of schema ``name``, in order and typed.

    Raises ``KeyError`` naming the missing columns.
    """
    schema = SCHEMAS[name]
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise KeyError(f"frame {name!r} is missing columns {missing}")
    out = {}
    for col, dtype in schema.items():
        s = df[col]
        if str(s.dtype) != dtype:
            s = s.astype(dtype)
        out[col] = s
    # copy=False: columns already of the right dtype are not copied again (building
    # frames is dominated by first-touch of fresh memory on big machines)
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)), copy=False)


# Frames at the top of every page_owner stack that belong to the page allocator
# itself (v6.12 shows get_page_from_freelist, __alloc_pages_noprof, ...).  The
# "top frame" of a stack is the first frame that does not start with one of these.
ALLOCATOR_FRAME_PREFIXES = (
    "get_page_from_freelist", "__alloc_pages", "alloc_pages",
    "__alloc_frozen_pages", "alloc_frozen_pages", "prep_new_page", "post_alloc_hook",
    "__folio_alloc", "folio_alloc", "__alloc_pages_noprof", "alloc_pages_mpol",
    "alloc_pages_exact", "__get_free_pages", "get_zeroed_page", "vma_alloc_folio",
    "__page_cache_alloc", "filemap_alloc_folio", "register_early_stack",
    "__set_page_owner", "set_page_owner", "save_stack",
)


def top_frame_of(frames: list[str]) -> str:
    """First frame (function name without offsets) outside the page allocator.

    >>> top_frame_of(["get_page_from_freelist+0x1/0x2", "__alloc_pages_noprof+0x1/0x2", "allocate_slab+0x28/0x3f0"])
    'allocate_slab'
    """
    for f in frames:
        name = f.strip().split("+", 1)[0].split(" ", 1)[0]
        if name.startswith("[<"):
            # v3.19 style " [<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00"
            rest = f.strip().split("] ", 1)
            name = rest[1].split("+", 1)[0] if len(rest) > 1 else name
        if not name.startswith(ALLOCATOR_FRAME_PREFIXES):
            return name
    if frames:
        return frames[-1].strip().split("+", 1)[0]
    return ""
