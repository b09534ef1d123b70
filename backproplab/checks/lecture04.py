"""Checks for lecture 04-backprop.

Exercises (DESIGN.md signatures): binary_cross_entropy, dense_backward, model_backward,
update_parameters, gradient_check, train_two_layer, torch_gradients.
Oracles: the NumPy library (reference), ``backproplab.torch_reference`` (PyTorch float64
autograd) and central differences (``backproplab.gradcheck.numerical_gradient``).
"""
from __future__ import annotations

import numpy as np

from .. import torch_reference
from ..gradcheck import gradient_check as reference_gradient_check
from ..gradcheck import model_cost_function, numerical_gradient
from ..init import initialize_parameters
from ..layers import dense_backward, dense_forward
from ..losses import binary_cross_entropy
from ..model import accuracy, model_backward, model_forward, update_parameters
from .codec import FnToken
from .compare import describe_value
from .exercises import Exercise, register, split_dict
from .fixtures import draw_network
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "04-backprop"

# ---- the hint ladders (lecture prose: solutions/04-backprop, sections 1, 2 and 4-8) ------------------------

BCE = ("J = -(1/m) Σ_i Σ_k [y_ik log a_ik + (1 - y_ik) log (1 - a_ik)], each log clamped at -100; a float.")
HINTS_BCE = {
    "*": Hint("Section 1: what probability did the network give the label it should have predicted, for a label "
              "of 1 and for a label of 0? The cost is the average, over the examples, of each example's loss.",
              "One example's loss for one output is minus the log of the probability given to its label: -log a "
              "when y is 1, -log (1 - a) when y is 0; an example with several outputs adds theirs up; each log is "
              "clamped at -100, so an exact 0 costs 100 instead of infinity.",
              BCE),
}

DENSE = ("dA_prev = dz W (m, n_prev), with no 1/m; dW = (1/m) dzᵀ A_prev (n, n_prev); dB = (1/m) Σ_i dz_i, a "
         "(1, n) row.")
DENSE_STEP = ("For one example, z_j = Σ_k W_jk a_k + b_j, so ∂z_j/∂W_jk = a_k, ∂z_j/∂a_k = W_jk and ∂z_j/∂b_j = 1. "
              "Over the batch, dW and dB add up the examples' contributions and carry the mean cost's 1/m; dA_prev "
              "keeps one row per example, without it.")
HINTS_DENSE = {
    "*": Hint("Section 2 derives one example first: which entries of z does the weight W_jk feed, and which does "
              "the input a_k feed? Then with m examples: which of the three gradients belong to the mean cost, and "
              "which one stays per example, like dz?", DENSE_STEP, DENSE),
    "missing-mean": Hint("Your result is too large by the batch size in every entry. Which of the gradients belong to "
                         "the averaged cost, and which stay per example (section 2, on where the average goes)?",
                         "dW and dB are gradients of the mean cost J: the examples' contributions are added up and "
                         "the total carries 1/m; dz itself has no 1/m.", DENSE),
    "extra-mean": Hint("Your result is too small by the batch size. Is dA_prev a gradient of the averaged cost, or "
                       "of each example's own loss, like dz?",
                       "dA_prev, like dz, is per example: its row i is example i's loss gradient, with no 1/m; only "
                       "dW and dB carry it.", DENSE),
    "transposed": Hint("Write the shapes down: dz (m, n), A_prev (m, n_prev), W (n, n_prev). Which arrangement of "
                       "two of them has the shape of dW, and which the shape of dA_prev?",
                       "dW must be (n, n_prev), W's shape: dz's n runs along its rows and the m examples are paired "
                       "up and added; dA_prev must be (m, n_prev), A_prev's shape.", DENSE),
    "bias-axis": Hint("dB has one entry per unit. Is each of its entries a total over the examples, or over the "
                      "units of one example?",
                      "dB_j adds up unit j's dz over the m examples (down column j of dz) and carries 1/m.", DENSE),
    "bias-shape": Hint("dB's values are right, but it does not have B's shape, (1, n). What shape must the gradient "
                       "of a parameter have?",
                       "A gradient has the shape of its parameter: when the examples are added up, keep the (1, n) "
                       "row instead of a flat vector of n numbers.", DENSE),
}

