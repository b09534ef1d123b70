"""Build solutions/01-architecture/architecture.ipynb (lecture 01) from the cells below.

Run:  .venv/bin/python tools/build_01_architecture.py
The notebook is written normalized (no outputs); `bplab release 01-architecture` then
generates the student version in course/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/: the shared cell factories
from notebook_builder import ROOT, answer, assemble, code, hints, main, manual, md, setup, tests  # noqa: E402,F401

from backproplab.grading.samples.lecture01 import ANSWERS, SETUP  # noqa: E402  (one source for notebook and catalog)

TARGET = ROOT / "solutions" / "01-architecture" / "architecture.ipynb"


CELLS = [
    md(r"""
# Lecture 01: Network architecture

**Learning goals.** After this lecture you can
1. describe an artificial neuron by its weights $w$, bias $b$ and activation $g$, and a layer by its
   weight matrix $W^{[l]}$ and bias row $B^{[l]}$;
2. count the parameters of a fully connected network from its layer sizes;
3. write vectorized forward propagation for a batch of $m$ examples, and say the shape of every matrix;
4. read `torch.nn.Linear` as $XW^\top + B$;
5. explain why XOR needs a hidden layer, and why that hidden layer needs a nonlinearity;
6. see, in a demo, that one hidden layer can fit a curve better and better as units are added.

**How this notebook works.** Run the cells from the top. Exercises have an answer cell
(replace `raise NotImplementedError()` with your code) followed by a test cell: `check(...)` draws fresh
inputs, compares your result with the reference and, if something is wrong, *names the mistake*.
Hints are folded under "Hint 1, Hint 2" before each answer cell. More tests run when your work is graded.

**Notation** (used in every lecture, batch-first as in PyTorch): $X$ is $(m, n_0)$, one example per row;
$W^{[l]}$ is $(n_l, n_{l-1})$; $B^{[l]}$ is $(1, n_l)$; $Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}$;
$A^{[l]} = g^{[l]}(Z^{[l]})$; $A^{[0]} = X$.
"""),
    setup(SETUP, "setup_imports"),
    code(r"""
# The checks, and tools for the demonstrations (not needed by your answers).
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
from IPython.display import HTML, display

import backproplab as bl  # the reference library: bl.dense_forward, bl.model_forward, ...
from backproplab.checks import check
from backproplab.data import xor

rng = np.random.default_rng(0)
"""),
    md(r"""
## 1. The artificial neuron and the layer

A neuron receives $n$ inputs $x_1, \dots, x_n$. It has one weight per input, $w_1, \dots, w_n$, a bias $b$
and an activation function $g$. It computes a weighted sum, the *pre-activation* $z$, and passes it through $g$:

$$ z = \sum_{j=1}^{n} w_j x_j + b = x\, w^\top + b, \qquad a = g(z). $$

We write one example as a **row** $x$ of shape $(1, n)$ and the weights as a row $w$ of shape $(1, n)$,
so $x w^\top$ is $(1, n)(n, 1) = (1, 1)$.
"""),
    code(r"""
x = np.array([[1.0, 2.0, -1.0]])    # one example, n = 3 inputs: (1, 3)
w = np.array([[0.5, -0.25, 1.0]])   # the neuron's weights: (1, 3)
b = 0.1                             # its bias
z = x @ w.T + b                     # (1, 3) @ (3, 1) -> (1, 1)
a = bl.sigmoid(z)
print(f"z = {z.item():.3f}, a = sigmoid(z) = {a.item():.3f}")
"""),
    md(r"""
A **layer** is $n_l$ neurons that all read the same inputs, the $n_{l-1}$ outputs of the layer below.
Stack the neurons' weight rows on top of each other and you get the layer's weight matrix; put their biases
side by side and you get its bias row:

$$ W^{[l]} = \begin{pmatrix} w^{[l]}_1 \\ \vdots \\ w^{[l]}_{n_l} \end{pmatrix} : (n_l, n_{l-1}),
\qquad B^{[l]} = \begin{pmatrix} b^{[l]}_1 & \cdots & b^{[l]}_{n_l} \end{pmatrix} : (1, n_l). $$

Row $j$ of $W^{[l]}$ belongs to neuron $j$; column $k$ holds the weights that read input $k$. This is the same
layout as `torch.nn.Linear.weight` (out_features, in_features). A network with layer sizes
$[n_0, n_1, \dots, n_L]$ has $L$ layers of parameters; $n_0$ is the number of inputs (the input "layer" has no
parameters) and $n_L$ the number of outputs.
"""),
    code(r"""
