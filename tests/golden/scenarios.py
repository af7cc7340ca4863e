"""Golden scenarios: the frames of deterministic simulations, kept as digests.

Every scenario boots a machine and drives it through the public API; its digest
is a SHA-256 per ``df_*`` frame of the frame protocol (``pextlab.schema.FRAMES``,
the Machine's side) and per kernel text file.  ``tests/golden/frames.json`` holds
the digests recorded from the code as it stood before a rewrite of the
simulator's core; ``tests/test_golden.py`` requires the same digests, bit for
bit.  Re-record only for a change that is meant to change results, and say so
in the commit: ``python -m tests.golden --record``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

import pextlab
from pextlab.schema import FRAMES
from pextlab.workloads import fragger

__all__ = ["SCENARIOS", "digest_frame", "digest_machine", "run_scenario"]

W = pextlab.workloads

#: kernel text files digested after the frames (printing drains pcp lists, as the kernel does)
TEXTS = ("buddyinfo", "pagetypeinfo", "zoneinfo", "unusable_index", "extfrag_index")


def digest_frame(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's columns, dtypes, index and values, independent of pandas' hashing."""
    h = hashlib.sha256()
    h.update(repr((list(map(str, df.columns)), [str(t) for t in df.dtypes], df.shape)).encode())
    for values in [df.index.to_numpy()] + [df[c].to_numpy() for c in df.columns]:
        if values.dtype.kind in "biufcmM":
            h.update(np.ascontiguousarray(values).tobytes())
        else:
            h.update("\x1f".join(map(str, values)).encode())
    return h.hexdigest()


def digest_machine(m, extra: dict | None = None) -> dict[str, str]:
    """Digests of every Machine frame, of ``extra`` frames, and of the kernel's text files."""
    out = {name: digest_frame(df) for name, df in (extra or {}).items()}
    for name, (_schema, sources) in FRAMES.items():
        if "machine" in sources:
            out[name] = digest_frame(getattr(m, name)())
    out["dmesg"] = hashlib.sha256(m.dmesg.encode()).hexdigest()
    out["page_owner"] = hashlib.sha256(m.debugfs("page_owner").encode()).hexdigest()
    for name in TEXTS:
        out[name] = hashlib.sha256(m.proc(name).encode()).hexdigest()
    return out


def _churn(m, n: int = 3000, seed: int = 5) -> None:
    """Mixed-order allocations and frees through the public methods."""
    rng = np.random.default_rng(seed)
    held = []
    gfps = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC")
    for _ in range(n):
        if held and rng.random() < 0.45:
            pfn, order = held.pop(int(rng.integers(len(held))))
            m.free_pages(pfn, order)
        else:
            order = int(rng.choice([0, 0, 0, 1, 2, 3, 9]))
            pfn = m.alloc_pages(order, gfps[int(rng.integers(len(gfps)))])
            if pfn is not None:
                held.append((pfn, order))


def boot_churn():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=3)
    _churn(m)
    return m


def numa_workload():
    m = pextlab.boot(mem="2G", nodes=2, cmdline="page_owner=on", seed=1)
    m.run(W.mix(W.anon("postgres", rate=1500, lifetime="2s"), W.page_cache("cp", rate=400),
                W.slab("kworker/0:1", rate=80), W.thp("qemu", rate=2),
                W.leak("collectd", pages=3000, fraction=0.2, over="8s")),
          duration="10s", record=True)
    return m


def frag_s1():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on")
    m.run(fragger(seed=1, fill=0.75, rounds=1, probe=True))
    return m


def hotplug():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", maxmem="4G", seed=2)
    m.hot_add("512M")
    m.online(32, "online_movable")
    m.online(33, "online")
    m.run(W.mix(W.anon("app", rate=2000, lifetime="3s"), W.hog("hog", pages=20_000, ramp="2s")),
          duration="5s")
    m.offline(32)
    m.offline(33)
    return m


def cma_boot():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on cma=64M", seed=4)
    m.run(W.mix(W.anon("app", rate=3000, lifetime="20s"), W.slab("kworker/1:2", rate=200)),
          duration="8s")
    return m


def pressure_oom():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", seed=6)
    m.run(W.mix(W.page_cache("cp", rate=2000, lifetime="60s"),
                W.hog("hog", pages=140_000, ramp="4s")), duration="6s")
    return m


def v319():
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", profile="v3.19", seed=7)
    _churn(m, 2000, seed=7)
    return m


def guard_and_poison():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on debug_pagealloc=on debug_guardpage_minorder=1 "
                     "page_poison=on", seed=8)
    _churn(m, 1500, seed=8)
    return m


def hugetlb_compaction():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=9)
    m.run(fragger(seed=2, fill=0.6, rounds=1, probe=False))
    m.set_nr_hugepages(100)
    m.compact_memory()
    m.set_nr_hugepages(140)
    return m


def no_mobility_grouping():
    m = pextlab.boot(mem="1G", cmdline="page_owner=on", seed=10, policy="no-mobility-grouping")
    _churn(m, 2000, seed=10)
    return m


def real_layout():
    cap = pextlab.read_capture("data/real-kernel/f-numa2")
    m = pextlab.boot(layout=cap.layout, cmdline=cap.cmdline, seed=11)
    _churn(m, 1000, seed=11)
    return m


def cma_pins():
    """Movable memory spills into CMA, short- and long-term pins, cma_alloc fails then succeeds."""
    m = pextlab.boot(mem="1G", cmdline="page_owner=on cma=64M", seed=12)
    m.run(W.mix(W.hog("java", pages=212_000, ramp="1s"), W.anon("app", rate=4000, lifetime="20s"),
                W.pin("rdma", pages=2000, longterm=True, at="1s"),
                W.pin("dio", pages=300, longterm=False, hold="3s", at="1s")), duration="2s")
    m.cma_alloc(count=16384)
    m.run(W.anon("app", rate=500, lifetime="1s"), duration="4s")
    r = m.cma_alloc(count=8192, align=512)
    if r.ok:
        m.cma_release(r)
    m.cma_alloc(count=1024)
    m.compact_memory()
    return m


def traced():
    """Every kmem event through a small ring buffer and a slow reader (the Tracing frames too)."""
    m = pextlab.boot(mem="512M", cmdline="page_owner=on trace_event=kmem:mm_page_alloc,"
                     "kmem:mm_page_free trace_buf_size=64K", seed=13)
    t = m.tracing(buffer_kb=64, reader=pextlab.tracing.reader(rate="50k/s", start="1s"),
                  events="kmem:*")
    m.run(W.mix(W.anon("app", rate=3000, lifetime="500ms"), W.slab("kworker/0:1", rate=300),
                W.thp("qemu", rate=5, lifetime="2s")), duration="4s")
    return m, {f"tracing.{name}": getattr(t, name)() for name in
               ("df_trace", "df_buffer", "df_lost", "df_reader", "df_stats")}


SCENARIOS = {f.__name__: f for f in (
    boot_churn, numa_workload, frag_s1, hotplug, cma_boot, pressure_oom, v319, guard_and_poison,
    hugetlb_compaction, no_mobility_grouping, real_layout, cma_pins, traced)}


def run_scenario(name: str) -> dict[str, str]:
    """A scenario returns its machine, or (machine, {name: frame}) for frames of other objects."""
    got = SCENARIOS[name]()
    return digest_machine(*got) if isinstance(got, tuple) else digest_machine(got)
