"""backproplab.bnmlp (lecture 09's network op by op), bnmlp_reference (its gradients) and their PyTorch twins in
torch_reference: the forward pass against torch's own layers, every gradient against autograd and finite
differences, inference against BatchNorm1d.eval(), the NumPy training against torch.optim's."""
from __future__ import annotations

import numpy as np
import torch

from backproplab import bnmlp
from backproplab.bnmlp_reference import backward_reference, batchnorm_input_gradient, cross_entropy_gradient
from backproplab.gradcheck import numerical_gradient
from backproplab.torch_reference import bnmlp_autograd, bnmlp_torch_training


def _net(seed=0, m=9, sizes=(6, 5, 7, 4)):
    rng = np.random.default_rng(seed)
    params = bnmlp.init_params(sizes, seed)
    params.update(gamma1=rng.uniform(0.5, 2, (1, sizes[1])), beta2=rng.normal(size=(1, sizes[2])),
                  B3=rng.normal(size=(1, sizes[3])))
    return rng.normal(size=(m, sizes[0])), np.eye(sizes[3])[rng.integers(0, sizes[3], m)], params


def test_forward_pass_names_23_intermediates_with_their_shapes_and_matches_torch_layers():
    """Does forward_pass keep the 23 intermediates with DESIGN.md's shapes, and give nn.BatchNorm1d's and
    F.cross_entropy's loss?"""
    X, Y, params = _net()
    J, cache = bnmlp.forward_pass(X, Y, params)
    assert tuple(cache) == bnmlp.INTERMEDIATES and len(cache) == 23
    assert cache["mu1"].shape == cache["S1"].shape == (1, 5) and cache["zmax"].shape == cache["sumE"].shape == (9, 1)
    assert cache["logP"].shape == (9, 4) and cache["H2"].shape == (9, 7)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5, bias=False), torch.nn.BatchNorm1d(5), torch.nn.Tanh(),
                                torch.nn.Linear(5, 7, bias=False), torch.nn.BatchNorm1d(7), torch.nn.Tanh(),
                                torch.nn.Linear(7, 4)).double()
    with torch.no_grad():
        for layer, key in ((0, "W1"), (1, "gamma1"), (3, "W2"), (4, "gamma2"), (6, "W3")):
            model[layer].weight.copy_(torch.from_numpy(params[key].reshape(model[layer].weight.shape)))
        for layer, key in ((1, "beta1"), (4, "beta2"), (6, "B3")):
            model[layer].bias.copy_(torch.from_numpy(params[key][0]))
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(X)), torch.from_numpy(Y.argmax(axis=1)))
    assert abs(float(loss.detach()) - J) < 1e-12


def test_reference_gradients_match_autograd_and_finite_differences():
    """Does every one of the 31 reference gradients agree with autograd's .grad (and the parameters' with central
    differences), with dzmax zero up to rounding?"""
    X, Y, params = _net(1)
    J, cache = bnmlp.forward_pass(X, Y, params)
    grads = backward_reference(X, Y, params, cache)
    J_t, autograd = bnmlp_autograd(X, Y, params)
    assert abs(J - J_t) < 1e-12 and set(grads) == set(autograd)
    for key, value in autograd.items():
        assert grads[key].shape == value.shape and np.allclose(grads[key], value, rtol=1e-9, atol=1e-14), key
    assert np.max(np.abs(grads["dzmax"])) < 1e-15
    for key in bnmlp.PARAM_KEYS:
        numeric = numerical_gradient(lambda v, key=key: bnmlp.forward_pass(X, Y, {**params, key: v})[0],
                                     params[key].copy())
        assert np.allclose(grads["d" + key], numeric, atol=1e-8), key


def test_one_expression_gradients_equal_the_staged_ones():
    """Are cross_entropy_gradient and batchnorm_input_gradient the staged dZ3, dZ1 and dZ2 to rounding?"""
    X, Y, params = _net(2)
    _, cache = bnmlp.forward_pass(X, Y, params)
    grads = backward_reference(X, Y, params, cache)
    assert np.allclose(cross_entropy_gradient(cache["Z3"], Y), grads["dZ3"], atol=1e-15)
    for l in (1, 2):
        fused = batchnorm_input_gradient(grads[f"dH{l}"], cache[f"N{l}"], cache[f"S{l}"], params[f"gamma{l}"])
        assert np.allclose(fused, grads[f"dZ{l}"], atol=1e-15)


def test_inference_is_batchnorm_in_eval_mode_and_training_matches_torch_optim():
    """Does training by the reference gradients with BatchNorm1d's running statistics follow bnmlp_torch_training
    step for step, and does inference with those statistics give the eval() model's logits?"""
    X, Y, params = _net(3, m=14)
    running = bnmlp.initial_running(params)
    trained, stats, losses = bnmlp_torch_training(X, Y, params, running, 0.3, 2, 5)   # batches 5, 5, 4
    p, r, mine = params, dict(running), []
    for _ in range(2):
        for start in range(0, 14, 5):
            Xb, Yb = X[start:start + 5], Y[start:start + 5]
            J, cache = bnmlp.forward_pass(Xb, Yb, p)
            grads = backward_reference(Xb, Yb, p, cache)
            p = {k: v - 0.3 * grads["d" + k] for k, v in p.items()}
            b = len(Xb)
            for l in (1, 2):
                r[f"mean{l}"] = 0.9 * r[f"mean{l}"] + 0.1 * cache[f"mu{l}"]
                r[f"var{l}"] = 0.9 * r[f"var{l}"] + 0.1 * cache[f"var{l}"] * b / (b - 1)
            mine.append(J)
    assert len(losses) == 6 and np.allclose(mine, losses, atol=1e-13)
    assert all(np.allclose(p[k], trained[k], atol=1e-13) for k in p)
    assert all(np.allclose(r[k], stats[k], atol=1e-13) for k in r)
    assert bnmlp.inference(X, p, r).shape == (14, 4)
    assert not np.allclose(bnmlp.inference(X, p, r), bnmlp.forward_pass(X, Y, p)[1]["Z3"])  # running != batch stats
