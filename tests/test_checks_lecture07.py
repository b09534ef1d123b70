"""Lecture 07-multiclass checks: the catalog's coverage, the messages of the brief's typical mistakes,
the cases the judging relies on, and the diagnoses this lecture adds."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab.activations import softmax, softmax_backward
from backproplab.checks import DIAGNOSES, get_exercise
from backproplab.checks.lecture07 import numpy_training, torch_training
from catalog_helpers import REPO, catalog, first_failure

LECTURE = "07-multiclass"
CATALOG = catalog(LECTURE)
NEW_DIAGNOSES = ("jacobian-diagonal", "missing-zero-grad", "double-softmax")


def _variant(exercise, name):
    return next(v for v in CATALOG.VARIANTS if v.exercise == exercise and v.name == name)


def test_catalog_has_two_correct_and_five_wrong_answers_per_exercise_and_the_briefs_mistakes():
    """Does every exercise have >= 2 correct rewrites and >= 5 wrong answers, covering the brief's mistakes?"""
    for exercise in CATALOG.ANSWERS:
        variants = [v for v in CATALOG.VARIANTS if v.exercise == exercise]
        assert sum(v.expected_diagnosis is None for v in variants) >= 2, exercise
        assert sum(v.expected_diagnosis is not None for v in variants) >= 5, exercise
    wrong = {(v.exercise, v.expected_diagnosis) for v in CATALOG.VARIANTS if v.expected_diagnosis}
    for needed in [("softmax_backward", "jacobian-diagonal"), ("softmax_backward", "crash"),
                   ("softmax_backward", "softmax-axis"), ("softmax_backward", "softmax-overflow"),
                   ("softmax_cross_entropy", "missing-mean"), ("softmax_cross_entropy", "wrong-values"),
                   ("softmax_cross_entropy", "sign-flipped"), ("softmax_cross_entropy", "non-finite"),
                   ("softmax_cross_entropy", "not-an-array"), ("torch_train", "missing-zero-grad"),
                   ("torch_train", "double-softmax"), ("torch_train", "missing-mean")]:
        assert needed in wrong, needed


def test_new_diagnoses_are_registered_and_documented():
    """Are the ids this lecture adds in the registry and in DESIGN.md?"""
    design = (REPO / "docs" / "DESIGN.md").read_text()
    for diagnosis in NEW_DIAGNOSES:
        assert diagnosis in DIAGNOSES and f"`{diagnosis}`" in design


@pytest.mark.parametrize("exercise, name, words", [
    ("softmax_backward", "diagonal-only", ("diagonal", "-a_k a_j", "keepdims=True")),
    ("softmax_backward", "sum-over-examples", ("axis=0", "axis=1")),
    ("softmax_backward", "inner-product-in-a-loop", ("np.outer",)),
    ("softmax_backward", "unstable-softmax", ("overflow", "maximum")),
    ("softmax_cross_entropy", "mean-over-all-entries", ("np.mean", "divide by m only")),
    ("softmax_cross_entropy", "binary-cross-entropy-formula", ("(1 - y) log(1 - a)",)),
    ("torch_train", "no-zero-grad", ("zero_grad()", "ADDS")),
    ("torch_train", "softmax-layer-before-the-loss", ("raw scores",)),
    ("torch_train", "summed-loss", ("reduction='sum'",)),
    ("torch_train", "step-before-backward", ("initial weights",)),
    ("torch_train", "losses-kept-as-tensors", ("loss.item()",)),
])
def test_messages_explain_the_mistake(exercise, name, words):
    """Does each typical mistake's message say in words what went wrong?"""
    result = first_failure(LECTURE, _variant(exercise, name))
    assert result is not None
    for word in words:
        assert word in result.message, (word, result.message)


def test_softmax_backward_cases_include_edges_and_large_scores():
    """Do softmax_backward's hidden cases include m=1, n=2 and |z| ~ 1000 rows whose Jacobian is not all zero?"""
    cases = get_exercise("softmax_backward").draw_cases(5, hidden=True)
    shapes = [case.args[1].shape for case in cases]
    assert (1, 5) in shapes and any(n == 2 for _, n in shapes)
    large = [case for case in cases if case.info["large"]]
    assert large and np.max(np.abs(large[0].args[1])) >= 999
    assert np.max(np.abs(softmax_backward(*large[0].args))) > 1e-3


def test_cross_entropy_saturated_case_has_exact_zeros_and_ones_where_labels_agree():
    """Does the saturated case hold exact 0s (off the label) and 1s (on it), so an unclamped log gives NaN?"""
    case = get_exercise("softmax_cross_entropy").draw_cases(0, hidden=False)[2]
    AL, Y = case.args
    assert np.any(AL == 0.0) and np.all(AL[Y == 1.0][AL[Y == 1.0] == 0.0].size == 0)
    with np.errstate(all="ignore"):
        assert not np.isfinite(-np.sum(Y * np.log(AL)))


def test_torch_train_oracles_and_mistakes_are_far_apart():
    """Do NumPy and torch training agree to rounding, while each simulated mistake moves the weights far
    beyond the float32 tolerance?"""
    for case in get_exercise("torch_train").draw_cases(3, hidden=True):
        reference, losses = numpy_training(*case.args)
        oracle, torch_losses = torch_training(*case.args)
        assert all(np.allclose(reference[k], oracle[k], atol=1e-12) for k in reference)
        assert np.allclose(losses, torch_losses, atol=1e-12)
        assert len(losses) == case.args[4] * -(-case.args[0].shape[0] // case.args[5])
        for option in ("accumulate", "summed", "double_softmax"):
            if option == "summed" and case.args[5] == 1:
                continue  # a batch of one: its sum is its mean (the other hidden case reveals the mistake)
            wrong, _ = numpy_training(*case.args, **{option: True})
            gap = max(np.max(np.abs(wrong[k] - reference[k])) / np.max(np.abs(reference[k])) for k in reference)
            assert gap > 1e-2, option


def test_softmax_backward_reference_is_the_jacobian_product():
    """Is the library's batched product the per-example Jacobian (diag(a) - a a^T) times dA?"""
    rng = np.random.default_rng(0)
    Z, dA = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    explicit = np.stack([(np.diag(a) - np.outer(a, a)) @ g for a, g in zip(softmax(Z), dA)])
    assert np.allclose(softmax_backward(dA, Z), explicit)
