"""``fragger``: the deterministic mixed workload of the frag-s1 captures, on the simulator.

The real workload is ``data/real-kernel/fragger.c`` (FRAG.md): it fills about
FILL % of RAM with interleaved *items* of five kinds, frees part of them, and
holds the rest while /init probes for 2 MiB huge pages before and after
``compact_memory``.  This package reproduces it on a simulated machine, one
job per module:

* :mod:`.rng` -- fragger.c's splitmix64 streams and hashed free decisions;
* :mod:`.items` -- the item list (size laws, kind weights 17/30/31/12/10, the
  budget rule) and the 6-item interleaving schedule, and the real logs read
  back: seed 1 and the real budget give the real ``fragger_items.txt`` /
  ``fragger_steps.txt``;
* :mod:`.slab` -- the slab caches the kinds allocate from (a small SLUB);
* :mod:`.kernel_side` -- page allocations with real 6.12 stacks, the process's
  page tables, and the reverse map that follows migrated pages;
* :mod:`.process` -- what each kind's system calls allocate and free;
* :mod:`.workload` -- :func:`fragger`, :class:`Fragger` and :class:`FraggerRun`:
  the phases with their snapshots, /init's huge-page probe, the frames.

>>> import pextlab
>>> m = pextlab.boot(mem="1G", cmdline="page_owner=on")
>>> r = m.run(fragger(seed=1, fill=0.75, rounds=1))
>>> list(m.snapshots)[:3]
['before_fill', 'after_fill', 'after_free']
>>> pti = m.snapshots["after_free"].df_pagetypeinfo()

Figures per phase (free pages, mixed blocks, unusable index) are in
:mod:`pextlab.analysis.fragmentation`; ready-made studies for sweeps in
:mod:`pextlab.studies`.  Imports: the kernel model, the stack catalogue,
errors, numpy and pandas -- never the Machine it runs on (it is handed one).
"""
from .items import (KIND_WEIGHTS, KINDS, WINDOW, FraggerItem, generate_items, read_items,
                    read_steps, schedule)
from .rng import Stream, free_decision, gen_stream, hash01, sched_stream, splitmix64
from .slab import SLAB_CACHES
from .workload import PROBE_PHASES, Fragger, FraggerRun, fragger, hugepage_target

__all__ = ["Fragger", "FraggerRun", "FraggerItem", "fragger", "generate_items", "schedule",
           "free_decision", "hash01", "splitmix64", "Stream", "gen_stream", "sched_stream",
           "KINDS", "KIND_WEIGHTS", "WINDOW", "SLAB_CACHES", "read_items", "read_steps",
           "hugepage_target", "PROBE_PHASES"]
