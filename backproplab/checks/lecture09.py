"""Checks for lecture 09-backprop-by-hand (the network of ``backproplab.bnmlp``).

Exercises: backward_by_hand(X, Y, params, cache) -> grads (the gradient of the mean loss J with respect to
every intermediate and parameter, as autograd's .grad); cross_entropy_backward(Z3, Y) -> dZ3 (one
expression); batchnorm_backward_dZ(dH, N, S, gamma) -> dZ (one expression); train_by_hand(X, Y, params,
running, learning_rate, epochs, batch_size) -> (params, running, losses) (minibatch SGD on the manual
gradients, running statistics as nn.BatchNorm1d keeps them).

Oracles: the library (backproplab.bnmlp_reference) is the reference; PyTorch float64 autograd of the same ops
(torch_reference.bnmlp_autograd), of F.cross_entropy and of the batch-norm ops; central differences for
the parameters' gradients, the logits' and batch norm's; for train_by_hand, PyTorch's own training of the
same network (nn.Sequential with nn.BatchNorm1d, nn.CrossEntropyLoss, torch.optim.SGD), step for step.
backward_by_hand is judged in backward order: the first wrong gradient is named, with what its typical
mistakes would give when every gradient before it is right.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import torch_reference
from ..bnmlp import EPS, INTERMEDIATES, MOMENTUM, PARAM_KEYS, RUNNING_KEYS, forward_pass
from ..bnmlp_reference import backward_reference, batchnorm_input_gradient, cross_entropy_gradient
from ..gradcheck import numerical_gradient
from .compare import compare_output, describe_value, tolerance_for
from .exercises import Exercise, register, split_dict
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "09-backprop-by-hand"

GRAD_KEYS = tuple("d" + name for name in INTERMEDIATES) + tuple("d" + key for key in PARAM_KEYS)
BACKWARD_ORDER = ("dlogP", "dlogsum", "dsumE", "dE", "dshifted", "dzmax", "dZ3", "dW3", "dB3") + tuple(
    f"d{name}{l}" for l in (2, 1) for name in ("A", "H", "gamma", "beta", "N", "S", "var", "D", "mu", "Z", "W"))
assert sorted(BACKWARD_ORDER) == sorted(GRAD_KEYS)

ZERO_TOLERANCE = 1e-9  # dzmax may be rounding noise: |dzmax| up to this times the largest |dshifted| counts as zero


def _draw_net(rng, m, sizes):
    """X (m, n0), one-hot Y (m, K) and params with gamma, beta and B3 away from their initial values."""
    n0, n1, n2, K = sizes
    X = rng.normal(0.0, 1.0, (m, n0))
    Y = np.eye(K)[rng.integers(0, K, m)]
    params = {"W1": rng.normal(0.0, 1.0 / np.sqrt(n0), (n1, n0)), "gamma1": rng.uniform(0.5, 2.0, (1, n1)),
              "beta1": rng.normal(0.0, 0.5, (1, n1)), "W2": rng.normal(0.0, 1.0 / np.sqrt(n1), (n2, n1)),
              "gamma2": rng.uniform(0.5, 2.0, (1, n2)), "beta2": rng.normal(0.0, 0.5, (1, n2)),
              "W3": rng.normal(0.0, 1.0 / np.sqrt(n2), (K, n2)), "B3": rng.normal(0.0, 0.5, (1, K))}
    return X, Y, params


def _random_sizes(rng):
    return tuple(int(n) for n in rng.integers(2, 8, 4))


# ---------------------------------------------------------------------------------------
# Exercise 1: the whole backward pass, intermediate by intermediate


def _local_mistakes(key, X, Y, params, c, g):
    """Typical wrong values of gradient ``key`` when every gradient before it (in backward order) is right:
    [(diagnosis, value, explanation)]."""
    m = X.shape[0]
    l = key[-1]
    name = key[1:-1] if key[-1].isdigit() else key[1:]

    def unsummed(value, axis, what):
        other = 1 - axis
        kept, lost = ("column", "row") if axis == 0 else ("row", "column")
        return [("broadcast-sum", value,
                 f"which has one entry per row and per column, where {what} has one per {kept}"),
                ("broadcast-sum", value.sum(axis=other, keepdims=True),
                 f"which has one entry per {lost}, where {what} has one per {kept}")]

    if key == "dlogsum":
        return unsummed(-g["dlogP"], 1, "logsum (m, 1)")
    if key == "dsumE":
        return [("wrong-values", g["dlogsum"] * c["sumE"], "which is dlogsum scaled by sumE itself")]
    if key == "dE":
        return [("wrong-shape", g["dsumE"], "which keeps sumE's shape (m, 1) where E's (m, K) is expected")]
    if key == "dshifted":
        return [("missing-branch", g["dlogP"], "which keeps only the path through logP (shifted also enters E)"),
                ("missing-branch", c["E"] * g["dE"], "which keeps only the path through E (shifted also "
                                                     "enters logP directly)")]
    if key == "dzmax":
        partial = -g["dlogP"].sum(axis=1, keepdims=True)
        return [("max-shift", partial, "which follows only shifted's direct path into logP")] + \
            unsummed(-g["dshifted"], 1, "zmax (m, 1)")
    if key == "dZ3":
        argmax = (c["Z3"] == c["zmax"]).astype(float)
        return [("max-shift", g["dshifted"] + argmax * -g["dlogP"].sum(axis=1, keepdims=True),
                 "which routes a nonzero dzmax into each row's largest logit")]
    if key == "dB3":
        return [("bias-axis", g["dZ3"].sum(axis=1, keepdims=True)), ("bias-axis", g["dZ3"].sum(axis=1)),
                ("broadcast-sum", g["dZ3"], "which is dZ3 itself, (m, K), where B3's shape (1, K) is expected")]
    if name == "H":
        dA, A, H = g[f"dA{l}"], c[f"A{l}"], c[f"H{l}"]
        return [("derivative-at-output", dA * (1.0 - np.tanh(A) ** 2),
                 "which takes tanh's slope at A, the layer's output, instead of at its input H"),
                ("wrong-values", dA * (1.0 - H ** 2), "which builds tanh's slope from H instead of "
                                                       "from A"),
                ("wrong-values", dA, "which leaves out tanh's slope")]
    if name == "gamma":
        return unsummed(g[f"dH{l}"] * c[f"N{l}"], 0, f"gamma{l} (1, n)") + [
            ("wrong-values", (g[f"dH{l}"] * c[f"D{l}"]).sum(axis=0, keepdims=True),
             f"which weights dH{l} by D{l} where gamma{l} scales N{l}")]
    if name == "beta":
        return unsummed(g[f"dH{l}"], 0, f"beta{l} (1, n)")
    if name == "N":
        return [("wrong-values", g[f"dH{l}"], f"which leaves out gamma{l}")]
    if name == "S":
        return unsummed(g[f"dN{l}"] * c[f"D{l}"], 0, f"S{l} (1, n)")
    if name == "var":
        return [("wrong-values", g[f"dS{l}"] * -0.5 * c[f"S{l}"],
                 f"which keeps S{l} itself in the slope, with the power -1/2 unchanged")]
    if name == "D":
        dN, S, D, dvar = g[f"dN{l}"], c[f"S{l}"], c[f"D{l}"], g[f"dvar{l}"]
        return [("missing-branch", dN * S, f"which keeps only the path through N{l} (D{l} also enters var{l})"),
                ("missing-branch", dvar * 2.0 * D / m, f"which keeps only the path through var{l} (D{l} also "
                                                       f"enters N{l})"),
                ("unbiased-variance", dN * S + dvar * 2.0 * D / (m - 1),
                 f"which has Bessel's m - 1 = {m - 1} on the path through var{l}, where the batch has m = {m} rows"),
                ("wrong-values", dN * S + dvar * 2.0 * D,
                 f"which is m = {m} times too large on the path through var{l}")]
    if name == "mu":
        return unsummed(-g[f"dD{l}"], 0, f"mu{l} (1, n)")
    if name == "Z":
        dD, dmu = g[f"dD{l}"], g[f"dmu{l}"]
        return [("missing-mean-terms", dD, f"which leaves out the path through the batch mean mu{l}"),
                ("wrong-values", dD + dmu, f"which gives every row all of dmu{l}, m = {m} times its share")]
    return []


@dataclass
class _Prediction:
    """A typical wrong value of one gradient ({key: value}), with what it is ("" when the pattern says it)."""

    diagnosis: str
    value: dict
    message: str

    def outcome(self):
        return "returned", self.value


def _hypotheses(predictions, key) -> list:
    """compare_output's hypotheses for gradient ``key``: [(diagnosis, wrong value[, explanation])]."""
    found = []
    for prediction in predictions:
        _, value = prediction.outcome()
        if key in value:
            found.append((prediction.diagnosis, value[key]) + ((prediction.message,) if prediction.message else ()))
    return found


