"""Benchmark ``pextlab sort`` (page_owner_sort equivalent) on the real b-1G dump, cold.

Run: ``.venv/bin/python benchmarks/bench_sort.py [--repeat N] [--frames] [dump.txt.gz]``

The target is the shell command as a user types it, so every number is a fresh
``.venv/bin/pextlab sort DUMP OUT`` process (interpreter start-up, imports,
read, group, sort, render, write), best and median of N runs (default 5), on

* the uncompressed 16 MB dump (decompressed once into a temporary folder) and
* the gzipped dump as stored in ``data/``,

with default options (``-t``) and with ``--name leaky --cull=stacktrace``.
``--frames`` adds the same runs of the frame (pandas) path,
``python -c "...sort_cli.main_frames(...)"``, for comparison.

Reference: the kernel's C tool takes 0.25-0.31 s on this machine for the same
default run on the uncompressed dump (measured by the project; the tool is not
installed here).  Timings on a loaded machine vary: compare runs made together.
"""
from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DUMP = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"
PEXTLAB = Path(sys.executable).parent / "pextlab"

FRAMES = ("import sys; from pextlab.analysis.sort_cli import main_frames; "
          "kw = {'name': ['leaky'], 'cull': 'stacktrace'} if sys.argv[3:] else {}; "
          "sys.exit(main_frames(sys.argv[1], sys.argv[2], kw, False))")


def _cold(cmd: list[str], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", nargs="?", default=str(DEFAULT_DUMP), help="a gzipped page_owner dump")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", action="store_true", help="also time the frame (pandas) path")
    a = ap.parse_args()
    if not PEXTLAB.exists():
        sys.exit(f"{PEXTLAB} not found: install the package into this venv first")

    tmp = Path(tempfile.mkdtemp(prefix="bench_sort_"))
    try:
        plain = tmp / "page_owner.txt"
        with gzip.open(a.dump, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        out = str(tmp / "sorted.txt")
        print(f"dump: {a.dump} ({os.path.getsize(a.dump) / 1e6:.1f} MB gzipped, "
              f"{plain.stat().st_size / 1e6:.1f} MB of text); best / median of {a.repeat} cold runs")
        leak = ["--name", "leaky", "--cull=stacktrace"]
        rows = []
        for label, path in (("uncompressed", str(plain)), ("gzipped", a.dump)):
            rows.append((f"pextlab sort, {label}, default", [str(PEXTLAB), "sort", path, out]))
            rows.append((f"pextlab sort, {label}, leak", [str(PEXTLAB), "sort", *leak, path, out]))
            if a.frames:
                rows.append((f"frame path, {label}, default", [sys.executable, "-c", FRAMES, path, out]))
                rows.append((f"frame path, {label}, leak", [sys.executable, "-c", FRAMES, path, out, "leak"]))
        for label, cmd in rows:
            best, med = _cold(cmd, a.repeat)
            print(f"{label:40s} best {best * 1e3:6.0f} ms   median {med * 1e3:6.0f} ms")
        print(f"{'python -c pass (interpreter start-up)':40s} best "
              f"{_cold([sys.executable, '-c', 'pass'], a.repeat)[0] * 1e3:6.0f} ms")
        print("kernel tools/mm/page_owner_sort, default, uncompressed: 250-310 ms (project measurement)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
