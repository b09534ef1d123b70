"""One submission, graded on a Dask worker: real nbgrader autograde in a private course directory
(the student's only run in the sandbox, scores from the judge), nbgrader metadata restored from the
release, tampering evidence and the late penalty. Writes nothing outside its temporary course."""
from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import time
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from . import cells
from . import config as grading_config
from .contract import GradingResult, GradingTask, LectureSources, grader_version
from .intake import MAX_CELLS, MAX_NOTEBOOK_BYTES
from .judge import failed_verdicts, recorded_verdicts
from .sandbox.procfs import owned_folder
from .settings import SETTINGS

# ---------------------------------------------------------------- tampering

def _cells_by_id(nb):
    found = {}
    for cell in nb.cells:
        if cells.grade_id(cell) is not None:
            found.setdefault(cells.grade_id(cell), []).append(cell)
    return found


def tampering_evidence(released_nb, submitted_nb):
    """Return reasons (list of str) why ``submitted_nb`` was tampered with, compared with the
    notebook the students received (``released_nb``): graded or locked cells deleted, edited,
    duplicated or re-typed, points changed, graded cells added."""
    reasons = []
    given, got = _cells_by_id(released_nb), _cells_by_id(submitted_nb)
    for grade_id, (cell,) in given.items():
        if not (cells.is_grade(cell) or cells.is_locked(cell)):
            continue
        if grade_id not in got:
            reasons.append(f"cell {grade_id} deleted")
            continue
        if len(got[grade_id]) > 1:
            reasons.append(f"cell {grade_id} duplicated")
        mine = got[grade_id][0]
        if mine.cell_type != cell.cell_type:
            reasons.append(f"cell {grade_id} changed type")
        if cells.is_grade(cell) and cells.points(mine) != cells.points(cell):
            reasons.append(f"points of {grade_id} changed from {cells.points(cell):g} to {cells.points(mine):g}")
        if any(fact(mine) != fact(cell) for fact in (cells.is_grade, cells.is_solution)):
            reasons.append(f"nbgrader flags of {grade_id} changed")
        if cells.is_locked(cell) and mine.source != cell.source:
            reasons.append(f"locked cell {grade_id} edited")
    for grade_id, copies in got.items():
        if grade_id not in given and any(map(cells.is_grade, copies)):
            reasons.append(f"graded cell {grade_id} added")
    return reasons


# ---------------------------------------------------------------- one submission (a Dask worker)

# Where the private course goes: in memory where the system offers it, since it is thrown away after the submission
# and nbgrader commits to its gradebook about 50 times a submission, each commit waiting for the disk otherwise.
_IN_MEMORY = "/dev/shm" if os.access("/dev/shm", os.W_OK | os.X_OK) else None
COURSE_PREFIX = "bplab-course-"


def private_course() -> Path:
    """A new private course folder, named after this process (the folders of killed workers go first)."""
    return owned_folder(COURSE_PREFIX, _IN_MEMORY)

def _manual_max(source_nb) -> float:
    return sum(cells.points(c) for c in source_nb.cells if cells.is_manually_graded(c))


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
    claimed = cells.grade_ids(nb.cells)

    def restore(cell, given):
        grade_id = cells.grade_id(given)
        if grade_id and grade_id not in claimed and not cells.has_nbgrader_metadata(cell) \
                and cell.cell_type == given.cell_type:
            cell.metadata["nbgrader"] = copy.deepcopy(given.metadata["nbgrader"])
            claimed.add(grade_id)

    aligned = difflib.SequenceMatcher(None, [c.source.strip() for c in released_nb.cells],
                                      [c.source.strip() for c in nb.cells], autojunk=False)
    for tag, i1, i2, j1, j2 in aligned.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2)):
                restore(nb.cells[j], released_nb.cells[i])
    answers = {cells.grade_id(c): c for c in released_nb.cells if cells.is_answer(c)}
    for cell in nb.cells:
        if cell.cell_type == "code" and not cells.has_nbgrader_metadata(cell) and _defined_function(cell.source) in answers:
            restore(cell, answers[_defined_function(cell.source)])
    return nb


def graded_cells_as_released(submitted_nb, released_nb):
    """A copy of the submission whose nbgrader cells are the release's: a graded or locked cell keeps
    its released type and metadata, duplicates and cells the release does not know lose theirs.
    Tampering with them is reported (``tampering_evidence``) and never stops nbgrader."""
    import copy

    released = {cells.grade_id(c): c for c in released_nb.cells if cells.grade_id(c)}
    nb, seen = copy.deepcopy(submitted_nb), set()
    for index, cell in enumerate(nb.cells):
        grade_id = cells.grade_id(cell)
        if grade_id is None or grade_id not in released or grade_id in seen:
            cell.metadata.pop("nbgrader", None)
            continue
        seen.add(grade_id)
        given = released[grade_id]
        if cell.cell_type != given.cell_type:
            nb.cells[index] = cell = copy.deepcopy(given)
        cell.metadata["nbgrader"] = copy.deepcopy(given.metadata["nbgrader"])
    return nb


