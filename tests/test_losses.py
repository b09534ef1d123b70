"""Tests for backproplab.losses: the mean costs and their per-example gradients (no 1/m).

Oracles: PyTorch float64 autograd (torch.nn.functional's BCE and MSE where they exist) and
central finite differences; a per-example gradient is m times the gradient of the mean cost.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backproplab.activations import identity_backward, sigmoid, sigmoid_backward, softmax, softmax_backward
from backproplab.gradcheck import numerical_gradient
from backproplab.losses import (
    LOSS_FOR_OUTPUT,
    binary_cross_entropy,
    binary_cross_entropy_gradient,
    categorical_cross_entropy,
    categorical_cross_entropy_gradient,
    loss_for_output,
    mae,
    mae_gradient,
    mse,
    mse_gradient,
    multiclass_hinge,
    multiclass_hinge_gradient,
)
from backproplab.torch_reference import torch_loss, torch_loss_gradient
from strategies import arrays, binary_labels, cast, dims, one_hot, probabilities, shapes

TORCH_RTOL, TORCH_ATOL = 1e-10, 1e-12
FD_RTOL, FD_ATOL = 1e-6, 1e-7
# float32 against float64 on the same numbers: gradients up to 1/0.01 = 100 and costs of a few
# roundings each (6e-8 relative); a dtype bug or a wrong formula is far off.
F32_RTOL, F32_ATOL = 1e-5, 1e-6

LOSSES = {
    "mse": (mse, mse_gradient),
    "binary_cross_entropy": (binary_cross_entropy, binary_cross_entropy_gradient),
    "categorical_cross_entropy": (categorical_cross_entropy, categorical_cross_entropy_gradient),
    "multiclass_hinge": (multiclass_hinge, multiclass_hinge_gradient),
}


@st.composite
def loss_cases(draw, name):
    """(AL, Y) suited to loss ``name``: probabilities for the cross-entropies, scores otherwise."""
    m, n = draw(shapes(min_n=2 if name in ("categorical_cross_entropy", "multiclass_hinge") else 1))
    if name == "mse":
        return draw(arrays((m, n), -5, 5)), draw(arrays((m, n), -5, 5))
    if name == "binary_cross_entropy":
        return draw(probabilities((m, n))), draw(binary_labels((m, n)))
    if name == "categorical_cross_entropy":
        return draw(probabilities((m, n))), draw(one_hot(m, n))
    S, Y = draw(arrays((m, n), -3, 3)), draw(one_hot(m, n))
    # Keep every margin s_j - s_y + 1 away from the hinge's kink at 0.
    assume(np.min(np.abs(S - np.sum(S * Y, axis=1, keepdims=True) + 1.0)) > 1e-3)
    return S, Y


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(data=st.data())
def test_loss_value_matches_torch(name, data):
    """Does each cost equal torch's mean cost, as a Python float?"""
    AL, Y = data.draw(loss_cases(name))
    J = LOSSES[name][0](AL, Y)
    assert isinstance(J, float)
    np.testing.assert_allclose(J, torch_loss(name, AL, Y), rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(data=st.data())
def test_loss_gradient_matches_torch_per_example(name, data):
    """Is each loss gradient m times torch's gradient of the mean cost (no 1/m)?"""
    AL, Y = data.draw(loss_cases(name))
    np.testing.assert_allclose(LOSSES[name][1](AL, Y), torch_loss_gradient(name, AL, Y),
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(data=st.data())
def test_loss_gradient_matches_finite_differences(name, data):
    """Is each loss gradient m times the central-difference gradient of the cost?"""
    AL, Y = data.draw(loss_cases(name))
    cost, gradient = LOSSES[name]
    expected = AL.shape[0] * numerical_gradient(lambda A: cost(A, Y), AL.copy())
    np.testing.assert_allclose(gradient(AL, Y), expected, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("output,backward", [
    ("sigmoid", sigmoid_backward), ("softmax", softmax_backward), ("identity", identity_backward)])
@given(data=st.data())
def test_output_pairing_gives_dz_equal_AL_minus_Y(output, backward, data):
    """For sigmoid+BCE, softmax+CE and identity+MSE, is dz[L] = g'-chained loss gradient = AL - Y?"""
    m, n = data.draw(shapes(min_n=2))
    Z = data.draw(arrays((m, n), -4, 4))
    AL = {"sigmoid": sigmoid, "softmax": softmax, "identity": np.array}[output](Z)
    Y = data.draw({"sigmoid": binary_labels((m, n)), "softmax": one_hot(m, n),
                   "identity": arrays((m, n), -3, 3)}[output])
    _, gradient = loss_for_output(output)
    np.testing.assert_allclose(backward(gradient(AL, Y), Z), AL - Y, rtol=1e-8, atol=1e-10)


def test_loss_for_output_pairs_each_output_with_its_loss():
    """Is sigmoid paired with BCE, softmax with CE and identity with MSE?"""
    assert loss_for_output("sigmoid") == (binary_cross_entropy, binary_cross_entropy_gradient)
    assert loss_for_output("softmax") == (categorical_cross_entropy, categorical_cross_entropy_gradient)
    assert loss_for_output("identity") == (mse, mse_gradient)
    assert set(LOSS_FOR_OUTPUT) == {"sigmoid", "softmax", "identity"}


def test_loss_for_output_rejects_hidden_activations():
    """Does an output activation without a paired loss (relu) raise ValueError?"""
    with pytest.raises(ValueError, match="relu"):
        loss_for_output("relu")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_rejects_mismatched_shapes(name):
    """Do costs and gradients refuse AL and Y of different shapes (e.g. Y transposed)?"""
    cost, gradient = LOSSES[name]
    AL, Y = np.full((3, 2), 0.5), np.zeros((2, 3))
    for fn in (cost, gradient):
        with pytest.raises(ValueError, match="shape"):
            fn(AL, Y)


@given(m=dims(), n=dims())
def test_mse_has_the_half_factor(m, n):
    """Is MSE (1/(2m)) sum ||a - y||^2, i.e. half torch's summed squared error over m?"""
    rng = np.random.default_rng(m * 10 + n)
    AL, Y = rng.normal(size=(m, n)), rng.normal(size=(m, n))
    np.testing.assert_allclose(mse(AL, Y), np.sum((AL - Y) ** 2) / 2 / m, rtol=1e-12)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "categorical_cross_entropy"])
def test_cross_entropy_saturated_outputs_are_finite_without_warnings(name):
    """With outputs exactly 0 and 1 (right and wrong), are costs and gradients finite, warning-free and torch's?"""
    AL = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    cost, gradient = LOSSES[name]
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        J = cost(AL, Y)
        dA = gradient(AL, Y)
    assert np.isfinite(J) and np.all(np.isfinite(dA))
    # Both clamp log at -100, as torch.nn.BCELoss does.
    np.testing.assert_allclose(J, torch_loss(name, AL, Y), rtol=1e-12)


def test_multiclass_hinge_counts_each_violated_margin():
    """Does each violated margin add +1 to s_j and -1 to the correct score, and 0 when all are met?"""
    Y = np.array([[1.0, 0.0, 0.0]])
    met = np.array([[5.0, 1.0, 2.0]])
    violated = np.array([[0.0, 0.5, -2.0]])  # class 1 violates (0.5 - 0 + 1 > 0), class 2 does not
    assert multiclass_hinge(met, Y) == 0.0
    np.testing.assert_array_equal(multiclass_hinge_gradient(met, Y), np.zeros((1, 3)))
    np.testing.assert_array_equal(multiclass_hinge_gradient(violated, Y), [[-1.0, 1.0, 0.0]])
    assert multiclass_hinge(violated, Y) == pytest.approx(violated[0, 1] - violated[0, 0] + 1.0)


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(data=st.data())
def test_losses_keep_the_float_dtype(name, data):
    """Is each loss gradient float32 for float32 AL and Y, close to float64's on the same numbers, and
    float64 for float64; and is each cost a Python float close to the float64 cost?"""
    AL, Y = cast(data.draw(loss_cases(name)), np.float32)
    cost, gradient = LOSSES[name]
    got32, got64 = gradient(AL, Y), gradient(*cast((AL, Y), np.float64))
    assert got32.dtype == np.float32 and got64.dtype == np.float64
    np.testing.assert_allclose(got32, got64, rtol=F32_RTOL, atol=F32_ATOL)
    J32, J64 = cost(AL, Y), cost(*cast((AL, Y), np.float64))
    assert type(J32) is float and type(J64) is float
    assert J32 == pytest.approx(J64, rel=F32_RTOL, abs=F32_ATOL)


def test_hinge_margin_as_numpy_scalar_keeps_float32():
    """Does a margin given as np.float64 leave the float32 hinge gradient float32?"""
    S = np.array([[0.0, 0.5, -2.0]], dtype=np.float32)
    Y = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    got = multiclass_hinge_gradient(S, Y, margin=np.float64(1.0))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[-1.0, 1.0, 0.0]])


