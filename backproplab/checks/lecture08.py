"""Checks for lecture 08-optimization.

Exercises: momentum_update(params, grads, velocity, learning_rate, beta=0.9) -> (params, velocity);
rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8) -> (params, cache);
adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8) -> (params, m, v);
batchnorm_forward(X, gamma, beta, eps=1e-5) -> (out, cache); batchnorm_backward(dout, cache) -> (dX, dgamma, dbeta);
batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5) -> (running_mean, running_var, out).

Oracles: the library (backproplab.optimizers, backproplab.batchnorm) is the reference. The update rules are
also run by torch.optim in float64, from the same state: SGD(momentum=beta, dampening=0) with the velocity as
its momentum_buffer, RMSprop(alpha=beta, eps=eps) with the cache as its square_avg (torch's default alpha is
0.99; both put eps after the square root), Adam(betas, eps) with m, v as exp_avg, exp_avg_sq and t - 1 steps
done. Batch norm is also run by nn.BatchNorm1d in float64, training mode (momentum=1.0, so that its running
averages are the batch's mean and unbiased variance), and its backward by autograd (dX = m * X.grad,
dgamma = weight.grad, dbeta = bias.grad for the mean loss sum(dout * out) / m) and by central differences.
batchnorm_eval is also run by a fresh nn.BatchNorm1d(n, eps, momentum) in float64: the batches in train mode, then X
in eval mode.
"""
from __future__ import annotations

import numpy as np

from ..batchnorm import batchnorm_backward, batchnorm_eval, batchnorm_forward, batchnorm_inference
from ..gradcheck import numerical_gradient
from ..optimizers import adam_update, momentum_update, momentum_update_ema, rmsprop_update
from .compare import describe_value
from .exercises import Exercise, register, split_dict
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "08-optimization"

# ---- the hint ladders (lecture prose: solutions/08-optimization, sections 2-6) ----------------------------

UPHILL = ("Your step goes uphill. In which direction must the parameters move, relative to the gradient?",
          "The gradient, and the state built from it, points towards a growing cost; the parameters move the "
          "opposite way.")  # the nudge and the step of every update rule's sign-flipped rung

MOMENTUM = ("V ← β V + dW (the accumulating form, no 1 - β), then W ← W - α V with the new velocity, for every "
            "parameter; new dicts, velocity keyed like grads.")
MOMENTUM_STEP = ("First update the velocity: beta times the old one, with this step's whole gradient added "
                 "(torch.optim.SGD's form); then move each parameter against its new velocity by learning_rate; "
                 "return new dicts.")
HINTS_MOMENTUM = {
    "*": Hint("Section 2 gives the parameters a velocity that remembers past gradients. Which comes first in a step, "
              "the new velocity or the new parameters, and in which of the section's two forms does the gradient "
              "enter with full weight?", MOMENTUM_STEP, MOMENTUM),
    "momentum-ema": Hint("Your velocity weighs the new gradient down. Which of section 2's two forms does this "
                         "exercise (like PyTorch's SGD) ask for, and how do they differ?",
                         "The accumulating form adds the whole gradient to beta times the old velocity; the "
                         "exponential-average form weighs it by 1 - beta, which only rescales the learning rate.", MOMENTUM),
    "stale-state": Hint("Your step used the velocity from before this step. Which should come first?",
                        "Update the velocity with this step's gradient first, then step with the new velocity.",
                        MOMENTUM),
    "sign-flipped": Hint(*UPHILL, MOMENTUM),
    "no-learning": Hint("Your step is a plain gradient step: the velocity plays no part in it. Where does the "
                        "velocity enter the parameters' update?",
                        "The parameters move by learning_rate along the new velocity, not along this step's "
                        "gradient.", MOMENTUM),
}

RMSPROP = "S ← β S + (1 - β) dW² (entry by entry), then W ← W - α dW / (√S + ε), eps after the root; new dicts."
RMSPROP_STEP = ("Update the cache as a moving average of the squared gradients (beta on the old cache, 1 - beta on "
                "the new square); then scale each gradient by one over the root of the new cache plus eps, and step "
                "against it by learning_rate.")
HINTS_RMSPROP = {
    "*": Hint("Section 3 gives every parameter a step size of its own, from a running measure of how large its "
              "gradients are. Which running measure, and how does it enter the step?", RMSPROP_STEP, RMSPROP),
    "eps-placement": Hint("Your step differs only where the gradients are tiny. Where does eps go: under the root, "
                          "or after it (section 3, as torch.optim.RMSprop)?",
                          "eps is added to the root of the cache, not to the cache under the root.", RMSPROP),
    "stale-state": Hint("Your step used the cache from before this step. Which should come first?",
                        "Update the cache with this step's gradient first, then use the new cache in the step.",
                        RMSPROP),
    "sign-flipped": Hint(*UPHILL, RMSPROP),
}

ADAM = ("m ← β1 m + (1 - β1) dW, v ← β2 v + (1 - β2) dW²; m̂ = m / (1 - β1^t), v̂ = v / (1 - β2^t); W ← W - α m̂ / "
        "(√v̂ + ε); return the uncorrected m and v.")
ADAM_STEP = ("Update m with the gradient (beta1) and v with its square (beta2), both as moving averages; undo their "
             "zero start by scaling each with one over one minus its beta to the power t; step by learning_rate "
             "along the corrected m over the root of the corrected v plus eps; return the uncorrected m and v.")
