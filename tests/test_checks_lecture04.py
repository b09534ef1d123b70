"""Lecture 04-backprop checks: every catalog answer gets the diagnosis it must get."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab.checks import CheckFailed, check
from catalog_helpers import catalog, first_failure, namespace

LECTURE = "04-backprop"
CATALOG = catalog(LECTURE)
def test_catalog_covers_enough_variants():
    """Does the 04 catalog hold >= 6 correct rewrites and >= 15 wrong answers?"""
    correct = [v for v in CATALOG.VARIANTS if v.expected_diagnosis is None]
    wrong = [v for v in CATALOG.VARIANTS if v.expected_diagnosis is not None]
    assert len(correct) >= 6 and len(wrong) >= 15


def test_dense_backward_message_names_the_factor_and_keeps_the_formula_for_the_last_rung():
    """Does a missing 1/m in dW say 'm = 7 times' and point to section 2, and does only the third rung (asked for
    with hint=3) give the dW formula, in the lecture's notation?"""
    variant = next(v for v in CATALOG.VARIANTS if v.name == "dW-without-1/m")
    result = first_failure(LECTURE, variant)
    assert result.outputs == {"dA_prev": True, "dW": False, "dB": True}
    formula = "dW = (1/m) dzᵀ A_prev"
    assert "m = 7 times" in result.message and "section 2" in result.message and formula not in result.message
    with pytest.raises(CheckFailed) as failed:
        check("dense_backward", namespace(LECTURE, variant)["dense_backward"], hint=3)
    assert formula in failed.value.result.message


def test_failed_check_renders_a_short_traceback():
    """Does CheckFailed render as one short line (no internal traceback)?"""
    variant = next(v for v in CATALOG.VARIANTS if v.name == "dW-transposed" and v.exercise == "dense_backward")
    ns = namespace(LECTURE, variant)
    with pytest.raises(CheckFailed) as info:
        check("dense_backward", ns["dense_backward"])
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "transposed" in lines[0]


def test_hidden_cases_include_single_example_and_single_unit():
    """Do dense_backward's hidden cases include m=1 and n=1 edge cases with non-square shapes?"""
    from backproplab.checks import get_exercise

    cases = get_exercise("dense_backward").draw_cases(3, hidden=True)
    shapes = [(dz.shape, A.shape, W.shape) for dz, A, W in (c.args for c in cases)]
    assert any(dz[0] == 1 for dz, _, _ in shapes) and any(dz[1] == 1 for dz, _, _ in shapes)
    assert all(W[0] != W[1] for _, _, W in shapes)


def test_warnings_from_correct_code_do_not_fail(capsys):
    """Does a correct answer that emits RuntimeWarnings still pass, printing no warning?"""
    ns = namespace(LECTURE)

    def noisy(AL, Y):
        with np.errstate(all="warn"):
            np.log(np.zeros(1))
        return ns["binary_cross_entropy"](AL, Y)

    assert check("binary_cross_entropy", noisy).passed
    captured = capsys.readouterr()
    assert "Warning" not in captured.err and "Warning" not in captured.out



@pytest.mark.parametrize("seed", [69, 208, 592])
def test_train_two_layer_passes_when_the_moons_cap_the_reference_below_90_percent(seed):
    """Does a correct train_two_layer pass on draws where even the reference stays under 90%?"""
    ns = namespace(LECTURE)
    assert check("train_two_layer", ns["train_two_layer"], hidden=True, seed=seed).passed
