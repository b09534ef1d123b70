"""JupyterLab's extensions in the project's environment: nbgrader and the widgets manager
must be installed, enabled and OK, or the Validate button and the explorers' sliders vanish
without an error message. The students' JupyterLab (`make lab`: binder/jupyter-student/ on
JUPYTER_CONFIG_PATH) has no news pop-up and none of nbgrader's instructor tools; the instructors'
plain `jupyter lab` keeps them. (The browser test shows the students' page in chromium.)"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from lab_server import STUDENT_CONFIG, running_lab

REPO = Path(__file__).resolve().parents[1]
STUDENT_DISABLED = {"@jupyterlab/apputils-extension:announcements", "@jupyter/nbgrader:formgrader",
                    "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment"}
REQUIRED = {"@jupyter/nbgrader": "nbgrader", "@jupyter-widgets/jupyterlab-manager": "widgets"}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def labextension_lines():
    """`jupyter labextension list` of this interpreter's environment, colour codes removed."""
    return _labextension_list()


def _labextension_list(env=None):
    jupyter = Path(sys.executable).parent / "jupyter"
    result = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr
    # JupyterLab prints the list on stderr (older releases) or stdout (newer ones).
    return ANSI.sub("", result.stdout + result.stderr).splitlines()


def _disabled(lines):
    text = "\n".join(lines)
    section = text.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in text else ""
    return {line.strip() for line in section.splitlines() if line.strip().startswith("@")}


@pytest.mark.parametrize("package", sorted(REQUIRED))
@pytest.mark.slow
def test_labextension_is_enabled_and_ok(labextension_lines, package):
    """Does `jupyter labextension list` show this extension as enabled and OK?"""
    lines = [line for line in labextension_lines if line.strip().startswith(package + " ")]
    assert lines, f"{package} ({REQUIRED[package]}) is not installed:\n" + "\n".join(labextension_lines)
    words = lines[0].split()
    assert "enabled" in words and "OK" in words, lines[0]


@pytest.mark.slow
def test_no_nbgrader_plugin_is_disabled_in_the_development_environment(labextension_lines):
    """Are none of nbgrader's lab plugins disabled here (instructors need formgrader; only Binder turns it off)?"""
    text = "\n".join(labextension_lines)
    disabled_section = text.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in text else ""
    assert "@jupyter/nbgrader" not in disabled_section


@pytest.mark.slow
def test_student_config_disables_the_news_and_nbgrader_instructor_plugins(tmp_path):
    """With the students' config folder on JUPYTER_CONFIG_PATH (and an empty user config), does JupyterLab
    list exactly the news and nbgrader's instructor plugins as disabled, keeping validate and the rest?"""
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_CONFIG_PATH": str(STUDENT_CONFIG)}
    assert _disabled(_labextension_list(env)) == STUDENT_DISABLED
    page_config = json.loads((STUDENT_CONFIG / "labconfig" / "page_config.json").read_text())
    assert set(page_config["disabledExtensions"]) == STUDENT_DISABLED
    assert all(page_config["disabledExtensions"].values())


def test_make_lab_puts_the_student_config_on_the_jupyter_config_path():
    """Does `make lab` (dry run) start jupyter lab with binder/jupyter-student/ on JUPYTER_CONFIG_PATH, on course/?"""
    result = subprocess.run(["make", "-n", "lab"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    command = result.stdout.replace("\\\n", " ")
    (line,) = [line for line in command.splitlines() if "jupyter lab --" in line]
    assert f'JUPYTER_CONFIG_PATH="{STUDENT_CONFIG}' in line and "--notebook-dir=course" in line


@pytest.mark.slow
def test_formgrader_is_served_to_instructors_and_not_to_students(tmp_path):
    """Does a real server answer /formgrader for the instructors' plain `jupyter lab`, and 404 with the
    students' config (nbgrader's formgrader server extension off), while Validate's endpoint stays, and both
    servers load kernel_polling?"""
    def status(server, path):
        try:
            with urllib.request.urlopen(server.url(path), timeout=60) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    root = tmp_path / "course"
    root.mkdir()
    with running_lab(root, tmp_path / "instructor") as server:
        assert status(server, "formgrader") == 200
        # formgrader runs nbgrader in this process too: make setup's config file in .venv loads kernel_polling
        assert "backproplab.kernel_polling | extension was successfully loaded" in server.log.read_text()
    with running_lab(root, tmp_path / "student", config_path=STUDENT_CONFIG) as server:
        assert status(server, "formgrader") == 404
        # Validate runs nbgrader in this process: its kernel channels poll in slices (kernel_polling)
        assert "backproplab.kernel_polling | extension was successfully loaded" in server.log.read_text()
        # validate_assignment's handler is registered (a GET is not its method, but the route exists)
        assert status(server, "assignments/validate") != 404
