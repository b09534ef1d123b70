"""Build solutions/02-computation-graphs/computation_graphs.ipynb (the instructor source).

Run:  .venv/bin/python tools/build_02_computation_graphs.py
The notebook is written without outputs (normalized); edit this script, not the .ipynb.
The student version course/02-computation-graphs/ is generated from it by `bplab release`.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_builder as nbb  # noqa: E402  (cell factories, stable ids and the writer shared by the builders)
from notebook_builder import ROOT  # noqa: E402

from backproplab.grading.samples.lecture02 import ANSWERS, SETUP  # noqa: E402  (one source for notebook and catalog)

OUT = ROOT / "solutions" / "02-computation-graphs" / "computation_graphs.ipynb"

cells = []


def md(text):
    cells.append(nbb.md(text))


def code(text, tags=None):
    cells.append(nbb.code(text, tags))


def setup(text):
    """A cell the answer code depends on (tagged 'setup'; the outside grader runs it first)."""
    code(text, tags=["setup"])


def answer(exercise, header, solution):
    """The student's answer cell (grade_id = the exercise name): header + the catalog's solution."""
    cells.append(nbb.answer(exercise, header, solution))


def tests(exercise, points_visible=1, points_hidden=2):
    """The visible and the hidden test cell of one exercise, both locked and graded."""
    cells.extend(nbb.tests(exercise, points_visible, points_hidden))


def explain(grade_id, question, model_answer, points=2):
    """A manually graded 'explain in your own words' question: prompt + markdown answer cell."""
    md(question)
    # The whole cell is the model answer; the release replaces it with "YOUR ANSWER HERE".
    cells.append(nbb.manual(grade_id, model_answer, points))


def hint(*steps):
    """A collapsed hint ladder: each <details> reveals one more step."""
    md("\n\n".join(f"<details><summary>Hint {i}</summary>\n\n{step.strip()}\n\n</details>"
                   for i, step in enumerate(steps, 1)))


# ---------------------------------------------------------------------------------------
md(r"""
# Lecture 02: Computation graphs and automatic differentiation

**Learning goals.** After this lecture you can

1. draw a function as a **computation graph** and run it **forward** (values) and **backward** (gradients, by the chain rule, one node at a time);
2. check any gradient with **central finite differences**, and say why they beat forward differences;
3. read gradients out of **PyTorch autograd** (`requires_grad`, `retain_grad`, `.grad`);
4. use a tiny reverse-mode engine (`backproplab.graph`: `Var`, ops, `backward()`), and write its **backward rules** yourself;
5. explain why a variable used twice **sums** the gradients of its paths (`+=`);
6. derive the matrix rule for $Y = AB$: $\nabla_A = s\,B^\top$, $\nabla_B = A^\top s$, from shapes alone;
7. train a tiny network with nothing but your graph engine.

Notation is the course's (batch-first, as in PyTorch): $X$ is $(m, n_0)$, one example per row; $W^{[l]}$ is $(n_l, n_{l-1})$; $B^{[l]}$ is $(1, n_l)$; $Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}$.

Graded exercises: `numerical_gradient`, `matmul_backward`, and three backward rules of the engine: `mul_backward`, `exp_backward`, `sigmoid_backward_rule`. Each has a visible test (run it as often as you like; it names your mistake) and a hidden test with fresh inputs.
""")

# The catalog's SETUP is the setup cell: answers in the catalog and in the notebook see the same names.
setup(SETUP)

code(r"""
import matplotlib.pyplot as plt
import ipywidgets as widgets
from IPython.display import display

import backproplab.graph as G
from backproplab.graph import Var, BACKWARD_RULES, use_backward_rules, draw_graph, graph_table, format_graph_table
from backproplab import gradcheck
from backproplab.checks import check

np.set_printoptions(precision=4, suppress=True)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 1. A function as a graph: $J = 2(ab + c)$

Break the formula into one elementary operation per node:

$$u = a\,b, \qquad v = u + c, \qquad J = 2v .$$

**Forward pass**: evaluate the nodes from the inputs to the output. With $a = 3$, $b = 2$, $c = 5$: $u = 6$, $v = 11$, $J = 22$.

**Backward pass**: go from the output back to the inputs. Each node multiplies the gradient arriving from above (the *upstream* gradient) by its own *local* derivative (chain rule):

