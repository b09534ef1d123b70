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
    """Does the prose give seed 003's friction picture, where the learning rate (Delta t squared) and the velocity's
    sign come from, both momentum forms with the rescaled learning rate, why RMSProp divides by a root mean square,
    and PyTorch's conventions (RMSprop's alpha 0.99, eps after the root, Adam's t, BatchNorm1d's variances and
    momentum, what a row of dX is)?"""
    text = markdown_text(solution)
    for needed in (r"V_{n+1} = (1 - r)\, V_n + \Delta t\, A_n", r"\eta = \Delta t^2", "The sign flipped",
                   r"V \leftarrow \beta V + \nabla E", r"\bar V \leftarrow \beta\, \bar V + (1 - \beta)\, \nabla E",
                   r"\bar V_t = (1-\beta) \sum", r"$1/(1-\beta)$", "torch.optim.SGD(momentum=beta)",
                   "Why divide by the root mean square", "`alpha`", "0.99", "**after** the square",
                   "torch.optim.RMSprop(alpha=beta, eps=eps)", "bias correction", r"m_1 = (1 - \beta_1)\, g_1",
                   "nn.BatchNorm1d", "**biased**", "*unbiased*", "weight of the **new batch**", "`running_mean`",
                   "eval()", "`X.grad`", "three paths", "What a row of $dX$ is", "tolerates a larger learning rate"):
        assert needed in text, needed


def test_no_formula_of_a_graded_quantity_above_its_answer_cell(solution):
    """Does the prose above each answer cell (from the previous exercise's tests on) keep the graded step to itself:
    no momentum or RMSProp step, no running-average rule, no batch-norm gradient, no reference to DESIGN.md; and do
    those formulas appear after the checks?"""
    cells = solution.cells
    index = {nbgrader_meta(c)["grade_id"]: i for i, c in answer_cells(solution)}
    answers = sorted(index.values())
    leaks = {"momentum_update": (r"V \leftarrow \beta V + \nabla E", r"U_{n+1} = \beta", "keeps the fraction $\beta$ of the old"),
             "rmsprop_update": (r"S \leftarrow \beta S", "divides the gradient by that root", r"g / (\sqrt{S}"),
             "batchnorm_eval": ("(1 - 0.1)", "weight of the **new batch**", "divided by $m - 1$", r"\bar\mu"),
             "batchnorm_backward": ("minus two column means", r"dx_k = s", "averaged (the mean cost)")}
    for name, phrases in leaks.items():
        start = max([i for i in answers if i < index[name]], default=0)
        above = "\n".join(c.source for c in cells[start:index[name]] if c.cell_type == "markdown")
        after = "\n".join(c.source for c in cells[index[name]:] if c.cell_type == "markdown")
        for phrase in phrases:
            assert phrase not in above, (name, phrase)
        assert any(phrase in after for phrase in phrases), name
    assert "DESIGN.md" not in "\n".join(c.source for c in cells)
    opening = cells[0].source
    assert "hint=2" in opening and "hint=3" in opening and "nudge" in opening
    for number, points in ((1, 2), (2, 2), (3, 3), (4, 2), (5, 2), (6, 4)):
        assert f"### Exercise {number} ({points} points): " in markdown_text(solution), number
    assert "**Question 1 (2 points).**" in markdown_text(solution)
    assert "**Question 2 (2 points).**" in markdown_text(solution)


