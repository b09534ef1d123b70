"""Checks for lecture 02 (computation graphs): numerical_gradient, matmul_backward, and
three backward rules of the Var/Op engine (mul_backward, exp_backward, sigmoid_backward_rule).

Oracles: the NumPy reference (``backproplab.gradcheck`` and the engine's own rules), PyTorch
float64 autograd, and central finite differences. The rule exercises' cases are the calls
the engine really makes: random expressions are built with ``backproplab.graph`` and run
backward, and every call of the op's rule (upstream, input values, out) is recorded.
"""
from __future__ import annotations

import numpy as np

from .. import graph
from ..gradcheck import numerical_gradient as reference_numerical_gradient
from .codec import FnToken
from .compare import TOLERANCES, is_close
from .core import Case, CaseVerdict, Exercise, register
from .fixtures import curvy_function

__all__ = ["curvy_gradient", "forward_difference", "record_rule_calls",
           "NumericalGradient", "MatmulBackward", "MulBackward", "ExpBackward", "SigmoidBackwardRule"]

LECTURE = "02-computation-graphs"
FIXTURE_NAME = "lecture02_curvy"


# ---------------------------------------------------------------------------------------
# The scalar function handed to numerical_gradient is fixtures.curvy_function; its exact gradient:


def curvy_gradient(x, weights, frequency, curvature):
    """The exact gradient of ``curvy_function(...)`` at x: same shape as x (PyTorch float64)."""
    import torch

    tx = torch.tensor(np.asarray(x, dtype=float), dtype=torch.float64, requires_grad=True)
    tw = torch.tensor(np.asarray(weights, dtype=float), dtype=torch.float64)
    tq = torch.tensor(np.asarray(curvature, dtype=float), dtype=torch.float64)
    (tw * torch.sin(float(frequency) * tx) + 0.5 * tq * tx * tx).sum().backward()
    return tx.grad.numpy()


def forward_difference(f, x, h):
    """The one-sided estimate (f(x + h e_i) - f(x)) / h, entry by entry: x's shape."""
    x = np.array(x, dtype=float)
    f0 = f(x)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += h
        grad[index] = (f(shifted) - f0) / h
    return grad


def _whole_tuple_mistake(exercise, outputs: dict, mistakes: list, case: Case) -> CaseVerdict | None:
    """A verdict if every output matches one predicted mistake at once (e.g. swapped outputs)."""
    for diagnosis, predicted, text in mistakes:
        if all(isinstance(outputs.get(name), np.ndarray) and np.shape(outputs[name]) == np.shape(value)
               and is_close(outputs[name], value, TOLERANCES["float64"]) for name, value in predicted.items()):
            return CaseVerdict(False, diagnosis, f"{text}.", {name: False for name in outputs})
    return None


# ---------------------------------------------------------------------------------------
# numerical_gradient(f, x, h=1e-5)


@register
class NumericalGradient(Exercise):
    name = "numerical_gradient"
    lecture = LECTURE
    args = ("f", "x", "h")
    outputs = ("grad",)
    formulas = {"grad": "grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h), one entry at a time"}
    library_functions = ("backproplab.gradcheck.numerical_gradient",)

    def cases(self, rng, hidden):
        if hidden:
            specs = [((1, 4), 1e-5, "x of shape (1, 4): m=1"), ((3, 1), 1e-5, "x of shape (3, 1): n=1"),
                     ((2, 5), 1e-4, "h=1e-4"), ((6,), 1e-5, "a vector x of shape (6,)"),
                     ((4, 3), 1e-5, "x of shape (4, 3)")]
        else:
            specs = [((3, 2), 1e-5, "x of shape (3, 2)"), ((5,), 1e-5, "a vector x of shape (5,)")]
        cases = []
        for shape, h, label in specs:
            kwargs = {"weights": rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape),
                      "frequency": float(rng.uniform(4.0, 6.0)),
                      "curvature": rng.uniform(-1.0, 1.0, shape)}
            x = rng.uniform(-2.0, 2.0, shape)
            cases.append(Case((FnToken(FIXTURE_NAME, kwargs), x), {"h": h}, label=label,
                              m=1, info={"fixture": kwargs}))
        return cases

    def _f(self, case):
        return curvy_function(**case.info["fixture"])

    def reference(self, case):
        x, h = case.args[1], case.kwargs["h"]
        return {"grad": reference_numerical_gradient(self._f(case), np.array(x), h)}

    def oracles(self, case):
        # The exact gradient differs from a central difference by about h^2/6 f''': tiny here.
        return {"torch": {"grad": curvy_gradient(case.args[1], **case.info["fixture"])}}

    def mistakes(self, case):
        x, h = case.args[1], case.kwargs["h"]
        f = self._f(case)
        central = reference_numerical_gradient(f, np.array(x), h)
        return [("forward-difference", {"grad": forward_difference(f, x, h)}),
                ("forward-difference", {"grad": forward_difference(f, x, -h)}),  # backward difference
                ("step-scaling", {"grad": 2.0 * central}),
                ("step-scaling", {"grad": 0.5 * central})]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.diagnosis == "forward-difference":
            verdict.message = ("grad matches a one-sided difference (f(x + h) - f(x)) / h, whose error is "
                               "O(h) (about h/2 f''); use the central difference (f(x + h) - f(x - h)) / (2h), "
                               "whose error is O(h^2).")
        elif verdict.diagnosis == "step-scaling":
            ratio = "2" if np.allclose(np.asarray(outputs["grad"], float), 2 * expected["grad"]) else "1/2"
            verdict.message = (f"grad is {ratio} times the expected value: a central difference spans 2h, "
                               f"from x - h to x + h, so divide f(x + h) - f(x - h) by 2h.")
        return verdict


