"""Comparing one output with the expected one, and naming the mistake when they differ.

``compare_output`` tests hypotheses against the expected result, most specific first:
the exercise's own predicted mistakes (e.g. "dz computed with g'(A)"), then generic ones
(transposed, m times, 1/m times, negated, keepdims lost). The first hypothesis the
student's output matches (within tolerance) names the diagnosis.

Errors are relative with a floor (CS231n style), measured over the whole array as in
``backproplab.gradcheck.relative_error``; tolerances are named below.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..gradcheck import relative_error
from .codec import Opaque
from .diagnoses import require

__all__ = ["TOLERANCES", "FLOAT32_ROUNDING", "ORACLE_TOLERANCE", "ERROR_FLOOR", "OutputVerdict", "RatioMap", "tolerance_for",
           "allowing_rounding", "rounding_explains", "case_scale", "is_float32",
           "output_error", "is_close", "compare_output", "describe_value", "ratio_map"]

# Largest relative error a correct answer may have, by the dtype of the inputs it is computed from
# (float32 where an exercise accepts float32 arithmetic throughout, e.g. training).
TOLERANCES = {"float64": 1e-7, "float32": 1e-4}
# A float32 answer to float64 inputs may differ by what float32 rounding explains (~16 units in the last
# place), no more: its dtype never widens the tolerance to TOLERANCES["float32"].
FLOAT32_ROUNDING = 2e-6
# The oracles (NumPy reference, PyTorch float64 autograd, central differences) must agree to this.
ORACLE_TOLERANCE = 1e-6
ORACLE_ABSOLUTE = 1e-9  # an oracle within this of the reference agrees, whatever the relative error
# Denominator floor: two all-zero arrays compare equal instead of 0/0.
ERROR_FLOOR = 1e-10


@dataclass
class OutputVerdict:
    """The verdict on one named output (e.g. "dW"): passed, and if not, why."""

    name: str
    passed: bool
    diagnosis: str | None = None
    detail: str = ""
    # Same-shape differences for the heatmap (student - expected); never shipped to students raw.
    difference: np.ndarray | None = None
    # The expected values ``difference`` is measured from (student = expected + difference), for the
    # ratio map student / expected; set together with ``difference``.
    expected: np.ndarray | None = None


def tolerance_for(*inputs) -> float:
    """The tolerance an answer computed from ``inputs`` must meet: float32 precision only when an input is
    float32 (or lower), never because the answer is (a float32 return would otherwise widen it 1000-fold)."""
    for value in inputs:
        values = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            dtype = getattr(item, "dtype", None)
            if dtype is not None and dtype.kind == "f" and dtype.itemsize <= 4:
                return TOLERANCES["float32"]
    return TOLERANCES["float64"]


def is_float32(answer) -> bool:
    dtype = getattr(answer, "dtype", None)
    return dtype is not None and dtype.kind == "f" and dtype.itemsize <= 4


def rounding_explains(student, expected, scale) -> bool:
    """Whether float32 rounding explains how a float32 answer differs from the float64 ``expected``: every entry
    within FLOAT32_ROUNDING of ``scale``, the case's largest expected value. Rounding errors are relative to the
    values a computation passes through, not to its result: a bias gradient that averages to nearly 0 can have a
    large relative error and still be float32's best."""
    return student.shape == expected.shape and \
        float(np.max(np.abs(student - expected), initial=0.0)) <= FLOAT32_ROUNDING * scale


def allowing_rounding(tol, answer) -> float:
    """``tol``, or FLOAT32_ROUNDING when ``answer`` is float32 (or lower) and that is larger."""
    return max(tol, FLOAT32_ROUNDING) if is_float32(answer) else tol


def output_error(student, expected) -> float:
    """Relative error ||s - e|| / max(floor, ||s|| + ||e||) of two same-shape arrays."""
    return relative_error(student, expected, floor=ERROR_FLOOR)


def case_scale(expected: dict) -> float:
    """The largest magnitude among a case's expected outputs ({name: float or ndarray})."""
    return max((float(np.max(np.abs(value), initial=0.0)) for value in expected.values()
                if isinstance(value, (int, float, np.ndarray)) and np.asarray(value).dtype.kind in "iuf"),
               default=0.0)


def is_close(student, expected, tol) -> bool:
    """Same shape and relative error <= tol."""
    student = np.asarray(student, dtype=float)
    expected = np.asarray(expected, dtype=float)
    return student.shape == expected.shape and bool(np.all(np.isfinite(student))) and \
        output_error(student, expected) <= tol


