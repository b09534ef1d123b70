"""Tests for backproplab.torch_reference, the PyTorch oracle, checked on its own terms.

The other test modules compare the NumPy library with this oracle; here the oracle is
checked against central finite differences of its *own* forward computations, so that a
bug in it cannot hide behind the same bug in the NumPy code.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backproplab.gradcheck import numerical_gradient
from backproplab.torch_reference import (
    torch_activation,
    torch_activation_backward,
    torch_dense_backward,
    torch_dropout_backward,
    torch_loss,
    torch_loss_gradient,
    torch_model_gradients,
)
from strategies import arrays, dims, kink_free_arrays, networks, one_hot, probabilities, shapes

FD_RTOL, FD_ATOL = 1e-6, 1e-7


@pytest.mark.slow
def test_importing_backproplab_does_not_import_torch():
    """Do `import backproplab` and its NumPy modules (and torch_reference itself) load without torch?"""
    code = ("import sys, backproplab, backproplab.gradcheck, backproplab.torch_reference; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity", "softmax"])
@given(data=st.data())
def test_torch_activation_backward_is_finite_difference_of_torch_activation(name, data):
    """Is torch_activation_backward the central-difference gradient of sum(dA * torch_activation(Z))?"""
    shape = data.draw(shapes())
    Z, dA = data.draw(kink_free_arrays(shape)), data.draw(arrays(shape, -3, 3))
    expected = numerical_gradient(lambda Zp: float(np.sum(dA * torch_activation(name, Zp))), Z.copy())
    np.testing.assert_allclose(torch_activation_backward(name, dA, Z), expected, rtol=FD_RTOL, atol=FD_ATOL)


@pytest.mark.parametrize("name", ["mse", "bce", "ce", "hinge"])
@given(data=st.data())
def test_torch_loss_gradient_is_m_times_finite_difference_of_torch_loss(name, data):
    """Is torch_loss_gradient m times the central-difference gradient of torch_loss (per example)?"""
    m, n = data.draw(shapes(min_n=2))
    AL = data.draw(probabilities((m, n)) if name in ("bce", "ce") else arrays((m, n), -3, 3))
    Y = data.draw(one_hot(m, n))
    if name == "hinge":
        assume(np.min(np.abs(AL - np.sum(AL * Y, axis=1, keepdims=True) + 1.0)) > 1e-3)
    expected = m * numerical_gradient(lambda A: torch_loss(name, A, Y), AL.copy())
    np.testing.assert_allclose(torch_loss_gradient(name, AL, Y), expected, rtol=FD_RTOL, atol=FD_ATOL)


def test_torch_loss_aliases_name_the_same_losses():
    """Do the short names bce, ce and hinge give the same costs as the long ones?"""
    rng = np.random.default_rng(0)
    P, Y = rng.uniform(0.05, 0.95, (4, 3)), np.eye(3)[[0, 2, 1, 0]]
    for alias, name in (("bce", "binary_cross_entropy"), ("ce", "categorical_cross_entropy"),
                        ("hinge", "multiclass_hinge")):
        assert torch_loss(alias, P, Y) == torch_loss(name, P, Y)


@given(data=st.data())
def test_torch_dense_backward_is_finite_difference_of_a_linear_layer(data):
    """Are torch_dense_backward's dW, dB the gradients of sum(dz * Z)/m and dA_prev m times its gradient?"""
    m, n_prev, n = data.draw(dims()), data.draw(dims()), data.draw(dims())
    dz, A_prev, W = (data.draw(arrays(shape, -3, 3)) for shape in ((m, n), (m, n_prev), (n, n_prev)))
    B = data.draw(arrays((1, n), -3, 3))

    def cost(A, V, C):
        # Z = A V^T + C written with einsum, independent of the layer code under test.
        return float(np.einsum("ij,ij->", dz, np.einsum("ik,jk->ij", A, V) + C)) / m

    dA_prev, dW, dB = torch_dense_backward(dz, A_prev, W)
    assert (dA_prev.shape, dW.shape, dB.shape) == ((m, n_prev), (n, n_prev), (1, n))
    np.testing.assert_allclose(dA_prev, m * numerical_gradient(lambda A: cost(A, W, B), A_prev.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dW, numerical_gradient(lambda V: cost(A_prev, V, B), W.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dB, numerical_gradient(lambda C: cost(A_prev, W, C), B.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)


def test_torch_dropout_backward_keeps_and_scales_like_the_mask():
    """Is the gradient through a given mask dA / (1 - alpha) on kept units and 0 on dropped ones?"""
    dA = np.arange(1.0, 7.0).reshape(2, 3)
    mask = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)
    np.testing.assert_allclose(torch_dropout_backward(dA, mask, 0.25), np.where(mask, dA / 0.75, 0.0), rtol=1e-15)


@given(net=networks(max_layers=3), lambd=st.sampled_from([0.0, 0.5]))
def test_torch_model_gradients_match_finite_differences_of_its_cost(net, lambd):
    """Do the oracle's dW, dB agree with central differences of the oracle's own cost (with L2)?"""
    reference = torch_model_gradients(net.X, net.Y, net.params, net.activations, lambd=lambd)
    for l in range(1, len(net.activations) + 1):
        assume(np.min(np.abs(reference[f"Z{l}"])) > 1e-3)  # away from ReLU-like kinks

    def cost(params):
        return torch_model_gradients(net.X, net.Y, params, net.activations, lambd=lambd)["cost"]

    # Central differences' own error bounds the comparison, entry by entry: rounding (machine epsilon
    # times the cost, over h) and truncation (h**2 times the third derivative, here at most ~1e4 times
    # the gradient on these bounded networks). A fixed relative bound of 1e-7 was tighter than that on
    # small entries of a 3-layer sigmoid network (1.57e-7 seen), so it failed at random.
    h = 1e-5
    rounding = 50 * np.finfo(float).eps * max(1.0, abs(reference["cost"])) / h
    for key, value in net.params.items():
        numeric = numerical_gradient(lambda v, key=key: cost({**net.params, key: v}), value.copy(), h)
        np.testing.assert_allclose(reference["d" + key], numeric, rtol=1e4 * h**2, atol=rounding, err_msg=key)


@given(net=networks(max_layers=2, hidden=("tanh",)))
def test_torch_model_gradients_output_dz_is_AL_minus_Y(net):
    """Is the oracle's dz[L] = m * Z[L].grad equal to AL - Y for each output pairing, with dB of shape (1, n_l)?"""
    reference = torch_model_gradients(net.X, net.Y, net.params, net.activations)
    L = len(net.activations)
    np.testing.assert_allclose(reference[f"dz{L}"], reference["AL"] - net.Y, rtol=1e-9, atol=1e-12)
    for l in range(1, L + 1):
        assert reference[f"dB{l}"].shape == net.params[f"B{l}"].shape


@pytest.mark.parametrize("call", [
    lambda: torch_activation("swish", np.zeros((1, 1))),
    lambda: torch_loss("hingeloss", np.zeros((1, 1)), np.zeros((1, 1))),
], ids=["activation", "loss"])
def test_unknown_names_are_rejected(call):
    """Do unknown activation and loss names raise ValueError listing the choices?"""
    with pytest.raises(ValueError, match="choose one of"):
        call()
