"""The fragger process: what each item kind's system calls allocate and free.

For every kind of item (:mod:`.items`), the kernel objects its system calls
create on 6.12, through a :class:`~.kernel_side.FraggerKernel`:

* ``anon`` -- ``mmap`` (a vm_area_struct), then each touched page: the page
  tables that map it and the zeroed anonymous page; ``munmap`` frees both.
* ``file`` -- a tmpfs file: its dentry (reclaimable slab) and shmem inode
  (*unmovable* slab in 6.12), page-cache pages and the xarray nodes that index
  them (reclaimable slab); ``unlink`` frees them all.
* ``dir`` -- a directory: per entry a dentry, and for files and subdirectories
  a shmem inode (a hard link shares its target's), plus the maple nodes of the
  directory's offset map (unmovable, never shrunk); deleting an entry frees
  its dentry, and the inode with its last name.
* ``pipe`` -- the pipe's inode, dentry and two struct files, its ring (a
  kmalloc cache, or a kmalloc_large block for big rings), then the buffer
  pages written (unmovable); closing the write end frees one struct file.
* ``child`` -- clone + execve of a fragger binary (task_struct, kernel stack,
  mm_struct, page tables, exec pages), then P leaf page tables and P touched
  pages.

A round's fill -- the schedule's draws and every chunk's work -- and the directory
deletions of the free phase are compiled (``_process.pyx``): one call per round, and
Python only to open, close and fork an item.

Honest limits: the exec of a child is an average of the real one (fixed
page-table and page counts); pipes and children are never freed (fragger keeps
them to the end).
"""
from __future__ import annotations

import gc

from ...kernel import page_alloc
from .items import WINDOW, FraggerItem
from .kernel_side import FraggerKernel
from .rng import Stream, free_decision
# compiled: workloads/fragger/_process.pyx, the loops per round, per page and per
# directory entry (the pextlab package checks that it is built)
from ._process import delete_dir, fill_round, touch_child

__all__ = ["ItemState", "FraggerProcess"]

#: simulated time one freed anon/file item costs (munmap / unlink)
FREE_ITEM_NS = 50_000


class ItemState:
    """Kernel objects one item (or one process image) holds."""
    __slots__ = ("slots", "pages", "va", "objs", "inode", "dentry", "xa", "dentries", "inodes",
                 "maple", "nlink", "ring", "pt", "wfile")

    def __init__(self):
        self.slots: list[int] = []   # LRU pages: their slots (FraggerKernel.map_page)
        self.pages: list[int] = []   # pipe buffer pages (pfns)
        self.va = 0
        self.objs: list = []         # (cache, slab) pairs freed with the item
        self.inode = None
        self.dentry = None
        self.xa: list = []
        # dir, per entry: its dentry's slab, its inode's slab (None for a hard link); two
        # flat lists, not a tuple per entry: 100 k entries that the GC need not track
        self.dentries: list = []
        self.inodes: list = []
        self.maple: list = []
        self.nlink: list[int] = []
        self.ring = -1               # kmalloc_large ring block
        self.pt: list = []           # (kind, pfn) of page tables and kernel stacks
        self.wfile = None


