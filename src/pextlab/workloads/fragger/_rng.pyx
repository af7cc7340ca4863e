# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, binding=True
"""fragger.c's splitmix64 streams and hashed decisions, compiled (Cython;
docs/compiled-core.md): unsigned 64-bit arithmetic wraps as C's does, so every draw
is the C program's, with no masking per step.  ``pextlab.workloads.fragger.rng``
documents them and imports them; ``_process.pyx`` calls the C forms (``_rng.pxd``);
nothing else should."""
from libc.math cimport exp, log, floor
from libc.stdint cimport uint64_t
import math as pymath

__all__ = ["splitmix64", "Stream", "hash01", "free_decision", "dir_entries", "EST_DIR"]

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL
cdef double U01 = 1.0 / 9007199254740992.0          # 2**-53


cdef inline uint64_t _mix(uint64_t z) noexcept:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def splitmix64(state):
    """One splitmix64 step: (new state, output)."""
    cdef uint64_t s = (<uint64_t>(state & 0xFFFFFFFFFFFFFFFF)) + GOLDEN
    return s, _mix(s)


cdef class Stream:
    """A splitmix64 stream with fragger.c's ``u01`` / ``uniform`` / ``loguniform`` draws."""

    def __init__(self, s):
        self.s = <uint64_t>(s & 0xFFFFFFFFFFFFFFFF)

    def __reduce__(self):
        return Stream, (self.s,)

    cdef uint64_t _next(self) noexcept:
        self.s += GOLDEN
        return _mix(self.s)

    cdef long uniform_c(self, long a, long b) except? -1:
        # uniform(a, b) for C callers, whose ranges are never empty
        if b < a:
            raise ValueError(f"uniform({a}, {b}): an empty range")
        return a + <long>(self._next() % <uint64_t>(b - a + 1))

    def next(self):
        return self._next()

    def u01(self):
        return (self._next() >> 11) * U01

    def uniform(self, a, b):
        n = b - a + 1
        if n > 0:
            return a + <object>(self._next() % <uint64_t>n)
        return a + self._next() % n          # Python's rule (an error for n == 0)

    def loguniform(self, a, b):
        cdef double u = (self._next() >> 11) * U01
        if a <= 0 or b < a:                  # outside fragger.c's use: Python's math rules
            v = int(pymath.floor(pymath.exp(pymath.log(a) + u * (pymath.log(b + 1) - pymath.log(a)))))
            return a if v < a else b if v > b else v
        cdef double la = log(<double>a)
        cdef long w = <long>floor(exp(la + u * (log(<double>(b + 1)) - la)))
        return a if w < a else b if w > b else w


cdef double _hash01(uint64_t seed, uint64_t salt, uint64_t item, uint64_t sub) noexcept:
    cdef uint64_t s = seed ^ (salt * 0xD1B54A32D192ED03ULL) ^ (item * GOLDEN) \
        ^ (sub * 0xFF51AFD7ED558CCDULL)
    s += GOLDEN                  # splitmix64 twice: the second output is the draw
    s += GOLDEN
    return (_mix(s) >> 11) * U01


cdef inline uint64_t _u64(x) except? 0:
    # a Python integer as C's uint64_t would hold it (two's complement, wrapped)
    return <uint64_t>(x & 0xFFFFFFFFFFFFFFFF)


def hash01(seed, salt, item, sub):
    """fragger.c hash01: the independent per-(round, item, entry) decision in [0, 1)."""
    return _hash01(_u64(seed), _u64(salt), _u64(item), _u64(sub))


# fragger.c free_phase: round 1 uses salts 1 (items) and 2 (directory entries), round r
# adds 16 * (r - 1); anon and file items go with p = 1/2, directory entries with p = 0.3
cdef bint c_free_item(uint64_t seed, long rnd, uint64_t item) noexcept:
    return _hash01(seed, <uint64_t>(1 + 16 * (rnd - 1)), item, 0) < 0.5


cdef bint c_free_entry(uint64_t seed, long rnd, uint64_t item, uint64_t entry) noexcept:
    return _hash01(seed, <uint64_t>(2 + 16 * (rnd - 1)), item, entry) < 0.3


def free_decision(seed, long rnd, kind, item, entry=0):
    """Is this anon/file item (or dir entry) freed in round ``rnd``?  (fragger.c free_phase:
    round 1 uses salts 1 and 2, round r adds 16 * (r - 1); anon and file items go with
    p = 1/2, directory entries with p = 0.3, pipes and children stay.)"""
    if kind == "anon" or kind == "file":
        return c_free_item(_u64(seed), rnd, _u64(item))
    if kind == "dir":
        return c_free_entry(_u64(seed), rnd, _u64(item), _u64(entry))
    return False


#: pages fragger.c estimates a directory entry costs (EST_*): file, hard link, subdirectory
EST_DIR = (0.25, 0.05, 0.30)
cdef double EST_FILE = EST_DIR[0], EST_LINK = EST_DIR[1], EST_SUBDIR = EST_DIR[2]


def dir_entries(Stream g, long n):
    """fragger.c gen_items, a directory of ``n`` entries drawn from ``g``: each is a file
    (30 %), a hard link to an earlier file (60 %; a file while there is none) or a
    subdirectory (10 %).  Returns (types: bytes, 0 file / 1 link / 2 subdir, link
    targets: tuple, -1 for no link, files, links, subdirs, estimated pages: float)."""
    cdef bytearray et = bytearray(n)
    cdef list el = [-1] * n
    cdef list files = []
    cdef double x, e = 0.0
    cdef long i, t, nf = 0, nl = 0, nd = 0
    for i in range(n):
        x = (g._next() >> 11) * U01
        t = 0 if x < 0.30 else 1 if x < 0.90 else 2
        if t == 1:
            if not nf:
                t = 0
            else:                            # uniform(0, files - 1)
                el[i] = files[g._next() % <uint64_t>nf]
        et[i] = t
        if t == 0:
            files.append(i)
            nf += 1
            e += EST_FILE
        elif t == 1:
            nl += 1
            e += EST_LINK
        else:
            nd += 1
            e += EST_SUBDIR
    return bytes(et), tuple(el), nf, nl, nd, e
