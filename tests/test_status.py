"""`bplab status` (backproplab/grading/status.py) on a real workspace gradebook, and the refusal of a
gradebook that belongs to another course (Workspace.check_gradebook) by every command that opens it."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from backproplab.checks import Verdict
from backproplab.cli import main
from backproplab.grading.batch import make_tasks, write_final_scores
from backproplab.grading.contract import GradingResult
from backproplab.grading.feedback import remember_feedback_scores
from backproplab.grading.intake import Submission
from backproplab.grading.notebooks import read_notebook
from backproplab.grading.settings import course_settings
from backproplab.grading.status import format_status, workspace_status
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.workspace import ForeignGradebook, Workspace
from cli_command import bplab_command
from notebook_factory import UNITS_LECTURE, UNITS_NOTEBOOK, units_repository

LECTURE = UNITS_LECTURE
NOTEBOOK = UNITS_NOTEBOOK


@pytest.fixture
def root(tmp_path):
    """A repository root with one lecture: a test per exercise and an explain-in-your-own-words cell (manual)."""
    return units_repository(tmp_path)


def _cli(root, workspace, *args):
    return subprocess.run(bplab_command(*args, "--root", str(root), "--workspace", str(workspace)),
                          capture_output=True, text=True, timeout=300)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- an empty workspace

@pytest.mark.slow
def test_status_of_a_new_workspace_says_nothing_is_submitted(root, tmp_path):
    """Does `bplab status` (a process of its own) on a new workspace say nothing is submitted and exit 0,
    create no gradebook, and give zero of everything as JSON?"""
    workspace = tmp_path / "ws"
    proc = _cli(root, workspace, "status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("nothing submitted yet")
    assert not (workspace / "gradebook.db").exists()
    (row,) = json.loads(_cli(root, workspace, "status", "--json").stdout)["lectures"]
    assert row["lecture"] == LECTURE and not row["needs_preparing"]
    assert all(value == [] for key, value in row.items() if key not in ("lecture", "needs_preparing"))


def test_status_of_an_unknown_lecture_exits_2(root, tmp_path, capsys):
    """Is a lecture the repository does not have a usage error of `bplab status`?"""
    assert main(["status", "08-rnn", "--root", str(root), "--workspace", str(tmp_path / "ws")]) == 2
    assert capsys.readouterr().err == f"bplab status: unknown lecture '08-rnn' (known: {LECTURE})\n"


# ---------------------------------------------------------------- a gradebook of another course

@pytest.fixture(scope="module")
def foreign_gradebook(tmp_path_factory):
    """foreign_gradebook(workspace_path, course_id, assignment) -> path of a gradebook.db made by nbgrader's
    Gradebook API holding ``assignment`` of ``course_id``; each kind is made once (nbgrader runs alembic,
    seconds) and copied."""
    from nbgrader.api import Gradebook

    from backproplab.grading.release import ensure_scripts_on_path

    made = {}

    def make(workspace_path, course_id, assignment):
        if (course_id, assignment) not in made:
            ensure_scripts_on_path()  # nbgrader runs `alembic` to create a gradebook
            original = tmp_path_factory.mktemp("gradebook") / "gradebook.db"
            with Gradebook(f"sqlite:///{original}", course_id=course_id) as gb:
                gb.add_assignment(assignment)
                gb.add_student("ann")
            made[course_id, assignment] = original
        workspace_path.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(made[course_id, assignment], workspace_path / "gradebook.db"))
    return make


@pytest.mark.parametrize("command", [["status"], ["export", "grades.csv"], ["feedback"], ["grade", "submitted"],
                                     ["report"]])
@pytest.mark.slow
def test_commands_refuse_a_gradebook_of_another_course_id(root, tmp_path, command, capsys, monkeypatch,
                                                          foreign_gradebook):
    """Does every command that opens the gradebook refuse one whose assignment belongs to another course id
    (exit 2, one line naming the gradebook, what it holds and what was expected) and leave it unchanged?"""
    monkeypatch.chdir(tmp_path)
    gradebook = foreign_gradebook(tmp_path / "ws", "nn-2025", LECTURE)
    before = _digest(gradebook)
    assert main([*command, "--root", str(root), "--workspace", str(tmp_path / "ws")]) == 2
    err = capsys.readouterr().err
    assert err == (f"bplab {command[0]}: {gradebook} belongs to another course: it holds {LECTURE} (course 'nn-2025'), "
                   f"but this workspace has no course id (c.CourseDirectory.course_id in {tmp_path / 'ws'}/nbgrader_config.py); "
                   f"nothing was written to it\n")
    assert _digest(gradebook) == before and not (tmp_path / "grades.csv").exists()


@pytest.mark.slow
def test_cli_status_refuses_a_gradebook_of_assignments_that_are_no_lectures(root, tmp_path, foreign_gradebook):
    """Does `bplab status` (a process of its own) refuse a gradebook holding an assignment this repository has no
    lecture of, even under the workspace's course id, naming it and the lectures expected?"""
    gradebook = foreign_gradebook(tmp_path / "ws", "", "hw1-regression")
    before = _digest(gradebook)
    proc = _cli(root, tmp_path / "ws", "status")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"bplab status: {gradebook} holds assignments hw1-regression, which are not lectures of "
                           f"{root} (expected only {LECTURE}): is it another course's gradebook? nothing was written to it\n")
    assert _digest(gradebook) == before


