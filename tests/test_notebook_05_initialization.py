"""Lecture 05-initialization: the instructor source, the released student notebook, and grading.

Static tests read the notebooks' JSON (fast). Tests marked slow run them in real kernels
(nbclient) or run `bplab grade --json` on submissions built from the answer catalog.
"""
from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess

import nbformat
import pytest

from backproplab.grading.factory import build_submission
from backproplab.grading.samples import catalog
from notebook_helpers import (
    REPO, answer_cells, answer_dependent_cells, check_results, course_path, error_outputs, execute,
    execute_with_peak_rss, exercises_with_tests, grade_cells, nbgrader_meta, read, solution_path, widget_outputs,
)

LECTURE = "05-initialization"
SIGNATURES = {  # DESIGN.md and the lecture's brief, in notebook order
    "init_std": "(method, fan_in, fan_out)",
    "initialize_parameters": "(layer_sizes, method, seed=None)",
    "layer_statistics": "(X, params, activation)",
}
MANUAL_CELLS = ("explain_symmetry", "explain_he_factor")
TIME_BUDGET_SECONDS = 60
MEMORY_BUDGET_MIB = 1024
SAMPLES = catalog(LECTURE)
# One typical wrong answer per exercise for the grading test (its diagnosis comes from the catalog).
TYPICAL_MISTAKES = {
    "init_std": "he-with-fan-out",
    "initialize_parameters": "seed-ignored",
    "layer_statistics": "std-of-Z",
}
USES = {"init_std": ("initialize_parameters",)}  # exercise -> the exercises whose answers call it


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


@pytest.fixture(scope="module")
def student():
    return read(course_path(LECTURE))


def _signature(function_def):
    args = function_def.args
    names = [a.arg for a in args.args]
    defaults = [ast.literal_eval(d) for d in args.defaults]
    positional = names[:len(names) - len(defaults)]
    keywords = [f"{n}={d!r}" for n, d in zip(names[len(positional):], defaults)]
    return "(" + ", ".join(positional + keywords) + ")"


def _function_def(source, name):
    return next((node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == name),
                None)


def test_exercises_appear_in_order_with_the_binding_signatures(solution):
    """Does the notebook define exactly the three exercises, in order, with their signatures and docstrings?"""
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


