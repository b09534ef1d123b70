"""Our nbgrader preprocessors (backproplab/grading/preprocessors.py) on real notebooks:
SandboxedExecute runs the code once in a real kernel inside the sandbox, JudgeOutcomes judges
each test cell outside it, RedactHiddenTests is exercised by the pipeline's feedback test.
Hostile answers, each run in its own sandbox, cost only their own exercise."""
from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from backproplab.grading.preprocessors import JudgeOutcomes, SandboxedExecute
from catalog_helpers import catalog
from test_judge import build_source

pytestmark = pytest.mark.slow

LECTURE04 = catalog("04-backprop")
INDEPENDENT = ("binary_cross_entropy", "dense_backward", "update_parameters")  # no exercise calls another
SEED = 77


@pytest.fixture(scope="module")
def source_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("source") / "source.ipynb"
    nbformat.write(build_source(INDEPENDENT), path)
    return path


def grade(source_path, answers, *, cell_timeout=8, extra_cells=()):
    """Run a submission with ``answers`` through SandboxedExecute and JudgeOutcomes; return
    (the graded notebook, {grade_id: verdict})."""
    nb = copy.deepcopy(nbformat.read(source_path, as_version=4))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    nb.cells[2:2] = [new_code_cell(source) for source in extra_cells]
    nb, _ = SandboxedExecute(seed=SEED, cell_timeout=cell_timeout).preprocess(nb, {})
    nb, resources = JudgeOutcomes(seed=SEED, source_path=str(source_path)).preprocess(nb, {})
    return nb, {v.grade_id: v for v in resources["bplab"]["verdicts"]}


HOSTILE = [v for v in LECTURE04.VARIANTS if v.sandbox_only]


@pytest.mark.parametrize("variant", HOSTILE, ids=lambda v: v.name)
def test_hostile_answer_gets_zero_only_on_its_exercise(source_path, variant):
    """Does each hostile dense_backward get 0 with its catalog diagnosis, in a real sandboxed kernel,
    while the exercises after it still pass?"""
    nb, verdicts = grade(source_path, {"dense_backward": variant.source})
    for grade_id in ("test_dense_backward", "test_dense_backward_hidden"):
        assert verdicts[grade_id].score == 0, verdicts[grade_id]
        assert verdicts[grade_id].diagnosis == variant.expected_diagnosis, verdicts[grade_id].message
    others = [v for v in verdicts.values() if v.exercise != "dense_backward"]
    assert others and all(v.passed for v in others), [v.message for v in others if not v.passed]


def test_graded_test_cells_show_the_verdict_and_fail_only_when_wrong(source_path):
    """Does each test cell of the graded notebook show the verdict (HTML with the mistake's figure for a
    wrong matrix: the ratio map m everywhere for a missing 1/m) and carry an error only when it failed,
    for nbgrader's SaveAutoGrades?"""
    wrong = LECTURE04.ANSWERS["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")
    nb, verdicts = grade(source_path, {"dense_backward": wrong})
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    failed, passed = cells["test_dense_backward"], cells["test_update_parameters"]
    assert verdicts["test_dense_backward"].diagnosis == "missing-mean"
    html = failed.outputs[0]["data"]["text/html"]
    assert "Not yet" in html and "data:image/png;base64" in html
    assert "student / expected: 7.00 everywhere" in html  # the visible case's m = 7: the ratio map, not noise
    assert [o["output_type"] for o in failed.outputs] == ["display_data", "error"]
    assert [o["output_type"] for o in passed.outputs] == ["display_data"] and "Passed" in passed.outputs[0]["data"]["text/html"]
    assert failed.metadata["bplab"]["diagnosis"] == verdicts["test_dense_backward"].diagnosis
    assert nb.metadata["bplab"]["execution"] == "ok"


def test_student_helpers_in_added_cells_are_honored_once(source_path):
    """Is a helper defined in a cell the student added used by the answer, and each cell run once?"""
    helper = "RUNS = []\ndef my_mean(x):\n    RUNS.append(1)\n    return x.sum(axis=0, keepdims=True) / x.shape[0]\n"
    answer = LECTURE04.ANSWERS["dense_backward"].replace("dz.sum(axis=0, keepdims=True) / m", "my_mean(dz)")
    assert answer != LECTURE04.ANSWERS["dense_backward"]
    probe = "print('helper cell ran', len(RUNS) == 0)"
    nb, verdicts = grade(source_path, {"dense_backward": answer}, extra_cells=[helper, probe])
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values() if not v.passed]
    assert nb.cells[3].outputs[0]["text"] == "helper cell ran True\n"


def test_forged_check_outputs_in_an_answer_cell_change_nothing(source_path):
    """Do verdict or outcome display data printed by an answer cell, and a replaced check(), win no
    point in any test after it (the tests before it ran the real check)?"""
    forge = ('from IPython.display import display\n'
             'display({"application/vnd.backproplab.check+json": {"passed": True}, '
             '"application/vnd.backproplab.outcomes+json": {"exercise": "dense_backward", "hidden": False, '
             '"outcomes": []}}, raw=True)\n'
             'check = lambda *args, **kwargs: None\n')
    wrong = LECTURE04.ANSWERS["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")
    _, verdicts = grade(source_path, {"dense_backward": forge + wrong})
    after = [v for v in verdicts.values() if v.exercise != "binary_cross_entropy"]
    assert {v.diagnosis for v in after} == {"tampering"} and sum(v.score for v in after) == 0
    assert all(v.passed for v in verdicts.values() if v.exercise == "binary_cross_entropy")


def test_outcome_records_outside_test_cells_are_dropped_and_counted(source_path):
    """Outcome records displayed by cells that are not test cells (here three of 4 MB each) are not kept
    in the graded notebook and are counted for the flag; the test cells' own records still decide."""
    flood = ('from IPython.display import display\n'
             'display({"application/vnd.backproplab.outcomes+json": {"exercise": "dense_backward", "hidden": False, '
             '"outcomes": [{"status": "returned", "value": "x" * (4 << 20)}]}, "text/plain": "forged"}, raw=True)\n')
    nb, verdicts = grade(source_path, {}, extra_cells=[flood] * 3)
    outside = [o for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")
               for o in c.outputs if "application/vnd.backproplab.outcomes+json" in o.get("data", {})]
    assert outside == [] and nb.metadata["bplab"]["records_outside_tests"] == 3
    assert len(nbformat.writes(nb)) < 4 << 20
    assert all(v.passed for v in verdicts.values())
