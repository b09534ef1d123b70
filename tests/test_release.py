"""`bplab release`: course/ is nbgrader's student version of solutions/, normalized."""

import nbformat
import pytest

from backproplab.cli import main
from backproplab.grading.notebooks import dumps_normalized, has_outputs, read_notebook
from backproplab.grading.release import discover_lectures, find_root
from notebook_factory import answer_cell, build_notebook, hidden_test_cell, setup_cell, visible_test_cell

LECTURE = "99-release-test"


def _source_notebook():
    nb = build_notebook([
        setup_cell("import numpy as np"),
        answer_cell("double", "def double(x):\n    return 2 * x"),
        visible_test_cell("double", body="assert double(2) == 4"),
        hidden_test_cell("double", points=2, body="assert double(3) == 6  # hidden-marker"),
    ])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="leftover output\n")]
    nb.cells[0].execution_count = 7
    return nb


@pytest.fixture
def course_root(tmp_path):
    """A repository root with one lecture in solutions/ (executed: outputs left in), a support file and
    the lecture's answer catalog."""
    folder = tmp_path / "solutions" / LECTURE
    folder.mkdir(parents=True)
    nbformat.write(_source_notebook(), str(folder / "release.ipynb"))
    (folder / "data.csv").write_text("x,y\n1,2\n")
    (folder / "catalog.py").write_text('VARIANTS = []  # return 2 * x\n')
    return tmp_path


@pytest.mark.slow
def test_release_generates_student_version(course_root, capsys):
    """Does `bplab release` write a student notebook without solutions, hidden tests or outputs?"""
    assert main(["release", "--root", str(course_root)]) == 0
    student = course_root / "course" / LECTURE / "release.ipynb"
    text = student.read_text()
    nb = read_notebook(student)
    assert "return 2 * x" not in text and "hidden-marker" not in text
    assert "raise NotImplementedError()" in text and "# YOUR CODE HERE" in text
    assert not has_outputs(nb)
    assert text == dumps_normalized(nb) and text.endswith("\n")
    assert (course_root / "course" / LECTURE / "data.csv").read_text() == "x,y\n1,2\n"
    assert not (course_root / "course" / LECTURE / "catalog.py").exists(), "the answer catalog was released"
    # the solutions notebook itself loses its outputs
    assert not has_outputs(read_notebook(course_root / "solutions" / LECTURE / "release.ipynb"))
    # a second run changes nothing and --check agrees
    assert main(["release", "--root", str(course_root)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["release", "--check", "--root", str(course_root)]) == 0


@pytest.mark.slow
def test_release_check_names_stale_files(course_root, capsys):
    """Does `bplab release --check` exit 1 naming an edited course notebook and a solutions notebook with outputs?"""
    assert main(["release", "--root", str(course_root)]) == 0
    student = course_root / "course" / LECTURE / "release.ipynb"
    student.write_text(student.read_text().replace("YOUR CODE HERE", "edited by hand"))
    nbformat.write(_source_notebook(), str(course_root / "solutions" / LECTURE / "release.ipynb"))
    (course_root / "course" / LECTURE / "orphan.txt").write_text("not from solutions")
    (course_root / "course" / LECTURE / "catalog.py").write_text("copied by hand")
    capsys.readouterr()
    assert main(["release", "--check", "--root", str(course_root)]) == 1
    out = capsys.readouterr().out
    assert f"course/{LECTURE}/release.ipynb (differs)" in out
    assert f"solutions/{LECTURE}/release.ipynb (has outputs)" in out
    assert f"course/{LECTURE}/orphan.txt (not in solutions/)" in out
    assert f"course/{LECTURE}/catalog.py (not in solutions/)" in out
    assert student.read_text().count("edited by hand") == 1  # --check writes nothing


def test_release_unknown_lecture_is_usage_error(course_root):
    """Does `bplab release` exit 2 for a lecture that solutions/ does not have?"""
    assert main(["release", "no-such-lecture", "--root", str(course_root)]) == 2


def test_discover_lectures_lists_solution_folders(course_root):
    """Are lectures discovered from solutions/*/ folders holding a notebook, and the root found from a subfolder?"""
    (course_root / "solutions" / "empty-folder").mkdir()
    assert discover_lectures(course_root) == [LECTURE]
    assert find_root(course_root / "solutions" / LECTURE) == course_root
