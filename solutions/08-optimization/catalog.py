'''Answer catalog for 08-optimization.

Names the setup cell provides (solutions/08-optimization/optimization.ipynb, tag "setup"): ``np`` (numpy).
The answers do not call each other.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- correct, written differently -------------------------------------------------
    V("momentum_update", "dict-comprehensions", None, """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            velocity = {k: beta * velocity[k] + grads[k] for k in velocity}
            return {k: W - learning_rate * velocity["d" + k] for k, W in params.items()}, velocity
        """),
    V("momentum_update", "copy-then-update-in-place", None, """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            params = {k: np.array(W, copy=True) for k, W in params.items()}
            velocity = {k: np.array(V, copy=True) for k, V in velocity.items()}
            for k in params:
                velocity["d" + k] *= beta
                velocity["d" + k] += grads["d" + k]
                params[k] -= learning_rate * velocity["d" + k]
            return params, velocity
        """),
    V("rmsprop_update", "square-with-multiply", None, _replace(
        "rmsprop_update", "(1 - beta) * g ** 2", "(1.0 - beta) * (g * g)")),
    V("rmsprop_update", "comprehensions", None, """\
        def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
            cache = {k: beta * cache[k] + (1 - beta) * np.square(grads[k]) for k in cache}
            return ({k: W - learning_rate * grads["d" + k] / (np.sqrt(cache["d" + k]) + eps)
                     for k, W in params.items()}, cache)
        """),
    V("adam_update", "step-size-form", None, """\
        def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
            m = {k: beta1 * m[k] + (1 - beta1) * grads[k] for k in m}
            v = {k: beta2 * v[k] + (1 - beta2) * grads[k] ** 2 for k in v}
            step = learning_rate / (1 - beta1 ** t)
            denominators = {k: np.sqrt(v[k]) / np.sqrt(1 - beta2 ** t) + eps for k in v}
            return {k: W - step * m["d" + k] / denominators["d" + k] for k, W in params.items()}, m, v
        """),
    V("adam_update", "loop-with-local-moments", None, """\
        def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
            out, m_out, v_out = {}, {}, {}
            for name, W in params.items():
                key = "d" + name
                g = grads[key]
                m_out[key] = beta1 * m[key] + (1 - beta1) * g
                v_out[key] = beta2 * v[key] + (1 - beta2) * np.square(g)
                m_hat, v_hat = m_out[key] / (1 - beta1 ** t), v_out[key] / (1 - beta2 ** t)
                out[name] = W - learning_rate * m_hat / (np.sqrt(v_hat) + eps)
            return out, m_out, v_out
        """),
    V("batchnorm_forward", "np-var-and-std", None, """\
        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            mu = X.mean(axis=0, keepdims=True)
            var = X.var(axis=0, keepdims=True)
            X_hat = (X - mu) / np.sqrt(var + eps)
            return gamma * X_hat + beta, (X, X_hat, mu, var, gamma, beta, eps)
        """),
    V("batchnorm_forward", "step-by-step-graph", None, """\
        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            m = X.shape[0]
            mu = X.sum(axis=0, keepdims=True) / m
            centered = X - mu
            var = (centered ** 2).sum(axis=0, keepdims=True) / m
            inverse_std = 1.0 / np.sqrt(var + eps)
            X_hat = centered * inverse_std
            return X_hat * gamma + beta, (X, X_hat, mu, var, gamma, beta, eps)
        """),
    V("batchnorm_backward", "staged-through-the-graph", None, """\
        def batchnorm_backward(dout, cache):
            X, X_hat, mu, var, gamma, beta, eps = cache
            m = X.shape[0]
            dX_hat = dout * gamma
            inverse_std = 1.0 / np.sqrt(var + eps)
            dvar = np.sum(dX_hat * (X - mu), axis=0, keepdims=True) * -0.5 * inverse_std ** 3
            dmu = -np.sum(dX_hat, axis=0, keepdims=True) * inverse_std
            dX = dX_hat * inverse_std + dvar * 2.0 * (X - mu) / m + dmu / m
            return dX, np.mean(dout * X_hat, axis=0, keepdims=True), np.mean(dout, axis=0, keepdims=True)
        """),
    V("batchnorm_backward", "cs231n-compact-with-1/m-for-gamma", None, """\
        def batchnorm_backward(dout, cache):
            X, X_hat, mu, var, gamma, beta, eps = cache
            m = X.shape[0]
            dX_hat = dout * gamma
            dX = (m * dX_hat - dX_hat.sum(axis=0) - X_hat * (dX_hat * X_hat).sum(axis=0)) / (m * np.sqrt(var + eps))
            return dX, (dout * X_hat).sum(axis=0, keepdims=True) / m, dout.sum(axis=0, keepdims=True) / m
        """),
    # ---- momentum_update mistakes ---------------------------------------------------------
    V("momentum_update", "ema-form", "momentum-ema", _replace(
        "momentum_update", "beta * velocity[\"d\" + key] + grads[\"d\" + key]",
        "beta * velocity[\"d\" + key] + (1 - beta) * grads[\"d\" + key]")),
    V("momentum_update", "step-with-the-old-velocity", "stale-state", """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            new_params = {k: W - learning_rate * velocity["d" + k] for k, W in params.items()}
            new_velocity = {k: beta * velocity[k] + grads[k] for k in velocity}
            return new_params, new_velocity
        """),
    V("momentum_update", "plus-instead-of-minus", "sign-flipped", _replace(
        "momentum_update", "params[key] - learning_rate", "params[key] + learning_rate")),
    V("momentum_update", "velocity-ignored-in-the-step", "no-learning", _replace(
        "momentum_update", "learning_rate * new_velocity[\"d\" + key]", "learning_rate * grads[\"d\" + key]")),
    V("momentum_update", "updates-params-in-place", "mutated-input", """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            new_velocity = {k: beta * velocity[k] + grads[k] for k in velocity}
            for k in params:
                params[k] -= learning_rate * new_velocity["d" + k]
            return params, new_velocity
        """),
    V("momentum_update", "velocity-keyed-like-params", "missing-keys", """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            new_velocity = {k: beta * velocity["d" + k] + grads["d" + k] for k in params}
            return {k: W - learning_rate * new_velocity[k] for k, W in params.items()}, new_velocity
        """),
    V("momentum_update", "stub", "not-implemented", """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            raise NotImplementedError()
        """),
    S("momentum_update", "calls-the-library", "forbidden-call", """\
        def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
            from backproplab.optimizers import momentum_update as library

            return library(params, grads, velocity, learning_rate, beta)
        """),
    # ---- rmsprop_update mistakes ----------------------------------------------------------
    V("rmsprop_update", "eps-under-the-root", "eps-placement", _replace(
        "rmsprop_update", "(np.sqrt(new_cache[\"d\" + key]) + eps)", "np.sqrt(new_cache[\"d\" + key] + eps)")),
    V("rmsprop_update", "divides-by-the-old-cache", "stale-state", """\
        def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
            new_params = {k: W - learning_rate * grads["d" + k] / (np.sqrt(cache["d" + k]) + eps)
                          for k, W in params.items()}
            return new_params, {k: beta * cache[k] + (1 - beta) * grads[k] ** 2 for k in cache}
        """),
    V("rmsprop_update", "no-square-root", "wrong-values", _replace(
        "rmsprop_update", "(np.sqrt(new_cache[\"d\" + key]) + eps)", "(new_cache[\"d\" + key] + eps)")),
    V("rmsprop_update", "no-1-minus-beta", "wrong-values", _replace(
        "rmsprop_update", "(1 - beta) * g ** 2", "g ** 2")),
    V("rmsprop_update", "uphill", "sign-flipped", _replace(
        "rmsprop_update", "params[key] - learning_rate", "params[key] + learning_rate")),
    V("rmsprop_update", "returns-only-params", "not-an-array", _replace(
        "rmsprop_update", "return new_params, new_cache", "return new_params")),
    S("rmsprop_update", "torch-optimizer", "forbidden-call", """\
        def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
            import torch

            return torch.optim.RMSprop, cache
        """),
    # ---- adam_update mistakes -------------------------------------------------------------
    V("adam_update", "no-bias-correction", "missing-bias-correction", _replace(
        "adam_update", "learning_rate * m_hat / (np.sqrt(v_hat) + eps)",
        "learning_rate * new_m[\"d\" + key] / (np.sqrt(new_v[\"d\" + key]) + eps)")),
    V("adam_update", "eps-under-the-root", "eps-placement", _replace(
        "adam_update", "(np.sqrt(v_hat) + eps)", "np.sqrt(v_hat + eps)")),
    V("adam_update", "t-plus-one", "off-by-one", _replace(
        "adam_update", "(1 - beta1 ** t)", "(1 - beta1 ** (t + 1))").replace(
        "(1 - beta2 ** t)", "(1 - beta2 ** (t + 1))")),
    V("adam_update", "returns-corrected-moments", "wrong-values", """\
        def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
            m_hat = {k: (beta1 * m[k] + (1 - beta1) * grads[k]) / (1 - beta1 ** t) for k in m}
            v_hat = {k: (beta2 * v[k] + (1 - beta2) * grads[k] ** 2) / (1 - beta2 ** t) for k in v}
            new_params = {k: W - learning_rate * m_hat["d" + k] / (np.sqrt(v_hat["d" + k]) + eps)
                          for k, W in params.items()}
            return new_params, m_hat, v_hat
        """),
    V("adam_update", "steps-with-the-old-moments", "stale-state", """\
        def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
            new_params = {k: W - learning_rate * (m["d" + k] / (1 - beta1 ** t))
                          / (np.sqrt(v["d" + k] / (1 - beta2 ** t)) + eps) for k, W in params.items()}
            new_m = {k: beta1 * m[k] + (1 - beta1) * grads[k] for k in m}
            new_v = {k: beta2 * v[k] + (1 - beta2) * grads[k] ** 2 for k in v}
            return new_params, new_m, new_v
        """),
    V("adam_update", "moments-swapped", "swapped-outputs", _replace(
        "adam_update", "return new_params, new_m, new_v", "return new_params, new_v, new_m")),
    S("adam_update", "calls-the-library", "forbidden-call", """\
        def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
            import backproplab.optimizers

            return backproplab.optimizers.adam_update(params, grads, m, v, t, learning_rate, beta1, beta2, eps)
        """),
    # ---- batchnorm_forward mistakes -------------------------------------------------------
    V("batchnorm_forward", "unbiased-variance", "unbiased-variance", _replace(
        "batchnorm_forward", "var = np.mean((X - mu) ** 2, axis=0, keepdims=True)",
        "var = np.var(X, axis=0, ddof=1, keepdims=True)")),
    V("batchnorm_forward", "eps-after-the-root", "eps-placement", _replace(
        "batchnorm_forward", "np.sqrt(var + eps)", "(np.sqrt(var) + eps)")),
    V("batchnorm_forward", "no-scale-and-shift", "wrong-values", _replace(
        "batchnorm_forward", "out = gamma * X_hat + beta", "out = X_hat")),
    V("batchnorm_forward", "statistics-over-features", "wrong-values", _replace(
        "batchnorm_forward", "axis=0, keepdims=True)\n    var = np.mean((X - mu) ** 2, axis=0,",
        "axis=1, keepdims=True)\n    var = np.mean((X - mu) ** 2, axis=1,")),
    V("batchnorm_forward", "cache-without-X-hat", "cache-format", _replace(
        "batchnorm_forward", "(X, X_hat, mu, var, gamma, beta, eps)", "(X, mu, var, gamma, beta, eps)")),
    V("batchnorm_forward", "standardizes-in-place", "mutated-input", """\
        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            original = X.copy()
            mu = X.mean(axis=0, keepdims=True)
            var = X.var(axis=0, keepdims=True)
            X -= mu
            X /= np.sqrt(var + eps)
            return gamma * X + beta, (original, X.copy(), mu, var, gamma, beta, eps)
        """),
    S("batchnorm_forward", "torch-batchnorm", "forbidden-call", """\
        def batchnorm_forward(X, gamma, beta, eps=1e-5):
            import torch

            return torch.nn.functional.batch_norm(torch.tensor(X), None, None, training=True).numpy(), None
        """),
    # ---- batchnorm_eval --------------------------------------------------------------------
    V("batchnorm_eval", "np-var-ddof-1", None, """\
        def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
            running_mean, running_var = np.zeros((1, X.shape[1])), np.ones((1, X.shape[1]))
            for batch in batches:
                running_mean = (1 - momentum) * running_mean + momentum * batch.mean(axis=0, keepdims=True)
                running_var = (1 - momentum) * running_var + momentum * batch.var(axis=0, ddof=1, keepdims=True)
            return running_mean, running_var, gamma * (X - running_mean) / np.sqrt(running_var + eps) + beta
        """),
    V("batchnorm_eval", "moves-toward-each-batch", None, """\
        def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
            running_mean, running_var = np.zeros((1, X.shape[1])), np.ones((1, X.shape[1]))
            for batch in batches:
                m = len(batch)
                mu = batch.sum(axis=0, keepdims=True) / m
                running_mean = running_mean + momentum * (mu - running_mean)
                running_var = running_var + momentum * (((batch - mu) ** 2).sum(axis=0, keepdims=True) / (m - 1)
                                                        - running_var)
            X_hat = (X - running_mean) / np.sqrt(running_var + eps)
            return running_mean, running_var, X_hat * gamma + beta
        """),
    V("batchnorm_eval", "momentum-reversed", "running-momentum-reversed", _replace(
        "batchnorm_eval", "(1 - momentum) * running_mean + momentum * mu",
        "momentum * running_mean + (1 - momentum) * mu").replace(
        "(1 - momentum) * running_var + momentum * unbiased_var", "momentum * running_var + (1 - momentum) * unbiased_var")),
    V("batchnorm_eval", "biased-running-variance", "bessel-correction", _replace(
        "batchnorm_eval", "/ (m - 1)", "/ m")),
    V("batchnorm_eval", "batch-statistics-at-inference", "batch-stats-at-inference", _replace(
        "batchnorm_eval", "out = gamma * (X - running_mean) / np.sqrt(running_var + eps) + beta",
        "out = gamma * (X - X.mean(axis=0)) / np.sqrt(X.var(axis=0) + eps) + beta")),
    V("batchnorm_eval", "eps-after-the-root", "eps-placement", _replace(
        "batchnorm_eval", "np.sqrt(running_var + eps)", "(np.sqrt(running_var) + eps)")),
    V("batchnorm_eval", "starts-at-the-first-batch", "wrong-values", """\
        def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
            running_mean = batches[0].mean(axis=0, keepdims=True)
            running_var = batches[0].var(axis=0, ddof=1, keepdims=True)
            for batch in batches[1:]:
                running_mean = (1 - momentum) * running_mean + momentum * batch.mean(axis=0, keepdims=True)
                running_var = (1 - momentum) * running_var + momentum * batch.var(axis=0, ddof=1, keepdims=True)
            return running_mean, running_var, gamma * (X - running_mean) / np.sqrt(running_var + eps) + beta
        """),
    V("batchnorm_eval", "normalizes-X-in-place", "mutated-input", """\
        def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
            running_mean, running_var = np.zeros((1, X.shape[1])), np.ones((1, X.shape[1]))
            for batch in batches:
                running_mean = (1 - momentum) * running_mean + momentum * batch.mean(axis=0, keepdims=True)
                running_var = (1 - momentum) * running_var + momentum * batch.var(axis=0, ddof=1, keepdims=True)
            X -= running_mean
            X /= np.sqrt(running_var + eps)
            return running_mean, running_var, gamma * X + beta
        """),
    S("batchnorm_eval", "calls-the-library", "forbidden-call", """\
        def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
            from backproplab.batchnorm import batchnorm_eval as library

            return library(batches, X, gamma, beta, momentum, eps)
        """),
    # ---- batchnorm_backward mistakes ------------------------------------------------------
    V("batchnorm_backward", "statistics-as-constants", "missing-mean-terms", _replace(
        "batchnorm_backward", """    dX = (dX_hat - np.mean(dX_hat, axis=0, keepdims=True)
          - X_hat * np.mean(dX_hat * X_hat, axis=0, keepdims=True)) / np.sqrt(var + eps)""",
        "    dX = dX_hat / np.sqrt(var + eps)")),
    V("batchnorm_backward", "no-variance-path", "missing-mean-terms", _replace(
        "batchnorm_backward", """
          - X_hat * np.mean(dX_hat * X_hat, axis=0, keepdims=True))""", ")")),
    V("batchnorm_backward", "sums-for-gamma-and-beta", "missing-mean", _replace(
        "batchnorm_backward", "axis=0, keepdims=True) / m\n    dbeta", "axis=0, keepdims=True)\n    dbeta").replace(
        "dbeta = np.sum(dout, axis=0, keepdims=True) / m", "dbeta = np.sum(dout, axis=0, keepdims=True)")),
    V("batchnorm_backward", "dgamma-from-X", "wrong-values", _replace(
        "batchnorm_backward", "np.sum(dout * X_hat, axis=0", "np.sum(dout * X, axis=0")),
    V("batchnorm_backward", "keepdims-lost", "bias-shape", _replace(
        "batchnorm_backward", "np.sum(dout * X_hat, axis=0, keepdims=True) / m", "np.sum(dout * X_hat, axis=0) / m").replace(
        "np.sum(dout, axis=0, keepdims=True) / m", "np.sum(dout, axis=0) / m")),
    V("batchnorm_backward", "extra-1/m-in-dX", "extra-mean", _replace(
        "batchnorm_backward", "/ np.sqrt(var + eps)\n", "/ np.sqrt(var + eps) / m\n")),
    S("batchnorm_backward", "calls-the-library", "forbidden-call", """\
        def batchnorm_backward(dout, cache):
            from backproplab.batchnorm import batchnorm_backward as library

            return library(dout, cache)
        """),
]
