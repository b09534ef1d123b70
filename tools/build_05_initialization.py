"""Build solutions/05-initialization/initialization.ipynb (lecture 05) from the cells below.

Run:  .venv/bin/python tools/build_05_initialization.py
The notebook is written normalized (no outputs); `bplab release 05-initialization` then
generates the student version in course/. The cell helpers (md, code, setup, answer, tests,
hints, manual) come from tools/notebook_builder.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/: the shared cell factories
from notebook_builder import ROOT, answer, assemble, code, hints, main, manual, md, setup, tests  # noqa: E402,F401

from backproplab.grading.samples.lecture05 import ANSWERS, SETUP  # noqa: E402  (one source for notebook and catalog)

TARGET = ROOT / "solutions" / "05-initialization" / "initialization.ipynb"

CELLS = [
    md(r"""
# Lecture 05: Weight initialization

**Learning goals.** After this lecture you can
1. explain why starting every weight at zero (or at any one constant) makes all hidden units of a layer identical
   forever, and show it by training;
2. state the three scales of random initialization, small random ($0.01\cdot\mathcal N(0,1)$), Xavier and He, with
   their fans, and derive where $\sqrt{2/n_{l-1}}$ comes from;
3. implement `init_std` and `initialize_parameters` and check them *statistically*;
4. measure the spread of activations and the size of gradients layer by layer in a deep network, and recognise
   vanishing and exploding gradients;
5. match the NumPy initializers with `torch.nn.init`.

**How this notebook works.** Run the cells from the top. Exercises have an answer cell (replace
`raise NotImplementedError()` with your code) followed by a test cell: `check(...)` draws fresh inputs, compares
your result with the reference and, if something is wrong, *names the mistake*. Hints are folded under "Hint 1,
Hint 2" before each answer cell. More tests run when your work is graded.

**Notation** (batch-first, as in PyTorch): $X$ is $(m, n_0)$, one example per row; $W^{[l]}$ is
$(n_l, n_{l-1})$; $B^{[l]}$ is $(1, n_l)$; $Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}$; $A^{[l]} = g^{[l]}(Z^{[l]})$;
$A^{[0]} = X$. Layer $l$'s **fan-in** is $n_{l-1}$ (inputs per unit, `W.shape[1]`) and its **fan-out** is $n_l$
(`W.shape[0]`).
"""),
    setup(SETUP, "setup_imports"),
    code(r"""
# The checks, and tools for the demonstrations (not needed by your answers).
import ipywidgets as widgets
import matplotlib.pyplot as plt

import backproplab as bl  # the reference library: bl.initialize_parameters, bl.model_forward, bl.train, ...
from backproplab.checks import check
from backproplab.data import make_moons
from backproplab.init import init_std as reference_init_std
from backproplab.plots import plot_decision_boundary, plot_layer_statistics

rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. Why not start at zero? Symmetry

Training starts from *some* weights. The tempting choice is $W^{[l]} = 0$. Look at what backpropagation then does
to a hidden layer. If all rows of $W^{[1]}$ are equal, every hidden unit computes the same $Z^{[1]}_{:,j}$ and the
same $A^{[1]}_{:,j}$. If also all entries of $W^{[2]}$ are equal, every unit receives the same upstream gradient
$dA^{[1]} = dz^{[2]} W^{[2]}$, so $dz^{[1]}$ has equal columns and

$$ dW^{[1]} = \tfrac{1}{m}\, dz^{[1]\top} A^{[0]} \quad (n_1, n_0) $$

has equal rows. The update keeps the rows equal, and so on forever: the $n_1$ units stay copies of one unit. A
layer of 6 identical units can represent nothing that one unit cannot. Let us train a 2-6-1 network (tanh hidden
units, a sigmoid output) on the two-moons data, once from zeros, once from one constant, and once from Xavier's random weights.
"""),
    code(r"""
X_moons, Y_moons = make_moons(m=200, noise=0.2, seed=0)     # X (200, 2), Y (200, 1)
moon_sizes, moon_activations = [2, 6, 1], ["tanh", "sigmoid"]

