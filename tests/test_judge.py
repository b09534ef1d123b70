"""The judge (backproplab/grading/judge.py) on real outcome records: the records are made by the
verification job's own code (``verification.plan_calls``, ``call_outcomes`` and ``lent_helpers``, its questions
answered by ``VerificationJob`` as over the socket) calling the catalog's answers in this process, then judged as the
grader does. Tampered records, bypassed checks and the crediting of
exercises that call a wrong helper are judged here; the sandbox and kernel are tested in
test_sandbox.py and test_preprocessors.py."""
from __future__ import annotations

import copy
import json

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from backproplab.checks import get_exercise
from backproplab.grading.judge import find_test_cells, judge_notebook, record_verdicts, recorded_verdicts
from backproplab.grading.sandbox.protocol import OUTCOMES_MIME
from backproplab.grading.sandbox.verification import VerificationJob, lent_helpers, plan_calls
from backproplab.grading.sandbox.verification_job import Channel, call_outcomes, library_function
from catalog_helpers import catalog

LECTURE04 = catalog("04-backprop")
SEED = 2024


def _variant(exercise, name):
    (found,) = [v for v in LECTURE04.VARIANTS if v.exercise == exercise and v.name == name]
    return found


WRONG_DENSE = _variant("dense_backward", "dW-transposed")
WRONG_MODEL = _variant("model_backward", "derivative-at-A")


def build_source(exercises):
    """A source notebook in ARCHITECTURE.md's conventions: an answer, a visible and a hidden test per exercise."""
    cells = [new_markdown_cell("# factory-built notebook"),
             new_code_cell(LECTURE04.SETUP + "from backproplab.checks import check\n", metadata={"tags": ["setup"]})]
    for exercise in exercises:
        cells.append(new_code_cell(LECTURE04.ANSWERS[exercise], metadata={"nbgrader": {
            "grade_id": exercise, "solution": True, "grade": False, "locked": False}}))
        cells.append(new_code_cell(f'check("{exercise}", {exercise})', metadata={"nbgrader": {
            "grade_id": f"test_{exercise}", "grade": True, "solution": False, "locked": True, "points": 1}}))
        body = f'### BEGIN HIDDEN TESTS\ncheck("{exercise}", {exercise}, hidden=True)\n### END HIDDEN TESTS'
        cells.append(new_code_cell(body, metadata={"nbgrader": {
            "grade_id": f"test_{exercise}_hidden", "grade": True, "solution": False, "locked": True, "points": 2}}))
    return new_notebook(cells=cells)


class LocalChannel(Channel):
    """The job's channel without a socket: each question goes, as JSON, to the executor's VerificationJob."""

    def __init__(self, job):
        self.job = job

    def exchange(self, question):
        return json.loads(json.dumps(self.job._handle(json.loads(json.dumps(question)))))


def executed(source_nb, answers, monkeypatch, seed=SEED):
    """``source_nb`` as the grader gets it back: each test cell holds the outcome record a verification
    job makes of ``answers`` ({exercise: source}), with_reference included."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    cells = [[i, c.source] for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    tests = {i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")}
    planned, withheld = plan_calls(cells, tests, {i for i, _ in cells} - tests, seed)
    namespace = {}
    exec(LECTURE04.SETUP, namespace)
    for source in answers.values():
        exec(source, namespace)
    for cell in nb.cells:
        cell.outputs = []
    for position, call in enumerate(planned):
        fn = namespace[call.call.function]
        record = {"exercise": call.call.exercise, "hidden": call.call.hidden,
                  "outcomes": call_outcomes(fn, call.to_spec(), LocalChannel(VerificationJob({position: call}, 60)),
                                            position)}
        if call.helpers:  # as a with_reference job: the library's helpers lent in place of the student's
            lent = {name: library_function(dotted) for name, dotted in lent_helpers(call.helpers, call.call.exercise,
                                                                                      withheld).items()}
            record["with_reference"] = {"exercises": sorted(lent), "outcomes": call_outcomes(
                fn, call.to_spec(), LocalChannel(VerificationJob({position: call}, 60)), position, patch=lent)}
        nb.cells[call.cell].outputs.append(new_output("display_data", data={OUTCOMES_MIME: record, "text/plain": "recorded"}))
    return nb


def by_id(verdicts):
    return {v.grade_id: v for v in verdicts}


@pytest.fixture(scope="module")
def source_nb():
    return build_source(["binary_cross_entropy", "dense_backward", "model_backward", "update_parameters"])


def correct(**replaced):
    return {**{name: LECTURE04.ANSWERS[name] for name in
               ("binary_cross_entropy", "dense_backward", "model_backward", "update_parameters")}, **replaced}


def test_correct_answers_pass_every_test_visible_and_hidden(source_nb, monkeypatch):
    """Do the catalog's correct answers pass all eight tests, scoring every point?"""
    verdicts = judge_notebook(source_nb, executed(source_nb, correct(), monkeypatch), seed=SEED)
    assert [(v.grade_id, v.message) for v in verdicts if not v.passed] == []
    assert sum(v.score for v in verdicts) == sum(v.points for v in verdicts) == 12


