"""Lecture 01-architecture: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
"""
from __future__ import annotations

import pytest

from notebook_helpers import code_text, read, solution_path

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



def test_title_reads_lecture_01(solution):
    """Is the title numbered like the other lectures' ("# Lecture 01: ...")?"""
    assert solution.cells[0].source.startswith("# Lecture 01: ")
