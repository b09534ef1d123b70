"""What the session's one `bplab grade` batch (tests/grading_batch.py) grades besides the red team's
attacks (tests/attack_catalog.py), and what each of those submissions must score.

Every lecture: "correct" (the catalog's answers) and "wrong-N" submissions holding wrong answers from
the catalog, packed into as few submissions as keeps each lost point attributable (no two wrong
answers in one submission affect, by owning or calling, the same exercise). The wrong answers are,
per exercise, the typical one (named in the lecture's spec, else the catalog's first a kernel can
detect) and the first forbidden call; lecture 04 adds one wrong answer for every other diagnosis its
catalog names, so that the real grader names every diagnosis at least once.

Lecture 04 also holds the pipeline's own submissions (EXTRA_04): differently written correct
answers with a warning in an answer cell, and a wrong helper beside a wrong caller.

API
  callers(lecture) -> {exercise: exercises whose correct answers call it, directly or not}
  PLAN -> {lecture: {student: [wrong Variant, ...]}}        "correct" has none
  EXTRA_04 -> {student: {exercise: source}}                 lecture 04's answers of the pipeline's submissions
"""
from __future__ import annotations

import re

from catalog_helpers import catalog
from lecture_specs import SPECS

EVERY_DIAGNOSIS_LECTURE = "04-backprop"


def callers(lecture):
    """{exercise: the exercises whose correct answers call it, directly or through another exercise}."""
    answers = catalog(lecture).ANSWERS
    direct = {e: {user for user, source in answers.items() if user != e and re.search(rf"\b{e}\(", source)}
              for e in answers}
    closure = {}
    for exercise in answers:
        found, todo = set(), [exercise]
        while todo:
            for user in direct[todo.pop()] - found:
                found.add(user)
                todo.append(user)
        closure[exercise] = found
    return closure


def _affected(lecture):
    return {e: {e} | users for e, users in callers(lecture).items()}


def mistakes(lecture):
    """The wrong answers graded: per exercise the typical one and the first forbidden call; for lecture 04,
    then one for each diagnosis not yet named (on the exercise that affects the fewest others)."""
    spec, variants = SPECS[lecture], catalog(lecture).VARIANTS
    chosen = []
    for exercise in spec.signatures:
        wrong = [v for v in variants if v.exercise == exercise and v.expected_diagnosis]
        name = spec.typical_mistakes.get(exercise)
        typical = next(v for v in wrong if not v.sandbox_only and (name is None or v.name == name))
        chosen.append(typical)
        chosen += [v for v in wrong if v.expected_diagnosis == "forbidden-call"][:1]
    if lecture == EVERY_DIAGNOSIS_LECTURE:
        affected = _affected(lecture)
        named = {v.expected_diagnosis for v in chosen}
        for v in sorted(variants, key=lambda v: len(affected[v.exercise])):
            if v.expected_diagnosis and not v.sandbox_only and v.expected_diagnosis not in named:
                chosen.append(v)
                named.add(v.expected_diagnosis)
    return chosen


def submissions(lecture):
    """{student: [Variant, ...]}: "correct", then the wrong answers packed into "wrong-1", "wrong-2", ..."""
    affected = _affected(lecture)
    groups = []  # [(variants, exercises they affect)]
    for variant in mistakes(lecture):
        mine = affected[variant.exercise]
        group = next((g for g in groups if not g[1] & mine), None)
        if group is None:
            groups.append(([variant], set(mine)))
        else:
            group[0].append(variant)
            group[1].update(mine)
    return {"correct": [], **{f"wrong-{n}": variants for n, (variants, _) in enumerate(groups, 1)}}


PLAN = {lecture: submissions(lecture) for lecture in SPECS}


def _variant(exercise, name):
    (found,) = [v for v in catalog(EVERY_DIAGNOSIS_LECTURE).VARIANTS if v.exercise == exercise and v.name == name]
    return found


WARNS = '''\
import warnings
warnings.warn("a harmless warning from the answer cell")
'''
# one differently written correct answer per exercise that has one
WRITTEN_DIFFERENTLY = [_variant(e, n) for e, n in [
    ("binary_cross_entropy", "clip-then-mean"), ("dense_backward", "explicit-loops"),
    ("model_backward", "derivative-from-cached-output"), ("update_parameters", "copy-then-subtract-in-place"),
    ("gradient_check", "own-central-differences"), ("torch_gradients", "nn-functional-linear")]]
WRONG_HELPER, WRONG_CALLER = _variant("dense_backward", "dW-transposed"), _variant("model_backward", "derivative-at-A")


def _answers(*variants, prefix=None):
    answers = dict(catalog(EVERY_DIAGNOSIS_LECTURE).ANSWERS)
    answers.update({v.exercise: v.source for v in variants})
    for exercise, code in (prefix or {}).items():
        answers[exercise] = code + answers[exercise]
    return answers


EXTRA_04 = {
    "correct-written-differently-with-a-warning": _answers(*WRITTEN_DIFFERENTLY, prefix={"dense_backward": WARNS}),
    "wrong-helper-wrong-caller": _answers(WRONG_HELPER, WRONG_CALLER),
}