$$
\frac{\partial J}{\partial v} = 2, \qquad
\frac{\partial J}{\partial u} = \frac{\partial J}{\partial v}\,\frac{\partial v}{\partial u} = 2 \cdot 1, \qquad
\frac{\partial J}{\partial c} = \frac{\partial J}{\partial v}\,\frac{\partial v}{\partial c} = 2 \cdot 1,
$$
$$
\frac{\partial J}{\partial a} = \frac{\partial J}{\partial u}\,\frac{\partial u}{\partial a} = 2\,b = 4, \qquad
\frac{\partial J}{\partial b} = \frac{\partial J}{\partial u}\,\frac{\partial u}{\partial b} = 2\,a = 6 .
$$

So $\partial J/\partial a, \partial J/\partial b, \partial J/\partial c = 4, 6, 2$. Three patterns are worth remembering:
an **add** node copies its upstream gradient to both inputs; a **mul** node sends each input the upstream gradient times the *other* input; a **scale by 2** node doubles it.
""")

code(r"""
a, b, c = 3.0, 2.0, 5.0

# Forward: one elementary operation per line, as in the graph.
u = a * b
v = u + c
J = 2 * v

# Backward: upstream gradient times local derivative, from J down to the inputs.
dJ_dv = 2.0
dJ_du = dJ_dv * 1.0      # v = u + c: dv/du = 1
dJ_dc = dJ_dv * 1.0      # dv/dc = 1
dJ_da = dJ_du * b        # u = a b: du/da = b
dJ_db = dJ_du * a        # du/db = a

print(f"J = {J}; dJ/da, dJ/db, dJ/dc = {dJ_da}, {dJ_db}, {dJ_dc}")
assert (J, dJ_da, dJ_db, dJ_dc) == (22.0, 4.0, 6.0, 2.0)   # the worked example
""")

md(r"""
Here is the same computation as a picture. Each node shows its **value** (forward) and its **gradient** $\partial J/\partial\,\text{node}$ (backward). The engine that draws it (`backproplab.graph`) is the subject of section 5.
""")

code(r"""
def build_J(a, b, c):
    # J = 2(ab + c) as a graph of Vars with the node names used above; returns (J, a, b, c).
    a_, b_, c_ = Var(a, name="a"), Var(b, name="b"), Var(c, name="c")
    u_ = a_ * b_
    u_.name = "u"
    v_ = u_ + c_
    v_.name = "v"
    J_ = 2 * v_
    J_.name = "J"
    return J_, a_, b_, c_

J_graph, a_, b_, c_ = build_J(3.0, 2.0, 5.0)
J_graph.backward()
draw_graph(J_graph)   # returns a matplotlib Figure, which Jupyter shows
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 2. Checking gradients with finite differences

The derivative is a limit, $f'(x) = \lim_{h\to 0} \frac{f(x+h) - f(x)}{h}$. Any small $h$ gives an estimate. Two choices:

* **forward difference** $\dfrac{f(x+h) - f(x)}{h}$ has error $O(h)$: Taylor's $\tfrac{h}{2}f''(x)$ term survives;
* **central difference** $\dfrac{f(x+h) - f(x-h)}{2h}$ has error $O(h^2)$: the $f''$ terms cancel, only $\tfrac{h^2}{6}f'''(x)$ is left.

For a function of an array $x$ of any shape, nudge **one entry at a time**: for every index $i$,

$$\widehat{\frac{\partial f}{\partial x_i}} = \frac{f(x + h\,e_i) - f(x - h\,e_i)}{2h},$$

where $e_i$ is 1 at index $i$ and 0 elsewhere. The estimate has the shape of $x$. It costs $2\times$(number of entries) evaluations of $f$, which is why we only use it to **check** gradients, never to train.

A smaller $h$ is not always better: below about $10^{-6}$, floating-point round-off in $f(x+h) - f(x-h)$ starts to dominate. The figure shows both effects on $f(x) = \sin(3x)$ at $x = 0.7$.
""")

code(r"""
f_scalar = lambda x: np.sin(3 * x)
exact = 3 * np.cos(3 * 0.7)
hs = np.logspace(-12, -1, 45)
forward_error = [abs((f_scalar(0.7 + h) - f_scalar(0.7)) / h - exact) for h in hs]
central_error = [abs((f_scalar(0.7 + h) - f_scalar(0.7 - h)) / (2 * h) - exact) for h in hs]

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(hs, forward_error, "o-", ms=3, label="forward  (f(x+h) - f(x)) / h")
ax.loglog(hs, central_error, "s-", ms=3, label="central  (f(x+h) - f(x-h)) / 2h")
ax.loglog(hs, hs, "k:", lw=1, label="slope 1: O(h)")
ax.loglog(hs, hs**2, "k--", lw=1, label="slope 2: O(h²)")
ax.set(xlabel="step h", ylabel="|estimate - exact|", ylim=(1e-16, 10),
       title="Finite differences: truncation error vs round-off")
ax.legend(fontsize=8)
plt.show()
""")

md(r"""
### Exercise 1: `numerical_gradient(f, x, h=1e-5)`

Write the central-difference gradient of a scalar function `f` of an array `x`.

* `f`: a function that takes an array of `x`'s shape and returns a float.
* `x`: a float array of any shape, e.g. $(m, n)$, $(n,)$ or a 0-d array.
* Returns `grad`, an array of `x`'s shape: `grad[i]` $= (f(x + h e_i) - f(x - h e_i)) / 2h$ for every index `i`.
* Leave `x` exactly as you found it: the caller's array must not change.

`np.ndindex(x.shape)` loops over every index of an array of any shape.
""")

answer("numerical_gradient", r'''
def numerical_gradient(f, x, h=1e-5):
    """Central-difference estimate of the gradient of a scalar function.

    Inputs:
    - f: a function taking an array shaped like x and returning a float
    - x: float array of any shape, e.g. (m, n), (n,) or ()
    - h: the step

    Returns:
    - grad: float array of x's shape, grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h).
      The caller's x is unchanged afterwards.
    """
