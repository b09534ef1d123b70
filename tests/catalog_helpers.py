"""The answer catalogs (solutions/<lecture>/catalog.py), and running their sources through the
checks in-process (shared by the check tests).

API
  catalog(lecture) -> module (SETUP, ANSWERS, VARIANTS)   loaded once per test session
  namespace(lecture, variant=None) -> dict   SETUP and ANSWERS (variant swapped in) exec'd, as the notebook's cells would
  failure(exercise, fn, *, hidden, seed=None) -> Verdict | None   the failed check's verdict, None if it passes
  diagnosis(exercise, fn, *, hidden, seed=None) -> str | None         that result's diagnosis id
  first_failure(lecture, variant, hidden_seeds=(7,)) -> Verdict | None
        the variant's (with SETUP and the other correct answers) first failing check: visible, then hidden seeds
  variant_verdicts(lecture, variant) -> VariantVerdicts
        the variant checked as in a fresh kernel, visible then hidden on VARIANT_SEED; once per session
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from backproplab.checks import CheckFailed, check
from backproplab.checks.core import FAILED_TRIES
from backproplab.checks.records import Verdict
from backproplab.grading.answer_catalogs import Variant, load_catalog

REPO = Path(__file__).resolve().parents[1]
VARIANT_SEED = 7  # the hidden seed every catalog variant is checked on


@cache
def catalog(lecture: str):
    """The catalog module of a lecture id (e.g. "04-backprop") in this repository."""
    return load_catalog(REPO, lecture)


@cache
def _compiled(source: str, filename: str):
    """A catalog source compiled once per session: the check tests exec the same sources hundreds of times."""
    return compile(source, filename, "exec")


def namespace(lecture: str, variant: Variant | None = None) -> dict:
    """Exec the lecture's SETUP and ANSWERS (with ``variant`` replacing its exercise's answer)
    into a fresh namespace, as the notebook's cells would, and return it. Runs the sources in
    this process: trusted catalog code only."""
    module = catalog(lecture)
    ns: dict = {"__name__": "__bplab_answers__"}
    exec(_compiled(module.SETUP, "<setup>"), ns)
    for exercise, source in module.ANSWERS.items():
        if variant is not None and variant.exercise == exercise:
            source = variant.source
        exec(_compiled(source, f"<answer {exercise}>"), ns)
    return ns


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


@dataclass(frozen=True)
class VariantVerdicts:
    """A catalog variant's checks in a fresh kernel (no failed tries yet): the visible check, then the hidden one."""

    visible: Verdict | None  # the visible check's failed verdict, None when it passes
    hidden: Verdict | None   # the hidden check's on VARIANT_SEED
    first_failure_tries: int  # the exercise's failed tries once the first of the two failed (0: neither did)


@cache
def variant_verdicts(lecture: str, variant: Variant) -> VariantVerdicts:
    """The variant's visible and hidden verdicts, computed once per session: tests/test_catalogs.py reads the
    diagnoses, tests/test_hints.py the first failure's message (their tests share the xdist group
    "catalog-variants", so that `make check` runs both on the worker that computed them)."""
    fn = namespace(lecture, variant)[variant.exercise]
    FAILED_TRIES.clear()
    try:
        visible = failure(variant.exercise, fn, hidden=False)
        tries = FAILED_TRIES[variant.exercise]
        hidden = failure(variant.exercise, fn, hidden=True, seed=VARIANT_SEED)
        return VariantVerdicts(visible, hidden, tries if visible is not None else FAILED_TRIES[variant.exercise])
    finally:
        FAILED_TRIES.clear()
