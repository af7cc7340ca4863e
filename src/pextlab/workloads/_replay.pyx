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
from ..kernel import gup, vmscan
from ..kernel.fastpath import alloc_pages_fast, free_pages
from ..kernel.page_alloc import alloc_pages_slow
from .events import EV_ALLOC, EV_FAIL, EV_FREE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int64_t, INT64_MAX
from ._runlog cimport ExpiryHeap, Int64Buffer, Pending

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


cdef void *grow(void *p, Py_ssize_t n) except NULL:
    q = PyMem_Realloc(p, max(n, 1) * sizeof(int64_t))
    if q == NULL:
        raise MemoryError()
    return q


cdef class _Replay:
    """The state of one run's replay: what the Python loop kept in locals."""
    cdef object mm, log, lru_add, lru_del
    cdef Int64Buffer ev, smp
    cdef ExpiryHeap heap
    cdef ZoneCodes zc
    cdef bint record
    cdef list tasks, t_comm, t_pid, t_tgid, t_cid, t_nid, t_pin
    cdef list c_alloc, c_free, c_fail, c_held
    cdef list s_gfp, s_order, s_mt, s_handle, s_fhandle, s_lru
    cdef list used, rss, zones, hook_list, hook_next
    cdef dict held, lru, pins
    cdef set dropped, dead
    cdef long nm, mov
    cdef int64_t seq, next_s, every, next_h

    cdef inline void set_task(self, now, long ti, handle) except *:
        # the clock, and the task and stack page_owner records (or the free's stack)
        mm = self.mm
        mm.clock_ns = now
        mm.comm = self.t_comm[ti]
        mm.pid = self.t_pid[ti]
        mm.tgid = self.t_tgid[ti]
        mm.comm_id = self.t_cid[ti]
        mm.current_handle = handle

    cdef inline void put_event(self, int64_t t, int64_t ev, int64_t pfn, int64_t o,
                               int64_t ti, int64_t si, int64_t k) except *:
        # one EV_FIELDS record
        cdef int64_t *p = self.ev.room(7)
        p[0], p[1], p[2], p[3], p[4], p[5], p[6] = t, ev, pfn, o, ti, si, k

    cdef void sample(self, int64_t ts) except *:
        cdef long zc, mt, b
        cdef list fm
        cdef int64_t *p
        for zc in range(len(self.zones)):
            z = self.zones[zc]
            fm = z.free_mt
            b = zc * self.nm
            managed = z.managed_pages
            for mt in range(self.nm):
                # one SAMPLE_FIELDS record
                p = self.smp.room(6)
                p[0], p[1], p[2], p[3], p[4], p[5] = ts, zc, mt, fm[mt], self.used[b + mt], managed

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
                    fn(now)
                    self.zc.invalidate()            # a hook may hotplug memory
                    self.hook_next[i] += p
            self.next_h = min(self.hook_next)

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
            self.set_task(e.time, e.ti, self.s_fhandle[e.si])
            # only a block of a reclaimable slot is on the log's LRU (alloc puts it there,
            # follow_migration re-keys it): the others need no dict lookup
            if self.s_lru[e.si] and e.pfn in self.lru:
                del self.lru[e.pfn]
                self.lru_del(mm, e.pfn)
            if self.pins and self.pins.pop(e.pfn, None) is not None:
                gup.unpin_user_pages(mm, (e.pfn,))
            free_pages(mm, e.pfn, e.order)
            self.used[e.k] = <long>self.used[e.k] - (1 << e.order)
            self.rss[e.ti] = <long>self.rss[e.ti] - (1 << e.order)
            self.c_free[e.ti] = <long>self.c_free[e.ti] + 1     # ti may be of an earlier run
            if self.record:
                self.put_event(e.time, C_EV_FREE, e.pfn, e.order, e.ti, e.si, e.k)

    cdef void alloc(self, int64_t t, long ti, long si, int64_t life) except *:
        mm = self.mm
        cdef long o = self.s_order[si]
        self.set_task(t, ti, self.s_handle[si])
        gfp, nid = self.s_gfp[si], self.t_nid[ti]
        cdef int64_t pfn = alloc_pages_fast(mm, gfp, o, nid)
        if pfn < 0:
            pfn = alloc_pages_slow(mm, gfp, o, nid)
            self.zc.invalidate()                # its callbacks run any code
        cdef long mt = self.s_mt[si]
        if pfn < 0:
            self.c_fail[ti] = <long>self.c_fail[ti] + 1
            if self.record:
                self.put_event(t, C_EV_FAIL, -1, o, ti, si, -1 - mt)
            return
        cdef long k = self.zc.code(pfn) * self.nm + mt
        self.used[k] = <long>self.used[k] + (1 << o)
        self.rss[ti] = <long>self.rss[ti] + (1 << o)
        self.c_alloc[ti] = <long>self.c_alloc[ti] + 1
        if life >= 0:
            self.heap.put(Pending(t + life, self.seq, pfn, o, ti, si, k))
            if self.s_lru[si]:
                self.lru[pfn] = (self.seq, ti, k, si)
                self.lru_add(mm, pfn, o, self.log)
            self.seq += 1
        else:
            self.held[pfn] = (k, ti, si)
            self.c_held[ti] = <long>self.c_held[ti] + 1
            if self.s_lru[si]:
                self.lru[pfn] = (-1, ti, k, si)
                self.lru_add(mm, pfn, o, self.log)
        if self.record:
            self.put_event(t, C_EV_ALLOC, pfn, o, ti, si, k)
        pin = self.t_pin[ti]
        if pin and mt == self.mov:
            got = gup.pin_user_pages(mm, ((pfn, o),), longterm=pin == "longterm")
            self.zc.invalidate()                # a long-term pin migrates: notifiers
            if got is None:
                self.tasks[ti]["pin_failed"] += 1
            else:
                self.pins[got[0]] = ti
                self.tasks[ti]["pinned"] += 1


