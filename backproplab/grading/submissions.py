"""Student submissions built from a released notebook and answer code (the demo, the tests and
the benchmarks grade them)."""
from __future__ import annotations

import copy

import nbformat

from . import cells


def build_submission(released_nb, answers=None, *, edit=None):
    """Return a student submission: ``released_nb`` with answer cells filled in.

    Inputs:
    - released_nb: the student (course/) notebook, nbformat.NotebookNode.
    - answers: dict {exercise grade_id: source str}; each replaces that answer cell's source
      (exercises not given keep the ``raise NotImplementedError()`` stub).
    - edit: optional callable(nb) -> None applied last, for tampering scenarios.

    Returns:
    - nbformat.NotebookNode, a new object.
    """
    nb = copy.deepcopy(released_nb)
    answers = answers or {}
    for cell in nb.cells:
        if cells.is_answer(cell) and cells.grade_id(cell) in answers:
            cell.source = answers[cells.grade_id(cell)]
    if edit is not None:
        edit(nb)
    return nb


def write_notebook(nb, path):
    """Write ``nb`` to ``path`` as is (submissions keep whatever the student left in them)."""
    nbformat.write(nb, str(path))
