"""The golden frames: deterministic scenarios give the recorded digests, bit for bit.

The digests in tests/golden/frames.json were recorded from the simulator before its
core was rewritten; a rewrite that is meant to be a pure speed-up must reproduce every
one of them.  See tests/golden/scenarios.py for the scenarios and how to re-record.
"""
import json
from pathlib import Path

import pandas as pd
import pytest

from tests.golden.scenarios import SCENARIOS, digest_frame, run_scenario

GOLDEN = json.loads((Path(__file__).parent / "golden" / "frames.json").read_text())


def test_every_scenario_has_digests():
    assert sorted(GOLDEN) == sorted(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_frames_equal_the_golden_ones(name, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    got = run_scenario(name)
    want = GOLDEN[name]
    assert sorted(got) == sorted(want), "the frame protocol changed: re-record with a reason"
    differ = sorted(k for k in want if got[k] != want[k])
    assert not differ, f"{name}: these frames or files differ from the golden run: {differ}"


def test_the_digest_sees_a_one_bit_change():
    df = pd.DataFrame({"pfn": [1, 2, 3], "comm": ["a", "b", "c"], "x": [0.5, 1.0, 2.0]})
    base = digest_frame(df)
    for change in (lambda d: d.assign(x=[0.5, 1.0, 2.0000000000000004]),
                   lambda d: d.assign(comm=["a", "b", "d"]),
                   lambda d: d.astype({"pfn": "int32"}),
                   lambda d: d.rename(columns={"x": "y"}),
                   lambda d: d.iloc[[1, 0, 2]]):
        assert digest_frame(change(df)) != base
    assert digest_frame(df.copy()) == base
