"""Shared pytest configuration: hypothesis profiles and small fixtures.

Profiles (select with ``HYPOTHESIS_PROFILE=<name>``; "dev" is the default):
  dev  30 examples per property, no deadline (the machines are shared and slow to warm up)
  ci   the same, derandomized so that CI runs are reproducible, with the seed blob printed (`make test`)
  check  ci with 10 examples per property (`make check`: the fast subset, run after every edit)
This file is loaded by every test module: keep it light (no torch import here).
"""
from __future__ import annotations

import os

# One thread per process for BLAS and torch, here and in every kernel and CLI the tests start (they
# inherit it), as the grading kernels have: the suite already runs two processes on two cores, and
# thread pools that spin while waiting for a core multiply the time under load.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", **_COMMON)
settings.register_profile("ci", derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("check", parent=settings.get_profile("ci"), max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session", autouse=True)
def measure_grading_workers():
    """Under pytest-cov, have every Dask worker the tests start load tests/coverage_in_workers.py."""
    import coverage

    current = coverage.Coverage.current()
    if current is None:
        return
    os.environ["BPLAB_TEST_COVERAGE_FILE"] = os.path.abspath(current.config.data_file)
    os.environ["BPLAB_TEST_COVERAGE_CONFIG"] = current.config.config_file or ""
    os.environ["DASK_DISTRIBUTED__WORKER__PRELOAD"] = repr([os.path.join(os.path.dirname(__file__), "coverage_in_workers.py")])
    import dask.config

    dask.config.refresh()  # the nannies read the preload from this process's configuration


@pytest.fixture(autouse=True)
def first_tries():
    """Every test starts as a fresh kernel session: no failed check() tries yet, so each failure shows the hint
    ladder's first rung (checks/hints.py) whatever ran before in this process."""
    import sys

    core = sys.modules.get("backproplab.checks.core")  # cleared only when loaded: this file stays light
    if core is not None:
        core.FAILED_TRIES.clear()


# The test files that read the session's grading batch (the `graded_batch` fixture): one xdist worker runs them all,
# the one that grades the batch, while the other goes on with the rest instead of waiting on the batch's lock.
GRADING_BATCH_FILES = ("test_attacks.py", "test_grading_pipeline.py")


# The files that take ten seconds or more, longest first (per-file totals of `make test`, idle machine): under
# `--dist loadfile` they start first, so that no long file starts last while the other worker sits idle.
LONG_FILES = ("test_export_student_repo.py", "test_lectures.py", "test_term.py", "test_similarity.py",
              "test_grading_cluster.py", "test_warm_sandbox.py", "test_status.py", "test_cli.py", "test_authoring.py",
              "test_student_journey.py", "test_preprocessors.py", "test_formgrader.py", "test_readme.py",
              "test_exchange.py", "test_sandbox.py", "test_labextensions.py", "test_catalogs.py")


def _schedule_rank(item):
    name = item.path.name
    if name in GRADING_BATCH_FILES:
        return 0
    return 1 + LONG_FILES.index(name) if name in LONG_FILES else 1 + len(LONG_FILES)


def pytest_collection_modifyitems(config, items):
    """A test that reads the grading batch must live in GRADING_BATCH_FILES (so that it is scheduled with them).
    The grading batch's files come first, then LONG_FILES, then the rest in collection order."""
    stray = [item.nodeid for item in items if "graded_batch" in item.fixturenames
             and item.path.name not in GRADING_BATCH_FILES]
    if stray:
        raise pytest.UsageError(f"tests reading graded_batch outside {GRADING_BATCH_FILES}: {stray[:5]}")
    items.sort(key=_schedule_rank)


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that GRADING_BATCH_FILES form one unit of scheduling and the files are handed
    out in collection order (see pytest_collection_modifyitems), not by their number of tests."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False

    class GradingBatchFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid):
            path = super()._split_scope(nodeid)
            return "grading-batch" if path.rsplit("/", 1)[-1] in GRADING_BATCH_FILES else path

    return GradingBatchFilesTogether(config, log)


# A test not marked slow or browser is part of `make check` (≤30 s for all of them): it may run short tools (git,
# bash -n, make -n) but no Python process, Jupyter, kernel, nbgrader (its gradebook starts `alembic`), sandbox or
# browser: each costs a second or more of CPU. Such a test is marked slow; the guard below fails one that is not.
HEAVY_PROGRAMS = ("python", "bplab", "jupyter", "alembic", "nbgrader", "bwrap", "chromium", "dask")


def _heavy(args):
    argv = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
    program = os.path.basename(os.fsdecode(argv[0]).split()[0]) if argv else ""
    if program == "make":
        return "-n" not in argv
    return program.startswith(HEAVY_PROGRAMS) or any("ipykernel" in os.fsdecode(a) for a in argv)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guard_processes(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guard_processes(item))


def _guard_processes(item):
    """Run a setup or call phase; if the test is fast, fail it when that phase started a heavy process."""
    if item.get_closest_marker("slow") or item.get_closest_marker("browser"):
        return (yield)
    import subprocess

    started, popen_init = [], subprocess.Popen.__init__

    def recording_init(self, args, *rest, **options):
        if _heavy(args):
            started.append(args)
        popen_init(self, args, *rest, **options)

    subprocess.Popen.__init__ = recording_init
    try:
        result = yield
    finally:
        subprocess.Popen.__init__ = popen_init
    if started:
        pytest.fail(f"a test not marked slow started {started[0]!r}: mark it @pytest.mark.slow", pytrace=False)
    return result


@pytest.fixture(scope="session")
def graded_batch(tmp_path_factory):
    """The record of the session's one `bplab grade` batch (tests/grading_batch.py), graded once per session."""
    from grading_batch import shared_batch  # imports nbgrader and the catalogs: only where a test asks for it

    return shared_batch(tmp_path_factory)


@pytest.fixture
def rng():
    """A seeded ``numpy.random.Generator`` (the same stream in every test that asks)."""
    return np.random.default_rng(12345)
