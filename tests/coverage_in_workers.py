"""A Dask worker preload that measures the grading workers with the suite's coverage settings.

tests/conftest.py names this file in DASK_DISTRIBUTED__WORKER__PRELOAD when pytest-cov measures
the run, so every worker a test starts (a LocalCluster's or `dask worker`'s) loads it. Each
worker writes its own data file beside the suite's, which pytest-cov combines at the end.
"""
from __future__ import annotations

import os

import coverage

_measured: list[coverage.Coverage] = []


def dask_setup(worker):
    measured = coverage.Coverage(data_file=os.environ["BPLAB_TEST_COVERAGE_FILE"], data_suffix=True,
                                 config_file=os.environ["BPLAB_TEST_COVERAGE_CONFIG"] or True)
    measured.start()
    _measured.append(measured)


def dask_teardown(worker):
    for measured in _measured:
        measured.stop()
        measured.save()
    _measured.clear()
