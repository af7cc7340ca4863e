# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The workload runner's event loop, compiled (Cython; docs/compiled-core.md).

``replay(...)`` plays a run's planned allocations (times, tasks, slots, lifetimes:
``pextlab.workloads.runner.run`` plans them) in time order, and between them the
frees that fall due (the expiry heap), the free/used samples and the per-step hooks.
Every allocation goes to the kernel's compiled fast path (``alloc_pages_fast``),
then, when that fails, to the slow path (``alloc_pages_slow``): together what
``__alloc_pages`` does.  The order of everything -- samples, hooks, frees, the
allocation -- is the Python loop's it replaced, so the frames are the same.
``pextlab.workloads.runner`` calls it; nothing else should.
"""
from ..errors import PextlabError
from ..kernel import gup, vmscan
from ..kernel.fastpath import alloc_pages_fast, free_pages
from ..kernel.page_alloc import alloc_pages_slow
from .events import EV_ALLOC, EV_FAIL, EV_FREE
from cpython.object cimport PyObject
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int64_t, INT64_MAX
from ._runlog cimport ExpiryHeap, Int64Buffer, Pending
from ..kernel._geometry cimport Geometry
from ..kernel._mmzone cimport MemSection, Zone, section_at
from ..kernel._state cimport MMCore

cdef extern from "Python.h":
    void PyObject_GC_UnTrack(void *op)

__all__ = ["replay"]

cdef int64_t C_EV_ALLOC = EV_ALLOC      # the run log's event codes (workloads.events)
cdef int64_t C_EV_FREE = EV_FREE
cdef int64_t C_EV_FAIL = EV_FAIL

# ZoneCodes' per-section answers besides a zone code (>= 0)
cdef int64_t Z_SPANS = -2               # a section of several zones: its span list
cdef int64_t Z_PYTHON = -3              # no section: mm.zone_of_pfn decides


cdef class ZoneCodes:
    """The log's zone code of a pfn's zone -- ``log.zone_code(mm.zone_of_pfn(pfn))`` --
    without a Python call per pfn.

    state.py's ``zone_of_pfn`` (page_zone()) answers ``mm.section_zone[nr]`` for a
    section inside one zone; for a section shared by zones (or nodes) the first zone,
    over the section's nodes in ``sec.nids`` order and each node's zones in order,
    whose span holds the pfn.  Both are cached per section as read at the first pfn
    looked up there: the zone's code, or the section's spans (start, end, zone) in that
    order, scanned in C.  Spans of interleaved nodes may overlap, so the scan keeps the
    first match rather than bisecting.  A zone is registered with the log
    (``log.zone_code``) only when a pfn is found in it, as before.

    Zones' spans and ``section_zone`` change only by memory hotplug (and boot); during
    a replay only a hook or the allocator's slow path (its notifiers, the OOM killer)
    runs code that could do it, so the replay calls :meth:`invalidate` after those
    (O(1): a section's entry holds only for the generation it was filled in).
    """
    cdef object mm, log
    cdef dict zcode
    cdef list sec_zone, span_zone
    cdef long shift
    cdef Py_ssize_t nsec, nspan, span_cap
    cdef int64_t gen
    cdef int64_t *sec_gen               # per section: the generation its entry is of
    cdef int64_t *sec_code              # per section: a code, Z_SPANS or Z_PYTHON
    cdef int64_t *sec_span              # per Z_SPANS section: its first span
    cdef int64_t *span                  # (start, end, code or -1 until found) per span;
                                        # a section's list ends with start = -1

    def __cinit__(self):
        self.sec_gen = self.sec_code = self.sec_span = self.span = NULL

    def __dealloc__(self):
        PyMem_Free(self.sec_gen)
        PyMem_Free(self.sec_code)
        PyMem_Free(self.sec_span)
        PyMem_Free(self.span)

    cdef void setup(self, mm, log) except *:
        self.mm, self.log = mm, log
        self.zcode = log._zone_code
        self.shift = mm.section_shift
        self.invalidate()

    cdef void invalidate(self) except *:
        self.sec_zone = self.mm.section_zone
        cdef Py_ssize_t i, n = len(self.sec_zone)     # hotplug may have added sections
        if n > self.nsec:
            self.sec_gen = <int64_t *>grow(self.sec_gen, n)
            self.sec_code = <int64_t *>grow(self.sec_code, n)
            self.sec_span = <int64_t *>grow(self.sec_span, n)
            for i in range(self.nsec, n):
                self.sec_gen[i] = -1
            self.nsec = n
        self.gen += 1
        self.nspan = 0
        self.span_zone = []

    cdef int64_t code_of(self, zone) except? -9:
        kz = self.zcode.get(zone)
        return self.log.zone_code(zone) if kz is None else kz

    cdef void add_span(self, int64_t start, int64_t end, zone) except *:
        if self.nspan == self.span_cap:
            self.span_cap = max(16, 2 * self.span_cap)
            self.span = <int64_t *>grow(self.span, 3 * self.span_cap)
        cdef int64_t *s = self.span + 3 * self.nspan
        s[0], s[1], s[2] = start, end, -1
        self.span_zone.append(zone)
        self.nspan += 1

    cdef void look_up(self, Py_ssize_t nr) except *:
        """Fill section ``nr``'s entry, as zone_of_pfn reads the state now."""
        z = self.sec_zone[nr]
        if z is not None:
            self.sec_code[nr] = self.code_of(z)
        else:
            sec = self.mm.sections[nr]
            if sec is None:
                self.sec_code[nr] = Z_PYTHON
            else:
                self.spans_of(nr, sec)
        self.sec_gen[nr] = self.gen             # last: an error leaves it unfilled

    cdef void spans_of(self, Py_ssize_t nr, sec) except *:
        self.sec_span[nr] = self.nspan
        nodes = self.mm.nodes
        for nid in sec.nids:
            for z in nodes[nid].zones:
                if z.spanned_pages:
                    self.add_span(z.zone_start_pfn, z.zone_start_pfn + z.spanned_pages, z)
        self.add_span(-1, -1, None)
        self.sec_code[nr] = Z_SPANS

    cdef int64_t code(self, int64_t pfn) except? -9:
        cdef Py_ssize_t nr = pfn >> self.shift, j
        cdef int64_t c
        cdef int64_t *s
        if nr >= self.nsec:
            return self.code_of(self.mm.zone_of_pfn(pfn))
        if self.sec_gen[nr] != self.gen:
            self.look_up(nr)
        c = self.sec_code[nr]
        if c >= 0:
            return c
        if c == Z_SPANS:
            j = self.sec_span[nr]
            s = self.span + 3 * j
            while s[0] >= 0:
                if s[0] <= pfn < s[1]:
                    if s[2] < 0:
                        s[2] = self.code_of(self.span_zone[j])
                    return s[2]
                j += 1
                s += 3
        return self.code_of(self.mm.zone_of_pfn(pfn))  # no zone spans it: as before


cdef inline tuple untracked(tuple t):
    # a tuple of ints, which can be in no reference cycle: untracked by the garbage
    # collector at once (CPython's _PyTuple_MaybeUntrack does it at the first
    # collection that sees it), so the long-lived records the log keeps per block
    # (``log.lru``, ``log.held``) add nothing to the collector's work
    PyObject_GC_UnTrack(<PyObject *>t)
    return t


cdef void *grow(void *p, Py_ssize_t n) except NULL:
    q = PyMem_Realloc(p, max(n, 1) * sizeof(int64_t))
    if q == NULL:
        raise MemoryError()
    return q


cdef class _Replay:
    """The state of one run's replay: what the Python loop kept in locals.

    The log's ``used`` (pages per zone_mt key) and ``rss`` (pages per task) lists are
    kept in C arrays while the loop runs, so an event boxes no counter.  Python code
    reads and changes those lists too -- reclaim (``RunLog.reclaimed``), the OOM
    killer (``RunLog.kill``, ``OomTask.rss_pages``), migration (``RunLog._rezone``) --
    but only from inside the allocator's slow path, a long-term pin or a step hook:
    the loop writes the arrays back into the lists before calling those (:meth:`push`)
    and reads them again after (:meth:`pull`).  The per-task counts of the run stay in
    C until ``replay`` returns them.
    """
    cdef MMCore mm
    cdef object log
    cdef Int64Buffer ev, smp
    cdef ExpiryHeap heap
    cdef ZoneCodes zc
    cdef bint record, c_owns
    cdef list tasks, t_comm, t_nid, t_pin, s_gfp, zones, hook_list, hook_next
    cdef dict held, lru, pins
    cdef set dropped, dead
    cdef long nm, mov
    cdef int64_t seq, next_s, every, next_h
    cdef Py_ssize_t n_tasks, n_slots, n_used, n_rss
    cdef int64_t *t_pid                 # per task: pid, tgid, comm_id
    cdef int64_t *t_tgid
    cdef int64_t *t_cid
    cdef int64_t *s_order               # per slot: order, migratetype, stacks, on the LRU
    cdef int64_t *s_mt
    cdef int64_t *s_handle
    cdef int64_t *s_fhandle
    cdef int64_t *s_lru
    cdef int64_t *count                 # per task: allocs, frees, failed, held (this run)
    cdef int64_t *used                  # log.used and log.rss while the loop owns them
    cdef int64_t *rss

    def __cinit__(self):
        self.t_pid = self.t_tgid = self.t_cid = NULL
        self.s_order = self.s_mt = self.s_handle = self.s_fhandle = self.s_lru = NULL
        self.count = self.used = self.rss = NULL

    def __dealloc__(self):
        PyMem_Free(self.t_pid)
        PyMem_Free(self.t_tgid)
        PyMem_Free(self.t_cid)
        PyMem_Free(self.s_order)
        PyMem_Free(self.s_mt)
        PyMem_Free(self.s_handle)
        PyMem_Free(self.s_fhandle)
        PyMem_Free(self.s_lru)
        PyMem_Free(self.count)
        PyMem_Free(self.used)
        PyMem_Free(self.rss)

    cdef void setup(self, list tasks, list slots) except *:
        cdef Py_ssize_t i
        self.tasks, self.n_tasks, self.n_slots = tasks, len(tasks), len(slots)
        self.t_comm = [x["comm"] for x in tasks]
        self.t_nid = [x["nid"] for x in tasks]
        self.t_pin = [x.get("pin", "") for x in tasks]
        self.t_pid = <int64_t *>grow(NULL, self.n_tasks)
        self.t_tgid = <int64_t *>grow(NULL, self.n_tasks)
        self.t_cid = <int64_t *>grow(NULL, self.n_tasks)
        self.count = <int64_t *>grow(NULL, 4 * self.n_tasks)
        for i in range(self.n_tasks):
            x = tasks[i]
            self.t_pid[i], self.t_tgid[i], self.t_cid[i] = x["pid"], x["tgid"], x["comm_id"]
            self.count[4 * i] = self.count[4 * i + 1] = self.count[4 * i + 2] = self.count[4 * i + 3] = 0
        self.s_gfp = [s["gfp"] for s in slots]
        self.s_order = <int64_t *>grow(NULL, self.n_slots)
        self.s_mt = <int64_t *>grow(NULL, self.n_slots)
        self.s_handle = <int64_t *>grow(NULL, self.n_slots)
        self.s_fhandle = <int64_t *>grow(NULL, self.n_slots)
        self.s_lru = <int64_t *>grow(NULL, self.n_slots)
        for i in range(self.n_slots):
            s = slots[i]
            self.s_order[i], self.s_mt[i] = s["order"], s["mt"]
            self.s_handle[i], self.s_fhandle[i], self.s_lru[i] = s["handle"], s["free_handle"], bool(s["lru"])

    # --- log.used and log.rss: C arrays in the loop, the log's lists outside -------------
    cdef void pull(self) except *:
        """Read the log's ``used`` and ``rss`` lists into the C arrays."""
        cdef list used = self.log.used, rss = self.log.rss
        cdef Py_ssize_t i
        self.used = <int64_t *>grow(self.used, len(used))
        self.n_used = len(used)
        for i in range(self.n_used):
            self.used[i] = used[i]
        self.rss = <int64_t *>grow(self.rss, len(rss))
        self.n_rss = len(rss)
        for i in range(self.n_rss):
            self.rss[i] = rss[i]
        self.c_owns = True

    cdef void push(self) except *:
        """Write the C arrays back into the log's lists (Python code reads them next)."""
        cdef list used = self.log.used, rss = self.log.rss
        cdef Py_ssize_t i
        self.c_owns = False
        for i in range(self.n_used):
            used[i] = self.used[i]
        for i in range(self.n_rss):
            rss[i] = self.rss[i]

    cdef void used_grew(self) except *:
        # log.zone_code registered a zone during the loop: its zeros joined log.used
        cdef list used = self.log.used
        cdef Py_ssize_t i, n = len(used)
        self.used = <int64_t *>grow(self.used, n)
        for i in range(self.n_used, n):
            self.used[i] = used[i]
        self.n_used = n

    cdef inline void check_entry(self, const Pending *e) except *:
        # the C tables cover the tasks and slots of the log when the replay began
        if not (0 <= e.ti < self.n_tasks and 0 <= e.si < self.n_slots
                and 0 <= e.k < self.n_used and e.ti < self.n_rss):
            raise PextlabError(f"pending free (time {e.time}, pfn {e.pfn:#x}) names task "
                               f"{e.ti}, slot {e.si}, zone_mt {e.k}: not the run log's")

    # --- the kernel's per-event state ------------------------------------------------------
    cdef inline void set_task(self, int64_t now, Py_ssize_t ti, int64_t handle) except *:
        # the clock, and the task and stack page_owner records (or the free's stack):
        # MMCore's C fields (kernel/_state.pxd)
        cdef MMCore mm = self.mm
        mm.clock_ns = now
        mm.comm = self.t_comm[ti]
        mm.pid = self.t_pid[ti]
        mm.tgid = self.t_tgid[ti]
        mm.comm_id = self.t_cid[ti]
        mm.current_handle = handle

    cdef object page_to_nid(self, int64_t pfn):
        # state.py MM.pfn_to_nid (page_to_nid) of an allocated block's head: its
        # section's node; a section of several nodes asks the Python method
        cdef Geometry g = self.mm.geometry
        cdef MemSection sec = section_at(g.sections, pfn >> g.shift)
        if len(sec.nids) > 1:
            return self.mm.pfn_to_nid(pfn)
        return sec.nid

    cdef void lru_add(self, pfn, long o) except *:
        # kernel/vmscan.py lru_add (folio_add_lru), with page_to_nid in C: the block
        # becomes its node's newest reclaimable one, held by the log
        cdef dict lists = self.mm.lru
        nid = self.page_to_nid(pfn)
        lru = lists.get(nid)
        if lru is None:
            lru = lists[nid] = {}
        (<dict?>lru)[pfn] = (o, self.log)

    cdef void lru_del(self, pfn) except *:
        # kernel/vmscan.py lru_del: off its node's list.  A pfn is on one node's list
        # at most, the one lru_add (or follow_migration's) put it on: that list first,
        # vmscan.lru_del's search of every list only if it is not there
        cdef dict lists = self.mm.lru
        lru = lists.get(self.page_to_nid(pfn))
        if lru is None or (<dict?>lru).pop(pfn, None) is None:
            vmscan.lru_del(self.mm, pfn)

    # --- the records -----------------------------------------------------------------------
    cdef inline void put_event(self, int64_t t, int64_t ev, int64_t pfn, int64_t o,
                               int64_t ti, int64_t si, int64_t k) except *:
        # one EV_FIELDS record
        cdef int64_t *p = self.ev.room(7)
        p[0], p[1], p[2], p[3], p[4], p[5], p[6] = t, ev, pfn, o, ti, si, k

    cdef void sample(self, int64_t ts) except *:
        cdef long zc, mt, b
        cdef list fm
        cdef int64_t *p
        cdef Zone z
        for zc in range(len(self.zones)):
            z = <Zone?>self.zones[zc]
            fm = z.free_mt
            b = zc * self.nm
            for mt in range(self.nm):
                # one SAMPLE_FIELDS record
                p = self.smp.room(6)
                p[0], p[1], p[2], p[3], p[4], p[5] = ts, zc, mt, fm[mt], self.used[b + mt], z.managed_pages

    cdef void samples_due(self, int64_t limit) except *:
        while self.next_s <= limit:
            self.sample(self.next_s)
            self.next_s += self.every

    cdef void hooks_due(self, int64_t limit) except *:
        cdef int64_t now
        cdef Py_ssize_t i
        while self.next_h <= limit:
            now = self.next_h
            for i in range(len(self.hook_list)):
                p, fn = self.hook_list[i]
                if self.hook_next[i] == now:
                    self.push()
                    fn(now)
                    self.pull()
                    self.zc.invalidate()            # a hook may hotplug memory
                    self.hook_next[i] += p
            self.next_h = min(self.hook_next)

    # --- the events ------------------------------------------------------------------------
    cdef void free_due(self, int64_t limit) except *:
        cdef ExpiryHeap heap = self.heap
        cdef Pending e
        cdef int64_t ft
        mm = self.mm
        while heap.n and heap.a[0].time <= limit:
            ft = heap.a[0].time
            self.samples_due(ft)
            if self.next_h <= ft:
                self.hooks_due(ft)
                continue                # a hook may have changed the heap
            e = heap.take()
            if self.dropped and e.seq in self.dropped:  # reclaimed, or freed by an OOM kill
                self.dropped.discard(e.seq)
                continue
            self.check_entry(&e)
            self.set_task(e.time, e.ti, self.s_fhandle[e.si])
            pfn = e.pfn
            # only a block of a reclaimable slot is on the log's LRU (alloc puts it there,
            # follow_migration re-keys it): the others need no dict lookup
            if self.s_lru[e.si] and self.lru.pop(pfn, None) is not None:
                self.lru_del(pfn)
            if self.pins and self.pins.pop(pfn, None) is not None:
                gup.unpin_user_pages(mm, (pfn,))
            free_pages(mm, pfn, e.order)
            self.used[e.k] -= 1 << e.order
            self.rss[e.ti] -= 1 << e.order
            self.count[4 * e.ti + 1] += 1          # ti may be of an earlier run
            if self.record:
                self.put_event(e.time, C_EV_FREE, e.pfn, e.order, e.ti, e.si, e.k)

    cdef void alloc(self, int64_t t, Py_ssize_t ti, Py_ssize_t si, int64_t life) except *:
        mm = self.mm
        cdef long o = self.s_order[si]
        self.set_task(t, ti, self.s_handle[si])
        gfp, nid = self.s_gfp[si], self.t_nid[ti]
        cdef int64_t pfn = alloc_pages_fast(mm, gfp, o, nid)
        if pfn < 0:
            self.push()                         # reclaim and the OOM killer read them
            pfn = alloc_pages_slow(mm, gfp, o, nid)
            self.pull()
            self.zc.invalidate()                # its callbacks run any code
        cdef long mt = self.s_mt[si]
        if pfn < 0:
            self.count[4 * ti + 2] += 1
            if self.record:
                self.put_event(t, C_EV_FAIL, -1, o, ti, si, -1 - mt)
            return
        cdef Py_ssize_t k = self.zc.code(pfn) * self.nm + mt
        if k >= self.n_used:
            self.used_grew()
        self.used[k] += 1 << o
        self.rss[ti] += 1 << o
        self.count[4 * ti] += 1
        p = pfn
        if life >= 0:
            self.heap.put(Pending(t + life, self.seq, pfn, o, ti, si, k))
            if self.s_lru[si]:
                self.lru[p] = untracked((self.seq, ti, k, si))
                self.lru_add(p, o)
            self.seq += 1
        else:
            self.held[p] = untracked((k, ti, si))
            self.count[4 * ti + 3] += 1
            if self.s_lru[si]:
                self.lru[p] = untracked((-1, ti, k, si))
                self.lru_add(p, o)
        if self.record:
            self.put_event(t, C_EV_ALLOC, pfn, o, ti, si, k)
        pin = self.t_pin[ti]
        if pin and mt == self.mov:
            self.push()                         # a long-term pin migrates: _rezone
            got = gup.pin_user_pages(mm, ((p, o),), longterm=pin == "longterm")
            self.pull()
            self.zc.invalidate()                # its notifiers run any code
            if got is None:
                self.tasks[ti]["pin_failed"] += 1
            else:
                self.pins[got[0]] = ti
                self.tasks[ti]["pinned"] += 1

    cdef list counts(self, Py_ssize_t which):
        cdef Py_ssize_t ti
        return [self.count[4 * ti + which] for ti in range(self.n_tasks)]

    cdef void loop(self, const int64_t[::1] times, const int64_t[::1] tis,
                   const int64_t[::1] sis, const int64_t[::1] lifes, int64_t end,
                   Py_ssize_t chunk) except *:
        cdef Py_ssize_t i, n = times.shape[0]
        cdef int64_t t
        cdef ExpiryHeap heap = self.heap
        cdef set dead = self.dead
        log = self.log
        for i in range(n):
            t = times[i]
            if heap.n and heap.a[0].time <= t:
                self.free_due(t)
            self.samples_due(t)
            if self.next_h <= t:
                self.hooks_due(t)
                if heap.n and heap.a[0].time <= t:
                    self.free_due(t)
            if dead and tis[i] in dead:
                pass                    # OOM-killed: it allocates nothing more
            else:
                self.alloc(t, tis[i], sis[i], lifes[i])
            if (i + 1) % chunk == 0:
                log.flush_events()      # the recorded events: a bounded buffer
        log.flush_events()
        self.free_due(end)
        self.hooks_due(end)
        self.free_due(end)
        self.samples_due(end)
        log.flush_events()


def replay(mm, log, const int64_t[::1] times, const int64_t[::1] tis,
           const int64_t[::1] sis, const int64_t[::1] lifes, int64_t t0, int64_t end,
           bint record, sample_every_ns, list hook_list, Py_ssize_t chunk):
    """Play the planned events of a run (sorted by time, ties by task) from ``t0`` to
    ``end`` on ``mm``, into ``log``.  ``hook_list``: [(period_ns, fn)], checked by the
    caller.  Recorded events are flushed into the log every ``chunk`` allocations.
    Returns the per-task counts (allocs, frees, failed, held), lists by task index."""
    cdef _Replay r = _Replay()
    r.mm, r.log = mm, log
    r.setup(log.tasks, log.slots)
    r.mov = mm.profile.mt_movable
    r.pins, r.nm = log.pins, log.nr_mt
    r.heap, r.held, r.lru = log.expiry, log.held, log.lru
    r.dropped, r.dead = log.dropped, log.dead
    r.record, r.ev, r.smp = record, log.ev_buf, log.smp_buf
    r.zc = ZoneCodes()
    r.zc.setup(mm, log)
    r.zones = list(log.zones)
    r.seq = log.seq
    r.hook_list = hook_list
    r.hook_next = [(t0 // p + 1) * p for p, _ in hook_list]
    r.next_h = min(r.hook_next) if r.hook_next else INT64_MAX
    if sample_every_ns is not None:
        r.every = sample_every_ns
        # the previous run's end sample already shows the state at t0
        r.next_s = t0 + r.every if log.last_sample_ns == t0 else t0
    else:
        r.next_s, r.every = INT64_MAX, 0
    r.pull()
    try:
        r.loop(times, tis, sis, lifes, end, chunk)
    finally:
        if r.c_owns:                    # the log's lists as the events left them
            r.push()
    if r.every:
        log.last_sample_ns = r.next_s - r.every
    mm.clock_ns = end
    log.seq = r.seq
    return r.counts(0), r.counts(1), r.counts(2), r.counts(3)