def draw_network(layer_sizes, ax=None, max_units=8, spacing=2.5):
    # Circles for units, lines for weights; layers wider than max_units are drawn cut (with dots).
    ax = ax or plt.gca()
    shown = [min(n, max_units) for n in layer_sizes]
    positions = []
    for l, (n, k) in enumerate(zip(layer_sizes, shown)):
        ys = np.linspace(-(k - 1) / 2, (k - 1) / 2, k) if k > 1 else np.zeros(1)
        positions.append([(spacing * l, y) for y in ys])
        label = "input" if l == 0 else ("output" if l == len(layer_sizes) - 1 else "hidden")
        ax.text(spacing * l, max(shown) / 2 + 0.4, f"{label}\nn{l} = {n}", ha="center", va="bottom", fontsize=9)
        if k < n:
            ax.text(spacing * l + 0.3, 0, "⋮", fontsize=14, va="center")
    for l in range(1, len(layer_sizes)):
        for x0, y0 in positions[l - 1]:
            for x1, y1 in positions[l]:
                ax.plot([x0, x1], [y0, y1], color="0.75", lw=0.8, zorder=1)
        ax.text(spacing * (l - 0.5), -max(shown) / 2 - 0.6, f"W[{l}]: ({layer_sizes[l]}, {layer_sizes[l - 1]})\n"
                f"B[{l}]: (1, {layer_sizes[l]})", ha="center", va="top", fontsize=9)
    for l, units in enumerate(positions):
        color = "tab:blue" if l == 0 else ("tab:red" if l == len(positions) - 1 else "tab:orange")
        for x0, y0 in units:
            ax.add_patch(plt.Circle((x0, y0), 0.18, color=color, zorder=2))
    ax.set_xlim(-spacing / 2, spacing * (len(layer_sizes) - 0.5))
    ax.set_ylim(-max(shown) / 2 - 1.6, max(shown) / 2 + 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


fig, ax = plt.subplots(figsize=(6, 4))
draw_network([2, 3, 1], ax)
ax.set_title("The 2-3-1 network")
plt.show()
"""),
    md(r"""
A layer is nothing but its neurons computed at once. The cell below computes each of three neurons with its own
row of $W$ and checks that the matrix form gives the same numbers.
"""),
    code(r"""
W = rng.standard_normal((3, 4))    # 3 neurons reading 4 inputs: (n_l, n_{l-1}) = (3, 4)
B = rng.standard_normal((1, 3))    # one bias per neuron: (1, 3)
x = rng.standard_normal((1, 4))    # one example: (1, 4)
one_neuron_at_a_time = np.array([[(x @ W[j:j + 1].T).item() + B[0, j] for j in range(3)]])
as_a_layer = x @ W.T + B           # (1, 4) @ (4, 3) + (1, 3) -> (1, 3)
print(one_neuron_at_a_time, as_a_layer, sep="\n")
assert np.allclose(one_neuron_at_a_time, as_a_layer)
"""),
    md(r"""
## 2. Counting parameters

Layer $l$ has one weight per (neuron, input) pair and one bias per neuron: $n_l n_{l-1} + n_l$ parameters.
The whole network has

$$ P = \sum_{l=1}^{L} \left( n_l\, n_{l-1} + n_l \right). $$

* The 2-3-1 network: $(3\cdot 2 + 3) + (1\cdot 3 + 1) = 9 + 4 = 13$.
* The 784-512-512-10 digit classifier (28x28 pixel images, two hidden layers of 512, ten classes):
  $(784\cdot 512 + 512) + (512\cdot 512 + 512) + (512\cdot 10 + 10) = 401{,}920 + 262{,}656 + 5{,}130 = 669{,}706$.

We can confirm both by building the networks' arrays and counting their entries:
"""),
    code(r"""
def count_by_building(layer_sizes):
    # Allocates every W[l] and B[l], then counts their entries: true by construction, but costs memory.
    return sum(array.size for array in bl.initialize_parameters(layer_sizes, "zeros").values())


for sizes in ([2, 3, 1], [784, 512, 512, 10]):
    print("-".join(map(str, sizes)), "has", f"{count_by_building(sizes):,}", "parameters")
assert count_by_building([2, 3, 1]) == 13
assert count_by_building([784, 512, 512, 10]) == 669_706
"""),
    md(r"""
### Exercise 1: `count_parameters(layer_sizes) -> int`

Count the parameters with the formula, **without** building any arrays (a network with a few layers of 100,000
units would need tens of gigabytes just to be counted that way).

* `layer_sizes`: a list $[n_0, n_1, \dots, n_L]$ with $L \ge 1$.
* Returns a Python `int`.
"""),
    hints(
        "Walk over consecutive pairs $(n_{l-1}, n_l)$: `zip(layer_sizes[:-1], layer_sizes[1:])`.",
        "Each pair contributes `n_out * n_in` weights **and** `n_out` biases. The input layer has no biases.",
    ),
    answer("count_parameters", r'''
def count_parameters(layer_sizes):
    """Number of weights and biases of a fully connected network.

    Inputs:
    - layer_sizes: list of ints [n0, n1, ..., nL], L >= 1.

    Returns:
    - int: sum over l = 1..L of n_l * n_{l-1} (the entries of W[l]) + n_l (the entries of B[l]).
    """
''', ANSWERS["count_parameters"]),
    *tests("count_parameters", 1, 1),
    md(r"""
## 3. Vectorized forward propagation

A network does not process one example at a time. We put $m$ examples in the rows of $X$ and push them through
all together, one matrix product per layer:

$$ A^{[0]} = X, \qquad Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}, \qquad A^{[l]} = g^{[l]}\!\left(Z^{[l]}\right), \qquad l = 1, \dots, L. $$

