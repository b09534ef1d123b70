"""Benchmark: one training epoch of the 784-512-512-10 network, the library's NumPy code vs PyTorch (not a test).

The network of lecture 01's digit classifier: ReLU hidden layers, a softmax output with categorical
cross-entropy, minibatches of 128, plain SGD. One epoch is forward, backward and update for every batch of
a synthetic data set (uniform pixels in [0, 1), random labels: nothing is downloaded), on one thread:
  NumPy    backproplab.model's model_forward, model_backward and update_parameters;
  PyTorch  nn.Sequential of nn.Linear/nn.ReLU, nn.CrossEntropyLoss, torch.optim.SGD (CPU).
(PyTorch's backward starts from each batch's loss; the NumPy loop needs no cost, as dz[L] = AL - Y.)
Both start from the same weights and, before the timed epochs, train on the same 10 batches: the table
shows how far apart their weights then are (max |W_numpy - W_torch|), so that both are seen to compute
the same training. (Over a whole epoch float32 rounding grows to ~1e-3 between any two float32 runs,
PyTorch's own float32 and float64 included; float64 stays ~1e-16 apart.)
The "GEMMs only" columns time just the 8 matrix products per batch that both must do (3 forward,
3 weight gradients, 2 input gradients), as each calls them, with no elementwise work: the floor that
NumPy's BLAS (OpenBLAS) and PyTorch's (MKL) set.
Times are CPU seconds of this single-threaded process by default (the machines are shared: wall
time also counts waiting for a core; --clock wall measures it), the median of --repeats epochs,
NumPy and PyTorch alternating.
Usage: .venv/bin/python benchmarks/numpy_vs_torch_epoch.py [--batches N] [--repeats R] [--clock cpu|wall]
"""
from __future__ import annotations

import os

# One thread everywhere, set before NumPy and PyTorch load their BLAS.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from backproplab.init import initialize_parameters  # noqa: E402
from backproplab.model import model_backward, model_forward, update_parameters  # noqa: E402

SIZES = (784, 512, 512, 10)
ACTIVATIONS = ("relu", "relu", "softmax")
LEARNING_RATE = 0.01
AGREEMENT_BATCHES = 10
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def make_data(batches, batch_size, np_dtype, seed):
    """Synthetic MNIST-shaped data: X (batches * batch_size, 784) in [0, 1), labels 0..9 and one-hot Y."""
    rng = np.random.default_rng(seed)
    m = batches * batch_size
    X = rng.random((m, SIZES[0]), dtype=np.float32).astype(np_dtype, copy=False)
    labels = rng.integers(0, SIZES[-1], m)
    Y = np.eye(SIZES[-1], dtype=np_dtype)[labels]
    return X, labels, Y


def numpy_epoch(X, Y, params, batch_size):
    """One epoch of minibatch SGD with the library; returns the new params."""
    for start in range(0, X.shape[0], batch_size):
        AL, caches = model_forward(X[start:start + batch_size], params, ACTIVATIONS)
        grads = model_backward(AL, Y[start:start + batch_size], caches, ACTIVATIONS)
        params = update_parameters(params, grads, LEARNING_RATE)
    return params


def torch_model(params, torch_dtype):
    """nn.Sequential with the library's initial weights (W[l] has nn.Linear's layout)."""
    layers = []
    for l in range(1, len(SIZES)):
        linear = torch.nn.Linear(SIZES[l - 1], SIZES[l], dtype=torch_dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{l}"]))
            linear.bias.copy_(torch.from_numpy(params[f"B{l}"][0]))
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])  # the softmax is inside nn.CrossEntropyLoss


def torch_epoch(model, optimizer, loss_fn, X, labels, batch_size):
    """One epoch of minibatch SGD with PyTorch, in place."""
    for start in range(0, X.shape[0], batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(X[start:start + batch_size]), labels[start:start + batch_size])
        loss.backward()
        optimizer.step()


def gemm_operands(batch_size, np_dtype, seed):
    """Random operands for one batch's 8 products: [(left, right, kind)], kind 'nt' (a @ b.T),
    'tn' (a.T @ b) or 'nn' (a @ b), in the layouts both libraries see."""
    rng = np.random.default_rng(seed)

    def draw(*shape):
        return rng.standard_normal(shape).astype(np_dtype)

    A = [draw(batch_size, n) for n in SIZES]  # A[0] = X, A[1], A[2], A[3] = AL
    W = [None] + [draw(SIZES[l], SIZES[l - 1]) for l in range(1, len(SIZES))]
    dz = [None] + [draw(batch_size, SIZES[l]) for l in range(1, len(SIZES))]
    forward = [(A[l - 1], W[l], "nt") for l in range(1, len(SIZES))]
    weight_grads = [(dz[l], A[l - 1], "tn") for l in range(1, len(SIZES))]
    input_grads = [(dz[l], W[l], "nn") for l in range(2, len(SIZES))]  # no dA[0]: X needs no gradient
    return forward + weight_grads + input_grads


