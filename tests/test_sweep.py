"""pextlab.sweep: tidy frames, per-run seeds, failures reported per row, executors."""
import os

import pandas as pd
import pytest

import pextlab
from pextlab.studies import frag_study
from pextlab.sweep import grid_points, run_seed


def point(a, b, seed):
    if a == 2 and b == "y":
        raise ValueError("deliberate failure")
    return {"x": a * 10, "b_len": len(b), "seed_mod": seed % 1000}


def many_rows(n):
    return pd.DataFrame({"i": range(n), "sq": [i * i for i in range(n)]})


def test_failing_point_gives_an_error_row_and_keeps_the_others():
    df = pextlab.sweep(point, grid={"a": range(3), "b": ["x", "y"]}, progress=False, workers=2)
    assert len(df) == 6 and list(df["run"]) == list(range(6))
    bad = df[df["error"].notna()]
    assert len(bad) == 1 and bad.iloc[0][["a", "b"]].tolist() == [2, "y"]
    assert bad.iloc[0]["error"].startswith("ValueError: deliberate failure")
    good = df[df["error"].isna()]
    assert good["x"].tolist() == [0, 0, 10, 10, 20]
    assert list(df.columns[:4]) == ["run", "a", "b", "seed"]
    assert list(df.columns[-2:]) == ["error", "elapsed_s"]


def test_seeds_are_per_run_and_independent_of_the_executor():
    grid = {"a": [0, 1], "b": ["x", "zz"]}
    s = pextlab.sweep(point, grid=grid, executor="serial", progress=False, seed=7)
    p = pextlab.sweep(point, grid=grid, executor="process", workers=2, progress=False, seed=7)
    pd.testing.assert_frame_equal(s.drop(columns="elapsed_s"), p.drop(columns="elapsed_s"))
    assert s["seed"].nunique() == 4
    assert s["seed"].tolist() == [run_seed(7, r) for r in range(4)]
    other = pextlab.sweep(point, grid=grid, executor="serial", progress=False, seed=8)
    assert other["seed"].tolist() != s["seed"].tolist()


def test_grid_seed_is_passed_as_given_and_frames_expand():
    df = pextlab.sweep(many_rows, grid=[{"n": 2}, {"n": 3}], executor="serial", progress=False)
    assert df["n"].tolist() == [2, 2, 3, 3, 3] and df["sq"].tolist() == [0, 1, 0, 1, 4]
    df = pextlab.sweep(lambda seed: seed * 2, grid={"seed": [5, 6]}, executor="serial", progress=False)
    assert df["value"].tolist() == [10, 12]
    assert grid_points({"a": [1, 2], "b": "x"}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


def test_repeats_and_bad_input():
    df = pextlab.sweep(lambda seed: seed, grid={"k": [1]}, repeats=3, executor="serial", progress=False)
    assert len(df) == 3 and df["seed"].nunique() == 3
    with pytest.raises(pextlab.PextlabError):
        pextlab.sweep(point, grid=42)
    with pytest.raises(pextlab.PextlabError):
        pextlab.sweep(point, grid={"a": [1]}, executor="nope")


def test_progress_bar_text(capsys):
    pextlab.sweep(lambda a: a, grid={"a": range(3)}, executor="serial", progress=True)
    err = capsys.readouterr().err
    assert "3/3 runs" in err and "0 error(s)" in err


def test_worker_death_is_an_error_row():
    def die(a):
        if a == 1:
            os._exit(3)
        return {"ok": a}
    df = pextlab.sweep(die, grid={"a": [1]}, workers=1, progress=False)
    assert df["error"].notna().all()


def test_dask_client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        df = pextlab.sweep(point, grid={"a": range(3), "b": ["x", "y"]}, executor=client,
                           progress=False)
    assert len(df) == 6 and df["error"].notna().sum() == 1
    s = pextlab.sweep(point, grid={"a": range(3), "b": ["x", "y"]}, executor="serial", progress=False)
    pd.testing.assert_frame_equal(df.drop(columns="elapsed_s"), s.drop(columns="elapsed_s"))


def test_frag_study_sweep_one_failing_policy():
    df = pextlab.sweep(frag_study, grid={"seed": [1], "policy": ["v6.12", "no-such-policy"],
                                         "mem": ["256M"], "fill": [0.6]},
                       workers=2, progress=False)
    ok = df[df["error"].isna()]
    assert set(ok["phase"]) == {"after_fill", "after_free"} and (ok["policy"] == "v6.12").all()
    err = df[df["error"].notna()]
    assert len(err) == 1 and err.iloc[0]["policy"] == "no-such-policy"
