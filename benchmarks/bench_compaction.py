"""Compaction cost (issue: fragmentation mechanics).

Fragments a machine (interleaved movable / unmovable / reclaimable order-0 chunks to
75 %, half the movable chunks freed), then times compact_memory and an
nr_hugepages write that needs direct compaction (30 % of RAM in 2 MiB pages).

    python benchmarks/bench_compaction.py
"""
import time

import numpy as np

import pextlab
from pextlab.kernel import page_alloc


def fragment(m, seed=1, fill=0.75):
    mm = m.mm
    rng = np.random.default_rng(seed)
    g = [mm.gfp("GFP_HIGHUSER_MOVABLE"), mm.gfp("GFP_KERNEL"), mm.gfp("GFP_KERNEL|__GFP_RECLAIMABLE")]
    total = sum(z.managed_pages for z in mm.all_zones())
    want = int(fill * total) - (total - sum(z.free_pages for z in mm.all_zones()))
    A = page_alloc.alloc_pages
    chunks, n = [], 0
    while n < want:
        k = int(rng.choice(3, p=[0.7, 0.15, 0.15]))
        c = [p for p in (A(mm, g[k], 0, None) for _ in range(int(rng.integers(1, 64)))) if p >= 0]
        n += len(c)
        chunks.append((k, c))
    for k, c in chunks:
        if k == 0 and rng.random() < 0.5:
            for p in c:
                page_alloc.free_pages(mm, p, 0)


def run(mem):
    res = {}
    m = pextlab.boot(mem, cmdline="page_owner=on")
    fragment(m)
    target = int(m.layout.total_pages * 0.3) >> 9
    t = time.perf_counter()
    got = m.set_nr_hugepages(target)
    res["nr_hugepages write (direct compaction)"] = (time.perf_counter() - t,
                                                    f"{got}/{target} pages, "
                                                    f"{m.mm.vm_events.get('compact_stall', 0)} stalls")
    m.set_nr_hugepages(0)
    t = time.perf_counter()
    ev = m.compact_memory()
    dt = time.perf_counter() - t
    res["compact_memory"] = (dt, f"{ev['pgmigrate_success']:,} pages migrated "
                                 f"({ev['pgmigrate_success'] / dt:,.0f}/s), "
                                 f"{ev['compact_migrate_scanned']:,} scanned")
    return res


def main():
    for mem in ("1G", "4G"):
        for k, (dt, what) in run(mem).items():
            print(f"{mem:>3} {k:42s} {dt:7.3f} s   {what}")


if __name__ == "__main__":
    main()
