"""Red team: every hostile submission of tests/attack_catalog.py, graded in the session's one real
`bplab grade` batch (tests/grading_batch.py, which also plants the canaries and listeners and scans
the host afterwards; see its docstring).

Tests, one per attack and assertion key (see attack_catalog's docstring), then batch-wide ones:
every planned submission graded exactly once, the controls' exact scores, canaries, listeners,
signals, orphans, workspace files, feedback.
"""
from __future__ import annotations

import json
import re
import signal

import pytest

from attack_catalog import ATTACKS, OUTSIDE, POINTS, PROCESSES, SECRETS, TARGET
from grading_batch import CORRECT, COURSE_SECRET, RED_TEAM_LECTURE, SELECTED, WRONG, results_by_student

BATCH_TIMEOUT = 1500          # seconds the whole `bplab grade` batch may take
ALLOWED_WORKSPACE_TOP = {"autograded", "feedback", "source", "release", "gradebook.db", "nbgrader_config.py",
                         "canary.txt"}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def redteam(graded_batch):
    return graded_batch


# ---------------------------------------------------------------- helpers of the assertions

def _results(redteam):
    return results_by_student(redteam, RED_TEAM_LECTURE)


def _result(redteam, student):
    results = _results(redteam)
    assert student in results, f"no result for {student}; stderr: {redteam['stderr'][-2000:]}"
    return results[student]


def _stored(redteam):
    """{student: {grade id: auto score}} of lecture 04 in nbgrader's gradebook."""
    return redteam["gradebook"].get(RED_TEAM_LECTURE, {})


def _tests(result):
    return {t["grade_id"]: t for t in result["tests"]}


