"""`bplab grade` end to end on the real lecture 04 notebook: real nbgrader, real kernels.

One batch of submissions (built from the answer catalog, backproplab/grading/samples) is graded
once with ``--workers 2``; the tests assert over its JSON, the gradebook, the feedback HTML,
the CSV export and the class report. Scenario names say what each submission is.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from filelock import FileLock

from backproplab.grading.notebooks import read_notebook
from backproplab.grading.redact import is_hidden_test_source, leaked_lines, secret_lines
from backproplab.grading.submissions import build_submission, write_notebook
from catalog_helpers import catalog
from cli_command import bplab_command

REPO = Path(__file__).resolve().parents[1]
LECTURE = "04-backprop"
SOURCE = REPO / "solutions" / LECTURE / "backprop.ipynb"
CATALOG = catalog(LECTURE)
pytestmark = pytest.mark.slow


def _variant(exercise, name):
    (found,) = [v for v in CATALOG.VARIANTS if v.exercise == exercise and v.name == name]
    return found


# A model_backward that does not call dense_backward: rides along every wrong dense_backward so
# that the wrong exercise is the only one that can lose points.
INDEPENDENT_MODEL_BACKWARD = _variant("model_backward", "derivative-from-cached-output")


@dataclass
class Scenario:
    """One submission: answers swapped in from the catalog, an optional notebook edit, what to expect."""
    student: str
    variants: list = field(default_factory=list)   # catalog Variants replacing correct answers
    extra: dict = field(default_factory=dict)       # exercise -> source prepended to its answer
    edit: object = None                             # callable(nb) applied after filling answers
    broken_exercise: str | None = None              # the exercise that must lose its points
    diagnosis: str | None = None                    # ... with this diagnosis
    flagged: bool | None = None                     # None: not asserted
    status: str | None = "graded"                   # None: not asserted
    disables_later_checks: bool = False             # every test from broken_exercise's on: tampering


def _wrong(variant, *riders):
    extra = [INDEPENDENT_MODEL_BACKWARD] if variant.exercise == "dense_backward" else []
    return Scenario(f"wrong-{variant.exercise}-{variant.name}".replace("/", "-"), [variant, *extra, *riders],
                    broken_exercise=variant.exercise, diagnosis=variant.expected_diagnosis)


def _one_wrong_per_diagnosis():
    """One catalog variant per diagnosis, preferring dense_backward (nothing else calls it once
    model_backward is the independent variant) so that exactly one exercise breaks."""
    chosen = {}
    for v in sorted(CATALOG.VARIANTS, key=lambda v: v.exercise != "dense_backward"):
        if v.expected_diagnosis and not v.sandbox_only and v.expected_diagnosis not in chosen:
            chosen[v.expected_diagnosis] = v
    return list(chosen.values())


CORRECT_RIDERS = [_variant(e, n) for e, n in [
    ("binary_cross_entropy", "clip-then-mean"), ("update_parameters", "copy-then-subtract-in-place"),
    ("gradient_check", "own-central-differences"), ("torch_gradients", "nn-functional-linear")]]
DENSE_RIDERS = [_variant("dense_backward", n) for n in ("einsum", "explicit-loops", "float32", "np.dot-and-np.transpose")]


def _scenarios_wrong():
    scenarios = []
    dense_riders = iter(DENSE_RIDERS)
    other_riders = iter(CORRECT_RIDERS)
    for v in _one_wrong_per_diagnosis():
        if v.exercise == "dense_backward":
            rider = next(other_riders, None)
        else:
            rider = next(dense_riders, None)
        scenarios.append(_wrong(v, *([rider] if rider else [])))
    return scenarios


def _delete_and_edit_tests(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_dense_backward_hidden"]
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id") == "test_dense_backward":
            cell.source = "pass  # nothing to see"
        if meta.get("grade_id") == "test_update_parameters":
            meta["points"] = 100


WRONG_DENSE = _variant("dense_backward", "dW-transposed")
INPUT_TRANSFORMER = '''\
try:
    get_ipython().input_transformers_post.append(
        lambda lines: [l.replace("check(", "(lambda *a, **k: None)(") for l in lines])
except NameError:
    pass
'''
PATCH_CHECKS = '''\
import backproplab.checks.core as _core
_core.evaluate = lambda exercise, cases, outcome_for, *, seed, hidden: _core.Verdict(
    exercise.name, hidden, True, None, "ok", seed)
check = lambda *args, **kwargs: None
'''
SNOOP = """\
import glob, os
for pattern in ["../../../gradebook.db", "../../../*/*/*", "../../../../*/*", "@REPO@/solutions/04-backprop/*.ipynb",
                "@REPO@/autograder/*", "../../../../../*/*"]:
    try:
        for found in glob.glob(pattern)[:20]:
            print(found, open(found, "rb").read().decode("latin-1") if os.path.isfile(found) else "")
    except Exception as err:
        print(pattern, err)