BACKWARD = ("dz[L] = A[L] - Y; for l = L, ..., 1: dW[l] = (1/m) dz[l]ᵀ A[l-1], dB[l] = (1/m) Σ_i dz[l]_i, and for "
            "l > 1, dz[l-1] = (dz[l] W[l]) ⊙ g[l-1]'(Z[l-1]); one dW, dB and dz per layer, keyed by the layer's number.")
HINTS_BACKWARD = {
    "*": Hint("Section 4 starts at the output: with a sigmoid output and cross-entropy, what is dz[L]? Going down, "
              "what does each layer receive from the layer above, and which value of its own cache turns that into "
              "its dz?",
              "dz[L] is the output minus the labels (section 4). Layer l hands dense_backward's dA_prev down to layer "
              "l-1, which applies its activation's slope at its own Z[l-1], entry by entry, to get dz[l-1].",
              BACKWARD),
    "derivative-at-output": Hint("Your slopes are taken at the layers' outputs. Which entry of a layer's cache "
                                 "holds the points at which g' belongs?",
                                 "Layer l-1's slope is g[l-1]' at Z[l-1], the last entry of that layer's cache; the "
                                 "A_prev in the cache of the layer above is the layer's output, not its Z.",
                                 BACKWARD),
    "missing-keys": Hint("Which names must the grads dict use? Section 4 lists them, numbered by layer from 1.",
                         "Keys dW1, dB1, dz1, ..., dWL, dBL, dzL; dz[l] is the (m, n_l) gradient at Z[l], one row "
                         "per example.", BACKWARD),
    **{key: Hint(HINTS_DENSE[key].nudge, HINTS_DENSE[key].step, BACKWARD)
       for key in ("missing-mean", "extra-mean", "transposed", "bias-axis", "bias-shape")},
}

UPDATE = "W[l] ← W[l] - α dW[l] and B[l] ← B[l] - α dB[l] for every layer, α = learning_rate, in a new dict."
HINTS_UPDATE = {
    "*": Hint("Section 5: one step of gradient descent moves every parameter against its gradient. Which way is "
              "downhill, and how long is the step?",
              "Each W[l] and B[l] moves by learning_rate times its own gradient dW[l], dB[l], in the direction that "
              "lowers the cost; the dz entries of grads are not parameters; the result is a new dict.", UPDATE),
    "sign-flipped": Hint("Your step goes uphill: the cost would grow. Which way does the gradient point?",
                         "The gradient points in the direction in which the cost grows fastest; descent moves each "
                         "parameter the opposite way.", UPDATE),
    "mutated-input": Hint("Your values are right, but the caller's params changed. Why must the old parameters "
                          "survive the step (gradient checking and momentum read them)?",
                          "Compute every new parameter into a new array of a new dict; an in-place update writes "
                          "into the caller's array.", UPDATE),
}

HINTS_GRADIENT_CHECK = {
    "*": Hint("Section 6 compares the given grads with an estimate that needs no backpropagation at all. Which "
              "estimate (lecture 02), and which relative error turns each comparison into one number per parameter?",
              "For every entry of every parameter array, nudge it up and down by h, evaluate cost_fn both times and "
              "put the entry back; compare the whole estimated array with the given gradient by their relative "
              "error.",
              "numerical_i = (J(θ + h e_i) - J(θ - h e_i)) / (2h); error = ‖analytic - numerical‖ / (‖analytic‖ + "
              "‖numerical‖), one float per parameter name (W1, B1, ...)."),
}

TRAIN = ("params = Xavier-initialized [n0, n_hidden, 1] from seed; for t = 1, ..., T: AL = forward(X) (tanh, sigmoid), "
         "J_t = BCE(AL, Y), grads = backward(AL, Y), params ← params - α grads; return (params, [J_1, ..., J_T]).")
TRAIN_STEP = ("Initialize a [n0, n_hidden, 1] network with Xavier weights from the given seed; then, num_iterations "
              "times: a forward pass (tanh hidden layer, sigmoid output), the cost, the backward pass, and one "
              "update with the learning rate; record each iteration's cost.")
