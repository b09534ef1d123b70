"""Tests for backproplab.optimizers: momentum (both forms), RMSProp and Adam.

Oracles: torch.optim in float64 (SGD(momentum), RMSprop(alpha=beta), Adam) over several steps from zero state,
and closed forms on a constant gradient. Also: dtypes kept, inputs not modified.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from backproplab.optimizers import (
    adam_update,
    initialize_state,
    momentum_update,
    momentum_update_ema,
    rmsprop_update,
)


def _problem(seed=0):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(3, 4)), "B1": rng.normal(size=(1, 3)), "W2": rng.normal(size=(2, 3)),
              "B2": rng.normal(size=(1, 2))}
    targets = {key: rng.normal(size=value.shape) for key, value in params.items()}
    return params, targets


def _grads(params, targets):
    """Gradients of sum_k 0.5 * sum((p_k - target_k)^2 * (1 + index)): a different curvature per parameter."""
    return {"d" + key: (value - targets[key]) * (1 + i) for i, (key, value) in enumerate(params.items())}


def _torch_run(make_optimizer, params, targets, steps):
    tensors = {key: torch.tensor(value, requires_grad=True) for key, value in params.items()}
    optimizer = make_optimizer(list(tensors.values()))
    for _ in range(steps):
        optimizer.zero_grad()
        loss = sum(0.5 * torch.sum((tensor - torch.from_numpy(targets[key])) ** 2) * (1 + i)
                   for i, (key, tensor) in enumerate(tensors.items()))
        loss.backward()
        optimizer.step()
    return {key: tensor.detach().numpy() for key, tensor in tensors.items()}


def _numpy_run(step, params, targets, steps):
    state = None
    for t in range(1, steps + 1):
        params, state = step(params, _grads(params, targets), state, t)
    return params


def _close(a, b):
    return all(np.allclose(a[key], b[key], rtol=1e-12, atol=1e-12) for key in a)


def test_momentum_matches_torch_sgd_with_momentum():
    """Is momentum_update torch.optim.SGD(momentum=beta, dampening=0) step by step, over 25 steps?"""
    params, targets = _problem()

    def step(p, g, state, t):
        return momentum_update(p, g, state or initialize_state(p), 0.05, 0.8)

    theirs = _torch_run(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8), params, targets, 25)
    assert _close(_numpy_run(step, params, targets, 25), theirs)


def test_the_two_momentum_forms_differ_only_by_the_learning_rate():
    """Does the moving-average form with lr / (1 - beta) follow the same path as the sum form with lr, with a
    velocity (1 - beta) times as large, and a different path with the same lr?"""
    params, targets = _problem(1)
    beta, lr = 0.9, 0.01
    p_sum, v_sum, p_ema, v_ema = params, initialize_state(params), params, initialize_state(params)
    for _ in range(30):
        p_sum, v_sum = momentum_update(p_sum, _grads(p_sum, targets), v_sum, lr, beta)
        p_ema, v_ema = momentum_update_ema(p_ema, _grads(p_ema, targets), v_ema, lr / (1 - beta), beta)
    assert _close(p_sum, p_ema)
    assert all(np.allclose(v_ema[k], (1 - beta) * v_sum[k], rtol=1e-10, atol=1e-12) for k in v_sum)
    same_lr, _ = momentum_update_ema(params, _grads(params, targets), initialize_state(params), lr, beta)
    first, _ = momentum_update(params, _grads(params, targets), initialize_state(params), lr, beta)
    assert not _close(same_lr, first)


@pytest.mark.parametrize("beta, eps", [(0.9, 1e-8), (0.99, 1e-3)])
def test_rmsprop_matches_torch_rmsprop_with_alpha_beta(beta, eps):
    """Is rmsprop_update torch.optim.RMSprop(alpha=beta, eps=eps), eps after the root, over 20 steps?"""
    params, targets = _problem(2)

    def step(p, g, state, t):
        return rmsprop_update(p, g, state or initialize_state(p), 0.01, beta, eps)

    theirs = _torch_run(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=beta, eps=eps), params, targets, 20)
    assert _close(_numpy_run(step, params, targets, 20), theirs)


@pytest.mark.parametrize("betas, eps", [((0.9, 0.999), 1e-8), ((0.8, 0.95), 1e-2)])
def test_adam_matches_torch_adam(betas, eps):
    """Is adam_update torch.optim.Adam (bias corrected, eps after the root) over 30 steps, t counted from 1?"""
    params, targets = _problem(3)

    def step(p, g, state, t):
        m, v = state or (initialize_state(p), initialize_state(p))
        p, m, v = adam_update(p, g, m, v, t, 0.02, *betas, eps)
        return p, (m, v)

    theirs = _torch_run(lambda p: torch.optim.Adam(p, lr=0.02, betas=betas, eps=eps), params, targets, 30)
    assert _close(_numpy_run(step, params, targets, 30), theirs)


def test_adam_first_step_is_the_learning_rate_times_the_sign_and_moments_stay_uncorrected():
    """From zero moments, is Adam's first step -lr * sign(g) (up to eps), with m = (1 - beta1) g and
    v = (1 - beta2) g^2 returned uncorrected?"""
    params = {"W1": np.zeros((2, 3))}
    g = {"dW1": np.array([[0.5, -2.0, 3.0], [-1e-2, 4.0, -0.25]])}
    new, m, v = adam_update(params, g, initialize_state(params), initialize_state(params), 1, 0.1, eps=0.0)
    assert np.allclose(new["W1"], -0.1 * np.sign(g["dW1"]))
    assert np.allclose(m["dW1"], 0.1 * g["dW1"]) and np.allclose(v["dW1"], 0.001 * g["dW1"] ** 2)


@pytest.mark.parametrize("update", ["momentum", "ema", "rmsprop", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_keep_the_dtype_and_leave_the_inputs_alone(update, dtype):
    """Do the four updates return new arrays of the parameters' dtype (float32 too, with NumPy scalar
    hyperparameters), leaving params, grads and state unchanged?"""
    params, targets = _problem(4)
    params = {k: v.astype(dtype) for k, v in params.items()}
    grads = {k: v.astype(dtype) for k, v in _grads(params, targets).items()}
    state = {k: np.abs(v) for k, v in grads.items()}
    before = [{k: v.copy() for k, v in d.items()} for d in (params, grads, state)]
    lr, beta = np.float64(0.01), np.float64(0.9)
    result = {"momentum": lambda: momentum_update(params, grads, state, lr, beta),
              "ema": lambda: momentum_update_ema(params, grads, state, lr, beta),
              "rmsprop": lambda: rmsprop_update(params, grads, state, lr, beta, np.float64(1e-8)),
              "adam": lambda: adam_update(params, grads, state, state, np.int64(3), lr)}[update]()
    for part in result:
        assert all(value.dtype == dtype for value in part.values())
    for original, now in zip(before, (params, grads, state)):
        assert all(np.array_equal(original[k], now[k]) for k in original)
    assert not any(np.shares_memory(result[0][k], params[k]) for k in params)
