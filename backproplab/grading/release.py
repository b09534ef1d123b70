"""`bplab release`: generate the student notebooks in course/ from solutions/ with nbgrader.

Each lecture ``solutions/<lecture>/`` becomes an nbgrader assignment ``source/<lecture>/``
in a throwaway course directory; real ``nbgrader generate_assignment`` turns it into
``release/<lecture>/`` (answer cells -> ``# YOUR CODE HERE`` / ``raise NotImplementedError()``,
hidden test blocks removed, locked cells checksummed), which is copied to
``course/<lecture>/`` normalized (see ``notebooks.py``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .answer_catalogs import CATALOG_NAME
from .notebooks import dumps_normalized, has_outputs, read_notebook

# Editor, interpreter and test-runner leftovers: never part of a lecture's files, a release or the student export.
IGNORED_NAMES = frozenset({".ipynb_checkpoints", "__pycache__", ".DS_Store", ".pytest_cache"})
IGNORED_SUFFIXES = (".pyc", ".pyo")
# Files of solutions/<lecture>/ that only instructors see: never copied into a release.
INSTRUCTOR_ONLY = (CATALOG_NAME,)


class ReleaseError(RuntimeError):
    """nbgrader could not generate a lecture (its log is in the message)."""


@dataclass
class ReleaseResult:
    """What ``release`` found or changed, as paths relative to the repository root."""
    written: list = field(default_factory=list)   # files (re)written
    removed: list = field(default_factory=list)   # files in course/ that solutions/ no longer has
    stale: list = field(default_factory=list)     # --check: files that differ from a fresh release


def find_root(start=None):
    """Return the repository root: the first of ``start`` (default cwd) and its parents holding
    ``solutions/``, else the checkout this package lives in (editable install)."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "solutions").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def discover_lectures(root):
    """Return the sorted lecture ids, one per folder ``solutions/<id>/`` holding a notebook."""
    solutions = Path(root) / "solutions"
    if not solutions.is_dir():
        return []
    return sorted(p.name for p in solutions.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def is_leftover(relative: Path) -> bool:
    """Whether the file at ``relative`` (a path inside a lecture's folder or the repository) is a leftover
    (``IGNORED_NAMES``, ``IGNORED_SUFFIXES``)."""
    return bool(IGNORED_NAMES.intersection(relative.parts)) or relative.suffix in IGNORED_SUFFIXES


def lecture_files(folder):
    """Return the files of one lecture folder as sorted relative paths (ignored names skipped)."""
    folder = Path(folder)
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
                  and not is_leftover(p.relative_to(folder)))


def released_files(folder):
    """The files of a solutions/ lecture folder that its release holds: instructor-only ones left out."""
    return [rel for rel in lecture_files(folder) if str(rel) not in INSTRUCTOR_ONLY]


def copy_lecture(src, dst):
    """Copy the released files of the lecture folder ``src`` to ``dst`` (created)."""
    for rel in released_files(src):
        (Path(dst) / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(Path(src) / rel, Path(dst) / rel)


def ensure_scripts_on_path():
    """Put this interpreter's scripts folder first on PATH: nbgrader's Gradebook runs the
    ``alembic`` command, which is only found there when the venv is not activated."""
    scripts = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != scripts:
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def run_nbgrader(args, course_root, config=None):
    """Run ``nbgrader <args>`` for the course directory ``course_root``; return the completed process.

    Raises ReleaseError with nbgrader's log when it exits non-zero.
    """
    return run_nbgrader_together([(args, course_root)], config)[0]


def run_nbgrader_together(runs, config=None):
    """Run several ``nbgrader <args>`` at once, one process each; ``runs`` is a list of (args, course root).
    They must not write the same files. Returns the completed processes in order.

    Raises ReleaseError with the log of the first that exits non-zero, after all have ended.
    """
    ensure_scripts_on_path()
    started = []
    for args, course_root in runs:
        cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course_root}"]
        if config:
            cmd.append(f"--config={config}")
        started.append((args, subprocess.Popen(cmd, cwd=course_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                               text=True)))
    done = []
    for args, proc in started:
        stdout, stderr = proc.communicate()
        done.append((args, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)))
    for args, proc in done:
        if proc.returncode != 0:
            raise ReleaseError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return [proc for _, proc in done]


