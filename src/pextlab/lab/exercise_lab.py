"""The exercise lab: pick a leak-hunting exercise and a seed, generate it, answer, check, get hints.

:class:`ExerciseLab` is a pure-Python controller over :mod:`pextlab.exercises`.  It holds
what a person does in the lab -- the chosen ``name`` and ``seed``, the generated
``exercise``, the ``answer`` typed so far (field -> text), the last ``result`` and the
hints shown -- and what the view shows (``question_text``, ``files_text``,
``result_table``).  Its verbs never raise for a person's mistake (a bad seed, a word in a
number field): they set ``error`` and return None, and the view prints it.

The investigation itself happens in the notebook cells below the widget, on
``lab.exercise.files`` (a capture folder: ``pextlab.read_capture(lab.exercise.files)``).

>>> import pextlab.lab
>>> lab = pextlab.lab.ExerciseLab("plain-leak", seed=3)
>>> e = lab.generate()
>>> lab.fields
('comm', 'top_frame', 'pages')
>>> lab.set_answer("comm", "nobody")
>>> lab.check().ok, lab.result_table()["verdict"].tolist()
(False, ['wrong', 'missing', 'missing'])
>>> lab.hint().startswith("hint 1/")
True
"""
from __future__ import annotations

import pandas as pd

from ..errors import PextlabError
from ..exercises import catalogue, make

__all__ = ["ExerciseLab"]


class ExerciseLab:
    """Controller of the exercise lab.

    Parameters
    ----------
    name : str
        An exercise of ``pextlab.exercises.catalogue()``.
    seed : int
        Its variant.

    Attributes
    ----------
    exercise : Exercise or None     -- the generated exercise (None before ``generate()``)
    answer : dict                   -- field -> text typed so far ("" = not answered)
    result : CheckResult or None    -- the last check
    hints : list of str             -- the hints shown so far, in order
    error : str or None             -- why the last verb did nothing
    version : int                   -- bumped by every verb (views re-render when it changes)
    """

    def __init__(self, name: str = "plain-leak", seed: int = 0):
        self.name = name
        self.seed = seed
        self.exercise = None
        self.answer: dict[str, str] = {}
        self.result = None
        self.hints: list[str] = []
        self.error: str | None = None
        self.version = 0

    def __repr__(self):
        state = (f"{self.exercise.name} seed {self.exercise.seed}" if self.exercise is not None
                 else "nothing generated")
        return f"<ExerciseLab {self.name!r} seed={self.seed!r} -> {state}>"

    # --- choices -------------------------------------------------------------------------------
    @staticmethod
    def options() -> list[tuple[str, str]]:
        """(label, name) pairs for a dropdown, easiest first: ``("plain-leak (level 1)", ...)``."""
        df = catalogue()
        return [(f"{n} (level {lv})", n) for n, lv in zip(df["name"], df["level"])]

    @property
    def fields(self) -> tuple:
        """The fields the generated exercise asks (empty before ``generate()``)."""
        return () if self.exercise is None else self.exercise.fields

    # --- verbs ---------------------------------------------------------------------------------
    def _done(self):
        self.version += 1

    def generate(self):
        """Make exercise ``name`` with ``seed`` (a new hand-out folder); clear the answer,
        the result and the hints.  Returns the Exercise, or None (``error`` says why)."""
        try:
            seed = int(self.seed) if isinstance(self.seed, str) and self.seed.strip().isdigit() \
                else self.seed
            e = make(self.name, seed=seed)
        except PextlabError as err:
            self.error = str(err)
            self._done()
            return None
        self.exercise, self.answer, self.result, self.hints, self.error = e, {}, None, [], None
        self._done()
        return e

    def set_answer(self, field: str, text) -> None:
        """Type ``text`` into the answer's ``field`` ("" or None clears it)."""
        if field not in self.fields:
            raise PextlabError(f"{field!r} is not asked here; fields: {list(self.fields)}")
        text = "" if text is None else str(text)
        if text.strip():
            self.answer[field] = text
        else:
            self.answer.pop(field, None)
        self.version += 1

    def check(self):
        """Grade the answer typed so far; the CheckResult, or None (``error`` says why:
        nothing generated, a value of the wrong type)."""
        if self.exercise is None:
            self.error = "generate an exercise first"
            self._done()
            return None
        try:
            self.result = self.exercise.check(**{f: v.strip() for f, v in self.answer.items()})
        except PextlabError as err:
            self.error = str(err)
            self.result = None
            self._done()
            return None
        self.error = None
        self._done()
        return self.result

    def hint(self) -> str | None:
        """The next hint (kept in ``hints``), or None before ``generate()``."""
        if self.exercise is None:
            self.error = "generate an exercise first"
            self._done()
            return None
        h = self.exercise.hint()
        if not self.hints or h != self.hints[-1]:
            self.hints.append(h)
        self._done()
        return h

    # --- what a view shows ---------------------------------------------------------------------
    def question_text(self) -> str:
        """The exercise, its question and what to answer (or what to do first)."""
        e = self.exercise
        if e is None:
            return "Pick an exercise and a seed, then press Generate."
        return (f"{e.name} (seed {e.seed}, level {e.level}): {e.question}\n"
                f"Answer: {', '.join(e.fields)}.")

    def files_text(self) -> str:
        """Where the hand-out is and how to read it in the cells below."""
        e = self.exercise
        if e is None:
            return ""
        dumps = ", ".join(f"{r.label} ({r.uptime_s:g} s)" for r in e.dumps.itertuples())
        return (f"hand-out: {e.files}\ndumps: {dumps}\n"
                f"cap = pextlab.read_capture(lab.exercise.files, snapshot=...)  # or the last dump "
                f"without snapshot=")

    def result_table(self) -> pd.DataFrame:
        """The last check's verdicts (field, answer, verdict, note); empty before a check."""
        if self.result is None:
            return pd.DataFrame(columns=["field", "answer", "verdict", "note"])
        return self.result.verdicts
