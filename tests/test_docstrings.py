"""Library docstrings say what is computed, with shapes, never a graded formula (issue 26, item 2).

A student reaches every docstring of the library with ``help()`` or ``?``; the formulas a lecture asks them to derive
(tests/formula_forms.py, in code, LaTeX, Unicode or words) must not be there. Every module of backproplab outside
checks/, grading/ and sandbox/ (the grader's side) is read, with its classes' and functions' docstrings, methods and
nested functions included.
"""
from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

import backproplab
from formula_forms import FORMS, Forms, found

PACKAGE = Path(backproplab.__file__).parent
GRADER_SIDE = {"checks", "grading", "sandbox"}
MODULES = sorted(info.name for info in pkgutil.iter_modules([str(PACKAGE)]) if info.name not in GRADER_SIDE)


def docstrings(module: str) -> list[tuple[str, str]]:
    """(where, docstring) for the module and every class, function and method in it."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found_docs = [(module, ast.get_docstring(tree) or "")]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found_docs.append((f"{module}.{node.name}", ast.get_docstring(node) or ""))
    return found_docs


def test_every_library_module_is_read():
    """Are the modules the tests read the library's own (the list is not empty and names the graded ones)?"""
    assert {"model", "graph", "layers", "losses", "activations", "optimizers", "batchnorm", "torch_reference",
            "init", "gradcheck"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_docstrings_state_no_formula_a_lecture_asks_for(module):
    """Does no docstring of the module state, in any notation, a formula some exercise asks the student to derive?"""
    leaks = [f"{where}: {lecture} {exercise} {form!r}"
             for where, text in docstrings(module)
             for lecture, exercises in FORMS.items()
             for exercise, forms in exercises.items() if isinstance(forms, Forms)
             for form in found(forms, text)]
    assert leaks == []


def test_the_detector_catches_the_docstrings_this_test_replaced():
    """Would the test fail if the formulas the library's docstrings stated before issue 26 came back?"""
    forms = {exercise: forms for exercises in FORMS.values() for exercise, forms in exercises.items()}
    for exercise, text in (("sigmoid_backward", "d sigma(x) = sigma(x)(1 - sigma(x)), from the activations library."),
                           ("tanh_backward", "d tanh(x) = 1 - tanh(x)^2, from the activations library."),
                           ("mul_backward", "d(x * y): (upstream * y, upstream * x), elementwise."),
                           ("exp_backward", "d exp(x) = exp(x) = out."),
                           ("matmul_backward", "Y = X @ W with X: (m, k) -> dX = s W^T (m, k), dW = X^T s (k, n)."),
                           ("dense_forward", "Backward of Z = A_prev @ W.T + B through torch.nn.functional.linear."),
                           ("dense_backward", "dA[l-1] = dz[l] @ W[l] and dz[l-1] = dA[l-1] * g'(Z[l-1])."),
                           ("model_backward", "dz[L] = AL - Y (the output activation's paired loss)"),
                           ("dropout_forward", "Inverted dropout with a given mask: A * mask / (1 - alpha), in torch."),
                           ("count_parameters", "Number of weights and biases, sum_l n_l * n_{l-1} + n_l.")):
        assert found(forms[exercise], text), (exercise, text)
