"""fragger.c's item list and interleaving schedule, and its logs read back.

An *item* is one thing fragger builds: an anonymous mapping (``anon``, pages),
a tmpfs file (``file``, pages), a directory of entries (``dir``: 30 % files,
60 % hard links to an earlier file, 10 % subdirectories), a pipe filled to its
size (``pipe``, pages) or a child process touching P 2 MiB regions (``child``).
:func:`generate_items` draws items until their estimated pages reach the
round's budget (fragger.c ``gen_items``); :func:`schedule` interleaves their
work in a window of ``WINDOW`` open items (fragger.c ``fill``).  Seed 1 and the
real budget give the real ``fragger_items.txt`` / ``fragger_steps.txt``.

>>> items, _ = generate_items(seed=1, budget=182016)
>>> len(items), items[0].kind, items[0].size
(1163, 'file', 49)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .rng import Stream, dir_entries, gen_stream

__all__ = ["KINDS", "KIND_WEIGHTS", "WINDOW", "MAXITEMS", "FraggerItem", "generate_items",
           "schedule", "read_items", "read_steps"]

KINDS = ("anon", "file", "dir", "pipe", "child")
KIND_WEIGHTS = (17, 30, 31, 12, 10)
WINDOW = 6
MAXITEMS = 20000
# pages a child is estimated to cost besides its regions (fragger.c EST_*; a directory
# entry's are rng.EST_DIR)
_EST_CHILD_FIXED = 12


@dataclass(eq=False)
class FraggerItem:
    """One item of the list (a row of fragger_items.txt)."""
    id: int
    kind: str
    size: int                 # pages (anon/file/pipe), entries (dir), P (child)
    est: int
    round: int = 1
    etype: bytes = b""        # dir: per entry 0 = file, 1 = link, 2 = subdir
    elink: tuple = ()         # dir: link target entry (-1 otherwise)
    nfiles: int = 0
    nlinks: int = 0
    nsubdirs: int = 0
    done: int = 0
    nchunks: int = 0
    first_step: int = -1
    last_step: int = -1
    freed: int = 0            # anon/file: round freed, 0 = held
    deleted: int = 0          # dir: entries deleted
    edel: bytearray = field(default_factory=bytearray)
    pid: int = 0
    state: object = None      # the kernel objects it holds (a process.ItemState, simulator only)


def _dir_item(g: Stream, nid: int, rnd: int) -> FraggerItem:
    n = g.uniform(64, 512)
    et, el, nf, nl, nd, e = dir_entries(g, n)
    return FraggerItem(nid, "dir", n, int(math.ceil(e)), rnd, et, el, nf, nl, nd,
                       edel=bytearray(n))


def generate_items(seed: int, budget: int, stream: Stream | None = None, first_id: int = 0,
                   rnd: int = 1) -> tuple[list[FraggerItem], Stream]:
    """Items until their estimated pages reach ``budget`` (fragger.c gen_items).

    Returns the items and the generation stream (pass it back for the next round).
    """
    g = stream if stream is not None else gen_stream(seed)
    wsum = sum(KIND_WEIGHTS)
    items: list[FraggerItem] = []
    total = 0
    nid = first_id
    while total < budget and nid < MAXITEMS:
        r = g.uniform(0, wsum - 1)
        k = 0
        while k < len(KINDS) - 1 and r >= KIND_WEIGHTS[k]:
            r -= KIND_WEIGHTS[k]
            k += 1
        kind = KINDS[k]
        if kind == "anon":
            size = g.loguniform(16, 2048)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "file":
            size = g.loguniform(4, 1024)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "pipe":
            size = 16 << g.uniform(0, 4)
            it = FraggerItem(nid, kind, size, size, rnd)
        elif kind == "child":
            size = g.uniform(8, 64)
            it = FraggerItem(nid, kind, size, 2 * size + _EST_CHILD_FIXED, rnd)
        else:
            it = _dir_item(g, nid, rnd)
        total += it.est
        items.append(it)
        nid += 1
    return items, g


def _chunk(stream: Stream, it: FraggerItem) -> int:
    left = it.size - it.done
    if it.kind in ("anon", "file"):
        n = stream.uniform(1, 64)
    elif it.kind == "pipe":
        n = stream.uniform(1, 16)
    elif it.kind == "dir":
        n = stream.uniform(8, 64)
    else:
        return left
    return n if n < left else left


def schedule(items: list[FraggerItem], stream: Stream, window: int = WINDOW):
    """Yield (item, amount) in fragger.c's interleaved order; updates ``item.done``.

    ``stream`` is the schedule stream (:func:`~.rng.sched_stream` at the first
    round, continued across rounds).  Amount 0 opens an item, -1 closes it; the
    caller does the work of each positive chunk.
    """
    win: list[FraggerItem] = []
    nxt = 0
    while len(win) < window and nxt < len(items):
        win.append(items[nxt])
        nxt += 1
        yield win[-1], 0
    while win:
        w = stream.uniform(0, len(win) - 1)
        it = win[w]
        n = _chunk(stream, it)
        yield it, n
        it.done += n
        if it.done >= it.size:
            yield it, -1
            if nxt < len(items):
                win[w] = items[nxt]
                nxt += 1
                yield win[w], 0
            else:
                win[w] = win[-1]
                win.pop()


def read_items(path) -> pd.DataFrame:
    """``fragger_items.txt`` (tab separated) as a DataFrame."""
    return pd.read_csv(path, sep="\t")


def read_steps(path) -> pd.DataFrame:
    """``fragger_steps.txt`` as a DataFrame (step, round, item, kind, amount)."""
    return pd.read_csv(path, sep="\t")