def replay(mm, log, const int64_t[::1] times, const int64_t[::1] tis,
           const int64_t[::1] sis, const int64_t[::1] lifes, int64_t t0, int64_t end,
           bint record, sample_every_ns, list hook_list, Py_ssize_t chunk):
    """Play the planned events of a run (sorted by time, ties by task) from ``t0`` to
    ``end`` on ``mm``, into ``log``.  ``hook_list``: [(period_ns, fn)], checked by the
    caller.  Recorded events are flushed into the log every ``chunk`` allocations.
    Returns the per-task counts (allocs, frees, failed, held), lists by task index."""
    cdef _Replay r = _Replay()
    r.mm, r.log = mm, log
    r.tasks = log.tasks
    r.t_comm = [x["comm"] for x in r.tasks]
    r.t_pid = [x["pid"] for x in r.tasks]
    r.t_tgid = [x["tgid"] for x in r.tasks]
    r.t_cid = [x["comm_id"] for x in r.tasks]
    r.t_nid = [x["nid"] for x in r.tasks]
    r.t_pin = [x.get("pin", "") for x in r.tasks]
    cdef Py_ssize_t n_tasks = len(r.tasks)
    r.c_alloc, r.c_free, r.c_fail, r.c_held = [0] * n_tasks, [0] * n_tasks, [0] * n_tasks, [0] * n_tasks
    slots = log.slots
    r.s_gfp = [s["gfp"] for s in slots]
    r.s_order = [s["order"] for s in slots]
    r.s_mt = [s["mt"] for s in slots]
    r.s_handle = [s["handle"] for s in slots]
    r.s_fhandle = [s["free_handle"] for s in slots]
    r.s_lru = [s["lru"] for s in slots]
    r.mov = mm.profile.mt_movable
    r.pins, r.nm = log.pins, log.nr_mt
    r.used, r.heap, r.held, r.lru = log.used, log.expiry, log.held, log.lru
    r.dropped, r.dead, r.rss = log.dropped, log.dead, log.rss
    r.lru_add, r.lru_del = vmscan.lru_add, vmscan.lru_del
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

    cdef Py_ssize_t i, n = times.shape[0]
    cdef int64_t t
    cdef ExpiryHeap heap = r.heap
    cdef set dead = r.dead
    for i in range(n):
        t = times[i]
        if heap.n and heap.a[0].time <= t:
            r.free_due(t)
        r.samples_due(t)
        if r.next_h <= t:
            r.hooks_due(t)
            if heap.n and heap.a[0].time <= t:
                r.free_due(t)
        if tis[i] in dead:
            pass                        # OOM-killed: it allocates nothing more
        else:
            r.alloc(t, tis[i], sis[i], lifes[i])
        if (i + 1) % chunk == 0:
            log.flush_events()          # the recorded events: a bounded buffer
    log.flush_events()
    r.free_due(end)
    r.hooks_due(end)
    r.free_due(end)
    r.samples_due(end)
    log.flush_events()
    if r.every:
        log.last_sample_ns = r.next_s - r.every
    mm.clock_ns = end
    log.seq = r.seq
    return r.c_alloc, r.c_free, r.c_fail, r.c_held
