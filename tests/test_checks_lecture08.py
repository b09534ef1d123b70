"""Lecture 08-optimization checks: the catalog's coverage, the messages of the brief's typical mistakes, the
cases the judging relies on (eps placement and the unbiased variance must be visible in them), the torch oracles,
and the diagnoses this lecture adds."""
from __future__ import annotations

import re

import numpy as np
import pytest

from backproplab.batchnorm import batchnorm_eval, batchnorm_forward
from backproplab.checks import DIAGNOSES, get_exercise
from backproplab.checks.hints import Hint
from backproplab.checks.lecture08 import _running, _torch_batchnorm, _torch_batchnorm_eval
from backproplab.optimizers import adam_update, rmsprop_update
from catalog_helpers import REPO, catalog, first_failure

LECTURE = "08-optimization"
CATALOG = catalog(LECTURE)
NEW_DIAGNOSES = ("momentum-ema", "stale-state", "missing-bias-correction", "eps-placement", "unbiased-variance",
                 "missing-mean-terms", "running-momentum-reversed", "bessel-correction", "batch-stats-at-inference")


def _variant(exercise, name):
    return next(v for v in CATALOG.VARIANTS if v.exercise == exercise and v.name == name)


def test_catalog_has_two_correct_and_five_wrong_answers_per_exercise_and_the_briefs_mistakes():
    """Does every exercise have >= 2 correct rewrites and >= 5 wrong answers, covering the brief's mistakes
    (EMA vs plain momentum, no bias correction, eps inside/outside the root, m - 1, dX without the mean terms)?"""
    for exercise in CATALOG.ANSWERS:
        variants = [v for v in CATALOG.VARIANTS if v.exercise == exercise]
        assert sum(v.expected_diagnosis is None for v in variants) >= 2, exercise
        assert sum(v.expected_diagnosis is not None for v in variants) >= 5, exercise
    wrong = {(v.exercise, v.expected_diagnosis) for v in CATALOG.VARIANTS if v.expected_diagnosis}
    for needed in [("momentum_update", "momentum-ema"), ("momentum_update", "stale-state"),
                   ("momentum_update", "mutated-input"), ("rmsprop_update", "eps-placement"),
                   ("adam_update", "missing-bias-correction"), ("adam_update", "eps-placement"),
                   ("adam_update", "off-by-one"), ("batchnorm_forward", "unbiased-variance"),
                   ("batchnorm_forward", "eps-placement"), ("batchnorm_backward", "missing-mean-terms"),
                   ("batchnorm_backward", "missing-mean"), ("batchnorm_eval", "running-momentum-reversed"),
                   ("batchnorm_eval", "bessel-correction"), ("batchnorm_eval", "batch-stats-at-inference")]:
        assert needed in wrong, needed


def test_new_diagnoses_are_registered_and_each_is_named_by_a_catalog_variant():
    """Are the ids this lecture adds in the registry, each expected of at least one catalog answer?"""
    named = {v.expected_diagnosis for v in CATALOG.VARIANTS}
    design = (REPO / "docs" / "DESIGN.md").read_text()
    for diagnosis in NEW_DIAGNOSES:
        assert diagnosis in DIAGNOSES and diagnosis in named, diagnosis
        assert f"`{diagnosis}`" in design, f"{diagnosis} is not in DESIGN.md's list"


