"""Lecture 01-architecture: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
"""
from __future__ import annotations

import pytest

from notebook_helpers import answer_cells, code_text, executed_once, nbgrader_meta, printed_text, read, solution_path

LECTURE = "01-architecture"


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def test_lecture_has_a_figure_a_widget_torch_and_the_worked_examples(solution):
    """Does the lecture draw figures, offer ipywidgets explorers, compare with torch and assert the worked examples?"""
    code = code_text(solution)
    assert code.count("plt.show()") >= 3 and code.count("widgets.interactive(") >= 2
    assert "nn.Linear(4, 3)" in code and "[[11.0, 27.0, 43.0]]" in code
    assert "== 13" in code and "669_706" in code





def test_the_333_sigmoid_forward_pass_is_written_out_after_the_exercise_and_asserted(solution):
    """Is seed 004's 3-3-3 sigmoid network (x = [0.9, 0.1, 0.8]) worked in prose, with shapes, after exercise 3
    (model_forward), and asserted by a code cell with the library's model_forward?"""
    index = next(i for i, c in enumerate(solution.cells) if c.source.startswith("### A forward pass you can follow"))
    answer = next(i for i, c in answer_cells(solution) if nbgrader_meta(c)["grade_id"] == "model_forward")
    assert index > answer
    prose, code = solution.cells[index].source, solution.cells[index + 1].source
    for number in ("x = [0.9,\\ 0.1,\\ 0.8]", "[1.16, 0.42, 0.62]", "[0.7613, 0.6035, 0.6502]",
                   "[0.7263, 0.7086, 0.7781]", "(1, 3)", "(3, 3)"):
        assert number in prose, number
    assert "bl.model_forward(x_333, params_333" in code and "model_forward(x_333" in code
    assert "[[0.7613, 0.6035, 0.6502]]" in code and "[[0.7263, 0.7086, 0.7781]]" in code


@pytest.mark.slow
def test_the_333_forward_pass_prints_the_seed_numbers(tmp_path_factory):
    """Does the executed solution print the hidden and output activations of the 3-3-3 network (and agree with the
    student's model_forward), and the blank student version ask for exercise 3 in that cell?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = printed_text(nb)
    assert "A[1] (1, 3) = [[0.7613 0.6035 0.6502]]" in printed
    assert "A[2] (1, 3) = [[0.7263 0.7086 0.7781]]" in printed
    assert "your model_forward gives the same A[2]: yes" in printed
    course, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    printed = printed_text(course)
    assert "A[2] (1, 3) = [[0.7263 0.7086 0.7781]]" in printed and "Solve exercise 3 first" in printed


def test_count_and_xor_are_left_to_derive(solution):
    """Issue 22: does nothing above count_parameters' answer cell state the network's total as a formula, and do
    the XOR hints stop at the question (which combination, how to scale) instead of giving the construction?"""
    answers = {nbgrader_meta(c)["grade_id"]: i for i, c in answer_cells(solution)}
    above = "\n".join(c.source for c in solution.cells[:answers["count_parameters"]])
    assert r"\sum_{l=1}^{L}" not in above and "13" in solution.cells[answers["count_parameters"] - 1].source
    ladder = solution.cells[answers["xor_parameters"] - 1].source
    assert "h_1 - 2h_2" not in ladder and "k/2" not in ladder and "Which combination" in ladder