class FraggerProcess:
    """The fragger process (``comm`` fragger, ``pid``) and the children it forks."""

    def __init__(self, k: FraggerKernel, seed: int, pid: int):
        self.k = k
        self.seed = seed
        self.pid = pid
        self.next_pid = pid + 1
        self.image = ItemState()         # what fragger's own clone + execve left allocated

    def exec_self(self) -> None:
        """clone + execve of fragger itself."""
        self._exec_process(self.pid, self.image)

    def _exec_process(self, pid: int, st: ItemState) -> None:
        """clone + execve of a fragger binary: what stays allocated for the process."""
        k = self.k
        k.set_task("fragger", pid, pid)
        st.objs.append(("task_struct", k.obj("task_struct")))
        st.pt += [("kstack", k.alloc_page("kstack")) for _ in range(4)]
        st.objs.append(("mm_struct", k.obj("mm_struct")))
        for key in ("pgd", "pmd_relocate", "pte_relocate", "pud_gup"):
            st.pt.append((key, k.alloc_page(key)))
        k.map_page("argpage", st.slots)
        for key, n in (("pud", 2), ("pmd", 2), ("pte_do_fault", 2), ("pte", 3)):
            st.pt += [(key, k.alloc_page(key)) for _ in range(n)]
        for _ in range(5):
            k.map_page("anon_cow", st.slots)
        st.objs += [("vm_area_struct", k.obj("vm_area_struct")) for _ in range(3)]

    # --- fill ------------------------------------------------------------------------------------
    def open(self, it: FraggerItem) -> None:
        """Create the item (mmap, creat, mkdir, pipe2 + F_SETPIPE_SZ)."""
        k = self.k
        st = it.state = ItemState()
        k.set_task("fragger", self.pid, self.pid)
        kind = it.kind
        if kind == "anon":
            st.va = k.mmap(it.size)
            st.objs.append(("vm_area_struct", k.obj("vm_area_struct")))
        elif kind == "file":
            st.dentry = k.obj("dentry_open")
            st.inode = k.obj("shmem_inode_cache")
        elif kind == "dir":
            st.dentry = k.obj("dentry")
            st.inode = k.obj("shmem_inode_cache")
            st.maple.append(k.obj("maple_node"))
        elif kind == "pipe":
            st.objs.append(("inode_cache", k.obj("inode_cache")))
            st.objs.append(("dentry_pseudo", k.obj("dentry_pseudo")))
            st.objs.append(("filp", k.obj("filp")))
            st.wfile = k.obj("filp")
            ring = 40 * it.size
            if ring <= 8192:
                c = "kmalloc-1k" if ring <= 1024 else "kmalloc-2k" if ring <= 2048 else \
                    "kmalloc-4k" if ring <= 4096 else "kmalloc-8k"
                st.objs.append((c, k.obj(c)))
            else:
                st.ring = k.alloc_page("kmalloc_large", page_alloc.get_order(ring))

    def close(self, it: FraggerItem) -> None:
        """The item is complete: a pipe's write end is closed."""
        if it.kind == "pipe":
            k = self.k
            k.set_task("fragger", self.pid, self.pid)
            st = it.state
            k.unobj("filp", st.wfile)
            st.wfile = None

    def fill(self, items: list[FraggerItem], sch: Stream, rnd: int, step_ns: int,
             steps: list) -> None:
        """fragger.c fill: the interleaved work of one round's ``items`` (the order of
        :func:`.items.schedule` over ``sch``), each chunk ``step_ns`` of simulated time
        and a (round, item, amount) row of ``steps``.  Chunks of pages and entries run
        compiled (``_process.fill_round``); it calls :meth:`open`, :meth:`close` and
        :meth:`child` back.

        Python's cyclic collector is paused meanwhile: the fill makes no reference
        cycles, but its ~200 k allocations (the kernel's per-call tuples, the items'
        growing lists of slots and slabs) trigger a young-generation pass every 700,
        which walks those lists again each time -- a third of the fill's time on
        frag-s1.  Nothing the simulation computes depends on when it collects."""
        paused = gc.isenabled()
        gc.disable()
        try:
            fill_round(self, items, sch, rnd, step_ns, steps, WINDOW)
        finally:
            if paused:
                gc.enable()

    def child(self, it: FraggerItem) -> None:
        """A child item's whole work: clone + execve, then one byte per 2 MiB region."""
        k = self.k
        pid = self.next_pid
        self.next_pid += 1
        it.pid = pid
        st = it.state
        self._exec_process(pid, st)
        k.set_task("fragchild", pid, pid)
        st.objs.append(("vm_area_struct", k.obj("vm_area_struct")))
        touch_child(k, it.size, st.pt, st.slots)     # one byte per 2 MiB: a pte page + a page
        k.set_task("fragger", self.pid, self.pid)

    # --- free ------------------------------------------------------------------------------------
    def free_round(self, items: list[FraggerItem], rnd: int) -> None:
        """fragger.c free_phase of round ``rnd``: munmap / unlink the chosen items, delete
        the chosen directory entries."""
        seed = self.seed
        k = self.k
        mm = k.mm
        k.set_task("fragger", self.pid, self.pid)
        for it in items:
            st = it.state
            if it.kind in ("anon", "file"):
                if it.freed or not free_decision(seed, rnd, it.kind, it.id):
                    continue
                mm.clock_ns += FREE_ITEM_NS
                if it.kind == "anon":
                    k.unmap_anon(st.va, st.slots)
                    for c, s in st.objs:
                        k.unobj(c, s)
                    st.objs = []
                else:
                    k.unmap_pages("shmem", st.slots)
                    for s in st.xa:
                        k.unobj("radix_tree_node", s)
                    k.unobj("shmem_inode_cache", st.inode)
                    k.unobj("dentry_open", st.dentry)
                    st.xa = []
                it.freed = rnd
            elif it.kind == "dir":                       # an inode goes with its last name
                it.deleted += delete_dir(k, it, st, seed, rnd)
