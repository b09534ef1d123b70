"""Our nbgrader preprocessors (backproplab/grading/preprocessors.py) on real notebooks:
SandboxedExecute runs the code once in a real kernel inside the sandbox, JudgeOutcomes judges
each test cell outside it, RedactHiddenTests is exercised by the pipeline's feedback test.
Hostile answers, each run in its own sandbox, cost only their own exercise."""
from __future__ import annotations

import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from backproplab.grading.judge import recorded_verdicts
from backproplab.grading.preprocessors import JudgeOutcomes, SandboxedExecute
from catalog_helpers import catalog
from test_judge import build_source

pytestmark = pytest.mark.slow

LECTURE04 = catalog("04-backprop")
INDEPENDENT = ("binary_cross_entropy", "dense_backward", "update_parameters")  # no exercise calls another
SEED = 77


@pytest.fixture(scope="module")
def source_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("source") / "source.ipynb"
    nbformat.write(build_source(INDEPENDENT), path)
    return path


def grade(source_path, answers, *, cell_timeout=8, extra_cells=()):
    """Run a submission with ``answers`` through SandboxedExecute and JudgeOutcomes; return
    (the graded notebook, {grade_id: verdict})."""
    nb = copy.deepcopy(nbformat.read(source_path, as_version=4))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    nb.cells[2:2] = [new_code_cell(source) for source in extra_cells]
    nb, _ = SandboxedExecute(seed=SEED, cell_timeout=cell_timeout).preprocess(nb, {})
    nb, _ = JudgeOutcomes(seed=SEED, source_path=str(source_path)).preprocess(nb, {})
    return nb, {v.grade_id: v for v in recorded_verdicts(nb, nbformat.read(source_path, as_version=4))}


HOSTILE = [v for v in LECTURE04.VARIANTS if v.sandbox_only]


@pytest.mark.parametrize("variant", HOSTILE, ids=lambda v: v.name)
def test_hostile_answer_gets_zero_only_on_its_exercise(source_path, variant):
    """Does each hostile dense_backward get 0 with its catalog diagnosis, in a real sandboxed kernel,
    while the exercises after it still pass?"""
    nb, verdicts = grade(source_path, {"dense_backward": variant.source})
    for grade_id in ("test_dense_backward", "test_dense_backward_hidden"):
        assert verdicts[grade_id].score == 0, verdicts[grade_id]
        assert verdicts[grade_id].diagnosis == variant.expected_diagnosis, verdicts[grade_id].message
    others = [v for v in verdicts.values() if v.exercise != "dense_backward"]
    assert others and all(v.passed for v in others), [v.message for v in others if not v.passed]


def test_graded_test_cells_show_the_verdict_and_fail_only_when_wrong(source_path):
    """Does each test cell of the graded notebook show the verdict (HTML with the mistake's figure for a
    wrong matrix: the ratio map m everywhere for a missing 1/m) and carry an error only when it failed,
    for nbgrader's SaveAutoGrades?"""
    wrong = LECTURE04.ANSWERS["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")
    nb, verdicts = grade(source_path, {"dense_backward": wrong})
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    failed, passed = cells["test_dense_backward"], cells["test_update_parameters"]
    assert verdicts["test_dense_backward"].diagnosis == "missing-mean"
    html = failed.outputs[0]["data"]["text/html"]
    assert "Not yet" in html and "data:image/png;base64" in html
    assert "student / expected: 7.00 everywhere" in html  # the visible case's m = 7: the ratio map, not noise
    assert [o["output_type"] for o in failed.outputs] == ["display_data", "error"]
    assert [o["output_type"] for o in passed.outputs] == ["display_data"] and "Passed" in passed.outputs[0]["data"]["text/html"]
    assert nb.metadata["bplab"]["execution"] == "ok"


def test_student_helpers_in_added_cells_are_honored_once(source_path):
    """Is a helper defined in a cell the student added used by the answer, and each cell run once?"""
    helper = "RUNS = []\ndef my_mean(x):\n    RUNS.append(1)\n    return x.sum(axis=0, keepdims=True) / x.shape[0]\n"
    answer = LECTURE04.ANSWERS["dense_backward"].replace("dz.sum(axis=0, keepdims=True) / m", "my_mean(dz)")
    assert answer != LECTURE04.ANSWERS["dense_backward"]
    probe = "print('helper cell ran', len(RUNS) == 0)"
    nb, verdicts = grade(source_path, {"dense_backward": answer}, extra_cells=[helper, probe])
    assert all(v.passed for v in verdicts.values()), [v.message for v in verdicts.values() if not v.passed]
    assert nb.cells[3].outputs[0]["text"] == "helper cell ran True\n"


