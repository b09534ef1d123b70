"""`bplab export-student-repo DIR`: the repository a class's students get, a working course on its own.

It holds the released notebooks (course/), binder/, and, written for students: the student edition of the
library (``grading.student_edition``: the graded quantities computed by PyTorch, the checks reading their
visible cases and expected values from data), a README, a licence, a Makefile (`make lab`, `make check`) and a
pyproject.toml that installs them. Everything else stays out: solutions/ (answers, hidden tests, answer
catalogs), autograder/, tests/, docs/, the grading code beyond `bplab check`, and the NumPy references.
"""
from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path
from urllib.parse import quote

from .grading.notebooks import has_outputs, read_notebook
from .grading.release import INSTRUCTOR_ONLY, is_leftover
from .grading.student_edition import write_student_package

# Copied as they are, relative to the repository root.
COPIED_PATHS = ("course", "binder")
# Written for students from docs/student-repo/ (README.md, LICENSE, Makefile).
TEMPLATES = Path("docs") / "student-repo"
TEMPLATE_FILES = ("README.md", "LICENSE", "Makefile")
# Runtime dependencies students do not need (the grading batch, the similarity report).
INSTRUCTOR_DEPENDENCIES = ("dask", "copydetect")
# Markers nbgrader removes when it releases a notebook; a course/ notebook holding one is not a release.
ANSWER_MARKERS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS")


# The README's Binder badge opens JupyterLab on course/ of a GitHub repository at a ref.
BINDER_BADGE = "[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{repository}/{ref}?urlpath=lab/tree/course)"
BINDER_PLACEHOLDER = "YOUR-ORG/backprop-lab"  # the repository the main README's badge names until an instructor sets it
_BADGE_LINE = re.compile(r"^\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\(https://mybinder\.org/v2/gh/\S*\)$", re.M)
_PLACEHOLDER_SENTENCE = re.compile(r"\(Your instructor replaces [^)]*\)[ \t]*")
# GitHub's rules: an owner of letters, digits and single inner hyphens (at most 39); a repository of
# letters, digits, '.', '_' and '-' (at most 100), not '.' or '..'.
_GITHUB_REPOSITORY = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/(?!\.\.?$)[A-Za-z0-9._-]{1,100}")
_GIT_REF = re.compile(r"(?!.*\.\.)(?!.*//)(?![-/.])[A-Za-z0-9._/-]{1,200}(?<![/.])")


class PublishError(RuntimeError):
    """The export was refused (the message says why); nothing was written."""


def binder_badge(repository, ref="HEAD") -> str:
    """The README's Binder badge (markdown) for the GitHub ``repository`` ("ORG/REPO") at ``ref``
    (a branch, tag or commit; default HEAD, the default branch).

    Raises PublishError when ``repository`` is not a GitHub repository name or ``ref`` not a git ref."""
    if not _GITHUB_REPOSITORY.fullmatch(repository or ""):
        raise PublishError(f"{repository!r} is not a GitHub repository: expected ORG/REPO, e.g. my-school/backprop-lab")
    if not _GIT_REF.fullmatch(ref or ""):
        raise PublishError(f"{ref!r} is not a branch, tag or commit")
    return BINDER_BADGE.format(repository=repository, ref=quote(ref, safe=""))  # Binder wants a/b as a%2Fb


def set_binder_badge(readme, repository, ref="HEAD") -> str:
    """Rewrite the Binder badge line of the markdown file ``readme`` in place to ``binder_badge(repository,
    ref)`` and drop the "(Your instructor replaces ...)" sentence; return the badge.

    Raises PublishError (changing nothing) when the names are invalid or ``readme`` is missing or has no badge line."""
    badge = binder_badge(repository, ref)
    readme = Path(readme)
    if not readme.is_file():
        raise PublishError(f"{readme} does not exist")
    text = readme.read_text(encoding="utf-8")
    if not _BADGE_LINE.search(text):
        raise PublishError(f"{readme} has no Binder badge line to rewrite (like {binder_badge(BINDER_PLACEHOLDER)})")
    text = _BADGE_LINE.sub(lambda _: badge, text, count=1)
    readme.write_text(_PLACEHOLDER_SENTENCE.sub("", text, count=1), encoding="utf-8")
    return badge


