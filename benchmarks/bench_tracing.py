"""Tracing's cost: a workload's event rate with the kmem tracepoints on vs off
(target: tracing on costs at most 30 % of the rate).

A mixed workload runs for 30 s of simulated time on a 4 GiB machine with
page_owner on, as a user calls it: ``m.run(...)``.  "Tracing on" boots with
``trace_event=kmem:mm_page_alloc,kmem:mm_page_free`` and a trace-cmd reader at
200k events/s from boot (``m.tracing(buffer_kb=1408, reader=...)``); its events
count as the workload's (the reader's own allocations are excluded).  Also
reported: the rate with every kmem event on (zone_locked doubles the events).
Rates are events per CPU second of this process (``time.process_time``), best of
three interleaved runs, so other work on a shared machine does not count.

Measured on the shared 2-core development machine (load average 4-7): tracing off
≈116-131k events/s; alloc+free traced with the reader 24 % slower (24.1 %, 24.6 %; one run
at load 7: 36.6 %); every kmem event traced 33-40 % slower.

    python benchmarks/bench_tracing.py
"""
import time

import pextlab
import pextlab.workloads as W


def workload():
    return W.mix(
        W.anon("postgres", rate=3000, lifetime="2s"),
        W.page_cache("kworker/u8:1", rate=1500, lifetime="10s"),
        W.slab("kworker/0:1", rate=300, lifetime="5s"),
        W.pipe_buffers("cat", rate=500),
        W.burst("make", pages=20_000, at="10s", within="2s", lifetime="3s"),
        W.leak("leaky", pages=10_000, fraction=0.1, over="25s"))


def bench(trace: str | None, duration: str = "30s") -> tuple[float, int]:
    cmd = "page_owner=on" + (f" trace_event={trace}" if trace else "")
    m = pextlab.boot(mem="4G", cmdline=cmd, seed=1)
    if trace:
        m.tracing(buffer_kb=1408, reader=pextlab.tracing.reader(rate="200k/s", start=0))
    t = time.process_time()
    tasks = m.run(workload(), duration=duration)
    dt = time.process_time() - t
    n = int(tasks["allocs"].sum() + tasks["frees"].sum() + tasks["failed"].sum())
    return n / dt, n


def main():
    cases = (("tracing off", None),
             ("alloc+free traced", "kmem:mm_page_alloc,kmem:mm_page_free"),
             ("all kmem traced", "kmem:*"))
    best: dict = {}
    for _ in range(3):
        for label, trace in cases:
            best[label] = max(best.get(label, (0.0, 0)), bench(trace))
    res = {}
    for label, _ in cases:
        res[label] = best[label][0]
        print(f"mixed workload, 30 s simulated, 4 GiB, page_owner on, {label:18s} "
              f"{best[label][0]:12,.0f} events/s ({best[label][1]:,} events)")
    for label in ("alloc+free traced", "all kmem traced"):
        print(f"cost of {label}: {1 - res[label] / res['tracing off']:.1%} of the event rate "
              f"(target <= 30 % for alloc+free)")
    return res


if __name__ == "__main__":
    main()
