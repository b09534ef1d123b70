"""Lecture 07-multiclass checks: the catalog's coverage, the messages of the brief's typical mistakes,
the cases the judging relies on, and the diagnoses this lecture adds."""
from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

from backproplab.activations import softmax, softmax_backward
from backproplab.checks import DIAGNOSES, get_exercise, lecture07
from backproplab.checks.lecture07 import _draw_training, autograd_training, numpy_training
from catalog_helpers import REPO, catalog, first_failure

LECTURE = "07-multiclass"
CATALOG = catalog(LECTURE)
NEW_DIAGNOSES = ("jacobian-diagonal", "missing-zero-grad", "double-softmax")


def old_torch_training(X, Y, params, learning_rate, epochs, batch_size):
    """The former second oracle (kept here only, never in the library a student can read): the same training by
    torch float64 autograd, leaf tensors updated in place, one F.cross_entropy per batch."""
    import torch

    leaves = {key: torch.tensor(np.asarray(value, dtype=float), dtype=torch.float64, requires_grad=True)
              for key, value in params.items()}
    X_t, labels = torch.tensor(X, dtype=torch.float64), torch.tensor(np.argmax(Y, axis=1))
    losses = []
    for _ in range(epochs):
        for start in range(0, X.shape[0], batch_size):
            batch = slice(start, start + batch_size)
            A1 = torch.relu(X_t[batch] @ leaves["W1"].T + leaves["B1"])
            scores = A1 @ leaves["W2"].T + leaves["B2"]
            loss = torch.nn.functional.cross_entropy(scores, labels[batch])
            grads = torch.autograd.grad(loss, list(leaves.values()))
            with torch.no_grad():
                for leaf, grad in zip(leaves.values(), grads):
                    leaf -= learning_rate * grad
            losses.append(float(loss.detach()))
    return {key: leaf.detach().numpy().copy() for key, leaf in leaves.items()}, np.array(losses)


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
    ("softmax_backward", "diagonal-only", ("diagonal", "another score of the same row")),
    ("softmax_backward", "sum-over-examples", ("examples of a column", "units of its row")),
    ("softmax_backward", "inner-product-in-a-loop", ("inner product", "(n, n) matrix")),
    ("softmax_backward", "unstable-softmax", ("infinite", "shift of a row's scores")),
    ("softmax_cross_entropy", "mean-over-all-entries", ("average over all m × n entries",)),
    ("softmax_cross_entropy", "binary-cross-entropy-formula", ("binary cross-entropy",)),
    ("torch_train", "no-zero-grad", ("total of all gradients", "already stored")),
    ("torch_train", "softmax-layer-before-the-loss", ("softmax layer", "nn.CrossEntropyLoss expect")),
    ("torch_train", "summed-loss", ("summed loss", "batch_size times")),
    ("torch_train", "step-before-backward", ("initial weights",)),
    ("torch_train", "losses-kept-as-tensors", ("Python floats",)),
])
def test_messages_explain_the_mistake(exercise, name, words):
    """Does each typical mistake's message say in words what went wrong, and its nudge what to look at?"""
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
        oracle, torch_losses = autograd_training(*case.args)
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


@pytest.mark.parametrize("seed", range(12))
def test_numpy_reference_agrees_with_the_old_torch_training_at_float32_precision(seed):
    """Does the new reference (the library's NumPy minibatch descent) give the weights and losses the former torch
    reference gave, on many random problems (sizes, batch sizes, rates, epochs), within the float32 tolerance the
    judge uses, and does the judge accept the old torch result as correct?"""
    rng = np.random.default_rng(1000 + seed)
    m = int(rng.integers(5, 30))
    sizes = tuple(int(v) for v in rng.integers(2, 9, 3))
    case = _draw_training(rng, m, sizes, int(rng.integers(1, m + 1)), int(rng.integers(1, 4)),
                          float(rng.uniform(0.1, 1.0)), "random")
    reference, losses = numpy_training(*case.args)
    old, old_losses = old_torch_training(*case.args)
    for key in reference:
        np.testing.assert_allclose(reference[key].astype(np.float32), old[key].astype(np.float32),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses.astype(np.float32), old_losses.astype(np.float32), rtol=1e-5, atol=1e-6)
    exercise = get_exercise("torch_train")
    found = exercise.split((old, list(old_losses)), case)
    verdict = exercise.judge_outputs(case, found, exercise.expected(case))
    assert verdict.passed, verdict.message


def test_lecture07_checks_hold_no_pytorch_training_loop():
    """Does checks/lecture07.py (which students can read) contain no torch import and none of the names a PyTorch
    answer to torch_train is made of, in its code (docstrings may name them)?"""
    tree = ast.parse(inspect.getsource(lecture07))
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names} | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] == "torch" for name in imports), imports
    for forbidden in ("torch", "nn", "optim", "SGD", "zero_grad", "backward", "step", "cross_entropy",
                      "CrossEntropyLoss", "Sequential", "DataLoader", "TensorDataset", "autograd", "no_grad"):
        assert forbidden not in names, forbidden
    assert not hasattr(lecture07, "torch_training")


def test_torch_train_forbids_the_library_gradients():
    """Is a loop over the library's torch gradients (the oracle's shortcut) a forbidden call in torch_train?"""
    assert "backproplab.torch_reference.torch_model_gradients" in get_exercise("torch_train").library_functions
