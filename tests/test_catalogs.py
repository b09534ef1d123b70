"""Every lecture's answer catalog (backproplab/grading/samples) against its checks, in-process.

Each catalog source is exec'd with the lecture's SETUP and the other correct answers (as the
notebook's cells would be): correct answers must pass the visible set and the hidden set on
several seeds; each wrong variant must get its expected diagnosis, visible and hidden, with a
message that names the seed to replay. Sandbox-only variants (forbidden calls, crashes) are the
outside verification's business (tests/test_lectures.py grades them through `bplab grade`).
Lecture-specific properties of the checks stay in tests/test_checks_lectureNN.py.
"""
from __future__ import annotations

import pytest

from backproplab import LECTURES
from backproplab.checks import DIAGNOSES, get_exercise
from catalog_helpers import catalog, failure, namespace, variant_verdicts

HIDDEN_SEEDS = (0, 7, 11)
# Mistakes that only the hidden set can reveal (the visible check passes them): (lecture, variant name).
HIDDEN_ONLY = {("01-architecture", "thresholds-on-the-points")}

ANSWERS = [(lecture, exercise) for lecture in LECTURES for exercise in catalog(lecture).ANSWERS]
# Reference answers checked on random hidden seeds (train_two_layer left out: one check trains a network).
ANY_SEED = [(lecture, exercise) for lecture, exercise in ANSWERS
            if lecture in ("03-activations", "04-backprop") and exercise != "train_two_layer"]
VARIANTS = [(lecture, v) for lecture in LECTURES for v in catalog(lecture).VARIANTS if not v.sandbox_only]



@pytest.mark.parametrize("lecture", LECTURES)
def test_catalog_answers_every_exercise_of_its_lecture_with_known_diagnoses(lecture):
    """Does the catalog answer exactly exercises of its lecture, each with a named mistake, using only known
    diagnosis ids?"""
    module = catalog(lecture)
    for exercise in module.ANSWERS:
        assert get_exercise(exercise).lecture == lecture, exercise
        assert any(v.exercise == exercise and v.expected_diagnosis for v in module.VARIANTS), exercise
    assert all(v.exercise in module.ANSWERS for v in module.VARIANTS)
    assert all(v.expected_diagnosis in DIAGNOSES for v in module.VARIANTS if v.expected_diagnosis)


@pytest.mark.parametrize("lecture, exercise", ANSWERS, ids=[f"{lec}:{e}" for lec, e in ANSWERS])
def test_correct_answer_passes_visible_and_hidden_checks(lecture, exercise, capsys):
    """Does the catalog's correct answer pass the visible check and the hidden check on several seeds, printing
    PASSED?"""
    fn = namespace(lecture)[exercise]
    assert failure(exercise, fn, hidden=False) is None
    for seed in HIDDEN_SEEDS:
        result = failure(exercise, fn, hidden=True, seed=seed)
        assert result is None, (seed, result and result.message)
    assert "PASSED" in capsys.readouterr().out


@pytest.mark.xdist_group("catalog-variants")
@pytest.mark.parametrize("lecture, variant", VARIANTS, ids=[f"{lec}:{v.exercise}:{v.name}" for lec, v in VARIANTS])
def test_variant_gets_its_expected_diagnosis(lecture, variant):
    """Does each catalog variant get exactly its expected diagnosis in the hidden check (seed VARIANT_SEED) and in
    the visible one (unless only the hidden set can reveal it), with a message naming the seed?"""
    verdicts = variant_verdicts(lecture, variant)
    hidden, visible = verdicts.hidden, verdicts.visible
    assert (hidden and hidden.diagnosis) == variant.expected_diagnosis, hidden and hidden.message
    if (lecture, variant.name) in HIDDEN_ONLY:
        assert visible is None
    else:
        assert (visible and visible.diagnosis) == variant.expected_diagnosis, visible and visible.message
    for result in (hidden, visible):
        if result is not None:
            assert result.message and str(result.seed) in result.message


@pytest.mark.parametrize("lecture, exercise", ANY_SEED, ids=[f"{lec}:{e}" for lec, e in ANY_SEED])
def test_correct_answer_passes_any_hidden_seed(lecture, exercise):
    """Does the reference answer pass the hidden check for any seed (no flaky draws, oracles agree)?"""
    from hypothesis import given, settings

    from strategies import seeds

    ns = namespace(lecture)

    @settings(max_examples=4, deadline=None)
    @given(seeds())
    def passes(seed):
        assert failure(exercise, ns[exercise], hidden=True, seed=seed) is None

    passes()


def test_oracles_agree_on_a_tiny_gradient():
    """Seed 361165 draws a hidden model_backward case whose dB1 is ~1e-6: finite differences'
    round-off (~1e-11) is 4e-6 of it, which must not read as an oracle disagreement."""
    ns = namespace("04-backprop")
    assert failure("model_backward", ns["model_backward"], hidden=True, seed=361165) is None
