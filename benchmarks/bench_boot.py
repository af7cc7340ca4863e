"""Boot time and simulator memory per simulated page (issues: foundation, 15).

Targets: 64 GiB 2-node page_owner=on boot <= 2 s; 1 TiB 8-node <= 5 s using
<= 8 bytes of RAM per simulated page (issue 15; before it: 14.4 s, 7.3 B/page).
Each boot runs in a fresh process so the RSS growth is the boot's own, and the
time includes importing the lab, as a user's first boot does.  Best of ``REPS``.

    python benchmarks/bench_boot.py
"""
import json
import subprocess
import sys

CHILD = r"""
import json, resource, time, sys
import pextlab
mem, nodes = sys.argv[1], int(sys.argv[2])
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
m = pextlab.boot(mem=mem, nodes=nodes, cmdline="page_owner=on")
dt = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
pages = m.layout.total_pages
print(json.dumps({"mem": mem, "nodes": nodes, "seconds": round(dt, 3), "pages": pages,
                  "rss_growth_mib": round((r1 - r0) / 1024, 1),
                  "bytes_per_page": round((r1 - r0) * 1024 / pages, 2),
                  "page_ext_bytes": m.page_ext_bytes}))
"""


def run(mem, nodes):
    out = subprocess.run([sys.executable, "-c", CHILD, mem, str(nodes)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


REPS = 3
# issue 15's table: the figures measured before the bulk boot, and its targets
BEFORE = {"1T": (14.4, 7.3)}
TARGET = {"64G": (2.0, None), "1T": (5.0, 8.0)}


def best(mem, nodes, reps=REPS):
    runs = [run(mem, nodes) for _ in range(reps)]
    return min(runs, key=lambda r: r["seconds"]) | {
        "bytes_per_page": min(r["bytes_per_page"] for r in runs)}


def main():
    results = [best("64G", 2), best("1T", 8)]
    ok = True
    for r in results:
        line = (f"boot {r['mem']:>4} {r['nodes']} nodes page_owner=on: {r['seconds']:.2f} s, "
                f"RSS +{r['rss_growth_mib']} MiB = {r['bytes_per_page']} B/simulated page")
        if r["mem"] in BEFORE:
            s0, b0 = BEFORE[r["mem"]]
            line += f"  (before: {s0} s, {b0} B/page)"
        ts, tb = TARGET[r["mem"]]
        line += f"  [target <= {ts} s" + (f", <= {tb} B/page]" if tb else "]")
        ok &= r["seconds"] <= ts and (tb is None or r["bytes_per_page"] <= tb)
        print(line)
    print("targets met" if ok else "TARGETS MISSED")
    return results


if __name__ == "__main__":
    main()