def numpy_gemms(operands, batches):
    for _ in range(batches):
        for a, b, kind in operands:
            if kind == "nt":
                a @ b.T
            elif kind == "tn":
                a.T @ b
            else:
                a @ b


def torch_gemms(operands, batches):
    for _ in range(batches):
        for a, b, kind in operands:
            if kind == "nt":
                a.mm(b.t())
            elif kind == "tn":
                a.t().mm(b)
            else:
                a.mm(b)


def measure(clock, function, *args):
    """(seconds of ``function(*args)`` on ``clock``, its result)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    started = now()
    result = function(*args)
    return now() - started, result


def run_dtype(name, args):
    np_dtype, torch_dtype = DTYPES[name]
    X, labels, Y = make_data(args.batches, args.batch_size, np_dtype, args.seed)
    params = initialize_parameters(list(SIZES), "he", seed=args.seed, dtype=np_dtype)
    model = torch_model(params, torch_dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    tX, tlabels = torch.from_numpy(X), torch.from_numpy(labels)
    # From the same weights, the same batches: both must end where the other does.
    head = AGREEMENT_BATCHES * args.batch_size
    params = numpy_epoch(X[:head], Y[:head], params, args.batch_size)
    torch_epoch(model, optimizer, loss_fn, tX[:head], tlabels[:head], args.batch_size)
    gap = max(float(np.max(np.abs(params[f"W{l}"] - model[2 * (l - 1)].weight.detach().numpy())))
              for l in range(1, len(SIZES)))
    # A warm-up epoch each.
    params = numpy_epoch(X, Y, params, args.batch_size)
    torch_epoch(model, optimizer, loss_fn, tX, tlabels, args.batch_size)
    operands = gemm_operands(args.batch_size, np_dtype, args.seed)
    t_operands = [(torch.from_numpy(a), torch.from_numpy(b), kind) for a, b, kind in operands]
    times = {"numpy": [], "torch": [], "numpy_gemm": [], "torch_gemm": []}
    for repeat in range(args.repeats):
        runs = [("numpy", lambda p=params: numpy_epoch(X, Y, p, args.batch_size)),
                ("torch", lambda: torch_epoch(model, optimizer, loss_fn, tX, tlabels, args.batch_size)),
                ("numpy_gemm", lambda: numpy_gemms(operands, args.batches)),
                ("torch_gemm", lambda: torch_gemms(t_operands, args.batches))]
        for key, run in runs if repeat % 2 == 0 else runs[::-1]:
            seconds, result = measure(args.clock, run)
            times[key].append(seconds)
            if key == "numpy":
                params = result
    return {key: statistics.median(values) for key, values in times.items()}, gap


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=469, help="batches per epoch (469 x 128 = 60,032 examples)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per library and dtype; the median is shown")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--dtypes", nargs="+", choices=sorted(DTYPES), default=sorted(DTYPES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    print(f"784-512-512-10 (ReLU, softmax + cross-entropy), SGD, batch {args.batch_size}, "
          f"{args.batches} batches per epoch, 1 thread, {args.clock} seconds per epoch, median of {args.repeats}")
    print(f"NumPy {np.__version__} ({blas['name']} {blas.get('version', '')}), PyTorch {torch.__version__} "
          f"(MKL: {torch.backends.mkl.is_available()})", flush=True)
    print(f"{'dtype':<8} {'NumPy s':>8} {'PyTorch s':>10} {'ratio':>6}   {'GEMMs only: NumPy s':>20} "
          f"{'PyTorch s':>10} {'ratio':>6}   {'max |W_np - W_torch|, 10 batches':>32}", flush=True)
    for name in args.dtypes:
        t, gap = run_dtype(name, args)
        print(f"{name:<8} {t['numpy']:>8.3f} {t['torch']:>10.3f} {t['numpy'] / t['torch']:>6.2f}   "
              f"{t['numpy_gemm']:>20.3f} {t['torch_gemm']:>10.3f} {t['numpy_gemm'] / t['torch_gemm']:>6.2f}   "
              f"{gap:>32.1e}", flush=True)
    print("ratio = NumPy / PyTorch; the target is at most 1.2 in both dtypes. The GEMMs-only columns are the same "
          "products without the rest (activations, softmax, bias, 1/m, update, framework overhead).")


if __name__ == "__main__":
    main()
