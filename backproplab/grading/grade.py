"""`bplab grade`: each submission graded once, in the sandbox, as a task on a Dask cluster.

The client (this process, the only one that writes the workspace) turns each submission into a
``GradingTask`` that carries content, not paths: the submission's bytes, the lecture's trusted
sources (source and released notebooks, a template gradebook), the per-student seed and the
settings. A Dask worker runs ``grade_task``: real nbgrader autograde, in process, in a private
course directory, whose Execute step is ``SandboxedExecute`` (the student's only run, in
bubblewrap) and whose scores come from ``JudgeOutcomes`` (outside the sandbox). The worker
returns a ``GradingResult``; the client writes it into the workspace gradebook (nbgrader's tables
and the bplab_* sidecar tables) and keeps the graded notebook for feedback.

Without ``scheduler`` an in-process LocalCluster with ``workers`` processes does the work. Keys
are explicit (student, lecture, content digest), a task whose worker died is re-run elsewhere by
Dask, and a result is written once per key. A submission already graded with the same content
by the same grader version is skipped unless ``regrade``: a batch killed at any moment and
started again grades only what is missing.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from ..checks import Verdict
from ..checks.hints import RUNGS
from . import config as grading_config
from .judge import failed_verdicts
from .store import load_submission, load_verdicts, save_result
from .workspace import gradebook_assignments

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


# ---------------------------------------------------------------- finding submissions

def _grade_ids(path):
    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:  # never loaded: graded as unreadable
            return set()
        cells = json.loads(path.read_bytes())["cells"]  # plain JSON: nbformat's validation costs every notebook
        return {c["metadata"].get("nbgrader", {}).get("grade_id") for c in cells} - {None}
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
    sources = {lec: {c.metadata.get("nbgrader", {}).get("grade_id") for c in workspace.source_notebook(lec).cells} - {None}
               for lec in known}
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


# ---------------------------------------------------------------- tampering

def _cells_by_id(nb):
    cells = {}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            cells.setdefault(grade_id, []).append(cell)
    return cells


def tampering_evidence(released_nb, submitted_nb):
    """Return reasons (list of str) why ``submitted_nb`` was tampered with, compared with the
    notebook the students received (``released_nb``): graded or locked cells deleted, edited,
    duplicated or re-typed, points changed, graded cells added."""
    reasons = []
    given, got = _cells_by_id(released_nb), _cells_by_id(submitted_nb)
    for grade_id, (cell,) in given.items():
        meta = cell.metadata["nbgrader"]
        if not (meta.get("grade") or meta.get("locked")):
            continue
        if grade_id not in got:
            reasons.append(f"cell {grade_id} deleted")
            continue
        if len(got[grade_id]) > 1:
            reasons.append(f"cell {grade_id} duplicated")
        mine = got[grade_id][0]
        mine_meta = mine.metadata.get("nbgrader", {})
        if mine.cell_type != cell.cell_type:
            reasons.append(f"cell {grade_id} changed type")
        if meta.get("grade") and mine_meta.get("points") != meta.get("points"):
            reasons.append(f"points of {grade_id} changed from {meta.get('points')} to {mine_meta.get('points')}")
        if any(bool(mine_meta.get(flag)) != bool(meta.get(flag)) for flag in ("grade", "solution")):
            reasons.append(f"nbgrader flags of {grade_id} changed")
        if meta.get("locked") and mine.source != cell.source:
            reasons.append(f"locked cell {grade_id} edited")
    for grade_id, cells in got.items():
        if grade_id not in given and any(c.metadata["nbgrader"].get("grade") for c in cells):
            reasons.append(f"graded cell {grade_id} added")
    return reasons


# ---------------------------------------------------------------- tasks and results

@dataclass(frozen=True)
class GradingSettings:
    """How a batch grades (the same for every task): limits and course policy."""
    cell_timeout: int = grading_config.CELL_TIMEOUT
    memory_mb: int = grading_config.KERNEL_MEMORY_MB
    cpu_seconds: int = grading_config.KERNEL_CPU_SECONDS
    sandboxed: bool = True
    credit_dependents: bool = True
    hint_rung: int = 1       # the last rung of the hint ladder that feedback shows (c.JudgeOutcomes.hint_rung)
    late_policy: str = "{}"  # nbgrader config sections of the late penalty, JSON (Workspace.late_policy)


class SettingsError(ValueError):
    """A grading setting of the workspace's nbgrader_config.py that bplab grade cannot honour."""


