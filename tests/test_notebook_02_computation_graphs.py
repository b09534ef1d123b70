"""Lecture 02-computation-graphs: the instructor source, the released student notebook, grading.

Static tests read the notebooks' JSON (fast). Tests marked slow run real kernels (nbclient)
or `bplab grade`: the solution must pass every check, visible and hidden, in under 60 s
with a peak RSS under 1 GB; the student version must run to the end with errors only in
test cells; graded submissions built from the answer catalog must get full marks or the
catalog's diagnosis.
"""
from __future__ import annotations

import ast
import json
import os
import re
import runpy
import subprocess
import sys

import nbformat
import pytest

from backproplab.grading.factory import build_submission
from backproplab.grading.samples import catalog
from notebook_helpers import (
    KERNEL_ENV, REPO, answer_cells, answer_dependent_cells, check_results, course_path, error_outputs,
    exercises_with_tests, execute, grade_cells, nbgrader_meta, read, solution_path,
)

LECTURE = "02-computation-graphs"
SAMPLES = catalog(LECTURE)
# The binding signatures (DESIGN.md, the lecture's brief and the engine's rule contract), in notebook order.
SIGNATURES = {
    "numerical_gradient": "(f, x, h=1e-05)",
    "mul_backward": "(upstream, a, b, out)",
    "exp_backward": "(upstream, x, out)",
    "sigmoid_backward_rule": "(upstream, z, out)",
    "matmul_backward": "(s, A, B)",
}
TIME_BUDGET_SECONDS = 60
MEMORY_BUDGET_BYTES = 1 << 30
BPLAB = [sys.executable, "-m", "backproplab.cli"]


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
    split = len(names) - len(defaults)
    return "(" + ", ".join(names[:split] + [f"{n}={d!r}" for n, d in zip(names[split:], defaults)]) + ")"


def _setup_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]


def _markdown(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _code(nb):
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def test_exercises_appear_in_order_with_the_binding_signatures(solution):
    """Does the notebook define exactly the five exercises, in order, with their signatures and docstrings?"""
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
    """Is every nbgrader grade_id used once (5 answers, 10 tests, 2 manually graded questions)?"""
    ids = [nbgrader_meta(c)["grade_id"] for c in solution.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)) == 3 * len(SIGNATURES) + 2


def test_every_test_cell_is_locked_and_has_points(solution):
    """Is every test cell locked, schema 3, and worth points?"""
    cells = grade_cells(solution)
    assert len(cells) == 2 * len(SIGNATURES)
    for _, cell in cells:
        meta = nbgrader_meta(cell)
        assert meta["locked"] is True and meta["schema_version"] == 3 and meta["points"] > 0, meta


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


def test_manually_graded_questions_are_markdown_solution_cells_with_points(solution):
    """Are there one or two 'explain in your own words' cells: markdown, solution and grade, with points?"""
    manual = [c for c in solution.cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("solution")]
    assert 1 <= len(manual) <= 2
    for cell in manual:
        meta = nbgrader_meta(cell)
        assert cell.cell_type == "markdown" and meta["points"] > 0 and meta["schema_version"] == 3


def test_setup_cell_is_the_catalogs_setup_and_answers_need_nothing_else(solution):
    """Is the only setup cell the catalog's SETUP, and does every name an answer uses come from it, builtins or its own body?"""
    import builtins

    setups = _setup_cells(solution)
    assert [c.source for c in setups] == [SAMPLES.SETUP.rstrip("\n")]
    namespace = {}
    exec(SAMPLES.SETUP, namespace)
    available = set(namespace) | set(dir(builtins))
    for _, cell in answer_cells(solution):
        tree = ast.parse(cell.source)
        local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {a.arg for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda)) for a in n.args.args}
        local |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert used - local - available == set(), nbgrader_meta(cell)["grade_id"]


