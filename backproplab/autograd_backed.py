"""The student edition's library functions for the graded quantities, computed by PyTorch.

A class's students get these in place of the NumPy references (`bplab export-student-repo` puts each one where
the reference was defined): the notebooks' demonstrations run on them, and `??` or `help()` shows PyTorch's
own operations (autograd, `torch.nn.functional`, `torch.nn.init`, `torch.optim`), never the derivation a
lecture asks for. They take and return NumPy arrays with the references' shapes, keys and dtypes (float32 in
gives float32 out) and agree with them to rounding (the instructor's tests compare them).

torch is imported inside the functions, so importing the library still never loads it. Each function runs on one
intra-op thread (``_on_one_thread``).
"""
from __future__ import annotations

import functools
import sys

import numpy as np

__all__ = [
    "sigmoid", "sigmoid_derivative", "sigmoid_backward", "tanh", "tanh_derivative", "tanh_backward",
    "relu", "relu_derivative", "relu_backward", "leaky_relu", "leaky_relu_derivative", "leaky_relu_backward",
    "softmax", "softmax_backward",
    "dense_forward", "dense_weight_gradients", "dense_backward", "dropout_forward", "dropout_backward",
    "l2_penalty", "l2_backward", "binary_cross_entropy", "binary_cross_entropy_gradient",
    "categorical_cross_entropy", "categorical_cross_entropy_gradient",
    "count_parameters", "model_forward", "torch_model_gradients", "model_backward", "compute_cost", "update_parameters",
    "update_parameters_momentum", "train", "init_std", "initialize_parameters",
    "momentum_update", "momentum_update_ema", "rmsprop_update", "adam_update",
    "batchnorm_forward", "batchnorm_backward", "update_running_stats", "batchnorm_inference",
    "numerical_gradient", "gradient_check", "mul_backward", "matmul_backward", "exp_backward",
    "sigmoid_backward_rule", "batchnorm_eval", "bnmlp_autograd", "bnmlp_torch_training",
]


def _torch():
    import torch

    return torch


def _dtype_of(*arrays):
    """The float dtype the result keeps: NumPy's promotion of the inputs' float dtypes (float64 otherwise)."""
    kinds = [np.asarray(a).dtype for a in arrays]
    floats = [d for d in kinds if d.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float64)


def _leaf(array, grad=False):
    # a float64 copy that torch then shares: a sixth of torch.tensor's time, and lecture 08 makes 300,000 of them
    return _torch().from_numpy(np.array(array, dtype=np.float64)).requires_grad_(grad)


def _out(tensor, dtype):
    return tensor.detach().numpy().astype(dtype, copy=True)


def _vjp(fn, upstream, *inputs):
    """Backpropagate ``upstream`` through ``fn`` at ``inputs`` (torch autograd): the inputs' gradients."""
    torch = _torch()
    leaves = [_leaf(x, grad=True) for x in inputs]
    output = fn(*leaves)
    grads = torch.autograd.grad(output, leaves, grad_outputs=_leaf(upstream).reshape(output.shape), allow_unused=True)
    return [torch.zeros_like(leaf) if g is None else g for leaf, g in zip(leaves, grads)]


# -- activations ---------------------------------------------------------------------------

def _activation(name, **options):
    torch = _torch()
    F = torch.nn.functional
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "leaky_relu": lambda Z: F.leaky_relu(Z, negative_slope=options.get("alpha", 0.01)),
            "softmax": lambda Z: torch.softmax(Z, dim=-1)}[name]


def _forward(name, Z, **options):
    return _out(_activation(name, **options)(_leaf(Z)), _dtype_of(Z))


def _backward(name, dA, Z, **options):
    (dz,) = _vjp(_activation(name, **options), dA, Z)
    return _out(dz, _dtype_of(dA, Z))


def _derivative(name, Z, **options):
    return _backward(name, np.ones_like(np.asarray(Z, dtype=_dtype_of(Z))), Z, **options)


def sigmoid(Z):
    """The logistic function, elementwise, by ``torch.sigmoid``. Z: (m, n) -> A: (m, n)."""
    return _forward("sigmoid", Z)


def sigmoid_derivative(Z):
    """The sigmoid's slope at each entry of Z, by autograd. Z: (m, n) -> (m, n)."""
    return _derivative("sigmoid", Z)


def sigmoid_backward(dA, Z):
    """dz for a sigmoid layer: dA backpropagated through ``torch.sigmoid`` at Z. dA, Z: (m, n) -> dz: (m, n)."""
    return _backward("sigmoid", dA, Z)


def tanh(Z):
    """The hyperbolic tangent, elementwise, by ``torch.tanh``. Z: (m, n) -> A: (m, n)."""
    return _forward("tanh", Z)


def tanh_derivative(Z):
    """The tanh's slope at each entry of Z, by autograd. Z: (m, n) -> (m, n)."""
    return _derivative("tanh", Z)


def tanh_backward(dA, Z):
    """dz for a tanh layer: dA backpropagated through ``torch.tanh`` at Z. dA, Z: (m, n) -> dz: (m, n)."""
    return _backward("tanh", dA, Z)


def relu(Z):
    """The rectifier, elementwise, by ``torch.relu``. Z: (m, n) -> A: (m, n)."""
    return _forward("relu", Z)


def relu_derivative(Z):
    """The rectifier's slope at each entry of Z, by autograd (0 at the kink, as PyTorch). Z: (m, n) -> (m, n)."""
    return _derivative("relu", Z)


def relu_backward(dA, Z):
    """dz for a ReLU layer: dA backpropagated through ``torch.relu`` at Z. dA, Z: (m, n) -> dz: (m, n)."""
    return _backward("relu", dA, Z)


def leaky_relu(Z, alpha=0.01):
    """The leaky rectifier with negative slope alpha, by ``torch.nn.functional.leaky_relu``. Z: (m, n) -> (m, n)."""
    return _forward("leaky_relu", Z, alpha=alpha)


