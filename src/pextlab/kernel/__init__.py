"""The simulated kernel: one module per mechanism of mm/, named after the kernel file
it models, functions named after the kernel's.  numpy and the standard library only:
nothing here imports pandas, matplotlib, ipywidgets or any pextlab package above it
(``pextlab.errors`` is the one outside module it uses).

Inside the package imports point one way too, from the bottom:

* ``profiles`` (what changed across kernel versions), ``gfp``, ``mmzone`` (page and
  pageblock flags, sections, zones, nodes), ``layout`` (e820/iomem, nodes, hotplug
  window), ``stackdepot``, ``vmstat`` (the fragmentation maths of mm/vmstat.c);
* ``state`` -- ``MM``, every piece of kernel state of one machine, declared in
  ``MM.__init__``;
* ``ring_buffer`` -- the kmem page tracepoints and the ftrace ring buffer, below the
  allocator that fires them (``mm.trace``); ``trace`` -- tracing control, which
  allocates the buffers, above ``page_alloc``;
* the allocator, in four one-way steps: ``buddy`` (free lists, ``__rmqueue``,
  ``__free_one_page``, watermark checks) -> ``pcp`` (per-cpu lists), ``policy``
  (the fallback generations) -> ``fastpath`` (``get_page_from_freelist``, the free
  path) -> ``migrate``, ``vmscan`` (the LRU of reclaimable pages, ``shrink_node``),
  ``oom_kill`` -> ``compaction`` (with kswapd) -> ``page_alloc`` (``__alloc_pages``
  and the slow path: reclaim, compaction, the OOM killer; ``alloc_contig_range``,
  which uses ``page_isolation`` and ``migrate``, both below it; ``alloc_pages_bulk``
  and ``alloc_pages_loop``, many order-0 pages taken a block at a time, the free
  path's ``release_pages`` likewise) -> ``vmalloc`` (``vm_area_alloc_pages``);
* ``page_ext`` (the framework) -> its clients ``page_owner``, ``debug_page_alloc``,
  ``page_poison``; ``hugetlb``, ``page_isolation``, ``debug`` (``dump_page``,
  ``check_invariants``);
* ``gup`` (pins, above ``migrate``: FOLL_LONGTERM migrates first), ``cma`` (areas,
  ``cma_alloc`` over ``alloc_contig_range``);
* ``memory_hotplug``, and ``boot`` (the command line and the init order) at the top.

The kernel reaches code above a module only through objects it was given: the
fallback policy (``mm.policy``), page_ext clients' hooks (``mm.alloc_hook``...),
migration followers (``mm.migrate_notifiers``), the holders of reclaimable pages
(``mm.lru``), the tasks the OOM killer may kill (``mm.oom_tasks``) and the hugetlb
pool (``mm.hugetlb``, which alloc_contig_range asks to replace a free huge page) -- never by
importing upwards.
"""

__all__: list[str] = []