# ---------------------------------------------------------------------------------------
# matmul_backward(s, A, B) -> (dA, dB)


@register
class MatmulBackward(Exercise):
    name = "matmul_backward"
    lecture = LECTURE
    args = ("s", "A", "B")
    outputs = ("dA", "dB")
    formulas = {"dA": "dA = s @ B.T, shape (p, q)", "dB": "dB = A.T @ s, shape (q, r)"}
    library_functions = ("backproplab.graph._matmul_backward",)

    def cases(self, rng, hidden):
        # (p, q, r): all different, so that every transpose or swap shows as a shape.
        if hidden:
            shapes = [((1, 3, 2), "p=1 (one row)"), ((4, 1, 3), "q=1 (inner size 1)"),
                      ((2, 3, 1), "r=1 (one column)"), ((5, 4, 3), "p, q, r = 5, 4, 3")]
        else:
            shapes = [((3, 4, 2), "A (3, 4), B (4, 2)"), ((2, 5, 3), "A (2, 5), B (5, 3)")]
        return [Case((rng.normal(size=(p, r)), rng.normal(size=(p, q)), rng.normal(size=(q, r))),
                     label=label, m=1) for (p, q, r), label in shapes]

    def reference(self, case):
        s, A, B = case.args
        return {"dA": s @ B.T, "dB": A.T @ s}

    def oracles(self, case):
        import torch

        s, A, B = case.args
        tA = torch.tensor(A, dtype=torch.float64, requires_grad=True)
        tB = torch.tensor(B, dtype=torch.float64, requires_grad=True)
        (tA @ tB).backward(torch.tensor(s, dtype=torch.float64))
        return {
            "torch": {"dA": tA.grad.numpy(), "dB": tB.grad.numpy()},
            "finite differences": {
                "dA": reference_numerical_gradient(lambda M: float(np.sum(s * (M @ B))), np.array(A)),
                "dB": reference_numerical_gradient(lambda M: float(np.sum(s * (A @ M))), np.array(B)),
            },
        }

    def mistakes(self, case):
        s, A, B = case.args
        return [("transposed", {"dA": B @ s.T, "dB": s.T @ A})]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.passed:
            return verdict
        swapped = _whole_tuple_mistake(self, outputs, [(
            "swapped-outputs", {"dA": expected["dB"], "dB": expected["dA"]},
            "the two gradients are right but returned in the wrong order: return (dA, dB), "
            "dA = s @ B.T of A's shape and dB = A.T @ s of B's shape")], case)
        return swapped or verdict


# ---------------------------------------------------------------------------------------
# Backward rules of the engine: rule(upstream, *input_values, out=output) -> tuple


def record_rule_calls(op, build, *leaves):
    """Run ``build(*Var leaves)``'s backward pass and record every call of ``op``'s rule.

    op: a primitive's name; build: Vars -> scalar Var; leaves: arrays ->
    list of (upstream, input_values tuple, out), each array a copy.
    """
    calls = []
    reference = graph.REFERENCE_BACKWARD_RULES[op]

    def recorder(upstream, *inputs, out=None, **op_params):
        calls.append((np.array(upstream), tuple(np.array(v) for v in inputs), np.array(out)))
        return reference(upstream, *inputs, out=out, **op_params)

    with graph.use_backward_rules({op: recorder}):
        build(*[graph.Var(leaf) for leaf in leaves]).backward()
    return calls


def _unbroadcast_to(value, shape):
    """A gradient of a broadcast result summed back to an input's shape, as the engine does."""
    value = np.asarray(value, dtype=float)
    if value.shape == tuple(shape):
        return value
    try:
        if np.broadcast_shapes(shape, value.shape) != value.shape:
            return value
    except ValueError:
        return value
    return graph._unbroadcast(value, tuple(shape))


