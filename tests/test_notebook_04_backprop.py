"""Lecture 04-backprop: the instructor source and the released student notebook.

Static tests read the notebooks' JSON (fast). Tests marked slow run them in real kernels
(nbclient): the solution must pass every check, visible and hidden, in under 60 s; the
student version must run to the end with errors only where an unanswered exercise is used.
"""
from __future__ import annotations

import ast
import builtins
import json
import runpy

import pytest

from notebook_helpers import (
    REPO, answer_cells, answer_dependent_cells, check_results, course_path, error_outputs,
    exercises_with_tests, execute, grade_cells, nbgrader_meta, read, solution_path, widget_outputs,
)

LECTURE = "04-backprop"
# The binding signatures (docs/DESIGN.md and the lecture's brief), in notebook order.
SIGNATURES = {
    "binary_cross_entropy": "(AL, Y)",
    "dense_backward": "(dz, A_prev, W)",
    "model_backward": "(AL, Y, caches, activations)",
    "update_parameters": "(params, grads, learning_rate)",
    "gradient_check": "(cost_fn, params, grads, h=1e-05)",
    "train_two_layer": "(X, Y, n_hidden, learning_rate, num_iterations, seed=0)",
    "torch_gradients": "(X, Y, params, activations)",
}
TIME_BUDGET_SECONDS = 60


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


@pytest.fixture(scope="module")
def student():
    return read(course_path(LECTURE))


def _function_def(source, name):
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _signature(function_def):
    args = function_def.args
    names = [a.arg for a in args.args]
    defaults = [ast.literal_eval(d) for d in args.defaults]
    rendered = names[:len(names) - len(defaults)] + [
        f"{n}={d!r}" for n, d in zip(names[len(names) - len(defaults):], defaults)]
    return "(" + ", ".join(rendered) + ")"


def _setup_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]


def test_exercises_appear_in_the_briefs_order_with_the_binding_signatures(solution):
    """Does the notebook define exactly the seven exercises, in order, each with its binding signature?"""
    names = [nbgrader_meta(cell)["grade_id"] for _, cell in answer_cells(solution)]
    assert names == list(SIGNATURES)
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        function_def = _function_def(cell.source, name)
        assert function_def is not None, f"the answer cell {name} does not define {name}()"
        assert _signature(function_def) == SIGNATURES[name]
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert ast.get_docstring(function_def), f"{name} has no docstring stating its shapes"


def test_every_exercise_has_one_visible_and_one_hidden_test(solution):
    """Does every exercise have exactly one visible and one hidden test cell, named after it?"""
    tests = exercises_with_tests(solution)
    assert set(tests) == set(SIGNATURES)
    for name, ids in tests.items():
        assert ids == {"visible": [f"test_{name}"], "hidden": [f"test_{name}_hidden"]}


def test_grade_ids_are_unique(solution):
    """Is every nbgrader grade_id in the notebook used only once?"""
    ids = [nbgrader_meta(c)["grade_id"] for c in solution.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)) == 3 * len(SIGNATURES)


def test_every_test_cell_is_locked_and_has_points(solution):
    """Is every test cell locked, schema 3, worth 1-2 points (visible) or 2-3 points (hidden)?"""
    cells = grade_cells(solution)
    assert len(cells) == 2 * len(SIGNATURES)
    for _, cell in cells:
        meta = nbgrader_meta(cell)
        assert meta["locked"] is True and meta["schema_version"] == 3
        allowed = (2, 3) if meta["grade_id"].endswith("_hidden") else (1, 2)
        assert meta["points"] in allowed, meta


def test_test_cell_bodies_follow_the_convention(solution):
    """Are the test cells' bodies exactly the check() calls ARCHITECTURE.md prescribes?"""
    for _, cell in grade_cells(solution):
        grade_id = nbgrader_meta(cell)["grade_id"]
        name = grade_id.removeprefix("test_").removesuffix("_hidden")
        if grade_id.endswith("_hidden"):
            expected = f'### BEGIN HIDDEN TESTS\ncheck("{name}", {name}, hidden=True)\n### END HIDDEN TESTS'
        else:
            expected = f'check("{name}", {name})'
        assert cell.source == expected


def test_answer_cells_need_only_setup_cells_and_other_answers(solution):
    """Does every name an answer uses come from a setup cell, another answer cell or builtins?

    The outside verification runs only the setup cells and the answer cells, so anything
    else an answer relied on would make a correct submission fail there.
    """
    available = set(dir(builtins))
    for cell in _setup_cells(solution):
        tree = ast.parse(cell.source)  # plain Python: verification exec()s it, so no magics
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                available.update((a.asname or a.name).split(".")[0] for a in node.names)
                assert "torch" not in (getattr(node, "module", None) or "") and not any(
                    a.name.startswith("torch") for a in node.names), "setup cells must not import torch"
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                available.add(node.id)
    for _, cell in answer_cells(solution):
        available.add(nbgrader_meta(cell)["grade_id"])
    for _, cell in answer_cells(solution):
        tree = ast.parse(cell.source)
        local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {a.arg for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda)) for a in n.args.args}
        local |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        local |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert used - local - available == set(), nbgrader_meta(cell)["grade_id"]


