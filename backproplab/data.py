"""Offline datasets for the lectures: nothing is downloaded, everything is seeded.

Shapes follow DESIGN.md (batch-first): X is (m, n0) float64, one example per row, and Y is
(m, nL) float64. Binary labels are 0.0 / 1.0 in a (m, 1) column; class labels for K classes
are one-hot rows (m, K). The same ``seed`` always gives the same arrays; different seeds
give different draws.

Toy classification sets (2-d inputs, so decision boundaries can be drawn):
  ``xor()``, ``make_xor``, ``make_moons``, ``make_circles``.
Regression with few points (lecture 06, overfitting): ``dose_response``.
Real images: ``load_digits`` (the 8x8 UCI digits shipped in ``backproplab/_data``).
Helpers: ``one_hot``, ``train_val_split``.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = [
    "xor", "make_xor", "make_moons", "make_circles",
    "DOSE_RANGE", "DOSE_NOISE", "dose_response_curve", "dose_response",
    "DIGITS_FILE", "load_digits", "one_hot", "train_val_split", "train_val_test_split",
]


def _check_size(m, name="m"):
    if int(m) != m or m < 1:
        raise ValueError(f"{name} must be a positive integer, got {m!r}")
    return int(m)


def _check_noise(noise):
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    return float(noise)


def _class_sizes(m, k):
    """m examples split into k classes as evenly as possible (sizes differ by at most 1)."""
    return [m // k + (1 if i < m % k else 0) for i in range(k)]


def _shuffled(rng, X, y):
    """X (m, n), y (m,) -> the same rows in a random order, y as a float (m, 1) column."""
    order = rng.permutation(len(X))
    return X[order], y[order].astype(float).reshape(-1, 1)


def xor():
    """The four XOR points: -> X (4, 2) = [[0,0],[0,1],[1,0],[1,1]], Y (4, 1) = [[0],[1],[1],[0]].

    No single line separates the 1s from the 0s; one hidden layer is enough.
    """
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    Y = np.array([[0.0], [1.0], [1.0], [0.0]])
    return X, Y


def make_xor(m=200, noise=0.1, seed=0):
    """Noisy XOR: m points in Gaussian clusters (std ``noise``) around the four XOR corners.

    -> X (m, 2), Y (m, 1) with y = 1 for the clusters at (0, 1) and (1, 0). The four clusters
    get m/4 points each (+-1); rows are shuffled.
    """
    m, noise = _check_size(m), _check_noise(noise)
    rng = np.random.default_rng(seed)
    corners, labels = xor()
    sizes = _class_sizes(m, 4)
    centers = np.repeat(corners, sizes, axis=0)
    y = np.repeat(labels[:, 0], sizes)
    X = centers + noise * rng.standard_normal((m, 2))
    return _shuffled(rng, X, y)


def make_moons(m=200, noise=0.2, seed=0):
    """Two interleaving half circles (as scikit-learn's make_moons), plus Gaussian noise.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 0.5 - sin t), t uniform in [0, pi].
    -> X (m, 2), Y (m, 1) with m/2 points per class (+-1), rows shuffled.
    """
    m, noise = _check_size(m), _check_noise(noise)
    rng = np.random.default_rng(seed)
    n0, n1 = _class_sizes(m, 2)
    t0 = rng.uniform(0.0, np.pi, n0)
    t1 = rng.uniform(0.0, np.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    X = np.vstack([upper, lower]) + noise * rng.standard_normal((m, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return _shuffled(rng, X, y)


def make_circles(m=200, noise=0.1, factor=0.5, seed=0):
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` (0 < factor < 1).

    Angles are uniform; Gaussian noise (std ``noise``) is added to both coordinates.
    -> X (m, 2), Y (m, 1) with m/2 points per class (+-1), rows shuffled.
    """
    m, noise = _check_size(m), _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n0, n1 = _class_sizes(m, 2)
    angles = rng.uniform(0.0, 2 * np.pi, m)
    radius = np.concatenate([np.ones(n0), np.full(n1, float(factor))])
    X = radius[:, None] * np.column_stack([np.cos(angles), np.sin(angles)])
    X = X + noise * rng.standard_normal((m, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return _shuffled(rng, X, y)


# Lecture 06's story: a drug lowers blood sugar; with only a few measured patients, a big
# network fits the noise instead of the curve.
DOSE_RANGE = (0.0, 2.0)
"""Doses (mg per kg of body weight) are drawn uniformly from this interval."""
DOSE_NOISE = 0.4
"""Default measurement noise: the std of blood sugar around the curve, in mmol/L."""


def dose_response_curve(dose):
    """The true mean blood sugar (mmol/L) after a dose (mg/kg), a Hill (Emax) curve:

        sugar(d) = 5 + 4 / (1 + (d / 0.8)^3)

    9 mmol/L without the drug, half the effect (7 mmol/L) at d = 0.8 mg/kg, levelling off at
    5 mmol/L. dose: array of any shape (d >= 0) -> array of the same shape.
    """
    dose = np.asarray(dose, dtype=float)
    return 5.0 + 4.0 / (1.0 + (np.maximum(dose, 0.0) / 0.8) ** 3)


def dose_response(n_train=6, n_test=500, noise=DOSE_NOISE, seed=0):
    """A handful of noisy measurements of ``dose_response_curve`` plus a large held-out set.

    -> X_train (n_train, 1) doses, Y_train (n_train, 1) blood sugar,
       X_test (n_test, 1), Y_test (n_test, 1).
    Doses are uniform on DOSE_RANGE; each measurement is the curve plus N(0, noise^2). The
    training and test sets come from independent streams of ``seed``, so the test set does
    not change with n_train. Training rows are sorted by dose (nicer to plot).
    """
    n_train, n_test = _check_size(n_train, "n_train"), _check_size(n_test, "n_test")
    noise = _check_noise(noise)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    def measure(rng, n):
        dose = rng.uniform(*DOSE_RANGE, (n, 1))
        return dose, dose_response_curve(dose) + noise * rng.standard_normal((n, 1))

    X_train, Y_train = measure(train_rng, n_train)
    order = np.argsort(X_train[:, 0])
    X_test, Y_test = measure(test_rng, n_test)
    return X_train[order], Y_train[order], X_test, Y_test


def one_hot(labels, K):
    """Integer class labels -> one-hot rows.

    labels: (m,) or (m, 1) integers in 0..K-1 -> (m, K) float64 with one 1.0 per row.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"labels must be (m,) or (m, 1), got shape {labels.shape}")
    if labels.size and (not np.all(labels == np.round(labels)) or labels.min() < 0 or labels.max() >= K):
        raise ValueError(f"labels must be integers in 0..{K - 1}")
    return np.eye(K)[labels.astype(np.int64)]


# load_digits' argument is also called one_hot; this alias keeps the function reachable.
_one_hot_rows = one_hot


DIGITS_FILE = "digits.npz"
DIGIT_CLASSES = 10
DIGIT_MAX_PIXEL = 16.0


def load_digits(one_hot=True):
    """The 1797 8x8 handwritten digits (UCI, via scikit-learn; see _data/README.md).

    -> X (1797, 64) float64 in [0, 1] (pixel counts / 16, each row an image row by row),
       Y (1797, 10) float64 one-hot, or with ``one_hot=False`` (1797, 1) int64 labels 0..9.
    Loaded with NumPy from the shipped file; nothing is downloaded.
    """
    with resources.files("backproplab").joinpath("_data", DIGITS_FILE).open("rb") as file:
        with np.load(file) as archive:
            images, labels = archive["images"], archive["labels"]
    X = images.astype(float) / DIGIT_MAX_PIXEL
    labels = labels.astype(np.int64).reshape(-1, 1)
    return (X, _one_hot_rows(labels, DIGIT_CLASSES)) if one_hot else (X, labels)


def train_val_split(X, Y, val_fraction=0.2, seed=0):
    """Shuffle the rows once (seeded) and hold out a fraction for validation.

    X: (m, n0), Y: (m, nL) -> X_train (m - k, n0), Y_train (m - k, nL), X_val (k, n0),
    Y_val (k, nL) with k = round(val_fraction * m), 1 <= k <= m - 1. Rows of X and Y stay
    paired; the inputs are not modified.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    m = X.shape[0]
    if Y.shape[0] != m:
        raise ValueError(f"X has {m} rows but Y has {Y.shape[0]}")
    n_val = int(round(val_fraction * m))
    if not 1 <= n_val <= m - 1:
        raise ValueError(f"val_fraction={val_fraction} of {m} examples leaves an empty training or validation set")
    order = np.random.default_rng(seed).permutation(m)
    val, train = order[:n_val], order[n_val:]
    return X[train], Y[train], X[val], Y[val]


def train_val_test_split(X, Y, val_fraction=0.2, test_fraction=0.2, seed=0):
    """Shuffle the rows once (seeded) and cut them into three disjoint parts: training, validation
    (for watching the curves and choosing a model) and a held-out test set (used once, at the end).

    X: (m, n0), Y: (m, nL) -> X_train, Y_train, X_val, Y_val, X_test, Y_test with
    k_test = round(test_fraction * m) and k_val = round(val_fraction * m) rows (each >= 1, leaving
    >= 1 training row). Rows of X and Y stay paired; the inputs are not modified.
    """
    X, Y = np.asarray(X), np.asarray(Y)
    m = X.shape[0]
    if Y.shape[0] != m:
        raise ValueError(f"X has {m} rows but Y has {Y.shape[0]}")
    n_test, n_val = int(round(test_fraction * m)), int(round(val_fraction * m))
    if n_test < 1 or n_val < 1 or n_test + n_val > m - 1:
        raise ValueError(f"val_fraction={val_fraction} and test_fraction={test_fraction} of {m} examples leave an "
                         f"empty training, validation or test set")
    order = np.random.default_rng(seed).permutation(m)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return X[train], Y[train], X[val], Y[val], X[test], Y[test]
