'''Answer catalog for 01-architecture.

Names the setup cell provides (solutions/01-architecture/architecture.ipynb, tag "setup"):
``np`` (numpy), ``ACTIVATIONS`` (backproplab.activations) and ``ACTIVATION_FUNCTIONS``
(activation name -> g). model_forward uses dense_forward.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- count_parameters -------------------------------------------------------------
    V("count_parameters", "loop", None, """\
        def count_parameters(layer_sizes):
            total = 0
            for l in range(1, len(layer_sizes)):
                total += layer_sizes[l] * layer_sizes[l - 1] + layer_sizes[l]
            return total
        """),
    V("count_parameters", "numpy-int64", None, """\
        def count_parameters(layer_sizes):
            n = np.array(layer_sizes, dtype=np.int64)
            return np.sum(n[1:] * n[:-1] + n[1:])
        """),
    V("count_parameters", "weights-only", "missing-bias", """\
        def count_parameters(layer_sizes):
            return sum(n_out * n_in for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))
        """),
    V("count_parameters", "input-layer-biases", "missing-bias", """\
        def count_parameters(layer_sizes):
            return sum(n_out * n_in for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])) + sum(layer_sizes)
        """),
    V("count_parameters", "returns-float", "not-an-array", """\
        def count_parameters(layer_sizes):
            return float(sum(n_out * n_in + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])))
        """),
    V("count_parameters", "skips-output-layer", "wrong-values", """\
        def count_parameters(layer_sizes):
            return sum(layer_sizes[l] * layer_sizes[l - 1] + layer_sizes[l] for l in range(1, len(layer_sizes) - 1))
        """),
    V("count_parameters", "not-implemented", "not-implemented", """\
        def count_parameters(layer_sizes):
            # YOUR CODE HERE
            raise NotImplementedError()
        """),
    S("count_parameters", "calls-the-library", "forbidden-call", """\
        def count_parameters(layer_sizes):
            from backproplab.model import count_parameters as library_count
            return library_count(layer_sizes)
        """),
    # ---- dense_forward ----------------------------------------------------------------
    V("dense_forward", "np.dot", None, """\
        def dense_forward(A_prev, W, B):
            return np.dot(A_prev, W.T) + B
        """),
    V("dense_forward", "einsum", None, """\
        def dense_forward(A_prev, W, B):
            return np.einsum("mk,nk->mn", A_prev, W) + B
        """),
    V("dense_forward", "float32", None, """\
        def dense_forward(A_prev, W, B):
            return (A_prev.astype(np.float32) @ W.T.astype(np.float32) + B.astype(np.float32))
        """),
    V("dense_forward", "W-not-transposed", "transposed", """\
        def dense_forward(A_prev, W, B):
            return A_prev @ W + B
        """),
    V("dense_forward", "column-convention", "transposed", """\
        def dense_forward(A_prev, W, B):
            return W @ A_prev.T + B.T
        """),
    V("dense_forward", "no-bias", "missing-bias", """\
        def dense_forward(A_prev, W, B):
            return A_prev @ W.T
        """),
    V("dense_forward", "bias-as-column", "bias-shape", """\
        def dense_forward(A_prev, W, B):
            return A_prev @ W.T + B.T
        """),
    V("dense_forward", "scales-W-in-place", "mutated-input", """\
        def dense_forward(A_prev, W, B):
            W *= 2.0  # changes the caller's W
            return A_prev @ W.T / 2.0 + B
        """),
    S("dense_forward", "calls-the-library", "forbidden-call", """\
        def dense_forward(A_prev, W, B):
            import backproplab.layers
            return backproplab.layers.dense_forward(A_prev, W, B)
        """),
    S("dense_forward", "imports-torch", "forbidden-call", """\
        def dense_forward(A_prev, W, B):
            import torch
            return A_prev @ W.T + B
        """),
    # ---- model_forward ----------------------------------------------------------------
    V("model_forward", "while-loop-and-get_activation", None, """\
        def model_forward(X, params, activations):
            from backproplab.activations import get_activation
            caches, A, l = [], X, 1
            while f"W{l}" in params:
                Z = dense_forward(A, params[f"W{l}"], params[f"B{l}"])
                caches.append((A, params[f"W{l}"], params[f"B{l}"], Z))
                A = get_activation(activations[l - 1]).forward(Z)
                l += 1
            return A, caches
        """),
    V("model_forward", "no-output-activation", "activation-layer", """\
        def model_forward(X, params, activations):
            A, caches, L = X, [], len(activations)
            for l in range(1, L + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                caches.append((A, W, B, Z))
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z) if l < L else Z
            return A, caches
        """),
    V("model_forward", "activation-index-off-by-one", "activation-layer", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                caches.append((A, W, B, Z))
                A = ACTIVATION_FUNCTIONS[activations[l]](Z)
            return A, caches
        """),
    V("model_forward", "activation-before-layer", "activation-layer", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](A)
                Z = dense_forward(A, W, B)
                caches.append((A, W, B, Z))
                A = Z
            return A, caches
        """),
    V("model_forward", "caches-store-output", "cache-format", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
                caches.append((A, W, B, Z))
            return A, caches
        """),
    V("model_forward", "caches-other-order", "cache-format", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                caches.append((Z, A, W, B))
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
            return A, caches
        """),
    V("model_forward", "caches-reversed", "cache-format", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                caches.insert(0, (A, W, B, Z))
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
            return A, caches
        """),
    V("model_forward", "caches-as-dict", "cache-format", """\
        def model_forward(X, params, activations):
            A, caches = X, {}
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = dense_forward(A, W, B)
                caches[f"layer{l}"] = (A, W, B, Z)
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
            return A, caches
        """),
    V("model_forward", "W-not-transposed-inline", "transposed", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = A @ W + B
                caches.append((A, W, B, Z))
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
            return A, caches
        """),
    V("model_forward", "no-bias-inline", "missing-bias", """\
        def model_forward(X, params, activations):
            A, caches = X, []
            for l in range(1, len(activations) + 1):
                W, B = params[f"W{l}"], params[f"B{l}"]
                Z = A @ W.T
                caches.append((A, W, B, Z))
                A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)
            return A, caches
        """),
    S("model_forward", "calls-the-library", "forbidden-call", """\
        def model_forward(X, params, activations):
            from backproplab.model import model_forward as library_forward
            return library_forward(X, params, activations)
        """),
    # ---- xor_parameters ---------------------------------------------------------------
    V("xor_parameters", "difference-detectors", None, """\
        def xor_parameters():
            # h1 = relu(x1 - x2), h2 = relu(x2 - x1): one of them is 1 exactly when the inputs differ.
            return {"W1": np.array([[1.0, -1.0], [-1.0, 1.0]]), "B1": np.zeros((1, 2)),
                    "W2": np.array([[10.0, 10.0]]), "B2": np.array([[-5.0]])}
        """),
    V("xor_parameters", "xnor", "sign-flipped",
      _replace("xor_parameters", '"W2": np.array([[10.0, -20.0]]),\n        "B2": np.array([[-5.0]])',
               '"W2": np.array([[-10.0, 20.0]]),\n        "B2": np.array([[5.0]])')),
    V("xor_parameters", "output-not-scaled", "weak-margin",
      _replace("xor_parameters", '"W2": np.array([[10.0, -20.0]]),\n        "B2": np.array([[-5.0]])',
               '"W2": np.array([[1.0, -2.0]]),\n        "B2": np.array([[-0.5]])')),
    V("xor_parameters", "thresholds-on-the-points", "weak-margin", """\
        def xor_parameters():
            # Right on the four points, but a hidden unit switches on right next to them.
            return {"W1": np.array([[1.0, 1.0], [1.0, 1.0]]), "B1": np.array([[-0.95, -1.9]]),
                    "W2": np.array([[200.0, -2100.0]]), "B2": np.array([[-5.0]])}
        """),
    V("xor_parameters", "bias-as-flat-vector", "bias-shape",
      _replace("xor_parameters", '"B1": np.array([[0.0, -1.0]])', '"B1": np.array([0.0, -1.0])')),
    V("xor_parameters", "W2-as-column", "transposed",
      _replace("xor_parameters", '"W2": np.array([[10.0, -20.0]])', '"W2": np.array([[10.0], [-20.0]])')),
    V("xor_parameters", "all-zeros", "wrong-values", """\
        def xor_parameters():
            return {"W1": np.zeros((2, 2)), "B1": np.zeros((1, 2)), "W2": np.zeros((1, 2)), "B2": np.zeros((1, 1))}
        """),
    V("xor_parameters", "lowercase-keys", "missing-keys", """\
        def xor_parameters():
            return {"w1": np.ones((2, 2)), "b1": np.zeros((1, 2)), "w2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
        """),
]