HINTS_ADAM = {
    "*": Hint("Section 4 combines momentum and RMSProp and corrects both running averages for their zero start. "
              "Which two averages does a step update, how are they corrected at step t, and which versions are "
              "returned?", ADAM_STEP, ADAM),
    "missing-bias-correction": Hint("Your step uses the moments as they are. Early on, why are m and v too small, "
                                    "and what does section 4 do about it?",
                                    "Starting from zero, m and v are too small by a factor 1 - beta to the power t; "
                                    "the step uses them scaled back up by that factor.", ADAM),
    "eps-placement": Hint("Your step differs only where the gradients are tiny. Where does eps go: under the root, "
                          "or after it (as torch.optim.Adam)?",
                          "eps is added after the root of the corrected v.", ADAM),
    "off-by-one": Hint("Your bias correction uses the wrong power. What is t on the first step?",
                       "t counts the steps from 1: the first step corrects with beta to the power 1.", ADAM),
    "stale-state": Hint("Your step used the moments from before this step. Which should come first?",
                        "Update m and v with this step's gradient first, then correct them and step.", ADAM),
    "swapped-outputs": Hint("Both moments are right, in each other's places. Which one is returned second?",
                            "adam_update returns (params, m, v): the first moment, then the second.", ADAM),
}

BN = ("per feature j, over the m rows: μ_j = (1/m) Σ_i X_ij, σ²_j = (1/m) Σ_i (X_ij - μ_j)², X̂ = (X - μ) / √(σ² + ε), "
      "out = γ ⊙ X̂ + β; cache = (X, X̂, μ, σ², γ, β, ε).")
BN_STEP = ("For each feature (column), take the batch mean and the biased variance (averaging over the m examples); "
           "standardize with eps under the root; then scale by gamma and shift by beta; keep the cache in the order "
           "the exercise gives.")
HINTS_BN = {
    "*": Hint("Section 5 standardizes each feature over the batch, then lets the layer choose its scale and shift. "
              "Over which entries are the mean and the variance taken, which variance (biased or unbiased), and "
              "where does eps enter?", BN_STEP, BN),
    "unbiased-variance": Hint("Your variance is the unbiased one. Which one does batch norm (as nn.BatchNorm1d in "
                              "training) standardize with?",
                              "Batch norm uses the biased variance of the batch: the average of the squared "
                              "deviations over all m examples.", BN),
    "eps-placement": Hint("Only a feature with a tiny spread comes out wrong. Where does batch norm put eps, inside "
                          "the root or outside it?",
                          "Batch norm adds eps to the variance under the root, which keeps a nearly constant feature "
                          "from being scaled by a huge factor.", BN),
    "cache-format": Hint("What does batchnorm_backward read from the cache, and in which order does the exercise "
                         "list it?", "The cache is the tuple (X, X_hat, mu, var, gamma, beta, eps), the inputs as "
                         "given.", BN),
}

BN_BACK = ("dγ = (1/m) Σ_i dout_i ⊙ X̂_i and dβ = (1/m) Σ_i dout_i, each (1, n); with dX̂ = dout ⊙ γ, dX = (dX̂ - "
           "mean_i dX̂ - X̂ ⊙ mean_i(dX̂ ⊙ X̂)) / √(σ² + ε), without 1/m.")
BN_BACK_STEP = ("dgamma and dbeta average over the batch the upstream gradient weighted by X_hat, and the upstream "
                "gradient itself. For dX, start from dX_hat = dout γ and add the contributions that reach X through "
                "mu and var, which depend on every row.")
HINTS_BN_BACK = {
    "*": Hint("Section 6: X reaches out along three paths, through X_hat directly, through the batch mean and "
              "through the batch variance. Which paths must dX follow, and which of the three gradients belong to "
              "the mean cost, like dB?", BN_BACK_STEP, BN_BACK),
    "missing-mean-terms": Hint("Your dX treats the batch mean or variance as constants. Do they depend on the row "
                               "of X you are differentiating (section 6)?",
                               "mu and var depend on every row of X, so each row's dX gets two more terms: one "
                               "through mu (the batch mean of dX_hat) and one through var (X_hat weighted by the "
                               "batch mean of dX_hat ⊙ X_hat).", BN_BACK),
    "bias-shape": Hint("dgamma and dbeta have the right values but not gamma's shape, (1, n). What shape must the "
                       "gradient of a parameter have?",
                       "Keep the (1, n) row when averaging over the batch, as gamma and beta are.", BN_BACK),
}

BN_CACHE = ("X", "X_hat", "mu", "var", "gamma", "beta", "eps")


# ---------------------------------------------------------------------------------------
# The update rules


def _draw_params(rng, sizes):
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(0.0, 1.0, (sizes[l], sizes[l - 1]))
        params[f"B{l}"] = rng.normal(0.0, 0.5, (1, sizes[l]))
    return params


def _like(rng, params, scale=1.0, positive=False):
    """A dict {"dW1": ..., ...} of random arrays shaped like params (squares when positive)."""
    drawn = {"d" + key: rng.normal(0.0, scale, value.shape) for key, value in params.items()}
    return {key: value ** 2 for key, value in drawn.items()} if positive else drawn


def _random_sizes(rng):
    return [int(n) for n in rng.integers(1, 7, int(rng.integers(2, 4)))]