def test_wrong_helper_with_right_caller_costs_only_the_helper(source_nb, monkeypatch):
    """Does a transposed dense_backward cost only its own tests, while model_backward (right given a
    correct dense_backward) keeps its points with a message that names the helper?"""
    nb = executed(source_nb, correct(dense_backward=WRONG_DENSE.source), monkeypatch)
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    assert verdicts["test_dense_backward"].diagnosis == "transposed" and verdicts["test_dense_backward"].score == 0
    model = verdicts["test_model_backward_hidden"]
    assert model.passed and model.score == 2
    assert "calls your `dense_backward`, which is wrong" in model.message


def test_wrong_helper_with_wrong_caller_costs_both(source_nb, monkeypatch):
    """With dense_backward and model_backward both wrong, do both lose their points (model_backward with its own diagnosis)?"""
    nb = executed(source_nb, correct(dense_backward=WRONG_DENSE.source, model_backward=WRONG_MODEL.source), monkeypatch)
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    assert not verdicts["test_dense_backward"].passed
    assert not verdicts["test_model_backward"].passed and not verdicts["test_model_backward_hidden"].passed
    assert verdicts["test_model_backward"].diagnosis == "derivative-at-output"  # its own mistake, named
    assert "also calls your `dense_backward`" in verdicts["test_model_backward"].message


def test_course_policy_off_takes_the_callers_points_too(source_nb, monkeypatch):
    """With credit_dependents off (a course setting), does the caller of a wrong helper lose its points?"""
    nb = executed(source_nb, correct(dense_backward=WRONG_DENSE.source), monkeypatch)
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED, credit_dependents=False))
    assert not verdicts["test_model_backward"].passed


def test_feedback_shows_the_hint_rung_the_course_sets(source_nb, monkeypatch):
    """Does a failed test's message end with the nudge only by default, and with the step and the formula when the
    course sets c.JudgeOutcomes.hint_rung = 3, the diagnosis and the score unchanged?"""
    nb = executed(source_nb, correct(dense_backward=WRONG_DENSE.source), monkeypatch)
    hint = get_exercise("dense_backward").hints["transposed"]
    first = by_id(judge_notebook(source_nb, copy.deepcopy(nb), seed=SEED))["test_dense_backward"]
    last = by_id(judge_notebook(source_nb, nb, seed=SEED, hint_rung=3))["test_dense_backward"]
    assert hint.nudge in first.message and hint.step not in first.message and hint.formula not in first.message
    assert hint.step in last.message and hint.formula in last.message
    assert (first.diagnosis, first.score) == (last.diagnosis, last.score) == ("transposed", 0)


def test_a_right_helper_never_credits_a_wrong_caller(source_nb, monkeypatch):
    """Is a wrong model_backward (with a correct dense_backward) judged on its own, with its diagnosis?"""
    nb = executed(source_nb, correct(model_backward=WRONG_MODEL.source), monkeypatch)
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    assert verdicts["test_model_backward"].diagnosis == "derivative-at-output"


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


