"""Build ``data/stacks/catalogue.json``: the allocation stacks workloads allocate through.

Every stack in the catalogue was seen in a real 6.12 page_owner dump (the
``page_owner*.txt.gz`` files of the capture directories given on the command
line).  The script groups the dumps' records by (stack, gfp mask, order),
classifies each group into an allocation *kind* by the functions on its stack
(anonymous fault, shmem page cache, slab, page tables, kernel stacks, ...),
keeps the most frequent groups of each kind and writes them with the
allocation context they represent and how often they were observed.

Free stacks are not in any dump (``/sys/kernel/debug/page_owner`` prints only
the allocation stack), so the catalogue's ``free_stacks`` are symbolic: the
function names of each kind's usual free path, without offsets.  They only
fill page_owner's ``free_handle``; no frame or text prints them.

    .venv/bin/python tools/build_stack_catalogue.py [capture_dir ...]

Default directories: ``data/real-kernel`` and ``/work/shared/real-kernel``
(a dump present in both is read once).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pextlab.kernel.gfp import format_gfp, gfp_migratetype  # noqa: E402
from pextlab.kernel.profiles import get_profile  # noqa: E402
from pextlab.procfs.page_owner import read_page_owner  # noqa: E402
from pextlab.schema import ALLOCATOR_FRAME_PREFIXES  # noqa: E402

DEFAULT_DIRS = (ROOT / "data" / "real-kernel", Path("/work/shared/real-kernel"))
OUT = ROOT / "data" / "stacks" / "catalogue.json"
PER_KIND = 24          # most frequent (stack, gfp, order) groups kept per kind

# kind -> what the allocation is, in one line (the catalogue's "context" starts with it)
KINDS = {
    "anon": "anonymous memory: a user page fault allocates a zeroed movable folio",
    "populate": "get_user_pages faulting a range in (mlock, MAP_POPULATE, exec argument pages)",
    "page_cache": "page cache folio (shmem/tmpfs write or file read), movable",
    "slab": "a slab page for an unmovable kmem cache",
    "slab_reclaimable": "a slab page for a reclaimable cache (dentries, inodes)",
    "page_tables": "a page-table page (pgd/pud/pmd/pte) for a process or the kernel",
    "kernel_stack": "a task's kernel stack: vmalloc pages allocated by copy_process",
    "vmalloc": "vmalloc backing pages (other than kernel stacks)",
    "pipe": "a pipe buffer page written by pipe_write",
    "kmalloc_large": "a kmalloc too large for slab, served by the page allocator",
    "huge": "a huge page (order 9) for the hugetlb pool",
    "other": "other kernel allocations",
}
SKIP = ("register_early_stack", "register_dummy_stack", "register_failure_stack")

# symbolic free paths per kind (function names only; see the module docstring)
FREE_STACKS = {
    "anon": ["free_unref_folios", "folios_put_refs", "free_pages_and_swap_cache",
             "tlb_flush_mmu", "unmap_page_range", "unmap_vmas", "exit_mmap", "mmput"],
    "populate": ["free_unref_folios", "folios_put_refs", "tlb_flush_mmu", "unmap_vmas",
                 "vms_clear_ptes", "do_vmi_munmap", "__vm_munmap"],
    "page_cache": ["free_unref_folios", "folios_put_refs", "truncate_inode_pages_range",
                   "shmem_undo_range", "shmem_evict_inode", "evict"],
    "slab": ["__free_pages", "__free_slab", "discard_slab", "__slab_free", "kfree"],
    "slab_reclaimable": ["__free_pages", "__free_slab", "discard_slab", "__slab_free",
                         "kmem_cache_free", "shrink_dentry_list", "prune_dcache_sb"],
    "page_tables": ["free_unref_page", "__free_pages", "free_pgd_range", "free_pgtables",
                    "exit_mmap", "mmput"],
    "kernel_stack": ["free_unref_page", "__free_pages", "vfree", "free_thread_stack",
                     "put_task_stack", "finish_task_switch"],
    "vmalloc": ["free_unref_page", "__free_pages", "vfree"],
    "pipe": ["free_unref_page", "__free_pages", "anon_pipe_buf_release", "pipe_read",
             "vfs_read", "ksys_read"],
    "kmalloc_large": ["free_unref_page", "__free_pages", "free_large_kmalloc", "kfree"],
    "huge": ["free_unref_page", "__free_pages", "__update_and_free_hugetlb_folio",
             "update_and_free_pages_bulk", "set_max_huge_pages"],
    "other": ["free_unref_page", "__free_pages"],
}


def function(frame: str) -> str:
    return frame.strip().split("+", 1)[0].split(" ", 1)[0]


def classify(funcs: list[str], gfp: int, order: int, rec_bit: int) -> str | None:
    """The kind of one (stack, gfp, order) group, None for page_owner's dummy stacks."""
    f = set(funcs)
    if f & set(SKIP):
        return None
    if order >= 9 and any("hugetlb" in x for x in funcs):
        return "huge"
    if "__mm_populate" in f or ("__get_user_pages" in f and "vma_alloc_folio_noprof" in f):
        return "populate"
    if "vma_alloc_folio_noprof" in f and "handle_mm_fault" in f:
        return "anon"
    if f & {"shmem_alloc_folio", "filemap_alloc_folio_noprof", "__filemap_get_folio",
            "page_cache_ra_unbounded"}:
        return "page_cache"
    if f & {"pte_alloc_one", "__pmd_alloc", "__pud_alloc", "__p4d_alloc", "pgd_alloc",
            "__pte_alloc_kernel"}:
        return "page_tables"
    if "allocate_slab" in f:
        return "slab_reclaimable" if gfp & rec_bit else "slab"
    if "__vmalloc_node_range_noprof" in f:
        return "kernel_stack" if "copy_process" in f else "vmalloc"
    if "pipe_write" in f:
        return "pipe"
    if "___kmalloc_large_node" in f:
        return "kmalloc_large"
    return "other"


