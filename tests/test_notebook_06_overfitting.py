"""Lecture 06-overfitting: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
"""
from __future__ import annotations

import ast

import numpy as np
import pytest

from handout_checks import LADDER
from notebook_helpers import (
    _global_loads,
    _global_stores,
    answer_cells,
    code_text,
    dashboard_problems,
    executed_once,
    function_def,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
)

LECTURE = "06-overfitting"
# The manual questions, in notebook order.
SPECS_MANUAL = ("explain_dropout_scale", "explain_validation_set")
# Formulas the answers compute; a docstring states shapes and meaning, never these.
FORMULAS = ("/ (1 - alpha)", "lambd / m", "lambd / (2", "(lambd / m)", "* mask", "argmin")


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def test_lecture_has_figures_an_explorer_torch_and_the_briefs_topics(solution):
    """Does the lecture draw figures, offer the hidden-units/lambda/dropout explorer, compare with torch, and cover
    the brief's topics with the library's data and training functions?"""
    code = code_text(solution)
    assert code.count("plt.show()") >= 4 and code.count("widgets.interactive(") >= 1
    for slider in ("hidden_units=widgets.IntSlider", "lambd=widgets.FloatSlider", "dropout=widgets.FloatSlider"):
        assert slider in code
    for needed in ("train_val_split(", "dose_response(n_train=6, n_test=700", "batch_size=32", "momentum=0.9",
                   "torch.nn.Dropout(", "weight_decay=", "torch.optim.SGD(", "val_cost > 5 * train_cost"):
        assert needed in code, needed
    text = markdown_text(solution)
    for needed in ("L1", "augmentation", "1 - \\alpha", "patience", "Momentum", "(1-\\beta)"):
        assert needed in text, needed



def test_docstrings_state_shapes_and_meaning_not_the_formula(solution):
    """Does every answer's docstring give shapes, and none of the formulas its answer computes?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        doc = ast.get_docstring(function_def(cell.source, name))
        assert "(m, n)" in doc or "(n_l, n_{l-1})" in doc or "sequence" in doc, name
        assert not [f for f in FORMULAS if f in doc], (name, doc)


def _cells_reading(nb, names):
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _global_loads(c.source) & names]


def _split_cell(nb):
    return next(i for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and {"X_val", "X_test"} <= _global_stores(c.source))


def test_validation_and_test_patients_are_disjoint(solution, monkeypatch):
    """Run the notebook's code up to the cell that makes the validation and test sets: are the training,
    validation and test patients three disjoint sets, with 200 validation and 500 test patients?"""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    split = _split_cell(solution)
    namespace = {}
    for cell in solution.cells[:split + 1]:
        if cell.cell_type == "code":
            exec(cell.source, namespace)
    rows = {name: {tuple(row) for row in np.c_[namespace[f"X_{name}"], namespace[f"Y_{name}"]]}
            for name in ("train", "val", "test")}
    assert (len(rows["train"]), len(rows["val"]), len(rows["test"])) == (6, 200, 500)
    assert not rows["val"] & rows["test"], "validation and test patients overlap"
    assert not rows["train"] & (rows["val"] | rows["test"])
    # No cell makes another validation set out of test data afterwards.
    assert [i for i, c in enumerate(solution.cells) if i > split and c.cell_type == "code"
            and {"X_val", "Y_val"} & _global_stores(c.source)] == []


def test_test_set_is_used_once_after_every_choice(solution):
    """Apart from the cell that makes it, does exactly one cell read the test set, after every training run and
    every use of the validation set that chooses something (the early stopping demo, the choice of the model)?"""
    split = _split_cell(solution)
    readers = [i for i in _cells_reading(solution, {"X_test", "Y_test"}) if i != split]
    assert len(readers) == 1, readers
    reporter = solution.cells[readers[0]].source
    assert "min(candidates" in reporter and "validation_cost" in reporter
    for i in _cells_reading(solution, {"early_stopping_epoch"}):
        assert i < readers[0] or nbgrader_meta(solution.cells[i]).get("grade"), i


def test_hand_checkable_examples_are_asked_before_they_are_run(solution):
    """Do the L2 "spread out" weights (penalties 1 and 0.25, the same score 1) and dropout with alpha = 0.8 (kept units
    times 5) each come with a "Predict before you run" question in the markdown cell right before their code?"""
    cells = solution.cells
    for needle in ("np.array([0.25, 0.25, 0.25, 0.25])", "bl.dropout_forward(A_ones, 0.8"):
        index = next(i for i, c in enumerate(cells) if c.cell_type == "code" and needle in c.source)
        assert "Predict before you run" in cells[index - 1].source, needle
    text = markdown_text(solution)
    assert "0.25" in text and "= 5" in text


def test_augmentation_jitters_the_six_patients_instead_of_drawing_new_ones(solution):
    """Is the augmented training set made of copies of X_train and Y_train (np.repeat), jittered in the dose only?"""
    cell = next(c.source for c in solution.cells if c.cell_type == "code" and "X_aug =" in c.source)
    assert "np.repeat(X_train" in cell and "Y_aug = np.repeat(Y_train" in cell
    assert "train(X_aug, Y_aug" in cell


@pytest.mark.slow
@pytest.mark.parametrize("version", ["solution", "course"])
def test_the_per_layer_dashboard_trains_and_draws(version, tmp_path_factory):
    """Does the per-layer training dashboard show its widget and draw its figure, in both versions?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, version)
    assert dashboard_problems(nb) == []


