"""Cells and notebooks that follow ARCHITECTURE.md's conventions, for tests that need a small
source notebook of their own (the lectures themselves are notebooks edited in JupyterLab)."""
from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def nbgrader_metadata(grade_id, *, solution=False, grade=False, locked=False, points=None, cell_type="code"):
    """Return the cell metadata dict of an nbgrader cell (schema 3) with the given flags."""
    meta = {"grade": grade, "solution": solution, "locked": locked, "schema_version": 3, "grade_id": grade_id}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def answer_cell(exercise, body):
    """Return an answer code cell (grade_id = exercise) whose solution is ``body`` (str)."""
    return new_code_cell(f"### BEGIN SOLUTION\n{body.rstrip()}\n### END SOLUTION",
                         metadata=nbgrader_metadata(exercise, solution=True))


def visible_test_cell(exercise, points=1, body=None):
    """Return the locked visible test cell ``test_<exercise>`` (default body: the check() call)."""
    return new_code_cell(body or f'check("{exercise}", {exercise})',
                         metadata=nbgrader_metadata(f"test_{exercise}", grade=True, locked=True, points=points))


def hidden_test_cell(exercise, points=1, body=None):
    """Return the locked hidden test cell ``test_<exercise>_hidden``."""
    body = body or f'check("{exercise}", {exercise}, hidden=True)'
    return new_code_cell(f"### BEGIN HIDDEN TESTS\n{body}\n### END HIDDEN TESTS",
                         metadata=nbgrader_metadata(f"test_{exercise}_hidden", grade=True, locked=True, points=points))


def setup_cell(source):
    """Return a code cell tagged ``setup`` (imports and helpers the answer code relies on)."""
    return new_code_cell(source, metadata={"tags": ["setup"]})


def manual_cell(grade_id, points=1, prompt="Explain in your own words."):
    """Return a manually graded markdown answer cell (``solution: true, grade: true``)."""
    return new_markdown_cell(f"{prompt}\n\n=== BEGIN MARK SCHEME ===\nAny sensible answer.\n=== END MARK SCHEME ===",
                             metadata=nbgrader_metadata(grade_id, solution=True, grade=True, points=points,
                                                        cell_type="markdown"))


def build_notebook(cells):
    """Return a v4 notebook with the python3 kernelspec holding ``cells`` (list of cells)."""
    nb = new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


UNITS_LECTURE, UNITS_NOTEBOOK = "99-units", "units.ipynb"


def units_repository(base):
    """A repository root ``base``/repo whose solutions/ hold one small lecture, UNITS_LECTURE: an answer
    `double`, its visible (1 point) and hidden (2 points) tests and an explain cell (1 point, graded by hand)."""
    import nbformat

    folder = base / "repo" / "solutions" / UNITS_LECTURE
    folder.mkdir(parents=True)
    nbformat.write(build_notebook([
        setup_cell("import numpy as np"),
        answer_cell("double", "def double(x):\n    return 2 * x"),
        visible_test_cell("double"), hidden_test_cell("double", points=2), manual_cell("explain_double"),
    ]), str(folder / UNITS_NOTEBOOK))
    return base / "repo"