# c.SandboxedExecute.<trait> in nbgrader_config.py -> the GradingSettings field it sets
COURSE_LIMITS = {"cell_timeout": "cell_timeout", "memory_mb": "memory_mb", "cpu_seconds": "cpu_seconds"}


def course_settings(workspace, **limits) -> GradingSettings:
    """GradingSettings with the course policy of the workspace's nbgrader_config.py (credit for dependents,
    the late penalty, and the ``c.SandboxedExecute`` limits in COURSE_LIMITS) and ``limits`` (cell_timeout,
    cpu_seconds, sandboxed ...; a value given here wins, None means the course's or the default). Any other
    ``c.SandboxedExecute`` setting raises SettingsError: bplab grade sets it per task."""
    section = dict(workspace.config().SandboxedExecute)
    unknown = sorted(set(section) - set(COURSE_LIMITS))
    if unknown:
        raise SettingsError(f"nbgrader_config.py sets c.SandboxedExecute.{', c.SandboxedExecute.'.join(unknown)}, which "
                            f"bplab grade sets itself per submission; a course may set only "
                            f"{', '.join(sorted(COURSE_LIMITS))}. Remove the line(s).")
    chosen = {COURSE_LIMITS[key]: value for key, value in section.items()}
    for key, value in chosen.items():
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise SettingsError(f"nbgrader_config.py: c.SandboxedExecute.{key} must be a positive whole number, "
                                f"not {value!r}")
    chosen.update({key: value for key, value in limits.items() if value is not None})
    rung = workspace.hint_rung()
    if not isinstance(rung, int) or isinstance(rung, bool) or not 1 <= rung <= RUNGS:
        raise SettingsError(f"nbgrader_config.py: c.JudgeOutcomes.hint_rung must be a whole number from 1 to {RUNGS} "
                            f"(the last rung of the hint ladder that feedback shows), not {rung!r}")
    return GradingSettings(credit_dependents=workspace.credit_dependents(), hint_rung=rung,
                           late_policy=workspace.late_policy(), **chosen)


@dataclass(frozen=True)
class LectureSources:
    """A lecture's trusted sources, as content: what a worker needs besides the submission."""
    lecture: str
    notebook_name: str
    source_nb: str       # solutions/<lecture>/<name>.ipynb (JSON text)
    release_nb: str      # the students' version (JSON text)
    template_db: bytes   # an nbgrader gradebook holding only this assignment
    duedate: str | None = None  # the assignment's due date in the workspace gradebook (UTC, ISO)


@dataclass(frozen=True)
class GradingTask:
    """One submission to grade; everything a worker needs travels inside it."""
    key: str
    student: str
    lecture: str
    submission: bytes
    digest: str          # sha256 of the submission and the lecture's sources
    seed: int
    sources: LectureSources
    settings: GradingSettings
    grader_version: str  # the client's: a worker with other grading code refuses the task
    timestamp: str | None = None
    extension_seconds: float = 0.0  # this student's extension of the due date (`bplab extend`)


@dataclass
class GradingResult:
    """What grading one submission decided (``to_json`` is what `bplab grade --json` prints)."""
    student: str
    lecture: str
    status: str                      # graded | timeout | kernel-died | output-capped | cpu-limit | lost | unreadable | error
    verdicts: list[Verdict]
    flag_reasons: list[str] = field(default_factory=list)
    manual_max_score: float = 0.0
    late_penalty: float = 0.0
    autograded_nb: str | None = None  # the graded notebook (JSON text), for feedback
    digest: str = ""
    grader_version: str = ""
    seconds: dict = field(default_factory=dict)
    reused: bool = False             # skipped: already graded with the same content and grader

    @property
    def score(self) -> float:
        return max(0.0, sum(v.score for v in self.verdicts) - self.late_penalty)

    @property
    def max_score(self) -> float:
        return sum(v.points for v in self.verdicts)

    @property
    def flagged(self) -> bool:
        return bool(self.flag_reasons)

    def to_json(self) -> dict:
        return {"student": self.student, "lecture": self.lecture, "score": self.score, "max_score": self.max_score,
                "late_penalty": self.late_penalty, "manual_max_score": self.manual_max_score,
                "needs_manual_grading": self.manual_max_score > 0, "flagged": self.flagged,
                "flag_reasons": self.flag_reasons, "status": self.status, "reused": self.reused,
                "tests": [v.to_json() for v in self.verdicts]}


