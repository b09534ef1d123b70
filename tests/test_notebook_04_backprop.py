"""Lecture 04-backprop: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``)
or run the outside verification.
"""
from __future__ import annotations

import re

import pytest

from notebook_helpers import (
    answer_cells,
    answer_dependent_cells,
    cell_printed_text,
    error_outputs,
    executed_once,
    nbgrader_meta,
    printed_text,
    read,
    solution_path,
    widget_outputs,
)

LECTURE = "04-backprop"


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_explorer_retrains_and_reports_without_error(version, tmp_path_factory):
    """Does the learning-rate / hidden-units explorer train and report in both versions, with no error?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    outputs = widget_outputs(nb)
    assert [out for out in outputs if out["output_type"] == "error"] == []
    printed = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
    assert "training accuracy" in printed


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))




def test_hand_checkable_network_asks_for_predictions_before_computing_three_ways(solution):
    """Does the seed-000 network section (x = [1, 2, 3], W1 = 1..12, a zero sigmoid layer 2) ask for pencil-and-paper
    predictions of the forward pass, of layer 2 from sigma(0) = 0.5 and sigma'(0) = 0.25, and of layer 1, with the
    answers collapsed, right before the cell that computes them with the library, dense_backward, the engine and torch?"""
    index = next(i for i, c in enumerate(solution.cells) if c.cell_type == "markdown"
                 and c.source.startswith("## 3. One hand-checkable network, computed three ways"))
    prompt, code = solution.cells[index].source, solution.cells[index + 1].source
    assert "Predict, on paper, before you run the next cell" in prompt
    answers = prompt[prompt.index("<details>"):prompt.index("</details>")]
    for number in ("[14, 32, 50, 68]", "\\sigma(0) = 1/(1 + e^{0}) = 0.5", "\\sigma'(0) = 0.5 \\times 0.5 = 0.25",
                   "0.5 \\times 0.25 = 0.125", "[1.75, 4, 6.25, 8.5]", "dA^{[1]} = [0, 0, 0, 0]", "[11, 13, 15]",
                   "[0.5, 1, 1.5]"):
        assert number in answers, number
    for shape in ("$(2, 4)$", "$(1, 2)$", "$(4, 3)$", "$(1, 3)$"):
        assert shape in answers, shape
    assert "0.5 * torch.ones(1, 2)" in prompt and "0.5 * torch.ones(1, 4)" in prompt
    assert solution.cells[index + 1].cell_type == "code"
    assert all(call in code for call in ("model_forward(x_hand", "sigmoid_backward(", "dense_backward(", "Var(",
                                         ".backward(gradient=", "unsolved_message("))
    assert "assert (sigma_0, slope_0) == (0.5, 0.25)" in code


@pytest.mark.slow
def test_hand_checkable_network_prints_the_same_numbers_three_ways(tmp_path_factory):
    """Does the executed solution print the seed-000 forward pass, sigma(0), sigma'(0), dz2 = 0.125, and the
    gradients in three agreeing columns, and the blank student version the engine's and torch's columns under
    "Solve exercise 2 first"?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert "Z[1] = [[14. 32. 50. 68.]]   A[1] = [[14. 32. 50. 68.]]   Z[2] = [[0. 0.]]   A[2] = [[0.5 0.5]]" in printed
    assert "sigma(0) = 0.5   sigma'(0) = 0.25   dz[2] = 0.5 * sigma'(0) = 0.125" in printed
    assert "dz2   (1, 2)   [0.125 0.125]              [0.125 0.125]              [0.125 0.125]" in printed
    assert "dW2   (2, 4)   2 x [1.75 4 6.25 8.5]      2 x [1.75 4 6.25 8.5]      2 x [1.75 4 6.25 8.5]" in printed
    assert "dA1   (1, 4)   [0 0 0 0]                  [0 0 0 0]                  [0 0 0 0]" in printed
    assert "dx    (1, 3)   [11 13 15]                 [11 13 15]                 [11 13 15]" in printed
    assert "your dense_backward agrees with the engine and torch: yes" in printed
    course, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    printed = printed_text(course)
    assert "Solve exercise 2 first, then run this cell again." in printed
    assert "dW1   (4, 3)   -                          4 x [0.5 1 1.5]            4 x [0.5 1 1.5]" in printed


def _answer_index(nb, name):
    return next(i for i, c in answer_cells(nb) if nbgrader_meta(c)["grade_id"] == name)


