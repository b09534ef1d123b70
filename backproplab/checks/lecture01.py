"""Checks for lecture 01-architecture.

Exercises: count_parameters, dense_forward, model_forward (DESIGN.md signatures) and
xor_parameters (the lecture's hand-designed XOR network).
Oracles: the NumPy library (reference) and ``backproplab.torch_reference`` (PyTorch float64).
Forward passes have no gradients, so there are no finite differences here.

Mistakes are predicted by running the wrong formula ourselves (``_Prediction``): when it
gives the student's value, or raises the student's exact error (e.g. ``A_prev @ W`` on a
non-square W), the mistake is named. Messages say what was observed; each exercise's hint
ladder (``hints``, checks/hints.py) says what to do about it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .. import torch_reference
from ..activations import get_activation
from ..data import xor
from ..layers import dense_forward
from ..model import count_parameters, model_forward
from .compare import ORACLE_TOLERANCE, describe_value, is_close, output_error, tolerance_for
from .exercises import Exercise, OracleDisagreement, register, split_dict
from .fixtures import draw_network
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "01-architecture"

# ---- the hint ladders (lecture prose: solutions/01-architecture, sections 1-5) ----------------------------

COUNT = "P = Σ_{l=1..L} (n_l · n_{l-1} + n_l): n_l · n_{l-1} weights and n_l biases in each layer l = 1..L."
HINTS_COUNT = {
    "*": Hint("Section 2 (Counting parameters) counts the 2-3-1 network by hand and finds 13. Does your function "
              "give 13 for [2, 3, 1]? Which layers own parameters, and what does each of them own?",
              "Layer l connects each of its n_l units to each of the n_{l-1} units below it (one weight per pair) "
              "and gives each of its own units one bias; the input layer owns nothing.",
              COUNT),
    "missing-bias": Hint("Besides its weights, what else does each unit of a layer own (section 1)? And does the "
                         "input layer own any of it?",
                         "Each unit of layer l has exactly one bias, so B[l] holds n_l numbers for l = 1..L; the "
                         "n0 inputs are data, not units with parameters.",
                         COUNT),
}

LAYER = ("Z = A_prev Wᵀ + B: A_prev (m, n_prev) meets Wᵀ (n_prev, n), and the (1, n) row B is added to each of "
         "the m rows, so Z is (m, n).")
HINTS_DENSE = {
    "*": Hint("Start from one neuron (section 1): it combines one example's inputs with its own weights and its "
              "own bias. In the batch, which row of W holds neuron j's weights, and which row of A_prev holds "
              "example i?",
              "Entry (i, j) of Z combines row i of A_prev (example i's inputs) with row j of W (neuron j's "
              "weights), entry by entry, and adds neuron j's bias B[0, j]; section 3's shape table lists every "
              "matrix.",
              LAYER),
    "transposed": Hint("Write the shapes down: A_prev is (m, n_prev) and W is (n, n_prev), a row for each neuron. "
                       "Which arrangement of W lets the n_prev of A_prev meet its n_prev, and what shape must Z "
                       "have?",
                       "For the product to pair each input with its weight, W must enter with its rows and "
                       "columns swapped, (n_prev, n); then Z comes out (m, n), one row per example.",
                       LAYER),
    "missing-bias": Hint("Each neuron owns one more parameter besides its weights (section 1). Where does it enter "
                         "the neuron's z?",
                         "Neuron j's bias B[0, j] is added to z for every example; B is a (1, n) row that "
                         "broadcasting repeats over the m rows.",
                         LAYER),
    "bias-shape": Hint("B has shape (1, n): one bias per neuron. Which entries of Z should neuron j's bias reach?",
                       "Neuron j's bias belongs in column j of Z, in every row; the (1, n) row B already lines up "
                       "with Z's columns, and broadcasting copies it down the m rows as it is.",
                       LAYER),
}

FORWARD = ("A[0] = X; for l = 1..L: Z[l] = A[l-1] W[l]ᵀ + B[l], A[l] = g[l](Z[l]) with g[l] = activations[l-1]; "
           "caches = [(A[l-1], W[l], B[l], Z[l]) for l = 1..L]; AL = A[L].")
HINTS_FORWARD = {
    "*": Hint("Section 3 builds the forward pass one layer at a time from dense_forward. Which layer's output is "
              "the next layer's input, and what does every layer keep for the backward pass?",
              "Begin with the data as layer 0's activation; each layer l applies its linear step to the previous "
              "layer's activation with W[l] and B[l], then its own activation function, and records its cache.",
              FORWARD),
    "activation-layer": Hint("activations holds L names, one per layer, from the first hidden layer to the output. "
                             "Where in that list is layer 1's name, where is the output layer's, and what does each "
                             "layer apply it to?",
                             "Layer l (counting from 1) uses the name at position l - 1, applied to that layer's "
                             "own Z[l], in every layer including the output layer.",
                             FORWARD),
    "cache-format": Hint("What will model_backward (lecture 04) need from each layer? Section 3 lists the four "
                         "things a layer's cache holds, and their order.",
                         "After computing layer l, append one tuple for that layer: its input A[l-1], its W[l] and "
                         "B[l], and its Z[l]; the list starts with the first layer.",
                         "caches = [(A[0], W[1], B[1], Z[1]), ..., (A[L-1], W[L], B[L], Z[L])]: a list of L "
                         "tuples in layer order."),
    "transposed": HINTS_DENSE["transposed"],
    "missing-bias": HINTS_DENSE["missing-bias"],
}

XOR = ("One construction: hidden units h1 = relu(x1 + x2) and h2 = relu(x1 + x2 - 1), so h1 - 2 h2 is XOR; the "
       "output z = k (h1 - 2 h2) - k/2 with k = 10 gives sigmoid(z) below 0.01 or above 0.99.")
HINTS_XOR = {
    "*": Hint("Section 5 draws the four XOR points: no single line separates them, two can. Which two lines, one "
              "per hidden unit, would you draw? The XOR explorer lets you try them.",
              "Let both hidden relu units look at x1 + x2 with different thresholds: one responds to (0, 1) and "
              "(1, 0) and (1, 1), the other only to (1, 1); the output unit then weighs the first positively and "
              "the second strongly negatively.",
              XOR),
    "weak-margin": Hint("Every point is on its right side of 0.5. How far from 0.5 must the outputs be, and which "
                        "parameters set how sharply the output sigmoid switches? For moved points: where are your "
                        "hidden units' thresholds?",
                        "The sigmoid is near 0 or 1 only when |z| is large (sigmoid(4.6) is about 0.99): scale the "
                        "output layer's weights and bias up together. If slightly moved points change side, a hidden "
                        "unit switches right next to them, or a very steep output layer magnifies a small move.",
                        XOR),
    "sign-flipped": Hint("Your network answers the opposite of XOR at every point. Which layer decides on which side "
                         "of 0.5 the output lands?",
                         "Negating the output layer's z turns every output o into 1 - o; the hidden layer can stay.",
                         XOR),
}

# The XOR network of exercise 4: its four points and the margins it must keep.
XOR_X, XOR_Y = xor()   # X (4, 2), Y (4, 1)
XOR_ACTIVATIONS = ["relu", "sigmoid"]
XOR_MARGIN = 0.1        # outputs below 0.1 for y = 0 and above 0.9 for y = 1
XOR_JITTER = 0.1        # points moved this far (in each coordinate) must stay on the right side of 0.5
XOR_SHAPES = {"W1": (2, 2), "B1": (1, 2), "W2": (1, 2), "B2": (1, 1)}


@dataclass
class _Prediction:
    """A typical mistake, as the wrong computation that produces it (run in the judge)."""

    diagnosis: str
    compute: Callable[[], object]
    message: str

    def outcome(self):
        """("returned", value) or ("raised", "Type: last line") of the wrong computation."""
        try:
            with np.errstate(all="ignore"):
                return "returned", self.compute()
        except Exception as exc:  # the wrong formula may raise exactly what the student's code raised
            return "raised", f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"


def _same_error(outcome, predicted_text) -> bool:
    student = f"{outcome.exc_type}: {outcome.exc_message}"
    return outcome.status == "raised" and student.strip() == predicted_text.strip()


def _matches(student, predicted) -> bool:
    """Same shape and close values (arrays), or equal (anything else)."""
    if isinstance(predicted, np.ndarray):
        return (isinstance(student, np.ndarray) and student.dtype.kind in "biuf"
                and student.shape == predicted.shape and is_close(student, predicted, tolerance_for(student)))
    return student == predicted


def _predicted_crash(predictions, case, outcome):
    """The verdict for a crash that a predicted mistake reproduces exactly, else None."""
    if outcome.status != "raised" or outcome.forbidden:
        return None
    for prediction in predictions:
        status, value = prediction.outcome()
        if status == "raised" and _same_error(outcome, value):
            return CaseVerdict(False, prediction.diagnosis,
                               f"{prediction.message} (It raised {outcome.exc_type}: {outcome.exc_message} "
                               f"on the case {case.label}.)")
    return None


def _predicted_value(predictions, student):
    for prediction in predictions:
        status, value = prediction.outcome()
        if status == "returned" and _matches(student, value):
            return CaseVerdict(False, prediction.diagnosis, prediction.message)
    return None


# ---------------------------------------------------------------------------------------


@register
class CountParameters(Exercise):
    name = "count_parameters"
    lecture = LECTURE
    args = ("layer_sizes",)
    outputs = ("P",)
    hints = HINTS_COUNT
    library_functions = ("backproplab.model.count_parameters",)

    def cases(self, rng, hidden):
        if not hidden:
            specs = [([3, 5, 2], "3-5-2"), ([4, 6, 6, 1], "4-6-6-1"),
                     ([int(n) for n in rng.integers(2, 30, 4)], "random sizes")]
        else:
            L = int(rng.integers(4, 7))
            specs = [([int(n) for n in rng.integers(1, 200, L + 1)], f"{L} layers"),
                     ([int(rng.integers(2, 50)), 1], "one layer with one unit"),
                     ([1, int(rng.integers(2, 50)), 1], "n0 = 1 and nL = 1"),
                     # Counting by building arrays would need gigabytes here: the formula does not.
                     ([100_000, 100_000, 100_000, 10], "very wide layers (10^5 units)")]
        return [Case((sizes,), label=label, m=1) for sizes, label in specs]

    def reference(self, case):
        return {"P": count_parameters(case.args[0])}

    def mistakes_for(self, sizes):
        pairs = list(zip(sizes[:-1], sizes[1:]))
        weights = sum(n_out * n_in for n_in, n_out in pairs)
        return [
            _Prediction("missing-bias", lambda: weights, "That is the number of weights alone."),
            _Prediction("missing-bias", lambda: weights + sum(n_in for n_in, _ in pairs),
                        "That is the weights and n_{l-1} more numbers per layer (as many as the layer's inputs)."),
            _Prediction("missing-bias", lambda: weights + sum(sizes),
                        "That is the weights and one more number for every unit, the input units included."),
            _Prediction("wrong-values", lambda: sum(n_out * n_in + n_out for n_in, n_out in pairs[:-1]),
                        "That is the count of every layer but the last."),
        ]

    def judge_outputs(self, case, outputs, expected):
        value, want = outputs["P"], expected["P"]
        is_integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if not is_integer:
            if isinstance(value, (float, np.floating)) and float(value) == want:
                return CaseVerdict(False, "not-an-array",
                                   f"count_parameters returned the float {value!r}, where a count is an int.")
            return CaseVerdict(False, "not-an-array",
                               f"count_parameters should return an int, but it returned {describe_value(value)}.")
        if int(value) == want:
            return CaseVerdict(True, outputs={"P": True})
        predicted = _predicted_value(self.mistakes_for(case.args[0]), int(value))
        if predicted is not None:
            predicted.message = f"For {case.args[0]} you returned {int(value):,}. " + predicted.message
            return predicted
        return CaseVerdict(False, "wrong-values",
                           f"For {case.args[0]} count_parameters returned {int(value):,}, which is not the number "
                           f"of weights and biases.", {"P": False})


# ---------------------------------------------------------------------------------------


def _dense_predictions(A_prev, W, B):
    return [
        _Prediction("transposed", lambda: A_prev @ W + B,
                    "dense_forward's result matches A_prev combined with W as it is stored, (n, n_prev)."),
        _Prediction("transposed", lambda: W @ A_prev.T + B.T,
                    "dense_forward's result has one column per example (the column-per-example convention); in "
                    "this course the examples are the rows, and Z is (m, n)."),
        _Prediction("transposed", lambda: W @ A_prev.T + B,
                    "dense_forward's result has one column per example (the column-per-example convention); in "
                    "this course the examples are the rows, and Z is (m, n)."),
        _Prediction("missing-bias", lambda: A_prev @ W.T, "dense_forward's result matches Z without the bias B."),
        _Prediction("bias-shape", lambda: A_prev @ W.T + B.T,
                    "dense_forward's result matches the biases laid out as a column instead of the (1, n) row."),
        _Prediction("bias-shape", lambda: A_prev @ W.T + B.sum(),
                    "dense_forward's result has the total of all biases in every entry, not each neuron's own."),
    ]


@register
class DenseForward(Exercise):
    name = "dense_forward"
    lecture = LECTURE
    args = ("A_prev", "W", "B")
    outputs = ("Z",)
    hints = HINTS_DENSE
    library_functions = ("backproplab.layers.dense_forward",)

    @staticmethod
    def _case(rng, m, n_prev, n, label):
        A_prev = rng.normal(size=(m, n_prev))
        W = rng.normal(size=(n, n_prev))
        # |b| >= 0.5, so that a missing bias always shows.
        B = rng.uniform(0.5, 2.0, size=(1, n)) * rng.choice([-1.0, 1.0], size=(1, n))
        return Case((A_prev, W, B), label=label, m=m)

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 5, 3, 4, "m=5, n_prev=3, n=4"),
                    self._case(rng, 2, 6, 3, "m=2, n_prev=6, n=3"),
                    self._case(rng, 3, 4, 4, "m=3, n_prev=4, n=4 (a square W)")]
        m, n_prev, n = (int(k) for k in rng.permutation(np.arange(2, 10))[:3])
        return [self._case(rng, m, n_prev, n, f"m={m}, n_prev={n_prev}, n={n}"),
                self._case(rng, 1, 5, 3, "m=1 (a single example)"),
                self._case(rng, 4, 3, 1, "n=1 (a single neuron)"),
                self._case(rng, 6, 1, 2, "n_prev=1 (a single input)"),
                self._case(rng, 5, 5, 5, "m = n_prev = n = 5")]

    def reference(self, case):
        return {"Z": dense_forward(*case.args)}

    def oracles(self, case):
        A_prev, W, B = case.args
        torch_run = torch_reference.torch_model_gradients(A_prev, np.zeros((A_prev.shape[0], W.shape[0])),
                                                   {"W1": W, "B1": B}, ["identity"])
        return {"PyTorch": {"Z": torch_run["Z1"]}}

    def judge_running(self, case, outcome):
        return (_predicted_crash(_dense_predictions(*case.args), case, outcome)
                or super().judge_running(case, outcome))

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.passed:
            return verdict
        predicted = _predicted_value(_dense_predictions(*case.args), outputs["Z"])
        if predicted is None:
            return verdict
        predicted.outputs, predicted.difference, predicted.expected = verdict.outputs, verdict.difference, verdict.expected
        return predicted


# ---------------------------------------------------------------------------------------


def _forward_variant(X, params, activations, *, names=None, linear=dense_forward, before=False):
    """The forward pass with a mistake: ``names`` replaces the per-layer activation names,
    ``linear`` the dense step, and ``before`` applies g[l] to the layer's input instead of its
    output. -> (AL, caches) in the student's would-be format."""
    names = list(activations) if names is None else names
    A = np.asarray(X, dtype=float)
    caches = []
    for l in range(1, len(activations) + 1):
        W, B = params[f"W{l}"], params[f"B{l}"]
        g = get_activation(names[l - 1]).forward
        if before:
            A = g(A)
        Z = linear(A, W, B)
        caches.append((A, W, B, Z))
        A = Z if before else g(Z)
    return A, caches