| matrix | shape | meaning |
|---|---|---|
| $X = A^{[0]}$ | $(m, n_0)$ | one example per row |
| $W^{[l]}$ | $(n_l, n_{l-1})$ | one row per neuron of layer $l$ |
| $W^{[l]\top}$ | $(n_{l-1}, n_l)$ | |
| $A^{[l-1]} W^{[l]\top}$ | $(m, n_{l-1})(n_{l-1}, n_l) = (m, n_l)$ | the weighted sums |
| $B^{[l]}$ | $(1, n_l)$ | added to every row (NumPy broadcasting) |
| $Z^{[l]}, A^{[l]}$ | $(m, n_l)$ | pre-activations and activations |
| $A^{[L]} = \hat Y$ | $(m, n_L)$ | the network's outputs, like $Y$ |

The inner dimensions ($n_{l-1}$) must agree; that is the first shape check to make when something fails.
The bias has **one** row whatever $m$ is: the same biases are added to every example. For the 2-3-1 network and
$m = 5$: $X$ $(5, 2)$ times $W^{[1]\top}$ $(2, 3)$ gives $(5, 3)$; plus $B^{[1]}$ $(1, 3)$ gives $Z^{[1]}$ $(5, 3)$;
$A^{[1]}$ $(5, 3)$ times $W^{[2]\top}$ $(3, 1)$ gives $(5, 1)$; plus $B^{[2]}$ $(1, 1)$ gives $Z^{[2]} = \hat Y$ $(5, 1)$.

Why bother with matrices? Because one matrix product is much faster than a Python loop over examples:
"""),
    code(r"""
X_big = rng.standard_normal((2000, 100))
W_big, B_big = rng.standard_normal((50, 100)), rng.standard_normal((1, 50))



def best_time(compute, repeats=3):
    # The fastest of a few runs: the least disturbed by whatever else the machine is doing.
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = compute()
        seconds.append(time.perf_counter() - start)
    return result, min(seconds)


Z_loop, loop_seconds = best_time(lambda: np.vstack([x_row @ W_big.T + B_big for x_row in X_big[:, None, :]]))
Z_vectorized, vectorized_seconds = best_time(lambda: X_big @ W_big.T + B_big)   # all m examples at once

assert Z_loop.shape == Z_vectorized.shape == (2000, 50) and np.allclose(Z_loop, Z_vectorized)
print(f"loop over examples: {loop_seconds * 1e3:.1f} ms; one matrix product: {vectorized_seconds * 1e3:.2f} ms")
"""),
    md(r"""
### Exercise 2: `dense_forward(A_prev, W, B) -> Z`

The linear part of one layer, $Z = A_{\text{prev}} W^\top + B$.

* `A_prev`: $(m, n_{l-1})$; `W`: $(n_l, n_{l-1})$; `B`: $(1, n_l)$.
* Returns `Z`: $(m, n_l)$. Do not modify the inputs.
"""),
    hints(
        "Write the shapes next to each other: $(m, n_{l-1})$ and $(n_l, n_{l-1})$. Which one must be transposed so that "
        "the inner dimensions agree?",
        "`A_prev @ W.T` is $(m, n_l)$; `B` is $(1, n_l)$ and broadcasts over the $m$ rows. Do not reshape or transpose `B`.",
    ),
    answer("dense_forward", r'''
def dense_forward(A_prev, W, B):
    """Linear part of a fully connected layer: Z = A_prev @ W.T + B.

    Inputs:
    - A_prev: (m, n_prev) activations of the layer below, one example per row.
    - W: (n, n_prev) weights, one row per neuron.
    - B: (1, n) biases, broadcast over the m rows.

    Returns:
    - Z: (m, n) pre-activations.
    """
''', ANSWERS["dense_forward"]),
    *tests("dense_forward", 1, 2),
    md(r"""
### Exercise 3: `model_forward(X, params, activations) -> (AL, caches)`

The whole forward pass. `params` holds `"W1", "B1", ..., "WL", "BL"`; `activations` is a list of $L$ names
(`"relu"`, `"tanh"`, `"sigmoid"`, `"identity"`, `"softmax"`, ...), where `activations[l - 1]` is $g^{[l]}$.
Look the function up with `ACTIVATION_FUNCTIONS[name]` (defined in the setup cell) and use **your**
`dense_forward`.

