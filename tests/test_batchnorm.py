"""Tests for backproplab.batchnorm: training-mode forward and backward, running averages, inference.

Oracles: nn.BatchNorm1d in float64 (train and eval modes, autograd for the backward with a mean loss, so that
dX = m * X.grad, dgamma = weight.grad, dbeta = bias.grad) and central differences.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backproplab.batchnorm import (
    batchnorm_backward,
    batchnorm_eval,
    batchnorm_forward,
    batchnorm_inference,
    update_running_stats,
)
from backproplab.gradcheck import numerical_gradient


def _draw(seed, m, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(rng.normal(0, 2, (1, n)), rng.uniform(0.5, 3, (1, n)), (m, n))
    return X, rng.uniform(0.5, 2, (1, n)), rng.normal(size=(1, n)), rng.normal(size=(m, n))


def _torch_layer(gamma, beta, eps=1e-5, momentum=0.1):
    layer = torch.nn.BatchNorm1d(gamma.shape[1], eps=eps, momentum=momentum).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma[0]))
        layer.bias.copy_(torch.from_numpy(beta[0]))
    return layer


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 9), st.integers(1, 6), st.sampled_from([1e-5, 1e-3, 0.1]))
def test_forward_and_backward_match_batchnorm1d(seed, m, n, eps):
    """Do out, dX, dgamma and dbeta equal nn.BatchNorm1d's (train mode, mean loss sum(dout * out) / m)?"""
    X, gamma, beta, dout = _draw(seed, m, n)
    out, cache = batchnorm_forward(X, gamma, beta, eps)
    dX, dgamma, dbeta = batchnorm_backward(dout, cache)
    layer = _torch_layer(gamma, beta, eps)
    X_t = torch.tensor(X, requires_grad=True)
    out_t = layer(X_t)
    (torch.sum(torch.from_numpy(dout) * out_t) / m).backward()
    assert np.allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert np.allclose(dX, m * X_t.grad.numpy(), rtol=1e-8, atol=1e-10)
    assert np.allclose(dgamma, layer.weight.grad.numpy()[None, :], rtol=1e-10, atol=1e-12)
    assert np.allclose(dbeta, layer.bias.grad.numpy()[None, :], rtol=1e-10, atol=1e-12)
    assert dgamma.shape == dbeta.shape == (1, n) and dX.shape == (m, n)


def test_backward_matches_central_differences_and_dX_columns_sum_to_zero():
    """Do central differences of sum(dout * out) give dX (and m * dgamma), and does every column of dX sum to 0?"""
    X, gamma, beta, dout = _draw(5, 6, 4)
    _, cache = batchnorm_forward(X, gamma, beta)
    dX, dgamma, _ = batchnorm_backward(dout, cache)

    def loss(X_, gamma_=gamma):
        return float(np.sum(dout * batchnorm_forward(X_, gamma_, beta)[0]))

    assert np.allclose(dX, numerical_gradient(loss, X.copy()), rtol=1e-6, atol=1e-8)
    assert np.allclose(6 * dgamma, numerical_gradient(lambda g: loss(X, g), gamma.copy()), rtol=1e-6, atol=1e-8)
    assert np.allclose(dX.sum(axis=0), 0.0, atol=1e-12)


def test_forward_normalizes_with_the_biased_variance_and_eps_under_the_root():
    """Is X_hat (X - mean) / sqrt(var + eps) with var divided by m, and is the cache the documented tuple?"""
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0 + 1e-4]])
    out, (X_c, X_hat, mu, var, gamma, beta, eps) = batchnorm_forward(X, np.ones((1, 2)), np.zeros((1, 2)), 1e-5)
    assert np.allclose(mu, [[3.0, 10.0 + 1e-4 / 3]]) and np.isclose(var[0, 0], 8.0 / 3)
    assert np.allclose(X_hat[:, 0], np.array([-2.0, 0.0, 2.0]) / np.sqrt(8.0 / 3 + 1e-5))
    assert np.max(np.abs(X_hat[:, 1])) < 0.03   # a nearly constant column is divided by ~sqrt(eps), not by ~0
    assert X_c is X and eps == 1e-5 and np.array_equal(out, X_hat)


