"""Batch normalization of a dense layer's pre-activations (batch-first, as torch.nn.BatchNorm1d).

X: (m, n), one example per row, n features; gamma (scale) and beta (shift): (1, n).
- ``batchnorm_forward`` (training mode) normalizes every feature with the batch's own mean and
  biased variance (divided by m, as BatchNorm1d does when it normalizes) and returns
  ``(out, cache)`` with ``cache = (X, X_hat, mu, var, gamma, beta, eps)``: X, X_hat (m, n);
  mu, var, gamma, beta (1, n); eps a float.
- ``batchnorm_backward(dout, cache) -> (dX, dgamma, dbeta)`` follows DESIGN.md's convention: dout
  (m, n) holds each example's loss gradient with no 1/m, like dz; dgamma and dbeta (1, n) are the
  gradients of the mean cost, like dB. dX (m, n) is m times the mean cost's gradient: batch norm
  couples the rows, so row i is the gradient of the batch's summed loss with respect to example i's
  input (every example's loss depends on it through the batch statistics), not the gradient of
  example i's own loss. In PyTorch terms, with a mean loss: dgamma = weight.grad,
  dbeta = bias.grad, dX = m * X.grad.
- For inference, ``update_running_stats`` keeps BatchNorm1d's running averages (with
  BatchNorm1d's conventions, which lecture 08 has students find), ``batchnorm_inference`` normalizes
  with them, and ``batchnorm_eval`` does both: a fresh layer's running averages after a series of
  training batches, then its eval() output.
The lecture (solutions/08-optimization) derives them.
"""
from __future__ import annotations

import numpy as np

from .arrays import as_float_array, as_weak_scalar

__all__ = ["batchnorm_forward", "batchnorm_backward", "update_running_stats", "batchnorm_inference", "batchnorm_eval"]


def batchnorm_forward(X, gamma, beta, eps=1e-5):
    """Training-mode batch norm. X (m, n), gamma and beta (1, n), eps float -> (out (m, n), cache)."""
    X = as_float_array(X)
    eps = as_weak_scalar(eps)
    mu = X.mean(axis=0, keepdims=True)
    var = np.mean(np.square(X - mu), axis=0, keepdims=True)
    X_hat = (X - mu) / np.sqrt(var + eps)
    out = gamma * X_hat + beta
    return out, (X, X_hat, mu, var, gamma, beta, eps)


def batchnorm_backward(dout, cache):
    """dout (m, n), cache from batchnorm_forward -> (dX (m, n), dgamma (1, n), dbeta (1, n))."""
    X, X_hat, mu, var, gamma, beta, eps = cache
    m = X.shape[0]
    dgamma = np.sum(dout * X_hat, axis=0, keepdims=True) / m
    dbeta = np.sum(dout, axis=0, keepdims=True) / m
    dX_hat = dout * gamma
    dX = (dX_hat - dX_hat.mean(axis=0, keepdims=True)
          - X_hat * np.mean(dX_hat * X_hat, axis=0, keepdims=True)) / np.sqrt(var + eps)
    return dX, dgamma, dbeta


def update_running_stats(running_mean, running_var, X, momentum=0.1):
    """BatchNorm1d's running averages after one more training batch X (m, n), m >= 2.

    running_mean, running_var: (1, n); momentum: float, BatchNorm1d's momentum argument (its
    default 0.1) -> (new running_mean, new running_var).
    """
    momentum = as_weak_scalar(momentum)
    m = X.shape[0]
    mu = X.mean(axis=0, keepdims=True)
    unbiased = np.sum(np.square(X - mu), axis=0, keepdims=True) / (m - 1)
    return (1 - momentum) * running_mean + momentum * mu, (1 - momentum) * running_var + momentum * unbiased


def batchnorm_inference(X, gamma, beta, running_mean, running_var, eps=1e-5):
    """Batch norm in evaluation mode: X (m, n) normalized with the running averages (1, n) -> out (m, n)."""
    return gamma * (X - running_mean) / np.sqrt(running_var + as_weak_scalar(eps)) + beta


def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
    """A fresh nn.BatchNorm1d(n, eps, momentum) trained on ``batches``, then evaluated on X.

    batches: a list of training batches (m_k, n), m_k >= 2; X (p, n); gamma, beta (1, n); momentum, eps:
    floats -> (running_mean (1, n), running_var (1, n), out (p, n)). The running averages start at 0 and 1.
    """
    X = as_float_array(X)
    running_mean, running_var = np.zeros((1, X.shape[1]), X.dtype), np.ones((1, X.shape[1]), X.dtype)
    for batch in batches:
        running_mean, running_var = update_running_stats(running_mean, running_var, batch, momentum)
    return running_mean, running_var, batchnorm_inference(X, gamma, beta, running_mean, running_var, eps)