def _torch_vjp(op, upstream, inputs):
    """PyTorch float64 gradients of sum(upstream * op(inputs)) with respect to each input."""
    import torch

    forward = {"mul": lambda a, b: a * b, "exp": torch.exp, "sigmoid": torch.sigmoid}[op]
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    grads = torch.autograd.grad(forward(*tensors), tensors, grad_outputs=torch.tensor(upstream, dtype=torch.float64))
    return [g.numpy() for g in grads]


def _difference_vjp(op, upstream, inputs):
    """Central differences of sum(upstream * op(inputs)) with respect to each input."""
    forward = graph.FORWARD_RULES[op]
    grads = []
    for i in range(len(inputs)):
        def J(v, i=i):
            values = list(inputs)
            values[i] = v
            return float(np.sum(upstream * forward(*values)))
        grads.append(reference_numerical_gradient(J, np.array(inputs[i], dtype=float)))
    return grads


class BackwardRule(Exercise):
    """Shared machinery of the rule exercises: engine-recorded cases, three oracles."""

    op = ""
    input_names: tuple = ()
    library_functions = ()

    def expressions(self, rng, hidden):
        """[(label, build, leaves)]: random expressions whose backward pass calls the op."""
        raise NotImplementedError

    def cases(self, rng, hidden):
        cases = []
        for label, build, leaves in self.expressions(rng, hidden):
            for upstream, inputs, out in record_rule_calls(self.op, build, *leaves):
                if any(v.ndim == 0 for v in inputs):
                    continue  # scalar constants (e.g. the 2 in 2 * v) add nothing to learn
                # m=1: a rule has no batch mean, so the 1/m patterns do not apply.
                cases.append(Case((upstream, *inputs), {"out": out}, label=label, m=1))
        return cases

    def split(self, value, case):
        # The engine accepts a bare array for a one-input op, and sums a gradient of the
        # output's (broadcast) shape back to its input's shape: so does the check.
        if len(self.outputs) == 1 and isinstance(value, np.ndarray):
            value = (value,)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.outputs):
            want = "a 1-tuple (grad,)" if len(self.outputs) == 1 else f"a tuple ({', '.join(self.outputs)})"
            got = f"a {type(value).__name__}" + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
            return CaseVerdict(False, "not-an-array", f"{self.name} should return {want}, one gradient per "
                                                      f"input, but it returned {got}.")
        shapes = [np.shape(v) for v in case.args[1:]]
        return {name: (_unbroadcast_to(v, shape) if isinstance(v, np.ndarray) else v)
                for name, v, shape in zip(self.outputs, value, shapes)}

    def reference(self, case):
        upstream, *inputs = case.args
        grads = graph.REFERENCE_BACKWARD_RULES[self.op](upstream, *inputs, out=case.kwargs["out"])
        return {name: _unbroadcast_to(g, np.shape(v)) for name, g, v in zip(self.outputs, grads, inputs)}

    def oracles(self, case):
        upstream, *inputs = case.args
        torch_grads = _torch_vjp(self.op, upstream, inputs)
        difference_grads = _difference_vjp(self.op, upstream, inputs)
        return {"torch": dict(zip(self.outputs, torch_grads)),
                "finite differences": dict(zip(self.outputs, difference_grads))}

    def local_derivative_mistakes(self, case):
        """[(diagnosis, {output: wrong value})] for this op; unbroadcast by judge_outputs."""
        return []

    def mistakes(self, case):
        shapes = [np.shape(v) for v in case.args[1:]]
        return [(diagnosis, {name: _unbroadcast_to(value, shape)
                             for (name, value), shape in zip(predicted.items(), shapes)})
                for diagnosis, predicted in self.local_derivative_mistakes(case)]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        texts = {
            "missing-upstream": ("the local derivative is right, but it was not multiplied by the upstream "
                                 "gradient: chain rule, grad_input = upstream * local derivative"),
            "derivative-at-output": ("the derivative was evaluated at the output out instead of at the input; "
                                     "out already IS the function's value"),
        }
        if verdict.diagnosis in texts:
            verdict.message = f"{texts[verdict.diagnosis]}. Look at: {self.formulas[self.outputs[0]]}."
        return verdict