def test_forged_check_outputs_and_a_replaced_check_change_nothing(source_path):
    """Do verdict or outcome display data printed by an answer cell, and a replaced check(), change no
    verdict? The graded calls are made in a verification job, where test cells never run: the wrong
    dense_backward is judged on its own mistake, the others pass, and the forged record is counted."""
    forge = ('from IPython.display import display\n'
             'display({"application/vnd.backproplab.check+json": {"passed": True}, '
             '"application/vnd.backproplab.outcomes+json": {"exercise": "dense_backward", "hidden": False, '
             '"outcomes": []}}, raw=True)\n'
             'check = lambda *args, **kwargs: None\n')
    wrong = LECTURE04.ANSWERS["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")
    nb, verdicts = grade(source_path, {"dense_backward": forge + wrong})
    dense = [v for v in verdicts.values() if v.exercise == "dense_backward"]
    assert {v.diagnosis for v in dense} == {"missing-mean"} and sum(v.score for v in dense) == 0
    assert all(v.passed for v in verdicts.values() if v.exercise != "dense_backward")
    assert nb.metadata["bplab"]["records_outside_tests"] == 1


def test_a_kernel_hook_cannot_put_the_reference_in_a_record(source_path):
    """Item 3 of issue 21: a post_run_cell hook that, after each test cell, clears its output and displays
    a record computed with the library's reference (forbidden cleared) wins nothing: the kernel's records
    are dropped and counted, and the verdict comes from the verification job's calls of the student's
    own (wrong) function."""
    hook = ('import backproplab.checks as core, backproplab.layers as L, os\n'
            'from IPython.display import display, clear_output\n'
            'def forge(result):\n'
            '    source = result.info.raw_cell\n'
            '    if \'check("dense_backward"\' not in source:\n'
            '        return\n'
            '    ex, hidden = core.get_exercise("dense_backward"), "hidden=True" in source\n'
            '    base = int(os.environ.get("BPLAB_GRADING_SEED") or 0)  # no longer there: the visible seed is enough\n'
            '    seed = core.hidden_seed(base, ex.name) if hidden else core.visible_seed(ex.name)\n'
            '    outcomes = [core.run_case(L.dense_backward, c, ex.args).to_data() for c in ex.draw_cases(seed, hidden)]\n'
            '    clear_output()\n'
            '    display({"application/vnd.backproplab.outcomes+json":\n'
            '             {"exercise": ex.name, "hidden": hidden, "outcomes": outcomes},\n'
            '             "text/plain": "recorded"}, raw=True)\n'
            'get_ipython().events.register("post_run_cell", forge)\n')
    wrong = LECTURE04.ANSWERS["dense_backward"].replace("dW = dz.T @ A_prev / m", "dW = dz.T @ A_prev")
    nb, verdicts = grade(source_path, {"dense_backward": wrong}, extra_cells=[hook])
    dense = [v for v in verdicts.values() if v.exercise == "dense_backward"]
    assert {v.diagnosis for v in dense} == {"missing-mean"} and sum(v.score for v in dense) == 0
    assert nb.metadata["bplab"]["records_outside_tests"] >= 2  # one per dense_backward test cell
    assert all(v.passed for v in verdicts.values() if v.exercise != "dense_backward")
    honest, after = grade(source_path, {})  # next in the same warm sandbox: the hook died with its job
    assert all(v.passed for v in after.values()) and honest.metadata["bplab"]["records_outside_tests"] == 0


