"""The grader: salted digests of the truth, per-field verdicts, feedback.

The hand-out's ``exercise.json`` carries no answer in the clear, only salted
SHA-256 digests: ``sha256("<salt>|<field>|<value>")``.  An answer is right when
its digest is one of the field's:

* ``comm`` -- the task name, spaces trimmed; a trailing pid (``"collectd 1234"``,
  ``"collectd[1234]"``, ``"collectd (pid 1234)"``) is dropped;
* ``top_frame`` -- one frame: any function of the culprit's stack that no other
  stack in the last dump has (its distinguishing frames); a whole stack (text with
  one frame a line, or a list of frames): the same functions in the same order.
  Offsets, ``[<address>]`` prefixes, leading underscores, ``_noprof`` and
  ``.isra.0``-style suffixes do not count (:func:`normalise_function`);
* ``node``, ``order`` -- the integer;
* numeric fields (``pages``, ``pages_per_s``, ``migrated_pages``) -- the value's bin
  on a log scale whose bins are ``1 + tolerance`` wide; the answer's bin or either
  neighbour is accepted, so an answer within the tolerance of the truth always is
  (and one within twice the tolerance may be);
* ``leak`` -- yes or no (``True``/``False``, ``"yes"``/``"no"``).

>>> salt = "00ff"
>>> d = truth_digests({"comm": "collectd", "pages": 1000}, {"pages": 0.1}, salt)
>>> grade_field("comm", "collectd 4242", d, {"pages": 0.1}, salt)[0]
True
>>> grade_field("pages", 1080, d, {"pages": 0.1}, salt)[0], grade_field("pages", 1500, d, {"pages": 0.1}, salt)[0]
(True, False)
"""
from __future__ import annotations

import hashlib
import html
import json
import math
import numbers
import re
from pathlib import Path

import pandas as pd

from ..analysis.owners import frame_function
from ..errors import PextlabError
from ..schema import ALLOCATOR_FRAME_PREFIXES
from .spec import FIELDS, NUMERIC_FIELDS

__all__ = ["check", "CheckResult", "truth_digests", "grade_field", "normalise_answer",
           "normalise_function", "stack_functions", "digest", "read_exercise", "ALIASES",
           "EXERCISE_FILE", "FORMAT"]

EXERCISE_FILE = "exercise.json"
FORMAT = "pextlab.exercise/1"
#: Other spellings of the fields' names.
ALIASES = {"stack": "top_frame", "frame": "top_frame", "function": "top_frame",
           "rate": "pages_per_s", "pages_per_second": "pages_per_s", "growth": "pages_per_s",
           "nid": "node", "leaked_pages": "pages", "migrated": "migrated_pages",
           "task": "comm", "leaks": "leak"}
_PID_TAIL = re.compile(r"\s*(?:\[\s*\d+\s*\]|\(\s*(?:pid\s*)?\d+\s*\)|\s(?:pid\s*)?\d+)$", re.IGNORECASE)
_SUFFIX = re.compile(r"(?:\.(?:isra|constprop|part|cold|llvm)\.\d+)+$")
_YES = {"yes", "y", "true", "1", "leak", "leaks"}
_NO = {"no", "n", "false", "0", "no leak", "none"}


def digest(salt: str, name: str, value: str) -> str:
    """``sha256("<salt>|<name>|<value>")`` in hex."""
    return hashlib.sha256(f"{salt}|{name}|{value}".encode()).hexdigest()


def normalise_function(name: str) -> str:
    """A function name as the grader compares it.

    >>> normalise_function("___kmalloc_large_node+0xa1/0xc0"), normalise_function("__d_alloc")
    ('kmalloc_large_node', 'd_alloc')
    >>> normalise_function("alloc_buddy_hugetlb_folio.isra.0"), normalise_function("__alloc_pages_noprof")
    ('alloc_buddy_hugetlb_folio', 'alloc_pages')
    """
    f = frame_function(str(name))
    f = _SUFFIX.sub("", f)
    f = f.removesuffix("_noprof")
    return f.lstrip("_")


def stack_functions(stack) -> list[str]:
    """The functions of a stack (text with a frame a line, or a list of frames), outside
    the page allocator, normalised (:func:`normalise_function`).

    >>> stack_functions("get_page_from_freelist+0x1/0x2\\n__alloc_pages_noprof+0x1/0x2\\n"
    ...                 "allocate_slab+0x28/0x3f0\\n___slab_alloc+0x3/0x4")
    ['allocate_slab', 'slab_alloc']
    """
    frames = stack.split("\n") if isinstance(stack, str) else list(stack)
    out = []
    for f in frames:
        if not str(f).strip():
            continue
        raw = frame_function(str(f))
        if raw.startswith(ALLOCATOR_FRAME_PREFIXES):
            continue
        out.append(normalise_function(raw))
    return out