@register
class BackwardByHand(Exercise):
    """The whole backward pass of bnmlp's network, one intermediate at a time."""

    name = "backward_by_hand"
    lecture = LECTURE
    args = ("X", "Y", "params", "cache")
    outputs = ("grads",)
    library_functions = ("backproplab.bnmlp_reference.backward_reference", "backproplab.torch_reference.bnmlp_autograd")
    hints = {
        "broadcast-sum": Hint(
            "In the forward pass this array had fewer rows (or columns) than what it was combined with: NumPy "
            "copied it. Every copy sends a gradient back. What happens to gradients that arrive at one value "
            "from several places?",
            "A (1, n) row added to every row of an (m, n) array is used m times; its gradient collects m "
            "contributions, one per row, and keeps the (1, n) shape. A (m, 1) column is used once per column.",
            "for B = A + b with b (1, n): db = Σ_i dB_i, kept (1, n); with c (m, 1): dc_i = Σ_j dB_ij, kept (m, 1)"),
        "missing-branch": Hint(
            "Look at the forward pass: is this intermediate used by one later line or by two?",
            "A value used twice receives a gradient from each use (lecture 02: gradients accumulate at a fork).",
            "dv = (gradient through the first use) + (gradient through the second use)"),
        "bias-axis": Hint(
            "Which dimension of dZ3 counts the examples, and which the classes? Which of the two does B3 have?",
            "B3 (1, K) is added to each of the m rows of Z3, so its gradient collects one contribution per example "
            "and keeps one entry per class.",
            "dB3 = Σ_i dZ3_i, a (1, K) row: the sum over the m examples"),
        "derivative-at-output": Hint(
            "Which intermediate is tanh applied to, and at which value must its slope be taken?",
            "The line is A = tanh(H): its local slope is tanh' at H, and tanh(H) is already computed.",
            "dH = dA ⊙ (1 - A²), since tanh'(H) = 1 - tanh(H)² and tanh(H) = A"),
        "max-shift": Hint(
            "Change every logit of a row by the same amount c. Which intermediates change, and does logP?",
            "logP = shifted - log Σ_k e^{shifted_k} is the same for Z3 - c as for Z3: J does not depend on zmax "
            "at all once both paths of shifted are counted.",
            "dzmax = -(sum over the row of dshifted) = 0 up to rounding"),
        "missing-mean-terms": Hint(
            "Which of the intermediates of batch norm depend on every row of Z?",
            "mu is a mean over the m rows, so each row of Z reaches J through its own D and through mu.",
            "dZ = dD + (1/m) dmu, broadcast over the rows"),
        "unbiased-variance": Hint(
            "Which variance does the forward pass compute: the batch's own, or Bessel's estimate of the "
            "population's?",
            "var is the mean of D^2 over the m rows; the derivative of a mean brings its 1/m.",
            "dD = dN S + (2/m) dvar D"),
        "*": Hint(
            "Go backward through the forward pass one line at a time, starting at logP, and compare each "
            "gradient with autograd's (compare_gradients) before you write the next.",
            "Each line y = f(x) gives dx = (dy times the local slope); a shape that differs from the "
            "intermediate's means a missing sum or a transposed product.",
            "the local derivative of every line of forward_pass, times the gradient arriving at its output"),
    }

    def _case(self, rng, m, sizes, label):
        X, Y, params = _draw_net(rng, m, sizes)
        _, cache = forward_pass(X, Y, params)
        return Case((X, Y, params, cache), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 8, (6, 5, 4, 3), "m=8, sizes [6, 5, 4, 3]"),
                    self._case(rng, 5, (3, 4, 6, 5), "m=5, sizes [3, 4, 6, 5]"),
                    self._case(rng, 3, (4, 3, 3, 2), "m=3 (a small batch), two classes")]
        return [self._case(rng, int(rng.integers(4, 12)), _random_sizes(rng), "random sizes"),
                self._case(rng, 3, _random_sizes(rng), "m=3 (a small batch)"),
                self._case(rng, int(rng.integers(3, 8)), (5, 2, 2, 4), "hidden layers of two units")]

    def reference(self, case):
        grads = backward_reference(*case.args)
        grads = {key: grads[key] for key in BACKWARD_ORDER}
        grads["dzmax"] = np.zeros_like(grads["dzmax"])  # exactly zero: rounding makes it ~1e-17
        return grads

    def oracles(self, case):
        X, Y, params, _ = case.args
        _, autograd = torch_reference.bnmlp_autograd(X, Y, params)
        numeric = {"d" + key: numerical_gradient(lambda v, key=key: forward_pass(X, Y, {**params, key: v})[0],
                                                 params[key].copy()) for key in PARAM_KEYS}
        return {"PyTorch autograd": {key: autograd[key] for key in BACKWARD_ORDER}, "finite differences": numeric}

    def predicted_mistakes(self, X, Y, params, cache):
        """Every gradient's typical wrong values, given that the gradients before it are right (in the student
        edition they come from the answer key)."""
        right = backward_reference(X, Y, params, cache)
        return [_Prediction(diagnosis, {key: value}, explanation[0] if explanation else "")
                for key in BACKWARD_ORDER for diagnosis, value, *explanation in _local_mistakes(key, X, Y, params, cache, right)]

    def split(self, value, case):
        found = split_dict(value, GRAD_KEYS, f"{self.name}'s gradients",
                           f"It holds 'd' + the name of every intermediate ({', '.join(INTERMEDIATES[:3])}, ...) and "
                           f"of every parameter (dW1, dgamma1, ...), {len(GRAD_KEYS)} in all.")
        return found if isinstance(found, CaseVerdict) else {"grads": found}

    def judge_outputs(self, case, outputs, expected):
        grads = outputs["grads"]
        predicted = self.predicted_mistakes(*case.args)
        passed = []
        for key in BACKWARD_ORDER:
            value = grads[key]
            if key == "dzmax" and isinstance(value, np.ndarray) and value.shape == expected[key].shape \
                    and value.dtype.kind in "iuf" and np.all(np.isfinite(value)):
                scale = float(np.max(np.abs(expected["dshifted"])))
                if float(np.max(np.abs(value))) <= max(ZERO_TOLERANCE, tolerance_for(value)) * scale:
                    passed.append(key)
                    continue
                verdict = compare_output(key, value, expected[key], m=case.m,
                                         hypotheses=_hypotheses(predicted, key))
                verdict.diagnosis = "max-shift"
                verdict.detail += f" Its largest entry is {float(np.max(np.abs(value))):.3g} in size; the expected dzmax is zero."
            else:
                verdict = compare_output(key, value, expected[key], m=case.m,
                                         hypotheses=_hypotheses(predicted, key))
                if verdict.passed:
                    passed.append(key)
                    continue
            later = len(BACKWARD_ORDER) - len(passed) - 1
            before = (f"The {len(passed)} gradients before it in backward order ({passed[0]} ... {passed[-1]}) match; "
                      if passed else "It is the first one of the backward pass; ")
            message = (f"the first wrong gradient is {key}: {verdict.detail} {before}the {later} after it build on it "
                       f"(fix {key} first).")
            return CaseVerdict(False, verdict.diagnosis, message, {"grads": False}, verdict.difference,
                               verdict.expected)
        return CaseVerdict(True, None, "", {"grads": True})


