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
from .exercises import Exercise, register
from .fixtures import curvy_function
from .hints import Hint
from .records import Case, CaseVerdict

__all__ = ["curvy_gradient", "forward_difference", "record_rule_calls",
           "NumericalGradient", "MatmulBackward", "MulBackward", "ExpBackward", "SigmoidBackwardRule"]

LECTURE = "02-computation-graphs"
FIXTURE_NAME = "lecture02_curvy"

# ---- the hint ladders (lecture prose: solutions/02-computation-graphs, sections 2, 7 and 8) ---------------

CENTRAL = ("grad_i = (f(x + h e_i) - f(x - h e_i)) / (2h) for every index i of x, where e_i is 1 at index i and 0 "
           "elsewhere; grad has the shape of x.")
HINTS_NUMERICAL = {
    "*": Hint("Section 2 estimates a slope by nudging one entry of x at a time, on both sides of it. How many "
              "evaluations of f does each entry need, and how far apart are the two points?",
              "For entry i, evaluate f with that entry moved up by h and with it moved down by h, every other entry "
              "unchanged; the estimate is the change in f over the distance between the two points. Put the entry "
              "back before the next one.",
              CENTRAL),
    "forward-difference": Hint("Your estimate evaluates f on one side of x only. Section 2 compares two estimates "
                               "on a log-log plot: which one's error falls twice as fast as h shrinks, and why?",
                               "Take one point at x + h e_i and one at x - h e_i: Taylor's h/2 f'' terms then "
                               "cancel, and the error is O(h²) instead of O(h).",
                               CENTRAL),
    "step-scaling": Hint("Your estimate is off by the same factor everywhere. How far apart are the two points at "
                         "which you evaluate f?",
                         "The points x - h e_i and x + h e_i are 2h apart; a slope is the change in f over the "
                         "change in x that caused it.",
                         CENTRAL),
}

MATMUL_STEP = ("Entry by entry: A_ij appears only in row i of Y, with slope B_jk on Y_ik, so ∂J/∂A_ij = Σ_k s_ik B_jk; "
               "likewise ∂J/∂B_jk = Σ_i A_ij s_ik. Each sum is one matrix product of two of s, A, B, one of them "
               "with rows and columns swapped.")
MATMUL = "dA = s Bᵀ, (p, r)(r, q) = (p, q); dB = Aᵀ s, (q, p)(p, r) = (q, r)."
HINTS_MATMUL = {
    "*": Hint("Write the shapes next to each other: s (p, r), A (p, q), B (q, r). What shape must each gradient "
              "have, and which two of the three matrices can make it? Section 8 works out one entry first.",
              MATMUL_STEP, MATMUL),
    "transposed": Hint("Your gradients hold the right kind of numbers in the wrong arrangement. In the chain rule "
                       "for one entry of A (section 8), which index of s meets which index of B?",
                       MATMUL_STEP, MATMUL),
    "swapped-outputs": Hint("Both gradients are right, in each other's places. Which one has the shape of A?",
                            "matmul_backward returns (dA, dB): the gradient for A first, (p, q), then the gradient "
                            "for B, (q, r).",
                            MATMUL),
}


def _rule_hints(derivative: str, step: str, formula: str, output_question: str | None = None) -> dict:
    """The ladder of a backward rule of the engine (section 7): ``derivative`` is the nudge's question about the
    op's local derivative, ``output_question`` the nudge for a derivative taken at the op's output (for an op
    whose rule can make that mistake)."""
    hints = {
        "*": Hint(f"{derivative} Section 7 says what a rule returns from upstream and the local derivative.",
                  step, formula),
        "missing-upstream": Hint("Your local derivative is right. What does the chain rule do with the gradient "
                                 "that arrives from above, the rule's upstream (section 7)?",
                                 "A rule's result for each input is the upstream gradient combined, entry by "
                                 "entry, with the local derivative; without upstream, how J depends on out is lost.",
                                 formula),
    }
    if output_question is not None:
        hints["derivative-at-output"] = Hint(output_question, step, formula)
    return hints


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
    hints = HINTS_NUMERICAL
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
            verdict.message = ("grad matches a one-sided difference, which evaluates f on one side of x only; "
                               "its error is O(h).")
        elif verdict.diagnosis == "step-scaling":
            ratio = "2" if np.allclose(np.asarray(outputs["grad"], float), 2 * expected["grad"]) else "1/2"
            verdict.message = f"grad is {ratio} times the expected value in every entry."
        return verdict


# ---------------------------------------------------------------------------------------
# matmul_backward(s, A, B) -> (dA, dB)


@register
class MatmulBackward(Exercise):
    name = "matmul_backward"
    lecture = LECTURE
    args = ("s", "A", "B")
    outputs = ("dA", "dB")
    hints = HINTS_MATMUL
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
            "the two gradients are right but returned in the wrong order")], case)
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
            "missing-upstream": "the result matches the local derivative alone, without the upstream gradient",
            "derivative-at-output": "the result matches the local derivative taken at the output out, not at the input",
        }
        if verdict.diagnosis in texts:
            verdict.message = f"{texts[verdict.diagnosis]}."
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
    hints = {**_rule_hints("How does the product out change when a moves a little and b stays where it is?",
                           "∂out/∂a = b and ∂out/∂b = a; each is combined with upstream entry by entry, and the "
                           "engine sums a broadcast gradient back to its input's shape.",
                           "grad_a = upstream ⊙ b, grad_b = upstream ⊙ a (⊙: entry by entry)."),
             "swapped-outputs": Hint("Each input got a gradient built from itself. When a moves and b stays, by "
                                     "how much does a b change per unit of a?",
                                     "∂(a b)/∂a = b and ∂(a b)/∂b = a: each input's local derivative is the OTHER "
                                     "input.",
                                     "grad_a = upstream ⊙ b, grad_b = upstream ⊙ a (⊙: entry by entry).")}
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
            "each input's gradient matches upstream combined with that same input")], case)
        return swapped or verdict


@register
class ExpBackward(BackwardRule):
    name = "exp_backward"
    lecture = LECTURE
    op = "exp"
    args = ("upstream", "x")
    outputs = ("grad_x",)
    hints = _rule_hints("What is the derivative of the exponential, and which value that the forward pass already "
                        "computed is equal to it?",
                        "d(eˣ)/dx = eˣ, which is exactly out; the rule combines it with upstream entry by entry.",
                        "grad_x = upstream ⊙ eˣ = upstream ⊙ out (⊙: entry by entry).",
                        "out is already the exponential of x. What did your rule apply the exponential to?")
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
    hints = _rule_hints("What is the sigmoid's slope σ'(z), and how can it be written with the sigmoid's own value "
                        "only (lecture 03 derives it)?",
                        "Differentiating σ(z) = 1/(1 + e^-z) gives e^-z / (1 + e^-z)², which equals σ(z)(1 - σ(z)); "
                        "out already holds σ(z).",
                        "grad_z = upstream ⊙ out ⊙ (1 - out), with out = σ(z) (⊙: entry by entry).",
                        "out is already σ(z). Which value did your rule apply the sigmoid to?")
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
