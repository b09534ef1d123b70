"""Lecture 06-overfitting: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
"""
from __future__ import annotations

import ast

import numpy as np
import pytest

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
