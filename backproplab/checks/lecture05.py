"""Checks for lecture 05-initialization.

Exercises: init_std(method, fan_in, fan_out) -> float; initialize_parameters(layer_sizes,
method, seed=None) -> params (DESIGN.md); layer_statistics(X, params, activation) -> the
std of A[l] for l = 1..L in a deep network that uses one activation everywhere.
Oracles: the NumPy library (reference) and PyTorch (``torch.nn.init``'s fan and gain rules,
a float64 forward pass). There are no gradients here, so no finite differences.

``initialize_parameters`` returns random draws, so it is judged statistically, layer by
layer, on layers with at least ``STAT_MIN_ENTRIES`` entries (non-square layers whose fan-in
and fan-out differ a lot, so that a wrong fan shows). For N independent N(0, s^2) entries:

* the mean has standard error s / sqrt(N);
* the root mean square r = sqrt(mean(w^2)) has relative standard error 1 / sqrt(2N);
* the excess kurtosis (0 for a normal) has standard error sqrt(24 / N) (judged when
  N >= ``KURTOSIS_MIN_ENTRIES``, where that approximation holds).

Each statistic must lie within ``SIGMAS`` = 5 standard errors of its expected value. A
correct answer fails one such test with probability about 6e-7, so a check of ~10 cases
with ~3 judged layers each wrongly fails about once in 50,000 runs. A wrong std is named by
the hypothesis (wrong fan, variance for std, missing gain, ...) whose std every judged
layer's r matches within the same band.

The seed is judged across cases: a case drawn again with the same seed must give exactly
the same parameters, and a case with another seed must give different ones (``init-seed``).
"""
from __future__ import annotations

import math

import numpy as np

from ..activations import get_activation
from ..init import INIT_METHODS, init_std
from .compare import describe_value, is_close
from .exercises import Exercise, register, split_dict
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "05-initialization"

# ---- the hint ladders (lecture prose: solutions/05-initialization, sections 1-3) --------------------------

STD = ("std = 0.01 (random), √(2 / (n_{l-1} + n_l)) (xavier), √(2 / n_{l-1}) (he), 0 (zeros), with fan_in = "
       "n_{l-1} and fan_out = n_l.")
HINTS_STD = {
    "*": Hint("Section 2 asks what keeps the spread of the signal the same from layer to layer. For He: over how "
              "many inputs does a unit's pre-activation add up, and what does ReLU do to half of them? For Xavier: "
              "which compromise between the two fans does it make?",
              "Var(z) = fan_in · Var(w) · Var(input): keeping it constant asks Var(w) = 1/fan_in, doubled for ReLU, "
              "which zeroes half the inputs (He), or 2/(fan_in + fan_out) to balance the forward and the backward "
              "pass (Xavier); the std is the root of that variance; 'random' is 0.01 and 'zeros' 0.",
              STD),
    "init-fan": Hint("Your std uses the wrong fan. Over how many inputs does each unit of the layer add up, and is "
                     "that fan_in or fan_out? Which method looks at the other fan as well?",
                     "He keeps the forward signal and uses fan_in = n_{l-1} only; Xavier balances both passes with "
                     "the average of the two fans, (fan_in + fan_out)/2.", STD),
    "init-scale": Hint("Your std has the right fans but not the right size. Did you return a variance where a "
                       "standard deviation is asked, or leave out the factor He adds for ReLU?",
                       "The derivation gives Var(w) and the std is its root. He's variance is 2/fan_in (the 2 makes "
                       "up for ReLU's zeros), Xavier's 2/(fan_in + fan_out); 'random' uses 0.01 as the std itself.",
                       STD),
    "init-symmetry": Hint("Which weights does the 'zeros' method produce, and how spread out are they?",
                          "'zeros' sets every weight to 0, so the spread of its weights is 0.", STD),
}

INIT = ("W[l] = std_l · N(0, 1) draws of shape (n_l, n_{l-1}), std_l = init_std(method, n_{l-1}, n_l); B[l] = 0 of "
        "shape (1, n_l); every draw from one generator seeded with seed, in layer order.")
