"""Run a workload on the simulated kernel: an event-driven simulation in simulated ns.

Design (simpy's spirit, without coroutines: the events are known in advance)

1. *Plan*, with numpy and one seeded ``numpy.random.Generator``: for each task
   in order, its Poisson arrival times, the catalogue stack of each event, the
   lifetimes and which events leak.  Tasks draw in a fixed order, so the same
   workload, machine and seed give the same plan, bit for bit.
2. *Replay* the merged arrivals in time order.  Before each allocation the
   current task (``mm.comm/pid/tgid``), the clock and ``mm.current_handle``
   (the stack's depot handle) are set, exactly what page_owner records; then
   ``__alloc_pages``.  A block with a lifetime goes on a heap keyed by its
   free time; every free due before the next allocation is done first, in
   time order, as the freeing task with its kind's free stack.  Leaked and
   held blocks never enter the heap.  A failed allocation (-1) is counted,
   never raised.
3. *Record* (optional) each alloc/free/fail as 7 integers in a growable
   ``array('q')``, and every ``sample_every_ns`` the free pages of each
   (zone, migratetype) free list and the workload's live pages per (zone,
   gfp migratetype).  The loop writes both into C buffers
   (``workloads/_runlog.pyx``) that :meth:`RunLog.flush_events` moves into the
   arrays: no Python object per event.

State that outlives one ``run`` -- the pending frees, pids per comm, the
recorded arrays -- lives in :class:`RunLog`, so a second run continues the
first: blocks still alive are freed when their time comes.

Pages move under the workload: compaction and memory offlining migrate
movable blocks to new pfns (mm/migrate.c ``migrate_pages``).  The kernel
re-points the owner's mappings (``remove_migration_ptes``); here the RunLog
does it for itself: it registers :meth:`RunLog.follow_migration` on
``mm.migrate_notifiers`` when it is created, and re-points its pending frees
and held blocks -- including the zone their pages count in, since offlining
moves pages to another zone or node.  Freeing a stale pfn would free memory
the workload no longer owns.  The follower is a bound method, so a deep copy
of the machine (a snapshot) copies the log with it and the copy follows its
own migrations.

Memory pressure is the kernel's business.  Blocks of the reclaimable kinds
(``RECLAIMABLE_KINDS``: clean page cache, reclaimable slab) go on the kernel's
LRU when allocated (``vmscan.lru_add``) and leave it when the workload frees
them; kswapd and direct reclaim take the oldest back and tell the log
(:meth:`RunLog.reclaimed`), which forgets the block so it never frees it.
Anonymous memory and every other kind are never reclaimed (no swap).  Each task
(one per pid) is registered with the OOM killer (``mm.oom_tasks``, an
:class:`OomTask`); a killed task's blocks are freed by the kill, as the task,
and the task allocates nothing more.  The log only ever frees blocks it holds.

Pinning tasks (``Task.pin``, :func:`pextlab.workloads.pin`) pin each user page
they allocate right after faulting it in (:func:`pextlab.kernel.gup.pin_user_pages`,
long-term or short-term) and unpin it before freeing it; their page-table pages
are not pinned.  A long-term pin may move the page first (out of CMA and
ZONE_MOVABLE); the log follows that migration like any other.  A pin that fails
(no page to migrate to) leaves the page allocated, unpinned, and is counted.

Honest limits: "used per migratetype" counts live workload blocks by their gfp
migratetype, not by the pageblock they landed in; recorded events keep the
pfn each event happened at (a block freed after a migration is freed at its
new pfn).  This module imports numpy and the kernel model only; frames are
built by :mod:`pextlab.workloads.machine_api`.
"""
from __future__ import annotations

import gc
from array import array

import numpy as np

from ..errors import PextlabError
from ..kernel import gup, page_alloc, vmscan
from ..kernel.gfp import gfp_migratetype
from .catalogue import Catalogue, load_catalogue
from .events import EV_ALLOC, EV_FAIL, EV_FIELDS, EV_FREE, EVENT_NAMES, SAMPLE_FIELDS  # noqa: F401
from .events import EV_WORDS, unpack_events
from .spec import Task, Workload

