"""Calling student code: ``run_case`` (a private copy of a case's inputs, the call, what happened),
``LibraryGuard`` (calls of the library's own implementation recorded) and, while grading,
``GradingCall`` (time limit, printed output discarded and counted, ``import torch`` refused).

Shared by ``check()`` in the student's kernel and the grader's verification job.
"""
from __future__ import annotations

import copy
import time
import warnings

import numpy as np

from . import codec
from .records import Case, Outcome

__all__ = ["StopStudentCode", "LibraryGuard", "run_case", "GradingCall", "stop_at_alarm", "OUTPUT_LIMIT",
           "IMPORT_BLOCKED"]


class StopStudentCode(BaseException):
    """Raised into student code to stop it (time or output limits); BaseException so a
    student's ``except Exception`` cannot swallow it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _array_snapshots(value, path, out):
    if isinstance(value, np.ndarray):
        out.append((path, value, value.copy()))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _array_snapshots(item, f"{path}[{i}]", out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _array_snapshots(item, f"{path}[{key!r}]", out)
    return out


class LibraryGuard:
    """Records calls to the library's own implementation of the graded exercise.

    ``install()`` replaces each dotted name (e.g. "backproplab.layers.dense_backward") by a
    recording wrapper wherever the original function object is bound: in every ``backproplab``
    module loaded when the guard is first installed (so the re-export in ``backproplab/__init__``
    is covered too) and in the given namespaces (e.g. the student's globals); ``uninstall()``
    restores them. A check installs its guard before every case: the modules are listed once,
    not per case (a scan of ``sys.modules``, thousands of entries in a kernel that imported torch).
    """

    def __init__(self, names, namespaces=()):
        self.names = tuple(names)
        self.namespaces = list(namespaces)
        self.calls: list[str] = []
        self._patched: list = []
        self._library: list | None = None  # the namespaces of the backproplab modules, listed at the first install

    def _wrapper(self, name, original):
        import functools

        @functools.wraps(original)
        def recorded(*args, **kwargs):
            self.calls.append(name)
            return original(*args, **kwargs)

        recorded.__bplab_original__ = original
        return recorded

    def install(self):
        import importlib
        import sys

        wrappers = {}  # id(original) -> (original, its recording wrapper)
        for name in self.names:
            module_name, _, attribute = name.rpartition(".")
            original = getattr(importlib.import_module(module_name), attribute)
            original = getattr(original, "__bplab_original__", original)
            wrappers[id(original)] = (original, self._wrapper(name, original))
        if self._library is None:
            self._library = [vars(module) for key, module in list(sys.modules.items())
                             if module is not None and (key == "backproplab" or key.startswith("backproplab."))]
        for namespace in self._library + self.namespaces:
            for key, value in list(namespace.items()):
                original, wrapper = wrappers.get(id(value), (None, None))
                if original is not None and value is original:
                    namespace[key] = wrapper
                    self._patched.append((namespace, key, original))
        return self

    def uninstall(self):
        for namespace, key, original in reversed(self._patched):
            namespace[key] = original
        self._patched.clear()


def _last_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:300] if text else ""


def run_case(fn, case: Case, arg_names=(), *, guard: LibraryGuard | None = None, normalize=True) -> Outcome:
    """Call ``fn`` on a private copy of the case's inputs and record what happened.

    Warnings are captured (counted, never printed). The returned value goes through the
    codec (so the judge sees exactly what outside verification would see).
    """
    args = codec.materialize(copy.deepcopy(case.args))
    kwargs = codec.materialize(copy.deepcopy(case.kwargs))
    names = list(arg_names) + [f"arg{i}" for i in range(len(arg_names), len(args))]
    snapshots = []
    for name, value in zip(names, args):
        _array_snapshots(value, name, snapshots)
    for name, value in kwargs.items():
        _array_snapshots(value, name, snapshots)
    outcome = Outcome("returned")
    if guard is not None:
        guard.calls.clear()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(*args, **kwargs)
            outcome.value = codec.decode(codec.encode(value)) if normalize else value
        except NotImplementedError:
            outcome.status = "not-implemented"
        except StopStudentCode as stop:
            outcome.status, outcome.exc_message = stop.status, stop.message
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            outcome.status, outcome.exc_type, outcome.exc_message = "raised", type(exc).__name__, _last_line(exc)
    outcome.seconds = time.perf_counter() - start
    outcome.warnings = len(caught)
    if guard is not None:
        outcome.forbidden = sorted(set(guard.calls))
    for path, live, before in snapshots:
        if live.shape != before.shape or not np.array_equal(live, before, equal_nan=True):
            outcome.mutated.append(path)
    return outcome


def stop_at_alarm(signum, frame):
    """A SIGALRM handler: stops the student's code with a timeout (``GradingCall`` sets the alarm)."""
    raise StopStudentCode("timeout", "stopped after the time limit")


OUTPUT_LIMIT = 1_000_000  # characters a student's function may print per call while grading
IMPORT_BLOCKED = "import torch"


class _CountingSink:
    """stdout/stderr while grading calls the student's function: discards, counts, stops a flood."""

    def __init__(self):
        self.count = 0

    def write(self, text):
        self.count += len(text)
        if self.count > OUTPUT_LIMIT:
            raise StopStudentCode("crash", f"the function printed more than {OUTPUT_LIMIT} characters")
        return len(text)

    def flush(self):
        pass


class GradingCall:
    """The context of one graded call: a time limit, printed output discarded and counted, and
    (in a NumPy exercise) ``import torch`` refused and recorded."""

    def __init__(self, seconds, torch_allowed):
        self.seconds, self.torch_allowed, self.attempts = seconds, torch_allowed, []

    def _import(self, name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            self.attempts.append(IMPORT_BLOCKED)
            raise ImportError("torch is not allowed in this exercise: write it with NumPy "
                              "(the PyTorch exercises say so explicitly)")
        return self._original_import(name, *args, **kwargs)

    def __enter__(self):
        import builtins
        import signal
        import sys

        self._streams = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = _CountingSink()
        if not self.torch_allowed:
            self._original_import = builtins.__import__
            builtins.__import__ = self._import
        if self.seconds:
            signal.alarm(self.seconds)
        return self

    def __exit__(self, *exc):
        import builtins
        import signal
        import sys

        if self.seconds:
            signal.alarm(0)
        if not self.torch_allowed:
            builtins.__import__ = self._original_import
        sys.stdout, sys.stderr = self._streams
        return False
