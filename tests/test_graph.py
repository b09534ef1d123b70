"""Tests for backproplab.graph, the lecture-02 Var/Op autodiff engine.

Every op's gradient is compared with PyTorch float64 autograd and with central finite
differences (backproplab.gradcheck.numerical_gradient). A random weight matrix C turns each
output into a scalar J = sum(C * op(...)), so that the upstream gradient is not all ones.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from backproplab import graph as G
from backproplab.gradcheck import max_relative_error, numerical_gradient
from backproplab.model import model_backward, model_forward
from strategies import arrays, kink_free_arrays, networks, seeds, shapes

NUMERIC_RTOL = 1e-6
NUMERIC_ATOL = 1e-6


def _engine_grads(fn, inputs, weights):
    """Gradients of J = sum(weights * fn(*Vars)) w.r.t. each input, via the engine."""
    leaves = [G.Var(x, f"x{i}") for i, x in enumerate(inputs)]
    J = G.sum(fn(*leaves) * weights)
    J.backward()
    return J.value, [np.asarray(leaf.grad) for leaf in leaves]


def _torch_grads(fn, inputs, weights):
    """The same gradients from PyTorch autograd in float64."""
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    J = (fn(*leaves) * torch.tensor(weights, dtype=torch.float64)).sum()
    J.backward()
    return J.item(), [leaf.grad.numpy() for leaf in leaves]


def _numeric_grads(fn, inputs, weights):
    """Central differences of J, one input at a time (the others held fixed)."""
    grads = []
    for i in range(len(inputs)):
        def J_of(x, i=i):
            args = [G.constant(v) for v in inputs]
            args[i] = G.constant(x)
            return G.sum(fn(*args) * weights).value
        grads.append(numerical_gradient(J_of, np.array(inputs[i], dtype=float)))
    return grads


def _assert_three_oracles_agree(engine_fn, torch_fn, inputs, seed):
    out_shape = np.shape(engine_fn(*[G.constant(x) for x in inputs]).value)
    weights = np.random.default_rng(seed).uniform(-1.0, 1.0, out_shape)
    J, ours = _engine_grads(engine_fn, inputs, weights)
    J_torch, theirs = _torch_grads(torch_fn, inputs, weights)
    numeric = _numeric_grads(engine_fn, inputs, weights)
    assert J == pytest.approx(J_torch, rel=1e-12, abs=1e-12)
    for x, g, g_torch, g_num in zip(inputs, ours, theirs, numeric):
        assert g.shape == np.shape(x)
        assert max_relative_error(g, g_torch) < 1e-10
        # Absolute floor: central differences carry ~eps * |J| / h of rounding noise.
        np.testing.assert_allclose(g, g_num, rtol=NUMERIC_RTOL, atol=NUMERIC_ATOL)


UNARY_OPS = {
    # name: (engine op, torch op, input strategy for a given shape)
    "exp": (G.exp, torch.exp, lambda shape: arrays(shape, -3.0, 3.0)),
    "log": (G.log, torch.log, lambda shape: arrays(shape, 0.1, 10.0)),
    "sin": (G.sin, torch.sin, lambda shape: arrays(shape)),
    "sigmoid": (G.sigmoid, torch.sigmoid, lambda shape: arrays(shape, -6.0, 6.0)),
    "tanh": (G.tanh, torch.tanh, lambda shape: arrays(shape, -3.0, 3.0)),
    "relu": (G.relu, torch.relu, lambda shape: kink_free_arrays(shape)),
    "neg": (G.neg, torch.neg, lambda shape: arrays(shape)),
    "transpose": (G.transpose, lambda x: x.T, lambda shape: arrays(shape)),
    "pow": (lambda x: x ** 3, lambda x: x ** 3, lambda shape: arrays(shape, -3.0, 3.0)),
    "pow_negative": (lambda x: x ** -2, lambda x: x ** -2, lambda shape: arrays(shape, 0.5, 3.0)),
}


@pytest.mark.parametrize("name", sorted(UNARY_OPS))
@given(data=st.data(), shape=shapes(), seed=seeds())
def test_unary_op_gradients(name, data, shape, seed):
    """Does each elementwise op's gradient match torch autograd and finite differences?"""
    engine_fn, torch_fn, strategy = UNARY_OPS[name]
    x = data.draw(strategy(shape))
    _assert_three_oracles_agree(engine_fn, torch_fn, [x], seed)


