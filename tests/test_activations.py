"""Tests for backproplab.activations: g, g' and the backward rules dz = backward(dA, Z).

Oracles: PyTorch float64 autograd (backproplab.torch_reference) and central finite
differences (backproplab.gradcheck). Finite differences are drawn away from the kink at 0.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab.activations import (
    ACTIVATIONS,
    elu,
    elu_derivative,
    get_activation,
    identity,
    leaky_relu,
    leaky_relu_derivative,
    relu_derivative,
    sigmoid,
    sigmoid_derivative,
    softmax,
)
from backproplab.gradcheck import numerical_gradient
from backproplab.torch_reference import torch_activation, torch_activation_backward
from strategies import arrays, cast, kink_free_arrays, shapes

# Torch and NumPy compute the same float64 formulas: they agree to rounding.
TORCH_RTOL, TORCH_ATOL = 1e-10, 1e-12
# Central differences with h = 1e-5 are accurate to about h^2 * |g'''| plus rounding 1e-16/h.
FD_RTOL, FD_ATOL = 1e-6, 1e-8
# float32 against float64 on the same (float32) inputs: a few roundings of 6e-8 each, on values
# and derivatives of size <= 3 here; a dtype bug (a float64 constant, a wrong formula) is far off.
F32_RTOL, F32_ATOL = 1e-5, 1e-6

ALL_NAMES = sorted(ACTIVATIONS)
ELEMENTWISE = sorted(name for name, act in ACTIVATIONS.items() if act.derivative is not None)
WITH_ALPHA = {"leaky_relu": 0.2, "elu": 0.7}


@st.composite
def backward_cases(draw):
    """(dA, Z) of one random non-square shape, with Z away from the kink at 0."""
    shape = draw(shapes())
    return draw(arrays(shape, -3, 3)), draw(kink_free_arrays(shape))


@pytest.mark.parametrize("name", ALL_NAMES)
@given(Z=shapes().flatmap(lambda shape: arrays(shape, -20, 20)))
def test_activation_forward_matches_torch(name, Z):
    """Does every activation's g(Z) equal torch's, with the input's shape?"""
    A = get_activation(name).forward(Z)
    assert A.shape == Z.shape
    np.testing.assert_allclose(A, torch_activation(name, Z), rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", ALL_NAMES)
@given(case=backward_cases())
def test_activation_backward_matches_torch_autograd(name, case):
    """Does every backward(dA, Z) equal torch's vector-Jacobian product?"""
    dA, Z = case
    dz = get_activation(name).backward(dA, Z)
    assert dz.shape == Z.shape
    np.testing.assert_allclose(dz, torch_activation_backward(name, dA, Z), rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", ALL_NAMES)
@given(case=backward_cases())
def test_activation_backward_matches_finite_differences(name, case):
    """Is backward(dA, Z) the gradient of sum(dA * g(Z)) by central differences?"""
    dA, Z = case
    forward = get_activation(name).forward
    expected = numerical_gradient(lambda Zp: float(np.sum(dA * forward(Zp))), Z.copy())
    np.testing.assert_allclose(get_activation(name).backward(dA, Z), expected, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(Z=shapes().flatmap(kink_free_arrays))
def test_activation_derivative_is_backward_of_ones(name, Z):
    """Is g'(Z) what backward returns for dA = 1, and does it match torch?"""
    act = get_activation(name)
    np.testing.assert_array_equal(act.derivative(Z), act.backward(np.ones_like(Z), Z))
    np.testing.assert_allclose(act.derivative(Z), torch_activation_backward(name, np.ones_like(Z), Z),
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", sorted(WITH_ALPHA))
@given(case=backward_cases())
def test_leaky_relu_and_elu_use_their_alpha(name, case):
    """With a non-default alpha, do leaky_relu/elu and their backward rules match torch's?"""
    dA, Z = case
    alpha = WITH_ALPHA[name]
    act = get_activation(name)
    np.testing.assert_allclose(act.forward(Z, alpha), torch_activation(name, Z, alpha=alpha),
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)
    np.testing.assert_allclose(act.backward(dA, Z, alpha), torch_activation_backward(name, dA, Z, alpha=alpha),
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_relu_backward_at_the_kink_follows_torch(name):
    """At z = 0 exactly, does relu/leaky_relu's backward take torch's one-sided value?"""
    Z = np.zeros((2, 3))
    dA = np.arange(1.0, 7.0).reshape(2, 3)
    np.testing.assert_array_equal(get_activation(name).backward(dA, Z), torch_activation_backward(name, dA, Z))


def test_relu_derivative_is_zero_or_one():
    """Is relu'(z) 1 for z > 0 and 0 for z <= 0?"""
    Z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu_derivative(Z), (Z > 0).astype(float))


def test_softmax_worked_example():
    """Does softmax([7, 5, 2, -1, 3]) give DESIGN.md's [0.8615, 0.1166, 0.0058, 0.0003, 0.0158]?"""
    np.testing.assert_array_equal(np.round(softmax(np.array([[7.0, 5, 2, -1, 3]])), 4),
                                  [[0.8615, 0.1166, 0.0058, 0.0003, 0.0158]])


def test_sigmoid_slope_worked_example():
    """Is sigmoid'(5) = 0.0066 and sigmoid'(0.1) = 0.249, about 40 times bigger (DESIGN.md)?"""
    slope_5, slope_01 = sigmoid_derivative(np.array([5.0, 0.1]))
    assert round(slope_5, 4) == 0.0066
    assert round(slope_01, 3) == 0.249
    assert round(slope_01 / slope_5, -1) == 40


@given(Z=shapes().flatmap(lambda shape: arrays(shape, -50, 50)), shift=st.floats(-100, 100))
def test_softmax_rows_are_distributions_invariant_to_shifts(Z, shift):
    """Does each softmax row sum to 1, and is softmax(Z + c) = softmax(Z)?"""
    S = softmax(Z)
    np.testing.assert_allclose(S.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(Z + shift), S, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_activation_extreme_inputs_are_finite_without_warnings(name):
    """With |z| = 1000, do g and its backward give finite values and raise no warning?"""
    Z = np.array([[1000.0, -1000.0, 0.5], [-1000.0, -1000.0, 1000.0]])
    act = get_activation(name)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        A = act.forward(Z)
        dz = act.backward(np.ones_like(Z), Z)
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(dz))
    np.testing.assert_allclose(A, torch_activation(name, Z), rtol=TORCH_RTOL, atol=TORCH_ATOL)


def test_sigmoid_saturates_to_exact_limits():
    """Does sigmoid(+-1000) give exactly 1 and 0, like the limits?"""
    np.testing.assert_array_equal(sigmoid(np.array([1000.0, -1000.0])), [1.0, 0.0])


def test_identity_returns_a_float_copy():
    """Does identity return a new float array, so callers cannot alias Z?"""
    Z = np.array([[1, 2]])
    A = identity(Z)
    assert A is not Z and A.dtype == float
    np.testing.assert_array_equal(A, Z)


def test_get_activation_unknown_name_lists_choices():
    """Does an unknown activation name raise ValueError naming the valid choices?"""
    with pytest.raises(ValueError, match="relu"):
        get_activation("swish")


def _functions(name):
    """(label, f(dA, Z)) for the forward, derivative and backward of activation ``name``."""
    act = get_activation(name)
    functions = [("forward", lambda dA, Z: act.forward(Z)), ("backward", act.backward)]
    if act.derivative is not None:
        functions.append(("derivative", lambda dA, Z: act.derivative(Z)))
    return functions


@pytest.mark.parametrize("name", ALL_NAMES)
@given(case=backward_cases())
def test_activations_keep_the_float_dtype(name, case):
    """Do g, g' and backward give float32 for float32 inputs, close to float64's on the same numbers,
    and float64 for float64 inputs?"""
    dA32, Z32 = cast(case, np.float32)
    for label, f in _functions(name):
        got32 = f(dA32, Z32)
        assert got32.dtype == np.float32, label
        got64 = f(*cast((dA32, Z32), np.float64))
        assert got64.dtype == np.float64, label
        np.testing.assert_allclose(got32, got64, rtol=F32_RTOL, atol=F32_ATOL, err_msg=label)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_activations_turn_integers_into_float64_and_promote_mixed_floats(name):
    """Do integer inputs give float64, and float32 dA with float64 Z (or the reverse) float64, as in NumPy?"""
    Z = np.array([[2, -1, 0], [-3, 1, 4]])
    dA = np.array([[1, 2, 3], [-1, -2, -3]])
    for label, f in _functions(name):
        assert f(dA, Z).dtype == np.float64, label
    act = get_activation(name)
    assert act.backward(dA.astype(np.float32), Z.astype(np.float64)).dtype == np.float64
    assert act.backward(dA.astype(np.float64), Z.astype(np.float32)).dtype == np.float64


@pytest.mark.parametrize("function", [leaky_relu, leaky_relu_derivative, elu, elu_derivative])
def test_numpy_scalar_alpha_keeps_float32(function):
    """Does an alpha given as np.float64 (not a Python float) leave float32 results float32?"""
    Z = np.array([[-2.0, 0.5], [1.0, -0.25]], dtype=np.float32)
    got = function(Z, np.float64(0.2))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, function(Z.astype(np.float64), 0.2), rtol=F32_RTOL)


@given(Z=shapes().flatmap(lambda shape: arrays(shape, -40, 40)))
def test_branch_free_forms_equal_the_branches(Z):
    """Are sigmoid, leaky ReLU and ELU (and their derivatives), computed without np.where, the
    piecewise formulas' values exactly (up to the sign of zero)?"""
    E = np.exp(-np.abs(Z))
    np.testing.assert_array_equal(sigmoid(Z), np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)))
    np.testing.assert_array_equal(leaky_relu(Z, 0.2), np.where(Z > 0, Z, 0.2 * Z))
    np.testing.assert_array_equal(leaky_relu_derivative(Z, 0.2), np.where(Z > 0, 1.0, 0.2))
    np.testing.assert_array_equal(elu(Z, 0.7), np.where(Z > 0, Z, 0.7 * np.expm1(np.minimum(Z, 0.0))))
    np.testing.assert_array_equal(elu_derivative(Z, 0.7), np.where(Z > 0, 1.0, 0.7 * np.exp(np.minimum(Z, 0.0))))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "elu"])
def test_zero_dimensional_inputs_still_work(name):
    """Does a 0-d input (the graph engine's scalars) give the same value as a 1-element array?"""
    act = get_activation(name)
    for z in (0.75, -1.5):
        assert float(act.forward(np.float64(z))) == act.forward(np.array([z]))[0]
        assert float(act.backward(2.0, np.array(z))) == act.backward(np.array([2.0]), np.array([z]))[0]
