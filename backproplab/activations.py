"""Activation functions g, their derivatives g', and backward rules.

Shapes (DESIGN.md, batch-first): ``Z`` and ``A = g(Z)`` are (m, n_l), one example per
row. Every ``*_backward(dA, Z)`` takes the upstream gradient ``dA`` (m, n_l) and returns
``dz = dA * g'(Z)`` (m, n_l). Note the derivative is evaluated at the pre-activation
``Z``, never at the output ``A``.

All functions are numerically stable: |z| = 1000 gives finite values and no warnings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_derivative", "sigmoid_backward",
    "tanh", "tanh_derivative", "tanh_backward",
    "relu", "relu_derivative", "relu_backward",
    "leaky_relu", "leaky_relu_derivative", "leaky_relu_backward",
    "elu", "elu_derivative", "elu_backward",
    "identity", "identity_derivative", "identity_backward",
    "softmax", "softmax_backward",
    "Activation", "ACTIVATIONS", "get_activation",
]


def sigmoid(Z):
    """Logistic function 1 / (1 + exp(-z)), elementwise.

    Z: (m, n) -> A: (m, n). Stable for any |z|: exp is only taken of -|z|.
    """
    Z = np.asarray(Z, dtype=float)
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def sigmoid_derivative(Z):
    """sigma'(z) = sigma(z) (1 - sigma(z)) = a (1 - a). Z: (m, n) -> (m, n)."""
    A = sigmoid(Z)
    return A * (1.0 - A)


def sigmoid_backward(dA, Z):
    """dz = dA * sigma'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return np.asarray(dA, dtype=float) * sigmoid_derivative(Z)


def tanh(Z):
    """Hyperbolic tangent, elementwise. Z: (m, n) -> A: (m, n)."""
    return np.tanh(np.asarray(Z, dtype=float))


def tanh_derivative(Z):
    """tanh'(z) = 1 - tanh(z)^2 = 1 - a^2. Z: (m, n) -> (m, n)."""
    A = tanh(Z)
    return 1.0 - A * A


def tanh_backward(dA, Z):
    """dz = dA * (1 - tanh(Z)^2). dA, Z: (m, n) -> dz: (m, n)."""
    return np.asarray(dA, dtype=float) * tanh_derivative(Z)


def relu(Z):
    """max(0, z), elementwise. Z: (m, n) -> A: (m, n)."""
    return np.maximum(np.asarray(Z, dtype=float), 0.0)


def relu_derivative(Z):
    """1 where z > 0, else 0 (0 at the kink z = 0, as in PyTorch). Z: (m, n) -> (m, n)."""
    return (np.asarray(Z) > 0).astype(float)


def relu_backward(dA, Z):
    """dz = dA where Z > 0, else 0. dA, Z: (m, n) -> dz: (m, n)."""
    return np.asarray(dA, dtype=float) * relu_derivative(Z)


def leaky_relu(Z, alpha=0.01):
    """z where z > 0, else alpha * z. Z: (m, n) -> A: (m, n)."""
    Z = np.asarray(Z, dtype=float)
    return np.where(Z > 0, Z, alpha * Z)


def leaky_relu_derivative(Z, alpha=0.01):
    """1 where z > 0, else alpha (alpha at z = 0, as in PyTorch). Z: (m, n) -> (m, n)."""
    return np.where(np.asarray(Z) > 0, 1.0, alpha)


def leaky_relu_backward(dA, Z, alpha=0.01):
    """dz = dA * leaky_relu'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return np.asarray(dA, dtype=float) * leaky_relu_derivative(Z, alpha)


def elu(Z, alpha=1.0):
    """z where z > 0, else alpha (exp(z) - 1). Z: (m, n) -> A: (m, n)."""
    Z = np.asarray(Z, dtype=float)
    return np.where(Z > 0, Z, alpha * np.expm1(np.minimum(Z, 0.0)))


def elu_derivative(Z, alpha=1.0):
    """1 where z > 0, else alpha exp(z). Z: (m, n) -> (m, n)."""
    Z = np.asarray(Z, dtype=float)
    return np.where(Z > 0, 1.0, alpha * np.exp(np.minimum(Z, 0.0)))


def elu_backward(dA, Z, alpha=1.0):
    """dz = dA * elu'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return np.asarray(dA, dtype=float) * elu_derivative(Z, alpha)


def identity(Z):
    """g(z) = z (regression outputs). Z: (m, n) -> A: (m, n), a float copy."""
    return np.array(Z, dtype=float)


def identity_derivative(Z):
    """g'(z) = 1. Z: (m, n) -> ones (m, n)."""
    return np.ones_like(np.asarray(Z, dtype=float))


def identity_backward(dA, Z):
    """dz = dA. dA, Z: (m, n) -> dz: (m, n)."""
    return np.array(dA, dtype=float)


def softmax(Z):
    """Row-wise softmax: each example's n scores become probabilities that sum to 1.

    Z: (m, n) -> A: (m, n). Subtracting each row's max first leaves the result unchanged
    (softmax(z) = softmax(z - c)) and keeps exp from overflowing.
    """
    Z = np.asarray(Z, dtype=float)
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def softmax_backward(dA, Z):
    """Vector-Jacobian product of the row-wise softmax.

    dA, Z: (m, n) -> dz: (m, n), with dz_i = S_i * (dA_i - <dA_i, S_i>) for each row i,
    where S = softmax(Z). (With cross-entropy the product simplifies to dz = A - Y.)
    """
    S = softmax(Z)
    dA = np.asarray(dA, dtype=float)
    return S * (dA - np.sum(dA * S, axis=-1, keepdims=True))


@dataclass(frozen=True)
class Activation:
    """An activation g with its derivative g'(Z) and backward rule dz = backward(dA, Z)."""

    name: str
    forward: Callable
    derivative: Callable | None
    backward: Callable


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_derivative, sigmoid_backward),
    "tanh": Activation("tanh", tanh, tanh_derivative, tanh_backward),
    "relu": Activation("relu", relu, relu_derivative, relu_backward),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_derivative, leaky_relu_backward),
    "elu": Activation("elu", elu, elu_derivative, elu_backward),
    "identity": Activation("identity", identity, identity_derivative, identity_backward),
    # softmax couples a row's units, so it has a Jacobian rather than an elementwise g'.
    "softmax": Activation("softmax", softmax, None, softmax_backward),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name; the error lists the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
