"""``fragger``: the deterministic mixed workload of the frag-s1 captures, on the simulator.

The real workload is ``data/real-kernel/fragger.c`` (FRAG.md): it fills about
FILL % of RAM with interleaved *items* of five kinds, frees part of them, and
holds the rest while /init probes for 2 MiB huge pages before and after
``compact_memory``.  This module reproduces it on a simulated machine:

* **The same item list and schedule.**  The splitmix64 streams, size laws
  (log-uniform anon 16-2048 / file 4-1024 pages, pipes 16 << 0..4 pages,
  children P = 8..64, dirs of 64..512 entries with 30 % files / 60 % hard
  links / 10 % subdirs), the kind weights 17/30/31/12/10, the 6-item
  interleaving window with its chunk laws, the budget rule
  (``FILL% x MemTotal - used``, whole MiB) and the free decisions (a hash of
  seed, round, item, entry: anon/file freed with p = 1/2, dir entries with
  p = 0.3, pipes and children kept) are those of ``fragger.c``: seed 1 and
  the real budget give the real ``fragger_items.txt`` / ``fragger_steps.txt``
  (see :func:`generate_items`, :func:`schedule`).
* **The kernel-side allocations each kind causes**, with their gfp flags,
  orders and real 6.12 stacks (``data/stacks/catalogue.json``, or symbolic
  frames where the catalogue has none): anonymous pages and the page tables
  that map them; shmem page cache, its xarray nodes (reclaimable slab) and the
  file's shmem inode (*unmovable* slab in 6.12) and dentry (reclaimable slab);
  directory entries as dentries + shmem inodes + the directory's offset-map
  maple nodes (unmovable); pipe buffer pages (unmovable), the pipe's ring,
  inode, dentry and files; a child's kernel stack (vmalloc pages), task
  struct, exec page tables and pages, then its P leaf page tables and P
  touched pages.  Slab caches are modelled as slabs of ``objs`` objects of a
  given order: objects fill the newest partial slab, a slab is freed when its
  last object goes (SLUB discards empty slabs beyond ``min_partial``).
* **Phases with snapshots**: ``before_fill``, then per round ``after_fill``
  and ``after_free`` (earlier rounds ``.rN``) as /init takes them; with
  ``probe=True`` also the huge-page probe of /init (``after_probe1``,
  ``after_release``, ``after_compact``, ``after_probe2``) through the
  machine's ``set_nr_hugepages`` and ``compact_memory``.

>>> import pextlab
>>> from pextlab.workloads.fragger import generate_items
>>> items, _ = generate_items(seed=1, budget=182016)
>>> len(items), items[0].kind, items[0].size
(1163, 'file', 49)

Honest limits: per-cpu page lists, kswapd and reclaim come from the kernel
model (not here); slab object sizes are fixed per cache (``SLAB_CACHES``), the
exec of a child is an average of the real one (fixed page-table and page
counts), and maple nodes of directory offset maps are never shrunk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import PextlabError
from ..kernel import page_alloc
from .catalogue import load_catalogue

__all__ = ["Fragger", "FraggerRun", "FraggerItem", "fragger", "generate_items", "schedule",
           "free_decision", "hash01", "splitmix64", "KINDS", "KIND_WEIGHTS", "WINDOW",
           "SLAB_CACHES", "read_items", "read_steps", "hugepage_target", "PROBE_PHASES",
           "frag_metrics", "frag_table", "frag_study", "boot_for_study",
           "blocks_with_unmovable"]

MASK64 = (1 << 64) - 1
KINDS = ("anon", "file", "dir", "pipe", "child")
KIND_WEIGHTS = (17, 30, 31, 12, 10)
WINDOW = 6
MAXITEMS = 20000
EST_DIR_FILE, EST_DIR_LINK, EST_DIR_SUBDIR, EST_CHILD_FIXED = 0.25, 0.05, 0.30, 12
_GOLDEN = 0x9E3779B97F4A7C15
#: the probe of /init (FRAG.md): phase names of its snapshots, in order
PROBE_PHASES = ("after_probe1", "after_release", "after_compact", "after_probe2")

_alloc = page_alloc.__alloc_pages
_free = page_alloc.free_pages


# --- the random streams of fragger.c --------------------------------------------------------------

def splitmix64(state: int) -> tuple[int, int]:
    """One splitmix64 step: (new state, output)."""
    state = (state + _GOLDEN) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


class _Stream:
    """A splitmix64 stream with fragger.c's u01 / uniform / loguniform draws."""
    __slots__ = ("s",)

    def __init__(self, s: int):
        self.s = s & MASK64

    def next(self) -> int:
        self.s, z = splitmix64(self.s)
        return z

    def u01(self) -> float:
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)

    def uniform(self, a: int, b: int) -> int:
        return a + self.next() % (b - a + 1)

    def loguniform(self, a: int, b: int) -> int:
        u = self.u01()
        v = int(math.floor(math.exp(math.log(a) + u * (math.log(b + 1) - math.log(a)))))
        return a if v < a else b if v > b else v


def hash01(seed: int, salt: int, item: int, sub: int) -> float:
    """fragger.c hash01: the independent per-(round, item, entry) decision in [0, 1)."""
    s = (seed ^ (salt * 0xD1B54A32D192ED03) ^ (item * _GOLDEN) ^ (sub * 0xFF51AFD7ED558CCD)) & MASK64
    s, _ = splitmix64(s)
    s, z = splitmix64(s)
    return (z >> 11) * (1.0 / 9007199254740992.0)


def free_decision(seed: int, rnd: int, kind: str, item: int, entry: int = 0) -> bool:
    """Is this anon/file item (or dir entry) freed in round ``rnd``?"""
    salt = 16 * (rnd - 1)
    if kind in ("anon", "file"):
        return hash01(seed, 1 + salt, item, 0) < 0.5
    if kind == "dir":
        return hash01(seed, 2 + salt, item, entry) < 0.3
    return False