def test_binary_cross_entropy_gradient_saturated_float32_is_finite_without_warnings():
    """In float32, where 1 - 1e-12 rounds to 1, do outputs exactly 0 and 1 still give finite gradients,
    with no division by zero, equal to the clamped formula at float32's largest value below 1?"""
    AL = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    Y = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        dA = binary_cross_entropy_gradient(AL, Y)
    assert dA.dtype == np.float32 and np.all(np.isfinite(dA))
    below_one = np.nextafter(np.float32(1), np.float32(0))
    np.testing.assert_allclose(dA[1, 0], 1 / (1 - below_one), rtol=1e-6)  # y = 0, a = 1


def test_integer_labels_become_float64():
    """Do integer AL and Y (e.g. 0/1 labels as ints) give float64 gradients, as before?"""
    AL, Y = np.array([[1, 0], [0, 1]]), np.array([[1, 0], [1, 0]])
    assert mse_gradient(AL, Y).dtype == np.float64
    assert categorical_cross_entropy_gradient(AL, Y).dtype == np.float64


@given(data=st.data())
def test_mae_matches_torch_l1_loss_summed_over_units(data):
    """Is mae the mean over the m examples of the summed absolute errors (torch's l1_loss, reduction "sum", / m), and
    mae_gradient m times torch's gradient of that mean, i.e. sign(A - Y) per example?"""
    import torch

    m, n = data.draw(shapes())
    AL, Y = data.draw(arrays((m, n), -5, 5)), data.draw(arrays((m, n), -5, 5))
    assume(np.min(np.abs(AL - Y)) > 1e-6)  # away from the kink, where torch and sign() may differ
    AL_t = torch.tensor(AL, requires_grad=True)
    J = torch.nn.functional.l1_loss(AL_t, torch.tensor(Y), reduction="sum") / m
    J.backward()
    assert isinstance(mae(AL, Y), float)
    assert np.isclose(mae(AL, Y), float(J.detach()), rtol=TORCH_RTOL, atol=TORCH_ATOL)
    np.testing.assert_allclose(mae_gradient(AL, Y), m * AL_t.grad.numpy(), rtol=TORCH_RTOL, atol=TORCH_ATOL)


def test_mae_worked_numbers_and_the_outlier():
    """Does mae give the hand-computed numbers, and does one outlier move it linearly while MSE grows quadratically?"""
    AL, Y = np.array([[1.0], [2.0], [3.0]]), np.array([[1.5], [2.0], [1.0]])
    assert mae(AL, Y) == pytest.approx(2.5 / 3)
    np.testing.assert_array_equal(mae_gradient(AL, Y), [[-1.0], [0.0], [1.0]])
    outlier = Y.copy()
    outlier[2, 0] = -97.0  # an error of 100 instead of 2
    assert mae(AL, outlier) - mae(AL, Y) == pytest.approx(98 / 3)
    assert mse(AL, outlier) - mse(AL, Y) == pytest.approx((100**2 - 2**2) / 6)
    np.testing.assert_array_equal(mae_gradient(AL, outlier), mae_gradient(AL, Y))  # the pull does not grow


def test_mae_keeps_float32():
    AL, Y = np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)
    assert mae_gradient(AL, Y).dtype == np.float32 and isinstance(mae(AL, Y), float)
