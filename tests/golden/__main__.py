"""``python -m tests.golden [--record] [NAME...]``: print or record the golden digests."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .scenarios import SCENARIOS, run_scenario

FILE = Path(__file__).with_name("frames.json")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.golden")
    ap.add_argument("--record", action="store_true", help=f"write the digests to {FILE.name}")
    ap.add_argument("names", nargs="*", help="scenarios (default: all)")
    args = ap.parse_args(argv)
    os.chdir(Path(__file__).resolve().parents[2])
    names = args.names or list(SCENARIOS)
    old = json.loads(FILE.read_text()) if FILE.exists() else {}
    new = dict(old)
    for name in names:
        new[name] = run_scenario(name)
        changed = sorted(k for k in new[name] if old.get(name, {}).get(k) != new[name][k])
        print(f"{name}: {len(new[name])} digests, changed: {', '.join(changed) or 'none'}")
    if args.record:
        FILE.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
        print(f"recorded {FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
