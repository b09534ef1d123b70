"""Checks for lecture 03-activations.

Exercises (DESIGN.md signatures): sigmoid, tanh, relu, leaky_relu(Z, alpha=0.01), softmax
(row-wise); sigmoid_backward, tanh_backward, relu_backward, leaky_relu_backward(dA, Z,
alpha=0.01), each returning dz = dA * g'(Z).
Oracles: the library (``backproplab.activations``), PyTorch float64 (``torch_activation``,
``torch_activation_backward``) and, for backward rules, central differences of
sum(dA * g(Z)). Ordinary cases keep |z| >= KINK_MARGIN; only the dedicated "boundary"
case puts exact zeros into Z (there the derivative is a convention, so no finite differences).
"""
from __future__ import annotations

import numpy as np

from .. import torch_reference
from ..activations import get_activation, softmax
from ..gradcheck import numerical_gradient
from .exercises import Exercise, register
from .fixtures import KINK_MARGIN
from .hints import Hint
from .records import Case

LECTURE = "03-activations"

# ---- the hint ladders (lecture prose: solutions/03-activations, sections 4-7 and 9) -----------------------


def _slope_hints(nudge, step, formula, output_hint):
    """A backward rule's ladder: ``output_hint`` is the nudge for a slope taken at A instead of Z."""
    return {"*": Hint(nudge, step, formula),
            "derivative-at-output": Hint(output_hint, step, formula)}


AT_OUTPUT = ("Your slopes match the derivative taken at the activation's output. Which of the rule's two arguments "
             "holds the points at which the slope belongs?")
KINK = ("Only the entries where z is exactly 0 are wrong. Which of the two pieces' slopes does the course (as "
        "PyTorch) use at the corner?")
SOFTMAX_STEP = ("softmax(z) = softmax(z - c) for any constant c, and each row may use a constant of its own; with "
                "c_i the largest score of row i, no exponent of that row is above 0.")
SOFTMAX = "A_ij = e^(Z_ij - c_i) / Σ_k e^(Z_ik - c_i), c_i = max_k Z_ik: the sum runs over the n classes of row i."
HINTS = {
    "sigmoid": {"*": Hint(
        "Section 4: one formula, applied to every entry of Z at once. Which part of it overflows at z of -1000, "
        "and can you write the same number so that only exponentials of negative numbers are ever computed?",
        "For z < 0, the same number is e^z / (1 + e^z) (top and bottom of the usual fraction multiplied by e^z); "
        "both forms then need only e^-|z|, which is at most 1.",
        "σ(z) = 1/(1 + e^-z) for z ≥ 0 and e^z/(1 + e^z) for z < 0, entry by entry; Z, A (m, n).")},
    "tanh": {"*": Hint(
        "Section 5: tanh is a ratio of exponentials. Computed from its definition, what happens at z of 1000, and "
        "does NumPy offer a stable version?",
        "tanh(z) = (e^z - e^-z)/(e^z + e^-z), which is also 2σ(2z) - 1; the definition overflows for large |z|, "
        "NumPy's own tanh does not.",
        "A = tanh(Z), entry by entry, with a stable tanh; Z, A (m, n).")},
    "relu": {"*": Hint(
        "Section 6: ReLU passes a positive score through unchanged. What does it return for a negative one?",
        "relu(z) is z where z > 0 and 0 elsewhere, entry by entry, for the whole (m, n) array at once.",
        "relu(z) = max{0, z}, entry by entry; Z, A (m, n).")},
    "leaky_relu": {"*": Hint(
        "Section 6: leaky ReLU is ReLU whose negative piece is not flat. What is that piece's slope, and which "
        "argument of the function holds it?",
        "leaky_relu(z) is z where z > 0 and alpha z elsewhere, with the alpha the function is given.",
        "leaky_relu(z) = z for z > 0 and α z for z ≤ 0, entry by entry; Z, A (m, n).")},
    "softmax": {
        "*": Hint("Each row is one example (section 7): which entries does each normalizing total run over? And "
                  "which constant can you take from a row's scores without changing its result, so that no "
                  "exponential overflows?", SOFTMAX_STEP, SOFTMAX),
        "softmax-axis": Hint("Your probabilities add up to 1 down each column. Which entries are one example's "
                             "scores, and over which of them must its probabilities add up to 1?",
                             "The normalizing total of row i runs over the n classes of that row only; the examples "
                             "of one class are never added together.", SOFTMAX),
        "softmax-overflow": Hint("Your softmax returns NaN for scores near 1000. What is e to the 1000 in floating "
                                 "point, and which shift of a row's scores leaves its result unchanged (section 7)?",
                                 SOFTMAX_STEP, SOFTMAX),
    },
    "sigmoid_backward": _slope_hints(
        "Section 9: write σ as a power of its denominator and apply the chain rule. Can every part of the result be "
        "written with σ(z) itself? And at which point is the slope taken, Z or A?",
        "The chain rule gives σ'(z) = e^-z/(1 + e^-z)², which splits into σ(z) and (1 - σ(z)); dz combines dA with "
        "σ'(Z) entry by entry, and has no 1/m.",
        "dz = dA ⊙ σ(Z) ⊙ (1 - σ(Z)) (⊙: entry by entry); dA, Z, dz (m, n).", AT_OUTPUT),
    "tanh_backward": _slope_hints(
        "Section 9: differentiate tanh as a ratio of exponentials. Can the result be written with tanh(z) alone? "
        "And at which point is the slope taken, Z or A?",
        "The quotient rule gives tanh'(z) = 1 - tanh(z)²; dz combines dA with tanh'(Z) entry by entry, and has no "
        "1/m.",
        "dz = dA ⊙ (1 - tanh(Z)²) (⊙: entry by entry); dA, Z, dz (m, n).", AT_OUTPUT),
    "relu_backward": {
        **_slope_hints(
            "ReLU is made of two straight pieces (section 9). Which piece is an entry on: is that decided by the "
            "sign of Z or of dA? And which slope applies exactly at z of 0?",
            "The right piece has slope 1 and the left piece slope 0; at z = 0 take the left piece's slope, as "
            "PyTorch does.",
            "dz_ij = dA_ij where Z_ij > 0, and 0 where Z_ij ≤ 0; dA, Z, dz (m, n).", AT_OUTPUT),
        "relu-boundary": Hint(KINK, "At z = 0 use the left piece's slope, 0: an entry passes dA on just where its z "
                              "is strictly positive.", "dz_ij = dA_ij where Z_ij > 0, and 0 where Z_ij ≤ 0."),
    },
    "leaky_relu_backward": {
        **_slope_hints(
            "Like relu_backward, but the negative piece is not flat. What is its slope, and does it depend on z?",
            "The right piece has slope 1 and the left piece the slope alpha given to the function; at z = 0 use "
            "the left piece's slope, as PyTorch does.",
            "dz_ij = dA_ij where Z_ij > 0, and α dA_ij where Z_ij ≤ 0; dA, Z, dz (m, n).", AT_OUTPUT),
        "relu-boundary": Hint(KINK, "At z = 0 use the left piece's slope, alpha: only a strictly positive z counts "
                              "as the right piece.", "dz_ij = dA_ij where Z_ij > 0, and α dA_ij where Z_ij ≤ 0."),
    },
}


