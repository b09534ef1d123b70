"""The hint ladder: what a failed check tells a student, rung by rung.

Each exercise declares ``hints``: diagnosis id -> ``Hint``, plus ``"*"`` for any other failure.
Rung 1 (the first failed tries) names the mistake and what was observed, then gives the nudge.
Rung 2 adds the intermediate step; rung 3 the formula. No rung is ever the code line.
The text is lecture prose: review it like a notebook cell.
"""
from __future__ import annotations

from dataclasses import dataclass

RUNGS = 3


@dataclass(frozen=True)
class Hint:
    nudge: str    # rung 1: a question, or a pointer to the notebook's derivation step, in words; no formula
    step: str     # rung 2: the intermediate step of the derivation
    formula: str  # rung 3: the formula in the lecture's notation; never code
