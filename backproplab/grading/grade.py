"""`bplab grade`: real nbgrader autograde per submission, outside verification, final scores.

For each submission, in a worker process:
1. a private nbgrader course directory is built in a batch temp folder (template gradebook
   with only the assignment, the lecture's support files, this one submission);
2. real ``nbgrader autograde`` runs there, the kernel started through the ``bplab-sandbox``
   kernelspec (sandbox_kernel.py: limits, scrubbed env, the instructor's files hidden); its
   scores are only the "in-kernel result";
3. ``verify_notebook`` (verify.py) decides each test's outcome outside the student's kernel,
   with a per-student seed;
4. the submission is compared with the released notebook for tampering.
The parent process then writes the final scores (outside verdicts) into the workspace
gradebook, stores verdicts in the sidecar tables (store.py) and copies the autograded
notebook to ``autograded/<student>/<lecture>/`` for feedback. One submission failing in
any way never stops the batch.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import config as grading_config
from .notebooks import read_notebook
from .redact import is_hidden_test_source
from .release import ensure_scripts_on_path
from . import measure_if_requested
from .store import save_result
from .workspace import DEFAULT_WORKSPACE

SANDBOX_LAUNCHER = Path(__file__).with_name("sandbox_kernel.py")
WALL_SECONDS_PER_CELL = 3  # wall-clock budget of a whole autograde run: margin + cells x this + timeouts


class UsageError(ValueError):
    """The command line named something that cannot be graded (exit code 2)."""


@dataclass
class Submission:
    """One notebook to grade: ``student`` id, ``lecture`` id and the file ``path``."""
    student: str
    lecture: str | None
    path: Path


# ---------------------------------------------------------------- finding submissions

def _grade_ids(path):
    try:
        nb = read_notebook(path)
    except Exception:  # unreadable: the lecture is inferred from the rest of the batch
        return set()
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}


def find_submissions(path, workspace, lecture=None):
    """Return the Submissions under ``path``: one notebook, a folder of ``<student>.ipynb``, or
    nbgrader's ``submitted/<student>/<lecture>/`` layout (``path`` = submitted/ or one student's folder).

    The lecture comes from ``lecture``, else the layout, else the notebook's grade ids.
    Raises UsageError when nothing gradable is found.
    """
    path = Path(path)
    known = workspace.lectures()
    found = []
    if path.is_file():
        if path.suffix != ".ipynb":
            raise UsageError(f"{path} is not a notebook")
        if path.parent.name in known:
            found.append(Submission(path.parent.parent.name, path.parent.name, path))
        else:
            found.append(Submission(path.stem, None, path))
    elif path.is_dir():
        layout = sorted(path.glob("*/*/*.ipynb"))
        own = sorted(path.glob("*/*.ipynb"))
        if any(p.parent.name in known for p in layout):
            found += [Submission(p.parent.parent.name, p.parent.name, p) for p in layout if p.parent.name in known]
        elif any(p.parent.name in known for p in own):  # one student's folder: submitted/<student>/
            found += [Submission(path.name, p.parent.name, p) for p in own if p.parent.name in known]
        else:
            found += [Submission(p.stem, None, p) for p in sorted(path.glob("*.ipynb"))]
    else:
        raise UsageError(f"{path} does not exist")
    if not found:
        raise UsageError(f"no notebooks found under {path}")
    sources = {lec: {c.metadata.get("nbgrader", {}).get("grade_id") for c in workspace.source_notebook(lec).cells} - {None}
               for lec in known}
    for sub in found:
        if lecture:
            sub.lecture = lecture
        elif sub.lecture is None:
            ids = _grade_ids(sub.path)
            best = max(known, key=lambda lec: len(ids & sources[lec]), default=None)
            if best is not None and ids & sources[best]:
                sub.lecture = best
    inferred = {s.lecture for s in found if s.lecture}
    for sub in found:
        if sub.lecture is None:
            if len(inferred) != 1:
                raise UsageError(f"cannot tell which lecture {sub.path} belongs to; pass --lecture")
            sub.lecture = next(iter(inferred))
    if lecture and lecture not in known:
        raise UsageError(f"unknown lecture {lecture!r} (known: {', '.join(known)})")
    seen = set()
    for sub in found:
        if (sub.student, sub.lecture) in seen:
            raise UsageError(f"two submissions of {sub.lecture} for student {sub.student!r}")
        if not sub.student or sub.student.startswith(".") or "+" in sub.student:
            raise UsageError(f"{sub.path}: {sub.student!r} cannot be a student id")
        seen.add((sub.student, sub.lecture))
    return found


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
        if bool(mine_meta.get("grade")) != bool(meta.get("grade")) or bool(mine_meta.get("solution")) != bool(meta.get("solution")):
            reasons.append(f"nbgrader flags of {grade_id} changed")
        if meta.get("locked") and mine.source != cell.source:
            reasons.append(f"locked cell {grade_id} edited")
    for grade_id, cells in got.items():
        if grade_id not in given and any(c.metadata["nbgrader"].get("grade") for c in cells):
            reasons.append(f"graded cell {grade_id} added")
    return reasons


# ---------------------------------------------------------------- one submission (worker process)

def _kernel_spec(course, job):
    argv = [sys.executable, "-I", str(SANDBOX_LAUNCHER),
            "--memory-mb", str(job["memory_mb"]), "--cpu-seconds", str(job["cpu_seconds"]),
            "--keep", str(course)]
    for hidden in [*job["hide"], str(course / "gradebook.db")]:
        argv += ["--hide", hidden]
    return {"argv": [*argv, "-f", "{connection_file}"], "display_name": "Backprop Lab sandbox",
            "language": "python", "env": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                                          # in-kernel hidden checks replayable, unrelated to the outside seed
                                          "BPLAB_SEED": str(job["kernel_seed"])}}


def _build_course(course, job):
    student, lecture = job["student"], job["lecture"]
    (course / "nbgrader_config.py").write_text(grading_config.config_file_text(job["cell_timeout"]))
    shutil.copy2(job["template_db"], course / "gradebook.db")
    source = Path(job["source_dir"])
    for path in source.rglob("*"):  # support files only: never the solution notebook
        if path.is_file() and path.suffix != ".ipynb":
            dest = course / "source" / lecture / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
    (course / "source" / lecture).mkdir(parents=True, exist_ok=True)
    submitted = course / "submitted" / student / lecture
    submitted.mkdir(parents=True)
    shutil.copy2(job["path"], submitted / job["notebook_name"])
    kernel_dir = course / "jupyter" / "kernels" / grading_config.KERNEL_NAME
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps(_kernel_spec(course, job), indent=1))


def _run_autograde(course, job, n_cells):
    """Run nbgrader autograde in ``course``; return (status, log). status: ok | timeout | kernel-died."""
    ensure_scripts_on_path()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env["JUPYTER_PATH"] = str(course / "jupyter")
    env["JUPYTER_DATA_DIR"] = str(course / "jupyter")
    env["JUPYTER_RUNTIME_DIR"] = str(course / "runtime")
    cmd = [sys.executable, "-m", "nbgrader", "autograde", job["lecture"], "--student", job["student"],
           "--force", f"--CourseDirectory.root={course}"]
    wall = 30 + n_cells * WALL_SECONDS_PER_CELL + 2 * job["cell_timeout"]
    proc = subprocess.Popen(cmd, cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=wall)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        return "timeout", log + f"\n[bplab] autograde killed after {wall} s"
    autograded = course / "autograded" / job["student"] / job["lecture"] / job["notebook_name"]
    timed_out = "CellTimeoutError" in log or "Timeout waiting for" in log
    if proc.returncode != 0 or not autograded.exists():
        return ("timeout" if timed_out else "kernel-died"), log
    nb = read_notebook(autograded)
    enames = {o.get("ename") for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"}
    if timed_out or "CellTimeoutError" in enames:
        return "timeout", log
    if "DeadKernelError" in log or "Kernel died" in log:
        return "kernel-died", log
    return "ok", log


def _in_kernel_scores(course, job):
    from nbgrader.api import Gradebook, MissingEntry
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        try:
            nb = gb.find_submission_notebook(Path(job["notebook_name"]).stem, job["lecture"], job["student"])
        except MissingEntry:
            return scores
        for grade in nb.grades:
            scores[grade.name] = grade.auto_score
    return scores


def _field(verdict, name, default=None):
    return verdict.get(name, default) if isinstance(verdict, dict) else getattr(verdict, name, default)


def _outside_tests(job, submitted_nb, source_nb):
    """Return the outside verdicts as test dicts (one per test cell of the source)."""
    from .verify import verify_notebook
    points = {gid: float(c.metadata["nbgrader"].get("points", 0))
              for gid, (c, *_) in _cells_by_id(source_nb).items() if c.metadata["nbgrader"].get("grade")}
    tests = []
    for v in verify_notebook(source_nb, submitted_nb, seed=job["seed"]):
        grade_id = _field(v, "grade_id")
        max_score = points.get(grade_id, float(_field(v, "points", 0) or 0))
        passed = bool(_field(v, "passed"))
        tests.append({"grade_id": grade_id, "exercise": _field(v, "exercise"), "hidden": bool(_field(v, "hidden")),
                      "score": max_score if passed else 0.0, "max_score": max_score, "passed": passed,
                      "diagnosis": None if passed else _field(v, "diagnosis"), "message": _field(v, "message") or ""})
    return tests


def _failed_tests(source_nb, diagnosis, message):
    """Every test cell of the source scored 0 with one reason (the submission could not be run)."""
    tests = []
    for grade_id, (cell, *_) in _cells_by_id(source_nb).items():
        meta = cell.metadata["nbgrader"]
        if meta.get("grade") and cell.cell_type == "code":
            exercise = grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id
            exercise = exercise[:-len("_hidden")] if exercise.endswith("_hidden") else exercise
            tests.append({"grade_id": grade_id, "exercise": exercise, "hidden": is_hidden_test_source(cell.source),
                          "score": 0.0, "max_score": float(meta.get("points", 0)), "passed": False,
                          "diagnosis": diagnosis, "message": message})
    return tests


def grade_one(job):
    """Grade one submission (runs in a worker process). ``job``: dict built by ``grade_batch``.

    Returns the result dict printed by ``bplab grade --json`` plus private keys
    (``_autograded``: path of the autograded notebook or None; ``_log``: autograde log tail).
    """
    result = {"student": job["student"], "lecture": job["lecture"], "flag_reasons": [], "status": "graded"}
    source_nb = read_notebook(job["source_nb"])
    manual_max = sum(float(c.metadata["nbgrader"].get("points", 0)) for c in source_nb.cells
                     if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))
    try:
        submitted_nb = read_notebook(job["path"])
    except Exception as err:
        result.update(status="unreadable", tests=_failed_tests(source_nb, "crash", f"the notebook cannot be read: {err}"))
        result["flag_reasons"].append("notebook unreadable")
        return _finish(result, manual_max, None, "")
    course = Path(tempfile.mkdtemp(prefix=f"{job['student']}-", dir=job["batch_dir"]))
    try:
        _build_course(course, job)
        started = time.monotonic()
        status, log = _run_autograde(course, job, len(submitted_nb.cells))
        result["_seconds"] = {"autograde": time.monotonic() - started}
        in_kernel = _in_kernel_scores(course, job) if status == "ok" else {}
        if status != "ok":
            result["status"] = status
            result["flag_reasons"].append(f"student kernel: {status} (in-kernel result lost; outside verdicts count)")
        started = time.monotonic()
        try:
            result["tests"] = _outside_tests(job, submitted_nb, source_nb)
            result["_seconds"]["verify"] = time.monotonic() - started
        except Exception:
            result["status"] = "error"
            result["tests"] = _failed_tests(source_nb, "crash", "outside verification failed: an internal error; "
                                            "ask your instructor")
            result["flag_reasons"].append("outside verification failed:\n" + traceback.format_exc(limit=5))
        for test in result["tests"]:
            test["in_kernel_score"] = in_kernel.get(test["grade_id"])
            if status == "ok" and test["in_kernel_score"] is not None and test["in_kernel_score"] != test["score"]:
                result["flag_reasons"].append(f"{test['grade_id']}: in-kernel score {test['in_kernel_score']:g} "
                                              f"but outside verdict {test['score']:g}")
            if test["diagnosis"] in ("tampering", "forbidden-call"):
                result["flag_reasons"].append(f"{test['grade_id']}: {test['diagnosis']}")
        result["flag_reasons"] += tampering_evidence(read_notebook(job["release_nb"]), submitted_nb)
        autograded = course / "autograded" / job["student"] / job["lecture"] / job["notebook_name"]
        keep = Path(job["autograded_dir"]) / job["notebook_name"]
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(autograded if autograded.exists() else job["path"], keep)
        return _finish(result, manual_max, keep, log)
    finally:
        shutil.rmtree(course, ignore_errors=True)


def _finish(result, manual_max, autograded, log):
    result["score"] = sum(t["score"] for t in result["tests"])
    result["max_score"] = sum(t["max_score"] for t in result["tests"])
    result["manual_max_score"] = manual_max
    result["needs_manual_grading"] = manual_max > 0
    result["flagged"] = bool(result["flag_reasons"])
    result["_autograded"] = str(autograded) if autograded else None
    result["_log"] = log[-4000:]
    return result


# ---------------------------------------------------------------- the batch (parent process)

def write_final_scores(workspace, result):
    """Write ``result``'s outside scores into the workspace gradebook (manual cells stay
    "needs manual grading") and store the verdicts in the sidecar tables."""
    from nbgrader.api import Gradebook
    scores = {t["grade_id"]: t["score"] for t in result["tests"]}
    with warnings.catch_warnings(), Gradebook(workspace.db_url) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy autoflush chatter inside nbgrader's API
        gb.update_or_create_student(result["student"])
        submission = gb.update_or_create_submission(result["lecture"], result["student"])
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in scores:
                    grade.auto_score, grade.needs_manual_grade = scores[grade.name], False
                elif grade.cell.cell_type == "markdown":
                    grade.auto_score, grade.needs_manual_grade = None, True
                else:  # a test cell without outside verdict: no points from the student's kernel
                    grade.auto_score, grade.needs_manual_grade = 0.0, True
        gb.db.commit()
    save_result(workspace.db_path, result)


def _hidden_paths(workspace, submissions, batch_dir):
    """The paths the student's kernel must not see: solutions/, git history, the workspace (main
    gradebook, other students), the repository's default workspace (when grading elsewhere), the
    batch folder (other students' course directories) and the folders the submissions came from;
    never a folder holding the Python installation or package."""
    paths = {workspace.root / "solutions", workspace.root / ".git", workspace.path,
             workspace.root / DEFAULT_WORKSPACE, batch_dir}
    paths |= {s.path.resolve().parent for s in submissions}
    needed = [Path(sys.prefix).resolve(), Path(__file__).resolve().parents[1]]
    return sorted(str(p) for p in paths if not any(n == p or p in n.parents for n in needed))


def grade_batch(workspace, submissions, *, workers=1, cell_timeout=grading_config.CELL_TIMEOUT,
                memory_mb=grading_config.KERNEL_MEMORY_MB, cpu_seconds=grading_config.KERNEL_CPU_SECONDS,
                on_result=None):
    """Grade ``submissions`` (list of Submission) with ``workers`` processes; return the result dicts
    (same order as ``submissions``). ``on_result(result)`` is called as each one is stored."""
    for lecture in sorted({s.lecture for s in submissions}):
        workspace.ensure_assignment(lecture)
    batch_dir = Path(tempfile.mkdtemp(prefix="bplab-batch-"))
    hide = _hidden_paths(workspace, submissions, batch_dir)
    jobs = []
    for sub in submissions:
        source_path = workspace.source_notebook_path(sub.lecture)
        jobs.append({"student": sub.student, "lecture": sub.lecture, "path": str(sub.path.resolve()),
                     "notebook_name": source_path.name, "source_nb": str(source_path),
                     "source_dir": str(workspace.root / "solutions" / sub.lecture),
                     "release_nb": str(workspace.release_notebook_path(sub.lecture)),
                     "template_db": str(workspace.template_db(sub.lecture)),
                     "autograded_dir": str(workspace.path / "autograded" / sub.student / sub.lecture),
                     "seed": workspace.seed(sub.student, sub.lecture), "batch_dir": str(batch_dir),
                     "kernel_seed": workspace.seed(sub.student, sub.lecture + "/kernel") % 2**31,
                     "cell_timeout": cell_timeout, "memory_mb": memory_mb, "cpu_seconds": cpu_seconds,
                     "hide": [h for h in hide if h != str(batch_dir)] + [str(batch_dir)]})
    results = [None] * len(jobs)
    try:
        with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                                 initializer=measure_if_requested) as pool:
            futures = {pool.submit(grade_one, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                i = futures[future]
                try:
                    result = future.result()
                except Exception:
                    result = _internal_failure(jobs[i], traceback.format_exc(limit=5))
                try:
                    write_final_scores(workspace, result)
                except Exception:
                    result["status"] = "error"
                    result["flag_reasons"].append("could not store the grade:\n" + traceback.format_exc(limit=5))
                    result["flagged"] = True
                results[i] = result
                if on_result:
                    on_result(result)
    finally:
        shutil.rmtree(batch_dir, ignore_errors=True)
    return results


def _internal_failure(job, trace):
    source_nb = read_notebook(job["source_nb"])
    result = {"student": job["student"], "lecture": job["lecture"], "status": "error",
              "flag_reasons": ["internal failure while grading:\n" + trace],
              "tests": _failed_tests(source_nb, "crash", "not graded: an internal error; ask your instructor")}
    return _finish(result, 0.0, None, "")


def public(result):
    """Return the part of a result dict that `bplab grade --json` prints."""
    return {k: v for k, v in result.items() if not k.startswith("_")}
