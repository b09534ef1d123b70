"""`bplab status`: where each lecture stands in the workspace, and who needs the instructor.

Per lecture: the students who submitted (a folder ``submitted/<student>/<lecture>/``), who are
graded (a row in ``bplab_submissions``), whose grade is out of date (`bplab grade` would grade
them again: the notebook, the lecture's solution notebook or the grading settings changed since),
flagged, waiting for manual grading (nbgrader's ``needs_manual_grade``: the explain-in-your-own-
words cells until graded in formgrader), and with feedback pages; then the submitted but not
graded ones, feedback made stale by a later grade (a manual one in formgrader, a regrade), what cannot be
graded and why, and notes such as a renamed notebook. Only reads the workspace: a lecture whose solutions
changed since it was prepared counts every grade of it out of date, without generating anything.
"""
from __future__ import annotations

from .batch import granted_extensions, lecture_sources
from .contract import grading_digest
from .feedback import stale_feedback
from .intake import UsageError, find_submissions, submitted_content
from .settings import course_settings
from .store import load_submissions
from .workspace import gradebook_assignments

# (key, column heading) of the counted lists, in table order.
COUNTED = (("submitted", "submitted"), ("graded", "graded"), ("out_of_date", "out of date"), ("flagged", "flagged"),
           ("needs_manual_grading", "manual"), ("feedback", "feedback"))
# (key, heading) of the lists whose names the table spells out.
NAMED = (("not_graded", "submitted, not graded"), ("out_of_date", "out of date (run `bplab grade`)"),
         ("needs_manual_grading", "needs manual grading (`bplab formgrader`)"), ("flagged", "flagged"),
         ("stale_feedback", "feedback older than the grade (run `bplab feedback`)"))


def _collected_submissions(workspace):
    """(Submissions, SubmissionProblems) of the workspace's submitted/ folder; both empty without one."""
    folder = workspace.path / "submitted"
    problems = []
    if not folder.is_dir():
        return [], problems
    try:
        return find_submissions(folder, workspace, problems=problems), problems
    except UsageError:  # nothing gradable: the problems say why
        return [], problems


def _out_of_date(workspace, submissions, rows, prepared):
    """The (student, lecture) of graded ``submissions`` whose stored digest is not what `bplab grade` (default
    settings, the workspace's course policy) would compute now; every graded one of a lecture not in ``prepared``
    (its solutions changed: `bplab grade` generates it again, status never does)."""
    stored = {(r["student"], r["lecture"]): r["digest"] for r in rows}
    graded = [s for s in submissions if (s.student, s.lecture) in stored]
    lectures = sorted({s.lecture for s in graded} & prepared)
    sources = {lecture: lecture_sources(workspace, lecture) for lecture in lectures}
    extensions = granted_extensions(workspace, lectures) if lectures else {}
    settings = course_settings(workspace) if lectures else None
    stale = set()
    for sub in graded:
        key = (sub.student, sub.lecture)
        if sub.lecture in sources:
            data, timestamp = submitted_content(sub.path)
            if grading_digest(data, sources[sub.lecture], settings, timestamp, extensions.get(key, 0.0)) == stored[key]:
                continue
        stale.add(key)
    return stale


def _needing_manual_grading(workspace, lectures):
    """{lecture: sorted students} whose nbgrader submission has a grade needing manual grading."""
    present = {name for name, _ in gradebook_assignments(workspace.db_path)} & set(lectures)
    if not present:  # opening nbgrader's Gradebook would create its tables
        return {}
    found = {}
    with workspace.gradebook() as gb:
        for lecture in sorted(present):
            found[lecture] = sorted(s.student.id for s in gb.find_assignment(lecture).submissions if s.needs_manual_grade)
    return found


def _described(workspace, problem):
    """The problem as one line, its path relative to the workspace (submitted/<student>/<lecture>)."""
    return f"{problem.path.relative_to(workspace.path)}: {problem.reason}"


