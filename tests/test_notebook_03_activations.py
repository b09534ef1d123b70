"""Lecture 03-activations: what only this lecture's notebook must contain.

The conventions every lecture shares (exercises and signatures, test cells, setup, release,
real kernels, `bplab grade` on catalog submissions) are tested in tests/test_lectures.py.
Tests marked slow read the executed solution (it runs once per test run: ``executed_once``).
"""
from __future__ import annotations

import ast
import re

import pytest

from notebook_helpers import (
    answer_cells,
    code_text,
    executed_once,
    function_def,
    markdown_text,
    nbgrader_meta,
    read,
    solution_path,
)

LECTURE = "03-activations"
# Formulas the answers compute; a docstring states shapes and meaning, never these.
FORMULAS = ("dz = ", "dA *", "max(0", "alpha * z", "1 - tanh", "sigma'", "subtract", "np.", "1 / (1")


@pytest.fixture(scope="module")
def solution():
    return read(solution_path(LECTURE))


def _markdown_headings(nb):
    return [line.strip() for c in nb.cells if c.cell_type == "markdown"
            for line in c.source.splitlines() if line.startswith("#")]


def _explorer_index(nb):
    """The index of the cell after the "## Explorer" heading."""
    return 1 + next(i for i, c in enumerate(nb.cells)
                    if c.cell_type == "markdown" and c.source.splitlines()[0].strip() == "## Explorer")


def test_every_docstring_states_the_batch_shape(solution):
    """Does every answer's docstring state the (m, n) shape of its arguments?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        assert "(m, n)" in (ast.get_docstring(function_def(cell.source, name)) or ""), \
            f"{name}'s docstring states no shapes"



def test_docstrings_state_shapes_and_meaning_not_the_formula(solution):
    """Does no answer's docstring give the formula (or the NumPy code) its answer computes?"""
    for _, cell in answer_cells(solution):
        name = nbgrader_meta(cell)["grade_id"]
        doc = ast.get_docstring(function_def(cell.source, name))
        assert not [f for f in FORMULAS if f in doc], (name, doc)


def test_lecture_covers_the_required_topics(solution):
    """Does the lecture show every activation, the softmax overflow under np.errstate, the worked examples and torch.nn?"""
    code, text = code_text(solution), markdown_text(solution)
    for module in ("Sigmoid()", "Tanh()", "ReLU()", "LeakyReLU(", "ELU(", "Softmax(dim=1)"):
        assert f"torch.nn.{module}" in code, module
    assert '"elu"' in code and "np.errstate" in code and "[1000.0, 999.0]" in code
    assert "[[0.8615, 0.1166, 0.0058, 0.0003, 0.0158]]" in code  # DESIGN.md's softmax example, asserted
    assert "0.0066" in code and "0.249" in code                   # DESIGN.md's saturation example, asserted
    assert "a(1-a)" in text.replace(" ", "").replace("\\,", "") and "1-a^2" in text.replace(" ", "")
    assert any("rules of thumb" in h.lower() for h in _markdown_headings(solution))


def test_explorer_is_a_z_slider_with_an_activation_dropdown(solution):
    """Is the cell after the "Explorer" heading a widgets.interactive with a FloatSlider "z", a dropdown and plot_activation?"""
    explorer = solution.cells[_explorer_index(solution)]
    assert explorer.cell_type == "code"
    calls = {ast.unparse(n.func): n for n in ast.walk(ast.parse(explorer.source)) if isinstance(n, ast.Call)}
    slider = calls["widgets.FloatSlider"]
    assert {k.arg: ast.literal_eval(k.value) for k in slider.keywords}["description"] == "z"
    assert "widgets.interactive" in calls and "widgets.Dropdown" in calls
    assert "plots.plot_activation" in calls