Return the output $A^{[L]}$ $(m, n_L)$ and `caches`: a list with one tuple `(A_prev, W, B, Z)` per layer, in
layer order, where `A_prev` is $A^{[l-1]}$ (the layer's *input*, not its output) and `Z` is $Z^{[l]}$.
Backpropagation (lecture 04) needs exactly these four arrays for each layer, so store them as they are.
Check the shapes as you go: an `assert` that $Z^{[l]}$ is $(m, n_l)$ catches most mistakes at the layer where they
happen.
"""),
    hints(
        "The number of layers is the number of weight matrices: `L = len(activations)`. Start with `A = X` and loop "
        "`for l in range(1, L + 1)`, reading `params[f\"W{l}\"]` and `params[f\"B{l}\"]`.",
        "Inside the loop: `Z = dense_forward(A, W, B)`, then append `(A, W, B, Z)` to the caches **before** you overwrite "
        "`A = ACTIVATION_FUNCTIONS[activations[l - 1]](Z)`.",
    ),
    answer("model_forward", r'''
def model_forward(X, params, activations):
    """Forward propagation through L fully connected layers.

    Inputs:
    - X: (m, n0) inputs, one example per row.
    - params: dict with W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l) for l = 1..L.
    - activations: list of L activation names; activations[l - 1] is g[l].

    Returns:
    - AL: (m, nL) the outputs A[L].
    - caches: list of L tuples (A_prev, W, B, Z), in layer order, with A_prev = A[l-1]: (m, n_{l-1})
      and Z = Z[l]: (m, n_l).
    """
''', ANSWERS["model_forward"]),
    *tests("model_forward", 2, 3),
    md(r"""
### Explore: the shape of every matrix

Type an architecture (layer sizes joined by `-`) and pick a batch size. The table comes from a real forward pass of
`bl.model_forward` (the library's version of exercise 3) on an $(m, n_0)$ batch: every shape is read off the arrays.
"""),
    code(r"""
def shape_table(architecture="2-3-1", m=5):
    try:
        layer_sizes = [int(part) for part in architecture.replace(" ", "").split("-")]
        assert len(layer_sizes) >= 2 and min(layer_sizes) >= 1
    except (ValueError, AssertionError):
        print("Type at least two positive layer sizes joined by '-', e.g. 2-3-1.")
        return
    if bl.model.count_parameters(layer_sizes) > 2_000_000:
        # The table comes from real arrays, so keep them small (784-512-512-10 has 669,706 parameters).
        print("This explorer builds the real arrays: please stay under 2 million parameters.")
        return
    params = bl.initialize_parameters(layer_sizes, "random", seed=0)
    L = len(layer_sizes) - 1
    X = np.zeros((m, layer_sizes[0]))
    AL, caches = bl.model_forward(X, params, ["relu"] * (L - 1) + ["sigmoid"])
    rows = [f"<tr><td>0</td><td>X = A[0]: {X.shape}</td><td></td><td></td><td></td><td></td></tr>"]
    total = 0
    for l, (A_prev, W, B, Z) in enumerate(caches, 1):
        count = W.size + B.size
        total += count
        rows.append(f"<tr><td>{l}</td><td>A[{l - 1}] {A_prev.shape} @ W[{l}].T {W.T.shape}</td><td>W[{l}]: {W.shape}</td>"
                    f"<td>B[{l}]: {B.shape}</td><td>Z[{l}], A[{l}]: {Z.shape}</td><td>{count:,}</td></tr>")
    rows.append(f"<tr><td colspan=5><b>total parameters</b></td><td><b>{total:,}</b></td></tr>")
    display(HTML("<table><tr><th>l</th><th>product</th><th>weights</th><th>bias</th><th>output</th>"
                 "<th>parameters</th></tr>" + "".join(rows) + "</table>"))
    if L <= 6:
        fig, ax = plt.subplots(figsize=(2 * (L + 1) + 1, 4))
        draw_network(layer_sizes, ax)
        plt.show()


widgets.interactive(
    shape_table,
    architecture=widgets.Text(value="2-3-1", description="layer sizes", continuous_update=False),
    m=widgets.IntSlider(value=5, min=1, max=64, description="batch m"),
)
"""),
    md(r"""
## 4. The same thing in PyTorch

`torch.nn.Linear(in_features, out_features)` stores `weight` of shape `(out_features, in_features)`, which is
our $W^{[l]}$ $(n_l, n_{l-1})$, and `bias` of shape `(out_features,)`, our $B^{[l]}$ without its leading 1
(broadcasting treats both alike). It computes $x W^\top + b$. The worked example: `nn.Linear(4, 3)` with the
weights $1, \dots, 12$ filled in row by row and all biases 1, applied to $x = [1, 1, 1, 1]$:

$$ W = \begin{pmatrix} 1 & 2 & 3 & 4 \\ 5 & 6 & 7 & 8 \\ 9 & 10 & 11 & 12 \end{pmatrix}, \qquad
x W^\top + b = [1+2+3+4+1,\ 5+6+7+8+1,\ 9+10+11+12+1] = [11, 27, 43]. $$
"""),
    code(r"""
import torch
from torch import nn

layer = nn.Linear(4, 3)
with torch.no_grad():
    layer.weight.copy_(torch.arange(1.0, 13.0).reshape(3, 4))   # weights 1..12, row by row: (3, 4)
    layer.bias.fill_(1.0)
x = torch.ones(1, 4)
print("torch nn.Linear :", layer(x).detach().numpy())

# Our NumPy layer with the same numbers: B as a (1, 3) row.
Z_numpy = bl.dense_forward(np.ones((1, 4)), layer.weight.detach().numpy(), layer.bias.detach().numpy()[None, :])
print("NumPy A W.T + B :", Z_numpy)
assert np.array_equal(Z_numpy, [[11.0, 27.0, 43.0]])
assert np.array_equal(layer(x).detach().numpy(), Z_numpy)
"""),
    md(r"""
A whole network: build the same 3-5-4-2 network in NumPy and as an `nn.Sequential` in float64, copy the parameters
across, and compare the outputs on a batch of 7 examples. PyTorch also counts parameters for us, so we can check the
669,706 of the digit classifier once more.
"""),
    code(r"""
layer_sizes = [3, 5, 4, 2]
activations = ["relu", "tanh", "sigmoid"]
params = bl.initialize_parameters(layer_sizes, "he", seed=1)
params = {key: value + 0.1 for key, value in params.items()}   # nonzero biases, so that they matter
X = rng.standard_normal((7, 3))
AL_numpy, _ = bl.model_forward(X, params, activations)

net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).double()
linears = [module for module in net if isinstance(module, nn.Linear)]
with torch.no_grad():
    for l, linear in enumerate(linears, 1):
        linear.weight.copy_(torch.from_numpy(params[f"W{l}"]))          # (n_l, n_{l-1}): no transpose needed
        linear.bias.copy_(torch.from_numpy(params[f"B{l}"]).reshape(-1))  # (1, n_l) -> (n_l,)
    AL_torch = net(torch.from_numpy(X)).numpy()
