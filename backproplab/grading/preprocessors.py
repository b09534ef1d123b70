"""nbgrader preprocessors that `config.configure` inserts into nbgrader's pipelines.

They derive from NbGraderPreprocessor, which is enabled by default (a plain nbconvert
Preprocessor registered by name is silently disabled). Autograde runs, in this order:
``SandboxedExecute`` (in place of nbgrader's Execute: the one run of the student's code, in the
sandbox), nbgrader's own IgnorePattern and LimitOutput, ``JudgeOutcomes`` (the verdicts, decided
here, outside the sandbox), then nbgrader's SaveAutoGrades and AssignLatePenalties, and ``CheckCellMetadata``
(nbgrader's, faster; also among the sanitizing steps before).
"""
from __future__ import annotations

import copy
import functools
import json
import os
import pkgutil
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat.v4 import new_output
from nbgrader import preprocessors as nbgrader_preprocessors
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Int, List, Unicode

from .. import __path__ as LIBRARY_PATH
from ..checks import Verdict
from ..checks.display import MIME_TYPE as CHECK_MIME
from ..checks.display import render_html, render_text
from . import cells
from .judge import judge_notebook, record_verdicts
from .redact import is_hidden_test_source, redact_outputs, secret_lines
from .sandbox import SandboxLimits, protocol, require_sandbox, run_unsandboxed, warm_sandbox
from .sandbox.limits import (
    CELL_OUTPUT_LIMIT,
    MAX_DEADLINE,
    MAX_RESTARTS,
    RECORD_OUTPUT_LIMIT,
    SANDBOX_OUTPUT_LIMIT,
    SUBMISSION_OUTPUT_LIMIT,
    VERIFY_SECONDS,
    WALL_SECONDS_PER_CELL,
)
from .sandbox.protocol import OUTCOMES_MIME, read_report
from .settings import trait
from .store import load_verdicts

SANDBOX_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
               "JUPYTER_RUNTIME_DIR": "/tmp/.runtime", "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.mpl"}
