"""The hint ladder: what a failed check tells a student, rung by rung.

Each exercise declares ``hints``: diagnosis id -> ``Hint``, plus ``"*"`` for any other failure.
Rung 1 (the first failed tries) names the mistake and what was observed, then gives the nudge.
Rung 2 adds the intermediate step; rung 3 the formula. No rung is ever the code line.
The text is lecture prose: review it like a notebook cell.

Escalation (``rung_for``): in one kernel session, an exercise's failed tries 1-2 get rung 1, tries 3-4
rung 2, tries 5 and later rung 3; ``check(name, fn, hint=k)`` asks for at least rung k. A pass resets
nothing: a student who passes and breaks the function again continues where they were.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RUNGS", "Hint", "GENERAL", "hint_for", "rung_for", "ladder_text"]

RUNGS = 3
TRIES_PER_RUNG = 2  # failed tries of an exercise before the next rung


@dataclass(frozen=True)
class Hint:
    nudge: str    # rung 1: a question, or a pointer to the notebook's derivation step, in words; no formula
    step: str     # rung 2: the intermediate step of the derivation
    formula: str  # rung 3: the formula in the lecture's notation; never code


# Failures that say nothing about the graded quantity: the same ladder for every exercise.
GENERAL = {
    "mutated-input": Hint(
        "Which line of your function writes into an array it was given? The caller still needs its inputs.",
        "An augmented assignment or an assignment into a slice of an input changes the caller's array; an "
        "expression on the right-hand side of a plain assignment makes a new one.",
        "Every input must leave the function exactly as it came in; only the returned arrays are new."),
    "forbidden-call": Hint(
        "This exercise asks for the computation itself, written with NumPy operations: which library call in "
        "your function does the exercise's work?",
        "Replace that call by the steps the notebook derives for this exercise.",
        "The library's implementation is the reference your answer is compared with, so it cannot be the answer."),
    "timeout": Hint(
        "Does every loop of your function end, whatever the sizes of the inputs?",
        "A loop over the entries of a large array is slow; a loop whose condition never changes never ends.",
        "Whole-array NumPy operations do the same work in one step per operation."),
}


def hint_for(exercise, diagnosis: str | None) -> Hint | None:
    """The ladder for a failure of ``exercise`` diagnosed ``diagnosis``: the exercise's own entry, else the
    general one, else the exercise's ``"*"`` entry (None when it has none)."""
    hints = exercise.hints
    return hints.get(diagnosis) or GENERAL.get(diagnosis) or hints.get("*")


def rung_for(failed_tries: int, requested: int | None = None) -> int:
    """The rung to show after ``failed_tries`` (>= 1) failed tries of an exercise, at least ``requested``."""
    automatic = min(RUNGS, 1 + (max(failed_tries, 1) - 1) // TRIES_PER_RUNG)
    return max(automatic, requested or 1)


def ladder_text(exercise, diagnosis: str | None, rung: int) -> str:
    """The hint text of a failure at ``rung`` (1..RUNGS): the nudge, then the step, then the formula."""
    hint = hint_for(exercise, diagnosis)
    if hint is None:
        return ""
    parts = [f"Hint: {hint.nudge}"]
    if rung >= 2:
        parts.append(f"Step: {hint.step}")
    if rung >= 3:
        parts.append(f"Formula: {hint.formula}")
    if rung < RUNGS:
        parts.append(f'(Next hint: check("{exercise.name}", {exercise.name}, hint={rung + 1}).)')
    return " ".join(parts)
