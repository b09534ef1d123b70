"""Checks for lecture 07-multiclass.

Exercises: softmax_backward(dA, Z) -> dz (the softmax Jacobian-vector product, row by row);
softmax_cross_entropy(AL, Y) -> float (the categorical cross-entropy cost of a batch, logs clamped at -100);
torch_train(X, Y, params, learning_rate, epochs, batch_size) -> (params, losses) (a relu/softmax
network trained with nn.Sequential, nn.CrossEntropyLoss, a DataLoader and torch.optim.SGD).
Oracles: the NumPy library (reference), PyTorch float64 autograd and, for softmax_backward,
central differences of sum(dA * softmax(Z)). torch_train's reference is the library's NumPy minibatch
gradient descent (model_forward, model_backward, update_parameters) over the same batches in order; its
second oracle takes each step's gradients from torch_reference's float64 autograd. This module holds no
PyTorch training loop (the exercise's answer); tests/test_checks_lecture07.py keeps one as an oracle.
"""
from __future__ import annotations

import numpy as np

from ..activations import relu, softmax, softmax_backward
from ..gradcheck import numerical_gradient
from ..layers import dense_backward, dense_forward
from ..losses import categorical_cross_entropy
from ..model import model_backward, model_forward, update_parameters
from .compare import describe_value
from .core import Case, CaseVerdict, Exercise, register

LECTURE = "07-multiclass"

FORMULA_SOFTMAX_BACKWARD = ("dz_i = a_i * (dA_i - sum_k dA_ik a_ik) for each row i, with a_i = softmax(Z_i) "
                            "(sum over axis=1, keepdims=True): the product of dA_i with the Jacobian "
                            "diag(a_i) - a_i a_i^T, shape (m, n)")
FORMULA_CE = "J = -(1/m) sum_i sum_k Y_ik log AL_ik (logs clamped at -100), a float"
FORMULA_TRAIN = ("per batch: optimizer.zero_grad(); loss = nn.CrossEntropyLoss()(model(X_batch), labels); "
                 "loss.backward(); optimizer.step()")
TRAIN_ACTIVATIONS = ["relu", "softmax"]
PARAM_KEYS = ("W1", "B1", "W2", "B2")


def _torch():
    from .. import torch_reference

    return torch_reference


def _scores(rng, m, n, scale=2.0):
    return rng.normal(0.0, scale, (m, n))


def _large(rng, m, n):
    """Scores of size ~1000 with both signs: exp overflows unless each row's max is subtracted first."""
    Z = rng.choice([-1.0, 1.0], size=(m, n)) * rng.uniform(500.0, 1000.0, size=(m, n))
    Z[0, 0] = 1000.0
    # keep the top two scores of every row close, so the Jacobian is not all zeros
    for row in Z:
        top = int(np.argmax(row))
        other = (top + 1) % n
        row[other] = row[top] - rng.uniform(0.2, 1.5)
    return Z


def _one_hot(rng, m, n):
    return np.eye(n)[rng.integers(0, n, m)]