def test_every_exercise_has_a_revealable_hint(solution):
    """Does a collapsed <details> hint sit between each exercise's heading and its answer cell?"""
    for index, cell in answer_cells(solution):
        before = [c for c in solution.cells[max(0, index - 3):index] if c.cell_type == "markdown"]
        after = [c for c in solution.cells[index + 1:index + 2] if c.cell_type == "markdown"]
        assert any("<details>" in c.source for c in before + after), nbgrader_meta(cell)["grade_id"]


def test_lecture_content_covers_the_brief(solution):
    """Does the notebook teach every row of the brief (worked example, f=(x+y)z, autograd, engine, two paths, matrix rule, training, figure, widget)?"""
    text, code = _markdown(solution), _code(solution)
    assert "Learning goals" in text
    assert "J = 2(ab + c)" in text and "assert (J, dJ_da, dJ_db, dJ_dc) == (22.0, 4.0, 6.0, 2.0)" in code
    assert "assert np.allclose(numeric, [4.0, 6.0, 2.0]" in code          # finite differences agree
    assert "f = (x + y)\\,z" in text
    assert "requires_grad=True" in code and "retain_grad()" in code
    assert "use_backward_rules" in code and "draw_graph(" in code and "graph_table" in code
    assert "f_graph = x_ * y_ + x_" in code                               # a variable used twice
    assert r"\nabla_A J = s\,B^\top" in text and r"\nabla_B J = A^\top s" in text
    assert "engine_forward" in code and "costs.append" in code           # a network trained with the engine
    assert "plt.subplots" in code and "widgets.interactive" in code and "FloatSlider" in code
    assert re.search(r"\$[^$]*\(m, n_0\)", text)                          # DESIGN.md's shapes


def test_notebooks_are_committed_without_outputs(solution, student):
    """Are both notebooks free of outputs and execution counts?"""
    for nb in (solution, student):
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_builder_reproduces_the_committed_solution(solution):
    """Does tools/build_02_computation_graphs.py build exactly the committed solution notebook?"""
    built = runpy.run_path(str(REPO / "tools" / "build_02_computation_graphs.py"))["build"]()
    assert json.loads(json.dumps(built)) == json.loads(json.dumps(solution))


def test_student_release_hides_solutions_and_hidden_tests(solution, student):
    """Does the student version keep every graded cell but no solution code, model answer or hidden check?"""
    assert [nbgrader_meta(c).get("grade_id") for c in student.cells] == \
           [nbgrader_meta(c).get("grade_id") for c in solution.cells]
    for _, cell in answer_cells(student):
        assert "raise NotImplementedError()" in cell.source and "BEGIN SOLUTION" not in cell.source
    for _, cell in grade_cells(student):
        assert "hidden=True" not in cell.source and "HIDDEN TESTS" not in cell.source
    for cell in student.cells:
        if nbgrader_meta(cell).get("grade") and nbgrader_meta(cell).get("solution"):
            assert cell.source.strip() == "YOUR ANSWER HERE"


@pytest.mark.slow
def test_course_is_in_sync_with_solutions():
    """Does `bplab release --check 02-computation-graphs` find course/ up to date?"""
    done = subprocess.run([*BPLAB, "release", "--check", LECTURE], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------------------------
# Real kernels.

PEAK_RSS_CELL = "import resource\nprint('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"


@pytest.fixture(scope="module")
def executed_solution():
    nb = read(solution_path(LECTURE))
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_RSS_CELL))  # measured inside the kernel
    return execute(nb, timeout=TIME_BUDGET_SECONDS, cwd=solution_path(LECTURE).parent)


