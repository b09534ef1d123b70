"""Which notebooks a `bplab grade` run grades, whose they are and which lecture each belongs to.

``find_submissions`` reads one notebook, a folder of ``<student>.ipynb``, or nbgrader's
``submitted/<student>/<lecture>/`` layout; what cannot be graded becomes a ``SubmissionProblem``
naming the fix, never an exception that stops the rest of the batch.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import cells

MAX_NOTEBOOK_BYTES = 32 << 20  # a larger submission is not run: it costs only its own points
MAX_CELLS = 2000               # likewise a notebook with more cells (the lectures have about 100)


class UsageError(ValueError):
    """The command line named something that cannot be graded (exit code 2)."""


@dataclass
class Submission:
    """One notebook to grade: ``student`` id, ``lecture`` id and the file ``path``; ``notes`` tell the
    instructor what was unusual but did not stop grading (e.g. "submitted as 'Copy of backprop.ipynb'")."""
    student: str
    lecture: str | None
    path: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SubmissionProblem:
    """A submitted folder or notebook that is not graded: ``student`` and ``lecture`` as the layout names
    them (None when it does not), the ``path`` and the ``reason`` (one line, naming the fix)."""
    student: str | None
    lecture: str | None
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"



def _grade_ids(path):
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:  # never loaded: graded as unreadable
            return set()
        notebook_cells = json.loads(path.read_bytes())["cells"]  # plain JSON: nbformat's validation costs every notebook
        return cells.grade_ids(notebook_cells)
    except Exception:  # unreadable: the lecture is inferred from the rest of the batch
        return set()


def _visible(paths):
    """``paths`` sorted, without hidden ones (.ipynb_checkpoints/, editors' dot files)."""
    return sorted(p for p in paths if not p.name.startswith("."))


def _folders(folder):
    return _visible(p for p in folder.iterdir() if p.is_dir())


def _notebooks(folder):
    return _visible(p for p in folder.glob("*.ipynb") if p.is_file())


def _student_id_problem(student, lecture, path):
    if not student or student.startswith(".") or "+" in student:
        return SubmissionProblem(student, lecture, path, f"{student!r} cannot be a student id: not graded")
    return None


def _renamed_note(path, expected):
    return [] if path.name == expected else [f"submitted as {path.name!r}, not {expected}"]


def _lecture_folder(student, folder, workspace, known, problems):
    """The Submission in nbgrader collect's ``<student>/<lecture>/`` folder, or None with the reason
    appended to ``problems``. One notebook under any name is graded (its lecture is the folder's);
    of several, the one with the lecture's name, else none."""
    lecture, notebooks = folder.name, _notebooks(folder)
    if lecture not in known:
        if notebooks:  # any other folder is not a submission
            problems.append(SubmissionProblem(student, lecture, folder, f"not graded: {lecture!r} is not a lecture of "
                                                                         f"this repository ({', '.join(known)})"))
        return None
    problem = _student_id_problem(student, lecture, folder)
    if problem:
        problems.append(problem)
        return None
    expected = workspace.source_notebook_path(lecture).name
    names = [p.name for p in notebooks]
    if len(notebooks) == 1:
        return Submission(student, lecture, notebooks[0], _renamed_note(notebooks[0], expected))
    if expected in names:
        others = ", ".join(repr(name) for name in names if name != expected)
        return Submission(student, lecture, folder / expected, [f"graded {expected}; also submitted, not graded: {others}"])
    if not notebooks:
        problems.append(SubmissionProblem(student, lecture, folder, "holds no notebook: nothing to grade"))
    else:
        problems.append(SubmissionProblem(student, lecture, folder, f"not graded: {len(names)} notebooks, none named "
                                          f"{expected} ({', '.join(map(repr, names))}); keep one, or name the one to "
                                          f"grade {expected}"))
    return None


def _collected(path, workspace, known, lecture, problems):
    """The Submissions of nbgrader's ``submitted/`` layout (``path`` = submitted/ or one student's folder),
    or None when ``path`` is laid out otherwise. ``lecture`` (optional) selects that lecture's folders."""
    students = _folders(path)
    by_student = {student: _folders(student) for student in students}
    if any(f.name in known for folders in by_student.values() for f in folders) or (
            not _notebooks(path) and any(_notebooks(f) for folders in by_student.values() for f in folders)):
        pairs = [(student.name, folder) for student, folders in by_student.items() for folder in folders]
    elif any(f.name in known for f in students) or (not _notebooks(path) and any(_notebooks(f) for f in students)):
        pairs = [(path.name, folder) for folder in students]  # one student's folder: submitted/<student>/
    else:
        return None
    found = [_lecture_folder(student, folder, workspace, known, problems)
             for student, folder in pairs if lecture is None or folder.name == lecture]
    return [sub for sub in found if sub is not None]


def _lecture_problem(sub, sources):
    """A SubmissionProblem when ``sub``'s notebook is another lecture's (its graded cells are that lecture's and
    none is ``sub.lecture``'s); else None, with a note on ``sub`` when its nbgrader metadata is gone."""
    ids = _grade_ids(sub.path)
    if not ids and sub.path.is_file() and 0 < sub.path.stat().st_size <= MAX_NOTEBOOK_BYTES:
        sub.notes.append("its nbgrader metadata is missing (an editor or a copy into a new notebook drops it): "
                         "its cells were matched to the release by their content")
    # Lectures share a few ids (a setup cell's), so the notebook is another lecture's only when that lecture
    # holds more of its graded cells than its own does.
    other = max(sources, key=lambda lec: len(ids & sources[lec]))
    if len(ids & sources[other]) <= len(ids & sources[sub.lecture]):
        return None
    return SubmissionProblem(sub.student, sub.lecture, sub.path,
                             f"not graded: this is the notebook of {other}, not of {sub.lecture}; ask the student "
                             f"to submit {sub.lecture}")


def submitted_content(path) -> tuple[bytes, str | None]:
    """The notebook at ``path`` as bytes (at most one byte over MAX_NOTEBOOK_BYTES, so that a larger one is graded
    as too large; b"" when it cannot be read) and the timestamp nbgrader's submit left beside it (None without one)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError:
        data = b""
    stamp = path.parent / "timestamp.txt"
    return data, stamp.read_text().strip() if stamp.is_file() else None


def find_submissions(path, workspace, lecture=None, problems=None):
    """Return the Submissions under ``path``: one notebook, a folder of ``<student>.ipynb``, or
    nbgrader's ``submitted/<student>/<lecture>/`` layout (``path`` = submitted/ or one student's folder).

    The lecture comes from ``lecture``, else the layout, else the notebook's grade ids; in the
    ``submitted/`` layout, ``lecture`` selects that lecture's folders. What cannot be graded (a folder of a lecture
    this repository does not have, several notebooks none of which has the lecture's name, a bad
    student id) is appended to the list ``problems`` as SubmissionProblems and the rest is returned;
    without ``problems`` the first one raises UsageError.
    Raises UsageError when nothing gradable is found.
    """
    path = Path(path)
    known = workspace.lectures()
    if lecture and lecture not in known:
        raise UsageError(f"unknown lecture {lecture!r} (known: {', '.join(known)})")
    skipped = []
    if path.is_file():
        if path.suffix != ".ipynb":
            raise UsageError(f"{path} is not a notebook")
        if path.parent.name in known:  # submitted/<student>/<lecture>/<notebook>
            own = lecture or path.parent.name
            found = [Submission(path.parent.parent.name, own, path,
                                _renamed_note(path, workspace.source_notebook_path(own).name))]
        else:
            found = [Submission(path.stem, None, path)]
    elif path.is_dir():
        found = _collected(path, workspace, known, lecture, skipped)
        if found is None:
            found = [Submission(p.stem, None, p) for p in _notebooks(path)]
    else:
        raise UsageError(f"{path} does not exist")
    sources = {lec: cells.grade_ids(workspace.source_notebook(lec).cells) for lec in known}
    for sub in found:
        if sub.lecture is None and lecture:
            sub.lecture = lecture
        elif sub.lecture is None:
            ids = _grade_ids(sub.path)
            best = max(known, key=lambda lec: len(ids & sources[lec]), default=None)
            if best is not None and ids & sources[best]:
                sub.lecture = best
    inferred = {s.lecture for s in found if s.lecture}
    gradable = []
    for sub in found:
        if sub.lecture is None and len(inferred) == 1:
            sub.lecture = next(iter(inferred))
        problem = (SubmissionProblem(sub.student, None, sub.path, "cannot tell which lecture it belongs to; pass --lecture")
                   if sub.lecture is None else _student_id_problem(sub.student, sub.lecture, sub.path)
                   or _lecture_problem(sub, sources))
        if problem:
            skipped.append(problem)
        else:
            gradable.append(sub)
    if skipped and problems is None:
        raise UsageError(str(skipped[0]))
    if problems is not None:
        problems.extend(skipped)
    if not gradable:
        raise UsageError(f"nothing gradable under {path}" if skipped else f"no notebooks found under {path}")
    return gradable


