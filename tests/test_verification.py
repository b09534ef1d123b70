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

from backproplab.checks import codec
from backproplab.grading.sandbox.verification import (
    CheckCall,
    VerificationJob,
    check_calls,
    lent_helpers,
    names_called,
    plan_calls,
)
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


def test_withhold_traps_the_function_every_alias_and_copy_of_its_code():
    """Once withheld, does the library's function raise wherever it is reached (module, package re-export,
    a FunctionType copy of its code, the checks' own reference methods), while what is not withheld works?"""
    code = r"""
import types, numpy as np
import backproplab, backproplab.layers as L
from backproplab.checks import get_exercise
from backproplab.grading.sandbox.verification import withhold, WITHHELD
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


def test_a_plain_job_serves_fixtures_but_never_a_reference():
    cells, tests = _lecture04_cells()
    planned, _ = plan_calls(cells, tests, {0, 1, 3}, seed=3)
    job = VerificationJob(dict(enumerate(planned)), 60)
    refused = job._handle(_message(ask="reference", name="dense_backward", args=[], kwargs=codec.encode({})))
    assert "value" not in refused and "not available" in refused["error"]
    token = codec.encode(codec.FnToken("lecture02_curvy", {"weights": [1.0], "frequency": 1.0, "curvature": [0.0]}))
    answer = job._handle(_message(ask="fixture", token=token, args=codec.encode((np.zeros(1),)), kwargs=codec.encode({})))
    assert codec.decode(answer["value"]) == 0.0


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
