"""Exercises: the ``Exercise`` contract (cases, reference, oracles, mistakes; the shared judging), the
registry ``EXERCISES`` that ``@register`` fills (one module per lecture), and the seeds cases are drawn from.

Adding an exercise: subclass ``Exercise``, set ``name``, ``lecture``, ``args``, ``outputs``,
``hints``, ``library_functions``; write ``cases`` and ``reference`` (and optionally
``oracles`` and ``mistakes``); decorate the class with ``@register``. See lecture04.py.
"""
from __future__ import annotations

import copy
import zlib
from collections import OrderedDict

import numpy as np

from . import codec
from .compare import (
    ORACLE_ABSOLUTE,
    ORACLE_TOLERANCE,
    TOLERANCES,
    OutputVerdict,
    case_scale,
    compare_output,
    describe_value,
    is_float32,
    output_error,
    tolerance_for,
)
from .diagnoses import require
from .records import Case, CaseVerdict, Outcome

__all__ = ["Exercise", "OracleDisagreement", "EXERCISES", "register", "get_exercise", "combine", "split_dict",
           "visible_seed", "hidden_seed"]

EXERCISES: dict[str, "Exercise"] = {}


class OracleDisagreement(RuntimeError):
    """Two oracles disagree: a bug in Backprop Lab, never the student's fault."""


_EXPECTED_SIZE = 256  # cases an exercise remembers the reference of (Exercise.expected)


def _case_key(case: Case) -> str | None:
    """The case identified by value (its encoded inputs and notes), or None when part of it has no
    exact encoding."""
    try:
        text = codec.dumps([case.args, case.kwargs, case.info, case.label, case.m])
    except (TypeError, ValueError):
        return None
    return None if '"__opaque__"' in text else text


