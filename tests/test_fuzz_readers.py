"""The fuzz suite (tests/fuzz) on a bounded budget: every reader and command survives damaged files.

``make fuzz`` runs 100,000 inputs; here 2,000 run in well under a minute.  The
harness itself is checked too: a hang, an exception and an unnamed ParseError
must be caught and counted.
"""
from __future__ import annotations

import time

import pytest

from fuzz import targets
from fuzz.runner import FAILURES, format_summary, run, schedule
from fuzz.targets import Target
from pextlab.errors import ParseError

BUDGET = 2000


def test_readers_and_commands_survive_damaged_files():
    t0 = time.perf_counter()
    summary = run(BUDGET, seed=7, workers=2)
    table = format_summary(summary)
    print(table)
    assert summary.total == BUDGET
    for kind in FAILURES:
        assert summary.failed(kind) == 0, table
    # every target got inputs, and both outcomes happen (the mutators do damage, not always)
    assert set(summary.counts) == set(targets.TARGETS)
    assert summary.failed("parse_error") > BUDGET // 4 and summary.failed("result") > BUDGET // 10
    assert time.perf_counter() - t0 < 120


def test_schedule_is_deterministic():
    assert schedule(50, seed=3) == schedule(50, seed=3) != schedule(50, seed=4)
    a = targets.make_input("buddyinfo", 12)
    b = targets.make_input("buddyinfo", 12)
    assert (a.data, a.steps) == (b.data, b.steps)


def _sleepy(inp, path, tmp):
    time.sleep(30)
    return "result"


def _raises(inp, path, tmp):
    raise KeyError("a reader bug")


def _unnamed(path):
    raise ParseError(str(path), None, "something")


@pytest.fixture
def fake_targets(monkeypatch):
    base = targets.TARGETS["buddyinfo"].base
    monkeypatch.setitem(targets.TARGETS, "sleepy", Target(base, _sleepy))
    monkeypatch.setitem(targets.TARGETS, "raises", Target(base, _raises))
    monkeypatch.setitem(targets.TARGETS, "unnamed", Target(base, targets.reader_target(_unnamed)))


def test_the_harness_catches_hangs_exceptions_and_unnamed_errors(fake_targets):
    jobs = [("sleepy", 1), ("raises", 2), ("unnamed", 3), ("buddyinfo", 4)]
    t0 = time.perf_counter()
    summary = run(0, jobs=jobs, timeout=1.0, workers=1)
    assert time.perf_counter() - t0 < 20
    assert summary.counts["sleepy"]["hang"] == 1
    assert summary.counts["raises"]["uncaught"] == 1
    assert summary.counts["unnamed"]["unnamed"] == 1
    assert summary.counts["buddyinfo"]["inputs"] == 1      # a fresh worker took over after the hang
    kinds = {f[2] for f in summary.failures}
    assert kinds == {"hang", "uncaught", "unnamed"}
    assert "KeyError: 'a reader bug'" in format_summary(summary)
