"""The judge: the score that counts, decided outside the sandbox from the one run of the notebook.

While grading, each test cell holds an outcome record (``sandbox.protocol.OUTCOMES_MIME``: what the
student's function returned on the graded cases, codec JSON, never a verdict), made by a verification
job in the sandbox (sandbox/verification.py). ``judge_notebook`` reads those records from the executed
notebook's test cells, draws the same cases from the same seed, and judges them with the exercise's reference and
oracles, in a process that never runs student code. It returns one ``Verdict`` per test cell
of the trusted source notebook.

A record that is missing, duplicated, malformed, or holds more outcomes than cases is ``tampering``.
A call that could not be made gets the reason from the error in its place (``not-implemented``,
``timeout``, ``crash``). With ``credit_dependents``
(the course default), an exercise that fails only because it calls another exercise that the
student got wrong, and passes with the reference in its place, keeps its points.

The verdicts reach the worker in one place: ``record_verdicts`` puts them, as one list of ``Verdict.to_json``, into
the graded notebook's ``bplab`` metadata (which the sandbox's run rewrote, so a student cannot leave one there);
``recorded_verdicts`` reads them back, one per test cell of the source, validated.

A failed verdict's message ends with the exercise's hint ladder (checks/hints.py) up to ``hint_rung``
(the course setting ``c.JudgeOutcomes.hint_rung``: 1, the nudge, by default; RUNGS shows the formula).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..checks import Outcome, Verdict, evaluate, get_exercise, hidden_seed, visible_seed
from . import cells
from .sandbox.protocol import OUTCOMES_MIME, check_calls

__all__ = ["TestCell", "find_test_cells", "judge_notebook", "failed_verdicts", "record_verdicts", "recorded_verdicts"]


@dataclass
class TestCell:
    """A ``check(...)`` test cell of the source notebook."""
    __test__ = False  # not a pytest class
    grade_id: str
    exercise: str
    hidden: bool
    points: float

    def verdict(self, passed: bool, diagnosis: str | None, message: str) -> Verdict:
        """A verdict on this test cell that no judged record produced (it failed before recording)."""
        return Verdict(self.exercise, self.hidden, passed, diagnosis, message, grade_id=self.grade_id, points=self.points)


def find_test_cells(source_nb) -> list[TestCell]:
    """The source notebook's test cells, in order (one per graded cell holding a check() call)."""
    tests = []
    for cell in source_nb.cells:
        if cell.cell_type != "code" or not cells.is_grade(cell) or not cells.grade_id(cell):
            continue
        for call in check_calls(cell.source)[:1]:
            tests.append(TestCell(cells.grade_id(cell), call.exercise, call.hidden, cells.points(cell)))
    return tests


def failed_verdicts(source_nb, diagnosis: str, message: str) -> list[Verdict]:
    """Every test of the source failed for one reason (the submission could not be run at all)."""
    return [t.verdict(False, diagnosis, message) for t in find_test_cells(source_nb)]


def record_verdicts(nb, verdicts: list[Verdict]) -> None:
    """Put ``verdicts`` into the graded notebook ``nb``'s ``bplab`` metadata, replacing any there."""
    if not isinstance(nb.metadata.get("bplab"), dict):
        nb.metadata["bplab"] = {}
    nb.metadata["bplab"]["verdicts"] = [v.to_json() for v in verdicts]


def recorded_verdicts(graded_nb, source_nb) -> list[Verdict]:
    """The verdicts ``record_verdicts`` left in ``graded_nb``, one per test cell of ``source_nb`` in its order; a
    test cell without a readable one failed ("crash", "not graded")."""
    metadata = graded_nb.metadata.get("bplab")
    recorded = metadata.get("verdicts") if isinstance(metadata, dict) else None
    by_id = {}
    for data in recorded if isinstance(recorded, list) else []:
        try:
            verdict = Verdict.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
        by_id.setdefault(verdict.grade_id, verdict)
    return [by_id.get(test.grade_id) or test.verdict(False, "crash", "not graded") for test in find_test_cells(source_nb)]


class _Unusable(ValueError):
    """An outcome record that cannot be trusted to be what check() published."""


def _records(cell):
    records = []
    for output in cell.get("outputs", []):
        data = output.get("data", {}) if isinstance(output, dict) else {}
        if OUTCOMES_MIME in data:
            records.append(data[OUTCOMES_MIME])
    return records


def _outcomes(raw, count) -> list[Outcome]:
    if not isinstance(raw, list) or len(raw) > count:
        raise _Unusable("more outcomes than cases" if isinstance(raw, list) else "no outcome list")
    try:
        outcomes = [Outcome.from_data(item) for item in raw]
    except Exception as err:
        raise _Unusable(f"an outcome could not be decoded ({type(err).__name__})") from None
    for outcome in outcomes:
        if outcome.status not in ("returned", "raised", "not-implemented", "timeout", "crash") or \
                not isinstance(outcome.forbidden, list) or not isinstance(outcome.mutated, list):
            raise _Unusable("an outcome has an unknown form")
    if len(outcomes) < count and (not outcomes or outcomes[-1].status != "timeout"):
        raise _Unusable("fewer outcomes than cases")
    return outcomes


def _judge(exercise, cases, outcomes, seed, hidden, rung):
    def outcome_for(index, case):
        if index < len(outcomes):
            return outcomes[index]
        return Outcome("timeout", exc_message="stopped before this case (time limit)")

    return evaluate(exercise, cases, outcome_for, seed=seed, hidden=hidden, rung=rung)


def _errors(cell):
    return [o for o in cell.get("outputs", []) if isinstance(o, dict) and o.get("output_type") == "error"]


