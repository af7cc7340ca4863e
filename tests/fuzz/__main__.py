"""``python -m tests.fuzz``: run the fuzz inputs and print the summary table (see the package)."""
from __future__ import annotations

import argparse
import sys

from .runner import FAILURES, format_summary, replay, run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    ap.add_argument("--inputs", type=int, default=100_000, help="number of inputs (default 100000)")
    ap.add_argument("--seed", type=int, default=1, help="schedule seed (default 1)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds an input may take (readers)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--replay", nargs=2, metavar=("TARGET", "SEED"), help="run one input again and show it")
    a = ap.parse_args(argv)
    if a.replay:
        print(replay(a.replay[0], int(a.replay[1])))
        return 0
    summary = run(a.inputs, seed=a.seed, timeout=a.timeout, workers=a.workers, progress=True)
    print(format_summary(summary))
    return 1 if any(summary.failed(k) for k in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
