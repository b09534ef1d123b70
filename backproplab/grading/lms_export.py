"""Grades for a learning management system: `bplab export --format canvas` and `--format long`,
and the roster that says who our students are in Canvas.

- ``canvas``: Canvas's gradebook import CSV. The header is Canvas's five identity columns
  (CANVAS_IDENTITY_COLUMNS) and one column per lecture, then a "Points Possible" row, then one
  row per student with the lecture score (from nbgrader's gradebook, as `export_rows` reads it).
  A lecture's column is headed by its id (``04-backprop``): the name students see in course/, the
  same in every export (Canvas creates an assignment for a column it does not know and matches
  it again by name next time, so a title that changed would make a second assignment), and the
  ``lecture`` value of the other formats, so the files join. When the roster is Canvas's own
  gradebook export, a lecture already imported once is headed as Canvas heads it,
  ``04-backprop (1234)``, so Canvas matches it by its assignment id.
- ``long``: one row per student x graded cell (LONG_COLUMNS), for pandas. A row is a test cell
  (grade_id), not an exercise, because an exercise's visible and hidden tests differ in what
  they say (a student may pass the visible test and fail the hidden one, with its own
  diagnosis); summing them into one row would lose that, while
  ``df.groupby(["student", "lecture", "exercise"])`` gets the per-exercise view back.
  The explain-in-your-own-words cells (``kind`` "manual") are rows too, with the score given in
  formgrader. Scores are per cell as nbgrader holds them, before the late penalty, which the
  lecture totals of the ``csv`` and ``canvas`` formats subtract.
"""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .reports import (
    ExportError,
    check_output_path,
    class_report,
    export_rows,
    nbgrader_submission,
    pending_manual_points,
    score_distribution,
    write_csv,
    write_export,
)
from .store import load_submissions, load_verdicts

EXPORT_FORMATS = ("csv", "canvas", "long", "html")

CANVAS_IDENTITY_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS_ROW = "Points Possible"
LONG_COLUMNS = ("student", "lecture", "exercise", "grade_id", "kind", "hidden", "passed", "diagnosis",
                "score", "max_score", "needs_manual_grading", "status", "flagged")

# A column of Canvas's gradebook export that is an assignment: "Title (assignment id)".
_CANVAS_ASSIGNMENT = re.compile(r"^(?P<name>.*\S)\s+\((?P<id>\d+)\)$")


@dataclass(frozen=True)
class CanvasIdentity:
    """A student as Canvas knows them: the cells of CANVAS_IDENTITY_COLUMNS, in that order."""
    name: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    def cells(self) -> list[str]:
        return [self.name, self.canvas_id, self.sis_user_id, self.sis_login_id, self.section]


@dataclass
class Roster:
    """A roster read by ``read_roster``.

    ``students``: {nbgrader student id: CanvasIdentity}, in the file's order.
    ``assignment_columns``: {assignment title: Canvas's column header "title (id)"}, from a Canvas export.
    ``skipped``: Canvas users left out because they have no SIS Login ID (e.g. Canvas's Test Student).
    """
    students: dict[str, CanvasIdentity]
    assignment_columns: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


