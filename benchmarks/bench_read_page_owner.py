"""Benchmark read_page_owner: the real 16 MB b-1G dump and a synthetic 1 GB dump.

Run standalone::

    .venv/bin/python benchmarks/bench_read_page_owner.py [--size-mb 1024] [--keep DIR]

Targets: the b-1G dump (16 MB uncompressed, read from its .gz) in < 0.25 s;
the synthetic dump at >= 50 MB/s with <= 1.5 GB peak RSS.  The synthetic dump
is the b-1G text repeated with every copy's PFNs shifted past the previous
copy's and its timestamps perturbed, written to a temporary folder; each
measurement runs in a fresh child process so that peak RSS is the reader's own.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "data" / "real-kernel" / "b-1G" / "page_owner.txt.gz"

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {src!r})
from pextlab.procfs.page_owner import read_page_owner, iter_page_owner_chunks
path, mode, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(repeat):
    t = time.perf_counter()
    if mode == "whole":
        n = len(read_page_owner(path))
    else:
        n = sum(len(c) for c in iter_page_owner_chunks(path, chunk_records=200_000))
    times.append(time.perf_counter() - t)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({{"records": n, "best_s": min(times), "times": times, "peak_rss": rss}}))
"""


def _child(path: Path, mode: str = "whole", repeat: int = 1) -> dict:
    code = _CHILD.format(src=str(REPO / "src"))
    out = subprocess.run([sys.executable, "-c", code, str(path), mode, str(repeat)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_synthetic(dest: Path, size_mb: int) -> tuple[int, int]:
    """Write a dump of about ``size_mb`` MB; returns (bytes, records)."""
    import gzip

    with gzip.open(REAL, "rt") as fh:
        base = fh.read()
    max_pfn = max(int(m, 16) for m in re.findall(r"^PFN 0x([0-9a-f]+)", base, re.M))
    span = 1 << (max_pfn.bit_length())
    nrec = base.count("Page allocated via")
    rx = re.compile(r"(?m)^PFN 0x([0-9a-f]+)|, ts (\d+) ns")
    target = size_mb << 20
    written = records = 0
    k = 0
    with open(dest, "w") as out:
        while written < target:
            off = k * span

            def sub(m, off=off, k=k):
                if m.group(1) is not None:
                    return f"PFN {int(m.group(1), 16) + off:#x}"
                return f", ts {int(m.group(2)) + 1000 * k + 7} ns"

            text = rx.sub(sub, base)
            out.write(text)
            written += len(text)
            records += nrec
            k += 1
    return written, records


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="synthetic dump size (default 1024)")
    ap.add_argument("--keep", type=Path, help="folder for the synthetic dump (default: a temp dir)")
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args(argv)

    r = _child(REAL, "whole", repeat=5)
    import gzip
    with gzip.open(REAL, "rb") as fh:
        real_bytes = len(fh.read())
    print(f"b-1G page_owner.txt.gz: {real_bytes / 1e6:.1f} MB uncompressed, {r['records']} records, "
          f"best of 5 {r['best_s'] * 1000:.0f} ms ({real_bytes / r['best_s'] / 1e6:.0f} MB/s), "
          f"target < 250 ms: {'OK' if r['best_s'] < 0.25 else 'MISSED'}")
    if args.skip_synthetic:
        return 0

    with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
        path = Path(tmp) / "page_owner.synthetic.txt"
        t = time.perf_counter()
        nbytes, nrec = make_synthetic(path, args.size_mb)
        print(f"synthetic dump: {nbytes / 1e6:.0f} MB, {nrec} records (generated in "
              f"{time.perf_counter() - t:.1f} s)")
        for mode in ("whole", "chunks"):
            r = _child(path, mode)
            assert r["records"] == nrec, (r["records"], nrec)
            mbps = nbytes / r["best_s"] / 1e6
            ok = mbps >= 50 and r["peak_rss"] <= 1.5e9
            label = "read_page_owner" if mode == "whole" else "iter_page_owner_chunks(200k)"
            print(f"{label}: {r['best_s']:.2f} s, {mbps:.0f} MB/s, peak RSS {r['peak_rss'] / 1e9:.2f} GB "
                  f"(targets >= 50 MB/s, <= 1.5 GB): {'OK' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
