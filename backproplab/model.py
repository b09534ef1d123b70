"""A multilayer perceptron: forward, backward, parameter updates and a minibatch loop.

A network is a params dict ``{"W1", "B1", ..., "WL", "BL"}`` plus a list of L activation
names, one per layer (``activations[l-1]`` is g[l]). The output activation fixes the loss:
sigmoid + binary cross-entropy, softmax + categorical cross-entropy, identity + MSE: the
pairings whose output dz[L] carries no slope of the output activation.

Cache format: ``model_forward`` returns ``caches``, a list of L tuples
``(A_prev, W, B, Z)`` with A_prev = A[l-1]: (m, n_{l-1}), W = W[l]: (n_l, n_{l-1}),
B = B[l]: (1, n_l) and Z = Z[l]: (m, n_l), in layer order.

Dtypes: a network computes in its parameters' dtype, float64 by default (from
``initialize_parameters``), float32 with ``initialize_parameters(..., dtype=np.float32)``;
X and Y are cast to it, as ``torch.nn.Module.to(dtype)`` would need. Parameters of mixed
float dtypes promote as in NumPy, integer ones count as float64.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import numpy as np

from .activations import get_activation
from .arrays import add_into, as_float_array, as_weak_scalar, matmul, multiply_into
from .layers import (
    dense_forward,
    dense_weight_gradients,
    dropout_backward,
    dropout_forward,
    l2_backward,
    l2_penalty,
)
from .losses import loss_for_output

__all__ = [
    "count_parameters", "num_layers", "network_dtype", "model_forward", "model_backward", "compute_cost", "predict",
    "accuracy", "update_parameters", "initialize_velocity", "update_parameters_momentum", "TrainOptions", "train",
]


def count_parameters(layer_sizes) -> int:
    """Number of weights and biases of all layers (the input layer has none). layer_sizes: [n0, ..., nL] -> int."""
    return sum(n_out * n_in + n_out for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))


def num_layers(params) -> int:
    """L, the number of weight layers in a params dict."""
    return sum(1 for key in params if key.startswith("W"))


def network_dtype(params):
    """The dtype a network computes in: NumPy's promotion of its weights' and biases' float
    dtypes, where integer (or bool) arrays count as float64; float64 when there are none."""
    dtypes = []
    for key, value in params.items():
        dtype = np.asarray(value).dtype if key[:1] in ("W", "B") else None
        if dtype is not None and dtype.kind in "biuf":
            dtypes.append(dtype if dtype.kind == "f" else np.dtype(np.float64))
    return np.result_type(*dtypes) if dtypes else np.dtype(np.float64)


def model_forward(X, params, activations, dropout=0.0, rng=None):
    """Forward propagation: each layer's dense part, then its activation g[l], from X up to the output.

    X: (m, n0); params: W{l} (n_l, n_{l-1}), B{l} (1, n_l); activations: L names ->
    (AL: (m, nL), caches: L tuples (A_prev, W, B, Z)).
    With ``dropout`` > 0 (training only), hidden layers' outputs go through inverted
    dropout and each cache gains a fifth item, that layer's mask (None for the output);
    ``rng`` (a ``numpy.random.Generator``) draws the masks, a fresh unseeded one if None.
    """
    L = num_layers(params)
    if len(activations) != L:
        raise ValueError(f"params have {L} layers but {len(activations)} activations were given")
    if dropout > 0 and rng is None:
        rng = np.random.default_rng()
    A = np.asarray(X, dtype=network_dtype(params))  # no copy when X has the dtype already
    caches = []
    for l in range(1, L + 1):
        W, B = params[f"W{l}"], params[f"B{l}"]
        Z = dense_forward(A, W, B)
        cache = (A, W, B, Z)
        A = get_activation(activations[l - 1]).forward(Z)
        if dropout > 0:
            mask = None
            if l < L:
                A, mask = dropout_forward(A, dropout, rng)
            cache = cache + (mask,)
        caches.append(cache)
    return A, caches


def _hidden_backward(name, dA, Z):
    """dz = dA * g'(Z) for hidden activation ``name``: bit for bit its backward(dA, Z), but for
    ReLU and identity written into ``dA`` (a fresh array nobody else holds).

    g' comes from the cache's Z even where the next layer's A_prev = g(Z) would spare sigmoid and
    tanh recomputing g: the checks call model_backward with A in place of Z (lecture 04's
    derivative-at-output mistake), and those results must stay what they were."""
    Z = np.asarray(Z)
    if name in ("relu", "identity") and isinstance(dA, np.ndarray) and dA.dtype == Z.dtype:
        return multiply_into(dA, Z > 0) if name == "relu" else dA
    return get_activation(name).backward(dA, Z)


def model_backward(AL, Y, caches, activations, lambd=0.0, dropout=0.0):
    """Backward propagation through the whole network.

    AL: (m, nL); Y: (m, nL); caches from ``model_forward``; activations: L names ->
    grads with, for l = 1..L: dz{l} (m, n_l), no 1/m; dW{l} (n_l, n_{l-1}); dB{l} (1, n_l).
    Starts from the output layer's dz under the output activation's paired loss, then goes down layer
    by layer with the dense layer's backward pass and each hidden activation's slope at its Z.
    ``lambd`` adds the L2 penalty's gradient to every dW[l].
    The grads have AL's dtype (Y is cast to it). dA[0], which no gradient needs, is not computed.
    """
    L = len(caches)
    loss_for_output(activations[-1])  # validates the pairing that makes dz[L] = AL - Y
    AL = as_float_array(AL)
    m = AL.shape[0]
    lambd = as_weak_scalar(lambd)
    grads = {}
    dz = AL - np.asarray(Y, dtype=AL.dtype)
    for l in range(L, 0, -1):
        A_prev, W, B, Z = caches[l - 1][:4]
        grads[f"dz{l}"] = dz
        dW, dB = dense_weight_gradients(dz, A_prev)
        if lambd:
            dW = add_into(dW, l2_backward(W, lambd, m))
        grads[f"dW{l}"], grads[f"dB{l}"] = dW, dB
        if l > 1:
            dA_prev = matmul(dz, np.asarray(W))  # OpenBLAS's spurious invalid-value flag (arrays.matmul)
            below = caches[l - 2]
            # Only caches from a forward pass with dropout carry a fifth item, the mask.
            if dropout > 0 and len(below) > 4 and below[4] is not None:
                dA_prev = dropout_backward(dA_prev, below[4], dropout)
            dz = _hidden_backward(activations[l - 2], dA_prev, below[3])
    return grads


def compute_cost(AL, Y, activations, params=None, lambd=0.0):
    """The cost of the loss paired with the output activation, plus L2 if lambd > 0. -> float."""
    cost, _ = loss_for_output(activations[-1])
    AL = as_float_array(AL)
    J = cost(AL, np.asarray(Y, dtype=AL.dtype))
    if lambd:
        J += l2_penalty(params, lambd, np.asarray(Y).shape[0])
    return J


def predict(X, params, activations):
    """Class predictions (m, nL) in the one-hot / 0-1 layout of Y.

    Sigmoid outputs threshold at 0.5; softmax outputs pick each row's argmax;
    identity outputs are returned as they are.
    """
    AL, _ = model_forward(X, params, activations)
    out = activations[-1]
    if out == "sigmoid":
        return (AL > 0.5).astype(AL.dtype)
    if out == "softmax":
        return np.eye(AL.shape[1], dtype=AL.dtype)[AL.argmax(axis=1)]
    return AL


def accuracy(X, Y, params, activations) -> float:
    """Fraction of examples whose predicted row equals Y's row (classification outputs)."""
    P = predict(X, params, activations)
    return float(np.mean(np.all(np.isclose(P, Y), axis=1)))


