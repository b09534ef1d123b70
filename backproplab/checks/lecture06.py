"""Checks for lecture 06-overfitting.

Exercises (DESIGN.md signatures): l2_penalty, l2_backward, dropout_forward, dropout_backward,
and the lecture's early_stopping_epoch(val_costs, patience=5) -> int.
Oracles: the NumPy library (reference), PyTorch float64 (autograd for the gradients) and
central differences (``backproplab.gradcheck.numerical_gradient``) for the gradients.

dropout_forward is random: a student may draw the mask differently from the library, so it
is judged on properties instead of values: mask of 1/0 (or booleans) with the input's shape,
output consistent with the mask (kept entries exactly A times inverted dropout's factor, dropped
ones 0), and a drop fraction within a few binomial standard deviations of alpha on a large array.
"""
from __future__ import annotations

import numpy as np

from .. import torch_reference
from ..gradcheck import numerical_gradient
from ..layers import dropout_backward, dropout_forward, l2_backward, l2_penalty
from .codec import RngToken
from .compare import allowing_rounding, describe_value, is_close, tolerance_for
from .exercises import Exercise, register
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "06-overfitting"

# ---- the hint ladders (lecture prose: solutions/06-overfitting, sections 3, 5 and 6) -----------------------

PENALTY = "J_L2 = (λ/(2m)) Σ_l ‖W[l]‖²_F: the square of every weight of every layer, never a bias; a float."
PENALTY_STEP = ("Add up the squares of every entry of every W[l] (never B[l]); the factor in front is lambd over 2m: "
                "the m matches the cost's average over the examples, the 2 cancels when a square is differentiated.")
HINTS_PENALTY = {
    "*": Hint("Section 3 adds a penalty on large weights to the cost. Which parameters does it penalize, and which "
              "numbers in front of it keep it comparable to the average cost and make its derivative simple?",
              PENALTY_STEP, PENALTY),
    "l2-factor": Hint("Your penalty is off by a factor (the message says which). Which two numbers does section 3 "
                      "put under lambd, why each of them, and which parameters are penalized at all?",
                      PENALTY_STEP, PENALTY),
}

L2_GRAD = "dW_extra = (λ/m) W[l], the gradient of the penalty, added to dW[l]; W's shape."
L2_STEP = ("∂/∂w of (λ/(2m)) w² is (λ/(2m)) · 2w: the 2 of the derivative cancels the 1/2 in front, leaving λ/m "
           "times w, entry by entry.")
HINTS_L2_GRAD = {
    "*": Hint("Differentiate the penalty of section 3 with respect to one weight w: what does the derivative of w² "
              "give, and what happens to the factor in front of it?", L2_STEP, L2_GRAD),
    "l2-factor": Hint("Your gradient is off by a constant factor. When you differentiate the penalty of one "
                      "weight, which number comes down from its exponent, and what does it do to the factor in "
                      "front?", L2_STEP, L2_GRAD),
}

DROPOUT = ("mask_ij = 1 with probability 1 - α (kept) and 0 with probability α (dropped); A_out = A ⊙ mask / (1 - α); "
           "return (A_out, mask).")
DROPOUT_STEP = ("Draw one uniform number per entry from rng; keep the entry (mask 1) where it is at least alpha and "
                "drop it (mask 0) elsewhere; scale the kept entries up so that each entry's expected value stays A; "
                "return the output and that same mask.")
HINTS_DROPOUT = {
    "*": Hint("Section 5: alpha is the probability of dropping a unit. Which units does your mask keep, how are the "
              "kept ones made larger so that nothing changes at test time, and what does the backward pass need "
              "from this function?", DROPOUT_STEP, DROPOUT),
    "dropout-mask": Hint("Your mask is not the one the exercise asks for: does it hold only 1 for kept and 0 for "
                         "dropped units, does it drop about a fraction alpha, and does your output follow it?",
                         DROPOUT_STEP, DROPOUT),
    "dropout-scale": Hint("The right units are kept, but their size is off. What is a unit's expected output under "
                          "dropout, and which scale brings it back to A (section 5)?",
                          "A unit survives with probability 1 - alpha, so its expected output is (1 - alpha) A "
                          "unless each kept entry is scaled up by 1/(1 - alpha).", DROPOUT),
}

