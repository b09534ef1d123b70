"""Gradient checking: central finite differences and relative errors (lecture 02, the checks).

``numerical_gradient(f, x)`` approximates df/dx entry by entry from f evaluated a step h
either side of the entry (central differences: an error of order h^2, where a one-sided
difference has order h). ``relative_error`` and ``max_relative_error`` compare an analytic
gradient with it; ``gradient_check`` does so for every parameter of a cost function.

The docstrings say what each function computes and the shapes, not the formulas: lectures 02
and 04 ask the students, who may read this module, to derive them.
"""
from __future__ import annotations

import numpy as np

from .model import compute_cost, model_forward

__all__ = ["numerical_gradient", "relative_error", "max_relative_error", "gradient_check", "model_cost_function"]


def numerical_gradient(f, x, h=1e-5):
    """Central-difference gradient of a scalar function.

    f: callable taking an ndarray shaped like x and returning a float;
    x: ndarray of any shape; h: step -> grad: float ndarray of x's shape and float dtype.

    A float ndarray ``x`` is perturbed in place, one entry at a time, so that ``f`` may also
    read it through a closure (CS231n style); every entry is restored exactly before the
    next, and in a ``finally`` block, so x is unchanged on return even if f raises.
    Anything else (lists, integer arrays) is first copied to a float64 array. The gradient has
    x's dtype; in float32, though, f's rounding (6e-8 relative) over 2h leaves only 2 or 3 correct
    digits at h = 1e-5: prefer float64 here.
    """
    if not (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)):
        x = np.array(x, dtype=float)
    grad = np.zeros(x.shape, dtype=x.dtype)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            f_plus = float(f(x))
            x[index] = original - h
            f_minus = float(f(x))
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _same_shape_pair(a, b):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    return a, b


def relative_error(a, b, floor=1e-12):
    """How far apart two gradients are, relative to their sizes, over whole arrays (the DLS
    measure: Euclidean norms of the whole arrays).

    a, b: arrays of the same shape; floor: the smallest denominator -> float in [0, 1]; 0 when
    both are zero. The floor avoids 0/0 when both gradients vanish.
    """
    a, b = _same_shape_pair(a, b)
    return float(np.linalg.norm(a - b) / max(floor, np.linalg.norm(a) + np.linalg.norm(b)))


def max_relative_error(a, b, floor=1e-8):
    """The worst entry's relative difference between two gradients (the CS231n measure: each
    entry's difference relative to the sizes of that entry, with a floor).

    a, b: arrays of the same shape; floor: the smallest denominator -> float in [0, 1]; 0.0 for
    empty arrays. Unlike ``relative_error``, one bad entry among many good ones is not diluted.
    """
    a, b = _same_shape_pair(a, b)
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(floor, np.abs(a) + np.abs(b))))


def gradient_check(cost_fn, params, grads, h=1e-5):
    """Relative error of each analytic gradient against central differences.

    cost_fn: params dict -> float; params: {"W1": (n_1, n_0), "B1": (1, n_1), ...};
    grads: {"dW1": ..., "dB1": ..., ...} of the same shapes; h: step ->
    {"W1": relative_error, "B1": ..., ...}. ``params`` and its arrays are not modified:
    each key is perturbed in a float64 copy passed to ``cost_fn`` inside a new dict, also for
    a float32 network (whose cost is then computed in float64 at its float32 parameters).
    """
    errors = {}
    for key in params:
        def cost_of(value, key=key):
            return cost_fn({**params, key: value})

        numeric = numerical_gradient(cost_of, np.array(params[key], dtype=float), h)
        errors[key] = relative_error(grads["d" + key], numeric)
    return errors


def model_cost_function(X, Y, activations, lambd=0.0):
    """The cost J(params) of a network on fixed data, ready for ``gradient_check``.

    X: (m, n0); Y: (m, nL); activations: L names; lambd: L2 strength ->
    callable params -> float (the output activation's paired loss plus the L2 penalty).
    """
    def cost_fn(params):
        AL, _ = model_forward(X, params, activations)
        return compute_cost(AL, Y, activations, params, lambd)

    return cost_fn
