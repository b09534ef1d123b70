"""`bplab export` (one row per student x lecture) and `bplab report` (class pass rates and
the most common diagnoses per exercise), read from the workspace gradebook."""
from __future__ import annotations

import csv
import json
import os
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from . import cells
from .store import load_submissions, load_verdicts

EXPORT_COLUMNS = ("student", "lecture", "score", "max_score", "flagged", "needs_manual_grading", "status")


def nbgrader_submission(gb, lecture, student):
    """nbgrader's SubmittedAssignment of ``student`` and ``lecture`` in the open Gradebook ``gb``, or None."""
    from nbgrader.api import MissingEntry
    try:
        return gb.find_submission(lecture, student)
    except MissingEntry:
        return None


def pending_manual_points(workspace, lectures=None):
    """{(student, lecture): points of the written answers still waiting to be graded by hand} of the graded
    submissions of ``lectures`` (default: all); a submission with nothing waiting is left out."""
    pending = {}
    if not workspace.db_path.is_file():
        return pending
    with workspace.gradebook() as gb:
        for sub in load_submissions(workspace.db_path):
            nb_sub = None if lectures is not None and sub["lecture"] not in lectures else \
                nbgrader_submission(gb, sub["lecture"], sub["student"])
            points = sum(grade.max_score for notebook in (nb_sub.notebooks if nb_sub else [])
                         for grade in notebook.grades if grade.needs_manual_grade)
            if points:
                pending[sub["student"], sub["lecture"]] = points
    return pending


def export_rows(workspace):
    """Return one dict per graded student x lecture with EXPORT_COLUMNS.

    ``score`` and ``max_score`` come from nbgrader's gradebook, so manual grades and overrides
    given later in formgrader count; ``score`` less the late penalty, as `nbgrader export` does it
    (nbgrader's own submission score leaves the penalty out); ``flagged`` and ``status`` from `bplab grade`.
    """
    rows = []
    with workspace.gradebook() as gb:
        for sub in load_submissions(workspace.db_path):
            nb_sub = nbgrader_submission(gb, sub["lecture"], sub["student"])
            if nb_sub is not None:
                score = max(0.0, nb_sub.score - (nb_sub.late_submission_penalty or 0.0))
                max_score, manual = nb_sub.max_score, nb_sub.needs_manual_grade
            else:
                score, max_score, manual = sub["score"], sub["max_score"], bool(sub["manual_max_score"])
            rows.append({"student": sub["student"], "lecture": sub["lecture"], "score": score,
                         "max_score": max_score, "flagged": sub["flagged"], "needs_manual_grading": bool(manual),
                         "status": sub["status"]})
    return rows


class ExportError(Exception):
    """An export that cannot be written as asked (bad roster, unwritable path); nothing was written."""


def _new_file_mode(path):
    """The mode ``open(path, "w")`` would give: the old file's if there is one, else 666 less the umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_output_path(path):
    """Raise ExportError unless a file ``path`` can be created: its folder exists and it is no folder."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ExportError(f"cannot write {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder")


def write_csv(path, rows):
    """Write ``rows`` (lists of cells, the header first) to the CSV file ``path`` all at once: into a
    temporary file beside it, then renamed, so that a failure leaves no partial file behind."""
    path = Path(path)
    check_output_path(path)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)
        os.chmod(tmp, _new_file_mode(path))  # mkstemp makes it 600
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise ExportError(f"cannot write {path}: {err.strerror or err}") from err
        raise


def write_export(workspace, path):
    """Write ``export_rows`` to the CSV file ``path`` (EXPORT_COLUMNS); return the number of rows."""
    rows = export_rows(workspace)
    write_csv(path, [list(EXPORT_COLUMNS)] + [[row[column] for column in EXPORT_COLUMNS] for row in rows])
    return len(rows)


# Diagnoses that are no misconception: the exercise was not attempted; the crash of a grader failure.
NOT_ATTEMPTED = "not-implemented"


def exercise_order(workspace, lecture):
    """{exercise: position} in the lecture's solutions notebook (its answer cells' order); {} without one."""
    try:
        source = json.loads(workspace.source_notebook_path(lecture).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError):
        return {}
    ids = [cells.grade_id(c) for c in source if cells.is_solution(c) and c["cell_type"] == "code"]
    return {grade_id: i for i, grade_id in enumerate(ids)}