def _weights(rng, shape):
    """Random weights that make every upstream gradient different from 1."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


@register
class MulBackward(BackwardRule):
    name = "mul_backward"
    lecture = LECTURE
    op = "mul"
    args = ("upstream", "a", "b")
    outputs = ("grad_a", "grad_b")
    formulas = {"grad_a": "grad_a = upstream * b", "grad_b": "grad_b = upstream * a"}
    library_functions = ("backproplab.graph._mul_backward",)

    def expressions(self, rng, hidden):
        m, n = (1, 4) if hidden else (3, 2)
        w = _weights(rng, (m, n))
        exprs = [(f"J = sum(w * sin(x * y)), x, y ({m}, {n})",
                  lambda x, y: graph.sum(w * graph.sin(x * y)),
                  [rng.normal(size=(m, n)), rng.normal(size=(m, n))])]
        if hidden:
            exprs.append(("J = sum(w * tanh(x * b)), x (4, 3), b (1, 3) broadcast",
                          lambda x, b, w=_weights(rng, (4, 3)): graph.sum(w * graph.tanh(x * b)),  # noqa: B008  (binds this case's weights)
                          [rng.normal(size=(4, 3)), rng.normal(size=(1, 3))]))
            exprs.append(("J = sum(w * x * x), x (3, 1): x used twice",
                          lambda x, w=_weights(rng, (3, 1)): graph.sum(w * (x * x)),  # noqa: B008  (binds this case's weights)
                          [rng.normal(size=(3, 1))]))
        return exprs

    def local_derivative_mistakes(self, case):
        upstream, a, b = case.args
        return [("missing-upstream", {"grad_a": np.broadcast_to(b, upstream.shape),
                                      "grad_b": np.broadcast_to(a, upstream.shape)})]

    def judge_outputs(self, case, outputs, expected):
        verdict = super().judge_outputs(case, outputs, expected)
        if verdict.passed:
            return verdict  # e.g. x * x, where swapping changes nothing
        upstream, a, b = case.args
        swapped = _whole_tuple_mistake(self, outputs, [(
            "swapped-outputs",
            {"grad_a": _unbroadcast_to(upstream * a, a.shape), "grad_b": _unbroadcast_to(upstream * b, b.shape)},
            "each input got the upstream gradient times ITSELF; d(a*b)/da = b, so grad_a = upstream * b "
            "and grad_b = upstream * a (each input gets the OTHER one)")], case)
        return swapped or verdict


@register
class ExpBackward(BackwardRule):
    name = "exp_backward"
    lecture = LECTURE
    op = "exp"
    args = ("upstream", "x")
    outputs = ("grad_x",)
    formulas = {"grad_x": "grad_x = upstream * exp(x) = upstream * out"}
    library_functions = ("backproplab.graph._exp_backward",)

    def expressions(self, rng, hidden):
        (m, n), k = ((1, 3), 1) if hidden else ((2, 3), 2)
        w = _weights(rng, (m, n))
        return [(f"J = sum(w * exp(x)), x ({m}, {n})", lambda x: graph.sum(w * graph.exp(x)),
                 [rng.uniform(-2, 2, (m, n))]),
                (f"J = sum(w * sin(exp(x @ V))), x (4, {k + 1}), V ({k + 1}, {k})",
                 lambda x, V, w=_weights(rng, (4, k)): graph.sum(w * graph.sin(graph.exp(x @ V))),  # noqa: B008  (binds this case's weights)
                 [rng.uniform(-1, 1, (4, k + 1)), rng.uniform(-1, 1, (k + 1, k))])]

    def local_derivative_mistakes(self, case):
        upstream, x = case.args
        out = case.kwargs["out"]
        return [("missing-upstream", {"grad_x": out}),
                ("derivative-at-output", {"grad_x": upstream * np.exp(out)})]


@register
class SigmoidBackwardRule(BackwardRule):
    name = "sigmoid_backward_rule"
    lecture = LECTURE
    op = "sigmoid"
    args = ("upstream", "z")
    outputs = ("grad_z",)
    formulas = {"grad_z": "grad_z = upstream * out * (1 - out), with out = sigmoid(z)"}
    library_functions = ("backproplab.graph._sigmoid_backward_rule", "backproplab.activations.sigmoid_backward",
                         "backproplab.activations.sigmoid_derivative")

    def expressions(self, rng, hidden):
        m, n = (1, 2) if hidden else (4, 3)
        k = 1 if hidden else 3
        return [(f"J = sum(w * sigmoid(X @ W.T + B)), X ({m}, 3), W ({n}, 3), B (1, {n})",
                 lambda X, W, B, w=_weights(rng, (m, n)): graph.sum(w * graph.sigmoid(X @ W.T + B)),  # noqa: B008  (binds this case's weights)
                 [rng.normal(size=(m, 3)), rng.normal(size=(n, 3)), rng.normal(size=(1, n))]),
                (f"J = sum(w * sigmoid(z)), z (5, {k})",
                 lambda z, w=_weights(rng, (5, k)): graph.sum(w * graph.sigmoid(z)),  # noqa: B008  (binds this case's weights)
                 [rng.normal(scale=2.0, size=(5, k))])]

    def local_derivative_mistakes(self, case):
        from ..activations import sigmoid

        upstream, z = case.args
        out = case.kwargs["out"]
        s_out = sigmoid(out)
        return [("missing-upstream", {"grad_z": out * (1 - out)}),
                ("derivative-at-output", {"grad_z": upstream * s_out * (1 - s_out)})]