HINTS_INIT = {
    "*": Hint("Section 2: for each layer, which std does your init_std give, what shape does W[l] have, and which "
              "generator makes the draws repeatable for a given seed?",
              "For l = 1..L: draw an (n_l, n_{l-1}) array of standard normal numbers from one generator created "
              "from seed, scale it by the layer's std, and set B[l] to zeros of shape (1, n_l).", INIT),
    "init-fan": Hint(HINTS_STD["init-fan"].nudge, HINTS_STD["init-fan"].step, INIT),
    "init-scale": Hint(HINTS_STD["init-scale"].nudge, HINTS_STD["init-scale"].step, INIT),
    "init-symmetry": Hint("Section 1 shows what happens to units that start with identical weights. Are your "
                          "weights drawn, or set?",
                          "Every entry of W[l] must be an independent random draw, scaled by the layer's std; only "
                          "'zeros' sets them all equal.", INIT),
    "init-bias": Hint("What do biases start at in this course, and why do they need no randomness (section 2)?",
                      "The random weights already make the units of a layer different; every B[l] starts as "
                      "zeros of shape (1, n_l).", INIT),
    "init-seed": Hint("Does the same seed give the same weights, and another seed other weights? Where in your "
                      "function does the seed enter?",
                      "Create one generator from seed at the start and draw every layer's weights from it, in "
                      "layer order; NumPy's global generator ignores the seed.", INIT),
}

STATS = ("A[0] = X; A[l] = g(A[l-1] W[l]ᵀ + B[l]) for l = 1..L; the result is [std(A[1]), ..., std(A[L])], each "
         "std taken over all m · n_l entries of A[l].")
STATS_STEP = ("Run the forward pass with the same activation g in every layer, biases included; after each layer, "
              "take one standard deviation over all the entries of its activation A[l] (not unit by unit), and "
              "collect the L values.")
HINTS_STATS = {
    "*": Hint("Section 3 pushes X through the deep network and measures every layer. Which array of layer l do you "
              "measure, and over which of its entries is its spread taken?", STATS_STEP, STATS),
    "activation-layer": Hint("Your values match a spread measured before an activation. Which array holds what a "
                             "layer passes on to the next?",
                             "Measure A[l] = g(Z[l]), after the activation, in every layer including the last.", STATS),
    "missing-bias": Hint("Your values match a network without biases. What did your linear step leave out?",
                         "Each layer's Z[l] includes its bias row B[l], added to every example.", STATS),
    "wrong-shape": Hint("Which layers does the exercise measure: does the input count as one of them?",
                        "Return L values, one per layer, for A[1] ... A[L]; A[0] is the data, not a layer's "
                        "output.", STATS),
}

SIGMAS = 5.0
STAT_MIN_ENTRIES = 150
KURTOSIS_MIN_ENTRIES = 2000


def _torch_std(method, fan_in, fan_out):
    """The std torch.nn.init's normal variants use for a (fan_out, fan_in) weight (lazy torch import)."""
    import torch

    fan_in_t, fan_out_t = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(fan_out, fan_in))
    if method == "he":   # kaiming_normal_(mode="fan_in", nonlinearity="relu")
        return torch.nn.init.calculate_gain("relu") / math.sqrt(fan_in_t)
    if method == "xavier":  # xavier_normal_(gain=1)
        return 1.0 * math.sqrt(2.0 / (fan_in_t + fan_out_t))
    return init_std(method, fan_in, fan_out)  # "random" and "zeros" have no torch counterpart


def _std_mistakes(method, fan_in, fan_out):
    """Typical wrong stds: [(diagnosis, std, explanation)], most specific first."""
    n_in, n_out = float(fan_in), float(fan_out)
    if method == "he":
        return [("init-fan", math.sqrt(2 / n_out), "which matches He's rule with fan_out in place of fan_in"),
                ("init-fan", math.sqrt(2 / (n_in + n_out)), "which matches Xavier's rule, not He's"),
                ("init-scale", 2 / n_in, "which matches He's variance rather than its standard deviation"),
                ("init-scale", math.sqrt(1 / n_in), "which matches He's rule without its factor for ReLU"),
                ("init-scale", math.sqrt(2) / n_in, "which matches He's rule with the root taken of the numerator "
                 "only")]
    if method == "xavier":
        return [("init-fan", math.sqrt(2 / n_in), "which matches He's rule (fan_in only), not Xavier's"),
                ("init-fan", math.sqrt(1 / n_in), "which matches a rule with fan_in only and no factor 2"),
                ("init-fan", math.sqrt(2 / n_out), "which matches a rule with fan_out only"),
                ("init-scale", 2 / (n_in + n_out), "which matches Xavier's variance rather than its standard "
                 "deviation"),
                ("init-scale", math.sqrt(6 / (n_in + n_out)), "which matches the limit of Xavier's uniform variant, "
                 "not the std of the normal one"),
                ("init-scale", math.sqrt(1 / (n_in + n_out)), "which matches Xavier's rule without its factor 2")]
    if method == "random":
        return [("init-scale", 1.0, "which is the std of N(0, 1) draws left unscaled"),
                ("init-scale", 1e-4, "which is the square of the 'random' method's scale, a variance")]
    return []