starts = {
    "zeros": bl.initialize_parameters(moon_sizes, "zeros"),
    "constant 0.3": {key: np.full_like(value, 0.3 if key.startswith("W") else 0.0)
                     for key, value in bl.initialize_parameters(moon_sizes, "zeros").items()},
    "xavier": bl.initialize_parameters(moon_sizes, "xavier", seed=1),
}
trained = {}
for name, params in starts.items():
    trained[name], history = bl.train(X_moons, Y_moons, params, moon_activations, learning_rate=1.0,
                                      epochs=1000, progress=False)
    W1 = trained[name]["W1"]
    distinct_rows = len(np.unique(W1.round(10), axis=0))
    print(f"{name:>12}: accuracy {history['train_acc'][-1]:.3f}; W1 (6, 2) has {distinct_rows} distinct row(s); "
          f"W2 = {trained[name]['W2'].round(3)}")

for name in ("zeros", "constant 0.3"):   # symmetric starts: the 6 hidden units are still one unit, repeated
    assert np.allclose(trained[name]["W1"], trained[name]["W1"][0]) and np.allclose(trained[name]["W2"], trained[name]["W2"][0, 0])
assert len(np.unique(trained["xavier"]["W1"].round(10), axis=0)) == 6
final_accuracy = {name: bl.model.accuracy(X_moons, Y_moons, params, moon_activations) for name, params in trained.items()}
assert final_accuracy["xavier"] > max(final_accuracy["zeros"], final_accuracy["constant 0.3"])
"""),
    md(r"""
The figure shows the trained $W^{[1]}$ (one row per hidden unit) and what each network learned. The symmetric
starts give identical rows and a boundary no better than a single unit's; the random start uses its six units.
"""),
    code(r"""
fig, axes = plt.subplots(2, 3, figsize=(11, 6.5), gridspec_kw={"height_ratios": [1, 2]})
for column, (name, params) in enumerate(trained.items()):
    ax = axes[0, column]
    image = ax.imshow(params["W1"].T, cmap="coolwarm", vmin=-4, vmax=4, aspect="auto")
    ax.set_title(f"{name}: trained W1 (rows = units)", fontsize=9)
    ax.set_xlabel("hidden unit j"); ax.set_yticks([0, 1], ["from x1", "from x2"])
    accuracy = bl.model.accuracy(X_moons, Y_moons, params, moon_activations)
    plot_decision_boundary(lambda P, params=params: bl.model_forward(P, params, moon_activations)[0],
                           X_moons, Y_moons, ax=axes[1, column], resolution=80, title=f"accuracy {accuracy:.2f}")
fig.colorbar(image, ax=axes[0, :], shrink=0.8)
plt.show()
"""),
    md(r"""
Random initialization **breaks the symmetry**. Biases do not need it (the random weights already make the units
differ), so biases always start at zero. The next question is *how large* the random weights should be.

## 2. How large? Small random, Xavier and He

Take one unit of layer $l$: $z = \sum_{k=1}^{n_{l-1}} w_k a_k$ (bias 0). With independent weights of mean 0 and
variance $\mathrm{Var}(w)$, independent of the inputs,

$$ \mathrm{Var}(z) = n_{l-1}\, \mathrm{Var}(w)\, \mathbb E[a^2]. $$

* With a fixed small scale, $\mathrm{Var}(w) = 0.01^2$, each layer multiplies the spread by about
  $\sqrt{n_{l-1}}\cdot 0.01$ (0.1 for 100 units): after ten layers the signal is $10^{-10}$ of what it was.
* To keep the spread from layer to layer, choose $\mathrm{Var}(w) = 1/n_{l-1}$ (for tanh, which is the identity
  near 0).
* **He** (Kaiming, 2015): ReLU sets half of the $z$ to 0, so $\mathbb E[a^2] = \tfrac12 \mathrm{Var}(z)$. To make
  up for the half, double the variance: $\mathrm{Var}(w) = 2/n_{l-1}$.
* **Xavier** (Glorot, 2010): the backward pass $dA^{[l-1]} = dz^{[l]} W^{[l]}$ sums over the $n_l$ units, so it
  wants $\mathrm{Var}(w) = 1/n_l$. Xavier compromises between the two fans:
  $\mathrm{Var}(w) = 2/(n_{l-1} + n_l)$.

