"""`bplab grade`: each submission graded once, in the sandbox, as a task on a Dask cluster.

The client (this process, the only one that writes the workspace) turns each submission into a
``GradingTask`` that carries content, not paths: the submission's bytes, the per-student seed and the
settings. Each lecture's trusted sources (source and released notebooks, a template gradebook) go to
the workers once, beside the tasks (a task of their own, which Dask recomputes if its worker dies: a class's tasks
would otherwise carry a copy each). A
Dask worker runs ``grade_task``: real nbgrader autograde, in process, in a private
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

import hashlib
import json
import sys
import traceback
import warnings
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from ..checks import Verdict
from . import cells
from .contract import GradingResult, GradingTask, LectureSources, grader_version, grading_digest
from .intake import submitted_content
from .settings import GradingSettings
from .store import load_submission, load_verdicts, save_result
from .worker import grade_task, internal_failure
from .workspace import gradebook_assignments

# Files nbgrader's submit and collect put beside a notebook: feedback needs them to reach the student.
SUBMISSION_FILES = ("timestamp.txt", "submission_secret.txt")


def _written_answers(nb_json: str) -> dict:
    """{grade_id: source} of the manually graded markdown cells of a notebook given as JSON text."""
    return {cells.grade_id(c): "".join(c["source"]).strip() for c in json.loads(nb_json)["cells"]
            if c["cell_type"] == "markdown" and cells.is_grade(c)}


def unchanged_written_answers(workspace, result: GradingResult) -> set:
    """The grade_ids of ``result``'s written answers still as released ("YOUR ANSWER HERE"): nothing to grade."""
    if result.autograded_nb is None:
        return set()
    released = _written_answers(workspace.release_notebook_path(result.lecture).read_text(encoding="utf-8"))
    return {grade_id for grade_id, source in _written_answers(result.autograded_nb).items()
            if released.get(grade_id) == source}


def write_final_scores(workspace, result: GradingResult, submitted_folder: Path | None = None, gradebook=None):
    """Write ``result`` into the workspace gradebook (nbgrader's tables: one score per test cell; a written
    answer left as released scores 0, the others wait as "needs manual grading") and the sidecar tables (verdicts, flags, digest).

    ``submitted_folder``: the folder the notebook came from; its SUBMISSION_FILES go beside the
    graded notebook (so that `nbgrader release_feedback` finds the student's submission secret).
    ``gradebook``: the workspace's Gradebook, already open (a batch keeps one: a new one compiles every SQL
    statement again); else one is opened for this result."""
    from nbgrader.utils import parse_utc

    scores = {v.grade_id: v.score for v in result.verdicts}
    blank = unchanged_written_answers(workspace, result)
    kept = {name: (submitted_folder / name).read_text() for name in SUBMISSION_FILES
            if submitted_folder is not None and (submitted_folder / name).is_file()}
    with warnings.catch_warnings(), (nullcontext(gradebook) if gradebook is not None else workspace.gradebook()) as gb:
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


def make_tasks(workspace, submissions, settings: GradingSettings) -> tuple[list[GradingTask], dict]:
    """(a GradingTask per submission, {lecture: LectureSources}), after generating the lectures whose solutions
    changed."""
    lectures = sorted({s.lecture for s in submissions})
    workspace.ensure_assignments(lectures)
    sources = {lec: lecture_sources(workspace, lec) for lec in lectures}
    extensions = granted_extensions(workspace, lectures)
    tasks = []
    for sub in submissions:
        data, timestamp = submitted_content(sub.path)
        src = sources[sub.lecture]
        extension = extensions.get((sub.student, sub.lecture), 0.0)
        digest = grading_digest(data, src, settings, timestamp, extension)
        tasks.append(GradingTask(f"bplab-grade-{sub.lecture}-{hashlib.sha256(sub.student.encode()).hexdigest()[:12]}-"
                                 f"{digest[:16]}", sub.student, sub.lecture, data, digest,
                                 workspace.seed(sub.student, sub.lecture, data), settings, grader_version(), timestamp,
                                 extension))
    return tasks, sources


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



# What a worker imports to grade a submission (nbgrader, the judge; torch for the references' oracles, matplotlib for
# a verdict's figure): imported once per batch by multiprocessing's fork server, which forks the LocalCluster's
# workers. Spawned, each worker imported it all anew (about 5 CPU s per worker; 0.05 s forked).
WORKER_PRELOAD = ("distributed", "backproplab.grading.worker", "backproplab.grading.preprocessors", "nbgrader.apps.api",
                  "nbgrader.preprocessors", "torch", "matplotlib.pyplot")


def _client(scheduler, workers):
    import logging

    import dask
    from dask.distributed import Client, LocalCluster
    from distributed.utils import get_mp_context

    if scheduler:
        client = Client(scheduler, timeout="30s")
        return client, None
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context().set_forkserver_preload(list(WORKER_PRELOAD))  # no effect once the fork server runs
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=":0", scheduler_port=0, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _stop_fork_server():
    """End multiprocessing's fork server (started by ``_client``), so that no process of the batch outlives it and
    the workers' CPU, which the fork server reaped, counts as this process's children's."""
    import os
    import signal
    from multiprocessing import forkserver

    server = forkserver._forkserver
    if server._forkserver_pid is not None:
        # killed first: asked to stop, it shuts its interpreter down (torch, nbgrader, Dask imported), most of a second
        # with nothing left to keep; the CPU it reaped still reaches this process
        os.kill(server._forkserver_pid, signal.SIGKILL)
    server._stop()  # the standard library's own way to stop it (its tests use it): reaps it, removes its socket


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
    tasks, sources = make_tasks(workspace, submissions, settings)
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
        _run_tasks(workspace, tasks, sources, folders, todo, results, workers, scheduler, on_result, progress)
    return results


def _lecture_sources(sources: LectureSources) -> LectureSources:
    return sources


def _run_tasks(workspace, tasks, sources, folders, todo, results, workers, scheduler, on_result, progress):
    from dask.distributed import as_completed
    from tqdm import tqdm

    client, cluster = _client(scheduler, workers)
    bar = tqdm(total=len(todo), desc="grading", unit="submission", file=sys.stderr, disable=not progress)
    try:
        # a task that returns the sources, not scattered data: a worker that dies holding them loses them, and Dask
        # recomputes a task's result elsewhere but cannot recover scattered data (the whole batch was cancelled)
        shared = {lecture: client.submit(_lecture_sources, sources[lecture], pure=False)
                  for lecture in {tasks[i].lecture for i in todo}}
        futures = {client.submit(grade_task, tasks[i], shared[tasks[i].lecture], key=tasks[i].key, retries=1): i
                   for i in todo}
        with workspace.gradebook() as gradebook:
            for future in as_completed(futures):
                i = futures[future]
                if results[i] is not None:
                    continue  # one result per key, whatever Dask reports twice
                try:
                    result = future.result()
                except Exception:
                    result = internal_failure(tasks[i], sources[tasks[i].lecture], traceback.format_exc(limit=5))
                try:
                    write_final_scores(workspace, result, folders[i], gradebook)
                except Exception:
                    gradebook.db.rollback()  # the next result is written from a clean session
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
            _stop_fork_server()

