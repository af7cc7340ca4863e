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
import heapq

from ..kernel import gup, vmscan
from ..kernel.fastpath import alloc_pages_fast, free_pages
from ..kernel.page_alloc import alloc_pages_slow
from .events import EV_ALLOC, EV_FAIL, EV_FREE
from libc.stdint cimport int64_t, INT64_MAX

__all__ = ["replay"]

cdef int64_t C_EV_ALLOC = EV_ALLOC      # the run log's event codes (workloads.events)
cdef int64_t C_EV_FREE = EV_FREE
cdef int64_t C_EV_FAIL = EV_FAIL
cdef object heappush = heapq.heappush
cdef object heappop = heapq.heappop


cdef class _Replay:
    """The state of one run's replay: what the Python loop kept in locals."""
    cdef object mm, log, evx, lru_add, lru_del
    cdef list tasks, t_comm, t_pid, t_tgid, t_cid, t_nid, t_pin
    cdef list c_alloc, c_free, c_fail, c_held
    cdef list s_gfp, s_order, s_mt, s_handle, s_fhandle, s_lru
    cdef list used, heap, rss, zones, sec_zone, hook_list, hook_next
    cdef dict held, lru, pins, zcode
    cdef set dropped, dead
    cdef object smp
    cdef long nm, mov, shift
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

    cdef void sample(self, int64_t ts) except *:
        cdef long zc, mt, b
        cdef list fm
        for zc in range(len(self.zones)):
            z = self.zones[zc]
            fm = z.free_mt
            b = zc * self.nm
            for mt in range(self.nm):
                self.smp((ts, zc, mt, fm[mt], self.used[b + mt], z.managed_pages))

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
                    self.hook_next[i] += p
            self.next_h = min(self.hook_next)

    cdef void free_due(self, int64_t limit) except *:
        cdef list heap = self.heap
        cdef int64_t ft, pfn
        cdef long o, ti, si, k
        mm = self.mm
        while heap and <int64_t>heap[0][0] <= limit:
            ft = heap[0][0]
            self.samples_due(ft)
            if self.next_h <= ft:
                self.hooks_due(ft)
                continue                # a hook may have changed the heap
            ft_, sq, pfn_, o_, ti_, si_, k_ = heappop(heap)
            if sq in self.dropped:      # reclaimed, or freed by an OOM kill
                self.dropped.discard(sq)
                continue
            pfn, o, ti, si, k = pfn_, o_, ti_, si_, k_
            self.set_task(ft_, ti, self.s_fhandle[si])
            if pfn_ in self.lru:
                del self.lru[pfn_]
                self.lru_del(mm, pfn_)
            if self.pins and self.pins.pop(pfn_, None) is not None:
                gup.unpin_user_pages(mm, (pfn_,))
            free_pages(mm, pfn_, o_)
            self.used[k] = <long>self.used[k] - (1 << o)
            self.rss[ti] = <long>self.rss[ti] - (1 << o)
            self.c_free[ti] = <long>self.c_free[ti] + 1     # ti may be of an earlier run
            if self.evx is not None:
                self.evx((ft_, C_EV_FREE, pfn_, o_, ti_, si_, k_))

    cdef void alloc(self, int64_t t, long ti, long si, int64_t life) except *:
        mm = self.mm
        cdef long o = self.s_order[si]
        self.set_task(t, ti, self.s_handle[si])
        gfp, nid = self.s_gfp[si], self.t_nid[ti]
        cdef int64_t pfn = alloc_pages_fast(mm, gfp, o, nid)
        if pfn < 0:
            pfn = alloc_pages_slow(mm, gfp, o, nid)
        cdef long mt = self.s_mt[si]
        if pfn < 0:
            self.c_fail[ti] = <long>self.c_fail[ti] + 1
            if self.evx is not None:
                self.evx((t, C_EV_FAIL, -1, o, ti, si, -1 - mt))
            return
        z = self.sec_zone[pfn >> self.shift]
        if z is None:
            z = mm.zone_of_pfn(pfn)
        kz = self.zcode.get(z)
        if kz is None:
            kz = self.log.zone_code(z)
        cdef long k = <long>kz * self.nm + mt
        self.used[k] = <long>self.used[k] + (1 << o)
        self.rss[ti] = <long>self.rss[ti] + (1 << o)
        self.c_alloc[ti] = <long>self.c_alloc[ti] + 1
        if life >= 0:
            heappush(self.heap, (t + life, self.seq, pfn, o, ti, si, k))
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
        if self.evx is not None:
            self.evx((t, C_EV_ALLOC, pfn, o, ti, si, k))
        pin = self.t_pin[ti]
        if pin and mt == self.mov:
            got = gup.pin_user_pages(mm, ((pfn, o),), longterm=pin == "longterm")
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
    r.used, r.heap, r.held, r.lru = log.used, log.heap, log.held, log.lru
    r.dropped, r.dead, r.rss = log.dropped, log.dead, log.rss
    r.lru_add, r.lru_del = vmscan.lru_add, vmscan.lru_del
    r.evx = log.ev_buf.extend if record else None
    r.sec_zone, r.shift = mm.section_zone, mm.section_shift
    r.zcode = log._zone_code
    r.zones = list(log.zones)
    r.smp = log.samples.extend
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
    cdef list heap = r.heap
    cdef set dead = r.dead
    for i in range(n):
        t = times[i]
        if heap and <int64_t>heap[0][0] <= t:
            r.free_due(t)
        r.samples_due(t)
        if r.next_h <= t:
            r.hooks_due(t)
            if heap and <int64_t>heap[0][0] <= t:
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