| method | $W^{[l]}$ $(n_l, n_{l-1})$ has entries drawn from | std | `torch.nn.init` |
|---|---|---|---|
| `"zeros"` | $0$ | $0$ | `zeros_` |
| `"random"` | $0.01\cdot\mathcal N(0, 1)$ | $0.01$ | `normal_(std=0.01)` |
| `"xavier"` | $\mathcal N\!\left(0, \frac{2}{n_{l-1} + n_l}\right)$ | $\sqrt{2/(n_{l-1}+n_l)}$ | `xavier_normal_` |
| `"he"` | $\mathcal N\!\left(0, \frac{2}{n_{l-1}}\right)$ | $\sqrt{2/n_{l-1}}$ | `kaiming_normal_(nonlinearity="relu")` |

and $B^{[l]}$ $(1, n_l)$ is zeros for every method. Note that $\mathcal N(0, \sigma^2)$ is written with the
*variance*; NumPy's `rng.normal(0, scale)` and our formulas take the *standard deviation* $\sigma$.

### Exercise 1: `init_std(method, fan_in, fan_out) -> float`

The standard deviation of $W^{[l]}$'s entries for a layer with `fan_in` $= n_{l-1}$ and `fan_out` $= n_l$, for the
four methods in the table.
"""),
    hints(
        "Four cases: `if method == \"zeros\": ...`. `math.sqrt` (or `np.sqrt`) gives the square root.",
        "He uses **only** `fan_in`; Xavier uses `fan_in + fan_out`. Both put the 2 *inside* the square root: "
        "`math.sqrt(2.0 / fan_in)`, not `2.0 / fan_in` (that is the variance).",
    ),
    answer("init_std", r'''
def init_std(method, fan_in, fan_out):
    """Standard deviation of the initial weights of one layer.

    Inputs:
    - method: "zeros", "random", "xavier" or "he".
    - fan_in: int, n_{l-1}, the number of inputs of each unit (W.shape[1]).
    - fan_out: int, n_l, the number of units of the layer (W.shape[0]).

    Returns:
    - float: 0 (zeros), 0.01 (random), sqrt(2 / (fan_in + fan_out)) (xavier), sqrt(2 / fan_in) (he).
    """
''', ANSWERS["init_std"]),
    *tests("init_std", 1, 1),
    md(r"""
### Exercise 2: `initialize_parameters(layer_sizes, method, seed=None) -> params`

* `layer_sizes`: $[n_0, n_1, \dots, n_L]$; `method` as in exercise 1; `seed`: an int or `None`.
* Returns a dict with `"W1", "B1", ..., "WL", "BL"`: `W{l}` of shape $(n_l, n_{l-1})$ with independent
  $\mathcal N(0, \text{std}^2)$ entries (std from **your** `init_std`), and `B{l}` zeros of shape $(1, n_l)$.
* Draw every random number from **one** generator `rng = np.random.default_rng(seed)`, so that the same seed gives
  the same parameters (experiments can be repeated) and `seed=None` gives fresh ones.

Random weights cannot be compared entry by entry with a reference. The check judges them **statistically**: it
draws layers whose fan-in and fan-out differ a lot (so a wrong fan shows) and checks that, in every layer with
enough entries, the mean is 0, the standard deviation is the expected one, and the distribution is normal, each
within 5 standard errors (a correct answer fails about once in 50,000 runs). It also calls your function twice with
the same seed, and once with another seed.
"""),
    hints(
        "Loop `for l in range(1, len(layer_sizes))` with `fan_in, fan_out = layer_sizes[l - 1], layer_sizes[l]`.",
        "`init_std(method, fan_in, fan_out) * rng.standard_normal((fan_out, fan_in))` has the shape "
        "$(n_l, n_{l-1})$ of `nn.Linear.weight`; `np.zeros((1, fan_out))` is the bias row. Create `rng` once, before "
        "the loop, and never call `np.random.randn` (the global generator ignores your seed).",
    ),
    answer("initialize_parameters", r'''
def initialize_parameters(layer_sizes, method, seed=None):
    """Initial parameters of a fully connected network.

    Inputs:
    - layer_sizes: list of ints [n0, n1, ..., nL], L >= 1.
    - method: "zeros", "random", "xavier" or "he" (the std of each W[l] comes from init_std).
    - seed: int or None, for np.random.default_rng(seed); the same seed gives the same params.

    Returns:
    - params: dict with, for l = 1..L, "W{l}": (n_l, n_{l-1}) entries ~ N(0, std^2) and "B{l}": (1, n_l) zeros.
    """
''', ANSWERS["initialize_parameters"]),
    *tests("initialize_parameters", 1, 2),
    md(r"""
