"""Shared hypothesis strategies for Backprop Lab's tests (a stable API: others import it).

Every float is bounded and finite (no NaN, no infinity, no subnormals), and every array is
float64 in DESIGN.md's batch-first layout (``cast`` makes a float32 copy of a drawn case).
Shapes are random and, by default, non-square (m != n) so that a transposed result shows as
a shape error, while m = 1 and n = 1 still occur. Keep the sizes small: finite differences
cost two forward passes per entry.

Public API
----------
Scalars and sizes
    ``finite_floats(min_value=-10, max_value=10)``   bounded floats
    ``dims(min_value=1, max_value=MAX_DIM)``         one size (m, n_l, ...)
    ``shapes(..., allow_square=False)``              (m, n) pairs
    ``seeds()``                                       ints for ``numpy.random.default_rng``
Arrays (float64)
    ``arrays(shape, min_value=-10, max_value=10)``   bounded entries, any shape
    ``matrices(...)``                                 a random (m, n) shape, then ``arrays``
    ``kink_free_arrays(shape, margin=0.05, ...)``    entries with |x| >= margin (ReLU's kink)
    ``probabilities(shape, eps=0.01)``                entries in [eps, 1 - eps]
Labels
    ``binary_labels(shape)``                          0.0 / 1.0 entries
    ``one_hot(m, K)``                                 one 1.0 per row
Networks
    ``layer_sizes(min_layers=1, max_layers=4, ...)`` [n0, n1, ..., nL]
    ``HIDDEN_ACTIVATIONS``, ``OUTPUT_ACTIVATIONS``    names from ``backproplab.activations``
    ``labels_for(output, m, nL)``                     a Y strategy matching an output activation
    ``networks(...)``                                 a ``Network(X, Y, params, activations)``
Dtypes
    ``FLOAT_DTYPES``                                  float32 and float64, the dtypes the library keeps
    ``cast(value, dtype)``                            a copy of arrays (in tuples, lists, dicts, a
                                                      Network) in another dtype; other values as they are
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "MAX_DIM", "HIDDEN_ACTIVATIONS", "OUTPUT_ACTIVATIONS", "Network",
    "finite_floats", "dims", "shapes", "seeds",
    "arrays", "matrices", "kink_free_arrays", "probabilities",
    "binary_labels", "one_hot", "labels_for", "layer_sizes", "networks",
    "FLOAT_DTYPES", "cast",
]

MAX_DIM = 5
# Hidden layers may use any elementwise activation; outputs are the three loss pairings.
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "identity")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax", "identity")


def finite_floats(min_value=-10.0, max_value=10.0):
    """Floats in [min_value, max_value]; never NaN, infinite or subnormal."""
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False, width=64)


def dims(min_value=1, max_value=MAX_DIM):
    """One dimension (a batch size m or a layer width n_l)."""
    return st.integers(min_value, max_value)


def shapes(min_m=1, max_m=MAX_DIM, min_n=1, max_n=MAX_DIM, allow_square=False):
    """(m, n) pairs; by default m != n, so that transposes show, with m = 1 or n = 1 included."""
    pairs = st.tuples(dims(min_m, max_m), dims(min_n, max_n))
    return pairs if allow_square else pairs.filter(lambda mn: mn[0] != mn[1])


def seeds():
    """Seeds for ``numpy.random.default_rng``."""
    return st.integers(0, 2**32 - 1)


def arrays(shape, min_value=-10.0, max_value=10.0, elements=None):
    """float64 arrays of ``shape`` (a tuple or a strategy of tuples) with bounded entries."""
    return hnp.arrays(np.float64, shape, elements=elements or finite_floats(min_value, max_value))


@st.composite
def matrices(draw, min_value=-10.0, max_value=10.0, **shape_kwargs):
    """A float64 matrix of a random non-square shape (``shape_kwargs`` go to ``shapes``)."""
    return draw(arrays(draw(shapes(**shape_kwargs)), min_value, max_value))


def _kink_free_floats(margin, max_abs):
    magnitude = finite_floats(margin, max_abs)
    return st.builds(lambda sign, size: sign * size, st.sampled_from((-1.0, 1.0)), magnitude)


def kink_free_arrays(shape, margin=0.05, max_abs=5.0):
    """float64 arrays whose entries satisfy margin <= |x| <= max_abs.

    Central differences with h << margin never straddle ReLU's (or leaky ReLU's, ELU's)
    kink at 0, so derivative checks stay valid.
    """
    return hnp.arrays(np.float64, shape, elements=_kink_free_floats(margin, max_abs))


def probabilities(shape, eps=0.01):
    """float64 arrays with entries in [eps, 1 - eps] (outputs a sigmoid can produce)."""
    return arrays(shape, eps, 1.0 - eps)


def binary_labels(shape):
    """float64 arrays of 0.0 / 1.0 labels."""
    return hnp.arrays(np.float64, shape, elements=st.sampled_from((0.0, 1.0)))


@st.composite
def one_hot(draw, m, K):
    """(m, K) float64 one-hot rows (each example has exactly one class)."""
    classes = draw(st.lists(st.integers(0, K - 1), min_size=m, max_size=m))
    return np.eye(K)[classes]


def labels_for(output, m, nL):
    """A strategy for Y (m, nL) that suits the output activation's paired loss."""
    if output == "sigmoid":
        return binary_labels((m, nL))
    if output == "softmax":
        return one_hot(m, nL)
    return arrays((m, nL), -2.0, 2.0)