@dataclass
class ExportOutcome:
    """What an export wrote: ``rows`` (students or records, without header rows), the graded
    student ids missing from the roster (they still have a row), and notes for the instructor."""
    rows: int
    not_in_roster: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_roster(path) -> Roster:
    """Read the roster CSV ``path``: either our format (a ``student_id`` column holding the nbgrader
    id, and any of ``name``, ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``section``), or Canvas's
    own gradebook export, whose SIS Login ID is taken as the nbgrader id (the hub's user name).

    Raises ExportError when the file cannot be read, has neither id column, or names a student twice.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets save a BOM
            table = [row for row in csv.reader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise ExportError(f"cannot read roster {path}: {reason}") from err
    if not table:
        raise ExportError(f"roster {path} is empty")
    header = [cell.strip() for cell in table[0]]
    if "student_id" in header:
        return _our_roster(path, header, table[1:])
    if "SIS Login ID" in header and ("Student" in header or "Student Name" in header):
        return _canvas_roster(path, header, table[1:])
    raise ExportError(f"roster {path} has no student_id column (nor Canvas's SIS Login ID); "
                      f"its header is: {','.join(header)}")


def _cells(header, row):
    """{column: stripped cell} of one CSV row (missing cells are empty)."""
    return {column: (row[i].strip() if i < len(row) else "") for i, column in enumerate(header)}


def _add_student(path, students, first_row, student, identity, row_number):
    if student in students:
        raise ExportError(f"roster {path}: student id {student!r} appears twice (rows {first_row[student]} "
                          f"and {row_number})")
    students[student], first_row[student] = identity, row_number


def _our_roster(path, header, rows) -> Roster:
    students, first_row = {}, {}
    for row_number, row in enumerate(rows, start=2):
        cells = _cells(header, row)
        if not any(cells.values()):
            continue  # a blank line
        student = cells["student_id"]
        if not student:
            raise ExportError(f"roster {path}: row {row_number} has no student_id")
        identity = CanvasIdentity(cells.get("name") or student, cells.get("canvas_id", ""), cells.get("sis_user_id", ""),
                                  cells.get("sis_login_id", ""), cells.get("section", ""))
        _add_student(path, students, first_row, student, identity, row_number)
    return Roster(students)


def _canvas_roster(path, header, rows) -> Roster:
    name_column = "Student" if "Student" in header else "Student Name"
    students, first_row, skipped = {}, {}, 0
    for row_number, row in enumerate(rows, start=2):
        cells = _cells(header, row)
        student = cells["SIS Login ID"]
        if not student:  # the Points Possible row, posting-policy rows, Canvas's Test Student
            skipped += bool(cells.get("ID"))
            continue
        identity = CanvasIdentity(cells[name_column], cells.get("ID", ""), cells.get("SIS User ID", ""), student,
                                  cells.get("Section", ""))
        _add_student(path, students, first_row, student, identity, row_number)
    assignments = {m["name"]: column for column in header if (m := _CANVAS_ASSIGNMENT.match(column))}
    return Roster(students, assignments, skipped)


def _number(value) -> str:
    """A score as a CSV cell: 2 not 2.0, at most 6 significant digits (Canvas keeps 2 decimals)."""
    return "" if value is None else f"{float(value):g}"


def canvas_table(grade_rows, roster: Roster | None = None) -> tuple[list[list[str]], list[str]]:
    """Return (the CSV rows of Canvas's gradebook import, header first; the graded student ids the
    roster lacks) for ``grade_rows`` (dicts with student, lecture, score, max_score: `export_rows`).

    With a roster: its students in its order (a student with no grade gets empty cells), then
    graded students it lacks, with their nbgrader id as Student and the Canvas ids empty.
    Without one: each graded student with the nbgrader id as Student and SIS Login ID.
    """
    lectures = sorted({row["lecture"] for row in grade_rows})
    score = {(row["student"], row["lecture"]): row["score"] for row in grade_rows}
    graded = sorted({row["student"] for row in grade_rows})
    if roster is None:
        identities, missing = {s: CanvasIdentity(name=s, sis_login_id=s) for s in graded}, []
    else:
        missing = [s for s in graded if s not in roster.students]
        identities = {**roster.students, **{s: CanvasIdentity(name=s) for s in missing}}
    columns = [roster.assignment_columns.get(lecture, lecture) if roster else lecture for lecture in lectures]
    # Canvas gives a new assignment column these points; for existing assignments it leaves them be.
    points = [_number(max(row["max_score"] or 0 for row in grade_rows if row["lecture"] == lecture))
              for lecture in lectures]
    table = [[*CANVAS_IDENTITY_COLUMNS, *columns], [CANVAS_POINTS_ROW, "", "", "", "", *points]]
    for student, identity in identities.items():
        table.append([*identity.cells(), *(_number(score.get((student, lecture))) for lecture in lectures)])
    return table, missing


def long_rows(workspace) -> list[dict]:
    """Return one dict (LONG_COLUMNS) per graded student x graded cell of the workspace gradebook.

    Test cells come from the stored verdicts (exercise, hidden, passed, diagnosis), with score and
    max_score from nbgrader's gradebook when it holds the submission (so formgrader overrides count);
    the explain cells (``kind`` "manual") only from nbgrader's gradebook, with an empty score while
    they still need grading. ``passed`` and ``hidden`` are empty for manual cells.
    """
    verdicts = defaultdict(list)
    for verdict in load_verdicts(workspace.db_path):
        verdicts[verdict["student"], verdict["lecture"]].append(verdict)
    rows = []
    with workspace.gradebook() as gb:
        for sub in load_submissions(workspace.db_path):
            nb_sub = nbgrader_submission(gb, sub["lecture"], sub["student"])
            grades = {g.name: g for nb in nb_sub.notebooks for g in nb.grades} if nb_sub else {}
            common = {"student": sub["student"], "lecture": sub["lecture"], "status": sub["status"],
                      "flagged": sub["flagged"]}
            for v in verdicts[sub["student"], sub["lecture"]]:
                grade = grades.pop(v["grade_id"], None)
                rows.append(dict(common, exercise=v["exercise"], grade_id=v["grade_id"], kind="test", hidden=v["hidden"],
                                 passed=v["passed"], diagnosis=v["diagnosis"] or "",
                                 score=grade.score if grade else v["score"],
                                 max_score=grade.max_score if grade else v["max_score"],
                                 needs_manual_grading=bool(grade and grade.needs_manual_grade)))
            for name, grade in sorted(grades.items()):  # cells no check judged: the explain answers
                manual = grade.cell.cell_type == "markdown"
                ungraded = grade.needs_manual_grade and grade.manual_score is None
                rows.append(dict(common, exercise=name, grade_id=name, kind="manual" if manual else "test",
                                 hidden="", passed="", diagnosis="", score=None if ungraded else grade.score,
                                 max_score=grade.max_score, needs_manual_grading=grade.needs_manual_grade))
    return rows


def export_grades(workspace, path, export_format="csv", roster_path=None) -> ExportOutcome:
    """Write the workspace's grades to the CSV file ``path`` in ``export_format`` (EXPORT_FORMATS):
    "csv" (`write_export`, one row per student x lecture), "canvas" (``canvas_table``, with the
    roster CSV ``roster_path`` if given) or "long" (``long_rows``). The file is written whole or not at all.

    Raises ExportError (nothing written) for a bad roster, a roster with another format than
    canvas, an unknown format or an unwritable ``path``.
    """
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {export_format!r} (choose from {', '.join(EXPORT_FORMATS)})")
    if roster_path is not None and export_format != "canvas":
        raise ExportError(f"--roster applies to --format canvas only, not {export_format}")
    check_output_path(path)  # before reading the gradebook: fail fast
    if export_format == "csv":
        return ExportOutcome(write_export(workspace, path))
    if export_format == "html":
        rows = export_rows(workspace)
        _write_text(path, grades_page(workspace, rows))
        return ExportOutcome(len(rows))
    if export_format == "long":
        rows = long_rows(workspace)
        write_csv(path, [list(LONG_COLUMNS)] + [["" if row[c] is None else row[c] for c in LONG_COLUMNS] for row in rows])
        return ExportOutcome(len(rows))
    roster = read_roster(roster_path) if roster_path is not None else None
    grade_rows = export_rows(workspace)
    table, missing = canvas_table(grade_rows, roster)
    write_csv(path, table)
    return ExportOutcome(len(table) - 2, missing, _canvas_notes(grade_rows, roster, missing))


def _canvas_notes(grade_rows, roster, missing) -> list[str]:
    notes = []
    if roster is None:
        notes.append("no --roster: each student's nbgrader id is written as Student and SIS Login ID, with "
                     "Canvas's ID, SIS User ID and Section empty; pass Canvas's gradebook export as --roster "
                     "so that Canvas recognises every student")
    elif roster.skipped:
        notes.append(f"roster: left out {roster.skipped} Canvas user(s) without SIS Login ID (e.g. the Test Student)")
    if missing:
        by_case = {student.casefold(): student for student in roster.students}
        hints = [f"{s} (roster has {by_case[s.casefold()]!r})" if s.casefold() in by_case else s for s in missing]
        notes.append(f"{len(missing)} graded student(s) not in the roster, written with empty Canvas ids "
                     f"(add them to the roster and export again): {', '.join(hints)}")
    manual = sorted({(r["student"], r["lecture"]) for r in grade_rows if r["needs_manual_grading"]})
    if manual:
        notes.append(f"{len(manual)} submission(s) still need manual grading in formgrader; their scores "
                     "leave out those points")
    return notes


def grades_page(workspace, rows) -> str:
    """The class's grades as one static HTML page (str): per lecture, each student's score, points still to grade
    by hand, flag and status, how the scores spread, and the most common mistakes per exercise."""
    from html import escape

    pending = pending_manual_points(workspace)
    spread = score_distribution(workspace)
    mistakes = defaultdict(list)
    for row in class_report(workspace):
        mistakes[row["lecture"]].append(row)
    parts = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'><title>Backprop Lab grades</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}.flag{color:#b00;font-weight:bold}"
             ".bar{background:#4a7;height:1em;display:inline-block}</style></head><body>",
             f"<h1>Grades: {escape(str(workspace.path))}</h1>"]
    for lecture in sorted({row["lecture"] for row in rows}):
        mine = sorted((row for row in rows if row["lecture"] == lecture), key=lambda row: row["student"])
        parts += [f"<h2 id='{escape(lecture)}'>{escape(lecture)}</h2>", "<table><tr><th>student</th><th>score</th>"
                  "<th>to grade by hand</th><th>status</th><th>flagged</th></tr>"]
        for row in mine:
            waiting = pending.get((row["student"], lecture), 0)
            parts.append(f"<tr><td>{escape(row['student'])}</td><td>{_number(row['score'])} / {_number(row['max_score'])}"
                         f"</td><td>{_number(waiting) if waiting else ''}</td><td>{escape(row['status'])}</td>"
                         f"<td class='flag'>{'FLAGGED' if row['flagged'] else ''}</td></tr>")
        parts.append("</table><h3>Students per score band</h3><table>")
        bands = spread.get(lecture, [])
        for i, count in enumerate(bands):
            parts.append(f"<tr><td>{100 * i // len(bands)}-{100 * (i + 1) // len(bands)}%</td><td>"
                         f"<span class='bar' style='width:{2 * count}em'></span> {count}</td></tr>")
        parts.append("</table><h3>Exercises</h3><table><tr><th>exercise</th><th>passed</th><th>not tried</th>"
                     "<th>most common mistakes (students)</th></tr>")
        for row in mistakes[lecture]:
            common = "; ".join(f"{escape(c['diagnosis'])} ({escape(', '.join(c['student_ids']))})"
                               for c in row["common_diagnoses"])
            parts.append(f"<tr><td>{escape(row['exercise'])}</td><td>{row['passed']}/{row['students']}</td>"
                         f"<td>{row['not_attempted']}</td><td>{common}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _write_text(path, text):
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, then renamed)."""
    import os
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)  # grades: for the instructor
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"cannot write {path}: {err.strerror or err}") from err
