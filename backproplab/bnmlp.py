"""Lecture 09's network written op by op: a batch-normalized MLP whose forward pass keeps every
intermediate, so that a backward pass can be written (and checked) one intermediate at a time.

The network (batch-first, DESIGN.md): X (m, n0) -> two hidden layers, each a dense layer without
bias, batch norm (training mode: the batch's mean and biased variance) and tanh -> a dense output
layer (m, K) -> softmax cross-entropy averaged over the batch.

Parameters (``PARAM_KEYS``): W1 (n1, n0), gamma1 and beta1 (1, n1), W2 (n2, n1), gamma2 and beta2
(1, n2), W3 (K, n2), B3 (1, K). The dense layers before batch norm carry no bias: batch norm
subtracts each column's batch mean, which removes any constant added to the column.

The intermediates (``INTERMEDIATES``, in forward order), for hidden layer l = 1, 2 (A0 = X):
  Z{l} (m, n_l) dense output; mu{l} (1, n_l) batch mean; D{l} (m, n_l) deviations from it;
  var{l} (1, n_l) biased batch variance; S{l} (1, n_l) inverse standard deviation;
  N{l} (m, n_l) normalized; H{l} (m, n_l) scaled and shifted; A{l} (m, n_l) tanh;
then Z3 (m, K) logits; zmax (m, 1) each row's largest logit; shifted (m, K) logits minus it;
E (m, K) exponentials; sumE (m, 1) their row sums; logsum (m, 1) its log; logP (m, K) log-probabilities.
The loss J (a float) is the batch mean of -sum_k Y_k logP_k.

``forward_pass`` computes them; ``inference`` is the evaluation-mode network (running statistics).
The gradients are in ``bnmlp_reference`` (the lecture derives them; withheld while grading).
"""
from __future__ import annotations

import numpy as np

from .batchnorm import batchnorm_inference

__all__ = ["PARAM_KEYS", "INTERMEDIATES", "RUNNING_KEYS", "EPS", "MOMENTUM", "init_params", "initial_running",
           "forward_pass", "inference"]

PARAM_KEYS = ("W1", "gamma1", "beta1", "W2", "gamma2", "beta2", "W3", "B3")
_HIDDEN = ("Z", "mu", "D", "var", "S", "N", "H", "A")
INTERMEDIATES = tuple(f"{name}{l}" for l in (1, 2) for name in _HIDDEN) + (
    "Z3", "zmax", "shifted", "E", "sumE", "logsum", "logP")
RUNNING_KEYS = ("mean1", "var1", "mean2", "var2")
EPS = 1e-5       # batch norm's epsilon, nn.BatchNorm1d's default
MOMENTUM = 0.1   # the weight of a new batch in the running statistics, nn.BatchNorm1d's default


def init_params(sizes, seed=0):
    """Parameters for sizes [n0, n1, n2, K]: W{l} ~ N(0, 1/n_{l-1}) (LeCun's scale, right for tanh),
    gamma{l} ones, beta{l} and B3 zeros -> dict keyed by PARAM_KEYS (float64)."""
    n0, n1, n2, K = (int(n) for n in sizes)
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(0.0, 1.0 / np.sqrt(n0), (n1, n0)), "gamma1": np.ones((1, n1)), "beta1": np.zeros((1, n1)),
            "W2": rng.normal(0.0, 1.0 / np.sqrt(n1), (n2, n1)), "gamma2": np.ones((1, n2)), "beta2": np.zeros((1, n2)),
            "W3": rng.normal(0.0, 1.0 / np.sqrt(n2), (K, n2)), "B3": np.zeros((1, K))}


def initial_running(params):
    """nn.BatchNorm1d's starting running statistics: mean{l} zeros, var{l} ones, (1, n_l) each."""
    n1, n2 = params["W1"].shape[0], params["W2"].shape[0]
    return {"mean1": np.zeros((1, n1)), "var1": np.ones((1, n1)), "mean2": np.zeros((1, n2)), "var2": np.ones((1, n2))}


def forward_pass(X, Y, params, eps=EPS):
    """The training-mode forward pass, op by op.

    X: (m, n0); Y: (m, K) one-hot; params: dict keyed by PARAM_KEYS; eps: batch norm's epsilon
    -> (J, cache): J the mean cross-entropy (float); cache a dict of every intermediate (the names and
    shapes of INTERMEDIATES).
    """
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    m = X.shape[0]
    cache = {}
    A = X
    for l in (1, 2):
        W, gamma, beta = params[f"W{l}"], params[f"gamma{l}"], params[f"beta{l}"]
        Z = A @ W.T                                   # (m, n_l) dense layer, no bias
        mu = Z.sum(axis=0, keepdims=True) / m         # (1, n_l) batch mean
        D = Z - mu                                    # (m, n_l) deviations
        var = (D ** 2).sum(axis=0, keepdims=True) / m  # (1, n_l) biased batch variance
        S = (var + eps) ** -0.5                       # (1, n_l) inverse standard deviation
        N = D * S                                     # (m, n_l) normalized
        H = gamma * N + beta                          # (m, n_l) scaled and shifted
        A = np.tanh(H)                                # (m, n_l)
        cache.update({f"Z{l}": Z, f"mu{l}": mu, f"D{l}": D, f"var{l}": var, f"S{l}": S, f"N{l}": N, f"H{l}": H,
                      f"A{l}": A})
    Z3 = A @ params["W3"].T + params["B3"]            # (m, K) logits
    zmax = Z3.max(axis=1, keepdims=True)              # (m, 1)
    shifted = Z3 - zmax                               # (m, K)
    E = np.exp(shifted)                               # (m, K)
    sumE = E.sum(axis=1, keepdims=True)               # (m, 1)
    logsum = np.log(sumE)                             # (m, 1)
    logP = shifted - logsum                           # (m, K)
    J = float(-(Y * logP).sum() / m)
    cache.update({"Z3": Z3, "zmax": zmax, "shifted": shifted, "E": E, "sumE": sumE, "logsum": logsum, "logP": logP})
    return J, cache


def inference(X, params, running, eps=EPS):
    """The evaluation-mode network (batch norm with the running statistics, as nn.BatchNorm1d.eval()).

    X: (m, n0); params: dict keyed by PARAM_KEYS; running: dict keyed by RUNNING_KEYS, (1, n_l) each
    -> the logits Z3 (m, K).
    """
    A = np.asarray(X, dtype=float)
    for l in (1, 2):
        Z = A @ params[f"W{l}"].T
        A = np.tanh(batchnorm_inference(Z, params[f"gamma{l}"], params[f"beta{l}"], running[f"mean{l}"],
                                        running[f"var{l}"], eps))
    return A @ params["W3"].T + params["B3"]