The three scales side by side for the 784-512-512-10 digit classifier's first layer $W^{[1]}$ $(512, 784)$ (drawn
with the library's `bl.initialize_parameters`, which your function must agree with). He's weights are the widest,
Xavier's a little narrower (it also counts the 512 outputs), and $0.01$ is far narrower than both.
"""),
    code(r"""
digit_sizes = [784, 512, 512, 10]
fig, ax = plt.subplots(figsize=(7, 3.2))
for method in ("random", "xavier", "he"):
    W1 = bl.initialize_parameters(digit_sizes, method, seed=0)["W1"]
    expected = reference_init_std(method, 784, 512)
    ax.hist(W1.ravel(), bins=120, histtype="step", density=True, label=f"{method}: std {W1.std():.4f} (formula {expected:.4f})")
    assert abs(W1.std() / expected - 1) < 5 / np.sqrt(2 * W1.size)   # within 5 standard errors
ax.set_xlim(-0.2, 0.2); ax.set_xlabel("entry of W[1]"); ax.set_yscale("log"); ax.legend(fontsize=8)
ax.set_title("initial weights of a (512, 784) layer")
plt.show()
"""),
    md(r"""
## 3. Activations layer by layer in a deep network

The scale does not matter much for 2 layers; it decides everything for 10. Take a deep stack of 10 layers of 100
units, all with the same activation $g$, and push $m = 1000$ standard-normal examples through it:
$A^{[0]} = X$ $(1000, 100)$, $A^{[l]} = g(A^{[l-1]} W^{[l]\top} + B^{[l]})$ $(1000, 100)$. The spread
$\mathrm{std}(A^{[l]})$ over all $m \cdot n_l$ entries tells whether the signal survives.

### Exercise 3: `layer_statistics(X, params, activation) -> list of L floats`

* `X`: $(m, n_0)$; `params`: `W1, B1, ..., WL, BL` with `W{l}` $(n_l, n_{l-1})$, `B{l}` $(1, n_l)$; `activation`:
  a name such as `"tanh"` or `"relu"`, used in **every** layer (look it up in `ACTIVATION_FUNCTIONS`).
* Returns `[np.std(A1), ..., np.std(AL)]`: one number per layer, the standard deviation over all entries of
  $A^{[l]}$ (after the activation). The number of layers is `len(params) // 2`.
"""),
    hints(
        "Keep one variable `A` (start with `X`) and overwrite it layer by layer: `Z = A @ W.T + B`, then `A = g(Z)`.",
        "Append `float(np.std(A))` after each layer's activation, not `np.std(Z)`, and not the std of `X` itself.",
    ),
    answer("layer_statistics", r'''
def layer_statistics(X, params, activation):
    """Spread of the activations of a deep network that uses one activation in every layer.

    Inputs:
    - X: (m, n0) inputs, one example per row.
    - params: dict with W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l) for l = 1..L.
    - activation: name of g (a key of ACTIVATION_FUNCTIONS), applied in every layer.

    Returns:
    - stds: list of L floats, stds[l - 1] = np.std(A[l]) over all m * n_l entries of A[l] = g(A[l-1] @ W[l].T + B[l]).
    """
''', ANSWERS["layer_statistics"]),
    *tests("layer_statistics", 1, 1),
    md(r"""
The demonstrations below use the library (`bl.model_forward`), so they run even before you solve the exercises;
the deep network keeps every $A^{[l]}$ for the histograms.
"""),
    code(r"""