# ---------------------------------------------------------------------------------------
# Exercise 2: cross-entropy's gradient with respect to the logits, in one expression


def _torch_ce_gradient(Z, Y):
    import torch

    Z_t = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.cross_entropy(Z_t, torch.from_numpy(np.argmax(Y, axis=1))).backward()
    return Z_t.grad.numpy().copy()


def _softmax(Z, axis=1):
    P = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return P / P.sum(axis=axis, keepdims=True)


@register
class CrossEntropyBackward(Exercise):
    """dJ/dZ3 for the mean softmax cross-entropy."""

    name = "cross_entropy_backward"
    lecture = LECTURE
    args = ("Z3", "Y")
    outputs = ("dZ3",)
    library_functions = ("backproplab.bnmlp_reference.cross_entropy_gradient",)
    hints = {
        "missing-mean": Hint(
            "J is the batch's average loss. Where does that averaging show up in the gradient of each row?",
            "Each example's loss enters J with weight 1/m, so every row of dZ3 carries that factor (autograd's "
            "Z3.grad does; lecture 04's per-example dz does not).",
            "dZ3 = (1/m) (per-example gradient)"),
        "softmax-overflow": Hint(
            "How large is e to the power 1000, and how large a number can float64 hold?",
            "softmax(z) = softmax(z - c) for any number c per row; pick c so that no exponent is positive.",
            "use each row's largest logit as c"),
        "softmax-axis": Hint(
            "Which probabilities belong together: those of one example over its classes, or those of one class "
            "over the batch?",
            "softmax turns each example's K logits, one row of Z3, into K probabilities that add up to 1.",
            "p_ik = e^{z_ik} / Σ_j e^{z_ij}, the sum over the K classes of row i"),
        "jacobian-diagonal": Hint(
            "Does the probability of class k depend only on logit k?",
            "Every p_k depends on every z_j: dp_k/dz_j = p_k (delta_kj - p_j); the off-diagonal terms count.",
            "for one example: dL/dz_j = sum_k (dL/dp_k) p_k (delta_kj - p_j), with dL/dp_k = -y_k / p_k"),
        "*": Hint(
            "Write one example's loss as a function of its logits, with the max-shift cancelled (section 3), and "
            "differentiate it by one logit. Then: which factor does the batch mean put on each row?",
            "Of the sum over k of y_k z_k only the term k = j contains z_j; the log-sum-exp term's gradient is the "
            "softmax (section 3); J averages the m examples' losses.",
            "dZ3 = (1/m) (softmax(Z3) - Y), softmax row by row"),
    }

    @staticmethod
    def _case(rng, m, K, label, large=False):
        Z = rng.normal(0.0, 2.0, (m, K))
        if large:
            Z = Z * 300.0
            Z[0, 0] = 1000.0
        return Case((Z, np.eye(K)[rng.integers(0, K, m)]), label=label, m=m, info={"large": large})

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 6, 4, "m=6, K=4"), self._case(rng, 3, 10, "m=3, K=10"),
                    self._case(rng, 4, 5, "large logits, |z| up to 1000", large=True)]
        return [self._case(rng, int(rng.integers(2, 12)), int(rng.integers(2, 9)), "random sizes"),
                self._case(rng, 1, 4, "m=1 (a single example)"), self._case(rng, 5, 2, "K=2 (two classes)"),
                self._case(rng, 3, 6, "large logits, |z| up to 1000", large=True)]

    def reference(self, case):
        return {"dZ3": cross_entropy_gradient(*case.args)}

    def oracles(self, case):
        Z, Y = case.args
        found = {"PyTorch (F.cross_entropy)": {"dZ3": _torch_ce_gradient(Z, Y)}}
        if not case.info.get("large"):
            def J(z):
                return float(-(Y * (z - z.max(axis=1, keepdims=True) - np.log(
                    np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)))).sum() / z.shape[0])

            found["finite differences"] = {"dZ3": numerical_gradient(J, Z.copy())}
        return found

    def mistakes(self, case):
        Z, Y = case.args
        m = Z.shape[0]
        P = _softmax(Z)
        return [("softmax-axis", {"dZ3": (_softmax(Z, axis=0) - Y) / m},
                 "which normalizes softmax over the batch, each class's column, instead of over each example's "
                 "K classes"),
                ("jacobian-diagonal", {"dZ3": -Y * (1.0 - P) / m},
                 "which keeps only the softmax Jacobian's diagonal"),
                ("wrong-values", {"dZ3": -Y / m}, "which is the gradient with respect to logP, before the log-softmax")]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if case.info.get("large") and verdict.diagnosis == "non-finite":
            verdict.diagnosis = "softmax-overflow"
            verdict.message = ("dZ3 is NaN or infinite for logits up to 1000: e to the power 1000 is beyond the "
                               "largest float64.")
        return verdict


