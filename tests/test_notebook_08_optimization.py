"""Lecture 08-optimization: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release, real kernels,
`bplab grade` on catalog submissions) are tested in tests/test_lectures.py. Tests marked slow read the
executed notebooks (each runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast
import re

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    executed_once,
    grade_cells,
    markdown_text,
    nbgrader_meta,
    printed_text,
    read,
    solution_path,
)

LECTURE = "08-optimization"


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, pattern
    return float(match.group(1))


def test_opening_has_the_course_blocks_and_points_that_match_the_test_cells(solution):
    """Does the first cell name the lecture, explain how the notebook works, and state points that add up to the
    test cells' and the questions' points, exercise by exercise?"""
    opening = solution.cells[0].source
    assert opening.startswith("# Lecture 08: Optimization") and "**How this notebook works.**" in opening
    points = {nbgrader_meta(c)["grade_id"]: nbgrader_meta(c)["points"] for _, c in grade_cells(solution)}
    manual = sum(nbgrader_meta(c)["points"] for c in solution.cells
                 if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade"))
    total = int(re.search(r"\*\*Points\.\*\* (\d+) in all: (\d+) from the tests", opening).group(1))
    assert total == sum(points.values()) + manual
    for number, (_, cell) in enumerate(answer_cells(solution), 1):
        name = nbgrader_meta(cell)["grade_id"]
        row = f"| Exercise {number}: `{name}` | {points[f'test_{name}']} | {points[f'test_{name}_hidden']} |"
        assert row in opening, row


def test_lecture_teaches_both_momentum_forms_and_the_torch_conventions(solution):
    """Does the prose give seed 003's friction picture, both momentum forms with the rescaled learning rate, and
    PyTorch's conventions (RMSprop's alpha 0.99, eps after the root, Adam's t, BatchNorm1d's variances)?"""
    text = markdown_text(solution)
    for needed in (r"V_{n+1} = (1 - r)\, V_n + \Delta t\, A_n", r"V \leftarrow \beta V + \nabla E",
                   r"\bar V \leftarrow \beta\, \bar V + (1 - \beta)\, \nabla E", r"\bar V_t = (1-\beta) \sum",
                   r"$1/(1-\beta)$", "torch.optim.SGD(momentum=beta)", "`alpha`", "0.99", "**after** the square",
                   "torch.optim.RMSprop(alpha=beta, eps=eps)", "bias correction", r"m_1 = (1 - \beta_1)\, g_1",
                   "nn.BatchNorm1d", "**biased**", "*unbiased* variance", "`running_mean`", "eval()",
                   "`X.grad`", "three paths"):
        assert needed in text, needed


def test_no_hint_or_docstring_gives_the_update_rules_away(solution):
    """Are the docstrings shapes and meaning only (no formula), and does the prose above each answer avoid its
    code, so that the update rules and the batch-norm gradient are derived?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        node = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)
        doc = ast.get_docstring(node)
        assert not re.search(r"np\.|sqrt|\*\*| \* |beta \*|/ \(", doc), (name, doc)
    index = {nbgrader_meta(c)["grade_id"]: i for i, c in answer_cells(solution)}
    before_backward = "\n".join(c.source for c in solution.cells[:index["batchnorm_backward"]])
    assert "mean(dX_hat * X_hat" not in before_backward and "dX_hat - " not in before_backward


def test_comparison_trains_the_four_optimizers_with_and_without_batch_norm_on_the_digits(solution):
    """Does the last section train SGD, momentum, RMSProp and Adam with and without batch norm on the bundled
    digits with the student's functions, and draw one figure of the curves?"""
    code = code_text(solution)
    for needed in ("load_digits()", "train_val_split(", 'OPTIMIZERS = {"SGD": sgd, "momentum": momentum, '
                   '"RMSProp": rmsprop, "Adam": adam}', "for batchnorm in (False, True)", "momentum_update(params",
                   "rmsprop_update(params", "adam_update(params", "batchnorm_forward(Z_dense",
                   "batchnorm_backward(dz, bn_cache)", "library_bn.batchnorm_inference(", "torch.optim.RMSprop(",
                   "torch.optim.Adam(", "torch.nn.BatchNorm1d(", "numerical_gradient("):
        assert needed in code, needed
    assert code.count("plt.show()") >= 3 and code.count("plot_paths(") >= 3


@pytest.mark.slow
def test_solution_matches_pytorch_and_the_comparison_tells_its_story(tmp_path_factory):
    """In the executed solution: do both momentum forms follow one path, do the student's RMSProp, Adam and batch
    norm match torch to rounding, do the finite differences agree, and do the curves show the plateau (SGD worst
    without batch norm, every optimizer >= 95% validation accuracy with it), all in under 30 s of training?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert _number(r"largest gap between the two paths over 40 steps: (\S+)", printed) < 1e-12
    yours, theirs = re.search(r"after 5 steps: yours (\[\[.*?\]\])  torch.optim.RMSprop (\[\[.*?\]\])", printed).groups()
    assert yours == theirs
    assert _number(r"\|yours - torch.optim.Adam\| = (\S+)", printed) < 1e-12
    assert _number(r"largest \|yours - nn.BatchNorm1d\| over 20 batches = (\S+)", printed) < 1e-12
    assert _number(r"largest \|library - nn.BatchNorm1d.eval\(\)\| = (\S+)", printed) < 1e-12
    assert _number(r"dX vs central differences: (\S+)", printed) < 1e-6
    assert _number(r"dX vs 5 \* X.grad: (\S+)", printed) < 1e-12
    assert _number(r"8 training runs in (\S+) s", printed) < 30
    tables = "\n".join(out["data"]["text/markdown"] for c in nb.cells for out in c.get("outputs", [])
                       if "text/markdown" in out.get("data", {}))
    rows = {name: [float(x) for x in values] for name, *values in re.findall(
        r"\| (SGD|momentum|RMSProp|Adam) \| ([\d.]+) \| ([\d.]+)% \| ([\d.]+) \| ([\d.]+)% \|", tables)}
    assert set(rows) == {"SGD", "momentum", "RMSProp", "Adam"}
    assert all(rows["SGD"][0] > 2 * rows[name][0] for name in ("momentum", "RMSProp", "Adam"))
    assert all(values[3] >= 95 and values[2] < values[0] for values in rows.values())


@pytest.mark.slow
def test_student_version_asks_for_the_exercises_instead_of_failing(tmp_path_factory):
    """Does the blank student notebook print "Solve exercise ... first" where the demonstrations need answers?"""
    printed = printed_text(executed_once(tmp_path_factory, LECTURE, "course")[0])
    for needed in ("Solve exercise 1 first", "Solve exercises 1 and 2 first", "Solve exercises 2 and 3 first",
                   "Solve exercise 4 first", "Solve exercises 4 and 5 first", "Solve exercises 1 to 5 first"):
        assert needed in printed, needed
