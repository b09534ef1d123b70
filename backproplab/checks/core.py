"""The check framework: cases, outcomes, exercises, judging, and ``check()``.

How a check works (the same code runs in the student's kernel and in outside verification):

1. ``Exercise.draw_cases(seed, hidden)`` draws ``Case``s (codec-safe arguments) from
   ``numpy.random.default_rng(seed)``.
2. ``run_case(fn, case)`` calls the student's function on a private copy of the arguments
   and returns an ``Outcome``: status, the returned value (codec-normalized), the exception's
   last line, which inputs were mutated, warnings, forbidden calls. In outside verification
   this happens in a sandboxed child (``backproplab.grading.runner``).
3. ``evaluate(exercise, outcomes, ...)`` judges outcomes case by case in a process that
   never runs student code: ``Exercise.expected`` computes the NumPy reference and asserts
   that the other oracles (PyTorch float64 autograd, central differences) agree with it,
   then ``Exercise.judge`` names the mistake. The first failing case decides the result.

   The failure's message is the observation (shapes, factors, which entries), then the exercise's
   hint ladder (checks/hints.py) at the rung the session's failed tries or ``hint=`` ask for.

Adding an exercise: subclass ``Exercise``, set ``name``, ``lecture``, ``args``, ``outputs``,
``hints``, ``library_functions``; write ``cases`` and ``reference`` (and optionally
``oracles`` and ``mistakes``); decorate the class with ``@register``. See lecture04.py.
"""
from __future__ import annotations

import copy
import os
import time
import warnings
import zlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from . import codec
from .compare import (
    ORACLE_ABSOLUTE,
    ORACLE_TOLERANCE,
    TOLERANCES,
    OutputVerdict,
    compare_output,
    describe_value,
    output_error,
    tolerance_for,
)
from .diagnoses import require
from .hints import RUNGS, ladder_text, rung_for

__all__ = [
    "Case", "Outcome", "CaseVerdict", "Verdict", "CheckFailed", "OracleDisagreement",
    "Exercise", "EXERCISES", "register", "get_exercise", "run_case", "evaluate", "check",
    "visible_seed", "hidden_seed", "StopStudentCode", "LibraryGuard", "OUTCOMES_MIME",
]

EXERCISES: dict[str, "Exercise"] = {}


class OracleDisagreement(RuntimeError):
    """Two oracles disagree: a bug in Backprop Lab, never the student's fault."""


class StopStudentCode(BaseException):
    """Raised into student code to stop it (time or output limits); BaseException so a
    student's ``except Exception`` cannot swallow it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Case:
    """One set of inputs. ``args``/``kwargs`` travel through the codec to the student's
    process; everything else stays with the judge."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""          # shown in messages, e.g. "m=1 (a single example)"
    m: int = 1               # batch size, for the 1/m diagnoses
    info: dict = field(default_factory=dict)  # judge-only notes (e.g. {"boundary": True})


_EXPECTED_SIZE = 256  # cases an exercise remembers the reference of (Exercise.expected)


def _case_key(case: Case) -> str | None:
    """The case identified by value (its encoded inputs and notes), or None when part of it has no
    exact encoding."""
    try:
        text = codec.dumps([case.args, case.kwargs, case.info, case.label, case.m])
    except (TypeError, ValueError):
        return None
    return None if '"__opaque__"' in text else text


@dataclass
class Outcome:
    """What happened when the student's function was called on one case.

    status: "returned" | "raised" | "not-implemented" | "timeout" | "crash".
    """

    status: str
    value: object = None
    exc_type: str = ""
    exc_message: str = ""
    mutated: list = field(default_factory=list)     # paths of modified inputs, e.g. "params['W1']"
    forbidden: list = field(default_factory=list)   # e.g. "import torch", "backproplab.layers.dense_backward"
    warnings: int = 0
    output_chars: int = 0
    seconds: float = 0.0

    def to_data(self):
        return codec.encode(self.__dict__)

    @classmethod
    def from_data(cls, data):
        fields = codec.decode(data)
        known = {k: fields[k] for k in cls.__dataclass_fields__ if k in fields}
        return cls(**known)


