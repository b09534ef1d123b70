"""Sidecar tables in the workspace gradebook.db: what `bplab grade` decided and why.

nbgrader's own tables hold the final scores (``grade.auto_score``); these two tables hold what
nbgrader has no place for, and what `bplab report` and `bplab export` read:

- ``bplab_submissions(student, lecture, score, max_score, manual_max_score, flagged,
  flag_reasons (JSON list), status, graded_at)``: one row per graded submission;
- ``bplab_verdicts(student, lecture, grade_id, exercise, hidden, passed, diagnosis, message,
  score, max_score, in_kernel_score)``: one row per test cell, the outside verdict.
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
    in_kernel_score REAL, PRIMARY KEY (student, lecture, grade_id));
"""


def connect(db_path):
    """Open ``db_path`` (the workspace gradebook.db) with the sidecar tables created."""
    conn = sqlite3.connect(str(db_path), timeout=60)
    conn.row_factory = sqlite3.Row
    conn.executescript(_SCHEMA)
    return conn


def save_result(db_path, result):
    """Store one graded submission (a dict as printed by ``bplab grade --json``), replacing any earlier one."""
    with closing(connect(db_path)) as conn, conn:
        key = (result["student"], result["lecture"])
        conn.execute("DELETE FROM bplab_verdicts WHERE student=? AND lecture=?", key)
        conn.execute(
            "INSERT OR REPLACE INTO bplab_submissions VALUES (?,?,?,?,?,?,?,?,datetime('now'))",
            (*key, result["score"], result["max_score"], result.get("manual_max_score", 0),
             int(result["flagged"]), json.dumps(result.get("flag_reasons", [])), result["status"]))
        conn.executemany(
            "INSERT INTO bplab_verdicts VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(*key, t["grade_id"], t["exercise"], int(bool(t.get("hidden"))), int(t["passed"]),
              t["diagnosis"], t["message"], t["score"], t["max_score"], t.get("in_kernel_score"))
             for t in result["tests"]])


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
