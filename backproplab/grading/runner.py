"""The sandboxed child of outside verification: runs a student's answers on given cases.

Started by ``verify.py`` as ``python -I -m backproplab.grading.runner RESULT_FD`` with a
scrubbed environment, a fresh temporary cwd and resource limits (set by the parent before
exec). Protocol:

* stdin (read once, then replaced by /dev/null): one JSON object
  {"cells": [[label, source], ...],   setup cells then answer cells, in notebook order
   "exercise": name, "args": [argument names], "cases": [codec-encoded [args, kwargs], ...],
   "torch_allowed": bool, "library_functions": [dotted names], "call_timeout": seconds,
   "output_limit": characters};
* RESULT_FD (an inherited pipe): one JSON object {"cells": [[label, error or null], ...],
  "outcomes": [Outcome data, ...]} written at the end. Student code never sees this
  channel through print: fd 1 and 2 point to /dev/null and ``sys.stdout``/``sys.stderr``
  are counting sinks that stop the student's code past ``output_limit`` characters.

Nothing here judges anything: the parent decodes the outcomes (JSON + base64 arrays,
never pickle) and judges them in a process that never runs student code.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sys

IMPORT_BLOCKED = "import torch"


class CountingSink(io.TextIOBase):
    """A stdout/stderr replacement that discards text, counts it, and stops runaway output."""

    def __init__(self, counter, limit):
        self.counter = counter
        self.limit = limit

    def writable(self):
        return True

    def write(self, text):
        from backproplab.checks.core import StopStudentCode

        self.counter[0] += len(text)
        if self.counter[0] > self.limit:
            raise StopStudentCode("crash", f"the function printed more than {self.limit} characters")
        return len(text)


class TorchBlocker:
    """A meta path finder that refuses ``import torch`` in NumPy exercises, and records it."""

    def __init__(self, attempts):
        self.attempts = attempts

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            self.attempts.append(IMPORT_BLOCKED)
            raise ImportError("torch is not allowed in this exercise: write it with NumPy "
                              "(the PyTorch exercises say so explicitly)")
        return None


def _strip_magics(source):
    """Drop IPython-only lines (%magic, !shell) so that notebook cells run as plain Python."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _on_alarm(signum, frame):
    from backproplab.checks.core import StopStudentCode

    raise StopStudentCode("timeout", "stopped after the time limit")


def _save_coverage():
    """Save the test suite's measurement of this child, if any (os._exit skips atexit)."""
    coverage = sys.modules.get("coverage")
    current = coverage.Coverage.current() if coverage else None
    if current is not None:
        current.stop()
        current.save()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    result = os.fdopen(int(argv[0]), "w", encoding="utf-8")
    request = json.loads(sys.stdin.read())
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # student output can never reach the parent, nor mix with results
        os.dup2(devnull, fd)
    counter = [0]
    sys.stdout = sys.__stdout__ = CountingSink(counter, request["output_limit"])
    sys.stderr = sys.__stderr__ = CountingSink(counter, request["output_limit"])
    sys.stdin = io.StringIO("")

    from backproplab.checks import codec
    from backproplab.checks.core import Case, LibraryGuard, Outcome, StopStudentCode, run_case

    attempts: list[str] = []
    if not request["torch_allowed"]:
        sys.meta_path.insert(0, TorchBlocker(attempts))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    guard = LibraryGuard(request["library_functions"], [namespace]).install()
    signal.signal(signal.SIGALRM, _on_alarm)
    call_timeout = max(1, int(round(request["call_timeout"])))

    cells = []
    for label, source in request["cells"]:
        signal.alarm(call_timeout)
        try:
            exec(compile(_strip_magics(source), f"<{label}>", "exec"), namespace)
            cells.append([label, None])
        except StopStudentCode as stop:
            cells.append([label, f"{stop.status}: {stop.message}"])
        except BaseException as exc:  # a broken cell must not stop the other cells
            lines = str(exc).strip().splitlines()
            cells.append([label, f"{type(exc).__name__}: {lines[-1][:300] if lines else ''}"])
        finally:
            signal.alarm(0)

    fn = namespace.get(request["exercise"])
    outcomes = []
    for data in request["cases"]:
        args, kwargs = codec.decode(data)
        if not callable(fn):
            outcomes.append(Outcome("not-implemented", exc_message="not defined").to_data())
            continue
        attempts.clear()
        counter[0] = 0
        signal.alarm(call_timeout)
        try:
            outcome = run_case(fn, Case(tuple(args), dict(kwargs)), request["args"], guard=guard)
        except StopStudentCode as stop:  # raised outside the call itself (e.g. while copying)
            outcome = Outcome(stop.status, exc_message=stop.message)
        finally:
            signal.alarm(0)
        if not request["torch_allowed"] and "torch" in sys.modules and IMPORT_BLOCKED not in attempts:
            attempts.append(IMPORT_BLOCKED)  # the blocker was removed and torch imported anyway
        outcome.forbidden = sorted(set(outcome.forbidden) | set(attempts))
        outcome.output_chars = counter[0]
        outcomes.append(outcome.to_data())
        if outcome.status == "timeout":
            break  # the next cases would most likely time out too; the judge stops at the first failure
    _save_coverage()  # before the result: the parent ends the child's session once it has read it
    result.write(json.dumps({"cells": cells, "outcomes": outcomes}, allow_nan=False))
    result.close()
    os._exit(0)  # skip interpreter teardown: student objects' __del__ must not run after this


if __name__ == "__main__":
    main()