# ---------------------------------------------------------------------------------------


@register
class InitStd(Exercise):
    name = "init_std"
    lecture = LECTURE
    args = ("method", "fan_in", "fan_out")
    outputs = ("std",)
    hints = HINTS_STD
    library_functions = ("backproplab.init.init_std",)

    def cases(self, rng, hidden):
        if not hidden:
            specs = [("he", 300, 40), ("xavier", 30, 400), ("he", 12, 500), ("xavier", 256, 64),
                     ("random", 50, 7), ("zeros", 5, 3)]
        else:
            small, large = int(rng.integers(2, 20)), int(rng.integers(100, 1000))
            specs = [("he", large, small), ("he", small, large), ("xavier", large, small),
                     ("xavier", small, large), ("he", 1, large), ("xavier", 1, 1),
                     ("he", large, 1), ("random", int(rng.integers(1, 500)), int(rng.integers(1, 500))),
                     ("zeros", small, large)]
        return [Case((method, fan_in, fan_out), label=f'method="{method}", fan_in={fan_in}, fan_out={fan_out}')
                for method, fan_in, fan_out in specs]

    def reference(self, case):
        return {"std": init_std(*case.args)}

    def oracles(self, case):
        method = case.args[0]
        if method not in ("he", "xavier"):
            return {}
        return {"PyTorch (torch.nn.init fans and gain)": {"std": _torch_std(*case.args)}}

    def mistakes(self, case):
        return [(diagnosis, {"std": std}, explanation) for diagnosis, std, explanation in _std_mistakes(*case.args)]

    def judge_outputs(self, case, outputs, expected):
        method = case.args[0]
        value = outputs["std"]
        if method == "zeros" and isinstance(value, (int, float, np.integer, np.floating)) and value != 0:
            return CaseVerdict(False, "init-symmetry",
                               f'init_std("zeros", ...) returned {float(value):.4g}: the zeros method has std 0 '
                               f"(every weight is 0).", {"std": False})
        return super().judge_outputs(case, outputs, expected)


# ---------------------------------------------------------------------------------------


def _layer_keys(sizes):
    return [f"{kind}{l}" for l in range(1, len(sizes)) for kind in ("W", "B")]


def _rms(values):
    return float(np.sqrt(np.mean(np.square(values))))


def _scale_band(entries):
    """Allowed |r / s - 1| for the root mean square r of ``entries`` N(0, s^2) draws."""
    return SIGMAS / math.sqrt(2.0 * entries)


