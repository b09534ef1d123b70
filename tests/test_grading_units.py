"""Fast tests of the grading plumbing: tampering evidence, redaction, submission discovery,
seeds, the verdict store, the class report, export and the CLI's usage errors."""
import copy
import csv
from dataclasses import fields, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backproplab.checks import Verdict
from backproplab.cli import main
from backproplab.grading.batch import SUBMISSIONS_PER_WORKER, default_workers, stored_result
from backproplab.grading.contract import GradingResult, LectureSources, grading_digest
from backproplab.grading.intake import UsageError, find_submissions
from backproplab.grading.redact import REDACTED, leaked_lines, redact_html, redact_text, secret_lines
from backproplab.grading.reports import class_report
from backproplab.grading.settings import GradingSettings
from backproplab.grading.store import load_submissions, load_verdicts, save_result
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.worker import tampering_evidence
from backproplab.grading.workspace import Workspace
from notebook_factory import (
    answer_cell,
    build_notebook,
    hidden_test_cell,
    manual_cell,
    setup_cell,
    units_repository,
    visible_test_cell,
)

LECTURE = "99-units"


def _released():
    """A released notebook as nbgrader makes it: locked test cells, empty hidden test cell."""
    nb = build_notebook([
        setup_cell("import numpy as np"),
        answer_cell("double", "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"),
        visible_test_cell("double", points=1),
        hidden_test_cell("double", points=2),
        manual_cell("explain_double", points=1),
    ])
    nb.cells[3].source = ""
    return nb


@pytest.fixture
def root(tmp_path):
    """A repository root with one lecture whose source notebook has a visible and a hidden test."""
    return units_repository(tmp_path)


@given(st.integers(1, 500), st.integers(1, 64))
def test_default_workers_start_one_per_few_submissions_up_to_the_cores(to_grade, cores):
    """Does a batch start one LocalCluster worker per SUBMISSIONS_PER_WORKER submissions, at least one, at most the
    cores (three submissions on two cores: one worker, whose sandbox warm-up is paid once)?"""
    workers = default_workers(to_grade, cores)
    assert 1 <= workers <= cores
    assert workers == cores or (workers - 1) * SUBMISSIONS_PER_WORKER < to_grade <= workers * SUBMISSIONS_PER_WORKER
    assert default_workers(3, 2) == 1 and default_workers(5, 2) == 2


def test_the_grading_digest_changes_with_every_setting_and_what_decides_a_grade():
    """Does changing any one GradingSettings field (read from the dataclass: one added later included), the
    submission, the source notebook, the due date, the timestamp or the extension change the digest, so that a
    stored grade is out of date exactly when `bplab grade` would grade differently?"""
    sources, settings = LectureSources("99-units", "units.ipynb", '{"cells": []}', "{}", b""), GradingSettings()
    digest = grading_digest(b"notebook", sources, settings, None)
    assert grading_digest(b"notebook", sources, settings, None) == digest
    changed = [replace(settings, **{f.name: _another(getattr(settings, f.name))}) for f in fields(GradingSettings)]
    assert len(changed) >= 7 and all(grading_digest(b"notebook", sources, c, None) != digest for c in changed)
    assert len({digest, grading_digest(b"notebook!", sources, settings, None),
                grading_digest(b"notebook", replace(sources, source_nb="{}"), settings, None),
                grading_digest(b"notebook", replace(sources, duedate="2026-12-01T00:00:00"), settings, None),
                grading_digest(b"notebook", sources, settings, "2026-12-02 10:00:00.000000 UTC"),
                grading_digest(b"notebook", sources, settings, None, 3600.0)}) == 6


def _another(value):
    """A value of ``value``'s type that differs from it."""
    return not value if isinstance(value, bool) else value + 1 if isinstance(value, int) else value + " "


def test_tampering_evidence_untouched_submission_is_clean():
    """Does a submission that only fills in answer cells show no tampering?"""
    released = _released()
    assert tampering_evidence(released, build_submission(released, {"double": "def double(x):\n    return x + x"})) == []


