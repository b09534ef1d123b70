"""Build solutions/06-overfitting/overfitting.ipynb (lecture 06) from the cells below.

Run:  .venv/bin/python tools/build_06_overfitting.py
The notebook is written normalized (no outputs); `bplab release 06-overfitting` then
generates the student version in course/.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/: the shared cell factories
from notebook_builder import ROOT, answer, assemble, code, hints, main, manual, md, setup, tests  # noqa: E402,F401

from backproplab.grading.samples.lecture06 import ANSWERS, SETUP  # noqa: E402  (one source for notebook and catalog)

TARGET = ROOT / "solutions" / "06-overfitting" / "overfitting.ipynb"


CELLS = [
    md(r"""
# Lecture 06: Overfitting and regularization

**Learning goals.** After this lecture you can
1. say what training, validation and test sets are for, and split data into them;
2. recognize overfitting: a training cost near zero with a much worse cost on held-out data;
3. write the L2 penalty (weight decay) and its gradient, say what it does to the weights, and contrast it with L1;
4. explain data augmentation as "more samples";
5. write inverted dropout, forward and backward, and explain the $1/(1-\alpha)$ scale;
6. choose the epoch to stop at from a validation curve (early stopping with patience);
7. train with minibatches and momentum, and match all of it with PyTorch.

**How this notebook works.** Run the cells from the top. Exercises have an answer cell
(replace `raise NotImplementedError()` with your code) followed by a test cell: `check(...)` draws fresh
inputs, compares your result with the reference and, if something is wrong, *names the mistake*.
Hints are folded under "Hint 1, Hint 2" before each answer cell. More tests run when your work is graded.

**Notation** (batch-first, as in every lecture): $X$ is $(m, n_0)$, one example per row;
$W^{[l]}$ is $(n_l, n_{l-1})$; $B^{[l]}$ is $(1, n_l)$; $Z^{[l]} = A^{[l-1]} W^{[l]\top} + B^{[l]}$;
$A^{[l]} = g^{[l]}(Z^{[l]})$; the cost is $J = \frac{1}{m}\sum_i L(\hat y_i, y_i)$, and MSE uses $\frac{1}{2m}$.
"""),
    setup(SETUP, "setup_imports"),
    code(r"""
# The checks, and tools for the demonstrations (not needed by your answers).
import ipywidgets as widgets
import matplotlib.pyplot as plt

import backproplab as bl  # the reference library
from backproplab.checks import check
from backproplab.data import DOSE_RANGE, dose_response, dose_response_curve, load_digits, make_moons, train_val_split
from backproplab.model import compute_cost, model_forward, train
from backproplab.plots import plot_costs

REGRESSION = ["tanh", "tanh", "identity"]   # identity output + MSE: dz[L] = A[L] - Y
"""),
    md(r"""
## 1. Training, validation and test sets

A network is judged by how well it does on examples it has **not** seen. So the data is split three ways:

| set | used to | touched |
|---|---|---|
| training set | compute gradients and update $W^{[l]}, B^{[l]}$ | every step |
| validation set (dev set) | choose hyperparameters: hidden units, $\lambda$, dropout rate $\alpha$, when to stop | after training runs |
| test set | report the final error, once | once, at the end |

If you choose $\lambda$ or the epoch by looking at the test set, the test error is no longer an honest estimate:
you have fitted your choices to it. `train_val_split(X, Y, val_fraction, seed)` shuffles the rows once (seeded)
and holds out a fraction; rows of $X$ $(m, n_0)$ and $Y$ $(m, n_L)$ stay paired.
"""),
    code(r"""
X_digits, Y_digits = load_digits()                       # X (1797, 64), Y (1797, 10) one-hot
X_rest, Y_rest, X_test_d, Y_test_d = train_val_split(X_digits, Y_digits, val_fraction=0.2, seed=0)
X_train_d, Y_train_d, X_val_d, Y_val_d = train_val_split(X_rest, Y_rest, val_fraction=0.25, seed=1)
for name, (Xs, Ys) in {"train": (X_train_d, Y_train_d), "validation": (X_val_d, Y_val_d),
                       "test": (X_test_d, Y_test_d)}.items():
    print(f"{name:>10}: X {Xs.shape}, Y {Ys.shape}")
assert len(X_train_d) + len(X_val_d) + len(X_test_d) == len(X_digits)
"""),
    md(r"""
## 2. Overfitting: six patients and a big network

A drug lowers blood sugar. The true (unknown) mean response is a Hill curve,
$\text{sugar}(d) = 5 + 4 / (1 + (d/0.8)^3)$ mmol/L for a dose $d$ in mg/kg; each measurement adds noise with a
standard deviation of 0.4 mmol/L. We have measured **six** patients. `dose_response(n_train=6, n_test=500, noise, seed)`
returns them as `X_train` $(6, 1)$, `Y_train` $(6, 1)$, plus 500 more patients we keep aside: `X_test` $(500, 1)$, `Y_test` $(500, 1)$.

