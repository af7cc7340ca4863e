"""The run log's record layouts: event codes and the fields of an event and of a
sample (``pextlab.workloads.runner`` writes them, ``workloads.frames`` reads them)."""
from __future__ import annotations

__all__ = ["EV_ALLOC", "EV_FREE", "EV_FAIL", "EVENT_NAMES", "EV_FIELDS", "SAMPLE_FIELDS"]

EV_ALLOC, EV_FREE, EV_FAIL = 0, 1, 2
EVENT_NAMES = ("alloc", "free", "fail")
#: one recorded event: time, event code, pfn (-1 on failure), order, task index,
#: stack slot, zone*nr_migratetypes + migratetype (-1 - migratetype on failure)
EV_FIELDS = ("time_ns", "event", "pfn", "order", "task", "slot", "zone_mt")
#: one sample row: time, zone code, migratetype, free pages on that list, live
#: workload pages of that gfp migratetype in the zone, managed pages of the zone
SAMPLE_FIELDS = ("time_ns", "zone", "migratetype", "free", "used", "managed")