DROPOUT_BACK = "dA_prev = dA ⊙ mask / (1 - α): the forward pass's mask and scale."
DROPOUT_BACK_STEP = ("A kept entry's output is its input scaled by 1/(1 - alpha); a dropped entry's output is 0 "
                     "whatever its input. So the local derivative is that scale where the mask is 1, and 0 where it "
                     "is 0.")
HINTS_DROPOUT_BACK = {
    "*": Hint("Section 5: the forward pass kept some units and scaled them. How does each unit's output depend on "
              "its input, and what does the chain rule pass back through a dropped unit, and through a kept one?",
              DROPOUT_BACK_STEP, DROPOUT_BACK),
    "dropout-scale": Hint("The gradient flows through the right units, with the wrong size. What did the forward "
                          "pass do to the size of the kept units, and what is the slope of that operation?",
                          DROPOUT_BACK_STEP, DROPOUT_BACK),
    "dropout-mask": Hint("Your gradient flows through units the forward pass dropped, or not through units it kept. "
                         "Which argument says which units were kept?", DROPOUT_BACK_STEP, DROPOUT_BACK),
}

EARLY = ("Walk t = 0, 1, ...: a cost strictly below the best so far is an improvement (best ← t, wait ← 0), any other "
         "cost makes wait ← wait + 1; stop when wait reaches patience; return best, a 0-based index (the best of "
         "the whole curve if training never stops).")
EARLY_STEP = ("Keep the best cost so far and its index, and count the epochs since the last strict improvement; when "
              "that count reaches patience, stop and return the index of the best epoch; an equal cost is not an "
              "improvement.")
HINTS_EARLY = {
    "*": Hint("Section 6: early stopping watches the validation cost epoch by epoch and cannot see the future. When "
              "does an epoch count as an improvement, when does training stop, and which epoch's weights are kept?",
              EARLY_STEP, EARLY),
    "off-by-one": Hint("Your answer is one more than the expected index. Is the result an epoch number counted from "
                       "1, or a position in val_costs?",
                       "val_costs[0] is the first epoch: return the best epoch's position in the list, counted "
                       "from 0.", EARLY),
    "early-stop-lookahead": Hint("Your answer is the curve's lowest cost overall. Could a training run that has already "
                                 "stopped have seen that epoch?",
                                 "Walk through the costs in order and stop as soon as patience epochs in a row bring "
                                 "no improvement; only the epochs up to there count.", EARLY),
    "early-stop-restore": Hint("Your answer is the epoch at which training stopped. Whose weights does early "
                               "stopping restore (section 6)?",
                               "Return the index of the best epoch seen before stopping, not of the epoch at which "
                               "the patience ran out.", EARLY),
    "early-stop-patience": Hint("Your run stops an epoch early or late, or takes an equal cost for progress. After "
                                "how many epochs without a strict improvement does training stop?",
                                "An epoch improves only if its cost is strictly below the best so far; training "
                                "stops when exactly patience epochs in a row did not improve.", EARLY),
}

# dropout_forward: how far the drop fraction may be from alpha, in binomial standard deviations.
DROP_FRACTION_SIGMAS = 5.0


def _draw_params(rng, sizes):
    """W{l} (n_l, n_{l-1}) and B{l} (1, n_l) with nonzero biases (so penalizing them shows)."""
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(size=(sizes[l], sizes[l - 1]))
        params[f"B{l}"] = rng.normal(1.0, 0.5, size=(1, sizes[l]))
    return params


def _weights_only(params):
    return {key: value for key, value in params.items() if key.startswith("W")}


# ---------------------------------------------------------------------------------------
# L2 weight decay