@dataclass
class CaseVerdict:
    """The judge's verdict on one case."""

    passed: bool
    diagnosis: str | None = None
    message: str = ""
    outputs: dict = field(default_factory=dict)  # output name -> bool
    difference: np.ndarray | None = None          # student - expected of the first wrong matrix
    expected: np.ndarray | None = None            # that matrix's expected values (for student / expected)


@dataclass
class Verdict:
    """The verdict on one check: the one record from ``check()`` in the student's kernel, through
    the judge (which places it in a test cell: ``grade_id``, ``points``), to the gradebook and the
    feedback. ``to_json`` is its one serialized form (the check+json display data, the graded
    notebook's cell metadata, `bplab grade --json`)."""
    __test__ = False  # not a pytest class

    exercise: str
    hidden: bool
    passed: bool
    diagnosis: str | None
    message: str
    seed: int | None = None
    outputs: dict = field(default_factory=dict)                      # output name -> bool
    difference: np.ndarray | None = field(default=None, repr=False)  # student - expected, for the heatmap
    grade_id: str = ""                                               # the test cell, once judged
    points: float = 0.0                                              # that cell's points
    # the expected values ``difference`` is measured from, for the ratio map student / expected (judge and
    # kernel only, like ``difference``: not part of to_json)
    expected: np.ndarray | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict:
        return {"grade_id": self.grade_id, "exercise": self.exercise, "hidden": self.hidden, "passed": self.passed,
                "diagnosis": self.diagnosis, "message": self.message, "seed": self.seed,
                "outputs": {k: bool(v) for k, v in self.outputs.items()}, "score": self.score,
                "max_score": self.points}

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        return cls(str(data["exercise"]), bool(data["hidden"]), bool(data["passed"]), data["diagnosis"],
                   str(data["message"]), data.get("seed"), dict(data.get("outputs") or {}),
                   grade_id=str(data["grade_id"]), points=float(data["max_score"]))

    def _ipython_display_(self):
        """Show nothing when a test cell ends in check(...): check() already showed the verdict."""


class CheckFailed(AssertionError):
    """A failed check. nbgrader scores the cell 0; IPython shows only one short line."""

    def __init__(self, result: Verdict):
        super().__init__(result.message)
        self.result = result

    def _render_traceback_(self):
        diagnosis = f" [{self.result.diagnosis}]" if self.result.diagnosis else ""
        # nbgrader's Validate shows only this line: it carries the message's first line itself
        first = (self.result.message.splitlines() or [""])[0][:300]
        return [f"CheckFailed{diagnosis}: {self.result.exercise} did not pass: {first}"]


# ---------------------------------------------------------------------------------------
# Exercises


