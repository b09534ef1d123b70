"""Sidecar tables in the workspace gradebook.db: what `bplab grade` decided and why.

nbgrader's own tables hold the final scores (``grade.auto_score``); these two tables hold what
nbgrader has no place for, and what `bplab report`, `bplab export` and resumed batches read:

- ``bplab_submissions(student, lecture, score, max_score, manual_max_score, flagged,
  flag_reasons (JSON list), status, graded_at, digest, grader_version, late_penalty)``: one row
  per graded submission; ``digest`` and ``grader_version`` let a batch skip what is graded already;
- ``bplab_verdicts(student, lecture, grade_id, exercise, hidden, passed, diagnosis, message,
  score, max_score)``: one row per test cell, the judge's verdict.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import closing

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bplab_submissions (
    student TEXT NOT NULL, lecture TEXT NOT NULL, score REAL, max_score REAL,
    manual_max_score REAL, flagged INTEGER, flag_reasons TEXT, status TEXT, graded_at TEXT,
    PRIMARY KEY (student, lecture));
CREATE TABLE IF NOT EXISTS bplab_verdicts (
    student TEXT NOT NULL, lecture TEXT NOT NULL, grade_id TEXT NOT NULL, exercise TEXT,
    hidden INTEGER, passed INTEGER, diagnosis TEXT, message TEXT, score REAL, max_score REAL,
    PRIMARY KEY (student, lecture, grade_id));
"""
_ADDED_COLUMNS = {"digest": "TEXT", "grader_version": "TEXT", "late_penalty": "REAL"}  # after the first schema


def connect(db_path):
    """Open ``db_path`` (the workspace gradebook.db) with the sidecar tables created."""
    conn = sqlite3.connect(str(db_path), timeout=60)
    conn.row_factory = sqlite3.Row
    conn.executescript(_SCHEMA)
    have = {row["name"] for row in conn.execute("PRAGMA table_info(bplab_submissions)")}
    for column, kind in _ADDED_COLUMNS.items():
        if column not in have:
            conn.execute(f"ALTER TABLE bplab_submissions ADD COLUMN {column} {kind}")
    return conn


def save_result(db_path, result):
    """Store one GradingResult (contract.py), replacing any earlier one of that student and lecture, in one transaction."""
    with closing(connect(db_path)) as conn, conn:
        key = (result.student, result.lecture)
        conn.execute("DELETE FROM bplab_verdicts WHERE student=? AND lecture=?", key)
        conn.execute(
            "INSERT OR REPLACE INTO bplab_submissions (student, lecture, score, max_score, manual_max_score, flagged, "
            "flag_reasons, status, graded_at, digest, grader_version, late_penalty) "
            "VALUES (?,?,?,?,?,?,?,?,datetime('now'),?,?,?)",
            (*key, result.score, result.max_score, result.manual_max_score, int(result.flagged),
             json.dumps(result.flag_reasons), result.status, result.digest, result.grader_version, result.late_penalty))
        conn.executemany(
            "INSERT INTO bplab_verdicts (student, lecture, grade_id, exercise, hidden, passed, diagnosis, message, "
            "score, max_score) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(*key, v.grade_id, v.exercise, int(v.hidden), int(v.passed), v.diagnosis, v.message, v.score, v.points)
             for v in result.verdicts])


def load_submission(db_path, student, lecture):
    """The stored row of ``student`` and ``lecture`` as a dict (flag_reasons decoded), or None."""
    with closing(connect(db_path)) as conn:
        row = conn.execute("SELECT * FROM bplab_submissions WHERE student=? AND lecture=?", (student, lecture)).fetchone()
    return None if row is None else dict(row, flagged=bool(row["flagged"]),
                                         flag_reasons=json.loads(row["flag_reasons"] or "[]"))


def load_submissions(db_path):
    """Return every stored submission row as a dict (flag_reasons decoded), sorted by lecture, student."""
    with closing(connect(db_path)) as conn:
        rows = conn.execute("SELECT * FROM bplab_submissions ORDER BY lecture, student").fetchall()
    return [dict(row, flagged=bool(row["flagged"]), flag_reasons=json.loads(row["flag_reasons"] or "[]"))
            for row in rows]


def load_verdicts(db_path, student=None, lecture=None):
    """Return stored verdict rows as dicts, optionally for one student and/or lecture."""
    query, args = "SELECT * FROM bplab_verdicts WHERE 1=1", []
    if student is not None:
        query, args = query + " AND student=?", args + [student]
    if lecture is not None:
        query, args = query + " AND lecture=?", args + [lecture]
    with closing(connect(db_path)) as conn:
        rows = conn.execute(query + " ORDER BY lecture, student, grade_id", args).fetchall()
    return [dict(row, hidden=bool(row["hidden"]), passed=bool(row["passed"])) for row in rows]