def test_running_statistics_and_inference_match_batchnorm1d_eval():
    """After 10 training batches, are the running averages BatchNorm1d's (unbiased variance), and does inference
    mode give its eval() output?"""
    rng = np.random.default_rng(0)
    gamma, beta = rng.uniform(0.5, 2, (1, 3)), rng.normal(size=(1, 3))
    layer = _torch_layer(gamma, beta).train()
    running_mean, running_var = np.zeros((1, 3)), np.ones((1, 3))
    for _ in range(10):
        batch = rng.normal(2.0, 3.0, (8, 3))
        layer(torch.from_numpy(batch))
        running_mean, running_var = update_running_stats(running_mean, running_var, batch)
    assert np.allclose(running_mean[0], layer.running_mean.numpy()) and np.allclose(running_var[0],
                                                                                     layer.running_var.numpy())
    X = rng.normal(2.0, 3.0, (4, 3))
    ours = batchnorm_inference(X, gamma, beta, running_mean, running_var)
    assert np.allclose(ours, layer.eval()(torch.from_numpy(X)).detach().numpy(), rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(2, 7), min_size=1, max_size=5), st.integers(1, 4),
       st.integers(1, 4), st.sampled_from([0.05, 0.1, 0.3]), st.sampled_from([1e-5, 1e-2]))
def test_batchnorm_eval_is_a_fresh_batchnorm1d_trained_on_the_batches_then_evaluated(seed, sizes, n, p, momentum, eps):
    """Do batchnorm_eval's running averages and output equal a fresh nn.BatchNorm1d's after the same training
    batches (any sizes, momentum, eps), in eval() mode?"""
    rng = np.random.default_rng(seed)
    batches = [rng.normal(1.0, 2.0, (m, n)) for m in sizes]
    X, gamma, beta = rng.normal(1.0, 2.0, (p, n)), rng.uniform(0.5, 2, (1, n)), rng.normal(size=(1, n))
    layer = _torch_layer(gamma, beta, eps, momentum).train()
    with torch.no_grad():
        for batch in batches:
            layer(torch.from_numpy(batch))
        expected = layer.eval()(torch.from_numpy(X)).numpy()
    running_mean, running_var, out = batchnorm_eval(batches, X, gamma, beta, momentum, eps)
    assert running_mean.shape == running_var.shape == (1, n) and out.shape == (p, n)
    assert np.allclose(running_mean[0], layer.running_mean.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(running_var[0], layer.running_var.numpy(), rtol=1e-12, atol=1e-12)
    assert np.allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_a_row_of_dX_is_the_batch_loss_gradient_not_the_examples_own():
    """Is dX the sum over k of the gradients of each example's own loss L_k (dout zero outside row k), so that row i
    of dX differs from example i's own gradient (the rows are coupled through the batch statistics)?"""
    X, gamma, beta, dout = _draw(7, 5, 3)
    _, cache = batchnorm_forward(X, gamma, beta)
    dX = batchnorm_backward(dout, cache)[0]
    own = [batchnorm_backward(np.where(np.arange(5)[:, None] == k, dout, 0.0), cache)[0] for k in range(5)]
    assert np.allclose(dX, sum(own), rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(dX - np.array([own[i][i] for i in range(5)]))) > 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_backward_keep_the_dtype(dtype):
    """Does float32 in give float32 out, forward and backward, with the default eps?"""
    X, gamma, beta, dout = (a.astype(dtype) for a in _draw(1, 5, 3))
    out, cache = batchnorm_forward(X, gamma, beta)
    assert out.dtype == dtype and all(g.dtype == dtype for g in batchnorm_backward(dout, cache))
    assert all(value.dtype == dtype for value in batchnorm_eval([X, X[::-1]], X, gamma, beta))
