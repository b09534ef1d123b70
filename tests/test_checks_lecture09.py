"""Lecture 09-backprop-by-hand checks: the catalog's coverage of the brief's mistakes, the messages that name
them, the judging of backward_by_hand (first wrong gradient in backward order, dzmax zero up to rounding), the
oracles on many seeds, and the diagnoses this lecture adds."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from backproplab.bnmlp import forward_pass
from backproplab.checks import DIAGNOSES, get_exercise, run_case
from backproplab.checks.lecture09 import BACKWARD_ORDER, GRAD_KEYS
from catalog_helpers import REPO, catalog, first_failure, namespace

LECTURE = "09-backprop-by-hand"
CATALOG = catalog(LECTURE)
NEW_DIAGNOSES = ("broadcast-sum", "missing-branch", "max-shift", "bessel-correction")


def _variant(exercise, name):
    return next(v for v in CATALOG.VARIANTS if v.exercise == exercise and v.name == name)


def test_catalog_has_two_correct_and_five_wrong_answers_per_exercise_and_the_briefs_mistakes():
    """Does every exercise have >= 2 correct rewrites and >= 5 wrong answers, covering the brief's mistakes (a
    broadcast not summed back, over which axis; the max-shift; Bessel's correction; the earlier lectures' ids)?"""
    for exercise in CATALOG.ANSWERS:
        variants = [v for v in CATALOG.VARIANTS if v.exercise == exercise]
        assert sum(v.expected_diagnosis is None for v in variants) >= 2, exercise
        assert sum(v.expected_diagnosis is not None for v in variants) >= 5, exercise
    wrong = {(v.exercise, v.expected_diagnosis) for v in CATALOG.VARIANTS if v.expected_diagnosis}
    for needed in [("backward_by_hand", "broadcast-sum"), ("backward_by_hand", "bias-axis"),
                   ("backward_by_hand", "max-shift"), ("backward_by_hand", "missing-branch"),
                   ("backward_by_hand", "unbiased-variance"), ("backward_by_hand", "missing-mean-terms"),
                   ("backward_by_hand", "missing-mean"), ("backward_by_hand", "transposed"),
                   ("backward_by_hand", "derivative-at-output"), ("cross_entropy_backward", "softmax-overflow"),
                   ("cross_entropy_backward", "missing-mean"), ("batchnorm_backward_dZ", "missing-mean-terms"),
                   ("batchnorm_backward_dZ", "unbiased-variance"), ("batchnorm_backward_dZ", "broadcast-sum"),
                   ("train_by_hand", "bessel-correction"), ("train_by_hand", "missing-mean"),
                   ("train_by_hand", "mutated-input")]:
        assert needed in wrong, needed


def test_new_diagnoses_are_registered_documented_and_each_is_named_by_a_catalog_variant():
    """Are the ids this lecture adds in the registry, DESIGN.md's list and README's table, each expected of at least
    one catalog answer?"""
    named = {v.expected_diagnosis for v in CATALOG.VARIANTS}
    design, readme = (REPO / "docs" / "DESIGN.md").read_text(), (REPO / "README.md").read_text()
    for diagnosis in NEW_DIAGNOSES:
        assert diagnosis in DIAGNOSES and diagnosis in named, diagnosis
        assert f"`{diagnosis}`" in design and f"| `{diagnosis}` |" in readme, diagnosis


@pytest.mark.parametrize("exercise, name, words", [
    ("backward_by_hand", "gamma-not-summed", ("first wrong gradient is dgamma2", "one per column", "match")),
    ("backward_by_hand", "logsum-summed-over-the-batch", ("dlogsum", "one per row")),
    ("backward_by_hand", "dB3-over-the-classes", ("dB3",)),
    ("backward_by_hand", "shifted-without-the-exp-path", ("dshifted", "only the path through logP", "also enters E")),
    ("backward_by_hand", "zmax-from-the-direct-path", ("dzmax", "zero", "direct path")),
    ("backward_by_hand", "D-without-the-variance-path", ("dD2", "only the path through N2", "also enters var2")),
    ("backward_by_hand", "bessel-in-the-variance", ("dD2", "m - 1", "Bessel")),
    ("backward_by_hand", "Z-without-the-mean-path", ("dZ2", "mu2")),
    ("backward_by_hand", "per-example-convention", ("dlogP", "times the expected value")),
    ("backward_by_hand", "tanh-slope-at-A", ("dH2", "tanh")),
    ("cross_entropy_backward", "no-max-shift", ("1000", "float64")),
    ("cross_entropy_backward", "diagonal-only", ("diagonal",)),
    ("batchnorm_backward_dZ", "statistics-as-constants", ("constants",)),
    ("batchnorm_backward_dZ", "bessel-factor", ("through the variance", "Bessel")),
    ("batchnorm_backward_dZ", "means-over-features", ("per example", "per feature")),
    ("train_by_hand", "biased-running-variance", ("biased variance", "running variance")),
    ("train_by_hand", "momentum-reversed", ("new batch by 0.9",)),
    ("train_by_hand", "skips-the-last-batch", ("last",)),
])
def test_messages_explain_the_mistake(exercise, name, words):
    """Does each typical mistake's message say in words what went wrong, and where (what was observed; the
    fix is the hint ladder's)?"""
    result = first_failure(LECTURE, _variant(exercise, name))
    assert result is not None
    for word in words:
        assert word in result.message, (word, result.message)