@dataclass(eq=False)
class FraggerItem:
    """One item of the list (a row of fragger_items.txt)."""
    id: int
    kind: str
    size: int                 # pages (anon/file/pipe), entries (dir), P (child)
    est: int
    round: int = 1
    etype: bytes = b""        # dir: per entry 0 = file, 1 = link, 2 = subdir
    elink: tuple = ()         # dir: link target entry (-1 otherwise)
    nfiles: int = 0
    nlinks: int = 0
    nsubdirs: int = 0
    done: int = 0
    nchunks: int = 0
    first_step: int = -1
    last_step: int = -1
    freed: int = 0            # anon/file: round freed, 0 = held
    deleted: int = 0          # dir: entries deleted
    edel: bytearray = field(default_factory=bytearray)
    pid: int = 0
    state: object = None      # the kernel-side objects (simulator only)


def generate_items(seed: int, budget: int, stream: _Stream | None = None, first_id: int = 0,
                   rnd: int = 1) -> tuple[list[FraggerItem], _Stream]:
    """Items until their estimated pages reach ``budget`` (fragger.c gen_items).

    Returns the items and the generation stream (continue it for the next round).
    """
    g = stream if stream is not None else _Stream(seed ^ 0x67656E0000000000)
    wsum = sum(KIND_WEIGHTS)
    items: list[FraggerItem] = []
    total = 0
    nid = first_id
    while total < budget and nid < MAXITEMS:
        r = g.uniform(0, wsum - 1)
        k = 0
        while k < len(KINDS) - 1 and r >= KIND_WEIGHTS[k]:
            r -= KIND_WEIGHTS[k]
            k += 1
        kind = KINDS[k]
        if kind == "anon":
            size = g.loguniform(16, 2048)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "file":
            size = g.loguniform(4, 1024)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "pipe":
            size = 16 << g.uniform(0, 4)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "child":
            size = g.uniform(8, 64)
            it = FraggerItem(nid, kind, size, 2 * size + EST_CHILD_FIXED, rnd)
        else:
            n = g.uniform(64, 512)
            et = bytearray(n)
            el = [-1] * n
            files: list[int] = []
            e = 0.0
            nf = nl = nd = 0
            for i in range(n):
                x = g.u01()
                t = 0 if x < 0.30 else 1 if x < 0.90 else 2
                if t == 1:
                    if not files:
                        t = 0
                    else:
                        el[i] = files[g.uniform(0, len(files) - 1)]
                et[i] = t
                if t == 0:
                    files.append(i)
                    nf += 1
                    e += EST_DIR_FILE
                elif t == 1:
                    nl += 1
                    e += EST_DIR_LINK
                else:
                    nd += 1
                    e += EST_DIR_SUBDIR
            it = FraggerItem(nid, kind, n, int(math.ceil(e)), rnd, bytes(et), tuple(el), nf, nl, nd,
                             edel=bytearray(n))
        total += it.est
        items.append(it)
        nid += 1
    return items, g


def _chunk(stream: _Stream, it: FraggerItem) -> int:
    left = it.size - it.done
    if it.kind in ("anon", "file"):
        n = stream.uniform(1, 64)
    elif it.kind == "pipe":
        n = stream.uniform(1, 16)
    elif it.kind == "dir":
        n = stream.uniform(8, 64)
    else:
        return left
    return n if n < left else left


def schedule(items: list[FraggerItem], stream: _Stream, window: int = WINDOW):
    """Yield (item, amount) in fragger.c's interleaved order; updates item.done.

    ``stream`` is the schedule stream (``seed ^ 0x7363680000000000`` at the first
    round, continued across rounds).  The caller does the work of each chunk.
    """
    win: list[FraggerItem] = []
    nxt = 0
    while len(win) < window and nxt < len(items):
        win.append(items[nxt])
        nxt += 1
        yield win[-1], 0           # "open" (amount 0 is never a step)
    while win:
        w = stream.uniform(0, len(win) - 1)
        it = win[w]
        n = _chunk(stream, it)
        yield it, n
        it.done += n
        if it.done >= it.size:
            yield it, -1           # "close"
            if nxt < len(items):
                win[w] = items[nxt]
                nxt += 1
                yield win[w], 0
            else:
                win[w] = win[-1]
                win.pop()


# --- reading the real logs ------------------------------------------------------------------------

def read_items(path) -> pd.DataFrame:
    """``fragger_items.txt`` (tab separated) as a DataFrame."""
    return pd.read_csv(path, sep="\t")


def read_steps(path) -> pd.DataFrame:
    """``fragger_steps.txt`` as a DataFrame (step, round, item, kind, amount)."""
    return pd.read_csv(path, sep="\t")


def hugepage_target(memtotal_kb: int, pct: int = 30) -> int:
    """/init's probe target: MemTotal x 30 % / 2 MiB (147 on 1 GiB)."""
    return memtotal_kb * pct // 100 // 2048


# --- the kernel side --------------------------------------------------------------------------------

