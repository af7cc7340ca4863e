# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The run log's records in C (Cython; docs/compiled-core.md), so that the workload
runner's loop allocates no Python object per event.

- :class:`ExpiryHeap`: the pending frees, a binary heap of C structs keyed
  ``(time, seq)`` (the other fields in a side array).  ``seq`` is unique, so that key orders the entries exactly as the
  7-tuples ``(time, seq, pfn, order, task, slot, zone_mt)`` did on ``heapq``; push,
  pop and heapify are ``heapq``'s algorithms (CPython's ``_heapqmodule.c``), so the
  entries also sit in the same array positions -- an OOM kill frees a task's blocks
  in that order.
- :class:`Int64Buffer`: int64 records (events, samples) appended in C, the array
  grown by doubling, moved into the log's ``array('q')`` by :meth:`Int64Buffer.flush_into`.
- :class:`BlockTable`: the log's per-block records (``held``, ``lru``), pfn -> a few
  ints, in C; Python code sees a dict of tuples.  It is the kernel's C pfn table
  (``kernel/_pfn_table.pyx`` ``PfnTable``), under this name.

``pextlab.workloads.runner`` (the ``RunLog``) owns them; ``workloads/_replay.pyx``
reads and writes them through ``_runlog.pxd``.
"""
from array import array

from cpython.buffer cimport PyBUF_READ
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.memoryview cimport PyMemoryView_FromMemory
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    void __builtin_prefetch(const void *addr) nogil     # GCC / clang

from ..errors import PextlabError
from ..kernel._pfn_table import PfnTable, pfn_table_from_bytes

__all__ = ["ExpiryHeap", "Int64Buffer", "BlockTable"]

cdef Py_ssize_t NF = 7          # the fields of a Pending


cdef inline bint before(const HeapKey *x, const HeapKey *y) noexcept nogil:
    # the tuples' order: (time, seq) decides, seq is unique
    return x.time < y.time or (x.time == y.time and x.seq < y.seq)


cdef inline tuple as_tuple(const Pending *e):
    return (e.time, e.seq, e.pfn, e.order, e.ti, e.si, e.k)


cdef class ExpiryHeap:
    """The runner's pending frees: ``(time, seq, pfn, order, task, slot, zone_mt)``
    entries, the earliest ``(time, seq)`` first.  Iterating (or indexing) gives the
    entries as tuples in heap-array order, as the list it replaced did.

    The heap array holds each entry's ``(time, seq)`` and the slot of its other fields
    (a separate array, slots reused): heapq's algorithms move only those."""

    def __cinit__(self):
        self.a, self.p, self.free_slots = NULL, NULL, NULL
        self.n = self.cap = self.nfree = self.top = 0

    def __dealloc__(self):
        PyMem_Free(self.a)
        PyMem_Free(self.p)
        PyMem_Free(self.free_slots)

    cdef void reserve(self, Py_ssize_t need) except *:
        cdef Py_ssize_t cap = self.cap or 64
        while cap < need:
            cap *= 2
        if cap == self.cap:
            return
        a = <HeapKey *>PyMem_Realloc(self.a, cap * sizeof(HeapKey))
        if a == NULL:
            raise MemoryError()
        self.a = a
        p = <Payload *>PyMem_Realloc(self.p, cap * sizeof(Payload))
        if p == NULL:
            raise MemoryError()
        self.p = p
        f = <int64_t *>PyMem_Realloc(self.free_slots, cap * sizeof(int64_t))
        if f == NULL:
            raise MemoryError()
        self.free_slots, self.cap = f, cap

    # heapq's _siftdown: the entry at pos moves up towards startpos
    cdef void siftdown(self, Py_ssize_t startpos, Py_ssize_t pos) noexcept:
        cdef HeapKey item = self.a[pos]
        cdef Py_ssize_t parent
        while pos > startpos:
            parent = (pos - 1) >> 1
            if before(&item, &self.a[parent]):
                self.a[pos] = self.a[parent]
                pos = parent
                continue
            break
        self.a[pos] = item

    # heapq's _siftup: the smaller child moves up until a leaf, then _siftdown
    cdef void siftup(self, Py_ssize_t pos) noexcept:
        cdef Py_ssize_t endpos = self.n, startpos = pos, limit = self.n >> 1, child
        cdef HeapKey item = self.a[pos]
        while pos < limit:
            child = 2 * pos + 1
            # the children's children, compared next: start those cache misses now
            # (a prefetch never faults, in range or not)
            __builtin_prefetch(&self.a[2 * child + 1])
            if child + 1 < endpos and not before(&self.a[child], &self.a[child + 1]):
                child += 1
            self.a[pos] = self.a[child]
            pos = child
        self.a[pos] = item
        self.siftdown(startpos, pos)

    cdef Pending entry(self, Py_ssize_t i) noexcept:
        """The entry at heap-array position ``i``, whole."""
        cdef HeapKey *h = &self.a[i]
        cdef Payload *q = &self.p[h.slot]
        return Pending(h.time, h.seq, q.pfn, q.order, q.ti, q.si, q.k)

    cdef void put(self, Pending e) except *:
        """heapq.heappush."""
        cdef int64_t slot
        if self.n == self.cap:
            self.reserve(self.n + 1)
        if self.nfree:
            self.nfree -= 1
            slot = self.free_slots[self.nfree]
        else:
            slot = self.top
            self.top += 1
        self.p[slot] = Payload(e.pfn, e.order, e.ti, e.si, e.k)
        self.a[self.n] = HeapKey(e.time, e.seq, slot)
        self.n += 1
        self.siftdown(0, self.n - 1)

    cdef Pending take(self) noexcept:
        """heapq.heappop (the caller checks that the heap is not empty)."""
        cdef HeapKey last = self.a[self.n - 1]
        cdef Pending top
        self.n -= 1
        top = self.entry(0)             # the last one itself when it was alone
        self.free_slots[self.nfree] = self.a[0].slot
        self.nfree += 1
        if self.n:
            self.a[0] = last
            self.siftup(0)
            # the next take reads the new top's other fields: start that cache miss now,
            # while the caller frees this block
            __builtin_prefetch(&self.p[self.a[0].slot])
        return top

    cdef void heapify(self) noexcept:
        """heapq.heapify (CPython sifts in a cache-friendlier order for large heaps; each
        sift only touches its subtree once the children are heaps: the same array)."""
        cdef Py_ssize_t i
        for i in reversed(range(self.n >> 1)):
            self.siftup(i)

    def push(self, int64_t time, int64_t seq, int64_t pfn, int64_t order, int64_t ti,
             int64_t si, int64_t k):
        """Add a pending free (heapq.heappush)."""
        self.put(Pending(time, seq, pfn, order, ti, si, k))

    def pop(self):
        """Remove and return the earliest entry as a tuple (heapq.heappop)."""
        if self.n == 0:
            raise IndexError("pop from an empty expiry heap")
        cdef Pending e = self.take()
        return as_tuple(&e)

    def repoint(self, dict remap, set dropped, rezone):
        """Migration: every entry whose pfn is a key of ``remap`` (old -> new pfn) and
        whose seq is not in ``dropped`` now frees the new pfn, counted under the
        zone_mt key ``rezone(k, new, order)`` returns.  ``(time, seq)`` stay, so the
        heap order is unchanged."""
        cdef Py_ssize_t i
        cdef Payload *e
        for i in range(self.n):
            e = &self.p[self.a[i].slot]
            new = remap.get(e.pfn)
            if new is None or (dropped and self.a[i].seq in dropped):
                continue
            e.k = rezone(e.k, new, e.order)
            e.pfn = new

    def remove_tasks(self, tis, set dropped):
        """An OOM kill: take out the entries of the task indices ``tis`` whose seq is
        not in ``dropped``; returns them as ``(pfn, order, task, slot, zone_mt)`` in
        heap-array order.  The rest keep their order and are heapified again."""
        cdef Py_ssize_t i, w = 0
        cdef HeapKey h
        cdef Payload *e
        cdef list victims = []
        for i in range(self.n):
            h = self.a[i]
            e = &self.p[h.slot]
            if e.ti in tis and not (dropped and h.seq in dropped):
                victims.append((e.pfn, e.order, e.ti, e.si, e.k))
                self.free_slots[self.nfree] = h.slot
                self.nfree += 1
            else:
                self.a[w] = h
                w += 1
        self.n = w
        self.heapify()
        return victims

    def __len__(self):
        return self.n

    def __getitem__(self, Py_ssize_t i):
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError("expiry heap index out of range")
        cdef Pending e = self.entry(i)
        return as_tuple(&e)

    def __iter__(self):
        cdef Py_ssize_t i
        cdef Pending e
        for i in range(self.n):
            e = self.entry(i)
            yield as_tuple(&e)

    def __reduce__(self):
        # a copy (a snapshot) or a pickle: the whole entries, in array order
        cdef Py_ssize_t i
        cdef Pending e
        cdef bytearray data = bytearray(self.n * sizeof(Pending))
        cdef char *d = data
        for i in range(self.n):
            e = self.entry(i)
            memcpy(d + i * sizeof(Pending), &e, sizeof(Pending))
        return _heap_from_bytes, (bytes(data),)


