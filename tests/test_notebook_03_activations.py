"""Lecture 03-activations: the instructor source, the released student notebook, and grading.

Static tests read the notebooks' JSON (fast). Tests marked slow run real kernels (nbclient)
and the real grader: the solution must pass every check, visible and hidden, in under 60 s
with a peak kernel memory under 1 GB; the student version must run to the end failing only in
test cells; `bplab grade --json` must give the catalog's correct answers full marks and name
each typical mistake.
"""
from __future__ import annotations

import ast
import builtins
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from backproplab.grading.factory import build_submission, write_notebook
from backproplab.grading.release import release
from backproplab.grading.samples import catalog
from notebook_helpers import (
    REPO, answer_cells, answer_dependent_cells, check_results, course_path, error_outputs,
    exercises_with_tests, execute_with_peak_rss, grade_cells, nbgrader_meta, read, solution_path,
)

LECTURE = "03-activations"
# The binding signatures (docs/DESIGN.md), in notebook order: forward functions, then backward rules.
SIGNATURES = {
    "sigmoid": "(Z)",
    "tanh": "(Z)",
    "relu": "(Z)",
    "leaky_relu": "(Z, alpha=0.01)",
    "softmax": "(Z)",
    "sigmoid_backward": "(dA, Z)",
    "tanh_backward": "(dA, Z)",
    "relu_backward": "(dA, Z)",
    "leaky_relu_backward": "(dA, Z, alpha=0.01)",
}
MANUAL_CELLS = {"explain_vanishing_gradient", "explain_softmax_shift"}
TIME_BUDGET_SECONDS = 60
MEMORY_BUDGET_MB = 1024


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
    positional = names[:len(names) - len(defaults)]
    with_defaults = [f"{n}={d!r}" for n, d in zip(names[len(names) - len(defaults):], defaults)]
    return "(" + ", ".join(positional + with_defaults) + ")"


def _setup_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "setup" in c.metadata.get("tags", [])]


def _markdown_headings(nb):
    return [line.strip() for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if line.startswith("#")]


# ---------------------------------------------------------------------------------------
# Structure (fast).

def test_exercises_appear_in_order_with_the_binding_signatures(solution):
    """Does the notebook define exactly the nine exercises, in order, each with DESIGN.md's signature and a docstring?"""
    names = [nbgrader_meta(cell)["grade_id"] for _, cell in answer_cells(solution)]
    assert names == list(SIGNATURES)
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        function_def = _function_def(cell.source, name)
        assert function_def is not None, f"the answer cell {name} does not define {name}()"
        assert _signature(function_def) == SIGNATURES[name]
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert "(m, n)" in (ast.get_docstring(function_def) or ""), f"{name}'s docstring states no shapes"


def test_every_exercise_has_one_visible_and_one_hidden_test(solution):
    """Does every exercise have exactly one visible test test_<name> and one hidden test test_<name>_hidden?"""
    tests = exercises_with_tests(solution)
    assert set(tests) == set(SIGNATURES)
    for name, ids in tests.items():
        assert ids == {"visible": [f"test_{name}"], "hidden": [f"test_{name}_hidden"]}


def test_checks_registry_knows_every_exercise(solution):
    """Is every exercise of the notebook registered in the checks (so that check() can judge it)?"""
    from backproplab.checks import get_exercise

    for name in SIGNATURES:
        assert get_exercise(name) is not None, name


def test_grade_ids_are_unique(solution):
    """Is every nbgrader grade_id in the notebook used only once?"""
    ids = [nbgrader_meta(c)["grade_id"] for c in solution.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids))
    assert set(ids) >= set(SIGNATURES) | MANUAL_CELLS


