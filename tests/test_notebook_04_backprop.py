"""Lecture 04-backprop: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``)
or run the outside verification.
"""
from __future__ import annotations

import re

import pytest

from notebook_helpers import answer_dependent_cells, error_outputs, executed_once, read, solution_path, widget_outputs

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



def test_title_reads_lecture_04(solution):
    """Is the title numbered like the other lectures' ("# Lecture 04: ...")?"""
    assert solution.cells[0].source.startswith("# Lecture 04: ")


def test_hand_checkable_network_asks_for_predictions_before_computing_three_ways(solution):
    """Does the seed-000 network section ask for pencil-and-paper predictions, with the answers collapsed, right
    before the cell that computes them with dense_backward, the Var engine and torch?"""
    index = next(i for i, c in enumerate(solution.cells) if c.cell_type == "markdown"
                 and c.source.startswith("## 3. One hand-checkable network, computed three ways"))
    prompt, code = solution.cells[index].source, solution.cells[index + 1].source
    assert "Predict, on paper, before you run the next cell" in prompt
    answers = prompt[prompt.index("<details>"):prompt.index("</details>")]
    for number in ("[11, 13, 15]", "[0.5, 1, 1.5]", "[1.75, 4, 6.25, 8.5]", "0.125", "0.5"):
        assert number in answers, number
    assert "[14, 32, 50, 68]" in prompt and "0.5 * torch.ones(1, 4)" in prompt
    assert solution.cells[index + 1].cell_type == "code"
    assert all(call in code for call in ("dense_backward(", "Var(", ".backward(gradient=", "unsolved_message("))


@pytest.mark.slow
def test_hand_checkable_network_prints_the_same_numbers_three_ways(tmp_path_factory):
    """Does the executed solution print the seed-000 gradients in three agreeing columns, and the blank student
    version the engine's and torch's columns under "Solve exercise 2 first"?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    printed = _printed(nb)
    assert "dx    (1, 3)   [11 13 15]                 [11 13 15]                 [11 13 15]" in printed
    assert "dW2   (4, 4)   4 x [1.75 4 6.25 8.5]      4 x [1.75 4 6.25 8.5]      4 x [1.75 4 6.25 8.5]" in printed
    assert "your dense_backward agrees with the engine and torch: yes" in printed
    course, _, _ = executed_once(tmp_path_factory, LECTURE, "course")
    printed = _printed(course)
    assert "Solve exercise 2 first, then run this cell again." in printed
    assert "dW1   (4, 3)   -                          4 x [0.5 1 1.5]            4 x [0.5 1 1.5]" in printed


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
        assert re.search(r"Solve exercise [1-7] first, then run this cell again\.", _printed_cell(cell)), index


def _printed_cell(cell):
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def _printed(nb):
    return "".join(_printed_cell(c) for c in nb.cells if c.cell_type == "code")
