"""The nbgrader cell facts (backproplab/grading/cells.py) read nbformat cells and plain JSON cells alike,
agree with nbgrader's own utils on every kind of cell the lectures hold, and read untrusted metadata as absent."""
import json

import nbformat
import pytest
from nbgrader import utils as nbgrader_utils

from backproplab.grading import cells

KINDS = {  # (cell_type, nbgrader metadata) of each kind of cell in the solution notebooks
    "test": ("code", {"grade": True, "solution": False, "locked": True, "grade_id": "test_sigmoid", "points": 2}),
    "answer": ("code", {"grade": False, "solution": True, "locked": False, "grade_id": "sigmoid"}),
    "written": ("markdown", {"grade": True, "solution": True, "locked": False, "grade_id": "explain", "points": 1.5}),
    "setup": ("code", {"grade": False, "solution": False, "locked": True, "grade_id": "setup"}),
}


def _node(kind):
    cell_type, meta = KINDS[kind]
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    return make("x = 1", metadata={"nbgrader": dict(meta)})


def _plain(kind):
    """The cell as json.loads returns it from a notebook file: dicts, not NotebookNodes."""
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=[_node(kind)])))["cells"][0]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_facts_agree_with_nbgrader_for_nodes_and_plain_cells(kind):
    """Do is_grade, is_solution and is_locked say what nbgrader.utils says, on a NotebookNode and on the same
    cell as plain JSON, and are grade_id and points the metadata's?"""
    node = _node(kind)
    for cell in (node, _plain(kind)):
        assert cells.is_grade(cell) == bool(nbgrader_utils.is_grade(node))
        assert cells.is_solution(cell) == bool(nbgrader_utils.is_solution(node))
        assert cells.is_locked(cell) == bool(nbgrader_utils.is_locked(node))
        assert cells.grade_id(cell) == KINDS[kind][1]["grade_id"]
        assert cells.points(cell) == float(KINDS[kind][1].get("points", 0))
        assert cells.is_test(cell) == (kind == "test")
        assert cells.is_answer(cell) == (kind == "answer")
        assert cells.is_manually_graded(cell) == (kind == "written")


@pytest.mark.parametrize("metadata", [{}, {"nbgrader": None}, {"nbgrader": "grade"}, {"nbgrader": []},
                                      {"nbgrader": {"grade_id": 7, "points": "10", "grade": True}}])
def test_metadata_nbgrader_never_wrote_reads_as_absent(metadata):
    """A student's cell with no nbgrader metadata, or metadata of the wrong types, has no grade_id and no points
    (and is never an error)."""
    cell = {"cell_type": "code", "source": "", "metadata": metadata}
    assert cells.grade_id(cell) is None
    assert cells.points(cell) == 0.0
    assert cells.grade_ids([cell, _plain("answer")]) == {"sigmoid"}
    assert cells.has_nbgrader_metadata(cell) == isinstance(metadata.get("nbgrader"), dict)