# What each answer computes, as the lecture's LaTeX (or code) would write it, whitespace and LaTeX spacing removed:
# none of it may appear in any cell above the answer cell (prose, hints, comments). The definition of the L2 penalty
# and of the mask are the exercises' statements and stay; the gradient and the dropout factor are to be derived.
ANSWER_LINES = {
    "l2_backward": (r"\frac{\lambda}{m}W", r"\frac{\lambda}{m}\cdot", r"\lambda/m", "lambd/m", r"\frac{\lambda}{2m}\cdot2",
                    r"\frac{\lambda}{2m}2"),
    "dropout_forward": (r"\frac{A\odotM}{1-\alpha}", r"\frac{A}{1-\alpha}", r"\frac{1}{1-\alpha}", r"1/(1-\alpha)",
                        r"A/(1-\alpha)", "/(1-alpha)"),
    "dropout_backward": (r"\frac{dA\odotM}", r"\frac{M_{ij}}{1-\alpha}", r"dA\odotM", "dA*mask"),
}


def _squeezed_latex(text):
    for spacing in (r"\,", r"\;", r"\!", r"\quad", r"\dfrac", r"\tfrac"):
        text = text.replace(spacing, r"\frac" if spacing.endswith("frac") else "")
    return "".join(text.split())


def test_no_cell_above_an_answer_states_what_it_computes(solution):
    """Does no cell above the l2_backward, dropout_forward and dropout_backward answers (prose, hints, code comments)
    state the L2 gradient, the dropout factor or dropout's backward line, which those exercises ask students to
    derive? (Issue 22: 06 c11 stated the L2 gradient, c27 both dropout lines, the hints ended in them.)"""
    answers = {nbgrader_meta(cell)["grade_id"]: index for index, cell in answer_cells(solution)}
    for exercise, lines in ANSWER_LINES.items():
        above = _squeezed_latex("\n".join(cell.source for cell in solution.cells[:answers[exercise]]))
        assert [line for line in lines if line in above] == [], exercise


def test_the_math_hints_start_a_derivation_and_stop_before_its_result(solution):
    """Does each "the math" hint of the three derived exercises name the derivation's starting point (a partial
    derivative or an expectation, in LaTeX) and end in a question rather than the result?"""
    answers = {nbgrader_meta(cell)["grade_id"]: index for index, cell in answer_cells(solution)}
    for exercise, start in (("l2_backward", r"\partial"), ("dropout_forward", r"\mathbb{E}"),
                            ("dropout_backward", r"\partial")):
        ladder = LADDER.fullmatch(solution.cells[answers[exercise] - 1].source.strip())
        assert ladder is not None, exercise
        assert start in ladder["math"] and "?" in ladder["math"], exercise


def _function_source(nb, name):
    for cell in nb.cells:
        if cell.cell_type == "code" and f"def {name}(" in cell.source:
            tree = ast.parse(cell.source)
            node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
            return ast.get_source_segment(cell.source, node)
    raise AssertionError(f"no cell defines {name}")


def test_models_trained_with_l2_are_compared_by_the_data_cost_without_the_penalty(solution):
    """Run the notebook's validation_cost on networks with large weights: is it the data cost on the validation
    patients alone (equal to compute_cost without params or lambd, far below the cost with a penalty)? And do the L2
    comparison and the explorer use it, with prose that says why the penalty is left out?"""
    from backproplab.init import initialize_parameters
    from backproplab.model import compute_cost, model_forward

    rng = np.random.default_rng(0)
    X_val, Y_val = rng.uniform(0, 2, (200, 1)), rng.uniform(4, 9, (200, 1))
    namespace = {"compute_cost": compute_cost, "model_forward": model_forward, "X_val": X_val, "Y_val": Y_val,
                 "REGRESSION": ["tanh", "tanh", "identity"]}
    exec(_function_source(solution, "validation_cost"), namespace)
    for seed in range(3):
        params = {k: 5 * v if k.startswith("W") else v
                  for k, v in initialize_parameters([1, 8, 8, 1], "xavier", seed=seed).items()}
        data_cost = compute_cost(model_forward(X_val, params, namespace["REGRESSION"])[0], Y_val, namespace["REGRESSION"])
        penalized = compute_cost(model_forward(X_val, params, namespace["REGRESSION"])[0], Y_val,
                                 namespace["REGRESSION"], params, 0.1)
        assert namespace["validation_cost"](params) == data_cost < penalized - 1e-3
    # The L2 comparison ranks the lambdas by validation_cost, and the explorer's numbers are data costs too.
    l2_cell = next(c.source for c in solution.cells if c.cell_type == "code" and "l2_costs[lambd] =" in c.source)
    assert "l2_costs[lambd] = validation_cost(l2_nets[lambd])" in l2_cell
    explorer = _function_source(solution, "capacity_explorer")
    assert "validation_cost(params)" in explorer and "history['val_cost']" not in explorer
    # No cell computes a validation cost with a penalty.
    for cell in solution.cells:
        if cell.cell_type == "code":
            for call in (n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Call)
                         and getattr(n.func, "id", None) == "compute_cost"):
                assert "Y_val" not in ast.unparse(call) or (len(call.args) == 3 and not call.keywords), \
                    ast.unparse(call)
    text = markdown_text(solution)
    assert "without the penalty" in text and "how well" in text
