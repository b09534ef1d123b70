"""Integrity of what the grader relies on: the lecture notebooks' nbgrader metadata, the
sandbox kernel (limits, scrubbed env, hidden paths), and the preprocessors that keep warnings
from costing points and hidden tests out of feedback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_output

from backproplab.grading.factory import visible_test_cell
from backproplab.grading.grade import SANDBOX_LAUNCHER
from backproplab.grading.notebooks import has_outputs, read_notebook
from backproplab.grading.preprocessors import StderrIsNotFailure
from backproplab.grading.redact import is_hidden_test_source

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "solutions").glob("*/*.ipynb"))


def _graded(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_grade_ids_unique_and_tests_have_points(path):
    """Are grade ids unique, and does every test cell carry points > 0 and follow the test_<exercise> naming?"""
    nb = read_notebook(path)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    for cell in _graded(nb):
        meta = cell.metadata["nbgrader"]
        assert float(meta.get("points", 0)) > 0, meta["grade_id"]
        if cell.cell_type == "code":
            assert meta["grade_id"].startswith("test_") and meta.get("locked"), meta["grade_id"]
            assert meta["grade_id"].endswith("_hidden") == is_hidden_test_source(cell.source), meta["grade_id"]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_source_and_course_notebooks_have_no_outputs(path):
    """Are the solutions notebook and its committed student version free of outputs?"""
    assert not has_outputs(read_notebook(path))
    course = REPO / "course" / path.parent.name / path.name
    if course.exists():
        assert not has_outputs(read_notebook(course))
        assert "BEGIN HIDDEN TESTS" not in course.read_text()


def _sandboxed(code, tmp_path, *extra):
    """Run ``code`` in a Python process set up by the sandbox launcher's functions; return its stdout."""
    script = (f"import runpy, sys\nns = runpy.run_path({str(SANDBOX_LAUNCHER)!r})\n"
              f"args = {list(extra)!r}\n"
              "hide = [a for i, a in enumerate(args) if i and args[i - 1] == '--hide']\n"
              "keep = next((args[i + 1] for i, a in enumerate(args) if a == '--keep'), None)\n"
              "ns['hide_paths'](hide, keep) if hide else None\n"
              "ns['scrub_environment'](sys.argv[1])\nns['apply_limits'](512, 20)\n" + code)
    proc = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "BPLAB_TEST_SECRET": "do-not-leak"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_sandbox_hides_paths_and_keeps_own_folder(tmp_path):
    """Does the sandbox hide the instructor's folders (even after an unmount attempt) but keep the student's own?"""
    secret = tmp_path / "instructor"
    secret.mkdir()
    (secret / "gradebook.db").write_text("hidden tests")
    batch = tmp_path / "batch"
    own = batch / "me"
    own.mkdir(parents=True)
    (batch / "other-student").mkdir()
    (own / "mine.txt").write_text("mine")
    code = ("import ctypes, os\n"
            f"libc = ctypes.CDLL(None, use_errno=True)\nlibc.umount2({str(secret).encode()!r}, 2)\n"
            f"print(sorted(os.listdir({str(secret)!r})), sorted(os.listdir({str(batch)!r})), "
            f"open({str(own / 'mine.txt')!r}).read())\n")
    out = _sandboxed(code, own, "--hide", str(secret), "--hide", str(batch), "--keep", str(own))
    assert out.strip() == "[] ['me'] mine"


def test_sandbox_scrubs_environment_and_limits_memory(tmp_path):
    """Is the host environment gone and a large allocation refused by the memory limit?"""
    code = ("import os\nprint('BPLAB_TEST_SECRET' in os.environ, os.environ['HOME'])\n"
            "try:\n    bytearray(2 << 30)\nexcept MemoryError:\n    print('MemoryError')\n")
    lines = _sandboxed(code, tmp_path).split("\n")
    assert lines[0] == f"False {tmp_path}" and lines[1] == "MemoryError"


@pytest.mark.slow
def test_sandbox_memory_limit_still_imports_torch(tmp_path):
    """Does torch still import (and backprop) under the kernel's default memory limit?"""
    from backproplab.grading.config import KERNEL_MEMORY_MB
    script = (f"import runpy\nns = runpy.run_path({str(SANDBOX_LAUNCHER)!r})\nns['apply_limits']({KERNEL_MEMORY_MB}, 60)\n"
              "import torch\nx = torch.ones(3, dtype=torch.float64, requires_grad=True)\n(x * x).sum().backward()\n"
              "print(x.grad.tolist())")
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "[2.0, 2.0, 2.0]", proc.stderr


def test_stderr_in_test_cell_does_not_zero_it():
    """Does a warning on stderr in a test cell leave nbgrader's in-kernel grade at full points?"""
    from nbgrader.utils import determine_grade
    cell = visible_test_cell("double", points=2)
    cell.outputs = [new_output("stream", name="stderr", text="UserWarning: careful\n")]
    assert determine_grade(cell)[0] == 0  # stock nbgrader's behaviour, the reason for the preprocessor
    cell, _ = StderrIsNotFailure().preprocess_cell(cell, {}, 0)
    assert determine_grade(cell)[0] == 2
    cell.outputs.append(new_output("error", ename="AssertionError", evalue="", traceback=[]))
    assert determine_grade(cell)[0] == 0  # errors still count


def test_pipeline_preprocessors_are_enabled_when_registered_by_name():
    """Do our preprocessors, imported by name from the config as nbgrader does, act when called
    (nbconvert disables plain preprocessors by default)?"""
    from traitlets.config import Config
    from traitlets.utils.importstring import import_item
    from backproplab.grading.config import configure
    from backproplab.grading.factory import build_notebook
    config = configure(Config())
    names = [n for n in config.Autograde.autograde_preprocessors + config.GenerateFeedback.preprocessors
             if n.startswith("backproplab.")]
    assert len(names) == 2 and all(import_item(n)().enabled for n in names)
    cell = visible_test_cell("double")
    cell.outputs = [new_output("stream", name="stderr", text="warning\n")]
    nb, _ = import_item(names[0])()(build_notebook([cell]), {})
    assert nb.cells[0].outputs[0].name == "stdout"
