"""Events per second of a mixed workload on a 4 GiB, 2-node machine (issue: workloads).

An event is one allocation, free or failed allocation done by the runner
(recording on, sampling every second).  Reported with page_owner on and off,
plus the cost of building df_events.

    python benchmarks/bench_workload.py
"""
import time

import pextlab
import pextlab.workloads as W


def workload():
    return W.mix(
        W.anon("postgres", rate=3000, lifetime="2s"),
        W.page_cache("kworker/u8:1", rate=1500, lifetime="10s"),
        W.slab("kworker/0:1", rate=300, lifetime="5s"),
        W.slab("updatedb", rate=300, lifetime="20s", reclaimable=True),
        W.page_tables("bash", rate=100),
        W.kernel_stacks("systemd", rate=20),
        W.thp("qemu", rate=2, lifetime="5s"),
        W.pipe_buffers("cat", rate=500),
        W.burst("make", pages=20_000, at="20s", within="2s", lifetime="3s"),
        W.hog("java", pages=150_000, ramp="10s"),
        W.leak("leaky", pages=20_000, fraction=0.1, over="50s"),
        W.pin("rdma", pages=5_000))


def bench(cmdline: str, duration: str = "60s") -> tuple[float, int, float]:
    m = pextlab.boot(mem="4G", nodes=2, cmdline=cmdline, seed=1)
    t = time.perf_counter()
    m.run(workload(), duration=duration, record=True, sample="1s")
    dt = time.perf_counter() - t
    n = m.run_log.nr_events()
    t = time.perf_counter()
    m.df_events()
    return n / dt, n, time.perf_counter() - t


def main():
    res = {}
    for label, cmd in (("page_owner=on", "page_owner=on"), ("page_owner off", "")):
        rate, n, frame_s = bench(cmd)
        res[label] = rate
        print(f"mixed workload, 60 s simulated, 4 GiB 2 nodes, {label:15s} {rate:12,.0f} events/s "
              f"({n:,} events; df_events {frame_s:.2f} s)")
    return res


if __name__ == "__main__":
    main()
