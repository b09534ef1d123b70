"""The instructor's workspace (default ``autograder/``): gradebook, course secret, nbgrader assignments.

Layout (all git-ignored except nbgrader_config.py and README.md):
    nbgrader_config.py          loads backproplab.grading.config
    gradebook.db                nbgrader's gradebook (final scores) + bplab_* sidecar tables
    .bplab-secret               course secret for the per-student seeds (created on first use)
    .bplab/<lecture>/template.db  a gradebook holding only the assignment, copied per submission
    source/<lecture>/           copy of solutions/<lecture>/ (nbgrader "source")
    release/<lecture>/          nbgrader's student version
    autograded/<student>/<lecture>/   graded notebooks (feedback input)
    feedback/<student>/<lecture>/     feedback HTML
"""
from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

from .config import config_file_text
from .notebooks import read_notebook
from .release import copy_lecture, discover_lectures, ensure_scripts_on_path, generate_assignments, lecture_files

DEFAULT_WORKSPACE = "autograder"  # relative to the repository root


def write_blank_gradebook(path: Path) -> None:
    """An empty nbgrader gradebook at ``path``, to copy from. nbgrader stamps a new gradebook with its migrations'
    head revision, which it asks a new ``alembic heads`` process for (a second of CPU); the same revision is read
    here in-process from nbgrader's alembic scripts, and nbgrader then finds the database stamped."""
    from alembic.script import ScriptDirectory
    from nbgrader.api import Gradebook
    from nbgrader.dbutil import ALEMBIC_DIR

    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version (version_num) VALUES (?)",
                     (ScriptDirectory(ALEMBIC_DIR).get_current_head(),))
    Gradebook(f"sqlite:///{path}", "").close()   # nbgrader's tables; '' is its course id when none is configured


# The course id nbgrader stores when none is configured: '' (CourseDirectory) or "default_course" (Gradebook).
_NO_COURSE_ID = ("", "default_course")


class ForeignGradebook(ValueError):
    """The workspace's gradebook.db belongs to another course (the message names what it holds and what was expected)."""


def _same_course(stored, expected):
    """Whether an assignment's stored course id is the workspace's (``expected``); nbgrader's defaults are one id."""
    return (stored or "") == expected or ((stored or "") in _NO_COURSE_ID and expected in _NO_COURSE_ID)


def _course_words(course_id):
    return "no course id" if (course_id or "") in _NO_COURSE_ID else f"course {course_id!r}"


