"""Notebook I/O shared by release, grading and feedback: one normalized on-disk form.

A normalized notebook has no outputs, no execution counts and no per-run metadata, and
is written as deterministic JSON (sorted keys, indent 1, trailing newline) so that git
diffs of ``solutions/`` and ``course/`` show only what an author changed.
"""
from __future__ import annotations

import copy

import nbformat

# Metadata JupyterLab adds on every run; keeping it would make every save a diff.
_VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def normalize_notebook(nb):
    """Return a copy of ``nb`` without outputs, execution counts or run metadata.

    Inputs:
    - nb: nbformat.NotebookNode (v4).

    Returns:
    - nbformat.NotebookNode (v4), a new object; ``nb`` is not modified.
    """
    clean = copy.deepcopy(nb)
    for cell in clean.cells:
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return clean


def has_outputs(nb):
    """Return True if any code cell of ``nb`` carries outputs or an execution count."""
    return any(
        cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
        for cell in nb.cells
    )


def dumps_normalized(nb):
    """Serialize ``nb`` normalized, as the exact text that goes to disk (str, ends in a newline)."""
    text = nbformat.writes(normalize_notebook(nb), version=4)  # sorted keys, indent=1
    return text if text.endswith("\n") else text + "\n"


def read_notebook(path):
    """Read a v4 notebook from ``path`` (str or Path) and return its nbformat.NotebookNode."""
    return nbformat.read(str(path), as_version=4)
