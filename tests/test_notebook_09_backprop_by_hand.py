"""Lecture 09-backprop-by-hand: what only this lecture's notebook must contain.

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
    markdown_text,
    nbgrader_meta,
    printed_text,
    read,
    solution_path,
    widget_outputs,
)

LECTURE = "09-backprop-by-hand"
STATED_TEST_ACCURACY = 0.95   # the prose says "above 95%" of the held-out test digits


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, pattern
    return float(match.group(1))


def test_lecture_derives_the_rules_and_explains_the_max_shift_and_bessel(solution):
    """Does the prose lay out the network's intermediates with their shapes, derive the four rules on numbers, show
    why the max-shift cancels (so its gradient is zero), and explain Bessel's correction in running_var?"""
    text = markdown_text(solution)
    for needed in ("| `zmax` | $(m, 1)$ |", "| `S1` | $(1, n_1)$ |", "23 intermediates", "**no bias**",
                   r"\frac{\partial J}{\partial b} = \sum_{i=1}^m \frac{\partial J}{\partial z_i}",
                   "**3. A sum becomes a copy.**", "**4. A value used twice collects both gradients**",
                   "The $c$ cancels", "must therefore be **zero**", "`retain_grad()`", "**Bessel's correction.**",
                   "Which one does PyTorch keep? Measure it", "keeps the unbiased one (Bessel's correction)",
                   "exactly what autograd leaves in `Z1.grad`", "**exact**", "**approximate**"):
        assert needed in text, needed


def test_no_prose_hint_or_docstring_gives_the_one_expressions_away(solution):
    """Are the docstrings shapes and meaning only, does nothing above exercises 2 and 3 write their results
    (softmax minus Y over m; dH minus the two batch means), and does the opening say how to climb the check's hint
    ladder (a nudge first, then hint=2 and hint=3)?"""
    index = {nbgrader_meta(c)["grade_id"]: i for i, c in answer_cells(solution)}
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        node = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)
        assert not re.search(r"np\.|sqrt|\*\*| \* | - Y|/ m", ast.get_docstring(node)), name
    before_ce = "\n".join(c.source for c in solution.cells[:index["cross_entropy_backward"]])
    assert not re.search(r"softmax\(z\)_j - y_j|-y_j \+ \\text\{softmax\}|P - Y", before_ce)
    before_bn = "\n".join(c.source for c in solution.cells[:index["batchnorm_backward_dZ"]])
    assert "mean(axis=0, keepdims=True) - N" not in before_bn and r"\hat" not in before_bn
    opening = solution.cells[0].source
    assert "check(name, fn, hint=2)" in opening and "hint=3" in opening and "nudge" in opening


def test_demonstrations_compare_with_autograd_and_train_against_pytorch(solution):
    """Does the notebook show the forward pass's source, compare the student's gradients with autograd as a table,
    a figure and a widget, and train on lecture 07's digit split against the library's PyTorch training?"""
    code = code_text(solution)
    for needed in ("inspect.getsource(bnmlp.forward_pass)", "bnmlp_autograd(X_batch, Y_batch, params0)",
                   "gradient_table(matches)", "plot_gradient_comparison(matches)",
                   "gradient_explorer(grads_batch, autograd_batch)", "train_val_test_split(", "load_digits()",
                   "bnmlp_torch_training(X_train, Y_train, params0", "bnmlp.inference(Xs, params, running)",
                   "torch.nn.BatchNorm1d(3, momentum=1.0)"):
        assert needed in code, needed


@pytest.mark.slow
def test_solution_matches_autograd_and_pytorch_and_reaches_the_stated_accuracy(tmp_path_factory):
    """In the executed solution: is the fresh network's J near log 10, is every gradient exact or approximate, is
    dzmax at rounding level, do the one expressions equal the staged ones, is running_var the unbiased variance, does
    training follow PyTorch to 1e-14 at every step, and do both reach the stated test accuracy?"""
    nb, seconds, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert abs(_number(r"J = (\S+) \(log 10", printed) - 2.3026) < 0.3
    tables = "\n".join(out["data"]["text/markdown"] for c in nb.cells for out in c.get("outputs", [])
                       if "text/markdown" in out.get("data", {}))
    statuses = re.findall(r"^\| `d\w+` \| \([\d, ]+\) \| (\w+) \|", tables, re.M)
    assert len(statuses) == 4 + 31 and set(statuses[4:]) <= {"exact", "approximate"}
    assert _number(r"largest \|dzmax\|: yours (\S+),", printed) < 1e-15
    assert _number(r"largest \|one expression - staged\| = (\S+),", printed) < 1e-15
    assert all(float(x) < 1e-15 for x in re.findall(r"layer \d: largest \|one expression - staged\| = (\S+),", printed))
    running = re.search(r"running_var +(\[.*?\])", printed).group(1)
    assert re.search(r"batch variance, 1/\(m-1\) +(\[.*?\])", printed).group(1) == running
    assert re.search(r"batch variance, 1/m +(\[.*?\])", printed).group(1) != running
    for gap in ("loss gap", "parameter gap", "running-statistic gap"):
        assert _number(rf"largest \|?{gap}\|? (\S+?),?\s", printed) < 1e-14, gap
    accuracies = [float(x) / 100 for x in re.findall(r"test accuracy ([\d.]+)%", printed)]
    assert len(accuracies) == 2 and min(accuracies) >= STATED_TEST_ACCURACY
    assert any("image/png" in out.get("data", {}) for out in widget_outputs(nb)), "the explorer drew no heatmap"
    assert seconds < 120


@pytest.mark.slow
def test_student_version_asks_for_the_exercises_instead_of_failing(tmp_path_factory):
    """Does the blank student notebook print "Solve exercise ... first" where the demonstrations need answers?"""
    printed = printed_text(executed_once(tmp_path_factory, LECTURE, "course")[0])
    for needed in ("Solve exercise 1 first", "Solve exercises 1 and 2 first", "Solve exercises 1 and 3 first",
                   "Solve exercise 4 first"):
        assert needed in printed, needed