# What decides a grade: the references (the library), the checks, and the grading steps that run
# and judge the notebook. Editing anything else (the CLI, reports, release) regrades nothing.
_GRADING_FILES = ("checks/*.py", "*.py", "grading/config.py", "grading/grade.py", "grading/judge.py",
                  "grading/preprocessors.py", "grading/sandbox/*.py", "grading/late.py")
_NOT_GRADING = {"cli.py", "publish.py"}


@functools.lru_cache(maxsize=1)
def grader_version() -> str:
    """The package version and a digest of the code that decides a grade: a change regrades."""
    import backproplab

    package = Path(backproplab.__file__).parent
    digest = hashlib.sha256()
    files = {p for pattern in _GRADING_FILES for p in package.glob(pattern) if p.name not in _NOT_GRADING}
    for path in sorted(files):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{getattr(backproplab, '__version__', '0')}+{digest.hexdigest()[:12]}"


# ---------------------------------------------------------------- one submission (a Dask worker)

def _manual_max(source_nb) -> float:
    return sum(float(c.metadata["nbgrader"].get("points", 0)) for c in source_nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))


def _parse_submission(data: bytes):
    """The submission as a validated notebook, or raise ValueError saying why it cannot be graded."""
    import nbformat

    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the notebook is {len(data) >> 20} MiB, over the {MAX_NOTEBOOK_BYTES >> 20} MiB limit")
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(nb)
    except Exception as err:
        raise ValueError(f"the notebook cannot be read: {type(err).__name__}: {str(err)[:300]}") from None
    if len(nb.cells) > MAX_CELLS:
        raise ValueError(f"the notebook has {len(nb.cells)} cells, over the limit of {MAX_CELLS}")
    return nb


def _defined_function(source):
    """The name of the first function a code cell defines ('' when none): an answer cell's grade_id."""
    match = re.search(r"^def\s+(\w+)\s*\(", source, flags=re.M)
    return match.group(1) if match else ""


def with_metadata_restored(submitted_nb, released_nb):
    """A copy of the submission in which cells that lost their nbgrader metadata (an editor that drops it, a
    copy-paste into a new notebook) get it back from the release where they match a released cell no other
    cell claims. Cells are aligned by their sources (difflib): a cell in the same place as a released one of the
    same type, in a stretch of equally many changed cells between unchanged ones, is that cell (a filled-in
    answer, a written explanation); an answer cell found nowhere else is matched by the function it defines
    (its grade_id is the function's name)."""
    import copy

    nb = copy.deepcopy(submitted_nb)
    claimed = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}

    def restore(cell, given):
        grade_id = given.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in claimed and "nbgrader" not in cell.metadata and cell.cell_type == given.cell_type:
            cell.metadata["nbgrader"] = copy.deepcopy(given.metadata["nbgrader"])
            claimed.add(grade_id)

    aligned = difflib.SequenceMatcher(None, [c.source.strip() for c in released_nb.cells],
                                      [c.source.strip() for c in nb.cells], autojunk=False)
    for tag, i1, i2, j1, j2 in aligned.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2)):
                restore(nb.cells[j], released_nb.cells[i])
    answers = {c.metadata["nbgrader"]["grade_id"]: c for c in released_nb.cells
               if c.metadata.get("nbgrader", {}).get("solution") and not c.metadata["nbgrader"].get("grade")}
    for cell in nb.cells:
        if cell.cell_type == "code" and "nbgrader" not in cell.metadata and _defined_function(cell.source) in answers:
            restore(cell, answers[_defined_function(cell.source)])
    return nb


