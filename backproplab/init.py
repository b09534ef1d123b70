"""Weight initialization, as ``torch.nn.init``'s normal variants (DESIGN.md).

``initialize_parameters(layer_sizes, method, seed=None, dtype=np.float64)`` returns
``{"W1", "B1", ...}`` with W[l]: (n_l, n_{l-1}) and B[l]: (1, n_l) of zeros, of ``dtype``
(the dtype the network then computes in, backproplab.model).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["INIT_METHODS", "init_std", "initialize_parameters"]

INIT_METHODS = ("zeros", "random", "xavier", "he")


def init_std(method: str, fan_in: int, fan_out: int) -> float:
    """Standard deviation of W[l]'s entries for a layer with n_{l-1} = fan_in, n_l = fan_out.

    method: "zeros" | "random" | "xavier" | "he"; fan_in, fan_out: ints >= 1 -> float >= 0.
    zeros gives 0 and random the fixed 0.01; xavier (Glorot) keeps the variance of the signal
    the same forwards and backwards, using both fans; he (Kaiming, fan-in mode) keeps it the
    same forwards through ReLU layers, which zero half of their inputs. Lecture 05 derives the
    two numbers (the students' exercise init_std), so this docstring does not state them.
    """
    if method == "zeros":
        return 0.0
    if method == "random":
        return 0.01
    if method == "xavier":
        return math.sqrt(2.0 / (fan_in + fan_out))
    if method == "he":
        return math.sqrt(2.0 / fan_in)
    raise ValueError(f"unknown initialization {method!r}; choose one of {list(INIT_METHODS)}")


def initialize_parameters(layer_sizes, method, seed=None, dtype=np.float64):
    """Draw W[l] ~ N(0, std^2) for l = 1..L, with std from ``init_std``; biases are zeros.

    layer_sizes: [n0, n1, ..., nL]; method: "zeros" | "random" | "xavier" | "he";
    seed: int or None; dtype: a float dtype, float64 by default ->
    params with W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l), all of ``dtype``.
    The draws are float64 whatever the dtype, so a seed gives the same weights, rounded, in float32.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a float dtype such as np.float32 or np.float64; got {dtype}")
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(layer_sizes)):
        fan_in, fan_out = layer_sizes[l - 1], layer_sizes[l]
        std = init_std(method, fan_in, fan_out)
        W = rng.standard_normal((fan_out, fan_in))
        W *= std
        params[f"W{l}"] = W.astype(dtype, copy=False)
        params[f"B{l}"] = np.zeros((1, fan_out), dtype=dtype)
    return params
