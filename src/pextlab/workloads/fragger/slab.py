"""The slab caches fragger's system calls allocate from: a small SLUB model.

A cache hands out objects from slabs of ``objs`` objects of ``2**order`` pages.
Objects fill the newest partial slab first; a slab that becomes full leaves the
partial list and goes back to its head when an object is freed
(mm/slub.c ``put_cpu_partial`` / ``add_partial``); a slab whose last object goes
is kept while the cache has fewer than ``min_partial`` empty slabs and
discarded otherwise (``discard_slab``).  Slab pages are unmovable or
reclaimable kernel memory: compaction never migrates them.

:class:`Slab` and :class:`KmemCache` are compiled (``_kernel_side.pyx``): the fill
allocates about 170 k objects.

Honest limits: object sizes are fixed per cache (``SLAB_CACHES``, from the
frag-s1 page_owner dump of 6.12 on x86_64); no per-cpu slabs, no NUMA.
"""
from __future__ import annotations

from dataclasses import dataclass

# compiled: workloads/fragger/_kernel_side.pyx (the pextlab package checks that it is built)
from ._kernel_side import KmemCache, Slab

__all__ = ["CacheSpec", "SLAB_CACHES", "Slab", "KmemCache"]


@dataclass(frozen=True)
class CacheSpec:
    """A kmem cache: objects per slab, slab order, gfp and the allocation stack."""
    name: str
    objs: int
    order: int
    gfp: str
    stack: str               # catalogue id, or "" for the symbolic frames below
    frames: tuple = ()


def _slab_frames(*callers):
    return ("get_page_from_freelist", "__alloc_pages_noprof", "alloc_pages_mpol_noprof",
            "allocate_slab", "___slab_alloc", "__slab_alloc.isra.0") + callers


_SLAB_GFP_HI = "__GFP_IO|__GFP_FS|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC"
_RECLAIMABLE_0 = "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_RECLAIMABLE"
_PIPE_RING = ("__kmalloc_noprof", "pipe_resize_ring", "pipe_fcntl", "__x64_sys_fcntl",
              "do_syscall_64")
#: The caches fragger's kinds allocate from (6.12 on x86_64; object counts from
#: the object sizes, orders and gfp flags as the frag-s1 page_owner dump shows them).
SLAB_CACHES = {
    # shmem_inode_cache: SLAB_ACCOUNT only, so *unmovable*; ~770-byte objects in order-2 slabs
    "shmem_inode_cache": CacheSpec("shmem_inode_cache", 21, 2, _SLAB_GFP_HI, "slab-0"),
    # dentry: reclaimable, 192 bytes, order 0
    "dentry": CacheSpec("dentry", 21, 0, _RECLAIMABLE_0, "slab_reclaimable-0"),
    "dentry_open": CacheSpec("dentry", 21, 0, _RECLAIMABLE_0, "slab_reclaimable-1"),
    # radix_tree_node (xarray of the page cache): reclaimable, 576 bytes, order 1
    "radix_tree_node": CacheSpec("radix_tree_node", 14, 1,
                                 "GFP_NOWAIT|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_RECLAIMABLE",
                                 "slab_reclaimable-4"),
    # maple_node (the offset map of a tmpfs directory): unmovable, 256 bytes, order 0
    "maple_node": CacheSpec("maple_node", 16, 0, "GFP_NOWAIT|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP",
                            "slab-2"),
    # pipe inode (inode_cache, reclaimable, order 1) and its pseudo dentry
    "inode_cache": CacheSpec("inode_cache", 13, 1, _SLAB_GFP_HI + "|__GFP_RECLAIMABLE",
                             "slab_reclaimable-8"),
    "dentry_pseudo": CacheSpec("dentry", 21, 0, _RECLAIMABLE_0, "slab_reclaimable-9"),
    # struct file: unmovable, 256 bytes
    "filp": CacheSpec("filp", 16, 0, "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP", "",
                      _slab_frames("kmem_cache_alloc_noprof", "alloc_empty_file",
                                   "alloc_file_clone", "create_pipe_files", "__do_pipe_flags",
                                   "do_pipe2")),
    # task_struct: order 3, 5 per slab
    "task_struct": CacheSpec("task_struct", 5, 3, _SLAB_GFP_HI, "",
                             _slab_frames("kmem_cache_alloc_node_noprof", "copy_process",
                                          "kernel_clone", "__do_sys_clone3", "do_syscall_64")),
    # mm_struct (order 2) for exec
    "mm_struct": CacheSpec("mm_struct", 16, 2, _SLAB_GFP_HI, "",
                           _slab_frames("kmem_cache_alloc_noprof", "mm_alloc", "alloc_bprm",
                                        "do_execveat_common", "__x64_sys_execve")),
    # vm_area_struct: unmovable, order 0
    "vm_area_struct": CacheSpec("vm_area_struct", 21, 0,
                                "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP", "",
                                _slab_frames("kmem_cache_alloc_noprof", "vm_area_alloc",
                                             "__mmap_region", "do_mmap", "vm_mmap_pgoff")),
    # kmalloc caches for pipe rings (order 3 slabs)
    "kmalloc-1k": CacheSpec("kmalloc-1k", 32, 3, _SLAB_GFP_HI, "", _slab_frames(*_PIPE_RING)),
    "kmalloc-2k": CacheSpec("kmalloc-2k", 16, 3, _SLAB_GFP_HI, "", _slab_frames(*_PIPE_RING)),
    "kmalloc-4k": CacheSpec("kmalloc-4k", 8, 3, _SLAB_GFP_HI, "", _slab_frames(*_PIPE_RING)),
    "kmalloc-8k": CacheSpec("kmalloc-8k", 4, 3, _SLAB_GFP_HI, "", _slab_frames(*_PIPE_RING)),
}