def graded_cells_as_released(submitted_nb, released_nb):
    """A copy of the submission whose nbgrader cells are the release's: a graded or locked cell keeps
    its released type and metadata, duplicates and cells the release does not know lose theirs.
    Tampering with them is reported (``tampering_evidence``) and never stops nbgrader."""
    import copy

    released = {c.metadata["nbgrader"]["grade_id"]: c for c in released_nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id")}
    nb, seen = copy.deepcopy(submitted_nb), set()
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            cell.metadata.pop("nbgrader", None)
            continue
        if grade_id not in released or grade_id in seen:
            del cell.metadata["nbgrader"]
            continue
        seen.add(grade_id)
        given = released[grade_id]
        if cell.cell_type != given.cell_type:
            nb.cells[index] = cell = copy.deepcopy(given)
        cell.metadata["nbgrader"] = copy.deepcopy(given.metadata["nbgrader"])
    return nb


def grade_task(task: GradingTask) -> GradingResult:
    """Grade one submission with real nbgrader autograde in a private course directory (runs on a worker)."""
    import nbformat

    started = time.monotonic()
    source_nb = nbformat.reads(task.sources.source_nb, as_version=4)
    result = GradingResult(task.student, task.lecture, "graded", [], manual_max_score=_manual_max(source_nb),
                           digest=task.digest, grader_version=grader_version())
    if result.grader_version != task.grader_version:
        result.status = "error"
        result.verdicts = failed_verdicts(source_nb, "crash", "not graded: an internal error; ask your instructor")
        result.flag_reasons.append(f"this worker runs grader {result.grader_version}, the client {task.grader_version}: "
                                   f"install the same Backprop Lab on every worker")
        return result
    if not task.settings.sandboxed:
        result.flag_reasons.append("unsandboxed: graded with --no-sandbox")
    try:
        submitted_nb = _parse_submission(task.submission)
    except ValueError as err:
        result.status = "unreadable"
        result.verdicts = failed_verdicts(source_nb, "crash", str(err))
        result.flag_reasons.append(f"notebook unreadable: {err}")
        return result
    released_nb = nbformat.reads(task.sources.release_nb, as_version=4)
    submitted_nb = with_metadata_restored(submitted_nb, released_nb)
    course = Path(tempfile.mkdtemp(prefix="bplab-course-"))
    try:
        graded_nb, log = _autograde(course, task, nbformat.writes(graded_cells_as_released(submitted_nb, released_nb)))
        if graded_nb is None:
            result.status = "error"
            result.verdicts = failed_verdicts(source_nb, "crash", "not graded: an internal error; ask your instructor")
            result.flag_reasons.append(f"nbgrader autograde failed: {_last_error(log)}\n" + log[-3000:])
            return result
        execution = graded_nb.metadata.get("bplab", {})
        status = execution.get("execution", "lost")
        if status != "ok":
            result.status = status
            result.flag_reasons.append(f"student kernel: {status}" +
                                       (f" ({execution.get('restarts')} restart(s))" if execution.get("restarts") else ""))
        if execution.get("output_dropped_bytes"):
            result.flag_reasons.append(f"output over the submission's limit: {execution['output_dropped_bytes']} bytes "
                                       f"dropped from the graded notebook")
        if execution.get("records_outside_tests"):
            result.flag_reasons.append(f"{execution['records_outside_tests']} outcome record(s) outside the test "
                                       f"cells, ignored (only a test cell's check() records count)")
        by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded_nb.cells}
        from .judge import find_test_cells
        for test in find_test_cells(source_nb):
            data = by_id.get(test.grade_id, {}).get("metadata", {}).get("bplab")
            result.verdicts.append(Verdict.from_json(data) if data else test.verdict(False, "crash", "not graded"))
        for v in result.verdicts:
            if v.diagnosis in ("tampering", "forbidden-call"):
                result.flag_reasons.append(f"{v.grade_id}: {v.diagnosis}")
        result.flag_reasons += tampering_evidence(released_nb, submitted_nb)
        result.late_penalty = _late_penalty(course, task)
        result.autograded_nb = nbformat.writes(graded_nb)
        result.seconds = {"grade": time.monotonic() - started, "sandbox": execution.get("seconds", 0.0),
                          "sandbox_cpu": execution.get("cpu_seconds", 0.0),
                          "kernel_start": execution.get("kernel_start_seconds", 0.0)}
        return result
    finally:
        shutil.rmtree(course, ignore_errors=True)