def context(kind: str, funcs: list[str]) -> str:
    callers = [x for x in funcs if not x.startswith(ALLOCATOR_FRAME_PREFIXES)
               and x not in ("allocate_slab", "___slab_alloc", "alloc_pages_bulk_noprof",
                             "alloc_pages_bulk_array_mempolicy_noprof")]
    return f"{KINDS[kind]}; via {' <- '.join(callers[:4])}" if callers else KINDS[kind]


def dumps(dirs) -> list[tuple[str, Path]]:
    seen, out = set(), []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            continue
        for p in sorted(d.glob("*/page_owner*.txt.gz")):
            key = f"{p.parent.name}/{p.name}"
            if key not in seen:
                seen.add(key)
                out.append((key, p))
    return out


def build(dirs) -> dict:
    prof = get_profile("v6.12")
    rec_bit = prof.gfp_bits["__GFP_RECLAIMABLE"]
    mt_names = prof.migratetype_names
    parts = []
    files = dumps(dirs)
    if not files:
        raise SystemExit(f"no page_owner*.txt.gz under {[str(d) for d in dirs]}")
    for key, p in files:
        df = read_page_owner(p)
        parts.append(pd.DataFrame({
            "stack": df["stack"].astype(str), "gfp_mask": df["gfp_mask"].to_numpy(),
            "order": df["order"].to_numpy(), "nr_pages": df["nr_pages"].to_numpy(),
            "comm": df["comm"].astype(str), "source": key}))
    d = pd.concat(parts, ignore_index=True)
    g = d.groupby(["stack", "gfp_mask", "order"], sort=True)
    groups = g.agg(blocks=("nr_pages", "size"), pages=("nr_pages", "sum")).reset_index()
    sources = g["source"].agg(lambda s: sorted(set(s))).reset_index(drop=True)
    comms = g["comm"].agg(lambda s: s.value_counts().index[:3].tolist()).reset_index(drop=True)
    entries = []
    for i, row in groups.iterrows():
        frames = row["stack"].split("\n")
        funcs = [function(x) for x in frames]
        kind = classify(funcs, int(row["gfp_mask"]), int(row["order"]), rec_bit)
        if kind is None:
            continue
        mask = int(row["gfp_mask"])
        entries.append({
            "kind": kind, "context": context(kind, funcs), "gfp_mask": mask,
            "gfp": format_gfp(mask, prof), "migratetype": mt_names[gfp_migratetype(mask, prof)],
            "order": int(row["order"]), "observed_blocks": int(row["blocks"]),
            "observed_pages": int(row["pages"]), "sources": sources[i], "comms": comms[i],
            "frames": frames})
    out = []
    for kind in KINDS:
        es = [e for e in entries if e["kind"] == kind]
        es.sort(key=lambda e: (-e["observed_blocks"], e["frames"], e["gfp_mask"], e["order"]))
        for j, e in enumerate(es[:PER_KIND]):
            out.append({"id": f"{kind}-{j}", **e})
    return {
        "format": "pextlab.stack_catalogue/1",
        "kernel": "6.12 (x86_64), the builds of the real-kernel captures (see built_from)",
        "built_from": sorted(k for k, _ in files),
        "notes": ("Each stack was observed in the real page_owner dumps listed in built_from; "
                  "observed_* sum over those dumps. free_stacks are symbolic (function names "
                  "of each kind's free path, no offsets): dumps do not print free stacks."),
        "kinds": KINDS,
        "free_stacks": FREE_STACKS,
        "stacks": out,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("dirs", nargs="*", default=[str(d) for d in DEFAULT_DIRS])
    ap.add_argument("-o", "--output", default=str(OUT))
    a = ap.parse_args(argv)
    cat = build(a.dirs)
    out = Path(a.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cat, indent=1) + "\n")
    kinds = pd.Series([s["kind"] for s in cat["stacks"]]).value_counts()
    print(f"wrote {out}: {len(cat['stacks'])} stacks from {len(cat['built_from'])} dumps")
    print(kinds.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