@pytest.mark.parametrize("name, engine_fn, torch_fn", [
    ("sum", G.sum, torch.sum), ("mean", G.mean, torch.mean),
])
@given(data=st.data(), shape=shapes(), seed=seeds())
def test_reduction_gradients(name, engine_fn, torch_fn, data, shape, seed):
    """Do sum and mean (over all entries) get the right gradient for any non-square shape?"""
    x = data.draw(arrays(shape))
    _assert_three_oracles_agree(lambda v: engine_fn(v) * v, lambda v: torch_fn(v) * v, [x], seed)


# Operand shapes of one (m, n): same shape, a row (1, n) like a bias, a column (m, 1), a scalar.
def _broadcast_partner(shape, kind):
    m, n = shape
    return {"same": (m, n), "row": (1, n), "column": (m, 1), "scalar": ()}[kind]


BINARY_OPS = {
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "div": (lambda x, y: x / y, lambda x, y: x / y),
}


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
@pytest.mark.parametrize("kind", ["same", "row", "column", "scalar"])
@given(data=st.data(), shape=shapes(), seed=seeds(), swap=st.booleans())
def test_broadcasting_binary_op_gradients(name, kind, data, shape, seed, swap):
    """Do +, -, *, / reduce each gradient back to its operand's shape, whichever side broadcasts?"""
    engine_fn, torch_fn = BINARY_OPS[name]
    x = data.draw(arrays(shape, -3.0, 3.0))
    # Divisors stay away from 0 so that finite differences stay accurate.
    y_min = 0.5 if name == "div" else -3.0
    y = data.draw(arrays(_broadcast_partner(shape, kind), y_min, 3.0))
    inputs = [y, x] if swap and name != "div" else [x, y]
    _assert_three_oracles_agree(engine_fn, torch_fn, inputs, seed)


@given(data=st.data(), mkn=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)), seed=seeds())
def test_matmul_gradients(data, mkn, seed):
    """Does X @ W give dX = s W^T and dW = X^T s for (m, k) @ (k, n), including 1-row/1-column?"""
    m, k, n = mkn
    x = data.draw(arrays((m, k)))
    w = data.draw(arrays((k, n)))
    _assert_three_oracles_agree(lambda a, b: a @ b, lambda a, b: a @ b, [x, w], seed)


def test_worked_example_J_equals_2_times_ab_plus_c():
    """Does J = 2(ab + c) at a=3, b=2, c=5 give J=22 and dJ/da, dJ/db, dJ/dc = 4, 6, 2 (DESIGN.md)?"""
    a, b, c = G.Var(3.0, "a"), G.Var(2.0, "b"), G.Var(5.0, "c")
    J = 2 * (a * b + c)
    J.name = "J"
    J.backward()
    assert (J.value, a.grad, b.grad, c.grad) == (22.0, 4.0, 6.0, 2.0)


@given(xyz=st.tuples(*[st.floats(-10, 10, allow_nan=False)] * 3))
def test_f_equals_x_plus_y_times_z(xyz):
    """Does f = (x + y) z have the value and gradients that torch autograd gives?"""
    x, y, z = (G.Var(v, name) for v, name in zip(xyz, "xyz"))
    f = (x + y) * z
    f.backward()
    tx, ty, tz = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in xyz)
    tf = (tx + ty) * tz
    tf.backward()
    assert f.value == pytest.approx(tf.item())
    assert (x.grad, y.grad, z.grad) == pytest.approx((tx.grad.item(), ty.grad.item(), tz.grad.item()))


@given(data=st.data(), shape=shapes(), seed=seeds())
def test_shared_variable_accumulates_both_paths(data, shape, seed):
    """Does a variable used in several places (x*x + sin(x) + x) collect every path's gradient?"""
    x = data.draw(arrays(shape, -3.0, 3.0))
    _assert_three_oracles_agree(lambda v: v * v + G.sin(v) + v,
                                lambda v: v * v + torch.sin(v) + v, [x], seed)