# ---------------------------------------------------------------------------------------
# Exercise 3: batch norm's dZ in one expression


def _bn_intermediates(Z, eps=EPS):
    m = Z.shape[0]
    D = Z - Z.mean(axis=0, keepdims=True)
    S = (np.sum(D ** 2, axis=0, keepdims=True) / m + eps) ** -0.5
    return D * S, S


def _torch_bn_dZ(Z, dH, gamma, beta, eps=EPS):
    import torch

    m = Z.shape[0]
    Z_t = torch.tensor(Z, dtype=torch.float64, requires_grad=True)
    D = Z_t - Z_t.sum(0, keepdim=True) / m
    S = ((D ** 2).sum(0, keepdim=True) / m + eps) ** -0.5
    H = torch.from_numpy(gamma) * D * S + torch.from_numpy(beta)
    (torch.from_numpy(dH) * H).sum().backward()
    return Z_t.grad.numpy().copy()


@register
class BatchnormBackwardDZ(Exercise):
    """Batch norm's input gradient from its output gradient, the whole chain in one expression."""

    name = "batchnorm_backward_dZ"
    lecture = LECTURE
    args = ("dH", "N", "S", "gamma")
    outputs = ("dZ",)
    library_functions = ("backproplab.bnmlp_reference.batchnorm_input_gradient", "backproplab.batchnorm.batchnorm_backward")
    hints = {
        "missing-mean-terms": Hint(
            "Which quantities of batch norm depend on every row of Z, not only on its own row?",
            "Z_ik reaches J through N_ik directly, through the column's mean mu_k and through its variance var_k; "
            "each path adds a term.",
            "dZ = gamma S (dH - mean_i(dH) - N mean_i(dH N)), means over the batch, per column"),
        "unbiased-variance": Hint(
            "Which variance does the forward pass normalize with: the batch's own, or Bessel's estimate of the "
            "population's?",
            "var in the forward pass is the mean of D^2 over the batch, with 1/m; Bessel's version has 1/(m - 1) "
            "and so a larger weight on the path through var.",
            "the variance's term is N times the batch MEAN of dH N (1/m, no m - 1)"),
        "broadcast-sum": Hint(
            "Are batch norm's statistics one number per feature or one per example?",
            "mu and var are one number per column (feature), means over the m rows.",
            "every mean_i in dZ runs over the m rows of one column and gives a (1, n) row"),
        "*": Hint(
            "Start from your staged chain dN, dS, dvar, dD, dmu, dZ of exercise 1 and substitute each line into "
            "the next, one column at a time.",
            "Use D = N / S, sum_i N_i = 0 and (1/m) sum_i N_i^2 = var S^2 (about 1) to collect terms.",
            "dZ = gamma S (dH - mean_i(dH) - N mean_i(dH N)), per column"),
    }

    def _case(self, rng, m, n, label, nearly_constant=False):
        Z = rng.normal(rng.normal(0.0, 2.0, (1, n)), rng.uniform(0.5, 3.0, (1, n)), (m, n))
        if nearly_constant:
            Z[:, 0] = 1.5 + rng.normal(0.0, 1e-2, m)
        gamma, beta = rng.uniform(0.5, 2.0, (1, n)), rng.normal(0.0, 1.0, (1, n))
        N, S = _bn_intermediates(Z)
        return Case((rng.normal(0.0, 1.0, (m, n)) / m, N, S, gamma), label=label, m=m, info={"Z": Z, "beta": beta})

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 8, 5, "m=8, n=5"), self._case(rng, 3, 7, "m=3, n=7"),
                    self._case(rng, 2, 4, "m=2 (the smallest batch)")]
        return [self._case(rng, int(rng.integers(3, 12)), int(rng.integers(2, 7)), "random sizes"),
                self._case(rng, 5, 1, "n=1 (one feature)"), self._case(rng, 2, 3, "m=2 (the smallest batch)"),
                self._case(rng, 6, 3, "a nearly constant feature (std ~1e-2)", nearly_constant=True)]

    def reference(self, case):
        return {"dZ": batchnorm_input_gradient(*case.args)}

    def oracles(self, case):
        dH, _, _, gamma = case.args
        Z, beta = case.info["Z"], case.info["beta"]

        def loss(z):
            N, _ = _bn_intermediates(z)
            return float(np.sum(dH * (gamma * N + beta)))

        return {"PyTorch autograd": {"dZ": _torch_bn_dZ(Z, dH, gamma, beta)},
                "finite differences": {"dZ": numerical_gradient(loss, Z.copy())}}

    def mistakes(self, case):
        dH, N, S, gamma = case.args
        m = dH.shape[0]
        dN = dH * gamma
        mean = dN.mean(axis=0, keepdims=True)
        weighted = N * (dN * N).mean(axis=0, keepdims=True)
        found = [("missing-mean-terms", {"dZ": dN * S}, "which treats the batch mean and variance "
                                                       "as constants"),
                 ("missing-mean-terms", {"dZ": (dN - mean) * S}, "which keeps the path through the mean and drops the "
                                                                  "one through the variance"),
                 ("missing-mean-terms", {"dZ": (dN - weighted) * S}, "which keeps the path through the variance and "
                                                                      "drops the one through the mean"),
                 ("broadcast-sum", {"dZ": gamma * S * (dH - dH.mean(axis=1, keepdims=True)
                                                       - N * (dH * N).mean(axis=1, keepdims=True))},
                  "which takes its batch statistics per example, along each row, instead of per feature"),
                 ("wrong-values", {"dZ": (dH - dH.mean(axis=0, keepdims=True)
                                          - N * (dH * N).mean(axis=0, keepdims=True)) * S},
                  "which leaves out gamma")]
        if m > 1:
            found.insert(3, ("unbiased-variance", {"dZ": (dN - mean - m / (m - 1) * weighted) * S},
                             f"whose part through the variance is {m}/{m - 1} times the expected one (Bessel's "
                             f"factor for m = {m})"))
        return found