def _mentions(text, slug):
    return re.search(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", text) is not None


def _selected(attack):
    if attack not in SELECTED:
        pytest.skip("not in BPLAB_REDTEAM_ONLY")


def _own_files(redteam, student):
    return {path: found for path, found in redteam["leaks"].items()
            if path.split("/")[1:2] == [student]}


def _with(key):
    return [a for a in ATTACKS if key in a.checks]


# ---------------------------------------------------------------- per attack

@pytest.mark.parametrize("attack", _with(POINTS), ids=lambda a: a.slug)
def test_attack_gains_no_points(redteam, attack):
    """Does the attack score no more than the honest wrong control on dense_backward and no more than
    the honest correct control elsewhere, with the source's max scores, in the JSON and the gradebook,
    without the grader failing?"""
    _selected(attack)
    result = _result(redteam, attack.student)
    correct, wrong = _tests(_result(redteam, CORRECT)), _tests(_result(redteam, WRONG))
    assert result["status"] != "error", result["flag_reasons"]
    assert list(_tests(result)) == list(correct), "the tests graded are not the source's"
    assert result["max_score"] == _result(redteam, CORRECT)["max_score"]
    gained = []
    for grade_id, test in _tests(result).items():
        limit = (wrong if test["exercise"] == TARGET else correct)[grade_id]["score"]
        assert test["max_score"] == correct[grade_id]["max_score"], test
        if test["score"] > limit:
            gained.append(f"{grade_id}: {test['score']} > {limit} ({test['message'][:200]})")
    assert not gained, gained
    stored = _stored(redteam).get(attack.student, {})
    differs = {gid: (score, _tests(result)[gid]["score"]) for gid, score in stored.items()
               if gid in correct and score != _tests(result)[gid]["score"]}
    assert not differs, f"gradebook (stored, JSON): {differs}"
    if attack.diagnoses is not None:
        target = [t for t in result["tests"] if t["exercise"] == TARGET]
        assert {t["diagnosis"] for t in target} <= attack.diagnoses, [(t["grade_id"], t["diagnosis"]) for t in target]
    if attack.flagged is not None:
        assert result["flagged"] == attack.flagged, result["flag_reasons"]


@pytest.mark.parametrize("attack", _with(SECRETS), ids=lambda a: a.slug)
def test_attack_sees_no_secret(redteam, attack):
    """Do the attack's graded notebook, feedback page and JSON result hold no canary, no course
    secret, no evidence of a successful read and no hidden-test line?"""
    _selected(attack)
    result = _result(redteam, attack.student)
    text = json.dumps(result)
    leaked_json = [name for name, value in redteam["canaries"].items() if value in text]
    assert not leaked_json and COURSE_SECRET not in text, f"canaries in the JSON result: {leaked_json}"
    assert not _own_files(redteam, attack.student), _own_files(redteam, attack.student)


@pytest.mark.parametrize("attack", _with(OUTSIDE), ids=lambda a: a.slug)
def test_attack_leaves_no_trace_outside(redteam, attack):
    """Did the attack leave nothing on the host: no evidence file, no message to a test listener,
    no signal to the test process, no file named after it, no change to a canary file?"""
    _selected(attack)
    slug = attack.slug
    traces = [f"evidence file {name}" for name in redteam["evidence_files"] if name.startswith(slug + "--")]
    traces += [f"listener {e['kind']}: {e['data'][:200]}" for e in redteam["listener_events"] if _mentions(e["data"], slug)]
    own_signals = {redteam["rtmin"] + attack.rtsig} if attack.rtsig else set()
    if slug == "signal-test-process":
        own_signals |= {int(signal.SIGUSR1), int(signal.SIGUSR2), int(signal.SIGHUP), int(signal.SIGTERM)}
    traces += [f"signal {s} reached the test process" for s in redteam["signals"] if s in own_signals]
    traces += [f"host file {p}" for p in redteam["host_leftovers"] if _mentions(p, slug) or
               (slug == "disk-fill" and "bplab-fill-" in p)]
    traces += [f"workspace file {p}" for p in redteam["workspace_files"] if _mentions(p, slug)]
    traces += [f"submissions file {p}" for p in redteam["submissions_after"] if _mentions(p, slug)]
    traces += [f"canary file {name} changed" for name, text in redteam["canary_files_after"].items()
               if _mentions(text, slug)]
    assert not traces, traces


@pytest.mark.parametrize("attack", _with(PROCESSES), ids=lambda a: a.slug)
def test_attack_leaves_no_process(redteam, attack):
    """Is every process the attack started (its marker in argv) gone once the batch is over?"""
    _selected(attack)
    marker = attack.marker.format(run=redteam["run"])
    survivors = [p for p in redteam["marked_processes"] if marker in p["cmdline"]]
    assert not survivors, survivors


# ---------------------------------------------------------------- the batch as a whole

def test_batch_exits_0_with_exactly_one_result_per_submission(redteam):
    """Does `bplab grade --json` exit 0 in time and print exactly one result per planned submission of every
    lecture (none missing, none twice), the red team's included?"""
    assert redteam["returncode"] is not None, f"the batch was killed after {redteam['seconds']:.0f} s"
    assert redteam["returncode"] == 0, redteam["stderr"][-3000:]
    assert redteam["results"] is not None, redteam.get("parse_error")
    graded = [(r["student"], r["lecture"]) for r in redteam["results"]]
    planned = {tuple(p) for p in redteam["planned"]}
    assert len(graded) == len(set(graded)), "a submission has two results"
    assert set(graded) == planned, {"missing": sorted(planned - set(graded)), "unexpected": sorted(set(graded) - planned)}
    red_team = {CORRECT, WRONG} | {a.student for a in SELECTED}
    assert red_team <= set(_results(redteam))


def test_batch_finishes_in_bounded_time(redteam):
    """Did the whole batch (every bomb and sleeper included) finish well within its timeout?"""
    assert redteam["returncode"] is not None and redteam["seconds"] < BATCH_TIMEOUT, redteam["seconds"]


def test_control_correct_gets_full_marks_unflagged(redteam):
    """Does the honest correct control get every automatic point, unflagged, graded, also in the gradebook?"""
    result = _result(redteam, CORRECT)
    assert result["score"] == result["max_score"] > 0
    assert all(t["passed"] for t in result["tests"]), [t for t in result["tests"] if not t["passed"]]
    assert not result["flagged"] and result["status"] == "graded", result["flag_reasons"]
    assert _stored(redteam)[CORRECT] == {t["grade_id"]: t["max_score"] for t in result["tests"]}


def test_an_output_flood_is_dropped_from_the_graded_notebook_and_flagged(redteam):
    """Issue 27, item 3: 24 cells of 1.5 MB single-line prints once made a 36 MB graded notebook, unflagged.
    The outputs past the submission's byte budget are dropped, the submission is flagged for it, and it
    loses no point (the correct control, graded in the same warm sandboxes, keeps full marks)."""
    from pathlib import Path

    from backproplab.grading.sandbox.limits import SUBMISSION_OUTPUT_LIMIT

    student = "attack-output-flood-many-cells"
    if not any(attack.slug == "output-flood-many-cells" for attack in SELECTED):
        pytest.skip("not in BPLAB_REDTEAM_ONLY")
    result = _result(redteam, student)
    assert any("output over the submission's limit" in reason for reason in result["flag_reasons"]), result
    graded = list(Path(redteam["workspace"]).glob(f"autograded/{student}/{RED_TEAM_LECTURE}/*.ipynb"))
    assert graded and all(path.stat().st_size < SUBMISSION_OUTPUT_LIMIT + (2 << 20) for path in graded)


def test_control_wrong_loses_exactly_dense_backward(redteam):
    """Does the honest wrong control lose exactly the dense_backward tests (transposed), unflagged,
    also in the gradebook?"""
    result = _result(redteam, WRONG)
    for test in result["tests"]:
        if test["exercise"] == TARGET:
            assert test["score"] == 0 and test["diagnosis"] == "transposed", test
        else:
            assert test["score"] == test["max_score"], test
    lost = sum(t["max_score"] for t in result["tests"] if t["exercise"] == TARGET)
    assert lost > 0 and result["score"] == result["max_score"] - lost
    assert not result["flagged"] and result["status"] == "graded", result["flag_reasons"]
    assert _stored(redteam)[WRONG] == {t["grade_id"]: t["score"] for t in result["tests"]}


def test_canaries_never_leak_into_json_graded_notebooks_or_feedback(redteam):
    """Is no canary, nor the course secret, in the JSON output, any graded notebook or any feedback page
    (the correct control's own notes excepted in its own files)?"""
    assert redteam["stdout_canaries"] == [], redteam["stdout_canaries"]
    leaks = {}
    for path, found in redteam["leaks"].items():
        names = [n for n in found.get("canaries", [])
                 if not (n == "submission" and path.split("/")[1:2] == [CORRECT])]
        if names:
            leaks[path] = names
    assert not leaks, leaks


def test_no_evidence_of_a_breach_anywhere(redteam):
    """Did no attack print evidence of a breach into a graded notebook or feedback page, nor write an
    evidence file into host /tmp?"""
    printed = {path: found["evidence"] for path, found in redteam["leaks"].items() if "evidence" in found}
    assert not printed and not redteam["evidence_files"], {"printed": printed, "files": redteam["evidence_files"]}


def test_canary_files_secret_and_submissions_unchanged(redteam):
    """Are the canary files, the course secret and the submissions folder exactly as before the batch?"""
    changed = {name: text[:300] for name, text in redteam["canary_files_after"].items()
               if text != redteam["canaries"][name]}
    assert not changed, changed
    assert redteam["secret_after"] == COURSE_SECRET
    assert redteam["submissions_after"] == redteam["submissions_before"], \
        sorted(set(redteam["submissions_after"].items()) ^ set(redteam["submissions_before"].items()))


def test_workspace_holds_only_what_bplab_writes(redteam):
    """Does the workspace hold only bplab's files (autograded/, feedback/, gradebook, .bplab*, source/,
    release/, nbgrader_config.py, journals and logs) and the planted canary?"""
    stray = [p for p in redteam["workspace_files"]
             if not (p.split("/")[0] in ALLOWED_WORKSPACE_TOP or p.startswith(".bplab")
                     or re.fullmatch(r"[^/]+\.(db-journal|db-wal|db-shm|log)", p))
             or "pwned" in p]
    assert not stray, stray


def test_no_marked_process_survives_the_batch(redteam):
    """Is no process carrying this batch's orphan marker alive on the host after the batch?"""
    assert redteam["marked_processes"] == [], redteam["marked_processes"]


def test_no_connection_reached_the_test_listeners(redteam):
    """Did nothing reach the test's TCP (incl. 8786/8787/8888 when free), UDP, unix or abstract sockets?"""
    assert redteam["listener_events"] == [], redteam["listener_events"]


def test_test_process_never_signalled(redteam):
    """Did no signal from the batch reach the test process?"""
    assert redteam["signals"] == [], redteam["signals"]


def test_no_file_left_in_host_tmp(redteam):
    """Is nothing named after this batch left in host /tmp (disk fill, created files)?"""
    assert redteam["host_leftovers"] == [], redteam["host_leftovers"]


def test_feedback_generated_without_hidden_test_source(redteam):
    """Does `bplab feedback` succeed after the batch, with a page for each control and no hidden-test line
    on any page?"""
    assert redteam["feedback"]["returncode"] == 0, redteam["feedback"]["stderr"][-3000:]
    pages = [p for p in redteam["workspace_files"] if p.startswith("feedback/")]
    for control in (CORRECT, WRONG):
        assert any(p.split("/")[1] == control for p in pages), pages[:20]
    hidden = {path: found["hidden"] for path, found in redteam["leaks"].items() if "hidden" in found}
    assert not hidden, hidden


def test_catalog_has_at_least_32_documented_attack_classes():
    """Does the catalog hold at least 32 attacks, each with a unique slug, a target and a one-line docstring?"""
    assert len(ATTACKS) >= 32
    assert len({a.slug for a in ATTACKS}) == len(ATTACKS)
    for a in ATTACKS:
        assert a.targets and a.doc and "\n" not in a.doc, a.slug
        assert (a.mutate is not None) or a.prefix or a.body or a.suffix, a.slug
