"""Where a verdict's evidence comes from: the graded calls, made in a fresh process with the answers withheld.

The student's kernel runs the whole notebook (its outputs are the feedback) but makes no outcome
record. The records come from a *verification job*: a process forked, like a kernel, into a job
of its own (``forkserver.isolate_job``), in which only the submission's setup, answer and
student-added cells run. Before any of them runs, the library's implementations of the lecture's
exercises and every function of the checks' lecture modules are withheld (their code replaced by
one that raises), the package's source is hidden under an empty read-only mount, and, for NumPy
exercises, so is torch (the job is forked from a server that never imported it). So a record holds
what the student's own code computes, and nothing the student's code could forge with the course's
answers: code that hooks or rewrites the record can only put there what it could compute itself.

Two sides, one protocol (JSON lines over a Unix socket, values in the codec: never pickle). This module
is the executor's side: ``plan_calls`` draws the graded cases from the seed; ``VerificationJob`` tells a
job its cells and calls, answers its questions, collects one record per ``check(...)`` call and kills the
job when a call stalls. The only question it answers is a fixture (``FnToken``: e.g. the cost function
that ``gradient_check`` is given), which the library computes. A ``with_reference`` job (for
``credit_dependents``) is a job of its own in which the library's implementations of the failing
helpers an exercise calls are lent (``lent_helpers``) and its only output is that exercise's outcomes.
The job's side (``withhold``, ``serve``) is verification_job.py.
"""
from __future__ import annotations

import ast
import os
import select
import socket
import time
import types
from dataclasses import dataclass, field

from . import protocol
from .limits import JOB_MESSAGE_LIMIT
from .protocol import CheckCall, check_calls
from .verification_job import library_functions

FIXTURE_STEP = 1e-2      # how far from the case's point each entry may be when a fixture is asked (finite differences)
FIXTURE_SPARE_QUESTIONS = 16  # a case's fixture answers: 4 per entry of its point, plus these


def names_called(sources, function: str) -> set[str]:
    """Every name used inside the ``def <function>`` of the given cell sources (the last one wins, as
    in the notebook): which other exercises it may call."""
    names = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
                names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return names


@dataclass
class PlannedCall:
    """A graded call as the job receives it: the cases already drawn and encoded."""
    cell: int
    call: CheckCall
    torch_allowed: bool
    arg_names: tuple
    seconds: int
    cases: list            # [{"args": encoded, "kwargs": encoded}]
    helpers: list = field(default_factory=list)   # other exercises of the lecture its function calls
    withheld_too: tuple = ()  # withheld in its job beyond the lecture's list (Exercise.withheld_while_graded)
    drawn: list = field(default_factory=list, repr=False)  # the Case objects (the executor's, never sent)

    @property
    def job_kind(self) -> tuple:
        """Calls of the same kind share a job: the same fork server, the same functions withheld."""
        return self.torch_allowed, self.withheld_too

    def passes(self, record) -> bool:
        """Whether ``record`` passes every case, judged against the reference alone (the judge also asks the
        oracles, which agree with it by construction): decides only whether a with_reference job is worth it."""
        from ...checks import Outcome, get_exercise

        exercise = get_exercise(self.call.exercise)
        try:
            outcomes = [Outcome.from_data(item) for item in record["outcomes"]]
            return len(outcomes) == len(self.drawn) and all(
                exercise.judge(case, outcome, exercise.reference(case)).passed for case, outcome in zip(self.drawn, outcomes))
        except Exception:
            return False

    def to_spec(self) -> dict:
        return {"function": self.call.function, "torch_allowed": self.torch_allowed,
                "arg_names": list(self.arg_names), "seconds": self.seconds, "cases": self.cases}


