"""The course's functions rebuilt in PyTorch (float64 autograd): the second oracle.

Every function takes and returns NumPy arrays (float64) in DESIGN.md's conventions, so a
check can compare them with the NumPy reference directly:
  * inputs and results are batch-first, W: (n_l, n_{l-1}) as ``torch.nn.Linear.weight``,
    B: (1, n_l);
  * costs are means over the batch, so ``dW = weight.grad`` and ``dB = bias.grad``;
  * per-example gradients (dz, dA, a loss's gradient) carry **no 1/m**: they are m times
    the gradient of the mean cost, e.g. ``dz = m * Z.grad``.
torch is imported lazily, inside the functions, so ``import backproplab`` never loads it.

Names: activations are ``backproplab.activations.ACTIVATIONS``'s ("sigmoid", "tanh",
"relu", "leaky_relu", "elu", "identity", "softmax"); losses are ``backproplab.losses``'s
function names ("mse", "binary_cross_entropy", "categorical_cross_entropy",
"multiclass_hinge"), or the short aliases "bce", "ce", "hinge".
"""
from __future__ import annotations

import numpy as np

from .losses import LOG_FLOOR, loss_for_output

__all__ = [
    "torch_activation", "torch_activation_backward",
    "torch_loss", "torch_loss_gradient",
    "torch_dense_backward", "torch_dropout_backward", "torch_model_gradients", "bnmlp_autograd",
    "bnmlp_torch_training",
]

LOSS_ALIASES = {"bce": "binary_cross_entropy", "ce": "categorical_cross_entropy", "hinge": "multiclass_hinge"}


def _torch():
    import torch

    return torch