# ---------------------------------------------------------------------------------------
# Exercise 4: training on the manual gradients


def reference_training(X, Y, params, running, learning_rate, epochs, batch_size, *, biased_running=False,
                       reversed_momentum=False, frozen_running=False, summed=False, ascent=False, frozen=False,
                       full_batches_only=False):
    """Minibatch SGD with backward_reference's gradients and nn.BatchNorm1d's running statistics, and the
    typical mistakes' versions of it -> (params, running, losses)."""
    params = {key: np.array(value, dtype=float) for key, value in params.items()}
    running = {key: np.array(value, dtype=float) for key, value in running.items()}
    losses = []
    m = X.shape[0]
    for _ in range(epochs):
        for start in range(0, m, batch_size):
            Xb, Yb = X[start:start + batch_size], Y[start:start + batch_size]
            b = Xb.shape[0]
            if full_batches_only and b < batch_size:
                continue
            J, cache = forward_pass(Xb, Yb, params)
            grads = backward_reference(Xb, Yb, params, cache)
            scale = (b if summed else 1.0) * (-1.0 if ascent else 1.0) * (0.0 if frozen else 1.0)
            params = {key: value - learning_rate * scale * grads["d" + key] for key, value in params.items()}
            if not frozen_running:
                new = MOMENTUM if not reversed_momentum else 1.0 - MOMENTUM
                for l in (1, 2):
                    var = cache[f"var{l}"] * (1.0 if biased_running else b / (b - 1))
                    running[f"mean{l}"] = (1.0 - new) * running[f"mean{l}"] + new * cache[f"mu{l}"]
                    running[f"var{l}"] = (1.0 - new) * running[f"var{l}"] + new * var
            losses.append(J * (b if summed else 1.0))
    return params, running, np.array(losses)


