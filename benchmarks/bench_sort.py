"""Benchmark ``pextlab sort`` (page_owner_sort equivalent) beside the kernel's own tool, cold.

Run: ``.venv/bin/python benchmarks/bench_sort.py [--repeat N] [--frames] [--big-mb 160] [dump.txt.gz]``

The target is the shell command as a user types it, so every number is a fresh
``.venv/bin/pextlab sort DUMP OUT`` process (interpreter start-up, imports,
read, group, sort, render, write), best and median of N runs (default 5), on

* the uncompressed 16 MB dump (decompressed once into a temporary folder) and
* the gzipped dump as stored in ``data/``,

with default options (``-t``) and with ``--name leaky --cull=stacktrace``.
``--frames`` adds the same runs of the frame (pandas) path,
``python -c "...sort_cli.main_frames(...)"``, for comparison.

and on a ``--big-mb`` (default 160) synthetic dump (the b-1G text repeated,
see ``bench_read_page_owner.make_synthetic``) with one process (``--workers 1``)
and with the default (every core).  The kernel's ``tools/mm/page_owner_sort``
(6.12, ``$PAGE_OWNER_SORT`` or ``build/page_owner_sort`` from
``tools/build_page_owner_sort.sh``) runs on the same uncompressed files in the
same loop, interleaved with ours; the output bytes are compared too.  Timings
on a loaded machine vary: compare runs made together.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read_page_owner import kernel_tool, make_synthetic  # noqa: E402
DEFAULT_DUMP = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"
PEXTLAB = Path(sys.executable).parent / "pextlab"

FRAMES = ("import sys; from pextlab.analysis.sort_cli import main_frames; "
          "kw = {'name': ['leaky'], 'cull': 'stacktrace'} if sys.argv[3:] else {}; "
          "sys.exit(main_frames(sys.argv[1], sys.argv[2], kw, False))")


def _interleaved(rows: list[tuple[str, list[str]]], repeat: int) -> dict[str, list[float]]:
    """Run every command once per round, ``repeat`` rounds (load changes hit all rows alike)."""
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(repeat):
        for label, cmd in rows:
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[label].append(time.perf_counter() - t0)
    return times


def _report(times: dict[str, list[float]]) -> dict[str, list[float]]:
    for label, ts in times.items():
        print(f"{label:40s} best {min(ts) * 1e3:6.0f} ms   median {statistics.median(ts) * 1e3:6.0f} ms")
    return times


def _same_bytes(tool: Path, dump: Path, tmp: Path) -> None:
    subprocess.run([str(tool), str(dump), str(tmp / "c.txt")], check=True, capture_output=True)
    subprocess.run([str(PEXTLAB), "sort", str(dump), str(tmp / "p.txt")], check=True, capture_output=True)
    same = (tmp / "c.txt").read_bytes() == (tmp / "p.txt").read_bytes()
    print(f"output of pextlab sort and the kernel's tool on {dump.name}: {'identical' if same else 'DIFFERENT'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dump", nargs="?", default=str(DEFAULT_DUMP), help="a gzipped page_owner dump")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", action="store_true", help="also time the frame (pandas) path")
    ap.add_argument("--big-mb", type=int, default=160, help="synthetic dump for the side-by-side rows (0: none)")
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
        tool = kernel_tool()
        rows = []
        for label, path in (("uncompressed", str(plain)), ("gzipped", a.dump)):
            rows.append((f"pextlab sort, {label}, default", [str(PEXTLAB), "sort", path, out]))
            rows.append((f"pextlab sort, {label}, leak", [str(PEXTLAB), "sort", *leak, path, out]))
            if a.frames:
                rows.append((f"frame path, {label}, default", [sys.executable, "-c", FRAMES, path, out]))
                rows.append((f"frame path, {label}, leak", [sys.executable, "-c", FRAMES, path, out, "leak"]))
        if tool is not None:
            rows.append(("kernel page_owner_sort, uncompressed", [str(tool), str(plain), str(tmp / "c.txt")]))
        rows.append(("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"]))
        _report(_interleaved(rows, a.repeat))
        if tool is not None:
            _same_bytes(tool, plain, tmp)
        else:
            print("kernel page_owner_sort: NOT FOUND (set $PAGE_OWNER_SORT or run "
                  "tools/build_page_owner_sort.sh); before, the project measured 250-310 ms for it here")
        if a.big_mb > 0:
            big = tmp / "big.txt"
            nbytes, nrec = make_synthetic(big, a.big_mb)
            print(f"\n{a.big_mb} MB synthetic dump: {nbytes / 1e6:.0f} MB, {nrec} records; best / median of "
                  f"{a.repeat} cold runs, interleaved")
            rows = [("pextlab sort --workers 1, default", [str(PEXTLAB), "sort", "--workers", "1", str(big), out]),
                    ("pextlab sort (every core), default", [str(PEXTLAB), "sort", str(big), out]),
                    ("pextlab sort (every core), leak", [str(PEXTLAB), "sort", *leak, str(big), out])]
            if tool is not None:
                rows.append(("kernel page_owner_sort, default", [str(tool), str(big), str(tmp / "c.txt")]))
            times = _report(_interleaved(rows, a.repeat))
            if tool is not None:
                t_tool = min(times["kernel page_owner_sort, default"])
                t_all = min(times["pextlab sort (every core), default"])
                print(f"pextlab sort on every core is {t_tool / t_all:.1f}x faster than the kernel's tool "
                      f"(best); before (one process): 1.32-1.36 s against 4.27-4.40 s on 178 MB (3.2x)")
                _same_bytes(tool, big, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
