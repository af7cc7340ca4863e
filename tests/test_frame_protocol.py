"""One frame protocol for Machine, Snapshot and Capture (``pextlab.schema.FRAMES``):
the same ``df_*`` names and signatures wherever the data exists, the same schema,
and nothing outside the table."""
from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import pextlab
from pextlab.capture import Capture
from pextlab.machine import Machine
from pextlab.schema import FRAME_SOURCES, FRAMES, SCHEMAS

DATA = Path(__file__).resolve().parents[1] / "data" / "real-kernel"
CLASSES = {"machine": Machine, "capture": Capture}


def _df_methods(cls) -> set[str]:
    return {n for n, v in vars(cls).items() if n.startswith("df_") and callable(v)}


def test_every_df_method_is_in_the_table():
    for src, cls in CLASSES.items():
        listed = {n for n, (_, srcs) in FRAMES.items() if src in srcs}
        assert _df_methods(cls) == listed, (src, _df_methods(cls) ^ listed)
    assert all(set(s) <= set(FRAME_SOURCES) for _, s in FRAMES.values())
    assert all(schema is None or schema in SCHEMAS for schema, _ in FRAMES.values())


@pytest.mark.parametrize("name", sorted(n for n, (_, s) in FRAMES.items() if len(s) > 1))
def test_shared_frames_have_one_signature(name):
    sigs = {src: inspect.signature(getattr(CLASSES[src], name)) for src in FRAMES[name][1]}
    assert len({str(s) for s in sigs.values()}) == 1, sigs


@pytest.fixture(scope="module")
def machine():
    m = pextlab.boot("512M", cmdline="page_owner=on", seed=1)
    for o in range(4):
        m.alloc_pages(o, "GFP_KERNEL")
    return m


@pytest.fixture(scope="module")
def capture():
    return pextlab.read_capture(DATA / "b-1G")


@pytest.mark.parametrize("name", sorted(n for n, (sch, s) in FRAMES.items()
                                        if sch is not None and "machine" in s))
def test_machine_frames_follow_their_schema(machine, name):
    df = getattr(machine, name)()
    assert dict(df.dtypes.astype(str)) == SCHEMAS[FRAMES[name][0]]


#: frames only some captures have (the others give an empty frame): the capture that has it
CAPTURE_OF = {"df_cma": "h-1G-cma64M"}


@pytest.mark.parametrize("name", sorted(n for n, (sch, s) in FRAMES.items()
                                        if sch is not None and "capture" in s))
def test_capture_frames_follow_their_schema(capture, name):
    cap = pextlab.read_capture(DATA / CAPTURE_OF[name]) if name in CAPTURE_OF else capture
    df = getattr(cap, name)()
    assert len(df)
    assert dict(df.dtypes.astype(str)) == SCHEMAS[FRAMES[name][0]]


def test_a_snapshot_answers_every_machine_frame(machine):
    snap = machine.snapshot("protocol")
    names = sorted(n for n, (_, s) in FRAMES.items() if "machine" in s)
    assert snap.frames() == names
    for n in names:
        if FRAMES[n][0] is not None:            # a snapshot has no snapshots of its own
            a, b = getattr(snap, n)(), getattr(machine, n)()
            assert list(a.columns) == list(b.columns)


def test_capture_stacks_threshold_is_show_stacks_rule(capture):
    full = capture.df_stacks()
    cut = capture.df_stacks(threshold=1000)
    assert len(cut) < len(full)
    assert (cut["nr_base_pages"] >= 1000).all()
    assert len(cut) == int((full["nr_base_pages"] >= 1000).sum())
