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
    ("missing-half", "twice the expected value"), ("missing-1/m", "times the expected value"),
    ("penalizes-biases", "biases")])
def test_l2_penalty_message_names_the_factor(name, words):
    """Does each l2-factor mistake's message say which factor went wrong and point to section 3, without the
    penalty's formula?"""
    result = first_failure(LECTURE, _variant(name, "l2_penalty"), HIDDEN_SEEDS)
    assert words in result.message and "section 3" in result.message and "2m" not in result.message


@pytest.mark.parametrize("name, words", [
    ("alpha-as-keep-probability", "probability of keeping"), ("mask-not-returned", "(A_out, mask)"),
    ("scale-inside-mask", "only 1 (kept) and 0"), ("returns-dropped-indicator", "inverted"),
    ("returned-mask-is-a-second-draw", "does not match")])
def test_dropout_forward_mask_messages_say_what_is_wrong(name, words):
    """Does each dropout-mask mistake of dropout_forward get a message naming that very mistake?"""
    result = first_failure(LECTURE, _variant(name, "dropout_forward"), HIDDEN_SEEDS)
    assert result.diagnosis == "dropout-mask" and words in result.message


def test_dropout_backward_fresh_mask_is_asked_which_argument_holds_the_kept_units():
    """Is a fresh mask in dropout_backward told that the gradient does not follow the given mask, and asked which
    argument says which units were kept?"""
    result = first_failure(LECTURE, _variant("fresh-mask", "dropout_backward"), HIDDEN_SEEDS)
    assert "does not follow the given mask" in result.message and "Which argument" in result.message


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


def _walked_early_stopping_index(val_costs, patience=5, *, ties_improve=False, extra_wait=0, restore=True):
    """The epoch-by-epoch loop the reference used to be (the exercise's walk), kept here only as the oracle that
    the vectorised reference must reproduce exactly."""
    best_index, best = 0, val_costs[0]
    waited = 0
    for index in range(1, len(val_costs)):
        cost = val_costs[index]
        if cost < best or (ties_improve and cost == best):
            best_index, best, waited = index, cost, 0
        else:
            waited += 1
            if waited >= patience + extra_wait:
                return best_index if restore else index
    return best_index if restore else len(val_costs) - 1


def _random_curves(rng, count):
    """Curves of every kind the checks meet and more: small integers (many exact ties and plateaus), noisy falling
    and U-shaped floats, the checks' own generated curves, constant and single-epoch curves, and curves with NaN."""
    for k in range(count):
        n = int(rng.integers(1, 40))
        kind = k % 5
        if kind == 0:
            curve = [float(c) for c in rng.integers(0, 5, n)]
        elif kind == 1:
            curve = list(np.round(1 / (1 + 0.2 * np.arange(n)) + 0.05 * rng.standard_normal(n), 2))
        elif kind == 2:
            curve = list(np.round((np.arange(n) - rng.uniform(0, n)) ** 2 / max(n, 1) + rng.normal(0, 1, n), 1))
        elif kind == 3:
            curve = [float(rng.integers(0, 3))] * n
        else:
            curve = list(rng.normal(size=n))
            curve[int(rng.integers(0, n))] = float("nan")
        yield [float(c) for c in curve]


def test_vectorised_early_stopping_reference_equals_the_old_loop_with_every_switch():
    """On 3000 random curves (ties, plateaus, NaN, one epoch, lists and arrays) and every patience and mistake
    switch, does the vectorised reference return exactly (same int, same type) what the old loop returned?"""
    rng = np.random.default_rng(2026)
    compared = 0
    for curve in _random_curves(rng, 3000):
        patience = int(rng.integers(1, 8))
        for switches in ({}, {"ties_improve": True}, {"extra_wait": 1}, {"extra_wait": -1}, {"extra_wait": -3},
                         {"restore": False}, {"ties_improve": True, "restore": False}):
            expected = _walked_early_stopping_index(curve, patience, **switches)
            for costs in (curve, np.array(curve)):
                got = early_stopping_index(costs, patience, **switches)
                assert type(got) is int and got == expected, (curve, patience, switches, got, expected)
                compared += 1
    assert compared == 3000 * 7 * 2


def test_vectorised_early_stopping_reference_equals_the_old_loop_on_the_checks_cases():
    """On the cases the checks draw (visible and hidden, many seeds), and on every mistake the checks derive from
    them, does the vectorised reference agree with the old loop?"""
    exercise = get_exercise("early_stopping_epoch")
    for seed in range(12):
        for hidden in (False, True):
            for case in exercise.draw_cases(seed, hidden):
                costs, patience = list(case.args[0]), case.kwargs.get("patience", 5)
                assert exercise.reference(case) == {"epoch": _walked_early_stopping_index(costs, patience)}
                for switches in ({"ties_improve": True}, {"extra_wait": 1}, {"extra_wait": -1}, {"restore": False}):
                    assert early_stopping_index(costs, patience, **switches) == \
                        _walked_early_stopping_index(costs, patience, **switches)


def test_early_stopping_reference_is_not_the_exercises_loop():
    """Is the reference in the checks written without a loop over the epochs, so that it cannot be transcribed as the
    exercise's answer (the walk with a best cost, an index and a counter)?"""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(early_stopping_index))
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.For, ast.While, ast.comprehension))]
    assert "np.minimum.accumulate" in inspect.getsource(early_stopping_index) or \
        "np.fmin.accumulate" in inspect.getsource(early_stopping_index)
