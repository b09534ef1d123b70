"""Figures for the lectures and the checks' feedback (matplotlib).

Every function draws into the Axes (or Figure) it is given, or makes a new pyplot one when
given None, and returns it, so that notebooks can combine plots. pyplot is imported only
inside the functions: ``import backproplab.plots`` stays cheap and works on any backend.
Scripts and tests should close what they open (``plt.close(ax.figure)``).

Shapes are DESIGN.md's: X (m, 2) for 2-d toy data, Y (m, 1) labels in {0, 1}.
"""
from __future__ import annotations

import numpy as np

from .activations import ACTIVATIONS, get_activation

__all__ = [
    "plot_decision_boundary", "plot_costs", "plot_activation", "plot_layer_statistics", "plot_heatmap",
]

# Two classes: blue for 0, red for 1, on a matching light background.
CLASS_COLORS = ("#1f77b4", "#d62728")
BOUNDARY_CMAP = "RdBu_r"
DIVERGING_CMAP = "RdBu_r"


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    return ax


def plot_decision_boundary(predict_fn, X, Y, ax=None, resolution=200, title=None):
    """Colour the plane by a classifier's output and overlay the data.

    predict_fn: (k, 2) points -> (k, 1) probabilities of class 1 (or 0/1 labels);
    X: (m, 2); Y: (m, 1) or (m,) labels in {0, 1}; resolution: grid points per axis.
    The 0.5 level (the decision boundary) is drawn as a black line. -> ax.
    """
    ax = _new_axes(ax)
    X = np.asarray(X, dtype=float)
    labels = np.asarray(Y).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be (m, 2) to draw a decision boundary, got {X.shape}")
    # A margin of 10% of the data's extent (at least 0.5) around the points.
    low, high = X.min(axis=0), X.max(axis=0)
    pad = np.maximum(0.1 * (high - low), 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    scores = np.asarray(predict_fn(points), dtype=float).reshape(grid_x.shape)
    ax.contourf(grid_x, grid_y, scores, levels=np.linspace(0.0, 1.0, 11), cmap=BOUNDARY_CMAP,
                alpha=0.35, extend="both")
    if scores.min() < 0.5 < scores.max():
        ax.contour(grid_x, grid_y, scores, levels=[0.5], colors="k", linewidths=1.5)
    for label, color in zip((0, 1), CLASS_COLORS):
        chosen = labels == label
        ax.scatter(X[chosen, 0], X[chosen, 1], s=18, color=color, edgecolors="k", linewidths=0.4,
                   label=f"y = {label}")
    ax.set_xlim(xs[0], xs[-1])
    ax.set_ylim(ys[0], ys[-1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_costs(history_or_costs, ax=None, title=None, log_scale=False, label="train"):
    """Learning curve(s).

    history_or_costs: a list of costs (one per step or epoch, plotted against 1..n), or the
    history dict of ``backproplab.model.train`` ("epoch", "train_cost", optionally
    "val_cost"), plotted against its epochs with one line per split. -> ax.
    """
    ax = _new_axes(ax)
    if isinstance(history_or_costs, dict):
        history = history_or_costs
        epochs = history.get("epoch") or list(range(1, len(history["train_cost"]) + 1))
        ax.plot(epochs, history["train_cost"], label="train")
        if history.get("val_cost"):
            ax.plot(epochs, history["val_cost"], label="validation")
        ax.set_xlabel("epoch")
        ax.legend(loc="best")
    else:
        costs = np.asarray(history_or_costs, dtype=float).reshape(-1)
        ax.plot(np.arange(1, len(costs) + 1), costs, label=label)
        ax.set_xlabel("iteration")
    ax.set_ylabel("cost J")
    if log_scale:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    return ax


def plot_activation(name, ax=None, z=(-6, 6), mark=None):
    """An activation g and its derivative g' over a range of pre-activations.

    name: a key of ``backproplab.activations.ACTIVATIONS`` (not softmax, which has no
    elementwise g'); z: (low, high) range; mark: optionally one z value, marked on g with its
    tangent and the slope g'(z) written next to it (e.g. sigmoid at 5: slope 0.0066). -> ax.
    """
    activation = get_activation(name)
    if activation.derivative is None:
        elementwise = sorted(k for k, v in ACTIVATIONS.items() if v.derivative is not None)
        raise ValueError(f"{name} has no elementwise derivative to plot; choose one of {elementwise}")
    ax = _new_axes(ax)
    zs = np.linspace(z[0], z[1], 400)
    ax.plot(zs, activation.forward(zs), label=f"g(z) = {name}(z)")
    ax.plot(zs, activation.derivative(zs), "--", label="g'(z)")
    if mark is not None:
        z0 = float(mark)
        g0 = float(activation.forward(np.array(z0)))
        slope = float(activation.derivative(np.array(z0)))
        half_width = 0.15 * (z[1] - z[0])
        tangent_z = np.array([z0 - half_width, z0 + half_width])
        ax.plot(tangent_z, g0 + slope * (tangent_z - z0), color="k", linewidth=1, label="tangent")
        ax.plot([z0], [g0], "o", color="k")
        ax.annotate(f"slope g'({z0:g}) = {slope:.2g}", xy=(z0, g0), xytext=(10, -20),
                    textcoords="offset points", fontsize="small")
    ax.grid(alpha=0.3)  # a grid rather than axis lines: the Axes' only lines are g, g' and the mark
    ax.set_xlabel("z")
    ax.set_title(name)
    ax.legend(loc="best", fontsize="small")
    return ax


def _per_layer(values, prefix):
    """A list or dict of per-layer values -> (labels, values)."""
    if isinstance(values, dict):
        return list(values), list(values.values())
    values = list(values)
    return [f"{prefix}{l}" for l in range(1, len(values) + 1)], values


def plot_layer_statistics(activations, grad_norms=None, fig=None):
    """How activations (and gradients) look layer by layer (lecture 05, initialization).

    activations: a list [A1, A2, ...] of arrays (m, n_l), or a dict {label: array};
    grad_norms: optional list or dict of one number per layer (e.g. ||dW[l]||_F).
    Draws one histogram of each layer's activation values (titled with mean and std) and,
    with grad_norms, a bar chart of the norms. -> fig.
    The panels are placed with fixed margins (no tight_layout, which measured every tick label and took
    most of an explorer's redraw).
    """
    labels, arrays = _per_layer(activations, "A")
    if not arrays:
        raise ValueError("activations is empty: pass one array per layer")
    panels = len(arrays) + (grad_norms is not None)
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(2.6 * panels, 2.6))
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, label, A in zip(axes, labels, arrays):
        values = np.asarray(A, dtype=float).ravel()
        ax.hist(values, bins=30, color="#1f77b4")
        ax.set_title(f"{label}\nmean {values.mean():.2g}, std {values.std():.2g}", fontsize="small")
        ax.tick_params(labelsize="x-small")
    if grad_norms is not None:
        norm_labels, norms = _per_layer(grad_norms, "dW")
        ax = axes[-1]
        ax.bar(range(len(norms)), np.asarray(norms, dtype=float), color="#ff7f0e")
        step = 1 if len(norms) <= 12 else 5  # a label per layer would crowd (and slow) a deep network's panel
        ax.set_xticks(range(0, len(norms), step), norm_labels[::step], fontsize="x-small")
        ax.set_title("gradient norm per layer", fontsize="small")
        if len(norms) and min(norms) > 0:
            ax.set_yscale("log")  # norms often span orders of magnitude (vanishing gradients)
    fig.subplots_adjust(left=0.5 / panels, right=1 - 0.1 / panels, bottom=0.12, top=0.78, wspace=0.45)
    return fig


def plot_heatmap(matrix, ax=None, title=None, annotate=None):
    """A small matrix as coloured cells, with a diverging colormap centred at 0.

    matrix: (r, c) array (a vector is drawn as one row, a number as 1 x 1); used by the checks
    to show student - expected, so zero is white, positive red, negative blue.
    annotate: write each value in its cell (default: when the matrix has at most 64 cells). -> ax.
    """
    ax = _new_axes(ax)
    M = np.atleast_2d(np.asarray(matrix, dtype=float))
    if M.ndim != 2:
        raise ValueError(f"plot_heatmap needs a matrix, got shape {np.shape(matrix)}")
    finite = M[np.isfinite(M)]
    limit = float(np.max(np.abs(finite))) if finite.size else 0.0
    limit = limit or 1.0  # an all-zero matrix still gets a valid symmetric colour range
    image = ax.imshow(M, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if annotate is None:
        annotate = M.size <= 64
    if annotate:
        for (i, j), value in np.ndenumerate(M):
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize="x-small")
    ax.set_xticks(range(M.shape[1]))
    ax.set_yticks(range(M.shape[0]))
    ax.set_xlabel(f"column (of {M.shape[1]})")
    ax.set_ylabel(f"row (of {M.shape[0]})")
    if title:
        ax.set_title(title)
    return ax
