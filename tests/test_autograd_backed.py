"""The student edition's PyTorch-backed library functions (backproplab/autograd_backed.py) agree with
the NumPy references they replace in the export: same shapes, keys, dtypes and values (to rounding)."""
from __future__ import annotations

import numpy as np
import pytest

import backproplab as bl
from backproplab import autograd_backed as ab
from backproplab import batchnorm, gradcheck, graph, init, layers, losses, model, optimizers

RNG = np.random.default_rng(7)
Z = RNG.normal(size=(5, 4))
DA = RNG.normal(size=(5, 4))


def close(a, b, tol=1e-9):
    if isinstance(a, dict):
        assert sorted(a) == sorted(b)
        for key in a:
            close(a[key], b[key], tol)
        return
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            close(x, y, tol)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softmax"])
def test_activations_agree(name):
    """Do the forward, backward and derivative of every graded activation agree with the NumPy library's?"""
    close(getattr(ab, name)(Z), getattr(bl.activations, name)(Z))
    close(getattr(ab, f"{name}_backward")(DA, Z), getattr(bl.activations, f"{name}_backward")(DA, Z))
    if name != "softmax":
        close(getattr(ab, f"{name}_derivative")(Z), getattr(bl.activations, f"{name}_derivative")(Z))
    close(getattr(ab, name)(Z.astype(np.float32)), getattr(bl.activations, name)(Z.astype(np.float32)), 1e-6)


def test_layers_and_losses_agree():
    """Do dense, L2 and the losses agree, and dropout keep its contract (mask of 0/1, kept units scaled)?"""
    A, W, B, dz = RNG.normal(size=(6, 3)), RNG.normal(size=(4, 3)), RNG.normal(size=(1, 4)), RNG.normal(size=(6, 4))
    close(ab.dense_forward(A, W, B), layers.dense_forward(A, W, B))
    close(ab.dense_backward(dz, A, W), layers.dense_backward(dz, A, W))
    close(ab.dense_weight_gradients(dz, A), layers.dense_weight_gradients(dz, A))
    params = {"W1": W, "B1": B, "W2": RNG.normal(size=(2, 4)), "B2": np.zeros((1, 2))}
    close(ab.l2_penalty(params, 0.7, 6), layers.l2_penalty(params, 0.7, 6))
    close(ab.l2_backward(W, 0.7, 6), layers.l2_backward(W, 0.7, 6))
    AL, Y = RNG.uniform(0.05, 0.95, (6, 3)), (RNG.random((6, 3)) < 0.5).astype(float)
    for name in ("binary_cross_entropy", "categorical_cross_entropy"):
        close(getattr(ab, name)(AL, Y), getattr(losses, name)(AL, Y))
        close(getattr(ab, f"{name}_gradient")(AL, Y), getattr(losses, f"{name}_gradient")(AL, Y))
    A_out, mask = ab.dropout_forward(A * 0 + 1.5, 0.3, np.random.default_rng(0))
    assert set(np.unique(mask)) <= {0.0, 1.0} and np.allclose(A_out, mask * 1.5 / 0.7)
    close(ab.dropout_backward(dz, mask[:, :1].repeat(4, 1), 0.3), layers.dropout_backward(dz, mask[:, :1].repeat(4, 1), 0.3))


def test_network_agrees():
    """Do count_parameters, the forward pass (caches included), the gradients, the cost, the updates and
    training agree with the NumPy model?"""
    X, Y = RNG.normal(size=(8, 3)), (RNG.random((8, 1)) < 0.5).astype(float)
    params = init.initialize_parameters([3, 5, 4, 1], "xavier", seed=1)
    acts = ["relu", "tanh", "sigmoid"]
    assert ab.count_parameters([784, 512, 512, 10]) == model.count_parameters([784, 512, 512, 10]) == 669706
    AL, caches = ab.model_forward(X, params, acts)
    ref_AL, ref_caches = model.model_forward(X, params, acts)
    close(AL, ref_AL)
    close(caches, ref_caches)
    close(ab.model_backward(AL, Y, caches, acts, lambd=0.3), model.model_backward(ref_AL, Y, ref_caches, acts, lambd=0.3))
    close(ab.compute_cost(AL, Y, acts, params, 0.3), model.compute_cost(AL, Y, acts, params, 0.3))
    grads = model.model_backward(ref_AL, Y, ref_caches, acts)
    close(ab.update_parameters(params, grads, 0.1), model.update_parameters(params, grads, 0.1))
    velocity = {k: RNG.normal(size=v.shape) for k, v in grads.items() if not k.startswith("dz")}
    plain = {k: v for k, v in grads.items() if not k.startswith("dz")}
    close(ab.update_parameters_momentum(params, plain, velocity, 0.1, 0.8),
          model.update_parameters_momentum(params, plain, velocity, 0.1, 0.8))
    for momentum in (0.0, 0.9):
        options = model.TrainOptions(learning_rate=0.3, epochs=4, batch_size=3, momentum=momentum, lambd=0.1)
        trained, history = ab.train(X, Y, params, acts, options, validation=(X, Y))
        ref_trained, ref_history = model.train(X, Y, params, acts, options, validation=(X, Y))
        close(trained, ref_trained, 1e-8)
        close(history, ref_history, 1e-8)
    AL, caches = ab.model_forward(X, params, acts, dropout=0.4, rng=np.random.default_rng(3))
    close(ab.model_backward(AL, Y, caches, acts, dropout=0.4), model.model_backward(AL, Y, caches, acts, dropout=0.4))