def test_shared_scalar_accumulates_both_paths():
    """Does J = a*a at a=3 give dJ/da = 6, i.e. 3 from each of the two uses (not 3)?"""
    a = G.Var(3.0, "a")
    J = a * a
    J.backward()
    ta = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    (ta * ta).backward()
    assert a.grad == ta.grad.item()


def _engine_cost(X, Y, params, activations):
    """The MLP cost J built from engine ops; returns (J, {"W1": Var, "B1": Var, ...})."""
    leaves = {key: G.Var(value, key) for key, value in params.items()}
    m = X.shape[0]
    A = G.constant(X)
    for l, activation in enumerate(activations, start=1):
        Z = A @ leaves[f"W{l}"].T + leaves[f"B{l}"]
        A = Z if activation == "identity" else getattr(G, activation)(Z)
    if activations[-1] == "sigmoid":
        J = -G.sum(Y * G.log(A) + (1 - Y) * G.log(1 - A)) / m
    else:
        J = G.sum((A - Y) ** 2) / (2 * m)
    return J, leaves


@given(net=networks(hidden=("sigmoid", "tanh", "relu"), outputs=("sigmoid", "identity"), max_layers=3))
def test_mlp_from_engine_ops_matches_model_backward(net):
    """Does an MLP built from engine ops give the same dW and dB as backproplab.model.model_backward?"""
    X, Y, params, activations = net
    J, leaves = _engine_cost(X, Y, params, activations)
    J.backward()
    AL, caches = model_forward(X, params, activations)
    grads = model_backward(AL, Y, caches, activations)
    for key, leaf in leaves.items():
        np.testing.assert_allclose(leaf.grad, grads["d" + key], rtol=1e-8, atol=1e-10)


def _wrong_mul_backward(upstream, x, y, out=None):
    """A typical student mistake: each input gets its own value instead of the other's."""
    return upstream * x, upstream * y


def test_use_backward_rules_swaps_in_a_student_rule():
    """Does a swapped-in mul rule change the gradients inside the block and not after it?"""
    a, b = G.Var(3.0, "a"), G.Var(2.0, "b")
    J = a * b
    with G.use_backward_rules({"mul": _wrong_mul_backward}):
        J.backward()
        assert (a.grad, b.grad) == (3.0, 2.0)
    J.zero_grad()
    J.backward()
    assert (a.grad, b.grad) == (2.0, 3.0)
    assert G.BACKWARD_RULES == G.REFERENCE_BACKWARD_RULES


def test_use_backward_rules_restores_rules_after_an_exception():
    """Are the original rules back after the with-block raised?"""
    before = dict(G.BACKWARD_RULES)
    with pytest.raises(RuntimeError, match="student code failed"):
        with G.use_backward_rules({"mul": _wrong_mul_backward, "exp": _wrong_mul_backward}):
            assert G.BACKWARD_RULES["mul"] is _wrong_mul_backward
            raise RuntimeError("student code failed")
    assert G.BACKWARD_RULES == before


def test_use_backward_rules_rejects_unknown_ops():
    """Does naming an op that does not exist raise KeyError and leave the registry intact?"""
    before = dict(G.BACKWARD_RULES)
    with pytest.raises(KeyError, match="multiply"):
        with G.use_backward_rules({"multiply": _wrong_mul_backward}):
            pass  # never reached
    assert G.BACKWARD_RULES == before


@pytest.mark.parametrize("bad_rule, message", [
    (lambda s, x, y, out=None: (s,), "one per input"),
    (lambda s, x, y, out=None: (y @ s.T, s.T @ x), "shape"),  # both transposed
])
def test_badly_shaped_student_rules_are_reported(bad_rule, message):
    """Does a rule returning too few gradients, or a wrong shape, raise an error naming the op?"""
    x, w = G.Var(np.ones((2, 3)), "X"), G.Var(np.ones((3, 4)), "W")
    J = G.sum(x @ w)
    with G.use_backward_rules({"matmul": bad_rule}):
        with pytest.raises(ValueError, match=message) as info:
            J.backward()
    assert "matmul" in str(info.value)