@register
class L2Penalty(Exercise):
    name = "l2_penalty"
    lecture = LECTURE
    args = ("params", "lambd", "m")
    outputs = ("J_L2",)
    hints = HINTS_PENALTY
    library_functions = ("backproplab.layers.l2_penalty", "backproplab.model.compute_cost")

    @staticmethod
    def _case(rng, sizes, m, label):
        lambd = float(np.round(rng.uniform(0.1, 3.0), 3))
        return Case((_draw_params(rng, sizes), lambd, m), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, [3, 4, 1], 8, "2 layers, m=8"),
                    self._case(rng, [5, 2, 3, 2], 6, "3 layers, m=6")]
        sizes = [int(n) for n in rng.integers(2, 7, int(rng.integers(3, 5)))]
        return [self._case(rng, sizes, int(rng.integers(3, 40)), "random network"),
                self._case(rng, [2, 3, 1], 1, "m=1 (a single example)"),
                self._case(rng, [1, 1], int(rng.integers(2, 9)), "one layer with n=1 (a single weight)")]

    def reference(self, case):
        return {"J_L2": l2_penalty(*case.args)}

    def oracles(self, case):
        import torch

        params, lambd, m = case.args
        squares = sum(torch.sum(torch.tensor(W, dtype=torch.float64) ** 2) for W in _weights_only(params).values())
        return {"PyTorch": {"J_L2": float(lambd / (2 * m) * squares)}}

    def mistakes(self, case):
        params, lambd, m = case.args
        squares = sum(float(np.sum(W ** 2)) for W in _weights_only(params).values())
        with_biases = sum(float(np.sum(value ** 2)) for value in params.values())
        return [("l2-factor", {"J_L2": lambd / m * squares}, "which is twice the expected value")] + (
            [("l2-factor", {"J_L2": lambd / 2 * squares}, f"which is m = {m} times the expected value")]
            if m > 1 else []) + [
            ("l2-factor", {"J_L2": lambd * squares}, f"which is 2m = {2 * m} times the expected value"),
            ("l2-factor", {"J_L2": lambd / (2 * m) * with_biases}, "which includes the squares of the biases B[l]"),
            ("l2-factor", {"J_L2": lambd / m * with_biases}, "which includes the squares of the biases B[l] and is "
             "twice as large again"),
        ]


@register
class L2Backward(Exercise):
    name = "l2_backward"
    lecture = LECTURE
    args = ("W", "lambd", "m")
    outputs = ("dW_extra",)
    hints = HINTS_L2_GRAD
    library_functions = ("backproplab.layers.l2_backward",)

    @staticmethod
    def _case(rng, n, n_prev, m, label):
        lambd = float(np.round(rng.uniform(0.1, 3.0), 3))
        return Case((rng.normal(size=(n, n_prev)), lambd, m), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 3, 5, 10, "W (3, 5), m=10"), self._case(rng, 4, 2, 7, "W (4, 2), m=7")]
        n, n_prev = (int(k) for k in rng.permutation(np.arange(2, 9))[:2])
        return [self._case(rng, n, n_prev, int(rng.integers(3, 30)), f"W ({n}, {n_prev})"),
                self._case(rng, 3, 4, 1, "m=1 (a single example)"),
                self._case(rng, 1, 5, int(rng.integers(2, 9)), "n=1 (a single unit)")]

    def reference(self, case):
        return {"dW_extra": l2_backward(*case.args)}

    def oracles(self, case):
        W, lambd, m = case.args
        import torch

        W_t = torch.tensor(W, dtype=torch.float64, requires_grad=True)
        (lambd / (2 * m) * torch.sum(W_t ** 2)).backward()
        numeric = numerical_gradient(lambda V: l2_penalty({"W1": V}, lambd, m), W.copy())
        return {"PyTorch": {"dW_extra": W_t.grad.numpy()}, "finite differences": {"dW_extra": numeric}}

    def mistakes(self, case):
        W, lambd, m = case.args
        factors = [(lambd / (2 * m), "which is half the expected value"),
                   (2 * lambd / m, "which is twice the expected value")]
        if m > 1:
            factors += [(lambd, f"which is m = {m} times the expected value"),
                        (lambd / 2, f"which is m/2 = {m / 2:g} times the expected value")]
        return [("l2-factor", {"dW_extra": factor * W}, text) for factor, text in factors]


# ---------------------------------------------------------------------------------------
# Inverted dropout


