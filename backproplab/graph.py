"""A small reverse-mode autodiff engine in the lecture's Var/Op design (lecture 02).

Every value is a ``Var``. A ``Var`` remembers the operation (``op``) that created it and its
parent variables; leaves (inputs, parameters, constants) have ``op = None``. A handful of
primitive ops each have a forward rule and a backward rule; everything else (subtraction,
division, ...) is built from them.

    >>> a, b, c = Var(3.0, "a"), Var(2.0, "b"), Var(5.0, "c")
    >>> J = 2 * (a * b + c); J.name = "J"
    >>> J.backward()
    >>> J.value, a.grad, b.grad, c.grad
    (22.0, 4.0, 6.0, 2.0)

Values are scalars (0-d) or NumPy matrices (2-d, batch-first as in DESIGN.md). ``add`` and
``mul`` broadcast like NumPy; the engine sums each gradient back to its operand's shape, so a
bias B: (1, n) added to Z: (m, n) gets dB: (1, n).

Evaluation is eager: building ``a * b`` computes its value at once. After changing a leaf
(``a.value = 4.0``) call ``root.evaluate()`` to recompute everything downstream of the
leaves; ``root.backward()`` re-evaluates by itself first, so gradients never use stale values.

Backward rules live in ``BACKWARD_RULES`` so that a lecture exercise can swap in a student's
rule for a while with ``use_backward_rules({"mul": my_mul_backward})``. The rule contract:

    rule(upstream, *input_values, out=output_value) -> tuple of input gradients

* ``upstream``: dJ/d(output), an array of the output's shape;
* ``input_values``: the forward values of the op's inputs, in order (NumPy arrays; 0-d
  arrays for scalars);
* ``out``: the op's forward output (handy for exp, sigmoid, tanh);
* returns one gradient dJ/d(input) per input, in the same order (a bare array is accepted
  for one-input ops). A gradient may have the broadcast shape of the output: the engine sums
  it back to the input's shape.
* The only op with a parameter is ``pow``, whose rule also receives ``exponent=p``.
* ``out`` and ``exponent`` are passed only to rules whose signature accepts them, so a rule
  written as ``matmul_backward(s, A, B)`` (DESIGN.md's lecture-02 exercise) plugs in as is.

The engine (not the rules) accumulates: each node's ``grad`` += its gradient, in reverse
topological order, so a variable used twice collects both paths.
"""
from __future__ import annotations

import contextlib
import inspect
import itertools
import numbers
from typing import Callable

import numpy as np

from .activations import relu as _relu
from .activations import relu_backward as _relu_backward
from .activations import sigmoid as _sigmoid
from .activations import sigmoid_backward as _sigmoid_backward
from .activations import tanh as _tanh
from .activations import tanh_backward as _tanh_backward

# ``sum`` and ``pow`` are left out of __all__ so that ``from backproplab.graph import *`` does
# not shadow Python's builtins; use ``graph.sum(x)`` / ``x.sum()`` and ``x ** p``.
__all__ = [
    "Var", "constant", "FORWARD_RULES", "BACKWARD_RULES", "REFERENCE_BACKWARD_RULES", "PRIMITIVES",
    "use_backward_rules", "add", "mul", "matmul", "transpose", "mean", "exp", "log", "sin",
    "sigmoid", "tanh", "relu", "neg", "sub", "div", "topological_order", "short_text",
]


# ----------------------------------------------------------------------------------------
# Primitive ops: forward rules (fixed) and backward rules (swappable).
# ----------------------------------------------------------------------------------------

def _add_backward(upstream, x, y, out=None):
    """Gradients of a sum for both inputs (in order); the engine un-broadcasts them."""
    return upstream, upstream


def _mul_backward(upstream, x, y, out=None):
    """Gradients of an elementwise product for both inputs (in order), each of the output's shape."""
    return upstream * y, upstream * x


def _matmul_backward(upstream, x, y, out=None):
    """Gradients of Y = X @ W for both inputs. X: (m, k), W: (k, n), upstream: (m, n) -> (dX (m, k), dW (k, n))."""
    return upstream @ y.T, x.T @ upstream