def leaky_relu_derivative(Z, alpha=0.01):
    """The leaky rectifier's slope at each entry of Z, by autograd. Z: (m, n) -> (m, n)."""
    return _derivative("leaky_relu", Z, alpha=alpha)


def leaky_relu_backward(dA, Z, alpha=0.01):
    """dz for a leaky ReLU layer, by autograd through ``leaky_relu``. dA, Z: (m, n) -> dz: (m, n)."""
    return _backward("leaky_relu", dA, Z, alpha=alpha)


def softmax(Z):
    """Row-wise softmax by ``torch.softmax``: each row becomes probabilities. Z: (m, n) -> A: (m, n)."""
    return _forward("softmax", Z)


def softmax_backward(dA, Z):
    """dz for a softmax layer: dA backpropagated through ``torch.softmax`` at Z. dA, Z: (m, n) -> dz: (m, n)."""
    return _backward("softmax", dA, Z)


# -- layers --------------------------------------------------------------------------------

def dense_forward(A_prev, W, B):
    """A dense layer's pre-activation, by ``torch.nn.functional.linear``.

    A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}); B: (1, n_l) -> Z: (m, n_l)."""
    torch = _torch()
    Z = torch.nn.functional.linear(_leaf(A_prev), _leaf(W), _leaf(B).reshape(-1))
    return _out(Z, _dtype_of(A_prev, W, B))


def _dense_gradients(dz, A_prev, W):
    """Autograd through ``torch.nn.functional.linear`` of the surrogate cost sum(dz * Z) / m: backpropagating its
    gradient with respect to Z, dz / m. -> (m, [the gradients of A_prev, W and a zero bias])."""
    torch = _torch()
    m = np.shape(A_prev)[0]
    leaves = [_leaf(A_prev, True), _leaf(W, True), _leaf(np.zeros(np.shape(W)[0]), True)]
    Z = torch.nn.functional.linear(*leaves)
    return m, torch.autograd.grad(Z, leaves, grad_outputs=_leaf(dz) * (1 / m))


def dense_weight_gradients(dz, A_prev):
    """dW and dB of a dense layer from its dz, by autograd. dz: (m, n_l); A_prev: (m, n_{l-1}) ->
    (dW (n_l, n_{l-1}), dB (1, n_l))."""
    _, (_, dW, dB) = _dense_gradients(dz, A_prev, np.zeros((np.shape(dz)[1], np.shape(A_prev)[1])))
    dtype = _dtype_of(dz, A_prev)
    return _out(dW, dtype), _out(dB, dtype).reshape(1, -1)


def dense_backward(dz, A_prev, W):
    """A dense layer's backward pass, by autograd through ``torch.nn.functional.linear``.

    dz: (m, n_l), per example; A_prev: (m, n_{l-1}); W: (n_l, n_{l-1}) ->
    (dA_prev (m, n_{l-1}) per example, dW (n_l, n_{l-1}), dB (1, n_l))."""
    m, (dA_prev, dW, dB) = _dense_gradients(dz, A_prev, W)
    dtype = _dtype_of(dz, A_prev, W)
    return _out(dA_prev * m, dtype), _out(dW, dtype), _out(dB, dtype).reshape(1, -1)


@functools.lru_cache(maxsize=None)
def _scale(alpha):
    """The factor ``torch.nn.functional.dropout`` gives the kept units at drop rate alpha (read off a dropout of ones,
    once per rate, the global generator left as it was)."""
    torch = _torch()
    if float(alpha) == 0.0:
        return 1.0
    with torch.random.fork_rng(devices=[]):
        return float(torch.nn.functional.dropout(torch.ones(4096, dtype=torch.float64), p=float(alpha)).max())


def dropout_forward(A, alpha, rng):
    """Inverted dropout in training, by PyTorch's ``native_dropout`` (its draw seeded from ``rng``).

    A: (m, n); alpha: drop rate in [0, 1); rng: numpy.random.Generator ->
    (A_out (m, n), mask (m, n) of 1.0 kept / 0.0 dropped, A's dtype)."""
    torch = _torch()
    if not 0.0 <= float(alpha) < 1.0:
        raise ValueError(f"the dropout rate alpha must be in [0, 1); got {alpha}")
    dtype = _dtype_of(A)
    with torch.random.fork_rng(devices=[]):
        # the CPU generator only: torch.manual_seed also queues a seeding of every accelerator, a stack trace each
        torch.default_generator.manual_seed(int(rng.integers(0, 2**62)))
        dropped, kept = torch.ops.aten.native_dropout(_leaf(A), float(alpha), True)
    return _out(dropped, dtype), _out(kept, dtype)


def dropout_backward(dA, mask, alpha):
    """Backward of inverted dropout with the given mask, by PyTorch's ``native_dropout_backward``.

    dA: (m, n); mask: (m, n) of 1/0 or booleans; alpha: drop rate -> dA_prev: (m, n)."""
    torch = _torch()
    kept = torch.tensor(np.asarray(mask) != 0)
    dA_prev = torch.ops.aten.native_dropout_backward(_leaf(dA), kept, _scale(alpha))
    return _out(dA_prev, _dtype_of(dA))


def l2_penalty(params, lambd, m):
    """The L2 penalty of the weights W1, W2, ... (never the biases), by ``torch.linalg.vector_norm``.

    params: {W{l}: (n_l, n_{l-1}), B{l}: (1, n_l)}; lambd: float; m: batch size -> float."""
    torch = _torch()
    weights = [_leaf(value) for key, value in params.items() if key.startswith("W")]
    return float(_l2_cost(torch, weights, lambd, m)) if weights else 0.0


def _l2_cost(torch, weights, lambd, m):
    return sum(torch.linalg.vector_norm(W) ** 2 for W in weights) * (lambd / (2 * m))


def l2_backward(W, lambd, m):
    """The gradient of ``l2_penalty`` with respect to one weight matrix, by autograd.
    W: (n_l, n_{l-1}); lambd: float; m: batch size -> (n_l, n_{l-1})."""
    torch = _torch()
    (dW,) = _vjp(lambda V: _l2_cost(torch, [V], lambd, m), 1.0, W)
    return _out(dW, _dtype_of(W))


