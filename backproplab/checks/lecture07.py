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

from .. import torch_reference
from ..activations import relu, softmax, softmax_backward
from ..gradcheck import numerical_gradient
from ..layers import dense_backward, dense_forward
from ..losses import categorical_cross_entropy
from ..model import model_backward, model_forward, update_parameters
from .compare import describe_value
from .exercises import Exercise, register, split_dict
from .hints import Hint
from .records import Case, CaseVerdict

LECTURE = "07-multiclass"

# ---- the hint ladders (lecture prose: solutions/07-multiclass, sections 1-3 and 6-7) -----------------------

SOFTMAX_BACK = ("dz_i = a_i ⊙ (dA_i - dA_i · a_i) for each row i, with a_i = softmax(Z_i) and dA_i · a_i = Σ_k dA_ik a_ik: "
                "dA_i times the Jacobian diag(a_i) - a_iᵀ a_i; dA, Z, dz (m, n).")
SOFTMAX_BACK_STEP = ("For one row, ∂a_k/∂z_j = a_k (δ_kj - a_j), so dz_j = Σ_k dA_k a_k (δ_kj - a_j) = a_j (dA_j - Σ_k dA_k "
                     "a_k); a comes from Z through the stable softmax, row by row.")
HINTS_SOFTMAX_BACK = {
    "*": Hint("Section 1 builds the softmax Jacobian of one example and section 2 combines a row's dA with it. Does "
              "a_k depend on z_k only, or on every score of its row, and what does that add to dz?",
              SOFTMAX_BACK_STEP, SOFTMAX_BACK),
    "jacobian-diagonal": Hint("Your dz keeps only how a_k depends on its own score z_k. Does a_k change when another "
                              "score of the same row changes (section 1)?", SOFTMAX_BACK_STEP, SOFTMAX_BACK),
    "softmax-axis": Hint("Your result mixes the examples. Which entries does one example's Jacobian couple: the units "
                         "of its row, or the examples of a column?", SOFTMAX_BACK_STEP, SOFTMAX_BACK),
    "softmax-overflow": Hint("dz is NaN for scores near 1000. How does your function get a from Z, and which shift of "
                             "a row's scores leaves its softmax unchanged (lecture 03)?",
                             "Compute a = softmax(Z) with each row's largest score taken away first. " + SOFTMAX_BACK_STEP,
                             SOFTMAX_BACK),
}

CE = "J = -(1/m) Σ_i Σ_k Y_ik log AL_ik, each log clamped at -100 (0 log 0 counts as 0); a float."
HINTS_CE = {
    "*": Hint("Section 3: a one-hot label picks one class per example. Which probability did the network give the "
              "true class, what is that example's loss, and how are the m losses combined into the cost?",
              "Example i's loss is minus the log of the probability at its true class, which its one-hot row picks "
              "out of the n classes; each log is clamped at -100; the cost is the average of the m losses.",
              CE),
}

TRAIN = ("For each epoch and each batch in order: reset the gradients, take nn.CrossEntropyLoss of the model's raw "
         "scores against the batch's class indices, run backward, take one SGD step with the learning rate, and "
         "record the loss as a float; then read W1, B1, W2, B2 back from the two nn.Linear layers as NumPy arrays.")
TRAIN_STEP = ("Build nn.Sequential of nn.Linear, nn.ReLU and nn.Linear with the given W1, B1, W2, B2 copied in, a "
              "DataLoader over the data without shuffling, nn.CrossEntropyLoss with class indices, and torch.optim.SGD "
              "over the model's parameters.")
