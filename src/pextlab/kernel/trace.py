"""Tracing control (kernel/trace/trace.c, kernel/trace/trace_events.c).

What a user does under /sys/kernel/tracing, and what the boot parameters do:

* ``trace_event=kmem:mm_page_alloc,...`` (setup_trace_event) expands the ring
  buffer to ``trace_buf_size=`` (default TRACE_BUF_SIZE_DEFAULT, 1.4 MB per CPU;
  set_buf_size: at least 4096 bytes) and enables the events early in boot
  (early_trace_init allocates the buffers, trace_init enables the events), so
  they are recorded from boot, before any reader exists -- :func:`trace_boot_init`,
  called by boot after the page allocator is up;
* ``buffer_size_kb`` -- :func:`tracing_resize`: ring_buffer_resize allocates or
  frees buffer pages through the page allocator, one order-0 page per
  ``BUF_PAGE_SIZE`` of each CPU's ring (``__rb_allocate_pages``: GFP_KERNEL |
  __GFP_RETRY_MAYFAIL | __GFP_COMP | __GFP_ZERO, on the CPU's node) plus the
  reader page; page_owner sees them as the task that wrote the size;
* ``set_event`` / ``events/kmem/*/enable``, ``tracing_on``, ``options/overwrite``
  -- methods of :class:`~pextlab.kernel.ring_buffer.Tracer`;
* ``trace_pipe`` -- :func:`trace_pipe_read`: write what is pending, then consume.

The tracepoints and the ring buffer are :mod:`pextlab.kernel.ring_buffer`, below
the allocator that fires them; this module allocates the buffers, so it sits
above :mod:`pextlab.kernel.page_alloc`.
"""
from __future__ import annotations

from ..errors import PextlabError
from .page_alloc import alloc_pages, free_pages
from .ring_buffer import Tracer, TRACE_BUF_SIZE_DEFAULT, nr_buffer_pages, parse_event_names

__all__ = ["trace_boot_init", "tracing_setup", "tracing_resize", "trace_pipe_read",
           "RB_PAGE_GFP", "READER_PAGE_GFP"]

RB_PAGE_GFP = "GFP_KERNEL|__GFP_RETRY_MAYFAIL|__GFP_COMP|__GFP_ZERO"   # __rb_allocate_pages
READER_PAGE_GFP = "GFP_KERNEL|__GFP_COMP|__GFP_ZERO"                   # rb_allocate_cpu_buffer


def _alloc_buffer_pages(mm, tr: Tracer, cpu: int, n: int, gfp: int) -> bool:
    nid = mm.layout.cpu_nodes[cpu] if cpu < len(mm.layout.cpu_nodes) else -1
    pages = tr.buffer_pages[cpu]
    for _ in range(n):
        pfn = alloc_pages(mm, gfp, 0, nid if nid in mm.zonelists else None)
        if pfn < 0:
            return False
        pages.append(pfn)
    return True


def _set_pages(mm, tr: Tracer, nr_pages: int) -> None:
    """Give every CPU ``nr_pages`` ring pages + the reader page; free the surplus."""
    gfp = mm.gfp(RB_PAGE_GFP)
    rgfp = mm.gfp(READER_PAGE_GFP)
    for cpu in range(tr.nr_cpus):
        pages = tr.buffer_pages[cpu]
        if not pages:
            if not _alloc_buffer_pages(mm, tr, cpu, 1, rgfp):
                raise PextlabError("tracing: cannot allocate the reader page (ENOMEM)")
        want = nr_pages + 1
        if len(pages) < want:
            have = len(pages)
            if not _alloc_buffer_pages(mm, tr, cpu, want - have, gfp):
                # ring_buffer_resize: out_err frees the new pages and returns -ENOMEM
                while len(pages) > have:
                    free_pages(mm, pages.pop(), 0)
                raise PextlabError(f"buffer_size_kb: cannot allocate {want - have} pages "
                                   f"for CPU {cpu} (ENOMEM); the buffer keeps its size")
        while len(pages) > want:
            free_pages(mm, pages.pop(), 0)


def trace_boot_init(mm) -> None:
    """early_trace_init + trace_init for ``trace_event=``/``trace_buf_size=``: allocate
    each CPU's buffer (before the events are on, as early_trace_init runs first), then
    enable the events.  No ``trace_event=``: nothing (the minimal buffer of an
    unused tracer is not modelled)."""
    p = mm.params
    if p.trace_event is None:
        return
    size = p.trace_buf_size if p.trace_buf_size is not None else TRACE_BUF_SIZE_DEFAULT
    tr = Tracer(mm.layout.nr_cpus, size, overwrite=True)
    mm.trace = tr
    _set_pages(mm, tr, tr.nr_pages)
    for token in p.trace_event.split(","):
        if not token.strip():
            continue
        try:
            tr.set_events(parse_event_names(token))
        except PextlabError:
            # early_enable_events: a name it cannot enable is reported and skipped
            mm.printk(f"Failed to enable trace event: {token.strip()}")


def tracing_setup(mm, events=None) -> Tracer:
    """The trace instance, created (buffers of the default size allocated) if needed;
    ``events`` (names or ``"kmem:..."`` text), when given, become the enabled set."""
    tr = mm.trace
    if tr is None:
        tr = Tracer(mm.layout.nr_cpus, TRACE_BUF_SIZE_DEFAULT, overwrite=True)
        mm.trace = tr
        _set_pages(mm, tr, tr.nr_pages)
    if events is not None:
        ids = parse_event_names(events)
        if not ids:
            raise PextlabError("tracing: no event named")
        tr.flush()
        tr.set_events(range(len(tr.enabled)), False)
        tr.set_events(ids)
    return tr


def tracing_resize(mm, buffer_kb: int) -> None:
    """``echo N > buffer_size_kb``: every CPU's ring becomes DIV_ROUND_UP(N KiB,
    BUF_PAGE_SIZE) pages (at least 2); the pages come from (or go back to) the page
    allocator now, as the current task."""
    tr = mm.trace
    if tr is None:
        raise PextlabError("tracing is not set up")
    if not isinstance(buffer_kb, int) or isinstance(buffer_kb, bool) or buffer_kb <= 0:
        raise PextlabError(f"buffer_size_kb must be a positive integer, got {buffer_kb!r} (EINVAL)")
    size = buffer_kb << 10
    tr.flush()
    _set_pages(mm, tr, nr_buffer_pages(size))
    tr.resize(size)


def trace_pipe_read(mm, max_events: int) -> int:
    """``read(trace_pipe)``: up to ``max_events`` events, oldest first.  Returns how many."""
    tr = mm.trace
    if tr is None:
        raise PextlabError("tracing is not set up")
    tr.flush(mm.clock_ns)
    return tr.consume(int(max_events))
