"""Benchmark: seconds per submission of `bplab grade` with 1 and 2 workers (not a test).

Builds 20 lecture-04 submissions from the answer catalog (correct ones and typical mistakes),
grades them in fresh temporary workspaces with --workers 1 and --workers 2, and prints the
wall-clock figures and the per-submission split between nbgrader autograde and outside
verification. For comparison it first times what an instructor would run instead: stock
`nbgrader autograde` (serial, default configuration) on the same submissions.  Usage: .venv/bin/python benchmarks/grade_throughput.py [--count 20]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backproplab.grading.demo import LECTURE, answers_with
from backproplab.grading.factory import build_submission, write_notebook
from backproplab.grading.grade import find_submissions, grade_batch
from backproplab.grading.release import find_root
from backproplab.grading.samples import catalog
from backproplab.grading.workspace import Workspace


def build_submissions(workspace, folder, count):
    """Write ``count`` submissions (cycling through correct answers and catalog mistakes)."""
    released = workspace.release_notebook(LECTURE)
    mistakes = [v for v in catalog(LECTURE).VARIANTS if not v.sandbox_only]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        chosen = [mistakes[i % len(mistakes)]] if i % 2 else []
        write_notebook(build_submission(released, answers_with(LECTURE, *chosen)), folder / f"student{i:02d}.ipynb")


def time_stock_nbgrader(root, submissions):
    """Seconds for stock `nbgrader autograde` on the .ipynb files in ``submissions`` (a folder)."""
    with tempfile.TemporaryDirectory(prefix="bplab-bench-stock-") as tmp:
        course = Path(tmp)
        shutil.copytree(root / "solutions" / LECTURE, course / "source" / LECTURE)
        (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'bench'\n")
        nbgrader = [sys.executable, "-m", "nbgrader"]
        subprocess.run([*nbgrader, "generate_assignment", LECTURE, "--force"], cwd=course, check=True,
                       capture_output=True)
        notebook_name = next((root / "solutions" / LECTURE).glob("*.ipynb")).name
        for path in sorted(submissions.glob("*.ipynb")):
            target = course / "submitted" / path.stem / LECTURE
            target.mkdir(parents=True)
            shutil.copy(path, target / notebook_name)
        started = time.monotonic()
        subprocess.run([*nbgrader, "autograde", LECTURE, "--create"], cwd=course, capture_output=True)
        return time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    root = find_root()
    with tempfile.TemporaryDirectory(prefix="bplab-bench-") as tmp:
        workspace = Workspace(Path(tmp) / "autograder", root)
        workspace.ensure_assignment(LECTURE)
        build_submissions(workspace, Path(tmp) / "subs", args.count)
        stock = time_stock_nbgrader(root, Path(tmp) / "subs")
    print(f"stock nbgrader autograde (serial, in-kernel scores only): {args.count} submissions in {stock:.1f} s "
          f"({stock / args.count:.2f} s/submission)", flush=True)
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="bplab-bench-") as tmp:
            workspace = Workspace(Path(tmp) / "autograder", root)
            started = time.monotonic()
            workspace.ensure_assignment(LECTURE)
            setup = time.monotonic() - started
            build_submissions(workspace, Path(tmp) / "subs", args.count)
            started = time.monotonic()
            results = grade_batch(workspace, find_submissions(Path(tmp) / "subs", workspace, LECTURE), workers=workers)
            wall = time.monotonic() - started
            autograde = [r["_seconds"]["autograde"] for r in results if "autograde" in r.get("_seconds", {})]
            verify = [r["_seconds"]["verify"] for r in results if "verify" in r.get("_seconds", {})]
            print(f"workers={workers}: {args.count} submissions in {wall:.1f} s "
                  f"({wall / args.count:.2f} s/submission; assignment setup {setup:.1f} s); "
                  f"per submission: autograde median {statistics.median(autograde):.1f} s, "
                  f"verify median {statistics.median(verify):.1f} s", flush=True)


if __name__ == "__main__":
    main()