def _model_predictions(X, params, activations):
    L = len(activations)
    first, last = activations[0], activations[-1]

    def wrong(**mistake):
        return lambda: _forward_variant(X, params, activations, **mistake)[0]

    return [
        _Prediction("activation-layer", wrong(names=["identity"] * (L - 1) + [last]),
                    "AL matches a network whose hidden layers apply no activation."),
        _Prediction("activation-layer", wrong(names=list(activations[:-1]) + ["identity"]),
                    "AL matches Z[L], the output layer before its activation."),
        _Prediction("activation-layer", wrong(names=[first] * L),
                    "AL matches the first layer's activation used in every layer."),
        _Prediction("activation-layer", wrong(names=[last] * L),
                    "AL matches the output layer's activation used in every layer."),
        # activations[l] at layer l: raises IndexError at the last layer, as the student's code does.
        _Prediction("activation-layer",
                    lambda: _forward_variant(X, params, activations, names=list(activations[1:]) + [activations[L]])[0],
                    "model_forward reads each layer's activation one position too far along the list."),
        _Prediction("activation-layer", wrong(names=list(activations[::-1])),
                    "AL matches the activations used in reverse order."),
        _Prediction("activation-layer", wrong(before=True),
                    "AL matches each activation applied to the layer's input A[l-1] rather than to its Z[l]."),
        _Prediction("transposed", wrong(linear=lambda A, W, B: A @ W + B),
                    "AL matches each layer's W[l] used as it is stored, (n_l, n_{l-1})."),
        _Prediction("missing-bias", wrong(linear=lambda A, W, B: A @ W.T),
                    "AL matches the network without its biases B[l]."),
    ]


