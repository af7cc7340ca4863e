"""ExerciseLabView: the ipywidgets face of :class:`pextlab.lab.ExerciseLab`.

Controls (CSS class for browser tests in brackets):

* Dropdown "Exercise" [``pextlab-exercise-name``], IntText "Seed" [``pextlab-exercise-seed``],
  Button "Generate" [``pextlab-generate``]
* HTML [``pextlab-question``]: the question and the fields to answer (or why generating failed)
* HTML [``pextlab-files``]: where the hand-out is and how to read it in the cells below
* one Text per field the exercise asks [``pextlab-answer-<field>``], rebuilt on Generate
* Buttons "Check" [``pextlab-check``] and "Hint" [``pextlab-hint``]
* HTML [``pextlab-result``]: the verdict per field and the feedback (or the input error)
* HTML [``pextlab-hints``]: the hints shown so far

The view holds no state of its own: every handler calls the controller, then ``refresh()``
re-reads it.
"""
from __future__ import annotations

import ipywidgets as W

from ..lab.exercise_lab import ExerciseLab
from ._render import escape

__all__ = ["ExerciseLabView"]

_COLOURS = {"right": "#2e7d32", "wrong": "#c62828", "missing": "#757575"}


def _css(w, name):
    w.add_class(name)
    return w


class ExerciseLabView(W.VBox):
    """A VBox of the exercise lab: choose, generate, answer, check, hints.

    Parameters
    ----------
    lab : ExerciseLab
        The controller (``pextlab.lab.ExerciseLab()``).
    """

    def __init__(self, lab: ExerciseLab, **kwargs):
        self.lab = lab
        opts = lab.options()
        names = [n for _, n in opts]
        self.name = _css(W.Dropdown(options=opts, value=lab.name if lab.name in names else names[0],
                                    description="Exercise", layout=W.Layout(width="360px")),
                         "pextlab-exercise-name")
        self.seed = _css(W.IntText(value=int(lab.seed), description="Seed",
                                   layout=W.Layout(width="160px")), "pextlab-exercise-seed")
        self.generate_button = _css(W.Button(description="Generate", button_style="primary"),
                                    "pextlab-generate")
        self.question = _css(W.HTML(), "pextlab-question")
        self.files = _css(W.HTML(), "pextlab-files")
        self.answers = W.VBox()
        self.inputs: dict[str, W.Text] = {}
        self.check_button = _css(W.Button(description="Check", button_style="success"),
                                 "pextlab-check")
        self.hint_button = _css(W.Button(description="Hint", button_style="info"), "pextlab-hint")
        self.result = _css(W.HTML(), "pextlab-result")
        self.hints = _css(W.HTML(), "pextlab-hints")

        self.name.observe(self._on_name, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.generate_button.on_click(lambda _: self.generate())
        self.check_button.on_click(lambda _: self.check())
        self.hint_button.on_click(lambda _: self.hint())
        lab.name = self.name.value
        super().__init__([W.HBox([self.name, self.seed, self.generate_button]), self.question,
                          self.files, self.answers,
                          W.HBox([self.check_button, self.hint_button]), self.result, self.hints],
                         **kwargs)
        self.add_class("pextlab-exercise-lab")
        self._build_inputs()
        self.refresh()

    # --- handlers ------------------------------------------------------------------------------
    def _on_name(self, change):
        self.lab.name = change["new"]

    def _on_seed(self, change):
        self.lab.seed = change["new"]

    def _on_text(self, field):
        def set_(change):
            self.lab.set_answer(field, change["new"])
        return set_

    def generate(self) -> None:
        """What Generate does: make the exercise, rebuild the answer boxes, re-render."""
        self.lab.generate()
        self._build_inputs()
        self.refresh()

    def check(self) -> None:
        """What Check does: grade the typed answer, re-render."""
        self.lab.check()
        self.refresh()

    def hint(self) -> None:
        """What Hint does: one more hint."""
        self.lab.hint()
        self.refresh()

    # --- render --------------------------------------------------------------------------------
    def _build_inputs(self) -> None:
        self.inputs = {}
        for f in self.lab.fields:
            t = W.Text(value=self.lab.answer.get(f, ""), description=f,
                       placeholder="your answer", layout=W.Layout(width="520px"),
                       style={"description_width": "110px"})
            t.add_class(f"pextlab-answer-{f.replace('_', '-')}")
            t.observe(self._on_text(f), names="value")
            self.inputs[f] = t
        self.answers.children = tuple(self.inputs.values())

    def refresh(self) -> None:
        """Re-read the controller: question, files, verdicts, hints."""
        lab = self.lab
        q = escape(lab.question_text()).replace("\n", "<br>")
        if lab.error and lab.exercise is None:
            q += f"<br><span style='color:#c62828'>{escape(lab.error)}</span>"
        self.question.value = f"<div style='max-width:900px'>{q}</div>"
        self.files.value = (f"<pre style='font-size:11px'>{escape(lab.files_text())}</pre>"
                            if lab.exercise is not None else "")
        if lab.error and lab.exercise is not None:
            self.result.value = f"<span style='color:#c62828'>{escape(lab.error)}</span>"
        elif lab.result is not None:
            rows = "".join(
                f"<tr><td><code>{escape(r.field)}</code></td><td>{escape(r.answer)}</td>"
                f"<td style='color:{_COLOURS[r.verdict]};font-weight:bold'>{r.verdict}</td>"
                f"<td>{escape(r.note)}</td></tr>" for r in lab.result_table().itertuples())
            self.result.value = (f"<b>{escape(lab.result.feedback)}</b><table>"
                                 f"<tr><th>field</th><th>answer</th><th>verdict</th><th>note</th>"
                                 f"</tr>{rows}</table>")
        else:
            self.result.value = ""
        self.hints.value = "".join(f"<div class='pextlab-hint-line'>{escape(h)}</div>"
                                   for h in lab.hints)
