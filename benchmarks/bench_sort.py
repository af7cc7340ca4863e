"""Benchmark ``pextlab sort`` (page_owner_sort equivalent) on the real b-1G dump.

Run: ``.venv/bin/python benchmarks/bench_sort.py [--repeat N] [dump]``

Measures, best and median of N runs:

* ``main([dump])`` in-process with default options (``-t``), end to end: read
  the 16 MB gzipped dump, group, sort, render, write to /dev/null;
* the same with ``--name leaky --cull=stacktrace``;
* the split: ``read_page_owner`` alone, ``page_owner_sort`` + render alone;
* one cold ``python -m pextlab.analysis.page_owner_sort`` subprocess, which adds
  interpreter start-up and the pandas import.

Reference: the kernel's C tool takes 0.25-0.31 s on this machine for the same
default run (measured by the project; the tool is not installed here).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"


def _time(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", nargs="?", default=str(DEFAULT_DUMP))
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()

    from pextlab.analysis.page_owner_sort import main as sort_main, page_owner_sort, render_page_owner_sort
    from pextlab.procfs.page_owner import read_page_owner

    size = os.path.getsize(a.dump)
    df = read_page_owner(a.dump)
    print(f"dump: {a.dump} ({size / 1e6:.2f} MB on disk, {len(df)} records)")  # 16 MB of text gzipped

    def run(argv):
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            rc = sort_main(argv)
        assert rc == 0, rc

    rows = [
        ("main() default (-t), read+sort+render", lambda: run([a.dump])),
        ("main() --name leaky --cull=stacktrace", lambda: run(["--name", "leaky", "--cull=stacktrace", a.dump])),
        ("read_page_owner only", lambda: read_page_owner(a.dump)),
        ("page_owner_sort + render only (default)", lambda: render_page_owner_sort(page_owner_sort(df))),
        ("page_owner_sort + render only (cull st)",
         lambda: render_page_owner_sort(page_owner_sort(df, name="leaky", cull="stacktrace"))),
    ]
    for label, fn in rows:
        best, med = _time(fn, a.repeat)
        print(f"{label:44s} best {best * 1e3:7.1f} ms   median {med * 1e3:7.1f} ms")

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pextlab.analysis.page_owner_sort", a.dump],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"{'cold subprocess (start-up + imports + run)':44s} {(time.perf_counter() - t0) * 1e3:7.1f} ms")
    print("kernel tools/mm/page_owner_sort, same default run:  250-310 ms (project measurement)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
