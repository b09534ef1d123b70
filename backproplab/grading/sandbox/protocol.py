"""What the grader's trusted side and the sandbox's inside agree on: standard library only.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckCall:
    """One ``check("<exercise>", <function>, hidden=...)`` of a test cell."""
    exercise: str
    hidden: bool
    function: str   # the expression that names the student's function, e.g. "dense_backward"


def check_calls(source: str) -> list[CheckCall]:
    """The ``check(...)`` calls of a cell's source, in order (none when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and bool(k.value.value)
                         for k in node.keywords)
            calls.append(CheckCall(node.args[0].value, hidden, ast.unparse(node.args[1])))
    return calls
