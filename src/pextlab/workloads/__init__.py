"""Workloads: tasks allocating through real kernel call stacks, over simulated time.

Build a workload from tasks, run it on a machine, read the frames::

    import pextlab
    from pextlab.workloads import mix, anon, page_cache, slab, hog, leak
    m = pextlab.boot(mem="4G", nodes=2, cmdline="page_owner=on", seed=1)
    m.run(mix(anon("postgres", rate=2000), hog("java", pages=100_000),
              leak("leaky", pages=20_000, fraction=0.2)), duration="60s", record=True)
    m.df_page_owner(); m.df_stacks(); m.df_events(); m.df_memory_usage()

* :mod:`.spec` -- the declarative side: :class:`Task`, :class:`Workload`, ``mix``
  and the constructors (``anon``, ``page_cache``, ``slab``, ``page_tables``,
  ``kernel_stacks``, ``thp``, ``pipe_buffers``, ``burst``, ``hog``, ``pin``,
  ``leak``, ``task``); JSON ``save``/``load``.
* :mod:`.catalogue` -- the real 6.12 stacks each kind allocates through
  (``data/stacks/catalogue.json``).
* :mod:`.runner` -- the event-driven simulation (numpy + the kernel model);
  its :class:`RunLog` follows the pages it holds when they migrate.
* :mod:`.fragger` -- the frag-s1 workload (``fragger.c``) with its phases and
  snapshots: :func:`fragger`.
* :mod:`.session` -- :class:`WorkloadSession`: a machine's run log and
  generator (``Machine.run``, ``df_events``, ``df_memory_usage``, ``df_tasks``
  forward to it); :mod:`.frames` builds those frames.

What this package may import: :mod:`pextlab.kernel` (the workloads drive the
simulated kernel), :mod:`pextlab.schema` and :mod:`pextlab.errors`, numpy and
pandas.  Never :mod:`pextlab.frames`, :mod:`pextlab.procfs`,
:mod:`pextlab.analysis` or anything above them (the Machine, snapshots,
studies): a workload is handed the kernel state (``mm``) or the machine it
runs on, it does not import them.
"""
from .catalogue import Catalogue, StackEntry, load_catalogue
from .fragger import Fragger, FraggerRun, fragger
from .session import WorkloadSession
from .runner import RunLog, run
from .spec import (Task, Workload, anon, burst, hog, kernel_stacks, leak, load, mix, page_cache,
                   page_tables, parse_duration, pin, pipe_buffers, slab, task, thp)

__all__ = ["Task", "Workload", "mix", "task", "anon", "page_cache", "slab", "page_tables",
           "kernel_stacks", "thp", "pipe_buffers", "burst", "hog", "pin", "leak", "load",
           "parse_duration", "Catalogue", "StackEntry", "load_catalogue", "RunLog", "run",
           "fragger", "Fragger", "FraggerRun", "WorkloadSession"]
