# fragger.c's streams and hashed decisions (_rng.pyx) as the other compiled module of the
# package sees them: _process.pyx draws the schedule and the free choices as C calls.
from libc.stdint cimport uint64_t


cdef class Stream:
    cdef public uint64_t s
    cdef uint64_t _next(self) noexcept
    cdef long uniform_c(self, long a, long b) except? -1


cdef bint c_free_item(uint64_t seed, long rnd, uint64_t item) noexcept
cdef bint c_free_entry(uint64_t seed, long rnd, uint64_t item, uint64_t entry) noexcept
