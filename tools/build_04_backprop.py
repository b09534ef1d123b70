"""Build solutions/04-backprop/backprop.ipynb, the instructor source of lecture 04.

The notebook is the source of truth; this script is kept so that the lecture can be
reviewed as plain text and rebuilt after an edit. Run it from the repository root:

    .venv/bin/python tools/build_04_backprop.py

then regenerate the student version with ``bplab release 04-backprop``.

Cell conventions (docs/ARCHITECTURE.md, "Notebook conventions"): answer cells carry
nbgrader ``solution: true, grade: false, grade_id=<exercise>``; the locked visible test
cell is exactly ``check("<exercise>", <exercise>)``; the hidden test cell wraps
``check(..., hidden=True)`` in a HIDDEN TESTS block; cells the answer code needs carry the
tag ``setup`` and must be plain Python (no magics: the outside verification exec()s them).
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_builder as nbb  # noqa: E402  (cell factories, stable ids and the writer shared by the builders)
from notebook_builder import ROOT  # noqa: E402

from backproplab.grading.samples.lecture04 import ANSWERS  # noqa: E402  (one source for notebook and catalog)

LECTURE = "04-backprop"
OUTPUT = ROOT / "solutions" / LECTURE / "backprop.ipynb"

cells = []


def md(text):
    cells.append(nbb.md(text))


def code(source, tags=()):
    cells.append(nbb.code(source, tags))


def exercise(name, header, solution, visible_points, hidden_points):
    """The answer cell defining ``name`` (header + the catalog's solution) plus its visible and hidden test cells."""
    cells.append(nbb.answer(name, header, solution))
    cells.extend(nbb.tests(name, visible_points, hidden_points))


def hint(text):
    """A hint the student reveals by clicking (collapsed HTML <details>)."""
    md(f"<details><summary><b>Hint</b> (click to reveal)</summary>\n\n{text.strip()}\n\n</details>")


# ---------------------------------------------------------------------------------------
md(r"""
# Lecture 4: Backpropagation

Last time the network only went *forward*: `Z[l] = A[l-1] @ W[l].T + B[l]`, `A[l] = g[l](Z[l])`.
Today it learns. Backpropagation is the chain rule applied layer by layer, from the cost
back to every weight, organised so that each layer needs only what it cached on the way forward.

**Learning goals.** By the end of this notebook you can
1. compute the binary cross-entropy cost of a batch, stably, even when outputs saturate at 0 or 1;
2. derive the gradients of one dense layer, first for one example and then for a batch of `m`,
   and write down the shape of every matrix involved;
3. explain why `dz` carries no `1/m` while `dW` and `dB` do, and relate `dz` to PyTorch's `Z.grad`;
4. show that a sigmoid output with cross-entropy gives `dz[L] = A[L] - Y`;
5. implement backpropagation for a whole network, verify it with gradient checking and with
   PyTorch autograd, and train a network that separates the two moons.

**How this notebook works.** Fill in the cells that say `# YOUR CODE HERE` (delete the
`raise NotImplementedError()` line). The cell after each exercise runs `check(...)`: it draws
fresh inputs, compares your result with reference gradients, and when something is off it tells
you *which* mistake it looks like (a transpose, a missing `1/m`, ...). Hints are hidden under
**Hint** links. Run the cells from top to bottom.
""")

md(r"""
## Setup
The first cell imports what your answers may use; the second one imports the checks and plots.
""")
code(r"""
import numpy as np

from backproplab.activations import get_activation, sigmoid, sigmoid_backward, tanh_backward, relu_backward
from backproplab.gradcheck import numerical_gradient
from backproplab.init import initialize_parameters
from backproplab.model import model_forward
""", tags=["setup"])
code(r"""
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import Markdown, display

import backproplab
from backproplab.checks import check
from backproplab.data import make_moons
from backproplab.plots import plot_costs, plot_decision_boundary
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 1. The cost: binary cross-entropy

Notation (the same in every lecture, batch-first as in PyTorch): `X` is `(m, n0)` with one example
per row, `W[l]` is `(n_l, n_{l-1})` and `B[l]` is `(1, n_l)`. A binary classifier ends in one sigmoid
unit, so `A[L]` is `(m, 1)` and holds the predicted probabilities $\hat y_i = a_i$ that example $i$ is
of class 1; `Y` is `(m, 1)` with labels 0 or 1. (A network with several independent yes/no outputs has
`nL` sigmoid units, `A[L]` and `Y` are `(m, nL)`, and each example's loss sums over its units.)

The loss of one example and the cost of the batch are

$$
\mathcal{L}(a_i, y_i) = -\big[\,y_i \log a_i + (1 - y_i) \log (1 - a_i)\,\big],
\qquad
J = \frac{1}{m} \sum_{i=1}^{m} \mathcal{L}(a_i, y_i).
$$

Only one of the two terms is alive for each example: for $y_i = 1$ the loss is $-\log a_i$, which is 0
when the network is sure and right ($a_i = 1$) and grows without bound when it is sure and wrong.

**Saturated outputs.** A sigmoid can round to exactly `0.0` or `1.0` in floating point. Then
`np.log(0.0)` is `-inf`, and `0 * -inf` is `nan`: one saturated example would make the whole cost
`nan`. PyTorch's `nn.BCELoss` clamps each log at `-100`; do the same (or clip `AL` into
`[eps, 1 - eps]` before taking logs).
""")

md(r"""
### Exercise 1: `binary_cross_entropy(AL, Y)`
Return the mean binary cross-entropy as a Python `float`. It must stay finite when `AL` contains
exact zeros and ones.
""")
hint(r"""
`m = Y.shape[0]`. Compute the per-example losses as one array expression, then
`float(np.sum(losses) / m)`. For the logs: `np.maximum(np.log(AL), -100.0)`, inside
`with np.errstate(divide="ignore"):` so that `log(0)` does not warn.
""")
exercise("binary_cross_entropy", r'''
def binary_cross_entropy(AL, Y):
    """Mean binary cross-entropy J = -(1/m) sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)].

    Inputs:
    - AL: (m, nL) predicted probabilities A[L], entries in [0, 1]
    - Y: (m, nL) labels, entries 0 or 1

    Returns:
    - J: a Python float, finite even where AL is exactly 0 or 1
    """
''', ANSWERS["binary_cross_entropy"], visible_points=1, hidden_points=2)

# ---------------------------------------------------------------------------------------
md(r"""
## 2. The chain rule through one dense layer

Take one dense layer, `Z = A_prev @ W.T + B`, and suppose we already know how the loss changes
with `Z`. How does it change with `W`, `B` and `A_prev`?

### One example
For one example, `a` $= A[l-1]$ is a row of $n_{l-1}$ numbers and `z` a row of $n_l$ numbers:

$$ z_j = \sum_{k} W_{jk}\, a_k + b_j . $$

Call the gradient of this example's loss with respect to its `z` the row $\delta = \partial\mathcal{L}/\partial z$ $(1, n_l)$.
Each $W_{jk}$ touches only $z_j$, with slope $a_k$; each $b_j$ touches only $z_j$, with slope 1;
each $a_k$ touches every $z_j$, with slope $W_{jk}$. The chain rule gives

$$
\frac{\partial \mathcal{L}}{\partial W_{jk}} = \delta_j\, a_k
\;\Rightarrow\; \underbrace{\delta^{\top} a}_{(n_l,\, n_{l-1})},
\qquad
\frac{\partial \mathcal{L}}{\partial b_j} = \delta_j
\;\Rightarrow\; \underbrace{\delta}_{(1,\, n_l)},
\qquad
\frac{\partial \mathcal{L}}{\partial a_k} = \sum_j \delta_j W_{jk}
\;\Rightarrow\; \underbrace{\delta\, W}_{(1,\, n_{l-1})}.
$$

The gradient for `W` is an *outer product*: it has exactly the shape of `W`, as every gradient of a
parameter must.

### m examples
Stack the examples' rows: `A_prev` is $(m, n_{l-1})$ and `dz` is $(m, n_l)$, where row $i$ of `dz`
is example $i$'s $\delta$. The cost averages the losses, $J = \frac1m\sum_i \mathcal{L}_i$, and the
parameters are shared by all examples, so their gradients *add up over the examples and are divided by m*.
A sum over examples of outer products $\delta_i^{\top} a_i$ is exactly one matrix product:

$$
\begin{aligned}
dW^{[l]} &= \tfrac{1}{m}\; dz^{[l]\top}\, A^{[l-1]}
  && (n_l, m)\,(m, n_{l-1}) \to (n_l,\, n_{l-1}) \\
dB^{[l]} &= \tfrac{1}{m} \textstyle\sum_{i} dz^{[l]}_{i,:}
  = \tfrac{1}{m}\,\texttt{dz.sum(axis=0, keepdims=True)}
  && (1,\, n_l) \\
dA^{[l-1]} &= dz^{[l]}\, W^{[l]}
  && (m, n_l)\,(n_l, n_{l-1}) \to (m,\, n_{l-1}) \\
dz^{[l-1]} &= dA^{[l-1]} \odot g^{[l-1]\prime}\!\big(Z^{[l-1]}\big)
  && (m,\, n_{l-1})
\end{aligned}
$$

`dA_prev` gets **no** sum and no `1/m`: every example has its own activations, so every example keeps its
own row. The last line goes through the activation below: elementwise, with the derivative
evaluated at the **pre-activation** `Z[l-1]` (not at `A[l-1]`).

A quick way to get these right without memorising: the result must have the shape of the thing you
differentiate with respect to, and there is only one way to multiply `dz`, `A_prev` and `W` to get it.
""")

md(r"""
### Shapes in a concrete network: 2-4-1 with m = 5

| quantity | how it is computed | shape |
|---|---|---|
| `X = A[0]` | the data, one example per row | (5, 2) |
| `W[1]`, `B[1]` | parameters of layer 1 | (4, 2), (1, 4) |
| `Z[1]`, `A[1]` | `A[0] @ W[1].T + B[1]`: (5, 2)(2, 4) + (1, 4); `tanh(Z[1])` | (5, 4) |
| `W[2]`, `B[2]` | parameters of layer 2 | (1, 4), (1, 1) |
| `Z[2]`, `A[2]` | `A[1] @ W[2].T + B[2]`: (5, 4)(4, 1) + (1, 1); `sigmoid(Z[2])` | (5, 1) |
| `dz[2]` | `A[2] - Y` (section 3) | (5, 1) |
| `dW[2]` | `(1/m) dz[2].T @ A[1]`: (1, 5)(5, 4) | (1, 4), like `W[2]` |
| `dB[2]` | `(1/m) dz[2].sum(axis=0, keepdims=True)` | (1, 1), like `B[2]` |
| `dA[1]` | `dz[2] @ W[2]`: (5, 1)(1, 4) | (5, 4), like `A[1]` |
| `dz[1]` | `dA[1] * tanh'(Z[1])`, elementwise | (5, 4), like `Z[1]` |
| `dW[1]` | `(1/m) dz[1].T @ A[0]`: (4, 5)(5, 2) | (4, 2), like `W[1]` |
| `dB[1]` | `(1/m) dz[1].sum(axis=0, keepdims=True)` | (1, 4), like `B[1]` |

The cell below runs the reference library's forward and backward pass on that network and prints
the shapes it actually produces, so you can compare.
""")
code(r"""
X_demo = np.random.default_rng(0).standard_normal((5, 2))
Y_demo = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
params_demo = initialize_parameters([2, 4, 1], "xavier", seed=0)
AL_demo, caches_demo = model_forward(X_demo, params_demo, ["tanh", "sigmoid"])
grads_demo = backproplab.model_backward(AL_demo, Y_demo, caches_demo, ["tanh", "sigmoid"])
for l, (A_prev, W, B, Z) in enumerate(caches_demo, start=1):
    print(f"layer {l}: A[{l-1}] {A_prev.shape}  W[{l}] {W.shape}  B[{l}] {B.shape}  Z[{l}] {Z.shape}  "
          f"dz[{l}] {grads_demo[f'dz{l}'].shape}  dW[{l}] {grads_demo[f'dW{l}'].shape}  dB[{l}] {grads_demo[f'dB{l}'].shape}")
""")

md(r"""
### Where does the 1/m go?
`dz[l]` is the gradient of **each example's own loss** with respect to its own row of `Z[l]`: one row
per example and **no `1/m`**. The `1/m` of the mean cost is applied exactly once, at the moment the
examples' contributions are added up into a shared parameter: in `dW` and `dB`. If you also put a `1/m`
into `dz[L]`, backprop carries it into every layer below (every step is linear in `dz`), and each `dW`
and `dB` then holds the `1/m` twice: every gradient comes out `m` times too small.

PyTorch keeps a different book. If you call `Z.retain_grad()` and `loss.backward()` on a **mean** loss,
`Z.grad` is the gradient of the *mean* cost $J$ with respect to `Z`, so the `1/m` is already inside it:
`Z.grad` equals our `dz` divided by `m`. In words: **our dz is m times PyTorch's Z.grad**, while our `dW`
and `dB` are exactly PyTorch's `weight.grad` and `bias.grad`. Exercise 7 checks this for real.
""")

md(r"""
### Exercise 2: `dense_backward(dz, A_prev, W)`
Return `(dA_prev, dW, dB)` for one dense layer, using the formulas above. `dz` has no `1/m` in it;
the `1/m` belongs in `dW` and `dB` only. Do not modify the inputs.
""")
hint(r"""
Write the shape of each result first: `dW` like `W` $(n_l, n_{l-1})$, `dB` like `B` $(1, n_l)$,
`dA_prev` like `A_prev` $(m, n_{l-1})$. Then `dz.T @ A_prev` is the only product of `dz` and `A_prev`
with the shape of `W`. For `dB`, sum over the **examples** (axis 0) and keep the row:
`keepdims=True`. `m` is `A_prev.shape[0]`.
""")
exercise("dense_backward", r'''
def dense_backward(dz, A_prev, W):
    """Backward pass of one dense layer Z = A_prev @ W.T + B.

    Inputs:
    - dz: (m, n_l) gradient of each example's loss w.r.t. Z (no 1/m)
    - A_prev: (m, n_{l-1}) the layer's input A[l-1], from the forward cache
    - W: (n_l, n_{l-1}) the layer's weights

    Returns a tuple of:
    - dA_prev: (m, n_{l-1}) = dz @ W
    - dW: (n_l, n_{l-1}) = (1/m) dz.T @ A_prev
    - dB: (1, n_l) = (1/m) dz summed over the examples
    """
''', ANSWERS["dense_backward"], visible_points=2, hidden_points=3)

# ---------------------------------------------------------------------------------------
md(r"""
## 3. Backpropagation through the whole network

### The output layer: sigmoid + cross-entropy gives dz[L] = A[L] - Y
For one example with output $a = \sigma(z)$ and label $y$:

$$
\frac{\partial \mathcal{L}}{\partial a} = -\frac{y}{a} + \frac{1-y}{1-a} = \frac{a - y}{a(1-a)},
\qquad
\frac{\partial a}{\partial z} = \sigma'(z) = a(1-a),
$$

so

$$
dz^{[L]} = \frac{\partial \mathcal{L}}{\partial z} = \frac{a - y}{a(1-a)} \cdot a(1-a) = a - y
\qquad\Longrightarrow\qquad dz^{[L]} = A^{[L]} - Y \quad (m, 1).
$$

The two awkward factors cancel. This is why a sigmoid output is paired with cross-entropy (and
softmax with categorical cross-entropy, identity with squared error: all three give `A - Y`). It is
also numerically kind: no division by a saturated `a(1-a)`.

### Going down
From the top, for $l = L, L-1, \dots, 1$: store `dz[l]`, get `dA[l-1], dW[l], dB[l]` from
`dense_backward`, and, if there is a layer below, turn `dA[l-1]` into `dz[l-1]` with that layer's
activation derivative at `Z[l-1]`. The forward pass left everything needed in the caches:
`caches[l-1]` is the tuple `(A_prev, W, B, Z)` of layer `l` (Python lists start at 0).

`get_activation(name).backward(dA, Z)` is the library's backward rule of an activation
(`sigmoid_backward`, `tanh_backward`, `relu_backward`, ... from Lecture 3): it returns
`dA * g'(Z)`.
""")

md(r"""
### Exercise 3: `model_backward(AL, Y, caches, activations)`
Return a dict `grads` with the keys `dW1, dB1, dz1, ..., dWL, dBL, dzL` (for each layer `l`:
`dz{l}` is `(m, n_l)`, `dW{l}` is `(n_l, n_{l-1})`, `dB{l}` is `(1, n_l)`). The output layer is a
sigmoid with binary cross-entropy; `activations[l-1]` is the name of layer `l`'s activation.
Use your own `dense_backward`.
""")
hint(r"""
Start with `dz = AL - Y` and loop `for l in range(L, 0, -1)` with `L = len(caches)`. Inside:
`A_prev, W, B, Z = caches[l - 1]`; store `grads[f"dz{l}"] = dz`; call `dense_backward`. For the next
`dz`, use the activation of the layer **below** (`activations[l - 2]`) and **its** pre-activation
`caches[l - 2][3]`, not `A`.
""")
exercise("model_backward", r'''
def model_backward(AL, Y, caches, activations):
    """Backpropagation through an L-layer network with a sigmoid + cross-entropy output.

    Inputs:
    - AL: (m, nL) output of the network, A[L]
    - Y: (m, nL) labels
    - caches: list of L tuples (A_prev, W, B, Z) from model_forward, in layer order;
      for layer l: A_prev (m, n_{l-1}), W (n_l, n_{l-1}), B (1, n_l), Z (m, n_l)
    - activations: list of L activation names; activations[l-1] is g[l]

    Returns:
    - grads: dict with, for l = 1..L, "dz{l}" (m, n_l), "dW{l}" (n_l, n_{l-1}), "dB{l}" (1, n_l)
    """
''', ANSWERS["model_backward"], visible_points=2, hidden_points=3)

# ---------------------------------------------------------------------------------------
md(r"""
## 4. One step of gradient descent
The gradient points uphill, so each parameter takes a small step against it:

$$ W^{[l]} \leftarrow W^{[l]} - \alpha\, dW^{[l]}, \qquad B^{[l]} \leftarrow B^{[l]} - \alpha\, dB^{[l]} . $$

### Exercise 4: `update_parameters(params, grads, learning_rate)`
Return a **new** dict with the updated `W1, B1, ...`; leave the arrays in `params` unchanged (the
caller may still need the old values, and the checks look). The gradient of `params["W1"]` is
`grads["dW1"]`.
""")
hint(r"""
A dict comprehension over `params.items()` does it in one line: the key of the gradient is
`"d" + key`. Use `value - learning_rate * ...` (a new array), not `-=` (which changes the array in
place).
""")
exercise("update_parameters", r'''
def update_parameters(params, grads, learning_rate):
    """One step of gradient descent.

    Inputs:
    - params: dict with "W{l}" (n_l, n_{l-1}) and "B{l}" (1, n_l) for l = 1..L
    - grads: dict with "dW{l}" and "dB{l}" of the same shapes (other keys such as "dz{l}" are ignored)
    - learning_rate: float, the step size alpha

    Returns:
    - new_params: a new dict with the same keys and shapes; params is not modified
    """
''', ANSWERS["update_parameters"], visible_points=1, hidden_points=2)

# ---------------------------------------------------------------------------------------
md(r"""
## 5. Gradient checking: is my backprop right?
Backprop bugs are quiet: the network still trains, only worse. The cure is to compare the analytic
gradient with a **numerical** one. For every entry $\theta$ of a parameter, the central difference

$$ \frac{\partial J}{\partial \theta} \approx \frac{J(\theta + h) - J(\theta - h)}{2h} $$

has an error of order $h^2$ (about `1e-10` for `h = 1e-5`). `numerical_gradient(f, x, h)` from
Lecture 2 does this for every entry of an array `x`, where `f(x)` returns a float.

Compare the two with a **relative** error, so that the verdict does not depend on the gradient's size:

$$ \text{error} = \frac{\lVert g_{\text{backprop}} - g_{\text{numerical}} \rVert_2}{\lVert g_{\text{backprop}} \rVert_2 + \lVert g_{\text{numerical}} \rVert_2} . $$

Rules of thumb in float64: below `1e-7` your gradient is right; around `1e-5` look again (kinks such as
ReLU's at 0 can cause it); above `1e-3` there is almost certainly a bug.

### Exercise 5: `gradient_check(cost_fn, params, grads, h=1e-5)`
`cost_fn(params)` returns the cost for a params dict. For each key `k` of `params` (`"W1"`, `"B1"`, ...),
compute the numerical gradient of the cost with respect to `params[k]` and return a dict
`{k: relative error between grads["d" + k] and it}`. If both gradients are zero, the error is 0
(guard the division). Do not modify `params`.
""")
hint(r"""
For one key, `f = lambda x: cost_fn({**params, key: x})` is the cost as a function of that
parameter alone (the other parameters stay as they are, and `params` itself is not modified).
Then `numerical_gradient(f, params[key], h)`, and the norms are `np.linalg.norm(...)`. To avoid
`0/0`, divide by `max(denominator, 1e-12)`. Careful with lambdas in a loop: define `f` inside the
loop body and call it there.
""")
exercise("gradient_check", r'''
def gradient_check(cost_fn, params, grads, h=1e-5):
    """Relative error between backprop's gradients and central differences, per parameter.

    Inputs:
    - cost_fn: function params -> float, the cost J
    - params: dict with "W{l}" (n_l, n_{l-1}) and "B{l}" (1, n_l)
    - grads: dict with "dW{l}", "dB{l}" of the same shapes (other keys are ignored)
    - h: float, the step of the central difference

    Returns:
    - errors: dict {"W1": float, "B1": float, ...}, each ||a - b|| / (||a|| + ||b||)
    """
''', ANSWERS["gradient_check"], visible_points=2, hidden_points=2)

md(r"""
### Checking your own backprop
Now turn the tool on your own work: a 2-5-3-1 network with tanh and ReLU hidden layers, your
`binary_cross_entropy` as the cost and your `model_backward` for the gradients. (With these random
inputs no ReLU pre-activation lies within `h` of the kink at 0, where the numerical gradient would be
unreliable.)
Then we plant a typical bug, a `1/m` put into `dz`, and watch the errors jump.
""")
code(r"""
rng_gc = np.random.default_rng(1)
X_gc = rng_gc.standard_normal((8, 2))
Y_gc = (rng_gc.random((8, 1)) < 0.5).astype(float)
activations_gc = ["tanh", "relu", "sigmoid"]
params_gc = initialize_parameters([2, 5, 3, 1], "xavier", seed=1)


def cost_gc(params):
    AL, _ = model_forward(X_gc, params, activations_gc)
    return binary_cross_entropy(AL, Y_gc)


AL_gc, caches_gc = model_forward(X_gc, params_gc, activations_gc)
grads_gc = model_backward(AL_gc, Y_gc, caches_gc, activations_gc)
errors_yours = gradient_check(cost_gc, params_gc, grads_gc)


# The planted bug: dz[L] = (AL - Y) / m. Backprop is linear in dz, so every dz, dW and dB below
# comes out m times too small.
m_gc = X_gc.shape[0]
grads_buggy = {key: value / m_gc for key, value in grads_gc.items()}
errors_buggy = gradient_check(cost_gc, params_gc, grads_buggy)


def verdict(error):
    return "right" if error < 1e-7 else ("look again" if error < 1e-3 else "bug")


rows = [f"| `{key}` | {errors_yours[key]:.1e} ({verdict(errors_yours[key])}) | "
        f"{errors_buggy[key]:.1e} ({verdict(errors_buggy[key])}) |" for key in params_gc]
display(Markdown("| parameter | your model_backward | with 1/m in dz |\n|---|---|---|\n" + "\n".join(rows)))
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 6. Training: the two moons
Forward, cost, backward, update, repeat. That loop is all of training. Here the data are two
interleaving half-moons, which no straight line can separate, so the hidden layer has to bend the
decision boundary.
""")
code(r"""
X_moons, Y_moons = make_moons(m=200, noise=0.2, seed=0)
fig, ax = plt.subplots(figsize=(5, 4))
ax.scatter(X_moons[:, 0], X_moons[:, 1], c=Y_moons[:, 0], cmap="coolwarm", edgecolors="k", s=20)
ax.set(title="make_moons(m=200, noise=0.2): class 0 blue, class 1 red", xlabel="$x_1$", ylabel="$x_2$")
plt.show()
""")

md(r"""
### Exercise 6: `train_two_layer(X, Y, n_hidden, learning_rate, num_iterations, seed=0)`
Build a 2-layer network `[n0, n_hidden, 1]` with `initialize_parameters([n0, n_hidden, 1], "xavier", seed)`,
a tanh hidden layer and a sigmoid output. Train it with full-batch gradient descent for
`num_iterations` steps, using the library's `model_forward`, your `binary_cross_entropy`, your
`model_backward` and your `update_parameters`. Return `(params, costs)`, where `costs` is the list of
the costs computed in each iteration (before that iteration's update).
""")
hint(r"""
```
activations = ["tanh", "sigmoid"]
params = initialize_parameters([X.shape[1], n_hidden, 1], "xavier", seed)
for each iteration:
    AL, caches = model_forward(...)
    costs.append(binary_cross_entropy(AL, Y))
    grads = model_backward(...)
    params = update_parameters(...)
```
""")
exercise("train_two_layer", r'''
def train_two_layer(X, Y, n_hidden, learning_rate, num_iterations, seed=0):
    """Full-batch gradient descent on a tanh-sigmoid network [n0, n_hidden, 1].

    Inputs:
    - X: (m, n0) inputs
    - Y: (m, 1) labels 0/1
    - n_hidden: int, units in the hidden layer
    - learning_rate: float
    - num_iterations: int, number of gradient-descent steps
    - seed: int, passed to initialize_parameters (Xavier initialization)

    Returns a tuple of:
    - params: dict W1 (n_hidden, n0), B1 (1, n_hidden), W2 (1, n_hidden), B2 (1, 1) after training
    - costs: list of num_iterations floats, the cost at each iteration before its update
    """
''', ANSWERS["train_two_layer"], visible_points=1, hidden_points=3)

md(r"""
### Your network on the moons
The left plot colours the plane by your trained network's predicted probability; the right one is
the cost curve. A smooth, steadily falling cost means the gradients point the right way. Notice the
plateau near 0.3 early on: the network first finds an almost straight boundary, and only then learns
to bend it around the moons' tips.
""")
code(r"""
params_moons, costs_moons = train_two_layer(X_moons, Y_moons, n_hidden=8, learning_rate=1.0, num_iterations=1500)
accuracy_moons = backproplab.model.accuracy(X_moons, Y_moons, params_moons, ["tanh", "sigmoid"])

fig, (ax_boundary, ax_cost) = plt.subplots(1, 2, figsize=(11, 4))
plot_decision_boundary(lambda P: model_forward(P, params_moons, ["tanh", "sigmoid"])[0], X_moons, Y_moons,
                       ax=ax_boundary, title=f"8 tanh units: training accuracy {accuracy_moons:.0%}")
plot_costs(costs_moons, ax=ax_cost)
plt.show()
""")

md(r"""
### Explore: learning rate and hidden units
Move the sliders: each change retrains a tanh-sigmoid network on the moons (with the library's
reference implementation, so this works before you finish the exercises) and redraws the boundary
and the cost (full batch, so one epoch is one iteration). Things to try: a learning rate that is far too small (the cost barely moves), one that
is too large (the cost jumps around), and 1 or 2 hidden units (the boundary cannot bend enough).
""")
code(r"""
def explore(learning_rate=1.0, n_hidden=8, iterations=400):
    activations = ["tanh", "sigmoid"]
    initial = initialize_parameters([2, n_hidden, 1], "xavier", seed=0)
    trained, history = backproplab.train(X_moons, Y_moons, initial, activations, learning_rate=learning_rate,
                                         epochs=iterations, record_every=10, progress=False)
    fig, (ax_boundary, ax_cost) = plt.subplots(1, 2, figsize=(11, 4))
    plot_decision_boundary(lambda P: model_forward(P, trained, activations)[0], X_moons, Y_moons, ax=ax_boundary,
                           resolution=80,
                           title=f"lr={learning_rate:g}, {n_hidden} hidden: accuracy {history['train_acc'][-1]:.0%}")
    plot_costs(history, ax=ax_cost)
    plt.show()
    print(f"after {iterations} iterations: cost {history['train_cost'][-1]:.3f}, "
          f"training accuracy {history['train_acc'][-1]:.0%}")


widgets.interactive(
    explore,
    learning_rate=widgets.FloatLogSlider(value=1.0, base=10, min=-3, max=1.3, step=0.1, description="learning rate",
                                         continuous_update=False),
    n_hidden=widgets.IntSlider(value=8, min=1, max=16, description="hidden units", continuous_update=False),
    iterations=widgets.IntSlider(value=400, min=50, max=1500, step=50, description="iterations",
                                 continuous_update=False),
)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 7. The same gradients from PyTorch
PyTorch's autograd records the forward pass and runs exactly this backward pass for you. To compare
it with ours, build the same network in `torch.float64` from the same weights:

* `torch.nn.Linear` stores its weight as `(n_l, n_{l-1})`, the layout of our `W[l]`, so
  `Z = A_prev @ W.T + B` is the same formula.
* `Z.retain_grad()` asks autograd to keep the gradient of the intermediate tensor `Z` (it only keeps
  leaves' gradients otherwise).
* `torch.nn.functional.binary_cross_entropy` clamps the logs at -100 like our exercise 1. By default it
  averages over *every entry* of `A`, i.e. over `m * nL` numbers; our `J` sums over the output units and
  averages over the `m` examples only. With one output unit the two agree; in general use
  `reduction="sum"` and divide by `m` yourself.
* After `J.backward()`, `W.grad` is our `dW` and `B.grad` our `dB`. But `Z.grad` is the gradient of the
  **mean** cost: our `dz` divided by `m`. Multiply it by `m` to get `dz` in the course's convention.

### Exercise 7: `torch_gradients(X, Y, params, activations)`
Return a dict with `dW{l}, dB{l}, dz{l}` for every layer as **NumPy** float64 arrays
(`tensor.detach().numpy()`), computed by `torch.autograd` on the network given by `params` and
`activations` (hidden activations among `"tanh"`, `"relu"`, `"sigmoid"`, `"leaky_relu"` (slope 0.01),
output `"sigmoid"` with binary cross-entropy, possibly with several output units). Import torch inside
the function.
""")
hint(r"""
Turn each `params[f"W{l}"]` into `torch.tensor(..., dtype=torch.float64, requires_grad=True)` (the same for
`B`); loop over the layers computing `Z = A @ W.T + B`, `Z.retain_grad()`, `A = activation(Z)`, keeping
`W`, `B`, `Z` in lists. `torch.sigmoid`, `torch.tanh`, `torch.relu` and
`torch.nn.functional.leaky_relu(Z, 0.01)` are the activations. Then the cost
`binary_cross_entropy(A, Y_tensor, reduction="sum") / m`, `.backward()`, and `m * Z.grad` for `dz`.
""")
exercise("torch_gradients", r'''
def torch_gradients(X, Y, params, activations):
    """Gradients of the mean binary cross-entropy from PyTorch autograd, in the course's conventions.

    Inputs:
    - X: (m, n0) inputs; Y: (m, nL) labels 0/1
    - params: dict with "W{l}" (n_l, n_{l-1}) and "B{l}" (1, n_l), NumPy arrays
    - activations: list of L names; hidden layers tanh/relu/sigmoid/leaky_relu, output "sigmoid"

    Returns:
    - grads: dict of NumPy float64 arrays: "dW{l}" (n_l, n_{l-1}) = weight.grad,
      "dB{l}" (1, n_l) = bias.grad, "dz{l}" (m, n_l) = m * Z.grad
    """
''', ANSWERS["torch_gradients"], visible_points=2, hidden_points=2)

md(r"""
### Your backprop against PyTorch
The table shows the largest absolute difference between your `model_backward` and your
`torch_gradients` on the gradient-checking network from section 5. Differences around `1e-16`
are rounding; anything visible means one of the two keeps a different book. The last column shows what
you would get if you forgot the factor `m` on `Z.grad`.
""")
code(r"""
grads_torch = torch_gradients(X_gc, Y_gc, params_gc, activations_gc)
rows = []
for l in range(1, len(activations_gc) + 1):
    differences = [np.max(np.abs(grads_gc[f"{name}{l}"] - grads_torch[f"{name}{l}"])) for name in ("dW", "dB", "dz")]
    forgot_m = np.max(np.abs(grads_gc[f"dz{l}"] - grads_torch[f"dz{l}"] / m_gc))
    rows.append(f"| {l} | " + " | ".join(f"{d:.1e}" for d in differences) + f" | {forgot_m:.1e} |")
display(Markdown("| layer | max abs diff dW | dB | dz | dz vs Z.grad (no m) |\n|---|---|---|---|---|\n" + "\n".join(rows)))
""")

md(r"""
## Summary
* One dense layer backwards: `dA_prev = dz @ W`, `dW = (1/m) dz.T @ A_prev`, `dB = (1/m) dz.sum(axis=0, keepdims=True)`;
  between layers, `dz[l-1] = dA[l-1] * g'(Z[l-1])`, with `g'` at the pre-activation.
* `dz` is per example and has no `1/m`; the `1/m` enters once, where examples are summed into `dW` and `dB`.
  PyTorch's `Z.grad` of a mean loss is `dz / m`.
* Sigmoid + cross-entropy gives `dz[L] = A[L] - Y`.
* Gradient checking with central differences and a relative error is how you *know* a backward pass is right.

Next lecture: why the starting weights matter so much (initialization).
""")


def build():
    """The lecture as an nbformat v4 NotebookNode (no outputs)."""
    return nbb.assemble(cells)


if __name__ == "__main__":
    nbb.main(build, OUTPUT)