class Exercise:
    """One graded function. Subclasses describe its cases, reference and typical mistakes.

    Class attributes:
      name, lecture      the DESIGN.md function name and lecture id
      args               argument names, in call order (for messages and mutation paths)
      outputs            names of the returned outputs, e.g. ("dA_prev", "dW", "dB");
                         one name means the function returns that single value
      hints              diagnosis id (or "*") -> checks.hints.Hint, the exercise's hint ladder
      library_functions  dotted names of the library's own implementation (calls = forbidden-call)
      torch_allowed      whether ``import torch`` is allowed (False for NumPy exercises)
      mutation_first     report mutated-input before looking at values (False: values first)
      call_timeout       seconds allowed per call in outside verification
      precision          "float32" where answers computed in float32 are accepted; otherwise the tolerance
                         follows the case's inputs (``compare.tolerance_for``), never the answer's dtype
      withheld_while_graded  library functions withheld only in the verification job of this exercise's calls:
                         ones other exercises may use, but that would compute this one's answer
    """

    name = ""
    lecture = ""
    args: tuple = ()
    outputs: tuple = ()
    hints: dict = {}
    library_functions: tuple = ()
    torch_allowed = False
    mutation_first = True
    call_timeout = 10.0
    precision = "float64"
    withheld_while_graded: tuple = ()

    # -- to write per exercise ----------------------------------------------------------
    def cases(self, rng: np.random.Generator, hidden: bool) -> list[Case]:
        raise NotImplementedError

    def reference(self, case: Case) -> dict:
        """The NumPy reference: output name -> expected value (ndarray or float)."""
        raise NotImplementedError

    def oracles(self, case: Case) -> dict:
        """Other oracles: oracle name -> {output name -> value}; must agree with reference."""
        return {}

    def mistakes(self, case: Case) -> list:
        """Predicted wrong answers, most specific first: [(diagnosis_id, {output: value}), ...];
        an optional third item explains the pattern ("which is ..." by default)."""
        return []

    # -- shared machinery -----------------------------------------------------------------
    def draw_cases(self, seed: int, hidden: bool) -> list[Case]:
        return self.cases(np.random.default_rng(seed), hidden)

    def expected(self, case: Case) -> dict:
        """The reference, after asserting that every oracle agrees with it. Remembered per case
        (the oracles run PyTorch and finite differences): a check run again, or another answer
        checked on the same seed, reuses it."""
        remembered = self.__dict__.setdefault("_expected", OrderedDict())  # this exercise object's own
        key = _case_key(case)
        if key is not None and key in remembered:
            remembered.move_to_end(key)
            return copy.deepcopy(remembered[key])
        reference = self._checked_reference(case)
        if key is not None:
            remembered[key] = copy.deepcopy(reference)
            if len(remembered) > _EXPECTED_SIZE:
                remembered.popitem(last=False)
        return reference

    def _checked_reference(self, case: Case) -> dict:
        reference = self.reference(case)
        for oracle, values in self.oracles(case).items():
            for output, value in values.items():
                ref = reference[output]
                value, ref = np.asarray(value, float), np.asarray(ref, float)
                # relative, or within central differences' round-off (~1e-11) on a tiny gradient
                ok = np.shape(value) == np.shape(ref) and (output_error(value, ref) <= ORACLE_TOLERANCE or
                                                           float(np.max(np.abs(value - ref), initial=0)) <= ORACLE_ABSOLUTE)
                if not ok:
                    raise OracleDisagreement(
                        f"{self.name}: the {oracle} oracle disagrees with the NumPy reference on "
                        f"{output} ({case.label}). This is a bug in Backprop Lab, not in your code.")
        return reference

    def split(self, value, case: Case):
        """Returned value -> {output name: value}, or a CaseVerdict when it cannot be split."""
        if len(self.outputs) == 1:
            return {self.outputs[0]: value}
        names = ", ".join(self.outputs)
        if not isinstance(value, (tuple, list)) or len(value) != len(self.outputs):
            return CaseVerdict(False, "not-an-array",
                               f"{self.name} should return a tuple ({names}), but it returned "
                               f"{describe_value(value)}" +
                               (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "") + ".")
        return dict(zip(self.outputs, value))

    def judge(self, case: Case, outcome: Outcome, expected: dict) -> CaseVerdict:
        """Name the mistake in one outcome (override to add exercise-specific judging)."""
        early = self.judge_running(case, outcome)
        if early is not None:
            return early
        mutated = self.mutation_verdict(outcome)
        if mutated is not None and self.mutation_first:
            return mutated
        split = self.split(outcome.value, case)
        if isinstance(split, CaseVerdict):
            return split
        verdict = self.judge_outputs(case, split, expected)
        if verdict.passed and mutated is not None:
            return mutated
        return verdict

    def judge_running(self, case, outcome) -> CaseVerdict | None:
        """Forbidden calls and how the call ended (not-implemented, timeout, crash)."""
        if outcome.forbidden:
            what = ", ".join(sorted(set(outcome.forbidden)))
            return CaseVerdict(False, "forbidden-call",
                               f"{self.name} used {what}, which this exercise does not allow.")
        if outcome.status == "not-implemented":
            return CaseVerdict(False, "not-implemented", f"{self.name} is not implemented yet.")
        if outcome.status == "timeout":
            return CaseVerdict(False, "timeout", f"{self.name} did not finish in time"
                               f"{': ' + outcome.exc_message if outcome.exc_message else ''} (an endless loop?).")
        if outcome.status in ("raised", "crash"):
            where = f" on the case {case.label}" if case.label else ""
            text = f"{outcome.exc_type}: {outcome.exc_message}" if outcome.exc_type else outcome.exc_message
            return CaseVerdict(False, "crash", f"{self.name} raised an error{where}: {text}")
        return None

    def mutation_verdict(self, outcome) -> CaseVerdict | None:
        if not outcome.mutated:
            return None
        return CaseVerdict(False, "mutated-input",
                           f"{self.name} changed its input {', '.join(outcome.mutated)} in place.")

    def judge_outputs(self, case, outputs: dict, expected: dict) -> CaseVerdict:
        hypotheses: dict[str, list] = {name: [] for name in expected}
        for diagnosis, predicted, *explanation in self.mistakes(case):
            for name, value in predicted.items():
                if name in hypotheses:
                    hypotheses[name].append((require(diagnosis), value, *explanation))
        tol = tolerance_for(*case.args, case.kwargs) if self.precision == "float64" else TOLERANCES["float32"]
        verdicts = [compare_output(name, outputs.get(name), expected[name], m=case.m,
                                   hypotheses=hypotheses[name], tol=tol)
                    for name in expected]
        return combine(verdicts, case)


