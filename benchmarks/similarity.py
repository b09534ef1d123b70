"""Benchmark: `bplab similarity` on a class of 500 against copydetect run as its own tool, on all pairs (not a test).

The class (lecture 08-optimization) is made, not graded: 500 graded notebooks and their verdict rows written
into a fresh workspace as `bplab grade` leaves them (grading 500 submissions takes an hour; the report only
reads what grading wrote). Each student answers every exercise with one of the catalog's answers, right or
wrong, changed as people change code: a line of their own, two neighbouring lines swapped, a constant
written otherwise; ``--copies`` pairs are copies with other names and added comments. Prints:
- `similarity_report` (read the workspace, fingerprint, index, compare, mistakes, references), wall and CPU
  seconds, and whether the copied pairs rank first;
- copydetect's own CopyDetector (one file per student, the released notebook as boilerplate, every pair
  compared), timed on ``--naive-students`` students and extrapolated to the class by the number of pairs
  (``--naive-students 500`` runs it whole).
Usage: .venv/bin/python benchmarks/similarity.py [--students 500] [--copies 10] [--naive-students 100]
"""
from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from backproplab.grading.answer_catalogs import load_catalog
from backproplab.grading.notebooks import read_notebook
from backproplab.grading.release import find_root
from backproplab.grading.similarity import SimilarityOptions, answer_cells, similarity_report
from backproplab.grading.store import connect
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.workspace import Workspace

LECTURE = "08-optimization"


def personal(source, rng):
    """``source`` changed as one student would write it: a line of their own, two neighbouring body lines
    swapped, a constant written otherwise (the result need not run: only its text is compared)."""
    lines = source.splitlines()
    body = [i for i, line in enumerate(lines) if line.startswith("    ") and not line.strip().startswith(("return", '"'))]
    if len(body) > 2 and rng.random() < 0.5:
        i = rng.choice(body[:-1])
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    if body:
        lines.insert(rng.choice(body), f"    step_{rng.randrange(1000)} = {rng.randrange(2, 500)} * {rng.random():.3f}")
    text = "\n".join(lines) + "\n"
    return re.sub(r"\b1e-8\b", rng.choice(["1e-8", "1.0e-8", "0.00000001"]), text)


def disguised(source, rng):
    """A copy: every assigned name renamed, a comment after every other line."""
    names = set(re.findall(r"^\s+([A-Za-z_]\w*)\s*=", source, re.M))
    for name in names:
        source = re.sub(rf"\b{name}\b", f"{name}_{rng.randrange(100)}x", source)
    return "\n".join(line + ("  # mine" if i % 2 else "") for i, line in enumerate(source.splitlines())) + "\n"


def make_class(root, students, copies, seed=0):
    """{student: {exercise: source}} and {student: {exercise: expected diagnosis or None}}."""
    rng = random.Random(seed)
    catalog = load_catalog(root, LECTURE)
    choices = {e: [(source, None)] for e, source in catalog.ANSWERS.items()}
    for v in catalog.VARIANTS:
        if not v.sandbox_only:
            choices[v.exercise] += [(v.source, v.expected_diagnosis)] * (4 if v.expected_diagnosis is None else 1)
    answers, diagnoses = {}, {}
    for i in range(students - copies):
        picked = {e: rng.choice(options) for e, options in choices.items()}
        answers[f"s{i:03d}"] = {e: personal(source, rng) for e, (source, _) in picked.items()}
        diagnoses[f"s{i:03d}"] = {e: d for e, (_, d) in picked.items()}
    for c in range(copies):
        original = f"s{c:03d}"
        answers[f"copy{c:02d}"] = {e: disguised(source, rng) for e, source in answers[original].items()}
        diagnoses[f"copy{c:02d}"] = diagnoses[original]
    return answers, diagnoses


