"""Inspecting and executing lecture notebooks in tests (generic: every lecture may use it).

Conventions come from docs/ARCHITECTURE.md, "Notebook conventions": answer cells carry nbgrader
``solution: true, grade: false`` and ``grade_id`` = the exercise; test cells carry ``grade: true``,
points, and call ``check("<exercise>", <exercise>[, hidden=True])``; ``check()`` publishes its
verdict as display data of MIME type ``CHECK_MIME``.

API
  REPO                                   the repository root (Path)
  solution_path(lecture), course_path(lecture)   solutions/<id>/*.ipynb, course/<id>/*.ipynb
  read(path) -> NotebookNode
  nbgrader_meta(cell) -> dict            ({} for cells without nbgrader metadata)
  answer_cells(nb), grade_cells(nb)      lists of (index, cell)
  check_call(source) -> (exercise, hidden) | None   the check() call in a test cell's source
  exercises_with_tests(nb) -> {exercise: {"visible": [grade_id...], "hidden": [grade_id...]}}
  answer_dependent_cells(nb) -> set of indices of non-graded code cells that use an exercise's
                                 function, directly or through names such cells define
  notebook_client(nb, timeout=, allow_errors=, cwd=) -> an nbclient client that never stalls on a reply
  execute(nb, *, allow_errors=False, timeout=120, cwd=None) -> (executed nb, seconds)
                                 real kernel via nbclient, with BPLAB_QUIET=1 and MPLBACKEND=Agg
  execute_with_peak_rss(nb, **kw) -> (executed nb, seconds, kernel peak RSS in MiB)
  error_outputs(cell) -> list of "error" outputs
  check_results(cell) -> list of dicts published by check() in that cell
  widget_outputs(nb) -> list of outputs saved in the executed notebook's Output widgets
                                 (what ipywidgets.interact/interactive callbacks printed or raised)
  function_def(source, name), signature(def node) -> "(a, b=1)"   an answer's def and its parameters
  setup_cells(nb), code_text(nb), markdown_text(nb)
  executed_once(tmp_path_factory, lecture, "solution"|"course") -> (executed nb, seconds, peak MiB)
                                 each notebook runs once per test run, shared across modules and workers
"""
from __future__ import annotations

import ast
import os
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
CHECK_MIME = "application/vnd.backproplab.check+json"
KERNEL_ENV = {"BPLAB_QUIET": "1", "MPLBACKEND": "Agg"}


def _only_notebook(folder: Path) -> Path:
    notebooks = sorted(p for p in folder.glob("*.ipynb"))
    assert len(notebooks) == 1, f"expected exactly one notebook in {folder}, found {notebooks}"
    return notebooks[0]


def solution_path(lecture: str) -> Path:
    """The instructor source solutions/<lecture>/<topic>.ipynb."""
    return _only_notebook(REPO / "solutions" / lecture)


def course_path(lecture: str) -> Path:
    """The released student notebook course/<lecture>/<topic>.ipynb."""
    return _only_notebook(REPO / "course" / lecture)


def read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def answer_cells(nb):
    """(index, cell) of the auto-graded answer cells (code, solution=true, grade=false)."""
    return [(i, c) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and nbgrader_meta(c).get("solution") and not nbgrader_meta(c).get("grade")]


def grade_cells(nb):
    """(index, cell) of the auto-graded test cells (code, grade=true, solution=false)."""
    return [(i, c) for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]


def check_call(source: str):
    """(exercise, hidden) of the ``check("<exercise>", ...)`` call in ``source``, or None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value is True
                         for k in node.keywords)
            return node.args[0].value, hidden
    return None


def exercises_with_tests(nb):
    """{exercise: {"visible": [grade_id, ...], "hidden": [grade_id, ...]}} from the test cells' check() calls."""
    found = {}
    for _, cell in grade_cells(nb):
        call = check_call(cell.source)
        if call is None:
            continue
        exercise, hidden = call
        entry = found.setdefault(exercise, {"visible": [], "hidden": []})
        entry["hidden" if hidden else "visible"].append(nbgrader_meta(cell).get("grade_id"))
    return found