def _last_error(log: str) -> str:
    """The last exception line of nbgrader's ``log`` ("KeyError: 'grade_id'"), else its last non-empty line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b", line)]
    return (errors or lines or ["nbgrader printed nothing"])[-1][:300]


def _course_config(course: Path, task: GradingTask):
    from traitlets.config import Config

    c = Config()
    grading_config.configure(c, cell_timeout=task.settings.cell_timeout)
    c.CourseDirectory.root = str(course)
    c.SandboxedExecute.seed = c.JudgeOutcomes.seed = task.seed
    c.SandboxedExecute.memory_mb = task.settings.memory_mb
    c.SandboxedExecute.cpu_seconds = task.settings.cpu_seconds
    c.SandboxedExecute.sandboxed = task.settings.sandboxed
    c.JudgeOutcomes.credit_dependents = task.settings.credit_dependents
    c.JudgeOutcomes.hint_rung = task.settings.hint_rung
    c.JudgeOutcomes.source_path = c.SandboxedExecute.source_path = \
        str(course / "source" / task.lecture / task.sources.notebook_name)
    c.merge(Config(json.loads(task.settings.late_policy)))
    return c


def _autograde(course: Path, task: GradingTask, submission: str):
    """(graded notebook or None, log) of nbgrader autograde on ``submission`` (notebook JSON text)."""
    import nbformat
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    (course / "gradebook.db").write_bytes(task.sources.template_db)
    if task.sources.duedate:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(task.lecture, duedate=datetime.fromisoformat(task.sources.duedate))
            if task.extension_seconds:  # nbgrader's late penalty counts from the due date plus the extension
                gb.update_or_create_student(task.student)
                gb.update_or_create_submission(task.lecture, task.student,
                                               extension=timedelta(seconds=task.extension_seconds))
    source = course / "source" / task.lecture / task.sources.notebook_name
    source.parent.mkdir(parents=True)
    source.write_text(task.sources.source_nb, encoding="utf-8")
    submitted = course / "submitted" / task.student / task.lecture
    submitted.mkdir(parents=True)
    (submitted / task.sources.notebook_name).write_text(submission, encoding="utf-8")
    if task.timestamp:
        (submitted / "timestamp.txt").write_text(task.timestamp)
    config = _course_config(course, task)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = api.autograde(task.lecture, task.student, force=True, create=True)
    graded = course / "autograded" / task.student / task.lecture / task.sources.notebook_name
    if not outcome.get("success") or not graded.exists():
        return None, (outcome.get("log") or "") + (outcome.get("error") or "")
    return nbformat.read(str(graded), as_version=4), outcome.get("log") or ""


def _late_penalty(course: Path, task: GradingTask) -> float:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            return float(gb.find_submission(task.lecture, task.student).late_submission_penalty or 0.0)
        except MissingEntry:
            return 0.0


# ---------------------------------------------------------------- the batch (the client)

# Files nbgrader's submit and collect put beside a notebook: feedback needs them to reach the student.
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


def _written_answers(nb_json: str) -> dict:
    """{grade_id: source} of the manually graded markdown cells of a notebook given as JSON text."""
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]).strip() for c in json.loads(nb_json)["cells"]
            if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")}


def unchanged_written_answers(workspace, result: GradingResult) -> set:
    """The grade_ids of ``result``'s written answers still as released ("YOUR ANSWER HERE"): nothing to grade."""
    if result.autograded_nb is None:
        return set()
    released = _written_answers(workspace.release_notebook_path(result.lecture).read_text(encoding="utf-8"))
    return {grade_id for grade_id, source in _written_answers(result.autograded_nb).items()
            if released.get(grade_id) == source}