class _UpdateRule(Exercise):
    """Shared by the three optimizers: returns (params, *state dicts), each judged entry by entry."""

    states: tuple = ()
    torch_allowed = False

    def split(self, value, case):
        params = case.args[0]
        names = ("params",) + self.states
        if not isinstance(value, (tuple, list)) or len(value) != len(names):
            return CaseVerdict(False, "not-an-array",
                               f"{self.name} should return a tuple ({', '.join(names)}), but it returned "
                               f"{describe_value(value)}" +
                               (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "") + ".")
        found = {}
        for name, part in zip(names, value):
            keys = list(params) if name == "params" else ["d" + key for key in params]
            part = split_dict(part, keys, f"the returned {name}",
                              f"{name} has the same keys as {'params' if name == 'params' else 'grads'}.")
            if isinstance(part, CaseVerdict):
                return part
            found.update({f"{name}['{key}']": value for key, value in part.items()})
        return found

    def _flatten(self, *dicts):
        names = ("params",) + self.states
        return {f"{name}['{key}']": value for name, part in zip(names, dicts) for key, value in part.items()}

    def _predicted(self, params=None, **states):
        """{output: value} for the given parts only (a mistake that affects some outputs)."""
        found = {}
        if params is not None:
            found.update({f"params['{key}']": value for key, value in params.items()})
        for name, part in states.items():
            found.update({f"{name}['{key}']": value for key, value in part.items()})
        return found

    def reference(self, case):
        return self._flatten(*self.library(*case.args, **case.kwargs))

    def oracles(self, case):
        """``torch.optim``'s update of the same name in autograd_backed (the optimizer's functional form, which its
        class's ``step`` runs: constructing the class imports torch._dynamo, a second per process), in float64."""
        from .. import autograd_backed

        return {self.oracle: self._flatten(*getattr(autograd_backed, self.name)(*case.args, **case.kwargs))}


def _hyper(case, fixed, names, defaults):
    """A case's hyperparameters by name: the positional args after the ``fixed`` first ones, kwargs, defaults."""
    values = dict(defaults)
    values.update(dict(zip(names, case.args[fixed:])))
    values.update(case.kwargs)
    return values


@register
class MomentumUpdate(_UpdateRule):
    """One step of gradient descent with momentum, torch.optim.SGD's form (V = beta V + grad)."""

    name = "momentum_update"
    lecture = LECTURE
    args = ("params", "grads", "velocity", "learning_rate", "beta")
    outputs = ("params", "velocity")
    states = ("velocity",)
    hints = HINTS_MOMENTUM
    library_functions = ("backproplab.optimizers.momentum_update", "backproplab.optimizers.momentum_update_ema",
                         "backproplab.model.update_parameters_momentum")
    library = staticmethod(momentum_update)
    oracle = "torch.optim.SGD(momentum=beta)"

    def _case(self, rng, sizes, label, first_step=False, default_beta=False):
        params = _draw_params(rng, sizes)
        grads = _like(rng, params)
        velocity = {k: np.zeros_like(v) for k, v in grads.items()} if first_step else _like(rng, params, 2.0)
        learning_rate, beta = float(np.round(rng.uniform(0.05, 0.5), 3)), float(np.round(rng.uniform(0.5, 0.95), 2))
        args = (params, grads, velocity, learning_rate) + (() if default_beta else (beta,))
        return Case(args, label=label, m=1)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, [4, 3, 2], "a 4-3-2 network"),
                    self._case(rng, [3, 5, 1], "the first step (velocity all zeros)", first_step=True),
                    self._case(rng, [2, 3], "beta left at its default 0.9", default_beta=True)]
        return [self._case(rng, _random_sizes(rng), "random sizes"),
                self._case(rng, [1, 1], "one weight and one bias"),
                self._case(rng, _random_sizes(rng), "the first step (velocity all zeros)", first_step=True),
                self._case(rng, [3, 2, 4], "beta left at its default 0.9", default_beta=True)]

    def mistakes(self, case):
        params, grads, velocity = case.args[:3]
        h = _hyper(case, 3, ("learning_rate", "beta"), {"beta": 0.9})
        lr, beta = h["learning_rate"], h["beta"]
        new_params, new_velocity = momentum_update(params, grads, velocity, lr, beta)
        ema_params, ema_velocity = momentum_update_ema(params, grads, velocity, lr, beta)
        stale = {k: v - lr * velocity["d" + k] for k, v in params.items()}
        uphill = {k: v + lr * new_velocity["d" + k] for k, v in params.items()}
        plain = {k: v - lr * grads["d" + k] for k, v in params.items()}
        return [
            ("momentum-ema", self._predicted(ema_params, velocity=ema_velocity),
             "which is the moving-average form of momentum, not the accumulating one"),
            ("stale-state", self._predicted(stale), "which steps with the velocity from before this step"),
            ("sign-flipped", self._predicted(uphill), "which steps uphill"),
            ("no-learning", self._predicted(plain),
             "which is a plain gradient-descent step: the velocity plays no part in the update"),
        ]