def class_report(workspace, top=3):
    """Return per exercise, in each lecture's order: lecture, students (graded, grader failures left out), passed
    (all its tests passed), pass_rate, not_attempted (students whose function still raises NotImplementedError),
    and the ``top`` most common mistakes as [{diagnosis, students, student_ids}] (a student counts once per
    diagnosis; not-implemented is no mistake)."""
    failed = {(s["student"], s["lecture"]) for s in load_submissions(workspace.db_path) if s["status"] == "error"}
    per_exercise = defaultdict(lambda: {"passed": defaultdict(lambda: True), "diagnoses": defaultdict(set),
                                        "not_attempted": set()})
    for v in load_verdicts(workspace.db_path):
        if (v["student"], v["lecture"]) in failed:
            continue
        entry = per_exercise[(v["lecture"], v["exercise"])]
        entry["passed"][v["student"]] &= v["passed"]
        if v["passed"] or not v["diagnosis"]:
            continue
        if v["diagnosis"] == NOT_ATTEMPTED:
            entry["not_attempted"].add(v["student"])
        else:
            entry["diagnoses"][v["diagnosis"]].add(v["student"])
    orders = {lecture: exercise_order(workspace, lecture) for lecture, _ in per_exercise}
    report = []
    for (lecture, exercise), entry in sorted(per_exercise.items(), key=lambda item: (
            item[0][0], orders[item[0][0]].get(item[0][1], len(orders[item[0][0]])), item[0][1])):
        students = len(entry["passed"])
        passed = sum(entry["passed"].values())
        common = Counter({d: len(s) for d, s in entry["diagnoses"].items()}).most_common(top)
        report.append({"lecture": lecture, "exercise": exercise, "students": students, "passed": passed,
                       "pass_rate": passed / students if students else 0.0,
                       "not_attempted": len(entry["not_attempted"]),
                       "common_diagnoses": [{"diagnosis": d, "students": n, "student_ids": sorted(entry["diagnoses"][d])}
                                            for d, n in common]})
    return report


def score_distribution(workspace, bins=5):
    """{lecture: [count of students per score band]}: ``bins`` equal bands of the score from 0 to the maximum
    (final scores, manual grades and late penalty included; grader failures left out); the top band includes full
    marks."""
    spread = defaultdict(lambda: [0] * bins)
    for row in export_rows(workspace):
        if row["max_score"] and row["status"] != "error":  # a grader failure is no score of the student's
            band = min(int(row["score"] / row["max_score"] * bins), bins - 1)
            spread[row["lecture"]][band] += 1
    return dict(sorted(spread.items()))


def format_report(report, distribution=None):
    """Return the class report (and the ``score_distribution``, if given) as a terminal table (str)."""
    lines = [f"{'lecture':<22} {'exercise':<24} {'passed':>9}  {'not tried':>9}  most common mistakes (students)"]
    for row in report:
        common = "; ".join(f"{c['diagnosis']} ({c['students']}: {', '.join(c['student_ids'][:4])}"
                           f"{', ...' if c['students'] > 4 else ''})" for c in row["common_diagnoses"]) or "-"
        lines.append(f"{row['lecture']:<22} {row['exercise']:<24} {row['passed']:>3}/{row['students']:<3} "
                     f"{row['pass_rate']:>4.0%}  {row['not_attempted']:>9}  {common}")
    for lecture, counts in (distribution or {}).items():
        bands = len(counts)
        lines += ["", f"{lecture}: students per score band"]
        for i, count in enumerate(counts):
            low, high = 100 * i // bands, 100 * (i + 1) // bands
            lines.append(f"  {low:>3}-{high:<3}% {'#' * count} {count}")
    return "\n".join(lines)


def format_grade_table(results, notes=None, pending=None):
    """Return the grade results (GradingResult list) as a terminal table: one line per submission,
    then the failed tests with their diagnosis, the flag reasons and the ``notes`` ({(student,
    lecture): [str]}, e.g. a renamed notebook: worth knowing, not a flag). ``pending``
    ({(student, lecture): points}, ``pending_manual_points``) adds the points still to grade by hand."""
    notes, pending = notes or {}, pending or {}
    lines = [f"{'student':<24} {'lecture':<20} {'score':>11}  {'status':<12} flagged"]
    for r in results:
        waiting = pending.get((r.student, r.lecture))
        lines.append(f"{r.student:<24} {r.lecture:<20} {r.score:>5g}/{r.max_score:<5g}  "
                     f"{r.status:<12} {'FLAGGED' if r.flagged else ''}{'  (already graded)' if r.reused else ''}"
                     f"{f'  (late: -{r.late_penalty:g})' if r.late_penalty else ''}"
                     f"{f'  (+{waiting:g} to grade by hand: bplab formgrader)' if waiting else ''}")
        for v in r.verdicts:
            if not v.passed:
                lines.append(f"    - {v.grade_id:<34} {v.diagnosis or ''}")
        for reason in r.flag_reasons:
            lines.append(f"    ! {reason.splitlines()[0]}")
        for note in notes.get((r.student, r.lecture), []):
            lines.append(f"    note: {note}")
    return "\n".join(lines)