# -- losses --------------------------------------------------------------------------------

def _loss(name, AL, Y):
    from .torch_reference import torch_loss

    return torch_loss(name, AL, Y)


def _loss_gradient(name, AL, Y):
    from .torch_reference import torch_loss_gradient

    return torch_loss_gradient(name, AL, Y).astype(_dtype_of(AL), copy=False)


def binary_cross_entropy(AL, Y):
    """Binary cross-entropy cost, mean over the batch, by ``torch.nn.functional.binary_cross_entropy``.
    AL, Y: (m, nL) -> float."""
    return _loss("binary_cross_entropy", AL, Y)


def binary_cross_entropy_gradient(AL, Y):
    """Its per-example gradient with respect to AL, by autograd. AL, Y: (m, nL) -> (m, nL)."""
    return _loss_gradient("binary_cross_entropy", AL, Y)


def categorical_cross_entropy(AL, Y):
    """Categorical cross-entropy cost, mean over the batch, by torch. AL, Y: (m, K) -> float."""
    return _loss("categorical_cross_entropy", AL, Y)


def categorical_cross_entropy_gradient(AL, Y):
    """Its per-example gradient with respect to AL, by autograd. AL, Y: (m, K) -> (m, K)."""
    return _loss_gradient("categorical_cross_entropy", AL, Y)


# -- the network ---------------------------------------------------------------------------

def count_parameters(layer_sizes) -> int:
    """Weights and biases of a dense network, counted by ``torch.nn.Linear``. layer_sizes: [n0, ..., nL] -> int."""
    torch = _torch()
    layers = [torch.nn.Linear(int(a), int(b), device="meta") for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    return sum(p.numel() for layer in layers for p in layer.parameters())


class _Recorder:
    """Forward hooks on a network's ``torch.nn.Linear`` layers: each layer's input and output, in order."""

    def __init__(self):
        self.seen = []

    def __call__(self, layer, inputs, output):
        self.seen.append((inputs[0], output))


_MODULES = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU", "leaky_relu": "LeakyReLU", "elu": "ELU",
            "identity": "Identity", "softmax": "Softmax"}


def _activation_module(torch, name):
    if name not in _MODULES:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(_MODULES)}")
    return torch.nn.Softmax(dim=-1) if name == "softmax" else getattr(torch.nn, _MODULES[name])()


class _NumpyDropout:
    """A module-like step that applies this module's ``dropout_forward`` (masks drawn from a NumPy generator)."""

    def __init__(self, rate, rng):
        self.rate, self.rng, self.masks = rate, rng, []

    def __call__(self, A):
        dropped, mask = dropout_forward(A.detach().numpy(), self.rate, self.rng)
        self.masks.append(mask)
        return _leaf(dropped)


@functools.lru_cache(maxsize=32)
def _network(shapes, activations, dropout):
    """A ``torch.nn.Sequential`` of ``nn.Linear`` layers of ``shapes`` ((n_l, n_{l-1}) per layer) and ``torch.nn``'s
    activation modules, with a dropout step after each hidden layer when ``dropout``; forward hooks record each
    layer's input and output. Built once per architecture; the weights come with each call. -> (network, recorder,
    the dropout steps)."""
    torch = _torch()
    recorder, modules, steps = _Recorder(), [], []
    for layer, ((n_out, n_in), name) in enumerate(zip(shapes, activations), start=1):
        linear = torch.nn.utils.skip_init(torch.nn.Linear, n_in, n_out, dtype=torch.float64)
        linear.register_forward_hook(recorder)
        modules += [linear, _activation_module(torch, name)]
        if dropout and layer < len(shapes):
            steps.append(_NumpyDropout(dropout, None))
            modules.append(_module_of(steps[-1]))
    return torch.nn.Sequential(*modules), recorder, steps


def model_forward(X, params, activations, dropout=0.0, rng=None):
    """The network's forward pass by a ``torch.nn.Sequential`` of ``nn.Linear`` layers and ``torch.nn``'s activation
    modules, its weights loaded from params; forward hooks record the caches.

    X: (m, n0); params: W{l} (n_l, n_{l-1}), B{l} (1, n_l); activations: L names ->
    (AL (m, nL), caches: L tuples (A_prev, W, B, Z), with a fifth item, the mask, when dropout > 0)."""
    from .model import network_dtype, num_layers

    torch = _torch()
    L = num_layers(params)
    if len(activations) != L:
        raise ValueError(f"params have {L} layers but {len(activations)} activations were given")
    if dropout > 0 and rng is None:
        rng = np.random.default_rng()
    dtype = network_dtype(params)
    shapes = tuple(np.shape(params[f"W{layer}"]) for layer in range(1, L + 1))
    network, recorder, steps = _network(shapes, tuple(activations), float(dropout))
    recorder.seen.clear()
    for step in steps:
        step.rng, step.masks = rng, []
    linears = [module for module in network if isinstance(module, torch.nn.Linear)]
    with torch.no_grad():
        for layer, linear in enumerate(linears, start=1):
            linear.weight.copy_(_leaf(np.asarray(params[f"W{layer}"], dtype=dtype)))
            linear.bias.copy_(_leaf(np.asarray(params[f"B{layer}"], dtype=dtype)).reshape(-1))
        AL = network(_leaf(np.asarray(X, dtype=dtype)))
    masks = [step.masks[0] for step in steps] + [None]
    caches = []
    for layer, (inputs, Z) in enumerate(recorder.seen, start=1):
        record = (_out(inputs, dtype), params[f"W{layer}"], params[f"B{layer}"], _out(Z, dtype))
        if dropout > 0:
            record += (masks[layer - 1],)
        caches.append(record)
    return _out(AL, dtype), caches


def _module_of(step):
    """``step`` (a tensor -> tensor callable) as a ``torch.nn.Module``, for ``torch.nn.Sequential``."""
    torch = _torch()

    class Step(torch.nn.Module):
        def forward(self, A):
            return step(A)

    return Step()


