"""Lecture 07-multiclass: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast
import re

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    executed_once,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
)

LECTURE = "07-multiclass"
HINT = re.compile(r"<details><summary><b>Hint (\d) of 3</b>: ([^<]+)</summary>\n\n(.+?)\n\n</details>", re.S)


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def _printed(nb):
    return "".join(out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs
                   if out["output_type"] == "stream")


def test_lecture_derives_softmax_cross_entropy_through_the_jacobian(solution):
    """Does the lecture derive the softmax Jacobian and the Jacobian-vector product, work z = [1, 2, 3] by hand,
    draw the Jacobian, and derive dz = A - Y with DESIGN.md's 1/m convention?"""
    text = markdown_text(solution)
    for needed in ("Jacobian", r"\operatorname{diag}(a) - a\,a^\top", r"a_k(\delta_{kj} - a_j)",
                   r"a_j\Big(dA_j - \sum_{k} dA_k a_k\Big)", "keepdims", "z = [1, 2, 3]", "[0.0900, 0.2447, 0.6652]",
                   "0.0819 & -0.0220 & -0.0599", r"dz^{[L]} = A^{[L]} - Y", r"\frac1m(A^{[L]} - Y)",
                   "`Z.grad`", "[0.0900, 0.2447, -0.3348]"):
        assert needed in text, needed
    code = code_text(solution)
    for needed in ("np.diag(a) - np.outer(a, a)", "torch.autograd.functional.jacobian", "imshow(J_demo",
                   "softmax_backward(-Y_batch / A_batch, Z_batch)"):
        assert needed in code, needed


def test_capstone_trains_digits_in_numpy_and_in_a_pytorch_loop(solution):
    """Does the capstone use the bundled digits and the library's split, train a NumPy network built from the
    library's layers and the student's softmax functions, and a PyTorch one with the whole training loop?"""
    code = code_text(solution)
    for needed in ("load_digits()", "train_val_split(", "dense_backward(", "softmax_backward(",
                   "softmax_cross_entropy(", "torch_train(X_train, Y_train", "weight.grad", "np.add.at(confusion",
                   "X_val[i].reshape(8, 8)"):
        assert needed in code, needed
    assert code.count("plt.show()") >= 3
    (torch_train,) = [c.source for _, c in answer_cells(solution) if nbgrader_meta(c)["grade_id"] == "torch_train"]
    for needed in ("nn.Sequential(", "nn.CrossEntropyLoss()", "TensorDataset(", "DataLoader(", "shuffle=False",
                   "torch.optim.SGD(", "optimizer.zero_grad()", "loss.backward()", "optimizer.step()", "torch.no_grad()"):
        assert needed in torch_train, needed


def test_every_exercise_has_a_three_level_hint_ladder_right_before_its_answer(solution):
    """Is the cell before every answer cell one markdown cell with exactly hints 1, 2, 3 of 3 (a nudge, the math,
    the code), each collapsed, the math in LaTeX, and no hint holding the answer's full line?"""
    cells = solution.cells
    for index, cell in answer_cells(solution):
        hint_cell = cells[index - 1]
        assert hint_cell.cell_type == "markdown"
        hints = HINT.findall(hint_cell.source)
        assert [(n, title) for n, title, _ in hints] == [("1", "a nudge"), ("2", "the math"), ("3", "the code")]
        assert hint_cell.source.count("<details>") == 3 and "$" in hints[1][2]
        solution_lines = [line.strip() for line in cell.source.split("### BEGIN SOLUTION")[1].splitlines()
                          if len(line.strip()) > 25 and "END SOLUTION" not in line]
        assert not any(line in hint_cell.source for line in solution_lines)


def test_docstrings_state_shapes_not_formulas(solution):
    """Do the answers' docstrings give the arguments' and results' shapes, and no formula?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        node = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)
        doc = ast.get_docstring(node)
        assert "(m, n" in doc or "(m, n0)" in doc, name
        assert not re.search(r"np\.|log|\bsum\b|exp|\* \(|- a", doc), (name, doc)


def test_manual_questions_ask_about_the_jacobian_product_and_zero_grad(solution):
    """Do the two "own words" questions ask why the (n, n) Jacobian is never built and what zero_grad() prevents?"""
    text = markdown_text(solution)
    assert "never builds" in text and "optimizer.zero_grad()" in text


@pytest.mark.slow
def test_solution_compares_numpy_and_pytorch_step_by_step(tmp_path_factory):
    """In the executed solution: do the gradients at the same initial weights and the weights after training agree
    to 1e-6, and do both networks classify >= 90% of the validation digits?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = _printed(nb)
    gradient = float(re.search(r"largest difference of any gradient entry: (\S+)", printed).group(1))
    weights = float(re.search(r"the weights differ by at most (\S+)", printed).group(1))
    assert gradient < 1e-6 and weights < 1e-6
    tables = [out["data"]["text/markdown"] for c in nb.cells for out in c.get("outputs", [])
              if "text/markdown" in out.get("data", {})]
    accuracies = re.findall(r"\| (NumPy|PyTorch) \| [\d.]+% \| ([\d.]+)% \|", "\n".join(tables))
    assert {name for name, _ in accuracies} == {"NumPy", "PyTorch"}
    assert all(float(value) >= 90 for _, value in accuracies)


@pytest.mark.slow
def test_student_version_asks_for_the_exercises_instead_of_failing(tmp_path_factory):
    """Does the blank student notebook print "Solve exercise ... first" where the capstone needs the answers?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    printed = _printed(nb)
    assert "Solve exercise 1 first, then run this cell again." in printed
    assert "Solve exercises 1 and 2 first, then run this cell again." in printed
    assert "Solve exercise 3 first, then run this cell again." in printed