def _transpose_backward(upstream, x, out=None):
    """Gradient of a transpose for its input: upstream (n, m) -> (m, n)."""
    return (upstream.T,)


def _sum_backward(upstream, x, out=None):
    """Gradient of the sum of all entries for its input, of the input's shape."""
    return (np.broadcast_to(upstream, x.shape).copy(),)


def _mean_backward(upstream, x, out=None):
    """Gradient of the mean of all entries for its input, of the input's shape."""
    return (np.broadcast_to(upstream / max(x.size, 1), x.shape).copy(),)


def _exp_backward(upstream, x, out=None):
    """Gradient of the elementwise exponential for its input; uses the forward output."""
    return (upstream * out,)


def _log_backward(upstream, x, out=None):
    """Gradient of the elementwise natural logarithm for its input."""
    return (upstream / x,)


def _sin_backward(upstream, x, out=None):
    """Gradient of the elementwise sine for its input."""
    return (upstream * np.cos(x),)


def _sigmoid_backward_rule(upstream, x, out=None):
    """Gradient of the elementwise sigmoid for its input, from the activations library."""
    return (_sigmoid_backward(upstream, x),)


def _tanh_backward_rule(upstream, x, out=None):
    """Gradient of the elementwise tanh for its input, from the activations library."""
    return (_tanh_backward(upstream, x),)


def _relu_backward_rule(upstream, x, out=None):
    """Gradient of the elementwise ReLU for its input (the left slope at the kink, as in PyTorch)."""
    return (_relu_backward(upstream, x),)


def _neg_backward(upstream, x, out=None):
    """Gradient of the negation for its input."""
    return (-upstream,)


def _pow_backward(upstream, x, out=None, exponent=None):
    """Gradient of the elementwise power x ** exponent (a constant) for its input."""
    return (upstream * exponent * np.power(x, exponent - 1),)


# Forward rules: name -> f(*input_values, **op_params) -> output value. Not swappable.
FORWARD_RULES: dict[str, Callable] = {
    "add": np.add,
    "mul": np.multiply,
    "matmul": np.matmul,
    "transpose": np.transpose,
    "sum": np.sum,
    "mean": np.mean,
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": _relu,
    "neg": np.negative,
    "pow": lambda x, exponent: np.power(x, exponent),
}

# The reference backward rules, kept apart so that swapped rules can always be restored.
REFERENCE_BACKWARD_RULES: dict[str, Callable] = {
    "add": _add_backward,
    "mul": _mul_backward,
    "matmul": _matmul_backward,
    "transpose": _transpose_backward,
    "sum": _sum_backward,
    "mean": _mean_backward,
    "exp": _exp_backward,
    "log": _log_backward,
    "sin": _sin_backward,
    "sigmoid": _sigmoid_backward_rule,
    "tanh": _tanh_backward_rule,
    "relu": _relu_backward_rule,
    "neg": _neg_backward,
    "pow": _pow_backward,
}

# The live registry the engine calls; see the module docstring for the rule contract.
BACKWARD_RULES: dict[str, Callable] = dict(REFERENCE_BACKWARD_RULES)

PRIMITIVES = tuple(FORWARD_RULES)

# How each op shows up in labels and expressions: infix symbol or function name.
_INFIX = {"add": "+", "mul": "*", "matmul": "@"}


@contextlib.contextmanager
def use_backward_rules(rules: dict[str, Callable]):
    """Temporarily replace some backward rules, e.g. with a student's ``mul`` rule.

    rules: {op name: rule} with rules following the contract in the module docstring.
    The previous rules are restored on exit, also when the block raises.
    """
    unknown = set(rules) - set(BACKWARD_RULES)
    if unknown:
        raise KeyError(f"unknown op(s) {sorted(unknown)}; the ops are {list(PRIMITIVES)}")
    saved = {name: BACKWARD_RULES[name] for name in rules}
    BACKWARD_RULES.update(rules)
    try:
        yield BACKWARD_RULES
    finally:
        BACKWARD_RULES.update(saved)