def plan_calls(cells, test_cells, verify_cells, seed: int) -> tuple[list[PlannedCall], list[str]]:
    """The graded calls of a submission's test cells, with their cases drawn from ``seed``, and the
    dotted names of the library functions to withhold (those of every exercise of the lectures checked)."""
    from ...checks import EXERCISES, codec, get_exercise, hidden_seed, visible_seed

    sources = [source for index, source in cells if index in verify_cells]
    planned, lectures = [], set()
    for index, source in cells:
        if index not in test_cells:
            continue
        for call in check_calls(source):
            try:
                exercise = get_exercise(call.exercise)
            except KeyError:
                continue  # the judge names an unknown exercise; nothing to call
            lectures.add(exercise.lecture)
            case_seed = hidden_seed(seed, call.exercise) if call.hidden else visible_seed(call.exercise)
            drawn = exercise.draw_cases(case_seed, call.hidden)
            cases = [{"args": codec.encode(tuple(case.args)), "kwargs": codec.encode(dict(case.kwargs))} for case in drawn]
            called = names_called(sources, call.function)
            helpers = sorted(name for name in called - {call.exercise}
                             if name in EXERCISES and EXERCISES[name].lecture == exercise.lecture
                             and EXERCISES[name].library_functions)
            planned.append(PlannedCall(index, call, exercise.torch_allowed, tuple(exercise.args),
                                       max(1, int(round(exercise.call_timeout))), cases, helpers,
                                       tuple(exercise.withheld_while_graded), drawn))
    withheld = sorted({name for ex in EXERCISES.values() if ex.lecture in lectures for name in ex.library_functions})
    return planned, withheld


def lent_helpers(helpers, exercise: str, withheld) -> dict[str, str]:
    """{helper exercise: dotted name of its library implementation} that a with_reference job of
    ``exercise`` may run untrapped, with the withheld functions they need (``_needed``). Only exercises the
    lecture registers before ``exercise`` are lent, and none that needs the exercise's own implementation:
    the exercise's answer is never there."""
    from ...checks import EXERCISES, get_exercise

    own = set(get_exercise(exercise).library_functions[:1])  # its own implementation
    order = list(EXERCISES)
    functions = library_functions(withheld)
    lent = {}
    for helper in helpers:
        if order.index(helper) > order.index(exercise):
            continue  # only an earlier exercise is a building block: a later one may compute this one's answer
        dotted = get_exercise(helper).library_functions[0]
        needed = _needed(dotted, functions)
        if dotted in functions and not needed & own:
            lent[helper] = dotted
    return lent


def _needed(dotted, functions) -> set[str]:
    """``dotted`` and every withheld function its code reaches by name through its module's globals."""
    by_id = {id(f): name for name, f in functions.items()}
    needed, todo = set(), [dotted]
    while todo:
        name = todo.pop()
        if name in needed or name not in functions:
            continue
        needed.add(name)
        function = functions[name]
        codes, names = [function.__code__], set()
        while codes:
            code = codes.pop()
            names |= set(code.co_names)
            codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        values = [function.__globals__.get(n) for n in names]
        values += [getattr(v, n, None) for v in values if isinstance(v, types.ModuleType) for n in names]  # module.attr
        todo += [by_id[id(v)] for v in values if id(v) in by_id]
    return needed