X_deep = rng.standard_normal((1000, 100))          # (m, n0) = (1000, 100)
Y_deep = (rng.random((1000, 1)) < 0.5).astype(float)


def deep_network(method, depth=10, width=100, scale=1.0, seed=0):
    # depth hidden layers of `width` units, then one sigmoid output unit; weights times `scale`.
    params = bl.initialize_parameters([X_deep.shape[1]] + [width] * depth + [1], method, seed=seed)
    return {key: value * scale if key.startswith("W") else value for key, value in params.items()}


def deep_statistics(params, activation):
    # -> (hidden activations [A1, ..., A_depth], gradient norms [||dW1||_F, ..., ||dW_L||_F]) of a BCE network.
    activations = [activation] * (len(params) // 2 - 1) + ["sigmoid"]
    AL, caches = bl.model_forward(X_deep, params, activations)
    grads = bl.model_backward(AL, Y_deep, caches, activations)
    hidden = [cache[0] for cache in caches[1:]]                      # A[l] is the input of layer l + 1
    norms = [float(np.linalg.norm(grads[f"dW{l}"])) for l in range(1, len(caches) + 1)]
    return hidden, norms


fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, activation in zip(axes, ("tanh", "relu")):
    for method in ("random", "xavier", "he"):
        hidden, _ = deep_statistics(deep_network(method), activation)
        ax.semilogy(range(1, 11), [A.std() for A in hidden], "o-", label=method)
    ax.set_title(f"{activation}: std of A[l] in a 10 x 100 network"); ax.set_xlabel("layer l"); ax.legend()
plt.tight_layout()
plt.show()

tanh_random, _ = deep_statistics(deep_network("random"), "tanh")
relu_he, _ = deep_statistics(deep_network("he"), "relu")
print("tanh + random: std(A10) =", f"{tanh_random[-1].std():.1e}", "| relu + he: std(A10) =", f"{relu_he[-1].std():.2f}")
assert tanh_random[-1].std() < 1e-8 and 0.3 < relu_he[-1].std() < 3
"""),
    md(r"""
With $0.01$ the signal shrinks tenfold per layer and is gone after ten layers. With He and ReLU it keeps its size.
Xavier keeps tanh alive but lets ReLU's signal halve its variance at every layer: each initializer fits its
activation. Once exercise 3 passes, your `layer_statistics` gives the same numbers:
"""),
    code(r"""
hidden_layers_only = {key: value for key, value in deep_network("he").items() if int(key[1:]) <= 10}
try:
    yours = layer_statistics(X_deep, hidden_layers_only, "relu")
except NotImplementedError:
    print("Solve exercise 3 first, then run this cell again.")
else:
    print("your stds:", np.round(yours, 3))
    print("library:  ", np.round([A.std() for A in relu_he], 3))
"""),
    md(r"""
## 4. Vanishing and exploding gradients

The backward pass multiplies too: $dA^{[l-1]} = dz^{[l]} W^{[l]}$ and $dz^{[l-1]} = dA^{[l-1]} * g'(Z^{[l-1]})$.
Every layer scales the gradient by roughly $\sqrt{n_l}\,\mathrm{std}(W)$ times a typical $g'$. Below 1 per layer,
the gradients of the first layers **vanish** (they barely learn); above 1, they **explode** (the updates blow up).

The sigmoid makes it worse, because its slope is at most $1/4$ and tiny once the unit saturates. The lecture's
numbers: with input current $z = 5$ the slope is $\sigma'(5) = 0.0066$; with $z = 0.1$ it is $0.249$, about 40
times bigger. Every saturated sigmoid layer on the way back multiplies the gradient by such a small slope.
"""),
    code(r"""
slopes = bl.activations.sigmoid_derivative(np.array([5.0, 0.1]))
print(f"sigmoid'(5) = {slopes[0]:.4f}, sigmoid'(0.1) = {slopes[1]:.3f}, ratio {slopes[1] / slopes[0]:.0f}")
assert round(slopes[0], 4) == 0.0066 and round(slopes[1], 3) == 0.249 and 35 < slopes[1] / slopes[0] < 40
"""),
    md(r"""
The gradient norms $\lVert dW^{[l]}\rVert_F$ of the same 10 x 100 network (plus a sigmoid output unit, binary
cross-entropy on random labels), on a log scale:
"""),
    code(r"""
cases = [("sigmoid", "xavier", 1.0, "sigmoid + xavier: vanishing"),
         ("tanh", "random", 1.0, "tanh + 0.01: vanishing"),
         ("relu", "he", 1.0, "relu + he: stable"),
         ("relu", "random", 100.0, "relu + N(0, 1): exploding")]
gradient_norms = {}
fig, ax = plt.subplots(figsize=(7, 3.8))
for activation, method, scale, label in cases:
    _, norms = deep_statistics(deep_network(method, scale=scale), activation)
    gradient_norms[label] = norms
    ax.semilogy(range(1, len(norms) + 1), norms, "o-", label=label)
ax.set_xlabel("layer l"); ax.set_ylabel("||dW[l]||_F"); ax.legend(fontsize=8)
ax.set_title("gradient norm per layer (layer 11 is the output)")
plt.show()

vanishing = gradient_norms["sigmoid + xavier: vanishing"]
exploding = gradient_norms["relu + N(0, 1): exploding"]
stable = gradient_norms["relu + he: stable"]
assert vanishing[0] < 1e-4 * vanishing[-1]           # the first layer gets 10^4 times less gradient than the last
assert min(exploding) > 1e6 and max(stable) / min(stable) < 100
"""),
    md(r"""
### Explorer

Choose the depth, the activation and the initialization (and multiply the weights by a *scale*). The histograms
show $A^{[l]}$ for a few layers (all of them for shallow networks); the last panel shows the gradient norm of every
layer. Try: tanh with `random` (everything collapses to 0); sigmoid with anything deep (the first layers' gradients
vanish); relu with `he` and scale 1.5 (slow explosion); `zeros` (every unit the same, the gradients of all but the
last layer exactly 0).
"""),
    code(r"""
def initialization_explorer(depth=10, activation="tanh", method="xavier", scale=1.0):
    hidden, norms = deep_statistics(deep_network(method, depth=depth, scale=scale), activation)
    shown = sorted(set(np.linspace(0, depth - 1, min(depth, 5)).round().astype(int)))
    fig = plt.figure(figsize=(2.3 * (len(shown) + 1), 2.6))
    plot_layer_statistics({f"A{l + 1}": hidden[l] for l in shown},
                          grad_norms={f"{l}": value for l, value in enumerate(norms, 1)}, fig=fig)
    plt.show()
    print(f"std(A[1]) = {hidden[0].std():.3g}, std(A[{depth}]) = {hidden[-1].std():.3g}; "
          f"||dW[1]|| = {norms[0]:.3g}, ||dW[{depth + 1}]|| (output) = {norms[-1]:.3g}")


widgets.interactive(
    initialization_explorer,
    depth=widgets.IntSlider(value=10, min=2, max=20, description="depth"),
    activation=widgets.Dropdown(options=["tanh", "relu", "sigmoid", "leaky_relu"], value="tanh", description="g"),
    method=widgets.Dropdown(options=["random", "xavier", "he", "zeros"], value="xavier", description="init"),
    scale=widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05, description="scale"),
)
"""),
    md(r"""
