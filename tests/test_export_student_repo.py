"""`bplab export-student-repo` (backproplab/publish.py): the student repository gives no answers away.

The leak checks read the instructor sources in solutions/: no line of a hidden-test block and
no non-trivial line of a solution region may appear in any exported file. Lines the course
shows students on purpose are not leaks: those that the solutions notebooks also contain
outside solution regions and hidden tests (hints, scaffolding, docstrings), and those of the
public reference library the notebooks import (backproplab/, without the answer catalog).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from backproplab.cli import main
from backproplab.publish import PublishError, export_student_repo, student_files

REPO = Path(__file__).resolve().parents[1]
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# Too generic to betray an answer: control flow, lone names, returns of a single name, short lines.
TRIVIAL = re.compile(r"^(else:|try:|finally:|break|continue|pass|return( \w+)?|[\w.]+|[\]})]+,?)$")
MIN_LENGTH = 12


def regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (lines inside begin/end blocks, lines outside), stripped, markers dropped."""
    inside, outside, depth = [], [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(begin):
            depth = True
        elif stripped.startswith(end):
            depth = False
        else:
            (inside if depth else outside).append(stripped)
    return inside, outside


def solution_sources():
    """Yield every cell source of every solutions/ notebook."""
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            yield cell.source


def hidden_test_lines() -> set[str]:
    lines = set()
    for source in solution_sources():
        lines.update(line for line in regions(source, *HIDDEN)[0] if line)
    return lines


def shown_on_purpose() -> str:
    """The text students are meant to see: solutions notebooks outside answers and hidden tests
    (markdown hints included), and the public library's sources."""
    shown = []
    for source in solution_sources():
        _, outside = regions(source, *SOLUTION)
        shown.extend(regions("\n".join(outside), *HIDDEN)[1])
    for relative in student_files(REPO):
        if relative.parts[0] == "backproplab" and relative.suffix == ".py":
            shown.append((REPO / relative).read_text(encoding="utf-8"))
    return "\n".join(shown)


def secret_solution_lines() -> set[str]:
    """Non-trivial lines of the solution regions that students are not shown anywhere on purpose."""
    shown = shown_on_purpose()
    secret = set()
    for source in solution_sources():
        for line in regions(source, *SOLUTION)[0]:
            if len(line) >= MIN_LENGTH and not line.startswith("#") and not TRIVIAL.match(line) and line not in shown:
                secret.add(line)
    return secret


def exported_texts(folder: Path):
    """Yield (relative path, text) of every exported file; notebooks as their cell sources and outputs' JSON."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary data (e.g. the shipped digits) cannot carry source lines
        yield path.relative_to(folder), data.decode("utf-8", errors="replace")


def leaks(folder: Path, secret_lines: set[str]) -> list[tuple[str, str]]:
    """Return (file, line) for every secret line found in an exported file (JSON-escaped forms too)."""
    found = []
    for relative, text in exported_texts(folder):
        for line in secret_lines:
            escaped = line.replace("\\", "\\\\").replace('"', '\\"')
            if line in text or escaped in text:
                found.append((str(relative), line))
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    destination = tmp_path_factory.mktemp("student") / "backprop-lab"
    export_student_repo(REPO, destination)
    return destination


def test_export_student_repo_has_the_student_layout(exported):
    """Does the export hold course/, the library, binder/, README.md and pyproject.toml, and none of the instructor folders?"""
    for needed in ("course", "backproplab", "binder", "README.md", "pyproject.toml"):
        assert (exported / needed).exists(), needed
    lectures = sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir())
    assert sorted(p.name for p in (exported / "course").iterdir() if p.is_dir()) == lectures
    for absent in ("solutions", "autograder", "tests", "docs", ".venv", ".git"):
        assert not (exported / absent).exists(), absent
    assert not list(exported.rglob("catalog.py")), "an answer catalog was exported"
    assert not list(exported.rglob("__pycache__")) and not list(exported.rglob("*.pyc"))


def test_export_student_repo_copies_files_unchanged(exported):
    """Is every exported file a byte-for-byte copy of the repository's file?"""
    files = sorted(p.relative_to(exported) for p in exported.rglob("*") if p.is_file())
    assert files == student_files(REPO)
    for relative in files:
        assert (exported / relative).read_bytes() == (REPO / relative).read_bytes(), relative


def test_export_student_repo_leaks_no_hidden_tests(exported):
    """Is no line of a solutions/ hidden-test block, nor the block markers, in any exported file?"""
    hidden = hidden_test_lines()
    assert hidden, "solutions/ should have hidden tests to protect"
    assert leaks(exported, hidden) == []
    for relative, text in exported_texts(exported / "course"):
        assert "BEGIN HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, relative


def test_export_student_repo_leaks_no_solution_code(exported):
    """Does no non-trivial line of a solutions/ answer region appear in any exported file?"""
    secret = secret_solution_lines()
    assert len(secret) >= 10, "too few solution lines to protect: the filter is too broad"
    assert leaks(exported, secret) == []


def test_leak_check_finds_a_planted_solution_line(exported, tmp_path):
    """Would the leak check notice a solution line that slipped into a course notebook (can the test fail)?"""
    planted = tmp_path / "planted"
    shutil.copytree(exported / "course", planted)
    line = sorted(secret_solution_lines())[0]
    notebook = next(planted.glob("*/*.ipynb"))
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("    " + line))
    nbformat.write(nb, str(notebook))
    assert (str(notebook.relative_to(planted)), line) in leaks(planted, {line})


def test_exported_library_imports_without_the_answer_catalog(exported):
    """Do the library, its checks and the CLI import from the export (no dependency on the removed catalog)?"""
    code = ("import backproplab, backproplab.checks, backproplab.cli, backproplab.grading.selfcheck;"
            "print(backproplab.__file__)")
    result = subprocess.run([sys.executable, "-c", code], cwd=exported, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve().is_relative_to(exported.resolve())


def test_bplab_export_student_repo_writes_then_refuses_a_non_empty_folder(tmp_path, capsys):
    """Does `bplab export-student-repo DIR` write the export (exit 0) and refuse to write into a non-empty DIR (exit 2)?"""
    destination = tmp_path / "out"
    assert main(["export-student-repo", str(destination), "--root", str(REPO)]) == 0
    assert (destination / "course").is_dir() and not (destination / "solutions").exists()
    assert main(["export-student-repo", str(destination), "--root", str(REPO)]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def test_export_student_repo_refuses_a_course_with_outputs(tmp_path):
    """Does the export refuse a repository whose course/ notebook carries outputs (not a clean release)?"""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "course", root / "course")
    notebook = next((root / "course").glob("*/*.ipynb"))
    nb = nbformat.read(str(notebook), as_version=4)
    code_cell = next(c for c in nb.cells if c.cell_type == "code")
    code_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, str(notebook))
    with pytest.raises(PublishError, match="has outputs"):
        export_student_repo(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_student_repo_refuses_a_course_holding_an_answer_catalog(tmp_path):
    """Does the export refuse a course/ that holds a lecture's catalog.py (copied there by hand)?"""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "course", root / "course")
    lecture = next(p for p in (root / "course").iterdir() if p.is_dir())
    shutil.copy2(REPO / "solutions" / lecture.name / "catalog.py", lecture / "catalog.py")
    with pytest.raises(PublishError, match="instructor-only"):
        export_student_repo(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()
