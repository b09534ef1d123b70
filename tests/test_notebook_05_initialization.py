"""Lecture 05-initialization: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed notebooks (each runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast
import re

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



def test_sigmoid_zero_start_is_said_to_learn_in_lockstep_not_to_freeze_the_first_layer(solution):
    """Issue 22: is the false statement (with the sigmoid only the last layer's weights learn) gone, replaced by the
    step-by-step account (W1 still zero after step 1, moving from step 2 on, with equal rows), asserted in code?"""
    text, code = markdown_text(solution), code_text(solution)
    assert "only the last layer's weights learn" not in text.replace("\n", " ")
    index = next(i for i, c in enumerate(solution.cells)
                 if c.source.startswith("### With a sigmoid, a zero start learns, but in lockstep"))
    prose = solution.cells[index].source
    assert "**Step 1.**" in prose and "**Step 2.**" in prose and "**the first layer learns**" in prose
    assert r"$\sigma(0) = 0.5$" in prose and "copies of one unit" in prose
    step_code = solution.cells[index + 1].source
    assert 'assert not snapshots[1]["W1"].any()' in step_code
    assert "np.allclose(W1, W1[0], rtol=1e-9, atol=0)" in step_code and "plt.show()" in step_code
    assert 'sigmoid_net = ["sigmoid", "sigmoid"]' in code


@pytest.mark.slow
def test_sigmoid_zero_start_prints_the_weights_after_step_1_and_2(tmp_path_factory):
    """Does the executed solution show W1 all zero and W2 moved (six equal entries) after step 1, then W1 non-zero
    with six identical rows after step 2 and after 1000 epochs?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("sigmoid_net = ["))
    printed = "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")
    assert "after step 1: W2 (1, 6) = [[" + " ".join(["-0.08333"] * 6) + "]]" in printed
    assert "W1 (6, 2) = [" + ", ".join(["[0.0, 0.0]"] * 6) + "]" in printed
    step_2 = re.search(r"after step 2: .*\n\s+W1 \(6, 2\) = \[(\[[^]]+\])", printed)
    row = step_2.group(1)
    assert row != "[0.0, 0.0]" and printed.count(row) >= 6
    assert re.search(r"after 1000 epochs: every row of W1 \(6, 2\) is \[.+\]: six equal rows", printed)


def test_no_cell_above_init_std_gives_xavier_or_he_standard_deviation(solution):
    """Issue 22: the standard deviations init_std returns are derived by the student: no cell above its answer
    cell (prose, table, hints) writes sqrt(2 / fan_in) or sqrt(2 / (fan_in + fan_out)) in LaTeX or in code."""
    (index, _), = [(i, c) for i, c in answer_cells(solution) if nbgrader_meta(c)["grade_id"] == "init_std"]
    above = "\n".join(c.source for c in solution.cells[:index]).replace(" ", "")
    for formula in (r"\sqrt{\frac{2}", r"\sqrt{2/", "sqrt(2/", r"\frac{2}{n_{l-1}}}", r"\frac{2}{n_{l-1}+n_l}}"):
        assert formula not in above, formula
