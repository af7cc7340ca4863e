"""Making an exercise: run the scenario on a simulated machine, write the hand-out.

:func:`make` boots the spec's machine, goes through the seed's scenario, writes
a capture folder at each :class:`~pextlab.exercises.spec.Dump`
(``Machine.write_capture``, labelled ``t<seconds>s``; the last dump is also the
folder's default, unlabelled), and reads the ground truth off the simulated
machine as it goes: the culprit's pages (its stack's blocks), their nodes and
migrate reasons at each dump, and the frames of every other stack at the last
dump.  Then it writes ``exercise.json`` (the question, the fields and their
tolerances, the dumps, the hints, a salt and the salted digests of the truth --
nothing in the clear) and a ``README.txt`` for the student; the instructor's
solution file only when asked.

The same name and seed give the same bytes: the machine's seed, the workload's
generator and the salt come from them, and every file is written without host
paths or dates.

>>> e = make("plain-leak", seed=1)
>>> sorted(p.name for p in e.files.glob("page_owner.*"))
['page_owner.t10s.txt.gz', 'page_owner.t20s.txt.gz', 'page_owner.txt.gz']
>>> e.fields
('comm', 'top_frame', 'pages')
"""
from __future__ import annotations

import hashlib
import html
import json
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..capture import read_capture
from ..capture_writer import alias_snapshot
from ..errors import PextlabError
from ..machine import boot
from ..workloads.catalogue import load_catalogue
from .catalogue import get_spec
from .check import (
    EXERCISE_FILE,
    FORMAT,
    check,
    read_exercise,
    stack_functions,
    truth_digests,
)
from .spec import CULPRIT, FIELDS, Compact, Dump, Run, Scenario

__all__ = ["make", "Exercise", "run_scenario", "SOLUTION_FORMAT"]

SOLUTION_FORMAT = "pextlab.exercise-solution/1"


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise PextlabError(f"seed is an integer in [0, 2**32), got {seed!r}")
    return int(seed)


def _label(t: float, used: set) -> str:
    base = f"t{t:g}s".replace(".", "_")
    label, k = base, 2
    while label in used:
        label, k = f"{base}_{k}", k + 1
    used.add(label)
    return label


def _culprit_handles(m, stack_id: str) -> list[int]:
    """The stack depot handles the workloads saved for catalogue stack ``stack_id`` (the
    depot keeps as many frames as the profile's stack depth)."""
    log = m.run_log
    return [] if log is None else sorted({s["handle"] for s in log.slots if s["stack_id"] == stack_id})


def run_scenario(spec, seed: int, folder) -> dict:
    """Boot the spec's machine, run the seed's scenario, write the capture folder at each
    dump; return the ground truth and what the dumps were (a dict, nothing written)."""
    rng = np.random.default_rng([seed, zlib.crc32(spec.name.encode())])
    sc = spec.build(seed, rng)
    if not isinstance(sc, Scenario):
        raise PextlabError(f"{spec.name}: build() returns a Scenario, got {type(sc).__name__}")
    m = boot(mem=spec.mem, nodes=spec.nodes, profile=spec.profile, cmdline=spec.cmdline, seed=seed)
    text = None
    elapsed, used, dumps = 0.0, set(), []
    compacted = {}
    for step in sc.steps:
        if isinstance(step, Run):
            m.run(step.workload, duration=float(step.seconds))
            elapsed += float(step.seconds)
        elif isinstance(step, Compact):
            compacted = m.compact_memory()
        elif isinstance(step, Dump):
            label = _label(elapsed, used)
            m.write_capture(folder, label)
            df = m.df_page_owner()
            rows = df[df["stack_handle"].isin(_culprit_handles(m, sc.culprit_stack))]
            if text is None and len(rows):
                text = str(rows["stack"].iloc[0])
            dumps.append(dict(label=label, elapsed_s=elapsed, uptime_s=round(m.mm.clock_ns / 1e9, 2),
                              pages=int(rows["nr_pages"].sum()),
                              per_node=rows.groupby("node")["nr_pages"].sum().to_dict(),
                              migrated=int(rows.loc[rows["last_migrate_reason"].astype(object)
                                                    == "compaction", "nr_pages"].sum()),
                              order=int(rows["order"].mode().iloc[0]) if len(rows) else -1,
                              last=df if step is sc.steps[-1] else None))
    first, last = dumps[0], dumps[-1]
    if last["pages"] <= 0:
        raise PextlabError(f"{spec.name} seed {seed}: the culprit has no page in the last dump "
                           f"(scenario error)")
    df = last["last"]
    if text is None:
        text = "\n".join(load_catalogue()[sc.culprit_stack].frames)
    mine = stack_functions(text)
    others = set()
    for s in df["stack"].astype(object).unique():
        if isinstance(s, str) and s != text:
            others.update(stack_functions(s))
    distinct = [f for f in mine if f not in others]
    if "top_frame" in spec.fields and not distinct:
        raise PextlabError(f"{spec.name} seed {seed}: every function of the culprit's stack "
                           f"{sc.culprit_stack} is in another stack too (scenario error)")
    nodes = sorted(set(first["per_node"]) | set(last["per_node"]))
    growth = {n: last["per_node"].get(n, 0) - first["per_node"].get(n, 0) for n in nodes}
    node = max(nodes, key=lambda n: (growth[n], last["per_node"].get(n, 0)))
    dt = last["uptime_s"] - first["uptime_s"]
    comms = sorted({t.comm for t in sc.tasks if t.label == CULPRIT})
    truth = {
        "comm": comms[0],
        "top_frame": {"frames": distinct, "stack": mine},
        "node": int(node),
        "order": last["order"],
        "pages": last["pages"],
        "pages_per_s": (last["pages"] - first["pages"]) / dt if dt > 0 else 0.0,
        "migrated_pages": last["migrated"],
        "leak": bool(sc.facts.get("leak", True)),
    }
    for d in dumps:
        d.pop("last")
    return dict(truth=truth, dumps=dumps, scenario=sc, stack_id=sc.culprit_stack, stack_text=text,
                compaction=compacted)


