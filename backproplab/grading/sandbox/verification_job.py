"""A verification job's side of the protocol (verification.py has the executor's side and the why): the
process, forked into a job of its own, that makes a submission's graded calls. Untrusted once the first cell runs.

``serve`` withholds (``withhold``: the library's implementations of the lecture's exercises and every function
of the checks' lecture modules raise instead), runs the setup, answer and student-added cells, calls the
student's functions on the cases (``checks.run_case`` under ``checks.GradingCall``: time limit, output
discarded, mutation and ``import torch`` recorded), and reports each call's outcomes over the socket.
Of the checks it uses public names only.
"""
from __future__ import annotations

import signal
import socket
import sys
import types

from . import protocol

WITHHELD = "is withheld while grading"   # the message of the PermissionError a withheld function raises
CHECKS_PACKAGE = "backproplab.checks"


def library_function(dotted: str):
    """The library's function named ``dotted`` (the original, where the checks' guard wraps it)."""
    import importlib

    module_name, _, attribute = dotted.rpartition(".")
    original = getattr(importlib.import_module(module_name), attribute)
    return getattr(original, "__bplab_original__", original)


def library_functions(dotted_names) -> dict:
    """{dotted name: the library's function} for each name that resolves here (torch's may not)."""
    functions = {}
    for dotted in dotted_names:
        try:
            functions[dotted] = library_function(dotted)
        except Exception:
            continue
    return functions


def withhold(dotted_names) -> list[str]:
    """Replace the code of each named library function, and of every function and method of the
    checks' lecture modules, by code that raises ``PermissionError(... is withheld while grading)``.
    Every reference to those function objects (re-exports, registries, closures) now reaches the
    trap; the original code is dropped. Returns what was withheld."""
    import importlib

    targets = library_functions(dotted_names)
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(CHECKS_PACKAGE + ".lecture") or module is None:
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, type) and value.__module__ == module_name:
                for method_name, method in vars(value).items():
                    method = getattr(method, "__func__", method)
                    if isinstance(method, types.FunctionType):
                        targets[f"{module_name}.{attribute}.{method_name}"] = method
            elif isinstance(value, types.FunctionType) and value.__module__ == module_name:
                targets[f"{module_name}.{attribute}"] = value
    for dotted, function in targets.items():
        if isinstance(function, types.FunctionType):
            function.__code__ = _trap_code(function.__code__, dotted)
    importlib.invalidate_caches()
    import linecache

    linecache.clearcache()
    return sorted(targets)


def _trap_code(code: types.CodeType, dotted: str) -> types.CodeType:
    """Code that raises at once, with the same free variables as ``code`` (so it can take its place)."""
    free = code.co_freevars
    message = f"{dotted} {WITHHELD}: your function must compute this itself"
    lines = ["def _outer():"] + [f"    {name} = None" for name in free] + ["    def withheld(*args, **kwargs):"]
    if free:
        lines.append(f"        ({', '.join(free)},)")
    lines += [f"        raise PermissionError({message!r})", "    return withheld"]
    namespace: dict = {}
    exec("\n".join(lines), namespace)
    return namespace["_outer"]().__code__.replace(co_name=code.co_name)