# ----------------------------------------------------------------------------------------
# Var
# ----------------------------------------------------------------------------------------

def _as_value(value) -> np.ndarray:
    return np.array(value, dtype=float)


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a gradient of a broadcast result back to an operand's ``shape``."""
    grad = np.asarray(grad, dtype=float)
    # NumPy broadcasting prepends axes, then stretches axes of length 1: undo both.
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an operand of ``shape`` broadcasts to exactly ``target``."""
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _accepted_keywords(rule: Callable, keywords: dict) -> dict:
    """The subset of ``keywords`` that ``rule`` can take (all of them if it has ``**kwargs``).

    This lets a rule written without ``out``, such as lecture 02's ``matmul_backward(s, A, B)``,
    be plugged in as it is.
    """
    try:
        parameters = inspect.signature(rule).parameters
    except (TypeError, ValueError):  # builtins without a signature: pass everything
        return keywords
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return keywords
    return {key: value for key, value in keywords.items() if key in parameters}


def _public(array: np.ndarray):
    """Scalars as Python floats (they print as 22.0), matrices as arrays."""
    return float(array) if array.ndim == 0 else array


class Var:
    """A node of the computation graph: a value, its gradient, and how it was made.

    value: a number or a 2-d array (m, n); name: a label for tables and drawings.
    Attributes: ``op`` (None for leaves, else a name in ``PRIMITIVES``), ``parents`` (the op's
    input Vars, in order), ``op_params`` (only ``pow``: {"exponent": p}), ``value`` and
    ``grad`` (dJ/d(this), same shape as value; floats for scalars).
    """

    _ids = itertools.count(1)
    # ndarray (+ - * / @) Var must build a graph node (Var.__radd__, ...), never an object array.
    __array_ufunc__ = None

    def __init__(self, value, name: str | None = None):
        self.op: str | None = None
        self.parents: tuple[Var, ...] = ()
        self.op_params: dict = {}
        self.name = name
        self.is_constant = False
        self._value = _as_value(value)
        self._grad = np.zeros_like(self._value)
        self._id = next(Var._ids)

    @classmethod
    def _from_op(cls, op: str, parents: tuple, **op_params) -> "Var":
        node = cls.__new__(cls)
        node.op, node.parents, node.op_params = op, parents, op_params
        node.name, node.is_constant = None, False
        node._id = next(Var._ids)
        node._value = node._forward()
        node._grad = np.zeros_like(node._value)
        return node

    # -- values and gradients -------------------------------------------------------------
    @property
    def value(self):
        """The forward value: a float for scalars, an array otherwise."""
        return _public(self._value)

    @value.setter
    def value(self, new_value):
        if self.op is not None:
            raise AttributeError("only leaves can be set; an op's value comes from evaluate()")
        self._value = _as_value(new_value)
        if self._grad.shape != self._value.shape:
            self._grad = np.zeros_like(self._value)

    @property
    def grad(self):
        """dJ/d(this node) accumulated by backward(): a float for scalars, an array otherwise."""
        return _public(self._grad)

    @property
    def shape(self) -> tuple:
        return self._value.shape

    def _forward(self) -> np.ndarray:
        inputs = [parent._value for parent in self.parents]
        return _as_value(FORWARD_RULES[self.op](*inputs, **self.op_params))

    def evaluate(self):
        """Forward pass: recompute every op node below this one from the current leaf values.

        Returns this node's value (float or array).
        """
        for node in topological_order(self):
            if node.op is not None:
                node._value = node._forward()
                if node._grad.shape != node._value.shape:
                    node._grad = np.zeros_like(node._value)
        return self.value

    def zero_grad(self):
        """Set ``grad`` to zero for every node of the graph below (and including) this one."""
        for node in topological_order(self):
            node._grad = np.zeros_like(node._value)

    def backward(self, upstream=None):
        """Reverse pass: re-evaluate, seed dJ/dJ = 1, then apply each op's backward rule.

        upstream: dJ/d(this node), default 1 (this node must then be a scalar).
        Every node's ``grad`` += its gradient from this pass (call ``zero_grad`` between
        steps). Nodes are visited in reverse topological order: a node's rule runs only once
        all the paths through it have delivered their share.
        """
        order = topological_order(self)
        self.evaluate()
        if upstream is None:
            if self._value.size != 1:
                raise ValueError(f"backward() without upstream needs a scalar root, not shape {self.shape}")
            upstream = np.ones_like(self._value)
        fresh = {id(self): np.broadcast_to(_as_value(upstream), self.shape).astype(float)}
        for node in reversed(order):
            # Every node here is an ancestor of the root, so all its paths have delivered by now.
            g = fresh.pop(id(node))
            node._grad = node._grad + g
            if node.op is None:
                continue
            for parent, parent_grad in zip(node.parents, node._input_gradients(g)):
                previous = fresh.get(id(parent))
                fresh[id(parent)] = parent_grad if previous is None else previous + parent_grad

    def _input_gradients(self, upstream: np.ndarray) -> list[np.ndarray]:
        """Call the op's (possibly swapped) backward rule and check what it returned."""
        rule = BACKWARD_RULES[self.op]
        inputs = [parent._value for parent in self.parents]
        keywords = _accepted_keywords(rule, {"out": self._value, **self.op_params})
        result = rule(upstream, *inputs, **keywords)
        if not isinstance(result, (tuple, list)):
            result = (result,)
        if len(result) != len(inputs):
            raise ValueError(f"backward rule for {self.op!r} returned {len(result)} gradient(s); "
                             f"it needs one per input ({len(inputs)})")
        grads = []
        for parent, grad in zip(self.parents, result):
            grad = _as_value(grad)
            if grad.shape != parent.shape and _broadcasts_to(parent.shape, grad.shape):
                grad = _unbroadcast(grad, parent.shape)
            if grad.shape != parent.shape:
                raise ValueError(f"backward rule for {self.op!r} returned a gradient of shape "
                                 f"{grad.shape} for an input of shape {parent.shape}")
            grads.append(grad)
        return grads

    # -- display ---------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The name if given, else a short expression such as ``a*b``, else ``op#id``."""
        if self.name:
            return self.name
        if self.is_constant or self.op is None:
            return short_text(self._value) if self.is_constant else f"v{self._id}"
        parts = [parent.label for parent in self.parents]
        if self.op in _INFIX:
            text = f"({parts[0]} {_INFIX[self.op]} {parts[1]})"
        elif self.op == "pow":
            text = f"{parts[0]}^{short_text(np.asarray(self.op_params['exponent']))}"
        elif self.op == "transpose":
            text = f"{parts[0]}.T"
        else:
            text = f"{self.op}({parts[0]})"
        return text if len(text) <= 24 else f"{self.op}#{self._id}"

    def __repr__(self) -> str:
        op = f", op={self.op!r}" if self.op else ""
        return f"Var({self.label}{op}, value={short_text(self._value)}, grad={short_text(self._grad)})"

    # -- operators: plain numbers and arrays become constants ------------------------------
    def __add__(self, other): return add(self, other)
    def __radd__(self, other): return add(other, self)
    def __mul__(self, other): return mul(self, other)
    def __rmul__(self, other): return mul(other, self)
    def __matmul__(self, other): return matmul(self, other)
    def __rmatmul__(self, other): return matmul(other, self)
    def __sub__(self, other): return sub(self, other)
    def __rsub__(self, other): return sub(other, self)
    def __truediv__(self, other): return div(self, other)
    def __rtruediv__(self, other): return div(other, self)
    def __neg__(self): return neg(self)
    def __pow__(self, exponent): return pow(self, exponent)

    @property
    def T(self) -> "Var":
        return transpose(self)

    def sum(self) -> "Var": return sum(self)
    def mean(self) -> "Var": return mean(self)
    def exp(self) -> "Var": return exp(self)
    def log(self) -> "Var": return log(self)
    def sin(self) -> "Var": return sin(self)
    def sigmoid(self) -> "Var": return sigmoid(self)
    def tanh(self) -> "Var": return tanh(self)
    def relu(self) -> "Var": return relu(self)

    # Vars are graph nodes, compared by identity (so they can be dict keys and set members).
    __hash__ = object.__hash__