def _readme(meta: dict) -> str:
    dumps = ", ".join(f"{d['label']} ({d['uptime_s']} s after boot)" for d in meta["dumps"])
    fields = "\n".join(f"  {f:15s} {FIELDS[f]}" + (f" (within ±{meta['tolerances'][f]:.0%})"
                                                   if f in meta["tolerances"] else "")
                       for f in meta["fields"])
    opts = " ".join(f"--{f.replace('_', '-')} ..." for f in meta["fields"])
    return (f"pextlab leak-hunting exercise {meta['name']} (seed {meta['seed']}, level {meta['level']})\n\n"
            f"{meta['question']}\n\nAnswer these fields:\n{fields}\n\n"
            f"The files are what the machine ({meta['machine']}, kernel profile {meta['profile']}) "
            f"gave when asked: the /proc and debugfs files at each dump, labelled with the time "
            f"since the workload started: {dumps}.  The unlabelled files are the last dump.\n"
            f"MANIFEST.tsv lists every file.\n\n"
            f"Investigate with pextlab.read_capture(FOLDER, snapshot=LABEL), pandas, or the "
            f"kernel's page_owner_sort (pextlab sort).  Check an answer with\n"
            f"  pextlab exercise check FOLDER {opts}\n"
            f"or pextlab.exercises.Exercise(FOLDER).check(field=value, ...).\n")