''', ANSWERS["numerical_gradient"])

hint(
    "Start with `grad = np.zeros_like(x)` (after making `x` a float array), then loop `for index in np.ndindex(x.shape):`.",
    "Inside the loop, remember `original = x[index]`, set `x[index] = original + h`, evaluate `f(x)`; then `original - h`, evaluate again.",
    "Divide by `2 * h`, not `h`. And put `x[index] = original` back before the next index: otherwise every later entry is evaluated at a shifted point, and the caller's `x` comes back modified. Working on `np.array(x, dtype=float)` (a copy) protects the caller.",
)
tests("numerical_gradient")

md(r"""
Finite differences agree with the chain rule on $J = 2(ab + c)$: put $a, b, c$ into one vector $x = [a, b, c]$. (This cell uses the library's reference `gradcheck.numerical_gradient`, so it runs even before you solve the exercise.)
""")

code(r"""
def J_of(x):
    a, b, c = x
    return 2 * (a * b + c)

x0 = np.array([3.0, 2.0, 5.0])
numeric = gradcheck.numerical_gradient(J_of, x0)
print("finite differences:", numeric, "   chain rule:", [dJ_da, dJ_db, dJ_dc])
assert np.allclose(numeric, [4.0, 6.0, 2.0], atol=1e-6)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 3. Another graph: $f = (x + y)\,z$

With $q = x + y$ and $f = q\,z$:

$$\frac{\partial f}{\partial z} = q, \qquad \frac{\partial f}{\partial q} = z, \qquad
\frac{\partial f}{\partial x} = \frac{\partial f}{\partial q}\frac{\partial q}{\partial x} = z, \qquad
\frac{\partial f}{\partial y} = z .$$

At $x = -2$, $y = 5$, $z = -4$: $q = 3$, $f = -12$, and $(\partial f/\partial x, \partial f/\partial y, \partial f/\partial z) = (-4, -4, 3)$. The add node *distributes* the upstream gradient $z = -4$ unchanged to both $x$ and $y$.
""")

code(r"""
x, y, z = -2.0, 5.0, -4.0
q = x + y
f = q * z
df_dq, df_dz = z, q          # mul: each input gets the other one
df_dx, df_dy = df_dq, df_dq  # add: copies the upstream gradient
print(f"f = {f};  df/dx, df/dy, df/dz = {df_dx}, {df_dy}, {df_dz}")

numeric = gradcheck.numerical_gradient(lambda v: (v[0] + v[1]) * v[2], np.array([x, y, z]))
assert np.allclose(numeric, [df_dx, df_dy, df_dz], atol=1e-6)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 4. The same in PyTorch: `requires_grad`, `backward()`, `retain_grad()`

PyTorch records a graph like ours whenever a tensor has `requires_grad=True`. `J.backward()` runs the backward pass and stores $\partial J/\partial\,\text{leaf}$ in each leaf's `.grad`.
Intermediate nodes (here $u$, $v$) do **not** keep their gradient, to save memory, unless you ask with `retain_grad()` before calling `backward()`.
""")

code(r"""
import torch

ta = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
tb = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
tc = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
tu = ta * tb
tu.retain_grad()         # keep dJ/du, an intermediate node
tv = tu + tc
tv.retain_grad()
tJ = 2 * tv
tJ.backward()

print("J =", tJ.item())
print("leaves:        dJ/da, dJ/db, dJ/dc =", ta.grad.item(), tb.grad.item(), tc.grad.item())
print("intermediates: dJ/du, dJ/dv        =", tu.grad.item(), tv.grad.item())
assert [ta.grad.item(), tb.grad.item(), tc.grad.item()] == [dJ_da, dJ_db, dJ_dc]
""")

code(r"""
tx, ty, tz = (torch.tensor(value, dtype=torch.float64, requires_grad=True) for value in (-2.0, 5.0, -4.0))
tf = (tx + ty) * tz
tf.backward()
print("torch: df/dx, df/dy, df/dz =", tx.grad.item(), ty.grad.item(), tz.grad.item())
assert [tx.grad.item(), ty.grad.item(), tz.grad.item()] == [df_dx, df_dy, df_dz]
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 5. A reverse-mode engine you can read: `backproplab.graph`

`backproplab.graph` is about a hundred lines of NumPy that do what PyTorch's autograd does:

* a `Var` wraps a value (a number or an array) and remembers the **op** that made it and its **inputs**: `Var(3.0, name="a")`;
* ops (`+`, `*`, `@` and `G.exp`, `G.log`, `G.sin`, `G.sigmoid`, `G.tanh`, `G.relu`, `G.sum`, `G.mean`) build new `Var`s, computing values on the way (the forward pass);
* `root.backward()` visits the graph in reverse topological order. At each node it calls that op's **backward rule** and **adds** (`+=`) the results into the inputs' `.grad`;
* a backward rule has the signature `rule(upstream, *input_values, out=output_value) -> tuple of input gradients`; the rules live in the registry `BACKWARD_RULES`, one per op name;
* `graph_table(root)` lists every node with its value and gradient (`format_graph_table` prints it); `draw_graph(root)` draws it.
* `backward()` first re-evaluates the graph, then seeds $\partial J/\partial J = 1$. Scalars come back as floats, matrices as arrays; adding a bias $(1, n)$ to $(m, n)$ broadcasts, and the engine sums the gradient back to $(1, n)$.
""")

code(r"""
J_graph, a_, b_, c_ = build_J(3.0, 2.0, 5.0)   # a Var per input; u, v, J are op nodes
J_graph.backward()
print("J =", J_graph.value, "  grads:", a_.grad, b_.grad, c_.grad)
assert (J_graph.value, a_.grad, b_.grad, c_.grad) == (22.0, 4.0, 6.0, 2.0)
print(format_graph_table(J_graph))   # graph_table(J_graph) gives the same rows as tuples
""")

md(r"""
**Graph viewer.** Move the sliders: the forward values and the backward gradients of every node are recomputed and redrawn. Notice that $\partial J/\partial a$ follows $b$ (and not $a$), and that $\partial J/\partial c$ never moves.
""")

code(r"""
def show_graph(a=3.0, b=2.0, c=5.0):
    J, *_ = build_J(a, b, c)
    J.backward()
    display(draw_graph(J))

widgets.interactive(
    show_graph,
    a=widgets.FloatSlider(value=3.0, min=-5, max=5, step=0.5),
    b=widgets.FloatSlider(value=2.0, min=-5, max=5, step=0.5),
    c=widgets.FloatSlider(value=5.0, min=-5, max=5, step=0.5),
)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 6. A variable used twice sums its paths

If $x$ feeds into two places, a small change of $x$ changes $f$ along both paths, and the effects add up (multivariable chain rule):

$$f = x\,y + x \quad\Rightarrow\quad \frac{\partial f}{\partial x} = \underbrace{y}_{\text{through } x y} + \underbrace{1}_{\text{through } +x} .$$

That is why `backward()` **accumulates** with `+=` instead of overwriting: each path deposits its share into `x.grad`. (It is also why PyTorch's `.grad` accumulates across `backward()` calls, and why training loops call `zero_grad()`.) An overwriting engine would keep only the last path's share.
""")

code(r"""
x_, y_ = Var(3.0, name="x"), Var(4.0, name="y")
f_graph = x_ * y_ + x_
f_graph.backward()
print("df/dx =", x_.grad, "= y + 1;   df/dy =", y_.grad, "= x")
assert (x_.grad, y_.grad) == (5.0, 3.0)

tx = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
ty = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
(tx * ty + tx).backward()
assert (tx.grad.item(), ty.grad.item()) == (x_.grad, y_.grad)

# x used twice in the same op: d(x*x)/dx = x + x = 2x, again two paths.
x_ = Var(3.0, name="x")
(x_ * x_).backward()
assert x_.grad == 6.0
print(format_graph_table(f_graph))
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 7. Write the engine's backward rules

Every op in `BACKWARD_RULES` is a function

```python
def rule(upstream, *input_values, out):   # -> tuple with one gradient per input
```

* `upstream` is $\partial J/\partial\,\text{out}$, with the shape of the op's output;
* `input_values` are the op's inputs (NumPy arrays or floats), `out` is the op's output value (already computed in the forward pass, free to reuse);
* it returns a **tuple** with $\partial J/\partial\,\text{input}$ for every input, each of that input's shape: *upstream times local derivative*, elementwise.

| op | forward | local derivative | rule returns |
|---|---|---|---|
| mul | $\text{out} = a\,b$ | $\partial/\partial a = b$, $\partial/\partial b = a$ | `(upstream * b, upstream * a)` |
| exp | $\text{out} = e^{x}$ | $e^{x} = \text{out}$ | `(upstream * out,)` |
| sigmoid | $\text{out} = \sigma(z)$ | $\sigma'(z) = \sigma(z)(1-\sigma(z))$ | ? |

You write three rules. The tests plug your rule into the engine with `use_backward_rules({...})`, differentiate random expressions, and compare the gradients with PyTorch and with finite differences. Here is how plugging in works, with a deliberately broken rule:
""")

code(r"""
def broken_add_rule(upstream, a, b, out):
    return (upstream, 0 * upstream)          # forgets b's gradient

with use_backward_rules({"add": broken_add_rule}):
    p, q = Var(1.0, name="p"), Var(2.0, name="q")
    (p + q).backward()
print("with the broken rule, dq =", q.grad)  # should be 1.0

p, q = Var(1.0, name="p"), Var(2.0, name="q")
(p + q).backward()                           # outside the with-block: the engine's own rule again
print("with the engine's rule, dq =", q.grad)
""")

md(r"""
### Exercise 2: `mul_backward(upstream, a, b, out)`

For $\text{out} = a \odot b$ (elementwise; `a`, `b`, `upstream` all have the same shape), return `(grad_a, grad_b)`.
""")

answer("mul_backward", r'''
def mul_backward(upstream, a, b, out):
    """Backward rule of out = a * b (elementwise).

    Inputs:
    - upstream: dJ/d(out), shape (m, n) (or a 0-d array for scalars)
    - a, b: the forward inputs, shape (m, n)
    - out: the forward output a * b, shape (m, n)

    Returns:
    - (grad_a, grad_b): dJ/da and dJ/db, each (m, n)
    """