def gradebook_assignments(db_path):
    """[(assignment name, course id)] of nbgrader's gradebook at ``db_path``, read without writing
    (nbgrader's Gradebook adds a course row on opening); [] when there is no gradebook or no assignment table."""
    if not Path(db_path).is_file():
        return []
    with closing(sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='assignment'").fetchone():
            return []
        return conn.execute("SELECT name, course_id FROM assignment ORDER BY name").fetchall()


class Workspace:
    """An instructor workspace rooted at ``path`` for the repository ``root`` (holds solutions/)."""

    def __init__(self, path, root):
        self.path = Path(path).resolve()
        self.root = Path(root).resolve()
        self.path.mkdir(parents=True, exist_ok=True)
        ensure_scripts_on_path()
        config = self.path / "nbgrader_config.py"
        if not config.exists():
            config.write_text(config_file_text())

    @property
    def db_path(self):
        return self.path / "gradebook.db"

    @property
    def db_url(self):
        return f"sqlite:///{self.db_path}"

    def secret(self):
        """Return the course secret (hex str), creating it (mode 600) on first use."""
        path = self.path / ".bplab-secret"
        if not path.exists():
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def seed(self, student, lecture, submission: bytes):
        """Return the seed of a submission's hidden tests: an int from sha256(student, lecture, course secret,
        sha256 of the submitted notebook's bytes). The same bytes always get the same hidden cases (a regrade
        is stable, a verdict's seed replays it); any other submission gets new ones, so the seed and
        verdicts an earlier graded notebook or its feedback showed tell nothing about the next."""
        content = hashlib.sha256(submission).hexdigest()
        digest = hashlib.sha256(f"{student}\0{lecture}\0{self.secret()}\0{content}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 1  # fits an int64

    def lectures(self):
        """Return the lecture ids found in the repository's solutions/."""
        return discover_lectures(self.root)

    def source_notebook_path(self, lecture):
        """Return the path of the lecture's (single) source notebook in solutions/."""
        notebooks = sorted((self.root / "solutions" / lecture).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise ValueError(f"solutions/{lecture} must hold exactly one notebook, found {len(notebooks)}")
        return notebooks[0]

    def release_notebook_path(self, lecture):
        """Return nbgrader's student version of the lecture notebook in this workspace."""
        return self.path / "release" / lecture / self.source_notebook_path(lecture).name

    def template_db(self, lecture):
        return self.path / ".bplab" / lecture / "template.db"

    def _fingerprint(self, lecture):
        folder = self.root / "solutions" / lecture
        digest = hashlib.sha256()
        for rel in lecture_files(folder):
            digest.update(str(rel).encode() + b"\0" + (folder / rel).read_bytes())
        return digest.hexdigest()

    def _stamp(self, lecture):
        return self.path / ".bplab" / lecture / "source.sha256"

    def _is_current(self, lecture, fingerprint):
        stamp = self._stamp(lecture)
        return (stamp.exists() and stamp.read_text() == fingerprint and self.template_db(lecture).exists()
                and self.release_notebook_path(lecture).exists() and self.db_path.exists())

    def is_prepared(self, lecture):
        """Whether the lecture is generated in this workspace from the current solutions/."""
        return self._is_current(lecture, self._fingerprint(lecture))

    def ensure_assignment(self, lecture):
        """Make sure the workspace gradebook and the template gradebook hold the lecture as generated
        from the current solutions/ (runs nbgrader generate_assignment only when solutions changed)."""
        self.ensure_assignments([lecture])

    def ensure_assignments(self, lectures):
        """``ensure_assignment`` for several lectures at once (nbgrader's imports are paid once)."""
        fingerprints = {lecture: self._fingerprint(lecture) for lecture in lectures}
        stale = [lecture for lecture, fingerprint in fingerprints.items() if not self._is_current(lecture, fingerprint)]
        if not stale:
            return
        for lecture in stale:
            source = self.path / "source" / lecture
            if source.exists():
                shutil.rmtree(source)
            copy_lecture(self.root / "solutions" / lecture, source)
        with tempfile.TemporaryDirectory(prefix="bplab-template-") as tmp:
            blank = Path(tmp) / "blank.db"
            write_blank_gradebook(blank)
            if not self.db_path.exists():   # the workspace's gets its own course row when nbgrader opens it
                shutil.copy2(blank, self.db_path)
                with closing(sqlite3.connect(self.db_path)) as conn, conn:
                    conn.execute("DELETE FROM course")
            generate_assignments(self.path, stale, config=self.config(), db_url=self.db_url)
            # Each template: a gradebook holding only its assignment and no student, copied per submission.
            for lecture in stale:
                copy_lecture(self.path / "source" / lecture, Path(tmp) / "source" / lecture)
                template = Path(tmp) / f"{lecture}.db"
                shutil.copy2(blank, template)
                generate_assignments(tmp, [lecture], db_url=f"sqlite:///{template}")
                self.template_db(lecture).parent.mkdir(parents=True, exist_ok=True)
                shutil.move(template, self.template_db(lecture))
                self._stamp(lecture).write_text(fingerprints[lecture])

    def config(self):
        """This workspace's nbgrader_config.py as a traitlets Config (course id, exchange, course policy)."""
        from traitlets.config.loader import PyFileConfigLoader

        return PyFileConfigLoader("nbgrader_config.py", str(self.path)).load_config()

    def late_policy(self):
        """The late-submission policy of nbgrader_config.py as JSON text: the ``AssignLatePenalties``
        section and that of its plugin class (nbgrader's LateSubmissionPlugin unless configured)."""
        config = self.config()
        plugin = config.AssignLatePenalties.get("plugin_class", "nbgrader.plugins.LateSubmissionPlugin")
        plugin_name = plugin if isinstance(plugin, str) else f"{plugin.__module__}.{plugin.__qualname__}"
        sections = {"AssignLatePenalties": {"plugin_class": plugin_name}}
        class_name = plugin_name.rsplit(".", 1)[-1]
        if config.get(class_name):
            sections[class_name] = dict(config[class_name])
        return json.dumps(sections, sort_keys=True)

    def gradebook(self):
        """nbgrader's Gradebook of this workspace under its course id (nbgrader's default without one), to use
        in a ``with`` block; opening it without the id would add a row for nbgrader's default course."""
        from nbgrader.api import Gradebook

        return Gradebook(self.db_url, self.course_id() or "default_course")

    def course_id(self):
        """``c.CourseDirectory.course_id`` of this workspace's nbgrader_config.py ('' when not set, as in nbgrader)."""
        return str(self.config().CourseDirectory.get("course_id", "")).strip()

    def check_gradebook(self):
        """Raise ForeignGradebook, reading but never writing gradebook.db, when it holds assignments of
        another course id than this workspace's or assignments that are not lectures of this repository."""
        assignments = gradebook_assignments(self.db_path)
        expected = self.course_id()
        others = {name: course for name, course in assignments if not _same_course(course, expected)}
        if others and expected and all((course or "") in _NO_COURSE_ID for course in others.values()):
            raise ForeignGradebook(
                f"{self.db_path} was graded before c.CourseDirectory.course_id = {expected!r} was set: run "
                f"`bplab adopt-course-id` to move its assignments ({', '.join(sorted(others))}) into that course")
        if others:
            held = ", ".join(f"{name} ({_course_words(course)})" for name, course in sorted(others.items()))
            raise ForeignGradebook(
                f"{self.db_path} belongs to another course: it holds {held}, but this workspace has "
                f"{_course_words(expected)} (c.CourseDirectory.course_id in {self.path / 'nbgrader_config.py'}); "
                f"nothing was written to it")
        strangers = sorted(name for name, _ in assignments if name not in self.lectures())
        if strangers:
            raise ForeignGradebook(
                f"{self.db_path} holds assignments {', '.join(strangers)}, which are not lectures of {self.root} "
                f"(expected only {', '.join(self.lectures()) or 'none'}): is it another course's gradebook? "
                f"nothing was written to it")

    def adopt_course_id(self):
        """Move the gradebook's assignments that have no course id (graded before
        ``c.CourseDirectory.course_id`` was set) into this workspace's course; return their names.
        Raises ValueError when no course id is configured."""
        expected = self.course_id()
        if not expected:
            raise ValueError(f"no c.CourseDirectory.course_id in {self.path / 'nbgrader_config.py'}: nothing to adopt")
        names = [name for name, course in gradebook_assignments(self.db_path) if (course or "") in _NO_COURSE_ID]
        if names:
            with closing(sqlite3.connect(self.db_path)) as conn, conn:
                conn.execute("INSERT OR IGNORE INTO course (id) VALUES (?)", (expected,))
                conn.executemany("UPDATE assignment SET course_id = ? WHERE name = ?", [(expected, n) for n in names])
        return names

    def graded_lectures(self):
        """The lectures with at least one graded notebook in autograded/ (sorted ids)."""
        return sorted({p.parent.name for p in (self.path / "autograded").glob("*/*/*.ipynb")})

    def source_notebook(self, lecture):
        return read_notebook(self.source_notebook_path(lecture))

    def release_notebook(self, lecture):
        return read_notebook(self.release_notebook_path(lecture))
