"""Checks of lecture 02-computation-graphs against the answer catalog, and the checks' oracles.

Every catalog source is exec'd with the lecture's SETUP (as outside verification does) and
checked in-process: correct answers must pass the visible and the hidden set, each wrong
variant must get its expected diagnosis. Sandbox-only variants are the grader's business.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab import graph
from backproplab.checks import Case, Outcome, get_exercise
from backproplab.checks.codec import materialize
from backproplab.gradcheck import numerical_gradient as reference_numerical_gradient
from catalog_helpers import catalog
from strategies import seeds

SAMPLES = catalog("02-computation-graphs")
EXERCISES = ("numerical_gradient", "matmul_backward", "mul_backward", "exp_backward", "sigmoid_backward_rule")
HIDDEN_SEEDS = (0, 7)


def _define(exercise, source):
    """Exec SETUP and one answer source; return the function it defines."""
    namespace = {}
    exec(SAMPLES.SETUP, namespace)
    exec(source, namespace)
    return namespace[exercise]


def test_catalog_covers_every_exercise_with_a_correct_answer_and_named_mistakes():
    """Does the catalog give a correct answer and at least two diagnosed wrong variants per exercise?"""
    assert set(SAMPLES.ANSWERS) == set(EXERCISES)
    for exercise in EXERCISES:
        wrong = [v for v in SAMPLES.VARIANTS if v.exercise == exercise and v.expected_diagnosis]
        assert len(wrong) >= 2, exercise
        assert get_exercise(exercise).lecture == "02-computation-graphs"


@given(seed=seeds(), hidden=st.booleans())
def test_oracles_agree_on_every_drawn_case(seed, hidden):
    """Do the NumPy reference, torch float64 and finite differences agree on every case any seed draws?"""
    for exercise in EXERCISES:
        ex = get_exercise(exercise)
        for case in ex.draw_cases(seed, hidden):
            ex.expected(case)  # raises OracleDisagreement otherwise


@given(seed=seeds())
def test_numerical_gradient_cases_separate_central_from_one_sided_differences(seed):
    """Does every numerical_gradient case make a forward difference fail the tolerance a central one meets?"""
    ex = get_exercise("numerical_gradient")
    forward = _define("numerical_gradient", next(v.source for v in SAMPLES.VARIANTS if v.name == "forward difference"))
    for case in ex.draw_cases(seed, hidden=True):
        f, x = materialize(case.args)
        expected = ex.expected(case)["grad"]
        one_sided = forward(f, x, case.kwargs["h"])
        assert np.linalg.norm(one_sided - expected) / np.linalg.norm(expected) > 1e-6


def test_numerical_gradient_fixture_is_reachable_through_its_token():
    """Does the FnToken of a case build, on the callee's side, the same f the judge uses?"""
    ex = get_exercise("numerical_gradient")
    case = ex.draw_cases(3, hidden=False)[0]
    f, x = materialize(case.args)
    fixture = ex._f(case)
    assert f(x) == fixture(x)


@pytest.mark.parametrize("exercise", ("mul_backward", "exp_backward", "sigmoid_backward_rule"))
def test_rule_cases_are_the_engines_own_calls_with_nontrivial_upstream(exercise):
    """Are the rule cases recorded from real engine runs, with at least one upstream gradient that is not all ones?"""
    for hidden in (False, True):
        cases = get_exercise(exercise).draw_cases(11, hidden)
        assert cases and all("out" in case.kwargs for case in cases)
        assert any(not np.allclose(case.args[0], 1.0) for case in cases)


RULES = {"mul": "mul_backward", "exp": "exp_backward", "sigmoid": "sigmoid_backward_rule"}


@given(seed=seeds())
def test_correct_rules_plugged_into_the_engine_match_torch_and_finite_differences(seed):
    """With the catalog's rules swapped into the engine, do random expressions' gradients match torch and finite differences?"""
    import torch

    rng = np.random.default_rng(seed)
    m, n = rng.integers(1, 4, size=2)
    xv, yv, wv = rng.normal(size=(m, n)), rng.normal(size=(m, n)), rng.normal(size=(m, n))
    rules = {op: _define(name, SAMPLES.ANSWERS[name]) for op, name in RULES.items()}
    with graph.use_backward_rules(rules):
        x, y = graph.Var(xv, "x"), graph.Var(yv, "y")
        # x is used three times: the paths must add up.
        graph.sum(wv * graph.sigmoid(x * y) * graph.exp(x) + x * x).backward()
    tx = torch.tensor(xv, requires_grad=True)
    ty = torch.tensor(yv, requires_grad=True)
    (torch.tensor(wv) * torch.sigmoid(tx * ty) * torch.exp(tx) + tx * tx).sum().backward()
    assert np.allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert np.allclose(y.grad, ty.grad.numpy(), rtol=1e-10, atol=1e-12)

    def J(v):
        return float(np.sum(wv / (1 + np.exp(-v * yv)) * np.exp(v) + v * v))

    assert np.allclose(x.grad, reference_numerical_gradient(J, xv.copy()), rtol=1e-6, atol=1e-7)


def test_rules_accept_a_gradient_of_the_broadcast_shape_like_the_engine():
    """Is a rule that returns grad_b of the output's (m, n) shape for a (1, n) input judged as the engine would (summed back)?"""
    ex = get_exercise("mul_backward")
    hidden_cases = ex.draw_cases(HIDDEN_SEEDS[0], hidden=True)
    broadcast = [c for c in hidden_cases if c.args[1].shape != c.args[2].shape]
    assert broadcast, "the hidden set should contain a broadcast (1, n) operand"
    case = broadcast[0]
    upstream, a, b = case.args
    for value in ((upstream * b, upstream * a),
                  (upstream * b, (upstream * a).sum(axis=0, keepdims=True))):
        verdict = ex.judge(case, Outcome("returned", value=value), ex.expected(case))
        assert verdict.passed, verdict.message


def test_matmul_swapped_outputs_is_named_even_though_shapes_differ():
    """Is (dB, dA) reported as swapped-outputs rather than as a shape error?"""
    ex = get_exercise("matmul_backward")
    s, A, B = np.ones((3, 2)), np.arange(12.0).reshape(3, 4), np.arange(8.0).reshape(4, 2)
    case = Case((s, A, B))
    verdict = ex.judge(case, Outcome("returned", value=(A.T @ s, s @ B.T)), ex.expected(case))
    assert (verdict.passed, verdict.diagnosis) == (False, "swapped-outputs")