def _tensor(array, requires_grad=False):
    """A float64 tensor holding a copy of ``array`` (a leaf if ``requires_grad``)."""
    torch = _torch()
    return torch.tensor(np.asarray(array, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def _numpy(tensor):
    return tensor.detach().numpy().astype(np.float64, copy=True)


def _activation_fn(name, **kw):
    """The torch function for activation ``name``: Z tensor (m, n) -> A tensor (m, n)."""
    torch = _torch()
    F = torch.nn.functional
    table = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda Z: F.leaky_relu(Z, negative_slope=kw.get("alpha", 0.01)),
        "elu": lambda Z: F.elu(Z, alpha=kw.get("alpha", 1.0)),
        "identity": lambda Z: Z,
        "softmax": lambda Z: torch.softmax(Z, dim=-1),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(table)}") from None


def _mean_loss_fn(name):
    """The torch mean cost for loss ``name``: (AL, Y) tensors (m, nL) -> scalar tensor.

    Logs are clamped at LOG_FLOOR (-100) exactly as in ``backproplab.losses`` (and in
    ``torch.nn.functional.binary_cross_entropy``), so saturated outputs give finite costs.
    """
    torch = _torch()
    F = torch.nn.functional

    def clamped_log(P):
        return torch.clamp(torch.log(P), min=LOG_FLOOR)

    def hinge(S, Y, margin=1.0):
        correct = (S * Y).sum(dim=1, keepdim=True)
        return (torch.clamp(S - correct + margin, min=0.0) * (1.0 - Y)).sum() / S.shape[0]

    table = {
        "mse": lambda AL, Y: F.mse_loss(AL, Y, reduction="sum") / (2 * AL.shape[0]),
        # torch's own BCE (reduction "sum" over every unit, then the mean over examples).
        "binary_cross_entropy": lambda AL, Y: F.binary_cross_entropy(AL, Y, reduction="sum") / AL.shape[0],
        "categorical_cross_entropy": lambda AL, Y: -(Y * clamped_log(AL)).sum() / AL.shape[0],
        "multiclass_hinge": hinge,
    }
    name = LOSS_ALIASES.get(name, name)
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {sorted(table) + sorted(LOSS_ALIASES)}") from None


def _gradients(scalar_fn, *arrays):
    """(value, grads): ``scalar_fn`` applied to float64 leaf copies of ``arrays``, then
    backpropagated; grads are NumPy arrays in the order of ``arrays``."""
    leaves = [_tensor(a, requires_grad=True) for a in arrays]
    value = scalar_fn(*leaves)
    value.backward()
    return float(value.detach()), [_numpy(leaf.grad) for leaf in leaves]


def torch_activation(name, Z, **kw):
    """A = g(Z) computed by torch. Z: (m, n) -> A: (m, n). ``kw``: alpha for leaky_relu/elu."""
    return _numpy(_activation_fn(name, **kw)(_tensor(Z)))


def torch_activation_backward(name, dA, Z, **kw):
    """dz = the vector-Jacobian product dA^T dg/dZ, by autograd. dA, Z: (m, n) -> dz: (m, n).

    Backpropagating sum(dA * g(Z)) gives, for elementwise g, dA * g'(Z) (with torch's value
    at ReLU's kink), and the full softmax Jacobian product for softmax.
    """
    g = _activation_fn(name, **kw)
    dA = _tensor(dA)
    _, (dz,) = _gradients(lambda Z: (dA * g(Z)).sum(), Z)
    return dz


def torch_loss(name, AL, Y):
    """The mean cost J of loss ``name``, by torch. AL, Y: (m, nL) -> float."""
    return float(_mean_loss_fn(name)(_tensor(AL), _tensor(Y)))


def torch_loss_gradient(name, AL, Y):
    """The per-example gradient dA[L] = m * dJ/dAL of loss ``name``. AL, Y: (m, nL) -> (m, nL)."""
    Y_t = _tensor(Y)
    loss = _mean_loss_fn(name)
    _, (dAL,) = _gradients(lambda AL: loss(AL, Y_t), AL)
    return np.asarray(AL).shape[0] * dAL


def torch_dense_backward(dz, A_prev, W):
    """Backward of the dense layer through ``torch.nn.functional.linear``.

    dz: (m, n_l) per example; A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}) ->
    (dA_prev (m, n_{l-1}) per example, dW (n_l, n_{l-1}), dB (1, n_l)), as ``dense_backward``.
    The surrogate cost J = sum(Z * dz) / m has dJ/dZ = dz / m, i.e. per-example gradient dz.
    """
    torch = _torch()
    m = np.asarray(A_prev).shape[0]
    dz_t = _tensor(dz)
    bias = np.zeros(np.asarray(W).shape[0])

    def cost(A_prev, W, B):
        return (torch.nn.functional.linear(A_prev, W, B) * dz_t).sum() / m

    _, (dA_prev, dW, dB) = _gradients(cost, A_prev, W, bias)
    return m * dA_prev, dW, dB.reshape(1, -1)


def _apply_mask(A, mask, alpha):
    """Inverted dropout with a given mask (the kept units rescaled as in dropout_forward), in torch."""
    return A * _tensor(np.asarray(mask, dtype=float)) / (1.0 - alpha)


def torch_dropout_backward(dA, mask, alpha):
    """Backward of inverted dropout with the given mask, by autograd.

    dA: (m, n) upstream gradient; mask: (m, n) of 1/0 or booleans; alpha: drop rate -> dA_prev (m, n).
    """
    dA_t = _tensor(dA)
    _, (dA_prev,) = _gradients(lambda A: (dA_t * _apply_mask(A, mask, alpha)).sum(), np.zeros(np.shape(dA)))
    return dA_prev


def torch_model_gradients(X, Y, params, activations, lambd=0.0, masks=None, dropout=0.0):
    """The whole network's forward pass, cost and gradients, by torch autograd.

    X: (m, n0); Y: (m, nL); params {W{l}: (n_l, n_{l-1}), B{l}: (1, n_l)}; activations: L names,
    the last one paired with its loss (sigmoid + BCE, softmax + CE, identity + MSE); lambd: L2.
    masks / dropout: to replay inverted dropout, ``masks[l-1]`` is hidden layer l's mask
    (m, n_l) of 1/0 or None, as the fifth item of ``model_forward``'s caches, and ``dropout``
    is the rate; A[l] goes through inverted dropout with that mask.
    -> dict of float64 arrays: "AL" (m, nL), "cost" (float), and for l = 1..L:
    "Z{l}" (m, n_l), "dz{l}" = m * Z.grad (m, n_l), "dW{l}" = weight.grad, "dB{l}" = bias.grad (1, n_l).
    """
    torch = _torch()
    L = len(activations)
    weights = [_tensor(params[f"W{l}"], requires_grad=True) for l in range(1, L + 1)]
    biases = [_tensor(np.asarray(params[f"B{l}"]).reshape(-1), requires_grad=True) for l in range(1, L + 1)]
    A = _tensor(X)
    m = A.shape[0]
    Zs = []
    for l in range(1, L + 1):
        Z = torch.nn.functional.linear(A, weights[l - 1], biases[l - 1])
        Z.retain_grad()
        Zs.append(Z)
        A = _activation_fn(activations[l - 1])(Z)
        mask = masks[l - 1] if masks is not None and l < L else None
        if mask is not None:
            A = _apply_mask(A, mask, dropout)
    cost_name = loss_for_output(activations[-1])[0].__name__
    cost = _mean_loss_fn(cost_name)(A, _tensor(Y))
    if lambd:
        cost = cost + lambd / (2 * m) * sum((W ** 2).sum() for W in weights)
    cost.backward()
    result = {"AL": _numpy(A), "cost": float(cost.detach())}
    for l in range(1, L + 1):
        result[f"Z{l}"] = _numpy(Zs[l - 1])
        result[f"dz{l}"] = m * _numpy(Zs[l - 1].grad)
        result[f"dW{l}"] = _numpy(weights[l - 1].grad)
        result[f"dB{l}"] = _numpy(biases[l - 1].grad).reshape(1, -1)
    return result


def bnmlp_autograd(X, Y, params, eps=1e-5):
    """Lecture 09's network (``backproplab.bnmlp``) rebuilt op by op in torch, every intermediate kept.

    X: (m, n0); Y: (m, K) one-hot; params: dict keyed by bnmlp.PARAM_KEYS; eps: batch norm's epsilon
    -> (J, grads): J the mean cross-entropy (float); grads "d" + name for every name of
    bnmlp.INTERMEDIATES and PARAM_KEYS: each tensor's .grad after J.backward() (gradients of the mean J,
    with its 1/m, unlike the per-example convention above).
    """
    torch = _torch()
    leaves = {key: _tensor(value, requires_grad=True) for key, value in params.items()}
    Y_t = _tensor(Y)
    m = Y_t.shape[0]
    kept = {}

    def keep(name, tensor):
        tensor.retain_grad()
        kept[name] = tensor
        return tensor

    A = _tensor(X)
    for l in (1, 2):
        Z = keep(f"Z{l}", A @ leaves[f"W{l}"].T)
        mu = keep(f"mu{l}", Z.sum(0, keepdim=True) / m)
        D = keep(f"D{l}", Z - mu)
        var = keep(f"var{l}", (D ** 2).sum(0, keepdim=True) / m)
        S = keep(f"S{l}", (var + eps) ** -0.5)
        N = keep(f"N{l}", D * S)
        H = keep(f"H{l}", leaves[f"gamma{l}"] * N + leaves[f"beta{l}"])
        A = keep(f"A{l}", torch.tanh(H))
    Z3 = keep("Z3", A @ leaves["W3"].T + leaves["B3"])
    zmax = keep("zmax", Z3.max(1, keepdim=True).values)
    shifted = keep("shifted", Z3 - zmax)
    E = keep("E", shifted.exp())
    sumE = keep("sumE", E.sum(1, keepdim=True))
    logsum = keep("logsum", sumE.log())
    logP = keep("logP", shifted - logsum)
    J = -(Y_t * logP).sum() / m
    J.backward()
    grads = {"d" + name: _numpy(tensor.grad) for name, tensor in kept.items()}
    grads.update({"d" + key: _numpy(tensor.grad) for key, tensor in leaves.items()})
    return float(J.detach()), grads


def bnmlp_torch_training(X, Y, params, running, learning_rate, epochs, batch_size):
    """Lecture 09's network as PyTorch users build it, trained by torch.optim.SGD's update in float64.

    nn.Sequential(Linear(n0, n1, bias=False), BatchNorm1d(n1), Tanh(), Linear(n1, n2, bias=False),
    BatchNorm1d(n2), Tanh(), Linear(n2, K)) from the given params, nn.CrossEntropyLoss, minibatches of
    ``batch_size`` rows in order (the last one may be smaller; none may hold a single row), ``epochs``
    passes. X: (m, n0); Y: (m, K) one-hot; params: dict keyed by bnmlp.PARAM_KEYS; running: the
    BatchNorm1d layers' starting running statistics {"mean1", "var1", "mean2", "var2"}, (1, n_l) each
    -> (params, running, losses): the trained params (same keys and shapes), the BatchNorm1d layers'
    running statistics {"mean1", "var1", "mean2", "var2"} (1, n_l) each, and the loss of every step.
    """
    torch = _torch()
    nn = torch.nn
    (n1, n0), (n2, _), (K, _) = params["W1"].shape, params["W2"].shape, params["W3"].shape
    model = nn.Sequential(nn.Linear(n0, n1, bias=False), nn.BatchNorm1d(n1), nn.Tanh(),
                          nn.Linear(n1, n2, bias=False), nn.BatchNorm1d(n2), nn.Tanh(), nn.Linear(n2, K)).double()
    slots = {"W1": model[0].weight, "gamma1": model[1].weight, "beta1": model[1].bias, "W2": model[3].weight,
             "gamma2": model[4].weight, "beta2": model[4].bias, "W3": model[6].weight, "B3": model[6].bias}
    with torch.no_grad():
        for key, tensor in slots.items():
            tensor.copy_(torch.from_numpy(np.asarray(params[key], dtype=np.float64).reshape(tensor.shape)))
        for l, layer in ((1, model[1]), (2, model[4])):
            layer.running_mean.copy_(torch.from_numpy(np.asarray(running[f"mean{l}"], dtype=np.float64).reshape(-1)))
            layer.running_var.copy_(torch.from_numpy(np.asarray(running[f"var{l}"], dtype=np.float64).reshape(-1)))
    # torch.optim.SGD's step is its functional form, run here directly: constructing the class imports
    # torch._dynamo, a second of CPU in every process that checks this (a student's kernel among them)
    from torch.optim.sgd import sgd

    parameters = list(model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    X_t, labels = _tensor(X), torch.from_numpy(np.argmax(Y, axis=1))
    losses = []
    model.train()
    for _ in range(epochs):
        for start in range(0, X_t.shape[0], batch_size):
            for parameter in parameters:
                parameter.grad = None
            loss = loss_fn(model(X_t[start:start + batch_size]), labels[start:start + batch_size])
            loss.backward()
            with torch.no_grad():
                sgd(parameters, [parameter.grad for parameter in parameters], [None for _ in parameters],
                    weight_decay=0.0, momentum=0.0, lr=float(learning_rate), dampening=0.0, nesterov=False,
                    maximize=False, foreach=False)
            losses.append(float(loss.detach()))
    trained = {key: _numpy(tensor).reshape(np.shape(params[key])) for key, tensor in slots.items()}
    running = {"mean1": _numpy(model[1].running_mean).reshape(1, -1), "var1": _numpy(model[1].running_var).reshape(1, -1),
               "mean2": _numpy(model[4].running_mean).reshape(1, -1), "var2": _numpy(model[4].running_var).reshape(1, -1)}
    return trained, running, np.array(losses)