print("largest difference NumPy vs torch:", np.abs(AL_numpy - AL_torch).max())
assert np.allclose(AL_numpy, AL_torch, rtol=1e-12, atol=1e-12)

digits = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
torch_count = sum(p.numel() for p in digits.parameters())
print(f"torch counts {torch_count:,} parameters in 784-512-512-10")
assert torch_count == count_by_building([784, 512, 512, 10]) == 669_706
"""),
    md(r"""
## 5. XOR: why we need a hidden layer

XOR outputs 1 when exactly one of its two inputs is 1. `backproplab.data.xor()` gives its four points:
$X$ $(4, 2)$ and labels $Y$ $(4, 1)$.
"""),
    code(r"""
X_xor, Y_xor = xor()
print(np.hstack([X_xor, Y_xor]))
fig, ax = plt.subplots(figsize=(3.5, 3.5))
for label, marker, color in ((0, "o", "tab:blue"), (1, "s", "tab:red")):
    rows = Y_xor[:, 0] == label
    ax.scatter(X_xor[rows, 0], X_xor[rows, 1], marker=marker, s=120, color=color, label=f"y = {label}")
ax.set_xlabel("$x_1$"); ax.set_ylabel("$x_2$"); ax.set_title("XOR"); ax.legend(loc="center")
ax.set_xlim(-0.5, 1.5); ax.set_ylim(-0.5, 1.5)
plt.show()
"""),
    md(r"""
**No single neuron can do it.** A single neuron with a threshold says 1 when $w_1 x_1 + w_2 x_2 + b > 0$: it
splits the plane with a straight line. XOR would need

* $(0,0) \mapsto 0$: $b \le 0$;
* $(1,0) \mapsto 1$: $w_1 + b > 0$, and $(0,1) \mapsto 1$: $w_2 + b > 0$;
* $(1,1) \mapsto 0$: $w_1 + w_2 + b \le 0$.

Adding the two middle lines gives $w_1 + w_2 + 2b > 0$, so $w_1 + w_2 + b > -b \ge 0$, which contradicts the last line.
XOR is **not linearly separable**: at most 3 of the 4 points can be right. Trying 20,000 random lines agrees:
"""),
    code(r"""
