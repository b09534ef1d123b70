"""Facts of a notebook cell's nbgrader metadata, read as nbgrader.utils reads them.

Standard library only: a cell is an nbformat NotebookNode or a plain dict from ``json.loads`` (intake reads
notebooks as plain JSON). A submitted notebook is untrusted, so metadata that is not what nbgrader writes
(not a mapping, a grade_id that is not a string) reads as absent.
"""
from __future__ import annotations


def nbgrader_metadata(cell) -> dict:
    """The cell's ``metadata.nbgrader`` mapping ({} when there is none)."""
    metadata = cell.get("metadata")
    found = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def has_nbgrader_metadata(cell) -> bool:
    """Whether the cell carries nbgrader metadata at all (an editor or a copy into a new notebook drops it)."""
    return bool(nbgrader_metadata(cell))


def grade_id(cell) -> str | None:
    """The cell's nbgrader ``grade_id``, or None."""
    found = nbgrader_metadata(cell).get("grade_id")
    return found if isinstance(found, str) and found else None


def grade_ids(cells) -> set[str]:
    """The grade_ids of ``cells`` (an iterable of cells)."""
    return {grade_id(cell) for cell in cells} - {None}


def is_grade(cell) -> bool:
    """A graded cell: a test cell, or a manually graded answer."""
    return bool(nbgrader_metadata(cell).get("grade"))


def is_solution(cell) -> bool:
    """A cell the student writes in (an answer cell, a written answer)."""
    return bool(nbgrader_metadata(cell).get("solution"))


def is_locked(cell) -> bool:
    """A cell nbgrader restores from the source: never a solution cell, always a graded one, else when marked."""
    if is_solution(cell):
        return False
    return is_grade(cell) or bool(nbgrader_metadata(cell).get("locked"))


def is_test(cell) -> bool:
    """An autograded test cell: graded code the student does not write."""
    return cell.get("cell_type") == "code" and is_grade(cell) and not is_solution(cell)


def is_answer(cell) -> bool:
    """An answer cell: ungraded code the student writes (its grade_id names the function it defines)."""
    return cell.get("cell_type") == "code" and is_solution(cell) and not is_grade(cell)


def is_manually_graded(cell) -> bool:
    """A graded cell the student writes in (its points are given by hand in formgrader)."""
    return is_grade(cell) and is_solution(cell)


def points(cell) -> float:
    """The points of a graded cell (0 for any other, or when the metadata holds no number)."""
    found = nbgrader_metadata(cell).get("points")
    return float(found) if isinstance(found, (int, float)) and not isinstance(found, bool) else 0.0
