"""`bplab export` (one row per student x lecture) and `bplab report` (class pass rates and
the most common diagnoses per exercise), read from the workspace gradebook."""
from __future__ import annotations

import csv
from collections import Counter, defaultdict

from .store import load_submissions, load_verdicts

EXPORT_COLUMNS = ("student", "lecture", "score", "max_score", "flagged", "needs_manual_grading", "status")


def export_rows(workspace):
    """Return one dict per graded student x lecture with EXPORT_COLUMNS.

    ``score`` and ``max_score`` come from nbgrader's gradebook, so manual grades and overrides
    given later in formgrader count; ``flagged`` and ``status`` from `bplab grade`.
    """
    from nbgrader.api import Gradebook, MissingEntry
    rows = []
    with Gradebook(workspace.db_url) as gb:
        for sub in load_submissions(workspace.db_path):
            try:
                nb_sub = gb.find_submission(sub["lecture"], sub["student"])
                score, max_score, manual = nb_sub.score, nb_sub.max_score, nb_sub.needs_manual_grade
            except MissingEntry:
                score, max_score, manual = sub["score"], sub["max_score"], bool(sub["manual_max_score"])
            rows.append({"student": sub["student"], "lecture": sub["lecture"], "score": score,
                         "max_score": max_score, "flagged": sub["flagged"], "needs_manual_grading": bool(manual),
                         "status": sub["status"]})
    return rows


def write_export(workspace, path):
    """Write ``export_rows`` to the CSV file ``path``; return the number of rows."""
    rows = export_rows(workspace)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def class_report(workspace, top=3):
    """Return per exercise: lecture, students, passed (all its tests passed), pass_rate and the
    ``top`` most common diagnoses as [{diagnosis, students}] (a student counts once per diagnosis)."""
    per_exercise = defaultdict(lambda: {"passed": defaultdict(lambda: True), "diagnoses": defaultdict(set)})
    for v in load_verdicts(workspace.db_path):
        entry = per_exercise[(v["lecture"], v["exercise"])]
        entry["passed"][v["student"]] &= v["passed"]
        if not v["passed"] and v["diagnosis"]:
            entry["diagnoses"][v["diagnosis"]].add(v["student"])
    report = []
    for (lecture, exercise), entry in sorted(per_exercise.items()):
        students = len(entry["passed"])
        passed = sum(entry["passed"].values())
        common = Counter({d: len(s) for d, s in entry["diagnoses"].items()}).most_common(top)
        report.append({"lecture": lecture, "exercise": exercise, "students": students, "passed": passed,
                       "pass_rate": passed / students if students else 0.0,
                       "common_diagnoses": [{"diagnosis": d, "students": n} for d, n in common]})
    return report


def format_report(report):
    """Return the class report as a terminal table (str)."""
    lines = [f"{'lecture':<22} {'exercise':<24} {'passed':>9}  most common mistakes"]
    for row in report:
        common = ", ".join(f"{c['diagnosis']} ({c['students']})" for c in row["common_diagnoses"]) or "-"
        lines.append(f"{row['lecture']:<22} {row['exercise']:<24} {row['passed']:>3}/{row['students']:<3} "
                     f"{row['pass_rate']:>4.0%}  {common}")
    return "\n".join(lines)


def format_grade_table(results, notes=None):
    """Return the grade results (GradingResult list) as a terminal table: one line per submission,
    then the failed tests with their diagnosis, the flag reasons and the ``notes`` ({(student,
    lecture): [str]}, e.g. a renamed notebook: worth knowing, not a flag)."""
    notes = notes or {}
    lines = [f"{'student':<24} {'lecture':<20} {'score':>11}  {'status':<12} flagged"]
    for r in results:
        lines.append(f"{r.student:<24} {r.lecture:<20} {r.score:>5g}/{r.max_score:<5g}  "
                     f"{r.status:<12} {'FLAGGED' if r.flagged else ''}{'  (already graded)' if r.reused else ''}")
        for v in r.verdicts:
            if not v.passed:
                lines.append(f"    - {v.grade_id:<34} {v.diagnosis or ''}")
        for reason in r.flag_reasons:
            lines.append(f"    ! {reason.splitlines()[0]}")
        for note in notes.get((r.student, r.lecture), []):
            lines.append(f"    note: {note}")
    return "\n".join(lines)