def _step(value, scale, direction):
    """value - scale * direction, in one new array (the product's, when the result fits it)."""
    value = np.asarray(value)
    step = np.multiply(direction, scale)
    if isinstance(step, np.ndarray) and np.result_type(value, step) == step.dtype and step.shape == value.shape:
        return np.subtract(value, step, out=step)
    return value - step


def update_parameters(params, grads, learning_rate):
    """One gradient-descent step: W[l] -= lr dW[l], B[l] -= lr dB[l].

    Returns a new dict; the arrays in ``params`` are not modified. The new arrays keep the
    params' dtype (float32 stays float32 for any learning-rate scalar).
    """
    learning_rate = as_weak_scalar(learning_rate)
    return {key: _step(value, learning_rate, grads["d" + key]) for key, value in params.items()}


def initialize_velocity(params):
    """Zero velocities {"dW1": zeros like W1, ...} for momentum."""
    return {"d" + key: np.zeros_like(value) for key, value in params.items()}


def update_parameters_momentum(params, grads, velocity, learning_rate, beta=0.9):
    """SGD with momentum in its moving-average form (lecture 06): the velocity is a moving average of the
    gradients with weight beta on the old velocity, and each parameter steps along it.

    Returns (new params, new velocity); the inputs are not modified.
    """
    learning_rate, beta = as_weak_scalar(learning_rate), as_weak_scalar(beta)
    new_velocity = {key: add_into(np.multiply(v, beta), np.multiply(grads[key], 1 - beta)) for key, v in velocity.items()}
    new_params = {key: _step(value, learning_rate, new_velocity["d" + key]) for key, value in params.items()}
    return new_params, new_velocity


