"""Checks that name the student's mistake (see core.py for how a check works).

Notebook test cells call ``check("<exercise>", <exercise>)`` (visible) or
``check("<exercise>", <exercise>, hidden=True)`` (hidden). Importing this package never
imports torch; the PyTorch oracle is imported when a check first needs it.
"""
from __future__ import annotations

import importlib

from .. import LECTURES
from .calls import GradingCall, StopStudentCode, run_case, stop_at_alarm  # noqa: F401  (re-exported: the package's API)
from .core import check, evaluate  # noqa: F401
from .diagnoses import DIAGNOSES  # noqa: F401  (re-exported: the package's API)
from .exercises import (  # noqa: F401
    EXERCISES,
    Exercise,
    OracleDisagreement,
    get_exercise,
    hidden_seed,
    register,
    visible_seed,
)
from .records import Case, CheckFailed, Outcome, Verdict  # noqa: F401

# One module per lecture registers its exercises when imported: "04-backprop" -> checks/lecture04.py.
# They import the package's modules, never the package, so loading them here closes no import circle.
LECTURE_MODULES = tuple(f"lecture{lecture[:2]}" for lecture in LECTURES)
for _module in LECTURE_MODULES:
    importlib.import_module(f"{__name__}.{_module}")


__all__ = ["check", "CheckFailed", "Verdict", "EXERCISES", "DIAGNOSES", "get_exercise"]
