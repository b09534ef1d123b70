"""backproplab.dashboard: the per-layer statistics while training, their figure and the widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after choosing the backend)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from backproplab.dashboard import TrainingTrace, plot_training_trace, trace_training, training_dashboard  # noqa: E402
from backproplab.data import make_moons  # noqa: E402
from backproplab.init import INIT_METHODS, initialize_parameters  # noqa: E402
from backproplab.model import TrainOptions, model_backward, model_forward  # noqa: E402


@pytest.fixture(scope="module")
def moons():
    return make_moons(m=64, noise=0.2, seed=0)


def test_trace_records_one_row_per_recorded_step_and_one_column_per_layer(moons):
    """Are steps 0, 5, ..., 20 (and the last, 23) recorded, with one column per layer (4 hidden + output)?"""
    X, Y = moons
    trace = trace_training(X, Y, [8, 8, 8, 8], "tanh", "xavier", TrainOptions(epochs=23, record_every=5))
    assert trace.steps.tolist() == [0, 5, 10, 15, 20, 23]
    for values in (trace.grad, trace.spread, trace.ratio):
        assert values.shape == (6, 5) and np.all(np.isfinite(values))
    assert trace.cost.shape == (6,) and trace.cost[-1] < trace.cost[0]


def test_the_first_row_is_the_initial_networks_statistics(moons):
    """Does step 0 hold ||dz[l]||/m, std of A[l] and lr ||dW[l]|| / ||W[l]|| of the initial network, computed here
    by hand?"""
    X, Y = moons
    trace = trace_training(X, Y, [6], "relu", "he", TrainOptions(learning_rate=0.3, epochs=0, seed=4))
    params = initialize_parameters([2, 6, 1], "he", seed=4)
    AL, caches = model_forward(X, params, ["relu", "sigmoid"])
    grads = model_backward(AL, Y, caches, ["relu", "sigmoid"])
    m = X.shape[0]
    np.testing.assert_allclose(trace.grad[0], [np.linalg.norm(grads["dz1"]) / m, np.linalg.norm(grads["dz2"]) / m])
    np.testing.assert_allclose(trace.spread[0], [np.std(caches[1][0]), np.std(AL)])
    np.testing.assert_allclose(trace.ratio[0], [0.3 * np.linalg.norm(grads[f"dW{l}"]) / np.linalg.norm(params[f"W{l}"])
                                                for l in (1, 2)])


def test_small_sigmoid_weights_make_gradients_vanish_toward_the_input(moons):
    """With sigmoid hidden layers and N(0, 0.01^2) weights, is the first layer's error signal 1000x smaller than
    the output's, falling layer by layer?"""
    X, Y = moons
    trace = trace_training(X, Y, [16] * 6, "sigmoid", "random", TrainOptions(epochs=0))
    grad = trace.grad[0]
    assert grad[0] < 1e-3 * grad[-1]
    assert np.all(np.diff(grad) > 0)


def test_he_keeps_relu_activations_spread_while_small_weights_collapse_them(moons):
    """Through 6 ReLU layers of width 16, does He keep the activations' spread within 5x of the first layer's, while
    N(0, 0.01^2) weights shrink it a millionfold?"""
    X, Y = moons
    he = trace_training(X, Y, [16] * 6, "relu", "he", TrainOptions(epochs=0)).spread[0]
    small = trace_training(X, Y, [16] * 6, "relu", "random", TrainOptions(epochs=0)).spread[0]
    assert 0.2 < he[5] / he[0] < 5
    assert small[5] < 1e-6 * small[0]


def test_zero_initialization_with_tanh_learns_no_weight_at_all(moons):
    """With zero weights and tanh, do the hidden activations stay exactly 0, every weight update 0, and the cost at
    ln 2 (balanced moons: the output bias is already optimal), however long it trains?"""
    X, Y = moons
    trace = trace_training(X, Y, [8, 8], "tanh", "zeros", TrainOptions(epochs=30, record_every=10))
    assert np.all(trace.spread[:, :2] == 0)
    assert np.all(trace.ratio == 0)
    np.testing.assert_allclose(trace.cost, np.log(2))


def test_bad_arguments_are_named(moons):
    X, Y = moons
    with pytest.raises(ValueError, match="unknown initialization 'glorot'"):
        trace_training(X, Y, [4], "tanh", "glorot")
    with pytest.raises(ValueError, match="record_every"):
        trace_training(X, Y, [4], "tanh", "he", TrainOptions(record_every=0))
    with pytest.raises(ValueError, match="trace_training trains full-batch by plain gradient descent: momentum"):
        trace_training(X, Y, [4], "tanh", "he", TrainOptions(momentum=0.9))


def test_plot_draws_cost_and_three_per_layer_panels_with_the_healthy_ratio(moons):
    """Does the figure have the cost panel and three panels with one line per layer, log scales for the
    gradient and the ratio, and the 1e-3 reference line?"""
    X, Y = moons
    trace = trace_training(X, Y, [8, 8], "tanh", "xavier", TrainOptions(epochs=10, record_every=5))
    fig = plot_training_trace(trace)
    try:
        cost, grad, spread, ratio = fig.axes
        assert len(cost.lines) == 1 and [len(ax.lines) for ax in (grad, spread)] == [3, 3]
        assert grad.get_yscale() == "log" and ratio.get_yscale() == "log" and spread.get_yscale() == "linear"
        assert any(np.allclose(line.get_ydata(), 1e-3) for line in ratio.lines)
        assert "init xavier, tanh" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_empty_trace_draws_the_four_titled_panels_with_no_layer_lines():
    """Does a trace with no steps draw the cost and three titled per-layer panels, with no layer lines and no
    legend (a dashboard before its first training run)?"""
    empty = np.zeros((0, 0))
    fig = plot_training_trace(TrainingTrace(np.zeros(0), np.zeros(0), empty, empty, empty, "he", "relu"))
    try:
        cost, grad, spread, ratio = fig.axes
        assert [ax.get_title() for ax in fig.axes] == ["cost", "||dz[l]|| / m (log)", "std of A[l]", "update / weight (log)"]
        assert [len(ax.lines) for ax in (grad, spread)] == [0, 0] and len(cost.lines[0].get_xdata()) == 0
        assert grad.get_legend() is None and "init he, relu" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_dashboard_offers_every_initialization_and_retrains_on_click(moons):
    """Does the widget offer every initialization and three activations, train once when built, and again (with
    the new choice) when Train is clicked?"""
    import ipywidgets as widgets

    X, Y = moons
    dashboard = training_dashboard(X, Y, options=TrainOptions(epochs=4, record_every=2))
    controls, out = dashboard.children
    init, activation, sliders, button = controls.children
    assert list(init.options) == list(INIT_METHODS) and set(activation.options) == {"tanh", "relu", "sigmoid"}
    assert isinstance(out, widgets.Output) and not button.disabled
    init.value, activation.value = "zeros", "relu"
    button.click()
    assert not button.disabled
    plt.close("all")
