"""Steady allocator churn on a 16 GiB machine (issue: foundation).

Targets: >= 500,000 order-0 allocations+frees per second (each counted), and
>= 300,000/s with mixed orders 0-3 and mixed migratetypes.  Also reports the
cost with page_owner=on.

    python benchmarks/bench_churn.py
"""
import time
from collections import deque

import numpy as np

import pextlab
from pextlab.kernel import page_alloc

GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_KERNEL|__GFP_RECLAIMABLE")


def churn(cmdline: str, mixed: bool, n_ops: int = 600_000, window: int = 4096, seed: int = 1):
    m = pextlab.boot(mem="16G", cmdline=cmdline, seed=seed)
    mm = m.mm
    rng = np.random.default_rng(seed)
    orders = rng.integers(0, 4, n_ops) if mixed else np.zeros(n_ops, dtype=np.int64)
    masks = [mm.gfp(g) for g in GFPS]
    gsel = rng.integers(0, len(masks), n_ops) if mixed else np.zeros(n_ops, dtype=np.int64)
    orders, gsel = orders.tolist(), gsel.tolist()
    A, F = page_alloc.__alloc_pages, page_alloc.free_pages
    live = deque()
    ops = 0
    t = time.perf_counter()
    for i in range(n_ops // 2):
        o = orders[i]
        p = A(mm, masks[gsel[i]], o, None)
        ops += 1
        if p >= 0:
            live.append((p, o))
        if len(live) > window:
            q, qo = live.popleft()
            F(mm, q, qo)
            ops += 1
    dt = time.perf_counter() - t
    return ops / dt


def main():
    res = {
        "order-0, page_owner off": churn("", False),
        "orders 0-3 x 3 migratetypes, page_owner off": churn("", True),
        "order-0, page_owner=on": churn("page_owner=on", False),
        "orders 0-3 x 3 migratetypes, page_owner=on": churn("page_owner=on", True),
    }
    for k, v in res.items():
        print(f"{k:48s} {v:12,.0f} ops/s")
    ok = res["order-0, page_owner off"] >= 500_000 and res["orders 0-3 x 3 migratetypes, page_owner off"] >= 300_000
    print("targets met" if ok else "TARGETS MISSED")
    return res


if __name__ == "__main__":
    main()