def _caches_verdict(student, expected) -> CaseVerdict | None:
    """None if the caches are right, else a cache-format verdict that says what is wrong."""
    L = len(expected)
    where = "A layer's cache is the tuple (A_prev, W, B, Z)."
    if not isinstance(student, (list, tuple)):
        return CaseVerdict(False, "cache-format", f"caches should be a list of {L} tuples, but it is "
                           f"{describe_value(student)}. {where}")
    if len(student) != L:
        return CaseVerdict(False, "cache-format", f"caches has {len(student)} entries for a network of {L} layers: "
                           f"append exactly one tuple per layer. {where}")
    names = ("A_prev", "W", "B", "Z")
    if L > 1 and all(isinstance(c, (list, tuple)) and len(c) == 4 and all(_matches(s, e) for s, e in zip(c, want))
                     for c, want in zip(student, reversed(expected))):
        return CaseVerdict(False, "cache-format",
                           f"caches are in reverse layer order: caches[0] must be layer 1's. {where}")
    for l, (got, want) in enumerate(zip(student, expected), 1):
        if not isinstance(got, (list, tuple)) or len(got) != 4:
            size = f" of length {len(got)}" if isinstance(got, (list, tuple)) else ""
            return CaseVerdict(False, "cache-format", f"caches[{l - 1}] (layer {l}) is {describe_value(got)}{size}; "
                               f"it should be the 4-tuple (A_prev, W, B, Z). {where}")
        for k, (item, ref) in enumerate(zip(got, want)):
            if _matches(item, ref):
                continue
            # Name what the student stored instead, when we recognize it.
            others = {f"{names[j]} of layer {l}": want[j] for j in range(4) if j != k}
            if l < L:
                others[f"A[{l}] (the layer's output, not its input)"] = expected[l][0]
            recognized = next((label for label, value in others.items() if _matches(item, value)), None)
            said = f": it holds {recognized}" if recognized else ""
            return CaseVerdict(False, "cache-format", f"item {k} of caches[{l - 1}] (layer {l}) should be "
                               f"{names[k]}{' (that is A[' + str(l - 1) + '])' if k == 0 else ''}{said}. {where}")
    return None