def test_changing_a_leaf_and_re_evaluating():
    """After a.value changes, do evaluate() and backward() use the new value, like a fresh graph?"""
    a, b = G.Var(3.0, "a"), G.Var(2.0, "b")
    J = G.exp(a * b) + a
    a.value = -1.5
    fresh_a = G.Var(-1.5, "a")
    fresh = G.exp(fresh_a * G.Var(2.0, "b")) + fresh_a
    assert J.evaluate() == fresh.value
    J.backward()
    fresh.backward()
    assert a.grad == fresh_a.grad


def test_backward_accumulates_and_zero_grad_resets():
    """Does a second backward() add to grad (+=), and zero_grad() set every grad back to 0?"""
    x = G.Var(np.arange(6.0).reshape(2, 3), "x")
    J = G.sum(x * x)
    J.backward()
    once = x.grad.copy()
    J.backward()
    np.testing.assert_array_equal(x.grad, 2 * once)
    J.zero_grad()
    assert all(np.all(np.asarray(node.grad) == 0) for node in G.topological_order(J))


def test_backward_of_a_matrix_root_needs_an_upstream():
    """Does backward() on a non-scalar root without an upstream gradient refuse, as torch does?"""
    x = G.Var(np.ones((2, 3)), "x")
    with pytest.raises(ValueError, match="scalar"):
        (x * 2).backward()


def test_only_leaves_can_be_assigned():
    """Does assigning to an op node's value raise (its value comes from evaluate())?"""
    J = G.Var(1.0) + 1
    with pytest.raises(AttributeError):
        J.value = 5.0


def test_pow_rejects_a_variable_exponent():
    """Does x ** Var raise TypeError (exponents are constants in this engine)?"""
    with pytest.raises(TypeError, match="constant"):
        G.Var(2.0) ** G.Var(3.0)


def test_deep_graph_has_no_recursion_limit():
    """Does a chain of 5000 additions evaluate and backpropagate without RecursionError?"""
    x = G.Var(1.0, "x")
    y = x
    for _ in range(5000):
        y = y + x
    y.backward()
    assert (y.value, x.grad) == (5001.0, 5001.0)


def test_graph_nodes_know_their_op_and_parents():
    """Do leaves have op None and op nodes name their op and parents in order?"""
    a, b = G.Var(1.0, "a"), G.Var(2.0, "b")
    J = a * b
    assert a.op is None and a.parents == ()
    assert J.op == "mul" and J.parents == (a, b)
    assert set(G.PRIMITIVES) == set(G.BACKWARD_RULES)


def test_numpy_arrays_on_the_left_build_graph_nodes():
    """Does ndarray (+, -, *, @) Var give a Var node (a constant leaf plus the op), not an object array?"""
    M = np.arange(6.0).reshape(2, 3)
    v = G.Var(np.ones((3, 3)), "v")
    for result, op in ((M @ v, "matmul"), (np.ones((3, 3)) * v, "mul"),
                       (np.ones((3, 3)) + v, "add"), (np.ones((3, 3)) - v, "add")):
        assert isinstance(result, G.Var) and result.op == op
    with pytest.raises(TypeError):
        np.exp(v)  # NumPy functions must not silently bypass the graph


def test_rules_without_out_keyword_plug_in_as_they_are():
    """Does a lecture-02 style matmul_backward(s, A, B), with no `out` parameter, work as the matmul rule?"""
    def matmul_backward(s, A, B):
        return s @ B.T, A.T @ s

    rng = np.random.default_rng(0)
    x, w = G.Var(rng.standard_normal((2, 3)), "X"), G.Var(rng.standard_normal((3, 4)), "W")
    J = G.sum(G.sin(x @ w))
    J.backward()
    expected = (x.grad.copy(), w.grad.copy())
    J.zero_grad()
    with G.use_backward_rules({"matmul": matmul_backward}):
        J.backward()
    np.testing.assert_array_equal(x.grad, expected[0])
    np.testing.assert_array_equal(w.grad, expected[1])