We fit a network with two hidden layers of 32 tanh units, $[1, 32, 32, 1]$, that is
$(32 + 32) + (32\cdot 32 + 32) + (32 + 1) = 1{,}153$ parameters, to six numbers, with an identity output and the MSE cost
$J = \frac{1}{2m}\sum_i (\hat y_i - y_i)^2$.
"""),
    code(r"""
X_train, Y_train, X_test, Y_test = dose_response(n_train=6, n_test=500, noise=0.4, seed=0)
X_val, Y_val = X_test[:200], Y_test[:200]   # part of the held-out patients serves as validation set
doses = np.linspace(*DOSE_RANGE, 200).reshape(-1, 1)   # (200, 1), for drawing curves

big_net = bl.initialize_parameters([1, 32, 32, 1], "xavier", seed=0)
assert bl.model.count_parameters([1, 32, 32, 1]) == 1153
overfit, overfit_history = train(X_train, Y_train, big_net, REGRESSION, learning_rate=0.1, momentum=0.9,
                                 epochs=1500, X_val=X_val, Y_val=Y_val, record_every=10)
train_cost = compute_cost(model_forward(X_train, overfit, REGRESSION)[0], Y_train, REGRESSION)
test_cost = compute_cost(model_forward(X_test, overfit, REGRESSION)[0], Y_test, REGRESSION)
truth_cost = compute_cost(dose_response_curve(X_test), Y_test, REGRESSION)   # the true curve, on the same patients
print(f"training cost {train_cost:.4f}   held-out cost {test_cost:.4f}   (the true curve itself: {truth_cost:.4f})")
assert train_cost < 0.01 and test_cost > 5 * train_cost
"""),
    code(r"""
def plot_fit(params, activations, ax, label, **style):
    ax.plot(doses, model_forward(doses, params, activations)[0], label=label, **style)


fig, (ax_fit, ax_curves) = plt.subplots(1, 2, figsize=(11, 4))
ax_fit.scatter(X_test, Y_test, s=4, color="0.8", label="500 held-out patients")
ax_fit.plot(doses, dose_response_curve(doses), "k--", label="true curve")
plot_fit(overfit, REGRESSION, ax_fit, "network [1, 32, 32, 1]", color="tab:red")
ax_fit.scatter(X_train, Y_train, s=50, color="tab:blue", zorder=3, label="6 measured patients")
ax_fit.set(xlabel="dose (mg/kg)", ylabel="blood sugar (mmol/L)", ylim=(3, 11), title="a fit that is too good")
ax_fit.legend(fontsize=8)
plot_costs(overfit_history, ax=ax_curves, log_scale=True, title="training vs validation cost")
plt.show()
"""),
    md(r"""
The training cost goes to almost zero: the curve passes through all six points. But between the points it does
whatever it likes, and on the 500 held-out patients the cost is many times larger, worse than the true curve.
The network has memorized the noise. The rest of this lecture is about the remedies: a penalty on large weights,
more (or augmented) data, dropout, and stopping early.

## 3. L2 regularization (weight decay)

Add to the cost a penalty on the size of the weights (never the biases):

$$ J_{\text{reg}} = J + \frac{\lambda}{2m} \sum_{l=1}^{L} \lVert W^{[l]} \rVert_F^2,
\qquad \lVert W^{[l]} \rVert_F^2 = \sum_{j,k} \big(W^{[l]}_{jk}\big)^2 . $$

$\lambda \ge 0$ is the regularization strength (`lambd` in code: `lambda` is a Python keyword) and $m$ the number of
examples. The penalty is one number. Its gradient with respect to $W^{[l]}$ $(n_l, n_{l-1})$ has the shape of
$W^{[l]}$; the $\frac12$ cancels the 2 of $\frac{d}{dw} w^2 = 2w$:

$$ \frac{\partial}{\partial W^{[l]}} \frac{\lambda}{2m}\lVert W^{[l]}\rVert_F^2 = \frac{\lambda}{m} W^{[l]} \;:\; (n_l, n_{l-1}),
\qquad dW^{[l]} \leftarrow dW^{[l]} + \frac{\lambda}{m} W^{[l]}, \qquad dB^{[l]} \text{ unchanged}. $$

### Exercise 1: `l2_penalty(params, lambd, m) -> float`

