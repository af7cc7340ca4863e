"""Leak-hunting exercises: a machine with a hidden culprit, the evidence a real
investigator would get, a question, and a checker that does not give the answer away.

>>> from pextlab import exercises as ex
>>> e = ex.make("plain-leak", seed=7)
>>> r = e.check(comm="nobody")
>>> r.ok, list(r.verdicts["verdict"])
(False, ['wrong', 'missing', 'missing'])

* :func:`catalogue` -- the exercises (name, level, skills, what is handed out);
* :func:`make` -- run one with a seed and write its hand-out folder (``e.files``): a
  capture folder (page_owner dumps at several times, meminfo, buddyinfo, pagetypeinfo,
  zoneinfo, vmstat, extfrag, dmesg; ``pextlab.read_capture`` and ``pextlab sort`` read
  it) plus ``exercise.json`` (the question and salted digests of the answer);
* :class:`Exercise` -- ``e.question``, ``e.check(**answer)``, ``e.hint()``;
  ``Exercise(folder)`` opens a hand-out made earlier;
* :func:`check` -- grade an answer against a hand-out folder;
* :class:`ExerciseSpec` and :func:`register` -- write your own exercise (a workload, the
  culprit, the decoys, the question, the fields and tolerances) and add it.

Modules: :mod:`.spec` (the declarative spec), :mod:`.catalogue` (the built-in exercises
and the registry), :mod:`.handout` (running a scenario, writing the folder),
:mod:`.check` (the grader), :mod:`.solve` (the reference solver and the naive one, which
read only the hand-out).  This package is a facade (layer 4): it imports the machine,
the capture reader, the workloads and the analysis functions, never the labs.
"""
from .catalogue import catalogue, get_spec, register, unregister
from .check import CheckResult, check
from .handout import Exercise, make
from .spec import CULPRIT, FIELDS, Compact, Dump, ExerciseSpec, Run, Scenario

__all__ = ["catalogue", "make", "register", "unregister", "get_spec", "Exercise", "ExerciseSpec",
           "check", "CheckResult", "Scenario", "Run", "Dump", "Compact", "CULPRIT", "FIELDS"]
