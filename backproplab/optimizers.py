"""Optimizers: one step of momentum, RMSProp and Adam on a network's parameters.

The state of an optimizer is a dict keyed like the gradients (``"dW1", "dB1", ...``), one array
per parameter with that parameter's shape: the velocity of momentum, the running average of
squared gradients of RMSProp, the first and second moment estimates of Adam. Every function
returns new dicts and new arrays; the inputs are not modified. Parameters keep their dtype
(float32 stays float32 for any scalar hyperparameter), as in ``model.update_parameters``.

Conventions (as in ``torch.optim``, so that the lecture's checks can use it as an oracle):
- ``momentum_update`` is seed 003's form, the one ``torch.optim.SGD(momentum=beta)`` uses (with
  ``dampening=0``): the velocity sums the gradients, each older one weighted by a further beta.
  ``momentum_update_ema`` is the moving-average form (the gradient weighted by 1 - beta), the one
  ``model.update_parameters_momentum`` uses; the two differ by a learning rate rescaled by 1 - beta.
- ``rmsprop_update`` matches ``torch.optim.RMSprop(alpha=beta, eps=eps)``: eps is added after the
  square root. torch's default alpha is 0.99; ours is 0.9.
- ``adam_update`` matches ``torch.optim.Adam(betas=(beta1, beta2), eps=eps)``, bias corrected,
  eps after the square root; ``t`` is the number of this step, 1 on the first call.
The lecture (solutions/08-optimization) derives the update rules.
"""
from __future__ import annotations

import numpy as np

from .arrays import as_weak_scalar

__all__ = ["initialize_state", "momentum_update", "momentum_update_ema", "rmsprop_update", "adam_update"]


def initialize_state(params):
    """Zeros {"dW1": zeros like W1, "dB1": ..., ...}: the starting velocity, cache or moments."""
    return {"d" + key: np.zeros_like(value) for key, value in params.items()}


def _scalars(*values):
    return [as_weak_scalar(value) for value in values]


def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
    """One step of gradient descent with momentum (torch.optim.SGD's form).

    params: {"W1": (n1, n0), "B1": (1, n1), ...}; grads and velocity: {"dW1", "dB1", ...}, the same
    shapes; learning_rate, beta: floats -> (new params, new velocity).
    """
    learning_rate, beta = _scalars(learning_rate, beta)
    new_velocity = {"d" + key: beta * velocity["d" + key] + grads["d" + key] for key in params}
    new_params = {key: value - learning_rate * new_velocity["d" + key] for key, value in params.items()}
    return new_params, new_velocity


def momentum_update_ema(params, grads, velocity, learning_rate, beta=0.9):
    """One step of momentum in its moving-average form; arguments and result as momentum_update."""
    learning_rate, beta = _scalars(learning_rate, beta)
    new_velocity = {"d" + key: beta * velocity["d" + key] + (1 - beta) * grads["d" + key] for key in params}
    new_params = {key: value - learning_rate * new_velocity["d" + key] for key, value in params.items()}
    return new_params, new_velocity


def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
    """One RMSProp step (torch.optim.RMSprop with alpha=beta).

    params, grads as in momentum_update; cache: {"dW1", ...}, running averages of the squared
    gradients, the parameters' shapes -> (new params, new cache).
    """
    learning_rate, beta, eps = _scalars(learning_rate, beta, eps)
    new_cache = {"d" + key: beta * cache["d" + key] + (1 - beta) * np.square(grads["d" + key]) for key in params}
    new_params = {key: value - learning_rate * grads["d" + key] / (np.sqrt(new_cache["d" + key]) + eps)
                  for key, value in params.items()}
    return new_params, new_cache


def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam step (torch.optim.Adam).

    params, grads as in momentum_update; m, v: {"dW1", ...}, the first and second moment estimates
    after t - 1 steps; t: int >= 1, the number of this step -> (new params, new m, new v), the
    moments stored without bias correction.
    """
    learning_rate, beta1, beta2, eps = _scalars(learning_rate, beta1, beta2, eps)
    t = int(t)
    new_m = {"d" + key: beta1 * m["d" + key] + (1 - beta1) * grads["d" + key] for key in params}
    new_v = {"d" + key: beta2 * v["d" + key] + (1 - beta2) * np.square(grads["d" + key]) for key in params}
    correction1, correction2 = 1 - beta1 ** t, 1 - beta2 ** t
    new_params = {key: value - learning_rate * (new_m["d" + key] / correction1)
                  / (np.sqrt(new_v["d" + key] / correction2) + eps) for key, value in params.items()}
    return new_params, new_m, new_v