@register
class RMSPropUpdate(_UpdateRule):
    """One RMSProp step (torch.optim.RMSprop with alpha=beta, eps after the square root)."""

    name = "rmsprop_update"
    lecture = LECTURE
    args = ("params", "grads", "cache", "learning_rate", "beta", "eps")
    outputs = ("params", "cache")
    states = ("cache",)
    hints = HINTS_RMSPROP
    library_functions = ("backproplab.optimizers.rmsprop_update",)
    library = staticmethod(rmsprop_update)
    oracle = "torch.optim.RMSprop(alpha=beta)"

    def _case(self, rng, sizes, label, scale=1.0, eps=None, first_step=False, defaults=False):
        params = _draw_params(rng, sizes)
        grads = _like(rng, params, scale)
        cache = ({k: np.zeros_like(v) for k, v in grads.items()} if first_step
                 else _like(rng, params, scale * 1.5, positive=True))
        learning_rate, beta = float(np.round(rng.uniform(0.001, 0.05), 4)), float(np.round(rng.uniform(0.8, 0.99), 2))
        args = (params, grads, cache, learning_rate)
        if not defaults:
            args += (beta, eps if eps is not None else float(10.0 ** rng.integers(-8, -5)))
        return Case(args, label=label, m=1)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, [4, 3, 2], "a 4-3-2 network"),
                    self._case(rng, [3, 2], "tiny gradients (~1e-3) and eps=1e-4", scale=1e-3, eps=1e-4),
                    self._case(rng, [2, 4, 1], "the first step (cache all zeros)", first_step=True),
                    self._case(rng, [3, 3], "beta and eps left at their defaults", defaults=True)]
        return [self._case(rng, _random_sizes(rng), "random sizes"),
                self._case(rng, [1, 1], "one weight and one bias"),
                self._case(rng, _random_sizes(rng), "tiny gradients (~1e-3) and eps=1e-4", scale=1e-3, eps=1e-4),
                self._case(rng, [2, 3], "the first step (cache all zeros)", first_step=True),
                self._case(rng, [4, 2], "beta and eps left at their defaults", defaults=True)]

    def mistakes(self, case):
        params, grads, cache = case.args[:3]
        h = _hyper(case, 3, ("learning_rate", "beta", "eps"), {"beta": 0.9, "eps": 1e-8})
        lr, beta, eps = h["learning_rate"], h["beta"], h["eps"]
        new_params, new_cache = rmsprop_update(params, grads, cache, lr, beta, eps)

        def stepped(denominator):
            with np.errstate(all="ignore"):
                return {k: v - lr * grads["d" + k] / denominator(k) for k, v in params.items()}

        summed = {k: beta * c + grads[k] ** 2 for k, c in cache.items()}
        return [
            ("eps-placement", self._predicted(stepped(lambda k: np.sqrt(new_cache["d" + k] + eps))),
             "which adds eps under the square root"),
            ("stale-state", self._predicted(stepped(lambda k: np.sqrt(cache["d" + k]) + eps)),
             "which uses the cache from before this step"),
            ("wrong-values", self._predicted(stepped(lambda k: new_cache["d" + k] + eps)),
             "which scales by the cache itself, without its root"),
            ("wrong-values", self._predicted(stepped(lambda k: np.sqrt(summed["d" + k]) + eps), cache=summed),
             "which adds the whole squared gradient to beta times the cache"),
            ("sign-flipped", self._predicted({k: 2 * v - new_params[k] for k, v in params.items()}),
             "which steps uphill (+ instead of -)"),
        ]


