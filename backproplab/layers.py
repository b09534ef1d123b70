"""Layers in forward/backward pairs: dense, inverted dropout, and the L2 penalty.

Notation (DESIGN.md, batch-first, as ``torch.nn.Linear``):
  A_prev = A[l-1]: (m, n_{l-1})   W = W[l]: (n_l, n_{l-1})   B = B[l]: (1, n_l)
  Z = Z[l] = A_prev @ W.T + B: (m, n_l)
``dz`` is the per-example gradient of the loss w.r.t. Z, with no 1/m; the 1/m of the
mean cost enters dW and dB.

Dtypes: float32 in gives float32 out (float64 stays float64; mixed inputs promote as in
NumPy; integer or bool inputs become float64, except in dense_forward, which computes
A_prev @ W.T + B in whatever dtype NumPy gives). Scalars (alpha, lambd) never promote.
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
    """Z = A_prev @ W.T + B.

    A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}); B: (1, n_l) -> Z: (m, n_l).
    """
    # Into the fresh product when it fits: no second (m, n_l) array.
    return add_into(matmul(np.asarray(A_prev), np.asarray(W).T), np.asarray(B))


def dense_weight_gradients(dz, A_prev):
    """(dW, dB) = ((1/m) dz.T @ A_prev, (1/m) dz.sum(axis=0, keepdims=True)), dense_backward's
    parameter gradients alone (model_backward needs no dA[0] for the first layer).

    The 1/m scales dz (m x n_l numbers) before the product rather than dW (n_l x n_{l-1}):
    the same numbers, bit for bit when m is a power of two (unless a product underflows to a
    subnormal number), and within rounding otherwise.
    """
    A_prev = np.asarray(A_prev)
    scaled = np.divide(dz, A_prev.shape[0])  # a float array even for integer dz
    return matmul(scaled.T, A_prev), scaled.sum(axis=0, keepdims=True)


def dense_backward(dz, A_prev, W):
    """Backward pass of Z = A_prev @ W.T + B.

    dz: (m, n_l), per example, no 1/m; A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}) ->
      dA_prev = dz @ W                                 (m, n_{l-1})
      dW      = (1/m) dz.T @ A_prev                    (n_l, n_{l-1})
      dB      = (1/m) dz.sum(axis=0, keepdims=True)    (1, n_l)
    """
    dz = np.asarray(dz)
    dA_prev = matmul(dz, np.asarray(W))
    dW, dB = dense_weight_gradients(dz, A_prev)
    return dA_prev, dW, dB


def dropout_forward(A, alpha, rng):
    """Inverted dropout in training: drop each unit with probability alpha.

    A: (m, n); alpha: drop rate in [0, 1); rng: ``numpy.random.Generator`` ->
      A_out (m, n) = A * mask / (1 - alpha), and mask (m, n) of 1.0 (kept) / 0.0 (dropped).
    Scaling by 1/(1 - alpha) keeps E[A_out] = A, so nothing changes at test time.
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
    """Backward of inverted dropout: the same mask and the same 1/(1 - alpha) scale.

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
    """(lambd / (2m)) sum_l ||W[l]||_F^2 over the weights ``W1, W2, ...`` (never biases).

    params: dict of W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l); lambd: float; m: batch size -> float.
    """
    squares = sum(float(np.sum(np.square(value))) for key, value in params.items() if key.startswith("W"))
    return lambd / (2 * m) * squares


def l2_backward(W, lambd, m):
    """Gradient of the L2 penalty w.r.t. one weight matrix: (lambd / m) W.

    W: (n_l, n_{l-1}) -> dW_extra: (n_l, n_{l-1}), to be added to dW[l].
    """
    return as_weak_scalar(lambd) / m * as_float_array(W)
