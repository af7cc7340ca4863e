"""Reading and writing ``/sys/kernel/debug/page_owner`` dumps, every format from v3.19 on.

The dump is a sequence of records, one per allocated head page, each ended by
an empty line::

    Page allocated via order 0, mask 0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), pid 185, tgid 185 (leaky), ts 1058431417 ns
    PFN 0x1731 type Movable Block 11 type Movable Flags 0x80000000020828(uptodate|lru|owner_2|swapbacked|node=0|zone=1)
     get_page_from_freelist+0x1673/0x1730
     __alloc_pages_noprof+0x12e/0x230
     ...
    <empty line>

Its header, PFN and stack lines changed over the kernel's history (the eras and
their formats: :mod:`.variants`).  :func:`read_page_owner` accepts all of them, mixed
freely; :func:`format_page_owner` prints any of them (see
:data:`PAGE_OWNER_VARIANTS`).

Column meanings beyond ``pextlab.schema``
-----------------------------------------
``stack``
    The frames as printed, one per line, without the single leading space the
    kernel prints.  Old-style frames keep their address
    (``[<ffffffff8116147e>] __alloc_pages_nodemask+0x1de/0xb00``) so that a
    v3.19/v4.6 dump can be printed back unchanged; ``top_frame`` strips it.
``stack_handle``
    1, 2, 3, ... numbering distinct ``stack`` texts in order of first
    appearance in the file (the kernel's depot handles are not printed).
``migratetype``
    v4.6+: the first ``type %s`` (the migratetype the gfp mask asks for).
    v3.19 prints only the pageblock's type (as a number) and ``Fallback`` when
    the page's type differs; there the page type is derived from the mask with
    v3.19's bits (``__GFP_MOVABLE`` 0x08, ``__GFP_RECLAIMABLE`` 0x80000) and
    ``mixed`` is the kernel's ``Fallback`` marker.
``pageblock``
    ``pfn >> pageblock_order``.  When the printed ``Block`` disagrees (wrong
    ``pageblock_order`` argument), a warning names the order the file implies
    and ``df.attrs["block_mismatch"]`` counts the records.
``node``, ``zone``
    From ``node=N|zone=Z`` inside the ``%pGp`` flags (v5.14+ kernels); -1 and
    NaN for older formats.
``free_ts_ns``
    -1 when the header has no ``free_ts`` or prints ``free_ts 0 ns`` (never freed).
``last_migrate_reason``
    The text after ``Page has been migrated, last migrate reason: ``; NaN if absent.

``Slab cache page``, ``Charged ...memcg ...`` and (2026 filter modes)
``handle: %u`` lines are accepted and ignored (the schema has no column for
them); the page flags other than node/zone are not kept either.

Numbers no kernel prints are errors, not data: an order above 18, a gfp mask
wider than 32 bits, a pid or tgid from PID_MAX_LIMIT on (-1, which pextlab
writes for "not known", is read), a node from MAX_NUMNODES on, a zone index
beyond ``zone_names``, a pfn or ``Block`` from 2**52 on, a time from 2**63 ns
on (:mod:`pextlab.procfs.limits` says where each bound comes from).

Modules
-------
:mod:`pextlab.procfs.page_owner_grammar` (a sibling module, standard library
only, which ``pextlab sort`` shares) defines a record; in this package
:mod:`.variants` names the formats, :mod:`.reader` reads dumps (:mod:`._scan`
cuts them into blocks and records, :mod:`._fast` parses the kernel's plain
layout with numpy, :mod:`._diagnose` names a bad line, :mod:`._columns` keeps
records as compact columns, :mod:`._parallel` shares a dump between worker
processes, :mod:`._frame` builds the frames) and :mod:`.writer` prints frames
back in any variant.  Imports:
numpy, pandas, :mod:`pextlab.errors`, :mod:`pextlab.schema` and the sibling
procfs modules.
"""
from __future__ import annotations

from .reader import iter_page_owner_chunks, read_page_owner
from .variants import (
    MIGRATETYPE_NAMES, MIGRATETYPE_NAMES_V3_19, PAGE_OWNER_VARIANTS, PageOwnerVariant, detect_variant)
from .writer import format_page_owner, write_page_owner

__all__ = [
    "read_page_owner",
    "iter_page_owner_chunks",
    "format_page_owner",
    "write_page_owner",
    "detect_variant",
    "PageOwnerVariant",
    "PAGE_OWNER_VARIANTS",
    "MIGRATETYPE_NAMES_V3_19",
    "MIGRATETYPE_NAMES",
]
