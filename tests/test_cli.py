"""`bplab`: every command has --help; `bplab check` is the student's self-check."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from backproplab.checks import get_exercise
from backproplab.cli import build_parser, main
from backproplab.grading.notebooks import read_notebook
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.selfcheck import format_self_check, run_self_check
from cli_command import bplab_command
from notebook_factory import build_notebook, visible_test_cell

REPO = Path(__file__).resolve().parents[1]
COURSE_04 = REPO / "course" / "04-backprop" / "backprop.ipynb"
COMMANDS = ["release", "grade", "status", "feedback", "export", "report", "check", "demo", "binder-badge", "assign",
            "formgrader", "adopt-course-id"]


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_every_command_has_help(command, capsys):
    """Does `bplab <command> --help` exit 0 and describe the command?"""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: bplab {command}" in capsys.readouterr().out


def test_cli_lists_all_commands():
    """Does the parser offer every documented grading command?"""
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(COMMANDS) <= set(subparsers.choices)


def test_cli_missing_command_is_usage_error():
    """Does `bplab` without a command exit 2?"""
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2


def test_cli_check_missing_notebook_exits_2(tmp_path):
    """Does `bplab check` on a missing file exit 2?"""
    assert main(["check", str(tmp_path / "nope.ipynb")]) == 2


@pytest.mark.slow
@pytest.mark.skipif(not COURSE_04.exists(), reason="lecture 04 not released yet")
def test_cli_check_names_the_mistake(tmp_path):
    """Does `bplab check` run a student notebook, report the transposed dW by name and exit 1,
    while the exercises left as stubs are reported as not implemented?"""
    from catalog_helpers import catalog
    answers = catalog("04-backprop").ANSWERS
    wrong = answers["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = A_prev.T @ dz / m")
    assert wrong != answers["dense_backward"]
    notebook = tmp_path / "backprop.ipynb"
    write_notebook(build_submission(read_notebook(COURSE_04), {"binary_cross_entropy": answers["binary_cross_entropy"],
                                                               "dense_backward": wrong}), notebook)
    proc = subprocess.run(bplab_command("check", str(notebook), "--json"), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 1, proc.stderr[-2000:]
    verdicts = {v["exercise"]: v for v in json.loads(proc.stdout)}
    assert verdicts["binary_cross_entropy"]["passed"] is True
    assert verdicts["dense_backward"]["passed"] is False
    assert verdicts["dense_backward"]["diagnosis"] == "transposed"
    nudge = get_exercise("dense_backward").hints["transposed"].nudge
    assert nudge in verdicts["dense_backward"]["message"] and "Step:" not in verdicts["dense_backward"]["message"]
    assert verdicts["update_parameters"]["diagnosis"] == "not-implemented"


def test_self_check_prints_each_rung_of_the_hint_ladder_on_a_line_of_its_own():
    """Does `bplab check`'s text put the observation, the hint and (when shown) the step on lines of their own,
    under the failed exercise's line?"""
    text = format_self_check([
        {"exercise": "dense_backward", "hidden": False, "passed": False, "diagnosis": "transposed",
         "message": "dW is the transpose of the expected result. Hint: Which shape must dW have? Step: Write it down."},
        {"exercise": "binary_cross_entropy", "hidden": False, "passed": True, "diagnosis": None, "message": ""}])
    assert text.splitlines() == [
        "FAIL  dense_backward                   transposed",
        "      dW is the transpose of the expected result.",
        "      Hint: Which shape must dW have?",
        "      Step: Write it down.",
        "PASS  binary_cross_entropy             "]


