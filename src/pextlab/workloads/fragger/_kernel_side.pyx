# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The per-page half of fragger's kernel side, compiled (Cython; docs/compiled-core.md):
the page allocations and frees of each allocation kind, the LRU slots and their reverse
map, the process's page tables, and the slab caches (a small SLUB).

The fill makes about 180 k page allocations on 1 GiB; here each one is a C call to the
kernel's compiled fast path (``c_alloc_pages_fast``, ``_fastpath.pxd``: the checks of
``alloc_pages_fast`` without its argument conversion) and, only when that fails, its slow
path (``alloc_pages_slow``): together what ``__alloc_pages`` does, in the same order as
the Python it replaced, so the frames are the same.  Frees are ``c_free_pages`` (the
checks of ``free_pages``).  ``kernel_side.py`` and ``slab.py``
document the model and import these classes; ``_process.pyx`` calls their C methods
(``_kernel_side.pxd``); nothing else should.
"""
from cpython cimport array
import array as pyarray

from ...kernel._fastpath cimport c_alloc_pages_fast, c_free_pages
from ...kernel._page_owner cimport RecordTable
from ...kernel._state cimport MMCore

from ...errors import PextlabError
from ...kernel.page_alloc import alloc_pages_slow

__all__ = ["PageSlots", "Slab", "KmemCache", "KernelCore"]


def _page_slots(lru, rmap):
    # PageSlots.__reduce__: a snapshot's deep copy of the follower copies both arrays
    cdef PageSlots p = PageSlots.__new__(PageSlots)
    p.lru, p.rmap = lru, rmap
    return p


cdef class PageSlots:
    """The LRU pages a process holds, by slot, and their reverse map (pfn -> slot).

    Slots are never reused; an empty slot holds -1 (freed, or the allocation failed).
    """

    def __init__(self, long nr_pfns):
        self.lru = pyarray.array("q")
        self.rmap = pyarray.array("i", [-1]) * nr_pfns

    def __reduce__(self):
        return _page_slots, (self.lru, self.rmap)

    cdef Py_ssize_t add_c(self, long pfn) except -1:
        cdef Py_ssize_t s = len(self.lru)
        if pfn >= len(self.rmap):
            raise IndexError(f"pfn {pfn:#x} is past the reverse map")
        array.resize_smart(self.lru, s + 1)
        self.lru.data.as_longlongs[s] = pfn
        if pfn >= 0:
            self.rmap.data.as_ints[pfn] = s
        return s

    cdef long take_c(self, Py_ssize_t s) except? -2:
        if not 0 <= s < len(self.lru):
            raise IndexError(f"slot {s} does not exist")
        cdef long pfn = self.lru.data.as_longlongs[s]
        if pfn >= 0:
            self.lru.data.as_longlongs[s] = -1
            self.rmap.data.as_ints[pfn] = -1
        return pfn

    def add(self, long pfn):
        """A new slot holding ``pfn`` (-1: an empty slot)."""
        return self.add_c(pfn)

    def take(self, Py_ssize_t s):
        """Empty slot ``s``; returns the pfn it held (-1 if none)."""
        return self.take_c(s)

    def follow_migration(self, moved, reason):
        """A ``mm.migrate_notifiers`` follower: move the slot of every migrated page to its
        new pfn.  ``moved`` is [(old_pfn, new_pfn, order)]
        (``pextlab.kernel.migrate.notify_moved``)."""
        cdef long long* lru = self.lru.data.as_longlongs
        cdef int* rmap = self.rmap.data.as_ints
        cdef Py_ssize_t n = len(self.rmap)
        cdef long old, new
        cdef int s
        hits = []
        for old, new, _ in moved:
            if not (0 <= old < n and 0 <= new < n):
                raise IndexError(f"a migration {old:#x} -> {new:#x} is past the reverse map")
            s = rmap[old]
            if s >= 0:
                rmap[old] = -1
                hits.append((s, new))
        for s, new in hits:
            lru[s] = new
            rmap[new] = s


cdef class Slab:
    """One slab: its head pfn and the objects in use."""

    def __init__(self, long pfn, str spec_key):
        self.pfn = pfn
        self.inuse = 0
        self.spec_key = spec_key


cdef class KmemCache:
    """A kmem cache of ``spec`` (a ``slab.CacheSpec``) whose slab pages come from ``kern``
    (a :class:`KernelCore`; the allocation kind ``key``)."""

    def __init__(self, KernelCore kern, str key, spec, long min_partial=5):
        self.kern = kern
        self.key = key
        self.kid = kern.kind_id(key)
        self.spec = spec
        self.objs = spec.objs
        self.order = spec.order
        self.partial = []
        self.nr_slabs = 0
        self.nr_objs = 0
        self.empty = []
        self.min_partial = min_partial

    cdef Slab alloc_c(self):
        # objects fill the newest partial slab first (mm/slub.c ___slab_alloc), then an
        # empty slab kept, then a new slab (allocate_slab)
        cdef Slab s
        cdef long pfn
        if self.partial:
            s = self.partial[len(self.partial) - 1]     # the current slab: the last
        elif self.empty:
            s = self.empty.pop()
            self.partial.append(s)
        else:
            pfn = self.kern.alloc_c(self.kid, self.order)
            if pfn < 0:
                return None
            s = Slab(pfn, self.key)
            self.nr_slabs += 1
            self.partial.append(s)
        s.inuse += 1
        self.nr_objs += 1
        if s.inuse >= self.objs:
            self.partial.pop()
        return s

    cdef int free_c(self, Slab s) except -1:
        if s is None:
            return 0
        cdef bint full = s.inuse >= self.objs
        s.inuse -= 1
        self.nr_objs -= 1
        if full:
            self.partial.insert(0, s)           # put_cpu_partial / add_partial at the tail
        if s.inuse == 0:
            self.partial.remove(s)
            if len(self.empty) < self.min_partial:
                self.empty.append(s)
            else:                               # discard_slab
                self.nr_slabs -= 1
                self.kern.free_c(self.kid, s.pfn, self.order)
        return 0

    def alloc(self):
        """kmem_cache_alloc: the slab the new object lives in (None when no page was free)."""
        return self.alloc_c()

    def free(self, Slab s):
        """kmem_cache_free of one object of slab ``s`` (None: the allocation had failed)."""
        self.free_c(s)


cdef class KernelCore:
    """The per-page work of ``kernel_side.FraggerKernel``, which subclasses it.

    ``kinds`` names every allocation kind (page kinds and slab caches: one namespace),
    ``slab_caches`` maps the slab ones to their ``CacheSpec``.  A kind's gfp mask, order
    and stacks come from the subclass's ``alloc_kind(key, slab)`` the first time the kind
    is allocated or freed (the stack depot hands out handles in that order).
    """

    def __init__(self, mm, kinds, slab_caches):
        if not isinstance(mm, MMCore):
            raise PextlabError(f"fragger: the kernel side needs a machine's kernel state "
                               f"(machine.mm), got {type(mm).__name__}")
        self.mm = mm
        self.po = mm.page_owner
        self.lru = PageSlots(mm.max_section_pfn)
        self.failed = 0
        self.names = list(kinds)
        self.ids = {k: i for i, k in enumerate(self.names)}
        if len(self.ids) != len(self.names):
            raise PextlabError("fragger: allocation kinds must have distinct names")
        n = len(self.names)
        self.slab = [k in slab_caches for k in self.names]
        # per kind, filled by resolve() the first time the kind is used
        self.resolved = pyarray.array("b", [0]) * n
        self.gfp = pyarray.array("q", [0]) * n
        self.handle = pyarray.array("q", [0]) * n
        self.fhandle = pyarray.array("q", [0]) * n
        self.order = pyarray.array("q", [0]) * n
        self.count = pyarray.array("q", [0]) * n
        self.counted = []
        self.caches = [None] * n
        for k, spec in slab_caches.items():
            self.caches[self.ids[k]] = KmemCache(self, k, spec)
        self.k_anon, self.k_pte, self.k_pmd = self.ids["anon"], self.ids["pte"], self.ids["pmd"]
        # top-down virtual address allocator of the fragger process (in pages)
        self.next_va = 0x7F0000000000 >> 12
        self.pte_ref, self.pte_pfn = {}, {}      # 2 MiB region -> mapped pages, pte page
        self.pmd_ref, self.pmd_pfn = {}, {}      # 1 GiB region -> pte pages, pmd page

    def kind_id(self, str key):
        """The index of allocation kind ``key``."""
        kid = self.ids.get(key)
        if kid is None:
            raise PextlabError(f"fragger: no allocation kind {key!r}")
        return kid

    @property
    def counts(self):
        """Pages held per allocation kind, for every kind allocated so far."""
        return {self.names[k]: self.count[k] for k in self.counted}

    # --- context -------------------------------------------------------------------------
    def set_task(self, comm, long pid, long tgid):
        """The task the next allocations and frees are done by (page_owner's comm/pid/tgid)."""
        if type(comm) is not str or not comm:
            raise PextlabError(f"fragger: a task's comm is a non-empty str, got {comm!r}")
        self.set_task_c(comm, pid, tgid)

    cdef int set_task_c(self, str comm, long pid, long tgid) except -1:
        # what page_owner records of the current task (mm/page_owner.c __update_page_owner_
        # handle: current->comm, current->pid, current->tgid); the comm's id is looked up
        # in the record table's own map, and only a new comm goes through comm_id()
        cdef MMCore mm = self.mm
        mm.comm, mm.pid, mm.tgid = comm, pid, tgid
        if self.po is None:
            mm.comm_id = 0
            return 0
        recs = self.po.records
        cid = (<RecordTable?>recs)._comm_ids.get(comm)
        mm.comm_id = recs.comm_id(comm) if cid is None else cid
        return 0

    # --- pages ---------------------------------------------------------------------------
    cdef int resolve(self, int kid) except -1:
        gfp, order, handle, fhandle = self.alloc_kind(self.names[kid], self.slab[kid])
        self.gfp.data.as_longlongs[kid] = gfp
        self.handle.data.as_longlongs[kid] = handle
        self.fhandle.data.as_longlongs[kid] = fhandle
        self.order.data.as_longlongs[kid] = order
        self.resolved.data.as_schars[kid] = 1
        return 0

    cdef long alloc_c(self, int kid, long order) except? -2:
        # order < 0: the kind's own
        if not self.resolved.data.as_schars[kid]:
            self.resolve(kid)
        if order < 0:
            order = self.order.data.as_longlongs[kid]
        cdef MMCore mm = self.mm
        cdef long gfp = self.gfp.data.as_longlongs[kid]
        mm.current_handle = self.handle.data.as_longlongs[kid]
        # __alloc_pages: the fast path, then the slow path only when it failed
        cdef long pfn = c_alloc_pages_fast(mm, gfp, order, -1)      # -1: the current node
        if pfn < 0:
            pfn = alloc_pages_slow(mm, gfp, order, None)
        if pfn < 0:
            self.failed += 1
        else:
            if not self.count.data.as_longlongs[kid] and kid not in self.counted:
                self.counted.append(kid)
            self.count.data.as_longlongs[kid] += 1 << order
        return pfn

    cdef int free_c(self, int kid, long pfn, long order) except -1:
        if pfn < 0:
            return 0
        if not self.resolved.data.as_schars[kid]:
            self.resolve(kid)
        if order < 0:
            order = self.order.data.as_longlongs[kid]
        self.mm.current_handle = self.fhandle.data.as_longlongs[kid]
        c_free_pages(self.mm, pfn, order)
        self.count.data.as_longlongs[kid] -= 1 << order
        return 0

    cdef long map_c(self, int kid, list slots) except? -2:
        cdef long pfn = self.alloc_c(kid, -1)
        slots.append(self.lru.add_c(pfn))
        return pfn

    cdef long touch_anon_c(self, long va, list slots) except? -2:
        # the page tables first (a pmd page per 1 GiB, a pte page per 2 MiB), then the page
        cdef long r = va >> 9
        cdef long g
        if r not in self.pte_pfn:
            g = r >> 9
            if g not in self.pmd_pfn:
                self.pmd_pfn[g] = self.alloc_c(self.k_pmd, -1)
                self.pmd_ref[g] = 0
            self.pmd_ref[g] += 1
            self.pte_pfn[r] = self.alloc_c(self.k_pte, -1)
            self.pte_ref[r] = 0
        self.pte_ref[r] += 1
        return self.map_c(self.k_anon, slots)

    def alloc_page(self, str key, order=None):
        """Allocate one block of kind ``key`` (its own order unless ``order``); -1 on failure."""
        return self.alloc_c(self.kind_id(key), -1 if order is None else order)

    def free_page(self, str key, long pfn, order=None):
        """Free a block of kind ``key`` (nothing for a failed allocation, ``pfn < 0``)."""
        self.free_c(self.kind_id(key), pfn, -1 if order is None else order)

    def map_page(self, str key, list slots):
        """Allocate an LRU page of kind ``key`` into a new slot, appended to ``slots`` (the
        holder's mapping or page cache).  Returns the pfn (-1 on failure: the slot stays
        empty)."""
        return self.map_c(self.kind_id(key), slots)

    def unmap_pages(self, str key, list slots):
        """Free the page of every slot of ``slots`` (from :meth:`map_page`) and empty it."""
        cdef int kid = self.kind_id(key)
        for s in slots:
            self.free_c(kid, self.lru.take_c(s), -1)
        slots.clear()

    def touch_anon(self, long va, list slots):
        """Fault the anonymous page at ``va`` in: page tables first, then the zeroed page,
        whose slot is appended to ``slots`` (the mapping's pages, in address order)."""
        return self.touch_anon_c(va, slots)

    def unmap_anon(self, long va, list slots):
        """munmap of the mapping at ``va`` whose pages are in ``slots``: each page, then the
        page tables left without a mapped page (``free_pgtables``)."""
        cdef Py_ssize_t i
        cdef long r, g
        for i in range(len(slots)):
            self.free_c(self.k_anon, self.lru.take_c(slots[i]), -1)
            r = (va + i) >> 9
            self.pte_ref[r] -= 1
            if not self.pte_ref[r]:
                self.free_c(self.k_pte, self.pte_pfn.pop(r), -1)
                del self.pte_ref[r]
                g = r >> 9
                self.pmd_ref[g] -= 1
                if not self.pmd_ref[g]:
                    self.free_c(self.k_pmd, self.pmd_pfn.pop(g), -1)
                    del self.pmd_ref[g]
        slots.clear()

    # --- slab objects --------------------------------------------------------------------
    cdef Slab obj_c(self, int kid):
        return (<KmemCache>self.caches[kid]).alloc_c()

    cdef int unobj_c(self, int kid, Slab s) except -1:
        return (<KmemCache>self.caches[kid]).free_c(s)

    def cache(self, str key):
        """The :class:`KmemCache` of slab kind ``key``."""
        c = self.caches[self.kind_id(key)]
        if c is None:
            raise PextlabError(f"fragger: {key!r} is a page kind, not a slab cache")
        return c

    def obj(self, str cache):
        """kmem_cache_alloc from ``SLAB_CACHES[cache]``: the object's slab (None on failure)."""
        return (<KmemCache>self.cache(cache)).alloc_c()

    def unobj(self, str cache, Slab s):
        """kmem_cache_free of an object :meth:`obj` returned."""
        (<KmemCache>self.cache(cache)).free_c(s)