def answer_cell_error(exercise, answer_cell):
    """(diagnosis, message) when the exercise's answer cell itself stopped with an error (a SyntaxError, an
    import that fails), which leaves its function undefined; None when it ran."""
    errors = _errors(answer_cell or {})
    if not errors:
        return None
    ename, evalue = str(errors[0].get("ename", "")), str(errors[0].get("evalue", ""))[:300]
    return "crash", f"the answer cell of {exercise} stops with {ename}: {evalue}; fix it, then run the cell again."


def _failure_before_record(cell, test: TestCell, answer_cell=None):
    """(diagnosis, message) for a test cell that recorded nothing (``answer_cell``: the exercise's, as run)."""
    errors = _errors(cell)
    if not errors:
        return "tampering", (f"the check of {test.exercise} did not run: the test cell was bypassed "
                             f"(check replaced, or the cell rewritten).")
    ename, evalue = str(errors[-1].get("ename", "")), str(errors[-1].get("evalue", ""))[:300]
    if ename == "NameError" and test.exercise in evalue:
        return answer_cell_error(test.exercise, answer_cell) or \
            ("not-implemented", f"{test.exercise} is not defined: run its answer cell (and keep its name).")
    if ename == "CellTimeoutError":
        return "timeout", f"the test of {test.exercise} ran out of time (an endless loop?)."
    if ename == "NotRun":
        return "crash", f"the test of {test.exercise} was not run: the notebook's run ended before it."
    if ename == "DeadKernelError":
        return "crash", (f"the kernel died while testing {test.exercise} (os._exit, a crash, or a resource limit "
                         f"such as memory or CPU time).")
    return "crash", f"the test of {test.exercise} stopped with {ename}: {evalue}"


def judge_notebook(source_nb, executed_nb, *, seed: int, credit_dependents: bool = True,
                   hint_rung: int = 1) -> list[Verdict]:
    """One Verdict per test cell of ``source_nb``, judged from ``executed_nb``'s outcome records; a failure's
    message shows the hint ladder up to ``hint_rung`` (1..checks.hints.RUNGS)."""
    by_id = {}
    for cell in executed_nb.cells:
        if cells.grade_id(cell):
            by_id.setdefault(cells.grade_id(cell), []).append(cell)
    verdicts, dependents = [], []
    for test in find_test_cells(source_nb):
        exercise = get_exercise(test.exercise)
        test_seed = hidden_seed(seed, test.exercise) if test.hidden else visible_seed(test.exercise)

        found = by_id.get(test.grade_id, [])
        if len(found) != 1:
            verdicts.append(test.verdict(False, "tampering", f"the test cell {test.grade_id} is missing or duplicated."))
            continue
        records = _records(found[0])
        if not records:
            answer = by_id.get(test.exercise, [None])[0]
            verdicts.append(test.verdict(False, *_failure_before_record(found[0], test, answer)))
            continue
        record = records[0]
        cases = exercise.draw_cases(test_seed, test.hidden)
        try:
            if len(records) != 1 or not isinstance(record, dict) or record.get("exercise") != test.exercise \
                    or bool(record.get("hidden")) != test.hidden:
                raise _Unusable("the outcome record does not belong to this test")
            result = _judge(exercise, cases, _outcomes(record.get("outcomes"), len(cases)), test_seed, test.hidden,
                            hint_rung)
        except _Unusable as err:
            verdicts.append(test.verdict(False, "tampering", f"the outcomes of {test.exercise} were tampered with: {err}."))
            continue
        verdicts.append(replace(result, grade_id=test.grade_id, points=test.points))
        with_reference = record.get("with_reference")
        if not result.passed and isinstance(with_reference, dict):
            dependents.append((len(verdicts) - 1, exercise, cases, test_seed, with_reference))
    if credit_dependents:
        _credit_dependents(verdicts, dependents, hint_rung)
    return verdicts


def _credit_dependents(verdicts, dependents, rung):
    """An exercise that is right given correct helpers keeps its points when a helper is wrong; one
    that is wrong anyway is diagnosed with correct helpers, so the diagnosis names its own mistake. The message
    names the helpers wrong in their own right (dense_backward), not one wrong only through them and credited
    before (model_backward, which calls dense_backward): dependents come in the notebook's order, callers last."""
    wrong = {v.exercise for v in verdicts if not v.passed}
    culprits = {}  # {credited exercise: the helpers it was wrong through}
    for index, exercise, cases, seed, with_reference in dependents:
        helpers = with_reference.get("exercises")
        if not isinstance(helpers, list) or not set(map(str, helpers)) & wrong:
            continue
        involved = set(map(str, helpers)) & wrong
        try:
            result = _judge(exercise, cases, _outcomes(with_reference.get("outcomes"), len(cases)), seed,
                            verdicts[index].hidden, rung)
        except _Unusable:
            continue
        blamed = set().union(*(culprits.get(h, {h}) for h in involved))
        names = ", ".join(f"`{h}`" for h in sorted(blamed))
        old = verdicts[index]
        if result.passed:
            culprits.setdefault(old.exercise, set()).update(blamed)
            verdicts[index] = replace(
                old, passed=True, diagnosis=None, difference=None, expected=None,
                message=f"{old.exercise} is correct, but it calls your {names}, which is wrong: with a correct {names} "
                        f"it passes, so it keeps its points. (On its own it failed: {old.message})")
        else:  # wrong in its own right: name its own mistake, seen with a correct helper
            verdicts[index] = replace(
                result, grade_id=old.grade_id, points=old.points,
                message=f"{result.message} (It also calls your {names}, which is wrong; this verdict uses a correct "
                        f"{names} in its place.)")
