# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The per-page and per-entry loops of the fragger process, compiled (Cython;
docs/compiled-core.md): one call per chunk of work runs its pages or entries on the
compiled kernel side (``_kernel_side.pxd``) with no Python frame per page.  The kernel
calls are the Python loops' they replaced, in the same order.  ``process.py`` documents
what each kind's system calls allocate and calls these; nothing else should.
"""
from ._kernel_side cimport KernelCore, Slab

from .kernel_side import ALLOC_KINDS
from .rng import free_decision

__all__ = ["touch_anon", "write_file", "write_pipe", "fill_dir", "touch_child", "delete_dir"]

# the allocation kinds these loops use (kernel_side.ALLOC_KINDS: one namespace)
cdef int ANON = ALLOC_KINDS.index("anon")
cdef int SHMEM = ALLOC_KINDS.index("shmem")
cdef int PIPE = ALLOC_KINDS.index("pipe")
cdef int PTE = ALLOC_KINDS.index("pte")
cdef int RADIX = ALLOC_KINDS.index("radix_tree_node")
cdef int DENTRY = ALLOC_KINDS.index("dentry")
cdef int DENTRY_OPEN = ALLOC_KINDS.index("dentry_open")
cdef int INODE = ALLOC_KINDS.index("shmem_inode_cache")
cdef int MAPLE = ALLOC_KINDS.index("maple_node")


def touch_anon(KernelCore k, long va, long n, list slots):
    """Fault in the ``n`` anonymous pages from ``va`` (their page tables first)."""
    cdef long i
    for i in range(n):
        k.touch_anon_c(va + i, slots)


def write_file(KernelCore k, long first, long n, list slots, list xa):
    """Pages ``first``.. ``first + n - 1`` of a tmpfs file: each page-cache page, after the
    xarray node that indexes it when it starts a leaf (and the root at 64)."""
    cdef long i
    for i in range(first, first + n):
        if i % 64 == 0:
            xa.append(k.obj_c(RADIX))
            if i == 64:
                xa.append(k.obj_c(RADIX))
        k.map_c(SHMEM, slots)


def write_pipe(KernelCore k, long n, list pages):
    """``n`` pipe buffer pages (unmovable, held by pfn)."""
    cdef long i
    for i in range(n):
        pages.append(k.alloc_c(PIPE, -1))


def touch_child(KernelCore k, long n, list pt, list slots):
    """A child's ``n`` 2 MiB regions, one byte each: a leaf page table and a page."""
    cdef long i
    for i in range(n):
        pt.append(("pte", k.alloc_c(PTE, -1)))
        k.map_c(ANON, slots)


def fill_dir(KernelCore k, it, st, long first, long n):
    """Entries ``first``.. ``first + n - 1`` of directory item ``it`` (state ``st``): a
    dentry each, a shmem inode for files and subdirectories (a link counts on its
    target's), and a maple node of the offset map every 14 entries."""
    cdef const unsigned char[:] etype = it.etype
    cdef tuple elink = it.elink
    cdef list dentries = st.dentries, inodes = st.inodes, nlink = st.nlink, maple = st.maple
    cdef long e
    cdef int t
    for e in range(first, first + n):
        t = etype[e]
        if t == 1:
            dentries.append(k.obj_c(DENTRY))
            inodes.append(None)
            nlink[elink[e]] += 1
        else:
            dentries.append(k.obj_c(DENTRY_OPEN if t == 0 else DENTRY))
            inodes.append(k.obj_c(INODE))
        nlink.append(1)
        if (e + 1) % 14 == 0:
            maple.append(k.obj_c(MAPLE))


def delete_dir(KernelCore k, it, st, seed, long rnd):
    """fragger.c free_phase for directory item ``it``: delete each entry chosen in round
    ``rnd`` (its dentry; the inode goes with its last name).  Returns how many."""
    cdef const unsigned char[:] etype = it.etype
    cdef tuple elink = it.elink
    cdef bytearray edel = it.edel
    cdef list dentries = st.dentries, inodes = st.inodes, nlink = st.nlink
    cdef long e, tgt, deleted = 0
    cdef int t
    iid = it.id
    for e in range(it.size):
        if edel[e] or not free_decision(seed, rnd, "dir", iid, e):
            continue
        t = etype[e]
        k.unobj_c(DENTRY_OPEN if t == 0 else DENTRY, dentries[e])
        tgt = elink[e] if t == 1 else e
        nlink[tgt] -= 1
        if not nlink[tgt]:
            k.unobj_c(INODE, inodes[tgt])
        edel[e] = rnd
        deleted += 1
    return deleted