def grade_task(task: GradingTask, sources: LectureSources) -> GradingResult:
    """Grade one submission with real nbgrader autograde in a private course directory (runs on a worker)."""
    import nbformat

    started, cpu = time.monotonic(), time.process_time()
    source_nb = nbformat.reads(sources.source_nb, as_version=4)
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
    released_nb = nbformat.reads(sources.release_nb, as_version=4)
    submitted_nb = with_metadata_restored(submitted_nb, released_nb)
    course = private_course()
    try:
        graded_nb, log = _autograde(course, task, sources,
                                    nbformat.writes(graded_cells_as_released(submitted_nb, released_nb)))
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
        result.verdicts = recorded_verdicts(graded_nb, source_nb)
        for v in result.verdicts:
            if v.diagnosis in ("tampering", "forbidden-call"):
                result.flag_reasons.append(f"{v.grade_id}: {v.diagnosis}")
        result.flag_reasons += tampering_evidence(released_nb, submitted_nb)
        result.late_penalty = _late_penalty(course, task)
        result.autograded_nb = nbformat.writes(graded_nb)
        result.seconds = {"grade": time.monotonic() - started, "worker_cpu": time.process_time() - cpu,
                          "sandbox": execution.get("seconds", 0.0), "sandbox_cpu": execution.get("cpu_seconds", 0.0),
                          "kernel_start": execution.get("kernel_start_seconds", 0.0),
                          "verify": execution.get("verify_seconds", 0.0), "verify_cpu": execution.get("verify_cpu_seconds", 0.0),
                          "cells_cpu": execution.get("cells_cpu_seconds", 0.0)}
        return result
    finally:
        shutil.rmtree(course, ignore_errors=True)


def _last_error(log: str) -> str:
    """The last exception line of nbgrader's ``log`` ("KeyError: 'grade_id'"), else its last non-empty line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b", line)]
    return (errors or lines or ["nbgrader printed nothing"])[-1][:300]


def _course_config(course: Path, task: GradingTask, notebook_name: str):
    from traitlets.config import Config

    c = Config()
    grading_config.configure(c)
    c.CourseDirectory.root = str(course)
    c.SandboxedExecute.seed = c.JudgeOutcomes.seed = task.seed
    for setting in SETTINGS:
        if setting.owner:
            c[setting.owner][setting.name] = getattr(task.settings, setting.name)
    c.JudgeOutcomes.source_path = c.SandboxedExecute.source_path = \
        str(course / "source" / task.lecture / notebook_name)
    c.merge(Config(json.loads(task.settings.late_policy)))
    return c


def _autograde(course: Path, task: GradingTask, sources: LectureSources, submission: str):
    """(graded notebook or None, log) of nbgrader autograde on ``submission`` (notebook JSON text)."""
    import nbformat
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    (course / "gradebook.db").write_bytes(sources.template_db)
    if sources.duedate:
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            gb.update_or_create_assignment(task.lecture, duedate=datetime.fromisoformat(sources.duedate))
            if task.extension_seconds:  # nbgrader's late penalty counts from the due date plus the extension
                gb.update_or_create_student(task.student)
                gb.update_or_create_submission(task.lecture, task.student,
                                               extension=timedelta(seconds=task.extension_seconds))
    source = course / "source" / task.lecture / sources.notebook_name
    source.parent.mkdir(parents=True)
    source.write_text(sources.source_nb, encoding="utf-8")
    submitted = course / "submitted" / task.student / task.lecture
    submitted.mkdir(parents=True)
    (submitted / sources.notebook_name).write_text(submission, encoding="utf-8")
    if task.timestamp:
        (submitted / "timestamp.txt").write_text(task.timestamp)
    config = _course_config(course, task, sources.notebook_name)
    api = NbGraderAPI(CourseDirectory(config=config), config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = api.autograde(task.lecture, task.student, force=True, create=True)
    graded = course / "autograded" / task.student / task.lecture / sources.notebook_name
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


def internal_failure(task: GradingTask, sources: LectureSources, trace: str) -> GradingResult:
    """An "error" result of ``task`` whose grading raised (``trace``): every test fails, nothing is kept."""
    import nbformat

    source_nb = nbformat.reads(sources.source_nb, as_version=4)
    return GradingResult(task.student, task.lecture, "error",
                         failed_verdicts(source_nb, "crash", "not graded: an internal error; ask your instructor"),
                         ["internal failure while grading:\n" + trace], manual_max_score=_manual_max(source_nb),
                         digest=task.digest, grader_version=grader_version())