def combine(verdicts: list[OutputVerdict], case: Case) -> CaseVerdict:
    """Per-output verdicts -> one case verdict; the most specific diagnosis wins."""
    outputs = {v.name: v.passed for v in verdicts}
    failed = [v for v in verdicts if not v.passed]
    if not failed:
        return CaseVerdict(True, None, "", outputs)
    specific = [v for v in failed if v.diagnosis != "wrong-values"]
    first = (specific or failed)[0]
    same = [v.name for v in failed if v is not first and v.diagnosis == first.diagnosis]
    different = [v.detail for v in failed if v is not first and v.diagnosis != first.diagnosis]
    message = first.detail
    if same:
        message += f" The same pattern shows in {', '.join(same)}."
    if different:
        message += " Also: " + " ".join(different[:2]) + (" ..." if len(different) > 2 else "")
    shown = next((v for v in failed if v.difference is not None and v.difference.ndim == 2), None)
    if shown is None:
        return CaseVerdict(False, first.diagnosis, message, outputs)
    return CaseVerdict(False, first.diagnosis, message, outputs, shown.difference, shown.expected)


def register(cls):
    """Class decorator: instantiate the exercise and add it to ``EXERCISES``."""
    exercise = cls()
    if exercise.name in EXERCISES:
        raise ValueError(f"exercise {exercise.name!r} registered twice")
    EXERCISES[exercise.name] = exercise
    return cls


def get_exercise(name: str) -> Exercise:
    """The registered exercise ``name`` (importing ``backproplab.checks`` registers every lecture's)."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no check for exercise {name!r}; known: {sorted(EXERCISES)}") from None


# ---------------------------------------------------------------------------------------
# Calling student code (shared by check() and the sandboxed runner)


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
    recording wrapper wherever the original function object is bound: in every loaded
    ``backproplab`` module (so the re-export in ``backproplab/__init__`` is covered too)
    and in the given namespaces (e.g. the student's globals); ``uninstall()`` restores them.
    """

    def __init__(self, names, namespaces=()):
        self.names = tuple(names)
        self.namespaces = list(namespaces)
        self.calls: list[str] = []
        self._patched: list = []

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

        for name in self.names:
            module_name, _, attribute = name.rpartition(".")
            original = getattr(importlib.import_module(module_name), attribute)
            original = getattr(original, "__bplab_original__", original)
            wrapper = self._wrapper(name, original)
            targets = [vars(module) for key, module in list(sys.modules.items())
                       if module is not None and (key == "backproplab" or key.startswith("backproplab."))]
            for namespace in targets + self.namespaces:
                for key, value in list(namespace.items()):
                    if value is original:
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


# ---------------------------------------------------------------------------------------
# Seeds, evaluation and check()


def visible_seed(exercise: str) -> int:
    """The fixed seed of an exercise's visible test (the same for every student)."""
    return zlib.crc32(f"visible:{exercise}".encode()) & 0x7FFFFFFF


def hidden_seed(base_seed: int, exercise: str) -> int:
    """An exercise's hidden-test seed derived from a per-student base seed."""
    return zlib.crc32(f"hidden:{base_seed}:{exercise}".encode()) & 0x7FFFFFFF


def _replay(exercise, hidden, seed) -> str:
    flag = ", hidden=True" if hidden else ""
    return f'(seed {seed}; replay with check("{exercise}", {exercise}{flag}, seed={seed}))'