def describe_value(value) -> str:
    """A short phrase for what a value is, for 'you returned ...' messages."""
    if isinstance(value, Opaque):
        return f"a {value.type_name}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _as_number(value):
    """A float for scalar-like values (numbers, NumPy scalars, size-1 arrays), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return float(value.reshape(()))
    return None


def _wrong_entries(student, expected, tol):
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, ERROR_FLOOR)
    gap = np.abs(student - expected)
    return gap > tol * (np.abs(student) + np.abs(expected) + scale)


def _constant_ratio(student, expected, tol):
    """c if student == c * expected (c != 1) over the entries, else None."""
    mask = np.abs(expected) > 1e-6 * max(float(np.max(np.abs(expected))), ERROR_FLOOR)
    if not mask.any():
        return None
    ratio = float(np.median(student[mask] / expected[mask]))
    if abs(ratio - 1.0) > 1e-3 and is_close(student, ratio * expected, max(tol, 1e-6)):
        return ratio
    return None


@dataclass
class RatioMap:
    """student / expected entry by entry: what makes a scaling mistake visible (a missing 1/m is
    m in every entry, where student - expected looks like noise)."""

    ratio: np.ndarray   # student / expected; NaN where the expected entry is ~0 (no ratio there)
    median: float       # the median of the ratios
    matching: int       # entries (of those with a ratio) where student == median * expected
    counted: int        # entries with a ratio
    constant: bool      # student == median * expected as a whole (within the tolerance): "scaled by median"


def ratio_map(student, expected, tol=TOLERANCES["float32"]) -> RatioMap | None:
    """The ratio map of two same-shape arrays, or None when the shapes differ or every expected
    entry is ~0. Entries whose expected value is within 1e-6 of the largest one are masked (NaN).
    ``constant`` uses the comparison's own criterion (relative error over the whole array <= tol),
    so a ratio called constant here is one a check would call a factor."""
    student = np.asarray(student, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if student.shape != expected.shape or expected.size == 0 or not np.all(np.isfinite(student)):
        return None
    mask = np.abs(expected) > 1e-6 * max(float(np.max(np.abs(expected))), ERROR_FLOOR)
    if not mask.any():
        return None
    ratio = np.full(expected.shape, np.nan)
    ratio[mask] = student[mask] / expected[mask]
    median = float(np.median(ratio[mask]))
    matching = int(np.sum(~_wrong_entries(student, median * expected, tol)[mask]))
    constant = is_close(student, median * expected, tol)
    return RatioMap(ratio, median, matching, int(mask.sum()), constant)


def _values_summary(name, student, expected, tol, with_ratio=True) -> str:
    wrong = _wrong_entries(student, expected, tol)
    gap = np.abs(student - expected)
    where = np.unravel_index(int(np.argmax(gap)), gap.shape) if gap.ndim else ()
    where_text = f" at index {tuple(int(i) for i in where)}" if gap.ndim else ""
    text = (f"{int(wrong.sum())} of {wrong.size} entries of {name} are wrong "
            f"(largest error {float(gap.max()):.3g}{where_text})")
    ratio = _constant_ratio(student, expected, tol) if with_ratio else None
    if ratio is not None:
        text += f"; every entry is {ratio:.4g} times the expected value"
    return text


def _scalar_verdict(name, student, expected, m, hypotheses, tol):
    value = _as_number(student)
    if value is None:
        return OutputVerdict(name, False, "not-an-array",
                             f"{name} should be a number, but the function returned {describe_value(student)}.")
    if not np.isfinite(value):
        return OutputVerdict(name, False, "non-finite",
                             f"{name} is {value} where a finite number was expected.")
    tol = allowing_rounding(tol, student)
    if is_close(value, expected, tol):
        return OutputVerdict(name, True)
    for diagnosis, predicted, *explanation in hypotheses:
        if is_close(value, predicted, tol):
            text = explanation[0] if explanation else pattern_text(diagnosis, m)
            return OutputVerdict(name, False, require(diagnosis), f"{name} = {value:.6g}, {text}.")
    generic = [("sign-flipped", -expected)]
    if m > 1:
        generic = [("missing-mean", m * expected), ("extra-mean", expected / m)] + generic
    for diagnosis, predicted in generic:
        if is_close(value, predicted, tol):
            return OutputVerdict(name, False, diagnosis,
                                 f"{name} = {value:.6g}, {_PATTERNS[diagnosis](m)}.")
    return OutputVerdict(name, False, "wrong-values",
                         f"{name} = {value:.6g} differs from the expected value by "
                         f"{abs(value - expected) / max(abs(expected), ERROR_FLOOR):.2%}.")


# What a diagnosis' pattern looks like in the student's result: observations only; the hint ladder says
# what to do about it.
_PATTERNS = {
    "missing-mean": lambda m: f"which is m = {m} times the expected value",
    "extra-mean": lambda m: f"which is the expected value divided by m = {m}",
    "sign-flipped": lambda m: "which is the expected value with the opposite sign",
    "transposed": lambda m: "which is the transpose of the expected result",
    "derivative-at-output": lambda m: "which matches g' taken at the output A instead of at Z",
    "relu-boundary": lambda m: "which differs only where z is exactly 0",
    "bias-axis": lambda m: "which matches a sum over the other axis of dz (over units instead of examples)",
    "bias-shape": lambda m: "which has the right values but not the (1, n) shape",
    "softmax-axis": lambda m: "which is normalized over the wrong axis (its columns sum to 1, not its rows)",
    "softmax-overflow": lambda m: "which overflowed on large inputs",
    "non-finite": lambda m: "which contains NaN or infinity",
    "wrong-values": lambda m: "which is not the expected result",
}


def pattern_text(diagnosis: str, m: int) -> str:
    """A phrase 'which is ...' describing a diagnosis' pattern, for exercise-specific hypotheses."""
    return _PATTERNS.get(diagnosis, lambda m: f"which matches the mistake '{diagnosis}'")(m)