def test_backward_order_covers_every_gradient_once():
    """Is the judging order a permutation of the 31 keys (23 intermediates and 8 parameters), starting at dlogP?"""
    assert sorted(BACKWARD_ORDER) == sorted(GRAD_KEYS) and len(set(GRAD_KEYS)) == 31
    assert BACKWARD_ORDER[0] == "dlogP" and BACKWARD_ORDER[-1] == "dW1"


@pytest.mark.parametrize("dzmax, diagnosis", [("zeros", None), ("rounding", None), ("nonzero", "max-shift")])
def test_dzmax_counts_as_right_when_it_is_zero_up_to_rounding(dzmax, diagnosis):
    """Does a correct answer pass with dzmax exactly zero or at rounding level (1e-17), and fail as max-shift when
    dzmax is visibly nonzero (while every other gradient is right)?"""
    correct = namespace(LECTURE)["backward_by_hand"]

    def answer(X, Y, params, cache):
        grads = correct(X, Y, params, cache)
        size = {"zeros": 0.0, "rounding": 1e-17, "nonzero": 1e-3}[dzmax]
        grads["dzmax"] = np.full(grads["dzmax"].shape, size)
        return grads

    exercise = get_exercise("backward_by_hand")
    for case in exercise.draw_cases(3, hidden=True):
        verdict = exercise.judge(case, run_case(answer, case, exercise.args), exercise.expected(case))
        assert verdict.diagnosis == diagnosis, verdict.message


def test_every_case_is_replayable_and_the_oracles_agree_on_many_seeds():
    """Do the references of all four exercises agree with PyTorch (and finite differences) on 12 hidden seeds each?"""
    for name in CATALOG.ANSWERS:
        exercise = get_exercise(name)
        for seed in range(12):
            for case in exercise.draw_cases(seed, hidden=True):
                exercise._checked_reference(case)   # raises OracleDisagreement otherwise


def test_training_cases_never_hold_a_batch_of_one_row():
    """Does no training case leave a final batch of one row (no batch statistics; nn.BatchNorm1d refuses it)?"""
    exercise = get_exercise("train_by_hand")
    for seed in range(50):
        for case in exercise.draw_cases(seed, hidden=True):
            X, batch_size = case.args[0], case.args[6]
            assert X.shape[0] % batch_size != 1


def test_withheld_functions_are_the_libraries_and_the_notebook_imports_none_of_them():
    """Does every exercise's library_functions name a real library function, none in a module the notebook's
    setup imports (bnmlp), so that bnmlp?? shows no answer?"""
    for name in CATALOG.ANSWERS:
        for dotted in get_exercise(name).library_functions:
            module, _, attribute = dotted.rpartition(".")
            assert callable(getattr(importlib.import_module(module), attribute)), dotted
            assert module != "backproplab.bnmlp", dotted


def test_cases_run_a_real_forward_pass():
    """Are backward_by_hand's caches exactly forward_pass's on the case's X, Y and params?"""
    for case in get_exercise("backward_by_hand").draw_cases(5, hidden=False):
        X, Y, params, cache = case.args
        _, fresh = forward_pass(X, Y, params)
        assert set(fresh) == set(cache) and all(np.array_equal(fresh[k], cache[k]) for k in cache)


def test_every_exercise_declares_a_three_rung_hint_ladder():
    """Does every exercise declare Hint(nudge, step, formula) for any failure ("*") and for registered diagnoses
    only, each rung written, the nudge without a code line?"""
    from backproplab.checks.hints import Hint

    for name in CATALOG.ANSWERS:
        hints = get_exercise(name).hints
        assert "*" in hints and set(hints) - {"*"} <= set(DIAGNOSES), name
        for diagnosis, hint in hints.items():
            assert isinstance(hint, Hint) and hint.nudge and hint.step and hint.formula, (name, diagnosis)
            assert "np." not in hint.nudge + hint.step + hint.formula and "=" not in hint.nudge, (name, diagnosis)