def test_binary_cross_entropy_is_a_likelihood_above_its_answer_and_a_formula_only_after(solution):
    """Issue 22: does section 1 give the Bernoulli likelihood and leave the logarithm to the student, with no BCE
    formula (in prose or hints) above the answer cell, while section 9 derives it after the exercises?"""
    answer = _answer_index(solution, "binary_cross_entropy")
    above = "\n".join(c.source for c in solution.cells[:answer])
    assert r"P(y_i \mid a_i) = a_i^{\,y_i}\,(1 - a_i)^{\,1 - y_i}" in above and "negative log-likelihood" in above
    for formula in (r"\log a_i + (1 - y_i)", r"\log a_{ik} + (1 - y_{ik})", r"\log (1 - a", r"\log(1 - a"):
        assert formula not in above, formula
    later = "\n".join(c.source for c in solution.cells[_answer_index(solution, "torch_gradients"):])
    assert r"-\big[\, y \log a + (1 - y) \log (1 - a) \,\big]" in later


def test_hint_ladders_stop_before_the_answer_line(solution):
    """Do the hints of the derivation exercises lead into the derivation without stating its result?"""
    forbidden = {"binary_cross_entropy": [r"y_{ik} \log a_{ik} + (1 - y_{ik})"],
                 "dense_backward": [r"dz^{\top} A_{\text{prev}}", r"dz\, W"],
                 "model_backward": [r"dz^{[L]} = A^{[L]} - Y", r"dA^{[l-1]} \odot g^{[l-1]\prime}"]}
    for name, lines in forbidden.items():
        ladder = solution.cells[_answer_index(solution, name) - 1].source
        assert "?" in ladder.split("Hint 2 of 3")[1].split("Hint 3 of 3")[0], name
        for line in lines:
            assert line not in ladder, (name, line)


def test_likelihood_section_derives_the_costs_contrasts_sigmoid_mse_and_shows_mae(solution):
    """Does section 9 derive Bernoulli, categorical, Gaussian and Laplace costs, contrast sigmoid + MSE with BCE in
    numbers and a figure, and fit a line through outliers with MAE and MSE (asserted, with a figure)?"""
    index = next(i for i, c in enumerate(solution.cells)
                 if c.source.startswith("## 9. Where the costs come from: likelihoods"))
    text = solution.cells[index].source
    for needle in ("Bernoulli", "Categorical", "Gaussian", "Laplace", r"-\sum_{k=1}^{K} y_k \log a_k = -\log a_c",
                   r"dz_{\text{MSE}} = (a - y)\, \sigma'(z)", "150 times smaller", r"\operatorname{sign}(a - y)"):
        assert needle in text, needle
    contrast, mae_text, mae_code = (solution.cells[index + k].source for k in (1, 2, 3))
    assert "losses.mse_gradient" in contrast and "losses.binary_cross_entropy_gradient" in contrast
    assert "(0.0067, -0.993, -0.0066)" in contrast and "plt.show()" in contrast
    assert "median" in mae_text and "losses.mae_gradient" in mae_code and "plt.show()" in mae_code
    assert "abs(w_mae - 2) < 0.2 and abs(b_mae - 1) < 0.2" in mae_code


@pytest.mark.slow
def test_likelihood_section_prints_the_saturation_and_outlier_numbers(tmp_path_factory):
    """Does the executed solution print the saturated-unit gradients (BCE -0.9933 vs MSE -0.0066), the training
    runs (BCE learns, MSE stalls) and the two line fits (MAE near w = 2, b = 1)?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert "y = 1, z = -5: a = 0.0067;  dz with BCE = -0.9933,  dz with MSE = -0.0066  (150 times smaller)" in printed
    assert re.search(r"after 300 steps: a = 0\.99\d with BCE,  a = 0\.0\d+ with MSE", printed)
    fits = re.search(r"MSE fit: w = (\S+), b = (\S+);  MAE fit: w = (\S+), b = (\S+)", printed)
    w_mse, b_mse, w_mae, b_mae = (float(v) for v in fits.groups())
    assert abs(w_mae - 2) < 0.2 and abs(b_mae - 1) < 0.2 and b_mse > 1.8


@pytest.mark.slow
def test_student_version_cells_that_need_an_answer_say_which_exercise_to_solve(tmp_path_factory):
    """Does every cell of the blank student notebook that uses an exercise print "Solve exercise N first, then run
    this cell again." (N an exercise number) instead of a traceback?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    dependent = answer_dependent_cells(nb)
    assert len(dependent) >= 4
    for index in dependent:
        cell = nb.cells[index]
        assert error_outputs(cell) == [], index
        assert re.search(r"Solve exercise [1-7] first, then run this cell again\.", cell_printed_text(cell)), index