@pytest.mark.slow
def test_self_check_goes_on_after_a_cell_that_hangs_or_kills_the_kernel(tmp_path):
    """Does the self-check interrupt a cell that outruns its timeout, start a new kernel after one that
    kills it, and still run and report the test cells after both?"""
    notebook = tmp_path / "hostile.ipynb"
    write_notebook(build_notebook([
        visible_test_cell("hang", body="import time\nwhile True:\n    time.sleep(0.05)"),
        visible_test_cell("after_hang", body="assert 1 + 1 == 2"),
        visible_test_cell("exit", body="import os\nos._exit(3)"),
        visible_test_cell("after_exit", body="raise NotImplementedError"),
    ]), notebook)
    verdicts = {v["grade_id"]: v for v in run_self_check(notebook, timeout=5)}
    assert verdicts["test_hang"]["diagnosis"] == "crash"
    assert verdicts["test_hang"]["message"].startswith("CellTimeoutError")
    assert "test_after_hang" not in verdicts  # it passed: a passing cell without a check reports nothing
    assert verdicts["test_exit"]["message"].startswith("DeadKernelError")
    assert verdicts["test_after_exit"]["diagnosis"] == "not-implemented"


# ---------------------------------------------------------------------------------------
# A user's mistake gets one line and a non-zero exit, never a traceback (issue 29, item 4).

def _one_line_error(capsys, argv, code=2):
    """Run `bplab argv` in this process; return its one stderr line (asserting exit ``code`` and no traceback)."""
    try:
        returned = main(argv)
    except SystemExit as exited:
        returned = exited.code
    err = capsys.readouterr().err
    assert returned == code, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("content, reason", [("", "the file is empty"), ("hello\n", "JSON"),
                                             ('{"cells": 1}', "not a Jupyter notebook")])
def test_check_on_a_file_that_is_not_a_notebook_says_so(tmp_path, capsys, content, reason):
    """Does `bplab check` on an empty file, text, or JSON that is no notebook say so in one line, exit 2?"""
    path = tmp_path / "backprop.ipynb"
    path.write_text(content)
    line = _one_line_error(capsys, ["check", str(path)])
    assert line.startswith(f"bplab check: {path} is not a Jupyter notebook") and reason in line


def test_unknown_option_is_named_not_a_missing_command(capsys):
    """Does `bplab --frobnicate` name the unknown option (not "a COMMAND is required"), and `bplab` alone list
    the commands?"""
    assert "unrecognized arguments: --frobnicate" in _one_line_error(capsys, ["--frobnicate"])
    assert "a COMMAND is required, one of: release, grade" in _one_line_error(capsys, [])


def test_feedback_on_an_unknown_lecture_or_before_grading_is_one_line(tmp_path, capsys):
    """Does `bplab feedback 99-nope` name the known lectures, and `bplab feedback` before anything was graded say
    to run `bplab grade` first, each in one line with exit 2?"""
    workspace = ["--workspace", str(tmp_path / "ws"), "--root", str(REPO)]
    line = _one_line_error(capsys, ["feedback", "99-nope", *workspace])
    assert "unknown lecture '99-nope' (known: 01-architecture" in line
    for lectures in ([], ["04-backprop"]):
        line = _one_line_error(capsys, ["feedback", *lectures, *workspace])
        assert "graded yet" in line and "run `bplab grade` first" in line


# ---------------------------------------------------------------------------------------
# Set-up traps (issue 29, item 7).

def test_assign_refuses_a_due_date_in_the_past_unless_asked(tmp_path, capsys):
    """Does `bplab assign --due` with a date in the past refuse (every submission would be late), naming --past-due,
    before it touches the exchange?"""
    line = _one_line_error(capsys, ["assign", "04-backprop", "--due", "2020-01-01 09:00:00 UTC",
                                    "--workspace", str(tmp_path / "ws"), "--root", str(REPO)])
    assert "2020-01-01 09:00:00 UTC is in the past" in line and "--past-due" in line


