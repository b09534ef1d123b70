"""`bplab check NOTEBOOK`: the student's self-check. Runs the notebook top to bottom in a fresh
kernel and collects each check's verdict from its display data (``checks.display.MIME_TYPE``, published by
``check()``). The kernel is driven as the grader's executor drives its own
(kernel_client.py), without the sandbox: this is the student's own machine."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .checks.display import MIME_TYPE as CHECK_MIME
from .grading.judge import answer_cell_error
from .grading.notebooks import read_notebook
from .kernel_client import CellRecorder, until_idle


def run_self_check(path, *, timeout=120, kernel_name=None):
    """Execute the notebook at ``path`` in a fresh kernel and return its check verdicts.

    Returns:
    - list of dicts {grade_id, exercise, hidden, passed, diagnosis, message, seed}, one per test
      cell that ran a check, plus one {passed: False, diagnosis: "crash"} entry per test cell that
      failed without publishing a verdict (e.g. the exercise's function is not defined).
    """
    nb = read_notebook(path)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    outputs = execute_cells([cell.source for cell in cells], Path(path).resolve().parent, timeout=timeout,
                            kernel_name=kernel_name or nb.metadata.get("kernelspec", {}).get("name", "python3"))
    verdicts = []
    answers = {cell.metadata.get("nbgrader", {}).get("grade_id"): {"outputs": cell_outputs}
               for cell, cell_outputs in zip(cells, outputs)}
    for cell, cell_outputs in zip(cells, outputs):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        published = [o["data"][CHECK_MIME] for o in cell_outputs
                     if o["output_type"] in ("display_data", "execute_result") and CHECK_MIME in o.get("data", {})]
        for payload in published:
            verdicts.append({"grade_id": grade_id, **{k: payload.get(k) for k in
                             ("exercise", "hidden", "passed", "diagnosis", "message", "seed")}})
        errors = [o for o in cell_outputs if o["output_type"] == "error"]
        if not published and errors and cell.metadata.get("nbgrader", {}).get("grade"):
            exercise = (grade_id or "").removeprefix("test_").removesuffix("_hidden")
            broken = answer_cell_error(exercise, answers.get(exercise)) if errors[0]["ename"] == "NameError" else None
            diagnosis, message = broken or ("not-implemented" if errors[0]["ename"] == "NotImplementedError" else "crash",
                                            f"{errors[0]['ename']}: {errors[0]['evalue']}")
            verdicts.append({"grade_id": grade_id, "exercise": exercise, "hidden": False, "passed": False,
                             "diagnosis": diagnosis, "message": message, "seed": None})
    return verdicts


def execute_cells(sources, cwd, *, timeout, kernel_name="python3", env=None):
    """Run the code ``sources`` (list of str) in order in one new kernel started in ``cwd`` (with ``env``
    added to this process's environment); return each cell's nbformat outputs (list of dicts).
    A cell that outruns ``timeout`` seconds is interrupted; after one that kills the kernel, the rest run
    in a new kernel."""
    from jupyter_client.manager import KernelManager

    with tempfile.TemporaryDirectory(prefix="bplab-check-") as sockets:
        # IPC sockets: no TCP port for other local users, and no warning from ipykernel about one
        manager = KernelManager(kernel_name=kernel_name, transport="ipc", ip=str(Path(sockets) / "kernel"))
        manager.start_kernel(cwd=str(cwd), env={**os.environ, **(env or {})})
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            return [_run_cell(manager, client, source, timeout) for source in sources]
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def _run_cell(manager, client, source, timeout):
    recorder = CellRecorder()
    msg_id = client.execute(source, allow_stdin=False, stop_on_error=False)
    ended = until_idle(client, msg_id, timeout, recorder.add, manager.is_alive)
    if ended == "died":
        recorder.add({"msg_type": "error", "content": {"ename": "DeadKernelError",
                                                       "evalue": "the kernel died while running this cell"}})
        _restart(manager, client)
    elif ended == "timeout":
        recorder.add({"msg_type": "error", "content": {"ename": "CellTimeoutError",
                                                       "evalue": f"the cell ran longer than {timeout} s"}})
        manager.interrupt_kernel()
        if until_idle(client, msg_id, 10, lambda msg: None, manager.is_alive) != "idle":  # deaf to SIGINT
            _restart(manager, client)
    return recorder.outputs


def _restart(manager, client):
    manager.restart_kernel(now=True)
    client.wait_for_ready(timeout=60)


def format_self_check(verdicts):
    """Return the verdicts as terminal lines (str)."""
    if not verdicts:
        return "no checks ran (is this a Backprop Lab notebook?)"
    lines = []
    for v in verdicts:
        mark = "PASS" if v["passed"] else "FAIL"
        what = v["exercise"] + (" (hidden)" if v["hidden"] else "")
        lines.append(f"{mark}  {what:<32} {'' if v['passed'] else v['diagnosis'] or ''}")
        if not v["passed"]:  # the observation, then each rung of the hint ladder on a line of its own
            message = v["message"] or ""
            for label in ("Hint:", "Step:", "Formula:"):
                message = message.replace(f" {label} ", f"\n      {label} ", 1)
            lines.append(f"      {message}")
    return "\n".join(lines)