def make(name: str, seed: int = 0, folder=None, solution=None) -> Exercise:
    """Make exercise ``name`` with ``seed`` and write its hand-out.

    Parameters
    ----------
    name : str
        A name from :func:`pextlab.exercises.catalogue` (or one you ``register``).
    seed : int
        Every seed is a fresh variant (culprit, stack, rate, node, timing, decoys).
    folder : path, optional
        Where to write the hand-out (created; it must be empty).  Default: a new
        temporary folder.
    solution : path, optional
        Also write the instructor's solution (the truth in the clear) to this JSON file,
        which must be outside ``folder``.

    Returns
    -------
    Exercise
    """
    spec = get_spec(name)
    seed = _seed(seed)
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix=f"pextlab-{spec.name}-{seed}-"))
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise PextlabError(f"{folder} exists and is not an empty folder: a hand-out needs a folder "
                           f"of its own")
    if solution is not None:
        sol = Path(solution).resolve()
        if folder.resolve() in sol.parents:
            raise PextlabError(f"the solution file {solution} must not be inside the hand-out "
                               f"folder {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    r = run_scenario(spec, seed, folder)
    last = r["dumps"][-1]["label"]
    alias_snapshot(folder, last)
    salt = hashlib.sha256(f"pextlab-exercise|{spec.name}|{seed}".encode()).hexdigest()[:16]
    truth = {f: r["truth"][f] for f in spec.fields}
    machine = f"{spec.mem}, {spec.nodes} node{'s' if spec.nodes > 1 else ''}"
    meta = {
        "format": FORMAT, "name": spec.name, "seed": seed, "level": spec.level,
        "skills": list(spec.skills), "question": spec.question, "fields": list(spec.fields),
        "tolerances": dict(spec.tolerances), "profile": spec.profile, "machine": machine,
        "cmdline": spec.cmdline, "solver": spec.solver,
        "dumps": [{k: d[k] for k in ("label", "elapsed_s", "uptime_s")} for d in r["dumps"]],
        "hints": list(spec.hints), "salt": salt,
        "digests": truth_digests(truth, spec.tolerances, salt),
    }
    (folder / EXERCISE_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n",
                                        encoding="utf-8")
    (folder / "README.txt").write_text(_readme(meta), encoding="utf-8")
    if solution is not None:
        t = r["truth"]
        clear = {"format": SOLUTION_FORMAT, "name": spec.name, "seed": seed,
                 "answer": {f: (t["top_frame"]["frames"][0] if f == "top_frame" else t[f])
                            for f in spec.fields},
                 "culprit": {"comm": t["comm"], "stack_id": r["stack_id"],
                             "stack": r["stack_text"].split("\n"),
                             "distinguishing_frames": t["top_frame"]["frames"],
                             "node": t["node"], "order": t["order"], "pages": t["pages"],
                             "pages_per_s": round(t["pages_per_s"], 3),
                             "migrated_pages": t["migrated_pages"], "leak": t["leak"]},
                 "decoys": list(r["scenario"].decoys),
                 "dumps": [{k: d[k] for k in ("label", "uptime_s", "pages")} for d in r["dumps"]]}
        Path(solution).write_text(json.dumps(clear, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Exercise(folder)


class Exercise:
    """A hand-out folder: the question, the files, the checker and the hints.

    ``Exercise(folder)`` opens one made earlier (by :func:`make` or
    ``pextlab exercise make``).

    Attributes
    ----------
    files : Path             -- the hand-out folder (a capture folder + exercise.json)
    name, seed, level, question, fields, tolerances, profile
    dumps : DataFrame        -- label, elapsed_s (since the workload started), uptime_s
    meta : dict              -- exercise.json
    """

    def __init__(self, folder):
        self.files = Path(folder)
        self.meta = read_exercise(self.files)
        m = self.meta
        self.name, self.seed, self.level = m["name"], m["seed"], m["level"]
        self.question = m["question"]
        self.fields = tuple(m["fields"])
        self.tolerances = dict(m["tolerances"])
        self.profile = m["profile"]
        self.dumps = pd.DataFrame(m["dumps"], columns=["label", "elapsed_s", "uptime_s"])
        self._next_hint = 0

    @property
    def snapshots(self) -> list[str]:
        """The dumps' labels, oldest first (``read_capture(e.files, snapshot=...)``)."""
        return list(self.dumps["label"])

    def capture(self, snapshot: str | None = None):
        """``pextlab.read_capture(self.files, snapshot)`` (default: the last dump)."""
        return read_capture(self.files, snapshot=snapshot)

    def check(self, **answer):
        """Grade an answer: ``e.check(comm="collectd", top_frame="...", pages_per_s=250)``
        (:func:`pextlab.exercises.check.check`)."""
        return check(self, **answer)

    def hint(self) -> str:
        """The next hint (each call gives one more; then the last again)."""
        hints = self.meta.get("hints") or ["No hints for this exercise."]
        i = min(self._next_hint, len(hints) - 1)
        self._next_hint = i + 1
        return f"hint {i + 1}/{len(hints)}: {hints[i]}"

    def __repr__(self):
        return (f"<Exercise {self.name} seed={self.seed} level={self.level}: asks "
                f"{', '.join(self.fields)}; files in {self.files}>")

    def _repr_html_(self):
        return (f"<div class='pextlab-exercise'><b>{html.escape(self.name)}</b> (seed {self.seed}, "
                f"level {self.level})<p>{html.escape(self.question)}</p><p>Answer: "
                f"{', '.join(f'<code>{f}</code>' for f in self.fields)}; dumps: "
                f"{', '.join(self.snapshots)}; files in <code>{html.escape(str(self.files))}</code>"
                f"</p></div>")
