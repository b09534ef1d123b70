"""The records a check passes along: the ``Case`` a function is called on, the ``Outcome`` of the call,
the verdicts on it (``CaseVerdict`` per case, ``Verdict`` per check) and ``CheckFailed``.

``Case`` arguments and ``Outcome`` travel through the codec (between the student's process and the judge);
``Verdict.to_json`` is the verdict's one serialized form.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import codec

__all__ = ["Case", "Outcome", "CaseVerdict", "Verdict", "CheckFailed"]


@dataclass
class Case:
    """One set of inputs. ``args``/``kwargs`` travel through the codec to the student's
    process; everything else stays with the judge."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""          # shown in messages, e.g. "m=1 (a single example)"
    m: int = 1               # batch size, for the 1/m diagnoses
    info: dict = field(default_factory=dict)  # judge-only notes (e.g. {"boundary": True})


@dataclass
class Outcome:
    """What happened when the student's function was called on one case.

    status: "returned" | "raised" | "not-implemented" | "timeout" | "crash".
    """

    status: str
    value: object = None
    exc_type: str = ""
    exc_message: str = ""
    mutated: list = field(default_factory=list)     # paths of modified inputs, e.g. "params['W1']"
    forbidden: list = field(default_factory=list)   # e.g. "import torch", "backproplab.layers.dense_backward"
    warnings: int = 0
    output_chars: int = 0
    seconds: float = 0.0

    def to_data(self):
        return codec.encode(self.__dict__)

    @classmethod
    def from_data(cls, data):
        fields = codec.decode(data)
        known = {k: fields[k] for k in cls.__dataclass_fields__ if k in fields}
        return cls(**known)


@dataclass
class CaseVerdict:
    """The judge's verdict on one case."""

    passed: bool
    diagnosis: str | None = None
    message: str = ""
    outputs: dict = field(default_factory=dict)  # output name -> bool
    difference: np.ndarray | None = None          # student - expected of the first wrong matrix
    expected: np.ndarray | None = None            # that matrix's expected values (for student / expected)


@dataclass
class Verdict:
    """The verdict on one check: the one record from ``check()`` in the student's kernel, through
    the judge (which places it in a test cell: ``grade_id``, ``points``), to the gradebook and the
    feedback. ``to_json`` is its one serialized form (the check+json display data, the graded
    notebook's cell metadata, `bplab grade --json`)."""
    __test__ = False  # not a pytest class

    exercise: str
    hidden: bool
    passed: bool
    diagnosis: str | None
    message: str
    seed: int | None = None
    outputs: dict = field(default_factory=dict)                      # output name -> bool
    difference: np.ndarray | None = field(default=None, repr=False)  # student - expected, for the heatmap
    grade_id: str = ""                                               # the test cell, once judged
    points: float = 0.0                                              # that cell's points
    # the expected values ``difference`` is measured from, for the ratio map student / expected (judge and
    # kernel only, like ``difference``: not part of to_json)
    expected: np.ndarray | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict:
        return {"grade_id": self.grade_id, "exercise": self.exercise, "hidden": self.hidden, "passed": self.passed,
                "diagnosis": self.diagnosis, "message": self.message, "seed": self.seed,
                "outputs": {k: bool(v) for k, v in self.outputs.items()}, "score": self.score,
                "max_score": self.points}

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(str(data["exercise"]), bool(data["hidden"]), bool(data["passed"]), data["diagnosis"],
                   str(data["message"]), data.get("seed"), dict(data.get("outputs") or {}),
                   grade_id=str(data["grade_id"]), points=float(data["max_score"]))

    def _ipython_display_(self):
        """Show nothing when a test cell ends in check(...): check() already showed the verdict."""


class CheckFailed(AssertionError):
    """A failed check. nbgrader scores the cell 0; IPython shows only one short line."""

    def __init__(self, result: Verdict):
        super().__init__(result.message)
        self.result = result

    def _render_traceback_(self):
        diagnosis = f" [{self.result.diagnosis}]" if self.result.diagnosis else ""
        # nbgrader's Validate shows only this line: it carries the message's first line itself
        first = (self.result.message.splitlines() or [""])[0][:300]
        return [f"CheckFailed{diagnosis}: {self.result.exercise} did not pass: {first}"]
