"""The instructor's authoring flow (README, "Editing a lecture"): in a clone, change lecture 04's prose
and one solution line through JupyterLab, run `bplab release`, and `make check` passes; the catalog
and the student notebook follow the edit.

The clone's `make check` runs on the files that read the lecture notebooks and catalogs (TESTS, as
README shows): the suite itself runs every other fast test on files the edit does not touch.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backproplab.grading.answer_catalogs import load_catalog
from backproplab.grading.notebooks import read_notebook
from lab_server import running_lab

REPO = Path(__file__).resolve().parents[1]
LECTURE = "04-backprop"
NOTEBOOK = f"solutions/{LECTURE}/backprop.ipynb"
OLD_PROSE, NEW_PROSE = "### Where does the 1/m go?", "### Where does the 1/m go? (an instructor's edit)"
OLD_LINE, NEW_LINE = "L = len(caches)", "L = len(activations)  # one activation per layer"
pytestmark = pytest.mark.slow
# The fast tests that read solutions/ and course/ notebooks or the answer catalogs.
LECTURE_READERS = ("tests/test_catalogs.py", "tests/test_lectures.py", "tests/test_notebook_04_backprop.py",
                   "tests/test_checks_lecture04.py", "tests/test_grading_integrity.py", "tests/test_release.py",
                   "tests/test_export_student_repo.py")


def _git(clone, *args):
    return subprocess.run(["git", "-C", str(clone), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def clone(tmp_path):
    """The repository's committed files in a fresh git repository, sharing this checkout's .venv."""
    clone = tmp_path / "backprop-lab"
    for relative in _git(REPO, "ls-files", "-z").split("\0"):
        if relative and (REPO / relative).is_file():
            (clone / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / relative, clone / relative)
    (clone / ".venv").symlink_to(Path(sys.prefix))
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "clone")
    return clone


def _edit_in_jupyterlab(clone, home):
    """Open the solution notebook and save it changed, through JupyterLab's contents API."""
    with running_lab(clone, home) as lab:
        model = lab.contents(NOTEBOOK)
        cells = model["content"]["cells"]
        prose = next(c for c in cells if c["cell_type"] == "markdown" and OLD_PROSE in c["source"])
        prose["source"] = prose["source"].replace(OLD_PROSE, NEW_PROSE)
        answer = next(c for c in cells if c["metadata"].get("nbgrader", {}).get("grade_id") == "model_backward")
        assert answer["source"].count(OLD_LINE) == 1
        answer["source"] = answer["source"].replace(OLD_LINE, NEW_LINE)
        lab.save(NOTEBOOK, {"type": "notebook", "format": "json", "content": model["content"]})


def test_edit_in_jupyterlab_release_and_make_check(clone, tmp_path):
    """One notebook edited in JupyterLab, `bplab release`, two notebooks changed, and `make check` passes?"""
    _edit_in_jupyterlab(clone, tmp_path / "jupyter-home")
    assert _git(clone, "status", "--porcelain").split() == ["M", NOTEBOOK]

    bplab = Path(sys.executable).with_name("bplab")
    released = subprocess.run([str(bplab), "release", LECTURE], cwd=clone, capture_output=True, text=True, timeout=300)
    assert released.returncode == 0, released.stdout + released.stderr
    assert sorted(_git(clone, "status", "--porcelain").splitlines()) == \
        [f" M course/{LECTURE}/backprop.ipynb", f" M {NOTEBOOK}"]

    student = (clone / "course" / LECTURE / "backprop.ipynb").read_text()
    assert NEW_PROSE in student and NEW_LINE not in student  # the prose reaches students, the answer does not
    assert NEW_LINE in load_catalog(clone, LECTURE).ANSWERS["model_backward"]  # the catalog reads the new answer
    assert all(not c.get("outputs") for c in read_notebook(clone / NOTEBOOK).cells)

    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "COV_", "COVERAGE"))}
    # -o: the clone shares this checkout's .venv, whose editable install must keep pointing here
    checked = subprocess.run(["make", "-o", ".venv/.installed-stamp", "check", f"TESTS={' '.join(LECTURE_READERS)}"],
                             cwd=clone, env=env,
                             capture_output=True, text=True, timeout=900)
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert " passed" in checked.stdout and not re.search(r"\d+ failed|^FAILED", checked.stdout, re.MULTILINE)


def test_an_edit_that_breaks_a_catalog_variant_is_named(clone):
    """Does rewriting the line a catalog variant is derived from stop the catalog with the snippet and exercise named?"""
    path = clone / NOTEBOOK
    path.write_text(path.read_text().replace("dz.sum(axis=0, keepdims=True)", "np.sum(dz, axis=0, keepdims=True)"))
    with pytest.raises(ValueError, match=r"'dz.sum\(axis=0, keepdims=True\)' not in the dense_backward answer"):
        load_catalog(clone, LECTURE)
