"""Integrity of what the grader relies on: the lecture notebooks' nbgrader metadata, and our
preprocessors being active in nbgrader's pipelines (the sandbox: test_sandbox.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from backproplab.grading.notebooks import has_outputs, read_notebook
from backproplab.grading.redact import is_hidden_test_source

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "solutions").glob("*/*.ipynb"))


def _graded(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_grade_ids_unique_and_tests_have_points(path):
    """Are grade ids unique, and does every test cell carry points > 0 and follow the test_<exercise> naming?"""
    nb = read_notebook(path)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    for cell in _graded(nb):
        meta = cell.metadata["nbgrader"]
        assert float(meta.get("points", 0)) > 0, meta["grade_id"]
        if cell.cell_type == "code":
            assert meta["grade_id"].startswith("test_") and meta.get("locked"), meta["grade_id"]
            assert meta["grade_id"].endswith("_hidden") == is_hidden_test_source(cell.source), meta["grade_id"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_and_course_notebooks_have_no_outputs(path):
    """Are the solutions notebook and its committed student version free of outputs?"""
    assert not has_outputs(read_notebook(path))
    course = REPO / "course" / path.parent.name / path.name
    if course.exists():
        assert not has_outputs(read_notebook(course))
        assert "BEGIN HIDDEN TESTS" not in course.read_text()


def test_pipeline_preprocessors_are_enabled_when_registered_by_name():
    """Are our preprocessors, imported by name from the config as nbgrader does, enabled (nbconvert
    disables plain preprocessors by default), with SandboxedExecute in place of nbgrader's Execute and
    JudgeOutcomes before SaveAutoGrades?"""
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item

    from backproplab.grading.config import configure
    config = configure(Config())
    autograde = config.Autograde.autograde_preprocessors
    ours = {n for n in autograde + config.Autograde.sanitize_preprocessors + config.GenerateFeedback.preprocessors
            if n.startswith("backproplab.")}
    assert {n.rpartition(".")[2] for n in ours} == {"SandboxedExecute", "JudgeOutcomes", "CheckCellMetadata",
                                                     "RedactHiddenTests"}
    assert all(import_item(n)().enabled for n in ours)
    assert "nbgrader.preprocessors.CheckCellMetadata" not in autograde + config.Autograde.sanitize_preprocessors
    assert "nbgrader.preprocessors.Execute" not in autograde
    assert autograde[0].endswith("SandboxedExecute")
    assert autograde.index("backproplab.grading.preprocessors.JudgeOutcomes") < \
        autograde.index("nbgrader.preprocessors.SaveAutoGrades")
