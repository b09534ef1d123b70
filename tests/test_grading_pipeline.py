"""`bplab grade`, `feedback`, `export` and `report` end to end: real nbgrader, real kernels, the real gradebook.

Every lecture's catalog submissions: the correct answers get full marks, each typical mistake its diagnosis and
only its points.

The tests assert over the session's one grading batch (tests/grading_batch.py): every lecture's
catalog submissions (tests/grading_plan.py), lecture 04's differently written answers and a wrong
helper beside a wrong caller, and the red team's attacks (tests/attack_catalog.py), whose
tampering, unreadable notebook and patched checks the gradebook, feedback and export must survive.
"""
from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from backproplab import LECTURES
from backproplab.grading.notebooks import read_notebook
from cli_command import bplab_command
from grading_batch import results_by_student
from grading_plan import EVERY_DIAGNOSIS_LECTURE, PLAN, WRITTEN_DIFFERENTLY, callers
from lecture_specs import SPECS
from notebook_helpers import course_path, solution_path

REPO = Path(__file__).resolve().parents[1]
LECTURE = EVERY_DIAGNOSIS_LECTURE
TAMPERED = "attack-tests-deleted-edited-points"
UNREADABLE = "attack-malformed-json"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(graded_batch):
    """{"results": {(lecture, student): result}, "workspace": Path}, the batch having exited 0."""
    assert graded_batch["returncode"] == 0, graded_batch["stderr"][-3000:]
    results = {(r["lecture"], r["student"]): r for r in graded_batch["results"]}
    return {"results": results, "workspace": Path(graded_batch["workspace"]), "record": graded_batch}


def _source_points(lecture):
    points = {}
    for cell in read_notebook(solution_path(lecture)).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            points[meta["grade_id"]] = float(meta["points"])
    return points


def _result(batch, student):
    return batch["results"][LECTURE, student]


def _run_bplab(*args):
    return subprocess.run(bplab_command(*args), capture_output=True, text=True, timeout=600, cwd=REPO)


def test_every_result_has_the_sources_tests_and_the_design_fields(batch):
    """Does every result of every lecture (attacks included) hold one test entry per test cell of its
    source, in order, with the DESIGN.md fields, and the source's max score?"""
    points = {lecture: _source_points(lecture) for lecture in LECTURES}
    assert {lecture for lecture, _ in batch["results"]} == set(LECTURES)
    for (lecture, student), result in batch["results"].items():
        assert {"student", "lecture", "score", "max_score", "flagged", "status", "tests"} <= set(result)
        assert [t["grade_id"] for t in result["tests"]] == list(points[lecture]), student
        assert result["max_score"] == sum(points[lecture].values()), student
        for test in result["tests"]:
            assert {"grade_id", "exercise", "score", "max_score", "passed", "diagnosis", "message"} <= set(test)
            assert (test["diagnosis"] is None) == test["passed"], (student, test)


def test_correct_answers_written_differently_with_a_warning_get_full_marks(batch):
    """Do differently written correct answers (einsum-free loops, clip-then-mean, ...) with a warning printed
    from an answer cell get every point, unflagged?"""
    result = _result(batch, "correct-written-differently-with-a-warning")
    assert [t for t in result["tests"] if not t["passed"]] == []
    assert result["score"] == result["max_score"] > 0
    assert not result["flagged"] and result["status"] == "graded", result["flag_reasons"]


def test_one_mistake_costs_one_exercise(batch):
    """With a wrong dense_backward, does model_backward (right given a correct dense_backward) keep its points
    and say why, while a wrong model_backward beside it still loses its own?"""
    (student,) = [s for s, variants in PLAN[LECTURE].items()
                  if any(v.exercise == "dense_backward" and v.expected_diagnosis == "missing-mean" for v in variants)]
    right_caller = {t["grade_id"]: t for t in _result(batch, student)["tests"]}
    wrong_caller = {t["grade_id"]: t for t in _result(batch, "wrong-helper-wrong-caller")["tests"]}
    for grade_id in ("test_model_backward", "test_model_backward_hidden", "test_train_two_layer"):
        assert right_caller[grade_id]["passed"], right_caller[grade_id]["message"]
    assert "calls your `dense_backward`, which is wrong" in right_caller["test_model_backward"]["message"]
    assert wrong_caller["test_dense_backward"]["diagnosis"] == "transposed"
    assert wrong_caller["test_model_backward"]["diagnosis"] == "derivative-at-output"
    assert wrong_caller["test_model_backward"]["score"] == 0
    untouched = set(_source_points(LECTURE)) - {f"test_{e}{h}" for e in ("dense_backward", "model_backward",
                                                                           *callers(LECTURE)["model_backward"])
                                                for h in ("", "_hidden")}
    assert untouched and all(wrong_caller[g]["passed"] for g in untouched)