HINTS_TRAIN = {
    "*": Hint("Section 7 trains with the functions you wrote in this lecture. What does one iteration of gradient "
              "descent do, step by step, and which initialization does the exercise ask for?", TRAIN_STEP, TRAIN),
    "no-learning": Hint("Training did not reach the accuracy. Does your cost go down from one iteration to the next? "
                        "If not, which step of an iteration does not use the result of the step before it?",
                        TRAIN_STEP, TRAIN),
}

TORCH = ("dW[l] = W[l].grad and dB[l] = B[l].grad of the mean cost; dz[l] = m · Z[l].grad (the course's dz has no "
         "1/m); every value a NumPy array.")
HINTS_TORCH = {
    "*": Hint("Section 8: PyTorch differentiates one scalar. Which scalar, and which tensors must ask for their "
              "gradients? Then: how does PyTorch's gradient at Z relate to the course's dz, one row per example?",
              "Build the forward pass from tensors of X and the parameters (gradients required on W and B), take "
              "the mean binary cross-entropy, and run backward; Z's gradient must be retained, and it carries the "
              "mean's 1/m.", TORCH),
    "extra-mean": Hint("Your dz is too small by the batch size. PyTorch differentiates the averaged cost: how does "
                       "that differ from the course's dz, one row per example (section 8)?",
                       "Z's gradient in PyTorch belongs to the mean cost, so it carries 1/m; the course's dz is per "
                       "example and does not.", TORCH),
}


KEY_NAMES = "Gradients are named dW1, dB1, dz1, ..., parameters W1, B1, ..."


def _sorted_grad_keys(L):
    return [f"{kind}{l}" for l in range(1, L + 1) for kind in ("dW", "dB", "dz")]


@register
class BinaryCrossEntropy(Exercise):
    name = "binary_cross_entropy"
    lecture = LECTURE
    args = ("AL", "Y")
    outputs = ("J",)
    hints = HINTS_BCE
    # categorical cross-entropy of [AL, 1 - AL] against [Y, 1 - Y] is the binary one
    library_functions = ("backproplab.losses.binary_cross_entropy", "backproplab.losses.categorical_cross_entropy")

    @staticmethod
    def _case(rng, m, n, label, saturated=False):
        AL = rng.uniform(0.05, 0.95, (m, n))
        Y = (rng.random((m, n)) < 0.5).astype(float)
        if saturated:
            # Exact 0 and 1 where the label agrees: the reference is finite (0 * log 0 := 0 via clamping).
            AL[0, 0], Y[0, 0] = 1.0, 1.0
            AL[-1, -1], Y[-1, -1] = 0.0, 0.0
        return Case((AL, Y), label=label, m=m, info={"saturated": saturated})

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 7, 1, "m=7 examples, one output"),
                    self._case(rng, 6, 3, "m=6 examples, 3 outputs"),
                    self._case(rng, 5, 1, "outputs exactly 0 and 1 where the label agrees", saturated=True)]
        return [self._case(rng, int(rng.integers(2, 13)), int(rng.integers(1, 4)), "random sizes"),
                self._case(rng, 1, 1, "m=1 (a single example)"),
                self._case(rng, int(rng.integers(3, 9)), 2, "saturated outputs", saturated=True)]

    def reference(self, case):
        return {"J": binary_cross_entropy(*case.args)}

    def oracles(self, case):
        return {"PyTorch": {"J": torch_reference.torch_loss("binary_cross_entropy", *case.args)}}

    def mistakes(self, case):
        n_outputs = case.args[0].shape[1]
        if n_outputs == 1:
            return []
        return [("wrong-values", {"J": self.reference(case)["J"] / n_outputs},
                 f"which is the average over all m × nL entries, nL = {n_outputs}")]


