"""Tests for backproplab.data: offline, seeded datasets in DESIGN.md's batch-first layout."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab import data as D
from strategies import seeds

TOY_SETS = {
    "make_xor": D.make_xor,
    "make_moons": D.make_moons,
    "make_circles": D.make_circles,
}


def test_xor_is_the_four_truth_table_points():
    """Are xor()'s labels the XOR of the two binary inputs, one row per input pair?"""
    X, Y = D.xor()
    assert X.shape == (4, 2) and Y.shape == (4, 1)
    assert X.dtype == Y.dtype == np.float64
    assert sorted(map(tuple, X)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    np.testing.assert_array_equal(Y[:, 0], np.logical_xor(X[:, 0], X[:, 1]))


@pytest.mark.parametrize("name", sorted(TOY_SETS))
@given(m=st.integers(1, 60), seed=seeds())
def test_toy_sets_shapes_dtypes_labels_and_balance(name, m, seed):
    """Does each toy set give X (m, 2), Y (m, 1) float64, labels in {0, 1}, balanced classes?"""
    X, Y = TOY_SETS[name](m=m, seed=seed)
    assert X.shape == (m, 2) and Y.shape == (m, 1)
    assert X.dtype == Y.dtype == np.float64
    assert set(np.unique(Y)) <= {0.0, 1.0}
    assert np.all(np.isfinite(X))
    ones = int(Y.sum())
    if name == "make_xor":
        # Two of the four corner clusters are class 1, each with m/4 points (+-1).
        assert abs(ones - m / 2) <= 1
    else:
        assert ones in (m // 2, m - m // 2)


@pytest.mark.parametrize("name", sorted(TOY_SETS))
@given(seed=seeds())
def test_toy_sets_are_deterministic_per_seed(name, seed):
    """Does the same seed give identical arrays, and a different seed different ones?"""
    X1, Y1 = TOY_SETS[name](m=40, seed=seed)
    X2, Y2 = TOY_SETS[name](m=40, seed=seed)
    X3, _ = TOY_SETS[name](m=40, seed=seed + 1)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Y1, Y2)
    assert not np.array_equal(X1, X3)


def test_noiseless_xor_points_sit_on_the_corners():
    """With noise=0, is every make_xor point an XOR corner carrying that corner's label?"""
    X, Y = D.make_xor(m=41, noise=0.0)
    corners, labels = D.xor()
    for x, y in zip(X, Y):
        match = np.all(corners == x, axis=1)
        assert match.sum() == 1
        assert labels[match][0, 0] == y[0]


def test_noiseless_moons_lie_on_their_half_circles():
    """With noise=0, is class 0 on the upper unit half circle and class 1 on the shifted lower one?"""
    X, Y = D.make_moons(m=101, noise=0.0)
    upper, lower = X[Y[:, 0] == 0], X[Y[:, 0] == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5)


@given(factor=st.floats(0.1, 0.9))
def test_noiseless_circles_have_radius_1_and_factor(factor):
    """With noise=0, is class 0 on the unit circle and class 1 on the circle of radius factor?"""
    X, Y = D.make_circles(m=50, noise=0.0, factor=factor)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[Y[:, 0] == 0], 1.0)
    np.testing.assert_allclose(radius[Y[:, 0] == 1], factor)


@pytest.mark.parametrize("call", [
    lambda: D.make_moons(m=0), lambda: D.make_xor(m=2.5), lambda: D.make_circles(noise=-0.1),
    lambda: D.make_circles(factor=1.0), lambda: D.dose_response(n_train=0),
])
def test_invalid_arguments_raise_value_error(call):
    """Do sizes < 1, non-integer sizes, negative noise and factor outside (0, 1) raise ValueError?"""
    with pytest.raises(ValueError):
        call()