def test_every_test_cell_is_locked_schema_3_and_has_points(solution):
    """Is every test cell locked, nbgrader schema 3 and worth a positive number of points?"""
    cells = grade_cells(solution)
    assert len(cells) == 2 * len(SIGNATURES)
    for _, cell in cells:
        meta = nbgrader_meta(cell)
        assert meta["locked"] is True and meta["schema_version"] == 3, meta
        assert meta["points"] > 0, meta


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


def test_manual_questions_are_graded_markdown_with_points(solution):
    """Are the "explain in your own words" cells markdown, solution and grade cells with points?"""
    manual = {nbgrader_meta(c)["grade_id"]: c for c in solution.cells
              if nbgrader_meta(c).get("solution") and nbgrader_meta(c).get("grade")}
    assert set(manual) == MANUAL_CELLS
    for cell in manual.values():
        assert cell.cell_type == "markdown" and nbgrader_meta(cell)["points"] > 0


def test_every_exercise_offers_a_hint(solution):
    """Does a collapsed <details> hint follow every answer cell, before its test cells?"""
    for index, cell in answer_cells(solution):
        following = solution.cells[index + 1]
        assert following.cell_type == "markdown" and following.source.startswith("<details>"), \
            nbgrader_meta(cell)["grade_id"]


def test_setup_cell_matches_the_answer_catalog(solution):
    """Is the setup cell (tag "setup") the catalog's SETUP, so that catalog answers run as in the notebook?"""
    setup = _setup_cells(solution)
    assert len(setup) == 1
    assert setup[0].source.strip() == catalog(LECTURE).SETUP.strip()


def test_answer_cells_need_only_setup_cells_and_other_answers(solution):
    """Does every name an answer uses come from the setup cell, another answer cell or builtins (and no torch)?

    The outside verification runs only the setup cells and the answer cells, so anything
    else an answer relied on would make a correct submission fail there.
    """
    available = set(dir(builtins))
    for cell in _setup_cells(solution):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                assert "torch" not in (getattr(node, "module", None) or "") and not any(
                    a.name.startswith("torch") for a in node.names), "setup cells must not import torch"
                available.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                available.add(node.id)
    available |= set(SIGNATURES)
    for _, cell in answer_cells(solution):
        tree = ast.parse(cell.source)
        local = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        assert used - local - available == set(), nbgrader_meta(cell)["grade_id"]


def test_lecture_covers_the_required_topics(solution):
    """Does the lecture show every activation, the softmax overflow under np.errstate, the worked examples and torch.nn?"""
    code = "\n".join(c.source for c in solution.cells if c.cell_type == "code")
    text = "\n".join(c.source for c in solution.cells if c.cell_type == "markdown")
    for module in ("Sigmoid()", "Tanh()", "ReLU()", "LeakyReLU(", "ELU(", "Softmax(dim=1)"):
        assert f"torch.nn.{module}" in code, module
    assert '"elu"' in code and "np.errstate" in code and "[1000.0, 999.0]" in code
    assert "[[0.8615, 0.1166, 0.0058, 0.0003, 0.0158]]" in code  # DESIGN.md's softmax example, asserted
    assert "0.0066" in code and "0.249" in code                   # DESIGN.md's saturation example, asserted
    assert "a(1-a)" in text.replace(" ", "").replace("\\,", "") and "1-a^2" in text.replace(" ", "")
    assert any("rules of thumb" in h.lower() for h in _markdown_headings(solution))


