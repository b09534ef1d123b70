"""Checks of lecture 01-architecture against the answer catalog, and the checks' oracles.

Every catalog source is exec'd with the lecture's SETUP and the other correct answers (as the
notebook's cells would be) and checked in-process: correct answers must pass the visible and
the hidden set, each wrong variant must get its expected diagnosis. Sandbox-only variants
(forbidden calls) are the outside verification's business and are left out here.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backproplab.checks import DIAGNOSES, CheckFailed, check, get_exercise
from backproplab.checks.lecture01 import XOR_ACTIVATIONS, XOR_X, XOR_Y
from backproplab.model import model_forward
from catalog_helpers import catalog, namespace
from catalog_helpers import diagnosis as diagnosis_of
from strategies import seeds

LECTURE = "01-architecture"
SAMPLES = catalog(LECTURE)
EXERCISES = ("count_parameters", "dense_forward", "model_forward", "xor_parameters")
HIDDEN_SEEDS = (0, 7)


def _define(variant=None, exercise=None):
    """The function an exercise's answer (or ``variant``) defines, with SETUP and the other answers."""
    return namespace(LECTURE, variant)[variant.exercise if variant else exercise]


def test_catalog_covers_every_exercise_with_a_correct_answer_and_named_mistakes():
    """Does the catalog give a correct answer and at least three diagnosed wrong variants per exercise?"""
    assert tuple(SAMPLES.ANSWERS) == EXERCISES  # notebook order: model_forward needs dense_forward
    for exercise in EXERCISES:
        wrong = [v for v in SAMPLES.VARIANTS if v.exercise == exercise and v.expected_diagnosis]
        assert len(wrong) >= 3, exercise
        assert get_exercise(exercise).lecture == LECTURE
    assert all(v.expected_diagnosis in DIAGNOSES for v in SAMPLES.VARIANTS if v.expected_diagnosis)


@settings(max_examples=15)
@given(seed=seeds())
def test_correct_answers_pass_hidden_checks_for_any_seed(seed):
    """Do the correct answers pass the hidden checks whatever inputs the seed draws?"""
    answers = namespace(LECTURE)
    for exercise in EXERCISES:
        assert diagnosis_of(exercise, answers[exercise], hidden=True, seed=seed) is None


@settings(max_examples=10)
@given(seed=seeds(), hidden=st.booleans())
def test_oracles_agree_on_every_drawn_case(seed, hidden):
    """Does PyTorch float64 agree with the NumPy reference on every case any seed draws?"""
    for exercise in EXERCISES:
        ex = get_exercise(exercise)
        for case in ex.draw_cases(seed, hidden):
            ex.expected(case)  # raises OracleDisagreement (or AssertionError) otherwise


@settings(max_examples=10)
@given(seed=seeds())
def test_dense_forward_cases_are_non_square_and_include_edge_cases(seed):
    """Do the dense_forward cases make a transpose show (m, n_prev, n distinct in the first case) and
    include m=1, n=1 and n_prev=1 in the hidden set?"""
    ex = get_exercise("dense_forward")
    for hidden in (False, True):
        A_prev, W, B = ex.draw_cases(seed, hidden)[0].args
        assert len({A_prev.shape[0], W.shape[0], W.shape[1]}) == 3
    shapes = [(c.args[0].shape[0], c.args[1].shape[1], c.args[1].shape[0]) for c in ex.draw_cases(seed, True)]
    assert any(m == 1 for m, _, _ in shapes) and any(n == 1 for _, _, n in shapes)
    assert any(n_prev == 1 for _, n_prev, _ in shapes)


def test_count_parameters_reproduces_the_design_worked_examples():
    """Does the correct answer give DESIGN.md's 13 for 2-3-1 and 669,706 for 784-512-512-10?"""
    count_parameters = _define(exercise="count_parameters")
    assert count_parameters([2, 3, 1]) == 13
    assert count_parameters([784, 512, 512, 10]) == 669_706


def test_xor_answer_meets_the_margin_the_notebook_promises():
    """Does the catalog's XOR network give < 0.1 for y = 0 and > 0.9 for y = 1 on the four points?"""
    params = _define(exercise="xor_parameters")()
    AL, _ = model_forward(XOR_X, params, XOR_ACTIVATIONS)
    assert np.all(np.where(XOR_Y > 0.5, AL > 0.9, AL < 0.1))


def test_failed_check_message_names_the_mistake_and_replays():
    """Does a failing check say what is wrong in words, ask about the shapes, and say how to replay it with its
    seed, without the code (W.T) of the answer?"""
    variant = next(v for v in SAMPLES.VARIANTS if v.name == "W-not-transposed")
    with pytest.raises(CheckFailed) as failure:
        check("dense_forward", _define(variant))
    message = failure.value.result.message
    assert "as it is stored" in message and "Write the shapes down" in message and "seed=" in message
    assert "W.T" not in message and "Wᵀ" not in message
