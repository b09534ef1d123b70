"""Layers in forward/backward pairs: dense, inverted dropout, and the L2 penalty.

Notation (DESIGN.md, batch-first, as ``torch.nn.Linear``):
  A_prev = A[l-1]: (m, n_{l-1})   W = W[l]: (n_l, n_{l-1})   B = B[l]: (1, n_l)
  Z = Z[l]: (m, n_l), the layer's pre-activations (what torch.nn.Linear returns)
``dz`` is the per-example gradient of the loss w.r.t. Z, with no 1/m; the 1/m of the
mean cost enters the parameter gradients.

The docstrings say what each function computes and the shapes, not the formulas: deriving
them is what lectures 04 and 06 ask of the students, who may read this module.

Dtypes: float32 in gives float32 out (float64 stays float64; mixed inputs promote as in
NumPy; integer or bool inputs become float64, except in dense_forward, which computes
in whatever dtype NumPy's product and sum give). Scalars (alpha, lambd) never promote.
"""
from __future__ import annotations

import numpy as np

from .arrays import add_into, as_float_array, as_weak_scalar, divide_into, matmul

__all__ = [
    "dense_forward", "dense_backward",
    "dropout_forward", "dropout_backward",
    "l2_penalty", "l2_backward",
]


def dense_forward(A_prev, W, B):
    """The pre-activations of a dense layer, one row per example (DESIGN.md's forward pass).

    A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}); B: (1, n_l) -> Z: (m, n_l).
    """
    # Into the fresh product when it fits: no second (m, n_l) array.
    return add_into(matmul(np.asarray(A_prev), np.asarray(W).T), np.asarray(B))


def dense_weight_gradients(dz, A_prev):
    """dense_backward's parameter gradients alone, (dW, dB) of the mean cost (model_backward
    needs no dA[0] for the first layer).

    dz: (m, n_l), per example, no 1/m; A_prev: (m, n_{l-1}) -> dW: (n_l, n_{l-1}), dB: (1, n_l).
    The batch average is applied to dz (m x n_l numbers) before the product rather than to dW
    (n_l x n_{l-1}): the same numbers, bit for bit when m is a power of two (unless a product
    underflows to a subnormal number), and within rounding otherwise.
    """
    A_prev = np.asarray(A_prev)
    scaled = np.divide(dz, A_prev.shape[0])  # a float array even for integer dz
    return matmul(scaled.T, A_prev), scaled.sum(axis=0, keepdims=True)


def dense_backward(dz, A_prev, W):
    """Backward pass of dense_forward: the gradients of the mean cost with respect to the
    layer's input, weights and bias, given each example's gradient with respect to Z.

    dz: (m, n_l), per example, no 1/m; A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}) ->
      dA_prev  (m, n_{l-1}), per example, like dz;
      dW       (n_l, n_{l-1}), averaged over the batch;
      dB       (1, n_l), averaged over the batch.
    """
    dz = np.asarray(dz)
    dA_prev = matmul(dz, np.asarray(W))
    dW, dB = dense_weight_gradients(dz, A_prev)
    return dA_prev, dW, dB


def dropout_forward(A, alpha, rng):
    """Inverted dropout in training: drop each unit with probability alpha, and scale the kept
    ones so that the expected value of A_out is A (nothing changes at test time).

    A: (m, n); alpha: drop rate in [0, 1); rng: ``numpy.random.Generator`` ->
      A_out (m, n), 0 where a unit is dropped, and mask (m, n) of 1.0 (kept) / 0.0 (dropped).
    The mask has A's dtype; it is drawn from float64 uniforms whatever that dtype, so a
    seed gives the same mask in float32 and float64.
    """
    alpha = as_weak_scalar(alpha)
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"the dropout rate alpha must be in [0, 1); got {alpha}")
    A = as_float_array(A)
    mask = (rng.random(A.shape) >= alpha).astype(A.dtype)
    return divide_into(A * mask, 1.0 - alpha), mask


def dropout_backward(dA, mask, alpha):
    """Backward of inverted dropout: the gradient with respect to dropout_forward's input A,
    given the gradient dA with respect to its output and the mask that forward pass returned.

    dA: (m, n); mask: (m, n) of 1/0 or booleans; alpha: drop rate -> dA_prev: (m, n).
    The mask, an indicator, never changes dA's dtype.
    """
    dA = as_float_array(dA)
    mask = np.asarray(mask)
    if mask.dtype != dA.dtype:
        mask = mask.astype(dA.dtype)
    dA_prev = dA * mask
    return divide_into(dA_prev, 1.0 - as_weak_scalar(alpha))


def l2_penalty(params, lambd, m):
    """The L2 penalty the cost adds for the size of the weights ``W1, W2, ...`` (never the
    biases), with strength lambd and the batch size m as in DESIGN.md's cost.

    params: dict of W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l); lambd: float; m: batch size -> float.
    """
    squares = sum(float(np.sum(np.square(value))) for key, value in params.items() if key.startswith("W"))
    return lambd / (2 * m) * squares


def l2_backward(W, lambd, m):
    """Gradient of l2_penalty with respect to one weight matrix.

    W: (n_l, n_{l-1}); lambd: float; m: batch size -> dW_extra: (n_l, n_{l-1}), a new array, to be
    added to dW[l].
    """
    return as_weak_scalar(lambd) / m * as_float_array(W)
