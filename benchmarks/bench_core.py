"""The allocator core's rows of the speed table (issue 15), through the public API,
page_owner on, each beside the figure measured before the core work ("then") and the
target:

* the workload runner: the mixed workload of bench_workload.py on 4 GiB, 2 nodes;
* ``m.alloc_pages`` / ``m.free_pages`` order-0 churn on 16 GiB (a window of 4096 live
  pages, so every free merges as the kernel's would);
* the bulk paths on 16 GiB: ``m.vm_area_alloc_pages`` (vmalloc's page loop: with
  page_owner on the bulk allocator gives one page per call, so this is the loop of
  single allocations, taken a block at a time), ``m.alloc_pages_loop``, and
  ``m.release_pages`` of the same pages;
* the frag-s1 scenario end to end (bench_frag.py).

    python benchmarks/bench_core.py [--quick]

The "then" figures are the issue's, measured on an idle 2-core machine; on a busy
one every row drops, so compare rows measured in one run (bench_churn.py and
bench_workload.py give more of them).
"""
import sys
import time
from collections import deque
from pathlib import Path

import pextlab
from pextlab.workloads.fragger import fragger

sys.path.insert(0, str(Path(__file__).parent))
from bench_workload import workload

THEN = {"runner": 200_000, "churn": 229_000, "bulk": None, "frag": 1.38}
TARGET = {"runner": 2_000_000, "churn": 1_000_000, "bulk": 5_000_000, "frag": 0.3}


def runner_events_per_s(duration="60s") -> float:
    m = pextlab.boot(mem="4G", nodes=2, cmdline="page_owner=on", seed=1)
    t = time.perf_counter()
    m.run(workload(), duration=duration, record=True, sample="1s")
    return m.run_log.nr_events() / (time.perf_counter() - t)


def churn_ops_per_s(n_ops=600_000, window=4096) -> float:
    m = pextlab.boot(mem="16G", cmdline="page_owner=on", seed=1)
    alloc, free = m.alloc_pages, m.free_pages
    live = deque()
    ops = 0
    t = time.perf_counter()
    for _ in range(n_ops // 2):
        p = alloc(0, "GFP_KERNEL")
        ops += 1
        if p is not None:
            live.append(p)
        if len(live) > window:
            free(live.popleft(), 0)
            ops += 1
    return ops / (time.perf_counter() - t)


def bulk_pages_per_s(n=1_000_000) -> dict:
    m = pextlab.boot(mem="16G", cmdline="page_owner=on", seed=1)
    out = {}
    t = time.perf_counter()
    p = m.vm_area_alloc_pages(n)
    out["vm_area_alloc_pages"] = len(p) / (time.perf_counter() - t)
    t = time.perf_counter()
    m.release_pages(p)
    out["release_pages"] = len(p) / (time.perf_counter() - t)
    t = time.perf_counter()
    q = m.alloc_pages_loop(n, "GFP_HIGHUSER_MOVABLE")
    out["alloc_pages_loop"] = len(q) / (time.perf_counter() - t)
    return out


def frag_s1_seconds() -> float:
    best = None
    for _ in range(2):
        t = time.perf_counter()
        m = pextlab.boot(mem="1G", cmdline="page_owner=on")
        m.run(fragger(seed=1, fill=0.75, rounds=1, probe=True))
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def _row(what, now, then, target, unit):
    then_s = "none" if then is None else f"{then:,.2f}" if unit == "s" else f"{then:,.0f}"
    now_s = f"{now:,.2f}" if unit == "s" else f"{now:,.0f}"
    tgt = f"<= {target:,.2f}" if unit == "s" else f">= {target:,.0f}"
    print(f"{what:58s} {now_s:>12s} {unit:9s} (then {then_s}, target {tgt})")


def main(quick=False):
    res = {}
    res["runner"] = runner_events_per_s("10s" if quick else "60s")
    _row("workload runner, mixed, 4 GiB 2 nodes, page_owner=on", res["runner"],
         THEN["runner"], TARGET["runner"], "events/s")
    res["churn"] = churn_ops_per_s(200_000 if quick else 600_000)
    _row("m.alloc_pages/m.free_pages order-0 churn, 16 GiB", res["churn"], THEN["churn"],
         TARGET["churn"], "ops/s")
    bulk = bulk_pages_per_s(300_000 if quick else 1_000_000)
    for k, v in bulk.items():
        _row(f"bulk: m.{k}, 16 GiB", v, THEN["bulk"], TARGET["bulk"], "pages/s")
    res.update(bulk)
    res["frag"] = frag_s1_seconds()
    _row("frag-s1 end to end", res["frag"], THEN["frag"], TARGET["frag"], "s")
    return res


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
