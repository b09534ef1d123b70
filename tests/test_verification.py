"""Tests for backproplab/grading/sandbox/verification.py: where the records come from.

The pieces on their own: parsing test cells, planning the graded calls, withholding the answers (in a
subprocess: it rewrites the library for good), and the executor's side of the protocol (what a job
may ask and which records are kept). The whole path, in a real sandbox, is in test_preprocessors.py
and the red team's attacks (tests/attack_catalog.py)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from backproplab.checks import codec
from backproplab.grading.sandbox.protocol import CheckCall, check_calls
from backproplab.grading.sandbox.verification import VerificationJob, lent_helpers, names_called, plan_calls
from catalog_helpers import catalog

LECTURE04 = catalog("04-backprop")


def test_check_calls_reads_exercise_hidden_and_the_function_expression():
    source = 'check("dense_backward", dense_backward)\ncheck("x", my.fn, hidden=True)\nprint(check)\ncheck(1, f)'
    assert check_calls(source) == [CheckCall("dense_backward", False, "dense_backward"), CheckCall("x", True, "my.fn")]
    assert check_calls("def broken(:") == []


def test_names_called_takes_the_last_definition_and_only_its_body():
    first = "def model_backward(AL):\n    return dense_backward(AL)\n"
    second = "def model_backward(AL):\n    return relu_backward(AL)\ndef other():\n    return dense_backward(1)\n"
    assert "dense_backward" in names_called([first], "model_backward")
    called = names_called([first, second], "model_backward")
    assert "relu_backward" in called and "dense_backward" not in called


def _lecture04_cells(**answers):
    cells = [[0, LECTURE04.SETUP]]
    tests = set()
    for exercise in ("dense_backward", "model_backward"):
        cells.append([len(cells), answers.get(exercise, LECTURE04.ANSWERS[exercise])])
        cells.append([len(cells), f'check("{exercise}", {exercise}, hidden=True)'])
        tests.add(len(cells) - 1)
    return cells, tests


def test_plan_calls_draws_the_judges_cases_and_finds_helpers_by_name():
    """Are the planned cases the ones the judge will draw from the same seed, and is dense_backward a helper
    of model_backward only when model_backward's own def calls it?"""
    from backproplab.checks import get_exercise, hidden_seed

    cells, tests = _lecture04_cells()
    planned, withheld = plan_calls(cells, tests, {0, 1, 3}, seed=11)
    dense, model = planned
    assert (dense.cell, model.cell) == (2, 4) and model.helpers == ["dense_backward"] and dense.helpers == []
    judge_cases = get_exercise("dense_backward").draw_cases(hidden_seed(11, "dense_backward"), True)
    assert len(dense.cases) == len(judge_cases)
    for planned_case, case in zip(dense.cases, judge_cases):
        for sent, drawn in zip(codec.decode(planned_case["args"]), case.args):
            np.testing.assert_array_equal(sent, drawn)
    assert "backproplab.layers.dense_backward" in withheld and "backproplab.model.update_parameters" in withheld
    independent = LECTURE04.ANSWERS["model_backward"].replace("dense_backward(", "my_dense(")
    cells, tests = _lecture04_cells(model_backward=independent)
    assert plan_calls(cells, tests, {0, 1, 3}, seed=11)[0][1].helpers == []


@pytest.mark.slow
def test_withhold_traps_the_function_every_alias_and_copy_of_its_code():
    """Once withheld, does the library's function raise wherever it is reached (module, package re-export,
    a FunctionType copy of its code, the checks' own reference methods), while what is not withheld works?"""
    code = r"""
import types, numpy as np
import backproplab, backproplab.layers as L
from backproplab.checks import get_exercise
from backproplab.grading.sandbox.verification_job import withhold, WITHHELD
copy_before = L.dense_backward
ex = get_exercise("dense_backward")
case = ex.draw_cases(1, False)[0]
names = withhold(["backproplab.layers.dense_backward"])
assert "backproplab.layers.dense_backward" in names
def raises(f, *a):
    try:
        f(*a)
    except PermissionError as err:
        assert WITHHELD in str(err), err
        return True
    return False
args = (np.ones((2, 3)), np.ones((2, 4)), np.ones((3, 4)))
assert raises(L.dense_backward, *args) and raises(backproplab.dense_backward, *args) and raises(copy_before, *args)
assert raises(types.FunctionType(L.dense_backward.__code__, vars(L)), *args)
assert raises(ex.reference, case) and raises(ex.mistakes, case) and raises(ex.draw_cases, 1, False)
assert L.dense_forward(np.ones((2, 4)), np.ones((3, 4)), np.zeros((1, 3))).shape == (2, 3)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def _message(**fields):
    return json.loads(json.dumps(fields))


def _gradient_check_job():
    """A job whose only call is gradient_check's visible test (its case is issued the mlp_cost fixture)."""
    cells = [[0, LECTURE04.SETUP], [1, LECTURE04.ANSWERS["gradient_check"]], [2, 'check("gradient_check", gradient_check)']]
    planned, _ = plan_calls(cells, {2}, {0, 1}, seed=3)
    return VerificationJob({0: planned[0]}, 60), planned[0]


