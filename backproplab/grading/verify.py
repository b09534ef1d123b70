"""Outside verification: the score that counts, decided outside the student's kernel.

``verify_notebook(source_nb, submitted_nb, seed=...)`` returns one ``TestVerdict`` per
``check(...)`` test cell of the trusted SOURCE notebook. For each exercise a fresh child
process (``backproplab.grading.runner``: ``python -I``, scrubbed environment, temporary
cwd, memory/CPU/file-size limits, no core dumps, torch blocked in NumPy exercises, calls
to the library's own implementation recorded) runs the source's setup cells and the
submission's answer cells (matched by the grade_ids that exist in the source; the
submission's metadata is otherwise ignored), then calls the function on the cases. This
process decodes the outcomes (JSON + base64 arrays only) and judges them; it never runs
student code. A crash, exit, endless loop or memory bomb costs only that exercise.

Seeds: visible tests use the exercise's fixed seed (as in the kernel); hidden tests use
``checks.hidden_seed(seed, exercise)``. Grading derives ``seed`` per student from the
student id, the lecture and a course secret, so hidden cases differ between students and
cannot be computed from anything the student sees.
"""
from __future__ import annotations

import ast
import json
import os
import resource
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from dataclasses import asdict, dataclass

from ..checks import codec
from ..checks.core import Outcome, evaluate, get_exercise, hidden_seed, visible_seed

__all__ = ["TestVerdict", "TestCell", "verify_notebook", "find_test_cells", "run_exercise", "LIMITS"]

# Resource limits of a child (bytes / seconds / characters).
LIMITS = {
    "memory": 3 * 2**30,          # address space of a NumPy exercise's child
    "memory_torch": 24 * 2**30,   # torch maps large virtual regions at import
    "file_size": 16 * 2**20,      # writes into the temporary cwd
    "output": 1_000_000,          # characters a student's code may print per call
}


@dataclass
class TestVerdict:
    """The verdict on one test cell of the source notebook."""

    grade_id: str
    exercise: str
    hidden: bool
    passed: bool
    diagnosis: str | None
    message: str
    points: float = 0.0      # the cell's points in the source's nbgrader metadata
    score: float = 0.0       # points if passed, else 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class TestCell:
    grade_id: str
    exercise: str
    hidden: bool
    points: float


def _read(notebook):
    import nbformat

    if isinstance(notebook, (str, os.PathLike)):
        return nbformat.read(os.fspath(notebook), as_version=4)
    return notebook


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _check_calls(source: str):
    """[(exercise, hidden)] for each ``check("<exercise>", ..., hidden=...)`` in a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and bool(k.value.value)
                         for k in node.keywords)
            calls.append((node.args[0].value, hidden))
    return calls


def find_test_cells(source_nb) -> list[TestCell]:
    """The source notebook's test cells, in order (one TestCell per check() call)."""
    tests = []
    for index, cell in enumerate(_read(source_nb).cells):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        for exercise, hidden in _check_calls(cell.source):
            grade_id = meta.get("grade_id") or f"cell-{index}"
            tests.append(TestCell(grade_id, exercise, hidden, float(meta.get("points", 0) or 0)))
    return tests


def _program(source_nb, submitted_nb):
    """[(label, code)]: the source's setup cells and the submission's answer cells, in the
    source's order. Answer cells are matched by the source's grade_ids (first match wins)."""
    source_nb, submitted_nb = _read(source_nb), _read(submitted_nb)
    submitted = {}
    for cell in submitted_nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if cell.cell_type == "code" and isinstance(grade_id, str) and grade_id not in submitted:
            submitted[grade_id] = cell.source
    program = []
    for index, cell in enumerate(source_nb.cells):
        if cell.cell_type != "code":
            continue
        meta = _nbgrader(cell)
        if "setup" in cell.get("metadata", {}).get("tags", []):
            program.append((f"setup cell {index}", cell.source))
        elif meta.get("solution") and not meta.get("grade"):
            grade_id = meta.get("grade_id")
            if grade_id in submitted:
                program.append((f"answer {grade_id}", submitted[grade_id]))
    return program


def _limit_child(memory, cpu_seconds):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMITS["file_size"], LIMITS["file_size"]))
    return apply