@register
class AdamUpdate(_UpdateRule):
    """One Adam step, bias corrected (torch.optim.Adam)."""

    name = "adam_update"
    lecture = LECTURE
    args = ("params", "grads", "m", "v", "t", "learning_rate", "beta1", "beta2", "eps")
    outputs = ("params", "m", "v")
    states = ("m", "v")
    hints = HINTS_ADAM
    library_functions = ("backproplab.optimizers.adam_update",)
    library = staticmethod(adam_update)
    oracle = "torch.optim.Adam"

    def _case(self, rng, sizes, label, t, scale=1.0, eps=None, defaults=False):
        params = _draw_params(rng, sizes)
        grads = _like(rng, params, scale)
        if t == 1:
            m = {k: np.zeros_like(v) for k, v in grads.items()}
            v = {k: np.zeros_like(value) for k, value in grads.items()}
        else:
            m, v = _like(rng, params, scale * 0.5), _like(rng, params, scale, positive=True)
        learning_rate = float(np.round(rng.uniform(0.001, 0.05), 4))
        args = (params, grads, m, v, t, learning_rate)
        if not defaults:
            beta1, beta2 = float(np.round(rng.uniform(0.8, 0.95), 2)), float(np.round(rng.uniform(0.9, 0.999), 3))
            args += (beta1, beta2, eps if eps is not None else 1e-8)
        return Case(args, label=label, m=1)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, [4, 3, 2], "a 4-3-2 network at step t=5", 5),
                    self._case(rng, [3, 2], "the first step, t=1 (m and v all zeros)", 1),
                    self._case(rng, [2, 3], "tiny gradients (~1e-3) and eps=1e-4 at t=3", 3, scale=1e-3, eps=1e-4),
                    self._case(rng, [3, 3, 1], "betas and eps left at their defaults, t=2", 2, defaults=True)]
        return [self._case(rng, _random_sizes(rng), "random sizes", int(rng.integers(2, 30))),
                self._case(rng, [1, 1], "one weight and one bias, t=1", 1),
                self._case(rng, _random_sizes(rng), "tiny gradients (~1e-3) and eps=1e-4", int(rng.integers(2, 9)),
                           scale=1e-3, eps=1e-4),
                self._case(rng, [2, 4], "betas and eps left at their defaults, t=1", 1, defaults=True)]

    def mistakes(self, case):
        params, grads, m, v, t = case.args[:5]
        h = _hyper(case, 5, ("learning_rate", "beta1", "beta2", "eps"), {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
        lr, b1, b2, eps = h["learning_rate"], h["beta1"], h["beta2"], h["eps"]
        _, new_m, new_v = adam_update(params, grads, m, v, t, lr, b1, b2, eps)

        def stepped(first, second, c1, c2, inside=False, moments=None):
            moments = moments or (new_m, new_v)
            out = {}
            with np.errstate(all="ignore"):
                for k, value in params.items():
                    mk, vk = moments[0]["d" + k] / c1, moments[1]["d" + k] / c2
                    out[k] = value - lr * mk / (np.sqrt(vk + eps) if inside else np.sqrt(vk) + eps)
            return out

        c1, c2 = 1 - b1 ** t, 1 - b2 ** t
        hats = ({k: value / c1 for k, value in new_m.items()}, {k: value / c2 for k, value in new_v.items()})
        return [
            ("missing-bias-correction", self._predicted(stepped(new_m, new_v, 1.0, 1.0)),
             f"which steps with m and v themselves, uncorrected at step t={t}"),
            ("eps-placement", self._predicted(stepped(new_m, new_v, c1, c2, inside=True)),
             "which adds eps under the square root"),
            ("off-by-one", self._predicted(stepped(new_m, new_v, 1 - b1 ** (t + 1), 1 - b2 ** (t + 1))),
             f"which corrects the bias with the power t + 1 = {t + 1}"),
            ("stale-state", self._predicted(stepped(None, None, c1, c2, moments=(m, v))),
             "which steps with the moments from before this step"),
            ("wrong-values", self._predicted(m=hats[0], v=hats[1]),
             "which returns the bias-corrected moments as the new state"),
            ("swapped-outputs", self._predicted(m=new_v, v=new_m), "which returns (params, v, m) instead of (params, m, v)"),
        ]


# ---------------------------------------------------------------------------------------
# Batch normalization


def _draw_features(rng, m, n, nearly_constant=False):
    """X (m, n) with a different mean and scale per feature; one feature of std ~1e-3 when asked."""
    X = rng.normal(rng.normal(0.0, 2.0, (1, n)), rng.uniform(0.5, 3.0, (1, n)), (m, n))
    if nearly_constant:
        X[:, 0] = 1.5 + rng.normal(0.0, 1e-3, m)
    return X


def _gamma_beta(rng, n):
    return rng.uniform(0.5, 2.0, (1, n)), rng.normal(0.0, 1.0, (1, n))


def _torch_batchnorm(X, gamma, beta, eps, dout=None):
    """nn.BatchNorm1d in float64, training mode -> (out, mu, var, and with dout: dX, dgamma, dbeta)."""
    import torch

    m, n = X.shape
    layer = torch.nn.BatchNorm1d(n, eps=eps, momentum=1.0).double().train()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma[0]))
        layer.bias.copy_(torch.from_numpy(beta[0]))
    X_t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    out = layer(X_t)
    mu = layer.running_mean.detach().numpy().reshape(1, n).copy()
    var = layer.running_var.detach().numpy().reshape(1, n) * (m - 1) / m   # running_var holds the unbiased one
    found = {"out": out.detach().numpy().copy(), "mu": mu, "var": var}
    if dout is not None:
        (torch.sum(torch.from_numpy(dout) * out) / m).backward()
        found.update(dX=m * X_t.grad.numpy(), dgamma=layer.weight.grad.numpy().reshape(1, n).copy(),
                     dbeta=layer.bias.grad.numpy().reshape(1, n).copy())
    return found


def _bn_values(X, gamma, beta, eps, *, unbiased=False, eps_outside=False, no_eps=False):
    """A (possibly mistaken) forward pass -> (out, X_hat, mu, var)."""
    m = X.shape[0]
    mu = X.mean(axis=0, keepdims=True)
    var = np.sum((X - mu) ** 2, axis=0, keepdims=True) / (m - 1 if unbiased else m)
    if eps_outside:
        X_hat = (X - mu) / (np.sqrt(var) + eps)
    elif no_eps:
        with np.errstate(all="ignore"):
            X_hat = (X - mu) / np.sqrt(var)
    else:
        X_hat = (X - mu) / np.sqrt(var + eps)
    return gamma * X_hat + beta, X_hat, mu, var