@register
class ModelForward(Exercise):
    name = "model_forward"
    lecture = LECTURE
    args = ("X", "params", "activations")
    outputs = ("AL", "caches")
    hints = HINTS_FORWARD
    library_functions = ("backproplab.model.model_forward", "backproplab.layers.dense_forward")

    def _networks(self, rng, hidden):
        if not hidden:
            specs = [([3, 4, 2], ["tanh", "sigmoid"], 5, "2 layers: tanh, sigmoid"),
                     ([2, 5, 3, 1], ["relu", "tanh", "sigmoid"], 6, "3 layers: relu, tanh, sigmoid"),
                     ([4, 3, 3], ["sigmoid", "softmax"], 4, "2 layers: sigmoid, softmax")]
        else:
            hidden_acts = ["relu", "tanh", "sigmoid", "leaky_relu"]
            L = int(rng.integers(3, 5))
            sizes = [int(n) for n in rng.integers(2, 7, L + 1)]
            acts = [str(a) for a in rng.permutation(hidden_acts)[:L - 1]] + ["identity"]
            specs = [(sizes, acts, int(rng.integers(2, 9)), f"{L} layers: {', '.join(acts)}"),
                     ([3, 4, 1], ["relu", "sigmoid"], 1, "m=1 (a single example)"),
                     ([1, 3, 1, 2], ["tanh", "relu", "sigmoid"], 5, "n0=1 and a hidden layer with n=1"),
                     ([5, 2], ["sigmoid"], 3, "1 layer (logistic regression)")]
        return [(draw_network(rng, sizes, acts, m), label) for sizes, acts, m, label in specs]

    def cases(self, rng, hidden):
        return [Case((net["X"], net["params"], net["activations"]), label=label, m=net["X"].shape[0])
                for net, label in self._networks(rng, hidden)]

    def reference(self, case):
        AL, caches = model_forward(*case.args)
        return {"AL": AL, "caches": [tuple(c) for c in caches]}

    def expected(self, case):
        """The NumPy reference, after checking AL and every Z[l] against one PyTorch float64 run."""
        reference = self.reference(case)
        X, params, activations = case.args
        run = torch_reference.torch_model_gradients(X, np.zeros_like(reference["AL"]), params, activations)
        pairs = [("AL", reference["AL"], run["AL"])] + [
            (f"Z{l}", cache[3], run[f"Z{l}"]) for l, cache in enumerate(reference["caches"], 1)]
        for output, ours, theirs in pairs:
            if not (np.shape(ours) == np.shape(theirs) and output_error(ours, theirs) <= ORACLE_TOLERANCE):
                raise OracleDisagreement(f"{self.name}: PyTorch disagrees with the NumPy reference on {output} "
                                         f"({case.label}). This is a bug in Backprop Lab, not in your code.")
        return reference

    def judge_running(self, case, outcome):
        return (_predicted_crash(_model_predictions(*case.args), case, outcome)
                or super().judge_running(case, outcome))

    def judge_outputs(self, case, outputs, expected):
        from .compare import compare_output

        AL = compare_output("AL", outputs["AL"], expected["AL"], m=case.m)
        if not AL.passed:
            predicted = _predicted_value(_model_predictions(*case.args), outputs["AL"])
            if predicted is not None:
                predicted.outputs = {"AL": False, "caches": False}
                predicted.difference, predicted.expected = AL.difference, AL.expected
                return predicted
            return CaseVerdict(False, AL.diagnosis, AL.detail, {"AL": False, "caches": False}, AL.difference,
                               AL.expected)
        caches = _caches_verdict(outputs["caches"], expected["caches"])
        if caches is not None:
            caches.outputs = {"AL": True, "caches": False}
            return caches
        return CaseVerdict(True, outputs={"AL": True, "caches": True})