@pytest.mark.slow
def test_a_gradebook_of_the_workspace_s_own_course_id_is_accepted(root, tmp_path, foreign_gradebook):
    """Is a gradebook whose assignments carry the course id set in the workspace's nbgrader_config.py accepted,
    and the same gradebook refused by a workspace without that course id?"""
    foreign_gradebook(tmp_path / "ws", "nn-2026", LECTURE)
    ws = Workspace(tmp_path / "ws", root)
    with pytest.raises(ForeignGradebook, match="it holds 99-units \\(course 'nn-2026'\\), but this workspace has no course id"):
        ws.check_gradebook()
    config = ws.path / "nbgrader_config.py"
    config.write_text(config.read_text() + "get_config().CourseDirectory.course_id = 'nn-2026'\n")
    assert ws.course_id() == "nn-2026"
    ws.check_gradebook()
    assert main(["status", "--root", str(root), "--workspace", str(ws.path)]) == 0


# ---------------------------------------------------------------- a class in progress (real nbgrader)

def _graded(student, digest, flag_reasons=()):
    verdicts = [Verdict("double", False, True, None, "ok", grade_id="test_double", points=1.0),
                Verdict("double", True, False, "transposed", "m", grade_id="test_double_hidden", points=2.0)]
    return GradingResult(student, LECTURE, "graded", verdicts, list(flag_reasons), manual_max_score=1.0,
                         digest=digest, grader_version="v")