* `params`: dict with `W1` $(n_1, n_0)$, `B1` $(1, n_1)$, ..., `WL`, `BL`;
* `lambd`: float $\lambda$; `m`: int, the number of examples;
* returns the float $\frac{\lambda}{2m}\sum_l \lVert W^{[l]}\rVert_F^2$, over the weights only.
"""),
    hints(
        "Loop over `params.items()` and keep the keys that start with `\"W\"`.",
        "`np.sum(W ** 2)` is $\\lVert W \\rVert_F^2$. Multiply the total by `lambd / (2 * m)`: both the $\\frac12$ "
        "and the $\\frac1m$ matter.",
    ),
    answer("l2_penalty", r'''
def l2_penalty(params, lambd, m):
    """The L2 penalty (lambd / (2m)) * sum over l of ||W[l]||_F^2.

    Inputs:
    - params: dict of W{l}: (n_l, n_{l-1}) and B{l}: (1, n_l) arrays, l = 1..L
    - lambd: float, the regularization strength lambda >= 0
    - m: int, the number of examples in the batch

    Returns:
    - a Python float; the biases B{l} are not penalized
    """
''', ANSWERS["l2_penalty"]),
    *tests("l2_penalty"),
    md(r"""
### Exercise 2: `l2_backward(W, lambd, m) -> dW_extra`

* `W`: one weight matrix $W^{[l]}$ $(n_l, n_{l-1})$; `lambd`, `m` as above;
* returns `dW_extra` $(n_l, n_{l-1})$, the gradient of the penalty with respect to $W^{[l]}$, which backpropagation
  adds to $dW^{[l]}$. Do not modify `W`.
"""),
    hints(
        "Differentiate $\\frac{\\lambda}{2m} \\sum_{jk} W_{jk}^2$ entry by entry.",
        "The result is `lambd / m * W`: a new array, same shape as `W` (no transpose).",
    ),
    answer("l2_backward", r'''
def l2_backward(W, lambd, m):
    """Gradient of the L2 penalty with respect to one weight matrix.

    Inputs:
    - W: (n_l, n_{l-1}) weights of layer l
    - lambd: float, the regularization strength lambda
    - m: int, the number of examples

    Returns:
    - dW_extra: (n_l, n_{l-1}) = (lambd / m) * W, to be added to dW[l]; W is not modified
    """
''', ANSWERS["l2_backward"]),
    *tests("l2_backward"),
    md(r"""
Your two functions must agree with each other: the penalty's gradient, by central differences, is `l2_backward`.
And the library's training code uses the same formulas: `compute_cost(..., lambd=)` adds $\frac{\lambda}{2m}\sum\lVert W\rVert_F^2$,
`model_backward(..., lambd=)` adds $\frac{\lambda}{m}W^{[l]}$ to every $dW^{[l]}$ (DESIGN.md).
"""),
    code(r"""
from backproplab.gradcheck import numerical_gradient, relative_error

W_demo = np.random.default_rng(1).normal(size=(3, 5))   # (n_l, n_{l-1}) = (3, 5)
try:
    numeric = numerical_gradient(lambda V: l2_penalty({"W1": V}, 0.7, 10), W_demo.copy())
    print("relative error, your l2_backward vs central differences of your l2_penalty:",
          f"{relative_error(l2_backward(W_demo, 0.7, 10), numeric):.2e}")
except NotImplementedError:
    print("Solve exercises 1 and 2 first, then run this cell again.")

# The library: model_backward with lambd adds exactly (lambd / m) W[l] to dW[l].
AL, caches = model_forward(X_train, overfit, REGRESSION)
plain = bl.model_backward(AL, Y_train, caches, REGRESSION)
decayed = bl.model_backward(AL, Y_train, caches, REGRESSION, lambd=0.7)
assert np.allclose(decayed["dW2"] - plain["dW2"], bl.l2_backward(overfit["W2"], 0.7, len(X_train)))
assert np.allclose(decayed["dB2"], plain["dB2"])   # biases are not decayed
"""),
    md(r"""
**Why "weight decay".** One gradient-descent step with the penalty is

$$ W^{[l]} \leftarrow W^{[l]} - \eta\Big(dW^{[l]} + \frac{\lambda}{m} W^{[l]}\Big) = \Big(1 - \frac{\eta\lambda}{m}\Big) W^{[l]} - \eta\, dW^{[l]} :$$

before the usual step, every weight shrinks by the factor $1 - \eta\lambda/m$. Only weights that the data keeps
pushing stay large. Small weights make a smoother function: tanh units stay in their nearly linear range, and the
curve cannot bend sharply between the six points.

**L1 regularization** penalizes $\frac{\lambda}{m}\sum_l \sum_{jk} |W^{[l]}_{jk}|$ instead; its gradient
$\frac{\lambda}{m}\operatorname{sign}(W^{[l]})$ has the same size for small and large weights, so it drives many
weights to exactly zero (sparse weights), while L2 shrinks all of them in proportion.
"""),
    code(r"""
