"""Answer catalogs: for each lecture, typical wrong answers with the diagnosis each must get,
and correct answers written differently.

A catalog is course content, so it lives beside its lecture, outside this package:
``solutions/<lecture>/catalog.py`` (never released to students: see ``release.INSTRUCTOR_ONLY``).
The correct answers are not stored there: they are read from the lecture's solution notebook,
so the notebook an instructor edits stays the one place a solution is written. A catalog module
defines

* ``SETUP, ANSWERS = notebook_sources(__file__)``: the source of the notebook's cells tagged
  ``setup`` and ``{exercise: source}``, each answer cell's solution (nbgrader's markers removed);
* ``VARIANTS``: a list of ``Variant``s built with ``V`` and ``S`` (``replaced`` derives a
  variant from a correct answer by replacing one snippet).

A variant is run together with SETUP and the other exercises' ANSWERS (it replaces its own
exercise's answer). ``sandbox_only`` variants (process exits, endless loops, memory bombs,
forbidden imports) are only meaningful in the grading sandbox, never in a student's own kernel.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent
from types import ModuleType

from . import cells
from .notebooks import read_notebook

__all__ = ["Variant", "V", "S", "replaced", "notebook_sources", "load_catalog", "catalog_path"]

CATALOG_NAME = "catalog.py"
_SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


@dataclass(frozen=True)
class Variant:
    """One way to answer an exercise, and the diagnosis it must get (None = passes)."""

    exercise: str
    name: str
    source: str
    expected_diagnosis: str | None
    sandbox_only: bool = False


def V(exercise, name, expected, source):
    """A variant run in a student's kernel and in the grading sandbox (``source`` is dedented)."""
    return Variant(exercise, name, dedent(source), expected)


def S(exercise, name, expected, source):
    """A sandbox-only variant (process exits, endless loops, forbidden imports...): graded in the sandbox only."""
    return Variant(exercise, name, dedent(source), expected, sandbox_only=True)


def replaced(answers, exercise, old, new):
    """``answers[exercise]`` (a correct answer) with one snippet replaced (the snippet must occur)."""
    source = answers[exercise]
    if old not in source:
        raise ValueError(f"{old!r} not in the {exercise} answer")
    return source.replace(old, new)


def _solution_source(source: str) -> str:
    """An answer cell's source as the solution runs it: nbgrader's marker lines removed."""
    return "".join(line for line in source.splitlines(keepends=True) if line.strip() not in _SOLUTION_MARKERS)


def notebook_sources(catalog_file) -> tuple[str, dict[str, str]]:
    """Read (SETUP, ANSWERS) from the one solution notebook beside ``catalog_file``.

    Inputs:
    - catalog_file: path of a ``solutions/<lecture>/catalog.py`` (its ``__file__``).

    Returns:
    - SETUP: the cells tagged ``setup``, joined by blank lines (str);
    - ANSWERS: {grade_id: source} of every code answer cell (nbgrader ``solution`` and not
      ``grade``), in notebook order, with the BEGIN/END SOLUTION lines removed.
    """
    folder = Path(catalog_file).resolve().parent
    notebooks = sorted(folder.glob("*.ipynb"))
    if len(notebooks) != 1:
        raise ValueError(f"{folder} must hold exactly one solution notebook, found {len(notebooks)}")
    nb = read_notebook(notebooks[0])
    setup = "\n\n".join(c.source for c in nb.cells if "setup" in c.metadata.get("tags", ()))
    answers = {}
    for cell in nb.cells:
        if cells.is_answer(cell):
            answers[cells.grade_id(cell)] = _solution_source(cell.source)
    return setup + "\n", answers


def catalog_path(root, lecture) -> Path:
    """``<root>/solutions/<lecture>/catalog.py``."""
    return Path(root) / "solutions" / lecture / CATALOG_NAME


def load_catalog(root, lecture) -> ModuleType:
    """Import ``solutions/<lecture>/catalog.py`` of the repository ``root`` (SETUP, ANSWERS, VARIANTS).

    Raises FileNotFoundError naming the path when the lecture has no catalog."""
    path = catalog_path(root, lecture)
    if not path.is_file():
        raise FileNotFoundError(f"no answer catalog {path}")
    spec = importlib.util.spec_from_file_location(f"bplab_catalog_{lecture.replace('-', '_')}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