def _kink_free(rng, shape, scale=3.0):
    """Entries with KINK_MARGIN <= |z| <= scale and random signs."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(KINK_MARGIN, scale, size=shape)


def _with_zeros(rng, shape):
    """A kink-free matrix with about a third of its entries set to exactly 0."""
    Z = _kink_free(rng, shape)
    Z[rng.random(shape) < 0.35] = 0.0
    Z[0, 0] = 0.0
    return Z


def _large(rng, shape):
    """Entries of size ~1000 with both signs (overflow tests)."""
    Z = rng.choice([-1.0, 1.0], size=shape) * rng.uniform(500.0, 1000.0, size=shape)
    Z[0, 0], Z[-1, -1] = -1000.0, 1000.0
    return Z


class _ActivationExercise(Exercise):
    """Shared by the forward and backward exercises of one activation."""

    lecture = LECTURE
    activation = ""              # the library's name
    kinked = False               # relu-like: add the boundary case with exact zeros
    large = False                # add a |z| ~ 1000 case
    alpha_kwarg = False          # leaky ReLU: a case with a non-default alpha

    def _shapes(self, rng, hidden):
        if not hidden:
            return [(6, 4, "m=6, n=4"), (3, 7, "m=3, n=7")]
        m, n = (int(v) for v in rng.permutation(np.arange(2, 9))[:2])
        return [(m, n, "random sizes"), (1, 5, "m=1 (a single example)"), (4, 1, "n=1 (a single unit)")]

    def _kwargs(self, rng, hidden):
        return {"alpha": round(float(rng.uniform(0.05, 0.3)), 3)} if self.alpha_kwarg else {}

    def _library(self):
        return get_activation(self.activation)


class _Forward(_ActivationExercise):
    args = ("Z",)
    outputs = ("A",)

    def _case(self, Z, kwargs, label, **info):
        return Case((Z,), dict(kwargs), label=label, m=Z.shape[0], info=info)

    def cases(self, rng, hidden):
        cases = [self._case(_kink_free(rng, (m, n)), {}, label) for m, n, label in self._shapes(rng, hidden)]
        if self.alpha_kwarg:
            cases.append(self._case(_kink_free(rng, (5, 3)), self._kwargs(rng, hidden), "a non-default alpha"))
        if self.large:
            cases.append(self._case(_large(rng, (3, 4)), {}, "large inputs, |z| up to 1000", large=True))
        return cases

    def reference(self, case):
        return {"A": self._library().forward(*case.args, **case.kwargs)}

    def oracles(self, case):
        return {"PyTorch": {"A": torch_reference.torch_activation(self.activation, *case.args, **case.kwargs)}}


class _Backward(_ActivationExercise):
    args = ("dA", "Z")
    outputs = ("dz",)

    def _case(self, rng, Z, kwargs, label, **info):
        return Case((rng.normal(size=Z.shape), Z), dict(kwargs), label=label, m=Z.shape[0], info=info)

    def cases(self, rng, hidden):
        cases = [self._case(rng, _kink_free(rng, (m, n)), {}, label) for m, n, label in self._shapes(rng, hidden)]
        if self.alpha_kwarg:
            cases.append(self._case(rng, _kink_free(rng, (5, 3)), self._kwargs(rng, hidden), "a non-default alpha"))
        if self.kinked:
            cases.append(self._case(rng, _with_zeros(rng, (5, 6)), self._kwargs(rng, hidden),
                                    "Z with entries exactly 0 (the kink)", boundary=True))
        if self.large:
            cases.append(self._case(rng, _large(rng, (3, 4)), {}, "large inputs, |z| up to 1000", large=True))
        return cases

    def reference(self, case):
        return {"dz": self._library().backward(*case.args, **case.kwargs)}

    def oracles(self, case):
        dA, Z = case.args
        oracles = {"PyTorch": {"dz": torch_reference.torch_activation_backward(self.activation, dA, Z, **case.kwargs)}}
        if not case.info.get("boundary") and not case.info.get("large"):
            forward = self._library().forward
            oracles["finite differences"] = {
                "dz": numerical_gradient(lambda z: np.sum(dA * forward(z, **case.kwargs)), Z.copy())}
        return oracles

    def mistakes(self, case):
        dA, Z = case.args
        library = self._library()
        def derivative(z):
            return library.derivative(z, **case.kwargs)

        mistakes = [("derivative-at-output", {"dz": dA * derivative(library.forward(Z, **case.kwargs))})]
        if self.kinked and case.info.get("boundary"):
            slope = case.kwargs.get("alpha", 0.01) if self.alpha_kwarg else 0.0
            mistakes.insert(0, ("relu-boundary", {"dz": dA * np.where(Z >= 0, 1.0, slope)}))
        return mistakes


def _forward(name, **options):
    cls = type(name, (_Forward,), {"name": name, "activation": name, "hints": HINTS[name],
                                   "library_functions": (f"backproplab.activations.{name}",), **options})
    return register(cls)


def _backward(activation, **options):
    name = f"{activation}_backward"
    # the library's g'(Z) computes the graded quantity but for the product with dA: withheld too
    cls = type(name, (_Backward,), {"name": name, "activation": activation, "hints": HINTS[name],
                                    "library_functions": (f"backproplab.activations.{name}",
                                                          f"backproplab.activations.{activation}_derivative"),
                                    **options})
    return register(cls)


_forward("sigmoid", large=True)
_forward("tanh", large=True)
_forward("relu")
_forward("leaky_relu", alpha_kwarg=True)
_backward("sigmoid", large=True)
_backward("tanh", large=True)
_backward("relu", kinked=True)
_backward("leaky_relu", kinked=True, alpha_kwarg=True)


@register
class Softmax(_Forward):
    """Row-wise softmax; the large-input case separates overflow from other mistakes."""

    name = "softmax"
    activation = "softmax"
    large = True
    hints = HINTS["softmax"]
    library_functions = ("backproplab.activations.softmax",)

    def oracles(self, case):
        return {"PyTorch": {"A": torch_reference.torch_activation("softmax", *case.args)}}

    def mistakes(self, case):
        (Z,) = case.args
        return [("softmax-axis", {"A": softmax(Z.T).T}),
                ("softmax-axis", {"A": np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum()})]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if case.info.get("large") and verdict.diagnosis == "non-finite":
            verdict.diagnosis = "softmax-overflow"
            verdict.message = ("softmax returns NaN or infinity on large scores (|z| up to 1000): e to the 1000 "
                               "is infinite in floating point, and infinity over infinity is NaN.")
        return verdict