@pytest.mark.slow
def test_solution_explorer_renders_a_widget(tmp_path_factory):
    """Does the explorer cell display an ipywidgets view (the slider and dropdown with their plot)?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    mimes = {mime for out in nb.cells[_explorer_index(nb)].outputs for mime in out.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes


# ---------------------------------------------------------------------------------------
# Issue 22: the lecture's name, how it works and its points; derivations, not formulas; two false statements
# fixed; seed 003's neuron models and universal approximation.

def _squeezed_math(text):
    """Text without spaces and LaTeX spacing or sizing commands, so that formulas compare however they are typeset."""
    for command in ("\\,", "\\!", "\\;", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\left", "\\right"):
        text = text.replace(command, "")
    return "".join(text.split())


# The slope formulas the backward exercises ask the student to derive (squeezed), per exercise.
SLOPE_FORMULAS = {
    "sigmoid_backward": ("a(1-a)", "\\sigma(z)(1-\\sigma(z))", "\\sigma(Z)(1-\\sigma(Z))", "1-\\sigma(z))",
                         "\\sigma(A)(1-\\sigma(A))", "A*(1-A)", "a*(1-a)"),
    "tanh_backward": ("1-a^2", "1-\\tanh^2", "1-\\tanh(z)^2", "1-tanh^2", "1-A**2", "1-a**2"),
    "relu_backward": ("\\operatorname{relu}'(z)=\\begin{cases}1", "relu'(z)=1"),
    "leaky_relu_backward": ("\\operatorname{leaky\\_relu}'(z)=\\begin{cases}1", "leaky_relu'(z)=1"),
}


def _answer_index(nb, name):
    return next(i for i, cell in answer_cells(nb) if nbgrader_meta(cell)["grade_id"] == name)


def _stdout(cell):
    return "".join(out.get("text", "") for out in cell.outputs if out.get("name") == "stdout")


def _cell_with(nb, snippet):
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and snippet in c.source)



def test_no_slope_formula_appears_above_its_answer_cell(solution):
    """Do no prose, hint, demo code or docstring above a backward exercise's answer cell state the slope it asks for
    (a(1-a), 1-a^2, the ReLU cases): the derivation is the exercise; the summary may recap them afterwards?"""
    for name, formulas in SLOPE_FORMULAS.items():
        index = _answer_index(solution, name)
        above = [_squeezed_math(c.source) for c in solution.cells[:index]]
        docstring = _squeezed_math(ast.get_docstring(function_def(solution.cells[index].source, name)) or "")
        found = [(f, i) for f in formulas for i, text in enumerate(above + [docstring]) if f in text]
        assert found == [], (name, found)
    summary = _squeezed_math(solution.cells[-1].source)
    assert "a(1-a)" in summary and "1-a^2" in summary


def test_backward_hints_nudge_toward_the_derivation(solution):
    """Does each backward exercise's "the math" hint give the tools of the derivation (chain or quotient rule, the
    pieces' slopes) and ask the student to finish it, rather than state g'? The sigmoid's slope was derived in
    lecture 02 (issue 28: one derivation, not two): its hint points there and to the point the slope is taken at."""
    def math_hint(name):
        ladder = solution.cells[_answer_index(solution, name) - 1].source
        return ladder.split("Hint 2 of 3</b>: the math</summary>", 1)[1].split("</details>", 1)[0]

    # the sigmoid's slope is derived once, in lecture 02's exercise 4; here the layer evaluates it at Z
    assert "Lecture 02 (exercise 4)" in math_hint("sigmoid_backward") and "derivative at output" in math_hint(
        "sigmoid_backward")
    assert "quotient rule" in math_hint("tanh_backward") and "\\cosh^2 z - \\sinh^2 z = 1" in math_hint("tanh_backward")
    for name in ("relu_backward", "leaky_relu_backward"):
        assert "left piece" in math_hint(name) and "slope" in math_hint(name)


def test_saturation_prose_no_longer_claims_a_slow_cross_entropy_output(solution):
    """Is every "40 times" sentence about hidden units, with squared-error outputs at the 20 times the table measures
    (with cross-entropy a sigmoid
    output has dz = A - Y), and is 0.25^L said of the slopes, not of the gradient, which the weights multiply into?"""
    text = markdown_text(solution)
    assert "its weights learn 40 times more slowly" not in text
    assert "so the first layers get at most" not in text
    sentences = [s for s in re.split(r"\. |; ", text.replace("\n", " ")) if "40 times" in s]
    assert sentences
    for sentence in sentences:  # 40x is the hidden unit's ratio; section 10's table measures 20x for the MSE output
        assert "output" not in sentence, sentence
    assert "about 20 times less" in text
    assert "$dz = a - y$" in text and "The slope cancels" in text
    quarter = [s for s in text.replace("\n", " ").split(". ") if "0.25^{L}" in s]
    assert quarter and all("slopes" in s for s in quarter), quarter
    assert "The product of slopes is not the gradient" in text
    assert "dz^{[l-1]} = \\bigl(dz^{[l]}\\, W^{[l]}\\bigr) \\odot g'" in text


def test_neuron_and_approximation_sections_use_the_seeds_model_and_values(solution):
    """Does the lecture simulate the LIF neuron with the notes' constants (20 ms, 2 ms), draw its trace and tuning
    curve (formula and simulation), fit ReLU, softplus and sigmoid to it, and picture universal approximation with
    sigmoid bumps and ReLU units?"""
    code, text = code_text(solution), markdown_text(solution)
    assert "$\\tau_m = 20$ ms and $\\tau_{\\text{ref}} = 2$ ms" in text
    assert "\\tau_m \\frac{dv}{dt} = v_{\\text{in}} - v" in text and "tuning curve" in text
    for call in ("neurons.lif_simulate(", "neurons.lif_rate(", "neurons.lif_simulated_rate(", "fit_rate_model(",
                 "sigmoid_staircase(", "relu_broken_line("):
        assert call in code, call
    assert '"softplus"' in code and "universal approximation theorem" in text
    for snippet in ("neurons.lif_simulate(", "neurons.lif_simulated_rate(", "fit_rate_model(g", "sigmoid_staircase(x_plot",
                    "dz_lines =", "def chain_dz"):
        assert "plt.subplots" in solution.cells[_cell_with(solution, snippet)].source, snippet


@pytest.mark.slow
def test_executed_lif_tuning_curve_matches_the_formula_and_the_stand_ins_are_ranked(tmp_path_factory):
    """In the executed solution, are the simulated rates within 1% of the formula (0 Hz below threshold, 63 Hz at
    v_in = 2), and does the sigmoid fit the tuning curve best, ReLU worst?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    out = _stdout(nb.cells[_cell_with(nb, "neurons.lif_simulated_rate(")])
    simulated = out.split("simulated rate (Hz) :", 1)[1].split("\n", 1)[0]
    formula = out.split("formula G(v_in) (Hz):", 1)[1].split("\n", 1)[0]
    parse = lambda row: [float(v) for v in row.replace("[", " ").replace("]", " ").split()]  # noqa: E731
    simulated, formula = parse(simulated), parse(formula)
    assert len(simulated) == len(formula) == 10 and simulated[0] == formula[0] == 0.0 and formula[4] == 63.0
    assert all(abs(s - f) <= 0.01 * f for s, f in zip(simulated[1:], formula[1:]))
    fits = {line.split()[0]: float(line.split()[-1]) for line in
            _stdout(nb.cells[_cell_with(nb, "fit_rate_model(g")]).splitlines()[1:] if line.strip()}
    assert fits["sigmoid"] < fits["softplus"] < fits["ReLU"]