@pytest.mark.parametrize("edit, expected", [
    (lambda nb: nb.cells.pop(2), "cell test_double deleted"),
    (lambda nb: setattr(nb.cells[2], "source", "pass"), "locked cell test_double edited"),
    (lambda nb: nb.cells[3].metadata.nbgrader.__setitem__("points", 50), "points of test_double_hidden changed from 2 to 50"),
    (lambda nb: nb.cells.append(copy.deepcopy(nb.cells[2])), "cell test_double duplicated"),
    (lambda nb: nb.cells.append(visible_test_cell("bonus", points=10)), "graded cell test_bonus added"),
    (lambda nb: nb.cells[2].metadata.nbgrader.__setitem__("grade", False), "nbgrader flags of test_double changed"),
])
def test_tampering_evidence_names_the_edit(edit, expected):
    """Does each kind of tampering with graded or locked cells get named?"""
    released = _released()
    assert expected in tampering_evidence(released, build_submission(released, edit=edit))


def test_secret_lines_skip_lines_students_already_have():
    """Are lines students already have (imports, nbgrader's public delimiters) not treated as secret?"""
    hidden = "### BEGIN HIDDEN TESTS\nimport numpy as np\ncheck('x', x, hidden=True)\n### END HIDDEN TESTS"
    lines = secret_lines([hidden], ["import numpy as np\n", "check('x', x)"])
    assert "import numpy as np" not in lines
    assert lines == ["check('x', x, hidden=True)"]


@settings(max_examples=30, deadline=None)
@given(prefix=st.text(alphabet="abc <>&\"'", max_size=20), suffix=st.text(alphabet="xyz <>&", max_size=20))
def test_redact_html_removes_escaped_and_highlighted_secret(prefix, suffix):
    """Is a secret line removed from HTML even when escaped and split by highlighting spans?"""
    secret = 'check("dense_backward", dense_backward, hidden=True)'
    page = (f"<pre>{prefix}\n<span class=\"n\">check</span>(<span>&quot;dense_backward&quot;</span>, "
            f"dense_backward, hidden=True)\n{suffix}</pre>\n")
    redacted, count = redact_html(page, [secret])
    assert count >= 1 and leaked_lines(redacted, [secret]) == []
    assert REDACTED in redacted


def test_redact_text_keeps_other_lines():
    """Does text redaction replace only the lines holding a secret?"""
    assert redact_text("a\nsecret here\nb\n", ["secret"]) == f"a\n{REDACTED}\nb\n"


def test_find_submissions_layouts(root, tmp_path):
    """Are students and lectures found in a folder of <student>.ipynb, the submitted/ layout and one file?"""
    ws = Workspace(tmp_path / "ws", root)
    released = _released()
    flat = tmp_path / "flat"
    flat.mkdir()
    for student in ("ann", "bob"):
        write_notebook(build_submission(released), flat / f"{student}.ipynb")
    assert [(s.student, s.lecture) for s in find_submissions(flat, ws)] == [("ann", LECTURE), ("bob", LECTURE)]
    layout = tmp_path / "submitted" / "cid" / LECTURE
    layout.mkdir(parents=True)
    write_notebook(build_submission(released), layout / "units.ipynb")
    assert [(s.student, s.lecture) for s in find_submissions(tmp_path / "submitted", ws)] == [("cid", LECTURE)]
    assert [(s.student, s.lecture) for s in find_submissions(layout / "units.ipynb", ws)] == [("cid", LECTURE)]
    # a broken notebook in a batch takes the batch's lecture
    (flat / "broken.ipynb").write_text("{not json")
    assert {s.lecture for s in find_submissions(flat, ws)} == {LECTURE}


def test_find_submissions_usage_errors(root, tmp_path):
    """Are a missing path, a non-notebook and an unknown lecture usage errors?"""
    ws = Workspace(tmp_path / "ws", root)
    with pytest.raises(UsageError):
        find_submissions(tmp_path / "nope", ws)
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(UsageError):
        find_submissions(tmp_path / "x.txt", ws)
    write_notebook(build_submission(_released()), tmp_path / "ann.ipynb")
    with pytest.raises(UsageError):
        find_submissions(tmp_path / "ann.ipynb", ws, lecture="no-such-lecture")