""".replace("@REPO@", str(REPO))
WARNS = '''\
import warnings
warnings.warn("a harmless warning from the answer cell")
'''


def _scenarios_tampering():
    def cheat(name, prefix, **kw):
        return Scenario(name, [WRONG_DENSE, INDEPENDENT_MODEL_BACKWARD], extra={"dense_backward": prefix},
                        broken_exercise="dense_backward", diagnosis="transposed", **kw)

    def disables_checks(name, prefix):  # the checks after it never record: every later test is tampering
        return Scenario(name, [WRONG_DENSE, INDEPENDENT_MODEL_BACKWARD], extra={"dense_backward": prefix},
                        broken_exercise="dense_backward", diagnosis="tampering", flagged=True,
                        disables_later_checks=True)

    sandbox = {v.name: v for v in CATALOG.VARIANTS if v.sandbox_only}
    return [
        Scenario("correct", flagged=False),
        Scenario("correct-with-warning", extra={"dense_backward": WARNS}, flagged=False),
        Scenario("submitted-cheat-allclose", [sandbox["patches-allclose"], INDEPENDENT_MODEL_BACKWARD],
                 broken_exercise="dense_backward", diagnosis="missing-mean"),
        disables_checks("submitted-cheat-input-transformer", INPUT_TRANSFORMER),
        disables_checks("submitted-cheat-patched-checks", PATCH_CHECKS),
        cheat("submitted-tests-deleted-edited-points", "", edit=_delete_and_edit_tests, flagged=True),
        Scenario("submitted-snoops-gradebook-and-solutions", extra={"dense_backward": SNOOP}),
        Scenario("submitted-sys-exit", [sandbox["sys-exit"], INDEPENDENT_MODEL_BACKWARD],
                 broken_exercise="dense_backward", diagnosis="crash", status=None),
        Scenario("submitted-os-exit", [sandbox["os-exit"], INDEPENDENT_MODEL_BACKWARD],
                 broken_exercise="dense_backward", diagnosis="crash", flagged=True, status="kernel-died"),
        Scenario("wrong-helper-right-caller", [WRONG_DENSE], broken_exercise="dense_backward", diagnosis="transposed",
                 flagged=False),
        Scenario("wrong-helper-wrong-caller", [WRONG_DENSE, _variant("model_backward", "derivative-at-A")],
                 broken_exercise="dense_backward", diagnosis="transposed", flagged=False),
        Scenario("submitted-endless-loop-ignoring-sigint",
                 [sandbox["endless-loop-ignoring-sigint"], INDEPENDENT_MODEL_BACKWARD],
                 broken_exercise="dense_backward", diagnosis="timeout", status=None),
        Scenario("submitted-memory-bomb", [sandbox["memory-bomb"], INDEPENDENT_MODEL_BACKWARD],
                 broken_exercise="dense_backward", diagnosis="crash", status=None),
    ]


SCENARIOS = _scenarios_tampering() + _scenarios_wrong()
UNREADABLE = "submitted-unreadable-json"
COURSE_SECRET = "0123456789abcdef" * 4


def _answers(scenario):
    answers = dict(CATALOG.ANSWERS)
    for v in scenario.variants:
        answers[v.exercise] = v.source
    for exercise, prefix in scenario.extra.items():
        answers[exercise] = prefix + answers[exercise]
    return answers


def _run_bplab(*args, timeout=1500):
    proc = subprocess.run(bplab_command(*args), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
    return proc


@pytest.fixture(scope="session")
def batch(tmp_path_factory):
    """The whole batch graded once (shared by xdist workers through a lock and a JSON file):
    dict with results by student, the workspace path, exit code and stderr."""
    base = tmp_path_factory.getbasetemp()
    # xdist workers' base temps are folders of this session's base temp: share that one
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "bplab-grading-batch"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / "lock")):
        done = shared / "batch.json"
        if not done.exists():
            workspace, folder = shared / "autograder", shared / "submissions"
            folder.mkdir(exist_ok=True)
            released = read_notebook(REPO / "course" / LECTURE / "backprop.ipynb")
            for scenario in SCENARIOS:
                nb = build_submission(released, _answers(scenario), edit=scenario.edit)
                write_notebook(nb, folder / f"{scenario.student}.ipynb")
            (folder / f"{UNREADABLE}.ipynb").write_text('{"cells": [')
            workspace.mkdir()
            (workspace / ".bplab-secret").write_text(COURSE_SECRET)  # fixed seeds: a replayable batch
            proc = _run_bplab("grade", str(folder), "--json", "--workers", "2", "--workspace", str(workspace),
                              "--root", str(REPO), "--cell-timeout", "10", "--kernel-cpu-seconds", "30")  # as test_attacks.py
            done.write_text(json.dumps({"returncode": proc.returncode, "stdout": proc.stdout,
                                        "stderr": proc.stderr, "workspace": str(workspace)}))
    data = json.loads(done.read_text())
    assert data["returncode"] == 0, data["stderr"][-3000:]
    results = {r["student"]: r for r in json.loads(data["stdout"])}
    return {"results": results, "workspace": Path(data["workspace"])}


def _source_points():
    points = {}
    for cell in read_notebook(SOURCE).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            points[meta["grade_id"]] = float(meta["points"])
    return points


def _callers(answers, exercise):
    """Exercises whose answer source calls ``exercise``, transitively."""
    found, frontier = set(), {exercise}
    while frontier:
        name = frontier.pop()
        for other, source in answers.items():
            if other not in found and other != exercise and re.search(rf"\b{name}\(", source):
                found.add(other)
                frontier.add(other)
    return found


def test_grade_every_submission_graded(batch):
    """Is every submission in the batch graded, with one test entry per test cell and the DESIGN.md fields?"""
    results = batch["results"]
    assert set(results) == {s.student for s in SCENARIOS} | {UNREADABLE}
    points = _source_points()
    for result in results.values():
        assert {"student", "lecture", "score", "max_score", "flagged", "status", "tests"} <= set(result)
        assert result["lecture"] == LECTURE
        assert [t["grade_id"] for t in result["tests"]] == list(points)
        assert result["max_score"] == sum(points.values())
        for test in result["tests"]:
            assert {"grade_id", "exercise", "score", "max_score", "passed", "diagnosis", "message"} <= set(test)
            assert (test["diagnosis"] is None) == test["passed"]


def test_grade_correct_submission_full_marks(batch):
    """Does the catalog's correct submission get full marks, unflagged?"""
    result = batch["results"]["correct"]
    assert result["score"] == result["max_score"] > 0
    assert not result["flagged"] and result["status"] == "graded"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.student)
