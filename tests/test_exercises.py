"""Leak-hunting exercises: every exercise, several seeds, solved from the hand-out alone.

For every exercise and seed (3 in ``make test``; ``make exercises`` sets
PEXTLAB_EXERCISE_SEEDS=20): the reference solver, which reads only the hand-out, is
accepted; the naive one (the last dump's biggest owner) is rejected above level 1; the
hand-out has no answer in the clear; the same name and seed give the same bytes;
different seeds give different culprits.  Then the checker's spellings, bad input,
hints and a teacher's own exercise.
"""
from __future__ import annotations

import hashlib
import json
import os
import re

import pytest

import pextlab
from pextlab import exercises as ex
from pextlab import workloads as W
from pextlab.analysis.sort_cli import main as sort_main
from pextlab.errors import PextlabError
from pextlab.exercises.solve import load_dumps, naive_answer, reference_answer

SEEDS = int(os.environ.get("PEXTLAB_EXERCISE_SEEDS", "3"))
NAMES = list(ex.catalogue()["name"])
LEVEL = dict(zip(ex.catalogue()["name"], ex.catalogue()["level"]))
#: files that are evidence: the culprit's comm and stack legitimately appear in them
EVIDENCE = re.compile(r"^(page_owner|page_owner_stacks_show_stacks|dmesg)(\.|$)")


class Made:
    """One exercise made with its solution file (made once per test session)."""

    def __init__(self, root, name, seed):
        self.folder = root / f"{name}-{seed}"
        self.sol_path = root / f"{name}-{seed}.solution.json"
        self.e = ex.make(name, seed=seed, folder=self.folder, solution=self.sol_path)
        self.solution = json.loads(self.sol_path.read_text())


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("exercises")
    cache = {}

    def get(name, seed):
        if (name, seed) not in cache:
            cache[(name, seed)] = Made(root, name, seed)
        return cache[(name, seed)]
    return get


def _digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_catalogue_covers_the_issue():
    df = ex.catalogue()
    assert len(df) >= 10 and set(df["level"]) == {1, 2, 3}
    assert list(df.columns) == ["name", "level", "skills", "asks", "hand_out", "machine", "profile"]
    for name in ("plain-leak", "leak-beside-hog", "slow-leak-under-churn", "worker-pool-stack",
                 "kernel-thread-leak", "numa-node-leak", "high-order-leak", "compaction-moved-leak",
                 "is-it-a-leak", "partial-leak", "v3.19-stacks-only"):
        assert name in set(df["name"])


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("name", NAMES)
def test_reference_solver_accepted_naive_rejected(made, name, seed):
    m = made(name, seed)
    dumps = load_dumps(m.folder)
    ref = reference_answer(m.folder, dumps)
    r = m.e.check(**ref)
    assert r.ok, f"{name} seed {seed}: reference {ref} vs truth {m.solution['answer']}\n{r}"
    # the instructor's answer is accepted too
    assert m.e.check(**m.solution["answer"]).ok
    if LEVEL[name] > 1:
        naive = naive_answer(m.folder, dumps)
        assert not m.e.check(**naive).ok, f"{name} seed {seed}: the naive answer {naive} passes"


@pytest.mark.parametrize("seed", range(SEEDS))
@pytest.mark.parametrize("name", NAMES)
def test_no_answer_in_the_clear(made, name, seed):
    m = made(name, seed)
    c = m.solution["culprit"]
    words = [c["comm"]] if "comm" in m.e.fields else []
    words += [c["stack_id"]] + c["distinguishing_frames"]
    # the asked numbers, in the forms an answer file would print them (a short number such
    # as the whole part of a rate can be a dump's time, legitimately)
    numbers = set()
    if "pages" in m.e.fields:
        numbers.add(str(c["pages"]))
    if "migrated_pages" in m.e.fields and c["migrated_pages"] >= 100:
        numbers.add(str(c["migrated_pages"]))
    if "pages_per_s" in m.e.fields:
        numbers |= {f"{c['pages_per_s']:.1f}", f"{c['pages_per_s']:.2f}"}
    for p in sorted(m.folder.iterdir()):
        if EVIDENCE.match(p.name):
            continue
        text = p.read_text(encoding="utf-8")
        for w in words:
            assert not re.search(rf"(?<![\w/.-]){re.escape(w)}(?![\w/-])", text), (p.name, w)
        if p.name in ("exercise.json", "README.txt"):
            for n in numbers:
                assert not re.search(rf"(?<![\w.]){re.escape(n)}(?![\w])", text), (p.name, n)
    meta = json.loads((m.folder / "exercise.json").read_text())
    assert set(meta) >= {"question", "fields", "tolerances", "salt", "digests", "dumps"}
    assert "culprit" not in json.dumps(meta) and "answer" not in meta