def _hypothesis_stds(method, sizes):
    """[(diagnosis, explanation, [std per layer])] from ``_std_mistakes`` applied layer by layer."""
    per_layer = [_std_mistakes(method, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    if not per_layer or not per_layer[0]:
        return []
    return [(diagnosis, explanation, [layer[i][1] for layer in per_layer])
            for i, (diagnosis, _, explanation) in enumerate(per_layer[0])]


@register
class InitializeParameters(Exercise):
    """Judged statistically (see the module docstring), plus exact shapes, zero biases and seeds."""

    name = "initialize_parameters"
    lecture = LECTURE
    args = ("layer_sizes", "method")
    outputs = ("params",)
    hints = HINTS_INIT
    library_functions = ("backproplab.init.initialize_parameters", "backproplab.init.init_std",
                         "backproplab.initialize_parameters")

    @staticmethod
    def _case(sizes, method, seed, label, **info):
        kwargs = {} if seed is None else {"seed": seed}
        return Case((list(sizes), method), kwargs, label=f'layer_sizes={list(sizes)}, method="{method}", '
                    f"seed={seed}" + (f" ({label})" if label else ""), m=1, info=dict(info))

    def cases(self, rng, hidden):
        seed = int(rng.integers(0, 2**31 - 1))
        if not hidden:
            he = self._case([400, 30, 250, 8], "he", seed, "")
            cases = [he,
                     self._case([400, 30, 250, 8], "he", seed, "the same seed again", twin=he),
                     self._case([400, 30, 250, 8], "he", seed + 1, "another seed", other=he),
                     self._case([20, 500, 60], "xavier", seed + 2, ""),
                     self._case([300, 100, 10], "random", seed + 3, ""),
                     self._case([6, 4, 3], "zeros", seed + 4, "")]
            return cases
        # small * large >= 2000 entries: every layer is judged, with the kurtosis test too.
        small = [int(k) for k in rng.integers(8, 30, 3)]
        large = [int(k) for k in rng.integers(250, 700, 3)]
        xavier = self._case([small[0], large[0], small[1], large[1]], "xavier", seed, "")
        return [xavier,
                self._case([small[0], large[0], small[1], large[1]], "xavier", seed, "the same seed again",
                           twin=xavier),
                self._case([small[0], large[0], small[1], large[1]], "xavier", seed + 1, "another seed",
                           other=xavier),
                self._case([large[2], small[2], large[0]], "he", seed + 2, ""),
                self._case([1, 4 * large[1], 1], "he", seed + 3, "n0 = 1 and nL = 1"),
                self._case([large[0], 1], "xavier", seed + 4, "a single unit"),
                self._case([large[1], small[0], large[2]], "random", seed + 5, ""),
                self._case([large[2], small[1], 1], "zeros", seed + 6, ""),
                self._case([large[2], small[2], large[1]], "he", None, "seed left at its default None")]

    def reference(self, case):
        sizes, method = case.args
        return {"stds": np.array([init_std(method, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])])}

    def oracles(self, case):
        sizes, method = case.args
        return {"PyTorch (torch.nn.init fans and gain)":
                {"stds": np.array([_torch_std(method, n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])])}}

    def split(self, value, case):
        return {"params": value}

    # -- judging, one property at a time ----------------------------------------------
    def judge_outputs(self, case, outputs, expected):
        sizes, method = case.args
        params = outputs["params"]
        verdict = (self._structure(sizes, params) or self._biases(sizes, params)
                   or self._weights(sizes, method, params, expected["stds"]) or self._seed(case, params))
        if verdict is not None:
            return verdict
        case.info["returned"] = params
        return CaseVerdict(True, None, "", {"params": True})

    def _structure(self, sizes, params):
        split = split_dict(params, _layer_keys(sizes), f"initialize_parameters's result for {len(sizes) - 1} layers")
        if isinstance(split, CaseVerdict):
            return split
        for l in range(1, len(sizes)):
            for key, shape in ((f"W{l}", (sizes[l], sizes[l - 1])), (f"B{l}", (1, sizes[l]))):
                value = params[key]
                if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                    return CaseVerdict(False, "not-an-array",
                                       f"{key} should be a NumPy array of shape {shape}, but it is "
                                       f"{describe_value(value)}.")
                if value.shape == shape:
                    if not np.all(np.isfinite(value)):
                        return CaseVerdict(False, "non-finite", f"{key} contains NaN or infinity.")
                    continue
                if key.startswith("W") and value.shape == shape[::-1]:
                    return CaseVerdict(False, "transposed",
                                       f"{key} has shape {value.shape}, the transpose of {shape}: W[l] is "
                                       f"(n_l, n_{{l-1}}), one row per unit of layer l (like nn.Linear.weight).")
                if key.startswith("B") and value.size == sizes[l]:
                    return CaseVerdict(False, "bias-shape",
                                       f"{key} has shape {value.shape} where the (1, n_l) row (1, {sizes[l]}) is "
                                       f"expected.")
                return CaseVerdict(False, "wrong-shape", f"{key} has shape {value.shape} where {shape} is expected.")
        return None

    def _biases(self, sizes, params):
        for l in range(1, len(sizes)):
            if np.any(params[f"B{l}"] != 0):
                return CaseVerdict(False, "init-bias",
                                   f"B{l} is not all zeros.")
        return None

    def _weights(self, sizes, method, params, stds):
        weights = [np.asarray(params[f"W{l}"], dtype=float) for l in range(1, len(sizes))]
        if method == "zeros":
            for l, W in enumerate(weights, 1):
                if np.any(W != 0):
                    return CaseVerdict(False, "wrong-values",
                                       f'method="zeros" asks for all-zero weights, but W{l} has '
                                       f"{int(np.sum(W != 0))} non-zero entries.")
            return None
        for l, W in enumerate(weights, 1):
            if W.size >= 2 and np.all(W == W.flat[0]):
                return CaseVerdict(False, "init-symmetry",
                                   f'method="{method}" must draw random weights, but every entry of W{l} is '
                                   f"{W.flat[0]:.4g}: all units of a layer would compute the same thing and get "
                                   f"the same updates forever.")
            if W.shape[0] >= 2 and np.all(W == W[0]):
                return CaseVerdict(False, "init-symmetry",
                                   f"all {W.shape[0]} rows of W{l} are equal: every unit of layer {l} starts with the "
                                   f"same weights, so they stay identical during training.")
        judged = [(l, W, std) for l, (W, std) in enumerate(zip(weights, stds), 1) if W.size >= STAT_MIN_ENTRIES]
        for l, W, _ in judged:
            spread = W.std()
            if abs(W.mean()) > SIGMAS * max(spread, 1e-300) / math.sqrt(W.size):
                return CaseVerdict(False, "wrong-values",
                                   f"the entries of W{l} average {W.mean():.3g}, far from 0 for {W.size} draws "
                                   f"with std {spread:.3g}.")
        wrong = [(l, W, std) for l, W, std in judged if abs(_rms(W) / std - 1) > _scale_band(W.size)]
        if wrong:
            return self._scale_verdict(sizes, method, judged, wrong)
        for l, W, _ in judged:
            if W.size < KURTOSIS_MIN_ENTRIES:
                continue
            excess = float(np.mean((W / _rms(W)) ** 4) - 3.0)
            if abs(excess) > SIGMAS * math.sqrt(24.0 / W.size):
                shape = ("a uniform distribution (excess kurtosis -1.2)" if excess < -0.6
                         else "not normally distributed")
                return CaseVerdict(False, "wrong-values",
                                   f"W{l} has the right std, but its entries look like {shape}: the excess "
                                   f"kurtosis is {excess:.2f} where a normal distribution has 0.")
        return None

    def _scale_verdict(self, sizes, method, judged, wrong):
        for diagnosis, explanation, hypothesis in _hypothesis_stds(method, sizes):
            if all(abs(_rms(W) / hypothesis[l - 1] - 1) <= _scale_band(W.size) for l, W, _ in judged):
                return CaseVerdict(False, diagnosis, f"the weights have the wrong std: {explanation}.")
        l, W, std = wrong[0]
        return CaseVerdict(False, "init-scale",
                           f'W{l} of a ({sizes[l]}, {sizes[l - 1]}) layer with method="{method}" should have std '
                           f"{std:.4g}, but its entries have std {_rms(W):.4g} (ratio {_rms(W) / std:.3g}).")

    def _seed(self, case, params):
        twin, other = case.info.get("twin"), case.info.get("other")
        if twin is not None and "returned" in twin.info:
            earlier = twin.info["returned"]
            if any(not np.array_equal(params[key], earlier[key]) for key in earlier if key.startswith("W")):
                return CaseVerdict(False, "init-seed",
                                   "called twice with the same seed, it returned different weights.")
        if other is not None and "returned" in other.info:
            earlier = other.info["returned"]
            if all(np.array_equal(params[key], earlier[key]) for key in earlier if key.startswith("W")):
                return CaseVerdict(False, "init-seed",
                                   "two different seeds gave exactly the same weights.")
        return None


