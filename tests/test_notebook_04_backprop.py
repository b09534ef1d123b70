"""Lecture 04-backprop: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``)
or run the outside verification.
"""
from __future__ import annotations

import pytest

from notebook_helpers import course_path, executed_once, grade_cells, nbgrader_meta, read, solution_path, widget_outputs

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


@pytest.mark.slow
def test_outside_verification_scores_solution_full_and_blank_zero():
    """Does the outside verification pass every test of the solution and fail every test of the blank release as not-implemented?"""
    from backproplab.grading.verify import verify_notebook

    solution, student = read(solution_path(LECTURE)), read(course_path(LECTURE))
    expected_ids = [nbgrader_meta(cell)["grade_id"] for _, cell in grade_cells(solution)]
    full = verify_notebook(solution, solution, seed=4)
    assert [v.grade_id for v in full] == expected_ids
    assert [(v.grade_id, v.diagnosis) for v in full if not v.passed] == []
    blank = verify_notebook(solution, student, seed=4)
    assert [(v.passed, v.diagnosis) for v in blank] == [(False, "not-implemented")] * len(expected_ids)