lines = rng.standard_normal((20_000, 3))                        # rows (w1, w2, b)
predictions = (X_xor @ lines[:, :2].T + lines[:, 2] > 0)        # (4, 20000): each line's answers
best_line_accuracy = (predictions == (Y_xor == 1)).mean(axis=0).max()
print("best accuracy of 20,000 straight lines:", best_line_accuracy)
assert best_line_accuracy == 0.75
"""),
    md(r"""
**A hidden layer can.** Two hidden ReLU units can each draw a line, and the output unit combines them. Try it
below: the sliders set $W^{[1]}$ $(2, 2)$, $B^{[1]}$ $(1, 2)$, $W^{[2]}$ $(1, 2)$ and $B^{[2]}$ $(1, 1)$ of a
2-2-1 network with $g^{[1]} = \text{ReLU}$ and $g^{[2]} = \sigma$. The colour is the output $\hat y$; the
points are XOR's. Can you make the output red on the squares and blue on the circles?
"""),
    code(r"""
grid = np.linspace(-0.5, 1.5, 121)
G1, G2 = np.meshgrid(grid, grid)
grid_points = np.column_stack([G1.ravel(), G2.ravel()])           # (121 * 121, 2)


def plot_xor_network(params, activations=("relu", "sigmoid"), ax=None, title=None):
    # Colours the plane by the output A[2] of a 2-2-1 network and marks the four XOR points.
    ax = ax or plt.gca()
    A_grid, _ = bl.model_forward(grid_points, params, list(activations))
    image = ax.contourf(G1, G2, A_grid.reshape(G1.shape), levels=np.linspace(0, 1, 11), cmap="coolwarm")
    ax.contour(G1, G2, A_grid.reshape(G1.shape), levels=[0.5], colors="k", linewidths=1)
    for label, marker in ((0, "o"), (1, "s")):
        rows = Y_xor[:, 0] == label
        ax.scatter(X_xor[rows, 0], X_xor[rows, 1], marker=marker, s=90, c="white", edgecolors="k")
    ax.set_title(title or "")
    ax.set_xlabel("$x_1$"); ax.set_ylabel("$x_2$")
    return image


def xor_explorer(w11=1.0, w12=1.0, w21=1.0, w22=1.0, b1=0.0, b2=0.0, v1=1.0, v2=1.0, c=0.0):
    params = {"W1": np.array([[w11, w12], [w21, w22]]), "B1": np.array([[b1, b2]]),
              "W2": np.array([[v1, v2]]), "B2": np.array([[c]])}
    AL, _ = bl.model_forward(X_xor, params, ["relu", "sigmoid"])
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    fig.colorbar(plot_xor_network(params, ax=ax), ax=ax, label="output")
    ax.set_title("outputs on (0,0), (0,1), (1,0), (1,1): " + ", ".join(f"{a:.2f}" for a in AL[:, 0]), fontsize=9)
    plt.show()


weight = dict(min=-20.0, max=20.0, step=0.5)
widgets.interactive(xor_explorer, **{name: widgets.FloatSlider(value=value, description=name, **weight)
                                     for name, value in (("w11", 1.0), ("w12", 1.0), ("w21", 1.0), ("w22", 1.0),
                                                         ("b1", 0.0), ("b2", 0.0), ("v1", 1.0), ("v2", 1.0),
                                                         ("c", 0.0))})
"""),
    md(r"""
### Exercise 4: `xor_parameters() -> params`

Design, by hand, the weights of a 2-2-1 network that computes XOR with
`bl.model_forward(X, params, ["relu", "sigmoid"])`:

* return a dict with `W1` $(2, 2)$, `B1` $(1, 2)$, `W2` $(1, 2)$, `B2` $(1, 1)$;
* on the four XOR points the output must be **below 0.1** where $y = 0$ and **above 0.9** where $y = 1$;
* the network should keep a margin: points moved by up to 0.1 in any direction must still land on the right side
  of 0.5 (the hidden test checks this too).
"""),
    hints(
        "Let both hidden units compute $x_1 + x_2$, shifted by different biases. Unit 1: $h_1 = \\text{ReLU}(x_1 + x_2)$ "
        "is 0, 1, 1, 2 on the four points. Unit 2: with bias $-1$, $h_2$ is 0, 0, 0, 1.",
        "$h_1 - 2 h_2$ is 0, 1, 1, 0: XOR. The sigmoid needs a large $|z|$ to get near 0 or 1, so scale it: "
        "$z = k\\,(h_1 - 2h_2) - k/2$ with $k$ around 10 gives $\\pm k/2$.",
    ),
    answer("xor_parameters", r'''
def xor_parameters():
    """Hand-made weights of a 2-2-1 ReLU/sigmoid network that computes XOR.

    Returns:
    - params: dict with W1: (2, 2), B1: (1, 2), W2: (1, 2), B2: (1, 1), such that
      model_forward(X, params, ["relu", "sigmoid"]) is < 0.1 where y = 0 and > 0.9 where y = 1.
    """
''', ANSWERS["xor_parameters"]),
    *tests("xor_parameters", 1, 2),
    md(r"""