@register
class BatchnormForward(Exercise):
    """Training-mode batch norm: out and the cache (X, X_hat, mu, var, gamma, beta, eps)."""

    name = "batchnorm_forward"
    lecture = LECTURE
    args = ("X", "gamma", "beta", "eps")
    outputs = ("out", "cache")
    hints = HINTS_BN
    library_functions = ("backproplab.batchnorm.batchnorm_forward",)

    def _case(self, rng, m, n, label, eps=None, nearly_constant=False):
        X = _draw_features(rng, m, n, nearly_constant)
        gamma, beta = _gamma_beta(rng, n)
        args = (X, gamma, beta) + (() if eps is None else (eps,))
        return Case(args, label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 8, 5, "m=8 examples, n=5 features", eps=1e-3),
                    self._case(rng, 6, 3, "a nearly constant feature (std ~1e-3), eps left at 1e-5",
                               nearly_constant=True),
                    self._case(rng, 2, 4, "m=2 (the smallest batch)", eps=1e-4)]
        m, n = int(rng.integers(3, 12)), int(rng.integers(2, 7))
        return [self._case(rng, m, n, "random sizes", eps=float(10.0 ** rng.integers(-5, -2))),
                self._case(rng, 5, 1, "n=1 (one feature)", eps=1e-3),
                self._case(rng, int(rng.integers(4, 9)), 3, "a nearly constant feature (std ~1e-3)",
                           nearly_constant=True),
                self._case(rng, 2, 3, "m=2 (the smallest batch)")]

    @staticmethod
    def _eps(case):
        return case.args[3] if len(case.args) > 3 else case.kwargs.get("eps", 1e-5)

    def reference(self, case):
        out, cache = batchnorm_forward(*case.args)
        return {"out": out, "cache X_hat": cache[1], "cache mu": cache[2], "cache var": cache[3]}

    def oracles(self, case):
        X, gamma, beta = case.args[:3]
        found = _torch_batchnorm(X, gamma, beta, self._eps(case))
        return {"nn.BatchNorm1d": {"out": found["out"], "cache mu": found["mu"], "cache var": found["var"]}}

    def split(self, value, case):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return CaseVerdict(False, "not-an-array", f"batchnorm_forward should return a tuple (out, cache), but "
                               f"it returned {describe_value(value)}.")
        out, cache = value
        if not isinstance(cache, (tuple, list)) or len(cache) != len(BN_CACHE):
            size = f" of length {len(cache)}" if isinstance(cache, (tuple, list)) else ""
            return CaseVerdict(False, "cache-format", f"cache is {describe_value(cache)}{size}; it should be the "
                               f"tuple {BN_CACHE} (batchnorm_backward reads it in this order).")
        X, gamma, beta = case.args[:3]
        inputs = {"X": X, "gamma": gamma, "beta": beta}
        for index, name in enumerate(BN_CACHE):
            if name in inputs and not (isinstance(cache[index], np.ndarray) and cache[index].shape == inputs[name].shape
                                       and np.allclose(cache[index], inputs[name])):
                return CaseVerdict(False, "cache-format", f"cache[{index}] should be the input {name} "
                                   f"{inputs[name].shape}, but it is {describe_value(cache[index])}; the cache is "
                                   f"{BN_CACHE}.")
        eps = cache[6]
        if isinstance(eps, np.ndarray) and eps.size == 1:
            eps = float(eps.reshape(()))
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not np.isclose(eps, self._eps(case)):
            return CaseVerdict(False, "cache-format", f"cache[6] should be the eps given ({self._eps(case)}), but it "
                               f"is {eps if isinstance(eps, (int, float)) else describe_value(eps)}.")
        return {"out": out, "cache X_hat": cache[1], "cache mu": cache[2], "cache var": cache[3]}

    def mistakes(self, case):
        X, gamma, beta = case.args[:3]
        eps = self._eps(case)
        m = X.shape[0]

        def predicted(values):
            return dict(zip(("out", "cache X_hat", "cache mu", "cache var"), values))

        _, X_hat, _, _ = _bn_values(X, gamma, beta, eps)
        rows = [Xi - Xi.mean() for Xi in X]
        layer_norm = np.stack([r / np.sqrt(np.mean(r ** 2) + eps) for r in rows])
        return [
            ("unbiased-variance", predicted(_bn_values(X, gamma, beta, eps, unbiased=True)),
             f"which is standardized with the unbiased variance (m - 1 = {m - 1} in its denominator, m = {m})"),
            ("eps-placement", predicted(_bn_values(X, gamma, beta, eps, eps_outside=True)),
             "which adds eps after the square root"),
            ("eps-placement", predicted(_bn_values(X, gamma, beta, eps, no_eps=True)), "which leaves eps out"),
            ("wrong-values", {"out": X_hat, "cache X_hat": X_hat},
             "which is X_hat itself, neither scaled nor shifted"),
            ("wrong-values", {"out": gamma * layer_norm + beta, "cache X_hat": layer_norm,
                              "cache mu": X.mean(axis=1, keepdims=True),
                              "cache var": np.mean(np.square(X - X.mean(axis=1, keepdims=True)), axis=1, keepdims=True)},
             "which normalizes each example over its features (layer norm) instead of each feature over the batch"),
        ]


