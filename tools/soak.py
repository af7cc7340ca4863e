"""The simulator soak: random operations on many machine configurations, with the laws of
the kernel state (``pextlab.kernel.debug.check_invariants``) checked every N operations.

    python tools/soak.py --ops 1000000            # make soak
    python tools/soak.py --ops 2000 --config v6.12-pcp --seed 3

Every configuration is a set of ``pextlab.boot`` arguments (page_owner on/off, guard
pages, poisoning, v3.19, pcp lists, NUMA, CMA, movablecore, fallback policies, FLATMEM,
memory hotplug windows).  A seeded generator drives each machine through:

* ``alloc_pages`` with random orders and gfp masks (named ones and raw bit sets) on
  random nodes, ``alloc_pages_exact``, ``free_pages`` of the blocks it holds;
* hot_add (every ``online=`` choice), online (every online type), offline, remove (ACPI
  eject or remove_memory) of memory blocks;
* ``set_nr_hugepages`` up and down, ``compact_memory``, ``idle`` (kswapd, kcompactd's
  proactive compaction), vm sysctls, ``probe_high_order``;
* workload runs (anon, page cache, slab, THP, page tables), frame builders and /proc
  reads;
* bad input on purpose: orders past MAX_PAGE_ORDER, __GFP_MOVABLE|__GFP_RECLAIMABLE,
  two zone modifiers at once (GFP_ZONE_BAD, from the raw bit sets), a node that does not exist, frees of the wrong order, of a tail page or of a free block,
  a negative pool size, a sysctl out of range.

The blocks the generator holds are a ``migrate.HeldBlocks`` registered on the machine's
migrate notifiers, so check_invariants also checks that every one of them followed its
migrations.  An operation must end in one of:

* ok;
* failed -- the kernel said no, as a value: None from an allocation, a HotplugOutcome
  with an errno, a smaller pool than asked for, or hot_add's PextlabError for ENOMEM or a
  full hotplug window (hot_add reports those by raising);
* refused -- a PextlabError for input the generator made bad on purpose.

Anything else is an error: another exception, a PextlabError for good input, bad input
accepted.  After an error or a violation the configuration's machine is booted afresh
(seed + 1) so one fault is counted once.  The table: per configuration, operations, of
which hotplug/hugetlb/compaction ones, failed, refused, invariant violations (checks that
found one), errors, seconds.  The exit status is 1 when any violation or error occurred;
the first ones are printed with the seed and operation number that reproduce them.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

import pextlab
from pextlab import PextlabError
from pextlab.kernel import memory_hotplug as mhp
from pextlab.kernel.debug import check_invariants
from pextlab.kernel.migrate import HeldBlocks
from pextlab.vm import SYSCTLS
from pextlab.workloads import anon, mix, page_cache, page_tables, slab, thp

__all__ = ["CONFIGS", "OPS", "runs_hotplug", "SoakError", "Held", "SoakStats", "Soak", "soak",
           "format_table", "main"]

#: name -> pextlab.boot arguments.  A configuration with ``maxmem`` runs memory hotplug.
CONFIGS = {
    "v6.12-owner": dict(mem="1G", cmdline="page_owner=on", maxmem="3G"),
    "v6.12-plain": dict(mem="512M", maxmem="2G"),
    "v6.12-pcp": dict(mem="1G", cmdline="page_owner=on pextlab.pcp=on", maxmem="3G"),
    "v6.12-guard-poison": dict(mem="512M", maxmem="2G", cmdline="page_owner=on debug_pagealloc=on "
                               "debug_guardpage_minorder=1 page_poison=on"),
    "v6.12-numa2-pcp": dict(mem="1G", nodes=2, cmdline="page_owner=on pextlab.pcp=on",
                            maxmem="3G"),
    "v6.12-cma-movablecore": dict(mem="1G", cmdline="page_owner=on cma=64M movablecore=25%",
                                  maxmem="2G"),
    "v6.12-memhp-movable": dict(mem="512M", cmdline="memhp_default_state=online_movable",
                                maxmem="2G"),
    "v6.12-unsplit": dict(mem="512M", policy="v6.12-unsplit", cmdline="page_owner=on",
                          maxmem="2G"),
    "v6.12-no-grouping-pcp": dict(mem="512M", policy="no-grouping", cmdline="pextlab.pcp=on",
                                  maxmem="2G"),
    "v6.12-flatmem": dict(mem="512M", memory_model="flatmem", cmdline="page_owner=on"),
    "v6.12-everything": dict(mem="768M", nodes=2, maxmem="3G",
                             cmdline="page_owner=on pextlab.pcp=on debug_pagealloc=on "
                             "debug_guardpage_minorder=2 page_poison=on cma=32M movablecore=10%"),
    "v3.19-owner": dict(mem="512M", profile="v3.19", cmdline="page_owner=on", maxmem="2G"),
    "v3.19-guard-pcp": dict(mem="512M", profile="v3.19", maxmem="2G",
                            cmdline="debug_pagealloc=on debug_guardpage_minorder=1 pextlab.pcp=on"),
    "v3.19-numa2-cma": dict(mem="1G", profile="v3.19", nodes=2, cmdline="page_owner=on cma=32M",
                            maxmem="3G"),
}

NAMED_GFPS = ("GFP_KERNEL", "GFP_HIGHUSER_MOVABLE", "GFP_USER|__GFP_MOVABLE",
              "GFP_KERNEL|__GFP_RECLAIMABLE", "GFP_ATOMIC", "GFP_NOWAIT", "GFP_DMA", "GFP_DMA32",
              "GFP_KERNEL|__GFP_NORETRY", "GFP_KERNEL|__GFP_RETRY_MAYFAIL",
              "GFP_KERNEL|__GFP_REPEAT", "GFP_TRANSHUGE", "GFP_TRANSHUGE_LIGHT",
              "GFP_HIGHUSER_MOVABLE|__GFP_THISNODE", "GFP_KERNEL|__GFP_ZERO|__GFP_COMP",
              "GFP_USER", "GFP_HIGHUSER", "GFP_NOIO", "GFP_NOFS", "GFP_KERNEL_ACCOUNT")
ONLINE_TYPES = ("online", "online_kernel", "online_movable")
HOT_ADD_ONLINE = (None, "offline", "online", "online_kernel", "online_movable")
SIZES = ("128M", "128M", "256M", "512M")

#: operation -> (weight, kind) where kind is the table column it also counts in
OPS = {
    "alloc": (440, None), "free": (420, None), "alloc_exact": (6, None),
    "bad_alloc": (8, None), "bad_free": (6, None),
    "hot_add": (2, "hotplug"), "online": (3, "hotplug"), "offline": (4, "hotplug"),
    "remove": (1, "hotplug"),
    "hugepages": (6, "hugetlb"),
    "compact_memory": (2, "compaction"), "idle": (2, "compaction"), "probe": (2, "compaction"),
    "sysctl": (1, None), "workload": (2, None), "frames": (1, None),
    "collect_records": (2, None),
}
REFUSED, FAILED, OK = "refused", "failed", "ok"


def runs_hotplug(name: str) -> bool:
    """A configuration with a hotplug window (``maxmem``) and SPARSEMEM runs memory hotplug."""
    kw = CONFIGS[name]
    return "maxmem" in kw and kw.get("memory_model", "sparsemem") == "sparsemem"


class SoakError(Exception):
    """The simulator accepted input the generator made bad on purpose."""


class Held(HeldBlocks):
    """The generator's blocks, with O(1) random choice (``keys``/``pos``) next to
    HeldBlocks' {pfn: order}, all three moved together by a migration."""

    def __init__(self):
        super().__init__()
        self.keys: list[int] = []
        self.pos: dict[int, int] = {}
        self.pages = 0

    def add(self, pfn: int, order: int) -> None:
        self.blocks[pfn] = order
        self.pos[pfn] = len(self.keys)
        self.keys.append(pfn)
        self.pages += 1 << order

    def take(self, i: int) -> tuple[int, int]:
        pfn = self.keys[i]
        last = self.keys.pop()
        if last != pfn:
            self.keys[i] = last
            self.pos[last] = i
        del self.pos[pfn]
        order = self.blocks.pop(pfn)
        self.pages -= 1 << order
        return pfn, order

    def __call__(self, moved, reason: str) -> None:
        blocks, pos, keys = self.blocks, self.pos, self.keys
        for old, new, _ in moved:
            order = blocks.pop(old, None)
            if order is not None:
                blocks[new] = order
                i = pos.pop(old)
                pos[new] = i
                keys[i] = new