@pytest.mark.parametrize("tamper, reason", [
    (lambda cell: cell.outputs.clear(), "bypassed"),
    (lambda cell: cell.outputs.append(copy.deepcopy(cell.outputs[0])), "does not belong"),
    (lambda cell: cell.outputs[0]["data"][OUTCOMES_MIME].update(outcomes="forged"), "no outcome list"),
    (lambda cell: cell.outputs[0]["data"][OUTCOMES_MIME]["outcomes"].extend(
        [cell.outputs[0]["data"][OUTCOMES_MIME]["outcomes"][0]] * 1000), "more outcomes than cases"),
    (lambda cell: cell.outputs[0]["data"][OUTCOMES_MIME]["outcomes"].pop(), "fewer outcomes"),
    (lambda cell: cell.outputs[0]["data"][OUTCOMES_MIME].update(exercise="update_parameters"), "does not belong"),
    (lambda cell: cell.outputs[0]["data"][OUTCOMES_MIME]["outcomes"].__setitem__(0, {"status": {"bad": 1}}),
     "could not be decoded"),
], ids=["no-record", "two-records", "not-a-list", "extra-outcomes", "missing-outcome", "other-exercise", "garbage"])
def test_tampered_records_score_zero_as_tampering(source_nb, monkeypatch, tamper, reason):
    """Does every way of bypassing or forging a test's record cost that test, diagnosed as tampering?"""
    nb = executed(source_nb, correct(), monkeypatch)
    tamper(_cell(nb, "test_dense_backward"))
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    forged = verdicts["test_dense_backward"]
    assert (forged.passed, forged.diagnosis) == (False, "tampering") and reason in forged.message
    assert verdicts["test_dense_backward_hidden"].passed


def test_records_for_another_seed_fail_the_hidden_test(source_nb, monkeypatch):
    """Are outcomes recorded on another student's hidden cases judged wrong on this student's cases?"""
    nb = executed(source_nb, correct(), monkeypatch, seed=SEED + 1)
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    assert not verdicts["test_dense_backward_hidden"].passed
    assert verdicts["test_dense_backward"].passed  # the visible cases are the same for everyone


@pytest.mark.parametrize("ename, evalue, diagnosis", [
    ("NameError", "name 'dense_backward' is not defined", "not-implemented"),
    ("CellTimeoutError", "the cell ran out of time", "timeout"),
    ("DeadKernelError", "the kernel died", "crash"),
    ("NotRun", "the cell was not run", "crash"),
    ("ZeroDivisionError", "division by zero", "crash"),
])
def test_a_test_cell_that_failed_before_recording_gets_its_reason(source_nb, monkeypatch, ename, evalue, diagnosis):
    """Does a test cell that stopped with an error before check() recorded anything get the matching diagnosis?"""
    nb = executed(source_nb, correct(), monkeypatch)
    _cell(nb, "test_dense_backward").outputs = [new_output("error", ename=ename, evalue=evalue, traceback=[])]
    assert by_id(judge_notebook(source_nb, nb, seed=SEED))["test_dense_backward"].diagnosis == diagnosis


def test_deleted_or_duplicated_test_cell_is_tampering(source_nb, monkeypatch):
    """Is a test cell missing from (or twice in) the executed notebook judged as tampering?"""
    nb = executed(source_nb, correct(), monkeypatch)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_update_parameters"]
    nb.cells.append(copy.deepcopy(_cell(nb, "test_dense_backward")))
    verdicts = by_id(judge_notebook(source_nb, nb, seed=SEED))
    assert verdicts["test_update_parameters"].diagnosis == verdicts["test_dense_backward"].diagnosis == "tampering"


