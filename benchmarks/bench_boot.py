"""Boot time and simulator memory per simulated page (issue: foundation).

Targets: 64 GiB 2-node page_owner=on boot <= 2 s; 1 TiB 8-node <= 30 s using
<= 16 bytes of RAM per simulated page.  Each size runs in a fresh process so the
RSS growth is the boot's own.

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


def main():
    results = [run("64G", 2), run("1T", 8)]
    for r in results:
        print(f"boot {r['mem']:>4} {r['nodes']} nodes page_owner=on: {r['seconds']:.2f} s, "
              f"RSS +{r['rss_growth_mib']} MiB = {r['bytes_per_page']} B/simulated page")
    ok = results[0]["seconds"] <= 2 and results[1]["seconds"] <= 30 and results[1]["bytes_per_page"] <= 16
    print("targets met" if ok else "TARGETS MISSED")
    return results


if __name__ == "__main__":
    main()
