"""Lecture 06-overfitting checks: every catalog answer gets the diagnosis it must get, the
oracles agree, and the random and generated cases have the properties the judging relies on."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backproplab.checks import check, get_exercise
from backproplab.checks.codec import RngToken
from backproplab.checks.lecture06 import early_stopping_index
from catalog_helpers import catalog, first_failure

LECTURE = "06-overfitting"
CATALOG = catalog(LECTURE)
HIDDEN_SEEDS = (7, 8)


def test_catalog_covers_every_exercise_and_the_briefs_mistakes():
    """Does the catalog hold a correct rewrite for every exercise and the brief's named mistakes?"""
    correct = {v.exercise for v in CATALOG.VARIANTS if v.expected_diagnosis is None}
    assert correct == set(CATALOG.ANSWERS)
    wrong = {(v.exercise, v.expected_diagnosis) for v in CATALOG.VARIANTS if v.expected_diagnosis}
    for needed in [("l2_penalty", "l2-factor"), ("l2_backward", "l2-factor"), ("l2_penalty", "mutated-input"),
                   ("dropout_forward", "dropout-mask"), ("dropout_forward", "dropout-scale"),
                   ("dropout_forward", "wrong-shape"), ("dropout_backward", "dropout-mask"),
                   ("dropout_backward", "dropout-scale"), ("dropout_backward", "mutated-input"),
                   ("early_stopping_epoch", "early-stop-lookahead")]:
        assert needed in wrong


def _variant(name, exercise):
    return next(v for v in CATALOG.VARIANTS if v.name == name and v.exercise == exercise)


@pytest.mark.parametrize("name, words", [
    ("missing-half", "1/2"), ("missing-1/m", "1/m"), ("penalizes-biases", "biases")])
def test_l2_penalty_message_names_the_factor(name, words):
    """Does each l2-factor mistake's message say which factor went wrong, and point to the formula?"""
    result = first_failure(LECTURE, _variant(name, "l2_penalty"), HIDDEN_SEEDS)
    assert words in result.message and "lambd / (2m)" in result.message


@pytest.mark.parametrize("name, words", [
    ("alpha-as-keep-probability", "KEEP probability"), ("mask-not-returned", "(A_out, mask)"),
    ("scale-inside-mask", "only 1 (kept) and 0"), ("returns-dropped-indicator", "inverted"),
    ("returned-mask-is-a-second-draw", "does not match")])
def test_dropout_forward_mask_messages_say_what_is_wrong(name, words):
    """Does each dropout-mask mistake of dropout_forward get a message naming that very mistake?"""
    result = first_failure(LECTURE, _variant(name, "dropout_forward"), HIDDEN_SEEDS)
    assert result.diagnosis == "dropout-mask" and words in result.message


def test_dropout_backward_fresh_mask_says_reuse_the_mask():
    """Is a fresh mask in dropout_backward told to reuse the forward pass's mask?"""
    result = first_failure(LECTURE, _variant("fresh-mask", "dropout_backward"), HIDDEN_SEEDS)
    assert "Reuse the mask" in result.message


def test_dropout_forward_judging_accepts_any_generator_usage():
    """Does a correct dropout_forward that draws its mask another way (permutation of a fixed count) pass?"""
    def by_permutation(A, alpha, rng):
        n_dropped = int(round(alpha * A.size))
        mask = np.ones(A.size)
        mask[rng.permutation(A.size)[:n_dropped]] = 0.0
        mask = mask.reshape(A.shape)
        return A * mask / (1 - alpha), mask

    assert check("dropout_forward", by_permutation).passed
    assert check("dropout_forward", by_permutation, hidden=True, seed=5).passed


def test_dropout_forward_cases_are_large_enough_to_judge_the_drop_fraction():
    """Do the non-trivial dropout_forward cases have >= 2000 entries, no zeros in A, and m=1 / n=1 when hidden?"""
    exercise = get_exercise("dropout_forward")
    for hidden in (False, True):
        for case in exercise.draw_cases(9, hidden):
            A, alpha, token = case.args
            assert isinstance(token, RngToken) and np.all(A != 0)
            assert alpha == 0 or A.size >= 2000
    shapes = [case.args[0].shape for case in exercise.draw_cases(9, True)]
    assert any(s[0] == 1 for s in shapes) and any(s[1] == 1 for s in shapes)


@pytest.mark.parametrize("exercise", ["l2_penalty", "l2_backward", "dropout_forward", "dropout_backward"])
def test_oracles_agree_on_every_case(exercise):
    """Do the PyTorch and finite-difference oracles agree with the NumPy reference on visible and hidden cases?"""
    ex = get_exercise(exercise)
    for hidden, seed in ((False, 0), (True, 1), (True, 2)):
        for case in ex.draw_cases(seed, hidden):
            assert ex.oracles(case)
            ex.expected(case)  # raises OracleDisagreement otherwise


def test_hidden_cases_include_single_example_and_single_unit():
    """Do the hidden cases of the array exercises include m=1 and n=1 edge cases?"""
    for exercise, shape_of in (("l2_backward", lambda c: c.args[0].shape),
                               ("dropout_backward", lambda c: c.args[0].shape)):
        cases = get_exercise(exercise).draw_cases(4, True)
        shapes = [shape_of(c) for c in cases]
        ms = [c.m for c in cases]
        assert 1 in ms and any(1 in s for s in shapes), exercise
    assert 1 in [c.m for c in get_exercise("l2_penalty").draw_cases(4, True)]


@given(seed=st.integers(0, 2**31 - 1))
def test_early_stopping_curves_expose_their_mistake(seed):
    """Does every generated early-stopping case have a patience and a curve on which the reference stops
    before the end or keeps falling, with each wrong answer pointing to exactly one diagnosis?"""
    exercise = get_exercise("early_stopping_epoch")
    for case in exercise.draw_cases(seed, True):
        costs = list(case.args[0])
        patience = case.kwargs.get("patience", 5)
        expected = early_stopping_index(costs, patience)
        assert 0 <= expected < len(costs)
        wrong = [(d, v["epoch"]) for d, v, _ in exercise.mistakes(case)]
        for _, value in wrong:
            assert len({d for d, v in wrong if v == value}) == 1


def test_early_stopping_reference_matches_a_brute_force_reading():
    """Does the reference return, on random curves, the first minimum of the prefix that ends at the first
    window of `patience` epochs without a strict improvement (a direct reading of the rule)?"""
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 30))
        costs = [float(c) for c in rng.integers(0, 6, n)]  # small integers: many exact ties
        patience = int(rng.integers(1, 6))
        stop = n  # one past the last epoch looked at
        for end in range(patience, n):
            window = costs[end - patience + 1:end + 1]
            if all(c >= min(costs[:end - patience + 1]) for c in window):
                stop = end + 1
                break
        prefix = costs[:stop]
        assert early_stopping_index(costs, patience) == int(np.argmin(prefix))