@register
class DenseBackward(Exercise):
    name = "dense_backward"
    lecture = LECTURE
    args = ("dz", "A_prev", "W")
    outputs = ("dA_prev", "dW", "dB")
    hints = HINTS_DENSE
    library_functions = ("backproplab.layers.dense_backward", "backproplab.layers.dense_weight_gradients")

    @staticmethod
    def _case(rng, m, n_prev, n, label):
        dz = rng.normal(size=(m, n))
        A_prev = rng.normal(size=(m, n_prev))
        W = rng.normal(size=(n, n_prev))
        return Case((dz, A_prev, W), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 7, 5, 3, "m=7, n_prev=5, n=3"),
                    self._case(rng, 4, 2, 6, "m=4, n_prev=2, n=6")]
        sizes = rng.permutation(np.arange(2, 9))[:3]
        return [self._case(rng, int(sizes[0]), int(sizes[1]), int(sizes[2]), "random sizes"),
                self._case(rng, 1, 4, 3, "m=1 (a single example)"),
                self._case(rng, 6, 3, 1, "n=1 (a single unit)")]

    def reference(self, case):
        return dict(zip(self.outputs, dense_backward(*case.args)))

    def oracles(self, case):
        dz, A_prev, W = case.args
        m = case.m
        B = np.zeros((1, W.shape[0]))
        # J(A_prev, W, B) = sum(dz * Z) / m has exactly these gradients (dA_prev per example: times m).
        numeric = {
            "dA_prev": m * numerical_gradient(lambda A: np.sum(dz * dense_forward(A, W, B)) / m, A_prev.copy()),
            "dW": numerical_gradient(lambda V: np.sum(dz * dense_forward(A_prev, V, B)) / m, W.copy()),
            "dB": numerical_gradient(lambda b: np.sum(dz * dense_forward(A_prev, W, b)) / m, B.copy()),
        }
        return {"PyTorch": dict(zip(self.outputs, torch_reference.torch_dense_backward(dz, A_prev, W))),
                "finite differences": numeric}

    def mistakes(self, case):
        dz, A_prev, W = case.args
        m = case.m
        return [("bias-axis", {"dB": dz.sum(axis=1, keepdims=True) / m}),
                ("bias-axis", {"dB": dz.sum(axis=1) / m}),
                ("bias-axis", {"dB": np.asarray(dz.sum() / m)}),
                ("bias-axis", {"dB": dz.sum(axis=1, keepdims=True).T / m})]


class _GradsFromNetwork(Exercise):
    """Shared by model_backward and torch_gradients: grads of a sigmoid + BCE network."""

    mutation_first = True

    def _networks(self, rng, hidden):
        if not hidden:
            specs = [([3, 4, 1], ["tanh", "sigmoid"], 7, "2 layers, tanh hidden layer"),
                     ([2, 5, 3, 1], ["relu", "sigmoid", "sigmoid"], 6, "3 layers, relu and sigmoid hidden"),
                     ([4, 1], ["sigmoid"], 5, "1 layer (logistic regression)")]
        else:
            hidden_acts = ["relu", "tanh", "sigmoid", "leaky_relu"]
            L = int(rng.integers(2, 4))
            sizes = [int(n) for n in rng.integers(1, 6, L + 1)]
            sizes[-1] = 1
            acts = [str(rng.choice(hidden_acts)) for _ in range(L - 1)] + ["sigmoid"]
            specs = [(sizes, acts, int(rng.integers(2, 9)), "random network"),
                     ([3, 4, 1], [str(rng.choice(["tanh", "sigmoid"])), "sigmoid"], 1, "m=1 (a single example)"),
                     ([2, 3, 1, 1], ["leaky_relu", "tanh", "sigmoid"], 5, "a hidden layer with n=1")]
        return [(draw_network(rng, sizes, acts, m), label) for sizes, acts, m, label in specs]

    def reference_grads(self, net):
        grads = model_backward(net["AL"], net["Y"], net["caches"], net["activations"])
        return {key: grads[key] for key in _sorted_grad_keys(len(net["caches"]))}

    def oracles(self, case):
        net = case.info["net"]
        torch_grads = torch_reference.torch_model_gradients(net["X"], net["Y"], net["params"], net["activations"])
        cost = model_cost_function(net["X"], net["Y"], net["activations"])
        numeric = {}
        for key in net["params"]:
            numeric["d" + key] = numerical_gradient(
                lambda value, key=key: cost({**net["params"], key: value}), net["params"][key].copy())
        return {"PyTorch": {key: torch_grads[key] for key in self.reference(case)},
                "finite differences": numeric}

    def split(self, value, case):
        return split_dict(value, self.reference(case), f"{self.name}'s gradients", KEY_NAMES)

    def reference(self, case):
        return self.reference_grads(case.info["net"])


