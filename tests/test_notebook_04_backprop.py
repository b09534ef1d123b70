"""Lecture 04-backprop: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``)
or run the outside verification.
"""
from __future__ import annotations

import pytest

from notebook_helpers import executed_once, widget_outputs

LECTURE = "04-backprop"


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_explorer_retrains_and_reports_without_error(version, tmp_path_factory):
    """Does the learning-rate / hidden-units explorer train and report in both versions, with no error?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    outputs = widget_outputs(nb)
    assert [out for out in outputs if out["output_type"] == "error"] == []
    printed = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
    assert "training accuracy" in printed