@pytest.fixture(scope="module")
def executed_student():
    return execute(course_path(LECTURE), allow_errors=True, timeout=TIME_BUDGET_SECONDS)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_within_time_and_memory(executed_solution):
    """Does the solution run without any error in a fresh kernel in under 60 s, with a peak RSS under 1 GB?"""
    nb, seconds = executed_solution
    errors = [(i, out["ename"], out["evalue"]) for i, c in enumerate(nb.cells) for out in error_outputs(c)]
    assert errors == []
    assert seconds < TIME_BUDGET_SECONDS
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    peak_kb = int(re.search(r"PEAK_RSS_KB (\d+)", text).group(1))
    assert peak_kb * 1024 < MEMORY_BUDGET_BYTES


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
def test_solution_shows_the_widget_and_runs_the_engine_with_the_students_rules(executed_solution):
    """Does the executed solution display the graph viewer widget, train with the engine, and run the engine with the answered rules?"""
    nb, _ = executed_solution
    mimes = {key for c in nb.cells if c.cell_type == "code" for out in c.outputs for key in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
    streams = "".join(out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    assert "engine == model_backward == torch" in streams
    assert "Your rules are not finished yet" not in streams


@pytest.mark.slow
def test_student_version_fails_only_in_test_cells(executed_student):
    """Does the blank student notebook run to the end, failing only in test cells, each with not-implemented?"""
    nb, _ = executed_student
    graded = {i for i, _ in grade_cells(nb)}
    for index, cell in enumerate(nb.cells):
        for out in error_outputs(cell):
            assert index in graded, (index, out["ename"], out["evalue"])
    # (nbclient skips empty cells: the release empties the hidden test cells.)
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code" and c.source.strip()), \
        "stopped early"
    # The one cell that uses the student's rules outside a test says so instead of failing.
    assert answer_dependent_cells(nb)
    for _, cell in grade_cells(nb):
        if not nbgrader_meta(cell)["grade_id"].endswith("_hidden"):
            results = check_results(cell)
            assert [(r["passed"], r["diagnosis"]) for r in results] == [(False, "not-implemented")]


# ---------------------------------------------------------------------------------------
# Outside grading with `bplab grade --json` on catalog-built submissions.

def _first_typical_mistake(exercise):
    return next(v for v in SAMPLES.VARIANTS
                if v.exercise == exercise and v.expected_diagnosis and not v.sandbox_only)


@pytest.mark.slow
def test_bplab_grade_scores_correct_and_typical_wrong_submissions(tmp_path):
    """Does `bplab grade --json` give the correct submission full marks, and each typical or forbidden mistake its diagnosis and 0 points?"""
    released = read(course_path(LECTURE))
    wrong = {exercise: _first_typical_mistake(exercise) for exercise in SIGNATURES}
    forbidden = {v.exercise: v for v in SAMPLES.VARIANTS if v.sandbox_only}
    submissions = {
        "correct": dict(SAMPLES.ANSWERS),
        "typical": {exercise: v.source for exercise, v in wrong.items()},
        "forbidden": {**SAMPLES.ANSWERS, **{exercise: v.source for exercise, v in forbidden.items()}},
    }
    folder = tmp_path / "submitted"
    folder.mkdir()
    for student, answers in submissions.items():
        nbformat.write(build_submission(released, answers), str(folder / f"{student}.ipynb"))

    done = subprocess.run(
        [*BPLAB, "grade", "--json", "--lecture", LECTURE, "--workspace", str(tmp_path / "workspace"), str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, **KERNEL_ENV})
    assert done.returncode == 0, done.stderr[-3000:]
    graded = {entry["student"]: entry for entry in json.loads(done.stdout)}
    assert set(graded) == set(submissions)

    correct = graded["correct"]
    assert correct["status"] == "graded" and not correct["flagged"]
    assert correct["score"] == correct["max_score"] > 0
    assert all(t["passed"] and t["diagnosis"] is None for t in correct["tests"])

    expected = {"typical": {e: v.expected_diagnosis for e, v in wrong.items()},
                "forbidden": {e: v.expected_diagnosis for e, v in forbidden.items()}}
    for student, diagnoses in expected.items():
        entry = graded[student]
        for test in entry["tests"]:
            if test["exercise"] in diagnoses:
                assert (test["passed"], test["score"], test["diagnosis"]) == \
                       (False, 0, diagnoses[test["exercise"]]), (student, test)
            else:
                assert test["passed"] and test["score"] == test["max_score"], (student, test)
        lost = sum(t["max_score"] for t in entry["tests"] if t["exercise"] in diagnoses)
        assert entry["score"] == pytest.approx(entry["max_score"] - lost)