def constant(value) -> Var:
    """A leaf holding a fixed number or array (labelled by its value)."""
    node = Var(value)
    node.is_constant = True
    return node


def _lift(x) -> Var:
    if isinstance(x, Var):
        return x
    if isinstance(x, (numbers.Number, np.ndarray, list, tuple)):
        return constant(x)
    raise TypeError(f"cannot use {type(x).__name__} in a computation graph")


def short_text(array) -> str:
    """A value as a few characters: a scalar to 4 significant digits, up to 4 entries in full, else the shape."""
    array = np.asarray(array)
    if array.ndim == 0:
        return f"{float(array):.4g}"
    if array.size <= 4:
        return np.array2string(array, precision=3, separator=", ").replace("\n", "")
    return f"array{array.shape}"


# ----------------------------------------------------------------------------------------
# Building blocks. Primitives make one node; the rest are compositions of primitives.
# ----------------------------------------------------------------------------------------

def add(x, y) -> Var:
    """x + y, with NumPy broadcasting. Shapes: x, y broadcastable -> broadcast shape."""
    return Var._from_op("add", (_lift(x), _lift(y)))


def mul(x, y) -> Var:
    """x * y elementwise, with NumPy broadcasting."""
    return Var._from_op("mul", (_lift(x), _lift(y)))


