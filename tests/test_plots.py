"""Tests for backproplab.plots (Agg backend; every figure a test opens is closed again)."""
# ruff: noqa: E402  (the backend is chosen before pyplot is imported)
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported: the imports below must follow it

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from backproplab import plots as P
from backproplab.activations import ACTIVATIONS, sigmoid
from backproplab.data import make_moons, xor
from backproplab.init import initialize_parameters
from backproplab.model import TrainOptions, train
from strategies import arrays, shapes

ELEMENTWISE = sorted(name for name, act in ACTIVATIONS.items() if act.derivative is not None)


@pytest.fixture(autouse=True)
def no_figure_leaks():
    """Close whatever a test opened, and fail the test if it forgot to."""
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    for number in leaked:
        plt.close(number)
    assert not leaked, f"figures left open: {sorted(leaked)}"


def _lines(ax):
    return list(ax.get_lines())


def _drawn(fig):
    """Render once, so that errors hidden until draw time surface in the test."""
    fig.canvas.draw()


def test_plot_decision_boundary_grid_and_artists():
    """Does it query predict_fn on a (resolution^2, 2) grid and draw filled levels, the 0.5 line and both classes?"""
    X, Y = make_moons(m=30)
    seen_shapes = []

    def predict(points):
        seen_shapes.append(points.shape)
        return sigmoid(points[:, :1] - points[:, 1:])

    fig, ax = plt.subplots()
    assert P.plot_decision_boundary(predict, X, Y, ax=ax, resolution=25, title="moons") is ax
    _drawn(fig)
    assert seen_shapes == [(625, 2)]
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 2
    assert [len(c.get_offsets()) for c in scatters] == [int((Y == 0).sum()), int((Y == 1).sum())]
    assert len(ax.collections) == 2 + 2  # filled contours, the 0.5 contour line, two scatters
    assert ax.get_title() == "moons"
    plt.close(fig)


def test_plot_decision_boundary_with_constant_labels_on_tiny_data():
    """With 0/1 label predictions that never cross 0.5 and a single point, does it still draw (no 0.5 line)?"""
    X, Y = np.array([[0.0, 0.0]]), np.array([[1.0]])
    ax = P.plot_decision_boundary(lambda points: np.zeros((len(points), 1)), X, Y, resolution=5)
    assert isinstance(ax, Axes)
    _drawn(ax.figure)
    assert len(ax.collections) == 1 + 2  # filled contours and two (one empty) scatters
    plt.close(ax.figure)


def test_plot_decision_boundary_rejects_non_2d_inputs():
    """Does X with 3 features raise ValueError (a plane cannot show it)?"""
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        P.plot_decision_boundary(lambda p: p[:, :1], np.zeros((4, 3)), np.zeros((4, 1)), ax=object())


@given(costs=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=20))
def test_plot_costs_list(costs):
    """Does a list of costs give one line through (1..n, costs)?"""
    fig, ax = plt.subplots()
    try:
        assert P.plot_costs(costs, ax=ax) is ax
        (line,) = _lines(ax)
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(costs) + 1))
        np.testing.assert_array_equal(line.get_ydata(), costs)
    finally:
        plt.close(fig)


def test_plot_costs_from_a_real_training_history():
    """Does model.train's history give train and validation lines against the recorded epochs?"""
    X, Y = xor()
    params = initialize_parameters([2, 3, 1], "xavier", seed=0)
    _, history = train(X, Y, params, ["tanh", "sigmoid"], TrainOptions(epochs=6, record_every=2), validation=(X, Y))
    ax = P.plot_costs(history, log_scale=True, title="xor")
    train_line, val_line = _lines(ax)
    np.testing.assert_array_equal(train_line.get_xdata(), history["epoch"])
    np.testing.assert_array_equal(train_line.get_ydata(), history["train_cost"])
    np.testing.assert_array_equal(val_line.get_ydata(), history["val_cost"])
    assert ax.get_yscale() == "log"
    plt.close(ax.figure)


def test_plot_costs_history_without_validation():
    """Does a history with only train_cost draw exactly one line?"""
    ax = P.plot_costs({"epoch": [1, 2], "train_cost": [0.7, 0.5]})
    assert len(_lines(ax)) == 1
    plt.close(ax.figure)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_plot_activation_draws_g_and_its_derivative(name):
    """Does each activation's plot have exactly two lines, g(z) and g'(z), over the requested range?"""
    ax = P.plot_activation(name, z=(-3, 2))
    g_line, dg_line = _lines(ax)
    z = g_line.get_xdata()
    assert (z[0], z[-1]) == (-3, 2)
    np.testing.assert_allclose(g_line.get_ydata(), ACTIVATIONS[name].forward(z))
    np.testing.assert_allclose(dg_line.get_ydata(), ACTIVATIONS[name].derivative(z))
    plt.close(ax.figure)