@dataclass
class SoakStats:
    """The counts of one configuration's run (one row of the table)."""
    config: str
    ops: int = 0
    hotplug: int = 0
    hugetlb: int = 0
    compaction: int = 0
    failed: int = 0
    refused: int = 0
    violations: int = 0
    errors: int = 0
    seconds: float = 0.0
    checks: int = 0
    reports: list = field(default_factory=list)    # the first violations and errors, as text

    def row(self) -> dict:
        return {k: getattr(self, k) for k in ("config", "ops", "hotplug", "hugetlb", "compaction",
                                              "failed", "refused", "violations", "errors",
                                              "seconds")}


class Soak:
    """One configuration's machine and generator."""

    def __init__(self, name: str, seed: int, check_every: int = 250, max_reports: int = 5):
        self.name = name
        self.kw = CONFIGS[name]
        self.seed = seed
        self.check_every = check_every
        self.max_reports = max_reports
        self.stats = SoakStats(name)
        self.hotplug = runs_hotplug(name)
        names = [k for k in OPS if self.hotplug or OPS[k][1] != "hotplug"]
        w = np.array([OPS[k][0] for k in names], dtype=float)
        self.op_names = names
        self.op_p = w / w.sum()
        self.boot(seed)

    # --- machine -------------------------------------------------------------------------
    def boot(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.m = pextlab.boot(seed=seed, **self.kw)
        self.mm = self.m.mm
        self.held = Held()
        self.m.on_migrate(self.held)
        prof = self.mm.profile
        self.gfps = []
        for g in NAMED_GFPS:
            try:
                self.gfps.append(self.mm.gfp(g))
            except PextlabError:
                continue            # a name this profile's kernel does not have
        self.bits = np.array(sorted(set(prof.gfp_bits.values())), dtype=np.int64)
        self.both = prof.gfp_bits["__GFP_MOVABLE"] | prof.gfp_bits["__GFP_RECLAIMABLE"]
        self.zone_bits = (prof.gfp_bits["__GFP_DMA"] | prof.gfp_bits["__GFP_DMA32"]
                          | prof.gfp_bits["__GFP_HIGHMEM"])
        self.nodes = sorted(self.mm.nodes)
        self.max_order = prof.max_page_order
        p = 1.0 / np.arange(1, self.max_order + 2) ** 1.6
        self.order_p = p / p.sum()
        self.fill = 0.5
        self.managed = self._managed()

    def _managed(self) -> int:
        return sum(z.managed_pages for z in self.mm.all_zones())

    # --- the generator ---------------------------------------------------------------------
    def gfp(self) -> int:
        r = self.rng.random()
        if r < 0.75:
            return self.gfps[int(self.rng.integers(len(self.gfps)))]
        take = self.rng.random(len(self.bits)) < 0.2
        return int(np.bitwise_or.reduce(self.bits[take])) if take.any() else 0

    def bad_gfp(self, gfp: int) -> bool:
        # masks the kernel calls caller bugs: both mobility bits (gfp_migratetype's
        # VM_WARN_ON), or two zone modifiers (gfp_zone's GFP_ZONE_BAD)
        z = gfp & self.zone_bits
        return gfp & self.both == self.both or bool(z & (z - 1))

    def order(self) -> int:
        return int(self.rng.choice(self.max_order + 1, p=self.order_p))

    def nid(self):
        return None if self.rng.random() < 0.5 else self.nodes[int(self.rng.integers(len(self.nodes)))]

    # --- operations: each returns OK, FAILED or REFUSED ---------------------------------------
    def op_alloc(self):
        gfp, order = self.gfp(), self.order()
        pfn = self._call(self.bad_gfp(gfp), self.m.alloc_pages, order, gfp, self.nid())
        if pfn is REFUSED:
            return REFUSED
        if pfn is None:
            return FAILED
        self.held.add(pfn, order)
        return OK

    def op_alloc_exact(self):
        size = int(self.rng.integers(1, 4 << 20))
        gfp = self.gfps[int(self.rng.integers(len(self.gfps)))]
        pfn = self._call(self.bad_gfp(gfp), self.m.alloc_pages_exact, size, gfp, self.nid())
        if pfn is REFUSED:
            return REFUSED
        if pfn is None:
            return FAILED
        for p in range(pfn, pfn + ((size + 4095) >> 12)):      # split_page: order-0 pages
            self.held.add(p, 0)
        return OK

    def op_free(self):
        if not self.held.keys:
            return self.op_alloc()
        pfn, order = self.held.take(int(self.rng.integers(len(self.held.keys))))
        self.m.free_pages(pfn, order)
        return OK

    def op_bad_alloc(self):
        r = int(self.rng.integers(4))
        if r == 0:
            args = (self.max_order + 1 + int(self.rng.integers(3)), "GFP_KERNEL", None)
        elif r == 1:
            args = (-1, "GFP_KERNEL", None)
        elif r == 2:
            args = (self.order(), self.gfps[int(self.rng.integers(len(self.gfps)))] | self.both, None)
        else:
            args = (0, "GFP_KERNEL", max(self.nodes) + 1 + int(self.rng.integers(3)))
        return self._call(True, self.m.alloc_pages, *args)

    def op_bad_free(self):
        mm = self.mm
        big = [p for p in self.held.keys[-64:] if self.held.blocks[p] > 0]
        r = int(self.rng.integers(3))
        if r == 0 and big:                        # the wrong order
            pfn = big[int(self.rng.integers(len(big)))]
            order = self.held.blocks[pfn] + (1 if self.rng.random() < 0.5 else -1)
        elif r == 1 and big:                      # a tail page
            pfn = big[int(self.rng.integers(len(big)))]
            order = self.held.blocks[pfn]
            pfn += 1 + int(self.rng.integers((1 << order) - 1))
        else:                                     # a free block
            zones = [z for z in mm.populated_zones() if z.free_pages]
            if not zones:
                return self.op_alloc()
            z = zones[int(self.rng.integers(len(zones)))]
            order, mt = next((o, t) for o in range(mm.nr_orders)
                             for t, d in enumerate(z.free_area[o]) if d)
            pfn = next(iter(z.free_area[order][mt]))
        return self._call(True, self.m.free_pages, pfn, order)

    def op_hot_add(self):
        size = SIZES[int(self.rng.integers(len(SIZES)))]
        nid = self.nodes[int(self.rng.integers(len(self.nodes)))]
        how = HOT_ADD_ONLINE[int(self.rng.integers(len(HOT_ADD_ONLINE)))]
        try:
            self.m.hot_add(size, nid=nid, online=how)
        except PextlabError as e:
            # hot_add raises for the kernel's -ENOMEM and for a full hotplug window
            if str(e).startswith(("ENOMEM", "no room")):
                return FAILED
            raise
        self.managed = self._managed()
        return OK

    def op_online(self):
        offline = [b for b, r in self.mm.hotplug_blocks.items() if r["state"] == "offline"]
        if not offline:
            return self.op_hot_add()
        b = offline[int(self.rng.integers(len(offline)))]
        r = self.m.online(b, ONLINE_TYPES[int(self.rng.integers(3))])
        self.managed = self._managed()
        return OK if r.ok else FAILED

    def op_offline(self):
        mm = self.mm
        online = [b for b in mhp.block_ids(mm) if mhp.memory_block(mm, b)["state"] == "online"]
        b = online[int(self.rng.integers(len(online)))]
        r = self.m.offline(b)
        self.managed = self._managed()
        return OK if r.ok else FAILED

    def op_remove(self):
        devs = sorted(self.mm.hotplug_devices)
        if not devs:
            return self.op_hot_add()
        r = self.m.remove(devs[int(self.rng.integers(len(devs)))], eject=self.rng.random() < 0.7)
        self.managed = self._managed()
        return OK if r.ok else FAILED

    def op_hugepages(self):
        if self.rng.random() < 0.05:
            return self._call(True, self.m.set_nr_hugepages, -1 - int(self.rng.integers(5)))
        now = self.m.nr_hugepages
        r = self.rng.random()
        want = 0 if r < 0.15 else int(self.rng.integers(0, 2 * now + 64)) if r < 0.9 else 100_000
        got = self.m.set_nr_hugepages(want)
        if got != self.m.nr_hugepages:
            raise AssertionError(f"set_nr_hugepages returned {got}, pool holds {self.m.nr_hugepages}")
        return OK if got == want else FAILED

    def op_compact_memory(self):
        self.m.compact_memory()
        return OK

    def op_collect_records(self):
        # page_owner drops the record rows no page points at (make_room does when its
        # table fills; here at any moment): the invariants must hold after it
        po = self.m.mm.page_owner
        if po is None:
            return REFUSED
        po.collect_records()
        return OK

    def op_idle(self):
        self.m.idle(float(self.rng.uniform(0.5, 3.0)))
        return OK

    def op_probe(self):
        order = int(self.rng.integers(self.max_order // 2, self.max_order + 1))
        r = self.m.probe_high_order(order, n=int(self.rng.integers(1, 4)),
                                    gfp="GFP_KERNEL|__GFP_NORETRY" if self.rng.random() < 0.5
                                    else "GFP_HIGHUSER_MOVABLE")
        return OK if r["succeeded"] == r["requested"] else FAILED

    def op_sysctl(self):
        names = sorted(SYSCTLS)
        name = names[int(self.rng.integers(len(names)))]
        _, _, lo, hi = SYSCTLS[name]
        if self.rng.random() < 0.1:
            bad = hi + 1 + int(self.rng.integers(100)) if self.rng.random() < 0.5 else lo - 1
            return self._call(True, self.m.sysctl, name, bad)
        self.m.sysctl(name, int(self.rng.integers(lo, min(hi, lo + 40000) + 1)))
        return OK

    def op_workload(self):
        w = mix(anon("soak-anon", rate=int(self.rng.integers(200, 3000)), lifetime="1s"),
                page_cache("soak-cache", rate=300, lifetime="2s"),
                slab("soak-slab", rate=100, reclaimable=bool(self.rng.random() < 0.5)),
                page_tables("soak-pt", rate=30), thp("soak-thp", rate=4, lifetime="1s"))
        self.m.run(w, duration=f"{int(self.rng.integers(50, 400))}ms", sample=None)
        return OK

    def op_frames(self):
        r = int(self.rng.integers(5))
        if r == 0:
            self.m.df_buddyinfo()
        elif r == 1:
            self.m.proc("pagetypeinfo")
        elif r == 2:
            self.m.df_zones()
        elif r == 3:
            self.m.snapshot("soak")
        elif self.mm.page_owner is not None:
            self.m.df_page_owner()
        return OK

    def _call(self, bad: bool, fn, *args):
        """Call ``fn``; a PextlabError is the expected answer to bad input, an error else."""
        try:
            out = fn(*args)
        except PextlabError:
            if bad:
                return REFUSED
            raise
        if bad:
            raise SoakError(f"{fn.__name__}{args!r}: bad input accepted, returned {out!r}")
        return out

    # --- the loop --------------------------------------------------------------------------------
    def step(self, i: int) -> None:
        st = self.stats
        if i % 2000 == 0:
            self.fill = float(self.rng.choice([0.2, 0.5, 0.8, 0.97, 1.2]))
        name = self.op_names[int(self.rng.choice(len(self.op_names), p=self.op_p))]
        if name in ("alloc", "free"):
            # hold about ``fill`` of the memory: allocate below it, free above it
            over = self.held.pages > self.fill * self.managed
            name = "free" if self.rng.random() < (0.75 if over else 0.35) else "alloc"
        kind = OPS[name][1]
        if kind is not None:
            setattr(st, kind, getattr(st, kind) + 1)
        st.ops += 1
        try:
            res = getattr(self, "op_" + name)()
        except Exception as e:  # noqa: BLE001 -- every other exception is what the soak counts
            st.errors += 1
            errs = check_invariants(self.mm)
            self._report(f"error in op #{i} {name}: {type(e).__name__}: {e}\n"
                         + "".join(traceback.format_exception(e)[-4:])
                         + (f"  and then {len(errs)} invariant violation(s), first: {errs[0]}"
                            if errs else ""))
            self.boot(self.seed + 1)
            return
        if res == FAILED:
            st.failed += 1
        elif res == REFUSED:
            st.refused += 1
        if i % self.check_every == self.check_every - 1:
            self.check(i)

    def check(self, i: int) -> None:
        self.stats.checks += 1
        errs = check_invariants(self.mm)
        if errs:
            self.stats.violations += 1
            self._report(f"invariants violated after op #{i}:\n  " + "\n  ".join(errs[:10]))
            self.boot(self.seed + 1)

    def _report(self, text: str) -> None:
        if len(self.stats.reports) < self.max_reports:
            self.stats.reports.append(f"[{self.name} seed {self.seed}] {text}")

    def run(self, ops: int) -> SoakStats:
        t0 = time.perf_counter()
        for i in range(ops):
            self.step(i)
        self.check(ops)
        self.stats.seconds = round(time.perf_counter() - t0, 1)
        return self.stats


def soak(ops_per_config: int, configs=None, seed: int = 0, check_every: int = 250,
         progress=None) -> list[SoakStats]:
    """Run every configuration (default: all of CONFIGS) for ``ops_per_config`` operations."""
    out = []
    for k, name in enumerate(configs or CONFIGS):
        st = Soak(name, seed * 1000 + k, check_every).run(ops_per_config)
        out.append(st)
        if progress is not None:
            progress(st)
    return out


def format_table(stats: list[SoakStats]) -> str:
    cols = ("config", "ops", "hotplug", "hugetlb", "compaction", "failed", "refused",
            "violations", "errors", "seconds")
    rows = [st.row() for st in stats]
    total = {c: sum(r[c] for r in rows) for c in cols[1:]}
    total["config"] = "total"
    total["seconds"] = round(total["seconds"], 1)
    rows.append(total)
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    line = lambda r: "  ".join(str(r[c]).ljust(width[c]) if c == "config" else str(r[c]).rjust(width[c])
                               for c in cols)
    head = {c: c for c in cols}
    return "\n".join([line(head), line({c: "-" * width[c] for c in cols})]
                     + [line(r) for r in rows[:-1]] + [line({c: "-" * width[c] for c in cols}),
                                                        line(rows[-1])])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ops", type=int, default=1_000_000, help="operations in all (split evenly)")
    ap.add_argument("--config", action="append", choices=sorted(CONFIGS),
                    help="run only these configurations (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check-every", type=int, default=250)
    args = ap.parse_args(argv)
    configs = args.config or list(CONFIGS)
    per = -(-args.ops // len(configs))
    print(f"soak: {per} operations on each of {len(configs)} configurations, invariants every "
          f"{args.check_every}, seed {args.seed}", flush=True)
    stats = soak(per, configs, args.seed, args.check_every,
                 progress=lambda st: print(f"  {st.config}: {st.ops} ops, {st.violations} "
                                           f"violations, {st.errors} errors, {st.seconds} s",
                                           flush=True))
    print(format_table(stats))
    bad = [r for st in stats for r in st.reports]
    for r in bad:
        print("\n" + r)
    return 1 if any(st.violations or st.errors for st in stats) else 0


if __name__ == "__main__":
    sys.exit(main())
