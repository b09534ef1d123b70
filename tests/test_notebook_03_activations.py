"""Lecture 03-activations: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed solution (it runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    executed_once,
    function_def,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
)

LECTURE = "03-activations"
# Formulas the answers compute; a docstring states shapes and meaning, never these.
FORMULAS = ("dz = ", "dA *", "max(0", "alpha * z", "1 - tanh", "sigma'", "subtract", "np.", "1 / (1")


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def _markdown_headings(nb):
    return [line.strip() for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if line.startswith("#")]


def _explorer_index(nb):
    """The index of the cell after the "## Explorer" heading."""
    return 1 + next(i for i, c in enumerate(nb.cells)
                    if c.cell_type == "markdown" and c.source.splitlines()[0].strip() == "## Explorer")


def test_every_docstring_states_the_batch_shape(solution):
    """Does every answer's docstring state the (m, n) shape of its arguments?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        assert "(m, n)" in (ast.get_docstring(function_def(cell.source, name)) or ""), \
            f"{name}'s docstring states no shapes"



def test_docstrings_state_shapes_and_meaning_not_the_formula(solution):
    """Does no answer's docstring give the formula (or the NumPy code) its answer computes?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        doc = ast.get_docstring(function_def(cell.source, name))
        assert not [f for f in FORMULAS if f in doc], (name, doc)


def test_lecture_covers_the_required_topics(solution):
    """Does the lecture show every activation, the softmax overflow under np.errstate, the worked examples and torch.nn?"""
    code, text = code_text(solution), markdown_text(solution)
    for module in ("Sigmoid()", "Tanh()", "ReLU()", "LeakyReLU(", "ELU(", "Softmax(dim=1)"):
        assert f"torch.nn.{module}" in code, module
    assert '"elu"' in code and "np.errstate" in code and "[1000.0, 999.0]" in code
    assert "[[0.8615, 0.1166, 0.0058, 0.0003, 0.0158]]" in code  # DESIGN.md's softmax example, asserted
    assert "0.0066" in code and "0.249" in code                   # DESIGN.md's saturation example, asserted
    assert "a(1-a)" in text.replace(" ", "").replace("\\,", "") and "1-a^2" in text.replace(" ", "")
    assert any("rules of thumb" in h.lower() for h in _markdown_headings(solution))


def test_explorer_is_a_z_slider_with_an_activation_dropdown(solution):
    """Is the cell after the "Explorer" heading a widgets.interactive with a FloatSlider "z", a dropdown and plot_activation?"""
    explorer = solution.cells[_explorer_index(solution)]
    assert explorer.cell_type == "code"
    calls = {ast.unparse(n.func): n for n in ast.walk(ast.parse(explorer.source)) if isinstance(n, ast.Call)}
    slider = calls["widgets.FloatSlider"]
    assert {k.arg: ast.literal_eval(k.value) for k in slider.keywords}["description"] == "z"
    assert "widgets.interactive" in calls and "widgets.Dropdown" in calls
    assert "plots.plot_activation" in calls


@pytest.mark.slow
def test_solution_explorer_renders_a_widget(tmp_path_factory):
    """Does the explorer cell display an ipywidgets view (the slider and dropdown with their plot)?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    mimes = {mime for out in nb.cells[_explorer_index(nb)].outputs for mime in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
