"""Lecture 03-activations checks: every catalog answer gets the diagnosis it must get."""
from __future__ import annotations

import numpy as np

from backproplab.checks import get_exercise
from catalog_helpers import catalog, first_failure

LECTURE = "03-activations"
CATALOG = catalog(LECTURE)
def test_relu_backward_boundary_zeros_only_in_the_dedicated_case():
    """Do exact zeros in Z appear only in relu_backward's boundary case, other cases keeping off the kink?"""
    for hidden in (False, True):
        for case in get_exercise("relu_backward").draw_cases(5, hidden):
            Z = case.args[1]
            if case.info.get("boundary"):
                assert np.any(Z == 0)
            else:
                assert np.min(np.abs(Z)) >= 0.05


def test_softmax_overflow_message_points_to_the_shift_and_keeps_the_max_for_later_rungs():
    """Does the overflow diagnosis ask about the shift that leaves softmax unchanged, and leave the row's largest
    score to the rung-2 step?"""
    variant = next(v for v in CATALOG.VARIANTS if v.name == "no-max-subtraction")
    result = first_failure(LECTURE, variant)
    assert result.diagnosis == "softmax-overflow" and "shift of a row's scores" in result.message
    assert "largest score" not in result.message
    assert "largest score" in get_exercise("softmax").hints["softmax-overflow"].step

