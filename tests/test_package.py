"""Package-level promises: importing is light, the CLI is installed, the layout matches DESIGN.md."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

import backproplab

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_import_backproplab_leaves_torch_unimported():
    """Does `import backproplab` (and every library module) avoid importing torch?"""
    code = (
        "import sys, importlib, pkgutil, backproplab\n"
        "skip = ('backproplab.torch_reference', 'backproplab.cli')\n"
        "for mod in pkgutil.walk_packages(backproplab.__path__, 'backproplab.'):\n"
        "    if mod.name.startswith(skip) or '.grading' in mod.name or '.samples' in mod.name:\n"
        "        continue\n"
        "    importlib.import_module(mod.name)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lecture_ids_match_design():
    """Is backproplab.LECTURES (the one list) the lecture ids DESIGN.md names, in order?"""
    design = (ROOT / "docs" / "DESIGN.md").read_text()
    sentence = design[design.index("The lecture ids are"):design.index("They are listed once")]
    named = re.findall(r"\d\d-[a-z-]+[a-z]", sentence)
    assert backproplab.LECTURES == tuple(named) and len(named) == 9


@pytest.mark.slow
def test_bplab_console_script_is_installed():
    """Is the `bplab` console script on the venv's PATH and does it answer --help?"""
    bplab = Path(sys.executable).with_name("bplab")
    assert bplab.exists()
    result = subprocess.run([str(bplab), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "usage" in result.stdout.lower()


def test_torch_is_pinned_to_the_cpu_wheel():
    """Does pyproject pin torch exactly, so no resolver can pull a CUDA build?"""
    text = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.13.0"' in text
    assert "torch==2.13.0" in (ROOT / "Makefile").read_text()


def test_every_diagnosis_id_is_in_the_design_contract():
    """Is every diagnosis id the checks can report listed in DESIGN.md (instructors count them)?"""
    from backproplab.checks.diagnoses import DIAGNOSES

    design = (ROOT / "docs" / "DESIGN.md").read_text()
    missing = [d for d in DIAGNOSES if f"`{d}`" not in design]
    assert not missing, f"add these ids to docs/DESIGN.md: {missing}"


@pytest.mark.slow
def test_make_checks_loadgroup_keeps_a_group_on_one_worker(tmp_path):
    """Does `--dist loadgroup` (make check) run the tests of one xdist_group on one worker? Some pytest and
    pytest-xdist pairs silently spread them (pytest-dev/pytest-xdist#1386): pyproject pins pytest below 9.2."""
    (tmp_path / "test_grouped.py").write_text(
        "import os, pathlib, pytest\n"
        "@pytest.mark.xdist_group('together')\n"
        "@pytest.mark.parametrize('i', range(8))\n"
        "def test_one(i):\n"
        "    pathlib.Path(f\"ran-on-{os.environ['PYTEST_XDIST_WORKER']}\").touch()\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                          "-q", "test_grouped.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    workers = sorted(path.name for path in tmp_path.glob("ran-on-*"))
    assert len(workers) == 1, f"one xdist_group ran on {workers}: see pyproject.toml's pin of pytest"