Once exercise 4 passes, the cell below draws your network's output over the whole plane. The black line is where
the output is 0.5: not one straight line any more, but two.
"""),
    code(r"""
try:
    xor_params = xor_parameters()
except NotImplementedError:
    print("Solve exercise 4 first, then run this cell again.")
else:
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    fig.colorbar(plot_xor_network(xor_params, ax=ax, title="your XOR network"), ax=ax, label="output")
    plt.show()
    print("outputs:", bl.model_forward(X_xor, xor_params, ["relu", "sigmoid"])[0].ravel().round(3))
"""),
    md(r"""
## 6. Without a nonlinearity, layers collapse

Why the ReLU? Take it out, so that $g^{[1]}$ is the identity. Then two layers are

$$ Z^{[2]} = \left(X W^{[1]\top} + B^{[1]}\right) W^{[2]\top} + B^{[2]}
           = X \left(W^{[2]} W^{[1]}\right)^\top + \left(B^{[1]} W^{[2]\top} + B^{[2]}\right), $$

one linear layer with weights $W = W^{[2]} W^{[1]}$ $(n_2, n_0)$ and bias $B = B^{[1]} W^{[2]\top} + B^{[2]}$ $(1, n_2)$.
(In the column convention of many textbooks this reads $W_2 W_1 x + (W_2 b_1 + b_2)$.) Any number of linear layers
collapses into one, and one linear layer cannot do XOR. Checked numerically:
"""),
    code(r"""
params = {"W1": rng.standard_normal((6, 3)), "B1": rng.standard_normal((1, 6)),
          "W2": rng.standard_normal((2, 6)), "B2": rng.standard_normal((1, 2))}
X = rng.standard_normal((5, 3))
two_linear_layers, _ = bl.model_forward(X, params, ["identity", "identity"])
W_collapsed = params["W2"] @ params["W1"]                           # (2, 6) @ (6, 3) -> (2, 3)
B_collapsed = params["B1"] @ params["W2"].T + params["B2"]          # (1, 6) @ (6, 2) + (1, 2) -> (1, 2)
one_layer = bl.dense_forward(X, W_collapsed, B_collapsed)
print("largest difference:", np.abs(two_linear_layers - one_layer).max())
assert np.allclose(two_linear_layers, one_layer)
"""),
    md(r"""
The picture: the same random 2-8-8-1 network, once with tanh hidden units and once with the identity. With tanh the
boundary (black) bends; without, it is a straight line however many layers we stack.
"""),
    code(r"""
deep = bl.initialize_parameters([2, 8, 8, 1], "xavier", seed=3)
deep = {key: value * 3 if key.startswith("W") else value + rng.uniform(-1, 1, value.shape)
        for key, value in deep.items()}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
for ax, hidden in zip(axes, ("tanh", "identity")):
    plot_xor_network(deep, activations=(hidden, hidden, "sigmoid"), ax=ax, title=f"2-8-8-1, hidden g = {hidden}")
plt.tight_layout()
plt.show()
"""),
    md(r"""
## 7. One hidden layer can approximate any curve

The *universal approximation theorem* says that one hidden layer with enough units can approximate any continuous
function on a bounded interval as closely as we like. Here is a constructive demo with ReLU units. Hidden unit $j$
computes $\text{ReLU}(x - t_j)$, a hinge at the point $t_j$ (so $W^{[1]}$ is a column of ones and $B^{[1]} = -t$).
The output layer adds the hinges with weights $W^{[2]}$ and a bias; the result is a broken line that may bend at every
$t_j$. We choose the output weights by least squares (training them by gradient descent comes in lecture 04). More
units, more bends, a closer fit:
"""),
    code(r"""
def target(x):
    return np.sin(3 * x) + 0.3 * x ** 2


x_train = np.linspace(-2, 2, 200)[:, None]            # (200, 1): m = 200 examples, n0 = 1
y_train = target(x_train)                             # (200, 1)


def fit_one_hidden_layer(n_units):
    # A 1-n-1 ReLU network: hinges at evenly spaced points, output weights by least squares.
    knots = np.linspace(-2, 2, n_units + 1)[:-1]
    params = {"W1": np.ones((n_units, 1)), "B1": -knots[None, :]}
    hidden, _ = bl.model_forward(x_train, params, ["relu"])                      # A[1]: (200, n_units)
    design = np.hstack([hidden, np.ones((len(x_train), 1))])
    solution, *_ = np.linalg.lstsq(design, y_train, rcond=None)
    params["W2"], params["B2"] = solution[:-1].T, solution[-1:]                  # (1, n_units), (1, 1)
    return params