''', ANSWERS["mul_backward"])
hint(
    "Treat `b` as a constant: $\\partial(ab)/\\partial a = b$. Then the chain rule multiplies by the upstream gradient.",
    "Each input gets the upstream gradient times the **other** input; return both as a tuple `(..., ...)`.",
)
tests("mul_backward")

md(r"""
### Exercise 3: `exp_backward(upstream, x, out)`

For $\text{out} = e^{x}$ (elementwise), return a **1-tuple** `(grad_x,)`.
""")

answer("exp_backward", r'''
def exp_backward(upstream, x, out):
    """Backward rule of out = exp(x) (elementwise).

    Inputs:
    - upstream: dJ/d(out), shape (m, n)
    - x: the forward input, shape (m, n)
    - out: the forward output exp(x), shape (m, n)

    Returns:
    - (grad_x,): a 1-tuple with dJ/dx, shape (m, n)
    """
''', ANSWERS["exp_backward"])
hint(
    "$\\frac{d}{dx}e^x = e^x$, and $e^x$ is `out`.",
    "Don't forget to multiply by the upstream gradient. Return a 1-tuple: `(value,)` (the comma makes it a tuple).",
)
tests("exp_backward")

md(r"""
### Exercise 4: `sigmoid_backward_rule(upstream, z, out)`

For $\text{out} = \sigma(z) = 1 / (1 + e^{-z})$ (elementwise), return `(grad_z,)`. Use $\sigma'(z) = \sigma(z)\,(1 - \sigma(z))$.
Careful: `out` is already $\sigma(z)$.
""")

answer("sigmoid_backward_rule", r'''
def sigmoid_backward_rule(upstream, z, out):
    """Backward rule of out = sigmoid(z) (elementwise).

    Inputs:
    - upstream: dJ/d(out), shape (m, n)
    - z: the forward input, shape (m, n)
    - out: the forward output sigmoid(z), shape (m, n)

    Returns:
    - (grad_z,): a 1-tuple with dJ/dz, shape (m, n)
    """
