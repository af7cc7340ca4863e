"""Sweep throughput (issue: sweeps): 100 frag-s1 scenarios (fragger on 1 GiB, fill + free +
compact_memory, figures per phase) through pextlab.sweep with 1 and 2 local worker
processes; runs/minute for each.  ``--n`` changes the number of scenarios, ``--dask`` adds a
dask LocalCluster of 2 workers.

    python benchmarks/bench_sweep.py [--n 100] [--dask]
"""
import argparse
import time

import pextlab
from pextlab.studies import frag_study


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--dask", action="store_true")
    a = ap.parse_args()
    grid = {"seed": range(1, a.n + 1), "compact": [True]}
    rates = {}
    runs = [("process", 1), ("process", 2)] + ([("dask", 2)] if a.dask else [])
    for ex, w in runs:
        t = time.perf_counter()
        df = pextlab.sweep(frag_study, grid=grid, executor=ex, workers=w, progress=False)
        el = time.perf_counter() - t
        rates[(ex, w)] = a.n / el * 60
        print(f"{ex} x{w}: {a.n} scenarios in {el:.1f} s = {rates[(ex, w)]:.1f} runs/min "
              f"({df['error'].notna().sum()} errors, {len(df)} rows)")
    print(f"speed-up 2 vs 1 workers: {rates[('process', 2)] / rates[('process', 1)]:.2f}x")


if __name__ == "__main__":
    main()