# compiled: workloads/_replay.pyx, _runlog.pyx (the pextlab package checks that they are built)
from ._replay import replay
from ._runlog import BlockTable, ExpiryHeap, Int64Buffer

__all__ = ["RunLog", "OomTask", "run", "RECLAIMABLE_KINDS", "EV_ALLOC", "EV_FREE", "EV_FAIL", "EVENT_NAMES", "EV_FIELDS",
           "SAMPLE_FIELDS"]

# module-level aliases: inside a class body the dunder name would be mangled
_alloc = page_alloc.__alloc_pages
_free = page_alloc.free_pages

#: planned events replayed per chunk (the recorded ones leave the buffer after each)
_CHUNK = 1 << 16
#: catalogue kinds whose blocks reclaim can take back without swap
RECLAIMABLE_KINDS = ("page_cache", "slab_reclaimable")


class OomTask:
    """One process of a workload as the OOM killer sees it (an ``mm.oom_tasks`` entry):
    the log's task indices that ran as this pid."""

    def __init__(self, log: "RunLog", pid: int, comm: str):
        self.log = log
        self.pid = pid
        self.comm = comm
        self.tis: list[int] = []

    def rss_pages(self) -> int:
        rss = self.log.rss
        return sum(rss[ti] for ti in self.tis)

    def oom_kill(self) -> int:
        return self.log.kill(self.tis)