def test_verdicts_reach_the_worker_as_judged_and_a_forged_or_missing_one_is_not_graded(source_nb, monkeypatch):
    """Does the worker read back exactly the verdicts the judge recorded in the graded notebook, one per test cell in
    the source's order; and is a test cell whose recorded verdict is missing or malformed (a student's notebook
    metadata, or a run that never reached the judge) failed as "not graded", never passed?"""
    nb = executed(source_nb, correct(dense_backward=WRONG_DENSE.source), monkeypatch)
    verdicts = judge_notebook(source_nb, nb, seed=SEED)
    record_verdicts(nb, verdicts)
    assert [v.to_json() for v in recorded_verdicts(nb, source_nb)] == [v.to_json() for v in verdicts]
    order = [test.grade_id for test in find_test_cells(source_nb)]
    nb.metadata["bplab"]["verdicts"] = [verdicts[0].to_json(), {"grade_id": order[1], "passed": True}, "forged"]
    back = recorded_verdicts(nb, source_nb)
    assert [v.grade_id for v in back] == order
    assert back[0].to_json() == verdicts[0].to_json() and not any(v.passed for v in back[1:])
    assert {(v.diagnosis, v.message) for v in back[1:]} == {("crash", "not graded")}
    nb.metadata["bplab"] = "forged"
    assert not any(v.passed for v in recorded_verdicts(nb, source_nb))


def test_find_test_cells_reads_check_calls_with_ast(source_nb):
    """Are test cells found by parsing check("<exercise>", ..., hidden=...) in graded cells?"""
    cells = find_test_cells(source_nb)
    assert [(c.exercise, c.hidden) for c in cells][:2] == [("binary_cross_entropy", False),
                                                          ("binary_cross_entropy", True)]
    assert {c.points for c in cells} == {1.0, 2.0}


def test_judged_missing_one_over_m_shows_the_constant_ratio_in_the_graded_notebook(source_nb, monkeypatch):
    """Does the grader's verdict on "dW-without-1/m" (judged outside the kernel) put the ratio map, m
    everywhere, into the test cell's HTML, while the stored JSON record keeps its fields?"""
    from backproplab.grading.preprocessors import verdict_outputs

    missing = _variant("dense_backward", "dW-without-1/m").source
    verdicts = by_id(judge_notebook(source_nb, executed(source_nb, correct(dense_backward=missing), monkeypatch), seed=SEED))
    for grade_id in ("test_dense_backward", "test_dense_backward_hidden"):
        verdict = verdicts[grade_id]
        m = get_exercise("dense_backward").draw_cases(verdict.seed, verdict.hidden)[0].m
        html = verdict_outputs(verdict)[0]["data"]["text/html"]
        assert verdict.diagnosis == "missing-mean" and f"student / expected: {m:.2f} everywhere" in html
        assert set(verdict.to_json()) == {"grade_id", "exercise", "hidden", "passed", "diagnosis", "message", "seed",
                                          "outputs", "score", "max_score"}


def test_credit_names_the_helper_that_is_wrong_in_its_own_right(monkeypatch):
    """With only dense_backward wrong, does train_two_layer (which calls model_backward, which calls dense_backward)
    keep its points with a message naming `dense_backward`, not model_backward, credited itself?"""
    exercises = ["binary_cross_entropy", "dense_backward", "model_backward", "train_two_layer"]
    source = build_source(exercises)
    answers = {name: LECTURE04.ANSWERS[name] for name in exercises}
    answers["dense_backward"] = WRONG_DENSE.source
    verdicts = by_id(judge_notebook(source, executed(source, answers, monkeypatch), seed=SEED))
    assert verdicts["test_model_backward"].passed
    train = verdicts["test_train_two_layer"]
    assert train.passed, train.message
    assert "calls your `dense_backward`, which is wrong" in train.message
    assert "model_backward" not in train.message.split("(On its own")[0]


def test_a_syntax_error_in_the_answer_cell_is_named_not_the_name_error_after_it():
    """When the answer cell stopped with a SyntaxError, is the test cell's NameError reported as that cell's error?"""
    from backproplab.grading.judge import TestCell, _failure_before_record

    error = {"output_type": "error", "ename": "NameError", "evalue": "name 'dense_backward' is not defined"}
    answer = {"outputs": [{"output_type": "error", "ename": "SyntaxError", "evalue": "invalid syntax (line 9)"}]}
    test = TestCell("test_dense_backward", "dense_backward", False, 2.0)
    assert _failure_before_record({"outputs": [error]}, test, answer) == (
        "crash", "the answer cell of dense_backward stops with SyntaxError: invalid syntax (line 9); fix it, then run "
                 "the cell again.")
    assert _failure_before_record({"outputs": [error]}, test, {"outputs": []})[0] == "not-implemented"