def _training_case(rng, m, sizes, batch_size, epochs, learning_rate, label):
    X, Y, params = _draw_net(rng, m, sizes)
    n1, n2 = sizes[1], sizes[2]
    running = {"mean1": rng.normal(0.0, 0.5, (1, n1)), "var1": rng.uniform(0.5, 2.0, (1, n1)),
               "mean2": rng.normal(0.0, 0.5, (1, n2)), "var2": rng.uniform(0.5, 2.0, (1, n2))}
    return Case((X, Y, params, running, learning_rate, epochs, batch_size), label=label, m=batch_size)


def _flatten(params, running, losses):
    found = {f"params['{key}']": value for key, value in params.items()}
    found.update({f"running['{key}']": value for key, value in running.items()})
    found["losses"] = losses
    return found


@register
class TrainByHand(Exercise):
    """Judged against the library's minibatch SGD and against PyTorch's training of the same network."""

    name = "train_by_hand"
    lecture = LECTURE
    args = ("X", "Y", "params", "running", "learning_rate", "epochs", "batch_size")
    outputs = ("params", "running", "losses")
    library_functions = ("backproplab.torch_reference.bnmlp_torch_training",
                         "backproplab.bnmlp_reference.backward_reference",
                         "backproplab.bnmlp_reference.cross_entropy_gradient",
                         "backproplab.bnmlp_reference.batchnorm_input_gradient")
    call_timeout = 30.0
    hints = {
        "bessel-correction": Hint(
            "Print a BatchNorm1d layer's running_var after one step from ones with momentum 1: which variance of "
            "the batch is it?",
            "PyTorch normalizes a training batch with the biased variance (1/m) but stores the unbiased one "
            "(1/(m - 1), Bessel's correction) in running_var, as an estimate of the population's variance.",
            "running_var <- (1 - 0.1) running_var + 0.1 (m / (m - 1)) var, with var the forward pass's biased one"),
        "missing-mean": Hint(
            "Is the loss you step on the batch's mean or its sum?",
            "nn.CrossEntropyLoss averages over the batch; forward_pass's J is that mean, and your gradients are "
            "its gradients.",
            "W <- W - learning_rate dW, with dW the gradient of the mean J"),
        "*": Hint(
            "One step is the four lines PyTorch runs: forward, backward, update, and (inside BatchNorm1d) the "
            "running statistics. Which of them did you leave out or change?",
            "Minibatches are rows [0:b], [b:2b], ... in order, the last one smaller; every parameter steps against "
            "its gradient; the running statistics move 10% toward the batch's.",
            "p <- p - learning_rate dp for each of the 8 parameters; running_mean <- 0.9 running_mean + 0.1 mu"),
    }

    def cases(self, rng, hidden):
        if not hidden:
            return [_training_case(rng, 20, (6, 5, 4, 3), 8, 3, 0.5, "m=20, batches of 8 (the last one has 4), 3 epochs"),
                    _training_case(rng, 12, (4, 6, 5, 4), 4, 2, 0.3, "m=12, batches of 4, 2 epochs")]
        batch_size = int(rng.integers(3, 8))
        m = int(rng.integers(10, 26))
        if m % batch_size == 1:
            m += 1  # a batch of one row has no batch statistics (nn.BatchNorm1d refuses it)
        return [_training_case(rng, m, _random_sizes(rng), batch_size, 3, float(rng.uniform(0.1, 0.8)), "random sizes"),
                _training_case(rng, 6, (3, 4, 2, 2), 6, 4, 0.4, "the whole batch at once, 4 steps")]

    def reference(self, case):
        return _flatten(*reference_training(*case.args))

    def oracles(self, case):
        return {"PyTorch training (nn.BatchNorm1d, torch.optim.SGD)":
                _flatten(*torch_reference.bnmlp_torch_training(*case.args))}

    def split(self, value, case):
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            return CaseVerdict(False, "not-an-array", f"train_by_hand should return a tuple (params, running, losses), "
                               f"but it returned {describe_value(value)}.")
        params, running, losses = value
        for part, keys, what in ((params, PARAM_KEYS, "params"), (running, RUNNING_KEYS, "running")):
            split = split_dict(part, keys, f"the returned {what}")
            if isinstance(split, CaseVerdict):
                return split
        if isinstance(losses, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in losses):
            losses = np.array(losses, dtype=float)
        elif not isinstance(losses, np.ndarray):
            return CaseVerdict(False, "not-an-array", f"losses should be a list of floats, one per step, but it is "
                               f"{describe_value(losses)}.")
        return _flatten({k: params[k] for k in PARAM_KEYS}, {k: running[k] for k in RUNNING_KEYS}, losses)

    def mistakes(self, case):
        def run(**how):
            return _flatten(*reference_training(*case.args, **how))

        running_only = {key: value for key, value in run(biased_running=True).items() if key.startswith("running")}
        initial = _flatten(case.args[2], case.args[3], np.array([]))
        return [
            ("bessel-correction", running_only,
             "which is what the running variance becomes when it averages each batch's biased variance, the one "
             "the forward pass normalizes with"),
            ("wrong-values", {k: v for k, v in run(reversed_momentum=True).items() if k.startswith("running")},
             "which weights the new batch by 0.9 and the old running statistics by 0.1"),
            ("wrong-values", {k: v for k, v in initial.items() if k.startswith("running")},
             "which are the starting running statistics, unchanged by the training steps"),
            ("missing-mean", run(summed=True), "which is training on the SUMMED loss: every step is batch_size times "
                                               "too large"),
            ("sign-flipped", {k: v for k, v in run(ascent=True).items() if k.startswith("params")},
             "which steps uphill"),
            ("no-learning", {k: v for k, v in initial.items() if k.startswith("params")},
             "which are the initial parameters: no step changed them"),
            ("wrong-values", run(full_batches_only=True),
             "which skips the last, smaller minibatch of every epoch"),
        ]