def test_dose_response_shapes_and_sorted_training_doses():
    """Does dose_response give (n, 1) float64 arrays with doses in DOSE_RANGE, training rows sorted?"""
    X_train, Y_train, X_test, Y_test = D.dose_response(n_train=6, n_test=500)
    assert X_train.shape == Y_train.shape == (6, 1)
    assert X_test.shape == Y_test.shape == (500, 1)
    for array in (X_train, Y_train, X_test, Y_test):
        assert array.dtype == np.float64
    low, high = D.DOSE_RANGE
    assert np.all((X_train >= low) & (X_train <= high)) and np.all((X_test >= low) & (X_test <= high))
    assert np.all(np.diff(X_train[:, 0]) >= 0)


@pytest.mark.parametrize("noise", [D.DOSE_NOISE, 0.1, 1.0])
def test_dose_response_noise_level(noise):
    """Is the spread of the measurements around the true curve the requested noise std (within 3%)?"""
    _, _, X_test, Y_test = D.dose_response(n_test=20_000, noise=noise, seed=3)
    residuals = Y_test - D.dose_response_curve(X_test)
    assert abs(residuals.mean()) < 4 * noise / np.sqrt(len(residuals))
    assert residuals.std() == pytest.approx(noise, rel=0.03)


def test_dose_response_without_noise_is_the_curve():
    """With noise=0, do all measurements lie exactly on dose_response_curve?"""
    X_train, Y_train, X_test, Y_test = D.dose_response(noise=0.0)
    np.testing.assert_array_equal(Y_train, D.dose_response_curve(X_train))
    np.testing.assert_array_equal(Y_test, D.dose_response_curve(X_test))


def test_dose_response_curve_is_smooth_and_falling():
    """Does blood sugar fall monotonically with the dose, from the baseline 9 to the plateau near 5?"""
    dose = np.linspace(0.0, 10.0, 1001)
    sugar = D.dose_response_curve(dose)
    assert np.all(np.diff(sugar) < 0)
    assert sugar[0] == 9.0
    assert 5.0 < sugar[-1] < 5.1


def test_dose_response_determinism_and_independent_test_set():
    """Same seed, same data; another seed, other data; and does n_train leave the test set unchanged?"""
    first, again, other = D.dose_response(seed=5), D.dose_response(seed=5), D.dose_response(seed=6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    bigger = D.dose_response(n_train=20, seed=5)
    np.testing.assert_array_equal(first[2], bigger[2])
    np.testing.assert_array_equal(first[3], bigger[3])


def test_load_digits_sanity():
    """Are the digits (1797, 64) in [0, 1] in steps of 1/16, with one-hot (1797, 10) rows and all 10 classes?"""
    X, Y = D.load_digits()
    assert X.shape == (1797, 64) and Y.shape == (1797, 10)
    assert X.dtype == Y.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(X * 16, np.round(X * 16))
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)
    counts = Y.sum(axis=0)
    assert np.all(counts > 150)  # every class present, roughly balanced (about 180 each)
    assert len(np.unique(X, axis=0)) > 1700  # real images, not a placeholder


def test_load_digits_labels_match_one_hot():
    """Does one_hot=False give (1797, 1) integer labels 0..9 that agree with the one-hot rows?"""
    _, Y = D.load_digits()
    X, labels = D.load_digits(one_hot=False)
    assert labels.shape == (1797, 1) and np.issubdtype(labels.dtype, np.integer)
    assert set(np.unique(labels)) == set(range(10))
    np.testing.assert_array_equal(labels[:, 0], Y.argmax(axis=1))


@pytest.mark.slow
def test_load_digits_needs_neither_sklearn_nor_torch():
    """Does loading the digits in a fresh interpreter import neither scikit-learn nor torch?"""
    code = ("import sys; from backproplab.data import load_digits; load_digits(); "
            "assert 'sklearn' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=20), column=st.booleans())
def test_one_hot_rows(labels, column):
    """Does one_hot put a single 1.0 in each row at the label's column, for (m,) and (m, 1) labels?"""
    array = np.array(labels).reshape(-1, 1) if column else np.array(labels)
    Y = D.one_hot(array, 5)
    assert Y.shape == (len(labels), 5) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.argmax(axis=1), labels)
    np.testing.assert_array_equal(Y.sum(axis=1), 1.0)


