"""The random streams of ``fragger.c``: splitmix64, its draws, and the hashed free decisions.

``fragger.c`` draws everything from splitmix64 streams seeded from ``-s SEED``:
the *generation* stream (``seed ^ 0x67656e0000000000``, "gen") picks the items,
the *schedule* stream (``seed ^ 0x7363680000000000``, "sch") interleaves their
work; both continue across rounds.  Free choices are not drawn from a stream:
each is a hash of (seed, salt, item, entry), so they do not depend on the order
the items were filled in.

>>> splitmix64(0)[1] == 0xE220A8397B1DCDAF
True
>>> free_decision(1, 1, "pipe", 7)          # pipes and children are never freed
False
"""
from __future__ import annotations

import math

__all__ = ["MASK64", "splitmix64", "Stream", "gen_stream", "sched_stream", "hash01",
           "free_decision"]

MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_U01 = 1.0 / 9007199254740992.0          # 2**-53


def splitmix64(state: int) -> tuple[int, int]:
    """One splitmix64 step: (new state, output)."""
    state = (state + _GOLDEN) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


class Stream:
    """A splitmix64 stream with fragger.c's ``u01`` / ``uniform`` / ``loguniform`` draws."""
    __slots__ = ("s",)

    def __init__(self, s: int):
        self.s = s & MASK64

    def next(self) -> int:
        self.s, z = splitmix64(self.s)
        return z

    def u01(self) -> float:
        return (self.next() >> 11) * _U01

    def uniform(self, a: int, b: int) -> int:
        return a + self.next() % (b - a + 1)

    def loguniform(self, a: int, b: int) -> int:
        u = self.u01()
        v = int(math.floor(math.exp(math.log(a) + u * (math.log(b + 1) - math.log(a)))))
        return a if v < a else b if v > b else v


def gen_stream(seed: int) -> Stream:
    """fragger.c's item generation stream (``g`` in gen_items)."""
    return Stream(seed ^ 0x67656E0000000000)


def sched_stream(seed: int) -> Stream:
    """fragger.c's schedule stream (``sch`` in fill)."""
    return Stream(seed ^ 0x7363680000000000)


def hash01(seed: int, salt: int, item: int, sub: int) -> float:
    """fragger.c hash01: the independent per-(round, item, entry) decision in [0, 1)."""
    s = (seed ^ (salt * 0xD1B54A32D192ED03) ^ (item * _GOLDEN) ^ (sub * 0xFF51AFD7ED558CCD)) & MASK64
    s, _ = splitmix64(s)
    s, z = splitmix64(s)
    return (z >> 11) * _U01


def free_decision(seed: int, rnd: int, kind: str, item: int, entry: int = 0) -> bool:
    """Is this anon/file item (or dir entry) freed in round ``rnd``?  (fragger.c free_phase:
    round 1 uses salts 1 and 2, round r adds 16 * (r - 1); anon and file items go with
    p = 1/2, directory entries with p = 0.3, pipes and children stay.)"""
    salt = 16 * (rnd - 1)
    if kind in ("anon", "file"):
        return hash01(seed, 1 + salt, item, 0) < 0.5
    if kind == "dir":
        return hash01(seed, 2 + salt, item, entry) < 0.3
    return False