@register
class BatchnormBackward(Exercise):
    """The backward pass of training-mode batch norm (DESIGN.md's 1/m convention)."""

    name = "batchnorm_backward"
    lecture = LECTURE
    args = ("dout", "cache")
    outputs = ("dX", "dgamma", "dbeta")
    hints = HINTS_BN_BACK
    library_functions = ("backproplab.batchnorm.batchnorm_backward",)

    def _case(self, rng, m, n, label, eps=1e-5):
        X = _draw_features(rng, m, n)
        gamma, beta = _gamma_beta(rng, n)
        _, cache = batchnorm_forward(X, gamma, beta, eps)
        return Case((rng.normal(0.0, 1.0, (m, n)), tuple(cache)), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 6, 4, "m=6 examples, n=4 features"),
                    self._case(rng, 3, 7, "m=3, n=7", eps=1e-3),
                    self._case(rng, 2, 3, "m=2 (the smallest batch)")]
        m, n = int(rng.integers(3, 12)), int(rng.integers(2, 7))
        return [self._case(rng, m, n, "random sizes"), self._case(rng, 5, 1, "n=1 (one feature)", eps=1e-3),
                self._case(rng, 2, 4, "m=2 (the smallest batch)")]

    def reference(self, case):
        return dict(zip(self.outputs, batchnorm_backward(*case.args)))

    def oracles(self, case):
        dout, (X, _, _, _, gamma, beta, eps) = case.args
        m = X.shape[0]
        found = _torch_batchnorm(X, gamma, beta, eps, dout)

        def loss(X_, gamma_, beta_):
            return float(np.sum(dout * batchnorm_forward(X_, gamma_, beta_, eps)[0]))

        numerical = {"dX": numerical_gradient(lambda x: loss(x, gamma, beta), X.copy()),
                     "dgamma": numerical_gradient(lambda g: loss(X, g, beta), gamma.copy()) / m,
                     "dbeta": numerical_gradient(lambda b: loss(X, gamma, b), beta.copy()) / m}
        return {"PyTorch (nn.BatchNorm1d)": {k: found[k] for k in self.outputs}, "finite differences": numerical}

    def mistakes(self, case):
        dout, (X, X_hat, mu, var, gamma, beta, eps) = case.args
        dX, dgamma, dbeta = batchnorm_backward(dout, case.args[1])
        std = np.sqrt(var + eps)
        dX_hat = dout * gamma
        centered = dX_hat - dX_hat.mean(axis=0, keepdims=True)
        through_var = dX_hat - X_hat * np.mean(dX_hat * X_hat, axis=0, keepdims=True)
        return [
            ("missing-mean-terms", {"dX": dX_hat / std},
             "which treats the batch mean mu and the variance var as constants"),
            ("missing-mean-terms", {"dX": centered / std},
             "which keeps the path through mu but drops the path through var"),
            ("missing-mean-terms", {"dX": through_var / std},
             "which keeps the path through var but drops the path through mu"),
            ("wrong-values", {"dgamma": np.mean(dout * X, axis=0, keepdims=True)},
             "which weighs dout by X where gamma scales X_hat"),
            ("bias-shape", {"dgamma": dgamma.ravel(), "dbeta": dbeta.ravel()},
             "which has the right values but not the (1, n) shape"),
        ]


# ---------------------------------------------------------------------------------------
# Batch normalization at inference: the running averages and eval mode


def _torch_batchnorm_eval(batches, X, gamma, beta, momentum, eps):
    """A fresh nn.BatchNorm1d in float64: the batches in train mode, then X in eval mode -> the three outputs."""
    import torch

    n = X.shape[1]
    layer = torch.nn.BatchNorm1d(n, eps=eps, momentum=momentum).double().train()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma[0]))
        layer.bias.copy_(torch.from_numpy(beta[0]))
        for batch in batches:
            layer(torch.from_numpy(batch))
        out = layer.eval()(torch.from_numpy(X)).numpy().copy()
    return {"running_mean": layer.running_mean.numpy().reshape(1, n).copy(),
            "running_var": layer.running_var.numpy().reshape(1, n).copy(), "out": out}


def _running(batches, n, momentum, *, reversed_momentum=False, biased=False):
    """Running averages as nn.BatchNorm1d keeps them, or with one of the usual slips -> (mean, var) (1, n)."""
    weight = 1 - momentum if reversed_momentum else momentum
    running_mean, running_var = np.zeros((1, n)), np.ones((1, n))
    for batch in batches:
        mu = batch.mean(axis=0, keepdims=True)
        var = np.var(batch, axis=0, keepdims=True, ddof=0 if biased else 1)
        running_mean = (1 - weight) * running_mean + weight * mu
        running_var = (1 - weight) * running_var + weight * var
    return running_mean, running_var