def test_plot_activation_marks_the_vanishing_sigmoid_slope():
    """Does marking z=5 on the sigmoid add a tangent and a point, and write the slope 0.0066 (DESIGN.md)?"""
    ax = P.plot_activation("sigmoid", mark=5)
    assert len(_lines(ax)) == 2 + 2  # g, g', the tangent, the marked point
    tangent = _lines(ax)[2]
    xs, ys = tangent.get_xdata(), tangent.get_ydata()
    assert (ys[1] - ys[0]) / (xs[1] - xs[0]) == pytest.approx(ACTIVATIONS["sigmoid"].derivative(5.0))
    assert any("0.0066" in text.get_text() for text in ax.texts)
    plt.close(ax.figure)


def test_plot_activation_rejects_softmax():
    """Does softmax (no elementwise derivative) raise ValueError without opening a figure?"""
    with pytest.raises(ValueError, match="softmax"):
        P.plot_activation("softmax")


@pytest.mark.parametrize("with_norms", [False, True])
def test_plot_layer_statistics_panels(with_norms):
    """Is there one histogram per layer, plus one bar per layer's gradient norm when given?"""
    rng = np.random.default_rng(0)
    activations = [rng.standard_normal((5, 3)), np.tanh(rng.standard_normal((5, 2))), rng.random((1, 1))]
    norms = [1e-4, 0.1, 2.0] if with_norms else None
    fig = P.plot_layer_statistics(activations, grad_norms=norms)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 3 + with_norms
    for ax, A in zip(fig.axes, activations):
        heights = [patch.get_height() for patch in ax.patches]
        assert sum(heights) == A.size  # every value lands in one histogram bin
    if with_norms:
        np.testing.assert_allclose([bar.get_height() for bar in fig.axes[-1].patches], norms)
    _drawn(fig)
    plt.close(fig)


def test_plot_layer_statistics_dict_into_given_figure():
    """With a dict of layers and a given Figure, does it draw there and use the dict's labels?"""
    fig = plt.figure()
    result = P.plot_layer_statistics({"hidden": np.ones((2, 2)), "output": np.zeros((2, 1))}, fig=fig)
    assert result is fig
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == ["hidden", "output"]
    plt.close(fig)


@given(data=st.data(), shape=shapes(max_m=4, max_n=4))
def test_plot_heatmap_is_centred_at_zero(data, shape):
    """Does the heatmap show the matrix itself with a symmetric colour range around 0 and one label per cell?"""
    matrix = data.draw(arrays(shape, -5.0, 5.0))
    fig, ax = plt.subplots()
    try:
        assert P.plot_heatmap(matrix, ax=ax, title="student - expected") is ax
        (image,) = ax.get_images()
        np.testing.assert_array_equal(image.get_array(), matrix)
        low, high = image.get_clim()
        assert low == -high and high >= np.max(np.abs(matrix))
        assert len(ax.texts) == matrix.size
    finally:
        plt.close(fig)


@pytest.mark.parametrize("matrix, shape", [(np.zeros((2, 3)), (2, 3)), ([1.0, -2.0], (1, 2)), (3.0, (1, 1))])
def test_plot_heatmap_tiny_and_all_zero_inputs(matrix, shape):
    """Do all-zero matrices, vectors and numbers draw (as (r, c) images) with a valid colour range?"""
    ax = P.plot_heatmap(matrix)
    (image,) = ax.get_images()
    assert image.get_array().shape == shape
    low, high = image.get_clim()
    assert low < 0 < high
    _drawn(ax.figure)
    plt.close(ax.figure)


def test_plots_given_axes_open_no_new_figures():
    """When given an Axes, do the ax-returning functions draw there without opening another figure?"""
    fig, ax = plt.subplots()
    count = len(plt.get_fignums())
    P.plot_costs([1.0, 0.5], ax=ax)
    P.plot_activation("tanh", ax=ax)
    P.plot_heatmap(np.eye(2), ax=ax)
    X, Y = xor()
    P.plot_decision_boundary(lambda p: sigmoid(p[:, :1]), X, Y, ax=ax, resolution=4)
    assert len(plt.get_fignums()) == count
    plt.close(fig)
