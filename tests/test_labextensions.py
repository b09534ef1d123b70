"""JupyterLab's extensions in the project's environment: nbgrader and the widgets manager
must be installed, enabled and OK, or the Validate button and the explorers' sliders vanish
without an error message."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRED = {"@jupyter/nbgrader": "nbgrader", "@jupyter-widgets/jupyterlab-manager": "widgets"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def labextension_lines():
    """`jupyter labextension list` of this interpreter's environment, colour codes removed."""
    jupyter = Path(sys.executable).parent / "jupyter"
    result = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # JupyterLab prints the list on stderr (older releases) or stdout (newer ones).
    return ANSI.sub("", result.stdout + result.stderr).splitlines()


@pytest.mark.parametrize("package", sorted(REQUIRED))
def test_labextension_is_enabled_and_ok(labextension_lines, package):
    """Does `jupyter labextension list` show this extension as enabled and OK?"""
    lines = [line for line in labextension_lines if line.strip().startswith(package + " ")]
    assert lines, f"{package} ({REQUIRED[package]}) is not installed:\n" + "\n".join(labextension_lines)
    words = lines[0].split()
    assert "enabled" in words and "OK" in words, lines[0]


def test_no_nbgrader_plugin_is_disabled_in_the_development_environment(labextension_lines):
    """Are none of nbgrader's lab plugins disabled here (instructors need formgrader; only Binder turns it off)?"""
    text = "\n".join(labextension_lines)
    disabled_section = text.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in text else ""
    assert "@jupyter/nbgrader" not in disabled_section
