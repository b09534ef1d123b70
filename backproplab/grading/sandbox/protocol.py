"""What the grader's trusted side and the sandbox's inside agree on, and where they meet: standard library only.

The host side (host.py, preprocessors.SandboxedExecute, the judge) and the inside (executor.py,
verification.py, verification_job.py, forkserver.py) import this module, and nothing of each other
(tests/test_import_structure.py). Nothing here runs student code. The byte caps are limits.py's.

**The executor's job protocol** (host and executor; JSON, one message a line):

* host to executor, on stdin, one ``job`` line per submission; the hidden seed travels only there, never in
  the request file, which the kernels could read;
* the request file the line names: {"cells": [[index, source], ...], "test_cells": [index, ...],
  "cell_timeout": s, "max_restarts": n, "kernel_env": {...}, "isolate": {...} or null (no sandbox),
  "verify": {"cells": [index, ...], "seconds": s}, "cell_output_limit", "record_output_limit",
  "submission_output_limit": bytes, optionally "executor_cpu_seconds": s below the default allowance};
* executor to host, on stdout: ``READY`` once; per job ``started``, one line per executed cell ({"index",
  "execution_count", "outputs", "stray_records"}, read as a ``CellLine``, and "status", ok | error | timeout |
  kernel-died, "seconds" and "cpu_seconds", for the log and the profile),
  {"verify_seconds": s, "verify_cpu_seconds": s} once the verification jobs are done, and ``done``
  (``Report``'s facts; "recycle": true asks for a new sandbox) or ``retry`` (a fork server failed twice: no
  fault of the submission).
  The executor shares the sandbox with student code: ``read_report`` takes every line as untrusted data.

**Outcome records** (verification job, executor, judge): a test cell's display_data output under
``OUTCOMES_MIME`` holding {"exercise", "hidden", "outcomes": [Outcome data, ...]} and, from a with_reference
job, "with_reference": {"exercises", "outcomes"}; or an error output saying why the call made none.

**The verification job's socket** (job and executor, both inside): the job sends ``record`` messages
({"record": position, "outcomes": [...]} or {"record": position, "error": [ename, evalue]}) and ``DONE``, and
asks questions ({"ask": "fixture", "call": position, "case": index, "args", "kwargs"}: codec values); each
question gets one reply line, {"value": codec value} or {"error": why}.

**Test cells**: ``check_calls`` reads a test cell's ``check(...)`` calls the same way for the executor (which
calls to make) and the judge (which verdicts to give).
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field

OUTCOMES_MIME = "application/vnd.backproplab.outcomes+json"

READY = {"ready": True}
DONE = {"done": True}


def line(message: dict) -> bytes:
    """``message`` as one line of the protocol."""
    return json.dumps(message).encode() + b"\n"


def read(raw: bytes | str):
    """One line's message: a dict, or None when the line is not one."""
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


def is_line(raw: bytes, message: dict) -> bool:
    """Whether ``raw`` (a line without its newline) is exactly ``message``."""
    return raw == line(message)[:-1]


# ---------------------------------------------------------------------------------------------
# The executor's job protocol


def job(number: int, request_path: str, **private) -> dict:
    """The stdin line of a job: its number, the request file, and what the request file must not hold
    (``hidden_seed``: the seed of its hidden cases; 0 when absent)."""
    return {"job": number, "request": request_path, **private}


def started(number: int) -> dict:
    return {"job": number, "started": True}


def retry(number: int) -> dict:
    return {"job": number, "retry": True}


def done(number: int, **facts) -> dict:
    """The last line of a job (its facts: ``Report``'s fields of the same names, and ``recycle``)."""
    return {"done": True, "job": number, **facts}


def is_done(raw: bytes, number: int) -> bool:
    """Whether ``raw`` is job ``number``'s done line (read by its start, without parsing a long line)."""
    return raw.startswith(line(done(number))[:-2] + b",")


@dataclass
class CellLine:
    """One executed cell as the executor reports it (validated: untrusted)."""
    index: int
    outputs: list            # nbformat output dicts, still to be cleaned by the reader
    execution_count: int | None
    stray_records: int       # outcome records the kernel displayed, dropped in the sandbox


@dataclass
class Report:
    """Everything one job's output lines say, each value checked for its type and sign."""
    cells: list[CellLine] = field(default_factory=list)
    done: bool = False
    restarts: int = 0
    cpu_seconds: float = 0.0
    kernel_start_seconds: float = 0.0
    verify_seconds: float = 0.0
    verify_cpu_seconds: float = 0.0   # the verification jobs' (in cpu_seconds too, like the kernels')
    cells_cpu_seconds: float = 0.0    # the kernels' on the notebook's cells (the profile)
    output_dropped_bytes: int = 0
    executor_cpu_spent: bool = False


def number(message: dict, key: str) -> float:
    """A non-negative number from an untrusted message, else 0."""
    value = message.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0.0


def read_report(stdout: bytes) -> Report:
    """The executor's output lines of one job (``stdout``), read as untrusted data: a line that is not a message
    of the protocol is skipped, and a value of the wrong type reads as absent."""
    report = Report()
    for raw in stdout.splitlines():
        message = read(raw)
        if message is None:
            continue
        if "verify_seconds" in message:
            report.verify_seconds = number(message, "verify_seconds")
            report.verify_cpu_seconds = number(message, "verify_cpu_seconds")
        elif message.get("done") is True:
            report.done, report.restarts = True, int(number(message, "restarts"))
            report.cpu_seconds = number(message, "cpu_seconds")
            report.kernel_start_seconds = number(message, "kernel_start_seconds")
            report.output_dropped_bytes = int(number(message, "output_dropped_bytes"))
            report.executor_cpu_spent = message.get("executor_cpu_spent") is True
        elif isinstance(message.get("index"), int) and not isinstance(message["index"], bool):
            outputs, count = message.get("outputs"), message.get("execution_count")
            report.cells_cpu_seconds += number(message, "cpu_seconds")
            report.cells.append(CellLine(message["index"], outputs if isinstance(outputs, list) else [],
                                         count if isinstance(count, int) and not isinstance(count, bool) else None,
                                         int(number(message, "stray_records"))))
    return report


# ---------------------------------------------------------------------------------------------
# The verification job's socket


def record(position: int, outcomes: list) -> dict:
    """The outcomes of the graded call at ``position`` (Outcome data, one per case made)."""
    return {"record": position, "outcomes": outcomes}


def record_error(position: int, ename: str, evalue: str) -> dict:
    """Why the graded call at ``position`` made no outcomes (its function could not be found or called)."""
    return {"record": position, "error": [ename, evalue]}


def fixture_question(position: int, case: int, args, kwargs) -> dict:
    """A question for the fixture that case ``case`` of the call at ``position`` was issued (codec values)."""
    return {"ask": "fixture", "call": position, "case": case, "args": args, "kwargs": kwargs}


# ---------------------------------------------------------------------------------------------
# Test cells: what each one checks


@dataclass(frozen=True)
class CheckCall:
    """One ``check("<exercise>", <function>, hidden=...)`` of a test cell."""
    exercise: str
    hidden: bool
    function: str   # the expression that names the student's function, e.g. "dense_backward"


def check_calls(source: str) -> list[CheckCall]:
    """The ``check(...)`` calls of a cell's source, in order (none when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check"
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            hidden = any(k.arg == "hidden" and isinstance(k.value, ast.Constant) and bool(k.value.value)
                         for k in node.keywords)
            calls.append(CheckCall(node.args[0].value, hidden, ast.unparse(node.args[1])))
    return calls
