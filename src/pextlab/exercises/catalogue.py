"""The built-in exercises, and the registry a teacher adds to (:func:`register`).

Every exercise is an :class:`~pextlab.exercises.spec.ExerciseSpec` whose
``build(seed, rng)`` draws the seed's variant: the culprit's name, its stack
(from the real 6.12 stacks of :mod:`pextlab.workloads.catalogue`), its rate,
node and timing, and the decoys.  Machines are small (512 MiB, 1 GiB for the
NUMA one) and runs short, so one exercise is made in about a second.

=========================  =====  ==================================================
name                       level  the trap
=========================  =====  ==================================================
plain-leak                 1      none: the biggest grower is the leak
leak-beside-hog            2      a bigger owner that does not grow
worker-pool-stack          2      one comm, many pids; only one stack leaks
kernel-thread-leak         2      the leak is in a kernel thread (slab, vmalloc)
numa-node-leak             2      the leak is on one node of two
high-order-leak            2      few blocks, many pages (order 3 or THP-sized)
is-it-a-leak               2      a false alarm: reclaimable cache, or a hog by design
partial-leak               2      a batch job that freed most but not all
slow-leak-under-churn      3      a churner is bigger in every dump; two dumps tell
compaction-moved-leak      3      compaction moved the leaked pages (new pfns)
v3.19-stacks-only          3      the 3.19 format: no pid, comm or timestamp
=========================  =====  ==================================================

>>> df = catalogue()
>>> int(df["level"].nunique()), len(df) >= 10
(3, True)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import workloads as W
from ..errors import PextlabError
from ..workloads.catalogue import load_catalogue
from .spec import CULPRIT, Compact, Dump, ExerciseSpec, Run, Scenario, pick, sample

__all__ = ["catalogue", "register", "get_spec", "unregister", "BUILTIN"]

# --- name pools --------------------------------------------------------------------------------
DAEMONS = ("collectd", "telegraf", "fluent-bit", "rsyslogd", "containerd", "dockerd", "nginx",
           "redis-server", "mysqld", "chronyd", "snapd", "envoy", "haproxy", "memcached", "etcd",
           "kubelet", "node_exporter", "prometheus", "grafana-server", "sssd")
HOGS = ("java", "postgres", "mongod", "elasticsearch", "clickhouse", "qemu-system-x86",
        "varnishd", "influxd")
CHURNERS = ("python3", "node", "ruby", "php", "beam.smp", "dotnet", "perl", "gcc")
POOLS = ("php-fpm", "httpd", "gunicorn", "celery", "puma", "unicorn", "uwsgi", "sidekiq")
KTHREADS = ("kworker/0:2", "kworker/1:1", "kworker/u8:3", "jbd2/sda1-8", "xfsaild/sda1",
            "ksoftirqd/1", "irq/24-nvme0q1", "scsi_eh_0", "kblockd", "writeback")
BATCH = ("backup", "ffmpeg", "pg_dump", "convert", "tar", "rsync", "make", "gzip", "blender")
READERS = ("rsync", "updatedb", "tar", "cp", "find", "dd", "borg", "restic")

# --- culprit stacks (catalogue ids) --------------------------------------------------------------
# The decoys below allocate through anon, pipe and fault-path page-table stacks only, so each of
# these keeps at least one function no decoy stack has.
USER_STACKS = ("kmalloc_large-0", "populate-0", "slab-0", "page_tables-7", "vmalloc-0",
               "kernel_stack-0")
KERNEL_STACKS = ("slab-2", "slab-3", "slab-5", "vmalloc-0", "vmalloc-4", "other-1")
BG_PAGE_TABLES = ("page_tables-0", "page_tables-1", "page_tables-3")
KWORKER_SLAB = ("slab-9", "slab-19")      # shmem inodes of a decoy kworker (order 2)


def _leaker(comm: str, sid: str, pages_per_s: float, fraction: float, *, lifetime="1s",
            label: str = CULPRIT, **kw):
    """A task that allocates through stack ``sid`` and never frees ``fraction`` of its
    blocks: ``pages_per_s`` leaked base pages per second on average."""
    e = load_catalogue()[sid]
    order = kw.pop("order", e.order)
    rate = pages_per_s / (fraction * (1 << order))
    return W.task(comm, e.kind, rate, lifetime, leak=fraction, stacks=(sid,), order=order,
                  label=label, **kw)


def _background(rng, comm: str, rate=(300, 500)):
    """Ordinary life: a churning user process, shell page tables, pipes."""
    return [W.anon(comm, rate=int(rng.integers(*rate)), lifetime="3s"),
            W.page_tables("bash", rate=20, lifetime="5s", stacks=BG_PAGE_TABLES),
            W.pipe_buffers("cat", rate=100)]


def _hog(rng, comm: str, pages: int, huge: bool | None = None, order: int = 2):
    """A by-design owner that takes ``pages`` in the first seconds and keeps them: a
    hugetlb pool (order 9) or anonymous memory (16 KiB folios, order 2, by default)."""
    if huge is None:
        huge = bool(rng.integers(2))
    if huge:
        return W.hog(comm, pages=(pages // 512) * 512, ramp="2s", kind="huge", order=9,
                     label="decoy")
    return W.hog(comm, pages=(pages >> order) << order, ramp="3s", kind="anon", order=order,
                 stacks=("anon-0", "anon-1"), label="decoy")


def _steps(workload, times, once=()):
    """Run ``workload`` with a Dump at each time (seconds since start); the tasks of ``once``
    (hogs: a count of allocations) run in the first interval only."""
    out, t = [], 0.0
    for x in times:
        w = W.mix(*once, workload) if not out else workload
        out += [Run(w, x - t), Dump()]
        t = x
    return tuple(out)


# --- the exercises -------------------------------------------------------------------------------

def _plain(seed, rng):
    culprit, churn = pick(rng, DAEMONS), pick(rng, CHURNERS)
    sid = pick(rng, USER_STACKS)
    leak = _leaker(culprit, sid, float(rng.uniform(250, 500)), float(rng.uniform(0.2, 0.6)))
    w = W.mix(*_background(rng, churn), leak)
    return Scenario(_steps(w, (10, 20)), decoys=(f"{churn}: ordinary anonymous churn",))


def _beside_hog(seed, rng):
    culprit, hog, churn = pick(rng, DAEMONS), pick(rng, HOGS), pick(rng, CHURNERS)
    sid = pick(rng, USER_STACKS)
    rate = float(rng.uniform(80, 200))
    w = W.mix(*_background(rng, churn), _leaker(culprit, sid, rate, float(rng.uniform(0.1, 0.5))))
    return Scenario(_steps(w, (20, 40, 60), once=[_hog(rng, hog, int(rng.integers(16_000, 30_000)))]),
                    decoys=(f"{hog}: a bigger owner that took its memory at start and keeps it",))


def _slow_churn(seed, rng):
    culprit, churn, cache = pick(rng, DAEMONS), pick(rng, CHURNERS), pick(rng, READERS)
    sid = pick(rng, USER_STACKS)
    # the churn faults in 16 KiB anonymous folios (mTHP, order 2): many pages, few events
    w = W.mix(W.anon(churn, rate=int(rng.integers(350, 450)), lifetime="8s", order=2,
                     lifetime_dist="lognormal", lifetime_sigma=0.3),
              W.page_cache(cache, rate=int(rng.integers(200, 400)), lifetime="10s"),
              W.page_tables("bash", rate=20, lifetime="5s", stacks=BG_PAGE_TABLES),
              _leaker(culprit, sid, float(rng.uniform(60, 150)), float(rng.uniform(0.2, 0.5))))
    return Scenario(_steps(w, (15, 30, 45)),
                    decoys=(f"{churn}: heavy churn, bigger than the leak in every dump",
                            f"{cache}: page cache churn"))


def _worker_pool(seed, rng):
    pool = pick(rng, POOLS)
    n = int(rng.integers(5, 9))
    pids = sorted(int(p) for p in rng.choice(np.arange(2000, 9000), size=n, replace=False))
    leakers = sample(rng, pids, int(rng.integers(2, 4)))
    sid = pick(rng, USER_STACKS)
    total = float(rng.uniform(30, 70))
    tasks = [W.anon(pool, rate=int(rng.integers(200, 300)), lifetime="4s", stacks=("anon-0", "anon-1"),
                    pid=p, label="decoy") for p in pids]
    tasks += [_leaker(pool, sid, total / len(leakers), 0.3, pid=p) for p in leakers]
    w = W.mix(*tasks, W.page_tables("bash", rate=20, lifetime="5s", stacks=BG_PAGE_TABLES),
              W.pipe_buffers("cat", rate=100))
    return Scenario(_steps(w, (20, 40)),
                    decoys=(f"{pool}: {n} workers whose ordinary anonymous memory outweighs "
                            f"the leak of {len(leakers)} of them",))


def _kthread(seed, rng):
    culprit, kw, hog, churn = (pick(rng, KTHREADS[3:]), pick(rng, KTHREADS[:3]), pick(rng, HOGS),
                               pick(rng, CHURNERS))
    sid = pick(rng, KERNEL_STACKS)
    w = W.mix(*_background(rng, churn),
              W.slab(kw, rate=60, lifetime="5s", stacks=KWORKER_SLAB, label="decoy"),
              _leaker(culprit, sid, float(rng.uniform(40, 120)), float(rng.uniform(0.2, 0.6))))
    return Scenario(_steps(w, (20, 40), once=[_hog(rng, hog, int(rng.integers(8_000, 16_000)))]),
                    decoys=(f"{hog}: a user-space owner, bigger", f"{kw}: kernel slab churn"))


def _numa(seed, rng):
    culprit, hog, churn = pick(rng, DAEMONS), pick(rng, HOGS), pick(rng, CHURNERS)
    sid = pick(rng, USER_STACKS)
    bad = int(rng.integers(2))
    e = load_catalogue()[sid]
    fine = W.task(culprit, e.kind, float(rng.uniform(40, 80)), "2s", stacks=(sid,), nid=1 - bad,
                  label=CULPRIT)
    w = W.mix(*_background(rng, churn), fine,
              _leaker(culprit, sid, float(rng.uniform(60, 150)), 0.3, nid=bad))
    once = [_hog(rng, hog, int(rng.integers(14_000, 24_000)), huge=True)]
    return Scenario(_steps(w, (20, 40), once),
                    decoys=(f"{hog}: a bigger owner", f"{culprit} on node {1 - bad}: the same "
                            f"code path, freeing what it allocates"))


def _high_order(seed, rng):
    culprit, hog, churn = pick(rng, DAEMONS), pick(rng, HOGS), pick(rng, CHURNERS)
    sid, order = pick(rng, (("slab-0", 3), ("kmalloc_large-0", 3), ("huge-0", 9)))
    pages = float(rng.uniform(80, 160))
    if order == 9:
        # huge pages: a few blocks a second (so every interval gains some), held for good
        leak = W.task(culprit, "huge", float(rng.uniform(150, 250)) / 512, None, stacks=(sid,),
                      order=9, label=CULPRIT)
    else:
        leak = _leaker(culprit, sid, pages, float(rng.uniform(0.2, 0.5)), order=order)
    w = W.mix(*_background(rng, churn), leak)
    once = [_hog(rng, hog, int(rng.integers(14_000, 18_000)), huge=False, order=0)]
    return Scenario(_steps(w, (20, 40), once), decoys=(f"{hog}: more pages, in order-0 blocks",))


def _false_alarm(seed, rng):
    churn = pick(rng, CHURNERS)
    if rng.integers(2):
        # page cache that grows until memory pressure, then kswapd takes it back
        reader, hungry = pick(rng, READERS), pick(rng, HOGS)
        cache = W.page_cache(reader, rate=int(rng.integers(250, 400)), lifetime=None,
                             stacks=("page_cache-0",), label=CULPRIT, stop="40s")
        # more than is free: kswapd, then direct reclaim, take page cache back
        burst = W.burst(hungry, pages=8 * int(rng.integers(13_750, 14_250)), at="3s",
                        within="2s", lifetime="5s", lifetime_dist="fixed", order=3,
                        stacks=("anon-0", "anon-1"), label="decoy")
        bg = _background(rng, churn)
        steps = (Run(W.mix(*bg, cache), 20), Dump(), Run(W.mix(*bg, cache), 20), Dump(),
                 Run(W.mix(*bg, burst), 20), Dump())
        why = (f"{reader}: page cache (file data), reclaimed under memory pressure",
               f"{hungry}: a short burst that caused the pressure")
    else:
        # a service that fills its buffer pool by design, then stays flat
        svc = pick(rng, HOGS)
        half = int(rng.integers(4_000, 7_000))
        pool = [W.hog(svc, pages=half + 1000 * i, ramp=f"{r}s", kind="populate",
                      stacks=("populate-0",), label=CULPRIT) for i, r in enumerate((18, 15))]
        bg = W.mix(*_background(rng, churn))
        steps = (Run(W.mix(bg, pool[0]), 20), Dump(), Run(W.mix(bg, pool[1]), 20), Dump(),
                 Run(bg, 20), Dump())
        why = (f"{svc}: fills a locked buffer pool of fixed size at start-up, by design",)
    return Scenario(steps, facts={"leak": False}, decoys=why)


def _partial(seed, rng):
    job, other, hog, churn = sample(rng, BATCH, 2) + [pick(rng, HOGS), pick(rng, CHURNERS)]
    sid = pick(rng, USER_STACKS)
    e = load_catalogue()[sid]
    leaked = int(rng.integers(400, 900)) * (1 << e.order)
    job_task = W.leak(job, pages=leaked, fraction=float(rng.uniform(0.05, 0.12)), over="8s",
                      lifetime="2s", at="1s", kind=e.kind, stacks=(sid,), order=e.order,
                      label=CULPRIT)
    other_task = W.task(other, "pipe", 2000, "2s", at="1s", stop="9s", count=14_000, label="decoy")
    bg = _background(rng, churn)
    w1 = W.mix(_hog(rng, hog, int(rng.integers(10_000, 16_000))), *bg, job_task, other_task)
    steps = (Run(w1, 10), Dump(), Run(W.mix(*bg), 20), Dump())
    return Scenario(steps, decoys=(f"{other}: a batch job that freed everything",
                                   f"{hog}: a bigger owner by design"))


def _compaction(seed, rng):
    culprit, hog, churn, kw = (pick(rng, DAEMONS), pick(rng, HOGS), pick(rng, CHURNERS),
                               pick(rng, KTHREADS[:3]))
    w = W.mix(*_background(rng, churn),
              W.slab(kw, rate=40, lifetime="20s", stacks=KWORKER_SLAB, label="decoy"),
              _leaker(culprit, "populate-0", float(rng.uniform(100, 220)),
                      float(rng.uniform(0.2, 0.5))))
    hog_task = _hog(rng, hog, int(rng.integers(12_000, 18_000)), huge=False)
    # a build that fills most of memory for a while: the leak's pages of that time land low
    # in the zone, where compaction's migrate scanner starts
    build = W.burst(pick(rng, ("make", "cc1", "ld", "rustc")), pages=4 * int(rng.integers(16_000, 18_000)),
                    at="2s", within="6s", lifetime="6s", lifetime_dist="fixed", order=2,
                    stacks=("anon-0", "anon-1"), label="decoy")
    steps = (Run(W.mix(hog_task, build, w), 15), Dump(), Run(w, 15), Compact(), Dump())
    return Scenario(steps, decoys=(f"{hog}: a bigger owner by design",
                                   f"{kw}: unmovable slab that fragments memory"))


def _v319(seed, rng):
    churn, hog = pick(rng, CHURNERS), pick(rng, HOGS)
    sid = pick(rng, ("kmalloc_large-0", "populate-0", "slab-0", "page_tables-7", "vmalloc-0"))
    w = W.mix(*_background(rng, churn),
              _leaker(pick(rng, DAEMONS), sid, float(rng.uniform(60, 150)),
                      float(rng.uniform(0.1, 0.4))))
    once = [_hog(rng, hog, int(rng.integers(12_000, 20_000)), huge=False)]
    return Scenario(_steps(w, (15, 30, 45), once), decoys=(f"{hog}: a bigger owner by design",))


_LOOK = ("Read the last dump: cap = pextlab.read_capture(e.files); df = cap.df_page_owner(); "
         "then pextlab.analysis.owners.top_owners(df, by='comm') and by='stack'.")
_DIFF = ("The biggest owner is not always the leak.  Compare two dumps: "
         "find_leak_suspects(read_capture(e.files, snapshot=e.snapshots[0]).df_page_owner(), df) "
         "-- a leak grows between dumps and keeps its old pages.")
_RATE = ("A rate is pages gained between two dumps divided by the seconds between them; the "
         "dumps' times are in e.dumps (uptime_s).")
_FRAME = ("For the stack, answer a frame that only the leaking stack has (the top frame often "
          "is one), or the whole stack as text.")

BUILTIN = (
    ExerciseSpec(
        name="plain-leak", level=1, skills=("read a page_owner dump", "top owners"),
        question="Memory use on this machine keeps going up. Which task leaks, through which "
                 "allocation stack, and how many pages does it hold in the last dump?",
        build=_plain, fields=("comm", "top_frame", "pages"), hints=(_LOOK, _FRAME)),
    ExerciseSpec(
        name="leak-beside-hog", level=2, skills=("compare two dumps", "growth rate"),
        question="A big service owns most of the memory, and free memory still shrinks. Which "
                 "task leaks, through which stack, and how fast (pages per second)?",
        build=_beside_hog, fields=("comm", "top_frame", "pages_per_s"),
        hints=(_LOOK, _DIFF, _RATE, _FRAME)),
    ExerciseSpec(
        name="worker-pool-stack", level=2, skills=("group by stack", "many pids, one comm"),
        question="A pool of worker processes with the same name grows slowly. Which comm, "
                 "which allocation stack leaks, and how many pages does that stack hold now?",
        build=_worker_pool, fields=("comm", "top_frame", "pages"),
        hints=(_LOOK, "All workers share one comm: group by stack (and pid) instead.", _DIFF,
               _FRAME)),
    ExerciseSpec(
        name="kernel-thread-leak", level=2, skills=("kernel context", "slab and vmalloc stacks"),
        question="Slab or vmalloc memory creeps up while user space looks steady. Which task "
                 "(kernel thread) leaks, through which stack, and how many pages does it hold?",
        build=_kthread, fields=("comm", "top_frame", "pages"),
        hints=(_LOOK, _DIFF, "Kernel threads have names like kworker/<cpu>:<n> or <what>/<device>; "
               "unmovable slab and vmalloc stacks are where kernel leaks show.", _FRAME)),
    ExerciseSpec(
        name="numa-node-leak", level=2, skills=("NUMA nodes", "growth per node"),
        question="One NUMA node of this two-node machine runs out of memory faster than the "
                 "other. Which task leaks, on which node, and how fast (pages per second)?",
        build=_numa, fields=("comm", "node", "pages_per_s"), mem="1G", nodes=2,
        hints=(_LOOK, _DIFF, "The page_owner frame has a node column: compare growth per "
               "(stack, node).", _RATE)),
    ExerciseSpec(
        name="high-order-leak", level=2, skills=("orders", "pages vs blocks"),
        question="Few allocations, many pages: something leaks large blocks. Which task, at "
                 "which order, and how many pages does it hold in the last dump?",
        build=_high_order, fields=("comm", "order", "pages"),
        hints=(_LOOK, _DIFF, "Count pages (nr_pages), not blocks: an order-3 block is 8 pages, "
               "an order-9 block 512.")),
    ExerciseSpec(
        name="is-it-a-leak", level=2, skills=("reclaimable memory", "false alarms"),
        question="An alert fired: free memory fell for a long while. Which task's growth set it "
                 "off, and is that task leaking (yes or no)?",
        build=_false_alarm, fields=("comm", "leak"), solver="false_alarm",
        hints=(_LOOK, "Look at every dump in turn: does the suspect keep growing to the end?",
               "Page cache is given back under memory pressure (vmstat pgsteal_*); a pool "
               "sized at start-up stops growing. Neither is a leak.")),
    ExerciseSpec(
        name="partial-leak", level=2, skills=("outstanding allocations", "ages"),
        question="A batch job ran early and finished long before the last dump. It freed most "
                 "of what it allocated, but not all. Which job, through which stack, and how "
                 "many pages are still held?",
        build=_partial, fields=("comm", "top_frame", "pages"), solver="partial",
        hints=(_LOOK, "Blocks in the last dump that are older than the previous dump and "
               "belong to a task that no longer allocates are what it left behind (ts_ns).",
               _FRAME)),
    ExerciseSpec(
        name="slow-leak-under-churn", level=3, skills=("churn vs leak", "two dumps", "growth rate"),
        question="The machine is busy: hundreds of allocations a second come and go. Something "
                 "leaks slowly underneath. Which task, through which stack, at how many pages "
                 "per second?",
        build=_slow_churn, fields=("comm", "top_frame", "pages_per_s"),
        hints=(_LOOK, _DIFF, "Churn is big in every dump but does not grow; a leak grows "
               "between every pair of dumps.", _RATE, _FRAME)),
    ExerciseSpec(
        name="compaction-moved-leak", level=3, skills=("migration", "migrate reason"),
        question="Someone ran echo 1 > /proc/sys/vm/compact_memory before the last dump. Which "
                 "task leaks, how many pages does it hold, and how many of them has compaction "
                 "moved?",
        build=_compaction, fields=("comm", "pages", "migrated_pages"),
        hints=(_LOOK, "Compaction moves movable pages to new pfns: matching blocks by pfn "
               "between dumps fails; match by stack (and ts_ns) instead.",
               "page_owner prints the last migrate reason of a moved page "
               "(last_migrate_reason column).")),
    ExerciseSpec(
        name="v3.19-stacks-only", level=3, skills=("old kernels", "stacks only"),
        question="An old kernel (3.19) prints page_owner without pid, comm or timestamps. Which "
                 "allocation stack leaks, at which order, and how fast (pages per second)?",
        build=_v319, fields=("top_frame", "order", "pages_per_s"), profile="v3.19",
        hints=("Without comm, group by stack: top_owners(df, by='stack').", _DIFF, _RATE,
               _FRAME)),
)

_REGISTRY: dict[str, ExerciseSpec] = {s.name: s for s in BUILTIN}


def register(spec: ExerciseSpec, replace: bool = False) -> ExerciseSpec:
    """Add an exercise (``make(spec.name, ...)`` then makes it).  A name already taken is a
    PextlabError unless ``replace``; built-in exercises cannot be replaced."""
    if not isinstance(spec, ExerciseSpec):
        raise PextlabError(f"register() takes an ExerciseSpec, got {type(spec).__name__}")
    if spec.name in _REGISTRY and not replace:
        raise PextlabError(f"an exercise named {spec.name!r} exists (replace=True to replace it)")
    if any(b.name == spec.name for b in BUILTIN):
        raise PextlabError(f"{spec.name!r} is a built-in exercise; give yours another name")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove an exercise added with :func:`register`."""
    if any(b.name == name for b in BUILTIN):
        raise PextlabError(f"{name!r} is a built-in exercise")
    if _REGISTRY.pop(name, None) is None:
        raise PextlabError(f"no registered exercise {name!r}")


def get_spec(name: str) -> ExerciseSpec:
    """The spec of exercise ``name`` (PextlabError naming the known ones otherwise)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise PextlabError(f"unknown exercise {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _hand_out(spec: ExerciseSpec) -> str:
    sc = spec.build(0, np.random.default_rng(0))
    times = ", ".join(f"t{t:g}s" for t in sc.dump_times())
    return (f"{sc.dump_count} dumps ({times}) of page_owner, meminfo, buddyinfo, pagetypeinfo, "
            f"zoneinfo, vmstat, extfrag, dmesg")


def catalogue() -> pd.DataFrame:
    """Every exercise: name, level, skills, asks (the fields), hand_out (what is handed out),
    machine, profile -- by level, then name."""
    rows = [dict(name=s.name, level=s.level, skills=", ".join(s.skills), asks=", ".join(s.fields),
                 hand_out=_hand_out(s), machine=f"{s.mem}, {s.nodes} node(s)", profile=s.profile)
            for s in _REGISTRY.values()]
    return pd.DataFrame(rows).sort_values(["level", "name"], kind="stable").reset_index(drop=True)