def test_wrong_submissions_name_at_least_fifteen_diagnoses():
    """Does lecture 04's plan grade at least 15 distinct diagnoses, and the batch 6 differently written
    correct answers?"""
    diagnoses = {v.expected_diagnosis for variants in PLAN[LECTURE].values() for v in variants}
    assert len(diagnoses) >= 15, sorted(diagnoses)
    assert len({v.exercise for v in WRITTEN_DIFFERENTLY}) >= 6


def test_tampering_is_flagged_with_reasons_and_the_tests_restored(batch):
    """Are deleted/edited test cells and edited points named in the flag reasons, max_score unchanged, and did
    nbgrader put the deleted hidden test and the edited one's source back before running them?"""
    result = _result(batch, TAMPERED)
    reasons = "\n".join(result["flag_reasons"])
    assert "cell test_dense_backward_hidden deleted" in reasons
    assert "locked cell test_dense_backward edited" in reasons
    assert "points of test_update_parameters changed from 1 to 100" in reasons
    assert result["max_score"] == sum(_source_points(LECTURE).values())
    autograded = batch["workspace"] / "autograded" / TAMPERED / LECTURE / course_path(LECTURE).name
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in read_notebook(autograded).cells if "nbgrader" in c.metadata}
    assert 'check("dense_backward", dense_backward, hidden=True)' in cells["test_dense_backward_hidden"].source
    assert cells["test_dense_backward"].source == 'check("dense_backward", dense_backward)'


def test_unreadable_submission_scores_zero_with_reason(batch):
    """Is a notebook that is not valid JSON graded 0 with a reason, without stopping the batch?"""
    result = _result(batch, UNREADABLE)
    assert result["score"] == 0 and result["status"] == "unreadable" and result["flagged"]
    assert all(t["diagnosis"] == "crash" and "cannot be read" in t["message"] for t in result["tests"])


def test_gradebook_holds_the_outside_verdicts(batch):
    """Are the per-cell scores in nbgrader's gradebook, for every graded submission of every lecture, the
    outside verdicts of the JSON (not what the kernel printed)? (The attacks' are test_attacks.py's.)"""
    stored = batch["record"]["gradebook"]
    graded = [(key, r) for key, r in batch["results"].items() if r["status"] == "graded" and not key[1].startswith("attack-")]
    assert len(graded) > len(LECTURES) * 2
    for (lecture, student), result in graded:
        assert stored[lecture][student] == {t["grade_id"]: t["score"] for t in result["tests"]}, (lecture, student)


def test_feedback_for_every_graded_submission_without_hidden_test_source(batch):
    """Does `bplab feedback` write a page for every planned submission of every lecture, with no hidden-test
    line on any page (lecture 04's naming its hidden tests)?"""
    record = batch["record"]
    assert record["feedback"]["returncode"] == 0, record["feedback"]["stderr"][-3000:]
    pages = {tuple(p.split("/")[1:3]) for p in record["workspace_files"] if p.startswith("feedback/") and p.endswith(".html")}
    planned = {(student, lecture) for lecture, plan in PLAN.items() for student in plan}
    assert planned <= pages, sorted(planned - pages)
    assert {path: found["hidden"] for path, found in record["leaks"].items() if "hidden" in found} == {}
    page = batch["workspace"] / "feedback" / "correct" / LECTURE / course_path(LECTURE).with_suffix(".html").name
    assert "Hidden test of dense_backward" in page.read_text()