HINTS_TRAIN = {
    "*": Hint("Section 6 trains the same network with PyTorch. Which modules make the [n0, n1, K] relu network, "
              "which loss takes the raw scores, how are the batches drawn, and what does one step of the loop do, "
              "in order?", TRAIN_STEP, TRAIN),
    "missing-zero-grad": Hint("Your steps use gradients that grow from step to step. What does backward do with a "
                              "gradient that is already stored in a parameter?",
                              "backward adds into each parameter's stored gradient; the gradients must be reset "
                              "before every backward.", TRAIN),
    "missing-mean": Hint("Every step is too long by the batch size. Does your loss average the batch's examples, or "
                         "add them up?",
                         "nn.CrossEntropyLoss averages over the batch by default (reduction 'mean'); a summed loss "
                         "makes every gradient batch_size times larger.", TRAIN),
    "double-softmax": Hint("Your model ends with a softmax. What does nn.CrossEntropyLoss expect as its input "
                           "(section 7: LogSoftmax followed by NLLLoss)?",
                           "nn.CrossEntropyLoss applies log-softmax itself, so the model ends with the last linear "
                           "layer's raw scores.", TRAIN),
    "no-learning": Hint("Your weights are the initial ones: nothing changed. Which step of the loop changes the "
                        "parameters, and does the optimizer hold the model's own parameters?",
                        "The optimizer's step updates the parameters it was given, after backward has filled their "
                        "gradients; it must be given the model's parameters.", TRAIN),
}
TRAIN_ACTIVATIONS = ["relu", "softmax"]
PARAM_KEYS = ("W1", "B1", "W2", "B2")


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
    hints = HINTS_SOFTMAX_BACK
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
        oracles = {"PyTorch": {"dz": torch_reference.torch_activation_backward("softmax", dA, Z)}}
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
             "which uses only the diagonal of the softmax Jacobian"),
            ("softmax-axis", {"dz": S * (dA - np.sum(dA * S, axis=0, keepdims=True))},
             "which adds up over the examples of a column where the units of a row belong"),
            ("softmax-axis", {"dz": softmax_backward(dA.T, Z.T).T},
             "which treats each column as one example"),
            ("wrong-values", {"dz": inner},
             "which matches a Jacobian built from the inner product of a with itself (one number) where an "
             "(n, n) matrix belongs"),
            ("wrong-values", {"dz": S * dA - np.sum(dA * S, axis=1, keepdims=True)},
             "which leaves a out of the term with the row's total"),
        ]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if case.info.get("large") and verdict.diagnosis == "non-finite":
            verdict.diagnosis = "softmax-overflow"
            verdict.message = ("dz is NaN or infinite for large scores (|z| up to 1000): e to the 1000 is infinite "
                               "in floating point, and infinity over infinity is NaN.")
        return verdict


@register
class SoftmaxCrossEntropy(Exercise):
    """The categorical cross-entropy of softmax outputs, averaged over the batch."""

    name = "softmax_cross_entropy"
    lecture = LECTURE
    args = ("AL", "Y")
    outputs = ("J",)
    hints = HINTS_CE
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
        return {"PyTorch": {"J": torch_reference.torch_loss("categorical_cross_entropy", *case.args)}}

    def mistakes(self, case):
        AL, Y = case.args
        m, n = AL.shape
        J = categorical_cross_entropy(AL, Y)
        mistakes = [("wrong-values", {"J": J / n},
                     f"which is the average over all m × n entries, n = {n}")]
        with np.errstate(divide="ignore", invalid="ignore"):
            binary = -np.sum(Y * np.maximum(np.log(AL), -100) + (1 - Y) * np.maximum(np.log(1 - AL), -100)) / m
        if np.isfinite(binary):
            mistakes.append(("wrong-values", {"J": float(binary)},
                             "which is the binary cross-entropy of every entry, each class taken as a separate "
                             "yes-or-no question"))
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
            run = torch_reference.torch_model_gradients(X[batch], Y[batch], params, TRAIN_ACTIVATIONS)
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
    hints = HINTS_TRAIN
    torch_allowed = True
    precision = "float32"
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
        params = split_dict(params, PARAM_KEYS, "the returned params")
        if isinstance(params, CaseVerdict):
            return params
        if isinstance(losses, (list, tuple)) and all(isinstance(v, (int, float, np.number)) for v in losses):
            losses = np.array(losses, dtype=float)
        elif not isinstance(losses, np.ndarray):
            return CaseVerdict(False, "not-an-array", "losses should be a list of Python floats, one per step, "
                               f"but it is {describe_value(losses)}" +
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
             "which is what training gives when each step uses the total of all gradients so far"),
            ("missing-mean", numpy_training(*case.args, summed=True),
             "which is training on the summed loss: every gradient is batch_size times too large"),
            ("double-softmax", numpy_training(*case.args, double_softmax=True),
             "which is training with a softmax layer at the end of the model"),
        ]
        unchanged = {key: np.asarray(value, dtype=float) for key, value in params.items()}
        hypotheses = [(diagnosis, {**p, "losses": losses}, text) for diagnosis, (p, losses), text in wrong]
        hypotheses.append(("no-learning", unchanged,
                           "which are the initial weights: the model never changed"))
        return hypotheses
