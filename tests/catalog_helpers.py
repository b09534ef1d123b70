"""Running answer-catalog sources through the checks in-process (shared by the check tests).

API
  failure(exercise, fn, *, hidden, seed=None) -> CheckResult | None   the failed check's result, None if it passes
  diagnosis(exercise, fn, *, hidden, seed=None) -> str | None         that result's diagnosis id
  first_failure(lecture, variant, hidden_seeds=(7,)) -> CheckResult | None
        the variant's (with SETUP and the other correct answers) first failing check: visible, then hidden seeds
"""
from __future__ import annotations

from backproplab.checks import CheckFailed, check
from backproplab.grading.samples import namespace


def failure(exercise, fn, *, hidden, seed=None):
    """The CheckFailed result of ``check(exercise, fn, hidden=hidden, seed=seed)``, or None when it passes."""
    try:
        check(exercise, fn, hidden=hidden, seed=seed)
    except CheckFailed as failed:
        return failed.result
    return None


def diagnosis(exercise, fn, *, hidden, seed=None):
    """The diagnosis id the check reports (None when it passes)."""
    result = failure(exercise, fn, hidden=hidden, seed=seed)
    return None if result is None else result.diagnosis


def first_failure(lecture, variant, hidden_seeds=(7,)):
    """The first failing check's result of ``variant`` (visible, then each hidden seed), or None if all pass."""
    fn = namespace(lecture, variant)[variant.exercise]
    for hidden, seed in [(False, None), *((True, s) for s in hidden_seeds)]:
        result = failure(variant.exercise, fn, hidden=hidden, seed=seed)
        if result is not None:
            return result
    return None