def _submit(submitted, student, lecture, *names):
    """Write a blank submission of the units lecture as each of ``names`` in submitted/<student>/<lecture>/."""
    folder = submitted / student / lecture
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        write_notebook(build_submission(_released()), folder / name)
    return folder


def test_find_submissions_grades_a_renamed_notebook_with_a_note(root, tmp_path):
    """Is the only notebook of a lecture folder graded whatever its name, with a note naming it, in the
    submitted/ layout, in one student's folder and passed on its own?"""
    ws = Workspace(tmp_path / "ws", root)
    submitted = tmp_path / "submitted"
    folder = _submit(submitted, "ann", LECTURE, "Copy of units.ipynb")
    _submit(submitted, "bob", LECTURE, "units.ipynb")
    ann, bob = find_submissions(submitted, ws)
    assert (ann.student, ann.lecture, ann.path.name) == ("ann", LECTURE, "Copy of units.ipynb")
    assert ann.notes == ["submitted as 'Copy of units.ipynb', not units.ipynb"]
    assert (bob.student, bob.notes) == ("bob", [])
    assert [(s.student, s.notes) for s in find_submissions(submitted / "ann", ws)] == [("ann", ann.notes)]
    (alone,) = find_submissions(folder / "Copy of units.ipynb", ws)
    assert (alone.student, alone.lecture, alone.notes) == ("ann", LECTURE, ann.notes)


def test_find_submissions_of_several_notebooks_grades_the_lecture_s_own_and_names_the_rest(root, tmp_path):
    """With several notebooks in a folder, is the one named like the lecture graded and are the others named
    in a note; with none of that name, is the folder reported as ambiguous while the batch goes on?"""
    ws = Workspace(tmp_path / "ws", root)
    submitted = tmp_path / "submitted"
    _submit(submitted, "ann", LECTURE, "units.ipynb", "units (1).ipynb")
    _submit(submitted, "bob", LECTURE, "Copy of units.ipynb", "units (1).ipynb")
    _submit(submitted, "cid", LECTURE, "units.ipynb")
    problems = []
    found = find_submissions(submitted, ws, problems=problems)
    assert [(s.student, s.path.name, s.notes) for s in found] == [
        ("ann", "units.ipynb", ["graded units.ipynb; also submitted, not graded: 'units (1).ipynb'"]),
        ("cid", "units.ipynb", [])]
    (problem,) = problems
    assert (problem.student, problem.lecture, problem.path) == ("bob", LECTURE, submitted / "bob" / LECTURE)
    assert "'Copy of units.ipynb', 'units (1).ipynb'" in problem.reason and "none named units.ipynb" in problem.reason
    with pytest.raises(UsageError, match="none named units.ipynb"):  # a caller that cannot report problems
        find_submissions(submitted, ws)


def test_find_submissions_reports_a_lecture_this_repository_does_not_have(root, tmp_path):
    """Is a folder of a lecture the repository does not have reported by student and folder while the rest is
    found, a batch of nothing else a usage error, and a checkpoint folder ignored?"""
    ws = Workspace(tmp_path / "ws", root)
    submitted = tmp_path / "submitted"
    _submit(submitted, "ann", "08-rnn", "rnn.ipynb")
    _submit(submitted, "ann", ".ipynb_checkpoints", "units-checkpoint.ipynb")
    problems = []
    with pytest.raises(UsageError, match="nothing gradable"):
        find_submissions(submitted, ws, problems=problems)
    assert [(p.student, p.lecture, p.path) for p in problems] == [("ann", "08-rnn", submitted / "ann" / "08-rnn")]
    assert f"'08-rnn' is not a lecture of this repository ({LECTURE})" in problems[0].reason
    _submit(submitted, "bob", LECTURE, "units.ipynb")
    problems = []
    assert [(s.student, s.lecture) for s in find_submissions(submitted, ws, problems=problems)] == [("bob", LECTURE)]
    assert [p.student for p in problems] == ["ann"]