fig, (ax_fit, ax_hist) = plt.subplots(1, 2, figsize=(11, 4))
ax_fit.scatter(X_train, Y_train, s=50, color="tab:blue", zorder=3, label="6 patients")
ax_fit.plot(doses, dose_response_curve(doses), "k--", label="true curve")
for lambd, color in ((0.0, "tab:red"), (0.01, "tab:orange"), (0.05, "tab:green")):
    params, _ = train(X_train, Y_train, big_net, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=1500, lambd=lambd)
    held_out = compute_cost(model_forward(X_test, params, REGRESSION)[0], Y_test, REGRESSION)
    plot_fit(params, REGRESSION, ax_fit, f"lambda = {lambd}: held-out cost {held_out:.3f}", color=color)
    ax_hist.hist(params["W2"].ravel(), bins=60, histtype="step", color=color, label=f"lambda = {lambd}")
ax_fit.set(xlabel="dose (mg/kg)", ylabel="blood sugar (mmol/L)", ylim=(3, 11), title="L2 smooths the fit")
ax_fit.legend(fontsize=8)
ax_hist.set(xlabel="entries of W[2] (32, 32)", ylabel="count", title="... by shrinking the weights")
ax_hist.legend(fontsize=8)
plt.show()
"""),
    md(r"""
## 4. Data augmentation: more samples

The best regularizer is more data: with 60 patients instead of 6, the same big network cannot pass through every
point, and the noise averages out. When measuring more is impossible, we *make* more samples from the ones we have,
with changes that we know do not change the answer: for images, shifts by a pixel, small rotations, flips (a flipped
cat is a cat); for sound, a little added noise. Each variant is one more training example.
"""),
    code(r"""
X_many, Y_many, _, _ = dose_response(n_train=60, n_test=1, noise=0.4, seed=0)   # ten times as many patients
more_data, _ = train(X_many, Y_many, big_net, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=800)
costs = {name: compute_cost(model_forward(X_test, params, REGRESSION)[0], Y_test, REGRESSION)
         for name, params in (("6 patients", overfit), ("60 patients", more_data))}
print("held-out cost:", {name: round(cost, 4) for name, cost in costs.items()})

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(X_many, Y_many, s=12, color="tab:blue", label="60 patients")
ax.plot(doses, dose_response_curve(doses), "k--", label="true curve")
plot_fit(overfit, REGRESSION, ax, "trained on 6", color="tab:red")
plot_fit(more_data, REGRESSION, ax, "trained on 60", color="tab:green")
ax.set(xlabel="dose (mg/kg)", ylabel="blood sugar (mmol/L)", ylim=(3, 11))
ax.legend(fontsize=8)
plt.show()
"""),
    md(r"""
## 5. Dropout

In every training step, dropout switches off each hidden unit at random with probability $\alpha$ (the **drop**
rate), independently for every unit and every example. A unit cannot rely on any particular other unit being there,
so the network learns redundant features; it is like training a huge family of thinned networks that share weights.

For a layer's activations $A$ $(m, n)$ draw a mask $M$ $(m, n)$ with $M_{ij} = 1$ (kept, probability $1-\alpha$) or
$0$ (dropped, probability $\alpha$), and

$$ A_{\text{out}} = \frac{A \odot M}{1 - \alpha} \;:\; (m, n). $$

**Why divide by $1-\alpha$** ("inverted" dropout): each entry survives with probability $1 - \alpha$, so
$\mathbb{E}[A_{\text{out}}] = (1-\alpha)\cdot\frac{A}{1-\alpha} + \alpha \cdot 0 = A$. The next layer sees inputs of the same
average size in training and at test time, so at test time we simply use the network as it is: no mask, no scale.

The backward pass sends the gradient only through the units that were kept, with the same scale:
$dA_{\text{prev}} = \frac{dA \odot M}{1 - \alpha}$, with **the same mask** $M$ as the forward pass.
"""),
    md(r"""
### Exercise 3: `dropout_forward(A, alpha, rng) -> (A_out, mask)`

* `A`: $(m, n)$ activations; `alpha`: the drop rate, $0 \le \alpha < 1$; `rng`: a `numpy.random.Generator`; draw
  your random numbers from it (e.g. `rng.random(A.shape)`), so that a seed reproduces the mask;
* returns `A_out` $(m, n)$ and `mask` $(m, n)$ holding 1 for kept units and 0 for dropped ones (booleans are fine).