@register
class DropoutForward(Exercise):
    """Judged on properties (see the module docstring), never on the exact random draw."""

    name = "dropout_forward"
    lecture = LECTURE
    args = ("A", "alpha", "rng")
    outputs = ("A_out", "mask")
    hints = HINTS_DROPOUT
    library_functions = ("backproplab.layers.dropout_forward", "backproplab.model.model_forward")

    @staticmethod
    def _case(rng, m, n, alpha, label):
        # No zeros in A, so that a 0 in the output always means "dropped".
        A = rng.uniform(0.2, 2.0, (m, n)) * rng.choice([-1.0, 1.0], (m, n))
        return Case((A, alpha, RngToken(int(rng.integers(0, 2**31)))), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 120, 90, 0.2, "alpha=0.2 (drop 20%), A (120, 90)"),
                    self._case(rng, 80, 150, 0.7, "alpha=0.7 (drop 70%), A (80, 150)"),
                    self._case(rng, 4, 3, 0.0, "alpha=0 (keep everything), A (4, 3)")]
        alpha = float(np.round(rng.uniform(0.1, 0.4), 2))
        return [self._case(rng, int(rng.integers(60, 120)), int(rng.integers(60, 120)), alpha, f"alpha={alpha}"),
                self._case(rng, 1, 4000, 0.6, "m=1 (a single example), alpha=0.6"),
                self._case(rng, 3000, 1, 0.25, "n=1 (a single unit), alpha=0.25")]

    def reference(self, case):
        A, alpha, token = case.args
        A_out, mask = dropout_forward(A, alpha, np.random.default_rng(token.seed))
        return {"A_out": A_out, "mask": mask}

    def oracles(self, case):
        import torch

        # The same mask applied by PyTorch (the draw itself cannot be compared across generators).
        A, alpha, token = case.args
        mask = self.reference(case)["mask"]
        A_out = (torch.tensor(A) * torch.tensor(mask) / (1.0 - alpha)).numpy()
        return {"PyTorch": {"A_out": A_out}}

    def split(self, value, case):
        if isinstance(value, np.ndarray):
            return CaseVerdict(False, "dropout-mask",
                               "dropout_forward returned one array where the tuple (A_out, mask) is expected.",
                               {"A_out": True, "mask": False})
        return super().split(value, case)

    def judge_outputs(self, case, outputs, expected):
        A, alpha, _ = case.args
        A_out, mask = outputs["A_out"], outputs["mask"]
        if mask is None:
            return CaseVerdict(False, "dropout-mask",
                               "dropout_forward returned no mask (None) where the tuple (A_out, mask) is expected.",
                               {"A_out": True, "mask": False})
        for name, value in (("A_out", A_out), ("mask", mask)):
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                return CaseVerdict(False, "not-an-array", f"{name} should be a NumPy array of shape {A.shape}, but "
                                   f"it is {describe_value(value)}.", {name: False})
            if value.shape != A.shape:
                return CaseVerdict(False, "wrong-shape", f"{name} has shape {value.shape} where {A.shape} (the shape "
                                   f"of A: one mask entry per unit and example) is expected.", {name: False})
        mask_f = mask.astype(float)
        A_out_f = A_out.astype(float)
        if not np.all(np.isfinite(A_out_f)):
            return CaseVerdict(False, "non-finite", "A_out contains NaN or infinity.", {"A_out": False})
        values = set(np.unique(mask_f).tolist())
        if not values <= {0.0, 1.0}:
            shown = ", ".join(f"{v:.4g}" for v in sorted(values)[:4])
            return CaseVerdict(False, "dropout-mask",
                               f"the mask holds the values {shown}{'...' if len(values) > 4 else ''}; it must hold "
                               f"only 1 (kept) and 0 (dropped).", {"mask": False})
        kept = mask_f == 1.0
        kept_by_output = A_out_f != 0.0
        if alpha > 0 and np.array_equal(kept, ~kept_by_output):
            return CaseVerdict(False, "dropout-mask",
                               "the mask is inverted relative to your output: it holds 1 where A_out is 0 (dropped) "
                               "and 0 where A_out is kept.", {"mask": False})
        if not np.array_equal(kept, kept_by_output):
            bad = int(np.sum(kept != kept_by_output))
            return CaseVerdict(False, "dropout-mask",
                               f"the mask does not match the output: at {bad} of {kept.size} entries A_out is 0 where "
                               f"the mask keeps the unit, or nonzero where it drops it.", {"mask": False})
        verdict = self._judge_fraction(case, kept)
        if verdict is not None:
            return verdict
        return self._judge_scale(A, alpha, A_out_f, kept, A_out)

    @staticmethod
    def _judge_fraction(case, kept):
        A, alpha, _ = case.args
        n = kept.size
        dropped = 1.0 - float(kept.mean())
        sigma = np.sqrt(max(alpha * (1 - alpha), 1e-12) / n)
        allowed = DROP_FRACTION_SIGMAS * sigma + 0.5 / n
        if abs(dropped - alpha) <= allowed:
            return None
        if alpha > 0 and abs(dropped - (1 - alpha)) <= allowed:
            text = (f"your mask dropped {dropped:.1%} of the units with alpha={alpha}, about 1 - alpha: as if alpha "
                    f"were the probability of keeping a unit.")
        else:
            text = (f"your mask dropped {dropped:.1%} of the {n} units, but with alpha={alpha} about {alpha:.0%} "
                    f"should be dropped (the tolerance here is +-{allowed:.1%}).")
        return CaseVerdict(False, "dropout-mask", text, {"mask": False})

    @staticmethod
    def _judge_scale(A, alpha, A_out_f, kept, A_out):
        tol = allowing_rounding(tolerance_for(A), A_out)
        expected = np.where(kept, A / (1.0 - alpha), 0.0)
        if is_close(A_out_f, expected, tol):
            return CaseVerdict(True, None, "", {"A_out": True, "mask": True})
        outputs = {"A_out": False, "mask": True}
        wrong_scales = [(1.0, "the kept units are not scaled"),
                        (1.0 - alpha, "the kept units are made smaller instead of larger")]
        if alpha > 0:
            wrong_scales.append((1.0 / alpha, "the kept units are scaled by 1/alpha"))
        for scale, text in wrong_scales:
            if is_close(A_out_f, np.where(kept, A * scale, 0.0), tol):
                return CaseVerdict(False, "dropout-scale",
                                   f"{text} (alpha={alpha}).", outputs, A_out_f - expected)
        return CaseVerdict(False, "wrong-values",
                           "the mask is right, but the kept entries of A_out have the wrong values.", outputs,
                           A_out_f - expected)