# ---------------------------------------------------------------------------------------


@register
class XorParameters(Exercise):
    name = "xor_parameters"
    lecture = LECTURE
    args = ()
    outputs = ("params",)
    hints = HINTS_XOR

    def cases(self, rng, hidden):
        cases = [Case((), label="the four XOR points", m=4, info={"jitter": None})]
        if hidden:
            # 50 moved copies of each XOR point, each coordinate moved by up to XOR_JITTER.
            offsets = rng.uniform(-XOR_JITTER, XOR_JITTER, (50, 4, 2))
            cases.append(Case((), label=f"XOR points moved by up to {XOR_JITTER}", m=4, info={"jitter": offsets}))
        return cases

    def reference(self, case):
        return {"Y": XOR_Y}

    def judge_outputs(self, case, outputs, expected):
        params = split_dict(outputs["params"], XOR_SHAPES, "xor_parameters's result")
        if isinstance(params, CaseVerdict):
            return params
        for key, shape in XOR_SHAPES.items():
            value = params[key]
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                return CaseVerdict(False, "not-an-array", f"{key} should be a NumPy array of shape {shape}, "
                                   f"but it is {describe_value(value)}.")
            if value.shape != shape:
                diagnosis = "bias-shape" if key.startswith("B") else (
                    "transposed" if value.shape == shape[::-1] else "wrong-shape")
                return CaseVerdict(False, diagnosis, f"{key} has shape {value.shape}, but a 2-2-1 network needs "
                                   f"{key} {shape}: W[l] is (n_l, n_{{l-1}}) and B[l] is (1, n_l), both 2-d.")
            if not np.all(np.isfinite(value)):
                return CaseVerdict(False, "non-finite", f"{key} contains NaN or infinity.")
        params = {key: np.asarray(params[key], dtype=float) for key in XOR_SHAPES}
        with np.errstate(all="ignore"):
            AL, _ = model_forward(XOR_X, params, XOR_ACTIVATIONS)
        outputs_text = ", ".join(f"{tuple(int(v) for v in x)} -> {a:.3f}" for x, a in zip(XOR_X, AL[:, 0]))
        right_side = (AL > 0.5) == (XOR_Y > 0.5)
        if not right_side.all():
            if not right_side.any():
                return CaseVerdict(False, "sign-flipped", f"Your network computes NOT XOR (XNOR): {outputs_text}.")
            wrong = [tuple(int(v) for v in x) for x, ok in zip(XOR_X, right_side[:, 0]) if not ok]
            return CaseVerdict(False, "wrong-values", f"Your network gets {wrong} wrong: {outputs_text}.")
        beyond = np.where(XOR_Y > 0.5, AL > 1 - XOR_MARGIN, AL < XOR_MARGIN)
        if not beyond.all():
            return CaseVerdict(False, "weak-margin", f"Every point is on the right side of 0.5, but not beyond "
                               f"{XOR_MARGIN} / {1 - XOR_MARGIN}: {outputs_text}.")
        if case.info["jitter"] is not None:
            moved = (XOR_X[None] + case.info["jitter"]).reshape(-1, 2)
            labels = np.tile(XOR_Y, (case.info["jitter"].shape[0], 1))
            with np.errstate(all="ignore"):
                A_moved, _ = model_forward(moved, params, XOR_ACTIVATIONS)
            wrong = (A_moved > 0.5) != (labels > 0.5)
            if wrong.any():
                first = moved[int(np.argmax(wrong[:, 0]))]
                return CaseVerdict(False, "weak-margin", f"{int(wrong.sum())} of {wrong.size} points moved by up to "
                                   f"{XOR_JITTER} from the XOR points land on the wrong side of 0.5, e.g. "
                                   f"({first[0]:.3f}, {first[1]:.3f}).")
        return CaseVerdict(True, outputs={"params": True})