def _with_feedback(workspace, lecture):
    return sorted({page.parts[-3] for page in (workspace.path / "feedback").glob(f"*/{lecture}/*.html")})


def workspace_status(workspace, lectures=None) -> dict:
    """Return the status of ``lectures`` (default: every lecture of the repository) in ``workspace``:
    {"workspace": path, "lectures": [{"lecture", and per key of COUNTED, "not_graded" and "stale_feedback": sorted
    student ids, "cannot_grade": [problem lines, paths relative to the workspace], "notes": ["<student>: <note>"],
    "needs_preparing": whether graded work exists while the lecture's solutions changed since it was prepared}],
    "not_lectures": [problem lines of submitted folders that are no lecture of this repository]}.

    Raises UsageError for a lecture the repository does not have.
    """
    known = workspace.lectures()
    unknown = [lec for lec in lectures or [] if lec not in known]
    if unknown:
        raise UsageError(f"unknown lecture {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    lectures = list(lectures or known)
    submissions, problems = _collected_submissions(workspace)
    rows = load_submissions(workspace.db_path) if workspace.db_path.is_file() else []
    prepared = {lecture for lecture in lectures if workspace.is_prepared(lecture)}
    stale = _out_of_date(workspace, [s for s in submissions if s.lecture in lectures], rows, prepared)
    manual = _needing_manual_grading(workspace, lectures)
    report = []
    for lecture in lectures:
        mine = [s for s in submissions if s.lecture == lecture]
        blocked = [p for p in problems if p.lecture == lecture]
        graded = [r for r in rows if r["lecture"] == lecture]
        submitted = sorted({s.student for s in mine} | {p.student for p in blocked if p.student})
        graded_ids = {r["student"] for r in graded}
        report.append({
            "lecture": lecture,
            "submitted": submitted,
            "graded": sorted(graded_ids),
            "out_of_date": sorted(s.student for s in mine if (s.student, lecture) in stale),
            "flagged": sorted(r["student"] for r in graded if r["flagged"]),
            "needs_manual_grading": manual.get(lecture, []),
            "feedback": _with_feedback(workspace, lecture),
            "stale_feedback": stale_feedback(workspace, lecture, _with_feedback(workspace, lecture)),
            "not_graded": [s for s in submitted if s not in graded_ids],
            "cannot_grade": [_described(workspace, p) for p in blocked],
            "notes": [f"{s.student}: {note}" for s in mine for note in s.notes],
            "needs_preparing": bool(graded_ids) and lecture not in prepared,
        })
    return {"workspace": str(workspace.path), "lectures": report,
            "not_lectures": [_described(workspace, p) for p in problems if p.lecture not in known]}


def format_status(status) -> str:
    """Return ``workspace_status(...)`` as a terminal table (str): counts per lecture, then the names to act on."""
    if not any(row[key] for row in status["lectures"] for key, _ in COUNTED) and not status["not_lectures"]:
        return f"nothing submitted yet (no notebook under {status['workspace']}/submitted/, nothing graded)"
    lines = [f"{'lecture':<22}" + "".join(f" {heading:>11}" for _, heading in COUNTED)]
    for row in status["lectures"]:
        lines.append(f"{row['lecture']:<22}" + "".join(f" {len(row[key]):>11}" for key, _ in COUNTED))
    for row in status["lectures"]:
        details = [f"  {heading} ({len(row[key])}): {', '.join(row[key])}" for key, heading in NAMED if row[key]]
        if row["needs_preparing"]:
            details.insert(0, "  its solutions changed since it was prepared: every grade is out of date "
                              "(`bplab grade` prepares it again)")
        details += [f"  cannot be graded: {line}" for line in row["cannot_grade"]]
        details += [f"  note: {line}" for line in row["notes"]]
        if details:
            lines += ["", f"{row['lecture']}:", *details]
    if status["not_lectures"]:
        lines += ["", "not lectures of this repository (not graded):", *(f"  {line}" for line in status["not_lectures"])]
    return "\n".join(lines)