@register
class DropoutBackward(Exercise):
    name = "dropout_backward"
    lecture = LECTURE
    args = ("dA", "mask", "alpha")
    outputs = ("dA_prev",)
    hints = HINTS_DROPOUT_BACK
    library_functions = ("backproplab.layers.dropout_backward", "backproplab.model.model_backward")

    @staticmethod
    def _case(rng, m, n, alpha, label, boolean=False):
        mask = rng.random((m, n)) >= alpha
        mask[0, 0] = False  # at least one dropped and (below) one kept unit, even when m = n = 1
        if mask.size > 1:
            mask[-1, -1] = True
        dA = rng.normal(size=(m, n))
        return Case((dA, mask if boolean else mask.astype(float), alpha), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 6, 9, 0.3, "alpha=0.3, dA (6, 9)"),
                    self._case(rng, 8, 5, 0.6, "alpha=0.6, a boolean mask", boolean=True)]
        alpha = float(np.round(rng.uniform(0.1, 0.8), 2))
        return [self._case(rng, int(rng.integers(3, 10)), int(rng.integers(3, 10)), alpha, f"alpha={alpha}"),
                self._case(rng, 1, 7, 0.4, "m=1 (a single example), a boolean mask", boolean=True),
                self._case(rng, 6, 1, 0.25, "n=1 (a single unit)")]

    def reference(self, case):
        return {"dA_prev": dropout_backward(*case.args)}

    def oracles(self, case):
        dA, mask, alpha = case.args
        keep = np.asarray(mask, dtype=float) / (1.0 - alpha)
        # J(A) = sum(dA * dropout(A)) has gradient dA_prev with respect to A.
        numeric = numerical_gradient(lambda A: float(np.sum(dA * A * keep)), np.zeros(dA.shape))
        return {"PyTorch": {"dA_prev": torch_reference.torch_dropout_backward(dA, mask, alpha)},
                "finite differences": {"dA_prev": numeric}}

    def mistakes(self, case):
        dA, mask, alpha = case.args
        keep = np.asarray(mask, dtype=float)
        return [("dropout-scale", {"dA_prev": dA * keep}, "which follows the mask with the kept units unscaled"),
                ("dropout-scale", {"dA_prev": dA * keep * (1 - alpha)}, "which follows the mask with the kept units "
                 "made smaller instead of larger"),
                ("dropout-scale", {"dA_prev": dA * keep / alpha}, "which follows the mask with the kept units scaled "
                 "by 1/alpha"),
                ("dropout-mask", {"dA_prev": dA * (1 - keep) / (1 - alpha)}, "which flows through the dropped units "
                 "instead of the kept ones"),
                ("dropout-mask", {"dA_prev": dA / (1 - alpha)}, "which ignores the mask: the dropped units get a "
                 "gradient too")]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.diagnosis != "wrong-values":
            return verdict
        dA, mask, alpha = case.args
        student = outputs["dA_prev"]
        flows = np.asarray(student, dtype=float) != 0
        if flows.shape == dA.shape and not np.array_equal(flows, np.asarray(mask, dtype=bool)):
            verdict.diagnosis = "dropout-mask"
            verdict.message = ("dA_prev is nonzero at units the forward pass dropped, or zero at units it kept: "
                               "it does not follow the given mask.")
        return verdict