def test_notebooks_are_committed_without_outputs(solution, student):
    """Are both notebooks free of outputs and execution counts?"""
    for nb in (solution, student):
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_builder_reproduces_the_committed_solution(solution):
    """Does tools/build_04_backprop.py build exactly the committed solution notebook?"""
    built = runpy.run_path(str(REPO / "tools" / "build_04_backprop.py"))["build"]()
    assert json.loads(json.dumps(built)) == json.loads(json.dumps(solution))


def test_student_release_hides_solutions_and_hidden_tests(solution, student):
    """Does the student version keep every graded cell but no solution code and no hidden check?"""
    assert [nbgrader_meta(c).get("grade_id") for c in student.cells] == \
           [nbgrader_meta(c).get("grade_id") for c in solution.cells]
    for _, cell in answer_cells(student):
        assert "raise NotImplementedError()" in cell.source and "BEGIN SOLUTION" not in cell.source
    for _, cell in grade_cells(student):
        assert "hidden=True" not in cell.source and "HIDDEN TESTS" not in cell.source
    assert set(exercises_with_tests(student)) == set(SIGNATURES)


# ---------------------------------------------------------------------------------------
# Real kernels.

@pytest.fixture(scope="module")
def executed_solution():
    return execute(solution_path(LECTURE), timeout=TIME_BUDGET_SECONDS)


@pytest.fixture(scope="module")
def executed_student():
    return execute(course_path(LECTURE), allow_errors=True, timeout=TIME_BUDGET_SECONDS)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_within_the_time_budget(executed_solution):
    """Does the solution notebook run without any error in a fresh kernel in under 60 s?"""
    nb, seconds = executed_solution
    errors = [(i, out["ename"], out["evalue"]) for i, c in enumerate(nb.cells) for out in error_outputs(c)]
    assert errors == []
    assert seconds < TIME_BUDGET_SECONDS


@pytest.mark.slow
def test_solution_passes_every_visible_and_hidden_check(executed_solution):
    """Does every test cell of the solution, hidden ones included, publish exactly one passing verdict?"""
    nb, _ = executed_solution
    for _, cell in grade_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        results = check_results(cell)
        assert len(results) == 1, grade_id
        result = results[0]
        assert result["exercise"] == grade_id.removeprefix("test_").removesuffix("_hidden")
        assert result["hidden"] is grade_id.endswith("_hidden")
        assert result["passed"] is True and result["diagnosis"] is None, (grade_id, result["message"])


@pytest.mark.slow
def test_explorer_retrains_and_reports_without_error(executed_solution, executed_student):
    """Does the learning-rate / hidden-units explorer train and report in both versions, with no error?"""
    for nb, _ in (executed_solution, executed_student):
        outputs = widget_outputs(nb)
        assert [out for out in outputs if out["output_type"] == "error"] == []
        printed = "".join(out.get("text", "") for out in outputs if out["output_type"] == "stream")
        assert "training accuracy" in printed


@pytest.mark.slow
def test_student_version_fails_only_where_answers_are_missing(executed_student):
    """Does the blank student notebook run to the end, failing only in test cells and in cells that use an answer?"""
    nb, _ = executed_student
    graded = {i for i, _ in grade_cells(nb)}
    dependent = answer_dependent_cells(nb)
    assert dependent, "the lecture should exercise the student's answers outside the test cells"
    for index, cell in enumerate(nb.cells):
        for out in error_outputs(cell):
            assert index in graded | dependent, (index, out["ename"], out["evalue"])
            if index in dependent:
                assert out["ename"] == "NotImplementedError", (index, out["ename"], out["evalue"])
    assert all(c.execution_count is not None for c in nb.cells
               if c.cell_type == "code" and c.source.strip()), "stopped early"


@pytest.mark.slow
def test_student_version_checks_diagnose_not_implemented(executed_student):
    """Does every visible check in the blank student notebook fail with the not-implemented diagnosis?"""
    nb, _ = executed_student
    for _, cell in grade_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        if grade_id.endswith("_hidden"):
            assert cell.outputs == [], grade_id  # the release emptied it
            continue
        results = check_results(cell)
        assert [(r["passed"], r["diagnosis"]) for r in results] == [(False, "not-implemented")], grade_id
        assert error_outputs(cell), f"{grade_id} must fail so that nbgrader scores it 0"


@pytest.mark.slow
def test_outside_verification_scores_solution_full_and_blank_zero(solution, student):
    """Does the outside verification pass every test of the solution and fail every test of the blank release as not-implemented?"""
    from backproplab.grading.verify import verify_notebook

    expected_ids = [nbgrader_meta(cell)["grade_id"] for _, cell in grade_cells(solution)]
    full = verify_notebook(solution, solution, seed=4)
    assert [v.grade_id for v in full] == expected_ids
    assert [(v.grade_id, v.diagnosis) for v in full if not v.passed] == []
    blank = verify_notebook(solution, student, seed=4)
    assert [(v.passed, v.diagnosis) for v in blank] == [(False, "not-implemented")] * len(expected_ids)