@pytest.mark.slow
def test_a_course_id_added_after_grading_names_the_fix(tmp_path, capsys):
    """Is a gradebook graded before c.CourseDirectory.course_id was set refused with the command that fixes it,
    and does that command (`bplab adopt-course-id`) make the workspace usable again?"""
    from nbgrader.api import Gradebook

    from backproplab.grading.release import ensure_scripts_on_path
    from backproplab.grading.workspace import gradebook_assignments

    ensure_scripts_on_path()
    ws = tmp_path / "ws"
    ws.mkdir()
    with Gradebook(f"sqlite:///{ws / 'gradebook.db'}") as gb:  # graded with no course id
        gb.add_assignment("04-backprop")
    (ws / "nbgrader_config.py").write_text((REPO / "autograder" / "nbgrader_config.py").read_text() +
                                           '\nget_config().CourseDirectory.course_id = "backprop-lab"\n')
    workspace = ["--workspace", str(ws), "--root", str(REPO)]
    line = _one_line_error(capsys, ["status", *workspace])
    assert "was graded before c.CourseDirectory.course_id = 'backprop-lab' was set" in line
    assert "run `bplab adopt-course-id`" in line
    assert main(["adopt-course-id", *workspace]) == 0
    assert "moved 1 assignment(s) into course 'backprop-lab': 04-backprop" in capsys.readouterr().out
    assert gradebook_assignments(ws / "gradebook.db") == [("04-backprop", "backprop-lab")]
    assert main(["status", *workspace]) == 0


