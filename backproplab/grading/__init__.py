"""Grading: nbgrader pipeline (release, grade, feedback, export, report) and outside verification.

Submodules are imported on demand; importing this package imports neither nbgrader nor torch.
"""

import os
from pathlib import Path


def measure_if_requested():
    """Start the test suite's coverage in this process when BPLAB_COVERAGE_RCFILE names its
    config (set only by `make test`); a no-op otherwise. Children started later stay unmeasured."""
    rcfile = os.environ.get("BPLAB_COVERAGE_RCFILE")
    if not rcfile:
        return
    import coverage

    if coverage.Coverage.current() is not None:  # already measured (e.g. main() called inside pytest)
        return
    os.environ.update(COVERAGE_PROCESS_START=rcfile, COVERAGE_FILE=str(Path(rcfile).parent / ".coverage"))
    coverage.process_startup()  # saves at normal exit
    del os.environ["COVERAGE_PROCESS_START"]