def layer_sizes(min_layers=1, max_layers=4, max_units=MAX_DIM, min_output=1):
    """[n0, n1, ..., nL] with L in [min_layers, max_layers] and every n_l in [1, max_units].

    ``min_output`` sets the smallest nL (softmax needs 2 classes to be interesting).
    """
    def build(sizes_and_out):
        sizes, out = sizes_and_out
        return sizes + [out]

    return st.tuples(
        st.integers(min_layers, max_layers).flatmap(
            lambda L: st.lists(dims(1, max_units), min_size=L, max_size=L)),
        dims(min_output, max_units),
    ).map(build)


class Network(NamedTuple):
    """One drawn network: X (m, n0), Y (m, nL), params {W1, B1, ...}, activations (L names)."""

    X: np.ndarray
    Y: np.ndarray
    params: dict
    activations: list


@st.composite
def networks(draw, min_layers=1, max_layers=4, hidden=HIDDEN_ACTIVATIONS, outputs=OUTPUT_ACTIVATIONS,
             max_m=MAX_DIM, max_units=MAX_DIM, weight_scale=1.0):
    """A small MLP with random sizes, activations, params (N(0, weight_scale^2/n_{l-1})) and data.

    Weights and biases come from a drawn seed (fast, well spread values); the input X has
    entries in [-2, 2] and Y matches the output activation. Softmax outputs get nL >= 2.
    """
    output = draw(st.sampled_from(outputs))
    sizes = draw(layer_sizes(min_layers, max_layers, max_units, min_output=2 if output == "softmax" else 1))
    L = len(sizes) - 1
    activations = [draw(st.sampled_from(hidden)) for _ in range(L - 1)] + [output]
    m = draw(dims(1, max_m))
    rng = np.random.default_rng(draw(seeds()))
    params = {}
    for l in range(1, L + 1):
        params[f"W{l}"] = rng.standard_normal((sizes[l], sizes[l - 1])) * weight_scale / np.sqrt(sizes[l - 1])
        params[f"B{l}"] = rng.standard_normal((1, sizes[l])) * 0.5
    X = rng.uniform(-2.0, 2.0, (m, sizes[0]))
    Y = draw(labels_for(output, m, sizes[-1]))
    return Network(X, Y, params, activations)


FLOAT_DTYPES = (np.float32, np.float64)


def cast(value, dtype):
    """A copy of ``value`` with every float ndarray in ``dtype``: arrays inside tuples, lists, dicts
    and a ``Network`` too (its activation names stay). Other values (names, ints) come back as they are.

    Casting a float32 case back to float64 gives the float64 computation on the very same numbers,
    so float32 results can be compared with it at float32's precision.
    """
    if isinstance(value, np.ndarray):
        return value.astype(dtype) if value.dtype.kind == "f" else value
    if isinstance(value, Network):
        return Network(*(cast(item, dtype) for item in value))
    if isinstance(value, dict):
        return {key: cast(item, dtype) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(cast(item, dtype) for item in value)
    return value