def test_makefile_installs_torch_from_the_cpu_index_with_a_fallback():
    """Does `make setup` install torch 2.13.0 from PyTorch's CPU wheel index (the index binder/requirements.txt
    uses), and only where that fails from the default index?"""
    dry = subprocess.run(["make", "-n", "-B", "setup"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    (line,) = [line for line in dry.replace("\\\n", " ").splitlines() if "torch==2.13.0" in line]
    cpu_index = "https://download.pytorch.org/whl/cpu"
    assert f"--index-url {cpu_index} torch==2.13.0" in line
    assert f"--extra-index-url {cpu_index}" in (REPO / "binder" / "requirements.txt").read_text()
    first, fallback = line.split("||")
    assert "--index-url" not in fallback and "torch==2.13.0" in fallback


def test_grade_csvs_and_rosters_in_the_repository_root_are_ignored():
    """Are the CSV files README's export commands write into the repository root (grades, rosters) git-ignored?"""
    for name in ("grades.csv", "canvas-grades.csv", "roster.csv"):
        assert subprocess.run(["git", "check-ignore", "-q", name], cwd=REPO).returncode == 0, name


# ---------------------------------------------------------------------------------------
# Odd submissions get a reason, never an empty one (issue 29, item 3).

@pytest.mark.slow
def test_odd_submissions_are_graded_or_refused_with_a_reason(tmp_path):
    """A notebook whose nbgrader metadata was stripped (all answers right) is graded in full, unflagged, with a note
    saying its cells were matched to the release; another lecture's notebook in the folder is named as such and not
    graded; and a stored internal failure is tried again, not reused."""
    from backproplab.grading.batch import make_tasks
    from backproplab.grading.contract import GradingResult, grader_version
    from backproplab.grading.intake import Submission
    from backproplab.grading.settings import course_settings
    from backproplab.grading.store import save_result
    from backproplab.grading.workspace import Workspace
    from catalog_helpers import catalog

    ws = Workspace(tmp_path / "ws", REPO)
    stripped = build_submission(read_notebook(COURSE_04), catalog("04-backprop").ANSWERS)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    ann = ws.path / "submitted" / "ann" / "04-backprop" / "backprop.ipynb"
    ann.parent.mkdir(parents=True)
    write_notebook(stripped, ann)
    bob = ws.path / "submitted" / "bob" / "04-backprop"
    bob.mkdir(parents=True)
    (bob / "activations.ipynb").write_bytes((REPO / "course" / "03-activations" / "activations.ipynb").read_bytes())
    (task,), _ = make_tasks(ws, [Submission("ann", "04-backprop", ann)], course_settings(ws))
    save_result(ws.db_path, GradingResult("ann", "04-backprop", "error", [], ["nbgrader autograde failed: KeyError"],
                                          digest=task.digest, grader_version=grader_version()))

    proc = subprocess.run(bplab_command("grade", str(ws.path / "submitted"), "--json", "--workspace", str(ws.path)),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.strip() == (f"bplab grade: {bob / 'activations.ipynb'}: not graded: this is the notebook of "
                                   f"03-activations, not of 04-backprop; ask the student to submit 04-backprop")
    (result,) = json.loads(proc.stdout)
    assert result["student"] == "ann" and result["status"] == "graded" and not result["flagged"], result
    assert result["score"] == result["max_score"] > 0
    assert any("nbgrader metadata is missing" in note for note in result["notes"])


def test_nbgrader_failure_is_named_in_one_line():
    """Does the grader's one-line reason for a failed nbgrader run name its last exception, not an empty line?"""
    from backproplab.grading.worker import _last_error

    log = ("[AutogradeApp | ERROR] There was an error processing assignment\nTraceback (most recent call last):\n"
           "  File \"x.py\", line 3, in f\n    meta['grade_id']\nKeyError: 'grade_id'\n\n")
    assert _last_error(log) == "KeyError: 'grade_id'"
    assert _last_error("") == "nbgrader printed nothing"


# ---------------------------------------------------------------------------------------
# nbgrader's own commands in the workspace (issue 29, item 2).

@pytest.mark.slow
def test_stock_nbgrader_never_copies_the_catalog_and_its_autograde_names_bplab_grade(tmp_path):
    """With the workspace's nbgrader_config.py: does real `nbgrader generate_assignment` of a source folder holding
    the answer catalog (solutions/04-backprop copied whole, as nbgrader's docs would have it) leave the catalog out of
    release/, and does real `nbgrader autograde` (what formgrader's Autograde button runs) refuse, naming
    `bplab grade`, and leave nothing in autograded/?"""
    import os
    import shutil
    import sys

    from backproplab.grading.workspace import Workspace

    ws = Workspace(tmp_path / "ws", REPO).path
    shutil.copytree(REPO / "solutions" / "04-backprop", ws / "source" / "04-backprop")
    assert (ws / "source" / "04-backprop" / "catalog.py").is_file()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def nbgrader(*args):
        return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=ws, env=env, capture_output=True,
                              text=True, timeout=600)

    generated = nbgrader("generate_assignment", "04-backprop", "--force")
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert sorted(p.name for p in (ws / "release" / "04-backprop").iterdir()) == ["backprop.ipynb"]
    student = ws / "submitted" / "ann" / "04-backprop"
    student.mkdir(parents=True)
    shutil.copy(ws / "release" / "04-backprop" / "backprop.ipynb", student)
    graded = nbgrader("autograde", "04-backprop", "--force")
    assert graded.returncode == 1
    assert "nbgrader autograde cannot grade Backprop Lab submissions" in graded.stderr
    assert "run `bplab grade autograder/submitted` instead" in graded.stderr
    assert [p for p in ws.rglob("*") if "autograded" in p.parts and p.is_file()] == []
    assert [p for p in ws.rglob("catalog.py") if "source" not in p.parts] == []


@pytest.mark.slow
@pytest.mark.skipif(not COURSE_04.exists(), reason="lecture 04 not released yet")
def test_check_reports_a_syntax_error_in_the_answer_cell(tmp_path):
    """Does `bplab check` report a SyntaxError in dense_backward's answer cell as that cell's error, not as the
    NameError the test cell raises after it?"""
    from catalog_helpers import catalog
    broken = catalog("04-backprop").ANSWERS["dense_backward"].replace("dW = ", "dW = = ", 1)
    notebook = tmp_path / "backprop.ipynb"
    write_notebook(build_submission(read_notebook(COURSE_04), {"dense_backward": broken}), notebook)
    (dense,) = [v for v in run_self_check(notebook, timeout=300) if v["grade_id"] == "test_dense_backward"]
    assert dense["diagnosis"] == "crash"
    assert dense["message"].startswith("the answer cell of dense_backward stops with SyntaxError"), dense["message"]
    assert "NameError" not in dense["message"]


def test_failed_check_traceback_carries_its_message():
    """Does a failed check's one-line traceback (all nbgrader's Validate shows) carry the message itself, not
    "see the message above"?"""
    from backproplab.checks import CheckFailed, Verdict
    failed = CheckFailed(Verdict("dense_backward", False, False, "transposed", "dW is transposed: use dz.T @ A_prev.\nmore"))
    (line,) = failed._render_traceback_()
    assert line == "CheckFailed [transposed]: dense_backward did not pass: dW is transposed: use dz.T @ A_prev."