## 5. The same in PyTorch

`torch.nn.init` has the same initializers. `nn.Linear(fan_in, fan_out).weight` is $(n_l, n_{l-1})$, like our
$W^{[l]}$, and torch reads the fans from that layout: `fan_in = weight.shape[1]`. `kaiming_normal_` with
`nonlinearity="relu"` is our He, `xavier_normal_` our Xavier. Their sample standard deviations match our formulas
within the statistical band, and a torch network with *our* weights gives exactly our activations.
"""),
    code(r"""
import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(400, 30)                                           # weight (30, 400): fan_in 400, fan_out 30
print("torch's fans of a (30, 400) weight:", nn.init._calculate_fan_in_and_fan_out(layer.weight))
for method, initializer in (("he", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
                            ("xavier", nn.init.xavier_normal_)):
    with torch.no_grad():
        initializer(layer.weight)
    sample_std = layer.weight.std().item()
    expected = reference_init_std(method, 400, 30)
    print(f"{method:>6}: torch's sample std {sample_std:.4f}, formula {expected:.4f}")
    assert abs(sample_std / expected - 1) < 5 / np.sqrt(2 * layer.weight.numel())

# The 10 x 100 tanh network with our Xavier weights, as a torch model in float64.
params = deep_network("xavier")
torch_layers = []
for l in range(1, 11):
    linear = nn.Linear(100, 100).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(params[f"W{l}"]))
        linear.bias.copy_(torch.from_numpy(params[f"B{l}"][0]))
    torch_layers += [linear, nn.Tanh()]
