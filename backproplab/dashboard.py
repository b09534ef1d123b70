"""A per-layer training dashboard (lectures 05 and 06): how each layer's gradients, activations and
updates evolve while a network trains, for a chosen initialization and activation.

Three numbers per layer l and recorded step, with DESIGN.md's shapes (dz[l], A[l]: (m, n_l);
W[l]: (n_l, n_{l-1})):
- grad: ||dz[l]||_F / m, the size of the error signal reaching layer l (the library's dz carries no
  1/m). Vanishing gradients fall toward the input, exploding ones grow.
- spread: the standard deviation of A[l]'s entries. Saturated or dead units show as a collapse.
- ratio: ||learning_rate * dW[l]||_F / ||W[l]||_F, how much one step changes the weights
  (around 1e-3 is healthy; much smaller: the layer barely learns; near 1: it is thrown around).

``trace_training`` computes them (plain NumPy, no figure); ``plot_training_trace`` draws them;
``training_dashboard`` wraps both in ipywidgets with toggles, redrawing while it trains.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .init import INIT_METHODS, initialize_parameters
from .model import TrainOptions, compute_cost, model_backward, model_forward, update_parameters

__all__ = ["TrainingTrace", "trace_training", "plot_training_trace", "training_dashboard"]

HEALTHY_RATIO = 1e-3
# trace_training's defaults: 100 updates, a record every 5.
TRACE_OPTIONS = TrainOptions(epochs=100, record_every=5)
# training_dashboard's defaults: 60 updates per Train click, a record every 5.
DASHBOARD_OPTIONS = TrainOptions(epochs=60, record_every=5)
# The TrainOptions fields trace_training does not use (it trains full-batch, plain gradient descent).
TRACE_FIXED = ("batch_size", "momentum", "lambd", "dropout", "progress")


@dataclass
class TrainingTrace:
    """Per-layer statistics recorded during training: k recorded steps, L layers.

    steps: (k,) the step index (0 = before the first update); cost: (k,);
    grad, spread, ratio: (k, L), column l-1 for layer l (see the module docstring).
    """
    steps: np.ndarray
    cost: np.ndarray
    grad: np.ndarray
    spread: np.ndarray
    ratio: np.ndarray
    init: str
    activation: str


def trace_training(X, Y, hidden_sizes, activation, init, options: TrainOptions = TRACE_OPTIONS, *, output="sigmoid",
                   on_record=None):
    """Train a fully connected network with full-batch gradient descent and record the per-layer statistics.

    X: (m, n0); Y: (m, nL); hidden_sizes: [n1, ..., n_{L-1}]; activation: the hidden layers' activation
    name; init: one of INIT_METHODS; options: ``learning_rate``, ``epochs`` (here: updates, one per epoch),
    ``record_every`` (and before the first and after the last update) and ``seed`` (of the initialization) of a
    ``TrainOptions``, whose other fields must keep their defaults; output: the output activation (it fixes the
    loss); on_record: optional callable(trace so far), e.g. to redraw a figure while training. -> TrainingTrace.
    """
    if init not in INIT_METHODS:
        raise ValueError(f"unknown initialization {init!r}; choose one of {list(INIT_METHODS)}")
    unused = [name for name in TRACE_FIXED if getattr(options, name) != getattr(TRACE_OPTIONS, name)]
    if unused:
        raise ValueError(f"trace_training trains full-batch by plain gradient descent: {', '.join(unused)} "
                         f"must keep TrainOptions' defaults")
    learning_rate, steps, record_every = options.learning_rate, options.epochs, options.record_every
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    m = X.shape[0]
    sizes = [X.shape[1], *hidden_sizes, Y.shape[1]]
    activations = [activation] * len(hidden_sizes) + [output]
    params = initialize_parameters(sizes, init, seed=options.seed)
    L = len(activations)
    rows = {"steps": [], "cost": [], "grad": [], "spread": [], "ratio": []}

    def snapshot():
        return TrainingTrace(*(np.array(rows[key], dtype=float) for key in ("steps", "cost", "grad", "spread", "ratio")),
                             init=init, activation=activation)

    for step in range(steps + 1):
        AL, caches = model_forward(X, params, activations)
        grads = model_backward(AL, Y, caches, activations)
        if step % record_every == 0 or step == steps:
            outputs = [caches[l][0] for l in range(1, L)] + [AL]   # A[l] is the input cached by layer l + 1
            rows["steps"].append(step)
            rows["cost"].append(compute_cost(AL, Y, activations))
            rows["grad"].append([np.linalg.norm(grads[f"dz{l}"]) / m for l in range(1, L + 1)])
            rows["spread"].append([float(np.std(A)) for A in outputs])
            rows["ratio"].append([learning_rate * np.linalg.norm(grads[f"dW{l}"]) / max(np.linalg.norm(params[f"W{l}"]), 1e-300)
                                  for l in range(1, L + 1)])
            if on_record is not None:
                on_record(snapshot())
        if step < steps:
            params = update_parameters(params, grads, learning_rate)
    return snapshot()


def plot_training_trace(trace, fig=None):
    """Draw a TrainingTrace: the cost, then grad, spread and update ratio per layer against the step
    (one line per layer, darker = deeper). -> fig."""
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(13, 3.2))
    fig.clear()
    axes = fig.subplots(1, 4)
    L = trace.grad.shape[1] if trace.grad.ndim == 2 else 0
    colors = [(0.1 + 0.8 * (l / max(L - 1, 1)),) * 2 + (0.9,) for l in range(L)]
    axes[0].plot(trace.steps, trace.cost, color="black")
    axes[0].set_title("cost")
    panels = ((axes[1], trace.grad, "||dz[l]|| / m (log)", True), (axes[2], trace.spread, "std of A[l]", False),
              (axes[3], trace.ratio, "update / weight (log)", True))
    for ax, values, title, log in panels:
        for l in range(L):
            ax.plot(trace.steps, values[:, l], color=colors[l], label=f"layer {l + 1}")
        ax.set_title(title)
        if log and np.all(values[np.isfinite(values)] > 0) and values.size:
            ax.set_yscale("log")
    axes[3].axhline(HEALTHY_RATIO, color="tab:green", linestyle="--", linewidth=1)
    axes[3].text(0.02, 0.02, "green: 1e-3, healthy", transform=axes[3].transAxes, fontsize="x-small", color="tab:green")
    if L:
        axes[1].legend(fontsize="x-small", ncol=2)
    for ax in axes:
        ax.set_xlabel("step")
        ax.tick_params(labelsize="x-small")
    fig.suptitle(f"init {trace.init}, {trace.activation} hidden layers", fontsize="medium")
    fig.tight_layout()
    return fig


def training_dashboard(X, Y, *, output="sigmoid", options: TrainOptions = DASHBOARD_OPTIONS):
    """An ipywidgets dashboard: toggles for the initialization and the hidden activation, sliders for depth,
    width and learning rate, and a Train button; the four panels redraw while the network trains.

    X: (m, n0); Y: (m, nL); options: as ``trace_training``'s (the slider sets the learning rate). Returns the
    widget (display it, or make it a cell's last expression).
    """
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Image, clear_output, display

    init = widgets.ToggleButtons(options=list(INIT_METHODS), value="xavier", description="init")
    activation = widgets.ToggleButtons(options=["tanh", "relu", "sigmoid"], value="tanh", description="activation")
    depth = widgets.IntSlider(value=6, min=1, max=12, description="hidden layers", continuous_update=False)
    width = widgets.IntSlider(value=16, min=4, max=64, step=4, description="width", continuous_update=False)
    rate = widgets.FloatLogSlider(value=0.1, base=10, min=-3, max=0.5, description="learning rate",
                                  continuous_update=False)
    button = widgets.Button(description="Train", button_style="primary")
    out = widgets.Output()

    def redraw(trace):
        if len(trace.steps) % 4 != 1 and trace.steps[-1] != options.epochs:   # a few frames: each costs ~0.2 s
            return
        fig = plot_training_trace(trace)
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=80)   # a PNG whatever the backend (a Figure needs pyplot's inline one)
        plt.close(fig)
        with out:
            clear_output(wait=True)
            display(Image(data=png.getvalue(), format="png"))

    def train(_=None):
        button.disabled = True
        try:
            trace_training(X, Y, [width.value] * depth.value, activation.value, init.value,
                           dataclasses.replace(options, learning_rate=rate.value), output=output, on_record=redraw)
        finally:
            button.disabled = False

    button.on_click(train)
    controls = widgets.VBox([init, activation, widgets.HBox([depth, width, rate]), button])
    train()
    return widgets.VBox([controls, out])
