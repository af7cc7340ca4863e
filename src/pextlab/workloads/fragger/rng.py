"""The random streams of ``fragger.c``: splitmix64, its draws, and the hashed free decisions.

``fragger.c`` draws everything from splitmix64 streams seeded from ``-s SEED``:
the *generation* stream (``seed ^ 0x67656e0000000000``, "gen") picks the items,
the *schedule* stream (``seed ^ 0x7363680000000000``, "sch") interleaves their
work; both continue across rounds.  Free choices are not drawn from a stream:
each is a hash of (seed, salt, item, entry), so they do not depend on the order
the items were filled in.

The draws themselves (``splitmix64``, ``Stream``, ``hash01``, ``free_decision``, and
``dir_entries``: a directory's entries, 100 k draws on 1 GiB) are compiled (``_rng.pyx``): 64-bit arithmetic that wraps as the C program's does.

>>> splitmix64(0)[1] == 0xE220A8397B1DCDAF
True
>>> free_decision(1, 1, "pipe", 7)          # pipes and children are never freed
False
"""
from __future__ import annotations

__all__ = ["MASK64", "splitmix64", "Stream", "gen_stream", "sched_stream", "hash01",
           "free_decision", "dir_entries", "EST_DIR"]

MASK64 = (1 << 64) - 1

# compiled: workloads/fragger/_rng.pyx (the pextlab package checks that it is built)
from ._rng import EST_DIR, Stream, dir_entries, free_decision, hash01, splitmix64


def gen_stream(seed: int) -> Stream:
    """fragger.c's item generation stream (``g`` in gen_items)."""
    return Stream(seed ^ 0x67656E0000000000)


def sched_stream(seed: int) -> Stream:
    """fragger.c's schedule stream (``sch`` in fill)."""
    return Stream(seed ^ 0x7363680000000000)
