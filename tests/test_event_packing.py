"""The run log keeps recorded events packed (workloads/events.py: four int64 words,
32 bytes, instead of seven fields): packing and unpacking give every field back over
its whole range through the run log's buffer (the writer the replay and the OOM kill
use), and all three kinds come back from a run."""
from __future__ import annotations

from array import array

import numpy as np
import pytest

import pextlab
import pextlab.workloads as W
from pextlab.errors import PextlabError
from pextlab.workloads._runlog import Int64Buffer
from pextlab.workloads.events import (EV_ALLOC, EV_FAIL, EV_FIELDS, EV_FREE, EV_WORDS,
                                      unpack_events)


def _packed(*fields):
    # the run log's buffer packs one event (the compiled writer the replay uses)
    b = Int64Buffer()
    b.add_event(*fields)
    out = array("q")
    b.flush_into(out)
    return out.tolist()


@pytest.mark.parametrize("fields", [
    (0, EV_ALLOC, 0, 0, 0, 0, 0),
    (123456789012, EV_FREE, (1 << 40) - 1, 10, (1 << 31) - 1, (1 << 32) - 1, 4095),
    (7, EV_FAIL, -1, 3, 5, 9, -1),
    (-5, EV_FAIL, -1, 255, 1, 2, -(1 << 47)),
    ((1 << 62), EV_ALLOC, 1 << 50, 0, 17, 3, (1 << 47) - 1),
])
def test_every_field_comes_back_over_its_range(fields):
    words = _packed(*fields)
    assert len(words) == EV_WORDS
    assert unpack_events(np.array(words, dtype=np.int64)).tolist() == [list(fields)]


@pytest.mark.parametrize("bad", [dict(task=-1), dict(task=1 << 31), dict(slot=1 << 32),
                                 dict(order=256), dict(zone_mt=1 << 47)])
def test_fields_out_of_the_packed_range_are_refused(bad):
    f = dict(t=1, ev=EV_ALLOC, pfn=5, order=0, task=0, slot=0, zone_mt=0) | bad
    b = Int64Buffer()
    with pytest.raises(PextlabError, match="packed range"):
        b.add_event(*f.values())
    assert len(b) == 0                          # nothing of it was written


def _run(record=True):
    m = pextlab.boot(mem="512M", cmdline="page_owner=on", seed=1)
    w = W.mix(W.anon("a", rate=30000, lifetime="200ms"), W.hog("h", pages=200_000, ramp="2s"),
              W.page_cache("c", rate=8000, lifetime="1s"))
    m.run(w, duration="3s", record=record, seed=1)   # the hog runs out: failures, reclaim, OOM
    return m, w


def test_events_take_four_words_and_every_kind_unpacks():
    m, _ = _run()
    log = m.run_log
    E = log.events_np()
    assert len(log.events) == EV_WORDS * len(E) == EV_WORDS * log.nr_events()
    assert E.shape[1] == len(EV_FIELDS)
    kinds = set(E[:, 1].tolist())
    assert kinds == {EV_ALLOC, EV_FREE, EV_FAIL}       # the compiled writer's and kill()/reclaim's
    fail = E[E[:, 1] == EV_FAIL]
    assert (fail[:, 2] == -1).all() and (fail[:, 6] < 0).all()
    ok = E[E[:, 1] != EV_FAIL]
    assert (ok[:, 6] >= 0).all() and (ok[:, 4] < len(log.tasks)).all()
    assert (ok[:, 5] < len(log.slots)).all()
