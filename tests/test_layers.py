"""Tests for backproplab.layers: dense, inverted dropout and the L2 penalty.

Oracles: PyTorch float64 autograd through torch.nn.functional.linear (torch_reference) and
central finite differences of a surrogate cost J = sum(dz * Z) / m, whose per-example
gradient w.r.t. Z is dz.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab.gradcheck import numerical_gradient
from backproplab.layers import (
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    l2_backward,
    l2_penalty,
)
from backproplab.torch_reference import torch_dense_backward, torch_dropout_backward
from strategies import FLOAT_DTYPES, arrays, cast, dims, finite_floats, seeds

TORCH_RTOL, TORCH_ATOL = 1e-10, 1e-12
FD_RTOL, FD_ATOL = 1e-6, 1e-8
# float32 against float64 on the same numbers: sums of up to 5 products of size <= 9 carry a few
# roundings of 6e-8 relative each, i.e. errors of order 1e-6 absolute.
F32_RTOL, F32_ATOL = 1e-5, 1e-5


@st.composite
def dense_cases(draw, batch_sizes=None):
    """(dz, A_prev, W, B) for one layer with m, n_{l-1}, n_l drawn independently (1 included);
    ``batch_sizes`` (a strategy) draws m instead."""
    m, n_prev, n = draw(dims() if batch_sizes is None else batch_sizes), draw(dims()), draw(dims())
    return (draw(arrays((m, n), -3, 3)), draw(arrays((m, n_prev), -3, 3)),
            draw(arrays((n, n_prev), -3, 3)), draw(arrays((1, n), -3, 3)))


def test_dense_forward_worked_example():
    """Does nn.Linear(4, 3) with weights 1..12 and bias 1 map x = [1, 1, 1, 1] to [11, 27, 43]?"""
    W = np.arange(1.0, 13.0).reshape(3, 4)
    np.testing.assert_array_equal(dense_forward(np.ones((1, 4)), W, np.ones((1, 3))), [[11.0, 27.0, 43.0]])


@given(case=dense_cases())
def test_dense_forward_matches_torch_linear(case):
    """Is Z = A_prev @ W.T + B what torch.nn.functional.linear computes, of shape (m, n_l)?"""
    import torch

    _, A_prev, W, B = case
    expected = torch.nn.functional.linear(torch.from_numpy(A_prev), torch.from_numpy(W), torch.from_numpy(B[0]))
    Z = dense_forward(A_prev, W, B)
    assert Z.shape == (A_prev.shape[0], W.shape[0])
    np.testing.assert_allclose(Z, expected.numpy(), rtol=TORCH_RTOL, atol=TORCH_ATOL)


@given(case=dense_cases())
def test_dense_backward_matches_torch_autograd(case):
    """Do dA_prev, dW and dB (with their shapes) equal torch's in the course's conventions?"""
    dz, A_prev, W, _ = case
    ours = dense_backward(dz, A_prev, W)
    for got, expected in zip(ours, torch_dense_backward(dz, A_prev, W)):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=TORCH_RTOL, atol=TORCH_ATOL)


@given(case=dense_cases())
def test_dense_backward_matches_finite_differences(case):
    """Are dW, dB the gradients of J = sum(dz * Z)/m, and dA_prev m times its gradient?"""
    dz, A_prev, W, B = case
    m = A_prev.shape[0]

    def cost(A_prev, W, B):
        return float(np.sum(dz * dense_forward(A_prev, W, B)) / m)

    dA_prev, dW, dB = dense_backward(dz, A_prev, W)
    np.testing.assert_allclose(dA_prev, m * numerical_gradient(lambda A: cost(A, W, B), A_prev.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dW, numerical_gradient(lambda V: cost(A_prev, V, B), W.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)
    np.testing.assert_allclose(dB, numerical_gradient(lambda V: cost(A_prev, W, V), B.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)


@st.composite
def dropout_cases(draw):
    """(A, alpha, seed): an activation matrix, a drop rate in [0, 0.9] and an rng seed."""
    m, n = draw(dims()), draw(dims())
    return draw(arrays((m, n), -3, 3)), draw(st.floats(0.0, 0.9)), draw(seeds())


@given(case=dropout_cases())
def test_dropout_forward_scales_kept_units(case):
    """Is the mask all 0/1 and A_out = A * mask / (1 - alpha), with the same mask for the same seed?"""
    A, alpha, seed = case
    A_out, mask = dropout_forward(A, alpha, np.random.default_rng(seed))
    assert mask.shape == A.shape and set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_allclose(A_out, np.where(mask == 1.0, A / (1.0 - alpha), 0.0), rtol=1e-12, atol=0)
    _, mask_again = dropout_forward(A, alpha, np.random.default_rng(seed))
    np.testing.assert_array_equal(mask, mask_again)


@given(case=dropout_cases(), dA=st.data())
def test_dropout_backward_matches_torch_with_the_same_mask(case, dA):
    """With the forward pass's mask, does dropout_backward equal torch autograd's gradient?"""
    A, alpha, seed = case
    _, mask = dropout_forward(A, alpha, np.random.default_rng(seed))
    upstream = dA.draw(arrays(A.shape, -3, 3))
    np.testing.assert_allclose(dropout_backward(upstream, mask, alpha), torch_dropout_backward(upstream, mask, alpha),
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)


@given(case=dropout_cases(), dA=st.data())
def test_dropout_backward_matches_finite_differences(case, dA):
    """Is dropout_backward the central-difference gradient of sum(dA * dropout(A)) under a fixed mask?"""
    A, alpha, seed = case
    upstream = dA.draw(arrays(A.shape, -3, 3))

    def cost(Ap):
        # The same seed redraws the same mask on every call.
        return float(np.sum(upstream * dropout_forward(Ap, alpha, np.random.default_rng(seed))[0]))

    _, mask = dropout_forward(A, alpha, np.random.default_rng(seed))
    np.testing.assert_allclose(dropout_backward(upstream, mask, alpha), numerical_gradient(cost, A.copy()),
                               rtol=FD_RTOL, atol=FD_ATOL)


def test_dropout_backward_accepts_boolean_masks():
    """Does a boolean mask give the same gradient as its 1/0 float version?"""
    mask = np.array([[True, False, True]])
    dA = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(dropout_backward(dA, mask, 0.5), dropout_backward(dA, mask.astype(float), 0.5))


@pytest.mark.parametrize("alpha", [0.2, 0.5])
def test_dropout_drops_at_rate_alpha_and_keeps_the_mean(alpha):
    """Over 200,000 units, is the dropped fraction alpha and the mean of A_out that of A (within 5 standard errors)?"""
    A = np.ones((400, 500))
    A_out, mask = dropout_forward(A, alpha, np.random.default_rng(0))
    standard_error = np.sqrt(alpha * (1 - alpha) / A.size)
    assert abs((1 - mask.mean()) - alpha) < 5 * standard_error
    assert abs(A_out.mean() - 1.0) < 5 * standard_error / (1 - alpha)


def test_dropout_rate_zero_is_the_identity():
    """With alpha = 0, is every unit kept and A unchanged?"""
    A = np.arange(6.0).reshape(2, 3)
    A_out, mask = dropout_forward(A, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(A_out, A)
    np.testing.assert_array_equal(mask, np.ones_like(A))


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rates_outside_zero_one(alpha):
    """Does a drop rate outside [0, 1) raise ValueError?"""
    with pytest.raises(ValueError, match="alpha"):
        dropout_forward(np.ones((2, 2)), alpha, np.random.default_rng(0))


@st.composite
def l2_cases(draw):
    """(params with 1 to 3 layers, lambd, m)."""
    sizes = draw(st.lists(dims(), min_size=2, max_size=4))
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = draw(arrays((sizes[l], sizes[l - 1]), -3, 3))
        params[f"B{l}"] = draw(arrays((1, sizes[l]), -3, 3))
    return params, draw(finite_floats(0.0, 5.0)), draw(dims(1, 50))


@given(case=l2_cases())
def test_l2_penalty_sums_squared_frobenius_norms_of_weights_only(case):
    """Is the penalty (lambd/(2m)) sum_l ||W[l]||_F^2, ignoring the biases?"""
    params, lambd, m = case
    expected = lambd / (2 * m) * sum(np.linalg.norm(v, "fro") ** 2 for k, v in params.items() if k[0] == "W")
    np.testing.assert_allclose(l2_penalty(params, lambd, m), expected, rtol=1e-10, atol=1e-12)
    doubled_biases = {k: (2 * v if k[0] == "B" else v) for k, v in params.items()}
    assert l2_penalty(doubled_biases, lambd, m) == l2_penalty(params, lambd, m)


@given(case=l2_cases())
def test_l2_backward_matches_finite_differences(case):
    """Is l2_backward(W) the central-difference gradient of the penalty w.r.t. W1?"""
    params, lambd, m = case
    expected = numerical_gradient(lambda W: l2_penalty({**params, "W1": W}, lambd, m), params["W1"].copy())
    np.testing.assert_allclose(l2_backward(params["W1"], lambd, m), expected, rtol=FD_RTOL, atol=FD_ATOL)


@given(case=dense_cases())
def test_dense_layer_keeps_the_float_dtype(case):
    """Do dense_forward and dense_backward give float32 for float32 inputs, close to float64's on the
    same numbers, and float64 for float64 inputs?"""
    dz, A_prev, W, B = cast(case, np.float32)
    results32 = [dense_forward(A_prev, W, B), *dense_backward(dz, A_prev, W)]
    dz64, A64, W64, B64 = cast((dz, A_prev, W, B), np.float64)
    results64 = [dense_forward(A64, W64, B64), *dense_backward(dz64, A64, W64)]
    for name, got32, got64 in zip(("Z", "dA_prev", "dW", "dB"), results32, results64):
        assert got32.dtype == np.float32 and got64.dtype == np.float64, name
        np.testing.assert_allclose(got32, got64, rtol=F32_RTOL, atol=F32_ATOL, err_msg=name)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(case=dense_cases(batch_sizes=st.sampled_from([1, 2, 4, 8])))
def test_dense_layer_is_bit_for_bit_the_formulas(dtype, case):
    """With a power-of-two batch m, is the lean dense layer (bias added in place, 1/m applied to dz)
    exactly A_prev @ W.T + B, dz @ W, dz.T @ A_prev / m and dz.sum(axis=0, keepdims=True) / m?
    (Entries below 1e-3 are zeroed: scaling a float32 product that underflows to a subnormal
    is not exact, the one exception.)"""
    dz, A_prev, W, B = (np.where(np.abs(x) < 1e-3, 0.0, x).astype(dtype) for x in case)
    m = A_prev.shape[0]
    np.testing.assert_array_equal(dense_forward(A_prev, W, B), A_prev @ W.T + B)
    dA_prev, dW, dB = dense_backward(dz, A_prev, W)
    np.testing.assert_array_equal(dA_prev, dz @ W)
    np.testing.assert_array_equal(dW, dz.T @ A_prev / m)
    np.testing.assert_array_equal(dB, dz.sum(axis=0, keepdims=True) / m)


def test_dense_layer_leaves_its_inputs_alone():
    """Do the in-place steps (the bias added into the product) leave A_prev, W and B unchanged?"""
    rng = np.random.default_rng(0)
    A_prev, W, B, dz = rng.normal(size=(3, 4)), rng.normal(size=(2, 4)), rng.normal(size=(1, 2)), rng.normal(size=(3, 2))
    before = [x.copy() for x in (A_prev, W, B, dz)]
    dense_forward(A_prev, W, B)
    dense_backward(dz, A_prev, W)
    for x, y in zip((A_prev, W, B, dz), before):
        np.testing.assert_array_equal(x, y)


@given(case=dropout_cases())
def test_dropout_keeps_the_float_dtype_and_the_mask(case):
    """In float32, are A_out, the mask and dA_prev float32, with the float64 run's mask for the same
    seed (uniforms are drawn in float64) and values close to it, also for an np.float64 rate?"""
    A, alpha, seed = case
    A32 = A.astype(np.float32)
    A_out32, mask32 = dropout_forward(A32, np.float64(alpha), np.random.default_rng(seed))
    A_out64, mask64 = dropout_forward(A32.astype(np.float64), alpha, np.random.default_rng(seed))
    assert A_out32.dtype == mask32.dtype == np.float32 and A_out64.dtype == mask64.dtype == np.float64
    np.testing.assert_array_equal(mask32, mask64)
    np.testing.assert_allclose(A_out32, A_out64, rtol=F32_RTOL, atol=F32_ATOL)
    dA32 = (A32 - 1.0).astype(np.float32)
    for mask in (mask32, mask64, mask32.astype(bool)):  # the mask, an indicator, never sets the dtype
        got = dropout_backward(dA32, mask, np.float64(alpha))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, dropout_backward(dA32.astype(np.float64), mask64, alpha),
                                   rtol=F32_RTOL, atol=F32_ATOL)


def test_dropout_turns_integers_into_float64():
    """Do integer activations and upstream gradients give float64 results, as before?"""
    A_out, mask = dropout_forward(np.ones((2, 3), dtype=int), 0.5, np.random.default_rng(0))
    assert A_out.dtype == mask.dtype == np.float64
    assert dropout_backward(np.ones((2, 3), dtype=int), mask, 0.5).dtype == np.float64


@pytest.mark.parametrize("lambd", [0.7, np.float64(0.7)])
def test_l2_keeps_the_float_dtype(lambd):
    """Is l2_backward of a float32 W float32 (close to float64's), whatever lambd's type, and l2_penalty a float?"""
    W = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    got = l2_backward(W, lambd, 5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, l2_backward(W.astype(np.float64), 0.7, 5), rtol=F32_RTOL)
    penalty = l2_penalty({"W1": W, "B1": np.zeros((1, 3), np.float32)}, 0.7, 5)
    assert type(penalty) is float
    assert penalty == pytest.approx(l2_penalty({"W1": W.astype(np.float64)}, 0.7, 5), rel=1e-6)


# Graded formulas (lecture 04's dense_backward, lecture 06's dropout and L2 exercises), whitespace removed: the module
# students may read states what each function computes and its shapes, never these lines.
LAYER_FORMULAS = ("dz.T@A_prev", "dz.T@A", "dz@W", "(1/m)", "1/m*", "sum(axis=0", "/(1-alpha)", "1/(1-alpha)",
                  "*mask", "mask*", "lambd/m", "lambd/(2m)", "lambd/(2*m)", "(lambd/m)", "||W", "W**2")


def test_docstrings_state_what_and_shapes_not_the_graded_formulas():
    """Does no docstring of backproplab.layers (the module's and every function's) state dW, dB, dA_prev, dropout's
    forward or backward line, or the L2 penalty or its gradient, while each public function's docstring still
    gives the shapes?"""
    import inspect

    import backproplab.layers as layers

    docs = {"module": layers.__doc__}
    docs.update({name: inspect.getdoc(fn) for name, fn in vars(layers).items()
                 if inspect.isfunction(fn) and fn.__module__ == layers.__name__})
    assert {"dense_backward", "dense_weight_gradients", "dropout_forward", "dropout_backward", "l2_penalty",
            "l2_backward"} <= set(docs)
    for name, doc in docs.items():
        squeezed = "".join(doc.split())
        assert [f for f in LAYER_FORMULAS if f in squeezed] == [], (name, doc)
    for name in layers.__all__:
        assert "(m, n" in docs[name] or "(n_l, n_{l-1})" in docs[name], name