def _python_source(source: str) -> str:
    # Cells may hold IPython syntax (%magics, !shell); translate it to plain Python first.
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _global_loads(source):
    """Names a cell reads from the notebook's global namespace (scope-aware: a function's own
    arguments and locals do not count)."""
    import symtable

    found = set()

    def visit(table):
        for symbol in table.get_symbols():
            if symbol.is_referenced() and (table.get_type() == "module" or symbol.is_global()):
                found.add(symbol.get_name())
        for child in table.get_children():
            visit(child)

    visit(symtable.symtable(source, "<cell>", "exec"))
    return found


def _global_stores(source):
    """Names a cell binds in the notebook's global namespace (assignments, defs, imports)."""
    import symtable

    table = symtable.symtable(source, "<cell>", "exec")
    return {symbol.get_name() for symbol in table.get_symbols()
            if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace()}


def answer_dependent_cells(nb):
    """Indices of ungraded code cells that call an exercise's function, directly or through
    names (variables, functions) that another such cell defined. In the student version these
    are the cells that may fail until the student has answered."""
    tainted = {nbgrader_meta(cell).get("grade_id") for _, cell in answer_cells(nb)}
    graded = {i for i, _ in answer_cells(nb)} | {i for i, _ in grade_cells(nb)}
    dependent = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or index in graded:
            continue
        source = _python_source(cell.source)
        if _global_loads(source) & tainted:
            dependent.add(index)
            tainted |= _global_stores(source)
    return dependent


def notebook_client(nb, *, timeout, allow_errors, cwd):
    """An nbclient client for ``nb`` (python3 kernel, run in ``cwd``) that finds each reply within a second.

    nbclient waits for a cell's execute_reply with one zmq poll as long as the cell timeout. That poll sometimes
    misses its wake-up (jupyter/nbclient#312) and returns only when the timeout fires, with the reply long there:
    a stall of the whole timeout. ``kernel_polling.bound_missed_wakeups`` makes the polls one second long."""
    from nbclient import NotebookClient

    from backproplab.kernel_polling import bound_missed_wakeups

    bound_missed_wakeups()
    return NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                          resources={"metadata": {"path": str(cwd)}})


def execute(nb, *, allow_errors=False, timeout=120, cwd=None):
    """Run ``nb`` (a NotebookNode or a path) top to bottom in a fresh python3 kernel.

    Returns (the executed notebook, wall-clock seconds). The kernel gets BPLAB_QUIET=1 and
    MPLBACKEND=Agg. ``cwd`` defaults to the notebook's folder for a path, else REPO.
    """
    if not isinstance(nb, nbformat.NotebookNode):
        cwd = cwd or Path(nb).parent
        nb = read(nb)
    client = notebook_client(nb, timeout=timeout, allow_errors=allow_errors, cwd=cwd or REPO)
    started = time.perf_counter()
    client.execute(env={**os.environ, **KERNEL_ENV})
    return nb, time.perf_counter() - started


def error_outputs(cell):
    return [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]


def check_results(cell):
    """The verdicts check() published in ``cell`` (dicts with exercise, hidden, passed, diagnosis, ...)."""
    return [out["data"][CHECK_MIME] for out in cell.get("outputs", [])
            if out.get("output_type") in ("display_data", "execute_result") and CHECK_MIME in out.get("data", {})]


def widget_outputs(nb):
    """Outputs captured by Output widgets (e.g. an ``interactive`` explorer's first draw), from
    the widget state nbclient stores in an executed notebook's metadata."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    return [out for model in state.values() if model.get("model_name") == "OutputModel"
            for out in model.get("state", {}).get("outputs", [])]


def dashboard_problems(nb) -> list[str]:
    """What is wrong with the per-layer training dashboard's cell (backproplab.dashboard) in an executed notebook:
    no such cell, no widget shown, an error, or no figure drawn into an Output widget."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "training_dashboard(" in c.source
             and "import" not in c.source.splitlines()[-1]]
    if len(cells) != 1:
        return [f"{len(cells)} cells call training_dashboard"]
    outputs = cells[0].get("outputs", [])
    problems = [f"error: {o.get('evalue')}" for o in outputs if o["output_type"] == "error"]
    if not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs):
        problems.append("the cell shows no widget")
    if not any("image/png" in o.get("data", {}) for o in widget_outputs(nb)):
        problems.append("no figure drawn in an Output widget")
    return problems


