"""The student edition's checks: the visible cases, their expected values and the predicted mistakes, as data.

In the student edition (`bplab export-student-repo`) every exercise's ``cases``, ``reference`` and ``mistakes``
read this key instead of computing anything: the instructor's checks computed it when the export was written
(the NumPy reference, after PyTorch and finite differences agreed with it). The texts the checks print are
stored compressed beside the code (``text``) so that no message or hint rung reads as source. ``check()`` in the
student edition therefore runs the visible cases only, with their fixed seeds; the hidden tests run when the
instructor grades.
"""
from __future__ import annotations

import base64
import functools
import zlib
from pathlib import Path

from . import codec
from .exercises import visible_seed
from .records import Case

KEY_FILE = Path(__file__).with_name("answer_key.bin")
PREDICTORS_KEY = "__predictors__"  # the judges' predicted mistakes: {predictor: {encoded arguments: [...]}}
CASE_REFERENCE = "answer_key_case"  # in a case's info: {CASE_REFERENCE: index} stands for that visible case


class VisibleOnly(RuntimeError):
    """check() was asked for hidden tests or another seed, which only the grader runs."""

    def _render_traceback_(self):
        return [f"VisibleOnly: {self}"]


@functools.cache
def _entries() -> dict:
    return codec.loads(zlib.decompress(KEY_FILE.read_bytes()).decode("utf-8"))


@functools.cache
def text(encoded: str) -> str:
    """A check's text, stored compressed (see the module docstring)."""
    return zlib.decompress(base64.b85decode(encoded)).decode("utf-8")


def draw_cases(exercise, seed: int, hidden: bool) -> list:
    """The exercise's visible cases (``Case``s), each carrying its place in the key."""
    if hidden or seed != visible_seed(exercise.name):
        raise VisibleOnly(f"this edition checks {exercise.name} on its visible cases only (seed "
                          f"{visible_seed(exercise.name)}); the hidden tests run when your instructor grades.")
    cases = []
    for index, entry in enumerate(_entries()[exercise.name]):
        info = dict(entry["info"], answer_key=index)
        cases.append(Case(entry["args"], entry["kwargs"], entry["label"], entry["m"], info))
    for case in cases:
        for key, value in case.info.items():
            if isinstance(value, dict) and set(value) == {CASE_REFERENCE}:
                case.info[key] = cases[value[CASE_REFERENCE]]
    return cases


def visible_cases(exercise, hidden: bool) -> list:
    """The exercise's visible cases (``Exercise.cases`` in the student edition)."""
    return draw_cases(exercise, visible_seed(exercise.name), hidden)


def _entry(exercise, case) -> dict:
    return _entries()[exercise.name][case.info["answer_key"]]


def reference(exercise, case) -> dict:
    """The expected outputs of a visible case."""
    return _entry(exercise, case)["expected"]


def mistakes(exercise, case) -> list:
    """The predicted wrong answers of a visible case, as the instructor's checks listed them."""
    return [tuple(item) for item in _entry(exercise, case)["mistakes"]]


class Predicted:
    """A predicted mistake of a visible case, as the judge's predictors give it: diagnosis, message, and the outcome
    (("returned", value) or ("raised", "Type: last line")) of the wrong computation."""

    def __init__(self, diagnosis, status, value, message):
        self.diagnosis, self.message, self._outcome = diagnosis, message, (status, value)

    def outcome(self):
        return self._outcome


def predictions(predictor: str, *args) -> list[Predicted]:
    """The predicted mistakes the instructor's ``predictor`` listed for these arguments (none for other arguments)."""
    found = _entries()[PREDICTORS_KEY].get(predictor, {}).get(codec.dumps(list(args)), [])
    return [Predicted(*item) for item in found]
