"""Benchmark: how long each lecture notebook takes top to bottom, and its kernel's peak memory (not a test).

For every lecture it runs the instructor solution and the blank student release in a fresh python3
kernel (the executor of `bplab check`) and prints, side by side, the wall-clock seconds and the
kernel's peak RSS. The tests only guard against the pathological (tests/test_lectures.py: at least
3x these figures); the figures themselves are read here.
Usage: .venv/bin/python benchmarks/notebook_runtime.py [LECTURE ...]
"""
from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from backproplab.grading.notebooks import read_notebook
from backproplab.grading.preprocessors import KERNEL_ENV
from backproplab.grading.release import discover_lectures, find_root
from backproplab.selfcheck import execute_cells

_PEAK_RSS_PROBE = "import resource as _r\nprint('peak-rss-kb', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)"


def run(path: Path) -> tuple[float, float]:
    """(seconds, the kernel's peak RSS in MiB) of executing ``path`` in a fresh kernel."""
    sources = [cell.source for cell in read_notebook(path).cells if cell.cell_type == "code"]
    started = time.perf_counter()
    outputs = execute_cells([*sources, _PEAK_RSS_PROBE], path.parent, timeout=600, env=KERNEL_ENV)
    seconds = time.perf_counter() - started
    text = "".join(out.get("text", "") for out in outputs[-1] if out["output_type"] == "stream")
    return seconds, int(text.split()[-1]) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lectures", nargs="*")
    args = parser.parse_args()
    root = find_root()
    print(f"{'lecture':<24} {'solution s':>10} {'MiB':>6}   {'student s':>10} {'MiB':>6}", flush=True)
    for lecture in args.lectures or discover_lectures(root):
        solution = next((root / "solutions" / lecture).glob("*.ipynb"))
        course = root / "course" / lecture / solution.name
        sol_s, sol_mib = run(solution)
        stu_s, stu_mib = run(course)
        print(f"{lecture:<24} {sol_s:>10.1f} {sol_mib:>6.0f}   {stu_s:>10.1f} {stu_mib:>6.0f}", flush=True)
    print(f"(this process: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime:.0f} s CPU in kernels)")


if __name__ == "__main__":
    main()