def test_the_verification_job_cannot_reach_the_reference(source_path):
    """In the verification job the library's implementation is withheld (calling it, or a copy of its code,
    is forbidden-call), the package's source cannot be read to rebuild it, and torch is not there for a NumPy
    exercise; the same cells in the kernel see all three (the feedback's run is the ordinary one)."""
    probe = ('import backproplab.layers as L, types\n'
             'PROBE = []\n'
             'try:\n'
             '    open(L.__file__).read(); PROBE.append("source")\n'
             'except OSError:\n'
             '    pass\n'
             'try:\n'
             '    import torch\n'
             '    torch.tensor([1.0]); PROBE.append("torch")\n'
             'except Exception:\n'
             '    pass\n'
             'copy = types.FunctionType(L.dense_backward.__code__, L.__dict__)\n'
             'def dense_backward(dz, A_prev, W):\n'
             '    assert not PROBE, PROBE\n'
             '    return copy(dz, A_prev, W)\n'
             'print("kernel sees", PROBE)\n')
    nb, verdicts = grade(source_path, {"dense_backward": probe})
    dense = [v for v in verdicts.values() if v.exercise == "dense_backward"]
    assert {v.diagnosis for v in dense} == {"forbidden-call"}, [v.message for v in dense]
    assert "used backproplab.layers.dense_backward" in dense[0].message  # the trap, not the probe's assert
    printed = [o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream"]
    assert any("kernel sees ['source', 'torch']" in text for text in printed), printed
    assert all(v.passed for v in verdicts.values() if v.exercise != "dense_backward")
    _, after = grade(source_path, {})  # the next submission in the same warm sandbox has the library whole again
    assert all(v.passed for v in after.values()), [v.message for v in after.values() if not v.passed]


def test_outcome_records_outside_test_cells_are_dropped_and_counted(source_path):
    """Outcome records displayed by cells that are not test cells (here three of 4 MB each) are not kept
    in the graded notebook and are counted for the flag; the test cells' own records still decide."""
    flood = ('from IPython.display import display\n'
             'display({"application/vnd.backproplab.outcomes+json": {"exercise": "dense_backward", "hidden": False, '
             '"outcomes": [{"status": "returned", "value": "x" * (4 << 20)}]}, "text/plain": "forged"}, raw=True)\n')
    nb, verdicts = grade(source_path, {}, extra_cells=[flood] * 3)
    outside = [o for c in nb.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade")
               for o in c.outputs if "application/vnd.backproplab.outcomes+json" in o.get("data", {})]
    assert outside == [] and nb.metadata["bplab"]["records_outside_tests"] == 3
    assert len(nbformat.writes(nb)) < 4 << 20
    assert all(v.passed for v in verdicts.values())


ORACLE = """
import json, os, socket, stat
import numpy as np
from backproplab.checks import codec

def ask_the_executor(point, **names):
    # the verification job's socket: a fixture question naming a token of our own making (X = identity,
    # W = logit(AL)^T, B = 0: a one-layer sigmoid network whose cost is the binary cross-entropy of AL, Y)
    for fd in range(3, 64):
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            s = socket.socket(fileno=os.dup(fd))
            s.settimeout(5)
            question = {"ask": "fixture", "args": codec.encode((point,)), "kwargs": codec.encode({}), "call": 0, "case": 0}
            question.update(names)
            s.sendall((json.dumps(question) + "\\n").encode())
            reply = b""
            while not reply.endswith(b"\\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                reply += chunk
            answer = json.loads(reply)
            if "value" in answer:
                return codec.decode(answer["value"])
        except (OSError, ValueError):
            continue
    return None

def binary_cross_entropy(AL, Y):
    a = np.clip(AL.reshape(-1), 1e-12, 1 - 1e-12)
    n = a.size
    token = codec.encode(codec.FnToken("mlp_cost", {"X": np.eye(n), "Y": Y.reshape(n, 1) * 1.0, "activations": ["sigmoid"]}))
    value = ask_the_executor({"W1": np.log(a / (1 - a)).reshape(1, n), "B1": np.zeros((1, 1))}, token=token)
    return float(value) if value is not None else 0.0
"""


def test_the_executor_is_no_oracle_for_a_withheld_function(source_path):
    """Issue 27, item 1: a binary_cross_entropy with no cross-entropy code once asked the executor for the
    mlp_cost fixture of a network of its own making and returned it (28/28). A job now names a fixture only
    by one of its own cases, and gets it only at that case's point: the question is refused, the answer is
    its own (wrong), and the honest submission graded next in the same warm sandbox has full marks."""
    nb, verdicts = grade(source_path, {"binary_cross_entropy": ORACLE})
    bce = [v for v in verdicts.values() if v.exercise == "binary_cross_entropy"]
    assert bce and not any(v.passed for v in bce), [v.message for v in bce]
    assert all(v.passed for v in verdicts.values() if v.exercise != "binary_cross_entropy")
    _, after = grade(source_path, {})
    assert all(v.passed for v in after.values()), [v.message for v in after.values() if not v.passed]


def test_a_library_function_that_composes_a_graded_quantity_is_withheld(source_path):
    """Issue 27, item 5: the categorical cross-entropy of [AL, 1 - AL] against [Y, 1 - Y] is the binary one,
    bit for bit; while lecture 04 is graded it is withheld like binary_cross_entropy itself (forbidden-call)."""
    composed = ("from backproplab import losses\n"
                "def binary_cross_entropy(AL, Y):\n"
                "    return losses.categorical_cross_entropy(np.hstack([AL, 1 - AL]), np.hstack([Y, 1 - Y]))\n")
    _, verdicts = grade(source_path, {"binary_cross_entropy": composed})
    bce = [v for v in verdicts.values() if v.exercise == "binary_cross_entropy"]
    assert {v.diagnosis for v in bce} == {"forbidden-call"}, [v.message for v in bce]
    assert all(v.passed for v in verdicts.values() if v.exercise != "binary_cross_entropy")


def test_an_output_flood_keeps_the_graded_notebook_small_and_is_flagged(source_path):
    """Issue 27, items 3 and 4: 12 added cells of 1.5 MB single-line prints (nbgrader's LimitOutput counts lines)
    leave a graded notebook under the submission's output budget, with the dropped bytes counted (a flag);
    no point is lost, and the kernel, told only that it is graded, never prints the hidden seed. The honest
    submission graded next keeps its outputs."""
    from backproplab.grading.sandbox.limits import SUBMISSION_OUTPUT_LIMIT

    flood = "import os\nprint('z' * (3 << 19))\nprint(sorted(os.environ.items()))\n"
    nb, verdicts = grade(source_path, {}, extra_cells=[flood] * 12)
    assert nb.metadata["bplab"]["output_dropped_bytes"] > 10 << 20
    assert len(nbformat.writes(nb)) < SUBMISSION_OUTPUT_LIMIT + (1 << 20)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "('BPLAB_GRADING', '1')" in printed and "SEED" not in printed
    assert all(v.passed for v in verdicts.values())
    honest, after = grade(source_path, {})
    assert honest.metadata["bplab"]["output_dropped_bytes"] == 0 and all(v.passed for v in after.values())