class Exercise:
    """One graded function. Subclasses describe its cases, reference and typical mistakes.

    Class attributes:
      name, lecture      the DESIGN.md function name and lecture id
      args               argument names, in call order (for messages and mutation paths)
      outputs            names of the returned outputs, e.g. ("dA_prev", "dW", "dB");
                         one name means the function returns that single value
      hints              diagnosis id (or "*") -> checks.hints.Hint, the exercise's hint ladder
      library_functions  dotted names of the library's own implementation (calls = forbidden-call)
      torch_allowed      whether ``import torch`` is allowed (False for NumPy exercises)
      mutation_first     report mutated-input before looking at values (False: values first)
      call_timeout       seconds allowed per call in outside verification
      precision          "float32" where answers computed in float32 are accepted; otherwise the tolerance
                         follows the case's inputs (``compare.tolerance_for``), never the answer's dtype
      withheld_while_graded  library functions withheld only in the verification job of this exercise's calls:
                         ones other exercises may use, but that would compute this one's answer
    """

    name = ""
    lecture = ""
    args: tuple = ()
    outputs: tuple = ()
    hints: dict = {}
    library_functions: tuple = ()
    torch_allowed = False
    mutation_first = True
    call_timeout = 10.0
    precision = "float64"
    withheld_while_graded: tuple = ()

    # -- to write per exercise ----------------------------------------------------------
    def cases(self, rng: np.random.Generator, hidden: bool) -> list[Case]:
        raise NotImplementedError

    def reference(self, case: Case) -> dict:
        """The NumPy reference: output name -> expected value (ndarray or float)."""
        raise NotImplementedError

    def oracles(self, case: Case) -> dict:
        """Other oracles: oracle name -> {output name -> value}; must agree with reference."""
        return {}

    def mistakes(self, case: Case) -> list:
        """Predicted wrong answers, most specific first: [(diagnosis_id, {output: value}), ...];
        an optional third item explains the pattern ("which is ..." by default)."""
        return []

    # -- shared machinery -----------------------------------------------------------------
    def draw_cases(self, seed: int, hidden: bool) -> list[Case]:
        return self.cases(np.random.default_rng(seed), hidden)

    def expected(self, case: Case) -> dict:
        """The reference, after asserting that every oracle agrees with it. Remembered per case
        (the oracles run PyTorch and finite differences): a check run again, or another answer
        checked on the same seed, reuses it."""
        remembered = self.__dict__.setdefault("_expected", OrderedDict())  # this exercise object's own
        key = _case_key(case)
        if key is not None and key in remembered:
            remembered.move_to_end(key)
            return copy.deepcopy(remembered[key])
        reference = self._checked_reference(case)
        if key is not None:
            remembered[key] = copy.deepcopy(reference)
            if len(remembered) > _EXPECTED_SIZE:
                remembered.popitem(last=False)
        return reference

    def _checked_reference(self, case: Case) -> dict:
        reference = self.reference(case)
        for oracle, values in self.oracles(case).items():
            for output, value in values.items():
                ref = reference[output]
                value, ref = np.asarray(value, float), np.asarray(ref, float)
                # relative, or within central differences' round-off (~1e-11) on a tiny gradient
                ok = np.shape(value) == np.shape(ref) and (output_error(value, ref) <= ORACLE_TOLERANCE or
                                                           float(np.max(np.abs(value - ref), initial=0)) <= ORACLE_ABSOLUTE)
                if not ok:
                    raise OracleDisagreement(
                        f"{self.name}: the {oracle} oracle disagrees with the NumPy reference on "
                        f"{output} ({case.label}). This is a bug in Backprop Lab, not in your code.")
        return reference

    def split(self, value, case: Case):
        """Returned value -> {output name: value}, or a CaseVerdict when it cannot be split."""
        if len(self.outputs) == 1:
            return {self.outputs[0]: value}
        names = ", ".join(self.outputs)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.outputs):
            return CaseVerdict(False, "not-an-array",
                               f"{self.name} should return a tuple ({names}), but it returned "
                               f"{describe_value(value)}" +
                               (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "") + ".")
        return dict(zip(self.outputs, value))

    def judge(self, case: Case, outcome: Outcome, expected: dict) -> CaseVerdict:
        """Name the mistake in one outcome (override to add exercise-specific judging)."""
        early = self.judge_running(case, outcome)
        if early is not None:
            return early
        mutated = self.mutation_verdict(outcome)
        if mutated is not None and self.mutation_first:
            return mutated
        split = self.split(outcome.value, case)
        if isinstance(split, CaseVerdict):
            return split
        verdict = self.judge_outputs(case, split, expected)
        if verdict.passed and mutated is not None:
            return mutated
        return verdict

    def judge_running(self, case, outcome) -> CaseVerdict | None:
        """Forbidden calls and how the call ended (not-implemented, timeout, crash)."""
        if outcome.forbidden:
            what = ", ".join(sorted(set(outcome.forbidden)))
            return CaseVerdict(False, "forbidden-call",
                               f"{self.name} used {what}, which this exercise does not allow.")
        if outcome.status == "not-implemented":
            return CaseVerdict(False, "not-implemented", f"{self.name} is not implemented yet.")
        if outcome.status == "timeout":
            return CaseVerdict(False, "timeout", f"{self.name} did not finish in time"
                               f"{': ' + outcome.exc_message if outcome.exc_message else ''} (an endless loop?).")
        if outcome.status in ("raised", "crash"):
            where = f" on the case {case.label}" if case.label else ""
            text = f"{outcome.exc_type}: {outcome.exc_message}" if outcome.exc_type else outcome.exc_message
            return CaseVerdict(False, "crash", f"{self.name} raised an error{where}: {text}")
        return None

    def mutation_verdict(self, outcome) -> CaseVerdict | None:
        if not outcome.mutated:
            return None
        return CaseVerdict(False, "mutated-input",
                           f"{self.name} changed its input {', '.join(outcome.mutated)} in place.")

    def judge_outputs(self, case, outputs: dict, expected: dict) -> CaseVerdict:
        hypotheses: dict[str, list] = {name: [] for name in expected}
        for diagnosis, predicted, *explanation in self.mistakes(case):
            for name, value in predicted.items():
                if name in hypotheses:
                    hypotheses[name].append((require(diagnosis), value, *explanation))
        tol = tolerance_for(*case.args, case.kwargs) if self.precision == "float64" else TOLERANCES["float32"]
        # one float32 output means float32 arithmetic, whose rounding reaches the answer's float64 outputs too
        float32_scale = case_scale(expected) if any(map(is_float32, outputs.values())) else None
        verdicts = [compare_output(name, outputs.get(name), expected[name], m=case.m,
                                   hypotheses=hypotheses[name], tol=tol, float32_scale=float32_scale)
                    for name in expected]
        return combine(verdicts, case)


