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

from ..activations import get_activation, softmax
from ..gradcheck import numerical_gradient
from .core import Case, Exercise, register
from .fixtures import KINK_MARGIN

LECTURE = "03-activations"

FORMULAS = {
    "sigmoid": "sigma(z) = 1 / (1 + exp(-z)); for z < 0 use exp(z) / (1 + exp(z)) so nothing overflows",
    "tanh": "tanh(z) = (e^z - e^-z) / (e^z + e^-z); np.tanh is stable",
    "relu": "relu(z) = max(0, z)",
    "leaky_relu": "leaky_relu(z) = z if z > 0 else alpha * z",
    "softmax": "softmax(z) = softmax(z - c) for any constant c; per ROW i, with c_i = the maximum of row i",
    # The backward rules point to the derivation (lecture section 9), never to the answer line (issue 22).
    "sigmoid_backward": "dz = dA * sigma'(Z), the slope taken at Z and derived so that it uses only sigma(Z)",
    "tanh_backward": "dz = dA * tanh'(Z), the slope taken at Z and derived so that it uses only tanh(Z)",
    "relu_backward": "dz = dA * relu'(Z): the slope of the piece each z is on, the left piece's at z = 0",
    "leaky_relu_backward": "dz = dA * leaky_relu'(Z): the slope of the piece each z is on (the given alpha), "
                           "the left piece's at z = 0",
}


def _torch():
    from .. import torch_reference

    return torch_reference


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

    def formula_for(self, output):
        return FORMULAS[self.name]

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
        return {"PyTorch": {"A": _torch().torch_activation(self.activation, *case.args, **case.kwargs)}}


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
        oracles = {"PyTorch": {"dz": _torch().torch_activation_backward(self.activation, dA, Z, **case.kwargs)}}
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
    cls = type(name, (_Forward,), {"name": name, "activation": name,
                                   "library_functions": (f"backproplab.activations.{name}",), **options})
    return register(cls)


def _backward(activation, **options):
    name = f"{activation}_backward"
    # the library's g'(Z) computes the graded quantity but for the product with dA: withheld too
    cls = type(name, (_Backward,), {"name": name, "activation": activation,
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
    library_functions = ("backproplab.activations.softmax",)

    def oracles(self, case):
        return {"PyTorch": {"A": _torch().torch_activation("softmax", *case.args)}}

    def mistakes(self, case):
        (Z,) = case.args
        return [("softmax-axis", {"A": softmax(Z.T).T}),
                ("softmax-axis", {"A": np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum()})]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if case.info.get("large") and verdict.diagnosis == "non-finite":
            verdict.diagnosis = "softmax-overflow"
            verdict.message = ("softmax overflows on large scores (|z| up to 1000): exp(1000) is inf, and "
                               "inf / inf is NaN. Subtract each row's maximum first: softmax(z) = softmax(z - c). "
                               f"Look at: {FORMULAS['softmax']}.")
        return verdict