_SLAB_FREE = ("__free_pages", "__free_slab", "discard_slab", "__slab_free", "kmem_cache_free")


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
#: The caches fragger's kinds allocate from (6.12 on x86_64; object counts from
#: the object sizes, orders and gfp flags as the frag-s1 page_owner dump shows them).
SLAB_CACHES = {
    # shmem_inode_cache: SLAB_ACCOUNT only, so *unmovable*; ~770-byte objects in order-2 slabs
    "shmem_inode_cache": CacheSpec("shmem_inode_cache", 21, 2, _SLAB_GFP_HI, "slab-0"),
    # dentry: reclaimable, 192 bytes, order 0
    "dentry": CacheSpec("dentry", 21, 0,
                        "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_RECLAIMABLE",
                        "slab_reclaimable-0"),
    "dentry_open": CacheSpec("dentry", 21, 0,
                             "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_RECLAIMABLE",
                             "slab_reclaimable-1"),
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
    "dentry_pseudo": CacheSpec("dentry", 21, 0,
                               "GFP_KERNEL|__GFP_NOWARN|__GFP_NORETRY|__GFP_COMP|__GFP_RECLAIMABLE",
                               "slab_reclaimable-9"),
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
    "kmalloc-1k": CacheSpec("kmalloc-1k", 32, 3, _SLAB_GFP_HI, "",
                            _slab_frames("__kmalloc_noprof", "pipe_resize_ring", "pipe_fcntl",
                                         "__x64_sys_fcntl", "do_syscall_64")),
    "kmalloc-2k": CacheSpec("kmalloc-2k", 16, 3, _SLAB_GFP_HI, "",
                            _slab_frames("__kmalloc_noprof", "pipe_resize_ring", "pipe_fcntl",
                                         "__x64_sys_fcntl", "do_syscall_64")),
    "kmalloc-4k": CacheSpec("kmalloc-4k", 8, 3, _SLAB_GFP_HI, "",
                            _slab_frames("__kmalloc_noprof", "pipe_resize_ring", "pipe_fcntl",
                                         "__x64_sys_fcntl", "do_syscall_64")),
    "kmalloc-8k": CacheSpec("kmalloc-8k", 4, 3, _SLAB_GFP_HI, "",
                            _slab_frames("__kmalloc_noprof", "pipe_resize_ring", "pipe_fcntl",
                                         "__x64_sys_fcntl", "do_syscall_64")),
}

