"""Memory hotplug on a 16 GiB machine (issue: memory hotplug).

1. Offline 2 GiB full of movable pages: boot 16 GiB with maxmem=20G (memory block
   size is 128 MiB below 64 GiB of boot RAM, as on x86_64), hot-add 2 GiB and online
   it as ZONE_MOVABLE, fill it with order-0 GFP_HIGHUSER_MOVABLE pages (every page
   but the watermark reserve), then offline the 16 consecutive 128 MiB blocks.
   Every page is migrated (page_owner=on: records copied, reason memory_hotplug).
   Target: <= 2 s for the 16 offlines together.
2. Online then offline one empty 128 MiB block on the same machine (printed).

    python benchmarks/bench_hotplug.py
"""
import time

import pextlab
from pextlab.kernel import page_alloc


HMachine = pextlab.Machine


def main():
    m = pextlab.boot(mem="16G", cmdline="page_owner=on", maxmem="20G")
    mm = m.mm
    blocks = m.hot_add("2G")
    for b in blocks:
        assert m.online(b, "online_movable").ok
    movable = mm.zone(0, "Movable")
    gfp = mm.gfp("GFP_HIGHUSER_MOVABLE")
    A = page_alloc.__alloc_pages
    t = time.perf_counter()
    n = 0
    while True:
        p = A(mm, gfp, 0, 0)
        if p < 0 or p >> 15 not in blocks:
            if p >= 0:
                page_alloc.free_pages(mm, p, 0)
            break
        n += 1
    fill = time.perf_counter() - t
    print(f"filled the 2 GiB Movable range with {n} order-0 movable pages "
          f"({n / 262144 * 100 / 2:.1f} % of it) in {fill:.2f} s; Movable free {movable.free_pages}")
    t = time.perf_counter()
    migrated = 0
    for b in blocks:
        r = m.offline(b)
        assert r.ok, r
        migrated += r.migrated
    dt = time.perf_counter() - t
    print(f"offline 16 x 128 MiB blocks (2 GiB), {migrated} pages migrated: {dt:.2f} s "
          f"(target <= 2 s) {'OK' if dt <= 2.0 else 'SLOW'}")

    b = blocks[0]
    t = time.perf_counter()
    r1 = m.online(b, "online")
    t1 = time.perf_counter() - t
    t = time.perf_counter()
    r2 = m.offline(b)
    t2 = time.perf_counter() - t
    assert r1.ok and r2.ok, (r1, r2)
    print(f"online one empty 128 MiB block: {t1 * 1e3:.1f} ms; offline it: {t2 * 1e3:.1f} ms")
    return dt


if __name__ == "__main__":
    main()
