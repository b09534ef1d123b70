"""Cell factories and the stable writer shared by the lecture builders (tools/build_NN_*.py).

Cells follow docs/ARCHITECTURE.md's notebook conventions (nbgrader schema 3):
  md(text), code(text, tags=None)              plain cells (text stripped of leading/trailing newlines)
  setup(text, grade_id)                        locked cell tagged "setup" (outside verification runs it)
  answer(exercise, text, solution=None)        answer cell: solution=true, grade_id = exercise; with solution
                                               (the catalog's ANSWERS source), text is the def line + docstring
  with_solution(header, answer_source)         header + the catalog answer's body as the SOLUTION region
  tests(exercise, points_visible=1, points_hidden=2) -> [visible, hidden]   the exact check() test cells
  hints(*steps)                                a ladder of collapsed <details> hints (one markdown cell)
  manual(grade_id, model_answer, points)       manually graded markdown answer holding the model answer
  assemble(cells) -> NotebookNode              stable cell ids ("cell-NN") and the python3 kernelspec
  main(build, target, root)                    validate, write normalized (no outputs), print the path
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from any folder: import the repository's backproplab


def nbgrader(grade_id, *, solution=False, grade=False, locked=False, points=None):
    """The ``{"nbgrader": {...}}`` cell metadata (schema 3)."""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(text, tags=None):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def setup(text, grade_id):
    """A setup cell: tagged "setup" (outside verification runs it) and locked."""
    cell = code(text, tags=["setup"])
    cell.metadata.update(nbgrader(grade_id, locked=True))
    return cell


def with_solution(header, answer_source):
    """The answer cell's source: ``header`` (def line and docstring, what the student keeps) followed by
    the body of ``answer_source`` (the catalog's ANSWERS entry) as the ``### BEGIN SOLUTION`` region,
    so that notebook and catalog share one solution."""
    def_line, _, body = answer_source.strip("\n").partition("\n")
    header = header.strip("\n")
    if header.partition("\n")[0] != def_line:
        raise ValueError(f"answer cell starts {header.partition(chr(10))[0]!r}, the catalog answer {def_line!r}")
    return f"{header}\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION"


def answer(exercise, text, solution=None):
    """An answer cell; with ``solution`` (a catalog answer source) ``text`` is only its def line and docstring."""
    cell = code(text if solution is None else with_solution(text, solution))
    cell.metadata.update(nbgrader(exercise, solution=True))
    return cell


def tests(exercise, points_visible=1, points_hidden=2):
    """The visible and the hidden test cell of ``exercise``: exactly the check() calls, locked, with points."""
    visible = code(f'check("{exercise}", {exercise})')
    visible.metadata.update(nbgrader(f"test_{exercise}", grade=True, locked=True, points=points_visible))
    hidden = code("### BEGIN HIDDEN TESTS\n"
                  f'check("{exercise}", {exercise}, hidden=True)\n'
                  "### END HIDDEN TESTS")
    hidden.metadata.update(nbgrader(f"test_{exercise}_hidden", grade=True, locked=True, points=points_hidden))
    return [visible, hidden]


def hints(*steps):
    """A ladder of collapsed hints, each a <details> block the student opens when stuck."""
    blocks = [f"<details><summary><b>Hint {i}</b> (click to open)</summary>\n\n{step.strip()}\n\n</details>"
              for i, step in enumerate(steps, 1)]
    return md("\n\n".join(blocks))


def manual(grade_id, model_answer, points):
    """A manually graded "explain in your own words" answer cell (markdown) holding the model answer."""
    cell = md(model_answer)
    cell.metadata.update(nbgrader(grade_id, solution=True, grade=True, points=points))
    return cell


def assemble(cells):
    """Return the lecture notebook (nbformat v4 NotebookNode) holding ``cells``."""
    nb = new_notebook(cells=cells)
    # Stable cell ids, so that rebuilding an unchanged lecture gives an unchanged file.
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main(build, target):
    """Validate ``build()`` and write it normalized (no outputs) to ``target``."""
    from backproplab.grading.notebooks import write_normalized

    nb = build()
    nbformat.validate(nb)
    write_normalized(nb, target)
    print(f"wrote {Path(target).relative_to(ROOT)}")
