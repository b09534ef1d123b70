"""Judging a check's outcomes (``evaluate``) and ``check()``, the call a notebook's test cell makes.

How a check works (the same code runs in the student's kernel and in outside verification):

1. ``Exercise.draw_cases(seed, hidden)`` draws ``Case``s (codec-safe arguments) from
   ``numpy.random.default_rng(seed)``.
2. ``run_case(fn, case)`` calls the student's function on a private copy of the arguments
   and returns an ``Outcome``: status, the returned value (codec-normalized), the exception's
   last line, which inputs were mutated, warnings, forbidden calls. In outside verification
   this happens in the grader's verification job (``grading/sandbox/verification.py``).
3. ``evaluate(exercise, outcomes, ...)`` judges outcomes case by case in a process that
   never runs student code: ``Exercise.expected`` computes the NumPy reference and asserts
   that the other oracles (PyTorch float64 autograd, central differences) agree with it,
   then ``Exercise.judge`` names the mistake. The first failing case decides the result.

   The failure's message is the observation (shapes, factors, which entries), then the exercise's
   hint ladder (checks/hints.py) at the rung the session's failed tries or ``hint=`` ask for.

The parts live in ``records.py`` (Case, Outcome, the verdicts), ``exercises.py`` (the Exercise contract and
registry, the seeds), ``calls.py`` (calling student code); this module judges (``evaluate``) and checks
(``check``).
"""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

from .calls import LibraryGuard, run_case
from .diagnoses import require
from .exercises import Exercise, get_exercise, visible_seed
from .hints import RUNGS, ladder_text, rung_for
from .records import Case, CheckFailed, Verdict

__all__ = ["evaluate", "check", "FAILED_TRIES", "GRADING_ENV"]

GRADING_ENV = "BPLAB_GRADING"  # set in the grader's kernel: "1", never the seed


def _replay(exercise, hidden, seed) -> str:
    flag = ", hidden=True" if hidden else ""
    return f'(seed {seed}; replay with check("{exercise}", {exercise}{flag}, seed={seed}))'


def evaluate(exercise: Exercise, cases: list[Case], outcome_for, *, seed: int, hidden: bool, rung: int = 1) -> Verdict:
    """Judge case by case; ``outcome_for(index, case)`` supplies each Outcome (lazily, so a
    kernel check stops calling the student's function at the first failure). A failure's message
    is the observation followed by the exercise's hint ladder up to ``rung`` (1..RUNGS)."""
    outputs = {}
    for index, case in enumerate(cases):
        outcome = outcome_for(index, case)
        expected = exercise.expected(case)
        verdict = exercise.judge(case, outcome, expected)
        outputs = verdict.outputs or outputs
        if not verdict.passed:
            kind = "hidden test" if hidden else "test"
            where = f"case {index + 1} of {len(cases)}" + (f", {case.label}" if case.label else "")
            hint = ladder_text(exercise, verdict.diagnosis, rung)
            message = (f"{exercise.name} failed a {kind} ({where}): {verdict.message} "
                       f"{hint + ' ' if hint else ''}{_replay(exercise.name, hidden, seed)}")
            return Verdict(exercise.name, hidden, False, require(verdict.diagnosis), message, seed,
                           verdict.outputs, verdict.difference, expected=verdict.expected)
    count = f"{len(cases)} {'hidden ' if hidden else ''}case{'s' if len(cases) != 1 else ''}"
    message = f"{exercise.name} passed {'all ' if len(cases) > 1 else ''}{count}."
    return Verdict(exercise.name, hidden, True, None, message, seed, {k: True for k in outputs})


# Failed check() calls per exercise in this kernel session: they choose the rung of the hint ladder.
FAILED_TRIES: Counter = Counter()


def check(exercise: str, fn, *, hidden: bool = False, seed: int | None = None, hint: int | None = None) -> Verdict | None:
    """Check a student's function on fresh inputs and say what is wrong, if anything.

    Visible tests use the exercise's fixed seed; hidden tests use ``seed``, else the
    ``BPLAB_SEED`` environment variable, else a random seed. Shows the verdict (HTML in
    Jupyter, plain text elsewhere) and raises ``CheckFailed`` when the check fails.
    A failure's hint is the rung (checks/hints.py) that the exercise's failed tries in this session
    reach, or at least ``hint`` (1..3) when given.

    While grading (``BPLAB_GRADING`` set, inside the sandbox) it does nothing: the graded
    calls are made in a verification job (grading/sandbox/verification.py) and judged outside.
    The kernel is told only that it is being graded, never the hidden seed.
    """
    ex = get_exercise(exercise)
    if hint is not None and (isinstance(hint, bool) or hint not in range(1, RUNGS + 1)):
        raise ValueError(f"hint must be 1, 2 or {RUNGS} (the rung of the hint ladder), not {hint!r}")
    if os.environ.get(GRADING_ENV, "").strip():
        print(f"{exercise}: checked by the grader, outside this notebook")
        return None
    if seed is None:
        if not hidden:
            seed = visible_seed(exercise)
        elif os.environ.get("BPLAB_SEED", "").strip():
            seed = int(os.environ["BPLAB_SEED"])
        else:
            seed = int(np.random.SeedSequence().entropy % 2**31)
    cases = ex.draw_cases(seed, hidden)
    guard = LibraryGuard(ex.library_functions, [getattr(fn, "__globals__", {})])

    def call(index, case):
        guard.install()
        try:
            return run_case(fn, case, ex.args, guard=guard)
        finally:
            guard.uninstall()

    tries = FAILED_TRIES[exercise] + 1  # this call's number, should it fail
    result = evaluate(ex, cases, call, seed=seed, hidden=hidden, rung=rung_for(tries, hint))
    if not result.passed:
        FAILED_TRIES[exercise] = tries
    from .display import show

    show(result)
    if not result.passed:
        raise CheckFailed(result)
    return result
