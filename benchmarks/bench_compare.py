"""``pextlab compare`` on a 1 GiB capture (issue 10): target <= 3 s, the whole command
(interpreter start, imports, reading the capture, booting, comparing, printing) in a fresh
process, best of three.  Also times the development machine's 24 GiB capture.

    python benchmarks/bench_compare.py
"""
import pathlib
import subprocess
import sys
import time

REAL = pathlib.Path(__file__).resolve().parents[1] / "data" / "real-kernel"


def run(capture: pathlib.Path) -> float:
    best = None
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pextlab.cli", "compare", str(capture)],
                       check=True, capture_output=True)
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best


def main():
    results = {name: run(REAL / name) for name in ("b-1G", "dev-24G-firecracker-6.18")}
    for name, dt in results.items():
        print(f"pextlab compare {name}: {dt:.2f} s")
    ok = results["b-1G"] <= 3.0
    print("target met (1 GiB <= 3 s)" if ok else "TARGET MISSED (1 GiB <= 3 s)")
    return results


if __name__ == "__main__":
    main()