@pytest.mark.parametrize("name", NAMES)
def test_same_name_and_seed_same_bytes(made, tmp_path, name):
    again = ex.make(name, seed=0, folder=tmp_path / "again")
    assert _digests(again.files) == _digests(made(name, 0).folder)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_fresh_variants(made, name):
    keys = set()
    for seed in range(SEEDS):
        c = made(name, seed).solution["culprit"]
        keys.add((c["comm"], c["stack_id"], c["pages"], round(c["pages_per_s"])))
    assert len(keys) == SEEDS


def test_handout_is_a_capture(made, tmp_path):
    m = made("slow-leak-under-churn", 0)
    cap = pextlab.read_capture(m.folder)
    assert cap.df_page_owner()["pfn"].tolist() == \
        pextlab.read_capture(m.folder, snapshot=m.e.snapshots[-1]).df_page_owner()["pfn"].tolist()
    assert not cap.df_buddyinfo().empty and not cap.df_meminfo().empty and not cap.df_stacks().empty
    assert sort_main(["--cull=stacktrace", str(m.folder / "page_owner.txt.gz"),
                      str(tmp_path / "sorted.txt")]) == 0
    # dumps at several times, labelled t<seconds>s, with the machine's uptime
    assert m.e.snapshots == ["t15s", "t30s", "t45s"]
    assert list(m.e.dumps["uptime_s"].diff().dropna()) == [15.0, 15.0]


def test_v319_handout_is_in_the_319_format(made):
    m = made("v3.19-stacks-only", 0)
    import gzip
    text = gzip.decompress((m.folder / "page_owner.txt.gz").read_bytes()).decode()
    head = text[:2000]
    assert head.startswith("Page allocated via order ") and " [<" in head
    assert "pid" not in head and "ts " not in head
    df = pextlab.read_capture(m.folder).df_page_owner()
    assert df["comm"].isna().all() and (df["ts_ns"] == -1).all()


def test_compaction_moved_the_culprit(made):
    m = made("compaction-moved-leak", 0)
    c = m.solution["culprit"]
    assert 0 < c["migrated_pages"] <= c["pages"]
    df = pextlab.read_capture(m.folder).df_page_owner()
    assert (df["last_migrate_reason"].astype(object) == "compaction").any()


def test_spellings(made):
    m = made("slow-leak-under-churn", 1)
    a, c = m.solution["answer"], m.solution["culprit"]
    e = ex.Exercise(m.folder)                      # reopened from the folder
    rate = c["pages_per_s"]
    # comm with a pid, the full stack with offsets (or without allocator frames), a rate
    # within the tolerance
    r = e.check(comm=f"{a['comm']} 4242", stack="\n".join(c["stack"]), pages_per_s=rate * 1.2)
    assert r.ok, r
    assert e.check(comm=f"{a['comm']}[17]", top_frame=c["stack"][3:], rate=f"{rate:.0f}").ok
    for f in c["distinguishing_frames"]:
        assert e.check(comm=a["comm"], top_frame=f, pages_per_s=rate).ok
        assert e.check(comm=a["comm"], top_frame=f"__{f}+0x10/0x20", pages_per_s=rate).ok
    r = e.check(comm=a["comm"], top_frame="get_page_from_freelist", pages_per_s=rate * 1.6)
    assert list(r.verdicts["verdict"]) == ["right", "wrong", "wrong"] and not r.ok
    assert "1 of 3 right" in r.feedback and "hint()" in r.feedback
    assert "right" in r._repr_html_() and a["comm"] in repr(r)
    r = e.check(comm=a["comm"])
    assert list(r.verdicts["verdict"]) == ["right", "missing", "missing"]
    # leak accepts yes/no spellings
    fa = made("is-it-a-leak", 0)
    assert fa.e.check(comm=fa.solution["answer"]["comm"], leak="no").ok
    assert not fa.e.check(comm=fa.solution["answer"]["comm"], leak=True).ok


