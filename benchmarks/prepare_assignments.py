"""Benchmark: preparing every lecture for grading, stock nbgrader against `bplab` (not a test).

In one run, prints side by side, for all lectures of solutions/ in fresh folders:
- stock: `nbgrader generate_assignment LECTURE` once per lecture, in one course directory (what an
  instructor runs before `nbgrader autograde`);
- bplab: `Workspace.ensure_assignments` (what `bplab grade` does before its first batch): every lecture
  into the workspace gradebook and its template gradebook, nbgrader's generate_assignment in process;
- bplab: `bplab release --check` (every lecture's student version regenerated and compared).
Each figure is wall seconds and the CPU seconds of this process and its children.
Usage: .venv/bin/python benchmarks/prepare_assignments.py
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backproplab.grading.config import config_file_text
from backproplab.grading.release import copy_lecture, discover_lectures, ensure_scripts_on_path, find_root
from backproplab.grading.workspace import Workspace


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measured(action):
    wall, cpu = time.perf_counter(), cpu_seconds()
    action()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def stock(root, lectures, folder):
    """nbgrader's own command line, one process per lecture."""
    for lecture in lectures:
        copy_lecture(root / "solutions" / lecture, folder / "source" / lecture)
    (folder / "nbgrader_config.py").write_text(config_file_text())
    for lecture in lectures:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", lecture, "--force"], cwd=folder,
                       check=True, capture_output=True)


def main():
    root = find_root()
    lectures = discover_lectures(root)
    ensure_scripts_on_path()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="bplab-bench-prepare-") as tmp:
        rows = [
            ("stock nbgrader generate_assignment, a process per lecture",
             measured(lambda: stock(root, lectures, Path(tmp) / "stock"))),
            ("bplab: Workspace.ensure_assignments (with the templates)",
             measured(lambda: Workspace(Path(tmp) / "workspace", root).ensure_assignments(lectures))),
            ("bplab release --check",
             measured(lambda: subprocess.run([sys.executable, "-m", "backproplab.cli", "release", "--check"],
                                             cwd=root, check=True, capture_output=True))),
        ]
    print(f"{len(lectures)} lectures: {', '.join(lectures)}")
    print(f"{'':60} {'wall s':>8} {'CPU s':>8}")
    for name, (wall, cpu) in rows:
        print(f"{name:60} {wall:8.1f} {cpu:8.1f}")


if __name__ == "__main__":
    main()