def _dropout_factor(mask, alpha):
    """What inverted dropout multiplies each unit by, for a given mask: PyTorch's ``native_dropout_backward`` of ones."""
    torch = _torch()
    kept = torch.tensor(np.asarray(mask) != 0)
    return torch.ops.aten.native_dropout_backward(torch.ones(kept.shape, dtype=torch.float64), kept, _scale(alpha))


# The loss paired with each output activation, as PyTorch computes it from the pre-activation Z[L] (one fused,
# stable operation: its gradient stays exact where the output saturates), summed over the batch.
_FUSED_LOSSES = {
    "sigmoid": lambda F, Z, Y: F.binary_cross_entropy_with_logits(Z, Y, reduction="sum"),
    "softmax": lambda F, Z, Y: F.cross_entropy(Z, Y, reduction="sum"),
    "identity": lambda F, Z, Y: F.mse_loss(Z, Y, reduction="sum") / 2,
}


def torch_model_gradients(X, Y, params, activations, lambd=0.0, masks=None, dropout=0.0):
    """The whole network's output, cost and gradients by ``torch.autograd.grad``, with respect to the weights, the
    biases and each layer's pre-activation (per example: scaled by the batch size).

    X: (m, n0); Y: (m, nL); params {W{l}: (n_l, n_{l-1}), B{l}: (1, n_l)}; activations: L names, the last one paired
    with its loss; lambd: the L2 strength; masks (hidden layers' dropout masks, as model_forward's caches hold them)
    and dropout (the rate) replay inverted dropout ->
    {"AL" (m, nL), "cost" (float), and for l = 1..L: "Z{l}", "dz{l}" (m, n_l), "dW{l}", "dB{l}" (1, n_l)}."""
    L = len(activations)
    weights = [_leaf(params[f"W{layer}"], True) for layer in range(1, L + 1)]
    biases = [_leaf(params[f"B{layer}"], True) for layer in range(1, L + 1)]
    factors = None if masks is None else [None if mask is None else _dropout_factor(mask, dropout) for mask in masks]
    AL, cost, pre_activations, (dZ, dW, dB) = _network_gradients(_leaf(X), _leaf(Y), weights, biases, activations,
                                                                  lambd, factors)
    size = AL.shape[0]
    result = {"AL": _out(AL, np.float64), "cost": float(cost.detach())}
    for layer in range(1, L + 1):
        result[f"Z{layer}"] = _out(pre_activations[layer - 1], np.float64)
        result[f"dz{layer}"] = _out(dZ[layer - 1] * size, np.float64)
        result[f"dW{layer}"] = _out(dW[layer - 1], np.float64)
        result[f"dB{layer}"] = _out(dB[layer - 1], np.float64).reshape(1, -1)
    return result


def _network_output(X, weights, biases, activations, factors=None):
    """The network's forward pass on tensors. X: (m, n0); weights: L tensors (n_l, n_{l-1}); biases: L tensors
    (1, n_l); factors: None, or per layer what inverted dropout multiplies its output by (None for none) ->
    (AL (m, nL), the L pre-activations Z[l] (m, n_l))."""
    from .torch_reference import _activation_fn

    torch = _torch()
    outputs, pre_activations = X, []
    for layer, name in enumerate(activations):
        pre_activations.append(torch.nn.functional.linear(outputs, weights[layer], biases[layer].reshape(-1)))
        outputs = _activation_fn(name)(pre_activations[-1])
        if factors is not None and layer < len(activations) - 1 and factors[layer] is not None:
            outputs = outputs * factors[layer]
    return outputs, pre_activations


def _network_gradients(X, Y, weights, biases, activations, lambd=0.0, factors=None):
    """``_network_output`` and ``torch.autograd.grad`` of the network's cost. Y: (m, nL); weights and biases
    require grad; the rest as ``_network_output`` ->
    (AL (m, nL), cost (0-d), the L pre-activations Z[l] (m, n_l), (their gradients, the weights', the biases'))."""
    from .losses import loss_for_output

    torch = _torch()
    L = len(activations)
    outputs, pre_activations = _network_output(X, weights, biases, activations, factors)
    loss_for_output(activations[-1])  # the output's loss exists
    cost = _FUSED_LOSSES[activations[-1]](torch.nn.functional, pre_activations[-1], Y) / outputs.shape[0]
    if lambd:
        cost = cost + _l2_cost(torch, weights, lambd, outputs.shape[0])
    found = torch.autograd.grad(cost, pre_activations + weights + biases)
    return outputs, cost, pre_activations, (found[:L], found[L:2 * L], found[2 * L:])


def model_backward(AL, Y, caches, activations, lambd=0.0, dropout=0.0):
    """The whole network's gradients by PyTorch autograd (``torch_model_gradients``) on the network the caches
    describe.

    AL, Y: (m, nL); caches from ``model_forward``; activations: L names ->
    {dz{l} (m, n_l) per example, dW{l} (n_l, n_{l-1}), dB{l} (1, n_l)} in AL's dtype."""
    from .losses import loss_for_output

    loss_for_output(activations[-1])
    dtype = _dtype_of(AL)
    params = {}
    for layer, cache in enumerate(caches, start=1):
        params[f"W{layer}"], params[f"B{layer}"] = cache[1], cache[2]
    masks = [cache[4] if len(cache) > 4 else None for cache in caches] if dropout > 0 else None
    found = torch_model_gradients(caches[0][0], Y, params, activations, lambd=lambd, masks=masks, dropout=dropout)
    return {key: np.asarray(found[key], dtype=dtype) for layer in range(len(caches), 0, -1)
            for key in (f"dz{layer}", f"dW{layer}", f"dB{layer}")}


def compute_cost(AL, Y, activations, params=None, lambd=0.0):
    """The cost of the loss paired with the output activation (torch), plus ``l2_penalty`` if lambd > 0. -> float."""
    from .losses import loss_for_output

    cost, _ = loss_for_output(activations[-1])
    J = _loss(cost.__name__, AL, Y)
    if lambd:
        J += l2_penalty(params, lambd, np.shape(Y)[0])
    return J