class VerificationJob:
    """One verification job, run to its end. ``calls``: {position: PlannedCall}, the graded calls it makes.

    A plain job (``helpers`` empty) returns a record per call. A ``with_reference`` job makes the calls
    of one exercise with ``helpers`` (other exercises it calls) lent: the library's implementations,
    not withheld there, in place of the student's; it returns only those outcomes. A job of its own,
    so that nothing lent to it can reach another record.
    """

    def __init__(self, calls: dict[int, PlannedCall], deadline_seconds: float, helpers=None, cells_seconds=60.0):
        self.calls = calls
        self.helpers = dict(helpers or {})  # {helper exercise: its library function's dotted name}, lent to the job
        self.deadline = time.monotonic() + deadline_seconds
        self.results: dict[int, dict] = {}
        self._fixtures: dict[tuple, tuple] = {}   # (position, case index): (fixture function, its point)
        self._questions: dict[tuple, int] = {}
        self._cells_seconds = cells_seconds

    def spec(self, cells, withheld, cell_timeout) -> dict:
        """What the job is told: its cells, what to withhold (all but the lent helpers and what they need),
        its calls, and the helpers to put in place of the student's."""
        lent = dict(self.helpers)
        withheld = set(withheld).union(*(planned.withheld_too for planned in self.calls.values()))
        functions = library_functions(withheld) if lent else {}
        kept = set().union(*(_needed(dotted, functions) for dotted in lent.values()))
        return {"cells": cells, "withhold": sorted(withheld - kept), "cell_timeout": cell_timeout,
                "torch": any(planned.torch_allowed for planned in self.calls.values()),
                "calls": {str(position): planned.to_spec() for position, planned in self.calls.items()},
                "helpers": lent}

    def pending(self):
        """The first call without a result (the job makes them in order), or None."""
        return next((position for position in self.calls if position not in self.results), None)

    def _call_seconds(self, position) -> float:
        planned = self.calls[position]
        return 5.0 + planned.seconds * max(1, len(planned.cases)) * (2 if self.helpers else 1)

    def serve(self, listener: socket.socket, kill) -> dict[int, dict]:
        """Accept the job's connection on ``listener`` and answer it until it is done, dies or stalls;
        ``kill()`` ends the job. The call it was making when it died or stalled gets that error; the
        caller makes the calls after it in a new job."""
        stalled = False
        try:
            connection = self._accept(listener)
            if connection is not None:
                with connection:
                    stalled = self._conversation(connection)
                    kill()  # before the connection closes: a finished job waits on it, so its CPU can be read
            else:
                stalled = time.monotonic() >= self.deadline
        finally:
            kill()
        position = self.pending()
        if position is not None and not self.helpers:
            self.results[position] = {"error": ["CellTimeoutError", "the graded call ran out of time"] if stalled else
                                      ["DeadKernelError", "the process making the graded calls died"]}
        return self.results

    def _accept(self, listener):
        listener.settimeout(max(0.1, min(60.0, self.deadline - time.monotonic())))
        try:
            connection, _ = listener.accept()
        except OSError:
            return None
        connection.setblocking(False)
        return connection

    def _conversation(self, connection) -> bool:
        """Read and answer until the job is done (False) or gone (False), or stalls past the time its
        current call may take (True)."""
        buffer, scanned = bytearray(), 0
        position = self.pending()
        progress = time.monotonic() + self._cells_seconds + (self._call_seconds(position) if position is not None else 0)
        while True:
            left = min(self.deadline, progress) - time.monotonic()
            if left <= 0:
                return True
            if not select.select([connection], [], [], min(left, 1.0))[0]:
                continue
            try:
                chunk = connection.recv(1 << 20)
            except OSError:
                return False
            if not chunk:
                return False
            buffer += chunk
            while True:  # only the new bytes are searched: a long line costs its length once
                end = buffer.find(b"\n", scanned)
                if end < 0:
                    scanned = len(buffer)
                    if scanned > JOB_MESSAGE_LIMIT:
                        return False  # a line too long to be an honest record: the job ends here
                    break
                line = bytes(buffer[:end])
                del buffer[:end + 1]
                scanned = 0
                if len(line) > JOB_MESSAGE_LIMIT:
                    return False
                message = protocol.read(line)
                if message is None or message.get("done") is True:
                    return False
                reply = self._handle(message)
                if reply is not None and not self._reply(connection, reply):
                    return False
                if self.pending() != position:
                    position = self.pending()
                    if position is None:
                        return False
                    progress = time.monotonic() + self._call_seconds(position)

    def _reply(self, connection, reply) -> bool:
        connection.setblocking(True)
        connection.settimeout(max(0.1, self.deadline - time.monotonic()))
        try:
            connection.sendall(protocol.line(reply))
        except OSError:
            return False
        connection.setblocking(False)
        return True

    def _handle(self, message):
        """A record (each kept once) or a question (only fixtures are answered)."""
        position = message.get("record")
        if isinstance(position, int) and not isinstance(position, bool) and position in self.calls:
            if position in self.results:
                return None
            planned = self.calls[position]
            if self.helpers:
                self.results[position] = {"exercises": sorted(self.helpers), "outcomes": message.get("outcomes")}
            elif isinstance(message.get("error"), list):
                self.results[position] = {"error": [str(x)[:300] for x in message["error"][:2]]}
            else:
                self.results[position] = {"record": {"exercise": planned.call.exercise, "hidden": planned.call.hidden,
                                                     "outcomes": message.get("outcomes")}}
            return None
        if "ask" not in message:
            return None  # only a question gets a reply (the job reads one reply per question)
        if message.get("ask") == "fixture":
            return self._call_fixture(message)
        return {"error": f"{str(message.get('name', message.get('ask')))[:100]} is not available here"}

    def _call_fixture(self, message):
        """The value of the fixture one of the job's own cases was issued, at that case's point with each entry
        moved by at most ``FIXTURE_STEP`` (what finite differences need, a sloppy restore included, nothing
        else), computed here; or why not. A job cannot name a fixture of its own making, nor ask one anywhere else."""
        from ...checks import codec

        try:
            position, index = message.get("call"), message.get("case")
            if not (isinstance(position, int) and isinstance(index, int) and position in self.calls
                    and 0 <= index < len(self.calls[position].drawn)):
                raise PermissionError("no such case of this job")
            function, point = self._fixture(position, index)
            args = codec.materialize(codec.decode(message.get("args", [])))
            kwargs = codec.decode(message.get("kwargs", {"__dict__": {}}))
            if not isinstance(args, (list, tuple)) or len(args) != 1 or kwargs:
                raise TypeError("the fixture takes one argument")
            questions = self._questions.get((position, index), 0) + 1
            self._questions[(position, index)] = questions
            if questions > 4 * _size(point) + FIXTURE_SPARE_QUESTIONS:
                raise PermissionError("the fixture was asked more often than finite differences need")
            if not _near(args[0], point):
                raise PermissionError(f"the fixture answers only within {FIXTURE_STEP:g} of its case's point "
                                      f"(each entry), with the point's keys and shapes")
            return {"value": codec.encode(function(*args))}
        except Exception as err:  # the library's own error, as the student's call would have seen it
            return {"error": f"{type(err).__name__}: {str(err)[:300]}"}

    def _fixture(self, position, index):
        """The fixture function of a case and the point it was issued with (the argument after it)."""
        from ...checks import codec

        key = (position, index)
        if key not in self._fixtures:
            args = tuple(self.calls[position].drawn[index].args)
            found = [i for i, value in enumerate(args) if isinstance(value, codec.FnToken)]
            if not found or found[0] + 1 >= len(args):
                raise PermissionError("this case has no fixture")
            self._fixtures[key] = (codec.materialize(args[found[0]]), args[found[0] + 1])
        return self._fixtures[key]