KERNEL_ENV = {"MPLBACKEND": "Agg", "BPLAB_QUIET": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1", "NBGRADER_EXECUTION": "autograde", "PYTHONNOUSERSITE": "1"}
NOT_IN_KERNELS = ("backproplab.grading", "backproplab.cli", "backproplab.publish", "backproplab.selfcheck")
# What each kernel would otherwise import on first use, again and again (measured on lecture 04): its start
# imports the debugger (debugpy, 0.13 s of CPU), torch's backward with an explicit gradient sympy (0.3 s), a decision
# boundary contourpy, the first figure shown the inline backend and PIL's features.
LAZY_IMPORTS = ["ipykernel.debugger", "psutil", "torch.fx.experimental.symbolic_shapes", "contourpy",
                "matplotlib_inline.backend_inline", "PIL.features"]


def default_preload() -> list[str]:
    """What the fork server imports once per sandbox: what the lectures' kernels import."""
    library = [m.name for m in pkgutil.walk_packages(LIBRARY_PATH, "backproplab.")
               if not m.name.startswith(NOT_IN_KERNELS)]
    return ["numpy", "matplotlib.pyplot", "ipywidgets", "IPython.display", "ipykernel.kernelapp", "torch",
            *LAZY_IMPORTS, "backproplab", *library]


def _output_from(raw):
    """The nbformat output that untrusted JSON ``raw`` stands for (not yet validated), or None when it has none."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("output_type")
    if kind == "stream" and raw.get("name") in ("stdout", "stderr") and isinstance(raw.get("text"), str):
        return nbformat.from_dict({"output_type": "stream", "name": raw["name"], "text": raw["text"]})
    if kind in ("display_data", "execute_result") and isinstance(raw.get("data"), dict) \
            and all(isinstance(k, str) for k in raw["data"]):
        extra = {"execution_count": None} if kind == "execute_result" else {}
        return nbformat.from_dict({"output_type": kind, "data": raw["data"], "metadata": raw.get("metadata") or {},
                                   **extra})
    if kind == "error":
        return nbformat.from_dict({"output_type": "error", "ename": str(raw.get("ename", ""))[:200],
                                   "evalue": str(raw.get("evalue", ""))[:2000],
                                   "traceback": [str(line)[:2000] for line in list(raw.get("traceback") or [])[:200]]})
    return None


def _valid_outputs(outputs) -> bool:
    cell = {"cell_type": "code", "id": "outputs", "metadata": {}, "source": "", "execution_count": None,
            "outputs": outputs}
    try:
        nbformat.validate(nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]}))
    except Exception:
        return False
    return True


def clean_outputs(raws) -> list:
    """A cell's nbformat outputs built from untrusted JSON (``raws``), without those that have no valid form.
    One validation for the whole cell; only a cell with an invalid output (a hostile one) is checked output by
    output."""
    outputs = [output for output in map(_output_from, raws) if output is not None]
    if _valid_outputs(outputs):
        return outputs
    return [output for output in outputs if _valid_outputs([output])]


@functools.lru_cache(maxsize=16)
def _source_notebook(path: str, mtime_ns: int):
    """The trusted source notebook, read once per version (SandboxedExecute and JudgeOutcomes both need it)."""
    return nbformat.read(path, as_version=4)


def source_notebook(path: str):
    return copy.deepcopy(_source_notebook(path, os.stat(path).st_mtime_ns))


def _verification_cells(nb, source_path="") -> list[int]:
    """The code cells a verification job runs: setup cells, answer cells and every cell the student wrote
    or changed; never a test cell or a locked one, nor a demonstration cell left as the source has it."""
    lecture_cells = set()
    if source_path:
        for cell in source_notebook(source_path).cells:
            if cell.cell_type == "code" and "setup" not in cell.metadata.get("tags", ()) and not cells.is_solution(cell):
                lecture_cells.add(cell.source)
    chosen = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip() or cells.is_test(cell) or cell.source in lecture_cells:
            continue
        if "setup" in cell.metadata.get("tags", ()) or cells.is_solution(cell) or not cells.grade_id(cell):
            chosen.append(index)
    return chosen


class SandboxedExecute(NbGraderPreprocessor):
    """Autograde: run the notebook's code cells once, in a real kernel inside the grading sandbox.

    Takes the place of nbgrader's Execute. The sandbox (sandbox/host.py) runs
    ``backproplab.grading.sandbox.executor``; this process only reads its JSON lines back (size-capped,
    validated) and kills it at the deadline. ``execution`` in the graded notebook's ``bplab`` metadata says how it
    went: ok | timeout | kernel-died | output-capped | cpu-limit | lost (cpu-limit: the submission spent the
    executor's CPU allowance, e.g. on floods of output). Outputs past
    ``SUBMISSION_OUTPUT_LIMIT`` bytes (all cells together) are dropped: ``output_dropped_bytes``, which flags it.
    """

    seed = Int(0, help="the per-student grading seed (hidden cases)").tag(config=True)
    cell_timeout = trait("cell_timeout")
    memory_mb = trait("memory_mb")
    cpu_seconds = trait("cpu_seconds")
    sandboxed = trait("sandboxed")
    max_restarts = Int(MAX_RESTARTS,
                       help="new kernels after a kernel died in a cell (the deadline still applies)").tag(config=True)
    source_path = Unicode("", help="the trusted source notebook (solutions/): its unchanged demonstration cells "
                                   "are not run again to make the records").tag(config=True)
    preload = List(Unicode(), default_value=default_preload(),
                   help="modules imported once per sandbox, before any submission, by the kernel fork "
                        "server (kernels start by fork)").tag(config=True)

    def preprocess(self, nb, resources):
        code_cells = [[i, c.source] for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
        tests = {i for i, c in enumerate(nb.cells) if cells.is_test(c)}
        request = {"cells": code_cells, "cell_timeout": self.cell_timeout, "cell_output_limit": CELL_OUTPUT_LIMIT,
                   "record_output_limit": RECORD_OUTPUT_LIMIT, "max_restarts": self.max_restarts,
                   "submission_output_limit": SUBMISSION_OUTPUT_LIMIT,
                   "kernel_env": {"BPLAB_GRADING": "1"}, "test_cells": sorted(tests),  # that it is graded, not the seed
                   "isolate": self._limits().isolation() if self.sandboxed else None,
                   "verify": {"cells": _verification_cells(nb, self.source_path), "seconds": VERIFY_SECONDS}}
        deadline = min(MAX_DEADLINE, 30 + VERIFY_SECONDS + len(code_cells) * WALL_SECONDS_PER_CELL + 2 * self.cell_timeout)
        run = self._run(request, deadline)
        report = read_report(run.stdout)
        reached, stray_records = set(), 0
        for reported in report.cells:
            index = reported.index
            if 0 <= index < len(nb.cells) and nb.cells[index].cell_type == "code":
                kept = clean_outputs(reported.outputs)
                stray_records += reported.stray_records  # dropped in the sandbox already
                if index not in tests:  # only a test cell's record counts; one elsewhere is dropped and flagged
                    stray_records += sum(OUTCOMES_MIME in o.get("data", {}) for o in kept)
                    kept = [o for o in kept if OUTCOMES_MIME not in o.get("data", {})]
                nb.cells[index].outputs = kept
                nb.cells[index].execution_count = reported.execution_count
                reached.add(index)
        for index, _ in code_cells:
            if index not in reached:  # the run ended before this cell (deadline, or too many dead kernels)
                nb.cells[index].outputs = [new_output("error", ename="NotRun", evalue="the cell was not run",
                                                      traceback=["NotRun: the grader's run ended before this cell "
                                                                 "(time limit, or the kernel kept dying)"])]
        status = ("timeout" if run.timed_out else "output-capped" if run.output_capped else
                  "cpu-limit" if report.executor_cpu_spent else "kernel-died" if report.restarts else
                  "ok" if report.done else "lost")
        nb.metadata["bplab"] = {"execution": status, "restarts": report.restarts, "seconds": run.seconds,
                                "output_dropped_bytes": report.output_dropped_bytes, "cpu_seconds": report.cpu_seconds,
                                "kernel_start_seconds": report.kernel_start_seconds,
                                "verify_seconds": report.verify_seconds, "verify_cpu_seconds": report.verify_cpu_seconds,
                                "cells_cpu_seconds": round(report.cells_cpu_seconds, 3),
                                "sandbox_log": run.stderr[-2000:], "records_outside_tests": stray_records}
        return nb, resources

    def _limits(self) -> SandboxLimits:
        return SandboxLimits(memory_mb=self.memory_mb, cpu_seconds=self.cpu_seconds)

    def _run(self, request, deadline):
        limits = self._limits()
        argv = [sys.executable, "-I", "-m", "backproplab.grading.sandbox.executor", "--preload", ",".join(self.preload)]
        if self.sandboxed:
            require_sandbox()
            sandbox = warm_sandbox([*argv, "--sweep"], limits=limits, env={**SANDBOX_ENV, **KERNEL_ENV})
            return sandbox.run(request, deadline=deadline, max_output=SANDBOX_OUTPUT_LIMIT,
                               private={"hidden_seed": self.seed})
        job = Path(tempfile.mkdtemp(prefix="bplab-job-"))
        try:
            (job / "request.json").write_text(json.dumps(request))
            folders = {"HOME": str(job), "TMPDIR": str(job), "JUPYTER_RUNTIME_DIR": str(job / ".runtime"),
                       "IPYTHONDIR": str(job / ".ipython"), "MPLCONFIGDIR": str(job / ".mpl")}
            return run_unsandboxed(argv, job_dir=job, limits=limits, env={**SANDBOX_ENV, **KERNEL_ENV, **folders},
                                   deadline=deadline, max_output=SANDBOX_OUTPUT_LIMIT,
                                   stdin_data=protocol.line(protocol.job(1, str(job / "request.json"), hidden_seed=self.seed)))
        finally:
            shutil.rmtree(job, ignore_errors=True)


def verdict_outputs(verdict: Verdict) -> list:
    """A test cell's outputs in the graded notebook: the verdict (HTML with the heatmap), and an
    error when it failed, which is what nbgrader's SaveAutoGrades scores 0."""
    outputs = [new_output("display_data", data={CHECK_MIME: verdict.to_json(),
                                                "text/html": render_html(verdict), "text/plain": render_text(verdict)})]
    if not verdict.passed:
        outputs.append(new_output("error", ename="CheckFailed", evalue=f"{verdict.exercise}: {verdict.diagnosis}",
                                  traceback=[f"CheckFailed [{verdict.diagnosis}]: {verdict.exercise} did not pass."]))
    return outputs


class JudgeOutcomes(NbGraderPreprocessor):
    """Autograde: judge each test cell's outcome record (judge.py) and put the verdict in its place.

    Runs outside the sandbox, after execution. Every test cell's outputs become the verdict
    (and an error when it failed), so nbgrader's SaveAutoGrades writes exactly the judge's score;
    the verdicts go to `bplab grade`'s worker in the notebook's metadata (``judge.record_verdicts``).
    """

    seed = Int(0, help="the per-student grading seed (hidden cases)").tag(config=True)
    source_path = Unicode(help="the trusted source notebook (solutions/)").tag(config=True)
    credit_dependents = trait("credit_dependents")
    hint_rung = trait("hint_rung")

    def preprocess(self, nb, resources):
        source = source_notebook(self.source_path)
        verdicts = judge_notebook(source, nb, seed=self.seed, credit_dependents=self.credit_dependents,
                                  hint_rung=self.hint_rung)
        by_id = {v.grade_id: v for v in verdicts}
        for cell in nb.cells:
            if cells.grade_id(cell) in by_id and cell.cell_type == "code":
                cell.outputs = verdict_outputs(by_id[cells.grade_id(cell)])
        record_verdicts(nb, verdicts)
        return nb, resources


class CheckCellMetadata(nbgrader_preprocessors.CheckCellMetadata):
    """nbgrader's check of the cells' nbgrader metadata, unchanged, with its JSON schema compiled once per process:
    nbgrader's validator calls ``jsonschema.validate`` for each cell, which first checks the schema itself (0.1 CPU
    seconds a submission, and autograde checks twice)."""

    def preprocess(self, nb, resources):
        from nbgrader.nbgraderformat import common

        common.jsonschema, plain = _COMPILED_SCHEMAS, common.jsonschema
        try:
            return super().preprocess(nb, resources)
        finally:
            common.jsonschema = plain


class _CompiledSchemas:
    """``jsonschema.validate(instance, schema)`` with each schema's validator built once."""

    def __init__(self):
        self._validators = {}

    def validate(self, instance, schema):
        import jsonschema

        if id(schema) not in self._validators:  # the schema is kept beside its validator, so its id stays its own
            validator_class = jsonschema.validators.validator_for(schema)
            validator_class.check_schema(schema)
            self._validators[id(schema)] = (schema, validator_class(schema))
        self._validators[id(schema)][1].validate(instance)


_COMPILED_SCHEMAS = _CompiledSchemas()


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback: hidden test cells show the outside verdict instead of their source and
    outputs, and no output anywhere repeats a line of hidden-test source (an answer cell
    could have printed it)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            hidden_ids = {c.name for c in source_nb.source_cells if is_hidden_test_source(c.source or "")}
            hidden_sources = [c.source for c in source_nb.source_cells if c.name in hidden_ids]
        visible = [cell.source for cell in nb.cells
                   if cells.grade_id(cell) not in hidden_ids]
        lines = secret_lines(hidden_sources, visible)
        db_path = info["db_url"].replace("sqlite:///", "", 1)
        verdicts = {v["grade_id"]: v for v in load_verdicts(db_path, info["student"], info["assignment"])}
        for cell in nb.cells:
            grade_id = cells.grade_id(cell)
            if grade_id in hidden_ids:
                cell.source = "# Hidden test: its code is not shown."
                if cell.cell_type == "code":
                    cell.outputs = [new_output("stream", name="stdout", text=_verdict_text(verdicts.get(grade_id)))]
            else:
                if is_hidden_test_source(cell.source):  # a student pasted a hidden block marker
                    cell.source = "\n".join(l for l in cell.source.splitlines() if l.strip() not in lines)
                redact_outputs(cell, lines)
        return nb, resources


def _verdict_text(verdict):
    if verdict is None:
        return "Hidden test: not graded.\n"
    if verdict["passed"]:
        return f"Hidden test of {verdict['exercise']}: passed.\n"
    return f"Hidden test of {verdict['exercise']}: failed ({verdict['diagnosis']}). {verdict['message']}\n"