def evaluate(exercise: Exercise, cases: list[Case], outcome_for, *, seed: int, hidden: bool, rung: int = 1) -> Verdict:
    """Judge case by case; ``outcome_for(index, case)`` supplies each Outcome (lazily, so a
    kernel check stops calling the student's function at the first failure). A failure's message
    is the observation followed by the exercise's hint ladder up to ``rung`` (1..RUNGS)."""
    outputs = {}
    for index, case in enumerate(cases):
        outcome = outcome_for(index, case)
        expected = exercise.expected(case)
        verdict = exercise.judge(case, outcome, expected)
        outputs = verdict.outputs or outputs
        if not verdict.passed:
            kind = "hidden test" if hidden else "test"
            where = f"case {index + 1} of {len(cases)}" + (f", {case.label}" if case.label else "")
            hint = ladder_text(exercise, verdict.diagnosis, rung)
            message = (f"{exercise.name} failed a {kind} ({where}): {verdict.message} "
                       f"{hint + ' ' if hint else ''}{_replay(exercise.name, hidden, seed)}")
            return Verdict(exercise.name, hidden, False, require(verdict.diagnosis), message, seed,
                           verdict.outputs, verdict.difference, expected=verdict.expected)
    count = f"{len(cases)} {'hidden ' if hidden else ''}case{'s' if len(cases) != 1 else ''}"
    message = f"{exercise.name} passed {'all ' if len(cases) > 1 else ''}{count}."
    return Verdict(exercise.name, hidden, True, None, message, seed, {k: True for k in outputs})


OUTCOMES_MIME = "application/vnd.backproplab.outcomes+json"
GRADING_ENV = "BPLAB_GRADING"  # set in the grader's kernel: "1", never the seed


def _on_alarm(signum, frame):
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


class _GradingCall:
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


# Failed check() calls per exercise in this kernel session: they choose the rung of the hint ladder.
FAILED_TRIES: Counter = Counter()


def check(exercise: str, fn, *, hidden: bool = False, seed: int | None = None, hint: int | None = None) -> Verdict | None:
    """Check a student's function on fresh inputs and say what is wrong, if anything.

    Visible tests use the exercise's fixed seed; hidden tests use ``seed``, else the
    ``BPLAB_SEED`` environment variable, else a random seed. Shows the verdict (HTML in
    Jupyter, plain text elsewhere) and raises ``CheckFailed`` when the check fails.
    A failure's hint is the rung (checks/hints.py) that the exercise's failed tries in this session
    reach, or at least ``hint`` (1..3) when given.

    While grading (``BPLAB_GRADING`` set, inside the sandbox) it does nothing: the graded
    calls are made in a verification job (grading/sandbox/verification.py) and judged outside.
    The kernel is told only that it is being graded, never the hidden seed.
    """
    ex = get_exercise(exercise)
    if hint is not None and (isinstance(hint, bool) or hint not in range(1, RUNGS + 1)):
        raise ValueError(f"hint must be 1, 2 or {RUNGS} (the rung of the hint ladder), not {hint!r}")
    if os.environ.get(GRADING_ENV, "").strip():
        print(f"{exercise}: checked by the grader, outside this notebook")
        return None
    if seed is None:
        if not hidden:
            seed = visible_seed(exercise)
        elif os.environ.get("BPLAB_SEED", "").strip():
            seed = int(os.environ["BPLAB_SEED"])
        else:
            seed = int(np.random.SeedSequence().entropy % 2**31)
    cases = ex.draw_cases(seed, hidden)
    guard = LibraryGuard(ex.library_functions, [getattr(fn, "__globals__", {})])

    def call(index, case):
        guard.install()
        try:
            return run_case(fn, case, ex.args, guard=guard)
        finally:
            guard.uninstall()

    tries = FAILED_TRIES[exercise] + 1  # this call's number, should it fail
    result = evaluate(ex, cases, call, seed=seed, hidden=hidden, rung=rung_for(tries, hint))
    if not result.passed:
        FAILED_TRIES[exercise] = tries
    from .display import show

    show(result)
    if not result.passed:
        raise CheckFailed(result)
    return result