def test_training_with_dropout_takes_the_steps_of_model_forward_and_model_backward():
    """Does train with dropout (its gradients on tensors) step as model_forward's masks, drawn from the shuffling
    generator, and model_backward's gradients say?"""
    X, Y = RNG.normal(size=(10, 3)), (RNG.random((10, 1)) < 0.5).astype(float)
    params = init.initialize_parameters([3, 6, 5, 1], "xavier", seed=4)
    acts = ["relu", "tanh", "sigmoid"]
    trained, _ = ab.train(X, Y, params, acts, model.TrainOptions(learning_rate=0.3, epochs=2, batch_size=4,
                                                                 dropout=0.4, seed=5))
    shuffle, expected = np.random.default_rng(5), params
    for _ in range(2):
        order = shuffle.permutation(10)
        for batch in (order[start:start + 4] for start in range(0, 10, 4)):
            AL, caches = ab.model_forward(X[batch], expected, acts, dropout=0.4, rng=shuffle)
            expected = ab.update_parameters(expected, ab.model_backward(AL, Y[batch], caches, acts, dropout=0.4), 0.3)
    close(trained, expected, 1e-12)
    assert not np.allclose(trained["W1"], params["W1"])


def test_initialization_agrees():
    """Is init_std the reference's, and does initialize_parameters draw with that spread, biases zero?"""
    for method in init.INIT_METHODS:
        for fans in ((3, 5), (200, 7), (1, 1)):
            assert ab.init_std(method, *fans) == pytest.approx(init.init_std(method, *fans), rel=1e-12)
    params = ab.initialize_parameters([400, 300, 2], "he", seed=0, dtype=np.float32)
    assert params["W1"].shape == (300, 400) and params["W1"].dtype == np.float32
    assert params["W1"].std() == pytest.approx(init.init_std("he", 400, 300), rel=0.02)
    assert not params["B1"].any() and params["B1"].shape == (1, 300)
    again = ab.initialize_parameters([400, 300, 2], "he", seed=0, dtype=np.float32)
    assert all(np.array_equal(params[key], again[key]) for key in params)


def test_optimizers_and_batchnorm_agree():
    """Do the three update rules and batch norm (forward, cache, backward, running statistics) agree?"""
    params = {"W1": RNG.normal(size=(3, 2)), "B1": RNG.normal(size=(1, 3))}
    grads = {"d" + k: RNG.normal(size=v.shape) for k, v in params.items()}
    state = {"d" + k: RNG.uniform(0.1, 1, v.shape) for k, v in params.items()}
    other = {"d" + k: RNG.normal(size=v.shape) for k, v in params.items()}
    for name in ("momentum_update", "momentum_update_ema"):
        close(getattr(ab, name)(params, grads, state, 0.1, 0.8), getattr(optimizers, name)(params, grads, state, 0.1, 0.8))
    close(ab.rmsprop_update(params, grads, state, 0.01, 0.9), optimizers.rmsprop_update(params, grads, state, 0.01, 0.9))
    close(ab.adam_update(params, grads, other, state, 3, 0.01), optimizers.adam_update(params, grads, other, state, 3, 0.01))
    X, gamma, beta, dout = RNG.normal(size=(6, 3)), RNG.normal(size=(1, 3)), RNG.normal(size=(1, 3)), RNG.normal(size=(6, 3))
    out, cache = ab.batchnorm_forward(X, gamma, beta)
    ref_out, ref_cache = batchnorm.batchnorm_forward(X, gamma, beta)
    close(out, ref_out)
    close(cache[:4], ref_cache[:4])
    close(ab.batchnorm_backward(dout, cache), batchnorm.batchnorm_backward(dout, ref_cache))
    mean, var = RNG.normal(size=(1, 3)), RNG.uniform(0.5, 2, (1, 3))
    close(ab.update_running_stats(mean, var, X), batchnorm.update_running_stats(mean, var, X))
    close(ab.batchnorm_inference(X, gamma, beta, mean, var), batchnorm.batchnorm_inference(X, gamma, beta, mean, var))


