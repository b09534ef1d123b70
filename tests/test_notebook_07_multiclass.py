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
    course_path,
    executed_once,
    markdown_text,
    nbgrader_meta,
    printed_text,
    read,
    solution_path,
)

LECTURE = "07-multiclass"
HINT = re.compile(r"<details><summary><b>Hint (\d) of 3</b>: ([^<]+)</summary>\n\n(.+?)\n\n</details>", re.S)


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def test_lecture_derives_softmax_cross_entropy_through_the_jacobian(solution):
    """Does the lecture derive the softmax Jacobian and the Jacobian-vector product, work z = [1, 2, 3] by hand,
    draw the Jacobian, and derive dz = A - Y with DESIGN.md's 1/m convention?"""
    text = markdown_text(solution)
    for needed in ("Jacobian", r"\operatorname{diag}(a) - a\,a^\top", r"a_k(\delta_{kj} - a_j)",
                   r"(J^\top dA)_j", "keepdims", "z = [1, 2, 3]", "[0.0900, 0.2447, 0.6652]",
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
    for needed in ("load_digits()", "train_val_test_split(", "dense_backward(", "softmax_backward(",
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
    printed = printed_text(nb)
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
    printed = printed_text(nb)
    assert "Solve exercise 1 first, then run this cell again." in printed
    assert "Solve exercises 1 and 2 first, then run this cell again." in printed
    assert "Solve exercise 3 first, then run this cell again." in printed


# What each exercise's answer is, written as the prose, a hint or a docstring could state it (whitespace removed
# before matching): a re-introduced formula fails the leak test below.
LEAKS = {
    "softmax_backward": [
        re.compile(r"a_j\\Big\(dA_j-"), re.compile(r"a_j\(dA_j-"), re.compile(r"\\odot\\big\(dA-"),
        re.compile(r"\\odot\(dA-"), re.compile(r"dA_i-\\langle"), re.compile(r"A\*\(dA-"),
        re.compile(r"dA_k\\?,?a_k\)"), re.compile(r"-s\)"), re.compile(r"axis=1,keepdims=True\)\)"),
        re.compile(r"a\\odotdA-a"),
    ],
    "softmax_cross_entropy": [
        re.compile(r"-\\frac\{?1\}?\{?m\}?\\sum"), re.compile(r"\\sum_\{?i[^$]*\\sum_\{?k[^$]*Y_\{?ik\}?\\logA"),
        re.compile(r"np\.sum\(Y\*"), re.compile(r"np\.maximum\(np\.log\(AL\)"),
        re.compile(r"-\\sum_\{?k\}?y_k\\loga_k"),
    ],
    # torch_train's answer lines that go beyond the PyTorch API the prose teaches (reading the weights back out)
    "torch_train": [re.compile(r"bias\.copy_\(torch\.from_numpy\("), re.compile(r"detach\(\)\.numpy\(\)\.reshape\(1,-1\)")],
}


def _squeezed(text):
    return re.sub(r"\s+", "", text)


def _docstrings(nb):
    return [ast.get_docstring(node) or "" for _, cell in answer_cells(nb) for node in ast.parse(cell.source).body
            if isinstance(node, ast.FunctionDef)]


@pytest.mark.parametrize("version", ["solution", "course"])
def test_no_graded_formula_above_its_answer_or_anywhere_in_the_handout(version):
    """Issue 22: is neither the batched softmax backward (a * (dA - sum(dA * a)) in any notation) nor the mean
    cross-entropy (-(1/m) sum_i sum_k Y log A) stated in prose, hints or docstrings before its answer cell, nor
    anywhere in the student release (summary included)?"""
    nb = read(solution_path(LECTURE) if version == "solution" else course_path(LECTURE))
    for index, cell in answer_cells(nb):
        name = nbgrader_meta(cell)["grade_id"]
        before = [c.source for c in nb.cells[:index] if c.cell_type == "markdown"] + _docstrings(nb)
        for text in before:
            for pattern in LEAKS.get(name, []):
                assert not pattern.search(_squeezed(text)), (name, pattern.pattern, text[:200])
    if version == "course":
        everything = [c.source for c in nb.cells if c.cell_type == "markdown"] + _docstrings(nb)
        for name, patterns in LEAKS.items():
            for pattern in patterns:
                assert not any(pattern.search(_squeezed(text)) for text in everything), (name, pattern.pattern)


def test_leak_patterns_catch_the_formulas_they_guard():
    """Would the leak test fail if the former formulas came back (the c7 batch formula, the old hint, the cost)?"""
    former = {
        "softmax_backward": [r"$$ dz = A \odot \big(dA - \textstyle\sum_{\text{row}}(dA \odot A)\big) $$",
                             r"= a_j\Big(dA_j - \sum_{k} dA_k a_k\Big)",
                             r"$dz_i = a_i \odot \big(dA_i - \langle dA_i, a_i\rangle\big)$",
                             "return A * (dA - np.sum(dA * A, axis=1, keepdims=True))"],
        "softmax_cross_entropy": [r"$$ J = -\frac{1}{m}\sum_{i=1}^{m}\sum_{k=1}^{n} Y_{ik}\log A_{ik}. $$",
                                  r"$J = -\frac{1}{m}\sum_{i}\sum_{k} Y_{ik}\log A_{ik}$", r"$L = -\sum_{k} y_k \log a_k$",
                                  "`np.maximum(np.log(AL), -100)`"],
        "torch_train": ["Copy a bias with `layer.bias.copy_(torch.from_numpy(B[0]))`; read it back with "
                        "`layer.bias.detach().numpy().reshape(1, -1)`."],
    }
    for name, texts in former.items():
        for text in texts:
            assert any(p.search(_squeezed(text)) for p in LEAKS[name]), (name, text)


def test_hints_point_to_the_derivation_not_the_answer(solution):
    """Do 'the math' hints start the derivation (substitute the Jacobian entry; the likelihood's product) instead of
    stating the result?"""
    ladders = {nbgrader_meta(c)["grade_id"]: solution.cells[i - 1].source for i, c in answer_cells(solution)}
    math = {name: HINT.findall(text)[1][2] for name, text in ladders.items()}
    assert r"a_k(\delta_{kj} - a_j)" in math["softmax_backward"] and "split the sum" in math["softmax_backward"]
    assert r"\prod_{i=1}^{m} \prod_{k=1}^{n} A_{ik}^{\,Y_{ik}}" in math["softmax_cross_entropy"]


def test_header_says_how_the_notebook_works_and_lists_points_matching_the_cells(solution):
    """Does the first cell name the lecture, hold the "How this notebook works" block and a points table whose rows
    match the test cells' points, and a total that adds the manual questions?"""
    first = solution.cells[0].source
    assert first.startswith("# Lecture 07: Multi-class classification") and "**How this notebook works.**" in first
    points = {}
    for cell in solution.cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade") and cell.cell_type == "code":
            exercise = meta["grade_id"].removeprefix("test_").removesuffix("_hidden")
            points.setdefault(exercise, [0, 0])[meta["grade_id"].endswith("_hidden")] = meta["points"]
    table = dict((name, [int(v), int(h)]) for name, v, h in
                 re.findall(r"\| Exercise \d: `(\w+)` \| (\d+) \| (\d+) \|", first))
    assert table == points
    manual = sum(nbgrader_meta(c)["points"] for c in solution.cells
                 if c.cell_type == "markdown" and nbgrader_meta(c).get("grade"))
    tests = sum(sum(v) for v in points.values())
    assert f"**Points.** {tests + manual} in all: {tests} from the tests" in first


def test_pytorch_as_users_write_it(solution):
    """Does the lecture show seed 004's nn.Module MLP (Flatten, Linear/ReLU) on the digits, a Dataset with __len__
    and __getitem__ behind a DataLoader, torch.no_grad() and .detach() with the reason, LogSoftmax + NLLLoss against
    CrossEntropyLoss (asserted), and a manual `p -= lr * p.grad` step against optim.SGD (asserted)?"""
    code, text = code_text(solution), markdown_text(solution)
    for needed in ("class DigitMLP(nn.Module):", "nn.Flatten()", "def forward(self, x):", "super().__init__()",
                   "class DigitImages(Dataset):", "def __len__(self):", "def __getitem__(self, i):",
                   "DataLoader(train_images", "shuffle=True", "with torch.no_grad():", ".detach()",
                   "nn.LogSoftmax(dim=1)", "nn.NLLLoss()", "nn.CrossEntropyLoss()", "p -= DIGIT_LR * p.grad",
                   "torch.optim.SGD(by_optimizer.parameters(), lr=DIGIT_LR).step()", "assert loss_gap < 1e-6",
                   "assert step_gap < 1e-6"):
        assert needed in code, needed
    for needed in ("Seed 004", "`nn.Flatten()`", "28 \\times 28", "graph", "requires_grad", "`.detach()`",
                   "`NLLLoss`", "`__len__`", "`__getitem__(i)`", "`torch.no_grad()`"):
        assert needed in text, needed


def test_test_split_is_used_only_for_the_final_report(solution):
    """Is the held-out test split made by train_val_test_split and touched by no code cell before section 8's
    heading, and does the prose say the test accuracy is the honest number?"""
    cells = solution.cells
    heading = next(i for i, c in enumerate(cells) if c.source.startswith("## 8. An honest number"))
    users = [i for i, c in enumerate(cells) if c.cell_type == "code" and re.search(r"\b[XY]_test\b", c.source)]
    split_cell = next(i for i in users if "train_val_test_split(" in cells[i].source)
    assert all(i > heading for i in users if i != split_cell), users
    assert all("train_val_test_split(" in line or line.lstrip().startswith(("print(", "test_fraction"))
               for line in cells[split_cell].source.splitlines() if re.search(r"\b[XY]_test\b", line))
    text = markdown_text(solution)
    assert "**The test accuracy is the honest number, the one to report.**" in text
    assert "optimistic" in text


@pytest.mark.slow
def test_executed_solution_reports_pytorch_checks_and_an_honest_test_accuracy(tmp_path_factory):
    """In the executed solution: are LogSoftmax + NLLLoss and CrossEntropyLoss equal (loss and gradients), the manual
    step identical to optim.SGD's, and is a held-out test accuracy >= 90% reported for both networks?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    loss_gap, grad_gap = (float(v) for v in re.search(
        r"LogSoftmax \+ NLLLoss vs CrossEntropyLoss: loss difference (\S+), largest gradient difference (\S+)",
        printed).groups())
    assert loss_gap < 1e-6 and grad_gap < 1e-6
    step_gap, moved = (float(v) for v in re.search(r"manual step vs optim.SGD: largest difference (\S+) \(the step "
                                                   r"itself moved weights by up to (\S+)\)", printed).groups())
    assert step_gap < 1e-6 and moved > 1e-3
    assert "seed 004's 784-512-512-10 network: 669706 parameters" in printed
    assert "scores.numpy() -> RuntimeError" in printed and "detached.requires_grad: False" in printed
    honest = dict(re.findall(r"(.+): held-out test accuracy \(the honest number\) ([\d.]+)%", printed))
    assert set(honest) == {"NumPy [64, 32, 10]", "DigitMLP [64, 64, 64, 10]"}
    assert all(float(v) >= 90 for v in honest.values()), honest
    tables = "\n".join(out["data"]["text/markdown"] for c in nb.cells for out in c.get("outputs", [])
                       if "text/markdown" in out.get("data", {}))
    assert "**test accuracy**" in tables


@pytest.mark.slow
def test_student_version_runs_the_pytorch_sections_without_the_exercises(tmp_path_factory):
    """In the blank student notebook: do the PyTorch sections (which need no exercise) run, and does the honest
    evaluation report the DigitMLP row while asking for exercises 1 and 2 for the NumPy one?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    printed = printed_text(nb)
    assert "manual step vs optim.SGD: largest difference" in printed
    assert "DigitMLP [64, 64, 64, 10]: held-out test accuracy (the honest number)" in printed
    assert "Solve exercises 1 and 2 first, then run this cell again (for the NumPy network's row)." in printed
