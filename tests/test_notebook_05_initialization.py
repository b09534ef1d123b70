"""Lecture 05-initialization: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    dashboard_problems,
    executed_once,
    function_def,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
    widget_outputs,
)

LECTURE = "05-initialization"
# Formulas the answers compute; a docstring states shapes and meaning, never these.
FORMULAS = ("sqrt(2", "2 / fan_in", "fan_in + fan_out", "@ W", "W[l].T", "np.std(A", "std^2")


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def test_lecture_has_figures_a_widget_torch_and_the_worked_example(solution):
    """Does the lecture train from zeros, draw figures, offer an ipywidgets explorer over depth, activation and
    method that uses plot_layer_statistics, compare with torch.nn.init and assert the sigmoid-slope example?"""
    code = code_text(solution)
    assert "bl.train(" in code and '"zeros"' in code
    assert code.count("plt.show()") >= 4 and "widgets.interactive(" in code
    assert all(word in code for word in ("depth=", "activation=", "method=", "plot_layer_statistics("))
    assert "kaiming_normal_" in code and "xavier_normal_" in code
    assert "0.0066" in code and "0.249" in code


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_explorer_draws_without_error(version, tmp_path_factory):
    """Does the explorer's first draw (saved in its Output widget) report the layer statistics with no error,
    in both versions?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    outputs = widget_outputs(nb)
    assert [out for out in outputs if out.get("output_type") == "error"] == []
    printed = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
    assert "std(A[10])" in printed and "rms(dz[1])" in printed



def test_docstrings_state_shapes_and_meaning_not_the_formula(solution):
    """Does every answer's docstring give shapes or sizes, and none of the formulas its answer computes?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        doc = ast.get_docstring(function_def(cell.source, name))
        assert "n_{l-1}" in doc, name
        assert not [f for f in FORMULAS if f in doc], (name, doc)


def _cell_with(nb, needle):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and needle in c.source)


def test_gradient_figure_shows_dz_per_layer_and_the_hand_checkable_chain_is_predicted_first(solution):
    """Does the vanishing/exploding figure plot rms(dz[l]) per layer (asserting the per-layer factors), does the
    four-unit sigmoid chain (slope 1/4, w = 8: doubling, 16 in all) follow a "Predict before you run" question,
    and is the explorer quick (a smaller batch, cached, sliders that redraw on release)?"""
    figure = solution.cells[_cell_with(solution, 'cases = [("sigmoid", "xavier"')].source
    assert "rms(dz[l])" in figure and "per_layer" in figure and 'grads[f"dz{l}"]' in code_text(solution)
    chain = _cell_with(solution, "w, biases = 8.0")
    assert "Predict before you run" in solution.cells[chain - 1].source
    assert "upstream == 16.0" in solution.cells[chain].source
    explorer = solution.cells[_cell_with(solution, "def initialization_explorer(")].source
    assert "functools.lru_cache" in explorer and "X_deep[:200]" in explorer
    assert explorer.count("continuous_update=False") == 2


def test_zero_start_text_says_no_weight_learns_and_the_heatmap_draws_units_as_rows(solution):
    """Does the lecture say that zeros with tanh stop all weight learning (and assert it), with the explorer's hint
    no longer claiming "all but the last layer", and draw W1 (6, 2) itself so that rows are units?"""
    text, code = markdown_text(solution), code_text(solution)
    assert "No weight ever changes" in text and "all but the\nlast layer exactly 0" not in text
    assert 'not trained["zeros"]["W1"].any() and not trained["zeros"]["W2"].any()' in code
    assert 'ax.imshow(params["W1"],' in code and 'imshow(params["W1"].T' not in code


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_the_per_layer_dashboard_trains_and_draws(version, tmp_path_factory):
    """Does the per-layer training dashboard show its widget and draw its figure, in both versions?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    assert dashboard_problems(nb) == []