with torch.no_grad():
    A = torch.from_numpy(X_deep)
    torch_stds = []
    for module in torch_layers:
        A = module(A)
        if isinstance(module, nn.Tanh):
            torch_stds.append(A.std(unbiased=False).item())
numpy_hidden, _ = deep_statistics(params, "tanh")
numpy_stds = [A.std() for A in numpy_hidden]
print("largest difference NumPy vs torch:", np.max(np.abs(np.array(numpy_stds) - torch_stds)))
assert np.allclose(numpy_stds, torch_stds, rtol=1e-12, atol=1e-12)
"""),
    md(r"""
## 6. In your own words

These answers are read and graded by your instructor. A few sentences each are enough.

**Question 1 (2 points).** Why does a network whose weights all start at zero (or at one and the same constant)
never use more than one unit per hidden layer, however long it trains? Which formula shows it?
"""),
    manual("explain_symmetry", r"""
If all rows of $W^{[l]}$ are equal (and all entries of $W^{[l+1]}$ are equal), every unit of layer $l$ computes the
same $Z$ and $A$, and receives the same upstream gradient $dA^{[l]} = dz^{[l+1]} W^{[l+1]}$. So $dz^{[l]}$ has equal
columns and $dW^{[l]} = \frac1m dz^{[l]\top} A^{[l-1]}$ has equal rows: the update changes all rows by the same
amount and they stay equal after every step. The units remain copies of one unit, so the layer can only represent
what one unit can (section 1: 6 identical rows, an almost straight boundary). Random initial weights break the
symmetry; the biases can then start at zero.
""", 2),
    md(r"""
**Question 2 (2 points).** He initialization uses $\mathrm{Var}(w) = 2/n_{l-1}$ rather than $1/n_{l-1}$. Where does
the 2 come from, and what would go wrong in a 50-layer ReLU network without it?
"""),
    manual("explain_he_factor", r"""
$\mathrm{Var}(z) = n_{l-1}\mathrm{Var}(w)\,\mathbb E[a^2]$. ReLU sets the negative half of its inputs to zero, so
$\mathbb E[a^2] = \frac12\mathrm{Var}(z_{\text{prev}})$: each ReLU layer halves the second moment. Doubling the
weight variance makes up for that half, so $\mathrm{Var}(z)$ stays the same from layer to layer. With
$1/n_{l-1}$ the variance would halve at every layer: after 50 layers the activations (and, in the backward pass, the
gradients of the first layers) would be about $2^{-25} \approx 3\cdot 10^{-8}$ times their size (in std), so the
early layers would hardly learn: vanishing gradients.
""", 2),
    md(r"""
## Summary

* Zero (or constant) weights keep all units of a layer identical forever; random weights break the symmetry and
  biases start at zero.
* Small random weights ($0.01$) make a deep network's activations and gradients vanish; Xavier
  ($\sqrt{2/(n_{l-1}+n_l)}$) suits tanh, He ($\sqrt{2/n_{l-1}}$) suits ReLU; both keep the spread roughly constant
  through depth, as `torch.nn.init`'s `xavier_normal_` and `kaiming_normal_` do.
* Watch $\mathrm{std}(A^{[l]})$ and $\lVert dW^{[l]}\rVert$ layer by layer: shrinking means vanishing gradients,
  growing means exploding ones. Next lecture: overfitting, and how regularization and dropout fight it.
"""),
]


def build():
    """Return the lecture notebook (nbformat v4 NotebookNode)."""
    return assemble(CELLS)


if __name__ == "__main__":
    main(build, TARGET)
