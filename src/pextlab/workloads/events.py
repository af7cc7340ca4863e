"""The run log's record layouts: event codes and the fields of an event and of a
sample (``pextlab.workloads.runner`` writes them, ``workloads.frames`` reads them).

A recorded event is kept packed in ``EV_WORDS`` int64 words (32 bytes, not the 56
of its seven fields):

    time_ns,  pfn,  task << 32 | slot,  zone_mt << 16 | order << 8 | event

(``zone_mt`` signed: -1 - migratetype on a failure).  The run log's buffer packs them
(``workloads/_runlog.pyx`` ``Int64Buffer.put_event``, and ``add_event`` for Python
code); :func:`unpack_events` gives the seven fields back.
"""
from __future__ import annotations

import numpy as np


__all__ = ["EV_ALLOC", "EV_FREE", "EV_FAIL", "EVENT_NAMES", "EV_FIELDS", "SAMPLE_FIELDS",
           "EV_WORDS", "unpack_events"]

EV_ALLOC, EV_FREE, EV_FAIL = 0, 1, 2
EVENT_NAMES = ("alloc", "free", "fail")
#: one recorded event: time, event code, pfn (-1 on failure), order, task index,
#: stack slot, zone*nr_migratetypes + migratetype (-1 - migratetype on failure)
EV_FIELDS = ("time_ns", "event", "pfn", "order", "task", "slot", "zone_mt")
#: one sample row: time, zone code, migratetype, free pages on that list, live
#: workload pages of that gfp migratetype in the zone, managed pages of the zone
SAMPLE_FIELDS = ("time_ns", "zone", "migratetype", "free", "used", "managed")
#: int64 words of a packed event
EV_WORDS = 4


def unpack_events(words) -> np.ndarray:
    """Packed events (int64, a multiple of ``EV_WORDS`` long) as an (n, 7) int64 array
    of ``EV_FIELDS``."""
    w = np.asarray(words, dtype=np.int64).reshape(-1, EV_WORDS)
    out = np.empty((len(w), len(EV_FIELDS)), dtype=np.int64)
    out[:, 0] = w[:, 0]
    out[:, 1] = w[:, 3] & 0xFF
    out[:, 2] = w[:, 1]
    out[:, 3] = (w[:, 3] >> 8) & 0xFF
    out[:, 4] = w[:, 2] >> 32
    out[:, 5] = w[:, 2] & 0xFFFFFFFF
    out[:, 6] = w[:, 3] >> 16                   # arithmetic: the sign of zone_mt comes back
    return out