def _heap_from_bytes(bytes data):
    cdef ExpiryHeap h = ExpiryHeap()
    cdef Py_ssize_t i, n = len(data) // sizeof(Pending)
    cdef Pending e
    cdef const char *d = data
    h.reserve(n)
    for i in range(n):
        memcpy(&e, d + i * sizeof(Pending), sizeof(Pending))
        h.a[i] = HeapKey(e.time, e.seq, i)
        h.p[i] = Payload(e.pfn, e.order, e.ti, e.si, e.k)
    h.n = h.top = n
    return h


cdef class Int64Buffer:
    """int64 records appended in C: ``room(k)`` gives the place of the next ``k``
    values; Python code appends with :meth:`extend`."""

    def __cinit__(self):
        self.a, self.n, self.cap = NULL, 0, 0

    def __dealloc__(self):
        PyMem_Free(self.a)

    cdef int64_t *room(self, Py_ssize_t k) except NULL:
        cdef Py_ssize_t cap = self.cap or 1024
        while cap < self.n + k:
            cap *= 2
        if cap != self.cap:
            p = <int64_t *>PyMem_Realloc(self.a, cap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            self.a, self.cap = p, cap
        self.n += k
        return self.a + self.n - k

    def extend(self, values):
        """Append the ints ``values`` (a record)."""
        cdef tuple v = tuple(values)
        cdef Py_ssize_t i, n0 = self.n
        cdef int64_t *p = self.room(len(v))
        try:
            for i in range(len(v)):
                p[i] = v[i]
        except BaseException:
            self.n = n0                 # nothing of a record that is not all ints
            raise

    cdef int put_event(self, int64_t t, int64_t ev, int64_t pfn, int64_t order, int64_t task,
                       int64_t slot, int64_t zone_mt) except -1:
        # one recorded event, packed in EV_WORDS words (the layout: workloads/events.py):
        # time, pfn, task << 32 | slot, zone_mt << 16 | order << 8 | event.  The caller
        # keeps the fields in range (add_event checks them; the replay's tasks and slots
        # are its tables' indices)
        cdef int64_t *p = self.room(4)
        p[0] = t
        p[1] = pfn
        p[2] = <int64_t>((<uint64_t>task << 32) | <uint64_t>slot)
        p[3] = <int64_t>((<uint64_t>zone_mt << 16) | <uint64_t>(order << 8) | <uint64_t>ev)
        return 0

    def add_event(self, int64_t t, int64_t ev, int64_t pfn, int64_t order, int64_t task,
                  int64_t slot, int64_t zone_mt):
        """Append one recorded event (``EV_FIELDS``), packed; fields outside the packed
        range are refused."""
        if not (0 <= task < 1 << 31 and 0 <= slot < 1 << 32 and 0 <= order < 256
                and 0 <= ev < 256 and -(1 << 47) <= zone_mt < 1 << 47):
            raise PextlabError(f"run log event out of its packed range: task {task}, slot "
                               f"{slot}, order {order}, event {ev}, zone_mt {zone_mt}")
        self.put_event(t, ev, pfn, order, task, slot, zone_mt)

    def flush_into(self, arr):
        """Append the buffered values to the ``array('q')`` ``arr`` and empty the buffer."""
        if self.n:
            arr.frombytes(PyMemoryView_FromMemory(<char *>self.a, self.n * sizeof(int64_t), PyBUF_READ))
            self.n = 0

    def __len__(self):
        return self.n

    def __reduce__(self):
        return _buffer_from_bytes, (bytes((<char *>self.a)[:self.n * sizeof(int64_t)]),)


def _buffer_from_bytes(bytes data):
    cdef Int64Buffer b = Int64Buffer()
    cdef Py_ssize_t n = len(data) // sizeof(int64_t)
    if n:
        memcpy(b.room(n), <const char *>data, n * sizeof(int64_t))
    return b


# --- the per-block records -----------------------------------------------------------------------
# The C pfn table lives in the kernel (kernel/_pfn_table.pyx), whose LRU lists use it
# too: the run log's ``held`` (zone_mt, task, slot) and ``lru`` (seq, task, zone_mt,
# slot) are tables of it under the name the log always used.  ``_table_from_bytes`` is
# here for the pickles made before the move, which name it in this module.
BlockTable = PfnTable
_table_from_bytes = pfn_table_from_bytes
