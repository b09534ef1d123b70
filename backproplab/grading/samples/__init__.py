"""The answer catalog: correct answers and typical wrong ones, with the diagnosis each must get.

Per lecture module (``lecture03.py``, ``lecture04.py``):

* ``SETUP``: the source of the lecture's setup cell (tag ``setup``); answer sources may use
  only the names it defines (listed in the module docstring);
* ``ANSWERS``: ``{exercise: source}``, a correct answer per exercise, each a Python source
  string defining the function of that name;
* ``VARIANTS``: a list of ``Variant``s: differently written answers (``expected_diagnosis``
  None: must pass) and wrong ones (the diagnosis id the checks must report).

A variant is run together with SETUP and the other exercises' ANSWERS (it replaces its own
exercise's answer). ``sandbox_only`` variants (process exits, endless loops, memory bombs,
forbidden imports) are only meaningful in the grading sandbox, never in a student's own kernel.
The tests exec these sources; the grading engineer and the demo put them into notebooks.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from textwrap import dedent

__all__ = ["Variant", "V", "S", "replaced", "catalog", "namespace", "LECTURES"]

LECTURES = {"01-architecture": "lecture01", "02-computation-graphs": "lecture02", "03-activations": "lecture03", "04-backprop": "lecture04",
            "05-initialization": "lecture05", "06-overfitting": "lecture06"}


@dataclass(frozen=True)
class Variant:
    """One way to answer an exercise, and the diagnosis it must get (None = passes)."""

    exercise: str
    name: str
    source: str
    expected_diagnosis: str | None
    sandbox_only: bool = False


def V(exercise, name, expected, source):
    """A variant run in a student's kernel and in the grading sandbox (``source`` is dedented)."""
    return Variant(exercise, name, dedent(source), expected)


def S(exercise, name, expected, source):
    """A sandbox-only variant (process exits, endless loops, forbidden imports...): graded in the sandbox only."""
    return Variant(exercise, name, dedent(source), expected, sandbox_only=True)


def replaced(answers, exercise, old, new):
    """``answers[exercise]`` (a correct answer) with one snippet replaced (the snippet must occur)."""
    source = answers[exercise]
    if old not in source:
        raise ValueError(f"{old!r} not in the {exercise} answer")
    return source.replace(old, new)


def catalog(lecture: str):
    """The catalog module of a lecture id (e.g. "04-backprop"): SETUP, ANSWERS, VARIANTS."""
    return importlib.import_module(f"{__name__}.{LECTURES[lecture]}")


def namespace(lecture: str, variant: Variant | None = None) -> dict:
    """Exec the lecture's SETUP and ANSWERS (with ``variant`` replacing its exercise's answer)
    into a fresh namespace, as the notebook's cells would, and return it. Runs the sources
    in this process: for trusted catalog code only (tests, the demo)."""
    module = catalog(lecture)
    ns: dict = {"__name__": "__bplab_answers__"}
    exec(compile(module.SETUP, "<setup>", "exec"), ns)
    for exercise, source in module.ANSWERS.items():
        if variant is not None and variant.exercise == exercise:
            source = variant.source
        exec(compile(source, f"<answer {exercise}>", "exec"), ns)
    return ns
