# cython: language_level=3, boundscheck=False, wraparound=False, binding=True
"""The simulated kernel's per-event state as C fields: ``MMCore``, the base class of
:class:`pextlab.kernel.state.MM` (docs/compiled-core.md).

What the compiled core reads or writes on every allocation and free -- the clock, the
current task, the page_ext clients' hooks, the tracer, the event counters, the
per (gfp, node) cache, the gfp strings' cache, the zonelists and the LRU lists -- is a C
struct field here
(``_state.pxd``), so it costs no attribute lookup.  Python code reads and writes
them by the same names, as attributes of the ``MM``; the rest of the state is the
``MM`` 's ``__dict__``.

A copy (a snapshot, ``copy.deepcopy``) or a pickle holds the C fields and the
``__dict__`` by name, and ``MM.__setstate__`` sets them back.
"""
from .gfp import parse_gfp

__all__ = ["MMCore", "AllocContextCache"]

_CORE_FIELDS = ("clock_ns", "comm", "pid", "tgid", "comm_id", "current_handle", "current_nid",
                "nr_alloc_events", "nr_free_events", "nr_guard_pages", "guard_minorder",
                "alloc_hook", "free_hook", "alloc_run_hook", "free_run_hook", "split_hook",
                "page_ext_guard_hook", "trace", "poison", "geometry", "zonelists",
                "_ac_cache", "_gfp_cache", "mobility_grouping", "lru")

cdef inline Py_ssize_t _slot_of(long gfp, long nid):
    # Fibonacci hashing of the mask, the node in the low bits: a workload's few
    # (gfp, nid) pairs rarely share a slot, and a shared slot only costs a refill
    cdef unsigned long h = (<unsigned long>gfp) * 0x9E3779B97F4A7C15UL
    return <Py_ssize_t>(((h >> 58) ^ <unsigned long>nid) & (AC_SLOTS - 1))


cdef class AllocContextCache:
    """``mm._ac_cache``: what prepare_alloc_pages (kernel/_fastpath.pyx) computed per
    (gfp, nid) -- ``(migratetype, zonelist, highest zone idx, alloc_flags)`` -- kept
    until something it depends on changes (hotplug, the zonelists, the fallback
    policy), which calls :meth:`clear`.

    Python code uses it as the dict it was (``get``, ``cache[key] = ctx``, ``clear``,
    ``in``, ``len``, iteration over the keys).
    The compiled fast path asks :meth:`c_get` with C integers: a hit reads a slot of a
    small direct-mapped C table, with no Python object made; a miss refills the slot
    from the dict.  ``clear`` empties both, so the table never outlives the dict.
    """

    def __init__(self, entries=None):
        # the C table starts empty (a new object's memory is zeroed: no slot used)
        self.entries = dict(entries) if entries else {}
        self.slot_zones = [None] * AC_SLOTS

    def __reduce__(self):
        # copies and pickles carry the entries (their zones are the copied machine's)
        return (AllocContextCache, (self.entries,))

    def get(self, key, default=None):
        return self.entries.get(key, default)

    def __setitem__(self, key, ctx):
        self.entries[key] = ctx
        # a replaced entry must not be served from its slot: the slot refills on next use
        gfp, nid = key
        cdef Py_ssize_t i = _slot_of(gfp, nid)
        if self.slots[i].used and self.slots[i].gfp == gfp and self.slots[i].nid == nid:
            self.slots[i].used = False
            self.slot_zones[i] = None

    def __contains__(self, key):
        return key in self.entries

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)

    def clear(self):
        """Forget every entry: the next allocation of each (gfp, nid) recomputes it."""
        cdef Py_ssize_t i
        self.entries.clear()
        for i in range(AC_SLOTS):
            self.slots[i].used = False
            self.slot_zones[i] = None

    cdef AcSlot *c_get(self, long gfp, long nid) except? NULL:
        # the slot of (gfp, nid), refilled from the dict if it holds another key;
        # NULL when prepare_alloc_pages has not computed (gfp, nid) yet
        cdef Py_ssize_t i = _slot_of(gfp, nid)
        cdef AcSlot *s = &self.slots[i]
        if s.used and s.gfp == gfp and s.nid == nid:
            return s
        ctx = self.entries.get((gfp, nid))
        if ctx is None:
            return NULL
        mt, zones, high, flags = <tuple?>ctx
        self.slot_zones[i] = <tuple?>zones
        s.gfp, s.nid, s.mt, s.high, s.flags = gfp, nid, mt, high, flags
        s.used = True
        return s

    cdef tuple c_zones(self, AcSlot *s):
        return <tuple>self.slot_zones[s - self.slots]


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