_PEAK_RSS_PROBE = ("import resource as _bplab_resource\n"
                   "print('bplab-peak-rss-kb', _bplab_resource.getrusage(_bplab_resource.RUSAGE_SELF).ru_maxrss)")


def execute_with_peak_rss(nb, **kwargs):
    """Like ``execute``, and also measure the kernel's peak resident memory.

    A probe cell appended at the end reads the kernel's own ``ru_maxrss``; it is removed
    again before returning. Returns (the executed notebook, seconds, peak RSS in MiB).
    """
    if not isinstance(nb, nbformat.NotebookNode):
        kwargs.setdefault("cwd", Path(nb).parent)
        nb = read(nb)
    nb.cells.append(nbformat.v4.new_code_cell(_PEAK_RSS_PROBE))
    nb, seconds = execute(nb, **kwargs)
    probe = nb.cells.pop()
    text = "".join(out.get("text", "") for out in probe.outputs if out.get("output_type") == "stream")
    assert "bplab-peak-rss-kb" in text, f"the memory probe did not run: {probe.outputs}"
    return nb, seconds, int(text.split()[-1]) / 1024  # Linux reports ru_maxrss in KiB


# ---------------------------------------------------------------------------------------
# Source inspection shared by the lecture tests.

def function_def(source: str, name: str):
    """The top-level ``def name(...)`` node in ``source``, or None."""
    return next((node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == name),
                None)


def signature(node) -> str:
    """A def's parameters as DESIGN.md writes them, e.g. "(f, x, h=1e-05)"."""
    names = [a.arg for a in node.args.args]
    defaults = [ast.literal_eval(d) for d in node.args.defaults]
    split = len(names) - len(defaults)
    return "(" + ", ".join(names[:split] + [f"{n}={d!r}" for n, d in zip(names[split:], defaults)]) + ")"


def setup_cells(nb):
    """The code cells tagged ``setup``."""
    return [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]


def code_text(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def markdown_text(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


# ---------------------------------------------------------------------------------------
# Executing each notebook once per test run, shared by all test modules and xdist workers.

def shared_run_folder(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this pytest run (pytest's own temporary root)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def executed_once(tmp_path_factory, lecture: str, version: str, *, timeout=300):
    """(executed notebook, seconds, the kernel's peak RSS in MiB) of ``version`` ("solution" or
    "course") of ``lecture``, executed once per test run whichever module or worker asks first.

    The course version runs with ``allow_errors`` (its test cells fail until answered). The
    result is cached on disk under the run's temporary root, keyed by the notebook's content,
    and guarded by a file lock so that a second worker waits instead of running it again.
    """
    import fcntl
    import hashlib
    import json

    path = solution_path(lecture) if version == "solution" else course_path(lecture)
    key = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    folder = shared_run_folder(tmp_path_factory) / "executed-notebooks"
    folder.mkdir(exist_ok=True)
    stem = folder / f"{lecture}-{version}-{key}"
    with open(f"{stem}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not Path(f"{stem}.json").exists():
            nb, seconds, peak_mib = execute_with_peak_rss(path, allow_errors=version != "solution", timeout=timeout)
            nbformat.write(nb, f"{stem}.ipynb")
            Path(f"{stem}.json").write_text(json.dumps({"seconds": seconds, "peak_mib": peak_mib}))
    measured = json.loads(Path(f"{stem}.json").read_text())
    return read(f"{stem}.ipynb"), measured["seconds"], measured["peak_mib"]


def cell_printed_text(cell) -> str:
    """What a code cell printed (its stream outputs, joined)."""
    return "".join(out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream")


def printed_text(nb) -> str:
    """What the notebook's code cells printed, in order."""
    return "".join(cell_printed_text(c) for c in nb.cells if c.cell_type == "code")