def matmul(x, y) -> Var:
    """Matrix product. x: (m, k), y: (k, n) -> (m, n)."""
    x, y = _lift(x), _lift(y)
    if len(x.shape) != 2 or len(y.shape) != 2:
        raise ValueError(f"matmul needs two matrices (2-d), got shapes {x.shape} and {y.shape}")
    return Var._from_op("matmul", (x, y))


def transpose(x) -> Var:
    """x^T. x: (m, n) -> (n, m)."""
    return Var._from_op("transpose", (_lift(x),))


def sum(x) -> Var:  # noqa: A001 - the lecture's op name
    """Sum of all entries. x: any shape -> scalar."""
    return Var._from_op("sum", (_lift(x),))


def mean(x) -> Var:
    """Mean of all entries. x: any shape -> scalar."""
    return Var._from_op("mean", (_lift(x),))


def exp(x) -> Var:
    """e^x elementwise."""
    return Var._from_op("exp", (_lift(x),))


def log(x) -> Var:
    """Natural log elementwise (x > 0)."""
    return Var._from_op("log", (_lift(x),))


def sin(x) -> Var:
    """sin(x) elementwise."""
    return Var._from_op("sin", (_lift(x),))


def sigmoid(x) -> Var:
    """1 / (1 + e^-x) elementwise (stable, from backproplab.activations)."""
    return Var._from_op("sigmoid", (_lift(x),))


def tanh(x) -> Var:
    """tanh(x) elementwise."""
    return Var._from_op("tanh", (_lift(x),))


def relu(x) -> Var:
    """max(0, x) elementwise."""
    return Var._from_op("relu", (_lift(x),))


def neg(x) -> Var:
    """-x."""
    return Var._from_op("neg", (_lift(x),))


def pow(x, exponent) -> Var:  # noqa: A001 - the lecture's op name
    """x^p elementwise for a constant number p (the exponent is not differentiated)."""
    if isinstance(exponent, Var) or not isinstance(exponent, numbers.Number):
        raise TypeError("pow supports only a constant number as the exponent")
    return Var._from_op("pow", (_lift(x),), exponent=float(exponent))


def sub(x, y) -> Var:
    """x - y, built as x + (-y)."""
    return add(x, neg(y))


def div(x, y) -> Var:
    """x / y, built as x * y^(-1)."""
    return mul(x, pow(y, -1))


# ----------------------------------------------------------------------------------------
# Traversal
# ----------------------------------------------------------------------------------------

def topological_order(root: Var) -> list[Var]:
    """All nodes the root depends on, each after its parents (the root last).

    Iterative depth-first search, so deep graphs do not hit Python's recursion limit.
    """
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent) not in seen:
                stack.append((parent, False))
    return order