def _bin(value: float, tol: float) -> str:
    if value <= 0:
        return "zero"
    return str(math.floor(math.log(value) / math.log1p(tol)))


def truth_digests(truth: dict, tolerances: dict, salt: str) -> dict:
    """Digests of the true values (``truth``: field -> value; ``top_frame`` as a dict with
    ``frames`` (distinguishing functions) and ``stack`` (the stack's functions))."""
    out = {}
    for f, v in truth.items():
        if f == "top_frame":
            out["top_frame"] = sorted(digest(salt, "frame", normalise_function(x)) for x in v["frames"])
            out["stack"] = [digest(salt, "stack", ";".join(v["stack"]))]
        elif f in NUMERIC_FIELDS:
            out[f] = [digest(salt, f, _bin(float(v), tolerances[f]))]
        elif f == "leak":
            out[f] = [digest(salt, f, "yes" if v else "no")]
        elif f == "comm":
            out[f] = [digest(salt, f, str(v).strip())]
        else:
            out[f] = [digest(salt, f, str(int(v)))]
    return out


def _number(field: str, value) -> float:
    if isinstance(value, bool) or value is None:
        raise PextlabError(f"{field}: a number, got {value!r}")
    if isinstance(value, numbers.Real):
        v = float(value)
    elif isinstance(value, str):
        s = value.strip().replace(",", "").replace("_", "")
        s = re.sub(r"\s*(pages?(/s| per s(econd)?)?|/s)$", "", s)
        try:
            v = float(s)
        except ValueError:
            raise PextlabError(f"{field}: a number, got {value!r}") from None
    else:
        raise PextlabError(f"{field}: a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(v) or v < 0:
        raise PextlabError(f"{field}: a finite number >= 0, got {value!r}")
    return v


def _integer(field: str, value) -> int:
    if isinstance(value, str):
        value = re.sub(rf"^\s*{field}\s*", "", value.strip(), flags=re.IGNORECASE)
    v = _number(field, value)
    if v != int(v):
        raise PextlabError(f"{field}: an integer, got {value!r}")
    return int(v)


def normalise_answer(field: str, value):
    """The canonical form of an answer (raises PextlabError on a value of the wrong type).

    >>> normalise_answer("comm", " kworker/1:2 (pid 77) "), normalise_answer("leak", "No")
    ('kworker/1:2', False)
    >>> normalise_answer("top_frame", ["alloc_pages+0x1/0x2", "___kmalloc_large_node+0xa1/0xc0"])
    ['kmalloc_large_node']
    """
    if field == "comm":
        if not isinstance(value, str) or not value.strip():
            raise PextlabError(f"comm: a task name (text), got {value!r}")
        return _PID_TAIL.sub("", value.strip()).strip()
    if field == "top_frame":
        if isinstance(value, str):
            frames = value
        elif isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
            frames = list(value)
        else:
            raise PextlabError(f"top_frame: a function name, a stack (text) or a list of frames, "
                               f"got {value!r}")
        funcs = stack_functions(frames)
        if not funcs:
            # only allocator frames: compare them as given
            funcs = [normalise_function(f) for f in (frames.split("\n") if isinstance(frames, str)
                                                     else frames) if str(f).strip()]
        if not funcs:
            raise PextlabError(f"top_frame: no function name in {value!r}")
        return funcs
    if field in ("node", "order"):
        return _integer(field, value)
    if field in NUMERIC_FIELDS:
        return _number(field, value)
    if field == "leak":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _YES | _NO:
            return value.strip().lower() in _YES
        raise PextlabError(f"leak: yes or no (True/False), got {value!r}")
    raise PextlabError(f"unknown field {field!r}; fields: {list(FIELDS)}")


def grade_field(field: str, value, digests: dict, tolerances: dict, salt: str) -> tuple[bool, str]:
    """(right, note) for one answered field."""
    v = normalise_answer(field, value)
    want = set(digests.get(field, ()))
    if field == "top_frame":
        if len(v) == 1:
            ok = digest(salt, "frame", v[0]) in want
            return ok, ("a frame only the culprit's stack has" if ok else
                        "not a frame that only the culprit's stack has")
        ok = digest(salt, "stack", ";".join(v)) in set(digests.get("stack", ()))
        return ok, "the culprit's stack" if ok else "not the culprit's stack"
    if field in NUMERIC_FIELDS:
        tol = tolerances[field]
        b = _bin(v, tol)
        cands = {b} if b == "zero" else {str(int(b) + d) for d in (-1, 0, 1)}
        ok = any(digest(salt, field, c) in want for c in cands)
        return ok, (f"within ±{tol:.0%}" if ok else f"not within ±{tol:.0%} of the true value")
    if field == "leak":
        return digest(salt, field, "yes" if v else "no") in want, ""
    if field == "comm":
        ok = digest(salt, field, v) in want
        return ok, "" if ok else "not the culprit"
    return digest(salt, field, str(v)) in want, ""


def read_exercise(folder) -> dict:
    """The ``exercise.json`` of a hand-out folder (PextlabError when it is not one)."""
    p = Path(folder) / EXERCISE_FILE
    if not p.is_file():
        raise PextlabError(f"{folder} is not an exercise hand-out (no {EXERCISE_FILE}); make one "
                           f"with pextlab.exercises.make() or `pextlab exercise make`")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PextlabError(f"{p}: not readable JSON ({e})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise PextlabError(f"{p}: not a pextlab exercise (format {d.get('format') if isinstance(d, dict) else None!r})")
    return d


class CheckResult:
    """The grade of one answer.

    Attributes
    ----------
    ok : bool                 -- every asked field is right
    verdicts : DataFrame      -- field, answer, verdict ("right", "wrong", "missing"), note
    feedback : str            -- the verdicts in words and what to do next
    """

    def __init__(self, name: str, verdicts: pd.DataFrame, feedback: str):
        self.name = name
        self.verdicts = verdicts
        self.feedback = feedback
        self.ok = bool(len(verdicts)) and bool((verdicts["verdict"] == "right").all())

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self):
        return f"{self.name}: {self.feedback}\n{self.verdicts.to_string(index=False)}"

    def _repr_html_(self):
        colour = {"right": "#2e7d32", "wrong": "#c62828", "missing": "#9e9e9e"}
        rows = "".join(
            f"<tr><td><code>{html.escape(r.field)}</code></td><td>{html.escape(str(r.answer))}</td>"
            f"<td style='color:{colour[r.verdict]};font-weight:bold'>{r.verdict}</td>"
            f"<td>{html.escape(r.note)}</td></tr>" for r in self.verdicts.itertuples())
        return (f"<div class='pextlab-check-result'><p><b>{html.escape(self.name)}</b>: "
                f"{html.escape(self.feedback)}</p><table><tr><th>field</th><th>your answer</th>"
                f"<th>verdict</th><th>note</th></tr>{rows}</table></div>")


def _short(v) -> str:
    s = repr(v) if not isinstance(v, str) else v
    s = s.replace("\n", " | ")
    return s if len(s) <= 60 else s[:57] + "..."


def check(exercise, **answer) -> CheckResult:
    """Grade ``answer`` (field=value, see :data:`pextlab.exercises.spec.FIELDS`) against a
    hand-out (an :class:`~pextlab.exercises.Exercise` or its folder).

    Unknown fields, fields the exercise does not ask, and values of the wrong type are a
    PextlabError; a field left out is "missing".
    """
    d = exercise.meta if hasattr(exercise, "meta") else read_exercise(exercise)
    asked = list(d["fields"])
    given = {}
    for k, v in answer.items():
        f = ALIASES.get(k, k)
        if f not in FIELDS:
            raise PextlabError(f"unknown answer field {k!r}; this exercise asks {asked}")
        if f not in asked:
            raise PextlabError(f"{d['name']} does not ask for {f!r}; it asks {asked}")
        if f in given:
            raise PextlabError(f"{f!r} is answered twice ({k!r} is another spelling of it)")
        given[f] = v
    rows = []
    for f in asked:
        if f not in given:
            rows.append((f, "", "missing", FIELDS[f]))
            continue
        ok, note = grade_field(f, given[f], d["digests"], d["tolerances"], d["salt"])
        rows.append((f, _short(given[f]), "right" if ok else "wrong", note))
    verdicts = pd.DataFrame(rows, columns=["field", "answer", "verdict", "note"])
    right = int((verdicts["verdict"] == "right").sum())
    if right == len(asked):
        fb = f"all {len(asked)} fields right: solved!"
    else:
        wrong = [r.field for r in verdicts.itertuples() if r.verdict != "right"]
        fb = (f"{right} of {len(asked)} right; not yet: {', '.join(wrong)}. "
              f"Stuck? hint() gives the next hint ({len(d.get('hints', ()))} in all).")
    return CheckResult(d["name"], verdicts, fb)
