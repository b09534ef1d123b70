"""backproplab.compare_grads: the four statuses, the table, the figure and the widget."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from backproplab.compare_grads import compare_gradients, gradient_explorer, gradient_table, plot_gradient_comparison  # noqa: E402


def _pair():
    rng = np.random.default_rng(0)
    autograd = {"dA": rng.normal(size=(3, 4)), "dB": rng.normal(size=(1, 4)), "dC": rng.normal(size=(3, 1)),
                "dD": rng.normal(size=(2, 2)), "dE": rng.normal(size=(2, 3))}
    manual = {"dA": autograd["dA"].copy(), "dB": autograd["dB"] * (1 + 1e-14), "dC": autograd["dC"] * 2,
              "dD": autograd["dD"].sum(axis=0, keepdims=True)}
    return manual, autograd


def test_statuses_are_exact_approximate_wrong_and_missing_with_the_largest_difference():
    """Is a bitwise copy exact, a rounding-level difference approximate, a doubled array wrong (largest difference
    reported), and an absent key or another shape missing?"""
    manual, autograd = _pair()
    rows = {row.name: row for row in compare_gradients(manual, autograd)}
    assert [row.name for row in compare_gradients(manual, autograd)] == list(autograd)
    assert rows["dA"].status == "exact" and rows["dA"].max_difference == 0.0
    assert rows["dB"].status == "approximate" and 0 < rows["dB"].max_difference < 1e-12
    assert rows["dC"].status == "wrong"
    assert np.isclose(rows["dC"].max_difference, np.max(np.abs(autograd["dC"])))
    assert rows["dD"].status == "missing" and rows["dE"].status == "missing" and np.isnan(rows["dE"].max_difference)


def test_table_figure_and_widget_show_every_row():
    """Does the table list every gradient with its status and the counts, the figure draw one bar per gradient, and
    the widget offer every gradient?"""
    manual, autograd = _pair()
    rows = compare_gradients(manual, autograd)
    table = gradient_table(rows)
    assert all(f"| `{name}` |" in table for name in autograd)
    assert "1 exact, 1 approximate, 1 wrong, 2 missing" in table
    fig = plot_gradient_comparison(rows)
    assert len(fig.axes[0].patches) == len(autograd)
    widget = gradient_explorer(manual, autograd)
    assert len(widget.children[0].options) == len(autograd)