@pytest.mark.parametrize("exercise, name, words", [
    ("momentum_update", "ema-form", ("moving-average form", "two forms")),
    ("momentum_update", "step-with-the-old-velocity", ("velocity from before this step",)),
    ("rmsprop_update", "eps-under-the-root", ("eps under the square root",)),
    ("rmsprop_update", "no-1-minus-beta", ("whole squared gradient",)),
    ("adam_update", "no-bias-correction", ("uncorrected at step t=",)),
    ("adam_update", "t-plus-one", ("t + 1",)),
    ("adam_update", "returns-corrected-moments", ("bias-corrected moments",)),
    ("batchnorm_forward", "unbiased-variance", ("m - 1", "unbiased")),
    ("batchnorm_forward", "eps-after-the-root", ("eps after the square root",)),
    ("batchnorm_forward", "statistics-over-features", ("each feature over the batch",)),
    ("batchnorm_forward", "cache-without-X-hat", ("X_hat",)),
    ("batchnorm_backward", "statistics-as-constants", ("constants",)),
    ("batchnorm_backward", "no-variance-path", ("var",)),
    ("batchnorm_backward", "sums-for-gamma-and-beta", ("m = ", "times the expected value")),
    ("batchnorm_eval", "momentum-reversed", ("new batch", "1 - momentum")),
    ("batchnorm_eval", "biased-running-variance", ("biased variance",)),
    ("batchnorm_eval", "batch-statistics-at-inference", ("its own mean and variance", "remembered")),
    ("batchnorm_eval", "starts-at-the-first-batch", ("first batch",)),
])
def test_messages_explain_the_mistake(exercise, name, words):
    """Does each typical mistake's message say in words what went wrong, and its nudge what to look at?"""
    result = first_failure(LECTURE, _variant(exercise, name))
    assert result is not None
    for word in words:
        assert word in result.message, (word, result.message)


@pytest.mark.parametrize("hidden", [False, True])
def test_optimizer_cases_make_eps_placement_visible(hidden):
    """Does each optimizer's case set hold a case where eps under the root moves the result far beyond the
    tolerance, and one that leaves the hyperparameters at their defaults?"""
    for name in ("rmsprop_update", "adam_update"):
        cases = get_exercise(name).draw_cases(3, hidden=hidden)
        gaps = []
        for case in cases:
            if name == "rmsprop_update" and len(case.args) == 6:
                params, grads, cache, lr, beta, eps = case.args
                right, _ = rmsprop_update(params, grads, cache, lr, beta, eps)
                inside = {k: v - lr * grads["d" + k] / np.sqrt(beta * cache["d" + k] + (1 - beta) * grads["d" + k] ** 2
                                                                + eps) for k, v in params.items()}
                gaps.append(max(np.max(np.abs(inside[k] - right[k]) / np.abs(params[k] - right[k])) for k in params))
            elif name == "adam_update" and len(case.args) == 9:
                right, _, _ = adam_update(*case.args)
                bigger_eps, _, _ = adam_update(*case.args[:8], case.args[8] * 10)
                gaps.append(max(np.max(np.abs(bigger_eps[k] - right[k])) for k in right))
        assert max(gaps) > 1e-2, name
        assert any(len(case.args) == (4 if name == "rmsprop_update" else 6) for case in cases), name


def test_batchnorm_cases_reveal_eps_placement_and_the_unbiased_variance():
    """Does batchnorm_forward's case set hold a nearly constant feature (var ~ 1e-6 < eps) and m=2, where the
    mistakes differ most?"""
    for hidden in (False, True):
        cases = get_exercise("batchnorm_forward").draw_cases(11, hidden=hidden)
        variances = [batchnorm_forward(*case.args)[1][3] for case in cases]
        assert min(float(v.min()) for v in variances) < 1e-5
        assert any(case.args[0].shape[0] == 2 for case in cases)


def test_torch_batchnorm_oracle_reports_the_batch_statistics():
    """Does the BatchNorm1d oracle (momentum=1.0) give the batch mean and biased variance the reference uses?"""
    rng = np.random.default_rng(0)
    X = rng.normal(1.0, 2.0, (7, 3))
    gamma, beta = rng.uniform(0.5, 2, (1, 3)), rng.normal(size=(1, 3))
    out, (_, _, mu, var, _, _, _) = batchnorm_forward(X, gamma, beta, 1e-3)
    found = _torch_batchnorm(X, gamma, beta, 1e-3, dout=rng.normal(size=(7, 3)))
    assert np.allclose(found["out"], out) and np.allclose(found["mu"], mu) and np.allclose(found["var"], var)
    assert found["dX"].shape == (7, 3) and found["dgamma"].shape == found["dbeta"].shape == (1, 3)