@register
class ModelBackward(_GradsFromNetwork):
    name = "model_backward"
    lecture = LECTURE
    args = ("AL", "Y", "caches", "activations")
    outputs = ("grads",)
    library_functions = ("backproplab.model.model_backward",)
    hints = HINTS_BACKWARD
    # finite differences of the library's forward pass give every gradient; train_two_layer may use both
    withheld_while_graded = ("backproplab.model.model_forward", "backproplab.gradcheck.numerical_gradient")

    def cases(self, rng, hidden):
        return [Case((net["AL"], net["Y"], net["caches"], net["activations"]), label=label,
                     m=net["X"].shape[0], info={"net": net})
                for net, label in self._networks(rng, hidden)]

    def mistakes(self, case):
        net = case.info["net"]
        caches = net["caches"]
        if len(caches) < 2:
            return []
        # g'(A) instead of g'(Z): the A of layer l is the A_prev stored in layer l+1's cache.
        at_output = [(A_prev, W, B, caches[l + 1][0]) if l + 1 < len(caches) else (A_prev, W, B, Z)
                     for l, (A_prev, W, B, Z) in enumerate(caches)]
        wrong = model_backward(net["AL"], net["Y"], at_output, net["activations"])
        return [("derivative-at-output", wrong)]


@register
class TorchGradients(_GradsFromNetwork):
    name = "torch_gradients"
    lecture = LECTURE
    args = ("X", "Y", "params", "activations")
    outputs = ("grads",)
    torch_allowed = True
    library_functions = ("backproplab.model.model_backward", "backproplab.torch_reference.torch_model_gradients")
    call_timeout = 30.0
    hints = HINTS_TORCH

    def cases(self, rng, hidden):
        return [Case((net["X"], net["Y"], net["params"], net["activations"]), label=label,
                     m=net["X"].shape[0], info={"net": net})
                for net, label in self._networks(rng, hidden)]


@register
class UpdateParameters(Exercise):
    """In-place updates: a student who updates the caller's arrays in place (W -= lr * dW)
    and returns them fails with mutated-input and a clear message, but only when the
    returned values are right (values are judged first); DESIGN.md's update_parameters
    returns new arrays and leaves params untouched (gradient checking and momentum need
    the old values)."""

    name = "update_parameters"
    lecture = LECTURE
    args = ("params", "grads", "learning_rate")
    outputs = ("params",)
    # momentum with a zero velocity and beta = 0 is a plain step; _step is the step itself
    library_functions = ("backproplab.model.update_parameters", "backproplab.model._step",
                         "backproplab.model.update_parameters_momentum", "backproplab.optimizers.momentum_update",
                         "backproplab.optimizers.momentum_update_ema")
    mutation_first = False
    hints = HINTS_UPDATE

    def cases(self, rng, hidden):
        specs = [([3, 4, 1], 0.1, "2 layers, learning rate 0.1"), ([2, 5, 3, 2], 0.75, "3 layers, learning rate 0.75")]
        if hidden:
            specs = [([int(n) for n in rng.integers(1, 6, 3)], float(rng.uniform(0.01, 1.0)), "random network"),
                     ([4, 1], float(rng.uniform(0.01, 1.0)), "1 layer, n=1")]
        cases = []
        for sizes, lr, label in specs:
            params = {}
            grads = {}
            for l in range(1, len(sizes)):
                for key, shape in ((f"W{l}", (sizes[l], sizes[l - 1])), (f"B{l}", (1, sizes[l]))):
                    params[key] = rng.normal(size=shape)
                    grads["d" + key] = rng.normal(size=shape)
            for l in range(1, len(sizes)):
                grads[f"dz{l}"] = rng.normal(size=(3, sizes[l]))  # present in real grads; must be ignored
            cases.append(Case((params, grads, lr), label=label, m=1))
        return cases

    def reference(self, case):
        return update_parameters(*case.args)

    def split(self, value, case):
        return split_dict(value, case.args[0], f"{self.name}'s parameters", KEY_NAMES)

    def mistakes(self, case):
        params, grads, lr = case.args
        return [("sign-flipped", update_parameters(params, grads, -lr),
                 "which is a step of the same length in the opposite direction (uphill)")]

    def mutation_verdict(self, outcome):
        verdict = super().mutation_verdict(outcome)
        if verdict is not None:
            verdict.message = (f"The returned values are right, but update_parameters changed the caller's arrays "
                               f"{', '.join(outcome.mutated)} in place.")
        return verdict