def _leaves(value) -> dict:
    """{path: float array} of a point (an array, or a dict of arrays such as params)."""
    import numpy as np

    if isinstance(value, dict):
        return {(key, *path): leaf for key in sorted(value, key=str) for path, leaf in _leaves(value[key]).items()}
    return {(): np.asarray(value, dtype=float)}


def _size(point) -> int:
    return sum(leaf.size for leaf in _leaves(point).values())


def _near(value, point) -> bool:
    """``value`` has ``point``'s structure and shapes, and no entry differs from it by more than FIXTURE_STEP."""
    import numpy as np

    try:
        asked, issued = _leaves(value), _leaves(point)
    except (TypeError, ValueError):
        return False
    if asked.keys() != issued.keys() or any(asked[k].shape != issued[k].shape for k in issued):
        return False
    moved = np.concatenate([np.ravel(asked[k] - issued[k]) for k in issued])
    return bool(np.all(np.isfinite(moved)) and np.all(np.abs(moved) <= FIXTURE_STEP))


def hidden_paths(torch_allowed: bool) -> list[str]:
    """What a verification job must not read: the package's source (the answers), and torch's, unless
    its exercises may use torch."""
    import importlib.util

    import backproplab

    paths = [os.path.dirname(os.path.realpath(backproplab.__file__))]
    if not torch_allowed:
        spec = importlib.util.find_spec("torch")
        if spec is not None and spec.submodule_search_locations:
            paths += [os.path.realpath(p) for p in spec.submodule_search_locations]
    return paths
