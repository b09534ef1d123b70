"""Keep hidden-test source out of anything a student sees (feedback notebooks and HTML)."""
from __future__ import annotations

import html
import re

HIDDEN_BEGIN = "BEGIN HIDDEN TESTS"
# nbgrader's own delimiters are public syntax (the README shows them), not secrets.
DELIMITERS = frozenset({"### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"})
REDACTED = "[hidden test source redacted]"
_TAG = re.compile(r"<[^>]*>")


def is_hidden_test_source(source):
    """Return True if the cell source (str) holds an nbgrader hidden-test block."""
    return HIDDEN_BEGIN in source


def secret_lines(hidden_sources, visible_sources=()):
    """Return the lines that must never reach a student.

    Inputs:
    - hidden_sources: iterable of str, the full source of each hidden test cell.
    - visible_sources: iterable of str, every cell source the student already has (lines
      found there are not secret, e.g. ``import numpy as np``).

    Returns:
    - list of str, stripped non-empty lines, longest first.
    """
    visible = {line.strip() for src in visible_sources for line in src.splitlines()} | DELIMITERS
    lines = {line.strip() for src in hidden_sources for line in src.splitlines()}
    return sorted((line for line in lines if line and line not in visible), key=len, reverse=True)


def redact_text(text, lines):
    """Return ``text`` (str) with every line that contains one of ``lines`` replaced by a marker."""
    if not lines or not text:
        return text
    out = []
    for line in text.splitlines(keepends=True):
        if any(secret in line for secret in lines):
            out.append(REDACTED + ("\n" if line.endswith("\n") else ""))
        else:
            out.append(line)
    return "".join(out)


def redact_html(page, lines):
    """Return the HTML ``page`` (str) with each line whose visible text contains a secret line
    replaced by a marker, and the number of lines redacted (syntax highlighting splits source
    into spans, so lines are compared after removing tags and unescaping entities)."""
    if not lines:
        return page, 0
    out, count = [], 0
    for line in page.splitlines(keepends=True):
        text = html.unescape(_TAG.sub("", line))
        if any(secret in text for secret in lines):
            out.append(html.escape(REDACTED) + ("\n" if line.endswith("\n") else ""))
            count += 1
        else:
            out.append(line)
    return "".join(out), count


def leaked_lines(page, lines):
    """Return the secret ``lines`` that still appear in the HTML ``page`` (tags removed, unescaped)."""
    text = html.unescape(_TAG.sub("", page))
    return [line for line in lines if line in text]


def redact_outputs(cell, lines):
    """Redact secret ``lines`` from every text output of ``cell`` (in place)."""
    for output in cell.get("outputs", []):
        if "text" in output:
            output.text = redact_text(output.text, lines)
        if "traceback" in output:
            output.traceback = [redact_text(t, lines) for t in output.traceback]
        for mime, value in list(output.get("data", {}).items()):
            if isinstance(value, str):
                output.data[mime] = redact_text(value, lines)
            elif isinstance(value, list):
                output.data[mime] = [redact_text(v, lines) if isinstance(v, str) else v for v in value]
