"""The reference gradients of lecture 09's network (``backproplab.bnmlp``): what its exercises compute.

``backward_reference`` goes back through every intermediate of ``bnmlp.forward_pass`` (exercise 1);
``cross_entropy_gradient`` and ``batchnorm_input_gradient`` are the two one-expression gradients (exercises
2 and 3). Every gradient is that of the mean loss J, as autograd's ``.grad``. The checks judge with them and
the grader withholds them (``Exercise.library_functions``); the notebook does not import this module.
"""
from __future__ import annotations

import numpy as np

__all__ = ["backward_reference", "cross_entropy_gradient", "batchnorm_input_gradient"]


def backward_reference(X, Y, params, cache):
    """The gradient of J with respect to every intermediate and every parameter, one op at a time.

    X: (m, n0); Y: (m, K); params: dict keyed by PARAM_KEYS; cache: forward_pass's dict
    -> dict "d" + name for each name of INTERMEDIATES and PARAM_KEYS, each of that array's shape
    (what autograd leaves in each tensor's .grad for the mean loss J).
    """
    m = X.shape[0]
    c = cache
    g = {}
    g["dlogP"] = -Y / m
    g["dlogsum"] = -g["dlogP"].sum(axis=1, keepdims=True)
    g["dsumE"] = g["dlogsum"] / c["sumE"]
    g["dE"] = np.ones_like(c["E"]) * g["dsumE"]
    g["dshifted"] = g["dlogP"] + c["E"] * g["dE"]
    g["dzmax"] = -g["dshifted"].sum(axis=1, keepdims=True)
    g["dZ3"] = g["dshifted"] + (c["Z3"] == c["zmax"]) * g["dzmax"]
    g["dW3"] = g["dZ3"].T @ c["A2"]
    g["dB3"] = g["dZ3"].sum(axis=0, keepdims=True)
    upstream = g["dZ3"] @ params["W3"]
    for l in (2, 1):
        g[f"dA{l}"] = upstream
        g[f"dH{l}"] = upstream * (1.0 - c[f"A{l}"] ** 2)
        g[f"dgamma{l}"] = (g[f"dH{l}"] * c[f"N{l}"]).sum(axis=0, keepdims=True)
        g[f"dbeta{l}"] = g[f"dH{l}"].sum(axis=0, keepdims=True)
        g[f"dN{l}"] = g[f"dH{l}"] * params[f"gamma{l}"]
        g[f"dS{l}"] = (g[f"dN{l}"] * c[f"D{l}"]).sum(axis=0, keepdims=True)
        g[f"dvar{l}"] = g[f"dS{l}"] * -0.5 * c[f"S{l}"] ** 3
        g[f"dD{l}"] = g[f"dN{l}"] * c[f"S{l}"] + g[f"dvar{l}"] * 2.0 * c[f"D{l}"] / m
        g[f"dmu{l}"] = -g[f"dD{l}"].sum(axis=0, keepdims=True)
        g[f"dZ{l}"] = g[f"dD{l}"] + g[f"dmu{l}"] / m
        A_prev = c["A1"] if l == 2 else X
        g[f"dW{l}"] = g[f"dZ{l}"].T @ A_prev
        upstream = g[f"dZ{l}"] @ params[f"W{l}"]
    return g


def cross_entropy_gradient(Z, Y):
    """The gradient of the mean softmax cross-entropy with respect to the logits.

    Z: (m, K) logits; Y: (m, K) one-hot -> (m, K), as Z.grad for F.cross_entropy's mean.
    """
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return (P - Y) / Z.shape[0]


def batchnorm_input_gradient(dH, N, S, gamma):
    """Batch norm's gradient with respect to its input, from the gradient with respect to its output.

    dH: (m, n) gradient w.r.t. the output H; N: (m, n) the normalized input; S: (1, n) the inverse
    standard deviation; gamma: (1, n) the scale -> (m, n), in dH's convention.
    """
    return gamma * S * (dH - dH.mean(axis=0, keepdims=True) - N * (dH * N).mean(axis=0, keepdims=True))