def write_workspace(path, root, answers, diagnoses):
    """A workspace holding what `bplab grade` writes for the class: graded notebooks and verdict rows."""
    workspace = Workspace(path, root)
    released = read_notebook(workspace.root / "course" / LECTURE / workspace.source_notebook_path(LECTURE).name)
    with connect(workspace.db_path) as conn:
        for student, cells in answers.items():
            folder = workspace.path / "autograded" / student / LECTURE
            folder.mkdir(parents=True)
            write_notebook(build_submission(released, cells), folder / f"{LECTURE.split('-', 1)[1]}.ipynb")
            conn.execute("INSERT INTO bplab_submissions (student, lecture, status) VALUES (?, ?, 'graded')",
                         (student, LECTURE))
            for exercise, diagnosis in diagnoses[student].items():
                for hidden in (0, 1):
                    conn.execute("INSERT INTO bplab_verdicts (student, lecture, grade_id, exercise, hidden, passed, "
                                 "diagnosis, message) VALUES (?,?,?,?,?,?,?,?)",
                                 (student, LECTURE, f"test_{exercise}{'_hidden' * hidden}", exercise, hidden,
                                  int(diagnosis is None), diagnosis, ""))
    conn.close()
    return workspace, released


def time_copydetect(answers, released, folder):
    """Seconds copydetect's CopyDetector takes on one .py file per student (answers joined), the released
    notebook's code as boilerplate, every pair compared (its report's figures and HTML not written)."""
    from copydetect import CopyDetector

    submissions, boilerplate = folder / "submissions", folder / "boilerplate"
    submissions.mkdir(parents=True)
    boilerplate.mkdir()
    for student, cells in answers.items():
        (submissions / f"{student}.py").write_text("\n\n".join(cells.values()))
    (boilerplate / "released.py").write_text("\n\n".join(answer_cells(released).values()))
    started, cpu = time.perf_counter(), time.process_time()
    detector = CopyDetector(test_dirs=[str(submissions)], boilerplate_dirs=[str(boilerplate)], extensions=["py"],
                            display_t=0.5, silent=True, autoopen=False)
    detector.run()
    return time.perf_counter() - started, time.process_time() - cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--naive-students", type=int, default=100)
    args = parser.parse_args()
    root = find_root()
    answers, diagnoses = make_class(root, args.students, args.copies)
    tmp = Path(tempfile.mkdtemp(prefix="bplab-similarity-bench-"))
    try:
        workspace, released = write_workspace(tmp / "autograder", root, answers, diagnoses)
        started, cpu = time.perf_counter(), time.process_time()
        report = similarity_report(workspace, LECTURE, SimilarityOptions())
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        copied = {tuple(sorted((f"s{c:03d}", f"copy{c:02d}"))) for c in range(args.copies)}
        top = {tuple(sorted(p.students)) for p in report.pairs[:args.copies]}
        pairs = args.students * (args.students - 1) // 2
        print(f"class: {args.students} students ({pairs} pairs), {args.copies} copied pairs, lecture {LECTURE}")
        print(f"bplab similarity:        {wall:6.1f} s wall, {cpu:6.1f} s CPU (one process); {len(report.pairs)} pair(s) "
              f"at or above {report.options.threshold:.0%}, copied pairs among the top {args.copies}: "
              f"{len(copied & top)}/{args.copies}; "
              f"{len(report.mistakes)} shared-mistake group(s), {len(report.references)} reference match(es)")
        naive = dict(list(answers.items())[:args.naive_students])
        naive_wall, naive_cpu = time_copydetect(naive, released, tmp / "copydetect")
        scale = pairs / (len(naive) * (len(naive) - 1) // 2)
        how = "measured" if len(naive) == args.students else \
            f"{naive_cpu:.1f} s CPU for {len(naive)} students, extrapolated by the number of pairs"
        print(f"copydetect, every pair: {naive_wall * scale:6.1f} s wall, {naive_cpu * scale:6.1f} s CPU ({how}); "
              f"{naive_cpu * scale / cpu:.0f}x the CPU of bplab similarity")
        print("(wall time counts the other processes of a shared machine; CPU time is what the method costs)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