class RunLog:
    """Everything workloads did on one machine, across runs.

    Created for a kernel state ``mm``, it registers :meth:`follow_migration` on
    ``mm.migrate_notifiers``.
    """

    def __init__(self, mm, catalogue: Catalogue | None = None):
        self.mm = mm
        self.catalogue = catalogue or load_catalogue()
        self.nr_mt = len(mm.profile.migratetype_names)
        # tasks (one entry per task per run)
        self.tasks: list[dict] = []
        self.pids: dict[str, tuple[int, int]] = {}
        self.next_pid = 1000
        # stack slots: (catalogue id, gfp, order) -> index
        self.slots: list[dict] = []
        self._slot_index: dict[tuple, int] = {}
        # zones seen, by identity
        self.zones: list = []
        self._zone_code: dict = {}
        self.used: list[int] = []
        # pending frees (time, seq, pfn, order, task, slot, zone_mt) in C (``heap`` lists
        # them), held blocks pfn -> (zone_mt, task, slot), and the records; the per-block
        # records are C tables (a dict of tuples to Python code, in insertion order)
        self.expiry = ExpiryHeap()
        self.held = BlockTable(3)
        # blocks on the kernel's LRU: pfn -> (seq of the pending free or -1 if held,
        # task, zone_mt, slot); sequence numbers of pending frees reclaim or a kill did
        self.lru = BlockTable(4)
        self.dropped: set[int] = set()
        # pinned blocks the log holds: pfn -> task index (gup pins, dropped before the free)
        self.pins: dict[int, int] = {}
        # live pages per task index; OOM-killed task indices; the OOM killer's view
        self.rss: list[int] = []
        self.dead: set[int] = set()
        self.oom: dict[int, OomTask] = {}
        self.recording = False
        self.seq = 0
        self.events = array("q")              # packed: EV_WORDS int64 per event (events.py)
        self.samples = array("q")
        # events and samples not yet in ``events`` / ``samples``, flat, in C buffers the
        # compiled loop appends to without a Python object (flush_events moves them)
        self.ev_buf = Int64Buffer()
        self.smp_buf = Int64Buffer()
        self.runs: list[dict] = []
        self.last_sample_ns = -1
        self._free_handles: dict[str, int] = {}
        mm.migrate_notifiers.append(self.follow_migration)

    @property
    def heap(self) -> list[tuple]:
        """The pending frees as (time, seq, pfn, order, task, slot, zone_mt) tuples, in
        heap order (``heap[0]`` is the next due): a copy, for reading."""
        return list(self.expiry)

    # --- migration ------------------------------------------------------------------------
    def follow_migration(self, moved, reason: str) -> None:
        """A ``mm.migrate_notifiers`` follower: re-point pending frees and held blocks.

        ``moved`` is [(old_pfn, new_pfn, order)]; a block that moved to another
        zone counts its pages there from now on.  A block on the LRU goes back on
        it at its new pfn, as the newest.
        """
        remap = {old: new for old, new, _ in moved}
        pins = self.pins
        if pins:
            for old, new, _ in moved:
                if old in pins:
                    pins[new] = pins.pop(old)
        held = self.held
        if held:
            for old, new, order in moved:
                h = held.pop(old, None)
                if h is not None:
                    held[new] = (self._rezone(h[0], new, order), h[1], h[2])
        # a pending free reclaim or a kill already dropped is no longer the log's: its
        # pages left ``used`` then, and its pfn may now be another block's
        self.expiry.repoint(remap, self.dropped, self._rezone)
        lru = self.lru
        if lru:
            mm = self.mm
            for old, new, order in moved:
                x = lru.pop(old, None)
                if x is not None:
                    lru[new] = (x[0], x[1], self._zone_key(x[2], new), x[3])
                    vmscan.lru_del(mm, old)
                    vmscan.lru_add(mm, new, order, self)

    def _zone_key(self, k: int, new: int) -> int:
        """The zone_mt key of a block counted under ``k`` once it lives at ``new``."""
        nm = self.nr_mt
        zn = self.mm.zone_of_pfn(new)
        if self.zones[k // nm] is zn:
            return k
        return self.zone_code(zn) * nm + k % nm

    def _rezone(self, k: int, new: int, order: int) -> int:
        """The zone_mt key of a block counted under ``k`` that now lives at ``new``
        (its pages move to the new zone's ``used`` counter)."""
        k2 = self._zone_key(k, new)
        if k2 != k:
            self.used[k] -= 1 << order
            self.used[k2] += 1 << order
        return k2

    # --- reclaim and the OOM killer --------------------------------------------------------
    def reclaimed(self, pfn: int, order: int) -> None:
        """The kernel's LRU holder callback: reclaim took the block at ``pfn`` (it frees
        it); the log forgets it -- the pending free is dropped, a held block let go."""
        seq, ti, k, si = self.lru.pop(pfn)
        if seq < 0:
            del self.held[pfn]
        else:
            self.dropped.add(seq)
        self.used[k] -= 1 << order
        self.rss[ti] -= 1 << order
        d = self.tasks[ti]
        d["frees"] += 1
        d["reclaimed"] += 1
        if self.recording:
            self.ev_buf.add_event(self.mm.clock_ns, EV_FREE, pfn, order, ti, si, k)

    def kill(self, tis) -> int:
        """Free every block of the task indices ``tis`` (an OOM kill: exit_mmap, as the
        task, with each kind's free stack); they allocate nothing more.  Returns pages."""
        mm = self.mm
        tis = set(tis)
        self.dead |= tis
        for ti in tis:
            self.tasks[ti]["oom_killed"] = 1
        saved = (mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle)
        victims = self.expiry.remove_tasks(tis, self.dropped)
        slots = self.slots
        victims += [(pfn, slots[si]["order"], ti, si, k)
                    for pfn, (k, ti, si) in self.held.items() if ti in tis]
        freed = 0
        try:
            for pfn, o, ti, si, k in victims:
                self.held.pop(pfn, None)
                if self.lru.pop(pfn, None) is not None:
                    vmscan.lru_del(mm, pfn)
                d = self.tasks[ti]
                mm.comm, mm.pid, mm.tgid, mm.comm_id = d["comm"], d["pid"], d["tgid"], d["comm_id"]
                mm.current_handle = slots[si]["free_handle"]
                if self.pins.pop(pfn, None) is not None:
                    gup.unpin_user_pages(mm, (pfn,))
                _free(mm, pfn, o)
                self.used[k] -= 1 << o
                self.rss[ti] -= 1 << o
                d["frees"] += 1
                freed += 1 << o
                if self.recording:
                    self.ev_buf.add_event(mm.clock_ns, EV_FREE, pfn, o, ti, si, k)
        finally:
            mm.comm, mm.pid, mm.tgid, mm.comm_id, mm.current_handle = saved
        return freed

    # --- registries -----------------------------------------------------------------------
    def zone_code(self, zone) -> int:
        c = self._zone_code.get(zone)
        if c is None:
            c = len(self.zones)
            self._zone_code[zone] = c
            self.zones.append(zone)
            self.used.extend([0] * self.nr_mt)
        return c

    def _free_handle(self, kind: str) -> int:
        po = self.mm.page_owner
        if po is None:
            return 0
        h = self._free_handles.get(kind)
        if h is None:
            frames = self.catalogue.free_stacks.get(kind, self.catalogue.free_stacks["other"])
            h = self._free_handles[kind] = po.depot.stack_depot_save(frames)
        return h

    def slot(self, entry, gfp: int, order: int) -> int:
        key = (entry.id, gfp, order)
        s = self._slot_index.get(key)
        if s is None:
            mm = self.mm
            po = mm.page_owner
            s = len(self.slots)
            self._slot_index[key] = s
            self.slots.append({
                "stack_id": entry.id, "kind": entry.kind, "gfp": gfp, "order": order,
                "mt": gfp_migratetype(gfp, mm.profile, mm.mobility_grouping),
                "handle": po.depot.stack_depot_save(entry.frames) if po is not None else 0,
                "lru": entry.kind in RECLAIMABLE_KINDS,
                "free_handle": self._free_handle(entry.kind),
                "frames": entry.frames})
        return s

    def register_task(self, t: Task, run_idx: int, nid: int) -> int:
        mm = self.mm
        if t.pid is not None:
            pid, tgid = t.pid, t.pid if t.tgid is None else t.tgid
        elif t.comm in self.pids and not self._killed(self.pids[t.comm][0]):
            pid, tgid = self.pids[t.comm]
        else:                          # a new comm, or one whose process was OOM-killed
            pid = self.next_pid
            self.next_pid += 1
            tgid = pid if t.tgid is None else t.tgid
            self.pids[t.comm] = (pid, tgid)
        self.pids.setdefault(t.comm, (pid, tgid))
        comm_id = mm.page_owner.records.comm_id(t.comm) if mm.page_owner is not None else 0
        self.tasks.append({"run": run_idx, "comm": t.comm, "pid": pid, "tgid": tgid,
                           "kind": t.kind, "label": t.label, "nid": nid, "comm_id": comm_id,
                           "allocs": 0, "frees": 0, "failed": 0, "held": 0, "reclaimed": 0,
                           "oom_killed": 0, "pin": t.pin, "pinned": 0, "pin_failed": 0})
        self.rss.append(0)
        ti = len(self.tasks) - 1
        o = self.oom.get(pid)
        if o is None or self._killed(pid):
            # a new process (a killed pid that runs again is a new one)
            o = self.oom[pid] = OomTask(self, pid, t.comm)
            mm.oom_tasks[pid] = o
        o.tis.append(ti)
        return ti

    def _killed(self, pid: int) -> bool:
        o = self.oom.get(pid)
        return o is not None and not self.dead.isdisjoint(o.tis)

    def flush_events(self) -> None:
        """Move the buffered events and samples into ``events`` and ``samples``."""
        self.ev_buf.flush_into(self.events)
        self.smp_buf.flush_into(self.samples)

    def nr_events(self) -> int:
        self.flush_events()
        return len(self.events) // EV_WORDS

    def events_np(self) -> np.ndarray:
        """Every recorded event as an (n, 7) int64 array of ``EV_FIELDS`` (a new array:
        ``events`` holds them packed, ``EV_WORDS`` words each)."""
        self.flush_events()
        return unpack_events(np.frombuffer(self.events, dtype=np.int64))

    def samples_np(self) -> np.ndarray:
        self.smp_buf.flush_into(self.samples)   # a hook reading them during a run
        return np.frombuffer(self.samples, dtype=np.int64).reshape(-1, len(SAMPLE_FIELDS))


# --- planning -----------------------------------------------------------------------------------

def _entries(cat: Catalogue, t: Task):
    es = cat.entries(t.kind)
    if t.stacks:
        es = [cat[s] for s in t.stacks]
        bad = [e.id for e in es if e.kind != t.kind]
        if bad:
            raise PextlabError(f"{t.comm}: stacks {bad} are not of kind {t.kind!r}")
    if t.order is not None:
        same = [e for e in es if e.order == t.order]
        es = same or es
    return es


def _arrivals(rng, t: Task, lo: int, hi: int) -> tuple[np.ndarray, int]:
    """Absolute arrival times in [lo, hi) and the number of events planned (before cut)."""
    scale = 1e9 / t.rate
    if t.count is not None:
        n = t.count
        times = lo + np.cumsum(rng.exponential(scale, n))
    else:
        expected = max(hi - lo, 0) / scale
        n = int(expected + 6 * expected ** 0.5 + 16)
        times = lo + np.cumsum(rng.exponential(scale, n))
        while len(times) and times[-1] < hi:
            more = times[-1] + np.cumsum(rng.exponential(scale, n))
            times = np.concatenate([times, more])
        n = len(times)
    return times.astype(np.int64), n


def _lifetimes(rng, t: Task, n: int) -> np.ndarray:
    if t.lifetime_ns is None:
        return np.full(n, -1, dtype=np.int64)
    m = float(t.lifetime_ns)
    if t.lifetime_dist == "exp":
        life = rng.exponential(m, n)
    elif t.lifetime_dist == "lognormal":
        life = m * np.exp(t.lifetime_sigma * rng.standard_normal(n))
    else:
        life = np.full(n, m)
    return life.astype(np.int64)


def _plan_task(rng, cat: Catalogue, log: RunLog, t: Task, lo: int, hi: int):
    """(times, slots, lifetimes) of one task's blocks, batch-expanded, in [lo, hi)."""
    es = _entries(cat, t)
    slots = np.array([log.slot(e, e.gfp_mask if t.gfp is None else t.gfp,
                               e.order if t.order is None else t.order) for e in es], dtype=np.int64)
    w = np.array([max(e.observed_blocks, 1) for e in es], dtype=np.float64)
    times, n = _arrivals(rng, t, lo, hi)
    pick = rng.choice(len(es), size=n, p=w / w.sum()) if len(es) > 1 else np.zeros(n, np.int64)
    life = _lifetimes(rng, t, n)
    if t.leak > 0:
        if t.count is not None:
            k = int(round(t.leak * n))
            leaked = np.zeros(n, dtype=bool)
            leaked[rng.choice(n, size=k, replace=False)] = True
        else:
            leaked = rng.random(n) < t.leak
        life[leaked] = -1
    keep = times < hi
    times, pick, life = times[keep], pick[keep], life[keep]
    if t.batch > 1:
        times, pick, life = (np.repeat(a, t.batch) for a in (times, pick, life))
    return times, slots[pick], life


# --- the run ------------------------------------------------------------------------------------

def run(mm, workload, duration_ns: int, rng: np.random.Generator, record: bool = False,
        sample_every_ns: int | None = None, log: RunLog | None = None,
        hooks=()) -> RunLog:
    """Run ``workload`` on ``mm`` for ``duration_ns`` simulated ns from ``mm.clock_ns``.

    Parameters
    ----------
    mm : pextlab.kernel.state.MM
    workload : Workload or Task
    duration_ns : int
    rng : numpy.random.Generator
        The only source of randomness.
    record : bool
        Keep every alloc/free/fail in ``log.events``.
    sample_every_ns : int, optional
        Sample free/used pages per (zone, migratetype) at the run's start, then
        every ``sample_every_ns`` up to and including the end.
    log : RunLog, optional
        The machine's log to continue (a new one otherwise).
    hooks : sequence of (period_ns, fn)
        Per-step hooks: ``fn(t)`` is called at every multiple ``t`` of ``period_ns``
        in (start, end], in time order with the workload's events (before the
        events at ``t``).  What runs beside the workload -- a trace reader --
        registers here; a hook may allocate (it sets its own task first).

    Returns
    -------
    RunLog
        ``log.runs[-1]`` describes this run (``tasks`` = its task indices).
    """
    if isinstance(workload, Task):
        workload = Workload((workload,))
    if not isinstance(workload, Workload):
        raise PextlabError(f"run() takes a Workload or Task, got {type(workload).__name__}")
    if duration_ns < 0:
        raise PextlabError("duration must be >= 0")
    if sample_every_ns is not None and sample_every_ns <= 0:
        raise PextlabError("sample interval must be > 0")
    log = log if log is not None else RunLog(mm)
    cat = log.catalogue
    t0 = int(mm.clock_ns)
    end = t0 + int(duration_ns)
    run_idx = len(log.runs)
    for z in mm.populated_zones():
        log.zone_code(z)
    nodes = sorted({z.nid for z in mm.populated_zones() if z.managed_pages})

    # --- plan --------------------------------------------------------------------------------
    parts_t, parts_ti, parts_si, parts_life = [], [], [], []
    for i, t in enumerate(workload.tasks):
        nid = t.nid if t.nid is not None else nodes[i % len(nodes)]
        if nid not in mm.zonelists:
            raise PextlabError(f"{t.comm}: node {nid} does not exist (nodes: {sorted(mm.zonelists)})")
        ti = log.register_task(t, run_idx, nid)
        lo = t0 + t.start_ns
        hi = end if t.stop_ns is None else min(end, t0 + t.stop_ns)
        times, slots, life = _plan_task(rng, cat, log, t, lo, max(lo, hi))
        parts_t.append(times)
        parts_ti.append(np.full(len(times), ti, dtype=np.int64))
        parts_si.append(slots)
        parts_life.append(life)
    if parts_t:
        times = np.concatenate(parts_t)
        tis = np.concatenate(parts_ti)
        order = np.lexsort((tis, times))          # by time, ties by task (stable within)
        times, tis = times[order], tis[order]
        sis = np.concatenate(parts_si)[order]
        lifes = np.concatenate(parts_life)[order]
    else:
        times = tis = sis = lifes = np.zeros(0, np.int64)

    # --- replay (compiled: workloads/_replay.pyx) ---------------------------------------------
    hook_list = [(int(p), fn) for p, fn in hooks]
    if any(p <= 0 for p, _ in hook_list):
        raise PextlabError("a step hook's period must be > 0 ns")
    log.recording = bool(record)
    # page_owner's record table is not sized for the run's allocations up front: it
    # grows as it fills (moving, not copying, its rows) and first collects the rows no
    # page points at any more (PageOwner.make_room), so a long run's records stay
    # within the pages, as the kernel's do in page_ext
    times, tis, sis, lifes = (np.ascontiguousarray(a, dtype=np.int64)
                              for a in (times, tis, sis, lifes))
    # Python's cyclic collector is paused during the replay, as during the fragger's
    # fill: the loop makes no reference cycles, but a machine dropped earlier in the
    # process (a notebook's previous boot) is garbage the collector walked from inside
    # the loop -- the fourth 60 s run in one process took 0.90 s instead of 0.50.
    # Nothing the simulation computes depends on when it collects.
    paused = gc.isenabled()
    gc.disable()
    try:
        c_alloc, c_free, c_fail, c_held = replay(
            mm, log, times, tis, sis, lifes, t0, end, bool(record),
            None if sample_every_ns is None else int(sample_every_ns), hook_list, _CHUNK)
    finally:
        if paused:
            gc.enable()
    tasks = log.tasks
    n_tasks = len(tasks)
    for ti in range(n_tasks):
        d = tasks[ti]
        d["allocs"] += c_alloc[ti]
        d["frees"] += c_free[ti]
        d["failed"] += c_fail[ti]
        d["held"] += c_held[ti]
    first = n_tasks - len(workload.tasks)
    log.runs.append({"run": run_idx, "name": workload.name, "start_ns": t0, "end_ns": end,
                     "tasks": list(range(first, n_tasks)), "recorded": bool(record),
                     "workload": workload.to_dict()})
    return log