def test_grade_ids_are_unique_and_test_cells_are_locked_with_points(solution):
    """Is every grade_id unique, and is every test cell locked, schema 3, with points > 0 and the exact body?"""
    ids = [nbgrader_meta(c)["grade_id"] for c in solution.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
    cells = grade_cells(solution)
    assert len(cells) == 2 * len(SIGNATURES)
    for _, cell in cells:
        meta = nbgrader_meta(cell)
        assert meta["locked"] is True and meta["schema_version"] == 3 and meta["points"] > 0
        name = meta["grade_id"].removeprefix("test_").removesuffix("_hidden")
        expected = (f'### BEGIN HIDDEN TESTS\ncheck("{name}", {name}, hidden=True)\n### END HIDDEN TESTS'
                    if meta["grade_id"].endswith("_hidden") else f'check("{name}", {name})')
        assert cell.source == expected


def test_manual_questions_are_graded_markdown_answer_cells(solution):
    """Are the "in your own words" questions manually graded markdown cells with points?"""
    manual = {nbgrader_meta(c)["grade_id"]: c for c in solution.cells
              if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")}
    assert set(manual) == set(MANUAL_CELLS)
    for cell in manual.values():
        assert cell.cell_type == "markdown" and nbgrader_meta(cell)["points"] > 0


def test_setup_cell_is_the_catalogs_and_answers_need_nothing_else(solution):
    """Is the setup cell exactly the catalog's SETUP, free of torch, and does every answer cell, run after
    it in order, define its function (as outside verification will run them)?"""
    setups = [c.source for c in solution.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]
    assert setups == [SAMPLES.SETUP.rstrip("\n")]
    assert "torch" not in SAMPLES.SETUP
    namespace = {}
    exec(SAMPLES.SETUP, namespace)
    for _, cell in answer_cells(solution):
        exec(cell.source, namespace)
    assert all(callable(namespace[name]) for name in SIGNATURES)


def test_notebooks_are_committed_without_outputs(solution, student):
    """Are both notebooks free of outputs and execution counts?"""
    for nb in (solution, student):
        assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")


def test_builder_reproduces_the_committed_solution(solution):
    """Does tools/build_05_initialization.py build exactly the committed solution notebook?"""
    from backproplab.grading.notebooks import normalize_notebook

    built = runpy.run_path(str(REPO / "tools" / "build_05_initialization.py"))["build"]()
    assert json.loads(json.dumps(normalize_notebook(built))) == json.loads(json.dumps(solution))


def test_lecture_has_figures_a_widget_torch_and_the_worked_example(solution):
    """Does the lecture train from zeros, draw figures, offer an ipywidgets explorer over depth, activation and
    method that uses plot_layer_statistics, compare with torch.nn.init and assert the sigmoid-slope example?"""
    code = "\n".join(c.source for c in solution.cells if c.cell_type == "code")
    assert "bl.train(" in code and '"zeros"' in code
    assert code.count("plt.show()") >= 4 and "widgets.interactive(" in code
    assert all(word in code for word in ("depth=", "activation=", "method=", "plot_layer_statistics("))
    assert "kaiming_normal_" in code and "xavier_normal_" in code
    assert "0.0066" in code and "0.249" in code


def test_student_release_hides_solutions_and_hidden_tests(solution, student):
    """Does the student version keep every graded cell but no solution code and no hidden check?"""
    assert [nbgrader_meta(c).get("grade_id") for c in student.cells] == \
           [nbgrader_meta(c).get("grade_id") for c in solution.cells]
    for _, cell in answer_cells(student):
        assert "raise NotImplementedError()" in cell.source and "BEGIN SOLUTION" not in cell.source
    for _, cell in grade_cells(student):
        assert "hidden=True" not in cell.source and "HIDDEN TESTS" not in cell.source
    assert set(exercises_with_tests(student)) == set(SIGNATURES)


@pytest.mark.slow
def test_course_folder_is_in_sync_with_the_solution():
    """Does `bplab release --check 05-initialization` find course/ up to date?"""
    from backproplab.cli import main

    assert main(["release", "--check", "--root", str(REPO), LECTURE]) == 0


# ---------------------------------------------------------------------------------------
# Real kernels.


@pytest.fixture(scope="module")
def executed_solution():
    """(executed notebook, seconds, the kernel's peak RSS in MiB)."""
    return execute_with_peak_rss(solution_path(LECTURE), timeout=TIME_BUDGET_SECONDS)


@pytest.fixture(scope="module")
def executed_student():
    return execute(course_path(LECTURE), allow_errors=True, timeout=TIME_BUDGET_SECONDS)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_within_time_and_memory(executed_solution):
    """Does the solution notebook run without error in a fresh kernel in under 60 s and 1 GB peak RSS?"""
    nb, seconds, peak_mib = executed_solution
    errors = [(i, out["ename"], out["evalue"]) for i, c in enumerate(nb.cells) for out in error_outputs(c)]
    assert errors == []
    assert seconds < TIME_BUDGET_SECONDS
    assert 0 < peak_mib < MEMORY_BUDGET_MIB


@pytest.mark.slow
def test_solution_passes_every_visible_and_hidden_check(executed_solution):
    """Does every test cell of the solution, hidden ones included, publish exactly one passing verdict?"""
    nb, _, _ = executed_solution
    for _, cell in grade_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        results = check_results(cell)
        assert len(results) == 1, grade_id
        assert results[0]["exercise"] == grade_id.removeprefix("test_").removesuffix("_hidden")
        assert results[0]["hidden"] is grade_id.endswith("_hidden")
        assert results[0]["passed"] is True, (grade_id, results[0]["message"])


@pytest.mark.slow
def test_explorer_draws_without_error(executed_solution, executed_student):
    """Does the explorer's first draw (saved in its Output widget) report the layer statistics with no error,
    in both versions?"""
    for nb in (executed_solution[0], executed_student[0]):
        outputs = widget_outputs(nb)
        assert [out for out in outputs if out.get("output_type") == "error"] == []
        printed = "".join(out.get("text", "") for out in outputs if out.get("output_type") == "stream")
        assert "std(A[10])" in printed and "||dW[1]||" in printed


@pytest.mark.slow
def test_student_version_fails_only_in_test_cells(executed_student):
    """Does the blank student notebook run to the end, with errors only in its (visible) test cells, each
    saying not-implemented?"""
    nb, _ = executed_student
    graded = {i for i, _ in grade_cells(nb)}
    for index, cell in enumerate(nb.cells):
        for out in error_outputs(cell):
            assert index in graded, (index, out["ename"], out["evalue"])
    assert answer_dependent_cells(nb), "the comparison cell should use the student's layer_statistics"
    for _, cell in grade_cells(nb):
        if not nbgrader_meta(cell)["grade_id"].endswith("_hidden"):
            assert [(r["passed"], r["diagnosis"]) for r in check_results(cell)] == [(False, "not-implemented")]
    # Empty cells (the release empties the hidden tests) are skipped by the kernel client.
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code" and c.source.strip()), \
        "stopped early"


# ---------------------------------------------------------------------------------------
# Grading with the real CLI.


def _variant(name):
    return next(v for v in SAMPLES.VARIANTS if v.name == name and v.exercise in TYPICAL_MISTAKES)


@pytest.mark.slow
def test_bplab_grade_gives_full_marks_and_names_each_typical_mistake(tmp_path, student):
    """Does `bplab grade --json` give the correct submission every auto-graded point, and each typical wrong
    answer the expected diagnosis on its exercise's visible and hidden tests (and on the exercises that call
    it), with those points lost and the rest kept?"""
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(build_submission(student, dict(SAMPLES.ANSWERS)), folder / "correct.ipynb")
    for exercise, name in TYPICAL_MISTAKES.items():
        answers = {**SAMPLES.ANSWERS, exercise: _variant(name).source}
        nbformat.write(build_submission(student, answers), folder / f"wrong_{exercise}.ipynb")
    bplab = REPO / ".venv" / "bin" / "bplab"
    assert bplab.exists(), "the bplab CLI is not installed"
    done = subprocess.run([str(bplab), "grade", "--json", "--lecture", LECTURE, "--workers", "2",
                           "--workspace", str(tmp_path / "workspace"), str(folder)],
                          cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "BPLAB_QUIET": "1", "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    results = {r["student"]: r for r in json.loads(done.stdout)}
    assert set(results) == {"correct", *(f"wrong_{e}" for e in TYPICAL_MISTAKES)}

    correct = results["correct"]
    assert all(t["passed"] and t["diagnosis"] is None for t in correct["tests"]), correct["tests"]
    assert sum(t["score"] for t in correct["tests"]) == sum(t["max_score"] for t in correct["tests"]) > 0

    for exercise, name in TYPICAL_MISTAKES.items():
        result = results[f"wrong_{exercise}"]
        mine = [t for t in result["tests"] if t["exercise"] == exercise]
        assert len(mine) == 2, result["tests"]
        for test in mine:
            assert not test["passed"] and test["score"] == 0, test
            assert test["diagnosis"] == _variant(name).expected_diagnosis, test
        # initialize_parameters calls the student's init_std, so a wrong std costs its points too, named alike.
        dependents = [t for t in result["tests"] if t["exercise"] in USES.get(exercise, ())]
        assert all(not t["passed"] and t["diagnosis"] == _variant(name).expected_diagnosis for t in dependents)
        lost = sum(t["max_score"] - t["score"] for t in result["tests"])
        assert lost == sum(t["max_score"] for t in mine + dependents)
        assert all(t["passed"] for t in result["tests"] if t not in mine + dependents), result["tests"]
        assert result["score"] < correct["score"]