The check cannot know your random draw, so it tests properties: the fraction of dropped units (over a large `A`)
is close to $\alpha$, dropped entries are exactly 0, kept ones exactly $A/(1-\alpha)$, and the mask matches the output.
"""),
    hints(
        "`rng.random(A.shape)` is uniform on $[0, 1)$: it is below `alpha` with probability $\\alpha$.",
        "Keep a unit where `rng.random(A.shape) >= alpha`; convert the boolean array with `.astype(float)`. "
        "Then `A_out = A * mask / (1 - alpha)`; return both.",
    ),
    answer("dropout_forward", r'''
def dropout_forward(A, alpha, rng):
    """Inverted dropout (training): drop each unit with probability alpha, scale the rest by 1/(1 - alpha).

    Inputs:
    - A: (m, n) activations of a hidden layer
    - alpha: float in [0, 1), the probability of DROPPING a unit
    - rng: numpy.random.Generator, the only source of randomness

    Returns a tuple of:
    - A_out: (m, n) = A * mask / (1 - alpha)
    - mask: (m, n), 1 where the unit is kept and 0 where it is dropped
    """
''', ANSWERS["dropout_forward"]),
    *tests("dropout_forward"),
    md(r"""
### Exercise 4: `dropout_backward(dA, mask, alpha) -> dA_prev`

* `dA`: $(m, n)$ gradient with respect to the dropout layer's output; `mask`: $(m, n)$ the mask that
  `dropout_forward` returned (1/0 or booleans); `alpha`: the same drop rate;
* returns `dA_prev` $(m, n)$, the gradient with respect to its input $A$.
"""),
    hints(
        "$A_{out} = A \\odot M / (1-\\alpha)$ is linear in $A$, entry by entry: $\\partial A_{out,ij} / \\partial A_{ij} = M_{ij}/(1-\\alpha)$.",
        "`dA * mask / (1 - alpha)`: the mask you were given, not a new one, and the same scale.",
    ),
    answer("dropout_backward", r'''
def dropout_backward(dA, mask, alpha):
    """Backward pass of inverted dropout.

    Inputs:
    - dA: (m, n) upstream gradient, with respect to A_out
    - mask: (m, n) the forward pass's mask, 1 (or True) = kept, 0 (or False) = dropped
    - alpha: float, the drop rate used in the forward pass

    Returns:
    - dA_prev: (m, n) = dA * mask / (1 - alpha), the gradient with respect to A
    """
''', ANSWERS["dropout_backward"]),
    *tests("dropout_backward"),
    md(r"""
Seeing the $1/(1-\alpha)$ at work: average `dropout_forward` over many random masks and you get $A$ back. Without
the scale the average would be $(1-\alpha)A$: at test time (no dropout) the next layer would suddenly receive inputs
$1/(1-\alpha)$ times larger than in training.
"""),
    code(r"""
A_demo = np.array([[1.0, -2.0, 0.5], [3.0, 1.5, -1.0]])   # (m, n) = (2, 3)
alpha = 0.4
try:
    rng = np.random.default_rng(0)
    outputs = [dropout_forward(A_demo, alpha, rng) for _ in range(20000)]
    mean_out = np.mean([A_out for A_out, _ in outputs], axis=0)
    dropped = 1 - np.mean([np.asarray(mask, dtype=float) for _, mask in outputs])
    print(f"fraction dropped: {dropped:.3f} (alpha = {alpha})")
    print("mean of A_out over 20000 masks:\n", mean_out.round(2), "\nA:\n", A_demo)
except NotImplementedError:
    print("Solve exercise 3 first, then run this cell again.")
"""),
    md(r"""
The library's `train(..., dropout=alpha)` applies inverted dropout to every hidden layer in training (and never
when it measures costs or predicts). On the six patients:
"""),
    code(r"""
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(X_train, Y_train, s=50, color="tab:blue", zorder=3, label="6 patients")
ax.plot(doses, dose_response_curve(doses), "k--", label="true curve")
for rate, color in ((0.0, "tab:red"), (0.3, "tab:purple")):
    params, _ = train(X_train, Y_train, big_net, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=1500, dropout=rate)
    held_out = compute_cost(model_forward(X_test, params, REGRESSION)[0], Y_test, REGRESSION)
    plot_fit(params, REGRESSION, ax, f"dropout alpha = {rate}: held-out cost {held_out:.3f}", color=color)
ax.set(xlabel="dose (mg/kg)", ylabel="blood sugar (mmol/L)", ylim=(3, 11), title="dropout on the six patients")
ax.legend(fontsize=8)
plt.show()
"""),
    md(r"""
## 6. Early stopping

