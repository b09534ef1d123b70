'''Answer catalog for 06-overfitting.

Names the setup cell provides (solutions/06-overfitting/overfitting.ipynb, tag "setup"):
``np`` (numpy) only: every exercise is a few lines of NumPy.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- correct, written differently -------------------------------------------------
    V("l2_penalty", "frobenius-norm", None, """\
        def l2_penalty(params, lambd, m):
            total = 0.0
            for l in range(1, len(params) // 2 + 1):
                total += np.linalg.norm(params[f"W{l}"], "fro") ** 2
            return lambd / (2 * m) * total
        """),
    V("l2_penalty", "einsum-float32", None, """\
        def l2_penalty(params, lambd, m):
            weights = [v.astype(np.float32) for k, v in params.items() if k[0] == "W"]
            return np.float32(lambd) / (2 * m) * sum(np.einsum("ij,ij->", W, W) for W in weights)
        """),
    V("l2_backward", "copy-then-scale-in-place", None, """\
        def l2_backward(W, lambd, m):
            dW_extra = W.copy()
            dW_extra *= lambd / m
            return dW_extra
        """),
    V("dropout_forward", "boolean-mask-strict", None, """\
        def dropout_forward(A, alpha, rng):
            mask = rng.uniform(size=A.shape) > alpha
            return np.where(mask, A / (1 - alpha), 0.0), mask
        """),
    V("dropout_forward", "binomial", None, """\
        def dropout_forward(A, alpha, rng):
            mask = rng.binomial(1, 1 - alpha, size=A.shape)
            return A * mask / (1 - alpha), mask
        """),
    V("dropout_backward", "where", None, """\
        def dropout_backward(dA, mask, alpha):
            return np.where(mask.astype(bool), dA / (1 - alpha), 0.0)
        """),
    V("early_stopping_epoch", "epochs-since-best", None, """\
        def early_stopping_epoch(val_costs, patience=5):
            best_index = 0
            for index, cost in enumerate(val_costs):
                if cost < val_costs[best_index]:
                    best_index = index
                elif index - best_index >= patience:
                    break
            return best_index
        """),
    V("early_stopping_epoch", "infinite-start-numpy-int", None, """\
        def early_stopping_epoch(val_costs, patience=5):
            costs = np.asarray(val_costs, dtype=float)
            best, best_index, waited = np.inf, np.int64(-1), 0
            for index in range(len(costs)):
                if costs[index] < best:
                    best, best_index, waited = costs[index], np.int64(index), 0
                else:
                    waited += 1
                    if waited == patience:
                        return best_index
            return best_index
        """),
    # ---- l2_penalty mistakes --------------------------------------------------------------
    V("l2_penalty", "missing-half", "l2-factor", _replace("l2_penalty", "lambd / (2 * m)", "lambd / m")),
    V("l2_penalty", "missing-1/m", "l2-factor", _replace("l2_penalty", "lambd / (2 * m)", "lambd / 2")),
    V("l2_penalty", "penalizes-biases", "l2-factor", _replace("l2_penalty", ' if key.startswith("W")', "")),
    V("l2_penalty", "norm-not-squared", "wrong-values", _replace(
        "l2_penalty", "np.sum(np.square(value))", "np.linalg.norm(value)")),
    V("l2_penalty", "squares-in-place", "mutated-input", """\
        def l2_penalty(params, lambd, m):
            total = 0.0
            for key, W in params.items():
                if key.startswith("W"):
                    W **= 2
                    total += W.sum()
            return float(lambd / (2 * m) * total)
        """),
    V("l2_penalty", "returns-per-layer-list", "not-an-array", """\
        def l2_penalty(params, lambd, m):
            return [lambd / (2 * m) * np.sum(W ** 2) for key, W in params.items() if key.startswith("W")]
        """),
    V("l2_penalty", "stub", "not-implemented", """\
        def l2_penalty(params, lambd, m):
            raise NotImplementedError()
        """),
    # ---- l2_backward mistakes ---------------------------------------------------------------
    V("l2_backward", "keeps-the-half", "l2-factor", _replace("l2_backward", "lambd / m * W", "lambd / (2 * m) * W")),
    V("l2_backward", "two-lambda-over-m", "l2-factor", _replace("l2_backward", "lambd / m * W", "2 * lambd / m * W")),
    V("l2_backward", "missing-1/m", "l2-factor", _replace("l2_backward", "lambd / m * W", "lambd * W")),
    V("l2_backward", "scales-W-in-place", "mutated-input", """\
        def l2_backward(W, lambd, m):
            W *= lambd / m
            return W
        """),
    V("l2_backward", "minus", "sign-flipped", _replace("l2_backward", "lambd / m * W", "-lambd / m * W")),
    V("l2_backward", "transposed", "transposed", _replace("l2_backward", "lambd / m * W", "lambd / m * W.T")),
    V("l2_backward", "summed-over-rows", "wrong-shape", _replace(
        "l2_backward", "lambd / m * W", "lambd / m * W.sum(axis=0, keepdims=True)")),
    # ---- dropout_forward mistakes -------------------------------------------------------------
    V("dropout_forward", "alpha-as-keep-probability", "dropout-mask", _replace(
        "dropout_forward", "rng.random(A.shape) >= alpha", "rng.random(A.shape) < alpha")),
    V("dropout_forward", "no-scale", "dropout-scale", _replace("dropout_forward", "A * mask / (1 - alpha)", "A * mask")),
    V("dropout_forward", "times-keep-probability", "dropout-scale", _replace(
        "dropout_forward", "A * mask / (1 - alpha)", "A * mask * (1 - alpha)")),
    V("dropout_forward", "mask-not-returned", "dropout-mask", _replace(
        "dropout_forward", "return A_out, mask", "return A_out")),
    V("dropout_forward", "scale-inside-mask", "dropout-mask", """\
        def dropout_forward(A, alpha, rng):
            mask = (rng.random(A.shape) >= alpha) / (1 - alpha)
            return A * mask, mask
        """),
    V("dropout_forward", "returned-mask-is-a-second-draw", "dropout-mask", """\
        def dropout_forward(A, alpha, rng):
            A_out = A * (rng.random(A.shape) >= alpha) / (1 - alpha)
            mask = (rng.random(A.shape) >= alpha).astype(float)
            return A_out, mask
        """),
    V("dropout_forward", "returns-dropped-indicator", "dropout-mask", """\
        def dropout_forward(A, alpha, rng):
            dropped = rng.random(A.shape) < alpha
            return np.where(dropped, 0.0, A / (1 - alpha)), dropped
        """),
    V("dropout_forward", "one-mask-per-unit", "wrong-shape", """\
        def dropout_forward(A, alpha, rng):
            mask = (rng.random((1, A.shape[1])) >= alpha).astype(float)
            return A * mask / (1 - alpha), mask
        """),
    V("dropout_forward", "drops-in-place", "mutated-input", """\
        def dropout_forward(A, alpha, rng):
            mask = (rng.random(A.shape) >= alpha).astype(float)
            A *= mask / (1 - alpha)
            return A, mask
        """),
    # ---- dropout_backward mistakes ------------------------------------------------------------
    V("dropout_backward", "no-scale", "dropout-scale", _replace("dropout_backward", "dA * mask / (1 - alpha)", "dA * mask")),
    V("dropout_backward", "times-keep-probability", "dropout-scale", _replace(
        "dropout_backward", "dA * mask / (1 - alpha)", "dA * mask * (1 - alpha)")),
    V("dropout_backward", "inverted-mask", "dropout-mask", _replace(
        "dropout_backward", "dA * mask / (1 - alpha)", "dA * (1 - mask) / (1 - alpha)")),
    V("dropout_backward", "fresh-mask", "dropout-mask", """\
        def dropout_backward(dA, mask, alpha):
            new_mask = np.random.default_rng().random(dA.shape) >= alpha
            return dA * new_mask / (1 - alpha)
        """),
    V("dropout_backward", "ignores-mask", "dropout-mask", _replace(
        "dropout_backward", "dA * mask / (1 - alpha)", "dA / (1 - alpha)")),
    V("dropout_backward", "in-place", "mutated-input", """\
        def dropout_backward(dA, mask, alpha):
            dA *= mask
            dA /= 1 - alpha
            return dA
        """),
    # ---- early_stopping_epoch mistakes ------------------------------------------------------
    V("early_stopping_epoch", "argmin-of-the-whole-curve", "early-stop-lookahead", """\
        def early_stopping_epoch(val_costs, patience=5):
            return int(np.argmin(val_costs))
        """),
    V("early_stopping_epoch", "returns-the-stopping-epoch", "early-stop-restore", """\
        def early_stopping_epoch(val_costs, patience=5):
            best, waited = val_costs[0], 0
            for index in range(1, len(val_costs)):
                if val_costs[index] < best:
                    best, waited = val_costs[index], 0
                else:
                    waited += 1
                    if waited >= patience:
                        return index
            return len(val_costs) - 1
        """),
    V("early_stopping_epoch", "ties-count-as-improvement", "early-stop-patience", _replace(
        "early_stopping_epoch", "if val_costs[index] < best:", "if val_costs[index] <= best:")),
    V("early_stopping_epoch", "waits-one-epoch-too-long", "early-stop-patience", _replace(
        "early_stopping_epoch", "if waited >= patience:", "if waited > patience:")),
    V("early_stopping_epoch", "one-based-epoch", "off-by-one", _replace(
        "early_stopping_epoch", "return best_index", "return best_index + 1")),
    V("early_stopping_epoch", "returns-the-best-cost", "not-an-array", _replace(
        "early_stopping_epoch", "return best_index", "return best")),
    # ---- only meaningful in outside verification (a sandboxed process) -----------------
    S("dropout_forward", "calls-the-library", "forbidden-call", """\
        def dropout_forward(A, alpha, rng):
            from backproplab.layers import dropout_forward as library_dropout
            return library_dropout(A, alpha, rng)
        """),
    S("l2_backward", "imports-torch", "forbidden-call", """\
        def l2_backward(W, lambd, m):
            import torch
            return lambd / m * W
        """),
]