def _ask_fixture(job, point, call=0, case=0):
    return job._handle(_message(ask="fixture", call=call, case=case, args=codec.encode((point,)), kwargs=codec.encode({})))


def test_a_plain_job_never_gets_a_reference_nor_a_fixture_of_its_own_making():
    """Issue 27, item 1: a job names a fixture only by one of its own cases, never by a token it made up (the
    executor once ran any FnToken, so an mlp_cost of the job's choosing answered binary_cross_entropy)."""
    cells, tests = _lecture04_cells()
    planned, _ = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    job = VerificationJob(dict(enumerate(planned)), 60)
    refused = job._handle(_message(ask="reference", name="dense_backward", args=[], kwargs=codec.encode({})))
    assert "value" not in refused and "not available" in refused["error"]
    token = codec.encode(codec.FnToken("mlp_cost", {"X": np.eye(2), "Y": np.full((2, 1), 0.3), "activations": ["sigmoid"]}))
    forged = job._handle(_message(ask="fixture", token=token, args=codec.encode(({"W1": np.zeros((1, 2)),
                                                                                  "B1": np.zeros((1, 1))},)),
                                  kwargs=codec.encode({})))
    assert "value" not in forged and "no such case" in forged["error"]
    assert "this case has no fixture" in _ask_fixture(job, np.zeros(1))["error"]  # dense_backward's case has none


def test_a_fixture_answers_only_next_to_its_cases_point():
    """gradient_check's cost function answers at the case's parameters and within FIXTURE_STEP of them, entry by
    entry (all that central differences need, a gradient check that never restores an entry included: its
    mistake is diagnosed mutated-input, not crash), a bounded number of times; farther, and with arguments of
    other keys or shapes, it refuses: no weights of the job's choosing."""
    from backproplab.checks.fixtures import FIXTURES
    from backproplab.grading.sandbox.verification import FIXTURE_SPARE_QUESTIONS, FIXTURE_STEP

    job, planned = _gradient_check_job()
    token, params = planned.drawn[0].args[:2]
    cost = FIXTURES[token.name](**token.kwargs)
    assert codec.decode(_ask_fixture(job, params)["value"]) == cost(params)
    moved = {key: value.copy() for key, value in params.items()}
    moved["W1"][0, 0] += 1e-5
    moved["W2"] -= 1e-5  # every entry of W2 left moved
    assert codec.decode(_ask_fixture(job, moved)["value"]) == cost(moved)
    for how in ("far", "far-bias", "shape", "keys"):
        bad = {key: value.copy() for key, value in params.items()}
        if how == "far-bias":
            bad["B1"] += 2 * FIXTURE_STEP
        elif how == "far":
            bad["W1"][0, 0] += 2 * FIXTURE_STEP
        elif how == "shape":
            bad["W1"] = bad["W1"][:1]
        else:
            bad["W9"] = bad.pop("W1")
        answer = _ask_fixture(job, bad)
        assert "value" not in answer and "PermissionError" in answer["error"], how
    allowed = 4 * sum(value.size for value in params.values()) + FIXTURE_SPARE_QUESTIONS - 6  # 6 asked above
    answers = [_ask_fixture(job, params) for _ in range(allowed + 2)]
    assert all("value" in answer for answer in answers[:allowed])
    assert all("more often" in answer["error"] for answer in answers[allowed:])