def fit_error(params):
    prediction, _ = bl.model_forward(x_train, params, ["relu", "identity"])
    return float(np.sqrt(np.mean((prediction - y_train) ** 2)))


unit_counts = [1, 2, 4, 8, 16, 32, 64]
errors = [fit_error(fit_one_hidden_layer(n)) for n in unit_counts]
fig, (ax_fit, ax_err) = plt.subplots(1, 2, figsize=(10, 3.8))
ax_fit.plot(x_train, y_train, "k", lw=3, alpha=0.3, label="target")
for n in (2, 4, 16):
    prediction, _ = bl.model_forward(x_train, fit_one_hidden_layer(n), ["relu", "identity"])
    ax_fit.plot(x_train, prediction, label=f"{n} hidden units")
ax_fit.legend(); ax_fit.set_xlabel("x"); ax_fit.set_title("fits")
ax_err.loglog(unit_counts, errors, "o-")
ax_err.set_xlabel("hidden units"); ax_err.set_ylabel("RMS error"); ax_err.set_title("error falls as units are added")
plt.tight_layout()
plt.show()
assert all(later < earlier for earlier, later in zip(errors, errors[1:]))
"""),
    md(r"""
Move the slider to add units one at a time; the dots mark the hinges $t_j$.
"""),
    code(r"""
def approximation_explorer(n_units=4):
    params = fit_one_hidden_layer(n_units)
    prediction, _ = bl.model_forward(x_train, params, ["relu", "identity"])
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x_train, y_train, "k", lw=3, alpha=0.3, label="target")
    ax.plot(x_train, prediction, "tab:red", label=f"{n_units} hidden ReLU units")
    knots = -params["B1"][0]
    knot_values, _ = bl.model_forward(knots[:, None], params, ["relu", "identity"])
    ax.plot(knots, knot_values, "o", color="tab:red", ms=4)
    ax.set_title(f"RMS error {fit_error(params):.4f}"); ax.legend(loc="upper center")
    plt.show()


widgets.interactive(approximation_explorer, n_units=widgets.IntSlider(value=4, min=1, max=40, description="units"))
"""),
    md(r"""
## 8. In your own words

These two answers are read and graded by your instructor. A few sentences each are enough.

**Question 1 (2 points).** Why can a network without nonlinear activations, however deep, not solve XOR? Use the
collapse formula of section 6.
"""),
    manual("explain_collapse", r"""
Without activations every layer is a linear (affine) map, and a composition of affine maps is affine:
$X (W^{[2]} W^{[1]})^\top + (B^{[1]} W^{[2]\top} + B^{[2]})$ is one layer with weights $W^{[2]} W^{[1]}$.
So any depth computes the same kind of function as a single neuron, whose decision boundary is one straight line.
XOR's positives $(0,1), (1,0)$ and negatives $(0,0), (1,1)$ cannot be split by one line (adding the two
inequalities for the positives contradicts the ones for the negatives), so no linear network solves it. A nonlinearity
such as ReLU between the layers stops the collapse and lets the output combine several lines.
""", 2),
    md(r"""
**Question 2 (1 point).** Why is $W^{[l]}$ of shape $(n_l, n_{l-1})$, and why does $B^{[l]}$ have a single row
whatever the batch size $m$ is?
"""),
    manual("explain_shapes", r"""
Each of the $n_l$ neurons of layer $l$ has one weight per input, and its inputs are the $n_{l-1}$ activations of the
layer below: one row per neuron, one column per input, $(n_l, n_{l-1})$ (the layout of `nn.Linear.weight`), so
$A^{[l-1]} W^{[l]\top}$ is $(m, n_{l-1})(n_{l-1}, n_l) = (m, n_l)$. The biases are parameters of the neurons, not of
the examples: every example is processed by the same neurons with the same biases, so $B^{[l]}$ is one row
$(1, n_l)$ that broadcasting adds to each of the $m$ rows.
""", 1),
    md(r"""
## Summary

* A neuron computes $a = g(x w^\top + b)$; a layer stacks $n_l$ neurons into $W^{[l]}$ $(n_l, n_{l-1})$ and
  $B^{[l]}$ $(1, n_l)$; a network has $\sum_l (n_l n_{l-1} + n_l)$ parameters (13 for 2-3-1, 669,706 for 784-512-512-10).
* Forward propagation for $m$ examples: $Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}$, $A^{[l]} = g^{[l]}(Z^{[l]})$,
  every matrix $(m, n_l)$; `nn.Linear` computes exactly $XW^\top + B$.
* XOR needs a hidden layer, and the hidden layer needs a nonlinearity; with enough hidden units one layer fits any
  curve. Next lecture: computation graphs, and how to get the gradients that let a network find such weights itself.
"""),
]


def build():
    """Return the lecture notebook (nbformat v4 NotebookNode)."""
    return assemble(CELLS)


if __name__ == "__main__":
    main(build, TARGET)
