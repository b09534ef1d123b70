"""The command line that runs `bplab` in a new process for a test.

Under pytest-cov (tests/conftest.py sets BPLAB_TEST_COVERAGE_FILE) the process runs under
``coverage run``, so what the CLI itself executes counts; its Dask workers are measured by the
worker preload, and the nbgrader processes it starts are not measured (that tripled their time).
"""
from __future__ import annotations

import os
import sys


def bplab_command(*args: str) -> list[str]:
    """``python -m backproplab.cli ARGS``, measured when the suite is."""
    data_file = os.environ.get("BPLAB_TEST_COVERAGE_FILE")
    if not data_file:
        return [sys.executable, "-m", "backproplab.cli", *args]
    measured = [sys.executable, "-m", "coverage", "run", "--parallel-mode", f"--data-file={data_file}"]
    if os.environ.get("BPLAB_TEST_COVERAGE_CONFIG"):
        measured.append(f"--rcfile={os.environ['BPLAB_TEST_COVERAGE_CONFIG']}")
    return [*measured, "-m", "backproplab.cli", *args]