def test_grade_scenario(batch, scenario):
    """Does each submission lose exactly the points of the exercise it breaks, with its expected
    diagnosis, and keep every point of the exercises written correctly (also when written differently)?"""
    result = batch["results"][scenario.student]
    answers = _answers(scenario)
    if scenario.disables_later_checks:
        first = next(i for i, t in enumerate(result["tests"]) if t["exercise"] == scenario.broken_exercise)
        assert all(t["passed"] for t in result["tests"][:first])
        assert all(t["score"] == 0 for t in result["tests"][first:])  # some no longer even define their function
        assert {t["diagnosis"] for t in result["tests"] if t["exercise"] == scenario.broken_exercise} == {"tampering"}
        assert result["flagged"] is True
        return
    broken = {scenario.broken_exercise} | _callers(answers, scenario.broken_exercise) if scenario.broken_exercise else set()
    for test in result["tests"]:
        if test["exercise"] == scenario.broken_exercise:
            assert test["score"] == 0 and test["diagnosis"] == scenario.diagnosis, test
        elif test["exercise"] not in broken:
            assert test["score"] == test["max_score"], test
    if broken == {scenario.broken_exercise} or not broken:
        lost = sum(t["max_score"] for t in result["tests"] if t["exercise"] == scenario.broken_exercise)
        assert result["score"] == result["max_score"] - lost
    if scenario.flagged is not None:
        assert result["flagged"] == scenario.flagged, result.get("flag_reasons")
    if scenario.status is not None:
        assert result["status"] == scenario.status


