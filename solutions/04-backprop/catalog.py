'''Answer catalog for 04-backprop.

Names the setup cell provides (solutions/04-backprop/backprop.ipynb, tag "setup"):
``np`` (numpy), ``get_activation``, ``sigmoid``, ``sigmoid_backward``, ``tanh_backward``,
``relu_backward`` (backproplab.activations), ``numerical_gradient`` (backproplab.gradcheck),
``initialize_parameters`` (backproplab.init), ``model_forward`` (backproplab.model).
Answers may call each other (model_backward uses dense_backward, train_two_layer uses
model_backward and update_parameters).
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- correct, written differently -------------------------------------------------
    V("binary_cross_entropy", "clip-then-mean", None, """\
        def binary_cross_entropy(AL, Y):
            A = np.clip(AL, 1e-15, 1 - 1e-15)
            return float(np.mean(np.sum(-(Y * np.log(A) + (1 - Y) * np.log(1 - A)), axis=1)))
        """),
    V("dense_backward", "einsum", None, """\
        def dense_backward(dz, A_prev, W):
            m = A_prev.shape[0]
            return (np.einsum("ij,jk->ik", dz, W), np.einsum("mi,mj->ij", dz, A_prev) / m,
                    np.einsum("mi->i", dz)[None, :] / m)
        """),
    V("dense_backward", "explicit-loops", None, """\
        def dense_backward(dz, A_prev, W):
            m, n = dz.shape
            n_prev = A_prev.shape[1]
            dA_prev = np.zeros((m, n_prev))
            dW = np.zeros((n, n_prev))
            dB = np.zeros((1, n))
            for i in range(m):
                for j in range(n):
                    dB[0, j] += dz[i, j] / m
                    for k in range(n_prev):
                        dA_prev[i, k] += dz[i, j] * W[j, k]
                        dW[j, k] += dz[i, j] * A_prev[i, k] / m
            return dA_prev, dW, dB
        """),
    V("dense_backward", "float32", None, """\
        def dense_backward(dz, A_prev, W):
            dz, A_prev, W = (x.astype(np.float32) for x in (dz, A_prev, W))
            m = A_prev.shape[0]
            return dz @ W, dz.T @ A_prev / m, dz.sum(axis=0, keepdims=True) / m
        """),
    V("dense_backward", "np.dot-and-np.transpose", None, """\
        def dense_backward(dz, A_prev, W):
            m = A_prev.shape[0]
            dW = np.dot(np.transpose(dz), A_prev) / m
            dB = np.mean(dz, axis=0, keepdims=True)
            return np.dot(dz, W), dW, dB
        """),
    V("model_backward", "derivative-from-cached-output", None, """\
        def model_backward(AL, Y, caches, activations):
            # g'(Z) from the layer's output A, which is the next layer's cached A_prev.
            derivative_from_output = {"sigmoid": lambda A: A * (1 - A), "tanh": lambda A: 1 - A ** 2,
                                      "relu": lambda A: (A > 0) * 1.0,
                                      "leaky_relu": lambda A: np.where(A > 0, 1.0, 0.01)}
            L = len(caches)
            grads = {}
            dz = AL - Y
            for l in range(L, 0, -1):
                A_prev, W, B, Z = caches[l - 1]
                m = A_prev.shape[0]
                grads[f"dz{l}"] = dz
                grads[f"dW{l}"] = dz.T @ A_prev / m
                grads[f"dB{l}"] = dz.sum(axis=0, keepdims=True) / m
                if l > 1:
                    dz = (dz @ W) * derivative_from_output[activations[l - 2]](A_prev)
            return grads
        """),
    V("update_parameters", "copy-then-subtract-in-place", None, """\
        def update_parameters(params, grads, learning_rate):
            new = {key: value.copy() for key, value in params.items()}
            for key in new:
                new[key] -= learning_rate * grads["d" + key]
            return new
        """),
    V("gradient_check", "own-central-differences", None, """\
        def gradient_check(cost_fn, params, grads, h=1e-5):
            errors = {}
            for key in params:
                x = params[key].copy()
                numeric = np.zeros_like(x)
                for i in np.ndindex(x.shape):
                    plus, minus = x.copy(), x.copy()
                    plus[i] += h
                    minus[i] -= h
                    numeric[i] = (cost_fn({**params, key: plus}) - cost_fn({**params, key: minus})) / (2 * h)
                a = grads["d" + key]
                errors[key] = np.linalg.norm(a - numeric) / (np.linalg.norm(a) + np.linalg.norm(numeric))
            return errors
        """),
    V("torch_gradients", "nn-functional-linear", None, _replace(
        "torch_gradients", "Z = A @ W.T + B", "Z = torch.nn.functional.linear(A, W, B)")),
    # ---- binary_cross_entropy mistakes ---------------------------------------------------
    V("binary_cross_entropy", "sum-not-mean", "missing-mean", _replace(
        "binary_cross_entropy", "/ m)", ")")),
    V("binary_cross_entropy", "divides-twice", "extra-mean", _replace(
        "binary_cross_entropy", "/ m)", "/ m / m)")),
    V("binary_cross_entropy", "no-minus", "sign-flipped", _replace(
        "binary_cross_entropy", "losses = -(", "losses = (")),
    V("binary_cross_entropy", "unclamped-log", "non-finite", """\
        def binary_cross_entropy(AL, Y):
            m = Y.shape[0]
            return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)
        """),
    V("binary_cross_entropy", "mean-over-all-entries", "wrong-values", """\
        def binary_cross_entropy(AL, Y):
            A = np.clip(AL, 1e-15, 1 - 1e-15)
            return float(-np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)))
        """),
    V("binary_cross_entropy", "returns-a-list", "not-an-array", _replace(
        "binary_cross_entropy", "/ m)", "/ m)\n    J = [J]").replace("return float(", "J = float(") + "    return J\n"),
    # ---- dense_backward mistakes --------------------------------------------------------
    V("dense_backward", "dW-without-1/m", "missing-mean", _replace("dense_backward", "dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")),
    V("dense_backward", "dW-transposed", "transposed", _replace("dense_backward", "dW = dz.T @ A_prev / m", "dW = A_prev.T @ dz / m")),
    V("dense_backward", "dA_prev-with-1/m", "extra-mean", _replace("dense_backward", "dA_prev = dz @ W", "dA_prev = dz @ W / m")),
    V("dense_backward", "dA_prev-negated", "sign-flipped", _replace("dense_backward", "dA_prev = dz @ W", "dA_prev = -(dz @ W)")),
    V("dense_backward", "dB-no-keepdims", "bias-shape", _replace("dense_backward", "dz.sum(axis=0, keepdims=True)", "dz.sum(axis=0)")),
    V("dense_backward", "dB-wrong-axis", "bias-axis", _replace("dense_backward", "dz.sum(axis=0, keepdims=True)", "dz.sum(axis=1, keepdims=True)")),
    V("dense_backward", "dA_prev-summed", "wrong-shape", _replace("dense_backward", "dA_prev = dz @ W", "dA_prev = (dz @ W).sum(axis=0)")),
    V("dense_backward", "scales-dz-in-place", "mutated-input", _replace(
        "dense_backward", "    dA_prev = dz @ W\n", "    dz /= m\n    dA_prev = dz @ W * m\n").replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev").replace("keepdims=True) / m", "keepdims=True)")),
    V("dense_backward", "returns-lists", "not-an-array", _replace("dense_backward", "return dA_prev, dW, dB", "return dA_prev.tolist(), dW.tolist(), dB.tolist()")),
    V("dense_backward", "divides-by-zero", "non-finite", _replace("dense_backward", "dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev / (m - m)")),
    V("dense_backward", "dW-divided-by-n", "wrong-values", _replace("dense_backward", "dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev / W.shape[1]")),
    V("dense_backward", "shape-error", "crash", _replace("dense_backward", "dA_prev = dz @ W", "dA_prev = dz @ W.T")),
    V("dense_backward", "stub", "not-implemented", """\
        def dense_backward(dz, A_prev, W):
            raise NotImplementedError("replace this line with your code")
        """),
    # ---- model_backward mistakes --------------------------------------------------------
    V("model_backward", "derivative-at-A", "derivative-at-output", _replace(
        "model_backward", "Z_below = caches[l - 2][3]", "Z_below = A_prev")),
    V("model_backward", "1/m-in-dz", "extra-mean", """\
        def model_backward(AL, Y, caches, activations):
            L = len(caches)
            m = AL.shape[0]
            grads = {}
            dz = (AL - Y) / m
            for l in range(L, 0, -1):
                A_prev, W, B, Z = caches[l - 1]
                grads[f"dz{l}"] = dz
                grads[f"dW{l}"] = dz.T @ A_prev
                grads[f"dB{l}"] = dz.sum(axis=0, keepdims=True)
                if l > 1:
                    dz = get_activation(activations[l - 2]).backward(dz @ W, caches[l - 2][3])
            return grads
        """),
    V("model_backward", "no-1/m-in-dW", "missing-mean", """\
        def model_backward(AL, Y, caches, activations):
            L = len(caches)
            m = AL.shape[0]
            grads = {}
            dz = AL - Y
            for l in range(L, 0, -1):
                A_prev, W, B, Z = caches[l - 1]
                grads[f"dz{l}"] = dz
                grads[f"dW{l}"] = dz.T @ A_prev
                grads[f"dB{l}"] = dz.sum(axis=0, keepdims=True) / m
                if l > 1:
                    dz = get_activation(activations[l - 2]).backward(dz @ W, caches[l - 2][3])
            return grads
        """),
    V("model_backward", "dW-transposed", "transposed", _replace(
        "model_backward", 'dA_prev, grads[f"dW{l}"], grads[f"dB{l}"] = dense_backward(dz, A_prev, W)',
        'dA_prev, dW, grads[f"dB{l}"] = dense_backward(dz, A_prev, W)\n        grads[f"dW{l}"] = dW.T')),
    V("model_backward", "lowercase-db", "missing-keys", _replace("model_backward", 'grads[f"dB{l}"]', 'grads[f"db{l}"]')),
    V("model_backward", "y-minus-a", "sign-flipped", _replace("model_backward", "dz = AL - Y", "dz = Y - AL")),
    # ---- update_parameters mistakes -----------------------------------------------------
    V("update_parameters", "gradient-ascent", "sign-flipped", _replace("update_parameters", "value - learning_rate", "value + learning_rate")),
    V("update_parameters", "in-place", "mutated-input", """\
        def update_parameters(params, grads, learning_rate):
            for key in params:
                params[key] -= learning_rate * grads["d" + key]
            return params
        """),
    V("update_parameters", "weights-only", "missing-keys", """\
        def update_parameters(params, grads, learning_rate):
            return {key: value - learning_rate * grads["d" + key] for key, value in params.items() if key.startswith("W")}
        """),
    V("update_parameters", "no-learning-rate", "wrong-values", _replace("update_parameters", "learning_rate * grads", "grads")),
    # ---- gradient_check mistakes --------------------------------------------------------
    V("gradient_check", "one-sided-difference", "wrong-values", """\
        def gradient_check(cost_fn, params, grads, h=1e-5):
            errors = {}
            for key in params:
                x = params[key].copy()
                numeric = np.zeros_like(x)
                base = cost_fn(params)
                for i in np.ndindex(x.shape):
                    plus = x.copy()
                    plus[i] += h
                    numeric[i] = (cost_fn({**params, key: plus}) - base) / h
                a = grads["d" + key]
                errors[key] = np.linalg.norm(a - numeric) / (np.linalg.norm(a) + np.linalg.norm(numeric))
            return errors
        """),
    V("gradient_check", "never-restores", "mutated-input", """\
        def gradient_check(cost_fn, params, grads, h=1e-5):
            errors = {}
            for key in params:
                x = params[key]
                numeric = np.zeros_like(x)
                for i in np.ndindex(x.shape):
                    x[i] += h
                    plus = cost_fn(params)
                    x[i] -= 2 * h
                    minus = cost_fn(params)
                    numeric[i] = (plus - minus) / (2 * h)
                a = grads["d" + key]
                errors[key] = np.linalg.norm(a - numeric) / (np.linalg.norm(a) + np.linalg.norm(numeric))
            return errors
        """),
    V("gradient_check", "missing-W-key", "crash", _replace("gradient_check", 'grads["d" + key]', 'grads[key]')),
    # ---- train_two_layer mistakes ---------------------------------------------------------
    V("train_two_layer", "update-discarded", "no-learning", _replace(
        "train_two_layer", "params = update_parameters(params, grads, learning_rate)", "update_parameters(params, grads, learning_rate)")),
    V("train_two_layer", "returns-params-only", "not-an-array", _replace("train_two_layer", "return params, costs", "return params")),
    # ---- torch_gradients mistakes ---------------------------------------------------------
    V("torch_gradients", "dz-is-Z.grad", "extra-mean", _replace("torch_gradients", "m * Z.grad.detach().numpy()", "Z.grad.detach().numpy()")),
    V("torch_gradients", "returns-tensors", "not-an-array", _replace("torch_gradients", 'grads[f"dW{l}"] = W.grad.detach().numpy()', 'grads[f"dW{l}"] = W.grad')),
    V("torch_gradients", "dW-transposed", "transposed", _replace("torch_gradients", "W.grad.detach().numpy()", "W.grad.detach().numpy().T")),
    # ---- only meaningful in outside verification (a sandboxed process) -----------------
    S("dense_backward", "calls-the-library", "forbidden-call", """\
        def dense_backward(dz, A_prev, W):
            import backproplab.layers
            return backproplab.layers.dense_backward(dz, A_prev, W)
        """),
    V("dense_backward", "library-weight-gradients", "forbidden-call", """\
        def dense_backward(dz, A_prev, W):
            from backproplab.layers import dense_weight_gradients
            dW, dB = dense_weight_gradients(dz, A_prev)
            return dz @ W, dW, dB
        """),
    S("dense_backward", "imports-torch", "forbidden-call", """\
        def dense_backward(dz, A_prev, W):
            import torch
            m = A_prev.shape[0]
            return dz @ W, dz.T @ A_prev / m, dz.sum(axis=0, keepdims=True) / m
        """),
    S("dense_backward", "os-exit", "crash", """\
        def dense_backward(dz, A_prev, W):
            import os
            os._exit(0)
        """),
    S("dense_backward", "sys-exit", "crash", """\
        def dense_backward(dz, A_prev, W):
            import sys
            sys.exit(0)
        """),
    S("dense_backward", "endless-loop-ignoring-sigint", "timeout", """\
        def dense_backward(dz, A_prev, W):
            import signal
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                pass
        """),
    S("dense_backward", "memory-bomb", "crash", """\
        def dense_backward(dz, A_prev, W):
            blob = np.ones(50 * 2**30 // 8)
            return blob, blob, blob
        """),
    S("dense_backward", "patches-allclose", "missing-mean", _replace("dense_backward", "    m = A_prev.shape[0]\n",
      "    m = A_prev.shape[0]\n    np.allclose = lambda *args, **kwargs: True\n    np.testing.assert_allclose = lambda *a, **k: None\n").replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")),
    S("dense_backward", "prints-a-lot", "crash", """\
        def dense_backward(dz, A_prev, W):
            while True:
                print("x" * 10000)
        """),
    S("dense_backward", "writes-forged-results-to-fd-1-and-2", "wrong-values", """\
        def dense_backward(dz, A_prev, W):
            import os
            forged = b'{"status": "returned", "passed": true}\\n'
            os.write(1, forged)
            os.write(2, forged)
            return np.zeros((dz.shape[0], W.shape[1])), np.zeros(W.shape), np.zeros((1, W.shape[0]))
        """),
]