def write_final_scores(workspace, result: GradingResult, submitted_folder: Path | None = None):
    """Write ``result`` into the workspace gradebook (nbgrader's tables: one score per test cell; a written
    answer left as released scores 0, the others wait as "needs manual grading") and the sidecar tables (verdicts, flags, digest).

    ``submitted_folder``: the folder the notebook came from; its SUBMISSION_FILES go beside the
    graded notebook (so that `nbgrader release_feedback` finds the student's submission secret)."""
    from nbgrader.utils import parse_utc

    scores = {v.grade_id: v.score for v in result.verdicts}
    blank = unchanged_written_answers(workspace, result)
    kept = {name: (submitted_folder / name).read_text() for name in SUBMISSION_FILES
            if submitted_folder is not None and (submitted_folder / name).is_file()}
    with warnings.catch_warnings(), workspace.gradebook() as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy autoflush chatter inside nbgrader's API
        gb.update_or_create_student(result.student)
        stamp = {"timestamp": parse_utc(kept["timestamp.txt"].strip())} if "timestamp.txt" in kept else {}
        submission = gb.update_or_create_submission(result.lecture, result.student, **stamp)
        for notebook in submission.notebooks:
            notebook.late_submission_penalty = result.late_penalty or None
            for grade in notebook.grades:
                if grade.name in scores:
                    grade.auto_score, grade.needs_manual_grade = scores[grade.name], False
                elif grade.name in blank:  # left as released: 0 at once, as stock nbgrader scores it
                    grade.auto_score, grade.needs_manual_grade = 0.0, False
                elif grade.cell.cell_type == "markdown":
                    grade.auto_score, grade.needs_manual_grade = None, True
                else:  # a test cell without a verdict: no points
                    grade.auto_score, grade.needs_manual_grade = 0.0, True
        gb.db.commit()
    if result.autograded_nb is not None:
        keep = workspace.path / "autograded" / result.student / result.lecture / \
            workspace.source_notebook_path(result.lecture).name
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_text(result.autograded_nb, encoding="utf-8")
        for name, text in kept.items():
            (keep.parent / name).write_text(text)
    save_result(workspace.db_path, result)


def lecture_sources(workspace, lecture) -> LectureSources:
    """The lecture's trusted sources, as prepared in the workspace (call ``workspace.ensure_assignments`` first)."""
    with workspace.gradebook() as gb:
        duedate = gb.find_assignment(lecture).duedate
    return LectureSources(lecture, workspace.source_notebook_path(lecture).name,
                          workspace.source_notebook_path(lecture).read_text(encoding="utf-8"),
                          workspace.release_notebook_path(lecture).read_text(encoding="utf-8"),
                          workspace.template_db(lecture).read_bytes(),
                          duedate.isoformat() if duedate else None)


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError:
        return b""


def make_tasks(workspace, submissions, settings: GradingSettings, *, prepare=True) -> list[GradingTask]:
    """A GradingTask per submission; ``prepare``: first generate the lectures whose solutions changed (without it,
    the lectures as last prepared: `bplab status` reads, never generates)."""
    lectures = sorted({s.lecture for s in submissions})
    if prepare:
        workspace.ensure_assignments(lectures)
    sources = {lec: lecture_sources(workspace, lec) for lec in lectures}
    extensions = granted_extensions(workspace, lectures)
    tasks = []
    for sub in submissions:
        data = _read_bytes(sub.path)
        src = sources[sub.lecture]
        stamp = sub.path.parent / "timestamp.txt"
        timestamp = stamp.read_text().strip() if stamp.is_file() else None
        extension = extensions.get((sub.student, sub.lecture), 0.0)
        digest = hashlib.sha256(data + b"\0" + src.source_nb.encode() + b"\0" + json.dumps(
            [settings.cell_timeout, settings.memory_mb, settings.cpu_seconds, settings.sandboxed,
             settings.credit_dependents, settings.hint_rung, settings.late_policy, src.duedate, timestamp] +
            ([extension] if extension else [])).encode()).hexdigest()
        tasks.append(GradingTask(f"bplab-grade-{sub.lecture}-{hashlib.sha256(sub.student.encode()).hexdigest()[:12]}-"
                                 f"{digest[:16]}", sub.student, sub.lecture, data, digest,
                                 workspace.seed(sub.student, sub.lecture, data), src, settings, grader_version(), timestamp,
                                 extension))
    return tasks


def granted_extensions(workspace, lectures) -> dict:
    """{(student, lecture): seconds} of the due-date extensions in the workspace gradebook (`bplab extend`)."""
    present = {name for name, _ in gradebook_assignments(workspace.db_path)} & set(lectures)
    if not present:
        return {}
    with workspace.gradebook() as gb:
        return {(sub.student_id, lecture): sub.extension.total_seconds() for lecture in sorted(present)
                for sub in gb.find_assignment(lecture).submissions if sub.extension}