def test_a_job_message_is_capped_and_read_once():
    """Issue 27, item 2: a line longer than JOB_MESSAGE_LIMIT ends the job at the limit (the executor once
    accepted 96 MB lines, joined with a quadratic buffer); a long honest line costs its length once."""
    import socket
    import threading
    import time

    from backproplab.grading.sandbox.limits import JOB_MESSAGE_LIMIT

    cells, tests = _lecture04_cells()
    planned, _ = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    for size, kept in ((JOB_MESSAGE_LIMIT // 2, True), (4 * JOB_MESSAGE_LIMIT, False)):
        job = VerificationJob({0: planned[0]}, 60)
        left, right = socket.socketpair()
        right.setblocking(False)
        record = json.dumps({"record": 0, "outcomes": ["x" * size]}).encode() + b"\n"

        def send(data=record, sock=left):
            try:
                sock.sendall(data + b'{"done": true}\n')
            except OSError:
                pass
            finally:
                sock.close()

        sender = threading.Thread(target=send)
        sender.start()
        started = time.process_time()
        job._conversation(right)
        right.close()
        sender.join()
        assert (0 in job.results) is kept
        assert time.process_time() - started < 5.0


def test_a_call_may_have_functions_withheld_in_its_own_job_only():
    """Issue 27, item 5: while model_backward is graded, the library's model_forward and numerical_gradient are
    withheld too (finite differences of the library's forward pass would give every gradient), but only in its
    job: train_two_layer may still use model_forward."""
    cells, tests = _lecture04_cells()
    planned, withheld = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    dense, model = planned
    assert dense.job_kind != model.job_kind
    assert "backproplab.model.model_forward" not in withheld
    spec = VerificationJob({1: model}, 60).spec([], withheld, 5)
    assert {"backproplab.model.model_forward", "backproplab.gradcheck.numerical_gradient"} <= set(spec["withhold"])
    assert "backproplab.model.model_forward" not in VerificationJob({0: dense}, 60).spec([], withheld, 5)["withhold"]
    assert "backproplab.losses.categorical_cross_entropy" in withheld  # [AL, 1 - AL] against [Y, 1 - Y] is BCE
    assert {"backproplab.optimizers.momentum_update", "backproplab.model._step"} <= set(withheld)


def test_records_are_kept_once_and_only_for_the_jobs_own_calls():
    cells, tests = _lecture04_cells()
    planned, _ = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    job = VerificationJob({0: planned[0]}, 60)
    job._handle(_message(record=0, outcomes=["first"]))
    job._handle(_message(record=0, outcomes=["second"]))
    job._handle(_message(record=1, outcomes=["not this job's"]))
    assert job.results == {0: {"record": {"exercise": "dense_backward", "hidden": True, "outcomes": ["first"]}}}


def test_a_with_reference_job_lends_only_its_failing_helpers_and_what_they_need():
    """model_backward's with_reference job gets the library's dense_backward untrapped, and nothing else;
    train_two_layer may borrow model_backward, never model.train; a later exercise (whose reference may compute
    this one's answer) is never lent; no job is served a reference by question."""
    cells, tests = _lecture04_cells()
    planned, withheld = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    lent = lent_helpers(["dense_backward"], "model_backward", withheld)
    assert lent == {"dense_backward": "backproplab.layers.dense_backward"}
    job = VerificationJob({1: planned[1]}, 60, helpers=lent)
    spec = job.spec([], withheld, 5)
    assert "backproplab.layers.dense_backward" not in spec["withhold"]
    assert "backproplab.model.model_backward" in spec["withhold"] and spec["helpers"] == lent
    refused = job._handle(_message(ask="reference", name="dense_backward", args=codec.encode(()), kwargs=codec.encode({})))
    assert "value" not in refused
    job._handle(_message(record=1, outcomes=["with"]))
    assert job.results == {1: {"exercises": ["dense_backward"], "outcomes": ["with"]}}
    borrowed = lent_helpers(["model_backward"], "train_two_layer", withheld + ["backproplab.model.train"])
    assert borrowed == {"model_backward": "backproplab.model.model_backward"}
    assert lent_helpers(["model_backward"], "dense_backward", withheld) == {}