Watch the validation cost while training (section 2's right-hand figure): it first falls with the training cost,
then, as the network starts to fit the noise, it rises again. Early stopping keeps the weights of the epoch with the
lowest validation cost. In practice we do not know the future, so the rule has a **patience**: after every epoch,
if the validation cost is *strictly* lower than the best so far, remember this epoch (and its weights); otherwise
count one more epoch without improvement, and stop when `patience` epochs in a row brought none. Then restore the
best epoch's weights. A cost *equal* to the best is not an improvement (a plateau uses up patience).

### Exercise 5: `early_stopping_epoch(val_costs, patience=5) -> int`

* `val_costs`: a list (or 1-d array) of validation costs, `val_costs[i]` after epoch `i` (as `history["val_cost"]`);
* `patience`: int $\ge 1$;
* returns the **0-based index** `i` of the epoch whose weights early stopping keeps: the lowest cost seen up to
  the moment the rule stops (or up to the end of the list if it never stops).

For example, with `patience=2`, `[5, 4, 4, 4, 1]` returns 1: the two epochs after index 1 (cost 4, then 4 again)
brought no strict improvement, so training stops before it ever sees the 1. But `[5, 4, 4, 3, 1]` returns 4: the 3
comes while patience is left, and resets the count.
"""),
    hints(
        "Keep three variables while walking through the list: the best cost so far, its index, and how many epochs "
        "in a row brought no improvement.",
        "On a strict improvement (`cost < best`) reset the counter to 0; otherwise add 1, and as soon as it reaches "
        "`patience`, stop (`break`). Return the best index, not the index where you stopped.",
    ),
    answer("early_stopping_epoch", r'''
def early_stopping_epoch(val_costs, patience=5):
    """The epoch early stopping keeps, given the validation costs of every epoch.

    Inputs:
    - val_costs: sequence of floats, length n_epochs; val_costs[i] is the validation cost after epoch i
    - patience: int >= 1, epochs in a row without a strict improvement before training stops

    Returns:
    - int, the 0-based index of the lowest validation cost seen before stopping
    """
''', ANSWERS["early_stopping_epoch"]),
    *tests("early_stopping_epoch"),
    code(r"""
# The worked example above, and early stopping on the six patients (the validation cost after every epoch).
try:
    for costs in ([5, 4, 4, 4, 1], [5, 4, 4, 3, 1]):
        print(f"early_stopping_epoch({costs}, patience=2) =", early_stopping_epoch(costs, patience=2))
    _, history = train(X_train, Y_train, big_net, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=400,
                       X_val=X_val, Y_val=Y_val)
    stop_index = early_stopping_epoch(history["val_cost"], patience=20)
    stop_epoch = history["epoch"][stop_index]
    ax = plot_costs(history, log_scale=True, title="early stopping, patience = 20")
    ax.axvline(stop_epoch, color="k", ls=":", label=f"kept: epoch {stop_epoch}")
    ax.legend()
    plt.show()
    # train() is deterministic for a seed, so training stop_epoch epochs gives the kept weights back.
    kept, _ = train(X_train, Y_train, big_net, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=stop_epoch)
    print(f"held-out cost with the weights of epoch {stop_epoch}:",
          f"{compute_cost(model_forward(X_test, kept, REGRESSION)[0], Y_test, REGRESSION):.4f}",
          f"(after 1500 epochs: {test_cost:.4f})")
except NotImplementedError:
    print("Solve exercise 5 first, then run this cell again.")
"""),
    md(r"""
## 7. Minibatch SGD and momentum

So far every step used all $m$ examples (full batch). **Minibatch** gradient descent shuffles the examples each
epoch and takes one step per batch of $b$ examples: $X_{\text{batch}}$ $(b, n_0)$, $Y_{\text{batch}}$ $(b, n_L)$, and
the $\frac1m$ in $dW$ and $dB$ becomes $\frac1b$. With $m/b$ steps per epoch, learning is faster per pass over
the data; the gradient is noisier, which also acts as a mild regularizer. $b = 1$ is "stochastic" gradient descent.

**Momentum** keeps a running average of the gradients, a velocity $V_{dW}$ of the shape of $W$, and steps along it:

$$ V_{dW^{[l]}} \leftarrow \beta V_{dW^{[l]}} + (1-\beta)\, dW^{[l]}, \qquad W^{[l]} \leftarrow W^{[l]} - \eta V_{dW^{[l]}}
\quad(\text{the same for } B^{[l]}). $$

Directions where the gradient keeps its sign build up speed; directions where it flips back and forth cancel out.
$\beta = 0.9$ averages about the last $1/(1-\beta) = 10$ gradients. In `backproplab.model.train` these are
`batch_size=` and `momentum=` ($\beta$; 0 = plain steps).
"""),
    code(r"""
X_moons, Y_moons = make_moons(m=400, noise=0.2, seed=0)
moons_net = bl.initialize_parameters([2, 16, 1], "xavier", seed=0)
fig, ax = plt.subplots(figsize=(6.5, 4))
for label, options in {"full batch": dict(batch_size=None), "minibatch 32": dict(batch_size=32),
                       "minibatch 32 + momentum 0.9": dict(batch_size=32, momentum=0.9)}.items():
    _, history = train(X_moons, Y_moons, moons_net, ["tanh", "sigmoid"], learning_rate=0.5, epochs=60, **options)
    ax.plot(history["epoch"], history["train_cost"], label=f"{label}: final accuracy {history['train_acc'][-1]:.0%}")
ax.set(xlabel="epoch (one pass over the 400 examples)", ylabel="cost J", yscale="log", title="moons, [2, 16, 1]")
ax.legend(fontsize=8)
plt.show()
"""),
    md(r"""
## 8. Explorer: capacity against regularization

Choose the hidden layers' width, $\lambda$ and the dropout rate $\alpha$; the network $[1, n, n, 1]$ is retrained on
the six patients (800 epochs, momentum 0.9) and you see the training and validation costs per epoch, and the fit.
Try: a big network with $\lambda = 0$ (overfits: the curves split), the same network with $\lambda = 0.05$ or
$\alpha = 0.3$, and a tiny one ($n = 2$).
"""),
    code(r"""
def capacity_explorer(hidden_units=32, lambd=0.0, dropout=0.0):
    params = bl.initialize_parameters([1, hidden_units, hidden_units, 1], "xavier", seed=0)
    params, history = train(X_train, Y_train, params, REGRESSION, learning_rate=0.1, momentum=0.9, epochs=800,
                            lambd=lambd, dropout=dropout, X_val=X_val, Y_val=Y_val, record_every=10)
    fig, (ax_curves, ax_fit) = plt.subplots(1, 2, figsize=(11, 3.8))
    plot_costs(history, ax=ax_curves, log_scale=True,
               title=f"train {history['train_cost'][-1]:.3f}, validation {history['val_cost'][-1]:.3f}")
    ax_curves.set_ylim(1e-3, 10)
    ax_fit.scatter(X_train, Y_train, s=50, color="tab:blue", zorder=3)
    ax_fit.plot(doses, dose_response_curve(doses), "k--", label="true curve")
    plot_fit(params, REGRESSION, ax_fit, "network", color="tab:red")
    ax_fit.set(xlabel="dose (mg/kg)", ylabel="blood sugar (mmol/L)", ylim=(3, 11))
    ax_fit.legend(fontsize=8)
    plt.show()


widgets.interactive(
    capacity_explorer,
    hidden_units=widgets.IntSlider(value=32, min=2, max=48, description="units n"),
    lambd=widgets.FloatSlider(value=0.0, min=0.0, max=0.2, step=0.01, description="lambda"),
    dropout=widgets.FloatSlider(value=0.0, min=0.0, max=0.6, step=0.05, description="dropout alpha"),
)
"""),
    md(r"""
## 9. The same in PyTorch

* **L2.** Autograd of $\frac{\lambda}{2m}\lVert W\rVert_F^2$ gives $\frac{\lambda}{m}W$. `torch.optim.SGD(weight_decay=wd)`
  adds `wd * W` to every parameter's gradient, so our $\lambda$ corresponds to `weight_decay = lambd / m`; note that
  torch decays *all* parameters it is given, biases included, unless you put them in a separate group.
* **Dropout.** `torch.nn.Dropout(p)` uses our convention: `p` is the probability of dropping, kept units are
  scaled by $1/(1-p)$ in `train()` mode, and in `eval()` mode it does nothing.
* **Momentum.** `torch.optim.SGD(momentum=beta)` keeps $u \leftarrow \beta u + g$ (no $1-\beta$) and steps
  $-\eta' u$; that is our velocity times $1/(1-\beta)$, so the two agree with $\eta' = \eta(1-\beta)$.
"""),
    code(r"""
import torch

rng_t = np.random.default_rng(3)
W_np = rng_t.normal(size=(4, 6))   # (n_l, n_{l-1})
lambd, m = 0.8, 10
W_t = torch.tensor(W_np, requires_grad=True)   # float64, as the checks use
(lambd / (2 * m) * (W_t ** 2).sum()).backward()
assert np.allclose(W_t.grad.numpy(), bl.l2_backward(W_np, lambd, m))

# One SGD step with weight_decay = lambd / m on a cost whose gradient is G equals our step with dW = G + (lambd/m) W.
G = rng_t.normal(size=W_np.shape)
W_t = torch.tensor(W_np, requires_grad=True)
optimizer = torch.optim.SGD([W_t], lr=0.1, weight_decay=lambd / m)
(W_t * torch.tensor(G)).sum().backward()
optimizer.step()
assert np.allclose(W_t.detach().numpy(), W_np - 0.1 * (G + bl.l2_backward(W_np, lambd, m)))
print("L2: autograd and SGD(weight_decay = lambd / m) match the NumPy formulas")

# Dropout: torch's mask, read off its output, reproduces its output and its gradient with our formulas.
A_np = rng_t.uniform(0.5, 2.0, size=(300, 200))          # no zeros, so a 0 in the output means "dropped"
A_t = torch.tensor(A_np, requires_grad=True)
drop = torch.nn.Dropout(p=0.3).train()
out = drop(A_t)
mask = (out.detach().numpy() != 0).astype(float)
dA = rng_t.normal(size=A_np.shape)
out.backward(torch.tensor(dA))
print(f"torch dropped {1 - mask.mean():.3f} of the units (p = 0.3)")
assert np.allclose(out.detach().numpy(), A_np * mask / (1 - 0.3))
assert np.allclose(A_t.grad.numpy(), bl.dropout_backward(dA, mask, 0.3))
assert torch.equal(drop.eval()(A_t), A_t)   # nothing changes at test time
print("dropout: torch's output and gradient are A * mask / (1 - p) and dA * mask / (1 - p)")
"""),
    code(r"""
# Momentum: ten steps of torch.optim.SGD(momentum=beta, lr=lr * (1 - beta)) equal ten steps of ours.
params_np = bl.initialize_parameters([2, 5, 1], "xavier", seed=1)
X_small, Y_small = X_moons[:32], Y_moons[:32]
activations = ["tanh", "sigmoid"]
torch_params = {key: torch.tensor(value, requires_grad=True) for key, value in params_np.items()}
optimizer = torch.optim.SGD(torch_params.values(), lr=0.5 * (1 - 0.9), momentum=0.9)
velocity = bl.model.initialize_velocity(params_np)
for _ in range(10):
    AL, caches = model_forward(X_small, params_np, activations)
    grads = bl.model_backward(AL, Y_small, caches, activations)
    params_np, velocity = bl.model.update_parameters_momentum(params_np, grads, velocity, 0.5, beta=0.9)
    optimizer.zero_grad()
    A = torch.tensor(X_small)
    A = torch.tanh(A @ torch_params["W1"].T + torch_params["B1"])
    A = torch.sigmoid(A @ torch_params["W2"].T + torch_params["B2"])
    torch.nn.functional.binary_cross_entropy(A, torch.tensor(Y_small)).backward()
    optimizer.step()
for key in params_np:
    assert np.allclose(params_np[key], torch_params[key].detach().numpy()), key
print("momentum: 10 steps agree, largest difference",
      max(float(np.abs(params_np[k] - torch_params[k].detach().numpy()).max()) for k in params_np))
"""),
    md(r"""
## 10. In your own words

**Question 1.** Why does inverted dropout divide the kept activations by $1 - \alpha$ in training, and what would go
wrong at test time without that scale?
"""),
    manual("explain_dropout_scale", r"""
Each unit is kept with probability $1-\alpha$, so $A \odot M$ is on average $(1-\alpha)A$; dividing by $1-\alpha$ makes
$\mathbb{E}[A_{out}] = A$. Then the next layer's weights are trained on inputs of the size they will see at test time,
when no unit is dropped and no scale is applied. Without the scale, test-time inputs to the next layer would be
$1/(1-\alpha)$ times larger than in training, shifting every pre-activation (and so the predictions); one would have
to remember to multiply by $1-\alpha$ at test time instead.
""", 2),
    md(r"""
**Question 2.** You tried ten values of $\lambda$ and picked the one with the lowest cost on the test set, and report
that cost. What is wrong with this, and what should you have done?
"""),
    manual("explain_validation_set", r"""
The test set was used to choose a hyperparameter, so the reported test cost is biased downwards: $\lambda$ was
selected because it happened to do well on exactly these examples (including their noise), and the cost on new data
will usually be higher. Choose $\lambda$ (and the epoch, the width, the dropout rate) on a separate validation set,
then evaluate the chosen model once on the untouched test set.
""", 2),
    md(r"""
## Summary

* Overfitting: training cost near zero, held-out cost much worse. Judge on held-out data: choose with the
  validation set, report once on the test set.
* L2: $J + \frac{\lambda}{2m}\sum_l\lVert W^{[l]}\rVert_F^2$, gradient $dW^{[l]} \mathrel{+}= \frac{\lambda}{m}W^{[l]}$ (biases
  untouched): every step shrinks the weights by $1 - \eta\lambda/m$. L1 ($\frac{\lambda}{m}\sum|W|$) makes weights sparse.
* More data (or augmented data) is the most reliable regularizer.
* Inverted dropout: $A_{out} = A\odot M/(1-\alpha)$ with $\alpha$ the drop rate, backward with the same mask and
  scale, nothing at test time.
* Early stopping keeps the epoch with the lowest validation cost, stopping after `patience` epochs without a
  strict improvement.
* Minibatches and momentum ($V \leftarrow \beta V + (1-\beta)\,dW$) make training faster; PyTorch's `weight_decay`,
  `nn.Dropout` and `SGD(momentum=)` compute the same things.
"""),
]


def build():
    """Return the lecture notebook (nbformat v4 NotebookNode)."""
    return assemble(CELLS)


if __name__ == "__main__":
    main(build, TARGET)
