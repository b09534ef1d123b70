"""`bplab binder-badge` and `bplab export-student-repo --binder` (backproplab/publish.py): the README's Binder
badge points at the course's public repository, and the placeholder sentence goes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from backproplab.cli import main
from backproplab.publish import BINDER_PLACEHOLDER, PublishError, binder_badge, export_student_repo
from cli_command import bplab_command

REPO = Path(__file__).resolve().parents[1]
PLACEHOLDER_SENTENCE = "(Your instructor replaces `YOUR-ORG/backprop-lab` with the course's public repository.)"


def test_the_readme_badge_is_the_placeholder_the_code_rewrites():
    """Does the README carry exactly the badge `binder_badge` makes for the placeholder repository, then the
    placeholder sentence (so that `bplab binder-badge --readme` finds both)?"""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"{binder_badge(BINDER_PLACEHOLDER)}\n{PLACEHOLDER_SENTENCE}" in text


@pytest.mark.slow
def test_cli_binder_badge_rewrites_only_the_badge_of_a_readme(tmp_path):
    """Does `bplab binder-badge ORG/REPO --readme COPY` (a process of its own) print the badge, put it in place of
    the placeholder's and drop the placeholder sentence, leaving every other line as it was?"""
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    proc = subprocess.run(bplab_command("binder-badge", "my-school/nn-course", "--ref", "fall-2026", "--readme", str(readme)),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    badge = ("[![Binder](https://mybinder.org/badge_logo.svg)]"
             "(https://mybinder.org/v2/gh/my-school/nn-course/fall-2026?urlpath=lab/tree/course)")
    assert proc.stdout == badge + "\n"
    before = (REPO / "README.md").read_text(encoding="utf-8")
    after = readme.read_text(encoding="utf-8")
    assert after == before.replace(binder_badge(BINDER_PLACEHOLDER), badge).replace(PLACEHOLDER_SENTENCE + " ", "")
    assert after != before and PLACEHOLDER_SENTENCE not in after
    # once more, to another repository: the new badge replaces the last one
    assert main(["binder-badge", "my-school/nn-2027", "--readme", str(readme)]) == 0
    assert readme.read_text(encoding="utf-8") == after.replace(badge, binder_badge("my-school/nn-2027"))


@pytest.mark.parametrize("args, message", [
    (["my school/nn"], "'my school/nn' is not a GitHub repository: expected ORG/REPO"),
    (["org-/nn"], "'org-/nn' is not a GitHub repository"),
    (["org/nn/extra"], "'org/nn/extra' is not a GitHub repository"),
    (["org"], "'org' is not a GitHub repository"),
    (["org/nn", "--ref", "a..b"], "'a..b' is not a branch, tag or commit"),
])
def test_binder_badge_refuses_what_is_no_github_repository(args, message, tmp_path, capsys):
    """Is a name GitHub would not take a usage error (exit 2, one line), with the README left as it was?"""
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    assert main(["binder-badge", *args, "--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bplab binder-badge: {message}") and err.count("\n") == 1
    assert readme.read_bytes() == (REPO / "README.md").read_bytes()


def test_binder_badge_refuses_a_readme_without_a_badge(tmp_path, capsys):
    """Is a README without a Binder badge line refused (exit 2) and left as it was?"""
    readme = tmp_path / "README.md"
    readme.write_text("# A course\n")
    assert main(["binder-badge", "org/nn", "--readme", str(readme)]) == 2
    assert "has no Binder badge line to rewrite" in capsys.readouterr().err
    assert readme.read_text() == "# A course\n"


@pytest.mark.xdist_group("student-export")  # with test_export_student_repo's exports (one worker)
def test_export_student_repo_with_binder_points_the_exported_badge_there(tmp_path):
    """Does `export-student-repo --binder ORG/REPO` fill in the exported README's badge (the repository's own README
    unchanged), and refuse a bad name before writing anything?"""
    root = tmp_path / "repo"
    for folder in ("course", "binder", "backproplab", "docs/student-repo"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    with pytest.raises(PublishError, match="not a GitHub repository"):
        export_student_repo(root, tmp_path / "refused", binder="not a repo")
    assert not (tmp_path / "refused").exists()
    assert main(["export-student-repo", str(tmp_path / "out"), "--root", str(root), "--binder", "my-school/nn-course"]) == 0
    exported = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert binder_badge("my-school/nn-course") in exported and PLACEHOLDER_SENTENCE not in exported
    assert (root / "README.md").read_bytes() == (REPO / "README.md").read_bytes()
