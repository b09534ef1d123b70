"""Checks that a lecture's exercises ask for derivations, not transcription (issue 10), run for every lecture by
tests/test_lectures.py.

API
  LADDER                                  the hint ladder's exact format (a compiled regex)
  hint_ladder_problems(nb) -> [str]       what breaks the ladder rule: for every answer cell, ONE markdown cell right
                                          before it holding exactly "Hint 1 of 3: a nudge", "Hint 2 of 3: the math"
                                          (with LaTeX) and "Hint 3 of 3: the code", each collapsed; no other hints
  handed_out_code(nb, allowed=()) -> [str]  graded solution lines (or their right-hand sides) that appear verbatim
                                          in a docstring, a hint or any markdown cell of the notebook; a bare tuple
                                          of names (the return statement's spec), an exercise's own signature (a call
                                          of another exercise, as its heading writes it) and ``allowed`` snippets (an
                                          API the lecture teaches in its prose) do not count
  graded_lines_in(released, solution, allowed=()) -> [(grade id, line)]
                                          the solution's lines of math (or their expressions) found anywhere in the
                                          released notebook: prose, hints, docstrings and demo code alike
"""
from __future__ import annotations

import ast
import re

from notebook_helpers import answer_cells, nbgrader_meta

LADDER = re.compile(
    r"<details><summary><b>Hint 1 of 3</b>: a nudge</summary>\n\n(?P<nudge>.+?)\n\n</details>\n\n"
    r"<details><summary><b>Hint 2 of 3</b>: the math</summary>\n\n(?P<math>.+?)\n\n</details>\n\n"
    r"<details><summary><b>Hint 3 of 3</b>: the code</summary>\n\n(?P<code>.+?)\n\n</details>", re.DOTALL)


def hint_ladder_problems(nb) -> list[str]:
    problems = []
    ladders = set()
    for index, cell in answer_cells(nb):
        name = nbgrader_meta(cell)["grade_id"]
        before = nb.cells[index - 1]
        match = LADDER.fullmatch(before.source.strip()) if before.cell_type == "markdown" else None
        if match is None:
            problems.append(f"{name}: the cell before the answer is not the three-level hint ladder")
            continue
        ladders.add(index - 1)
        if "$" not in match["math"]:
            problems.append(f"{name}: 'the math' has no LaTeX formula")
        if index < 2 or "Exercise" not in nb.cells[index - 2].source and "exercise" not in nb.cells[index - 2].source:
            problems.append(f"{name}: the ladder does not follow the exercise statement")
    for index, cell in enumerate(nb.cells):
        if index not in ladders and cell.cell_type == "markdown" and re.search(r"<summary>.*Hint", cell.source):
            problems.append(f"cell {index}: a hint outside the ladders")
    return problems


def _solution_snippets(source: str) -> set[str]:
    """The graded lines of an answer (between the SOLUTION markers), and each assignment's and return's right-hand
    side, stripped; comments and short fragments (under 12 characters) are left out."""
    snippets = set()
    body = _solution_body(source)
    for line in body.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        snippets.add(line)
        for part in (line.split(" = ", 1)[-1], line.removeprefix("return ")):
            snippets.add(part.strip())
    return {s for s in snippets if len(s) >= 12 and not re.fullmatch(r"[\w\s,]+", s)}


def handed_out_code(nb, allowed=()) -> list[str]:
    texts = [cell.source for cell in nb.cells if cell.cell_type == "markdown"]
    for _, cell in answer_cells(nb):
        tree = ast.parse(cell.source)
        texts += [ast.get_docstring(node) or "" for node in tree.body if isinstance(node, ast.FunctionDef)]
    signatures = set()
    for _, cell in answer_cells(nb):
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef):
                signatures.add(f"{node.name}({', '.join(a.arg for a in node.args.args)})")
    found = []
    for _, cell in answer_cells(nb):
        for snippet in _solution_snippets(cell.source) - set(allowed) - signatures:
            found += [f"{nbgrader_meta(cell)['grade_id']}: {snippet!r}" for text in texts if snippet in text]
    return found


MATH = re.compile(r" [-+*/@] |\*\*|\.T\b|\.(sum|mean)\(|np\.(sum|mean|log|exp|maximum|minimum|where|clip|tanh|sqrt|abs|"
                  r"dot|einsum|outer|matmul|sign)\(")


def _solution_body(source: str) -> str:
    """The answer cell's code between ``### BEGIN SOLUTION`` and ``### END SOLUTION``."""
    return source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]


def _math_lines(source: str) -> list[str]:
    """An answer's lines of math (an operator or a NumPy math call outside subscripts) between the SOLUTION markers,
    comments dropped: the lines a student must derive."""
    lines = (raw.split("#", 1)[0].strip() for raw in _solution_body(source).splitlines())
    return [line for line in lines if MATH.search(re.sub(r"\[[^\]]*\]", "[]", line))]


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _needles(line: str) -> set[str]:
    """The line, and its expression (after ``=`` or ``return``) when that is long enough to be telling."""
    expression = _squeezed(re.split(r"^return |(?<![=!<>])=(?!=)", line, maxsplit=1)[-1])
    return {_squeezed(line)} | ({expression} if len(expression) >= 8 else set())


def graded_lines_in(released, solution, allowed=()) -> list[tuple[str, str]]:
    text = _squeezed("\n".join(cell.source for cell in released.cells))
    return [(nbgrader_meta(cell)["grade_id"], line) for _, cell in answer_cells(solution)
            for line in _math_lines(cell.source)
            if line not in allowed and any(needle in text for needle in _needles(line))]