# ---------------------------------------------------------------------------------------
# Early stopping


def early_stopping_index(val_costs, patience=5, *, ties_improve=False, extra_wait=0, restore=True):
    """The reference rule and, through its switches, the typical mistakes.

    val_costs: sequence of floats, one per epoch; patience: epochs without a strict improvement
    before training stops -> int, the 0-based index of the lowest cost seen before stopping.
    ties_improve: count an equal cost as an improvement; extra_wait: wait that many more epochs;
    restore=False: return the index where training stopped instead of the best one.

    Computed on the whole curve at once (not the epoch-by-epoch walk the exercise asks for): the
    running minimum of the costs before each epoch marks the improving epochs, a running maximum
    of their indices gives the last improvement at every epoch, and training stops at the first
    epoch whose distance from it reaches the patience. NaN never improves, as in a walk that
    compares with ``<``.
    """
    costs = np.asarray(val_costs)
    if costs.dtype.kind not in "iuf":
        costs = costs.astype(float)
    n = len(costs)
    epochs = np.arange(n)
    before = np.fmin.accumulate(costs)[:-1]  # the lowest cost among epochs 0..t-1, for t = 1..n-1
    better = costs[1:] <= before if ties_improve else costs[1:] < before
    if np.isnan(costs[0]):  # nothing compares lower than a NaN start
        better[:] = False
    improving = np.concatenate(([True], better))
    last_improvement = np.maximum.accumulate(np.where(improving, epochs, 0))
    stops = np.flatnonzero(epochs - last_improvement >= max(patience + extra_wait, 1))
    end = int(stops[0]) if stops.size else n - 1
    return int(last_improvement[end]) if restore else end


def _noisy_curve(rng, n_epochs, noise=0.004):
    """A validation curve (list of n_epochs floats): falls, flattens, then rises slowly
    (overfitting), with noise, rounded to 5 decimals."""
    t = np.arange(n_epochs, dtype=float)
    turn = rng.uniform(0.55, 0.75) * n_epochs
    curve = 0.3 + 0.7 * np.exp(-t / (0.15 * n_epochs)) + 0.002 * np.maximum(0.0, t - turn) ** 1.2
    return [float(c) for c in np.round(curve + noise * rng.standard_normal(n_epochs), 5)]


def _shaped_curve(rng, n_epochs, patience, kind):
    """A noisy curve with, right after the epoch where the rule would stop, a feature that one
    typical mistake reads differently, and later the lowest cost of all (found only by peeking
    ahead). kind: "bump" (a rise of patience + 2 epochs, then lower costs), "plateau" (the best
    cost repeated exactly, then one lower), "late" (one epoch too late, a lower cost).
    -> list of floats, or None when the curve is too short for the feature."""
    curve = _noisy_curve(rng, n_epochs)
    best = early_stopping_index(curve, patience)
    start = best + 1
    if kind == "bump":
        feature = [curve[best] + 0.01 * (k + 1) for k in range(patience + 2)] + [curve[best] - 0.01]
    elif kind == "plateau":
        feature = [curve[best]] * (patience + int(rng.integers(0, 3))) + [curve[best] - 0.01]
    else:  # "late": patience epochs without improvement, then an improvement
        feature = [curve[best] + 0.01] * patience + [curve[best] - 0.01]
    rise = [feature[-1] + 0.02] * (patience + 2)
    dip = start + len(feature) + len(rise)
    if dip >= n_epochs:
        return None
    curve[start:dip] = feature + rise
    curve[dip] = min(curve) - 0.05
    return [float(c) for c in np.round(curve, 5)]


