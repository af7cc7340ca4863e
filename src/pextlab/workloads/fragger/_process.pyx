# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The fragger process's loops, compiled (Cython; docs/compiled-core.md): a round's fill
(``fill_round``: the interleaving of ``items.schedule`` with each chunk's work, one call per
round), and per chunk the pages or directory entries on the compiled kernel side
(``_kernel_side.pxd``), with no Python frame per chunk or page.  The draws (``_rng.pxd``)
and the kernel calls are the Python loops' they replaced, in the same order.
``process.py`` documents what each kind's system calls allocate and calls these;
nothing else should.
"""
from libc.stdint cimport uint64_t

from ._kernel_side cimport KernelCore, Slab
from ._rng cimport Stream, c_free_entry

from ...errors import PextlabError
from .kernel_side import ALLOC_KINDS

__all__ = ["fill_round", "touch_child", "delete_dir"]

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


def fill_round(proc, list items, Stream sch not None, long rnd, long step_ns, list steps not None,
               Py_ssize_t window):
    """fragger.c fill for one round: ``items.schedule(items, sch, window)`` with the work
    of every chunk done as it is drawn.  ``proc`` (a ``process.FraggerProcess``) opens
    and closes the items and runs a child's work; a chunk of the other kinds is one C
    call here.  Each chunk advances the clock by ``step_ns`` and appends (round, item,
    amount) to ``steps``; the items' ``done``, ``nchunks``, ``first_step`` and
    ``last_step`` follow, as the Python loop kept them."""
    cdef KernelCore k = proc.k
    cdef long pid = proc.pid
    cdef list win = []
    cdef Py_ssize_t nxt = 0, w, nitems = len(items)
    cdef long size, done, n
    if window < 1:
        raise PextlabError(f"fragger: the schedule's window must be >= 1 item, got {window}")
    for it in items:
        if not 0 <= it.done < it.size:
            raise PextlabError(f"fragger: item {it.id} has no work to schedule "
                               f"(size {it.size}, done {it.done})")
    while len(win) < window and nxt < nitems:
        win.append(items[nxt])
        nxt += 1
        proc.open(win[len(win) - 1])
    while win:
        w = sch.uniform_c(0, len(win) - 1)
        it = win[w]
        kind = it.kind
        size, done = it.size, it.done
        n = _chunk(sch, kind, size - done)
        if it.first_step < 0:
            it.first_step = len(steps)
        it.last_step = len(steps)
        it.nchunks += 1
        k.mm.clock_ns += step_ns
        _work(proc, k, pid, it, kind, done, n)
        steps.append((rnd, it.id, n))
        it.done = done + n
        if done + n >= size:
            proc.close(it)
            if nxt < nitems:
                win[w] = items[nxt]
                nxt += 1
                proc.open(win[w])
            else:
                win[w] = win[len(win) - 1]
                win.pop()


cdef long _chunk(Stream sch, str kind, long left) except? -1:
    # items._chunk: the amount of the item's next chunk (a child's is all of it)
    cdef long n
    if kind == "anon" or kind == "file":
        n = sch.uniform_c(1, 64)
    elif kind == "pipe":
        n = sch.uniform_c(1, 16)
    elif kind == "dir":
        n = sch.uniform_c(8, 64)
    else:
        return left
    return n if n < left else left


cdef int _work(proc, KernelCore k, long pid, it, str kind, long done, long n) except -1:
    # one chunk of ``n`` (pages, entries) from ``done`` on, as the fragger task
    if kind == "child":                         # clone + execve, then all its work at once
        proc.child(it)
        return 0
    k.set_task_c("fragger", pid, pid)
    st = it.state
    if kind == "anon":
        touch_anon(k, st.va + done, n, st.slots)
    elif kind == "file":                        # pages, and a new xarray leaf per 64
        write_file(k, done, n, st.slots, st.xa)
    elif kind == "pipe":
        write_pipe(k, n, st.pages)
    elif kind == "dir":                         # entries; a maple node per 14
        fill_dir(k, it, st, done, n)
    return 0


cdef int touch_anon(KernelCore k, long va, long n, list slots) except -1:
    # fault in the ``n`` anonymous pages from ``va`` (their page tables first)
    cdef long i
    for i in range(n):
        k.touch_anon_c(va + i, slots)
    return 0


cdef int write_file(KernelCore k, long first, long n, list slots, list xa) except -1:
    # pages ``first``.. ``first + n - 1`` of a tmpfs file: each page-cache page, after the
    # xarray node that indexes it when it starts a leaf (and the root at 64)
    cdef long i
    for i in range(first, first + n):
        if i % 64 == 0:
            xa.append(k.obj_c(RADIX))
            if i == 64:
                xa.append(k.obj_c(RADIX))
        k.map_c(SHMEM, slots)
    return 0


cdef int write_pipe(KernelCore k, long n, list pages) except -1:
    # ``n`` pipe buffer pages (unmovable, held by pfn)
    cdef long i
    for i in range(n):
        pages.append(k.alloc_c(PIPE, -1))
    return 0


def touch_child(KernelCore k, long n, list pt, list slots):
    """A child's ``n`` 2 MiB regions, one byte each: a leaf page table and a page."""
    cdef long i
    for i in range(n):
        pt.append(("pte", k.alloc_c(PTE, -1)))
        k.map_c(ANON, slots)


cdef int fill_dir(KernelCore k, it, st, long first, long n) except -1:
    # entries ``first``.. ``first + n - 1`` of directory item ``it`` (state ``st``): a
    # dentry each, a shmem inode for files and subdirectories (a link counts on its
    # target's), and a maple node of the offset map every 14 entries
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
    return 0


def delete_dir(KernelCore k, it, st, seed, long rnd):
    """fragger.c free_phase for directory item ``it``: delete each entry chosen in round
    ``rnd`` (its dentry; the inode goes with its last name).  Returns how many."""
    cdef const unsigned char[:] etype = it.etype
    cdef tuple elink = it.elink
    cdef bytearray edel = it.edel
    cdef list dentries = st.dentries, inodes = st.inodes, nlink = st.nlink
    cdef long e, tgt, deleted = 0
    cdef int t
    # rng.free_decision(seed, rnd, "dir", it.id, e), as C
    cdef uint64_t s = <uint64_t>(seed & 0xFFFFFFFFFFFFFFFF)
    cdef uint64_t iid = <uint64_t>(it.id & 0xFFFFFFFFFFFFFFFF)
    for e in range(it.size):
        if edel[e] or not c_free_entry(s, rnd, iid, <uint64_t>e):
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