@pytest.mark.slow
def test_status_counts_and_names_each_student_s_state(root, tmp_path):
    """On a real gradebook (nbgrader generate_assignment, then grades written as `bplab grade` writes them): are
    submitted, graded, out of date (the notebook changed after grading), flagged, needing manual grading (until
    the explanation is graded by hand), with feedback, not graded and ungradable students counted and named,
    a renamed notebook noted, and a folder of a lecture the repository lacks listed?"""
    from nbgrader.api import Gradebook

    ws = Workspace(tmp_path / "ws", root)
    ws.ensure_assignment(LECTURE)
    submitted = ws.path / "submitted"
    released = ws.release_notebook(LECTURE)
    paths = {}
    for student, name in [("ann", NOTEBOOK), ("bob", NOTEBOOK), ("cid", NOTEBOOK), ("eve", "Copy of units.ipynb")]:
        paths[student] = submitted / student / LECTURE / name
        paths[student].parent.mkdir(parents=True)
        write_notebook(build_submission(released), paths[student])
    for name in ("a.ipynb", "b.ipynb"):  # dan's folder is ambiguous
        (submitted / "dan" / LECTURE).mkdir(parents=True, exist_ok=True)
        write_notebook(build_submission(released), submitted / "dan" / LECTURE / name)
    (submitted / "fay" / "08-rnn").mkdir(parents=True)
    write_notebook(build_submission(released), submitted / "fay" / "08-rnn" / "rnn.ipynb")

    settings = course_settings(ws)  # what a plain `bplab grade` uses
    tasks, _ = make_tasks(ws, [Submission(s, LECTURE, paths[s]) for s in ("ann", "bob", "eve")], settings)
    for task in tasks:
        write_final_scores(ws, _graded(task.student, task.digest, ["cell test_double deleted"] if task.student == "eve" else []))
    write_notebook(build_submission(released, {"double": "def double(x):\n    return x + x"}), paths["bob"])
    with Gradebook(ws.db_url) as gb:  # ann's explanation graded by hand, as in formgrader
        grade = gb.find_grade("explain_double", "units", LECTURE, "ann")
        grade.manual_score, grade.needs_manual_grade = 1.0, False
        gb.db.commit()
    (ws.path / "feedback" / "ann" / LECTURE).mkdir(parents=True)
    (ws.path / "feedback" / "ann" / LECTURE / "units.html").write_text("<html></html>")

    (row,) = workspace_status(ws)["lectures"]
    assert row == {
        "lecture": LECTURE, "submitted": ["ann", "bob", "cid", "dan", "eve"], "graded": ["ann", "bob", "eve"],
        "out_of_date": ["bob"], "flagged": ["eve"], "needs_manual_grading": ["bob", "eve"], "feedback": ["ann"],
        "not_graded": ["cid", "dan"], "stale_feedback": [],
        "cannot_grade": [f"submitted/dan/{LECTURE}: not graded: 2 notebooks, none named units.ipynb ('a.ipynb', "
                         f"'b.ipynb'); keep one, or name the one to grade units.ipynb"],
        "notes": ["eve: submitted as 'Copy of units.ipynb', not units.ipynb"], "needs_preparing": False}
    table = format_status(workspace_status(ws))
    assert table.splitlines()[1].split() == [LECTURE, "5", "3", "1", "1", "2", "1"]

    # ann's page shows her score; then her explanation is graded again by hand: her page is stale.
    remember_feedback_scores(ws, [("ann", LECTURE)])
    assert workspace_status(ws)["lectures"][0]["stale_feedback"] == []
    with Gradebook(ws.db_url) as gb:
        grade = gb.find_grade("explain_double", "units", LECTURE, "ann")
        grade.manual_score = 0.5
        gb.db.commit()
    assert workspace_status(ws)["lectures"][0]["stale_feedback"] == ["ann"]
    assert "  feedback older than the grade (run `bplab feedback`) (1): ann" in format_status(workspace_status(ws))
    for line in ("  submitted, not graded (2): cid, dan", "  out of date (run `bplab grade`) (1): bob",
                 "  needs manual grading (`bplab formgrader`) (2): bob, eve",
                 f"  submitted/fay/08-rnn: not graded: '08-rnn' is not a lecture of this repository ({LECTURE})"):
        assert line in table.splitlines()
    proc = _cli(root, ws.path, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(json.dumps(workspace_status(ws)))


@pytest.mark.slow
def test_status_never_generates_a_lecture_whose_solutions_changed(root, tmp_path, monkeypatch):
    """When the solutions notebook changes after grading, does `bplab status` count the grade out of date and say
    the lecture needs preparing, without generating it again (nbgrader's generate_assignment never called; its
    release, template and stamp untouched)?"""
    ws = Workspace(tmp_path / "ws", root)
    ws.ensure_assignment(LECTURE)
    path = ws.path / "submitted" / "ann" / LECTURE / NOTEBOOK
    path.parent.mkdir(parents=True)
    write_notebook(build_submission(ws.release_notebook(LECTURE)), path)
    (task,), _ = make_tasks(ws, [Submission("ann", LECTURE, path)], course_settings(ws))
    write_final_scores(ws, _graded("ann", task.digest))
    assert workspace_status(ws)["lectures"][0]["out_of_date"] == []
    prepared = {p: p.stat().st_mtime_ns for p in (ws.path / ".bplab").rglob("*") if p.is_file()}
    prepared[ws.release_notebook_path(LECTURE)] = ws.release_notebook_path(LECTURE).stat().st_mtime_ns
    source = root / "solutions" / LECTURE / NOTEBOOK
    source.write_text(source.read_text().replace("Explain in your own words.", "Explain it in your own words."))

    def generating(*args, **kwargs):
        raise AssertionError("bplab status ran nbgrader's generate_assignment")

    monkeypatch.setattr("backproplab.grading.workspace.generate_assignments", generating)
    (row,) = workspace_status(ws)["lectures"]
    assert row["out_of_date"] == ["ann"] and row["needs_preparing"]
    assert "  its solutions changed since it was prepared: every grade is out of date (`bplab grade` prepares it " \
           "again)" in format_status(workspace_status(ws)).splitlines()
    assert {p: p.stat().st_mtime_ns for p in prepared} == prepared


@pytest.mark.slow
def test_manual_points_are_visible_until_graded_by_hand(tmp_path):
    """Lecture 04 graded for real, with one written answer filled in and one left as released: does the grade table
    show the 2 points still to grade by hand, the blank answer score 0 at once, `bplab feedback` refuse while points
    wait (and write the pages with --before-manual-grading), and `bplab status` call the page stale once the written
    answer is graded by hand?"""
    from nbgrader.api import Gradebook

    from catalog_helpers import catalog

    repo = Path(__file__).resolve().parents[1]
    ws = Workspace(tmp_path / "ws", repo)
    path = ws.path / "submitted" / "ann" / "04-backprop" / "backprop.ipynb"
    path.parent.mkdir(parents=True)

    def explain_one(nb):
        (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "explain_bias_gradient"]
        cell.source = "Every example adds to the same bias, so dB sums dz over the batch."
    released = read_notebook(repo / "course" / "04-backprop" / "backprop.ipynb")
    write_notebook(build_submission(released, catalog("04-backprop").ANSWERS, edit=explain_one), path)

    graded = _cli(repo, ws.path, "grade", str(ws.path / "submitted"))
    assert graded.returncode == 0, graded.stderr[-3000:]
    (line,) = [line for line in graded.stdout.splitlines() if line.startswith("ann")]
    assert "(+2 to grade by hand: bplab formgrader)" in line, graded.stdout
    with Gradebook(ws.db_url) as gb:
        blank = gb.find_grade("explain_gradient_check", "backprop", "04-backprop", "ann")
        written = gb.find_grade("explain_bias_gradient", "backprop", "04-backprop", "ann")
        assert (blank.auto_score, blank.needs_manual_grade) == (0.0, False)
        assert written.needs_manual_grade

    refused = _cli(repo, ws.path, "feedback", "04-backprop")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.startswith("bplab feedback: 1 student(s) have written answers not graded by hand yet (ann; "
                                     "2 points in all)"), refused.stderr
    assert "--before-manual-grading" in refused.stderr and not (ws.path / "feedback").exists()
    written_anyway = _cli(repo, ws.path, "feedback", "04-backprop", "--before-manual-grading")
    assert written_anyway.returncode == 0, written_anyway.stderr[-3000:]
    (row,) = workspace_status(ws, ["04-backprop"])["lectures"]
    assert row["feedback"] == ["ann"] and row["stale_feedback"] == [] and row["needs_manual_grading"] == ["ann"]

    with Gradebook(ws.db_url) as gb:  # as formgrader saves a score
        grade = gb.find_grade("explain_bias_gradient", "backprop", "04-backprop", "ann")
        grade.manual_score, grade.needs_manual_grade = 2.0, False
        gb.db.commit()
    status = _cli(repo, ws.path, "status", "04-backprop")
    assert status.returncode == 0, status.stderr
    assert "  feedback older than the grade (run `bplab feedback`) (1): ann" in status.stdout.splitlines()


def test_class_report_counts_mistakes_not_missing_work_in_the_lecture_s_order(tmp_path):
    """Does the class report list lecture 04's exercises in the notebook's order, count not-implemented as not
    tried (no mistake), leave a grader failure out, name the students of each mistake, and show how the scores
    spread?"""
    from backproplab.grading.reports import class_report, format_report, score_distribution
    from backproplab.grading.store import save_result

    repo = Path(__file__).resolve().parents[1]
    ws = Workspace(tmp_path / "ws", repo)

    def result(student, status, dense, bce):
        verdicts = [Verdict("dense_backward", False, dense is None, dense, "m", grade_id="test_dense_backward", points=2.0),
                    Verdict("binary_cross_entropy", False, bce is None, bce, "m", grade_id="test_binary_cross_entropy",
                            points=1.0)]
        return GradingResult(student, "04-backprop", status, verdicts, digest="d", grader_version="v")

    for student, status, dense, bce in [("ann", "graded", None, None), ("bob", "graded", "transposed", None),
                                        ("cid", "graded", "not-implemented", "not-implemented"),
                                        ("dan", "error", "crash", "crash")]:
        save_result(ws.db_path, result(student, status, dense, bce))
    report = class_report(ws)
    assert [row["exercise"] for row in report] == ["binary_cross_entropy", "dense_backward"]  # the notebook's order
    dense = report[1]
    assert (dense["students"], dense["passed"], dense["not_attempted"]) == (3, 1, 1)
    assert dense["common_diagnoses"] == [{"diagnosis": "transposed", "students": 1, "student_ids": ["bob"]}]
    assert report[0]["common_diagnoses"] == [] and report[0]["not_attempted"] == 1
    text = format_report(report, {"04-backprop": [1, 0, 0, 0, 2]})
    assert "transposed (1: bob)" in text and "not-implemented" not in text and "crash" not in text
    assert "   80-100% ## 2" in text.splitlines()
    assert score_distribution(ws) == {"04-backprop": [1, 1, 0, 0, 1]}  # stored scores: 0, 1 and 3 of 3