@register
class BatchnormEval(Exercise):
    """nn.BatchNorm1d's running averages after training batches, and its eval() output."""

    name = "batchnorm_eval"
    lecture = LECTURE
    args = ("batches", "X", "gamma", "beta", "momentum", "eps")
    outputs = ("running_mean", "running_var", "out")
    library_functions = ("backproplab.batchnorm.batchnorm_eval", "backproplab.batchnorm.update_running_stats",
                         "backproplab.batchnorm.batchnorm_inference")
    hints = {
        "running-momentum-reversed": Hint(
            "Which of the two weights in the running average is PyTorch's momentum: the old average's or the new "
            "batch's? Feed one batch to a fresh BatchNorm1d layer in train mode and compare running_mean with the "
            "batch's mean.",
            "After one batch, a fresh layer's running_mean is momentum times the batch mean (0.1 of it by default), "
            "so momentum weights the NEW batch and 1 - momentum the old average.",
            "running_mean <- (1 - momentum) running_mean + momentum mu_B, and running_var likewise with the batch's "
            "unbiased variance"),
        "bessel-correction": Hint(
            "Batch norm normalizes a training batch with one variance but remembers another. After one batch through "
            "a fresh nn.BatchNorm1d, is running_var closer to the batch's own variance or to Bessel's estimate?",
            "The running variance estimates the variance of the whole training distribution, so PyTorch feeds it the "
            "unbiased estimate of each batch (Bessel's correction); the normalization in training keeps the biased "
            "one (exercise 4).",
            "running_var <- (1 - momentum) running_var + momentum (1 / (m - 1)) sum_i (x_i - mu_B)^2"),
        "batch-stats-at-inference": Hint(
            "In eval() mode, where do the statistics come from: the rows of X, or what the layer remembered in "
            "training? What would your answer give for X with a single row?",
            "In eval mode X adds nothing to the statistics: every feature is normalized with the running mean and "
            "running variance, so each row's output is the same whatever else is in X.",
            "out = gamma (X - running_mean) / √(running_var + eps) + beta"),
        "eps-placement": Hint(
            "Where does eps go in eval mode? The layer is the same as in training, only the statistics change.",
            "As in exercise 4, eps is added to the variance before the square root.",
            "out = gamma (X - running_mean) / √(running_var + eps) + beta"),
        "*": Hint(
            "Two phases: training batches only update what the layer remembers; then X is evaluated. Run a fresh "
            "nn.BatchNorm1d on the same batches and then in eval() mode, and compare its running_mean, running_var "
            "and output with yours: which differs first?",
            "A fresh layer starts with running_mean 0 and running_var 1; each training batch moves both toward that "
            "batch's statistics by the fraction momentum; eval mode normalizes X with them, then scales by gamma and "
            "shifts by beta.",
            "running_mean <- (1 - momentum) running_mean + momentum mu_B; running_var <- (1 - momentum) running_var "
            "+ momentum (unbiased batch variance); out = gamma (X - running_mean) / √(running_var + eps) + beta"),
    }

    def _case(self, rng, sizes, p, n, label, momentum=None, eps=None):
        centers, scales = rng.normal(0.0, 3.0, (1, n)), rng.uniform(0.5, 3.0, (1, n))
        batches = [rng.normal(centers, scales, (m, n)) for m in sizes]
        X = rng.normal(centers, scales, (p, n))
        gamma, beta = _gamma_beta(rng, n)
        args = (batches, X, gamma, beta)
        if momentum is not None or eps is not None:
            args += (0.1 if momentum is None else momentum, 1e-5 if eps is None else eps)
        return Case(args, label=label, m=min(sizes))

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, [4, 4, 4], 5, 3, "3 batches of m=4, n=3, momentum left at 0.1"),
                    self._case(rng, [2, 6, 3, 5], 1, 4, "batches of 2 to 6 examples, momentum=0.3, a single "
                               "example to evaluate", momentum=0.3, eps=1e-3),
                    self._case(rng, [3], 4, 1, "one batch of m=3, n=1")]
        n = int(rng.integers(2, 6))
        sizes = [int(m) for m in rng.integers(2, 9, int(rng.integers(2, 7)))]
        return [self._case(rng, sizes, int(rng.integers(2, 7)), n, "random sizes",
                           momentum=float(rng.choice([0.05, 0.2, 0.3])), eps=float(10.0 ** rng.integers(-5, -2))),
                self._case(rng, [2, 2, 2, 2, 2], 3, 2, "5 batches of m=2"),
                self._case(rng, [int(rng.integers(3, 9))], 1, 3, "one batch, a single example to evaluate",
                           momentum=0.2, eps=1e-5)]

    @staticmethod
    def _hyper(case):
        return _hyper(case, 4, ("momentum", "eps"), {"momentum": 0.1, "eps": 1e-5})

    def reference(self, case):
        return dict(zip(self.outputs, batchnorm_eval(*case.args, **case.kwargs)))

    def oracles(self, case):
        batches, X, gamma, beta = case.args[:4]
        h = self._hyper(case)
        return {"nn.BatchNorm1d (train, then eval)": _torch_batchnorm_eval(batches, X, gamma, beta, h["momentum"],
                                                                           h["eps"])}

    def mistakes(self, case):
        batches, X, gamma, beta = case.args[:4]
        h = self._hyper(case)
        momentum, eps, n = h["momentum"], h["eps"], X.shape[1]
        mean, var = _running(batches, n, momentum)

        def predicted(running_mean, running_var):
            out = batchnorm_inference(X, gamma, beta, running_mean, running_var, eps)
            return {"running_mean": running_mean, "running_var": running_var, "out": out}

        reversed_stats = _running(batches, n, momentum, reversed_momentum=True)
        biased_stats = _running(batches, n, momentum, biased=True)
        own = batchnorm_forward(X, gamma, beta, eps)[0]
        with np.errstate(all="ignore"):
            eps_outside = gamma * (X - mean) / (np.sqrt(var) + eps) + beta
        first = batches[0]
        from_first = _running(batches[1:], n, momentum)
        weight = (1 - momentum) ** (len(batches) - 1)
        seeded = (from_first[0] + weight * first.mean(axis=0, keepdims=True),
                  from_first[1] - weight + weight * np.var(first, axis=0, keepdims=True, ddof=1))
        return [
            ("running-momentum-reversed", predicted(*reversed_stats),
             f"which is what running averages give when the new batch gets the weight 1 - momentum = "
             f"{1 - momentum:g} and the old average {momentum:g}"),
            ("bessel-correction", predicted(*biased_stats),
             "which is what the running variance becomes when it averages each batch's biased variance (the one "
             "batch norm normalizes with)"),
            ("batch-stats-at-inference", {"out": own},
             "which normalizes X with its own mean and variance, as in training"
             + (" (with a single example, its own variance is 0 and every output is beta)" if X.shape[0] == 1 else "")),
            ("eps-placement", {"out": eps_outside}, "which puts eps outside the root"),
            ("wrong-values", predicted(*seeded),
             "which starts the running averages at the first batch's statistics"),
            ("wrong-values", {"out": (X - mean) / np.sqrt(var + eps)},
             "which normalizes but leaves out gamma and beta"),
        ]