@pytest.mark.slow
def test_executed_approximation_improves_with_more_units(tmp_path_factory):
    """Does the universal-approximation cell print errors that halve (sigmoid bumps) and quarter (ReLU broken line)
    roughly as the pieces double?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    rows = [line.split() for line in _stdout(nb.cells[_cell_with(nb, "sigmoid_staircase(x_plot")]).splitlines()[1:]]
    pieces = [int(r[0]) for r in rows]
    sigmoid_errors, relu_errors = [float(r[1]) for r in rows], [float(r[2]) for r in rows]
    assert pieces == [4, 8, 16, 32, 64]
    assert all(1.6 < a / b < 2.8 for a, b in zip(sigmoid_errors, sigmoid_errors[1:]))
    assert all(2.9 < a / b < 4.5 for a, b in zip(relu_errors, relu_errors[1:]))
    assert relu_errors[-1] < 0.002 and sigmoid_errors[-1] < 0.05


@pytest.mark.slow
def test_executed_saturation_table_and_chain_show_the_corrected_claims(tmp_path_factory):
    """Does the saturation cell show a hidden unit 38x and a squared-error output 20x slower at z = 5, but a
    cross-entropy output with a larger dz; and does the w = 8 chain give dz[1] = 16 dz[5] (w = 1: 0.25^4)?"""
    nb, _, _ = executed_once(tmp_path_factory, LECTURE, "solution")
    table = _stdout(nb.cells[_cell_with(nb, "binary_cross_entropy_gradient(A_unit")])
    assert "hidden unit (dA = 1)    0.2494    0.0066        38x smaller" in table
    assert "output with squared error    0.1309    0.0066        20x smaller" in table
    assert "output with cross-entropy    0.5250    0.9933        1.9x larger" in table
    chain = _stdout(nb.cells[_cell_with(nb, "def chain_dz")])
    assert "w = 8.0: |dz[1]| ... |dz[5]| = [16.  8.  4.  2.  1.]" in chain
    assert "w = 1.0: |dz[1]| ... |dz[5]| = [0.0039 0.0156 0.0625 0.25   1.    ]" in chain