def _progress_wanted(progress, steps) -> bool:
    if progress is not None:
        return bool(progress)
    # Silent under pytest, under the graders, and for short runs.
    quiet = "PYTEST_CURRENT_TEST" in os.environ or os.environ.get("BPLAB_QUIET")
    return not quiet and steps >= 2000


def _make_bar(total, wanted):
    if not wanted:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="epochs", leave=False, file=sys.stderr)


@dataclass(frozen=True)
class TrainOptions:
    """How ``train`` trains a network (``dashboard.trace_training`` reads the same fields); each has a default.

    learning_rate: float > 0, the step size of every update.
    epochs: int >= 0, passes over the training set (full batch: one update each).
    batch_size: int >= 1, the examples of one update (the last batch of an epoch may be smaller); None: all m.
    momentum: float in [0, 1), beta of the velocity; 0 is plain gradient descent.
    lambd: float >= 0, the L2 strength lambda; 0 is no penalty.
    dropout: float in [0, 1), the drop rate of every hidden layer while training; 0 is no dropout.
    seed: int, seeds the shuffling and the dropout masks.
    record_every: int >= 1, record the history every this many epochs (and after the last).
    progress: bool, whether to show a progress bar; None: only for long runs, never under pytest or the grader.
    """

    learning_rate: float = 0.1
    epochs: int = 100
    batch_size: int | None = None
    momentum: float = 0.0
    lambd: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    record_every: int = 1
    progress: bool | None = None

    def __post_init__(self):
        problems = [text for bad, text in (
            (not self.learning_rate > 0, "learning_rate must be > 0"),
            (self.epochs < 0, "epochs must be >= 0"),
            (self.batch_size is not None and self.batch_size < 1, "batch_size must be >= 1 (or None: the full batch)"),
            (not 0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (not self.lambd >= 0, "lambd must be >= 0"),
            (not 0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (self.record_every < 1, "record_every must be >= 1")) if bad]
        if problems:
            raise ValueError(f"TrainOptions: {'; '.join(problems)}")


def train(X, Y, params, activations, options: TrainOptions | None = None, *, validation=None):
    """Minibatch gradient descent as ``options`` say (None: ``TrainOptions()``'s defaults). Returns (params, history).

    X: (m, n0); Y: (m, nL); params: initial W{l}, B{l} (not modified); activations: L names;
    validation: None or (X_val: (m_val, n0), Y_val: (m_val, nL)).
    history: dict of lists, one entry every ``options.record_every`` epochs:
    "epoch", "train_cost", "train_acc", and with validation data "val_cost", "val_acc".
    Accuracies are None for identity (regression) outputs.
    Training runs in the params' dtype (``network_dtype``): float32 params train in float32,
    with X and Y cast once.
    """
    options = options or TrainOptions()
    learning_rate, epochs, momentum = options.learning_rate, options.epochs, options.momentum
    lambd, dropout, record_every = options.lambd, options.dropout, options.record_every
    X_val, Y_val = validation if validation is not None else (None, None)
    rng = np.random.default_rng(options.seed)
    dtype = network_dtype(params)
    X = np.asarray(X, dtype=dtype)
    Y = np.asarray(Y, dtype=dtype)
    m = X.shape[0]
    batch_size = options.batch_size or m
    params = {key: np.array(value, dtype=dtype) for key, value in params.items()}
    velocity = initialize_velocity(params)
    classify = activations[-1] != "identity"
    history = {"epoch": [], "train_cost": [], "train_acc": []}
    if X_val is not None:
        history.update(val_cost=[], val_acc=[])
    batches = -(-m // batch_size)
    bar = _make_bar(epochs, _progress_wanted(options.progress, epochs * batches))
    for epoch in range(1, epochs + 1):
        order = rng.permutation(m)
        for start in range(0, m, batch_size):
            idx = order[start:start + batch_size]
            AL, caches = model_forward(X[idx], params, activations, dropout=dropout, rng=rng)
            grads = model_backward(AL, Y[idx], caches, activations, lambd=lambd, dropout=dropout)
            if momentum:
                params, velocity = update_parameters_momentum(params, grads, velocity, learning_rate, momentum)
            else:
                params = update_parameters(params, grads, learning_rate)
        if epoch % record_every == 0 or epoch == epochs:
            history["epoch"].append(epoch)
            for split, (Xs, Ys) in (("train", (X, Y)), ("val", (X_val, Y_val))):
                if Xs is None:
                    continue
                AL, _ = model_forward(Xs, params, activations)
                history[f"{split}_cost"].append(compute_cost(AL, Ys, activations, params, lambd))
                history[f"{split}_acc"].append(accuracy(Xs, Ys, params, activations) if classify else None)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return params, history
