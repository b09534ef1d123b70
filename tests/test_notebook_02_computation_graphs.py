"""Lecture 02-computation-graphs: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions, forbidden calls included) are tested in
tests/test_lectures.py. Tests marked slow read the executed solution (``executed_once``) or run the
first figure in a fresh kernel with the inline backend.
"""
from __future__ import annotations

import re

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    executed_once,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
)

LECTURE = "02-computation-graphs"


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))



def test_rule_table_gives_local_derivatives_not_the_graded_rules(solution):
    """Does the rule table show the math of mul, exp and sigmoid (their code is the exercise), with worked rules only
    for ops the students do not write?"""
    table = next(c.source for c in solution.cells if c.cell_type == "markdown" and "| op | forward |" in c.source)
    assert "`(upstream * b, upstream * a)`" not in table and "`(upstream * out,)`" not in table
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    for op in ("mul", "exp", "sigmoid"):
        assert "upstream" not in rows[op] and "yours" in rows[op], rows[op]
    assert "`(upstream, upstream)`" in rows["add"]


def test_lecture_content_covers_the_brief(solution):
    """Does the notebook teach every row of the brief (worked example, f=(x+y)z, autograd, engine, two paths,
    matrix rule, training, figure, widget)?"""
    text, code = markdown_text(solution), code_text(solution)
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
    # The J graph draws 2v as a mul node with a `const` input (which gets no gradient): the text says the same.
    assert "scale by 2" not in text and "`const`" in text and "mul node" in text


@pytest.mark.slow
def test_solution_shows_the_widget_and_runs_the_engine_with_the_students_rules(tmp_path_factory):
    """Does the executed solution display the graph viewer widget, train with the engine, and run the engine
    with the answered rules?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    mimes = {key for c in nb.cells if c.cell_type == "code" for out in c.outputs for key in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
    streams = "".join(out.get("text", "") for c in nb.cells if c.cell_type == "code" for out in c.outputs)
    assert "engine == model_backward == torch" in streams
    assert "Solve exercises 2, 3 and 4 first" not in streams


def _first_figure_cells(nb):
    """The code cells from the top through the first cell that calls draw_graph (the lecture's first figure)."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cells.append(cell)
        if "draw_graph(" in cell.source and "import" not in cell.source:
            return cells
    raise AssertionError("no cell calls draw_graph")


@pytest.mark.slow
def test_first_graph_figure_renders_as_an_image_in_a_fresh_inline_kernel(solution):
    """Does the J graph cell show a PNG (not "<Figure size ...>") when run, as a student would, in a fresh kernel
    with Jupyter's default inline backend (no MPLBACKEND=Agg, which hides the bug)?"""
    import os

    import nbformat

    from notebook_helpers import REPO, notebook_client

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c.source) for c in _first_figure_cells(solution)])
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    notebook_client(nb, timeout=120, allow_errors=False, cwd=REPO).execute(env={**env, "BPLAB_QUIET": "1"})
    outputs = nb.cells[-1].outputs
    assert any("image/png" in out.get("data", {}) for out in outputs), outputs
    texts = [out.get("data", {}).get("text/plain", "") for out in outputs]
    assert len([out for out in outputs if "image/png" in out.get("data", {})]) == 1, "shown twice"
    assert not any(text.startswith("<Figure") and "image/png" not in out.get("data", {})
                   for text, out in zip(texts, outputs))




def _answer_index(nb, name):
    return next(i for i, c in answer_cells(nb) if nbgrader_meta(c)["grade_id"] == name)


def test_matmul_rule_is_derived_after_the_exercise_not_above_it(solution):
    """Issue 22: does nothing above matmul_backward's answer cell state its result (s B^T, A^T s), while the
    derivation's start is there and the boxed result follows the exercise?"""
    answer = _answer_index(solution, "matmul_backward")
    above = "\n".join(c.source for c in solution.cells[:answer])
    after = "\n".join(c.source for c in solution.cells[answer:])
    for result in (r"s\,B^\top", r"A^\top s", r"\boxed"):
        assert result not in above, result
    assert r"\frac{\partial Y_{ik}}{\partial A_{ij}}" in above and "The shape trick" in above
    assert r"\nabla_A J = s\,B^\top" in after and r"\boxed" in after


def test_hint_ladders_stop_before_the_answer_line(solution):
    """Do the backward rules' hints ("the math") lead into the derivation without its last line?"""
    forbidden = {"mul_backward": [r"\text{upstream} \odot b", r"\text{upstream} \odot a"],
                 "exp_backward": [r"\text{upstream} \odot \text{out}", r"\text{upstream} \odot e^{x}"],
                 "sigmoid_backward_rule": [r"\sigma(z)\,\big(1 - \sigma(z)\big)", r"\sigma(z)(1 - \sigma(z))"],
                 "matmul_backward": [r"s\,B^\top", r"A^\top s"]}
    for name, lines in forbidden.items():
        ladder = solution.cells[_answer_index(solution, name) - 1].source
        assert "Hint 2 of 3" in ladder and "?" in ladder.split("Hint 2 of 3")[1]
        for line in lines:
            assert line not in ladder, (name, line)


def test_finite_difference_example_works_concrete_numbers_before_the_exercise(solution):
    """Is the central-difference example a concrete function with concrete numbers (seed 003: E(theta) of one neuron,
    h = 0.1), compared with the chain rule, placed before exercise 1, with the forward vs central log-log figure?"""
    index = next(i for i, c in enumerate(solution.cells) if c.source.startswith("def E(theta):"))
    assert index < _answer_index(solution, "numerical_gradient")
    prose, code = solution.cells[index - 1].source, solution.cells[index].source
    for number in ("-1.2449", "0.8544", "1.1032", "0.9741", "-1.1972", "-1.2442"):
        assert number in prose, number
    assert "ax.loglog(hs, forward_error" in code and "ax.loglog(hs, central_error" in code
    assert "[0.9741, 0.8544, 1.1032, -1.1972, -1.2442, -1.2449]" in code
    assert "varepsilon^{1/3}" in solution.cells[index + 1].source


@pytest.mark.slow
def test_finite_difference_example_prints_its_numbers_and_the_best_steps(tmp_path_factory):
    """Does the executed solution print the h = 0.1 estimates, the error table and best steps near 1e-8 (forward)
    and 1e-5 (central)?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("def E(theta):"))
    printed = "".join(out.get("text", "") for out in cell.outputs if out.get("output_type") == "stream")
    assert "forward: (0.8544 - 0.9741) / 0.1 = -1.1972   error 0.0477" in printed
    assert "central: (0.8544 - 1.1032) / 0.2 = -1.2442   error 0.0008" in printed
    assert "  1e-01        4.8e-02        7.6e-04" in printed
    best = re.search(r"best h: forward (\S+) \(error (\S+)\), central (\S+) \(error (\S+)\)", printed)
    forward_h, forward_error, central_h, central_error = (float(v) for v in best.groups())
    assert 1e-10 <= forward_h <= 1e-6 and 1e-7 <= central_h <= 1e-3 and central_error < forward_error / 10