def _optimizer_step(params, grads, update, states=()):
    """One step of a ``torch.optim`` update on copies of ``params``: ``update(tensors, gradients, *states)`` changes
    the tensors and the per-parameter states (lists of tensors, in params' order) in place. states: {grad key: array}
    dicts (velocity, cache, moments). Returns (new params, [{grad key: array} per state]) in the params' dtypes."""
    keys = list(params)
    tensors = [_leaf(params[key]) for key in keys]
    state_lists = [[_leaf(state["d" + key]) for key in keys] for state in states]
    update(tensors, [_leaf(grads["d" + key]) for key in keys], *state_lists)
    dtypes = [_dtype_of(params[key]) for key in keys]
    new_params = {key: _out(tensor, dtype) for key, tensor, dtype in zip(keys, tensors, dtypes)}
    return new_params, [{"d" + key: _out(tensor, dtype) for key, tensor, dtype in zip(keys, state, dtypes)}
                        for state in state_lists]


def _sgd(learning_rate, momentum=0.0, dampening=0.0):
    """``torch.optim.SGD``'s update (its functional form, which ``SGD.step`` runs; the class's construction and
    step hooks cost 50 times the arithmetic here): (tensors, gradients[, velocities]) -> None, in place."""
    from torch.optim.sgd import sgd

    def update(tensors, gradients, velocities=None):
        sgd(tensors, gradients, velocities or [None] * len(tensors), weight_decay=0.0, momentum=float(momentum),
            lr=float(learning_rate), dampening=float(dampening), nesterov=False, maximize=False, foreach=False)

    return update


def update_parameters(params, grads, learning_rate):
    """One gradient-descent step by ``torch.optim.SGD``. params {W1, B1, ...}; grads {dW1, dB1, ...} -> new params."""
    return _optimizer_step(params, grads, _sgd(learning_rate))[0]


def update_parameters_momentum(params, grads, velocity, learning_rate, beta=0.9):
    """SGD with momentum in its moving-average form: ``torch.optim.SGD(momentum=beta, dampening=beta)`` from the
    given velocity. -> (new params, new velocity)."""
    new_params, (new_velocity,) = _optimizer_step(params, grads, _sgd(learning_rate, beta, dampening=beta), [velocity])
    return new_params, new_velocity


def train(X, Y, params, activations, options=None, *, validation=None):
    """Minibatch training by ``torch.optim.SGD``'s update (momentum in the moving-average form, dampening=beta, from
    zero velocity), each step's gradients by autograd of the network's cost as ``model_backward``'s (through the
    dropout masks ``model_forward`` draws, when options.dropout > 0). Returns (params, history).

    X: (m, n0); Y: (m, nL); params: initial W{l}, B{l} (not modified); activations: L names; options: a
    ``model.TrainOptions`` (None: its defaults; no progress bar here); validation: None or (X_val: (m_val, n0),
    Y_val: (m_val, nL)). history: lists "epoch", "train_cost", "train_acc" (and "val_cost", "val_acc"), every
    ``options.record_every`` epochs; accuracies are None for identity outputs."""
    from .model import TrainOptions, accuracy, network_dtype

    options = options or TrainOptions()
    learning_rate, epochs, batch_size, momentum = options.learning_rate, options.epochs, options.batch_size, options.momentum
    lambd, dropout, record_every = options.lambd, options.dropout, options.record_every
    X_val, Y_val = validation if validation is not None else (None, None)
    torch = _torch()
    shuffle = np.random.default_rng(options.seed)
    dtype = network_dtype(params)
    X, Y = np.asarray(X, dtype=dtype), np.asarray(Y, dtype=dtype)
    examples, targets = _leaf(X), _leaf(Y)
    # the parameters stay float64 tensors from step to step; the gradients are taken at, and rounded to, the
    # network's dtype
    leaves = {key: _leaf(np.asarray(value, dtype=dtype)) for key, value in params.items()}
    velocities = [torch.zeros_like(leaf) for leaf in leaves.values()] if momentum else None
    step_with = _sgd(learning_rate, momentum, dampening=momentum)
    precision = getattr(torch, dtype.name)
    layers = range(1, len(activations) + 1)
    weight_keys, bias_keys = [f"W{layer}" for layer in layers], [f"B{layer}" for layer in layers]

    def current():
        return {key: _out(leaf, dtype) for key, leaf in leaves.items()}

    def held(grad=False):
        """The parameters as the network holds them (rounded to its dtype), in float64: (weights, biases)."""
        copies = {key: leaf.to(precision).double().detach().requires_grad_(grad) for key, leaf in leaves.items()}
        return [copies[key] for key in weight_keys], [copies[key] for key in bias_keys]

    def gradients(batch):
        """model_backward's gradients on the batch (rows of X), rounded to the network's dtype, as float64."""
        factors = None
        if dropout > 0:  # the hidden layers' masks, drawn as model_forward draws them
            factors = [_dropout_factor(dropout_forward(np.ones((len(batch), np.shape(params[key])[0])), dropout,
                                                       shuffle)[1], dropout) for key in weight_keys[:-1]] + [None]
        rows = torch.from_numpy(batch)
        _, _, _, (_, dW, dB) = _network_gradients(examples[rows], targets[rows], *held(grad=True), activations, lambd,
                                                  factors)
        found = dict(zip(weight_keys + bias_keys, dW + dB))
        return [found[key].to(precision).double() for key in leaves]

    def output(Xs):
        """model_forward's AL, without its caches."""
        with torch.no_grad():
            AL, _ = _network_output(_leaf(np.asarray(Xs, dtype=dtype)), *held(), activations)
        return _out(AL, dtype)

    history = {"epoch": [], "train_cost": [], "train_acc": []}
    if X_val is not None:
        history.update(val_cost=[], val_acc=[])
    size = X.shape[0]
    for epoch in range(1, epochs + 1):
        order = shuffle.permutation(size)
        step = batch_size or size
        for batch in (order[start:start + step] for start in range(0, size, step)):
            step_with(list(leaves.values()), gradients(batch), velocities)
        if epoch % record_every == 0 or epoch == epochs:
            history["epoch"].append(epoch)
            trained = current()
            for split, (Xs, Ys) in (("train", (X, Y)), ("val", (X_val, Y_val))):
                if Xs is not None:
                    history[f"{split}_cost"].append(compute_cost(output(Xs), Ys, activations, trained, lambd))
                    history[f"{split}_acc"].append(accuracy(Xs, Ys, trained, activations)
                                                   if activations[-1] != "identity" else None)
    return current(), history