@register
class EarlyStoppingEpoch(Exercise):
    """Judged exactly against the reference rule on generated curves; each curve is built so
    that one typical mistake gives a different answer there."""

    name = "early_stopping_epoch"
    lecture = LECTURE
    args = ("val_costs", "patience")
    outputs = ("epoch",)
    hints = HINTS_EARLY
    # The mistake each kind of generated curve is built to expose.
    SHOWS = {"bump": "early-stop-lookahead", "plateau": "early-stop-patience", "late": "early-stop-patience",
             "falling": "off-by-one"}

    def _mistakes_of(self, val_costs, patience):
        return [
            ("off-by-one", early_stopping_index(val_costs, patience) + 1,
             "which is one more than the expected index"),
            ("early-stop-lookahead", int(np.argmin(val_costs)),
             "which is the lowest cost of all, after the point where training stops"),
            ("early-stop-restore", early_stopping_index(val_costs, patience, restore=False),
             "which is the epoch where training stopped"),
            ("early-stop-patience", early_stopping_index(val_costs, patience, ties_improve=True),
             "which is what counting an equal cost as an improvement gives"),
            ("early-stop-patience", early_stopping_index(val_costs, patience, extra_wait=1),
             "which is what waiting patience + 1 epochs gives"),
            ("early-stop-patience", early_stopping_index(val_costs, patience, extra_wait=-1),
             "which is what waiting only patience - 1 epochs gives"),
        ]

    def _case(self, rng, label, n_epochs, patience, kind, as_array=False, default_patience=False):
        """A curve of the given kind on which the mistakes' answers differ from each other
        (redrawn until they do): "bump", "plateau", "late" (an improvement exactly patience + 1
        epochs after the best), "falling" (never stops)."""
        for _ in range(200):
            if kind == "falling":
                curve = [float(c) for c in np.round(1.0 / (1 + 0.1 * np.arange(n_epochs))
                                                    + 0.0005 * rng.standard_normal(n_epochs), 5)]
            else:
                curve = _shaped_curve(rng, n_epochs, patience, kind)
                if curve is None:
                    continue
            expected = early_stopping_index(curve, patience)
            wrong = [(d, v) for d, v, _ in self._mistakes_of(curve, patience) if v != expected]
            # Every wrong answer must point to one diagnosis only, and this curve's own mistake must show.
            unambiguous = all(len({d for d, v in wrong if v == value}) == 1 for _, value in wrong)
            if unambiguous and any(d == self.SHOWS[kind] for d, _ in wrong):
                costs = np.array(curve) if as_array else curve
                kwargs = {} if default_patience else {"patience": patience}
                return Case((costs,), kwargs, label=label, m=1)
        raise RuntimeError(f"could not draw an early-stopping curve of kind {kind}")  # our bug

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, "a curve with a temporary rise, patience=5", 60, 5, "bump", default_patience=True),
                    self._case(rng, "a curve with a flat stretch, patience=4", 50, 4, "plateau"),
                    self._case(rng, "an improvement right after the patience ran out, patience=3", 40, 3, "late"),
                    self._case(rng, "a curve that keeps falling, patience=6", 30, 6, "falling")]
        patience = int(rng.integers(2, 8))
        return [self._case(rng, f"a noisy curve with a rise, patience={patience}", int(rng.integers(60, 100)),
                           patience, "bump", as_array=True),
                self._case(rng, f"a flat stretch, patience={patience}", int(rng.integers(60, 100)), patience,
                           "plateau"),
                # patience >= 2: with patience 1, "stopped at best + 1" and "best + 1" cannot be told apart.
                self._case(rng, "an improvement right after the patience ran out, patience=2", 30, 2, "late"),
                self._case(rng, "a curve that keeps falling", 20, patience, "falling")]

    def reference(self, case):
        return {"epoch": early_stopping_index(*case.args, **case.kwargs)}

    def mistakes(self, case):
        costs = list(case.args[0])
        patience = case.kwargs.get("patience", 5)
        return [(d, {"epoch": v}, text) for d, v, text in self._mistakes_of(costs, patience)
                if v != early_stopping_index(costs, patience)]

    def judge_outputs(self, case, outputs, expected):
        value = outputs["epoch"]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, float, np.floating)) \
                or (isinstance(value, (float, np.floating)) and not float(value).is_integer()):
            return CaseVerdict(False, "not-an-array", f"early_stopping_epoch should return an int (an index into "
                               f"val_costs), but it returned {describe_value(value)}"
                               + (f" {value!r}" if isinstance(value, (float, np.floating)) else "") + ".",
                               {"epoch": False})
        return super().judge_outputs(case, {"epoch": int(value)}, expected)
