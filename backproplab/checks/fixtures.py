"""Trusted helpers for checks: fixture functions behind ``FnToken`` and network drawing.

``FIXTURES[name](**kwargs)`` builds the function an ``FnToken(name, kwargs)`` stands for,
on the side that calls the student's code (e.g. a cost function on fixed data for
``gradient_check``). Only functions listed here can ever be built from a token.
"""
from __future__ import annotations

import numpy as np

from ..gradcheck import model_cost_function
from ..model import model_forward

__all__ = ["FIXTURES", "curvy_function", "draw_network", "KINKED"]

def curvy_function(weights, frequency, curvature):
    """f(x) = sum(weights * sin(frequency * x) + 0.5 * curvature * x**2).

    weights, curvature: arrays of x's shape; frequency: float -> f: x -> float.
    A large frequency gives a large f'', which makes a one-sided difference's O(h) error
    (h/2 f'') stand out from a central difference's O(h^2) error.
    """
    weights = np.asarray(weights, dtype=float)
    curvature = np.asarray(curvature, dtype=float)
    frequency = float(frequency)

    def f(x):
        x = np.asarray(x, dtype=float)
        return float(np.sum(weights * np.sin(frequency * x) + 0.5 * curvature * x * x))

    return f


# Activations with a kink at z = 0: sampled pre-activations keep away from it.
KINKED = ("relu", "leaky_relu")
KINK_MARGIN = 0.05


def draw_network(rng: np.random.Generator, sizes, activations, m, *, max_tries=200):
    """Draw X, Y, params and run a real forward pass, keeping kinked layers' Z off the kink.

    sizes: [n0, ..., nL]; activations: L names (output "sigmoid", so Y is 0/1); m: batch size
    -> dict with X (m, n0), Y (m, nL), params {W{l} (n_l, n_{l-1}), B{l} (1, n_l)},
    activations, AL (m, nL) and caches (L tuples (A_prev, W, B, Z)).
    Every |Z| >= KINK_MARGIN in relu/leaky_relu layers, so central differences (h << margin)
    and the derivative conventions never meet z = 0.
    """
    for _ in range(max_tries):
        params = {}
        for l in range(1, len(sizes)):
            params[f"W{l}"] = rng.normal(0.0, 1.0 / np.sqrt(sizes[l - 1]), (sizes[l], sizes[l - 1]))
            params[f"B{l}"] = rng.normal(0.0, 0.3, (1, sizes[l]))
        X = rng.uniform(-2.0, 2.0, (m, sizes[0]))
        Y = (rng.random((m, sizes[-1])) < 0.5).astype(float)
        AL, caches = model_forward(X, params, activations)
        if all(np.min(np.abs(cache[3])) >= KINK_MARGIN
               for cache, name in zip(caches, activations) if name in KINKED):
            return {"X": X, "Y": Y, "params": params, "activations": list(activations),
                    "AL": AL, "caches": [tuple(cache) for cache in caches]}
    raise RuntimeError("could not draw a kink-free network")  # our bug: margins too tight


# FnToken name -> factory(**kwargs) -> callable
FIXTURES = {
    # J(params) of an MLP on fixed X, Y: kwargs X (m, n0), Y (m, nL), activations (L names).
    "mlp_cost": lambda X, Y, activations: model_cost_function(np.asarray(X), np.asarray(Y), list(activations)),
    # f(x) for lecture 02's numerical_gradient: kwargs weights, frequency, curvature.
    "lecture02_curvy": curvy_function,
}