def test_grade_one_mistake_costs_one_exercise(batch):
    """With a transposed dense_backward, does model_backward (right given a correct dense_backward)
    keep its points and say why, while a wrong model_backward beside it still loses its own?"""
    right_caller = {t["grade_id"]: t for t in batch["results"]["wrong-helper-right-caller"]["tests"]}
    wrong_caller = {t["grade_id"]: t for t in batch["results"]["wrong-helper-wrong-caller"]["tests"]}
    for grade_id in ("test_model_backward", "test_model_backward_hidden", "test_train_two_layer"):
        assert right_caller[grade_id]["passed"], right_caller[grade_id]["message"]
    assert "calls your `dense_backward`, which is wrong" in right_caller["test_model_backward"]["message"]
    assert wrong_caller["test_model_backward"]["diagnosis"] == "derivative-at-output"
    assert wrong_caller["test_model_backward"]["score"] == 0


def test_grade_wrong_submissions_cover_fifteen_diagnoses():
    """Does the batch hold at least 15 wrong submissions with distinct diagnoses and 6 differently
    written correct answers?"""
    wrong = _scenarios_wrong()
    assert len({s.diagnosis for s in wrong}) == len(wrong) >= 15
    riders = {(v.exercise, v.name) for s in SCENARIOS for v in s.variants if v.expected_diagnosis is None}
    assert len(riders) >= 6


def test_grade_tampering_is_flagged_with_reasons(batch):
    """Are deleted/edited test cells and edited points named in the flag reasons, and max_score unchanged?"""
    result = batch["results"]["submitted-tests-deleted-edited-points"]
    reasons = "\n".join(result["flag_reasons"])
    assert "cell test_dense_backward_hidden deleted" in reasons
    assert "locked cell test_dense_backward edited" in reasons
    assert "points of test_update_parameters changed from 1 to 100" in reasons
    assert result["max_score"] == sum(_source_points().values())


def test_grade_deleted_test_cell_restored(batch):
    """Did nbgrader put the deleted hidden test back (and the edited one's source) before running them?"""
    autograded = batch["workspace"] / "autograded" / "submitted-tests-deleted-edited-points" / LECTURE / "backprop.ipynb"
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in read_notebook(autograded).cells if "nbgrader" in c.metadata}
    assert 'check("dense_backward", dense_backward, hidden=True)' in cells["test_dense_backward_hidden"].source
    assert cells["test_dense_backward"].source == 'check("dense_backward", dense_backward)'