def compare_output(name, student, expected, *, m, hypotheses=(), tol=TOLERANCES["float64"], float32_scale=None):
    """Judge one output: its detail says what was observed, never the fix (that is the hint ladder's).

    name: the output's name (e.g. "dW"); student: what the student returned for it
    (codec-normalized); expected: float or ndarray (the NumPy reference); m: the batch size,
    for the 1/m patterns; hypotheses: [(diagnosis_id, predicted_wrong_value), ...] from the
    exercise, most specific first; tol: the case's tolerance (``tolerance_for`` its inputs); float32_scale: given
    when the answer was computed in float32 (some output of it is float32, though this one may not be), the case's
    largest expected value (``case_scale``), which float32 rounding is measured against (a float32 output is
    measured against its own largest value otherwise) -> OutputVerdict.
    """
    if not isinstance(expected, np.ndarray):
        return _scalar_verdict(name, student, float(expected), m, hypotheses, tol)
    if isinstance(student, np.generic):
        student = np.asarray(student)  # e.g. np.sum(dz) / m: judged as a 0-d array (a shape mistake)
    if not isinstance(student, np.ndarray) or student.dtype.kind not in "biuf":
        extra = ""
        if isinstance(student, Opaque) and "torch" in student.type_name:
            extra = " The check compares NumPy arrays, not tensors."
        elif isinstance(student, (list, tuple)):
            extra = " The check compares NumPy arrays, not lists."
        return OutputVerdict(name, False, "not-an-array",
                             f"{name} should be a NumPy array of shape {expected.shape}, "
                             f"but it is {describe_value(student)}.{extra}")
    student_f = student.astype(float)
    if not np.all(np.isfinite(student_f)):
        bad = int(np.sum(~np.isfinite(student_f)))
        return OutputVerdict(name, False, "non-finite",
                             f"{bad} of {student_f.size} entries of {name} are NaN or infinite "
                             f"(a logarithm of 0, zero divided by zero, or an exponential that overflowed?).")
    tol = allowing_rounding(tol, student)
    if is_close(student_f, expected, tol):
        return OutputVerdict(name, True)
    if float32_scale is None and is_float32(student):
        float32_scale = case_scale({name: expected})
    if float32_scale is not None and rounding_explains(student_f, expected, float32_scale):
        return OutputVerdict(name, True)
    for diagnosis, predicted, *explanation in hypotheses:
        predicted = np.asarray(predicted, dtype=float)
        if predicted.shape == student_f.shape and is_close(student_f, predicted, tol):
            same = student_f.shape == expected.shape
            text = explanation[0] if explanation else pattern_text(diagnosis, m)
            return OutputVerdict(name, False, require(diagnosis), f"{name} is wrong: {text}.",
                                 student_f - expected if same else None, expected if same else None)
    if student_f.shape != expected.shape:
        return _shape_verdict(name, student_f, expected, tol)
    difference = student_f - expected
    generic = [("sign-flipped", -expected)]
    if m > 1:
        generic = [("missing-mean", m * expected), ("extra-mean", expected / m)] + generic
    for diagnosis, predicted in generic:
        if is_close(student_f, predicted, tol):
            return OutputVerdict(name, False, diagnosis,
                                 f"{name} is wrong: {_values_summary(name, student_f, expected, tol, False)}, "
                                 f"{pattern_text(diagnosis, m)}.", difference, expected)
    return OutputVerdict(name, False, "wrong-values",
                         f"{name} is wrong: {_values_summary(name, student_f, expected, tol)}.", difference,
                         expected)


def _shape_verdict(name, student, expected, tol):
    """Different shapes: transposed, a bias that lost its row shape, or just a wrong shape."""
    shapes = f"shape {student.shape} where {expected.shape} is expected"
    if expected.ndim == 2 and student.shape == expected.T.shape:
        if is_close(student, expected.T, tol):
            return OutputVerdict(name, False, "transposed",
                                 f"{name} is the transpose of the expected result ({shapes}).")
        return OutputVerdict(name, False, "wrong-shape",
                             f"{name} has {shapes}: that is the transposed shape (and the values "
                             f"differ too).")
    if student.size == expected.size and is_close(student.reshape(expected.shape), expected, tol):
        if name.lstrip("d").startswith("B"):
            return OutputVerdict(name, False, "bias-shape",
                                 f"{name} has the right values but {shapes}.")
        return OutputVerdict(name, False, "wrong-shape",
                             f"{name} has the right values but {shapes}.")
    return OutputVerdict(name, False, "wrong-shape", f"{name} has {shapes}.")