@pytest.mark.parametrize("labels", [[0, 5], [-1], [0.5]])
def test_one_hot_rejects_out_of_range_labels(labels):
    """Do labels outside 0..K-1, or non-integers, raise ValueError?"""
    with pytest.raises(ValueError):
        D.one_hot(np.array(labels), 5)


@given(m=st.integers(2, 50), fraction=st.floats(0.05, 0.95), seed=seeds())
def test_train_val_split_partitions_the_rows(m, fraction, seed):
    """Does the split keep X and Y rows paired, use every row once, and hold out round(fraction m)?"""
    n_val = int(round(fraction * m))
    X = np.arange(m * 3, dtype=float).reshape(m, 3)
    Y = X[:, :1] * 10  # each Y row is derived from its X row, so pairing can be checked
    if not 1 <= n_val <= m - 1:
        with pytest.raises(ValueError):
            D.train_val_split(X, Y, fraction, seed)
        return
    X_train, Y_train, X_val, Y_val = D.train_val_split(X, Y, fraction, seed)
    assert X_val.shape == (n_val, 3) and Y_val.shape == (n_val, 1)
    assert X_train.shape == (m - n_val, 3) and Y_train.shape == (m - n_val, 1)
    np.testing.assert_array_equal(Y_train, X_train[:, :1] * 10)
    np.testing.assert_array_equal(Y_val, X_val[:, :1] * 10)
    np.testing.assert_array_equal(np.sort(np.vstack([X_train, X_val])[:, 0]), X[:, 0])


def test_train_val_split_is_seeded():
    """Does the same seed give the same split, and another seed a different one?"""
    X, Y = D.make_moons(m=100)
    first = D.train_val_split(X, Y, seed=1)
    again = D.train_val_split(X, Y, seed=1)
    other = D.train_val_split(X, Y, seed=2)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])


@given(m=st.integers(2, 60), val=st.floats(0.01, 0.6), test=st.floats(0.01, 0.6), seed=seeds())
def test_train_val_test_split_partitions_the_rows_into_three_disjoint_parts(m, val, test, seed):
    """Does the three-way split keep rows paired, use every row exactly once (no test row ever reaches training or
    validation), hold out round(fraction m) rows for validation and test, and refuse an empty part?"""
    n_val, n_test = int(round(val * m)), int(round(test * m))
    X = np.arange(m * 3, dtype=float).reshape(m, 3)
    Y = X[:, :1] * 10
    if n_val < 1 or n_test < 1 or n_val + n_test > m - 1:
        with pytest.raises(ValueError):
            D.train_val_test_split(X, Y, val, test, seed)
        return
    X_train, Y_train, X_val, Y_val, X_test, Y_test = D.train_val_test_split(X, Y, val, test, seed)
    assert X_val.shape == (n_val, 3) and X_test.shape == (n_test, 3) and X_train.shape == (m - n_val - n_test, 3)
    for Xs, Ys in ((X_train, Y_train), (X_val, Y_val), (X_test, Y_test)):
        np.testing.assert_array_equal(Ys, Xs[:, :1] * 10)
    rows = [set(Xs[:, 0]) for Xs in (X_train, X_val, X_test)]
    assert not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])
    np.testing.assert_array_equal(np.sort(np.vstack([X_train, X_val, X_test])[:, 0]), X[:, 0])


def test_train_val_test_split_is_seeded_and_leaves_train_val_split_alone():
    """Does the same seed give the same three parts, another seed other ones, and is train_val_split unchanged?"""
    X, Y = D.load_digits()
    first = D.train_val_test_split(X, Y, seed=0)
    again = D.train_val_test_split(X, Y, seed=0)
    other = D.train_val_test_split(X, Y, seed=1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert [part.shape[0] for part in first[::2]] == [1079, 359, 359]
    assert not np.array_equal(first[4], other[4])
    order = np.random.default_rng(0).permutation(X.shape[0])
    np.testing.assert_array_equal(D.train_val_split(X, Y, seed=0)[2], X[order[:359]])
    with pytest.raises(ValueError):
        D.train_val_test_split(X[:3], Y[:3], 0.5, 0.5)
    with pytest.raises(ValueError):
        D.train_val_test_split(X, Y[:5])
