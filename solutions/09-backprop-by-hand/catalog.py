'''Answer catalog for 09-backprop-by-hand.

Names the setup cell provides (solutions/09-backprop-by-hand/backprop_by_hand.ipynb, tag "setup"): ``np`` (numpy)
and ``forward_pass`` (backproplab.bnmlp's forward pass). The correct train_by_hand calls backward_by_hand.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced

# a complete backward pass written layer by layer without a loop, and with the fused expressions where they fit
_UNROLLED = """\
    def backward_by_hand(X, Y, params, cache):
        c, m = cache, X.shape[0]
        P = c["E"] / c["sumE"]
        g = {"dlogP": -Y / m}
        g["dlogsum"] = (Y / m).sum(axis=1, keepdims=True)
        g["dsumE"] = g["dlogsum"] / c["sumE"]
        g["dE"] = np.repeat(g["dsumE"], c["E"].shape[1], axis=1)
        g["dshifted"] = (P - Y) / m
        g["dzmax"] = np.zeros_like(c["zmax"])
        g["dZ3"] = g["dshifted"].copy()
        g["dW3"] = np.einsum("ik,ij->kj", g["dZ3"], c["A2"])
        g["dB3"] = np.sum(g["dZ3"], axis=0)[None, :]
        previous = {1: X, 2: c["A1"]}
        dA = g["dZ3"] @ params["W3"]
        for l in (2, 1):
            g[f"dA{l}"] = dA
            dH = dA * (1.0 - np.tanh(c[f"H{l}"]) ** 2)
            g[f"dH{l}"] = dH
            g[f"dgamma{l}"] = np.sum(dH * c[f"N{l}"], axis=0, keepdims=True)
            g[f"dbeta{l}"] = np.sum(dH, axis=0, keepdims=True)
            dN = dH * params[f"gamma{l}"]
            g[f"dN{l}"] = dN
            g[f"dS{l}"] = np.sum(dN * c[f"D{l}"], axis=0, keepdims=True)
            g[f"dvar{l}"] = -0.5 * (c[f"var{l}"] + 1e-5) ** -1.5 * g[f"dS{l}"]
            g[f"dD{l}"] = dN * c[f"S{l}"] + g[f"dvar{l}"] * 2.0 * c[f"D{l}"] / m
            g[f"dmu{l}"] = -np.sum(g[f"dD{l}"], axis=0, keepdims=True)
            g[f"dZ{l}"] = g[f"dD{l}"] + np.mean(-g[f"dD{l}"], axis=0, keepdims=True)
            g[f"dW{l}"] = g[f"dZ{l}"].T @ previous[l]
            dA = g[f"dZ{l}"] @ params[f"W{l}"]
        return g
    """

VARIANTS = [
    # ---- correct, written differently -------------------------------------------------
    V("backward_by_hand", "fused-where-it-fits", None, _UNROLLED),
    V("backward_by_hand", "dE-with-broadcast-to", None, _replace(
        "backward_by_hand", 'np.ones_like(c["E"]) * g["dsumE"]', 'np.broadcast_to(g["dsumE"], c["E"].shape).copy()')),
    V("cross_entropy_backward", "softmax-then-subtract", None, """\
        def cross_entropy_backward(Z3, Y):
            E = np.exp(Z3 - np.max(Z3, axis=1, keepdims=True))
            P = E / np.sum(E, axis=1, keepdims=True)
            return (P - Y) / len(Z3)
        """),
    V("cross_entropy_backward", "exp-of-log-softmax", None, """\
        def cross_entropy_backward(Z3, Y):
            shifted = Z3 - Z3.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return (np.exp(log_p) - Y) / Z3.shape[0]
        """),
    V("batchnorm_backward_dZ", "sums-over-m", None, """\
        def batchnorm_backward_dZ(dH, N, S, gamma):
            m = dH.shape[0]
            return gamma * S / m * (m * dH - dH.sum(axis=0) - N * (dH * N).sum(axis=0))
        """),
    V("batchnorm_backward_dZ", "staged-chain", None, """\
        def batchnorm_backward_dZ(dH, N, S, gamma):
            m = dH.shape[0]
            D = N / S
            dN = dH * gamma
            dvar = -0.5 * S ** 3 * np.sum(dN * D, axis=0, keepdims=True)
            dD = dN * S + dvar * 2 * D / m
            return dD - np.mean(dD, axis=0, keepdims=True)
        """),
    V("train_by_hand", "fused-gradients", None, """\
        def train_by_hand(X, Y, params, running, learning_rate, epochs, batch_size):
            params = {k: v.copy() for k, v in params.items()}
            running = {k: v.copy() for k, v in running.items()}
            losses = []
            for _ in range(epochs):
                for start in range(0, len(X), batch_size):
                    Xb, Yb = X[start:start + batch_size], Y[start:start + batch_size]
                    b = len(Xb)
                    J, c = forward_pass(Xb, Yb, params)
                    dZ3 = cross_entropy_backward(c["Z3"], Yb)
                    grads = {"dW3": dZ3.T @ c["A2"], "dB3": dZ3.sum(axis=0, keepdims=True)}
                    dA = dZ3 @ params["W3"]
                    for l, A_prev in ((2, c["A1"]), (1, Xb)):
                        dH = dA * (1 - c[f"A{l}"] ** 2)
                        grads[f"dgamma{l}"] = (dH * c[f"N{l}"]).sum(axis=0, keepdims=True)
                        grads[f"dbeta{l}"] = dH.sum(axis=0, keepdims=True)
                        dZ = batchnorm_backward_dZ(dH, c[f"N{l}"], c[f"S{l}"], params[f"gamma{l}"])
                        grads[f"dW{l}"] = dZ.T @ A_prev
                        dA = dZ @ params[f"W{l}"]
                    for k in params:
                        params[k] = params[k] - learning_rate * grads["d" + k]
                    for l in (1, 2):
                        running[f"mean{l}"] = 0.9 * running[f"mean{l}"] + 0.1 * c[f"mu{l}"]
                        unbiased = np.sum(c[f"D{l}"] ** 2, axis=0, keepdims=True) / (b - 1)
                        running[f"var{l}"] = 0.9 * running[f"var{l}"] + 0.1 * unbiased
                    losses.append(float(J))
            return params, running, losses
        """),
    V("train_by_hand", "batch-list-and-np-var", None, """\
        def train_by_hand(X, Y, params, running, learning_rate, epochs, batch_size):
            starts = list(range(0, len(X), batch_size)) * epochs
            new_params, new_running, losses = dict(params), dict(running), []
            for start in starts:
                Xb, Yb = X[start:start + batch_size], Y[start:start + batch_size]
                J, cache = forward_pass(Xb, Yb, new_params)
                grads = backward_by_hand(Xb, Yb, new_params, cache)
                new_params = {k: new_params[k] - learning_rate * grads[f"d{k}"] for k in new_params}
                for l in (1, 2):
                    Z = cache[f"Z{l}"]
                    new_running[f"mean{l}"] = (1 - 0.1) * new_running[f"mean{l}"] + 0.1 * Z.mean(axis=0, keepdims=True)
                    new_running[f"var{l}"] = ((1 - 0.1) * new_running[f"var{l}"]
                                              + 0.1 * np.var(Z, axis=0, ddof=1, keepdims=True))
                losses.append(J)
            return new_params, new_running, losses
        """),
    # ---- backward_by_hand mistakes ----------------------------------------------------------
    V("backward_by_hand", "gamma-not-summed", "broadcast-sum", _replace(
        "backward_by_hand", 'g[f"dgamma{l}"] = (g[f"dH{l}"] * c[f"N{l}"]).sum(axis=0, keepdims=True)',
        'g[f"dgamma{l}"] = g[f"dH{l}"] * c[f"N{l}"]')),
    V("backward_by_hand", "logsum-summed-over-the-batch", "broadcast-sum", _replace(
        "backward_by_hand", 'g["dlogsum"] = -g["dlogP"].sum(axis=1, keepdims=True)',
        'g["dlogsum"] = -g["dlogP"].sum(axis=0, keepdims=True)')),
    V("backward_by_hand", "dB3-over-the-classes", "bias-axis", _replace(
        "backward_by_hand", 'g["dB3"] = g["dZ3"].sum(axis=0, keepdims=True)', 'g["dB3"] = g["dZ3"].sum(axis=1, keepdims=True)')),
    V("backward_by_hand", "shifted-without-the-exp-path", "missing-branch", _replace(
        "backward_by_hand", 'g["dshifted"] = g["dlogP"] + c["E"] * g["dE"]', 'g["dshifted"] = g["dlogP"]')),
    V("backward_by_hand", "zmax-from-the-direct-path", "max-shift", _replace(
        "backward_by_hand", 'g["dzmax"] = -g["dshifted"].sum(axis=1, keepdims=True)',
        'g["dzmax"] = -g["dlogP"].sum(axis=1, keepdims=True)')),
    V("backward_by_hand", "D-without-the-variance-path", "missing-branch", _replace(
        "backward_by_hand", ' + 2 * c[f"D{l}"] / m * g[f"dvar{l}"]', '')),
    V("backward_by_hand", "bessel-in-the-variance", "unbiased-variance", _replace(
        "backward_by_hand", '2 * c[f"D{l}"] / m * g[f"dvar{l}"]', '2 * c[f"D{l}"] / (m - 1) * g[f"dvar{l}"]')),
    V("backward_by_hand", "Z-without-the-mean-path", "missing-mean-terms", _replace(
        "backward_by_hand", 'g[f"dZ{l}"] = g[f"dD{l}"] + g[f"dmu{l}"] / m', 'g[f"dZ{l}"] = g[f"dD{l}"]')),
    V("backward_by_hand", "per-example-convention", "missing-mean", _replace(
        "backward_by_hand", 'g["dlogP"] = -Y / m', 'g["dlogP"] = -Y')),
    V("backward_by_hand", "dW-transposed", "transposed", _replace(
        "backward_by_hand", 'g["dW3"] = g["dZ3"].T @ c["A2"]', 'g["dW3"] = c["A2"].T @ g["dZ3"]')),
    V("backward_by_hand", "tanh-slope-at-A", "derivative-at-output", _replace(
        "backward_by_hand", '(1 - c[f"A{l}"] ** 2)', '(1 - np.tanh(c[f"A{l}"]) ** 2)')),
    V("backward_by_hand", "parameters-only", "missing-keys", _replace(
        "backward_by_hand", "    return g\n", '    return {k: v for k, v in g.items() if k[1:] in params}\n')),
    V("backward_by_hand", "stub", "not-implemented", """\
        def backward_by_hand(X, Y, params, cache):
            raise NotImplementedError()
        """),
    S("backward_by_hand", "calls-the-library", "forbidden-call", """\
        def backward_by_hand(X, Y, params, cache):
            from backproplab.bnmlp_reference import backward_reference

            return backward_reference(X, Y, params, cache)
        """),
    S("backward_by_hand", "autograd", "forbidden-call", """\
        def backward_by_hand(X, Y, params, cache):
            from backproplab.torch_reference import bnmlp_autograd

            return bnmlp_autograd(X, Y, params)[1]
        """),
    # ---- cross_entropy_backward mistakes ----------------------------------------------------
    V("cross_entropy_backward", "no-1/m", "missing-mean", _replace(
        "cross_entropy_backward", ") / Z3.shape[0]", ")")),
    V("cross_entropy_backward", "no-max-shift", "softmax-overflow", _replace(
        "cross_entropy_backward", "np.exp(Z3 - Z3.max(axis=1, keepdims=True))", "np.exp(Z3)")),
    V("cross_entropy_backward", "softmax-over-the-batch", "softmax-axis", """\
        def cross_entropy_backward(Z3, Y):
            P = np.exp(Z3 - Z3.max(axis=0, keepdims=True))
            return (P / P.sum(axis=0, keepdims=True) - Y) / Z3.shape[0]
        """),
    V("cross_entropy_backward", "diagonal-only", "jacobian-diagonal", """\
        def cross_entropy_backward(Z3, Y):
            P = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
            P = P / P.sum(axis=1, keepdims=True)
            return -Y / P * P * (1 - P) / Z3.shape[0]
        """),
    V("cross_entropy_backward", "Y-minus-P", "sign-flipped", """\
        def cross_entropy_backward(Z3, Y):
            P = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
            return (Y - P / P.sum(axis=1, keepdims=True)) / Z3.shape[0]
        """),
    V("cross_entropy_backward", "stops-at-logP", "wrong-values", """\
        def cross_entropy_backward(Z3, Y):
            return -Y / Z3.shape[0]
        """),
    S("cross_entropy_backward", "torch-cross-entropy", "forbidden-call", """\
        def cross_entropy_backward(Z3, Y):
            import torch

            Z = torch.tensor(Z3, requires_grad=True)
            torch.nn.functional.cross_entropy(Z, torch.tensor(Y.argmax(axis=1))).backward()
            return Z.grad.numpy()
        """),
    # ---- batchnorm_backward_dZ mistakes -----------------------------------------------------
    V("batchnorm_backward_dZ", "statistics-as-constants", "missing-mean-terms", """\
        def batchnorm_backward_dZ(dH, N, S, gamma):
            return gamma * S * dH
        """),
    V("batchnorm_backward_dZ", "no-variance-path", "missing-mean-terms", _replace(
        "batchnorm_backward_dZ", " - N * (dH * N).mean(axis=0, keepdims=True)", "")),
    V("batchnorm_backward_dZ", "bessel-factor", "unbiased-variance", """\
        def batchnorm_backward_dZ(dH, N, S, gamma):
            m = dH.shape[0]
            return gamma * S / m * (m * dH - dH.sum(axis=0) - m / (m - 1) * N * (dH * N).sum(axis=0))
        """),
    V("batchnorm_backward_dZ", "means-over-features", "broadcast-sum", _replace(
        "batchnorm_backward_dZ", "axis=0", "axis=1")),
    V("batchnorm_backward_dZ", "no-gamma", "wrong-values", _replace(
        "batchnorm_backward_dZ", "return gamma * S * (", "return S * (")),
    V("batchnorm_backward_dZ", "extra-1/m", "extra-mean", _replace(
        "batchnorm_backward_dZ", "return gamma * S * (", "return gamma * S / dH.shape[0] * (")),
    S("batchnorm_backward_dZ", "lecture-08-library", "forbidden-call", """\
        def batchnorm_backward_dZ(dH, N, S, gamma):
            from backproplab.batchnorm import batchnorm_backward

            cache = (N / S, N, 0 * S, S ** -2.0 - 1e-5, gamma, 0 * gamma, 1e-5)
            return batchnorm_backward(dH, cache)[0]
        """),
    # ---- train_by_hand mistakes -------------------------------------------------------------
    V("train_by_hand", "biased-running-variance", "bessel-correction", _replace(
        "train_by_hand", 'cache[f"var{l}"] * b / (b - 1)', 'cache[f"var{l}"]')),
    V("train_by_hand", "momentum-reversed", "wrong-values", _replace(
        "train_by_hand", "0.9 * running", "0.1 * running").replace("0.1 * cache", "0.9 * cache")),
    V("train_by_hand", "running-never-updated", "wrong-values", _replace(
        "train_by_hand", '            for l in (1, 2):\n', '            for l in ():\n')),
    V("train_by_hand", "summed-loss", "missing-mean", _replace(
        "train_by_hand", 'learning_rate * grads["d" + key]', 'learning_rate * b * grads["d" + key]').replace(
        "losses.append(J)", "losses.append(J * b)")),
    V("train_by_hand", "uphill", "sign-flipped", _replace(
        "train_by_hand", "value - learning_rate", "value + learning_rate")),
    V("train_by_hand", "skips-the-last-batch", "wrong-values", _replace(
        "train_by_hand", "range(0, X.shape[0], batch_size)", "range(0, X.shape[0] - batch_size + 1, batch_size)")),
    V("train_by_hand", "updates-in-place", "mutated-input", _replace(
        "train_by_hand", 'params = {key: value - learning_rate * grads["d" + key] for key, value in params.items()}',
        'for key in params:\n                params[key] -= learning_rate * grads["d" + key]')),
    V("train_by_hand", "stub", "not-implemented", """\
        def train_by_hand(X, Y, params, running, learning_rate, epochs, batch_size):
            raise NotImplementedError()
        """),
    S("train_by_hand", "calls-the-library-backward", "forbidden-call", _replace(
        "train_by_hand", "grads = backward_by_hand(Xb, Yb, params, cache)",
        "from backproplab.bnmlp_reference import backward_reference\n            grads = backward_reference(Xb, Yb, params, cache)")),
]