def test_explorer_is_a_z_slider_with_an_activation_dropdown(solution):
    """Is the cell after the "Explorer" heading a widgets.interactive with a FloatSlider "z", a dropdown and plot_activation?"""
    index = next(i for i, c in enumerate(solution.cells)
                 if c.cell_type == "markdown" and c.source.splitlines()[0].strip() == "## Explorer")
    explorer = solution.cells[index + 1]
    assert explorer.cell_type == "code"
    tree = ast.parse(explorer.source)
    calls = {ast.unparse(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}
    slider = calls["widgets.FloatSlider"]
    assert {k.arg: ast.literal_eval(k.value) for k in slider.keywords}["description"] == "z"
    assert "widgets.interactive" in calls and "widgets.Dropdown" in calls
    assert "plots.plot_activation" in calls


def test_notebooks_are_committed_without_outputs(solution, student):
    """Are both notebooks free of outputs and execution counts?"""
    for nb in (solution, student):
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None


def test_builder_reproduces_the_committed_solution(solution):
    """Does tools/build_03_activations.py build exactly the committed solution notebook?"""
    built = runpy.run_path(str(REPO / "tools" / "build_03_activations.py"))["build"]()
    assert json.loads(json.dumps(built)) == json.loads(json.dumps(solution))


def test_student_release_hides_solutions_and_hidden_tests(solution, student):
    """Does the student version keep every graded cell but no solution code, hidden check or model answer?"""
    assert [nbgrader_meta(c).get("grade_id") for c in student.cells] == \
           [nbgrader_meta(c).get("grade_id") for c in solution.cells]
    for _, cell in answer_cells(student):
        assert "raise NotImplementedError()" in cell.source and "BEGIN SOLUTION" not in cell.source
    for _, cell in grade_cells(student):
        assert "hidden=True" not in cell.source and "HIDDEN TESTS" not in cell.source
    for cell in student.cells:
        assert "MARK SCHEME" not in cell.source
    assert set(exercises_with_tests(student)) == set(SIGNATURES)


@pytest.mark.slow
def test_course_is_in_sync_with_solutions():
    """Is course/03-activations exactly what `bplab release` generates from solutions/ (and solutions/ normalized)?"""
    assert release(REPO, [LECTURE], check=True).stale == []


# ---------------------------------------------------------------------------------------
# Real kernels.

@pytest.fixture(scope="module")
def executed_solution():
    return execute_with_peak_rss(solution_path(LECTURE), timeout=TIME_BUDGET_SECONDS)


@pytest.fixture(scope="module")
def executed_student():
    return execute_with_peak_rss(course_path(LECTURE), allow_errors=True, timeout=TIME_BUDGET_SECONDS)


@pytest.mark.slow
def test_solution_runs_top_to_bottom_within_time_and_memory(executed_solution):
    """Does the solution notebook run without error in a fresh kernel in under 60 s with a peak RSS under 1 GB?"""
    nb, seconds, peak_mb = executed_solution
    errors = [(i, out["ename"], out["evalue"]) for i, c in enumerate(nb.cells) for out in error_outputs(c)]
    assert errors == []
    assert seconds < TIME_BUDGET_SECONDS
    assert peak_mb < MEMORY_BUDGET_MB


@pytest.mark.slow
def test_solution_passes_every_visible_and_hidden_check(executed_solution):
    """Does every test cell of the solution, hidden ones included, publish exactly one passing verdict?"""
    nb, _, _ = executed_solution
    for _, cell in grade_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        results = check_results(cell)
        assert len(results) == 1, grade_id
        result = results[0]
        assert result["exercise"] == grade_id.removeprefix("test_").removesuffix("_hidden")
        assert result["hidden"] is grade_id.endswith("_hidden")
        assert result["passed"] is True and result["diagnosis"] is None, (grade_id, result["message"])


@pytest.mark.slow
def test_solution_explorer_renders_a_widget(executed_solution):
    """Does the explorer cell display an ipywidgets view (the slider and dropdown with their plot)?"""
    nb, _, _ = executed_solution
    index = next(i for i, c in enumerate(nb.cells)
                 if c.cell_type == "markdown" and c.source.splitlines()[0].strip() == "## Explorer")
    mimes = {mime for out in nb.cells[index + 1].outputs for mime in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes


@pytest.mark.slow
def test_student_version_fails_only_in_test_cells(executed_student):
    """Does the blank student notebook run to the end, with errors only in test cells, each diagnosed not-implemented?"""
    nb, seconds, peak_mb = executed_student
    graded = {i for i, _ in grade_cells(nb)}
    assert answer_dependent_cells(nb) == set()  # demos fall back to the library until an answer exists
    for index, cell in enumerate(nb.cells):
        for out in error_outputs(cell):
            assert index in graded, (index, out["ename"], out["evalue"])
    # The release empties hidden test cells; Jupyter does not execute empty cells.
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code" and c.source.strip()), \
        "stopped early"
    for _, cell in grade_cells(nb):
        grade_id = nbgrader_meta(cell)["grade_id"]
        if grade_id.endswith("_hidden"):
            assert cell.outputs == [], grade_id  # the release emptied it
            continue
        results = check_results(cell)
        assert [(r["passed"], r["diagnosis"]) for r in results] == [(False, "not-implemented")], grade_id
        assert error_outputs(cell), f"{grade_id} must fail so that nbgrader scores it 0"
    assert seconds < TIME_BUDGET_SECONDS and peak_mb < MEMORY_BUDGET_MB


# ---------------------------------------------------------------------------------------
# The real grader on catalog submissions.

def _typical_mistakes():
    """One wrong catalog variant per exercise: the first whose diagnosis a kernel can produce."""
    chosen = {}
    for variant in catalog(LECTURE).VARIANTS:
        if variant.expected_diagnosis is not None and not variant.sandbox_only:
            chosen.setdefault(variant.exercise, variant)
    return chosen


@pytest.mark.slow
def test_bplab_grade_gives_full_marks_and_names_each_typical_mistake(tmp_path, student):
    """Does `bplab grade --json` give the correct submission full marks and, per typical mistake,
    take the points of that exercise's failing tests only, naming the catalog's diagnosis?"""
    answers = dict(catalog(LECTURE).ANSWERS)
    mistakes = _typical_mistakes()
    assert set(mistakes) == set(SIGNATURES), "the catalog lacks a typical mistake for some exercise"
    submissions = tmp_path / "submitted"
    submissions.mkdir()
    write_notebook(build_submission(student, answers), submissions / "correct.ipynb")
    for exercise, variant in mistakes.items():
        write_notebook(build_submission(student, {**answers, exercise: variant.source}),
                       submissions / f"wrong-{exercise.replace('_', '-')}.ipynb")

    bplab = Path(sys.executable).with_name("bplab")
    proc = subprocess.run([str(bplab), "grade", str(submissions), "--lecture", LECTURE, "--json", "--workers", "2",
                           "--workspace", str(tmp_path / "workspace"), "--root", str(REPO)],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = {r["student"]: r for r in json.loads(proc.stdout)}
    assert set(results) == {"correct"} | {f"wrong-{e.replace('_', '-')}" for e in mistakes}

    correct = results["correct"]
    assert correct["lecture"] == LECTURE and correct["status"] == "graded" and not correct["flagged"]
    assert correct["score"] == correct["max_score"] > 0
    assert all(t["passed"] and t["diagnosis"] is None for t in correct["tests"])
    assert {t["exercise"] for t in correct["tests"]} == set(SIGNATURES)

    for exercise, variant in mistakes.items():
        result = results[f"wrong-{exercise.replace('_', '-')}"]
        failed = [t for t in result["tests"] if not t["passed"]]
        own = [t for t in failed if t["exercise"] == exercise]
        assert own, (exercise, variant.name)
        assert {t["diagnosis"] for t in own} == {variant.expected_diagnosis}, (variant.name, own)
        # Other exercises may fail only if their correct answer calls the broken function.
        callers = {e for e, source in answers.items() if re.search(rf"\b{exercise}\(", source)}
        assert {t["exercise"] for t in failed} <= {exercise} | callers, (variant.name, failed)
        lost = sum(t["max_score"] for t in failed)
        assert result["max_score"] == correct["max_score"]
        assert result["score"] == pytest.approx(correct["max_score"] - lost), variant.name