def test_every_case_is_replayable_and_the_oracles_agree_on_many_seeds():
    """Do the references of all five exercises agree with torch (and finite differences) on 20 hidden seeds each?"""
    for name in CATALOG.ANSWERS:
        exercise = get_exercise(name)
        for seed in range(20):
            for case in exercise.draw_cases(seed, hidden=True):
                exercise._checked_reference(case)   # raises OracleDisagreement otherwise


@pytest.mark.parametrize("hidden", [False, True])
def test_batchnorm_eval_cases_tell_the_running_average_slips_apart(hidden):
    """In batchnorm_eval's cases, does each slip (momentum reversed, biased running variance, batch statistics at
    inference) move the result far beyond the tolerance, with momentum never 0.5 (where the two conventions meet),
    a single example to evaluate and a smallest batch of m <= 4 among them?"""
    cases = get_exercise("batchnorm_eval").draw_cases(5, hidden=hidden)
    assert any(case.args[1].shape[0] == 1 for case in cases)
    assert any(min(len(batch) for batch in case.args[0]) <= 4 for case in cases)
    for case in cases:
        batches, X = case.args[:2]
        momentum = case.args[4] if len(case.args) > 4 else 0.1
        assert momentum != 0.5
        mean, var, out = batchnorm_eval(*case.args)
        reversed_mean, _ = _running(batches, X.shape[1], momentum, reversed_momentum=True)
        _, biased_var = _running(batches, X.shape[1], momentum, biased=True)
        assert np.max(np.abs(reversed_mean - mean)) > 1e-2 and np.max(np.abs(biased_var - var)) > 1e-3
        assert np.max(np.abs(batchnorm_forward(X, *case.args[2:4])[0] - out)) > 1e-2


def test_batchnorm_eval_oracle_is_a_fresh_layer_trained_then_evaluated():
    """Does the nn.BatchNorm1d oracle give PyTorch's running averages (momentum on the new batch, unbiased variance)
    and eval() output, equal to the library's batchnorm_eval?"""
    rng = np.random.default_rng(4)
    batches = [rng.normal(1.0, 2.0, (m, 3)) for m in (2, 5, 3)]
    X, gamma, beta = rng.normal(size=(4, 3)), rng.uniform(0.5, 2, (1, 3)), rng.normal(size=(1, 3))
    found = _torch_batchnorm_eval(batches, X, gamma, beta, 0.2, 1e-4)
    ours = dict(zip(("running_mean", "running_var", "out"), batchnorm_eval(batches, X, gamma, beta, 0.2, 1e-4)))
    assert all(np.allclose(found[key], ours[key], rtol=1e-12, atol=1e-12) for key in ours)
    one = batchnorm_eval(batches[:1], X, gamma, beta, 0.2)
    assert np.allclose(one[0], 0.2 * batches[0].mean(axis=0, keepdims=True))
    assert np.allclose(one[1], 0.8 + 0.2 * batches[0].var(axis=0, ddof=1, keepdims=True))


def test_batchnorm_eval_hint_ladder_covers_its_diagnoses_and_its_nudges_hold_no_formula():
    """Does batchnorm_eval's ladder have a rung for each diagnosis its mistakes name (and "*"), each a Hint whose
    nudge (rung 1) states no formula, and whose formula rung names the convention?"""
    exercise = get_exercise("batchnorm_eval")
    case = exercise.draw_cases(1, hidden=False)[0]
    named = {diagnosis for diagnosis, *_ in exercise.mistakes(case)} - {"wrong-values"}
    assert named | {"*"} <= set(exercise.hints)
    for diagnosis, hint in exercise.hints.items():
        assert isinstance(hint, Hint) and hint.nudge and hint.step and hint.formula, diagnosis
        assert not re.search(r"<-|=|sqrt|\(1 - |\+ beta|\bmomentum \*", hint.nudge), (diagnosis, hint.nudge)
    assert "(1 - momentum) running_mean + momentum mu_B" in exercise.hints["running-momentum-reversed"].formula