@register
class GradientCheck(Exercise):
    """Judged on orders of magnitude: correct gradients must give a tiny relative error
    (< CORRECT_MAX), wrong ones an error within one decade of the reference's.
    The reference is itself the finite-difference oracle, so there is no second oracle."""

    name = "gradient_check"
    lecture = LECTURE
    args = ("cost_fn", "params", "grads")
    outputs = ("errors",)
    library_functions = ("backproplab.gradcheck.gradient_check",)
    hints = HINTS_GRADIENT_CHECK
    CORRECT_MAX = 1e-6
    DECADES = 1.0

    def cases(self, rng, hidden):
        specs = [([3, 4, 1], ["tanh", "sigmoid"], 6, {"dW1": "scale", "dB2": "noise"}, "2-layer tanh network")]
        if hidden:
            specs = [([2, 3, 1], [str(rng.choice(["tanh", "sigmoid"])), "sigmoid"], 5,
                      {"dW2": "noise", "dB1": "scale"}, "2-layer network"),
                     ([3, 1], ["sigmoid"], 4, {"dW1": "transpose-noise"}, "logistic regression")]
        cases = []
        for sizes, acts, m, spoil, label in specs:
            net = draw_network(rng, sizes, acts, m)
            grads = model_backward(net["AL"], net["Y"], net["caches"], acts)
            grads = {key: value for key, value in grads.items() if not key.startswith("dz")}
            for key, how in spoil.items():
                if how == "scale":
                    grads[key] = grads[key] * 1.1
                else:
                    grads[key] = grads[key] + rng.normal(0.0, 0.05, grads[key].shape)
            cost_token = FnToken("mlp_cost", {"X": net["X"], "Y": net["Y"], "activations": acts})
            cases.append(Case((cost_token, net["params"], grads), label=label, m=m))
        return cases

    def reference(self, case):
        cost_token, params, grads = case.args
        from .fixtures import FIXTURES

        cost_fn = FIXTURES[cost_token.name](**cost_token.kwargs)
        return reference_gradient_check(cost_fn, {k: v.copy() for k, v in params.items()}, grads)

    def judge_outputs(self, case, outputs, expected):
        errors = outputs["errors"]
        if not isinstance(errors, dict):
            return CaseVerdict(False, "not-an-array",
                               f"gradient_check should return a dict {{'W1': error, ...}}, but it returned "
                               f"{describe_value(errors)}.")
        errors = {key[1:] if key.startswith("d") else key: value for key, value in errors.items()}
        split = split_dict(errors, expected, f"{self.name}'s relative errors", KEY_NAMES)
        if isinstance(split, CaseVerdict):
            return split
        verdicts = {}
        problems = []
        for key, reference in expected.items():
            value = split[key]
            try:
                value = float(value)
            except (TypeError, ValueError):
                return CaseVerdict(False, "not-an-array",
                                   f"the error for {key} should be a float, but it is {describe_value(value)}.")
            if not np.isfinite(value):
                return CaseVerdict(False, "non-finite", f"the error for {key} is {value}.")
            if reference < self.CORRECT_MAX:
                ok = 0 <= value < self.CORRECT_MAX
                if not ok:
                    hint = (" An error around 1e-6..1e-4 is what a one-sided difference gives." if value < 1e-3 else
                            " Is each entry put back after it is nudged?")
                    problems.append(f"grads for {key} are correct, so its error should be below "
                                    f"{self.CORRECT_MAX:g}, but your gradient_check says {value:.3g}.{hint}")
            else:
                ok = value > 0 and abs(np.log10(value) - np.log10(reference)) <= self.DECADES
                if not ok:
                    problems.append(f"grads for {key} are deliberately wrong (relative error about "
                                    f"{reference:.1e}), but your gradient_check says {value:.3g}.")
            verdicts[key] = ok
        if problems:
            return CaseVerdict(False, "wrong-values",
                               " ".join(problems), verdicts)
        return CaseVerdict(True, None, "", verdicts)


def make_moons(m, noise, seed):
    """The two-moons data (m, 2) and labels (m, 1) (``backproplab.data.make_moons``)."""
    from ..data import make_moons as library_make_moons

    return library_make_moons(m=m, noise=noise, seed=seed)