def split_dict(value, keys, what: str, naming: str = ""):
    """A returned dict -> {key: value[key]} for ``keys`` (a sequence of str), or the verdict on one that is no dict
    (not-an-array) or lacks some of ``keys`` (missing-keys).

    what: the value as the messages name it, e.g. "the returned params"; naming: a sentence saying how the keys
    are named, added to the missing-keys message."""
    keys = list(keys)
    if not isinstance(value, dict):
        return CaseVerdict(False, "not-an-array", f"{what} should be a dict with the keys {_some(keys)}, but it is "
                                                  f"{describe_value(value)}.")
    missing = [key for key in keys if key not in value]
    if missing:
        extra = sorted(set(map(str, value)) - set(keys))
        return CaseVerdict(False, "missing-keys", f"{what} lacks the keys {_some(missing)}"
                           + (f" (unexpected keys: {_some(extra)})" if extra else "") + "." + (f" {naming}" if naming else ""))
    return {key: value[key] for key in keys}


def _some(keys: list) -> list:
    """At most six of ``keys``, then "..." for the rest."""
    return keys[:6] + (["..."] if len(keys) > 6 else [])


def combine(verdicts: list[OutputVerdict], case: Case) -> CaseVerdict:
    """Per-output verdicts -> one case verdict; the most specific diagnosis wins."""
    outputs = {v.name: v.passed for v in verdicts}
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return CaseVerdict(True, None, "", outputs)
    specific = [v for v in failed if v.diagnosis != "wrong-values"]
    first = (specific or failed)[0]
    same = [v.name for v in failed if v is not first and v.diagnosis == first.diagnosis]
    different = [v.detail for v in failed if v is not first and v.diagnosis != first.diagnosis]
    message = first.detail
    if same:
        message += f" The same pattern shows in {', '.join(same)}."
    if different:
        message += " Also: " + " ".join(different[:2]) + (" ..." if len(different) > 2 else "")
    shown = next((v for v in failed if v.difference is not None and v.difference.ndim == 2), None)
    if shown is None:
        return CaseVerdict(False, first.diagnosis, message, outputs)
    return CaseVerdict(False, first.diagnosis, message, outputs, shown.difference, shown.expected)


def register(cls):
    """Class decorator: instantiate the exercise and add it to ``EXERCISES``."""
    exercise = cls()
    if exercise.name in EXERCISES:
        raise ValueError(f"exercise {exercise.name!r} registered twice")
    EXERCISES[exercise.name] = exercise
    return cls


def get_exercise(name: str) -> Exercise:
    """The registered exercise ``name`` (importing ``backproplab.checks`` registers every lecture's)."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no check for exercise {name!r}; known: {sorted(EXERCISES)}") from None


def visible_seed(exercise: str) -> int:
    """The fixed seed of an exercise's visible test (the same for every student)."""
    return zlib.crc32(f"visible:{exercise}".encode()) & 0x7FFFFFFF


def hidden_seed(base_seed: int, exercise: str) -> int:
    """An exercise's hidden-test seed derived from a per-student base seed."""
    return zlib.crc32(f"hidden:{base_seed}:{exercise}".encode()) & 0x7FFFFFFF