def _child_env(home):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": home, "BPLAB_QUIET": "1"}
    rcfile = os.environ.get("BPLAB_COVERAGE_RCFILE")
    if rcfile:  # the test suite measures the child too; this carries no host secrets
        env.update(COVERAGE_PROCESS_START=rcfile, COVERAGE_FILE=str(Path(rcfile).parent / ".coverage"))
    return env


def run_exercise(program, exercise, cases, *, timeout=60.0):
    """Run one exercise's cases in a fresh sandboxed child.

    program: [(label, code)]; exercise: an Exercise; cases: [Case] ->
    (outcomes: [Outcome] (may be shorter than cases after a timeout), failure: None or
    (diagnosis, reason) when the child died, hung or returned nothing usable).
    """
    request = {
        "cells": [list(item) for item in program], "exercise": exercise.name, "args": list(exercise.args),
        "cases": [codec.encode([case.args, case.kwargs]) for case in cases],
        "torch_allowed": exercise.torch_allowed, "library_functions": list(exercise.library_functions),
        "call_timeout": min(exercise.call_timeout, timeout), "output_limit": LIMITS["output"],
    }
    memory = LIMITS["memory_torch"] if exercise.torch_allowed else LIMITS["memory"]
    read_fd, write_fd = os.pipe()
    with tempfile.TemporaryDirectory(prefix="bplab-run-") as workdir:
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-m", "backproplab.grading.runner", str(write_fd)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd=workdir, env=_child_env(workdir), pass_fds=(write_fd,), start_new_session=True,
                preexec_fn=_limit_child(memory, int(timeout) + 2))
        finally:
            os.close(write_fd)
        chunks = []
        deadline = time.monotonic() + timeout
        timed_out = False
        try:
            try:
                child.stdin.write(json.dumps(request, allow_nan=False).encode())
                child.stdin.close()
            except BrokenPipeError:
                pass
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
                if ready:
                    chunk = os.read(read_fd, 1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
        finally:
            os.close(read_fd)
            try:
                os.killpg(child.pid, 9)  # the whole session: forks of student code too
            except (ProcessLookupError, PermissionError):
                pass
            child.wait()
    if timed_out:
        return [], ("timeout", f"{exercise.name} did not finish within {timeout:g} s (an endless loop?).")
    try:
        reply = json.loads(b"".join(chunks).decode("utf-8"))
        outcomes = [Outcome.from_data(data) for data in reply["outcomes"]]
    except (ValueError, KeyError, TypeError):
        code = child.returncode
        why = (f"killed by signal {-code}" if code and code < 0 else f"exit code {code}")
        return [], ("crash", f"the process running {exercise.name} ended before returning results ({why}; "
                             f"os._exit, a crash, or a resource limit such as memory or CPU time).")
    return outcomes, None


def verify_notebook(source_nb, submitted_nb, *, seed: int, timeout: float = 60.0) -> list[TestVerdict]:
    """One TestVerdict per check() test cell of the source notebook (see the module docstring)."""
    source_nb = _read(source_nb)
    tests = find_test_cells(source_nb)
    program = _program(source_nb, submitted_nb)
    verdicts: dict[int, TestVerdict] = {}
    for name in dict.fromkeys(test.exercise for test in tests):
        exercise = get_exercise(name)
        mine = [(i, t) for i, t in enumerate(tests) if t.exercise == name]
        plans = []  # (test index, test, seed, cases)
        for i, test in mine:
            test_seed = hidden_seed(seed, name) if test.hidden else visible_seed(name)
            plans.append((i, test, test_seed, exercise.draw_cases(test_seed, test.hidden)))
        all_cases = [case for *_, cases in plans for case in cases]
        outcomes, failure = run_exercise(program, exercise, all_cases, timeout=timeout)
        offset = 0
        for i, test, test_seed, cases in plans:
            start = offset
            offset += len(cases)

            def outcome_for(index, case, start=start):
                if start + index < len(outcomes):
                    return outcomes[start + index]
                diagnosis, reason = failure or ("timeout", f"{name} stopped before this case (time limit).")
                return Outcome("timeout" if diagnosis == "timeout" else "crash", exc_message=reason)

            result = evaluate(exercise, cases, outcome_for, seed=test_seed, hidden=test.hidden)
            verdicts[i] = TestVerdict(test.grade_id, name, test.hidden, result.passed, result.diagnosis,
                                      result.message, test.points, test.points if result.passed else 0.0)
    return [verdicts[i] for i in range(len(tests))]
