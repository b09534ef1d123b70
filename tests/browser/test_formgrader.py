"""An instructor grades the written answers by hand, as README says: `bplab formgrader`, then nbgrader's
formgrader in a real browser (Debian's chromium).

A repository laid out as the instructor's (solutions/, autograder/ with the committed nbgrader_config.py),
one submission of lecture 04 graded by `bplab grade`, then `bplab formgrader` started with a PATH that does
not hold the venv (as an instructor who never activated it). In the browser: Formgrader lists the lecture,
Manual Grading opens the submission, a score typed into the first written answer's box is saved, and the
lecture's submission list and nbgrader's gradebook show it. The server's working folder keeps no stray
gradebook.db in the repository root.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backproplab.grading.notebooks import read_notebook
from backproplab.grading.submissions import build_submission, write_notebook
from catalog_helpers import catalog
from cli_command import bplab_command
from lab_server import running_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
LECTURE, NOTEBOOK = "04-backprop", "backprop.ipynb"
WRITTEN = "explain_bias_gradient"
ARTIFACTS = REPO / "test-artifacts"


def _write_explanations(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("explain_"):
            cell.source = "dB sums dz over the examples, because every example adds to the same bias."


@pytest.fixture(scope="module")
def graded_repository(tmp_path_factory):
    """The instructor's repository with ann's submission of lecture 04 graded by `bplab grade`."""
    repo = tmp_path_factory.mktemp("instructor") / "backprop-lab"
    (repo / "autograder").mkdir(parents=True)
    (repo / "solutions").symlink_to(REPO / "solutions")
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", repo / "autograder")
    submission = repo / "autograder" / "submitted" / "ann" / LECTURE / NOTEBOOK
    submission.parent.mkdir(parents=True)
    released = read_notebook(REPO / "course" / LECTURE / NOTEBOOK)
    write_notebook(build_submission(released, catalog(LECTURE).ANSWERS, edit=_write_explanations), submission)
    graded = subprocess.run(bplab_command("grade", "autograder/submitted"), cwd=repo, capture_output=True,
                            text=True, timeout=900)
    assert graded.returncode == 0, graded.stderr[-3000:]
    return repo


def _manual_score(workspace):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        grade = gb.find_grade(WRITTEN, NOTEBOOK.removesuffix(".ipynb"), LECTURE, "ann")
        return grade.manual_score, grade.needs_manual_grade


def test_formgrader_grades_a_written_answer(graded_repository, browser_context, tmp_path, monkeypatch):
    """Does `bplab formgrader`, without the venv on PATH, open a formgrader that lists lecture 04, shows ann's
    submission with a score box for the written answer, and saves a score typed there into the gradebook?"""
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin))
    workspace = graded_repository / "autograder"
    assert _manual_score(workspace) == (None, True)
    command = [*bplab_command("formgrader", "--root", str(graded_repository)), "--"]
    with running_lab(graded_repository, tmp_path / "home", command=command) as server:
        page = browser_context.new_page()
        try:
            page.goto(server.url("formgrader"))
            page.locator("table tbody tr", has_text=LECTURE).first.wait_for()  # Manage Assignments lists it

            page.goto(f"{server.base}/formgrader/gradebook/{LECTURE}/{NOTEBOOK.removesuffix('.ipynb')}")
            page.locator("a", has_text="Submission #1").first.click()
            box = page.locator(f"input.score#{WRITTEN}")  # formgrader's score box of that cell
            box.wait_for()
            # The page's script fills each box from the gradebook once it has loaded (an empty one while the
            # answer waits), which can overwrite a score typed before: type it again until it is saved.
            for _ in range(6):
                box.fill("2")
                box.press("Tab")  # a change saves it
                for _ in range(10):
                    if _manual_score(workspace)[0] is not None:
                        break
                    page.wait_for_timeout(1000)
                if _manual_score(workspace)[0] is not None:
                    break
            assert _manual_score(workspace) == (2.0, False)

            page.goto(f"{server.base}/formgrader/gradebook/{LECTURE}/{NOTEBOOK.removesuffix('.ipynb')}")
            row = page.locator("tr", has_text="Submission #1").first
            row.wait_for()
            assert re.search(r"\b2 / 4\b", row.inner_text()), row.inner_text()
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "formgrader-failed.png"))
            raise
        finally:
            page.close()
    assert not (graded_repository / "gradebook.db").exists()