@register
class SoftmaxBackward(Exercise):
    """The product of dA with the softmax Jacobian, for each example (row) of a batch."""

    name = "softmax_backward"
    lecture = LECTURE
    args = ("dA", "Z")
    outputs = ("dz",)
    formulas = {"dz": FORMULA_SOFTMAX_BACKWARD}
    library_functions = ("backproplab.activations.softmax_backward",)

    def _case(self, rng, m, n, label, large=False):
        Z = _large(rng, m, n) if large else _scores(rng, m, n)
        return Case((rng.normal(size=(m, n)), Z), label=label, m=m, info={"large": large})

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 6, 4, "m=6, n=4"), self._case(rng, 3, 7, "m=3, n=7"),
                    self._case(rng, 4, 5, "large scores, |z| up to 1000", large=True)]
        m, n = (int(v) for v in rng.permutation(np.arange(2, 10))[:2])
        return [self._case(rng, m, n, "random sizes"), self._case(rng, 1, 5, "m=1 (a single example)"),
                self._case(rng, 5, 2, "n=2 (two classes)"),
                self._case(rng, 3, 6, "large scores, |z| up to 1000", large=True)]

    def reference(self, case):
        return {"dz": softmax_backward(*case.args)}

    def oracles(self, case):
        dA, Z = case.args
        oracles = {"PyTorch": {"dz": _torch().torch_activation_backward("softmax", dA, Z)}}
        if not case.info.get("large"):
            oracles["finite differences"] = {"dz": numerical_gradient(lambda z: np.sum(dA * softmax(z)), Z.copy())}
        return oracles

    def mistakes(self, case):
        dA, Z = case.args
        S = softmax(Z)
        with np.errstate(all="ignore"):
            inner = np.stack([(np.diag(a) - a @ a) @ g for a, g in zip(S, dA)])
        return [
            ("jacobian-diagonal", {"dz": dA * S * (1.0 - S)},
             "which is dA * a * (1 - a): only the Jacobian's diagonal. Softmax couples a row's units (each a_k "
             "depends on every z_j), so the off-diagonal entries -a_k a_j count too"),
            ("softmax-axis", {"dz": S * (dA - np.sum(dA * S, axis=0, keepdims=True))},
             "which sums dA * a over the examples (axis=0); the sum runs over each row's n units (axis=1)"),
            ("softmax-axis", {"dz": softmax_backward(dA.T, Z.T).T},
             "which treats each column as one example: softmax and its Jacobian work row by row (axis=1)"),
            ("wrong-values", {"dz": inner},
             "which is what a loop gets from diag(a) - a @ a with a 1-d vector a: a @ a is the inner product "
             "(a number), the Jacobian needs the outer product np.outer(a, a), (n, n)"),
            ("wrong-values", {"dz": S * dA - np.sum(dA * S, axis=1, keepdims=True)},
             "which forgets to multiply the row sum by a: dz = a * (dA - sum(dA * a)), both terms times a"),
        ]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if case.info.get("large") and verdict.diagnosis == "non-finite":
            verdict.diagnosis = "softmax-overflow"
            verdict.message = ("dz is NaN or infinite for large scores (|z| up to 1000): exp(1000) overflows to inf "
                               "and inf / inf is NaN. Compute a = softmax(Z) with each row's maximum subtracted "
                               f"first (softmax(z) = softmax(z - c)). Look at: {FORMULA_SOFTMAX_BACKWARD}.")
        return verdict


@register
class SoftmaxCrossEntropy(Exercise):
    """The categorical cross-entropy of softmax outputs, averaged over the batch."""

    name = "softmax_cross_entropy"
    lecture = LECTURE
    args = ("AL", "Y")
    outputs = ("J",)
    formulas = {"J": FORMULA_CE}
    library_functions = ("backproplab.losses.categorical_cross_entropy",)

    @staticmethod
    def _case(rng, m, n, label, saturated=False):
        AL = softmax(_scores(rng, m, n))
        Y = _one_hot(rng, m, n)
        if saturated:
            # Confident rows: probability exactly 1 on the label and exactly 0 elsewhere (0 log 0 counts as 0).
            for i in range(0, m, 2):
                AL[i] = Y[i]
        return Case((AL, Y), label=label, m=m, info={"saturated": saturated})

    def cases(self, rng, hidden):
        if not hidden:
            return [self._case(rng, 7, 4, "m=7 examples, 4 classes"), self._case(rng, 5, 10, "m=5, 10 classes"),
                    self._case(rng, 6, 3, "confident outputs: exact 0s and 1s in AL", saturated=True)]
        m, n = int(rng.integers(2, 13)), int(rng.integers(2, 8))
        return [self._case(rng, m, n, "random sizes"), self._case(rng, 1, 4, "m=1 (a single example)"),
                self._case(rng, int(rng.integers(3, 9)), 5, "confident outputs: exact 0s and 1s in AL", saturated=True)]

    def reference(self, case):
        return {"J": categorical_cross_entropy(*case.args)}

    def oracles(self, case):
        return {"PyTorch": {"J": _torch().torch_loss("categorical_cross_entropy", *case.args)}}

    def mistakes(self, case):
        AL, Y = case.args
        m, n = AL.shape
        J = categorical_cross_entropy(AL, Y)
        mistakes = [("wrong-values", {"J": J / n},
                     f"which is the mean over all m*n entries (np.mean): sum over the n={n} classes and divide by "
                     f"m only")]
        with np.errstate(divide="ignore", invalid="ignore"):
            binary = -np.sum(Y * np.maximum(np.log(AL), -100) + (1 - Y) * np.maximum(np.log(1 - AL), -100)) / m
        if np.isfinite(binary):
            mistakes.append(("wrong-values", {"J": float(binary)},
                             "which is the binary cross-entropy (with the (1 - y) log(1 - a) term): for softmax "
                             "outputs and one-hot labels only -sum_k y_k log a_k counts"))
        return mistakes


