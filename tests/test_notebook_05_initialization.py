"""Lecture 05-initialization: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import pytest

from notebook_helpers import code_text, executed_once, read, solution_path, widget_outputs

LECTURE = "05-initialization"


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def test_lecture_has_figures_a_widget_torch_and_the_worked_example(solution):
    """Does the lecture train from zeros, draw figures, offer an ipywidgets explorer over depth, activation and
    method that uses plot_layer_statistics, compare with torch.nn.init and assert the sigmoid-slope example?"""
    code = code_text(solution)
    assert "bl.train(" in code and '"zeros"' in code
    assert code.count("plt.show()") >= 4 and "widgets.interactive(" in code
    assert all(word in code for word in ("depth=", "activation=", "method=", "plot_layer_statistics("))
    assert "kaiming_normal_" in code and "xavier_normal_" in code
    assert "0.0066" in code and "0.249" in code


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_explorer_draws_without_error(version, tmp_path_factory):
    """Does the explorer's first draw (saved in its Output widget) report the layer statistics with no error,
    in both versions?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    outputs = widget_outputs(nb)
    assert [out for out in outputs if out.get("output_type") == "error"] == []
    printed = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
    assert "std(A[10])" in printed and "||dW[1]||" in printed