def test_gradient_tools_and_graph_rules_agree():
    """Do numerical_gradient, gradient_check and the graph engine's backward rules agree?"""
    x = RNG.normal(size=(3, 2))
    f = lambda v: float(np.sum(np.sin(v) * v))  # noqa: E731
    close(ab.numerical_gradient(f, x), gradcheck.numerical_gradient(f, x), 1e-8)
    X, Y = RNG.normal(size=(5, 2)), (RNG.random((5, 1)) < 0.5).astype(float)
    params = init.initialize_parameters([2, 3, 1], "xavier", seed=2)
    cost = gradcheck.model_cost_function(X, Y, ["tanh", "sigmoid"])
    AL, caches = model.model_forward(X, params, ["tanh", "sigmoid"])
    grads = model.model_backward(AL, Y, caches, ["tanh", "sigmoid"])
    mine, ref = ab.gradient_check(cost, params, grads), gradcheck.gradient_check(cost, params, grads)
    assert sorted(mine) == sorted(ref) and all(mine[k] < 1e-6 and ref[k] < 1e-6 for k in mine)
    s, a, b = RNG.normal(size=(4, 2)), RNG.normal(size=(4, 3)), RNG.normal(size=(3, 2))
    close(ab.matmul_backward(s, a, b), graph._matmul_backward(s, a, b))
    close(ab.mul_backward(s, a[:, :2], a[:, 1:]), graph._mul_backward(s, a[:, :2], a[:, 1:]))
    close(ab.exp_backward(s, a[:, :2], out=np.exp(a[:, :2])), graph._exp_backward(s, a[:, :2], out=np.exp(a[:, :2])))
    close(ab.sigmoid_backward_rule(s, a[:, :2]), graph._sigmoid_backward_rule(s, a[:, :2]))


def test_whole_network_gradients_agree_with_the_oracle():
    """Does torch_model_gradients (torch.autograd.grad) agree with torch_reference's (retain_grad), dropout and L2 too?"""
    from backproplab import torch_reference

    X, Y = RNG.normal(size=(6, 3)), (RNG.random((6, 1)) < 0.5).astype(float)
    params = init.initialize_parameters([3, 4, 1], "xavier", seed=3)
    masks = [(RNG.random((6, 4)) > 0.3).astype(float), None]
    close(ab.torch_model_gradients(X, Y, params, ["relu", "sigmoid"], 0.2, masks, 0.3),
          torch_reference.torch_model_gradients(X, Y, params, ["relu", "sigmoid"], 0.2, masks, 0.3))


def test_output_gradients_stay_exact_where_the_output_saturates():
    """Where sigmoid and softmax outputs saturate (AL exactly 0 or 1), is dz[L] still AL - Y, as the NumPy library's?"""
    X, Y = np.array([[40.0], [-40.0]]), np.array([[0.0], [1.0]])
    params = {"W1": np.array([[1.0]]), "B1": np.zeros((1, 1))}
    AL, caches = model.model_forward(X, params, ["sigmoid"])
    close(ab.model_backward(AL, Y, caches, ["sigmoid"]), model.model_backward(AL, Y, caches, ["sigmoid"]))
    params = {"W1": np.array([[1.0], [-1.0]]), "B1": np.zeros((1, 2))}
    Y = np.array([[0.0, 1.0], [1.0, 0.0]])
    AL, caches = model.model_forward(X, params, ["softmax"])
    close(ab.model_backward(AL, Y, caches, ["softmax"]), model.model_backward(AL, Y, caches, ["softmax"]))


def test_lecture09_network_agrees():
    """Do bnmlp_autograd (every intermediate's .grad) and bnmlp_torch_training (nn.Sequential with BatchNorm1d,
    torch.optim.SGD) agree with the NumPy reference gradients and the checks' reference training?"""
    from backproplab import bnmlp, bnmlp_reference
    from backproplab.checks.lecture09 import reference_training

    X, Y = RNG.normal(size=(8, 4)), np.eye(3)[RNG.integers(0, 3, 8)]
    params = bnmlp.init_params([4, 5, 6, 3], seed=4)
    params.update(gamma1=RNG.uniform(0.5, 2, (1, 5)), beta2=RNG.normal(size=(1, 6)), B3=RNG.normal(size=(1, 3)))
    J, cache = bnmlp.forward_pass(X, Y, params)
    mine_J, grads = ab.bnmlp_autograd(X, Y, params)
    assert mine_J == pytest.approx(J, rel=1e-12)
    close(grads, bnmlp_reference.backward_reference(X, Y, params, cache))
    running = {"mean1": RNG.normal(size=(1, 5)), "var1": RNG.uniform(0.5, 2, (1, 5)),
               "mean2": RNG.normal(size=(1, 6)), "var2": RNG.uniform(0.5, 2, (1, 6))}
    close(ab.bnmlp_torch_training(X, Y, params, running, 0.4, 3, 3),
          reference_training(X, Y, params, running, 0.4, 3, 3), 1e-8)


def test_batchnorm_eval_agrees():
    """Does batchnorm_eval (a fresh nn.BatchNorm1d, train then eval) agree with the NumPy library's?"""
    batches = [RNG.normal(2, 3, (m, 3)) for m in (2, 5, 4)]
    X, gamma, beta = RNG.normal(size=(4, 3)), RNG.uniform(0.5, 2, (1, 3)), RNG.normal(size=(1, 3))
    close(ab.batchnorm_eval(batches, X, gamma, beta, 0.3, 1e-3), batchnorm.batchnorm_eval(batches, X, gamma, beta, 0.3, 1e-3))
    close(ab.batchnorm_eval(batches, X, gamma, beta), batchnorm.batchnorm_eval(batches, X, gamma, beta))
