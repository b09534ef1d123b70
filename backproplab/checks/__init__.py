"""Checks that name the student's mistake (see core.py for how a check works).

Notebook test cells call ``check("<exercise>", <exercise>)`` (visible) or
``check("<exercise>", <exercise>, hidden=True)`` (hidden). Importing this package never
imports torch; the PyTorch oracle is imported when a check first needs it.
"""
from __future__ import annotations

import importlib

from .core import (  # noqa: F401
    EXERCISES, Case, CheckFailed, CheckResult, Exercise, OracleDisagreement, Outcome, check,
    evaluate, get_exercise, hidden_seed, register, run_case, visible_seed,
)
from .diagnoses import DIAGNOSES  # noqa: F401

from .. import LECTURES

# One module per lecture registers its exercises: lecture "04-backprop" -> checks/lecture04.py.
LECTURE_MODULES = tuple(f"lecture{lecture[:2]}" for lecture in LECTURES)
_loaded = False


def _load_lectures():
    """Import every lecture's check module once (each registers its exercises)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in LECTURE_MODULES:
        importlib.import_module(f"{__name__}.{module}")


__all__ = ["check", "CheckFailed", "CheckResult", "EXERCISES", "DIAGNOSES", "get_exercise"]