''', ANSWERS["sigmoid_backward_rule"])
hint(
    "$\\sigma'(z) = \\sigma(z)(1-\\sigma(z))$ must be evaluated at the **input** $z$. Since `out` $= \\sigma(z)$, this is `out * (1 - out)`.",
    "A common slip: computing $\\sigma(\\text{out})(1-\\sigma(\\text{out}))$, i.e. applying the sigmoid twice. That is $\\sigma'$ at the output, not at the input.",
    "Multiply by `upstream` and return a 1-tuple.",
)
tests("sigmoid_backward_rule")

md(r"""
Once all three tests pass, the engine runs with **your** rules. This cell checks an expression that uses all three against PyTorch (it is skipped while your rules are unfinished):
""")

code(r"""
def expression(x, y):
    return G.sum(G.sigmoid(x * y) * G.exp(x))

rng = np.random.default_rng(2)
xv, yv = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
try:
    with use_backward_rules({"mul": mul_backward, "exp": exp_backward, "sigmoid": sigmoid_backward_rule}):
        x_, y_ = Var(xv, name="x"), Var(yv, name="y")
        expression(x_, y_).backward()
except NotImplementedError:
    print("Your rules are not finished yet: come back after exercises 2-4.")
else:
    tx = torch.tensor(xv, requires_grad=True)
    ty = torch.tensor(yv, requires_grad=True)
    (torch.sigmoid(tx * ty) * torch.exp(tx)).sum().backward()
    print("max |your dx - torch dx| =", np.abs(x_.grad - tx.grad.numpy()).max())
    print("max |your dy - torch dy| =", np.abs(y_.grad - ty.grad.numpy()).max())
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 8. Matrix autodiff: $Y = A B$

Let $A$ be $(p, q)$, $B$ be $(q, r)$, so $Y = AB$ is $(p, r)$. Somewhere above, a scalar $J$ depends on $Y$; the upstream gradient $s = \partial J/\partial Y$ has $Y$'s shape $(p, r)$. Since $Y_{ik} = \sum_j A_{ij} B_{jk}$,

$$\frac{\partial J}{\partial A_{ij}} = \sum_k s_{ik}\, B_{jk} = (s\,B^\top)_{ij}, \qquad
\frac{\partial J}{\partial B_{jk}} = \sum_i A_{ij}\, s_{ik} = (A^\top s)_{jk} .$$

$$\boxed{\;\nabla_A J = s\,B^\top \;:\; (p, r)(r, q) = (p, q), \qquad \nabla_B J = A^\top s \;:\; (q, p)(p, r) = (q, r)\;}$$

**The shape trick**: a gradient always has the shape of what it is the gradient of. $\nabla_A$ must be $(p, q)$, and the only way to get $(p, q)$ out of $s$ $(p, r)$ and $B$ $(q, r)$ is $s B^\top$. Likewise $A^\top s$ is the only $(q, r)$ product.

The dense layer is this rule twice: $Z = A^{[l-1]} W^\top + B$ with $A^{[l-1]}$ $(m, n_{l-1})$ and $W$ $(n_l, n_{l-1})$ gives $dA^{[l-1]} = dz\,W$ $(m, n_{l-1})$ and $\nabla_{W^\top} = A^{[l-1]\top} dz$, i.e. $\nabla_W = dz^\top A^{[l-1]}$ $(n_l, n_{l-1})$: lecture 04's `dense_backward` (with $1/m$ for the mean cost).
""")

md(r"""
### Exercise 5: `matmul_backward(s, A, B)`

* `s`: $(p, r)$, the upstream gradient $\partial J/\partial Y$; `A`: $(p, q)$; `B`: $(q, r)$.
* Returns `(dA, dB)`: `dA` $(p, q)$, `dB` $(q, r)$.
""")

answer("matmul_backward", r'''
def matmul_backward(s, A, B):
    """Backward pass of Y = A @ B.

    Inputs:
    - s: (p, r), the upstream gradient dJ/dY
    - A: (p, q)
    - B: (q, r)

    Returns:
    - (dA, dB): dJ/dA of shape (p, q) and dJ/dB of shape (q, r)
    """
