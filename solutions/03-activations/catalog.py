'''Answer catalog for 03-activations.

Names the setup cell provides (solutions/03-activations/activations.ipynb, tag "setup"):
``np`` (numpy) only. The backward answers call the student's own forward functions
(``sigmoid``, ``tanh``) defined by earlier answer cells.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- correct, written differently (some warn: warnings must not cost points) ----------
    V("sigmoid", "naive-but-finite", None, """\
        def sigmoid(Z):
            return 1.0 / (1.0 + np.exp(-Z))
        """),
    V("leaky_relu", "maximum-form", None, _replace("leaky_relu", "np.where(Z > 0, Z, alpha * Z)", "np.maximum(Z, alpha * Z)")),
    V("softmax", "keepdims-via-reshape", None, """\
        def softmax(Z):
            E = np.exp(Z - np.max(Z, axis=1).reshape(-1, 1))
            return E / np.sum(E, axis=1).reshape(-1, 1)
        """),
    V("relu_backward", "mask-product", None, _replace("relu_backward", "np.where(Z > 0, dA, 0.0)", "dA * (Z > 0)")),
    V("tanh_backward", "float32", None, _replace("tanh_backward", "A = tanh(Z)\n    return dA * (1.0 - A**2)",
                                                "A = np.tanh(Z.astype(np.float32))\n    return dA.astype(np.float32) * (1 - A * A)")),
    V("sigmoid_backward", "copy-then-in-place", None, """\
        def sigmoid_backward(dA, Z):
            dz = dA.copy()
            dz *= sigmoid(Z) * (1 - sigmoid(Z))
            return dz
        """),
    # ---- mistakes -------------------------------------------------------------------------
    V("sigmoid", "overflowing-ratio", "non-finite", """\
        def sigmoid(Z):
            return np.exp(Z) / (1 + np.exp(Z))
        """),
    V("sigmoid", "exp-of-plus-z", "wrong-values", _replace("sigmoid", "np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))",
                                                          "np.where(Z >= 0, E / (1.0 + E), 1.0 / (1.0 + E))")),
    V("tanh", "naive-formula", "non-finite", """\
        def tanh(Z):
            return (np.exp(Z) - np.exp(-Z)) / (np.exp(Z) + np.exp(-Z))
        """),
    V("relu", "in-place", "mutated-input", """\
        def relu(Z):
            Z[Z < 0] = 0
            return Z
        """),
    V("relu", "returns-a-list", "not-an-array", _replace("relu", "0.0)", "0.0).tolist()")),
    V("leaky_relu", "ignores-alpha", "wrong-values", _replace("leaky_relu", "alpha * Z", "0.01 * Z")),
    V("softmax", "no-max-subtraction", "softmax-overflow", _replace("softmax", "np.exp(Z - Z.max(axis=1, keepdims=True))", "np.exp(Z)")),
    V("softmax", "normalized-per-column", "softmax-axis", _replace("softmax", "axis=1", "axis=0").replace("axis=1", "axis=0")),
    V("softmax", "keepdims-lost", "crash", _replace("softmax", "E.sum(axis=1, keepdims=True)", "E.sum(axis=1)")),
    V("sigmoid_backward", "derivative-at-A", "derivative-at-output", _replace("sigmoid_backward", "A = sigmoid(Z)", "A = sigmoid(sigmoid(Z))")),
    V("sigmoid_backward", "negated", "sign-flipped", _replace("sigmoid_backward", "return dA * A", "return -dA * A")),
    V("tanh_backward", "derivative-at-A", "derivative-at-output", _replace("tanh_backward", "A = tanh(Z)", "A = tanh(tanh(Z))")),
    V("tanh_backward", "forgets-dA", "wrong-values", _replace("tanh_backward", "dA * (1.0 - A**2)", "1.0 - A**2")),
    V("relu_backward", "greater-or-equal", "relu-boundary", _replace("relu_backward", "Z > 0", "Z >= 0")),
    V("relu_backward", "zeroes-dA-in-place", "mutated-input", """\
        def relu_backward(dA, Z):
            dA[Z <= 0] = 0
            return dA
        """),
    V("relu_backward", "summed-over-examples", "wrong-shape", _replace("relu_backward", "np.where(Z > 0, dA, 0.0)", "np.where(Z > 0, dA, 0.0).sum(axis=0)")),
    V("leaky_relu_backward", "greater-or-equal", "relu-boundary", _replace("leaky_relu_backward", "Z > 0", "Z >= 0")),
    V("sigmoid_backward", "library-derivative", "forbidden-call", """\
        def sigmoid_backward(dA, Z):
            from backproplab.activations import sigmoid_derivative
            return dA * sigmoid_derivative(Z)
        """),
    V("leaky_relu_backward", "stub", "not-implemented", """\
        def leaky_relu_backward(dA, Z, alpha=0.01):
            raise NotImplementedError
        """),
]
