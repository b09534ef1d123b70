"""`bplab`: every command has --help; `bplab check` is the student's self-check."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from backproplab.checks import get_exercise
from backproplab.cli import build_parser, main
from backproplab.grading.notebooks import read_notebook
from backproplab.grading.selfcheck import format_self_check, run_self_check
from backproplab.grading.submissions import build_submission, write_notebook
from cli_command import bplab_command
from notebook_factory import build_notebook, visible_test_cell

REPO = Path(__file__).resolve().parents[1]
COURSE_04 = REPO / "course" / "04-backprop" / "backprop.ipynb"
COMMANDS = ["release", "grade", "status", "feedback", "export", "report", "check", "demo", "binder-badge"]


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