def test_export_and_report(batch, tmp_path):
    """Does export write one row per student and lecture with the JSON's score and flags, and the report count
    students and passes per exercise?"""
    workspace = batch["workspace"]
    out = tmp_path / "grades.csv"
    proc = _run_bplab("export", str(out), "--workspace", str(workspace), "--root", str(REPO))
    assert proc.returncode == 0, proc.stderr
    rows = {(r["lecture"], r["student"]): r for r in csv.DictReader(out.open())}
    assert set(rows) == set(batch["results"])
    for key, result in batch["results"].items():
        assert float(rows[key]["score"]) == result["score"], key
        assert rows[key]["flagged"] == str(result["flagged"])
        assert rows[key]["needs_manual_grading"] in ("True", "False")
    proc = _run_bplab("report", "--json", "--workspace", str(workspace), "--root", str(REPO))
    assert proc.returncode == 0, proc.stderr
    report = {(row["lecture"], row["exercise"]): row for row in json.loads(proc.stdout)}
    lecture_04 = results_by_student(batch["record"], LECTURE)
    dense_failures = [s for s, r in lecture_04.items()
                      if any(t["exercise"] == "dense_backward" and not t["passed"] for t in r["tests"])]
    assert report[LECTURE, "dense_backward"]["students"] == len(lecture_04)
    assert report[LECTURE, "dense_backward"]["passed"] == len(lecture_04) - len(dense_failures)


# ---------------------------------------------------------------------------------------
# The session's one `bplab grade` batch (tests/grading_batch.py) over every lecture's plan (tests/grading_plan.py).

@pytest.fixture(scope="module")
def graded(graded_batch):
    """{(lecture, student): result} of every lecture's planned submissions."""
    assert graded_batch["returncode"] == 0, graded_batch["stderr"][-4000:]
    return {(lecture, student): result for lecture in PLAN
            for student, result in results_by_student(graded_batch, lecture).items() if student in PLAN[lecture]}


@pytest.mark.parametrize("lecture", list(SPECS))
def test_bplab_grade_gives_the_correct_submission_full_marks(lecture, graded):
    """Does `bplab grade` grade every planned submission, and give the catalog's correct answers every
    auto-graded point on every exercise, and flag nothing?"""
    assert {student for lec, student in graded if lec == lecture} == set(PLAN[lecture])  # graded, none missing
    correct = graded[lecture, "correct"]
    assert correct["status"] == "graded"
    assert correct["flag_reasons"] == [] and correct["flagged"] is False
    assert all(t["passed"] and t["diagnosis"] is None for t in correct["tests"]), correct["tests"]
    assert correct["score"] == correct["max_score"] == sum(t["max_score"] for t in correct["tests"]) > 0
    assert {t["exercise"] for t in correct["tests"]} == set(SPECS[lecture].signatures)


@pytest.mark.parametrize("lecture", list(SPECS))
def test_bplab_grade_names_each_typical_mistake_and_takes_only_its_points(lecture, graded):
    """Does every wrong answer get its expected diagnosis on its exercise's visible and hidden tests, scoring 0
    there, the exercises calling it pass or score 0 (keep their points, naming the helper, where the spec
    says), every other test keep its points, and the total lose exactly the failed tests' points?"""
    spec, users = SPECS[lecture], callers(lecture)
    full = graded[lecture, "correct"]["max_score"]
    for student, variants in PLAN[lecture].items():
        if not variants:
            continue
        result = graded[lecture, student]
        expected = {v.exercise: v.expected_diagnosis for v in variants}
        caller_of = {user: e for e in expected for user in users[e]}
        by_exercise = {}
        for test in result["tests"]:
            by_exercise.setdefault(test["exercise"], []).append(test)
            name = test["exercise"]
            if name in expected:
                assert (test["passed"], test["score"], test["diagnosis"]) == (False, 0, expected[name]), (student, test)
            elif name in caller_of:
                wrong = caller_of[name]
                # A caller right given a correct helper keeps its points; the spec names callers that must.
                if name in spec.credited_callers.get(wrong, ()):
                    assert test["passed"] and f"calls your `{wrong}`" in test["message"], (student, test)
                assert test["passed"] or test["score"] == 0, (student, test)
            else:
                assert test["passed"] and test["score"] == test["max_score"], (student, test)
        assert all(len(by_exercise[e]) == 2 for e in expected), (student, result["tests"])
        lost = sum(t["max_score"] - t["score"] for t in result["tests"])
        assert lost == sum(t["max_score"] for t in result["tests"] if not t["passed"]) > 0
        assert result["max_score"] == full and result["score"] == pytest.approx(full - lost), student
