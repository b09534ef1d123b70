"""`bplab feedback`: nbgrader generate_feedback on the autograded submissions, then a scan of
every HTML page for hidden-test source (redacted if an answer cell printed some).

Each page's score is remembered (``.bplab/feedback-scores.json``): a page whose student's score changed since,
by a manual grade in formgrader or a regrade, is stale (``stale_feedback``, shown by `bplab status`)."""
from __future__ import annotations

import json
from pathlib import Path

from .redact import is_hidden_test_source, leaked_lines, redact_html, secret_lines
from .release import run_nbgrader_together


def _secret_lines_for(workspace, lecture):
    source = workspace.source_notebook(lecture)
    released = workspace.release_notebook(lecture)
    hidden = [c.source for c in source.cells if is_hidden_test_source(c.source)]
    return secret_lines(hidden, [c.source for c in released.cells])


def _exclusions(students, processes):
    """For each of up to ``processes`` nbgrader runs, the students it leaves to the others (each student is
    left out by all runs but one)."""
    processes = max(processes, 1)
    if any("," in student for student in students):  # nbgrader's exclusion list is comma-separated
        processes = 1
    shares = [students[i::processes] for i in range(min(processes, len(students)))] or [[]]
    return [[s for other in shares if other is not mine for s in other] for mine in shares]


# A process per this many students at most: each nbgrader process costs seconds of imports before its first page.
STUDENTS_PER_PROCESS = 10


def generate_feedback(workspace, lectures=None, processes=2):
    """Run nbgrader generate_feedback for the graded ``lectures`` (default: all, as one run of nbgrader's "*"),
    at most ``processes`` nbgrader processes at once, the students split over up to ``processes`` of them (one
    per STUDENTS_PER_PROCESS); return {html path: lines redacted}.

    Raises RuntimeError (release.ReleaseError) if nbgrader fails, and AssertionError if hidden
    source survived redaction (never expected)."""
    autograded = workspace.path / "autograded"
    found = workspace.graded_lectures()
    lectures = lectures or found
    runs = []
    workspace.ensure_assignments(lectures)
    # Every graded lecture at once is nbgrader's "*": its processes then share all the pages.
    for pattern in ["*"] if set(lectures) == set(found) else lectures:
        students = sorted({p.parts[-3] for p in autograded.glob(f"*/{pattern}/*.ipynb")})
        shares = min(max(processes, 1), -(-len(students) // STUDENTS_PER_PROCESS) or 1)
        runs += [(["generate_feedback", pattern, "--force", f"--CourseDirectory.student_id_exclude={','.join(others)}"],
                  workspace.path) for others in _exclusions(students, shares)]
    for start in range(0, len(runs), max(processes, 1)):
        run_nbgrader_together(runs[start:start + max(processes, 1)])
    redactions = {}
    for lecture in lectures:
        lines = _secret_lines_for(workspace, lecture)
        for page in sorted((workspace.path / "feedback").glob(f"*/{lecture}/*.html")):
            text, count = redact_html(page.read_text(encoding="utf-8"), lines)
            if count:
                page.write_text(text, encoding="utf-8")
            left = leaked_lines(text, lines)
            if left:
                raise AssertionError(f"{page}: hidden test source still present: {left}")
            redactions[str(page)] = count
    remember_feedback_scores(workspace, [(Path(page).parts[-3], Path(page).parts[-2]) for page in redactions])
    return redactions


def _scores_file(workspace):
    return workspace.path / ".bplab" / "feedback-scores.json"


def _current_scores(workspace, pairs):
    """{"student/lecture": nbgrader's score (manual grades included, before the late penalty)} of ``pairs``."""
    from .reports import nbgrader_submission

    scores = {}
    with workspace.gradebook() as gb:
        for student, lecture in pairs:
            sub = nbgrader_submission(gb, lecture, student)
            scores[f"{student}/{lecture}"] = None if sub is None else round(sub.score, 6)
    return scores


def remember_feedback_scores(workspace, pairs):
    """Remember the current score of each (student, lecture) of ``pairs``, whose feedback page was just made."""
    path = _scores_file(workspace)
    known = json.loads(path.read_text()) if path.is_file() else {}
    known.update(_current_scores(workspace, pairs))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, sort_keys=True, indent=1))


def stale_feedback(workspace, lecture, students):
    """The ``students`` (with a feedback page of ``lecture``) whose score changed since their page was made
    (a page bplab did not make has no remembered score and is not judged)."""
    path = _scores_file(workspace)
    shown = json.loads(path.read_text()) if path.is_file() else {}
    keys = {student: f"{student}/{lecture}" for student in students if f"{student}/{lecture}" in shown}
    if not keys:
        return []
    now = _current_scores(workspace, [(student, lecture) for student in keys])
    return sorted(student for student, key in keys.items() if shown[key] != now[key])
