"""Answer catalog of lecture 02-computation-graphs (format: backproplab/grading/answer_catalogs.py).

SETUP defines only ``np`` (numpy). The rule exercises follow the engine's contract
``rule(upstream, *input_values, out=output_value) -> tuple of input gradients``.
"""
from __future__ import annotations

from backproplab.grading.answer_catalogs import Variant, notebook_sources

SETUP, ANSWERS = notebook_sources(__file__)  # the solution notebook's setup and answer cells

VARIANTS = [
    # -- numerical_gradient ---------------------------------------------------------------
    Variant("numerical_gradient", "copies per entry", '''\
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros(np.shape(x))
    for index in np.ndindex(np.shape(x)):
        plus = np.array(x, dtype=float)
        minus = np.array(x, dtype=float)
        plus[index] += h
        minus[index] -= h
        grad[index] = (f(plus) - f(minus)) / (2 * h)
    return grad
''', None),
    Variant("numerical_gradient", "forward difference", '''\
def numerical_gradient(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    f0 = f(x)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        grad[index] = (f(x) - f0) / h
        x[index] = original
    return grad
''', "forward-difference"),
    Variant("numerical_gradient", "backward difference", '''\
def numerical_gradient(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    f0 = f(x)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original - h
        grad[index] = (f0 - f(x)) / h
        x[index] = original
    return grad
''', "forward-difference"),
    Variant("numerical_gradient", "divides by h instead of 2h", '''\
def numerical_gradient(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f(x)
        x[index] = original - h
        f_minus = f(x)
        x[index] = original
        grad[index] = (f_plus - f_minus) / h
    return grad
''', "step-scaling"),
    Variant("numerical_gradient", "nudges the caller's x and never restores it", '''\
def numerical_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x[index] += h
        f_plus = f(x)
        x[index] -= 2 * h
        f_minus = f(x)
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad
''', "mutated-input"),
    Variant("numerical_gradient", "not written yet", '''\
def numerical_gradient(f, x, h=1e-5):
    raise NotImplementedError()
''', "not-implemented"),
    Variant("numerical_gradient", "calls the library's reference", '''\
def numerical_gradient(f, x, h=1e-5):
    from backproplab.gradcheck import numerical_gradient as reference
    return reference(f, x, h)
''', "forbidden-call", sandbox_only=True),
    # -- matmul_backward ------------------------------------------------------------------
    Variant("matmul_backward", "np.dot and np.matmul", '''\
def matmul_backward(s, A, B):
    return np.dot(s, B.T), np.matmul(A.T, s)
''', None),
    Variant("matmul_backward", "transposed products", '''\
def matmul_backward(s, A, B):
    return B @ s.T, s.T @ A
''', "transposed"),
    Variant("matmul_backward", "returns (dB, dA)", '''\
def matmul_backward(s, A, B):
    return A.T @ s, s @ B.T
''', "swapped-outputs"),
    Variant("matmul_backward", "negated", '''\
def matmul_backward(s, A, B):
    return -(s @ B.T), -(A.T @ s)
''', "sign-flipped"),
    Variant("matmul_backward", "sums dA over the rows", '''\
def matmul_backward(s, A, B):
    return (s @ B.T).sum(axis=0), A.T @ s
''', "wrong-shape"),
    # -- mul_backward ---------------------------------------------------------------------
    Variant("mul_backward", "returns a list", '''\
def mul_backward(upstream, a, b, out):
    return [b * upstream, a * upstream]
''', None),
    Variant("mul_backward", "each input times itself", '''\
def mul_backward(upstream, a, b, out):
    return upstream * a, upstream * b
''', "swapped-outputs"),
    Variant("mul_backward", "forgets the upstream gradient", '''\
def mul_backward(upstream, a, b, out):
    return b, a
''', "missing-upstream"),
    Variant("mul_backward", "negated", '''\
def mul_backward(upstream, a, b, out):
    return -upstream * b, -upstream * a
''', "sign-flipped"),
    Variant("mul_backward", "multiplies upstream in place", '''\
def mul_backward(upstream, a, b, out):
    grad_b = upstream * a
    upstream *= b
    return upstream, grad_b
''', "mutated-input"),
    # -- exp_backward ---------------------------------------------------------------------
    Variant("exp_backward", "recomputes exp(x), returns a bare array", '''\
def exp_backward(upstream, x, out):
    return upstream * np.exp(x)
''', None),
    Variant("exp_backward", "forgets the upstream gradient", '''\
def exp_backward(upstream, x, out):
    return (out,)
''', "missing-upstream"),
    Variant("exp_backward", "exp of the output", '''\
def exp_backward(upstream, x, out):
    return (upstream * np.exp(out),)
''', "derivative-at-output"),
    Variant("exp_backward", "negated", '''\
def exp_backward(upstream, x, out):
    return (-upstream * out,)
''', "sign-flipped"),
    Variant("exp_backward", "returns two gradients for one input", '''\
def exp_backward(upstream, x, out):
    return upstream * out, upstream
''', "not-an-array"),
    # -- sigmoid_backward_rule ------------------------------------------------------------
    Variant("sigmoid_backward_rule", "recomputes sigmoid(z)", '''\
def sigmoid_backward_rule(upstream, z, out):
    s = 1 / (1 + np.exp(-z))
    return (upstream * s * (1 - s),)
''', None),
    Variant("sigmoid_backward_rule", "sigmoid' at the output", '''\
def sigmoid_backward_rule(upstream, z, out):
    s = 1 / (1 + np.exp(-out))
    return (upstream * s * (1 - s),)
''', "derivative-at-output"),
    Variant("sigmoid_backward_rule", "forgets the upstream gradient", '''\
def sigmoid_backward_rule(upstream, z, out):
    return (out * (1 - out),)
''', "missing-upstream"),
    Variant("sigmoid_backward_rule", "negated", '''\
def sigmoid_backward_rule(upstream, z, out):
    return (upstream * out * (out - 1),)
''', "sign-flipped"),
    Variant("sigmoid_backward_rule", "calls lecture 03's sigmoid_backward", '''\
def sigmoid_backward_rule(upstream, z, out):
    from backproplab.activations import sigmoid_backward
    return (sigmoid_backward(upstream, z),)
''', "forbidden-call", sandbox_only=True),
]
