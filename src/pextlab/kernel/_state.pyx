# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The simulated kernel's per-event state as C fields: ``MMCore``, the base class of
:class:`pextlab.kernel.state.MM` (docs/compiled-core.md).

What the compiled core reads or writes on every allocation and free -- the clock, the
current task, the page_ext clients' hooks, the tracer, the event counters, the
per (gfp, node) cache, the gfp strings' cache and the zonelists -- is a C struct field here
(``_state.pxd``), so it costs no attribute lookup.  Python code reads and writes
them by the same names, as attributes of the ``MM``; the rest of the state is the
``MM`` 's ``__dict__``.

A copy (a snapshot, ``copy.deepcopy``) or a pickle holds the C fields and the
``__dict__`` by name, and ``MM.__setstate__`` sets them back.
"""
from .gfp import parse_gfp

__all__ = ["MMCore"]

_CORE_FIELDS = ("clock_ns", "comm", "pid", "tgid", "comm_id", "current_handle", "current_nid",
                "nr_alloc_events", "nr_free_events", "nr_guard_pages", "guard_minorder",
                "alloc_hook", "free_hook", "alloc_run_hook", "free_run_hook", "split_hook",
                "page_ext_guard_hook", "trace", "poison", "geometry", "zonelists",
                "_ac_cache", "_gfp_cache", "mobility_grouping")


def _blank(cls):
    # the object a copy or an unpickle fills in (its __setstate__), made without __init__
    return cls.__new__(cls)


cdef class MMCore:
    """The C fields of the kernel state; ``MM.__init__`` sets every one."""

    def __reduce__(self):
        state = dict(getattr(self, "__dict__", {}))
        for name in _CORE_FIELDS:
            state[name] = getattr(self, name)
        return (_blank, (type(self),), state)

    def gfp(self, text):
        """The gfp mask of a flag string (``"GFP_KERNEL|__GFP_ZERO"``, parsed once per
        string) or of an int mask (checked).  Compiled because every public allocation
        asks it (``Machine.alloc_pages``)."""
        if type(text) is str:
            mask = self._gfp_cache.get(text)
            if mask is None:
                mask = self._gfp_cache[text] = parse_gfp(text, self.profile)
            return mask
        return parse_gfp(text, self.profile)