# ---------------------------------------------------------------------------------------


def _forward_activations(X, params, activation, *, apply=True, bias=True, linear=None):
    """[A[1], ..., A[L]] of a stack of layers that all use ``activation`` (variants for mistakes)."""
    g = get_activation(activation).forward
    A = np.asarray(X, dtype=float)
    outputs = []
    for l in range(1, len(params) // 2 + 1):
        W, B = params[f"W{l}"], params[f"B{l}"]
        Z = (linear or (lambda A, W: A @ W.T))(A, W) + (B if bias else 0.0)
        A = g(Z) if apply else Z
        outputs.append((Z, A))
    return outputs


@register
class LayerStatistics(Exercise):
    """The per-layer std of a deep network's activations (population std, ddof=0; ddof=1 is
    accepted too, as torch.std's default)."""

    name = "layer_statistics"
    lecture = LECTURE
    args = ("X", "params", "activation")
    outputs = ("stds",)
    hints = HINTS_STATS

    @staticmethod
    def _case(rng, m, sizes, activation, method, label):
        from ..init import initialize_parameters

        params = initialize_parameters(sizes, method, seed=int(rng.integers(0, 2**31 - 1)))
        for l in range(1, len(sizes)):  # non-zero biases, so a forgotten B shows
            params[f"B{l}"] = rng.normal(0.0, 0.1, (1, sizes[l]))
        X = rng.normal(size=(m, sizes[0]))
        return Case((X, params, activation), label=f"m={m}, layer_sizes={sizes}, {activation}, {method} init", m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 40, [30, 50, 40, 60, 20, 45], "tanh", "xavier", ""),
                    self._case(rng, 25, [12, 40, 35, 30], "relu", "he", ""),
                    self._case(rng, 10, [8, 20, 15, 25], "sigmoid", "random", "")]
        acts = ["relu", "tanh", "sigmoid", "leaky_relu"]
        L = int(rng.integers(4, 9))
        sizes = [int(n) for n in rng.integers(5, 60, L + 1)]
        return [self._case(rng, int(rng.integers(5, 50)), sizes, str(rng.choice(acts)),
                           str(rng.choice(["xavier", "he", "random"])), ""),
                self._case(rng, 1, [20, 30, 25, 40], str(rng.choice(acts)), "he", ""),
                self._case(rng, 12, [10, 1, 15, 1], "tanh", "xavier", ""),
                self._case(rng, 30, [25, 35, 30], "relu", "random", "")]

    def reference(self, case):
        X, params, activation = case.args
        return {"stds": np.array([np.std(A) for _, A in _forward_activations(X, params, activation)])}

    def oracles(self, case):
        import torch

        from ..torch_reference import torch_activation

        X, params, activation = case.args
        A = torch.as_tensor(X, dtype=torch.float64)
        stds = []
        for l in range(1, len(params) // 2 + 1):
            W = torch.as_tensor(params[f"W{l}"], dtype=torch.float64)
            B = torch.as_tensor(params[f"B{l}"], dtype=torch.float64).reshape(-1)
            A = torch.as_tensor(torch_activation(activation, torch.nn.functional.linear(A, W, B).numpy()))
            stds.append(float(A.std(unbiased=False)))
        return {"PyTorch": {"stds": np.array(stds)}}

    def split(self, value, case):
        if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float, np.integer, np.floating))
                                                    or (isinstance(v, np.ndarray) and v.size == 1) for v in value):
            value = np.array([float(np.asarray(v).reshape(())) for v in value])
        return {"stds": value}

    def mistakes(self, case):
        X, params, activation = case.args
        layers = _forward_activations(X, params, activation)
        stds = np.array
        mistakes = [
            ("activation-layer", {"stds": stds([np.std(Z) for Z, _ in layers])},
             "which is the std of Z[l], before the activation"),
            ("missing-bias", {"stds": stds([np.std(A) for _, A in _forward_activations(X, params, activation,
                                                                                        bias=False)])},
             "which is what the network gives without the biases B[l]"),
            ("wrong-values", {"stds": stds([np.var(A) for _, A in layers])},
             "which is the variance of A[l]"),
            ("wrong-values", {"stds": stds([np.std(A, axis=0).mean() for _, A in layers])},
             "which is the average of each unit's own std over the examples"),
            ("wrong-values", {"stds": stds([np.mean(A) for _, A in layers])},
             "which is the mean of A[l], not its standard deviation"),
        ]
        if len(layers) > 1:
            mistakes.append(("activation-layer", {"stds": stds([np.std(A) for _, A in layers[:-1]]
                                                               + [np.std(layers[-1][0])])},
                             "which leaves out g in the last layer"))
        return mistakes

    def judge_outputs(self, case, outputs, expected):
        student, want = outputs["stds"], expected["stds"]
        if isinstance(student, np.ndarray) and student.shape == want.shape and student.dtype.kind in "iuf":
            X, params, _ = case.args  # A[l] is (m, n_l)
            counts = np.array([X.shape[0] * params[f"W{l}"].shape[0] for l in range(1, want.size + 1)], dtype=float)
            unbiased = want * np.sqrt(counts / np.maximum(counts - 1, 1))
            if is_close(student.astype(float), unbiased, 1e-7):
                return CaseVerdict(True, None, "", {"stds": True})  # ddof=1, torch.std's default
        if isinstance(student, np.ndarray) and student.shape == (want.size + 1,):
            X = np.asarray(case.args[0], dtype=float)
            if is_close(student.astype(float), np.concatenate([[np.std(X)], want]), 1e-7):
                return CaseVerdict(False, "wrong-shape",
                                   f"the result has {want.size + 1} entries and starts with the std of X (that is "
                                   f"A[0]), for a network of {want.size} layers.", {"stds": False})
        return super().judge_outputs(case, outputs, expected)


__all__ = ["InitStd", "InitializeParameters", "LayerStatistics", "INIT_METHODS"]
