"""Dtype and in-place helpers shared by the library's layers, activations, losses and model.

The rule they implement: a float array keeps its dtype (float32 in, float32 out); anything else
becomes float64; a NumPy scalar hyperparameter never promotes a float32 array (NEP 50). The
``*_into`` functions write a result into a fresh temporary the caller owns, when it fits, to
spare an allocation; they give bit for bit what the plain expression gives.
"""
from __future__ import annotations

import numpy as np

__all__ = ["as_float_array", "float_dtype_of", "as_weak_scalar", "multiply_into", "add_into", "divide_into"]


def as_float_array(x):
    """``x`` as an ndarray of a floating dtype: a float array as it is (no copy), anything
    else (lists, scalars, integer or bool arrays) converted to float64."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def float_dtype_of(x):
    """The dtype ``as_float_array(x)`` would have, without converting ``x``."""
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def as_weak_scalar(value):
    """A NumPy scalar hyperparameter (``np.float64(0.1)``) as the Python number it holds.

    Under NumPy >= 2 (NEP 50) a Python float leaves a float32 array float32, while a
    ``np.float64`` scalar would promote it to float64. Anything else is returned as it is.
    """
    return value.item() if isinstance(value, np.generic) else value


def _fits(fresh, other) -> bool:
    """Can ``fresh op other`` be written into ``fresh``: same dtype and shape as the result?"""
    return (isinstance(fresh, np.ndarray) and np.result_type(fresh, other) == fresh.dtype
            and np.broadcast(fresh, other).shape == fresh.shape)


def multiply_into(fresh, other):
    """``other * fresh``, written into ``fresh`` (a temporary the caller owns and nobody else
    sees) when the product has its dtype and shape; a new array otherwise."""
    return np.multiply(other, fresh, out=fresh) if _fits(fresh, other) else other * fresh


def add_into(fresh, other):
    """``fresh + other``, written into ``fresh`` when it fits (see ``multiply_into``)."""
    return np.add(fresh, other, out=fresh) if _fits(fresh, other) else fresh + other


def divide_into(fresh, divisor):
    """``fresh / divisor``, in place when ``fresh`` is a float array the caller owns (bit for bit the same)."""
    if isinstance(fresh, np.ndarray) and fresh.dtype.kind == "f":
        fresh /= divisor
        return fresh
    return fresh / divisor


def matmul(a, b):
    """a @ b, without the "invalid value encountered in matmul" warning OpenBLAS can raise for finite
    inputs (a floating-point flag its kernels leave set: numpy#24067, OpenBLAS#1924). A NaN or inf in
    the inputs still shows in the product, where the checks look for it; overflow still warns."""
    with np.errstate(invalid="ignore"):
        return a @ b
