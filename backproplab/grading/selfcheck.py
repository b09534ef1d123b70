"""`bplab check NOTEBOOK`: the student's self-check. Runs the notebook top to bottom in a fresh
kernel and collects each check's verdict from its ``application/vnd.backproplab.check+json``
display data (published by ``check()``)."""
from __future__ import annotations

from pathlib import Path

from .notebooks import read_notebook

CHECK_MIME = "application/vnd.backproplab.check+json"


def run_self_check(path, *, timeout=120, kernel_name=None):
    """Execute the notebook at ``path`` in a fresh kernel and return its check verdicts.

    Returns:
    - list of dicts {grade_id, exercise, hidden, passed, diagnosis, message, seed}, one per test
      cell that ran a check, plus one {passed: False, diagnosis: "crash"} entry per test cell that
      failed without publishing a verdict (e.g. the exercise's function is not defined).
    """
    from nbclient import NotebookClient

    nb = read_notebook(path)
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name=kernel_name or "",
                            resources={"metadata": {"path": str(Path(path).resolve().parent)}})
    if not kernel_name:
        client.kernel_name = nb.metadata.get("kernelspec", {}).get("name", "python3")
    client.execute()
    verdicts = []
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type != "code":
            continue
        published = [o.data[CHECK_MIME] for o in cell.get("outputs", [])
                     if o.output_type in ("display_data", "execute_result") and CHECK_MIME in o.get("data", {})]
        for payload in published:
            verdicts.append({"grade_id": grade_id, **{k: payload.get(k) for k in
                             ("exercise", "hidden", "passed", "diagnosis", "message", "seed")}})
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not published and errors and cell.metadata.get("nbgrader", {}).get("grade"):
            exercise = (grade_id or "").removeprefix("test_").removesuffix("_hidden")
            verdicts.append({"grade_id": grade_id, "exercise": exercise, "hidden": False, "passed": False,
                             "diagnosis": "not-implemented" if errors[0].ename == "NotImplementedError" else "crash",
                             "message": f"{errors[0].ename}: {errors[0].evalue}", "seed": None})
    return verdicts


def format_self_check(verdicts):
    """Return the verdicts as terminal lines (str)."""
    if not verdicts:
        return "no checks ran (is this a Backprop Lab notebook?)"
    lines = []
    for v in verdicts:
        mark = "PASS" if v["passed"] else "FAIL"
        what = v["exercise"] + (" (hidden)" if v["hidden"] else "")
        lines.append(f"{mark}  {what:<32} {'' if v['passed'] else v['diagnosis'] or ''}")
        if not v["passed"]:
            lines.append(f"      {v['message']}")
    return "\n".join(lines)