def test_bad_input(made, tmp_path):
    m = made("plain-leak", 0)
    with pytest.raises(PextlabError, match="unknown exercise 'nope'.*plain-leak"):
        ex.make("nope")
    for seed in (-1, 1.5, True, "3", 2**40):
        with pytest.raises(PextlabError, match="seed"):
            ex.make("plain-leak", seed=seed)
    with pytest.raises(PextlabError, match="not an empty folder"):
        ex.make("plain-leak", folder=m.folder)
    with pytest.raises(PextlabError, match="must not be inside"):
        ex.make("plain-leak", folder=tmp_path / "h", solution=tmp_path / "h" / "s.json")
    e = m.e
    with pytest.raises(PextlabError, match="unknown answer field 'colour'"):
        e.check(colour="red")
    with pytest.raises(PextlabError, match="does not ask for 'node'"):
        e.check(node=1)
    with pytest.raises(PextlabError, match="answered twice"):
        e.check(top_frame="x", stack="y")
    for kw, msg in ((dict(comm=3), "comm"), (dict(pages="many"), "pages"),
                    (dict(pages=-5), "pages"), (dict(top_frame={"a": 1}), "top_frame"),
                    (dict(pages=float("nan")), "pages")):
        with pytest.raises(PextlabError, match=msg):
            e.check(**kw)
    with pytest.raises(PextlabError, match="not an exercise hand-out"):
        ex.Exercise(tmp_path)
    with pytest.raises(PextlabError, match="not an exercise hand-out"):
        ex.check(tmp_path, comm="x")


def test_hints_step_by_step(made):
    e = ex.Exercise(made("leak-beside-hog", 0).folder)
    hints = [e.hint() for _ in range(6)]
    n = len(e.meta["hints"])
    assert hints[0].startswith(f"hint 1/{n}:") and hints[1].startswith(f"hint 2/{n}:")
    assert hints[-1] == hints[-2] and hints[-1].startswith(f"hint {n}/{n}:")


def _teacher_build(seed, rng):
    rate = float(rng.uniform(100, 200))
    leak = W.task("teacherd", "pipe", rate, "1s", leak=0.5, stacks=("pipe-0",), label=ex.CULPRIT)
    w = W.mix(W.anon("busy", rate=300, lifetime="2s"), leak)
    return ex.Scenario(steps=(ex.Run(w, 5), ex.Dump(), ex.Run(w, 5), ex.Dump()),
                       decoys=("busy: churn",))


def test_a_teacher_registers_an_exercise(tmp_path):
    spec = ex.ExerciseSpec(name="teachers-pipe-leak", level=1, skills=("pipes",),
                           question="Which task leaks pipe buffers, and how fast?",
                           build=_teacher_build, fields=("comm", "pages_per_s"),
                           tolerances={"pages_per_s": 0.3}, hints=("Look at pipe_write.",))
    ex.register(spec)
    try:
        assert "teachers-pipe-leak" in set(ex.catalogue()["name"])
        e = ex.make("teachers-pipe-leak", seed=2, folder=tmp_path / "h", solution=tmp_path / "s.json")
        assert e.check(**reference_answer(e.files)).ok
        sol = json.loads((tmp_path / "s.json").read_text())["answer"]
        assert sol["comm"] == "teacherd" and e.check(**sol).ok
        with pytest.raises(PextlabError, match="exists"):
            ex.register(spec)
        ex.register(spec, replace=True)
    finally:
        ex.unregister("teachers-pipe-leak")
    with pytest.raises(PextlabError, match="built-in"):
        ex.register(ex.get_spec("plain-leak"), replace=True)
    assert "teachers-pipe-leak" not in set(ex.catalogue()["name"])


def test_bad_specs():
    ok = dict(name="x-ok", level=1, skills=("a",), question="q?", build=_teacher_build,
              fields=("comm",))
    ex.ExerciseSpec(**ok)
    for change, msg in ((dict(name="Bad Name"), "name"), (dict(level=4), "level"),
                        (dict(fields=("colour",)), "unknown field"),
                        (dict(fields=("comm",), tolerances={"pages": 0.1}), "tolerance"),
                        (dict(fields=("pages",), tolerances={"pages": 2}), "tolerance"),
                        (dict(cmdline=""), "page_owner=on"), (dict(profile="v9"), "profile"),
                        (dict(solver="magic"), "solver"),
                        (dict(profile="v3.19"), "v3.19")):
        with pytest.raises(PextlabError, match=msg):
            ex.ExerciseSpec(**{**ok, **change})
    leak = W.task("a", "pipe", 10, "1s", leak=0.5, stacks=("pipe-0",), label=ex.CULPRIT)
    with pytest.raises(PextlabError, match="ends with a Dump"):
        ex.Scenario(steps=(ex.Dump(), ex.Run(W.mix(leak), 1)))
    with pytest.raises(PextlabError, match="label"):
        ex.Scenario(steps=(ex.Run(W.anon("a"), 1), ex.Dump()))
    with pytest.raises(PextlabError, match="exactly one catalogue stack"):
        ex.Scenario(steps=(ex.Run(W.anon("a", label=ex.CULPRIT), 1), ex.Dump()))
    with pytest.raises(PextlabError, match="culprit's stack"):
        ex.Scenario(steps=(ex.Run(W.mix(leak, W.pipe_buffers("cat")), 1), ex.Dump()))