def copied_files(root) -> list[Path]:
    """The files of COPIED_PATHS as sorted paths relative to ``root``, minus editor and interpreter leftovers."""
    root = Path(root)
    files = []
    for name in COPIED_PATHS:
        files.extend(p.relative_to(root) for p in (root / name).rglob("*") if p.is_file())
    return sorted(p for p in files if not is_leftover(p))


def student_pyproject(text: str) -> str:
    """The student repository's pyproject.toml from the main one: the project, its console script and package
    data (the answer key included), without the instructor's dependencies, extras and tool settings."""
    project = tomllib.loads(text)["project"]
    dependencies = [d for d in project["dependencies"] if not d.startswith(INSTRUCTOR_DEPENDENCIES)]

    def strings(values):
        return "[" + ", ".join(f'"{v}"' for v in values) + "]"

    return "\n".join([
        "[build-system]", 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "",
        "[project]", f'name = "{project["name"]}"', f'version = "{project["version"]}"',
        f'description = "{project["description"]}"', 'readme = "README.md"',
        f'requires-python = "{project["requires-python"]}"', 'license = { text = "MIT" }',
        "# torch pinned: any other specification pulls a multi-GB CUDA build (the Makefile installs the CPU build)",
        "dependencies = [", *(f'    "{d}",' for d in dependencies), "]", "",
        "[project.scripts]", 'bplab = "backproplab.cli:main"', "",
        "[tool.setuptools.packages.find]", 'include = ["backproplab*"]', "",
        "[tool.setuptools.package-data]", f"backproplab = {strings(['_data/*', 'checks/answer_key.bin'])}", ""])


def check_course_is_released(root) -> None:
    """Raise PublishError unless course/ is a clean release: no instructor-only file (an answer
    catalog), and every notebook without outputs or answer markers."""
    for name in INSTRUCTOR_ONLY:
        for path in sorted((Path(root) / "course").rglob(name)):
            raise PublishError(f"{path.relative_to(root)} is instructor-only: run `bplab release`")
    for path in sorted((Path(root) / "course").rglob("*.ipynb")):
        if is_leftover(path.relative_to(root)):
            continue
        text = path.read_text(encoding="utf-8")
        found = [marker for marker in ANSWER_MARKERS if marker in text]
        if found:
            raise PublishError(f"{path.relative_to(root)} contains {', '.join(found)}: run `bplab release`")
        if has_outputs(read_notebook(path)):
            raise PublishError(f"{path.relative_to(root)} has outputs: run `bplab release`")


def export_student_repo(root, destination, binder=None) -> list[Path]:
    """Write the student repository into ``destination``.

    Inputs:
    - root: the main repository's root (Path or str), holding course/, binder/, backproplab/ and docs/student-repo/.
    - destination: a folder that does not exist yet or is empty (Path or str).
    - binder: optional "ORG/REPO", the GitHub repository the export will be pushed to: its
      README's Binder badge then points there (``set_binder_badge``).

    Returns:
    - sorted list of the written files, relative to ``destination``.

    Raises PublishError (writing nothing) when destination is a non-empty folder or a file,
    when root has no course/, or when a course/ notebook is not a clean release.
    """
    root, destination = Path(root).resolve(), Path(destination).resolve()
    if not (root / "course").is_dir():
        raise PublishError(f"{root} has no course/ folder")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise PublishError(f"{destination} exists and is not an empty folder")
    if destination == root or root in destination.parents:
        raise PublishError("the destination must lie outside the repository")
    missing = [name for name in TEMPLATE_FILES if not (root / TEMPLATES / name).is_file()]
    if missing:
        raise PublishError(f"{root / TEMPLATES} lacks {', '.join(missing)}")
    if binder is not None:
        binder_badge(binder)  # refused before anything is written
    check_course_is_released(root)
    files = copied_files(root)
    for relative in files:
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination / relative)
    for name in TEMPLATE_FILES:
        shutil.copy2(root / TEMPLATES / name, destination / name)
    pyproject = student_pyproject((root / "pyproject.toml").read_text(encoding="utf-8"))
    (destination / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    files += [Path(name) for name in TEMPLATE_FILES] + [Path("pyproject.toml")]
    files += write_student_package(root, destination)
    if binder is not None:
        set_binder_badge(destination / "README.md", binder)
    return sorted(files)
