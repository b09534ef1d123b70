"""Tests for backproplab.gradcheck: central differences, relative errors, gradient_check."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab.gradcheck import (
    gradient_check,
    max_relative_error,
    model_cost_function,
    numerical_gradient,
    relative_error,
)
from backproplab.model import model_backward, model_forward
from strategies import arrays, cast, finite_floats, matrices, networks, shapes


def _torch_gradient(x):
    """Autograd gradient of f(x) = sum(sin(x) * x^2) in float64 (the oracle for _f)."""
    import torch

    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (torch.sin(t) * t ** 2).sum().backward()
    return t.grad.numpy()


def _f(x):
    return float(np.sum(np.sin(x) * x ** 2))


def test_numerical_gradient_worked_example():
    """For J = 2(ab + c) at a=3, b=2, c=5, is J = 22 and the gradient (4, 6, 2)?"""
    def J(v):
        a, b, c = v
        return 2 * (a * b + c)

    x = np.array([3.0, 2.0, 5.0])
    assert J(x) == 22
    np.testing.assert_allclose(numerical_gradient(J, x), [4.0, 6.0, 2.0], rtol=1e-9)


@given(x=st.sampled_from([(3,), (2, 3), (2, 1, 3), ()]).flatmap(lambda shape: arrays(shape, -3, 3)))
def test_numerical_gradient_matches_torch_for_any_shape(x):
    """For arrays of any shape (0-d to 3-d), do central differences match torch autograd to O(h^2)?"""
    grad = numerical_gradient(_f, x)
    assert grad.shape == x.shape
    np.testing.assert_allclose(grad, _torch_gradient(x), rtol=1e-7, atol=1e-8)


@given(x=matrices(-3, 3))
def test_numerical_gradient_leaves_x_bit_identical(x):
    """Is x exactly unchanged (bit for bit) after numerical_gradient returns?"""
    before = x.copy()
    numerical_gradient(_f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_restores_x_when_f_raises():
    """If f raises midway, does the exception propagate and x stay unchanged?"""
    x = np.array([[0.1, 0.2], [0.3, 0.4]])
    before = x.copy()
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(v.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_supports_closures_over_x():
    """Does a CS231n-style f that ignores its argument and reads x through a closure get the right gradient?"""
    x = np.array([1.0, -2.0, 0.5])
    grad = numerical_gradient(lambda _: _f(x), x)
    np.testing.assert_allclose(grad, _torch_gradient(x), rtol=1e-7, atol=1e-8)


def test_numerical_gradient_accepts_lists_and_integer_arrays():
    """Are lists and integer arrays turned into float copies (no truncated steps)?"""
    ints = np.array([1, 2, 3])
    np.testing.assert_allclose(numerical_gradient(_f, ints), _torch_gradient(ints.astype(float)), rtol=1e-7)
    np.testing.assert_allclose(numerical_gradient(_f, [1, 2, 3]), _torch_gradient(ints.astype(float)), rtol=1e-7)
    np.testing.assert_array_equal(ints, [1, 2, 3])


@given(a=matrices(-5, 5), scale=finite_floats(0.1, 10.0))
def test_relative_error_definition_and_invariances(a, scale):
    """Is relative_error 0 for equal arrays, symmetric, scale-invariant, 1 against zeros or -a, and 1/3 against 2a?"""
    b = a + 0.5
    norm = np.linalg.norm
    assert relative_error(a, a) == 0.0
    assert relative_error(a, b) == pytest.approx(norm(a - b) / (norm(a) + norm(b)), rel=1e-12)
    assert relative_error(a, b) == pytest.approx(relative_error(b, a), rel=1e-12)
    assert relative_error(scale * a, scale * b) == pytest.approx(relative_error(a, b), rel=1e-9)
    if norm(a) > 1e-6:
        assert relative_error(a, np.zeros_like(a)) == pytest.approx(1.0)
        assert relative_error(a, -a) == pytest.approx(1.0)
        assert relative_error(a, 2 * a) == pytest.approx(1 / 3)


def test_relative_error_of_two_zero_arrays_uses_the_floor():
    """Are two all-zero gradients at relative error 0 (the floor avoids 0/0)?"""
    assert relative_error(np.zeros((2, 3)), np.zeros((2, 3))) == 0.0


@pytest.mark.parametrize("measure", [relative_error, max_relative_error])
def test_relative_errors_reject_different_shapes(measure):
    """Does comparing a (2, 3) with a (3, 2) array raise ValueError instead of broadcasting?"""
    with pytest.raises(ValueError, match="shape"):
        measure(np.ones((2, 3)), np.ones((3, 2)))


def test_max_relative_error_is_not_diluted_by_many_good_entries():
    """Does one wrong entry among 10,000 give max_relative_error 1/3 while relative_error stays small?"""
    a = np.ones((100, 100))
    b = a.copy()
    b[7, 7] = 2.0
    assert max_relative_error(a, b) == pytest.approx(1 / 3)
    assert relative_error(a, b) < 0.01


@given(a=matrices(-5, 5))
def test_max_relative_error_entrywise_definition(a):
    """Is max_relative_error the max over entries of |a-b| / max(floor, |a|+|b|), 0 for equal arrays?"""
    b = a * 1.5 - 0.25
    entrywise = [abs(x - y) / max(1e-8, abs(x) + abs(y)) for x, y in zip(a.ravel(), b.ravel())]
    assert max_relative_error(a, b) == pytest.approx(max(entrywise), rel=1e-12)
    assert max_relative_error(a, a) == 0.0


def test_max_relative_error_of_empty_arrays_is_zero():
    """Do two empty arrays compare at 0.0 instead of failing on max of nothing?"""
    assert max_relative_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def _quadratic_cost(params):
    return float(np.sum(params["W1"] ** 2 * 1.5) + np.sum(np.sin(params["B1"])))


@given(shape=shapes())
def test_gradient_check_accepts_right_and_flags_wrong_gradients(shape):
    """Are correct gradients under 1e-7, doubled ones at 1/3, and params (same arrays, same values) unchanged?"""
    rng = np.random.default_rng(sum(shape))
    params = {"W1": rng.normal(size=shape), "B1": rng.normal(size=(1, shape[0]))}
    snapshot = {key: value.copy() for key, value in params.items()}
    arrays_before = dict(params)
    right = {"dW1": 3.0 * params["W1"], "dB1": np.cos(params["B1"])}
    errors = gradient_check(_quadratic_cost, params, right)
    assert set(errors) == {"W1", "B1"} and max(errors.values()) < 1e-7
    doubled = {key: 2 * value for key, value in right.items()}
    assert gradient_check(_quadratic_cost, params, doubled)["W1"] == pytest.approx(1 / 3, rel=1e-6)
    for key in params:
        assert params[key] is arrays_before[key]
        np.testing.assert_array_equal(params[key], snapshot[key])


@given(x=matrices(-3, 3))
def test_numerical_gradient_keeps_the_float_dtype(x):
    """Is the gradient of a float32 x float32 (close to autograd's, at float32's coarser
    differences), of a float64 x float64, and of an integer x float64?"""
    x32 = x.astype(np.float32)
    grad32 = numerical_gradient(_f, x32, h=1e-2)
    assert grad32.dtype == np.float32
    assert numerical_gradient(_f, x).dtype == np.float64
    assert numerical_gradient(_f, np.round(x).astype(int)).dtype == np.float64
    # h = 1e-2: truncation h^2 |f'''| / 6 ~ 1e-3, rounding 6e-8 |f| / h ~ 1e-4 (|f| <= 27 per entry).
    np.testing.assert_allclose(grad32, _torch_gradient(x32.astype(np.float64)), rtol=1e-2, atol=1e-2)


@given(net=networks(max_layers=2, hidden=("sigmoid", "tanh")))
def test_gradient_check_of_a_float32_network(net):
    """For a float32 network, does gradient_check (differences taken in float64 at the float32
    parameters) accept the float32 backprop gradients, leaving the float32 params as they were?"""
    net32 = cast(net, np.float32)
    AL, caches = model_forward(net32.X, net32.params, net32.activations)
    grads = model_backward(AL, net32.Y, caches, net32.activations)
    snapshot = {key: value.copy() for key, value in net32.params.items()}
    errors = gradient_check(model_cost_function(net32.X, net32.Y, net32.activations), net32.params, grads)
    # float32 gradients carry relative errors of order 1e-6; a wrong gradient is at 1e-1 or more.
    assert max(errors.values()) < 1e-3, errors
    for key, value in net32.params.items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, snapshot[key])


def test_docstrings_say_what_is_computed_not_the_graded_formulas():
    """Does no docstring of backproplab.gradcheck write out the central difference (lecture 02's numerical_gradient)
    or the relative error's formula (lecture 04's gradient_check), while each still says what it returns?"""
    import inspect

    import backproplab.gradcheck as gradcheck

    formulas = ("f(x+h", "f(x-h", "/(2h)", "/(2*h)", "/(2.0*h)", "||a-b||", "|a-b|/", "norm(a-b)",
                "max(floor,")
    docs = {"module": gradcheck.__doc__}
    docs.update({name: inspect.getdoc(getattr(gradcheck, name)) for name in gradcheck.__all__})
    for name, doc in docs.items():
        squeezed = "".join(doc.split())
        assert [f for f in formulas if f in squeezed] == [], (name, doc)
    for name in ("numerical_gradient", "relative_error", "max_relative_error"):
        assert "->" in docs[name] and "shape" in docs[name], name