def stored_result(workspace, student, lecture) -> GradingResult | None:
    """The GradingResult stored for ``student`` and ``lecture`` (without the graded notebook), or None."""
    row = load_submission(workspace.db_path, student, lecture)
    if row is None:
        return None
    verdicts = [Verdict.from_json(v) for v in load_verdicts(workspace.db_path, student, lecture)]
    return GradingResult(student, lecture, row["status"], verdicts, row["flag_reasons"], row["manual_max_score"] or 0.0,
                         row["late_penalty"] or 0.0, None, row["digest"] or "", row["grader_version"] or "")


def _internal_failure(task: GradingTask, trace: str) -> GradingResult:
    import nbformat

    source_nb = nbformat.reads(task.sources.source_nb, as_version=4)
    return GradingResult(task.student, task.lecture, "error",
                         failed_verdicts(source_nb, "crash", "not graded: an internal error; ask your instructor"),
                         ["internal failure while grading:\n" + trace], manual_max_score=_manual_max(source_nb),
                         digest=task.digest, grader_version=grader_version())


def _client(scheduler, workers):
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="30s")
        return client, None
    cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                           dashboard_address=":0", scheduler_port=0, silence_logs=logging.ERROR)
    return Client(cluster), cluster


# A LocalCluster worker per this many submissions to grade, by default (measured on 3 submissions of lecture 04,
# two cores: a second worker cost 8 more CPU seconds, over half again, to save 3 s of 25).
SUBMISSIONS_PER_WORKER = 4


def default_workers(to_grade: int, cores: int) -> int:
    """LocalCluster workers for ``to_grade`` submissions: one per SUBMISSIONS_PER_WORKER, at least one, at most
    ``cores`` (each worker warms a sandbox up, which imports torch: about the CPU of grading two submissions)."""
    return max(1, min(cores, -(-to_grade // SUBMISSIONS_PER_WORKER)))


def grade_batch(workspace, submissions, *, workers=None, scheduler=None, settings=GradingSettings(),
                regrade=False, on_result=None, progress=False) -> list[GradingResult]:
    """Grade ``submissions`` (list of Submission); return one GradingResult each, in the same order.

    ``scheduler``: the address of an existing Dask scheduler; else a LocalCluster of ``workers``
    processes (default: ``default_workers``; never more than there are submissions to grade). Submissions
    already graded with the same content and grader are reused unless ``regrade``.
    ``on_result(result)`` is called as each one is stored.
    Raises SandboxUnavailable (naming the fix) when ``settings.sandboxed`` and bwrap cannot run.
    """
    import os

    if settings.sandboxed:
        from .sandbox import require_sandbox
        require_sandbox()
    tasks = make_tasks(workspace, submissions, settings)
    version = grader_version()
    results: list[GradingResult | None] = [None] * len(tasks)
    todo = []
    for i, task in enumerate(tasks):
        stored = None if regrade else stored_result(workspace, task.student, task.lecture)
        if stored is not None and stored.digest == task.digest and stored.grader_version == version \
                and stored.status != "error":  # an internal failure is tried again, never kept
            results[i] = replace(stored, reused=True)
        else:
            todo.append(i)
    if todo:
        workers = min(workers or default_workers(len(todo), os.cpu_count() or 1), len(todo))
        folders = [sub.path.parent for sub in submissions]
        _run_tasks(workspace, tasks, folders, todo, results, workers, scheduler, on_result, progress)
    return results


def _run_tasks(workspace, tasks, folders, todo, results, workers, scheduler, on_result, progress):
    from dask.distributed import as_completed
    from tqdm import tqdm

    client, cluster = _client(scheduler, workers)
    bar = tqdm(total=len(todo), desc="grading", unit="submission", file=sys.stderr, disable=not progress)
    try:
        futures = {client.submit(grade_task, tasks[i], key=tasks[i].key, retries=1): i for i in todo}
        for future in as_completed(futures):
            i = futures[future]
            if results[i] is not None:
                continue  # one result per key, whatever Dask reports twice
            try:
                result = future.result()
            except Exception:
                result = _internal_failure(tasks[i], traceback.format_exc(limit=5))
            try:
                write_final_scores(workspace, result, folders[i])
            except Exception:
                result.status = "error"
                result.flag_reasons.append("could not store the grade:\n" + traceback.format_exc(limit=5))
            results[i] = result
            bar.update(1)
            if on_result:
                on_result(result)
    finally:
        bar.close()
        client.close()
        if cluster is not None:
            cluster.close()

