"""Checks of lecture 05-initialization against the answer catalog, and the checks' oracles and bands.

Every catalog source is exec'd with the lecture's SETUP and the other correct answers (as the
notebook's cells would be) and checked in-process: correct answers must pass the visible and
the hidden set, each wrong variant must get its expected diagnosis. Sandbox-only variants
(forbidden calls) are the outside verification's business and are left out here.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backproplab.checks import DIAGNOSES, CheckFailed, check, get_exercise
from backproplab.checks.lecture05 import STAT_MIN_ENTRIES, _hypothesis_stds, _scale_band
from catalog_helpers import catalog, namespace
from catalog_helpers import diagnosis as diagnosis_of
from strategies import seeds

LECTURE = "05-initialization"
SAMPLES = catalog(LECTURE)
EXERCISES = ("init_std", "initialize_parameters", "layer_statistics")
HIDDEN_SEEDS = (0, 7)


def _define(variant=None, exercise=None):
    """The function an exercise's answer (or ``variant``) defines, with SETUP and the other answers."""
    return namespace(LECTURE, variant)[variant.exercise if variant else exercise]


def test_catalog_covers_every_exercise_with_a_correct_answer_and_named_mistakes():
    """Does the catalog give a correct answer and at least three diagnosed wrong variants per exercise?"""
    assert tuple(SAMPLES.ANSWERS) == EXERCISES  # notebook order: initialize_parameters needs init_std
    for exercise in EXERCISES:
        wrong = [v for v in SAMPLES.VARIANTS if v.exercise == exercise and v.expected_diagnosis]
        assert len(wrong) >= 3, exercise
        assert get_exercise(exercise).lecture == LECTURE
    assert all(v.expected_diagnosis in DIAGNOSES for v in SAMPLES.VARIANTS if v.expected_diagnosis)
    named = {v.expected_diagnosis for v in SAMPLES.VARIANTS if v.exercise == "initialize_parameters"}
    assert {"init-scale", "init-fan", "init-symmetry", "transposed", "bias-shape", "init-bias", "init-seed"} <= named


@settings(max_examples=10, deadline=None)
@given(seed=seeds())
def test_correct_answers_pass_hidden_checks_for_any_seed(seed):
    """Do the correct answers pass the hidden checks whatever the seed draws, i.e. do the statistical bands
    hold?"""
    answers = namespace(LECTURE)
    for exercise in EXERCISES:
        assert diagnosis_of(exercise, answers[exercise], hidden=True, seed=seed) is None


@settings(max_examples=10, deadline=None)
@given(seed=seeds(), hidden=st.booleans())
def test_oracles_agree_on_every_drawn_case(seed, hidden):
    """Does PyTorch (torch.nn.init's fan and gain rules, a float64 forward pass) agree with the NumPy
    reference on every case any seed draws?"""
    for exercise in EXERCISES:
        ex = get_exercise(exercise)
        for case in ex.draw_cases(seed, hidden):
            ex.expected(case)  # raises OracleDisagreement otherwise


@settings(max_examples=15, deadline=None)
@given(seed=seeds(), hidden=st.booleans())
def test_initialize_parameters_cases_tell_every_wrong_std_apart(seed, hidden):
    """Does every random-method case have a statistically judged layer, and is each predicted wrong std of a
    method (wrong fan, variance, missing gain, ...) more than two statistical bands away from the right one on
    some judged layer of some case of that method, so that the set catches and names it? (A single output
    unit cannot tell Xavier's fans apart, so this is asked of the set, not of every case.)"""
    ex = get_exercise("initialize_parameters")
    told_apart = {}
    for case in ex.draw_cases(seed, hidden):
        sizes, method = case.args
        layers = list(zip(sizes[:-1], sizes[1:]))
        judged = [i for i, (n_in, n_out) in enumerate(layers) if n_in * n_out >= STAT_MIN_ENTRIES]
        if method in ("he", "xavier", "random"):
            assert judged, case.label
        right = ex.reference(case)["stds"]
        for index, (diagnosis, _, wrong) in enumerate(_hypothesis_stds(method, sizes)):
            apart = any(abs(wrong[i] / right[i] - 1) > 2 * _scale_band(layers[i][0] * layers[i][1]) for i in judged)
            told_apart[(method, index, diagnosis)] = told_apart.get((method, index, diagnosis), False) or apart
    assert told_apart and all(told_apart.values()), [key for key, apart in told_apart.items() if not apart]


@settings(max_examples=10, deadline=None)
@given(seed=seeds())
def test_hidden_cases_include_the_edge_cases(seed):
    """Do the hidden sets include n0 = 1 and nL = 1 layers, a single unit, every method, the default seed and
    repeated seeds for initialize_parameters, and m = 1 and n = 1 layers for layer_statistics?"""
    cases = get_exercise("initialize_parameters").draw_cases(seed, True)
    sizes = [case.args[0] for case in cases]
    assert any(s[0] == 1 and s[-1] == 1 for s in sizes) and any(s[-1] == 1 and len(s) == 2 for s in sizes)
    assert {case.args[1] for case in cases} == {"zeros", "random", "xavier", "he"}
    assert any("seed" not in case.kwargs for case in cases)
    assert any("twin" in case.info for case in cases) and any("other" in case.info for case in cases)
    stats = get_exercise("layer_statistics").draw_cases(seed, True)
    assert any(case.args[0].shape[0] == 1 for case in stats)
    assert any(W.shape[0] == 1 for case in stats for key, W in case.args[1].items() if key.startswith("W"))


def test_init_std_reproduces_torch_nn_init_on_a_linear_layer():
    """Does the correct init_std give the std torch.nn.init's kaiming_normal_ / xavier_normal_ draw for an
    nn.Linear(400, 30) weight, within 5 standard errors of the sample std?"""
    import torch

    init_std = _define(exercise="init_std")
    weight = torch.nn.Linear(400, 30).weight
    torch.manual_seed(0)
    for method, initializer in (("he", lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
                                ("xavier", torch.nn.init.xavier_normal_)):
        with torch.no_grad():
            initializer(weight)
        ratio = weight.std().item() / init_std(method, 400, 30)
        assert abs(ratio - 1) < 5 / math.sqrt(2 * weight.numel()), method


def test_same_seed_gives_same_parameters_in_the_correct_answer():
    """Does the correct initialize_parameters return identical arrays for the same seed and different ones for
    another seed?"""
    initialize_parameters = _define(exercise="initialize_parameters")
    first, again, other = (initialize_parameters([5, 4, 3], "he", seed=s) for s in (3, 3, 4))
    assert all(np.array_equal(first[k], again[k]) for k in first)
    assert not np.array_equal(first["W1"], other["W1"])


def test_failed_check_message_names_the_fan_and_replays():
    """Does a He-with-fan-out answer fail with a message that names fan_in and says how to replay the seed?"""
    variant = next(v for v in SAMPLES.VARIANTS if v.exercise == "initialize_parameters" and v.name == "he-with-fan-out")
    with pytest.raises(CheckFailed) as failure:
        check("initialize_parameters", _define(variant))
    message = failure.value.result.message
    assert "fan_in" in message and "seed=" in message
