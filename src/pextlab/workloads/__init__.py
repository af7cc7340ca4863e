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
* :mod:`.runner` -- the event-driven simulation (numpy + the kernel model).
* :mod:`.session` -- :class:`WorkloadSession`: a machine's run log and
  generator (``Machine.run``, ``df_events``, ``df_memory_usage``, ``df_tasks``
  forward to it); :mod:`.frames` builds those frames.
"""
from .catalogue import Catalogue, StackEntry, load_catalogue
from .session import WorkloadSession
from .runner import RunLog, run
from .spec import (Task, Workload, anon, burst, hog, kernel_stacks, leak, load, mix, page_cache,
                   page_tables, parse_duration, pin, pipe_buffers, slab, task, thp)

__all__ = ["Task", "Workload", "mix", "task", "anon", "page_cache", "slab", "page_tables",
           "kernel_stacks", "thp", "pipe_buffers", "burst", "hog", "pin", "leak", "load",
           "parse_duration", "Catalogue", "StackEntry", "load_catalogue", "RunLog", "run",
           "WorkloadSession"]
from .fragger import Fragger, FraggerRun, fragger  # noqa: E402  (the frag-s1 workload)

__all__ += ["fragger", "Fragger", "FraggerRun"]