def generate_assignments(course_root, lectures, config=None, db_url=None, database=True):
    """Run nbgrader's generate_assignment on ``lectures`` of the course directory ``course_root`` (their
    ``source/<lecture>/`` into ``release/<lecture>/``), in this process: nbgrader's imports are paid once, not
    once per lecture as with one ``nbgrader`` process each.

    ``config``: a traitlets Config (e.g. a workspace's nbgrader_config.py; default: the pipeline's); ``db_url``:
    the gradebook to write the assignments into (default: the course root's gradebook.db); ``database=False``
    writes none. Raises ReleaseError with nbgrader's log when a lecture fails."""
    import warnings

    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    from .config import configure

    ensure_scripts_on_path()
    c = Config(config) if config is not None else configure(Config())
    c.CourseDirectory.root = str(course_root)
    if db_url:
        c.CourseDirectory.db_url = db_url
    if not database:   # nbgrader's --no-db
        c.GenerateAssignment.no_database, c.SaveCells.enabled = True, False
    api = NbGraderAPI(CourseDirectory(config=c), config=c)
    for lecture in lectures:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outcome = api.generate_assignment(lecture, force=True, create=True)
        if not outcome.get("success"):
            raise ReleaseError(f"nbgrader generate_assignment {lecture} failed:\n{outcome.get('log', '')}"
                               f"{outcome.get('error', '')}")


def generate_release(root, lecture):
    """Generate one lecture's student version with real nbgrader.

    Inputs:
    - root: repository root (Path or str) holding ``solutions/<lecture>/``.
    - lecture: lecture id, e.g. "04-backprop".

    Returns:
    - dict {relative Path: bytes}: the files ``course/<lecture>/`` must hold; notebooks in
      normalized form.
    """
    with tempfile.TemporaryDirectory(prefix="bplab-release-") as tmp:
        course = Path(tmp)
        copy_lecture(Path(root) / "solutions" / lecture, course / "source" / lecture)
        generate_assignments(course, [lecture], database=False)   # `bplab grade` makes its own gradebook
        released = course / "release" / lecture
        files = {}
        for rel in lecture_files(released):
            path = released / rel
            if path.suffix == ".ipynb":
                files[rel] = dumps_normalized(read_notebook(path)).encode("utf-8")
            else:
                files[rel] = path.read_bytes()
        return files


def _solution_notebooks(root, lecture):
    return sorted((Path(root) / "solutions" / lecture).glob("*.ipynb"))


def release(root, lectures=None, check=False):
    """Regenerate (or, with ``check``, only compare) ``course/`` and normalize ``solutions/``.

    Inputs:
    - root: repository root (Path or str).
    - lectures: lecture ids to process (None: all discovered ones).
    - check: if True, write nothing; list in ``stale`` every solutions notebook that is not
      normalized (outputs, execution counts, formatting) and every course file that differs
      from a fresh release, is missing, or should not exist.

    Returns:
    - ReleaseResult with paths relative to ``root``.
    """
    root = Path(root)
    result = ReleaseResult()
    known = discover_lectures(root)
    for lecture in lectures or known:
        if lecture not in known:
            raise ReleaseError(f"no lecture {lecture!r} under {root / 'solutions'} (found: {', '.join(known)})")
        for nb_path in _solution_notebooks(root, lecture):
            text = nb_path.read_text(encoding="utf-8")
            normalized = dumps_normalized(read_notebook(nb_path))
            if text != normalized:
                rel = nb_path.relative_to(root)
                if check:
                    reason = "has outputs" if has_outputs(read_notebook(nb_path)) else "not normalized"
                    result.stale.append(f"{rel} ({reason})")
                else:
                    nb_path.write_text(normalized, encoding="utf-8")
                    result.written.append(str(rel))
        wanted = generate_release(root, lecture)
        course_dir = root / "course" / lecture
        present = set(lecture_files(course_dir)) if course_dir.is_dir() else set()
        for rel, data in wanted.items():
            target = course_dir / rel
            if target.is_file() and target.read_bytes() == data:
                continue
            if check:
                result.stale.append(f"{target.relative_to(root)} ({'differs' if target.exists() else 'missing'})")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                result.written.append(str(target.relative_to(root)))
        for rel in sorted(present - set(wanted)):
            target = course_dir / rel
            if check:
                result.stale.append(f"{target.relative_to(root)} (not in solutions/)")
            else:
                target.unlink()
                result.removed.append(str(target.relative_to(root)))
    return result
