"""`bplab demo`: the instructor's workflow end to end on shipped sample submissions.

In a temporary workspace: generate lecture 04's assignment with nbgrader (the release), build
submissions from the answer catalog (solutions/04-backprop/catalog.py) -- a correct
one, a differently written one, typical mistakes, two cheats (each labelled) and a crash --, grade them with the
SQLite gradebook, print the grade table and the class report.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from .answer_catalogs import load_catalog
from .submissions import build_submission, write_notebook

LECTURE = "04-backprop"
# (student, exercise, variant name, what the sample does) -- variant None: the catalog's correct answers
DEMO_STUDENTS = [
    ("ada", None, None, "correct answers"),
    ("grace", "dense_backward", "einsum", "correct, written differently (np.einsum)"),
    ("alan", "dense_backward", "dW-transposed", "a typical mistake: dW transposed"),
    ("barbara", "dense_backward", "dB-no-keepdims", "a typical mistake: dB without keepdims"),
    ("edsger", "binary_cross_entropy", "sum-not-mean", "a typical mistake: the cost summed, not averaged"),
    ("john", "model_backward", "derivative-at-A", "a typical mistake: g' evaluated at A instead of Z"),
    ("mallory", "dense_backward", "patches-allclose",
     "CHEAT: patches numpy.allclose so every check would pass, and leaves out the 1/m; the grader judges what "
     "the code computes, so the patch wins nothing: missing-mean"),
    ("trudy", "dense_backward", "calls-the-library",
     "CHEAT: calls the library's dense_backward; caught as forbidden-call and FLAGGED"),
    ("crash", "dense_backward", "os-exit", "a crash: os._exit in dense_backward (costs only that exercise)"),
]


def variant(catalog, exercise, name):
    """Return the Variant of the catalog module ``catalog`` called ``name`` for ``exercise``."""
    for v in catalog.VARIANTS:
        if v.exercise == exercise and v.name == name:
            return v
    raise KeyError(f"no variant {exercise}/{name} in the catalog {catalog.__file__}")


def answers_with(catalog, *variants):
    """Return {exercise: source}: the catalog's correct answers with ``variants`` swapped in."""
    answers = dict(catalog.ANSWERS)
    for v in variants:
        answers[v.exercise] = v.source
    return answers


def write_demo_submissions(workspace, folder):
    """Write the DEMO_STUDENTS' submissions as ``folder/<student>.ipynb``; return their paths."""
    released = workspace.release_notebook(LECTURE)
    catalog = load_catalog(workspace.root, LECTURE)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for student, exercise, name, _ in DEMO_STUDENTS:
        chosen = [variant(catalog, exercise, name)] if exercise else []
        path = folder / f"{student}.ipynb"
        write_notebook(build_submission(released, answers_with(catalog, *chosen)), path)
        paths.append(path)
    return paths


def run_demo(workers=2, keep=False):
    """Run the demo; return the exit code (0 when every submission was graded)."""
    from .batch import grade_batch
    from .intake import find_submissions
    from .release import find_root
    from .reports import class_report, format_grade_table, format_report, score_distribution
    from .workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="bplab-demo-"))
    try:
        workspace = Workspace(tmp / "autograder", find_root())
        print(f"1. release: nbgrader generate_assignment {LECTURE} (workspace {workspace.path})", flush=True)
        workspace.ensure_assignment(LECTURE)
        print("2. sample submissions:", flush=True)
        for student, *_, what in DEMO_STUDENTS:
            print(f"   {student:<9} {what}", flush=True)
        write_demo_submissions(workspace, tmp / "submissions")
        print(f"3. bplab grade --workers {workers} (nbgrader autograde, student code in the sandbox) ...", flush=True)
        results = grade_batch(workspace, find_submissions(tmp / "submissions", workspace, LECTURE), workers=workers,
                              on_result=lambda r: print(f"   graded {r.student}", flush=True))
        print()
        print(format_grade_table(results))
        print()
        print("4. class report: which misconceptions this class holds")
        print(format_report(class_report(workspace), score_distribution(workspace)))
        return 1 if any(r.status == "error" for r in results) else 0
    finally:
        if keep:
            print(f"\nworkspace kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