#: page allocations that are not slab: (catalogue id or "", gfp, order, symbolic frames)
PAGE_KINDS = {
    "anon": ("anon-0", "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO", 0),
    "anon_cow": ("anon-2", "GFP_HIGHUSER_MOVABLE|__GFP_COMP", 0),
    "argpage": ("populate-1", "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO", 0),
    "shmem": ("page_cache-0", "GFP_HIGHUSER_MOVABLE|__GFP_COMP", 0),
    "pipe": ("pipe-0", "GFP_HIGHUSER|__GFP_ACCOUNT", 0),
    "pte": ("page_tables-0", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pte_do_fault": ("page_tables-4", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pte_relocate": ("page_tables-8", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pmd": ("page_tables-1", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pmd_relocate": ("page_tables-9", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pud": ("page_tables-3", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pud_gup": ("page_tables-6", "GFP_KERNEL_ACCOUNT|__GFP_COMP|__GFP_ZERO", 0),
    "pgd": ("page_tables-7", "GFP_KERNEL_ACCOUNT|__GFP_ZERO", 0),
    "kstack": ("kernel_stack-0", "GFP_KERNEL|__GFP_HIGHMEM|__GFP_NOWARN|__GFP_ZERO", 0),
    "kmalloc_large": ("kmalloc_large-0", "GFP_KERNEL_ACCOUNT|__GFP_NOWARN|__GFP_COMP|__GFP_ZERO", 2),
}
_FREE_KIND = {"anon": "anon", "anon_cow": "anon", "argpage": "anon", "shmem": "page_cache",
              "pipe": "pipe", "kstack": "kernel_stack", "kmalloc_large": "kmalloc_large"}


class _Slab:
    __slots__ = ("pfn", "inuse", "spec_key")

    def __init__(self, pfn, spec_key):
        self.pfn = pfn
        self.inuse = 0
        self.spec_key = spec_key


class _Cache:
    """A kmem cache: slabs of ``objs`` objects; the newest partial slab is filled first."""

    def __init__(self, kern, key: str, spec: CacheSpec):
        self.kern = kern
        self.key = key
        self.spec = spec
        self.partial: list[_Slab] = []      # slabs with free objects (last = current)
        self.nr_slabs = 0
        self.nr_objs = 0
        self.empty: list[_Slab] = []        # empty slabs kept (min_partial)
        self.min_partial = 5

    def alloc(self):
        if self.partial:
            s = self.partial[-1]
        elif self.empty:
            s = self.empty.pop()
            self.partial.append(s)
        else:
            pfn = self.kern.alloc_page(self.key, self.spec.order, slab=True)
            if pfn < 0:
                return None
            s = _Slab(pfn, self.key)
            self.nr_slabs += 1
            self.partial.append(s)
        s.inuse += 1
        self.nr_objs += 1
        if s.inuse >= self.spec.objs:
            self.partial.pop()
        return s

    def free(self, s: _Slab | None) -> None:
        if s is None:
            return
        full = s.inuse >= self.spec.objs
        s.inuse -= 1
        self.nr_objs -= 1
        if full:
            self.partial.insert(0, s)           # put_cpu_partial / add_partial at the tail
        if s.inuse == 0:
            self.partial.remove(s)
            if len(self.empty) < self.min_partial:
                self.empty.append(s)
            else:
                self.nr_slabs -= 1
                self.kern.free_page(self.key, s.pfn, self.spec.order, slab=True)


class _Kernel:
    """What the workload's system calls allocate, on one simulated machine."""

    def __init__(self, machine, comm: str = "fragger", pid: int = 199):
        self.m = machine
        self.mm = machine.mm
        mm = self.mm
        self.po = mm.page_owner
        self.cat = load_catalogue()
        self._slots: dict = {}
        self.caches = {k: _Cache(self, k, s) for k, s in SLAB_CACHES.items()}
        self.failed = 0
        self.counts: dict[str, int] = {}
        self.comm, self.pid = comm, pid
        self.set_task(comm, pid, pid)
        # top-down virtual address allocator of the fragger process (in pages)
        self.next_va = 0x7F0000000000 >> 12
        self.pte_ref: dict[int, int] = {}       # 2 MiB region -> mapped pages
        self.pte_pfn: dict[int, int] = {}
        self.pmd_ref: dict[int, int] = {}       # 1 GiB region -> pte pages
        self.pmd_pfn: dict[int, int] = {}

    # --- context -----------------------------------------------------------------------------
    def set_task(self, comm: str, pid: int, tgid: int) -> None:
        mm = self.mm
        mm.comm, mm.pid, mm.tgid = comm, pid, tgid
        mm.comm_id = self.po.records.comm_id(comm) if self.po is not None else 0

    def _gfp(self, text: str) -> int:
        mm = self.mm
        v = 0
        for part in text.split("|"):
            try:
                v |= mm.gfp(part)
            except PextlabError:
                pass                              # a flag this profile does not have
        return v

    def slot(self, key: str, slab: bool):
        s = self._slots.get(key)
        if s is None:
            if slab:
                spec = SLAB_CACHES[key]
                sid, gfp, order, frames = spec.stack, spec.gfp, spec.order, spec.frames
                free_kind = ("slab_reclaimable" if "RECLAIMABLE" in gfp else "slab")
            else:
                sid, gfp, order = PAGE_KINDS[key]
                frames = ()
                free_kind = _FREE_KIND.get(key, "page_tables")
            if sid:
                frames = self.cat[sid].frames
            handle = fhandle = 0
            if self.po is not None:
                handle = self.po.depot.stack_depot_save(frames)
                fr = self.cat.free_stacks.get(free_kind, self.cat.free_stacks["other"])
                fhandle = self.po.depot.stack_depot_save(fr)
            s = self._slots[key] = (self._gfp(gfp), order, handle, fhandle)
        return s

    # --- pages ---------------------------------------------------------------------------------
    def alloc_page(self, key: str, order: int | None = None, slab: bool = False) -> int:
        gfp, o, handle, _ = self.slot(key, slab)
        mm = self.mm
        mm.current_handle = handle
        pfn = _alloc(mm, gfp, o if order is None else order, None)
        if pfn < 0:
            self.failed += 1
        else:
            self.counts[key] = self.counts.get(key, 0) + (1 << o)
        return pfn

    def free_page(self, key: str, pfn: int, order: int | None = None, slab: bool = False) -> None:
        if pfn < 0:
            return
        gfp, o, _, fhandle = self.slot(key, slab)
        self.mm.current_handle = fhandle
        _free(self.mm, pfn, o)
        self.counts[key] = self.counts.get(key, 0) - (1 << o)

    def obj(self, cache: str):
        return self.caches[cache].alloc()

    def unobj(self, cache: str, s) -> None:
        self.caches[cache].free(s)

    # --- the fragger process's own anonymous mappings ------------------------------------------
    def mmap(self, npages: int) -> int:
        self.next_va -= npages + 1                # a guard gap between mappings
        return self.next_va

    def touch_anon(self, va: int) -> int:
        """Fault one anonymous page in: page tables first, then the zeroed page."""
        r = va >> 9
        if r not in self.pte_pfn:
            g = r >> 9
            if g not in self.pmd_pfn:
                self.pmd_pfn[g] = self.alloc_page("pmd")
                self.pmd_ref[g] = 0
            self.pmd_ref[g] += 1
            self.pte_pfn[r] = self.alloc_page("pte")
            self.pte_ref[r] = 0
        self.pte_ref[r] += 1
        return self.alloc_page("anon")

    def unmap_anon(self, va: int, pfn: int) -> None:
        self.free_page("anon", pfn)
        r = va >> 9
        self.pte_ref[r] -= 1
        if not self.pte_ref[r]:                  # free_pgtables: the range has no VMA left
            self.free_page("pte", self.pte_pfn.pop(r))
            del self.pte_ref[r]
            g = r >> 9
            self.pmd_ref[g] -= 1
            if not self.pmd_ref[g]:
                self.free_page("pmd", self.pmd_pfn.pop(g))
                del self.pmd_ref[g]


class _ItemState:
    """Kernel objects one item holds."""
    __slots__ = ("pages", "va", "objs", "inode", "dentry", "xa", "entries", "maple", "nlink",
                 "ring", "kstack", "pt", "wfile")

    def __init__(self):
        self.pages: list[int] = []
        self.va = 0
        self.objs: list = []      # (cache, slab) pairs freed with the item
        self.inode = None
        self.dentry = None
        self.xa: list = []
        self.entries: list = []   # dir: per entry (dentry slab, inode slab or None)
        self.maple: list = []
        self.nlink: list[int] = []
        self.ring = None
        self.kstack: list[int] = []
        self.pt: list = []
        self.wfile = None


# --- the workload -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fragger:
    """The fragger workload (build it with :func:`fragger`; run it with ``Machine.run``)."""
    seed: int = 1
    fill: float = 0.75
    rounds: int = 1
    budget: int | None = None
    probe: bool = False
    probe_max: bool = False
    snapshots: object = True          # True, False, or a tuple of phase names to take
    step_ns: int = 669_000
    pid: int = 199
    hugepage_pct: int = 30

    @property
    def fill_pct(self) -> int:
        f = self.fill * 100 if self.fill <= 1 else self.fill
        return int(round(f))

    def to_dict(self) -> dict:
        return {"kind": "fragger", "seed": self.seed, "fill": self.fill, "rounds": self.rounds,
                "budget": self.budget, "probe": self.probe}

    def run_on(self, machine, snapshot=None) -> "FraggerRun":
        """Run every phase on ``machine``; ``snapshot(name)`` is called after each."""
        r = FraggerRun(self, machine)
        r.execute(snapshot)
        return r


def fragger(seed: int = 1, fill: float = 0.75, rounds: int = 1, budget: int | None = None,
            probe: bool = False, probe_max: bool = False, snapshots=True,
            hugepage_pct: int = 30) -> Fragger:
    """The frag-s1 workload (``fragger -s SEED -f FILL -r ROUNDS [-b BUDGET]``).

    Parameters
    ----------
    seed : int
        splitmix64 seed: the item list, the interleaving and the free choices.
    fill : float
        Fill target as a fraction (0.75) or percent (75) of MemTotal.
    rounds : int
        Fill + free rounds; each round tops memory up to ``fill`` again.
    budget : int, optional
        Pages per round instead of the ``fill`` rule (fragger's ``-b``).
    probe : bool
        Also run /init's huge-page probe: ``nr_hugepages = T`` (snapshot
        ``after_probe1``), ``0`` (``after_release``), ``compact_memory``
        (``after_compact``), ``T`` again (``after_probe2``), T = 30 % of
        MemTotal in 2 MiB pages.  Needs ``Machine.set_nr_hugepages`` and
        ``Machine.compact_memory``.
    probe_max : bool
        /init's extra step: release, then ask for (MemFree - 32 MiB) / 2 MiB
        (``after_probe_max``).
    snapshots : bool or sequence of str
        Take the phase snapshots into ``machine.snapshots`` (all, none, or
        only the named phases: each costs a copy of the machine).
    """
    if int(rounds) < 1:
        raise PextlabError("fragger: rounds must be >= 1")
    f = fill * 100 if fill <= 1 else fill
    if not 0 < f <= 100:
        raise PextlabError(f"fragger: fill must be in (0, 1] or (0, 100], got {fill!r}")
    if budget is not None and int(budget) < 0:
        raise PextlabError("fragger: budget must be >= 0 pages")
    return Fragger(seed=int(seed), fill=fill, rounds=int(rounds),
                   budget=None if budget is None else int(budget), probe=bool(probe),
                   probe_max=bool(probe_max),
                   snapshots=snapshots if isinstance(snapshots, bool) else tuple(snapshots),
                   hugepage_pct=int(hugepage_pct))


def _meminfo_kb(mm) -> tuple[int, int]:
    total = mm.totalram_pages * 4
    free = sum(z.free_pages for z in mm.populated_zones()) * 4
    return total, free


class FraggerRun:
    """One fragger run on a machine: the items, steps, summaries and probe results."""

    def __init__(self, wl: Fragger, machine):
        self.wl = wl
        self.m = machine
        self.items: list[FraggerItem] = []
        self.steps: list[tuple[int, int, int]] = []     # (round, item, amount)
        self.budgets: list[int] = []
        self.summaries: dict[str, pd.DataFrame] = {}
        self.probe: dict = {}
        self.phase_seconds: dict[str, float] = {}
        self.kern: _Kernel | None = None

    def __repr__(self):
        return (f"<FraggerRun seed={self.wl.seed} items={len(self.items)} steps={len(self.steps)} "
                f"budget={self.budgets}>")

    # --- phases -----------------------------------------------------------------------------
    def execute(self, snapshot=None) -> None:
        import time
        wl, m = self.wl, self.m
        mm = m.mm
        which = wl.snapshots

        def snap(name, **kw):
            if snapshot is None or not which:
                return
            if which is True or name in which:
                snapshot(name, **kw)

        def sleep(seconds: int) -> None:
            # /init sleeps 3 s before each snapshot; the kernel keeps working meanwhile
            # (kswapd drops watermark boosts, proactive compaction runs every 500 ms)
            if hasattr(m, "idle"):
                m.idle(seconds)
            else:
                mm.clock_ns += seconds * 1_000_000_000
        sleep(3)
        snap("before_fill", fragger=self)
        self.kern = k = _Kernel(m, pid=wl.pid)
        self._next_pid = wl.pid + 1
        self._exec_process(k, "fragger", wl.pid, child=False)
        gen = None
        sch = _Stream(wl.seed ^ 0x7363680000000000)
        for rnd in range(1, wl.rounds + 1):
            t0 = time.perf_counter()
            total, free = _meminfo_kb(mm)
            if wl.budget is not None:
                budget = wl.budget
            else:
                want = wl.fill_pct * total // 100 - (total - free)
                budget = (want // 1024) * 256 if want > 0 else 0
            self.budgets.append(budget)
            new, gen = generate_items(wl.seed, budget, gen, first_id=len(self.items), rnd=rnd)
            self.items.extend(new)
            self._fill(k, new, sch, rnd)
            self.summaries[f"fill.r{rnd}"] = self.summary()
            self.phase_seconds[f"fill.r{rnd}"] = time.perf_counter() - t0
            sleep(3)
            snap("after_fill" if rnd == wl.rounds else f"after_fill.r{rnd}", fragger=self)
            t0 = time.perf_counter()
            self._free(k, rnd)
            self.summaries[f"free.r{rnd}"] = self.summary()
            self.phase_seconds[f"free.r{rnd}"] = time.perf_counter() - t0
            sleep(3)
            snap("after_free" if rnd == wl.rounds else f"after_free.r{rnd}", fragger=self)
        if wl.probe or wl.probe_max:
            self._probe(snap)

    def _probe(self, snap) -> None:
        import time
        m = self.m
        need = [n for n in ("set_nr_hugepages", "compact_memory") if not hasattr(m, n)]
        if need:
            raise PextlabError(f"fragger probe needs Machine.{' and Machine.'.join(need)} "
                               f"(the compaction/hugetlb model)")
        total, _ = _meminfo_kb(m.mm)
        t = hugepage_target(total, self.wl.hugepage_pct)
        self.probe["target"] = t
        # /init dumps page_owner.after_free before the probe: 10.6 s of guest time in
        # frag-s1 (MANIFEST.tsv 19.04 -> 29.69 s) in which kswapd and proactive
        # compaction keep working
        if hasattr(m, "idle"):
            m.idle(10)
        if self.wl.probe:
            for name, action in (("probe1", lambda: m.set_nr_hugepages(t)),
                                 ("release", lambda: m.set_nr_hugepages(0)),
                                 ("compact", lambda: m.compact_memory()),
                                 ("probe2", lambda: m.set_nr_hugepages(t))):
                t0 = time.perf_counter()
                res = action()
                self.phase_seconds[name] = time.perf_counter() - t0
                got = _nr_hugepages(m)
                self.probe[name] = got
                self.probe[name + "_result"] = res
                # kcompactd, woken by the allocations' direct compaction, works while
                # /init reads the pool size back and takes the snapshot
                if hasattr(m, "idle"):
                    m.idle(1)
                else:
                    m.mm.clock_ns += 1_000_000_000
                snap(f"after_{name}", fragger=self)
        if self.wl.probe_max:
            m.set_nr_hugepages(0)
            _, free = _meminfo_kb(m.mm)
            want = max(0, (free - 32 * 1024) // 2048)
            m.set_nr_hugepages(want)
            self.probe["probe_max_target"] = want
            self.probe["probe_max"] = _nr_hugepages(m)
            snap("after_probe_max", fragger=self)

    # --- fill ------------------------------------------------------------------------------------
    def _fill(self, k: _Kernel, items: list[FraggerItem], sch: _Stream, rnd: int) -> None:
        mm = self.m.mm
        step_ns = self.wl.step_ns
        steps = self.steps
        for it, n in schedule(items, sch):
            if n == 0:
                self._open(k, it)
                continue
            if n < 0:
                self._close(k, it)
                continue
            if it.first_step < 0:
                it.first_step = len(steps)
            it.last_step = len(steps)
            it.nchunks += 1
            mm.clock_ns += step_ns
            self._work(k, it, n)
            steps.append((rnd, it.id, n))

    def _open(self, k: _Kernel, it: FraggerItem) -> None:
        st = it.state = _ItemState()
        k.set_task("fragger", self.wl.pid, self.wl.pid)
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

    def _close(self, k: _Kernel, it: FraggerItem) -> None:
        if it.kind == "pipe":
            k.set_task("fragger", self.wl.pid, self.wl.pid)
            st = it.state
            k.unobj("filp", st.wfile)               # the write end is closed
            st.wfile = None

    def _work(self, k: _Kernel, it: FraggerItem, n: int) -> None:
        kind = it.kind
        st = it.state
        if kind == "child":
            self._child(k, it)
            return
        k.set_task("fragger", self.wl.pid, self.wl.pid)
        pages = st.pages
        if kind == "anon":
            va = st.va + it.done
            for i in range(n):
                pages.append(k.touch_anon(va + i))
        elif kind == "file":
            for i in range(it.done, it.done + n):
                if i % 64 == 0:                       # a new xarray leaf (and the root at 64)
                    st.xa.append(k.obj("radix_tree_node"))
                    if i == 64:
                        st.xa.append(k.obj("radix_tree_node"))
                pages.append(k.alloc_page("shmem"))
        elif kind == "pipe":
            for _ in range(n):
                pages.append(k.alloc_page("pipe"))
        elif kind == "dir":
            for e in range(it.done, it.done + n):
                t = it.etype[e]
                if t == 1:
                    d = k.obj("dentry")
                    st.entries.append((d, None))
                    st.nlink[it.elink[e]] += 1
                else:
                    d = k.obj("dentry_open" if t == 0 else "dentry")
                    ino = k.obj("shmem_inode_cache")
                    st.entries.append((d, ino))
                st.nlink.append(1)
                if (e + 1) % 14 == 0:                  # the offset map grows a maple node
                    st.maple.append(k.obj("maple_node"))

    def _exec_process(self, k: _Kernel, comm: str, pid: int, child: bool) -> list:
        """clone + execve of a fragger binary: what stays allocated for the process."""
        held = []
        k.set_task("fragger", pid, pid)
        held.append(("task_struct", k.obj("task_struct")))
        held += [("kstack", k.alloc_page("kstack")) for _ in range(4)]
        held.append(("mm_struct", k.obj("mm_struct")))
        held.append(("pgd", k.alloc_page("pgd")))
        held.append(("pmd_relocate", k.alloc_page("pmd_relocate")))
        held.append(("pte_relocate", k.alloc_page("pte_relocate")))
        held.append(("pud_gup", k.alloc_page("pud_gup")))
        held.append(("argpage", k.alloc_page("argpage")))
        for key, n in (("pud", 2), ("pmd", 2), ("pte_do_fault", 2), ("pte", 3), ("anon_cow", 5)):
            held += [(key, k.alloc_page(key)) for _ in range(n)]
        held += [("vm_area_struct", k.obj("vm_area_struct")) for _ in range(3)]
        return held

    def _child(self, k: _Kernel, it: FraggerItem) -> None:
        pid = self._next_pid
        self._next_pid += 1
        it.pid = pid
        st = it.state
        st.pt = self._exec_process(k, "fragger", pid, child=True)
        k.set_task("fragchild", pid, pid)
        st.objs.append(("vm_area_struct", k.obj("vm_area_struct")))
        for _ in range(it.size):                     # one byte per 2 MiB: a pte page + a page
            st.pt.append(("pte", k.alloc_page("pte")))
            st.pages.append(k.alloc_page("anon"))
        k.set_task("fragger", self.wl.pid, self.wl.pid)

    # --- free ------------------------------------------------------------------------------------
    def _free(self, k: _Kernel, rnd: int) -> None:
        seed = self.wl.seed
        mm = self.m.mm
        k.set_task("fragger", self.wl.pid, self.wl.pid)
        for it in self.items:
            st = it.state
            if it.kind in ("anon", "file"):
                if it.freed or not free_decision(seed, rnd, it.kind, it.id):
                    continue
                mm.clock_ns += 50_000
                if it.kind == "anon":
                    va = st.va
                    for i, pfn in enumerate(st.pages):
                        k.unmap_anon(va + i, pfn)
                    for c, s in st.objs:
                        k.unobj(c, s)
                    st.objs = []
                else:
                    for pfn in st.pages:
                        k.free_page("shmem", pfn)
                    for s in st.xa:
                        k.unobj("radix_tree_node", s)
                    k.unobj("shmem_inode_cache", st.inode)
                    k.unobj("dentry_open", st.dentry)
                    st.xa = []
                st.pages = []
                it.freed = rnd
            elif it.kind == "dir":
                salt = 2 + 16 * (rnd - 1)
                for e in range(it.size):
                    if it.edel[e] or hash01(seed, salt, it.id, e) >= 0.3:
                        continue
                    d, ino = st.entries[e]
                    t = it.etype[e]
                    k.unobj("dentry_open" if t == 0 else "dentry", d)
                    tgt = it.elink[e] if t == 1 else e
                    st.nlink[tgt] -= 1
                    if not st.nlink[tgt]:                # the inode goes with its last name
                        k.unobj("shmem_inode_cache", st.entries[tgt][1])
                    it.edel[e] = rnd
                    it.deleted += 1

    # --- frames ----------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """Per kind: items, pages, items held, pages held (fragger_summary's table)."""
        rows = []
        for kind in ("anon", "file", "pipe", "child", "dir"):
            its = [i for i in self.items if i.kind == kind]
            pages = [0 if kind == "dir" else i.done for i in its]
            held = [i for i, p in zip(its, pages) if not i.freed]
            rows.append({"kind": kind, "items": len(its), "pages": int(sum(pages)),
                         "items_held": len(held),
                         "pages_held": int(sum(0 if kind == "dir" else i.done for i in held)),
                         "entries": int(sum(i.size for i in its)) if kind == "dir" else 0,
                         "entries_deleted": int(sum(i.deleted for i in its)) if kind == "dir" else 0})
        return pd.DataFrame(rows)

    def df_items(self) -> pd.DataFrame:
        """One row per item, the columns of fragger_items.txt (without the guest details)."""
        unit = {"dir": "entries", "child": "pt_pages"}
        return pd.DataFrame({
            "id": [i.id for i in self.items], "round": [i.round for i in self.items],
            "kind": pd.Categorical([i.kind for i in self.items], categories=list(KINDS)),
            "size": [i.size for i in self.items],
            "unit": [unit.get(i.kind, "pages") for i in self.items],
            "est_pages": [i.est for i in self.items], "chunks": [i.nchunks for i in self.items],
            "first_step": [i.first_step for i in self.items],
            "last_step": [i.last_step for i in self.items],
            "freed_round": [i.freed for i in self.items],
            "deleted_entries": [i.deleted for i in self.items],
            "files": [i.nfiles for i in self.items], "links": [i.nlinks for i in self.items],
            "subdirs": [i.nsubdirs for i in self.items], "pid": [i.pid for i in self.items]})

    def df_steps(self) -> pd.DataFrame:
        """Every interleaving step (fragger_steps.txt): step, round, item, kind, amount."""
        a = np.array(self.steps, dtype=np.int64).reshape(-1, 3)
        kinds = np.array([KINDS.index(i.kind) for i in self.items] + [0], dtype=np.int64)
        return pd.DataFrame({"step": np.arange(len(a)), "round": a[:, 0], "item": a[:, 1],
                             "kind": pd.Categorical.from_codes(kinds[a[:, 1]] if len(a) else
                                                               np.zeros(0, np.int64), list(KINDS)),
                             "amount": a[:, 2]})

    def df_kernel(self) -> pd.DataFrame:
        """Pages the workload holds now per allocation kind (anon, shmem, pte, slab caches ...)."""
        k = self.kern
        rows = [{"what": key, "pages": v} for key, v in sorted(k.counts.items())] if k else []
        return pd.DataFrame(rows, columns=["what", "pages"])


def _nr_hugepages(m) -> int:
    for name in ("nr_hugepages",):
        v = getattr(m, name, None)
        if v is not None:
            return int(v() if callable(v) else v)
    h = getattr(m.mm, "hugetlb", None)
    if h is not None:
        for a in ("nr_huge_pages", "nr_hugepages"):
            if hasattr(h, a):
                return int(getattr(h, a))
    return -1


# --- per-phase figures, the same for a snapshot, a machine or a real capture -------------------------

def frag_metrics(src, zone: str | None = None, owners: bool = False) -> dict:
    """The FRAG.md per-phase figures of ``src`` (a Snapshot, Machine or Capture).

    Returns free pages on the buddy lists, free pages at order >= 9, pageblocks
    and mixed blocks per type (U/M/R), and unusable_index at order 9 of the
    largest zone (or ``zone``).  Totals are over all zones.  ``owners=True``
    adds :func:`blocks_with_unmovable` (needs page_owner).
    """
    bi = src.df_buddyinfo()
    order = bi["order"].to_numpy().astype(np.int64)
    pages = bi["nr_free"].to_numpy().astype(np.int64) << order
    pb = src.df_pageblocks()
    ex = src.df_extfrag()
    out = {"free_pages": int(pages.sum()), "free_pages_o9": int(pages[order >= 9].sum())}
    for mt, short in (("Unmovable", "U"), ("Movable", "M"), ("Reclaimable", "R")):
        sel = pb["migratetype"].astype(str) == mt
        out[f"blocks_{short}"] = int(pb.loc[sel, "nr_blocks"].sum())
        out[f"mixed_{short}"] = int(pb.loc[sel, "nr_mixed"].sum())
    out["mixed"] = out["mixed_U"] + out["mixed_M"] + out["mixed_R"]
    if zone is None:
        z = bi.assign(p=pages).groupby(bi["zone"].astype(str))["p"].sum()
        zone = str(z.idxmax()) if len(z) else "DMA32"
    e = ex[(ex["zone"].astype(str) == zone) & (ex["order"] == 9)]
    out["unusable_o9"] = float(e["unusable_index"].iloc[0]) if len(e) else float("nan")
    if owners:
        out["blocks_with_unmovable"] = blocks_with_unmovable(src)
    return out


def blocks_with_unmovable(src) -> float:
    """Pageblocks holding at least one allocated page whose gfp lacks __GFP_MOVABLE.

    These are the blocks compaction cannot empty (the cause of lost huge pages that
    Contiguitas measured).  Read from page_owner, so it does not depend on what the
    kernel *labelled* the pages: with grouping by mobility disabled page_owner
    still prints the gfp flags.  NaN without page_owner.
    """
    has = getattr(src, "has", None)
    if callable(has) and not has("page_owner"):
        return float("nan")
    mm = getattr(src, "mm", None)
    if mm is not None and getattr(mm, "page_owner", None) is None:
        return float("nan")
    po = src.df_page_owner()
    if not len(po):
        return float("nan")
    from ..kernel.profiles import get_profile
    prof = getattr(src, "profile", None) or get_profile("v6.12")
    mov = prof.gfp_bits["__GFP_MOVABLE"]
    sel = (po["gfp_mask"].to_numpy().astype(np.int64) & mov) == 0
    pb = po["pfn"].to_numpy()[sel] >> 9
    return float(len(np.unique(pb)))


def frag_table(sources: dict, owners: bool = False) -> pd.DataFrame:
    """One row per (name -> source) of :func:`frag_metrics`."""
    return pd.DataFrame([{"phase": k, **frag_metrics(v, owners=owners)} for k, v in sources.items()])


# --- a scenario for studies and sweeps -----------------------------------------------------------------

#: names users write for the policies of pextlab.kernel.policy
_POLICY_ALIASES = {"no-mobility-grouping": "no-grouping", "no-grouping": "no-mobility-grouping"}


def boot_for_study(mem="1G", policy: str | None = "v6.12", movable=None, cmdline: str = "page_owner=on",
                   seed: int = 0):
    """Boot a machine for a fragmentation study.

    ``policy`` is a fallback policy name of ``pextlab.kernel.policy`` (``"v6.12"``,
    ``"v3.19"``, ``"no-mobility-grouping"``, ...) passed to ``pextlab.boot``;
    when the policy model is not there, ``"v6.12"`` is the built-in allocator and
    ``"no-mobility-grouping"`` switches ``mm.mobility_grouping`` off (every
    allocation unmovable, every claim succeeds, as with
    ``page_group_by_mobility_disabled``).  ``movable`` adds ``movablecore=``
    (``True`` = 30 %, or a size/percentage string): a ZONE_MOVABLE.
    """
    import inspect as _inspect
    from ..machine import boot
    if movable:
        cmdline = f"{cmdline} movablecore={'30%' if movable is True else movable}".strip()
    kw = dict(mem=mem, cmdline=cmdline, seed=seed)
    if policy is not None and "policy" in _inspect.signature(boot).parameters:
        if isinstance(policy, str):
            from ..kernel import policy as _pol
            if policy not in _pol.POLICIES and policy in _POLICY_ALIASES:
                policy = _POLICY_ALIASES[policy]
        return boot(policy=policy, **kw)
    m = boot(**kw)
    if policy in (None, "v6.12"):
        return m
    if policy in ("no-mobility-grouping", "no-grouping"):
        m.mm.mobility_grouping = False
        m.mm._ac_cache.clear()
        return m
    raise PextlabError(f"policy {policy!r} needs the fallback policy model (pextlab.kernel.policy); "
                       f"this build knows 'v6.12' and 'no-mobility-grouping'")


def frag_study(seed: int = 1, policy: str = "v6.12", movable=False, mem="1G", fill: float = 0.75,
               rounds: int = 1, probe: bool = False, owners: bool = False,
               phases=None, compact: bool = False) -> pd.DataFrame:
    """Boot, run fragger, return :func:`frag_metrics` per phase snapshot (one row each).

    ``phases`` picks the snapshots (default: after_fill, after_free and, with
    ``probe``, the probe's); ``owners`` adds :func:`blocks_with_unmovable`;
    ``compact`` (without ``probe``) runs ``compact_memory`` after the free phase
    and adds an ``after_compact`` row -- the cheap way to ask how much compaction
    can recover.

    A ready-made function for :func:`pextlab.sweep`::

        pextlab.sweep(frag_study, grid={"seed": range(10), "policy": ["v6.12", "no-mobility-grouping"]})
    """
    m = boot_for_study(mem=mem, policy=policy, movable=movable)
    if phases is None:
        phases = ("after_fill", "after_free") + (PROBE_PHASES if probe else ())
    if compact and not probe:
        phases = tuple(phases) + ("after_compact",)
    rows = []

    def at(name, **_):                  # figures of the live machine: no copy needed
        if name in phases:
            rows.append({"phase": name, **frag_metrics(m, owners=owners)})

    r = fragger(seed=seed, fill=fill, rounds=rounds, probe=probe).run_on(m, snapshot=at)
    if compact and not probe:
        m.compact_memory()
        at("after_compact")
    t = pd.DataFrame(rows)
    if probe:
        for name in ("probe1", "probe2"):
            t[f"hugepages_{name}"] = r.probe.get(name, -1)
    return t