@register
class TrainTwoLayer(Exercise):
    """Judged by what training achieves, on data the student's code never sees."""

    name = "train_two_layer"
    lecture = LECTURE
    args = ("X", "Y", "n_hidden", "learning_rate", "num_iterations")
    outputs = ("params", "costs")
    library_functions = ("backproplab.model.train", "backproplab.model.model_backward",
                         "backproplab.model.update_parameters")
    hints = HINTS_TRAIN
    ACTIVATIONS = ["tanh", "sigmoid"]
    MIN_ACCURACY = 0.9
    # Some draws of the moons cap even the reference below 90%: then the bar is the
    # reference's own held-out accuracy minus this margin, never a bar the solution misses.
    ACCURACY_MARGIN = 0.03
    call_timeout = 30.0

    def cases(self, rng, hidden):
        data_seed = int(rng.integers(0, 2**31))
        X, Y = make_moons(200, 0.2, data_seed)
        n_hidden = int(rng.integers(6, 11)) if hidden else 8
        return [Case((X, Y, n_hidden, 1.0, 1000), {"seed": int(rng.integers(0, 1000))},
                     label=f"moons, n_hidden={n_hidden}", m=200, info={"heldout_seed": data_seed + 1})]

    def reference(self, case):
        X, Y, n_hidden, learning_rate, num_iterations = case.args
        params = initialize_parameters([X.shape[1], n_hidden, 1], "xavier", case.kwargs["seed"])
        for _ in range(num_iterations):
            AL, caches = model_forward(X, params, self.ACTIVATIONS)
            params = update_parameters(params, model_backward(AL, Y, caches, self.ACTIVATIONS), learning_rate)
        return {"params": params}

    def judge_outputs(self, case, outputs, expected):
        X, Y, n_hidden, learning_rate, num_iterations = case.args
        params, costs = outputs["params"], outputs["costs"]
        shapes = {"W1": (n_hidden, X.shape[1]), "B1": (1, n_hidden), "W2": (1, n_hidden), "B2": (1, 1)}
        split = split_dict(params, shapes, f"{self.name}'s parameters", KEY_NAMES)
        if isinstance(split, CaseVerdict):
            return split
        for key, shape in shapes.items():
            value = split[key]
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                return CaseVerdict(False, "not-an-array", f"params['{key}'] is {describe_value(value)}.",
                                   {"params": False})
            if value.shape != shape:
                return CaseVerdict(False, "wrong-shape", f"params['{key}'] has shape {value.shape} where {shape} is "
                                   f"expected for n_hidden={n_hidden}.", {"params": False})
            if not np.all(np.isfinite(value)):
                return CaseVerdict(False, "non-finite", f"params['{key}'] contains NaN or infinity.", {"params": False})
        try:
            cost_values = np.asarray(costs, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            return CaseVerdict(False, "not-an-array", f"costs should be a list of floats, not {describe_value(costs)}.",
                               {"params": True, "costs": False})
        if cost_values.size < 2 or not np.all(np.isfinite(cost_values)):
            return CaseVerdict(False, "non-finite" if cost_values.size >= 2 else "wrong-shape",
                               f"costs should hold one finite cost per iteration ({num_iterations}); got "
                               f"{cost_values.size} values" + ("" if cost_values.size < 2 else " with NaN/inf") + ".",
                               {"params": True, "costs": False})
        X_test, Y_test = make_moons(500, 0.2, case.info["heldout_seed"])
        achieved = accuracy(X_test, Y_test, split, self.ACTIVATIONS)
        reference = accuracy(X_test, Y_test, expected["params"], self.ACTIVATIONS)
        required = min(self.MIN_ACCURACY, reference - self.ACCURACY_MARGIN)
        learned = cost_values[-1] < cost_values[0]
        outputs_ok = {"params": achieved >= required, "costs": bool(learned)}
        if not learned or achieved < required:
            return CaseVerdict(False, "no-learning",
                               f"after training, the network classifies {achieved:.1%} of fresh held-out moons "
                               f"correctly (at least {required:.0%} needed; the reference reaches "
                               f"{reference:.1%}); the cost went from {cost_values[0]:.4g} to {cost_values[-1]:.4g}.",
                               outputs_ok)
        return CaseVerdict(True, None, "", outputs_ok)
