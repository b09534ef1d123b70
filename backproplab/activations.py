"""Activation functions g, their derivatives g', and backward rules.

Shapes (DESIGN.md, batch-first): ``Z`` and ``A = g(Z)`` are (m, n_l), one example per
row. Every ``*_backward(dA, Z)`` takes the upstream gradient ``dA`` (m, n_l) and returns
``dz = dA * g'(Z)`` (m, n_l). Note the derivative is evaluated at the pre-activation
``Z``, never at the output ``A``.

All functions are numerically stable: |z| = 1000 gives finite values and no warnings.

Dtypes: every function keeps the floating dtype of its inputs (float32 in, float32 out;
float64 stays float64); mixed float inputs promote as NumPy does, and integer or bool
inputs become float64 (backproplab/arrays.py implements this for the whole library).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .arrays import add_into, as_float_array, as_weak_scalar, float_dtype_of, multiply_into

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

    Z: (m, n) -> A: (m, n). Stable for any |z|: exp is only taken of -|z| and min(z, 0).
    """
    Z = as_float_array(Z)
    # e^min(z, 0) / (1 + e^-|z|) is 1 / (1 + e^-z) for z >= 0 and e^z / (1 + e^z) for z < 0,
    # bit for bit, without a branch: np.where on a random sign pattern costs more than an exp.
    A = np.minimum(Z, 0.0, out=np.empty_like(Z))  # out=: an array even for 0-d Z
    np.exp(A, out=A)
    D = np.abs(Z, out=np.empty_like(Z))
    np.negative(D, out=D)
    np.exp(D, out=D)
    D += 1.0
    A /= D
    return A


def sigmoid_derivative(Z):
    """The sigmoid's slope sigma'(z), computed from its output a = sigma(z). Z: (m, n) -> (m, n)."""
    return _sigmoid_slope(sigmoid(Z))


def _sigmoid_slope(A):
    """sigma' from the output a = sigma(z) (no exp), in a new array."""
    A = as_float_array(A)
    slope = np.subtract(1.0, A, out=np.empty_like(A))
    return np.multiply(A, slope, out=slope)


def sigmoid_backward(dA, Z):
    """dz = dA * sigma'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return multiply_into(sigmoid_derivative(Z), as_float_array(dA))


def tanh(Z):
    """Hyperbolic tangent, elementwise. Z: (m, n) -> A: (m, n)."""
    return np.tanh(as_float_array(Z))


def tanh_derivative(Z):
    """tanh's slope tanh'(z), computed from its output a = tanh(z). Z: (m, n) -> (m, n)."""
    return _tanh_slope(tanh(Z))


def _tanh_slope(A):
    """tanh' from the output a = tanh(z), in a new array."""
    A = as_float_array(A)
    slope = np.multiply(A, A, out=np.empty_like(A))
    return np.subtract(1.0, slope, out=slope)


def tanh_backward(dA, Z):
    """dz = dA * tanh'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return multiply_into(tanh_derivative(Z), as_float_array(dA))


def relu(Z):
    """max(0, z), elementwise. Z: (m, n) -> A: (m, n)."""
    return np.maximum(as_float_array(Z), 0.0)


def relu_derivative(Z):
    """ReLU's slope relu'(z), with the left slope at the kink z = 0, as in PyTorch. Z: (m, n) -> (m, n)."""
    return (np.asarray(Z) > 0).astype(float_dtype_of(Z))


def relu_backward(dA, Z):
    """dz = dA * relu'(Z), a new array. dA, Z: (m, n) -> dz: (m, n)."""
    dA, Z = as_float_array(dA), as_float_array(Z)
    # dA times the boolean mask is dA * 1.0 or dA * 0.0, with no float mask in memory.
    return np.multiply(dA, Z > 0, dtype=np.result_type(dA, Z))


# The piecewise functions below add the two pieces, each zero outside its side of the kink
# (x + 0 = x exactly), instead of choosing with np.where, which is several times slower than
# arithmetic on a random sign pattern. They agree with the branches up to the sign of a zero.

def leaky_relu(Z, alpha=0.01):
    """z where z > 0, else alpha * z. Z: (m, n) -> A: (m, n)."""
    Z = as_float_array(Z)
    A = multiply_into(np.minimum(Z, 0.0), as_weak_scalar(alpha))
    return add_into(A, np.maximum(Z, 0.0))


def leaky_relu_derivative(Z, alpha=0.01):
    """Leaky ReLU's slope, with the left slope at the kink z = 0, as in PyTorch. Z: (m, n) -> (m, n)."""
    Z = as_float_array(Z)
    positive = Z > 0
    slope = np.multiply(np.logical_not(positive), as_weak_scalar(alpha), dtype=Z.dtype)
    return add_into(slope, positive)


def leaky_relu_backward(dA, Z, alpha=0.01):
    """dz = dA * leaky_relu'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return multiply_into(leaky_relu_derivative(Z, alpha), as_float_array(dA))


def elu(Z, alpha=1.0):
    """z where z > 0, else alpha (exp(z) - 1). Z: (m, n) -> A: (m, n)."""
    Z = as_float_array(Z)
    A = np.minimum(Z, 0.0, out=np.empty_like(Z))
    np.expm1(A, out=A)  # 0 for z > 0
    A = multiply_into(A, as_weak_scalar(alpha))
    return add_into(A, np.maximum(Z, 0.0))


def elu_derivative(Z, alpha=1.0):
    """1 where z > 0, else alpha exp(z). Z: (m, n) -> (m, n)."""
    Z = as_float_array(Z)
    positive = Z > 0
    slope = np.minimum(Z, 0.0, out=np.empty_like(Z))
    np.exp(slope, out=slope)
    slope = multiply_into(slope, as_weak_scalar(alpha))
    slope = multiply_into(slope, np.logical_not(positive))
    return add_into(slope, positive)


def elu_backward(dA, Z, alpha=1.0):
    """dz = dA * elu'(Z). dA, Z: (m, n) -> dz: (m, n)."""
    return multiply_into(elu_derivative(Z, alpha), as_float_array(dA))


def identity(Z):
    """g(z) = z (regression outputs). Z: (m, n) -> A: (m, n), a float copy."""
    return np.array(as_float_array(Z))


def identity_derivative(Z):
    """g'(z) = 1. Z: (m, n) -> ones (m, n)."""
    return np.ones(np.shape(Z), dtype=float_dtype_of(Z))


def identity_backward(dA, Z):
    """dz = dA, a float copy. dA, Z: (m, n) -> dz: (m, n), of the dtype dA * g'(Z) would have."""
    return np.array(dA, dtype=np.result_type(float_dtype_of(dA), float_dtype_of(Z)))


def softmax(Z):
    """Row-wise softmax: each example's n scores become probabilities that sum to 1.

    Z: (m, n) -> A: (m, n). Subtracting each row's max first leaves the result unchanged
    (softmax(z) = softmax(z - c)) and keeps exp from overflowing.
    """
    Z = as_float_array(Z)
    E = np.subtract(Z, Z.max(axis=-1, keepdims=True))
    np.exp(E, out=E)
    E /= E.sum(axis=-1, keepdims=True)
    return E


def softmax_backward(dA, Z):
    """Vector-Jacobian product of the row-wise softmax.

    dA, Z: (m, n) -> dz: (m, n): each row of dA times the Jacobian of that row's softmax,
    without building the (n, n) Jacobian.
    """
    S = softmax(Z)
    dA = as_float_array(dA)
    inner = np.sum(dA * S, axis=-1, keepdims=True)
    return multiply_into(np.subtract(dA, inner), S)


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