class Channel:
    """The job's end of the socket: JSON lines out, one reply line in per question."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = sock.makefile("rb")

    def send(self, message: dict):
        self.sock.sendall(protocol.line(message))

    def exchange(self, question: dict) -> dict:
        self.send(question)
        return protocol.read(self.reader.readline()) or {}

    def fixture(self, position, case, args=(), kwargs=None):
        """The value the fixture of case ``case`` of the call at ``position`` gives for ``args``, computed by the
        executor."""
        from ...checks import codec

        reply = self.exchange(protocol.fixture_question(position, case, codec.encode(tuple(args)),
                                                        codec.encode(dict(kwargs or {}))))
        if "value" not in reply:
            raise RuntimeError(str(reply.get("error", "no answer from the grader")))
        return codec.decode(reply["value"])


def _with_fixtures(value, channel, where):
    """Decoded case inputs with each fixture token replaced by a function the executor computes: the one the
    case ``where`` = (call position, case index) was issued, named by that place, not by the token."""
    from ...checks import codec

    if isinstance(value, codec.FnToken):
        position, index = where
        return lambda *args, **kwargs: channel.fixture(position, index, args, kwargs)
    if isinstance(value, codec.RngToken):
        return value
    if isinstance(value, tuple):
        return tuple(_with_fixtures(v, channel, where) for v in value)
    if isinstance(value, list):
        return [_with_fixtures(v, channel, where) for v in value]
    if isinstance(value, dict):
        return {k: _with_fixtures(v, channel, where) for k, v in value.items()}
    return value


class _CellTimeout(BaseException):
    pass


def _run_cells(cells, seconds) -> dict:
    """Run each cell's source in an IPython shell of the job's own, as the kernel would (magics, events,
    a cell's error kept to its cell, output to nowhere); return the namespace they made."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)

    def on_alarm(signum, frame):
        raise _CellTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    for _index, source in cells:
        try:
            signal.alarm(seconds)
            shell.run_cell(source, store_history=False)
        except BaseException:  # a cell's error is the student's, as in the kernel
            pass
        finally:
            signal.alarm(0)
    return shell.user_ns


def call_outcomes(fn, call, channel, position, patch=None):
    """The outcome of each of ``call``'s cases (the spec of the PlannedCall at ``position``), with ``patch`` put in
    ``fn``'s globals meanwhile."""
    from ...checks import Case, GradingCall, Outcome, StopStudentCode, codec, run_case, stop_at_alarm

    signal.signal(signal.SIGALRM, stop_at_alarm)
    globals_ = getattr(fn, "__globals__", None)
    saved = {name: globals_.get(name) for name in (patch or {})} if isinstance(globals_, dict) else {}
    if saved:
        globals_.update(patch)
    outcomes = []
    try:
        for index, raw in enumerate(call["cases"]):
            args = _with_fixtures(codec.decode(raw["args"]), channel, (position, index))
            kwargs = _with_fixtures(codec.decode(raw["kwargs"]), channel, (position, index))
            grading = GradingCall(call["seconds"], call["torch_allowed"])
            try:
                with grading:
                    outcome = run_case(fn, Case(tuple(args), dict(kwargs)), call["arg_names"])
            except StopStudentCode as stop:
                outcome = Outcome(stop.status, exc_message=stop.message)
            withheld = [outcome.exc_message.split(" ")[0]] if WITHHELD in outcome.exc_message else []
            outcome.forbidden = sorted(set(outcome.forbidden) | set(grading.attempts) | set(withheld))
            outcomes.append(outcome.to_data())
            if outcome.status == "timeout":
                break
    finally:
        if saved:
            globals_.update(saved)
    return outcomes


class _NoTorch:
    """A NumPy exercise's job says why ``import torch`` fails (torch's folder is hidden there anyway)."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not available when a NumPy exercise is graded: write it with NumPy")
        return None


def serve(spec: dict, sock: socket.socket):
    """The job: withhold, run the cells, make every graded call (in a with_reference job, with the lent
    helpers in place of the student's), report over ``sock``."""
    channel = Channel(sock)
    withhold(spec["withhold"])
    if not spec["torch"]:
        sys.meta_path.insert(0, _NoTorch())
    namespace = _run_cells(spec["cells"], spec["cell_timeout"])
    lent = {name: library_function(dotted) for name, dotted in spec["helpers"].items()}
    for position, call in spec["calls"].items():
        try:
            fn = eval(call["function"], namespace)  # the trusted test cell's own expression
            record = protocol.record(int(position), call_outcomes(fn, call, channel, int(position), patch=lent))
        except Exception as err:
            record = protocol.record_error(int(position), type(err).__name__, str(err))
        channel.send(record)
    channel.send(protocol.DONE)
    sock.recv(1)  # until the executor kills this job, having read its CPU (an exit before could lose it)