''', ANSWERS["matmul_backward"])
hint(
    "Write down the shapes: `s` is (p, r), `A` is (p, q), `B` is (q, r). `dA` must be (p, q) and `dB` must be (q, r).",
    "Which product of `s` and `B` (transposed or not) is (p, q)? Which product of `A` and `s` is (q, r)?",
    "`dA = s @ B.T` and `dB = A.T @ s`; return them in the order `(dA, dB)`.",
)
tests("matmul_backward")

md(r"""
The engine's own matmul rule (the reference, used below) agrees with PyTorch, and with finite differences, on non-square shapes:
""")

code(r"""
rng = np.random.default_rng(0)
Av, Bv, sv = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
A_, B_ = Var(Av, name="A"), Var(Bv, name="B")
# J = sum(s * (A @ B)) has dJ/dY = s exactly, so A_.grad and B_.grad are the rule's outputs.
G.sum(Var(sv, name="s") * (A_ @ B_)).backward()

tA, tB = torch.tensor(Av, requires_grad=True), torch.tensor(Bv, requires_grad=True)
(tA @ tB).backward(torch.tensor(sv))         # backward with an explicit upstream gradient s
print("dA:", A_.grad.shape, " dB:", B_.grad.shape)
assert np.allclose(A_.grad, tA.grad.numpy()) and np.allclose(B_.grad, tB.grad.numpy())
assert np.allclose(A_.grad, gradcheck.numerical_gradient(lambda M: np.sum(sv * (M @ Bv)), Av), atol=1e-6)
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 9. A tiny network trained with the engine

Nothing more than `@`, `+`, `tanh`, `sigmoid`, `log` and `mean` is needed to train a network. Data: XOR-like points, $X$ $(m, 2)$ with $m = 80$, labels $Y$ $(m, 1)$. Network 2-8-1:

$$Z^{[1]} = X W^{[1]\top} + B^{[1]},\; A^{[1]} = \tanh Z^{[1]} \;(m, 8), \qquad Z^{[2]} = A^{[1]} W^{[2]\top} + B^{[2]},\; A^{[2]} = \sigma(Z^{[2]}) \;(m, 1),$$
$$J = -\frac{1}{m}\sum_i \big[y_i \log a_i + (1 - y_i)\log(1 - a_i)\big],$$

with $W^{[1]}$ $(8, 2)$, $B^{[1]}$ $(1, 8)$, $W^{[2]}$ $(1, 8)$, $B^{[2]}$ $(1, 1)$. The engine computes every `.grad`; we take gradient-descent steps $W \leftarrow W - \eta\,\nabla_W J$.
""")

code(r"""
rng = np.random.default_rng(1)
m = 80
X = rng.uniform(-1, 1, size=(m, 2))
Y = (X[:, :1] * X[:, 1:] > 0).astype(float)          # (m, 1): 1 in quadrants I and III

def engine_forward(params, X, Y):
    # Returns the cost J as a Var; params are Vars W1 (8, 2), B1 (1, 8), W2 (1, 8), B2 (1, 1).
    A1 = G.tanh(Var(X, name="X") @ params["W1"].T + params["B1"])       # (m, 8)
    A2 = G.sigmoid(A1 @ params["W2"].T + params["B2"])                   # (m, 1)
    Yv = Var(Y, name="Y")
    return -G.mean(Yv * G.log(A2) + (1 - Yv) * G.log(1 - A2))

values = {"W1": rng.normal(size=(8, 2)), "B1": np.zeros((1, 8)),
          "W2": rng.normal(size=(1, 8)), "B2": np.zeros((1, 1))}
costs = []
for step in range(300):
    params = {key: Var(value, name=key) for key, value in values.items()}
    J = engine_forward(params, X, Y)
    J.backward()
    costs.append(float(J.value))
    values = {key: values[key] - 1.0 * params[key].grad for key in values}
print(f"cost: {costs[0]:.3f} -> {costs[-1]:.3f}")
""")

md(r"""
The engine's gradients are exactly those of lecture 04's backpropagation (`backproplab.model_backward`, with $dW = \frac1m dz^\top A^{[l-1]}$) and of PyTorch:
""")

code(r"""
from backproplab import model_backward, model_forward

params = {key: Var(value, name=key) for key, value in values.items()}
engine_forward(params, X, Y).backward()
AL, caches = model_forward(X, values, ["tanh", "sigmoid"])
grads = model_backward(AL, Y, caches, ["tanh", "sigmoid"])

torch_params = {key: torch.tensor(value, requires_grad=True) for key, value in values.items()}
tA1 = torch.tanh(torch.tensor(X) @ torch_params["W1"].T + torch_params["B1"])
tA2 = torch.sigmoid(tA1 @ torch_params["W2"].T + torch_params["B2"])
torch.nn.functional.binary_cross_entropy(tA2, torch.tensor(Y)).backward()
for key in values:
    assert np.allclose(params[key].grad, grads["d" + key]), key
    assert np.allclose(params[key].grad, torch_params[key].grad.numpy()), key
print("engine == model_backward == torch for", list(values))
""")

code(r"""
grid = np.linspace(-1, 1, 101)
GX, GY = np.meshgrid(grid, grid)
probabilities, _ = model_forward(np.c_[GX.ravel(), GY.ravel()], values, ["tanh", "sigmoid"])

fig, (ax_cost, ax_boundary) = plt.subplots(1, 2, figsize=(10, 4))
ax_cost.plot(costs)
ax_cost.set(xlabel="gradient step", ylabel="cost J", title="Training with the Var engine")
ax_boundary.contourf(GX, GY, probabilities.reshape(GX.shape), levels=20, cmap="RdBu_r", alpha=0.6)
ax_boundary.scatter(X[:, 0], X[:, 1], c=Y.ravel(), cmap="RdBu_r", edgecolors="k", s=25)
ax_boundary.set(title="Learned P(y = 1 | x)", xlabel="x1", ylabel="x2")
plt.show()
""")

# ---------------------------------------------------------------------------------------
md(r"""
## 10. In your own words
""")

explain(
    "explain_central_differences",
    r"""
**Question 1 (2 points).** Why does the central difference $\frac{f(x+h) - f(x-h)}{2h}$ give a much more accurate gradient than the forward difference $\frac{f(x+h) - f(x)}{h}$? And why do we use finite differences to *check* gradients but never to *train* a network?
""",
    r"""
Expanding $f(x \pm h)$ in a Taylor series, the $\tfrac{h^2}{2}f''(x)$ terms are equal in $f(x+h)$ and $f(x-h)$ and cancel in their difference, so the central error is $O(h^2)$ ($\tfrac{h^2}{6}f'''$) while the forward error is $O(h)$ ($\tfrac{h}{2}f''$). With $h = 10^{-5}$ that is about $10^{-10}$ against $10^{-5}$.
Finite differences cost two evaluations of the whole cost function per parameter (millions of forward passes for a real network), and are still approximate (truncation and round-off), while backpropagation gives all exact gradients for about the cost of one extra forward pass. So we use them only to test a backward pass on small inputs.
""",
)

explain(
    "explain_gradient_accumulation",
    r"""
**Question 2 (2 points).** In the engine, `backward()` does `input.grad += ...` rather than `input.grad = ...`. Explain why, with an example of a graph where `=` would give a wrong gradient.
""",
    r"""
A variable that is used in several places influences the output along several paths, and by the multivariable chain rule its gradient is the sum of the contributions of all paths. Each path deposits its contribution when backward reaches that use, so the contributions must be added. Example: $f = xy + x$ has $\partial f/\partial x = y + 1$; with `=`, `x.grad` would be whichever contribution ($y$ or $1$) arrived last. The same happens in a network whenever a value fans out, e.g. $x \cdot x$, or a shared weight.
""",
)

md(r"""
**Summary.** A computation graph turns any formula into elementary nodes; the backward pass multiplies upstream gradients by local derivatives and adds them up where paths meet. Finite differences check that; PyTorch's autograd and our engine automate it; and for matrices, the shapes tell you where the transposes go: $\nabla_A = sB^\top$, $\nabla_B = A^\top s$.
""")


def build():
    """The lecture as an nbformat v4 NotebookNode (no outputs)."""
    return nbb.assemble(cells)


if __name__ == "__main__":
    nbb.main(build, OUT)