@pytest.mark.slow
def test_cli_grade_of_an_unknown_lecture_names_it_and_exits_2(root, tmp_path):
    """Does `bplab grade` (a process of its own) on submitted/ holding only a lecture the repository does not
    have print one line per folder and the reason, and exit 2 having graded nothing?"""
    import subprocess

    from cli_command import bplab_command

    submitted = tmp_path / "submitted"
    _submit(submitted, "ann", "08-rnn", "rnn.ipynb")
    _submit(submitted, "bob", LECTURE, "a.ipynb", "b.ipynb")
    proc = subprocess.run(bplab_command("grade", str(submitted), "--root", str(root), "--workspace", str(tmp_path / "ws")),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [
        f"bplab grade: {submitted / 'ann' / '08-rnn'}: not graded: '08-rnn' is not a lecture of this repository ({LECTURE})",
        f"bplab grade: {submitted / 'bob' / LECTURE}: not graded: 2 notebooks, none named units.ipynb ('a.ipynb', "
        f"'b.ipynb'); keep one, or name the one to grade units.ipynb",
        f"bplab grade: nothing gradable under {submitted}"]
    assert not (tmp_path / "ws" / "gradebook.db").exists()


def test_cli_grade_usage_error_exits_2(root, tmp_path, capsys):
    """Does `bplab grade` exit 2 (not 1) when the path does not exist?"""
    assert main(["grade", str(tmp_path / "missing"), "--root", str(root), "--workspace", str(tmp_path / "ws")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_unknown_command_exits_2():
    """Does an unknown sub-command exit 2?"""
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def test_seed_depends_on_student_lecture_secret_and_submission(root, tmp_path):
    """Is a submission's hidden seed stable for the same bytes (a regrade), and different per student,
    lecture, course secret and submitted content (a resubmission gets new hidden cases)?"""
    ws = Workspace(tmp_path / "ws", root)
    seed = ws.seed("ann", LECTURE, b"{}")
    assert seed == ws.seed("ann", LECTURE, b"{}") and 0 <= seed < 2**63
    assert seed != ws.seed("bob", LECTURE, b"{}") and seed != ws.seed("ann", "other", b"{}")
    assert seed != ws.seed("ann", LECTURE, b"{} ")
    assert Workspace(tmp_path / "ws2", root).seed("ann", LECTURE, b"{}") != seed  # another secret


def _result(student, passed_visible, diagnosis):
    verdicts = [Verdict("double", False, passed_visible, None if passed_visible else diagnosis, "m",
                        grade_id="test_double", points=1.0),
                Verdict("double", True, True, None, "m", grade_id="test_double_hidden", points=2.0)]
    return GradingResult(student, LECTURE, "graded", verdicts, ["x"] if student == "eve" else [],
                         manual_max_score=1.0, digest="d", grader_version="v")


def test_store_and_class_report(root, tmp_path):
    """Does the report give each exercise's pass rate and count each diagnosis once per student?"""
    ws = Workspace(tmp_path / "ws", root)
    for student, passed, diagnosis in [("ann", True, None), ("bob", False, "transposed"),
                                       ("cid", False, "transposed"), ("eve", False, "missing-mean")]:
        save_result(ws.db_path, _result(student, passed, diagnosis))
    save_result(ws.db_path, _result("ann", True, None))  # re-grading replaces, never duplicates
    assert len(load_verdicts(ws.db_path)) == 8
    (row,) = class_report(ws)
    assert (row["exercise"], row["students"], row["passed"]) == ("double", 4, 1)
    assert row["common_diagnoses"] == [{"diagnosis": "transposed", "students": 2, "student_ids": ["bob", "cid"]},
                                       {"diagnosis": "missing-mean", "students": 1, "student_ids": ["eve"]}]
    assert {s["student"]: s["flagged"] for s in load_submissions(ws.db_path)}["eve"] is True


def test_stored_result_round_trips_for_resumed_batches(root, tmp_path):
    """Does a stored GradingResult come back with its verdicts, flags, digest and grader version?"""
    ws = Workspace(tmp_path / "ws", root)
    assert stored_result(ws, "eve", LECTURE) is None
    save_result(ws.db_path, _result("eve", False, "transposed"))
    back = stored_result(ws, "eve", LECTURE)
    assert (back.score, back.max_score, back.flag_reasons, back.digest, back.grader_version) == (2.0, 3.0, ["x"], "d", "v")
    assert [(v.grade_id, v.passed, v.diagnosis) for v in back.verdicts] == [
        ("test_double", False, "transposed"), ("test_double_hidden", True, None)]


def test_export_without_nbgrader_rows_uses_stored_scores(root, tmp_path):
    """Does export write one row per student x lecture with the flagged and needs_manual_grading columns?"""
    ws = Workspace(tmp_path / "ws", root)
    for student in ("ann", "eve"):
        save_result(ws.db_path, _result(student, True, None))
    out = tmp_path / "grades.csv"
    assert main(["export", str(out), "--root", str(root), "--workspace", str(ws.path)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [(r["student"], r["flagged"], r["needs_manual_grading"]) for r in rows] == [("ann", "False", "True"),
                                                                                      ("eve", "True", "True")]


@pytest.mark.parametrize("count,processes", [(0, 2), (1, 2), (5, 2), (7, 3), (3, 1), (4, 0)])
def test_feedback_runs_split_the_students_so_each_gets_exactly_one_page(count, processes):
    """Does every student of a lecture fall to exactly one of the parallel generate_feedback runs, with no
    more runs than asked for, and one run for no students or ids with a comma (nbgrader's list separator)?"""
    from backproplab.grading.feedback import _exclusions

    students = [f"s{i}" for i in range(count)]
    runs = _exclusions(students, processes)
    assert 1 <= len(runs) <= max(processes, 1)
    for student in students:
        assert sum(student not in excluded for excluded in runs) == 1
    assert _exclusions(["a,b", "c"], 2) == [[]]


def test_course_sandbox_limits_are_honoured_or_refused(root, tmp_path):
    """Does `c.SandboxedExecute.cell_timeout / memory_mb / cpu_seconds` in the workspace's nbgrader_config.py set
    the grading limits (a value given on the command line wins), and is any other
    `c.SandboxedExecute` setting refused with a message that names it?"""
    from backproplab.grading.settings import course_settings

    ws = Workspace(tmp_path / "ws", root)
    assert (course_settings(ws).cell_timeout, course_settings(ws).memory_mb) == (60, 2048)
    config = ws.path / "nbgrader_config.py"
    plain = config.read_text()
    config.write_text(plain + "get_config().SandboxedExecute.cell_timeout = 90\n"
                              "get_config().SandboxedExecute.memory_mb = 3000\n")
    settings = course_settings(ws)
    assert (settings.cell_timeout, settings.memory_mb, settings.cpu_seconds) == (90, 3000, 300)
    assert course_settings(ws, cell_timeout=30, cpu_seconds=None).cell_timeout == 30
    _refused(ws, "SandboxedExecute.preload = ['numpy']", "c.SandboxedExecute.preload")
    _refused(ws, "SandboxedExecute.cpu_seconds = -5", "positive whole number")


def _refused(ws, line, message):
    """Does the course setting ``line`` (of ``get_config()``) in ``ws``'s nbgrader_config.py raise a SettingsError
    whose message holds ``message``?"""
    from backproplab.grading.settings import SettingsError, course_settings

    config = ws.path / "nbgrader_config.py"
    plain = config.read_text()
    config.write_text(plain + f"get_config().{line}\n")
    with pytest.raises(SettingsError, match=message):
        course_settings(ws)
    config.write_text(plain)


def test_every_grading_setting_derives_from_its_one_declaration():
    """Are GradingSettings' fields, the preprocessors' traits (default, help, bounds), the course's own lines and the
    `bplab grade` flags (default None: the course's, else the declared default, named in the help) all read
    from SETTINGS, so that a setting cannot have two defaults?"""
    from dataclasses import fields

    from backproplab.cli import build_parser
    from backproplab.grading.preprocessors import JudgeOutcomes, SandboxedExecute
    from backproplab.grading.settings import SETTINGS, flag_values

    assert [(f.name, f.default) for f in fields(GradingSettings)] == [(s.name, s.default) for s in SETTINGS]
    owners = {"SandboxedExecute": SandboxedExecute, "JudgeOutcomes": JudgeOutcomes}
    for s in (s for s in SETTINGS if s.owner):
        declared = owners[s.owner].class_traits()[s.name]
        assert (declared.default_value, declared.help) == (s.default, s.help), s.name
    with_flags = [s for s in SETTINGS if s.flag]
    grade = build_parser().parse_args(["grade", "submitted"])
    assert flag_values(grade) == {s.name: None for s in with_flags}
    given = build_parser().parse_args(["grade", "submitted", "--cell-timeout", "7", "--no-sandbox"])
    assert flag_values(given) == {"cell_timeout": 7, "cpu_seconds": None, "sandboxed": False}
    assert build_parser().parse_args(["check", "nb.ipynb"]).timeout is None  # run_self_check's own default


def test_course_hint_rung_sets_the_feedback_ladder_and_is_checked(root, tmp_path):
    """Does `c.JudgeOutcomes.hint_rung` in nbgrader_config.py choose the hint ladder's last rung in feedback (1 by
    default), and is a value outside 1..3 refused with a message that names it?"""
    from backproplab.grading.settings import course_settings

    ws = Workspace(tmp_path / "ws", root)
    assert course_settings(ws).hint_rung == 1
    config = ws.path / "nbgrader_config.py"
    plain = config.read_text()
    config.write_text(plain + "get_config().JudgeOutcomes.hint_rung = 3\n")
    assert course_settings(ws).hint_rung == 3
    config.write_text(plain)
    for bad in ("4", "0", "'3'", "True"):
        _refused(ws, f"JudgeOutcomes.hint_rung = {bad}", "c.JudgeOutcomes.hint_rung must be a whole number from 1 to 3")
    _refused(ws, "JudgeOutcomes.credit_dependents = 'no'", "c.JudgeOutcomes.credit_dependents must be True or False")
    _refused(ws, "JudgeOutcomes.seed = 1", "c.JudgeOutcomes.seed, which bplab grade sets itself")


def test_reported_outputs_keep_every_valid_one_and_drop_each_invalid_one():
    """The sandbox's report is untrusted JSON: are a cell's valid outputs (stream, display, result, error) kept as
    they are, and each malformed one (a number as text, metadata that is no dict, an unknown stream, no dict at
    all) dropped on its own, whatever stands beside it?"""
    import nbformat

    from backproplab.grading.preprocessors import clean_outputs

    valid = [{"output_type": "stream", "name": "stdout", "text": "42\n"},
             {"output_type": "display_data", "data": {"text/plain": "fig", "image/png": "iVBORw0KGgo="}, "metadata": {}},
             {"output_type": "execute_result", "data": {"text/plain": "1"}},
             {"output_type": "error", "ename": "ValueError", "evalue": "no", "traceback": ["ValueError: no"]}]
    invalid = [{"output_type": "display_data", "data": {"text/plain": 5}},
               {"output_type": "display_data", "data": {"text/plain": "x"}, "metadata": 7},
               {"output_type": "stream", "name": "stdin", "text": "x"}, "junk", None]
    kept = clean_outputs([invalid[0], valid[0], invalid[1], valid[1], valid[2], invalid[2], valid[3], *invalid[3:]])
    assert [o.output_type for o in kept] == ["stream", "display_data", "execute_result", "error"]
    assert kept[1].data["image/png"] == "iVBORw0KGgo=" and kept[2].execution_count is None
    for output in kept:
        nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=[output])]))
    assert clean_outputs(invalid) == []


def test_a_private_course_removes_only_the_folders_of_dead_workers():
    """Does a worker's new private course folder (named after its process) first remove the folders a killed worker
    left behind, and no folder of a live process (this one's earlier folder, here)?"""
    import os
    import shutil
    from pathlib import Path

    from backproplab.grading.worker import private_course

    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1   # a process id no process has
    first = private_course()
    left = first.with_name(f"bplab-course-{dead}-planted")
    left.mkdir()
    (left / "gradebook.db").write_bytes(b"x")
    second = private_course()
    try:
        assert not left.exists() and first.is_dir() and second.is_dir()
        assert second.name.startswith(f"bplab-course-{os.getpid()}-")
    finally:
        for folder in (first, second, left):
            shutil.rmtree(folder, ignore_errors=True)
