"""Build solutions/03-activations/activations.ipynb (lecture 03, activation functions).

Run from the repository root:  .venv/bin/python tools/build_03_activations.py
then `bplab release 03-activations` to regenerate the student version in course/.
The notebook is written normalized (no outputs), in the form `bplab release` keeps.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_builder import with_solution  # noqa: E402

from backproplab.grading.factory import (build_notebook, hidden_test_cell, nbgrader_metadata,  # noqa: E402
                                         setup_cell, visible_test_cell)
from backproplab.grading.notebooks import write_normalized  # noqa: E402
from backproplab.grading.samples.lecture03 import ANSWERS  # noqa: E402  (one source for notebook and catalog)

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "solutions" / "03-activations" / "activations.ipynb"

# Points per exercise: (visible test, hidden test). Hidden tests weigh more: they decide
# the grade on inputs the student has not seen (m=1, n=1, large |z|).
POINTS = {
    "sigmoid": (1, 2), "tanh": (1, 1), "relu": (1, 1), "leaky_relu": (1, 1), "softmax": (1, 2),
    "sigmoid_backward": (1, 2), "tanh_backward": (1, 2), "relu_backward": (1, 2),
    "leaky_relu_backward": (1, 2),
}


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text):
    return new_code_cell(text.strip("\n"))


def answer(exercise, signature_and_doc, solution):
    """An answer cell: the signature and docstring stay visible, the catalog's ``solution`` body is the solution region."""
    return new_code_cell(with_solution(signature_and_doc, solution), metadata=nbgrader_metadata(exercise, solution=True))


def setup(text):
    """The setup cell: tagged "setup" (outside verification runs it before the answers) and locked."""
    cell = setup_cell(text.strip("\n"))
    cell.metadata.update(nbgrader_metadata("setup_imports", locked=True))
    return cell


def hint(text):
    """A hint the student opens on demand (a collapsed <details> block)."""
    return md(f"<details><summary><b>Hint</b> (click to open)</summary>\n\n{text.strip()}\n\n</details>")


def tests(exercise):
    visible, hidden = POINTS[exercise]
    return [visible_test_cell(exercise, points=visible), hidden_test_cell(exercise, points=hidden)]


def manual(grade_id, points, model_answer):
    """A manually graded "explain in your own words" cell; the release replaces it with a stub."""
    return new_markdown_cell(model_answer.strip("\n"), metadata=nbgrader_metadata(
        grade_id, solution=True, grade=True, points=points, cell_type="markdown"))


CELLS = []
add = CELLS.extend

