"""README.md cannot drift: every command of its ```bash blocks exists and runs.

Each command line is checked by its program: `make` targets exist in the Makefile, `bplab`,
`nbgrader` and `jupyter` sub-commands answer `--help`, scripts and paths it reads exist
(tracking `cd`), other programs are on PATH. Cheap commands also run for real:
`bplab release --check`, `bplab check` on a copy of the matching solutions notebook (it must
pass) and `bplab export-student-repo` into a temporary folder. The diagnosis table lists
every registered diagnosis id, and the nbgrader settings shown for JupyterHub exist.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backproplab.checks.diagnoses import DIAGNOSES
from backproplab.cli import main

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BIN = Path(sys.executable).parent
HELP_PROGRAMS = ("bplab", "nbgrader", "jupyter")  # checked with `<program> <sub-command> --help`
PATH_PROGRAMS = ("git", "cp")                     # only need to be installed


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def readme_commands() -> list[tuple[Path, list[str]]]:
    """Every command of the ```bash blocks as (the folder it runs in, its words), comments removed.

    `cd` changes the folder for the lines after it in the same block; `git clone URL NAME`
    followed by `cd NAME` stands for this repository."""
    commands = []
    for block in code_blocks("bash"):
        cwd, clone = REPO, None
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            if words[:2] == ["git", "clone"]:
                clone = words[-1]
            if words[0] == "cd":
                cwd = REPO if words[1] == clone else (cwd / words[1]).resolve()
            commands.append((cwd, words))
    return commands


def program(words: list[str]) -> str:
    """The program's short name: `.venv/bin/bplab` -> `bplab`."""
    return Path(words[0]).name


def run(cwd, args, timeout=300):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def executable(cwd: Path, words: list[str]) -> str:
    """Where the command's program is: `.venv/bin/x` in this test's environment, else on PATH."""
    if words[0].startswith(".venv/bin/") or program(words) in HELP_PROGRAMS:
        return str(BIN / program(words))
    found = shutil.which(words[0])
    assert found, f"{words[0]} is not installed"
    return found


def test_readme_has_commands_for_every_audience():
    """Does the README start with the quick start and have the students', self-study and instructors' guides?"""
    text = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[:4] == ["Quick start", "Students", "Self-study", "Instructors"]
    first_block = code_blocks("bash")[0]
    assert [words[:2] for words in map(shlex.split, first_block.splitlines())] == [
        ["make", "lab"], ["make", "demo"], ["make", "test"], ["make", "check"], ["make", "coverage"]]
    assert len(readme_commands()) >= 15


def test_readme_make_targets_exist():
    """Is every `make TARGET` of the README a target of the Makefile?"""
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(), flags=re.M))
    used = {words[1] for _, words in readme_commands() if words[0] == "make"}
    assert used and used <= targets, used - targets


def test_readme_programs_and_paths_exist():
    """Is every program of the README installed, and does every script, folder and input path it names exist?"""
    for cwd, words in readme_commands():
        name = program(words)
        if name in ("make", "cd", "source"):  # `source .venv/bin/activate`: a shell builtin
            assert cwd.is_dir(), f"cd into a missing folder: {cwd}"
            continue
        executable(cwd, words)
        if name == "python" and not words[1].startswith("-"):
            assert (cwd / words[1]).is_file(), words
        if name == "cp":
            assert (cwd / words[-2]).exists(), words
        if name == "bplab" and words[1] == "check":
            assert (cwd / words[2]).is_file(), words
        if "pytest" in words:
            for path in words[words.index("pytest") + 1:]:
                if not path.startswith("-"):
                    assert (cwd / path).is_file(), path


@pytest.mark.slow
def test_readme_subcommands_answer_help():
    """Does every `bplab`, `nbgrader` and `jupyter` sub-command of the README run with --help?"""
    seen = set()
    for cwd, words in readme_commands():
        key = (program(words), words[1] if len(words) > 1 else "")
        if key[0] not in HELP_PROGRAMS or key in seen:
            continue
        seen.add(key)
        if key[0] == "bplab":  # in this process: the console script itself is tested in test_package.py
            with pytest.raises(SystemExit) as exited, contextlib.redirect_stdout(io.StringIO()):
                main([key[1], "--help"])
            assert exited.value.code == 0, key
            continue
        result = run(REPO, [executable(cwd, words), key[1], "--help"], timeout=120)
        assert result.returncode == 0, (key, result.stderr[-2000:])
    assert {("bplab", sub) for sub in ("release", "grade", "feedback", "export", "report", "check", "formgrader",
                                       "import-lms", "export-student-repo")} <= seen


def readme_bplab(sub: str, *, option: str | None = None) -> tuple[Path, list[str]]:
    for cwd, words in readme_commands():
        if program(words) == "bplab" and words[1] == sub and (option is None or option in words):
            return cwd, words
    raise AssertionError(f"the README shows no `bplab {sub}{' ' + option if option else ''}`")


@pytest.mark.slow
def test_readme_bplab_release_check_runs():
    """Does the README's `bplab release --check` run and report course/ up to date?"""
    cwd, words = readme_bplab("release", option="--check")
    result = run(cwd, [executable(cwd, words), *words[1:]], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.mark.slow
def test_readme_bplab_check_passes_on_a_solution_notebook(tmp_path):
    """Does the README's `bplab check NOTEBOOK` pass on a copy of that lecture's solutions notebook?"""
    cwd, words = readme_bplab("check")
    course_notebook = (cwd / words[2]).resolve().relative_to(REPO)
    assert course_notebook.parts[0] == "course"
    solved = tmp_path / course_notebook.name
    shutil.copy(REPO / "solutions" / Path(*course_notebook.parts[1:]), solved)
    result = run(tmp_path, [executable(cwd, words), "check", str(solved)], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout and "FAIL" not in result.stdout


@pytest.mark.slow
def test_readme_bplab_export_student_repo_runs(tmp_path):
    """Does the README's `bplab export-student-repo DIR` write the student repository (into a temporary DIR)?"""
    cwd, words = readme_bplab("export-student-repo")
    destination = tmp_path / Path(words[2]).name
    result = run(cwd, [executable(cwd, words), "export-student-repo", str(destination)], timeout=300)
    assert result.returncode == 0, result.stderr
    assert (destination / "course").is_dir() and not (destination / "solutions").exists()


def test_readme_lists_every_diagnosis():
    """Does the students' table name every registered diagnosis id, and only those?"""
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", README.read_text(encoding="utf-8"), flags=re.M))
    assert listed == set(DIAGNOSES)


def test_readme_jupyterhub_settings_exist_in_nbgrader():
    """Are the nbgrader settings of the README's JupyterHub section real traits of nbgrader's classes?"""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.exchange import Exchange
    from nbgrader.preprocessors import AssignLatePenalties

    from backproplab.grading.late import PercentPerDayLate

    classes = {"CourseDirectory": CourseDirectory, "Exchange": Exchange, "AssignLatePenalties": AssignLatePenalties,
               "PercentPerDayLate": PercentPerDayLate}
    settings = re.findall(r"^c\.(\w+)\.(\w+) = ", "".join(code_blocks("python")), flags=re.M)
    assert settings
    for class_name, trait in settings:
        assert classes[class_name].__name__ == class_name and trait in classes[class_name].class_trait_names()