def test_command_line(tmp_path, capsys):
    from pextlab.cli import main
    assert main(["exercise", "list"]) == 0
    assert "slow-leak-under-churn" in capsys.readouterr().out
    out, sol = tmp_path / "h", tmp_path / "sol.json"
    assert main(["exercise", "make", "numa-node-leak", "--seed", "7", str(out),
                 "--solution", str(sol)]) == 0
    assert "numa-node-leak seed 7" in capsys.readouterr().out
    a = json.loads(sol.read_text())["answer"]
    assert main(["exercise", "check", str(out), "--comm", "collectd", "--node", "3"]) == 1
    text = capsys.readouterr().out
    assert "0 of 3 right" in text and "missing" in text
    assert main(["exercise", "check", str(out), "--comm", a["comm"], "--node", str(a["node"]),
                 "--pages-per-s", str(a["pages_per_s"])]) == 0
    assert "solved" in capsys.readouterr().out
    assert main(["exercise", "hint", str(out), "--n", "2"]) == 0
    assert capsys.readouterr().out.count("hint ") == 2
    assert main(["exercise", "check", str(out), "--order", "3"]) == 2
    assert "does not ask for 'order'" in capsys.readouterr().err
    assert main(["exercise", "make", "nope", str(tmp_path / "x")]) == 2
    assert "unknown exercise 'nope'" in capsys.readouterr().err


def test_top_level_name():
    assert pextlab.exercises is ex


def test_exercise_lab_controller():
    lab = pextlab.lab.ExerciseLab("numa-node-leak", seed=5)
    assert lab.fields == () and lab.check() is None and "generate" in lab.error
    assert "Generate" in lab.question_text()
    lab.seed = -3
    assert lab.generate() is None and "seed" in lab.error
    lab.seed = "5"                                     # a text box gives text
    e = lab.generate()
    assert e is not None and lab.error is None and lab.fields == ("comm", "node", "pages_per_s")
    assert "numa-node-leak (seed 5, level 2)" in lab.question_text()
    assert str(e.files) in lab.files_text()
    ref = reference_answer(e.files)
    lab.set_answer("node", "lots")
    assert lab.check() is None and "node" in lab.error
    for f, v in ref.items():
        lab.set_answer(f, str(v))
    r = lab.check()
    assert r.ok and lab.result_table()["verdict"].tolist() == ["right"] * 3
    lab.set_answer("comm", "")
    assert lab.check().verdicts["verdict"].tolist()[0] == "missing"
    h1, h2 = lab.hint(), lab.hint()
    assert lab.hints == [h1, h2] and h1 != h2
    with pytest.raises(PextlabError, match="not asked"):
        lab.set_answer("order", "3")
    assert [n for _, n in lab.options()] == NAMES


def test_exercise_lab_view():
    pytest.importorskip("ipywidgets")
    import pextlab.widgets
    lab = pextlab.lab.ExerciseLab("plain-leak", seed=4)
    v = pextlab.widgets.ExerciseLabView(lab)
    assert "pextlab-exercise-lab" in v._dom_classes and not v.inputs
    v.name.value = "kernel-thread-leak"
    v.seed.value = 2
    v.generate_button.click()
    assert lab.exercise.name == "kernel-thread-leak" and lab.exercise.seed == 2
    assert set(v.inputs) == {"comm", "top_frame", "pages"}
    assert "pextlab-answer-top-frame" in v.inputs["top_frame"]._dom_classes
    assert "kernel-thread-leak" in v.question.value
    ref = reference_answer(lab.exercise.files)
    v.inputs["comm"].value = ref["comm"]
    v.check_button.click()
    assert "1 of 3 right" in v.result.value and "missing" in v.result.value
    v.inputs["top_frame"].value = ref["top_frame"]
    v.inputs["pages"].value = str(ref["pages"])
    v.check_button.click()
    assert "solved" in v.result.value
    v.inputs["pages"].value = "a lot"
    v.check_button.click()
    assert "pages" in v.result.value and "#c62828" in v.result.value
    v.hint_button.click()
    assert "hint 1/" in v.hints.value


def test_readme_exercises_example_runs(monkeypatch):
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    text = (root / "README.md").read_text()
    section = text.split("## Leak-hunting exercises", 1)[1]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)[0]
    monkeypatch.chdir(root)
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    assert ns["e"].fields == ("comm", "top_frame", "pages_per_s")
    assert ns["e"].snapshots == ["t15s", "t30s", "t45s"]
    assert not ns["r"].ok and len(ns["r"].verdicts) == 3