def test_no_hint_or_docstring_gives_the_update_rules_away(solution):
    """Are the docstrings shapes and meaning only (no formula), and does the prose above each answer avoid its
    code, so that the update rules and the batch-norm gradient are derived?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        node = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == name)
        doc = ast.get_docstring(node)
        assert not re.search(r"np\.|sqrt|\*\*| \* |beta \*|/ \(|m - 1|1 - momentum", doc), (name, doc)
    index = {nbgrader_meta(c)["grade_id"]: i for i, c in answer_cells(solution)}
    before_backward = "\n".join(c.source for c in solution.cells[:index["batchnorm_backward"]])
    assert "mean(dX_hat * X_hat" not in before_backward and "dX_hat - " not in before_backward


def test_comparison_chooses_each_optimizers_learning_rate_on_validation_data(solution):
    """Does section 7 train SGD, momentum, RMSProp and Adam over a grid of learning rates each, with and without
    batch norm, with the student's functions (batchnorm_eval for evaluation), choose on validation accuracy and score
    the chosen ones once on the test split; and does section 8 show clipping, warm-up and AdamW?"""
    code = code_text(solution)
    for needed in ("load_digits()", "train_val_test_split(", "GRIDS = {", "for batchnorm in (False, True)",
                   'runs[(name, rate, batchnorm)]["val_accuracy"][-1]', "network_forward(X_test",
                   "momentum_update(params", "rmsprop_update(params", "adam_update(params", "batchnorm_forward(Z",
                   "batchnorm_backward(dz, bn_cache)", "batchnorm_eval(history[l]", "torch.optim.RMSprop(",
                   "torch.optim.Adam(", "torch.nn.BatchNorm1d(", "numerical_gradient(", "clip_grad_norm_(",
                   "torch.optim.AdamW", "WARMUP"):
        assert needed in code, needed
    assert "library_bn" not in code
    assert code.count("plt.show()") >= 7 and code.count("plot_paths(") >= 3


@pytest.mark.slow
def test_solution_matches_pytorch_and_its_claims_hold(tmp_path_factory):
    """In the executed solution: do both momentum forms follow one path, do the student's RMSProp, Adam and batch
    norm (training, running averages, eval mode) match torch to rounding, do the finite differences agree, does every
    claim's assertion run (no error anywhere), and does the table show the chosen learning rates and test accuracies?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert _number(r"largest gap between the two paths over 40 steps: (\S+)", printed) < 1e-12
    yours, theirs = re.search(r"after 5 steps: yours (\[\[.*?\]\])  torch.optim.RMSprop (\[\[.*?\]\])", printed).groups()
    assert yours == theirs
    assert _number(r"\|yours - torch.optim.Adam\| = (\S+)", printed) < 1e-12
    assert _number(r"largest \|yours - nn.BatchNorm1d\| over 20 batches = (\S+)", printed) < 1e-12
    assert _number(r"largest \|yours - nn.BatchNorm1d.eval\(\)\| = ([\d.e+-]+),", printed) < 1e-12
    assert _number(r"dX vs central differences: (\S+)", printed) < 1e-6
    assert _number(r"dX vs 5 \* X.grad: (\S+)", printed) < 1e-12
    assert "every claim above holds on these runs" in printed
    assert _number(r"32 training runs in (\S+) s", printed) < 120   # a few seconds alone; the machine may be shared
    errors = [out for c in nb.cells for out in c.get("outputs", []) if out.get("output_type") == "error"]
    assert errors == []
    tables = "\n".join(out["data"]["text/markdown"] for c in nb.cells for out in c.get("outputs", [])
                       if "text/markdown" in out.get("data", {}))
    rows = re.findall(r"\| (SGD|momentum|RMSProp|Adam) \| ([\d.]+) \| ([\d.]+)% \| ([\d.]+)% \| ([\d.]+) \| "
                      r"([\d.]+)% \| ([\d.]+)% \|", tables)
    assert {row[0] for row in rows} == {"SGD", "momentum", "RMSProp", "Adam"}


@pytest.mark.slow
def test_student_version_asks_for_the_exercises_instead_of_failing(tmp_path_factory):
    """Does the blank student notebook print "Solve exercise ... first" where the demonstrations need answers?"""
    printed = printed_text(executed_once(tmp_path_factory, LECTURE, "course")[0])
    for needed in ("Solve exercise 1 first", "Solve exercises 1 and 2 first", "Solve exercises 2 and 3 first",
                   "Solve exercises 4 and 5 first", "Solve exercises 4 and 6 first", "Solve exercises 1 to 6 first",
                   "Solve exercise 3 first"):
        assert needed in printed, needed
