"""Cost functions J = (1/m) sum_i L(yhat_i, y_i) and their per-example gradients.

Shapes: ``AL`` (the network output A[L]) and ``Y`` are (m, nL). Each cost returns a
Python float. Each ``*_gradient(AL, Y)`` returns dA[L] (m, nL): the gradient of each
example's loss with respect to its output row, with **no 1/m** (as dz in DESIGN.md).

Output-layer pairings whose dz[L] carries no slope of the output activation: sigmoid + BCE, softmax + CE,
identity + MSE (lectures 04 and 07 derive it).

Logs are clamped at -100, as ``torch.nn.BCELoss`` does, so a saturated output
(a = 0 or a = 1) gives a large finite cost rather than log(0) = -inf.

Dtypes: the gradients keep their inputs' float dtype (float32 AL and Y give float32 dA[L];
mixed inputs promote as in NumPy; integer or bool inputs become float64). Costs are Python
floats whatever the dtype.
"""
from __future__ import annotations

import numpy as np

from .arrays import as_float_array, as_weak_scalar

__all__ = [
    "mse", "mse_gradient",
    "mae", "mae_gradient",
    "binary_cross_entropy", "binary_cross_entropy_gradient",
    "categorical_cross_entropy", "categorical_cross_entropy_gradient",
    "multiclass_hinge", "multiclass_hinge_gradient",
    "LOSS_FOR_OUTPUT", "loss_for_output",
]

LOG_FLOOR = -100.0
# Keeps 1/a finite in the BCE/CE gradients at saturated outputs.
PROB_FLOOR = 1e-12


def _clamped_log(P):
    with np.errstate(divide="ignore"):
        logs = np.log(P)
    return np.maximum(logs, LOG_FLOOR, out=logs) if isinstance(logs, np.ndarray) else np.maximum(logs, LOG_FLOOR)


def _as_pair(AL, Y):
    AL = as_float_array(AL)
    Y = as_float_array(Y)
    if AL.shape != Y.shape:
        raise ValueError(f"AL has shape {AL.shape} but Y has shape {Y.shape}; both must be (m, nL)")
    return AL, Y


def mse(AL, Y):
    """J = (1/(2m)) sum_i ||a_i - y_i||^2. AL, Y: (m, nL) -> float."""
    AL, Y = _as_pair(AL, Y)
    return float(np.sum((AL - Y) ** 2) / (2 * AL.shape[0]))


def mse_gradient(AL, Y):
    """The gradient of each example's squared error with respect to its output row. AL, Y: (m, nL) -> (m, nL)."""
    AL, Y = _as_pair(AL, Y)
    return AL - Y


def mae(AL, Y):
    """J = (1/m) sum_i ||a_i - y_i||_1, the mean absolute error (summed over output units). AL, Y: (m, nL) -> float.

    The negative log-likelihood of Laplace noise: it grows linearly, not quadratically, in an error, so one
    outlier pulls far less on the fit than with MSE.
    """
    AL, Y = _as_pair(AL, Y)
    return float(np.sum(np.abs(AL - Y)) / AL.shape[0])


def mae_gradient(AL, Y):
    """The gradient of each example's absolute error with respect to its output row: the sign of each error (0 where
a = y, the subgradient PyTorch uses). AL, Y: (m, nL) -> (m, nL).

    Every example pulls with the same strength whatever the size of its error.
    """
    AL, Y = _as_pair(AL, Y)
    return np.sign(AL - Y)


def binary_cross_entropy(AL, Y):
    """Mean binary cross-entropy: the negative log-likelihood of the labels under independent Bernoulli
    outputs, summed over the output units and averaged over the m examples (lecture 04 derives it).

    AL: (m, nL) probabilities in [0, 1]; Y: (m, nL) labels in {0, 1} -> float.
    """
    AL, Y = _as_pair(AL, Y)
    losses = -(Y * _clamped_log(AL) + (1.0 - Y) * _clamped_log(1.0 - AL))
    return float(np.sum(losses) / AL.shape[0])


def binary_cross_entropy_gradient(AL, Y):
    """dA[L]: the gradient of each example's binary cross-entropy with respect to its outputs, with a clipped
    away from 0 and 1 so that it stays finite. AL, Y: (m, nL) -> (m, nL)."""
    AL, Y = _as_pair(AL, Y)
    # 1 - PROB_FLOOR rounds to 1 in float32: there the floor is the gap below 1 (6e-8).
    floor = max(PROB_FLOOR, float(np.finfo(AL.dtype).epsneg))
    A = np.clip(AL, floor, 1.0 - floor)
    return -Y / A + (1.0 - Y) / (1.0 - A)


def categorical_cross_entropy(AL, Y):
    """Mean categorical cross-entropy: the negative log-likelihood of one-hot labels under the row-wise
    categorical distribution AL, averaged over the m examples (lecture 07 derives it).

    AL: (m, K) row-wise probabilities (softmax outputs); Y: (m, K) one-hot -> float.
    """
    AL, Y = _as_pair(AL, Y)
    return float(-np.sum(Y * _clamped_log(AL)) / AL.shape[0])


def categorical_cross_entropy_gradient(AL, Y):
    """dA[L]: the gradient of each example's categorical cross-entropy with respect to its outputs, with a
    floored away from 0. AL, Y: (m, K) -> (m, K)."""
    AL, Y = _as_pair(AL, Y)
    return -Y / np.maximum(AL, PROB_FLOOR)


def multiclass_hinge(S, Y, margin=1.0):
    """Multiclass SVM loss: L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin).

    S: (m, K) class scores; Y: (m, K) one-hot -> float (mean over examples).
    """
    S, Y = _as_pair(S, Y)
    correct = np.sum(S * Y, axis=1, keepdims=True)
    margins = np.maximum(0.0, S - correct + as_weak_scalar(margin)) * (1.0 - Y)
    return float(np.sum(margins) / S.shape[0])


def multiclass_hinge_gradient(S, Y, margin=1.0):
    """Per-example subgradient of the hinge loss w.r.t. the scores. S, Y: (m, K) -> (m, K).

    Each violated margin adds +1 to s_j and -1 to the correct class's score.
    """
    S, Y = _as_pair(S, Y)
    correct = np.sum(S * Y, axis=1, keepdims=True)
    violated = ((S - correct + as_weak_scalar(margin)) > 0) * (1.0 - Y)
    return violated - Y * violated.sum(axis=1, keepdims=True)


# Output activation -> the loss it is paired with, so that dz[L] = A[L] - Y.
LOSS_FOR_OUTPUT = {
    "sigmoid": (binary_cross_entropy, binary_cross_entropy_gradient),
    "softmax": (categorical_cross_entropy, categorical_cross_entropy_gradient),
    "identity": (mse, mse_gradient),
}


def loss_for_output(activation: str):
    """(cost, gradient) paired with an output activation; ValueError for other outputs."""
    try:
        return LOSS_FOR_OUTPUT[activation]
    except KeyError:
        raise ValueError(
            f"the output layer must be one of {sorted(LOSS_FOR_OUTPUT)} (paired with BCE, CE or MSE); "
            f"got {activation!r}"
        ) from None