def test_grade_unreadable_submission_scores_zero_with_reason(batch):
    """Is a notebook that is not valid JSON graded 0 with a reason, without stopping the batch?"""
    result = batch["results"][UNREADABLE]
    assert result["score"] == 0 and result["status"] == "unreadable" and result["flagged"]
    assert all(t["diagnosis"] == "crash" and "cannot be read" in t["message"] for t in result["tests"])


def test_grade_kernel_never_saw_instructor_files(batch):
    """Did the snooping answer cell find neither the gradebook's contents nor solutions/ (no hidden
    test source, which both hold, in its outputs)?"""
    autograded = batch["workspace"] / "autograded" / "submitted-snoops-gradebook-and-solutions" / LECTURE / "backprop.ipynb"
    nb = read_notebook(autograded)
    hidden = [c.source for c in read_notebook(SOURCE).cells if is_hidden_test_source(c.source)]
    lines = secret_lines(hidden, [c.source for c in read_notebook(REPO / "course" / LECTURE / "backprop.ipynb").cells])
    outputs = json.dumps([c.get("outputs", []) for c in nb.cells if not is_hidden_test_source(c.source)])
    assert lines and not [line for line in lines if line in outputs]


def test_grade_final_scores_in_gradebook(batch):
    """Are the scores in nbgrader's gradebook the outside verdicts (not the kernel's), per cell?"""
    from nbgrader.api import Gradebook
    results = batch["results"]
    with Gradebook(f"sqlite:///{batch['workspace'] / 'gradebook.db'}") as gb:
        for student in ("correct", "submitted-cheat-patched-checks", "submitted-cheat-input-transformer"):
            notebook = gb.find_submission_notebook("backprop", LECTURE, student)
            stored = {g.name: g.auto_score for g in notebook.grades}
            assert stored == {t["grade_id"]: t["score"] for t in results[student]["tests"]}


def test_feedback_has_no_hidden_test_source(batch):
    """Does `bplab feedback` write one page per submission with no hidden-test source or traceback?"""
    workspace = batch["workspace"]
    proc = _run_bplab("feedback", "--workspace", str(workspace), "--root", str(REPO))
    assert proc.returncode == 0, proc.stderr[-3000:]
    pages = sorted((workspace / "feedback").glob(f"*/{LECTURE}/*.html"))
    assert len(pages) == len(batch["results"]) - 1  # all but the unreadable notebook
    hidden = [c.source for c in read_notebook(SOURCE).cells if is_hidden_test_source(c.source)]
    lines = secret_lines(hidden, [c.source for c in read_notebook(REPO / "course" / LECTURE / "backprop.ipynb").cells])
    for page in pages:
        text = page.read_text()
        assert leaked_lines(text, lines) == [], page
        assert "Hidden test of dense_backward" in text


def test_export_and_report(batch, tmp_path):
    """Does export write one row per student with flagged/needs_manual_grading, and the report count diagnoses?"""
    workspace = batch["workspace"]
    out = tmp_path / "grades.csv"
    proc = _run_bplab("export", str(out), "--workspace", str(workspace), "--root", str(REPO))
    assert proc.returncode == 0, proc.stderr
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == set(batch["results"])
    for student, result in batch["results"].items():
        assert float(rows[student]["score"]) == result["score"]
        assert rows[student]["flagged"] == str(result["flagged"])
        assert rows[student]["needs_manual_grading"] in ("True", "False")
    proc = _run_bplab("report", "--json", "--workspace", str(workspace), "--root", str(REPO))
    assert proc.returncode == 0, proc.stderr
    report = {row["exercise"]: row for row in json.loads(proc.stdout)}
    dense_failures = [s for s, r in batch["results"].items()
                      if any(t["exercise"] == "dense_backward" and not t["passed"] for t in r["tests"])]
    assert report["dense_backward"]["students"] == len(batch["results"])
    assert report["dense_backward"]["passed"] == len(batch["results"]) - len(dense_failures)
