"""Checks for lecture 04-backprop.

Exercises (DESIGN.md signatures): binary_cross_entropy, dense_backward, model_backward,
update_parameters, gradient_check, train_two_layer, torch_gradients.
Oracles: the NumPy library (reference), ``backproplab.torch_reference`` (PyTorch float64
autograd) and central differences (``backproplab.gradcheck.numerical_gradient``).
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import gradient_check as reference_gradient_check
from ..gradcheck import model_cost_function, numerical_gradient
from ..init import initialize_parameters
from ..layers import dense_backward, dense_forward
from ..losses import binary_cross_entropy
from ..model import accuracy, model_backward, model_forward, update_parameters
from .codec import FnToken
from .compare import describe_value
from .core import Case, CaseVerdict, Exercise, register
from .fixtures import draw_network

LECTURE = "04-backprop"

FORMULA_DW = "dW[l] = (1/m) dz[l].T @ A[l-1], shape (n_l, n_{l-1})"
FORMULA_DB = "dB[l] = (1/m) dz[l].sum(axis=0, keepdims=True), shape (1, n_l)"
FORMULA_DA = "dA[l-1] = dz[l] @ W[l], shape (m, n_{l-1}) (no 1/m)"
FORMULA_DZ = "dz[L] = A[L] - Y; dz[l-1] = dA[l-1] * g'(Z[l-1]), shape (m, n_l) (no 1/m)"


def _torch():
    from .. import torch_reference

    return torch_reference


def _grad_formulas(keys):
    """Formula hints for a grads dict's keys (dW1, dB2, dz3, ...)."""
    table = {"dW": FORMULA_DW, "dB": FORMULA_DB, "dz": FORMULA_DZ}
    return {key: table.get(key.rstrip("0123456789"), "") for key in keys}


def _split_dict(exercise, value, expected_keys, what):
    """A returned dict -> {key: value}, or a missing-keys / not-an-array verdict."""
    if not isinstance(value, dict):
        return CaseVerdict(False, "not-an-array",
                           f"{exercise} should return a dict of {what}, but it returned {describe_value(value)}.")
    missing = [key for key in expected_keys if key not in value]
    if missing:
        extra = sorted(set(value) - set(expected_keys))
        return CaseVerdict(False, "missing-keys",
                           f"{exercise} returned a dict without the keys {missing}. Expected keys: "
                           f"{list(expected_keys)}" + (f"; unexpected keys: {extra}" if extra else "") +
                           ". Names follow DESIGN.md: dW1, dB1, dz1, ... for gradients, W1, B1, ... for parameters.")
    return {key: value[key] for key in expected_keys}


def _sorted_grad_keys(L):
    return [f"{kind}{l}" for l in range(1, L + 1) for kind in ("dW", "dB", "dz")]


@register
class BinaryCrossEntropy(Exercise):
    name = "binary_cross_entropy"
    lecture = LECTURE
    args = ("AL", "Y")
    outputs = ("J",)
    formulas = {"J": "J = -(1/m) sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)], logs clamped at -100"}
    library_functions = ("backproplab.losses.binary_cross_entropy",)

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
        return {"PyTorch": {"J": _torch().torch_loss("binary_cross_entropy", *case.args)}}

    def mistakes(self, case):
        n_outputs = case.args[0].shape[1]
        if n_outputs == 1:
            return []
        return [("wrong-values", {"J": self.reference(case)["J"] / n_outputs},
                 f"which is the mean over all m*nL entries (np.mean): sum over the nL={n_outputs} output units "
                 f"and divide by m only")]


@register
class DenseBackward(Exercise):
    name = "dense_backward"
    lecture = LECTURE
    args = ("dz", "A_prev", "W")
    outputs = ("dA_prev", "dW", "dB")
    formulas = {"dA_prev": FORMULA_DA, "dW": FORMULA_DW, "dB": FORMULA_DB}
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
        return {"PyTorch": dict(zip(self.outputs, _torch().torch_dense_backward(dz, A_prev, W))),
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

    @staticmethod
    def _network_case(rng, sizes, activations, m, label):
        net = draw_network(rng, sizes, activations, m)
        return net, label

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
        torch_grads = _torch().torch_model_gradients(net["X"], net["Y"], net["params"], net["activations"])
        cost = model_cost_function(net["X"], net["Y"], net["activations"])
        numeric = {}
        for key in net["params"]:
            numeric["d" + key] = numerical_gradient(
                lambda value, key=key: cost({**net["params"], key: value}), net["params"][key].copy())
        return {"PyTorch": {key: torch_grads[key] for key in self.reference(case)},
                "finite differences": numeric}

    def split(self, value, case):
        return _split_dict(self.name, value, list(self.reference(case)), "gradients")

    def reference(self, case):
        return self.reference_grads(case.info["net"])

    def formula_for(self, output):
        return _grad_formulas([output])[output]


@register
class ModelBackward(_GradsFromNetwork):
    name = "model_backward"
    lecture = LECTURE
    args = ("AL", "Y", "caches", "activations")
    outputs = ("grads",)
    library_functions = ("backproplab.model.model_backward",)

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

    def cases(self, rng, hidden):
        return [Case((net["X"], net["Y"], net["params"], net["activations"]), label=label,
                     m=net["X"].shape[0], info={"net": net})
                for net, label in self._networks(rng, hidden)]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.diagnosis == "extra-mean":
            verdict.message += (" PyTorch's Z.grad is the gradient of the MEAN cost, so it carries the 1/m: "
                                "the course's dz (per example) is m * Z.grad.")
        return verdict


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
    library_functions = ("backproplab.model.update_parameters",)
    mutation_first = False

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
        return _split_dict(self.name, value, list(case.args[0]), "parameters")

    def mistakes(self, case):
        params, grads, lr = case.args
        return [("sign-flipped", update_parameters(params, grads, -lr),
                 "which is params + learning_rate * grads: a step uphill (gradient ascent); subtract the gradient")]

    def formula_for(self, output):
        return f"{output} = {output} - learning_rate * d{output}"

    def mutation_verdict(self, outcome):
        verdict = super().mutation_verdict(outcome)
        if verdict is not None:
            verdict.message = (f"The returned values are right, but update_parameters changed the caller's arrays "
                               f"{', '.join(outcome.mutated)} in place (e.g. W -= learning_rate * dW). Return new "
                               f"arrays instead: new[key] = params[key] - learning_rate * grads['d' + key], so the "
                               f"old parameters stay intact.")
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
        split = _split_dict(self.name, errors, list(expected), "relative errors")
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
                    hint = (" An error around 1e-6..1e-4 suggests a one-sided difference (f(x+h) - f(x)) / h: use "
                            "the central difference (f(x+h) - f(x-h)) / (2h)." if value < 1e-3 else
                            " Check that each entry is restored after it is perturbed, and the relative error "
                            "||a - b|| / (||a|| + ||b||).")
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
                               " ".join(problems) + " Look at: numerical = (J(x + h) - J(x - h)) / (2h) per entry; "
                               "error = ||analytic - numerical|| / (||analytic|| + ||numerical||).", verdicts)
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
        split = _split_dict(self.name, params, list(shapes), "parameters")
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
                               f"{reference:.1%}); the cost went from {cost_values[0]:.4g} to {cost_values[-1]:.4g}. "
                               f"Each iteration: AL, caches = model_forward(X, params, ['tanh', 'sigmoid']); "
                               f"grads = model_backward(AL, Y, caches, ...); params = update_parameters(params, grads, "
                               f"learning_rate).", outputs_ok)
        return CaseVerdict(True, None, "", outputs_ok)
