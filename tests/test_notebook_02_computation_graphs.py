"""Lecture 02-computation-graphs: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions, forbidden calls included) are tested in
tests/test_lectures.py. Tests marked slow read the executed solution (``executed_once``) or run the
first figure in a fresh kernel with the inline backend.
"""
from __future__ import annotations

import re

import pytest

from notebook_helpers import (
    code_text,
    executed_once,
    markdown_text,
    read,
    solution_path,
)

LECTURE = "02-computation-graphs"


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))



def test_rule_table_gives_local_derivatives_not_the_graded_rules(solution):
    """Does the rule table show the math of mul, exp and sigmoid (their code is the exercise), with worked rules only
    for ops the students do not write?"""
    table = next(c.source for c in solution.cells if c.cell_type == "markdown" and "| op | forward |" in c.source)
    assert "`(upstream * b, upstream * a)`" not in table and "`(upstream * out,)`" not in table
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    for op in ("mul", "exp", "sigmoid"):
        assert "upstream" not in rows[op] and "yours" in rows[op], rows[op]
    assert "`(upstream, upstream)`" in rows["add"]


def test_lecture_content_covers_the_brief(solution):
    """Does the notebook teach every row of the brief (worked example, f=(x+y)z, autograd, engine, two paths,
    matrix rule, training, figure, widget)?"""
    text, code = markdown_text(solution), code_text(solution)
    assert "Learning goals" in text
    assert "J = 2(ab + c)" in text and "assert (J, dJ_da, dJ_db, dJ_dc) == (22.0, 4.0, 6.0, 2.0)" in code
    assert "assert np.allclose(numeric, [4.0, 6.0, 2.0]" in code          # finite differences agree
    assert "f = (x + y)\\,z" in text
    assert "requires_grad=True" in code and "retain_grad()" in code
    assert "use_backward_rules" in code and "draw_graph(" in code and "graph_table" in code
    assert "f_graph = x_ * y_ + x_" in code                               # a variable used twice
    assert r"\nabla_A J = s\,B^\top" in text and r"\nabla_B J = A^\top s" in text
    assert "engine_forward" in code and "costs.append" in code           # a network trained with the engine
    assert "plt.subplots" in code and "widgets.interactive" in code and "FloatSlider" in code
    assert re.search(r"\$[^$]*\(m, n_0\)", text)                          # DESIGN.md's shapes
    # The J graph draws 2v as a mul node with a `const` input (which gets no gradient): the text says the same.
    assert "scale by 2" not in text and "`const`" in text and "mul node" in text


@pytest.mark.slow
def test_solution_shows_the_widget_and_runs_the_engine_with_the_students_rules(tmp_path_factory):
    """Does the executed solution display the graph viewer widget, train with the engine, and run the engine
    with the answered rules?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    mimes = {key for c in nb.cells if c.cell_type == "code" for out in c.outputs for key in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
    streams = "".join(out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    assert "engine == model_backward == torch" in streams
    assert "Solve exercises 2, 3 and 4 first" not in streams


def _first_figure_cells(nb):
    """The code cells from the top through the first cell that calls draw_graph (the lecture's first figure)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cells.append(cell)
        if "draw_graph(" in cell.source and "import" not in cell.source:
            return cells
    raise AssertionError("no cell calls draw_graph")


@pytest.mark.slow
def test_first_graph_figure_renders_as_an_image_in_a_fresh_inline_kernel(solution):
    """Does the J graph cell show a PNG (not "<Figure size ...>") when run, as a student would, in a fresh kernel
    with Jupyter's default inline backend (no MPLBACKEND=Agg, which hides the bug)?"""
    import os

    import nbformat

    from notebook_helpers import REPO, notebook_client

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in _first_figure_cells(solution)])
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    notebook_client(nb, timeout=120, allow_errors=False, cwd=REPO).execute(env={**env, "BPLAB_QUIET": "1"})
    outputs = nb.cells[-1].outputs
    assert any("image/png" in out.get("data", {}) for out in outputs), outputs
    texts = [out.get("data", {}).get("text/plain", "") for out in outputs]
    assert len([out for out in outputs if "image/png" in out.get("data", {})]) == 1, "shown twice"
    assert not any(text.startswith("<Figure") and "image/png" not in out.get("data", {})
                   for text, out in zip(texts, outputs))


def test_title_reads_lecture_02(solution):
    """Is the title numbered like the other lectures' ("# Lecture 02: ...")?"""
    assert solution.cells[0].source.startswith("# Lecture 02: ")
