"""Lecture 06-overfitting: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
"""
from __future__ import annotations

import pytest

from notebook_helpers import code_text, markdown_text, read, solution_path

LECTURE = "06-overfitting"


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
    for needed in ("train_val_split(", "dose_response(n_train=6, n_test=500", "batch_size=32", "momentum=0.9",
                   "torch.nn.Dropout(", "weight_decay=", "torch.optim.SGD(", "test_cost > 5 * train_cost"):
        assert needed in code, needed
    text = markdown_text(solution)
    for needed in ("L1", "augmentation", "1 - \\alpha", "patience", "Momentum"):
        assert needed in text, needed