add([md(r"""
# Lecture 03: Activation functions

Every layer of a network computes a linear map and then bends it with an **activation function** $g$.
This lecture is about the $g$'s: what they look like, what their slopes are, why some of them make
deep networks learn slowly, and which one to put where.

**Learning goals.** After this notebook you can

1. say where $g$ sits in a layer and why a network without it is just one linear map;
2. implement sigmoid, tanh, ReLU, leaky ReLU and a row-wise softmax in NumPy for a whole batch
   $Z$ of shape $(m, n_l)$, without overflow for large $|z|$;
3. write derivatives through outputs, $\sigma'(z) = a(1-a)$ and $\tanh'(z) = 1-a^2$, and implement
   the backward rules $dz = dA \odot g'(Z)$;
4. explain saturation and the vanishing gradient with numbers: $\sigma'(5) \approx 0.0066$ but
   $\sigma'(0.1) \approx 0.249$;
5. choose an activation for the hidden layers and for the output layer;
6. check your NumPy functions against `torch.nn`.

**How this notebook works.** Run the two setup cells first. Each exercise has an answer cell (fill in the
body of the function), then a test cell `check("name", name)`. When a check fails it names the
mistake (for example *derivative at output*) and points to the formula. The graded score comes
from hidden tests on fresh inputs, so make your function right for every shape, not just for the
visible example.
"""),
    md("""
## Setup
The first cell imports what your answers may use; the second one the checks and the tools for the
explanations and figures. Run both first.
"""),
    setup("""
import numpy as np
"""),
    code("""
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import display

import backproplab as bpl
from backproplab import plots
from backproplab.checks import check
from backproplab.activations import get_activation
from backproplab.gradcheck import numerical_gradient

rng = np.random.default_rng(3)
np.set_printoptions(precision=4, suppress=True)
"""),
    md(r"""
## 1. Where the activation sits

Batch-first notation, as in PyTorch: one example per row.

$$Z^{[l]} = A^{[l-1]}\, W^{[l]\top} + B^{[l]}, \qquad A^{[l]} = g^{[l]}\!\left(Z^{[l]}\right), \qquad A^{[0]} = X$$

| matrix | shape |
|---|---|
| $A^{[l-1]}$ | $(m, n_{l-1})$ |
| $W^{[l]}$ | $(n_l, n_{l-1})$, like `torch.nn.Linear.weight` |
| $B^{[l]}$ | $(1, n_l)$, broadcast over the $m$ rows |
| $Z^{[l]}$, $A^{[l]}$ | $(m, n_l)$ |

Most activations act **elementwise**: $A_{ij} = g(Z_{ij})$, so $A$ has the shape of $Z$. Softmax is
the exception: it acts on each **row** (one example's $n_l$ scores) at once.

Why bother? Without $g$, two layers collapse into one:
$\left(X W^{[1]\top} + B^{[1]}\right) W^{[2]\top} + B^{[2]} = X \left(W^{[2]} W^{[1]}\right)^{\top} + \left(B^{[1]} W^{[2]\top} + B^{[2]}\right)$,
a single linear layer with weights $W^{[2]}W^{[1]}$ of shape $(n_2, n_0)$. The cell below checks it.
"""),
    code("""
m, n0, n1, n2 = 4, 3, 5, 2
X = rng.normal(size=(m, n0))
W1, B1 = rng.normal(size=(n1, n0)), rng.normal(size=(1, n1))
W2, B2 = rng.normal(size=(n2, n1)), rng.normal(size=(1, n2))

two_linear_layers = bpl.dense_forward(bpl.dense_forward(X, W1, B1), W2, B2)
one_linear_layer = bpl.dense_forward(X, W2 @ W1, B1 @ W2.T + B2)
assert np.allclose(two_linear_layers, one_linear_layer)

with_relu_between = bpl.dense_forward(bpl.relu(bpl.dense_forward(X, W1, B1)), W2, B2)
print("two linear layers == one linear layer:", np.allclose(two_linear_layers, one_linear_layer))
print("with a ReLU between them, still equal?", np.allclose(with_relu_between, one_linear_layer))
"""),
    md(r"""
## 2. Sigmoid

$$\sigma(z) = \frac{1}{1 + e^{-z}} \in (0, 1)$$

It squashes any score into a probability, which is why it is the output unit of a binary
classifier. Applied to $Z$ of shape $(m, n)$ it returns $A$ of shape $(m, n)$.

**Overflow.** For $z = -1000$, `np.exp(-z)` overflows to `inf` and NumPy warns. The result
$1/(1+\infty) = 0$ happens to be right, but a warning in every training step is a bug waiting to
happen. The same number can be written without a large exponent:

$$\sigma(z) = \frac{1}{1 + e^{-z}} \;\text{ for } z \ge 0, \qquad \sigma(z) = \frac{e^{z}}{1 + e^{z}} \;\text{ for } z < 0,$$

so only $e^{-|z|} \le 1$ is ever computed.

### Exercise 1: `sigmoid`
"""),
    answer("sigmoid", '''
def sigmoid(Z):
    """Logistic function, elementwise.

    Inputs:
    - Z: pre-activations, ndarray of shape (m, n)

    Returns:
    - A: sigma(Z), ndarray of shape (m, n), values in (0, 1); no overflow warnings for |z| = 1000
    """''', ANSWERS["sigmoid"]),
    hint(r"""
`1 / (1 + np.exp(-Z))` works on whole arrays at once, no loop needed. To avoid the overflow, compute
`E = np.exp(-np.abs(Z))` and choose per entry with `np.where(Z >= 0, 1 / (1 + E), E / (1 + E))`.
Return a new array; do not change `Z` in place.
"""),
    *tests("sigmoid"),
    md(r"""
## 3. tanh

$$\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}} = 2\sigma(2z) - 1 \in (-1, 1)$$

The same S shape as the sigmoid, stretched to $(-1, 1)$ and **centred at zero**: a hidden layer of
tanh units passes on activations with mean near 0, which makes the next layer's gradient steps
better balanced than with the all-positive sigmoid.

### Exercise 2: `tanh`
"""),
    answer("tanh", '''
def tanh(Z):
    """Hyperbolic tangent, elementwise.

    Inputs:
    - Z: pre-activations, ndarray of shape (m, n)

    Returns:
    - A: tanh(Z), ndarray of shape (m, n), values in (-1, 1)
    """''', ANSWERS["tanh"]),
    hint(r"""
NumPy has it: `np.tanh`. (If you write it from exponentials, `np.exp(1000)` overflows; use
`2 * sigmoid(2 * Z) - 1` instead.)
"""),
    *tests("tanh"),
    md(r"""
## 4. ReLU, leaky ReLU and ELU

$$\operatorname{relu}(z) = \max(0, z), \qquad
\operatorname{leaky\_relu}(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}, \qquad
\operatorname{elu}(z) = \begin{cases} z & z > 0 \\ \alpha\,(e^{z} - 1) & z \le 0 \end{cases}$$

ReLU is the default for hidden layers: it is cheap, and for $z > 0$ its slope is exactly 1, so it
does not shrink gradients. Its weakness: a unit whose $z$ is negative for every example gets
gradient 0 and stops learning (a "dead" ReLU). Leaky ReLU keeps a small slope $\alpha$
(default 0.01, as in `torch.nn.LeakyReLU`) on the negative side; ELU bends smoothly towards
$-\alpha$. Shapes as before: $Z$ $(m, n)$ in, $A$ $(m, n)$ out.

### Exercise 3: `relu`
"""),
    answer("relu", '''
def relu(Z):
    """Rectified linear unit max(0, z), elementwise.

    Inputs:
    - Z: pre-activations, ndarray of shape (m, n)

    Returns:
    - A: ndarray of shape (m, n)
    """''', ANSWERS["relu"]),
    hint(r"""
`np.maximum(Z, 0)` compares entry by entry. Careful: `np.max(Z, 0)` is something else entirely: it
takes the maximum **along axis 0** and returns one row.
"""),
    *tests("relu"),
    md("### Exercise 4: `leaky_relu`"),
    answer("leaky_relu", '''
def leaky_relu(Z, alpha=0.01):
    """Leaky ReLU: z where z > 0, alpha * z elsewhere, elementwise.

    Inputs:
    - Z: pre-activations, ndarray of shape (m, n)
    - alpha: slope for z <= 0, a float (default 0.01)

    Returns:
    - A: ndarray of shape (m, n)
    """''', ANSWERS["leaky_relu"]),
    hint(r"""
`np.where(condition, value_if_true, value_if_false)` picks entry by entry. Use the `alpha` argument,
not a hard-coded 0.01: the checks may call your function with another slope.
"""),
    *tests("leaky_relu"),
    md(r"""
ELU is not an exercise; here it is from the library, next to the others, on a few values of $z$:
"""),
    code("""
z_row = np.array([[-3.0, -1.0, -0.1, 0.0, 0.1, 1.0, 3.0]])  # shape (1, 7): one example, 7 units
for name in ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]:
    print(f"{name:>10}:", get_activation(name).forward(z_row))
"""),
    md(r"""
## 5. Softmax

For a multi-class output layer with $n$ classes, softmax turns each example's $n$ scores into
probabilities that sum to 1:

$$\operatorname{softmax}(z)_j = \frac{e^{z_j}}{\sum_{k=1}^{n} e^{z_k}}, \qquad j = 1, \dots, n.$$

For a batch $Z$ of shape $(m, n)$ it is applied to **each row**: $A$ has shape $(m, n)$, and
`A.sum(axis=1)` is a column of ones of length $m$. The sums run over axis 1 (the classes of one
example), never over axis 0 (the examples of one class).

Worked example: `softmax([7, 5, 2, -1, 3])` = [0.8615, 0.1166, 0.0058, 0.0003, 0.0158].
"""),
    code("""
worked = bpl.softmax(np.array([[7.0, 5.0, 2.0, -1.0, 3.0]]))  # (1, 5)
print(worked)
np.testing.assert_allclose(worked, [[0.8615, 0.1166, 0.0058, 0.0003, 0.0158]], atol=5e-5)
assert np.isclose(worked.sum(), 1.0)
"""),
    md(r"""
**Why subtract the maximum?** Softmax does not change when the same constant $c$ is subtracted from
every score of a row, because $e^{c}$ cancels:

$$\frac{e^{z_j - c}}{\sum_k e^{z_k - c}} = \frac{e^{-c}\, e^{z_j}}{e^{-c} \sum_k e^{z_k}} = \operatorname{softmax}(z)_j .$$

Take $c = \max_k z_k$: then every exponent is $\le 0$, the largest term is $e^0 = 1$, nothing can
overflow and the denominator is at least 1. Without it, scores like $[1000, 999]$ give
$e^{1000} = \infty$ and $\infty / \infty = $ `nan`. (The cell silences NumPy's warnings with
`np.errstate` so that you see the values, not the warnings.)
"""),
    code("""
scores = np.array([[1000.0, 999.0]])  # (1, 2)

with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
shifted = scores - scores.max(axis=1, keepdims=True)  # [[0, -1]]
stable = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)

print("naive :", naive)
print("stable:", stable)
assert np.isnan(naive).all() and np.allclose(stable, bpl.softmax(scores))
np.testing.assert_allclose(stable, [[bpl.sigmoid(1.0), bpl.sigmoid(-1.0)]])  # two classes: a sigmoid
"""),
    md("### Exercise 5: `softmax`"),
    answer("softmax", '''
def softmax(Z):
    """Row-wise softmax: each example's scores become probabilities.

    Inputs:
    - Z: scores, ndarray of shape (m, n), one example per row

    Returns:
    - A: ndarray of shape (m, n); every row is positive and sums to 1.
      No overflow for large scores (subtract each row's maximum first).
    """''', ANSWERS["softmax"]),
    hint(r"""
Three steps, all per row: `Z.max(axis=1, keepdims=True)` (shape $(m, 1)$), subtract it and take
`np.exp`, divide by the row sums `E.sum(axis=1, keepdims=True)`. `keepdims=True` keeps the $(m, 1)$
shape so that broadcasting divides each row by its own sum. Subtracting the maximum of the **whole**
matrix is not enough: a row whose scores are all far below it underflows to 0/0.
"""),
    *tests("softmax"),
    md(r"""
## 6. The activations and their slopes

Solid: $g(z)$. Dashed: $g'(z)$. Look at where each slope is small: that is where learning is slow.
"""),
    code("""
names = ["sigmoid", "tanh", "relu", "leaky_relu", "elu"]
fig, axes = plt.subplots(1, len(names), figsize=(16, 3.2), sharey=True)
for name, ax in zip(names, axes):
    plots.plot_activation(name, ax=ax, z=(-4, 4))
fig.tight_layout()
plt.show()
"""),
    md(r"""
## 7. Derivatives written through outputs, and the backward rules

The sigmoid's slope can be written with its own output $a = \sigma(z)$:

$$\sigma'(z) = \frac{e^{-z}}{(1+e^{-z})^2} = \frac{1}{1+e^{-z}} \cdot \frac{e^{-z}}{1+e^{-z}} = \sigma(z)\,\bigl(1-\sigma(z)\bigr) = a\,(1-a).$$

Likewise $\tanh'(z) = 1 - \tanh^2(z) = 1 - a^2$. For the piecewise ones:
$\operatorname{relu}'(z) = 1$ for $z > 0$ and $0$ for $z \le 0$; $\operatorname{leaky\_relu}'(z) = 1$
for $z > 0$ and $\alpha$ for $z \le 0$ (at the kink $z = 0$ we use the left slope, as PyTorch does).

In backpropagation the layer receives $dA^{[l]}$, the gradient of each example's loss with respect to
its output, and passes on

$$dz^{[l]} = dA^{[l]} \odot g'\!\left(Z^{[l]}\right), \qquad dA^{[l]}, Z^{[l]}, dz^{[l]} : (m, n_l),$$

an elementwise product (no matrix product, no $1/m$: the mean over examples comes later, in
$dW$ and $dB$). The derivative is evaluated **at $Z$**. "Written through outputs" means: compute
$a = g(Z)$ and then $a(1-a)$. It does **not** mean plugging $A$ into $g'$: $\sigma'(A) = \sigma(A)(1-\sigma(A))$
is the slope at a different point. The checks call that mistake *derivative at output*.

The formulas agree with central finite differences (lecture 02) of the library's $g$:
"""),
    code("""
Z_probe = rng.normal(size=(3, 4)) * 2  # (m, n) = (3, 4)
for name, slope_through_output in [("sigmoid", lambda a: a * (1 - a)), ("tanh", lambda a: 1 - a**2)]:
    g = get_activation(name).forward
    A_probe = g(Z_probe)
    # d(sum g(Z)) / dZ is g'(Z), entry by entry.
    finite_differences = numerical_gradient(lambda Z: g(Z).sum(), Z_probe.copy())
    error = np.abs(slope_through_output(A_probe) - finite_differences).max()
    print(f"{name}: max |slope through output - finite differences| = {error:.1e}")
    assert error < 1e-8
"""),
    md("### Exercise 6: `sigmoid_backward`"),
    answer("sigmoid_backward", '''
def sigmoid_backward(dA, Z):
    """Backward rule of a sigmoid layer: dz = dA * sigma'(Z).

    Inputs:
    - dA: upstream gradient with respect to A = sigmoid(Z), ndarray of shape (m, n)
    - Z: the layer's pre-activations from the forward pass, ndarray of shape (m, n)

    Returns:
    - dz: ndarray of shape (m, n)
    """''', ANSWERS["sigmoid_backward"]),
    hint(r"""
First the output `A = sigmoid(Z)` (your Exercise 1), then the slope through the output `A * (1 - A)`,
then the elementwise product with `dA`. Use `*`, not `@`.
"""),
    *tests("sigmoid_backward"),
    md("### Exercise 7: `tanh_backward`"),
    answer("tanh_backward", '''
def tanh_backward(dA, Z):
    """Backward rule of a tanh layer: dz = dA * (1 - tanh(Z)^2).

    Inputs:
    - dA: upstream gradient with respect to A = tanh(Z), ndarray of shape (m, n)
    - Z: the layer's pre-activations from the forward pass, ndarray of shape (m, n)

    Returns:
    - dz: ndarray of shape (m, n)
    """''', ANSWERS["tanh_backward"]),
    hint(r"""
`A = tanh(Z)`, then `dA * (1 - A**2)`. The slope is largest (1) at $z = 0$ and tiny for large $|z|$.
"""),
    *tests("tanh_backward"),
    md("### Exercise 8: `relu_backward`"),
    answer("relu_backward", '''
def relu_backward(dA, Z):
    """Backward rule of a ReLU layer: dz = dA where Z > 0, 0 elsewhere.

    Inputs:
    - dA: upstream gradient with respect to A = relu(Z), ndarray of shape (m, n)
    - Z: the layer's pre-activations from the forward pass, ndarray of shape (m, n)

    Returns:
    - dz: ndarray of shape (m, n); a new array (dA is not modified)
    """''', ANSWERS["relu_backward"]),
    hint(r"""
The slope is 1 where `Z > 0` and 0 elsewhere, so `np.where(Z > 0, dA, 0.0)`. Two traps: the mask
comes from `Z`, not from `dA`; and `dA[Z <= 0] = 0` changes the caller's array (make a copy first,
or use `np.where`).
"""),
    *tests("relu_backward"),
    md("### Exercise 9: `leaky_relu_backward`"),
    answer("leaky_relu_backward", '''
def leaky_relu_backward(dA, Z, alpha=0.01):
    """Backward rule of a leaky ReLU layer: dz = dA * (1 where Z > 0, alpha elsewhere).

    Inputs:
    - dA: upstream gradient with respect to A = leaky_relu(Z, alpha), ndarray of shape (m, n)
    - Z: the layer's pre-activations from the forward pass, ndarray of shape (m, n)
    - alpha: slope for z <= 0, a float (default 0.01)

    Returns:
    - dz: ndarray of shape (m, n)
    """''', ANSWERS["leaky_relu_backward"]),
    hint(r"""
Build the slope array `np.where(Z > 0, 1.0, alpha)` (shape $(m, n)$) and multiply it by `dA`
elementwise. The slope on the negative side is `alpha`, not 0 and not `alpha * Z`.
"""),
    *tests("leaky_relu_backward"),
    md(r"""
## 8. Saturation and the vanishing gradient

Where the S curves flatten out, $|z|$ large, the slope is almost 0: the unit is **saturated**. Take a
sigmoid output unit. With input current $z = 5$ its slope is $\sigma'(5) = 0.0066$; with $z = 0.1$ it is
$\sigma'(0.1) = 0.249$, about **40 times** bigger. Since $dz = dA \odot \sigma'(Z)$, the saturated unit
passes back 40 times less gradient, and its weights learn 40 times more slowly.
"""),
    code("""
slope = get_activation("sigmoid").derivative
slope_saturated, slope_active = slope(np.array([[5.0]])).item(), slope(np.array([[0.1]])).item()
ratio = slope_active / slope_saturated
print(f"sigma'(5)   = {slope_saturated:.4f}")
print(f"sigma'(0.1) = {slope_active:.3f}")
print(f"ratio       = {ratio:.1f}  (about 40)")
assert round(slope_saturated, 4) == 0.0066 and round(slope_active, 3) == 0.249
assert 35 < ratio < 45
"""),
    md(r"""
In a deep network the factors multiply. Backpropagating through $L$ sigmoid layers multiplies the
gradient by $L$ slopes, each at most $\sigma'(0) = 0.25$, so the first layers get at most
$0.25^{L}$ of it; saturated layers make it far worse. ReLU's slope is exactly 1 for active units, so
depth alone does not shrink the gradient (the weights still can). The figure shows the product of
slopes through $L$ layers when every unit sits at the same $z$ (log scale).
"""),
    code("""
depths = np.arange(1, 21)
fig, ax = plt.subplots(figsize=(6.5, 3.5))
for name, z in [("sigmoid", 0.1), ("sigmoid", 5.0), ("tanh", 0.1), ("relu", 0.1)]:
    one_layer = get_activation(name).derivative(np.array([[z]])).item()
    ax.semilogy(depths, one_layer ** depths, marker="o", markersize=3, label=f"{name}, z = {z}")
ax.set_xlabel("number of layers L")
ax.set_ylabel("product of slopes g'(z)^L")
ax.set_title("How much gradient reaches the first layer")
ax.legend()
fig.tight_layout()
plt.show()
"""),
    md(r"""
## Explorer

Move the slider over $z$ and pick an activation from the dropdown. The plot shows $g$ and $g'$ with
the point $z$ marked, and the title gives both values. Find the $z$ where the sigmoid's slope drops
below 0.01; compare tanh's slope at the same $z$; watch what leaky ReLU's slope does at $z = 0$.
"""),
    code("""
def show_activation(activation="sigmoid", z=0.1):
    \"\"\"Plot g and g' of one activation on [-6, 6] and mark the point z.\"\"\"
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    plots.plot_activation(activation, ax=ax, z=(-6, 6), mark=z)
    act = get_activation(activation)
    at_z = np.array([[z]])  # (1, 1): one example, one unit
    ax.set_title(f"{activation}:  g({z:.2f}) = {act.forward(at_z).item():.4f},  "
                 f"g'({z:.2f}) = {act.derivative(at_z).item():.4f}")
    plt.show()


explorer = widgets.interactive(
    show_activation,
    activation=widgets.Dropdown(options=["sigmoid", "tanh", "relu", "leaky_relu", "elu"],
                                value="sigmoid", description="activation"),
    z=widgets.FloatSlider(value=0.1, min=-6.0, max=6.0, step=0.1, description="z"),
)
display(explorer)
"""),
    md(r"""
## 9. Which activation goes where: rules of thumb

| where | choose | why |
|---|---|---|
| hidden layers (default) | **ReLU** | slope 1 for active units: no shrinking with depth; cheap |
| hidden layers, units dying | **leaky ReLU** or **ELU** | a small slope for $z \le 0$ keeps every unit learning |
| hidden layers, small or recurrent nets | **tanh** | zero-centred, bounded; mind saturation for large $|z|$ |
| hidden layers | ~~sigmoid~~ | not zero-centred, slope at most 0.25: gradients vanish |
| output, binary classification | **sigmoid** (with binary cross-entropy) | one probability in $(0,1)$; $dz^{[L]} = A^{[L]} - Y$ |
| output, $n$ classes, one label each | **softmax** (with cross-entropy) | a probability per class, rows sum to 1; $dz^{[L]} = A^{[L]} - Y$ |
| output, regression | **identity** (with MSE) | any real number; $dz^{[L]} = A^{[L]} - Y$ |
| output, several independent yes/no labels | **sigmoid** per unit | the labels do not compete, so no softmax |

Pair the output activation with its loss: the three pairs above give the same simple $dz^{[L]}$,
and the loss cancels the output unit's saturation (with BCE, a confidently wrong sigmoid output
still gets a large gradient).
"""),
    md(r"""
## 10. The same in PyTorch

`torch.nn` has each activation as a module: `Sigmoid`, `Tanh`, `ReLU`, `LeakyReLU(negative_slope=0.01)`,
`ELU(alpha=1.0)` and `Softmax(dim=1)` (`dim=1`: over each row, like ours). Autograd gives the
backward rule: if we call `A.backward(dA)`, then `Z.grad` is exactly our $dz = dA \odot g'(Z)$.
(Here no mean is taken. In a training loop with a mean loss over $m$ examples, `Z.grad` would be
$dz / m$, i.e. $dz$ = `m * Z.grad`.)

The cell compares, in float64, the library's reference and (once you have written them) your
functions with PyTorch. Softmax and ELU backward are not exercises; for them only the library's
functions are compared.
"""),
    code("""
import torch


def yours_or_none(name):
    \"\"\"Your function of that name if it is defined and runs; None while it is still a stub.\"\"\"
    fn = globals().get(name)
    try:
        fn(np.zeros((1, 1))) if not name.endswith("_backward") else fn(np.zeros((1, 1)), np.ones((1, 1)))
    except Exception:  # NotImplementedError, or a bug the exercise's check will name
        return None
    return fn


torch_modules = {
    "sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(),
    "leaky_relu": torch.nn.LeakyReLU(negative_slope=0.01), "elu": torch.nn.ELU(alpha=1.0),
    "softmax": torch.nn.Softmax(dim=1),
}
Z_cmp = rng.normal(size=(5, 3)) * 3   # (m, n) = (5, 3); no exact zeros, so no kinks
dA_cmp = rng.normal(size=(5, 3))

print(f"{'activation':>10}  {'reference: A, dz':>18}  {'yours: A, dz':>18}")
for name, module in torch_modules.items():
    Z_torch = torch.tensor(Z_cmp, dtype=torch.float64, requires_grad=True)
    A_torch = module(Z_torch)
    A_torch.backward(torch.tensor(dA_cmp))
    A_expected, dz_expected = A_torch.detach().numpy(), Z_torch.grad.numpy()

    reference = get_activation(name)
    differences = {"reference": (np.abs(reference.forward(Z_cmp) - A_expected).max(),
                                 np.abs(reference.backward(dA_cmp, Z_cmp) - dz_expected).max())}
    assert max(differences["reference"]) < 1e-12, name
    forward, backward = yours_or_none(name), yours_or_none(name + "_backward")
    yours = ["   -    " if fn is None else f"{np.abs(fn(*args) - want).max():8.1e}"
             for fn, args, want in [(forward, (Z_cmp,), A_expected), (backward, (dA_cmp, Z_cmp), dz_expected)]]
    print(f"{name:>10}  {differences['reference'][0]:8.1e}, {differences['reference'][1]:8.1e}  "
          f"{yours[0]}, {yours[1]}")
print("(max |difference| from torch; '-': not written yet, or not an exercise: elu, softmax's backward)")
"""),
    md(r"""
## 11. In your own words

**Question 1** (2 points). A network with ten sigmoid hidden layers learns its last layers well but
its first layers barely move. Explain why, using the numbers from section 8, and say what changes if
the hidden layers use ReLU instead.
"""),
    manual("explain_vanishing_gradient", 2, r"""
Each layer's backward rule multiplies the gradient by the slope: $dz = dA \odot \sigma'(Z)$, and
$\sigma'(z) \le 0.25$ everywhere, $0.0066$ at $z = 5$. Going back through ten sigmoid layers the
gradient is multiplied by ten such factors, at most $0.25^{10} \approx 10^{-6}$, far less when units
saturate, so $dW$ of the first layers is tiny and they barely update (vanishing gradient). With ReLU,
active units have slope exactly 1, so depth by itself does not shrink the gradient; only the weights
and inactive (dead) units do.

=== BEGIN MARK SCHEME ===
1 point: the chain rule multiplies a slope per layer and the sigmoid's slope is at most 0.25 (0.0066
when saturated), so the product shrinks geometrically with depth.
1 point: ReLU's slope is 1 for z > 0, so the factor per layer does not shrink (mentioning dead units
or leaky ReLU is a plus, not required).
=== END MARK SCHEME ===
"""),
    md(r"""
**Question 2** (1 point). Why does subtracting each row's maximum leave softmax's result unchanged,
and what goes wrong without it?
"""),
    manual("explain_softmax_shift", 1, r"""
Subtracting the same $c$ from every score of a row multiplies numerator and denominator by
$e^{-c}$, which cancels. With $c$ = the row's maximum all exponents are $\le 0$, so nothing overflows.
Without it, scores like 1000 give $e^{1000} = \infty$ and $\infty/\infty$ = NaN.

=== BEGIN MARK SCHEME ===
1 point: both the cancellation of e^{-c} and the overflow (inf/inf = NaN) for large scores.
=== END MARK SCHEME ===
"""),
    md(r"""
## Summary

- $A^{[l]} = g(Z^{[l]})$ has the shape $(m, n_l)$ of $Z^{[l]}$; without $g$ stacked layers are one linear map.
- Sigmoid and tanh are S curves with slopes $a(1-a) \le 0.25$ and $1 - a^2 \le 1$; ReLU's slope is 0 or 1.
- Softmax works per row; subtract the row maximum against overflow.
- Backward: $dz = dA \odot g'(Z)$, elementwise, derivative at $Z$.
- Saturated units ($\sigma'(5) = 0.0066$) pass back little gradient; through many layers it vanishes.
- ReLU family inside, sigmoid / softmax / identity at the output, each paired with its loss.
"""),
])


def build():
    """Return the lecture's notebook (nbformat v4 node)."""
    nb = build_notebook(CELLS)
    # Stable cell ids, so that rebuilding an unchanged lecture gives an unchanged file.
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"
    return nb


if __name__ == "__main__":
    nbformat.validate(build())
    write_normalized(build(), TARGET)
    print(f"wrote {TARGET.relative_to(ROOT)}", file=sys.stderr)
