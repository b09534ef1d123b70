"""Outside verification with real child processes (no mocks): hostile answers cost only
their own exercise, with the right diagnosis, while the other exercises are judged normally."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from backproplab.grading.samples import catalog
from backproplab.grading.verify import find_test_cells, verify_notebook

pytestmark = pytest.mark.slow

LECTURE04 = catalog("04-backprop")
# Exercises that do not call each other, so a hostile dense_backward cannot spill over.
INDEPENDENT = ("binary_cross_entropy", "dense_backward", "update_parameters")
TIMEOUT = 8.0


def build_notebook(answers, *, setup=LECTURE04.SETUP, hidden=True):
    """A source/submission notebook in ARCHITECTURE.md's conventions (nbformat v4 factory)."""
    cells = [new_markdown_cell("# factory-built notebook"),
             new_code_cell(setup + "from backproplab.checks import check\n", metadata={"tags": ["setup"]})]
    for exercise, source in answers.items():
        cells.append(new_code_cell(source, metadata={"nbgrader": {
            "grade_id": exercise, "solution": True, "grade": False, "locked": False}}))
        cells.append(new_code_cell(f'check("{exercise}", {exercise})', metadata={"nbgrader": {
            "grade_id": f"test_{exercise}", "grade": True, "solution": False, "locked": True, "points": 1}}))
        if hidden:
            body = f'### BEGIN HIDDEN TESTS\ncheck("{exercise}", {exercise}, hidden=True)\n### END HIDDEN TESTS'
            cells.append(new_code_cell(body, metadata={"nbgrader": {
                "grade_id": f"test_{exercise}_hidden", "grade": True, "solution": False, "locked": True,
                "points": 2}}))
    return new_notebook(cells=cells)


def answers(exercises=INDEPENDENT, **replaced):
    return {name: replaced.get(name, LECTURE04.ANSWERS[name]) for name in exercises}


@pytest.fixture(scope="module")
def source_nb():
    return build_notebook(answers())


def by_grade_id(verdicts):
    return {v.grade_id: v for v in verdicts}


def test_verify_notebook_passes_every_correct_answer_of_lecture04(tmp_path):
    """Do all seven 04 exercises' correct answers pass, visible and hidden, read from paths?"""
    source = build_notebook(LECTURE04.ANSWERS)
    path = tmp_path / "source.ipynb"
    nbformat.write(source, path)
    verdicts = verify_notebook(path, path, seed=2024, timeout=60)
    assert len(verdicts) == 2 * len(LECTURE04.ANSWERS)
    assert [v for v in verdicts if not v.passed] == []
    assert sum(v.score for v in verdicts) == sum(v.points for v in verdicts) == 3 * len(LECTURE04.ANSWERS)


HOSTILE = [v for v in LECTURE04.VARIANTS if v.sandbox_only]


@pytest.mark.parametrize("variant", HOSTILE, ids=lambda v: v.name)
def test_hostile_answer_gets_zero_only_on_its_exercise(variant, source_nb):
    """Does each hostile dense_backward get 0 with its diagnosis while the others pass?"""
    submission = build_notebook(answers(dense_backward=variant.source))
    verdicts = by_grade_id(verify_notebook(source_nb, submission, seed=5, timeout=TIMEOUT))
    for grade_id in ("test_dense_backward", "test_dense_backward_hidden"):
        assert not verdicts[grade_id].passed and verdicts[grade_id].score == 0
        assert verdicts[grade_id].diagnosis == variant.expected_diagnosis, verdicts[grade_id].message
    others = [v for v in verdicts.values() if v.exercise != "dense_backward"]
    assert others and all(v.passed for v in others), [v.message for v in others if not v.passed]


def test_missing_answer_cell_is_not_implemented(source_nb):
    """Does deleting an answer cell give not-implemented for that exercise only?"""
    submission = build_notebook(answers())
    submission.cells = [c for c in submission.cells
                        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "update_parameters"]
    verdicts = by_grade_id(verify_notebook(source_nb, submission, seed=1, timeout=TIMEOUT))
    assert verdicts["test_update_parameters"].diagnosis == "not-implemented"
    assert verdicts["test_dense_backward"].passed


def test_submission_metadata_and_extra_cells_are_not_trusted(source_nb):
    """Are cells the source does not list as answers ignored, even if they claim to be setup or tests?"""
    submission = build_notebook(answers(dense_backward=LECTURE04.ANSWERS["dense_backward"].replace(
        "dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")))
    forged = "import backproplab.checks.compare as c\nc.TOLERANCES.update(float64=1e9, float32=1e9)\n"
    submission.cells.insert(1, new_code_cell(forged, metadata={"tags": ["setup"]}))
    submission.cells.append(new_code_cell(forged, metadata={"nbgrader": {
        "grade_id": "test_dense_backward", "grade": True, "points": 100}}))
    verdicts = by_grade_id(verify_notebook(source_nb, submission, seed=3, timeout=TIMEOUT))
    assert verdicts["test_dense_backward"].diagnosis == "missing-mean"
    assert verdicts["test_dense_backward"].points == 1


def test_hidden_cases_depend_on_the_student_seed(source_nb):
    """Do two students' hidden tests of dense_backward get different seeds (replay hints differ)?"""
    first = by_grade_id(verify_notebook(source_nb, build_notebook(answers(dense_backward="x = 1\n")),
                                        seed=1, timeout=TIMEOUT))
    second = by_grade_id(verify_notebook(source_nb, build_notebook(answers(dense_backward="x = 1\n")),
                                         seed=2, timeout=TIMEOUT))
    a, b = first["test_dense_backward_hidden"], second["test_dense_backward_hidden"]
    assert a.diagnosis == b.diagnosis == "not-implemented"
    assert a.message != b.message
    assert first["test_dense_backward"].message == second["test_dense_backward"].message


def test_find_test_cells_reads_check_calls_with_ast(source_nb):
    """Are test cells found by parsing check("<exercise>", ..., hidden=...) calls?"""
    cells = find_test_cells(source_nb)
    assert [(c.exercise, c.hidden) for c in cells][:2] == [("binary_cross_entropy", False),
                                                          ("binary_cross_entropy", True)]
    assert {c.points for c in cells} == {1.0, 2.0}
