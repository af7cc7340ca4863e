# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The workload runner's event loop, compiled (Cython; docs/compiled-core.md).

``replay(...)`` plays a run's planned allocations (times, tasks, slots, lifetimes:
``pextlab.workloads.runner.run`` plans them) in time order, and between them the
frees that fall due (the expiry heap), the free/used samples and the per-step hooks.
Every allocation goes to the kernel's compiled fast path (``alloc_pages_fast``,
called as C: kernel/_fastpath.pxd), then, when that fails, to the slow path
(``alloc_pages_slow``): together what ``__alloc_pages`` does.  Frees and the LRU's
bookkeeping call the kernel's C functions too (``free_pages``, vmscan's ``lru_add``
and ``lru_del``), with every check the kernel does.  The order of everything --
samples, hooks, frees, the allocation -- is the Python loop's it replaced, so the
frames are the same.
``pextlab.workloads.runner`` calls it; nothing else should.
"""
from ..errors import PextlabError
from ..kernel import gup
from ..kernel.page_alloc import alloc_pages_slow
from .events import EV_ALLOC, EV_FAIL, EV_FREE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from libc.stdint cimport int64_t, INT64_MAX
from ._runlog cimport ExpiryHeap, Int64Buffer, Pending
from ..kernel._fastpath cimport c_alloc_pages_fast, c_free_pages
from ..kernel._geometry cimport Geometry
from ..kernel._gup cimport c_longterm_pinnable, c_pin, c_unpin
from ..kernel._pfn_table cimport PfnTable
from ..kernel._mmzone cimport Zone
from ..kernel._state cimport MMCore
from ..kernel._vmscan cimport c_lru_add, c_lru_del

__all__ = ["replay"]

cdef int64_t C_EV_ALLOC = EV_ALLOC      # the run log's event codes (workloads.events)
cdef int64_t C_EV_FREE = EV_FREE
cdef int64_t C_EV_FAIL = EV_FAIL

cdef class ZoneCodes:
    """The log's zone code of a pfn's zone, ``log.zone_code(mm.zone_of_pfn(pfn))``,
    without a Python call per pfn.

    page_zone() is ``Geometry.zone_of`` (kernel/_geometry.pyx), in C.  For a section
    inside one zone (``section_zone[nr]``) the code is kept per section with the zone
    it is of, and used while ``section_zone[nr]`` is still that zone: hotplug may
    change a section's zone, never a zone's code (the log only adds codes), so there
    is nothing to invalidate.  A zone is registered with the log (``log.zone_code``)
    only when a pfn is found in it, as before.
    """
    cdef Geometry g
    cdef object log
    cdef dict zcode
    cdef list sec_zone, memo_zone        # per section: its zone now, the zone memo_code is of
    cdef int64_t *memo_code

    def __cinit__(self):
        self.memo_code = NULL

    def __dealloc__(self):
        PyMem_Free(self.memo_code)

    cdef void setup(self, MMCore mm, log) except *:
        self.g, self.log, self.zcode = mm.geometry, log, log._zone_code
        self.sec_zone = self.g.section_zone       # never replaced, nor resized
        self.memo_zone = [None] * len(self.sec_zone)
        self.memo_code = <int64_t *>grow(NULL, len(self.sec_zone))

    cdef int64_t code_of(self, zone) except? -9:
        kz = self.zcode.get(zone)
        return self.log.zone_code(zone) if kz is None else kz

    cdef int64_t code(self, int64_t pfn) except? -9:
        cdef Py_ssize_t nr = pfn >> self.g.shift
        z = self.sec_zone[nr]
        if z is None:                           # a section shared by zones or nodes
            return self.code_of(self.g.zone_of(pfn))
        if z is not self.memo_zone[nr]:
            self.memo_code[nr] = self.code_of(z)
            self.memo_zone[nr] = z
        return self.memo_code[nr]


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
    cdef list tasks, t_comm, t_pin, zones, hook_list, hook_next
    cdef PfnTable held, lru                # the log's BlockTables
    cdef dict pins
    cdef set dropped, dead
    cdef long nm, mov
    cdef int64_t seq, next_s, every, next_h
    cdef Py_ssize_t n_tasks, n_slots, n_used, n_rss
    cdef int64_t *t_pid                 # per task: pid, tgid, comm_id, node
    cdef int64_t *t_tgid
    cdef int64_t *t_cid
    cdef int64_t *t_nid
    cdef int64_t *s_gfp                 # per slot: gfp, order, migratetype, stacks, on the LRU
    cdef int64_t *s_order
    cdef int64_t *s_mt
    cdef int64_t *s_handle
    cdef int64_t *s_fhandle
    cdef int64_t *s_lru
    cdef int64_t *count                 # per task: allocs, frees, failed, held (this run)
    cdef int64_t *used                  # log.used and log.rss while the loop owns them
    cdef int64_t *rss

    def __cinit__(self):
        self.t_pid = self.t_tgid = self.t_cid = self.t_nid = NULL
        self.s_gfp = self.s_order = self.s_mt = self.s_handle = self.s_fhandle = self.s_lru = NULL
        self.count = self.used = self.rss = NULL

    def __dealloc__(self):
        PyMem_Free(self.t_pid)
        PyMem_Free(self.t_tgid)
        PyMem_Free(self.t_cid)
        PyMem_Free(self.t_nid)
        PyMem_Free(self.s_gfp)
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
        if self.n_tasks >= 1 << 31 or self.n_slots >= 1 << 31:
            raise PextlabError(f"a run log of {self.n_tasks} tasks and {self.n_slots} stack "
                               "slots: a recorded event packs each in 31 bits")
        self.t_comm = [x["comm"] for x in tasks]
        self.t_pin = [x.get("pin", "") for x in tasks]
        self.t_pid = <int64_t *>grow(NULL, self.n_tasks)
        self.t_tgid = <int64_t *>grow(NULL, self.n_tasks)
        self.t_cid = <int64_t *>grow(NULL, self.n_tasks)
        self.t_nid = <int64_t *>grow(NULL, self.n_tasks)
        self.count = <int64_t *>grow(NULL, 4 * self.n_tasks)
        for i in range(self.n_tasks):
            x = tasks[i]
            self.t_pid[i], self.t_tgid[i], self.t_cid[i] = x["pid"], x["tgid"], x["comm_id"]
            self.t_nid[i] = x["nid"]            # run() checked it against mm.zonelists
            self.count[4 * i] = self.count[4 * i + 1] = self.count[4 * i + 2] = self.count[4 * i + 3] = 0
        self.s_gfp = <int64_t *>grow(NULL, self.n_slots)
        self.s_order = <int64_t *>grow(NULL, self.n_slots)
        self.s_mt = <int64_t *>grow(NULL, self.n_slots)
        self.s_handle = <int64_t *>grow(NULL, self.n_slots)
        self.s_fhandle = <int64_t *>grow(NULL, self.n_slots)
        self.s_lru = <int64_t *>grow(NULL, self.n_slots)
        for i in range(self.n_slots):
            s = slots[i]
            self.s_gfp[i], self.s_order[i], self.s_mt[i] = s["gfp"], s["order"], s["mt"]
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

    # --- the records -----------------------------------------------------------------------
    cdef void sample(self, int64_t ts) except *:
        cdef long zc, mt, b
        cdef int64_t *p
        cdef Zone z
        for zc in range(len(self.zones)):
            z = <Zone?>self.zones[zc]
            b = zc * self.nm
            for mt in range(self.nm):
                # one SAMPLE_FIELDS record
                p = self.smp.room(6)
                p[0], p[1], p[2], p[3], p[4], p[5] = ts, zc, mt, z.freemt.v[mt], self.used[b + mt], z.managed_pages

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
                    self.hook_next[i] += p
            self.next_h = min(self.hook_next)

    # --- the events ------------------------------------------------------------------------
    cdef void free_due(self, int64_t limit) except *:
        cdef ExpiryHeap heap = self.heap
        cdef Pending e
        cdef int64_t ft
        cdef MMCore mm = self.mm
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
            # only a block of a reclaimable slot is on the log's LRU (alloc puts it there,
            # follow_migration re-keys it): the others need no lookup
            if self.s_lru[e.si] and self.lru.discard(e.pfn):
                c_lru_del(mm, e.pfn)
            # only a pinning task's blocks are pinned (alloc pins them, follow_migration
            # re-keys them; reclaim and migration leave a pinned block where it is)
            if self.pins and self.t_pin[e.ti] and self.pins.pop(e.pfn, None) is not None:
                c_unpin(mm, e.pfn)              # unpin_user_pages, as C
            c_free_pages(mm, e.pfn, e.order)
            self.used[e.k] -= 1 << e.order
            self.rss[e.ti] -= 1 << e.order
            self.count[4 * e.ti + 1] += 1          # ti may be of an earlier run
            if self.record:
                self.ev.put_event(e.time, C_EV_FREE, e.pfn, e.order, e.ti, e.si, e.k)

    cdef inline void on_lru(self, int64_t pfn, long o, int64_t seq, Py_ssize_t ti,
                            Py_ssize_t k, Py_ssize_t si) except *:
        # log.lru: (seq of the pending free or -1 if held, task, zone_mt, slot); then the
        # kernel's LRU (mm/swap.c folio_add_lru: the newest at the tail)
        cdef int64_t *r = self.lru.put(pfn)
        r[0], r[1], r[2], r[3] = seq, ti, k, si
        c_lru_add(self.mm, pfn, o, self.log)

    cdef void alloc(self, int64_t t, Py_ssize_t ti, Py_ssize_t si, int64_t life) except *:
        cdef MMCore mm = self.mm
        cdef long o = self.s_order[si]
        self.set_task(t, ti, self.s_handle[si])
        cdef long gfp = self.s_gfp[si]
        cdef long nid = self.t_nid[ti]
        cdef int64_t pfn = c_alloc_pages_fast(mm, gfp, o, nid)
        if pfn < 0:
            self.push()                         # reclaim and the OOM killer read them
            pfn = alloc_pages_slow(mm, gfp, o, nid)
            self.pull()
        cdef long mt = self.s_mt[si]
        if pfn < 0:
            self.count[4 * ti + 2] += 1
            if self.record:
                self.ev.put_event(t, C_EV_FAIL, -1, o, ti, si, -1 - mt)
            return
        cdef Py_ssize_t k = self.zc.code(pfn) * self.nm + mt
        if k >= self.n_used:
            self.used_grew()
        self.used[k] += 1 << o
        self.rss[ti] += 1 << o
        self.count[4 * ti] += 1
        cdef int64_t *r
        if life >= 0:
            self.heap.put(Pending(t + life, self.seq, pfn, o, ti, si, k))
            if self.s_lru[si]:
                self.on_lru(pfn, o, self.seq, ti, k, si)
            self.seq += 1
        else:
            r = self.held.put(pfn)              # log.held: (zone_mt, task, slot)
            r[0], r[1], r[2] = k, ti, si
            self.count[4 * ti + 3] += 1
            if self.s_lru[si]:
                self.on_lru(pfn, o, -1, ti, k, si)
        if self.record:
            self.ev.put_event(t, C_EV_ALLOC, pfn, o, ti, si, k)
        pin = self.t_pin[ti]
        if pin and mt == self.mov:
            # pin_user_pages: a short-term pin, or a long-term one of a block that may
            # stay where it is, is taken here as C; a long-term pin of a block that must
            # move first (check_and_migrate_movable_pages) goes through gup
            if pin != "longterm" or c_longterm_pinnable(mm, pfn):
                c_pin(mm, pfn)
                got = (pfn,)
            else:
                self.push()                     # the migration re-keys them: _rezone
                got = gup.pin_user_pages(mm, ((pfn, o),), longterm=True)
                self.pull()
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
    r.zc.setup(r.mm, log)
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
