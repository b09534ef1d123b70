'''Answer catalog for 07-multiclass.

Names the setup cell provides (solutions/07-multiclass/multiclass.ipynb, tag "setup"):
``np`` (numpy) and ``softmax`` (backproplab.activations, stable and row-wise).
torch_train imports torch itself; the answers do not call each other.
'''
from __future__ import annotations

from functools import partial

from backproplab.grading.answer_catalogs import S, V, notebook_sources, replaced

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

_replace = partial(replaced, ANSWERS)  # the correct answer with one snippet replaced


VARIANTS = [
    # ---- correct, written differently -------------------------------------------------
    V("softmax_backward", "explicit-jacobian-per-example", None, """\
        def softmax_backward(dA, Z):
            A = softmax(Z)
            dz = np.zeros_like(A)
            for i in range(A.shape[0]):
                a = A[i]
                J = np.diag(a) - np.outer(a, a)   # (n, n), symmetric
                dz[i] = J.T @ dA[i]
            return dz
        """),
    V("softmax_backward", "batched-jacobians-einsum", None, """\
        def softmax_backward(dA, Z):
            A = softmax(Z)
            n = A.shape[1]
            J = A[:, :, None] * np.eye(n) - A[:, :, None] * A[:, None, :]   # (m, n, n)
            return np.einsum("mkj,mk->mj", J, dA)
        """),
    V("softmax_backward", "own-stable-softmax", None, """\
        def softmax_backward(dA, Z):
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
            s = (dA * A).sum(axis=1)[:, None]
            return A * dA - A * s
        """),
    V("softmax_cross_entropy", "clip-then-sum", None, """\
        def softmax_cross_entropy(AL, Y):
            m = Y.shape[0]
            return float(-np.sum(Y * np.log(np.clip(AL, 1e-15, 1.0))) / m)
        """),
    V("softmax_cross_entropy", "probability-of-the-true-class", None, """\
        def softmax_cross_entropy(AL, Y):
            true_class = Y.argmax(axis=1)
            p = AL[np.arange(AL.shape[0]), true_class]
            return float(np.mean(-np.log(np.maximum(p, 1e-30))))
        """),
    V("torch_train", "float32-model", None, _replace(
        "torch_train", "nn.Linear(n1, K)).double()", "nn.Linear(n1, K))").replace(
        "torch.from_numpy(params[f\"W{l}\"])", "torch.tensor(params[f\"W{l}\"], dtype=torch.float32)").replace(
        "torch.from_numpy(params[f\"B{l}\"][0])", "torch.tensor(params[f\"B{l}\"][0], dtype=torch.float32)").replace(
        "TensorDataset(torch.from_numpy(X),", "TensorDataset(torch.tensor(X, dtype=torch.float32),")),
    V("torch_train", "one-hot-targets-and-functional-loss", None, _replace(
        "torch_train", "torch.from_numpy(Y.argmax(axis=1))", "torch.from_numpy(Y)").replace(
        "loss = loss_fn(model(X_batch), labels)", "loss = torch.nn.functional.cross_entropy(model(X_batch), labels)")),
    V("torch_train", "manual-batches-and-state-dict", None, """\
        def torch_train(X, Y, params, learning_rate, epochs, batch_size):
            import torch

            model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], params["W1"].shape[0]), torch.nn.ReLU(),
                                        torch.nn.Linear(params["W1"].shape[0], Y.shape[1])).double()
            model.load_state_dict({"0.weight": torch.tensor(params["W1"]), "0.bias": torch.tensor(params["B1"][0]),
                                   "2.weight": torch.tensor(params["W2"]), "2.bias": torch.tensor(params["B2"][0])})
            X_t, labels = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
            optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
            losses = []
            for _ in range(epochs):
                for first in range(0, X.shape[0], batch_size):
                    optimizer.zero_grad()
                    loss = torch.nn.CrossEntropyLoss()(model(X_t[first:first + batch_size]),
                                                       labels[first:first + batch_size])
                    loss.backward()
                    optimizer.step()
                    losses.append(float(loss))
            state = {key: value.numpy() for key, value in model.state_dict().items()}
            return ({"W1": state["0.weight"], "B1": state["0.bias"][None, :],
                     "W2": state["2.weight"], "B2": state["2.bias"][None, :]}, losses)
        """),
    # ---- softmax_backward mistakes --------------------------------------------------------
    V("softmax_backward", "diagonal-only", "jacobian-diagonal", _replace(
        "softmax_backward", "return A * (dA - np.sum(dA * A, axis=1, keepdims=True))", "return dA * A * (1 - A)")),
    V("softmax_backward", "row-sum-without-keepdims", "crash", _replace(
        "softmax_backward", "axis=1, keepdims=True", "axis=1")),
    V("softmax_backward", "sum-over-examples", "softmax-axis", _replace(
        "softmax_backward", "axis=1, keepdims=True", "axis=0, keepdims=True")),
    V("softmax_backward", "inner-product-in-a-loop", "wrong-values", """\
        def softmax_backward(dA, Z):
            A = softmax(Z)
            dz = np.zeros_like(A)
            for i in range(A.shape[0]):
                a = A[i]
                J = np.diag(a) - a @ a   # a @ a of 1-d arrays is a number, not the (n, n) outer product
                dz[i] = J @ dA[i]
            return dz
        """),
    V("softmax_backward", "unstable-softmax", "softmax-overflow", """\
        def softmax_backward(dA, Z):
            E = np.exp(Z)
            A = E / E.sum(axis=1, keepdims=True)
            return A * (dA - np.sum(dA * A, axis=1, keepdims=True))
        """),
    V("softmax_backward", "minus-reversed", "sign-flipped", _replace(
        "softmax_backward", "A * (dA - np.sum(dA * A, axis=1, keepdims=True))",
        "A * (np.sum(dA * A, axis=1, keepdims=True) - dA)")),
    V("softmax_backward", "scales-dA-in-place", "mutated-input", _replace(
        "softmax_backward", "    return A * (dA - np.sum(dA * A, axis=1, keepdims=True))\n",
        "    dA -= np.sum(dA * A, axis=1, keepdims=True)\n    return A * dA\n")),
    V("softmax_backward", "stub", "not-implemented", """\
        def softmax_backward(dA, Z):
            raise NotImplementedError("replace this line with your code")
        """),
    S("softmax_backward", "calls-the-library", "forbidden-call", """\
        def softmax_backward(dA, Z):
            from backproplab.activations import softmax_backward as library

            return library(dA, Z)
        """),
    # ---- softmax_cross_entropy mistakes ---------------------------------------------------
    V("softmax_cross_entropy", "sum-not-mean", "missing-mean", _replace(
        "softmax_cross_entropy", "/ m)", ")")),
    V("softmax_cross_entropy", "mean-over-all-entries", "wrong-values", """\
        def softmax_cross_entropy(AL, Y):
            return float(-np.mean(Y * np.log(np.clip(AL, 1e-15, 1.0))))
        """),
    V("softmax_cross_entropy", "no-minus", "sign-flipped", _replace(
        "softmax_cross_entropy", "float(-np.sum(", "float(np.sum(")),
    V("softmax_cross_entropy", "unclamped-log", "non-finite", """\
        def softmax_cross_entropy(AL, Y):
            return float(-np.sum(Y * np.log(AL)) / AL.shape[0])
        """),
    V("softmax_cross_entropy", "returns-per-example-losses", "not-an-array", """\
        def softmax_cross_entropy(AL, Y):
            return -np.sum(Y * np.log(np.clip(AL, 1e-15, 1.0)), axis=1)
        """),
    V("softmax_cross_entropy", "binary-cross-entropy-formula", "wrong-values", """\
        def softmax_cross_entropy(AL, Y):
            A = np.clip(AL, 1e-15, 1 - 1e-15)
            return float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / AL.shape[0])
        """),
    S("softmax_cross_entropy", "calls-the-library", "forbidden-call", """\
        def softmax_cross_entropy(AL, Y):
            import backproplab

            return backproplab.categorical_cross_entropy(AL, Y)
        """),
    # ---- torch_train mistakes ---------------------------------------------------------------
    V("torch_train", "no-zero-grad", "missing-zero-grad", _replace(
        "torch_train", "            optimizer.zero_grad()\n", "")),
    V("torch_train", "summed-loss", "missing-mean", _replace(
        "torch_train", "nn.CrossEntropyLoss()", "nn.CrossEntropyLoss(reduction=\"sum\")")),
    V("torch_train", "softmax-layer-before-the-loss", "double-softmax", _replace(
        "torch_train", "nn.Linear(n1, K)).double()", "nn.Linear(n1, K), nn.Softmax(dim=1)).double()")),
    V("torch_train", "step-before-backward", "no-learning", _replace(
        "torch_train", "            loss.backward()\n            optimizer.step()\n",
        "            optimizer.step()\n            loss.backward()\n")),
    V("torch_train", "losses-kept-as-tensors", "not-an-array", _replace(
        "torch_train", "losses.append(loss.item())", "losses.append(loss)")),
    V("torch_train", "weights-not-copied", "wrong-values", _replace(
        "torch_train", "            layer.weight.copy_(torch.from_numpy(params[f\"W{l}\"]))\n", "            pass\n")),
    V("torch_train", "bias-returned-as-a-vector", "bias-shape", _replace(
        "torch_train", "layer.bias.detach().numpy().reshape(1, -1).copy()", "layer.bias.detach().numpy().copy()")),
    V("torch_train", "shuffled-batches", "wrong-values", _replace(
        "torch_train", "shuffle=False", "shuffle=True")),
    V("torch_train", "loops-over-the-library-torch-gradients", "forbidden-call", """\
        def torch_train(X, Y, params, learning_rate, epochs, batch_size):
            from backproplab.torch_reference import torch_model_gradients

            params = {key: np.array(value, dtype=float) for key, value in params.items()}
            losses = []
            for _ in range(epochs):
                for start in range(0, X.shape[0], batch_size):
                    run = torch_model_gradients(X[start:start + batch_size], Y[start:start + batch_size], params,
                                                ["relu", "softmax"])
                    params = {key: value - learning_rate * run["d" + key] for key, value in params.items()}
                    losses.append(run["cost"])
            return params, losses
        """),
]