# -- initialization ------------------------------------------------------------------------

_TORCH_INIT = {"xavier": "xavier_normal_", "he": "kaiming_normal_"}
_FIXED_STD = {"zeros": 0.0, "random": 0.01}


def _torch_init(method, fan_in, fan_out, seed):
    """A (fan_out, fan_in) float64 tensor drawn by ``torch.nn.init``'s normal variant for ``method``."""
    torch = _torch()
    weights = torch.empty((fan_out, fan_in), dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    options = {"nonlinearity": "relu"} if method == "he" else {}
    return getattr(torch.nn.init, _TORCH_INIT[method])(weights, generator=generator, **options)


def init_std(method: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation of W[l]'s entries for a layer with n_{l-1} = fan_in and n_l = fan_out: for xavier and
    he, the one ``torch.nn.init`` draws with (measured as its draw over a standard normal draw of the same seed).

    method: "zeros" | "random" | "xavier" | "he"; fan_in, fan_out: ints >= 1 -> float >= 0."""
    torch = _torch()
    if method in _FIXED_STD:
        return _FIXED_STD[method]
    if method not in _TORCH_INIT:
        raise ValueError(f"unknown initialization {method!r}; choose one of {['zeros', 'random', 'xavier', 'he']}")
    drawn = _torch_init(method, int(fan_in), int(fan_out), seed=1)
    standard = torch.empty_like(drawn).normal_(generator=torch.Generator().manual_seed(1))
    return float(drawn.flatten()[0] / standard.flatten()[0])


def initialize_parameters(layer_sizes, method, seed=None, dtype=np.float64):
    """Weights drawn by ``torch.nn.init`` (normal variants; "random" is N(0, 1) x 0.01), biases zeros.

    layer_sizes: [n0, ..., nL]; method: "zeros" | "random" | "xavier" | "he"; seed: int or None; dtype: a float
    dtype -> params with W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l), all of ``dtype``."""
    torch = _torch()
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a float dtype such as np.float32 or np.float64; got {dtype}")
    if method not in _TORCH_INIT and method not in _FIXED_STD:
        raise ValueError(f"unknown initialization {method!r}; choose one of {['zeros', 'random', 'xavier', 'he']}")
    seeds = np.random.default_rng(seed).integers(0, 2**62, len(layer_sizes))
    params = {}
    for layer in range(1, len(layer_sizes)):
        fan_in, fan_out = int(layer_sizes[layer - 1]), int(layer_sizes[layer])
        if method in _TORCH_INIT:
            W = _torch_init(method, fan_in, fan_out, int(seeds[layer]))
        else:
            W = torch.empty((fan_out, fan_in), dtype=torch.float64)
            torch.nn.init.normal_(W, std=_FIXED_STD[method], generator=torch.Generator().manual_seed(int(seeds[layer])))
        params[f"W{layer}"] = _out(W, dtype)
        params[f"B{layer}"] = np.zeros((1, fan_out), dtype=dtype)
    return params


# -- optimizers ----------------------------------------------------------------------------

def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
    """One step of ``torch.optim.SGD(momentum=beta)`` from the given velocity. params {W1, ...}; grads and velocity
    {dW1, ...}; learning_rate, beta: floats -> (new params, new velocity)."""
    new_params, (new_velocity,) = _optimizer_step(params, grads, _sgd(learning_rate, beta), [velocity])
    return new_params, new_velocity


def momentum_update_ema(params, grads, velocity, learning_rate, beta=0.9):
    """Momentum in its moving-average form (``torch.optim.SGD`` with dampening=beta); as momentum_update."""
    return update_parameters_momentum(params, grads, velocity, learning_rate, beta)


def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
    """One step of ``torch.optim.RMSprop(alpha=beta, eps=eps)`` (its functional form) from the given cache ->
    (new params, new cache)."""
    torch = _torch()
    from torch.optim.rmsprop import rmsprop

    def update(tensors, gradients, square_avgs):
        steps = [torch.tensor(0.0) for _ in tensors]
        rmsprop(tensors, gradients, square_avgs, [], [], steps, foreach=False, lr=float(learning_rate),
                alpha=float(beta), eps=float(eps), weight_decay=0.0, momentum=0.0, centered=False)

    new_params, (new_cache,) = _optimizer_step(params, grads, update, [cache])
    return new_params, new_cache


def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    """Step t (from 1) of ``torch.optim.Adam(betas=(beta1, beta2), eps=eps)`` (its functional form) from the given
    moments -> (new params, new m, new v)."""
    torch = _torch()
    from torch.optim.adam import adam

    def update(tensors, gradients, exp_avgs, exp_avg_sqs):
        steps = [torch.tensor(float(t) - 1.0) for _ in tensors]
        adam(tensors, gradients, exp_avgs, exp_avg_sqs, [], steps, foreach=False, amsgrad=False, beta1=float(beta1),
             beta2=float(beta2), lr=float(learning_rate), weight_decay=0.0, eps=float(eps), maximize=False)

    new_params, (new_m, new_v) = _optimizer_step(params, grads, update, [m, v])
    return new_params, new_m, new_v


# -- batch normalization -------------------------------------------------------------------

def _batch_norm(X, gamma, beta, eps):
    torch = _torch()
    return torch.nn.functional.batch_norm(X, None, None, gamma.reshape(-1), beta.reshape(-1), training=True, eps=eps)


def batchnorm_forward(X, gamma, beta, eps=1e-5):
    """Training-mode batch norm by ``torch.nn.functional.batch_norm``. X (m, n); gamma, beta (1, n) ->
    (out (m, n), cache (X, X_hat, mu, var, gamma, beta, eps)) with the batch statistics of ``torch.var_mean``."""
    torch = _torch()
    dtype = _dtype_of(X)
    X_t = _leaf(X)
    var, mu = torch.var_mean(X_t, dim=0, keepdim=True, correction=0)
    ones, zeros = torch.ones(X_t.shape[1], dtype=X_t.dtype), torch.zeros(X_t.shape[1], dtype=X_t.dtype)
    X_hat = _batch_norm(X_t, ones, zeros, float(eps))
    out = _batch_norm(X_t, _leaf(gamma), _leaf(beta), float(eps))
    return _out(out, dtype), (np.asarray(X), _out(X_hat, dtype), _out(mu, dtype), _out(var, dtype), gamma, beta, eps)


def batchnorm_backward(dout, cache):
    """Batch norm's backward pass, by autograd through ``torch.nn.functional.batch_norm``: the gradients of the
    surrogate cost sum(dout * out) / m. dout (m, n), cache from batchnorm_forward -> (dX (m, n) per example,
    dgamma (1, n), dbeta (1, n))."""
    X, _, _, _, gamma, beta, eps = cache
    m = np.shape(X)[0]
    dX, dgamma, dbeta = _vjp(lambda X, g, b: _batch_norm(X, g, b, float(eps)), np.asarray(dout) / m, X, gamma, beta)
    dtype = _dtype_of(dout, X)
    return _out(dX * m, dtype), _out(dgamma, dtype).reshape(1, -1), _out(dbeta, dtype).reshape(1, -1)


def update_running_stats(running_mean, running_var, X, momentum=0.1):
    """``torch.nn.BatchNorm1d``'s running averages after one training batch X (m, n), m >= 2, by
    ``torch.nn.functional.batch_norm``. running_mean, running_var: (1, n); momentum: float -> (new mean, new var)."""
    torch = _torch()
    dtype = _dtype_of(running_mean, X)
    mean, var = _leaf(running_mean).reshape(-1), _leaf(running_var).reshape(-1)
    torch.nn.functional.batch_norm(_leaf(X), mean, var, training=True, momentum=float(momentum))
    return _out(mean, dtype).reshape(1, -1), _out(var, dtype).reshape(1, -1)


def batchnorm_inference(X, gamma, beta, running_mean, running_var, eps=1e-5):
    """Batch norm in evaluation mode with the running averages, by ``torch.nn.functional.batch_norm``.
    X (m, n); gamma, beta, running_mean, running_var (1, n) -> out (m, n)."""
    torch = _torch()
    out = torch.nn.functional.batch_norm(_leaf(X), _leaf(running_mean).reshape(-1), _leaf(running_var).reshape(-1),
                                         _leaf(gamma).reshape(-1), _leaf(beta).reshape(-1), training=False,
                                         eps=float(eps))
    return _out(out, _dtype_of(X))


def batchnorm_eval(batches, X, gamma, beta, momentum=0.1, eps=1e-5):
    """A fresh ``torch.nn.BatchNorm1d(n, eps, momentum)`` run on ``batches`` in train mode, then on X in eval mode.
    batches: list of (m_k, n), m_k >= 2; X (p, n); gamma, beta (1, n) -> (running_mean (1, n), running_var (1, n),
    out (p, n))."""
    torch = _torch()
    dtype = _dtype_of(X)
    layer = torch.nn.BatchNorm1d(np.shape(X)[1], eps=float(eps), momentum=float(momentum)).double().train()
    with torch.no_grad():
        layer.weight.copy_(_leaf(gamma).reshape(-1))
        layer.bias.copy_(_leaf(beta).reshape(-1))
        for batch in batches:
            layer(_leaf(batch))
        out = layer.eval()(_leaf(X))
    return _out(layer.running_mean, dtype).reshape(1, -1), _out(layer.running_var, dtype).reshape(1, -1), _out(out, dtype)


# -- lecture 09's network (backproplab.bnmlp) ---------------------------------------------------

def bnmlp_autograd(X, Y, params, eps=1e-5):
    """``bnmlp.forward_pass`` rebuilt from PyTorch's operations, every intermediate kept, then ``J.backward()``.
    X (m, n0); Y (m, K) one-hot; params keyed by bnmlp.PARAM_KEYS -> (J float, grads: "d" + name (the .grad,
    of that array's shape) for every name of bnmlp.INTERMEDIATES and PARAM_KEYS)."""
    torch = _torch()
    F = torch.nn.functional
    leaves = {key: _leaf(value, grad=True) for key, value in params.items()}
    kept = {}

    def keep(name, tensor):
        tensor.retain_grad()
        kept[name] = tensor
        return tensor

    A = _leaf(X)
    for l in (1, 2):
        Z = keep(f"Z{l}", F.linear(A, leaves[f"W{l}"]))
        mu = keep(f"mu{l}", Z.mean(0, keepdim=True))
        D = keep(f"D{l}", torch.sub(Z, mu))
        var = keep(f"var{l}", D.square().mean(0, keepdim=True))
        S = keep(f"S{l}", torch.rsqrt(torch.add(var, float(eps))))
        N = keep(f"N{l}", torch.mul(D, S))
        H = keep(f"H{l}", torch.addcmul(leaves[f"beta{l}"], leaves[f"gamma{l}"], N))
        A = keep(f"A{l}", torch.tanh(H))
    Z3 = keep("Z3", F.linear(A, leaves["W3"], leaves["B3"].reshape(-1)))
    zmax = keep("zmax", Z3.max(1, keepdim=True).values)
    shifted = keep("shifted", torch.sub(Z3, zmax))
    E = keep("E", shifted.exp())
    sumE = keep("sumE", E.sum(1, keepdim=True))
    logsum = keep("logsum", sumE.log())
    logP = keep("logP", torch.sub(shifted, logsum))
    J = F.nll_loss(logP, torch.from_numpy(np.argmax(np.asarray(Y), axis=1)))
    J.backward()
    grads = {"d" + name: _out(tensor.grad, np.float64) for name, tensor in kept.items()}
    grads.update({"d" + key: _out(leaf.grad, np.float64) for key, leaf in leaves.items()})
    return float(J.detach()), grads


def bnmlp_torch_training(X, Y, params, running, learning_rate, epochs, batch_size):
    """bnmlp's network as ``nn.Sequential(Linear(bias=False), BatchNorm1d, Tanh, Linear(bias=False), BatchNorm1d,
    Tanh, Linear)`` in float64, trained by ``torch.optim.SGD`` on ``nn.CrossEntropyLoss``: minibatches of
    ``batch_size`` rows in order (the last may be smaller, none a single row), ``epochs`` passes.
    X (m, n0); Y (m, K) one-hot; params keyed by bnmlp.PARAM_KEYS; running {"mean1", "var1", "mean2", "var2"}
    (1, n_l) each -> (params, running, losses): the trained params and running statistics (same keys and shapes)
    and the loss of every step."""
    torch = _torch()
    nn = torch.nn
    (n1, n0), (n2, _), (K, _) = np.shape(params["W1"]), np.shape(params["W2"]), np.shape(params["W3"])
    model = nn.Sequential(nn.Linear(n0, n1, bias=False), nn.BatchNorm1d(n1), nn.Tanh(), nn.Linear(n1, n2, bias=False),
                          nn.BatchNorm1d(n2), nn.Tanh(), nn.Linear(n2, K)).double()
    slots = {"W1": model[0].weight, "gamma1": model[1].weight, "beta1": model[1].bias, "W2": model[3].weight,
             "gamma2": model[4].weight, "beta2": model[4].bias, "W3": model[6].weight, "B3": model[6].bias}
    statistics = {"mean1": model[1].running_mean, "var1": model[1].running_var, "mean2": model[4].running_mean,
                  "var2": model[4].running_var}
    with torch.no_grad():
        for key, tensor in {**slots, **statistics}.items():
            tensor.copy_(_leaf({**params, **running}[key]).reshape(tensor.shape))
    optimizer = torch.optim.SGD(model.parameters(), lr=float(learning_rate))
    loss_fn = nn.CrossEntropyLoss()
    rows, labels = _leaf(X), torch.from_numpy(np.argmax(np.asarray(Y), axis=1))
    losses = []
    model.train()
    for _ in range(int(epochs)):
        for batch in zip(rows.split(int(batch_size)), labels.split(int(batch_size))):
            optimizer.zero_grad()
            loss = loss_fn(model(batch[0]), batch[1])
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    trained = {key: _out(tensor, np.float64).reshape(np.shape(params[key])) for key, tensor in slots.items()}
    return trained, {key: _out(tensor, np.float64).reshape(1, -1) for key, tensor in statistics.items()}, np.array(losses)


# -- gradient checking ---------------------------------------------------------------------

def numerical_gradient(f, x, h=1e-5):
    """The gradient of the scalar function ``f`` at ``x`` by PyTorch's own finite differences (the numerical
    Jacobian of ``torch.autograd.gradcheck``, step h). f: array of x's shape -> float; x: ndarray -> ndarray
    of x's shape. ``x`` is left as it was."""
    torch = _torch()
    gradcheck = sys.modules["torch.autograd.gradcheck"]
    point = np.array(x, dtype=np.float64)
    leaf = _leaf(point, grad=True)

    def scalar(t):
        return torch.tensor(float(f(t.detach().numpy().copy().reshape(point.shape))), dtype=torch.float64)

    ((jacobian,),) = gradcheck._get_numerical_jacobian(scalar, (leaf,), eps=float(h))
    return jacobian.numpy().reshape(point.shape)


def gradient_check(cost_fn, params, grads, h=1e-5):
    """For each parameter, the relative error (``gradcheck.relative_error``) between ``grads`` and PyTorch's
    finite differences of ``cost_fn``. cost_fn: params dict -> float; params {W1, ...}; grads {dW1, ...} ->
    {name: float}."""
    from .gradcheck import relative_error

    errors = {}
    for name in params:
        def cost_of(value, name=name):
            return cost_fn({**params, name: value})
        errors[name] = relative_error(numerical_gradient(cost_of, params[name], h), grads["d" + name])
    return errors


# -- the computation-graph engine's backward rules (graph.py's contract) -----------------------

def mul_backward(upstream, x, y, out=None):
    """The input gradients of an elementwise product, by autograd."""
    return tuple(_out(g, _dtype_of(upstream)) for g in _vjp(lambda a, b: a * b, upstream, x, y))


def matmul_backward(upstream, x, y, out=None):
    """The input gradients of a matrix product, by autograd. x: (m, k), y: (k, n), upstream: (m, n)."""
    torch = _torch()
    return tuple(_out(g, _dtype_of(upstream)) for g in _vjp(torch.matmul, upstream, x, y))


def exp_backward(upstream, x, out=None):
    """The input gradient of exp, by autograd."""
    torch = _torch()
    return tuple(_out(g, _dtype_of(upstream)) for g in _vjp(torch.exp, upstream, x))


def sigmoid_backward_rule(upstream, x, out=None):
    """The input gradient of the sigmoid, by autograd."""
    torch = _torch()
    return tuple(_out(g, _dtype_of(upstream)) for g in _vjp(torch.sigmoid, upstream, x))


# -- one thread --------------------------------------------------------------------------------

def _on_one_thread(function):
    """``function`` run with one intra-op thread, the caller's count restored after. These arrays are small: a
    second thread saves nothing and each operation waits for it at a barrier, which on a busy machine costs far
    more than the arithmetic (10-100x on 2 cores)."""
    @functools.wraps(function)
    def run(*args, **kwargs):
        torch = _torch()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


globals().update({name: _on_one_thread(globals()[name]) for name in __all__})