def _draw_training(rng, m, sizes, batch_size, epochs, learning_rate, label):
    n0, n1, K = sizes
    X = rng.uniform(-1.0, 1.0, (m, n0))
    Y = _one_hot(rng, m, K)
    params = {"W1": rng.normal(0.0, 1.0 / np.sqrt(n0), (n1, n0)), "B1": rng.normal(0.0, 0.2, (1, n1)),
              "W2": rng.normal(0.0, 1.0 / np.sqrt(n1), (K, n1)), "B2": rng.normal(0.0, 0.2, (1, K))}
    return Case((X, Y, params, learning_rate, epochs, batch_size), label=label, m=batch_size)


def _batches(m, batch_size):
    return [slice(start, start + batch_size) for start in range(0, m, batch_size)]


def numpy_training(X, Y, params, learning_rate, epochs, batch_size, *, accumulate=False, summed=False,
                   double_softmax=False):
    """The reference training (minibatches in order, plain SGD on the mean cross-entropy) and the
    typical mistakes' versions of it: -> (params, losses per step)."""
    params = {key: np.array(value, dtype=float) for key, value in params.items()}
    total = {"d" + key: np.zeros_like(value) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        for batch in _batches(X.shape[0], batch_size):
            Xb, Yb = X[batch], Y[batch]
            b = Xb.shape[0]
            if double_softmax:
                Z1 = dense_forward(Xb, params["W1"], params["B1"])
                A1 = relu(Z1)
                Z2 = dense_forward(A1, params["W2"], params["B2"])
                P = softmax(Z2)
                P2 = softmax(P)
                loss = categorical_cross_entropy(P2, Yb)
                dz2 = softmax_backward(P2 - Yb, Z2)
                dA1, dW2, dB2 = dense_backward(dz2, A1, params["W2"])
                _, dW1, dB1 = dense_backward(dA1 * (Z1 > 0), Xb, params["W1"])
                grads = {"dW1": dW1, "dB1": dB1, "dW2": dW2, "dB2": dB2}
            else:
                AL, caches = model_forward(Xb, params, TRAIN_ACTIVATIONS)
                loss = categorical_cross_entropy(AL, Yb)
                grads = {k: v for k, v in model_backward(AL, Yb, caches, TRAIN_ACTIVATIONS).items()
                         if not k.startswith("dz")}
            if summed:
                loss, grads = loss * b, {k: v * b for k, v in grads.items()}
            if accumulate:
                total = {k: total[k] + grads[k] for k in total}
                grads = total
            params = update_parameters(params, grads, learning_rate)
            losses.append(loss)
    return params, np.array(losses)


def autograd_training(X, Y, params, learning_rate, epochs, batch_size):
    """The second oracle: the same batches and the same NumPy update, but every step's gradients come
    from ``torch_reference.torch_model_gradients`` (torch float64 autograd) instead of model_backward.
    -> (params, losses per step). No model, loss module, DataLoader or optimizer: nothing of the
    exercise's PyTorch loop is written here."""
    params = {key: np.array(value, dtype=float) for key, value in params.items()}
    losses = []
    for _ in range(epochs):
        for batch in _batches(X.shape[0], batch_size):
            run = _torch().torch_model_gradients(X[batch], Y[batch], params, TRAIN_ACTIVATIONS)
            params = update_parameters(params, {key: run[key] for key in ("dW1", "dB1", "dW2", "dB2")},
                                       learning_rate)
            losses.append(run["cost"])
    return params, np.array(losses)


@register
class TorchTrain(Exercise):
    """Judged against the library's minibatch gradient descent from the same weights and the same
    batches; float32 training is accepted (every output is compared at float32 precision)."""

    name = "torch_train"
    lecture = LECTURE
    args = ("X", "Y", "params", "learning_rate", "epochs", "batch_size")
    outputs = PARAM_KEYS + ("losses",)
    formulas = {key: FORMULA_TRAIN for key in PARAM_KEYS + ("losses",)}
    torch_allowed = True
    library_functions = ("backproplab.model.train", "backproplab.model.model_backward",
                         "backproplab.torch_reference.torch_model_gradients")
    call_timeout = 30.0

    def cases(self, rng, hidden):
        if not hidden:
            return [_draw_training(rng, 20, (6, 5, 3), 8, 3, 0.5, "m=20, batches of 8 (the last one has 4), 3 epochs"),
                    _draw_training(rng, 12, (4, 7, 4), 3, 2, 0.3, "m=12, batches of 3, 2 epochs")]
        m = int(rng.integers(10, 25))
        sizes = tuple(int(v) for v in rng.integers(2, 8, 3))
        return [_draw_training(rng, m, sizes, int(rng.integers(3, 7)), 3, float(rng.uniform(0.2, 0.8)),
                               "random sizes"),
                _draw_training(rng, 5, (3, 4, 2), 1, 2, 0.2, "batches of 1 example")]

    def reference(self, case):
        params, losses = numpy_training(*case.args)
        return {**params, "losses": losses}

    def oracles(self, case):
        params, losses = autograd_training(*case.args)
        return {"PyTorch autograd gradients": {**params, "losses": losses}}

    def split(self, value, case):
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            return CaseVerdict(False, "not-an-array", f"torch_train should return a tuple (params, losses), but it "
                               f"returned {describe_value(value)}.")
        params, losses = value
        if not isinstance(params, dict):
            return CaseVerdict(False, "not-an-array", f"params should be a dict of NumPy arrays W1, B1, W2, B2, "
                               f"but it is {describe_value(params)}.")
        missing = [key for key in PARAM_KEYS if key not in params]
        if missing:
            return CaseVerdict(False, "missing-keys", f"the returned params lack the keys {missing}: return "
                               f"{{'W1': ..., 'B1': ..., 'W2': ..., 'B2': ...}} as NumPy arrays.")
        if isinstance(losses, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in losses):
            losses = np.array(losses, dtype=float)
        elif not isinstance(losses, np.ndarray):
            return CaseVerdict(False, "not-an-array", "losses should be a list of Python floats, one per step "
                               f"(loss.item()), but it is {describe_value(losses)}" +
                               (f" holding {describe_value(losses[0])}s" if isinstance(losses, (list, tuple)) and losses
                                else "") + ".")
        found = {key: params[key] for key in PARAM_KEYS}
        found["losses"] = losses
        # float32 training is fine: judge every output at float32 precision.
        return {key: value.astype(np.float32) if isinstance(value, np.ndarray) and value.dtype.kind == "f" else value
                for key, value in found.items()}

    def mistakes(self, case):
        X, Y, params, learning_rate, epochs, batch_size = case.args
        wrong = [
            ("missing-zero-grad", numpy_training(*case.args, accumulate=True),
             "which is what training gives when the gradients are never reset: backward() ADDS to .grad, so "
             "without optimizer.zero_grad() every step uses the sum of all gradients so far"),
            ("missing-mean", numpy_training(*case.args, summed=True),
             "which is training on the SUMMED loss (reduction='sum'): every gradient is batch_size times too large; "
             "nn.CrossEntropyLoss() averages over the batch by default"),
            ("double-softmax", numpy_training(*case.args, double_softmax=True),
             "which is training with a softmax layer at the end of the model: nn.CrossEntropyLoss applies "
             "log-softmax itself and wants the raw scores Z[L]"),
        ]
        unchanged = {key: np.asarray(value, dtype=float) for key, value in params.items()}
        hypotheses = [(diagnosis, {**p, "losses": losses}, text) for diagnosis, (p, losses), text in wrong]
        hypotheses.append(("no-learning", unchanged,
                           "which are the initial weights: the model never changed (optimizer.step() missing, called "
                           "before loss.backward(), or given other parameters than the model's)"))
        return hypotheses
