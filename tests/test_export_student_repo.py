"""`bplab export-student-repo` (backproplab/publish.py, grading/student_edition.py): the student repository is a
working course on its own and holds no graded answer.

Every test works on a fresh `git clone` of one export. Set-up reuses this venv's site-packages (the clone's
package first on PYTHONPATH); one slow test runs the export's own `make setup`. "No answer" is measured three
ways: no line of a solution region or hidden test appears in any file; no expression of a NumPy reference or
model answer appears (as a normalised AST) in any function of the export; and neither `??` (the source) nor
`help()` of any name a notebook imports shows a graded formula.
"""
from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zlib
from functools import cache
from pathlib import Path

import nbformat
import pytest

from backproplab import LECTURES
from backproplab.checks import EXERCISES, codec
from backproplab.checks.answer_key import PREDICTORS_KEY
from backproplab.cli import main
from backproplab.grading.answer_catalogs import notebook_sources
from backproplab.grading.student_edition import GRADING_KEPT, graded_functions
from backproplab.grading.submissions import build_submission
from backproplab.publish import PublishError, export_student_repo
from catalog_helpers import catalog, failure, namespace
from lecture_specs import SPECS
from notebook_helpers import KERNEL_ENV, notebook_client

REPO = Path(__file__).resolve().parents[1]
SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# Too generic to betray an answer: control flow, lone names, returns of a single name, short lines.
TRIVIAL = re.compile(r"^(else:|try:|finally:|break|continue|pass|return( \w+)?|[\w.]+|[\]})]+,?)$")
MIN_LENGTH = 12
# `make check` (--dist loadgroup) runs this file's fast tests on one worker: the clone is made once, and the exports
# after it rewrite no module again (student_edition.student_module remembers them)
EXPORT_GROUP = "student-export"
pytestmark = pytest.mark.xdist_group(EXPORT_GROUP)


# -- the export, cloned ---------------------------------------------------------------------------

def _git(*args, cwd):
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A fresh clone of a git repository holding the export (what a student gets)."""
    export = tmp_path_factory.mktemp("export") / "backprop-lab"
    export_student_repo(REPO, export)
    _git("init", "-q", "-b", "main", cwd=export)
    _git("add", "-A", cwd=export)
    _git("commit", "-q", "-m", "student edition", cwd=export)
    target = tmp_path_factory.mktemp("clone") / "backprop-lab"
    _git("clone", "-q", str(export), str(target), cwd=target.parent)
    return target


def in_clone(clone, code, *, stdin=None, timeout=600):
    """Run Python ``code`` with the clone's package first on the path (this venv's site-packages for the rest)."""
    env = {**os.environ, **KERNEL_ENV, "PYTHONPATH": str(clone)}
    result = subprocess.run([sys.executable, "-c", code], cwd=clone, env=env, input=stdin, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and ".git" not in p.parts)


def texts(folder: Path):
    """(relative path, text) of every text file; notebooks as their JSON."""
    for relative in files(folder):
        data = (folder / relative).read_bytes()
        if b"\0" not in data[:4096] and relative.suffix != ".bin":
            yield relative, data.decode("utf-8", errors="replace")


# -- layout, README, commands -------------------------------------------------------------------

def test_the_export_holds_a_student_course_and_nothing_of_the_instructors(clone):
    """Does the clone hold course/, the library, binder/, a README, a licence, a Makefile and pyproject.toml, and none
    of solutions/, the catalogs, tests/, docs/, the grader or bytecode?"""
    for needed in ("course", "backproplab", "binder/jupyter-student", "README.md", "LICENSE", "Makefile",
                   "pyproject.toml", "backproplab/checks/answer_key.bin"):
        assert (clone / needed).exists(), needed
    lectures = sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir())
    assert sorted(p.name for p in (clone / "course").iterdir() if p.is_dir()) == lectures
    for absent in ("solutions", "autograder", "tests", "docs", "benchmarks", "scripts", "backproplab/publish.py",
                   "backproplab/grading/sandbox", "backproplab/grading/batch.py"):
        assert not (clone / absent).exists(), absent
    assert sorted(p.name for p in (clone / "backproplab" / "grading").iterdir()) == sorted(
        [*GRADING_KEPT, "cell_errors.py"])
    every = [str(p) for p in files(clone)]
    assert not [p for p in every if p.endswith(("catalog.py", ".pyc", ".pyo", ".so")) or "__pycache__" in p]
    assert "MIT License" in (clone / "LICENSE").read_text()
    pyproject = (clone / "pyproject.toml").read_text()
    assert "torch==2.13.0" in pyproject and not re.search(r"dask|copydetect|pytest|\[tool\.(pytest|coverage|ruff)", pyproject)


def test_the_readme_is_the_students_and_its_commands_exist(clone):
    """Is README.md the student README (not the instructor's, no grader internals), and do `make lab` and `make check`,
    which it names, exist in the Makefile with the CPU index and its fallback?"""
    readme = (clone / "README.md").read_text()
    assert readme != (REPO / "README.md").read_text()
    for instructor_only in ("bplab grade", "bplab release", "Not protected", "solutions/", "nbgrader_config", "catalog"):
        assert instructor_only not in readme, instructor_only
    assert "make lab" in readme and "make check NB=" in readme and "bplab check" in readme
    for target in ("lab", "check NB=course/01-architecture/architecture.ipynb"):
        dry = subprocess.run(["make", "-n", *target.split()], cwd=clone, capture_output=True, text=True)
        assert dry.returncode == 0, dry.stderr
    makefile = (clone / "Makefile").read_text()
    assert "--index-url $(TORCH_CPU_INDEX) $(TORCH) || $(PY) -m pip install --quiet $(TORCH)" in makefile
    assert "binder/jupyter-student" in makefile


# A path: folders and a file with an extension, or one of the instructor's folders.
PATH = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)+[\w.-]*\.(?:md|py|ipynb|txt|toml|json|cfg|db|npz|bin|yml|yaml)"
                  r"|(?:solutions|autograder|tests|docs|benchmarks|scripts)/[\w./-]*|[A-Z][A-Z_-]+\.md)")


def referenced_paths(text: str) -> set[str]:
    """Relative paths named in a text, without URLs and placeholders (NN-topic, ...)."""
    text = re.sub(r"https?://\S+", " ", text)
    return {match for match in PATH.findall(text) if "NN" not in match and "..." not in match
            and not match.startswith(("/", "~", "."))}


def missing_references(folder: Path) -> list[tuple[str, str]]:
    """(file, path) for every path a text file names that the folder lacks (relative to the root or the file)."""
    missing = []
    for relative, text in texts(folder):
        if relative.suffix == ".ipynb":
            text = "\n".join(cell.source for cell in nbformat.reads(text, as_version=4).cells)
        for path in referenced_paths(text):
            candidates = [folder / path, folder / relative.parent / path, folder / "backproplab" / path,
                          *(folder.glob(f"**/{path}") if "/" not in path else [])]
            if not any(c.exists() for c in candidates):
                missing.append((str(relative), path))
    return sorted(missing)


def test_no_file_of_the_export_names_a_path_it_leaves_out(clone):
    """Does no notebook, README, Makefile, binder or library file name a path (docs/DESIGN.md, tests/...) that the
    export does not hold?"""
    assert missing_references(clone) == []


def test_the_reference_check_notices_a_missing_path(clone, tmp_path):
    """Would a notebook naming docs/DESIGN.md be caught (can the check fail)?"""
    planted = tmp_path / "planted"
    shutil.copytree(clone / "course", planted / "course")
    notebook = next(planted.glob("course/*/*.ipynb"))
    nb = nbformat.read(str(notebook), as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("See docs/DESIGN.md, section Notation."))
    nbformat.write(nb, str(notebook))
    assert (str(notebook.relative_to(planted)), "docs/DESIGN.md") in missing_references(planted)


# -- the course works from the clone ----------------------------------------------------------------

@pytest.mark.slow
def test_the_library_and_checks_import_from_the_clone_without_torch(clone):
    """Do the library, its checks and the CLI import from the clone (not from this repository), without torch?"""
    out = in_clone(clone, "import sys, backproplab, backproplab.checks, backproplab.cli, backproplab.selfcheck;"
                          "print(backproplab.__file__); print('torch' in sys.modules)")
    path, torch_loaded = out.split()
    assert Path(path).resolve().is_relative_to(clone.resolve()) and torch_loaded == "False"


def _first_error(nb):
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                return index, cell, output
    return None


def _run_in_clone_kernel(nb, path, root, *, timeout, stop_at_first_error):
    """Run ``nb``'s code cells in place, in a kernel that imports the package from ``root`` (an export's clone)."""
    env = {**os.environ, **KERNEL_ENV, "PYTHONPATH": str(root)}
    client = notebook_client(nb, timeout=timeout, allow_errors=True, cwd=path.parent)
    client.km = client.create_kernel_manager()
    client.start_new_kernel(env=env)
    client.start_new_kernel_client()
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
                if stop_at_first_error and _first_error(nb):
                    break
    finally:
        client._cleanup_kernel()


@pytest.mark.slow
def test_a_lecture_runs_to_its_first_unsolved_check(clone):
    """Does lecture 01, as released, run in a kernel from the clone until its first test cell, which fails because
    the exercise is not solved yet (every cell before it runs)?"""

    path = clone / "course" / "01-architecture" / "architecture.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    _run_in_clone_kernel(nb, path, clone, timeout=300, stop_at_first_error=True)
    index, cell, error = _first_error(nb)
    first_test = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade")
                      and c.cell_type == "code")
    assert index == first_test, (index, cell.source, error.evalue)
    assert error.ename in ("CheckFailed", "NotImplementedError"), error


@pytest.mark.slow
@pytest.mark.parametrize("lecture", LECTURES)
def test_every_lecture_solved_runs_top_to_bottom_in_the_clone(clone, lecture, tmp_path):
    """With the model answers filled in, does every cell of the lecture (demonstrations on the PyTorch-backed
    library, every visible check) run without an error in a kernel from the clone?"""

    work = tmp_path / "work"
    shutil.copytree(clone, work, ignore=shutil.ignore_patterns(".git"))
    path = _solved(lecture, work)
    nb = nbformat.read(str(path), as_version=4)
    _run_in_clone_kernel(nb, path, work, timeout=600, stop_at_first_error=False)
    errors = [(index, cell.source[:60], output.ename, output.evalue[:200]) for index, cell in enumerate(nb.cells)
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []


def _solved(lecture: str, folder: Path) -> Path:
    """The clone's released notebook of ``lecture`` with the catalog's correct answers filled in."""
    released = nbformat.read(str(next((folder / "course" / lecture).glob("*.ipynb"))), as_version=4)
    _, answers = notebook_sources(REPO / "solutions" / lecture / "catalog.py")
    path = next((folder / "course" / lecture).glob("*.ipynb")).with_name("solved.ipynb")
    nbformat.write(build_submission(released, answers), str(path))
    return path


@pytest.mark.slow
def test_bplab_check_lists_the_checks_of_a_student_notebook(clone, tmp_path):
    """Does the clone's `bplab check` report the unsolved lecture 04 as not implemented (exit 1), and pass every
    visible check of lecture 04 solved with the model answers (exit 0)?"""
    work = tmp_path / "work"
    shutil.copytree(clone, work, ignore=shutil.ignore_patterns(".git"))
    env = {**os.environ, **KERNEL_ENV, "PYTHONPATH": str(work)}
    command = [sys.executable, "-m", "backproplab.cli", "check", "--json"]
    unsolved = subprocess.run([*command, "course/04-backprop/backprop.ipynb"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=900)
    assert unsolved.returncode == 1, unsolved.stderr[-2000:]
    verdicts = json.loads(unsolved.stdout)
    assert verdicts and verdicts[0]["diagnosis"] == "not-implemented"
    solved = subprocess.run([*command, str(_solved("04-backprop", work))], cwd=work, env=env, capture_output=True,
                            text=True, timeout=900)
    verdicts = json.loads(solved.stdout)
    assert solved.returncode == 0, [v for v in verdicts if not v["passed"]] or solved.stderr[-2000:]
    exercises = {v["exercise"] for v in verdicts}
    assert exercises == set(catalog("04-backprop").ANSWERS) and all(not v["hidden"] for v in verdicts)


# -- the visible checks still name the catalogs' mistakes -------------------------------------------

RUN_VARIANTS = textwrap.dedent('''
    import contextlib, io, json, sys
    from backproplab.checks import CheckFailed, check
    found = {}
    for job in json.load(sys.stdin):
        ns = {"__name__": "__bplab_answers__"}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(job["setup"], "<setup>", "exec"), ns)
            for exercise, source in job["answers"].items():
                exec(compile(source, "<" + exercise + ">", "exec"), ns)
            try:
                check(job["exercise"], ns[job["exercise"]])
                found[job["id"]] = None
            except CheckFailed as failed:
                found[job["id"]] = failed.result.diagnosis
    print(json.dumps(found))
''')


def _jobs():
    jobs, instructor = [], {}
    for lecture in LECTURES:
        module = catalog(lecture)
        for exercise in module.ANSWERS:
            jobs.append({"id": f"{lecture}:{exercise}", "exercise": exercise, "setup": module.SETUP,
                         "answers": module.ANSWERS})
            instructor[f"{lecture}:{exercise}"] = None
        for variant in module.VARIANTS:
            if variant.sandbox_only:
                continue
            key = f"{lecture}:{variant.exercise}:{variant.name}"
            jobs.append({"id": key, "exercise": variant.exercise, "setup": module.SETUP,
                         "answers": {**module.ANSWERS, variant.exercise: variant.source}})
            result = failure(variant.exercise, namespace(lecture, variant)[variant.exercise], hidden=False)
            instructor[key] = None if result is None else result.diagnosis
    return jobs, instructor


@pytest.mark.slow
def test_visible_checks_in_the_clone_name_every_catalog_mistake_as_the_instructors_do(clone, capsys):
    """Does every correct catalog answer pass the clone's visible checks, and every wrong one get there exactly the
    diagnosis the instructor's visible check gives it?"""
    jobs, instructor = _jobs()
    capsys.readouterr()
    found = json.loads(in_clone(clone, RUN_VARIANTS, stdin=json.dumps(jobs)))
    assert sum(1 for key, diagnosis in instructor.items() if diagnosis) > 100
    assert {key: found[key] for key in instructor if found[key] != instructor[key]} == {}


@pytest.mark.slow
def test_hidden_checks_are_refused_in_one_line(clone):
    """Does check(..., hidden=True) in the student edition say in one line that only the grader runs hidden tests?"""
    out = in_clone(clone, textwrap.dedent('''
        from backproplab.checks import check
        from backproplab.checks.answer_key import VisibleOnly
        try:
            check("dense_backward", lambda dz, A_prev, W: None, hidden=True)
        except VisibleOnly as refused:
            print(refused._render_traceback_())
    '''))
    assert "visible cases only" in out and "instructor grades" in out and out.count("\n") == 1


# -- nothing in the export holds a graded answer ----------------------------------------------------

def regions(source: str, begin: str, end: str) -> tuple[list[str], list[str]]:
    """Split a cell's lines into (lines inside begin/end blocks, lines outside), stripped, markers dropped."""
    inside, outside, depth = [], [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(begin):
            depth = True
        elif stripped.startswith(end):
            depth = False
        else:
            (inside if depth else outside).append(stripped)
    return inside, outside


def solution_sources():
    for path in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(str(path), as_version=4).cells:
            yield cell.source


def _computes(line: str) -> bool:
    """Whether a line of code computes with arithmetic; a line that only calls, assigns or loops shows an API, not an
    answer (unparsable fragments, e.g. the head of a block, count as computing)."""
    if line.startswith(("for ", "while ", "if ", "elif ", "with ", "def ")):
        return False
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return True
    return _arithmetic(tree) > 0


def secret_solution_lines() -> set[str]:
    """Non-trivial lines of the solution regions that the notebooks do not show outside them (lines that compute:
    ``_computes``)."""
    shown = []
    for source in solution_sources():
        _, outside = regions(source, *SOLUTION)
        shown.extend(regions("\n".join(outside), *HIDDEN)[1])
    shown = "\n".join(shown)
    return {line for source in solution_sources() for line in regions(source, *SOLUTION)[0]
            if len(line) >= MIN_LENGTH and not line.startswith("#") and not TRIVIAL.match(line) and line not in shown
            and _computes(line)}


def line_leaks(folder: Path, lines: set[str]) -> list[tuple[str, str]]:
    found = []
    for relative, text in texts(folder):
        for line in lines:
            if line in text or line.replace("\\", "\\\\").replace('"', '\\"') in text:
                found.append((str(relative), line))
    return found


def test_no_solution_line_or_hidden_test_is_in_any_file(clone):
    """Does no non-trivial line of an answer region, and no line of a hidden test, appear in any file of the clone?"""
    secret = secret_solution_lines()
    hidden = {line for source in solution_sources() for line in regions(source, *HIDDEN)[0] if line}
    assert len(secret) >= 10 and hidden
    assert line_leaks(clone, secret | hidden) == []


# An expression computes a graded quantity when it holds at least two arithmetic operations on values, or one
# together with a call or an indexing (index bookkeeping such as l - 1, len(p) // 2 + 1 or "d" + key is not counted).
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.MatMult, ast.Pow, ast.FloorDiv)
# Idioms the course's tools use everywhere, each no answer by itself (normalised as fingerprints() prints them).
GENERIC = {
    "np.sum(_) / _.shape[0]": "the mean over the batch of per-example values (every cost)",
    "float(np.sum(_) / _.shape[0])": "the same, as a Python float",
    "np.linalg.norm(_) + np.linalg.norm(_)": "gradcheck.relative_error's scale, a tool any answer may call",
    "np.linalg.norm(_ - _)": "gradcheck.relative_error's difference, the same tool",
    "_ / (2 * _)": "lambda / (2m), the L2 penalty's coefficient: lecture 06 states the regularized cost",
    "_[_:_ + _]": "consecutive rows (a minibatch, a split of the data)",
    "np.sum(_ * _, axis=1, keepdims=True)": "a row-wise inner product, which lecture 07 shows",
    "(_ - _) ** 2": "a squared difference (mse, a loss the course gives)",
    "_ * (_ - _)": "a product with a difference (e.g. a tangent line in plots)",
    "(_ * _).sum": "a product's sum method, before its call (the call, with its axes, is judged on its own)",
}
# Functions a lecture gives as the setting of its exercises, by module and name, each with the reason: their
# expressions answer no exercise of that lecture, even where one coincides with part of an earlier lecture's answer.
GIVEN = {
    "backproplab/bnmlp.py": {
        "forward_pass": "lecture 09's network op by op, which the notebook prints as the forward pass to differentiate "
                        "(its bias-free products A @ W.T are part of lecture 01's dense_forward, whose bias term and "
                        "diagnoses stay fingerprinted everywhere)",
        "inference": "the same network in evaluation mode; its batch norm is batchnorm_inference, PyTorch's in the export",
        "init_params": "the network's starting parameters (LeCun's scale, which no exercise asks for)",
    },
}


def _without_given(relative, tree):
    """``tree`` without the GIVEN functions of the module at ``relative``."""
    given = GIVEN.get(str(relative), {})
    tree.body = [node for node in tree.body if not (isinstance(node, ast.FunctionDef) and node.name in given)]
    return tree


MODULES = frozenset({"np", "torch", "math", "F", "nn"})


class _Anonymous(ast.NodeTransformer):
    """Variables become one placeholder, so renaming one does not hide a copied expression (called functions and
    modules keep their names)."""

    def visit_Call(self, node):
        node.args = [self.visit(a) for a in node.args]
        node.keywords = [self.visit(k) for k in node.keywords]
        if not isinstance(node.func, ast.Name):
            node.func = self.visit(node.func)
        return node

    def visit_Name(self, node):
        return node if node.id in MODULES else ast.copy_location(ast.Name("_", node.ctx), node)


def _is_index_arithmetic(node: ast.BinOp) -> bool:
    constants = [side for side in (node.left, node.right) if isinstance(side, ast.Constant)]
    if any(isinstance(c.value, str) for c in constants):
        return True
    return isinstance(node.op, (ast.Add, ast.Sub, ast.FloorDiv)) and any(isinstance(c.value, int) for c in constants)


def _arithmetic(node) -> int:
    return sum(isinstance(n, ast.BinOp) and isinstance(n.op, _ARITHMETIC) and not _is_index_arithmetic(n)
               or isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub) and not isinstance(n.operand, ast.Constant)
               for n in ast.walk(node))


def fingerprints(tree) -> dict[str, str]:
    """{normalised dump: source} of every expression of ``tree`` that computes something (see _ARITHMETIC), without
    the GENERIC idioms."""
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr):
            continue
        arithmetic = _arithmetic(node)
        lookups = sum(isinstance(n, (ast.Call, ast.Subscript, ast.Attribute)) for n in ast.walk(node))
        if arithmetic >= 2 or arithmetic == 1 and lookups >= 1:
            anonymous = _Anonymous().visit(copy.deepcopy(node))
            if ast.unparse(anonymous) not in GENERIC:
                found[ast.dump(anonymous, annotate_fields=False)] = ast.unparse(node)
    return found


def _defs(tree) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


@cache
def reference_code() -> dict[str, str]:
    """Fingerprints of the answers: the model answers of every exercise, and every instructor function the export
    replaced or dropped (the NumPy references, their helpers, the checks' references and predicted mistakes)."""
    secret = {}
    taught = {snippet for spec in SPECS.values() for snippet in spec.taught}
    for lecture in LECTURES:
        _, answers = notebook_sources(REPO / "solutions" / lecture / "catalog.py")
        for source in answers.values():
            secret.update(fingerprints(ast.parse(source)))
    for snippet in taught:
        try:
            for key in fingerprints(ast.parse(snippet.strip())):
                secret.pop(key, None)
        except SyntaxError:
            pass
    return secret


def replaced_functions(clone) -> dict[str, ast.FunctionDef]:
    """The instructor's functions the export no longer defines, by "module:name"."""
    gone = {}
    for path in sorted((REPO / "backproplab").rglob("*.py")):
        relative = path.relative_to(REPO)
        exported = clone / relative
        if not exported.exists():
            continue
        kept = _defs(ast.parse(exported.read_text()))
        for name, node in _defs(ast.parse(path.read_text())).items():
            if name not in kept:
                gone[f"{relative}:{name}"] = node
    return gone


def _stub(node: ast.FunctionDef) -> bool:
    """A def whose whole body raises NotImplementedError (a graded function autograd_backed lacks)."""
    return (len(node.body) == 1 and isinstance(node.body[0], ast.Raise)
            and "NotImplementedError" in ast.unparse(node.body[0]))


@pytest.mark.slow
def test_the_export_replaces_every_graded_library_function(clone):
    """Is every library function an exercise names (and the helpers computing a graded quantity) gone from the
    clone's modules as a def, imported there from autograd_backed instead, or left as a stub that raises?"""
    gone = replaced_functions(clone)
    for module, names in graded_functions().items():
        defs = _defs(ast.parse((clone / "backproplab" / module).read_text()))
        for name in names:
            assert f"backproplab/{module}:{name}" in gone or _stub(defs[name]), (module, name)
    for dotted in ("layers:dense_backward", "model:model_backward", "optimizers:adam_update", "init:init_std"):
        module, name = dotted.split(":")
        out = in_clone(clone, f"import inspect, backproplab.{module} as m; print(inspect.getmodule(m.{name}).__name__)")
        assert out.strip() == "backproplab.autograd_backed"


def test_no_function_of_the_export_holds_a_reference_or_model_answer(clone):
    """Does no expression of a model answer or of a replaced NumPy reference (names anonymised) appear in any
    function or module-level code of the clone, and is no code compiled into bytecode shipped?"""
    secret = dict(reference_code())
    for node in replaced_functions(clone).values():
        secret.update(fingerprints(node))
    assert len(secret) > 100
    found = []
    for relative in files(clone):
        if relative.suffix == ".py":
            for key, source in fingerprints(_without_given(relative, ast.parse((clone / relative).read_text()))).items():
                if key in secret:
                    found.append((str(relative), source, secret[key]))
    assert found == []


def test_the_fingerprint_check_finds_a_reference_copied_under_other_names():
    """Would a NumPy reference pasted with renamed variables be caught (can the check fail)?"""
    planted = ast.parse("def grads(delta, prev):\n    return delta.T @ prev / delta.shape[0]\n")
    original = ast.parse("def f(dz, A_prev):\n    return dz.T @ A_prev / dz.shape[0]\n")
    assert set(fingerprints(planted)) & set(fingerprints(original))


def _imports(nb) -> list[str]:
    """Import statements and the library attributes (bl.X, library_opt.X, ...) a notebook's code cells use."""
    statements, attributes = [], set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and "backproplab" in ast.unparse(node):
                statements.append(ast.unparse(node))
                aliases.update({(a.asname or a.name): a.name for a in node.names})
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                attributes.add(f"{node.value.id}.{node.attr}")
    return statements + [f"_ = {attribute}" for attribute in sorted(attributes)]


SHOW_EVERYTHING = textwrap.dedent('''
    import inspect, json, pydoc, sys, types
    shown = {}
    namespace = {}
    for line in json.load(sys.stdin):
        before = set(namespace)
        exec(line, namespace)
        for name in set(namespace) - before - {"__builtins__"}:
            value = namespace[name]
            label = line if name == "_" else name
            objects = [value] + ([v for v in vars(value).values() if callable(v) or inspect.ismodule(v)]
                                 if inspect.ismodule(value) else [])
            for obj in objects:
                home = obj.__name__ if inspect.ismodule(obj) else getattr(obj, "__module__", "") or ""
                if not home.startswith("backproplab"):
                    continue  # NumPy's, PyTorch's or the standard library's own documentation
                try:
                    source = inspect.getsource(obj)
                except (TypeError, OSError):
                    source = ""
                try:
                    doc = pydoc.render_doc(obj, renderer=pydoc.plaintext)
                except Exception:
                    doc = ""
                shown[label + " / " + getattr(obj, "__qualname__", getattr(obj, "__name__", ""))] = [doc, source]
    print(json.dumps(shown))
''')
# Formulas the lectures teach on purpose (DESIGN.md: "In PyTorch terms ... the course says so in words").
TAUGHT_FORMULAS = ("m * Z.grad", "(1/m)", "A[L] - Y")  # lecture 03 states A[L] - Y for the matched output pairs
LATEX = re.compile(r"\\(?:frac|sum|sqrt|partial|odot|top|hat)\b")


@cache
def graded_formulas() -> list[str]:
    """The formulas of every exercise's formula texts (its hint ladder's formula rungs): each right-hand side cut at
    its commas, semicolons and parenthesised remarks, keeping the pieces that hold an operator outside subscripts."""
    found = set()
    for exercise in EXERCISES.values():
        for text in (hint.formula for hint in exercise.hints.values()):
            for part in re.split(r";\s+", text):
                rhs = part.split("=", 1)[-1]
                for piece in re.split(r",\s+|\s+\((?=[a-z])|\s+->\s+", rhs):
                    piece = piece.strip().rstrip(".")
                    bare = re.sub(r"_\{[^}]*\}|\[[^]]*\]", "", piece)
                    if (len(piece) >= 5 and re.search(r"[@*/^]| [-+] ", bare) and piece not in TAUGHT_FORMULAS
                            and not re.search(r"no 1/m|probability", piece)):
                        found.add(piece)
    return sorted(found)


@pytest.mark.slow
def test_help_and_source_of_every_name_a_notebook_imports_show_no_formula(clone):
    """For every import and library attribute of every course notebook, do `help()` and `??` (pydoc and the source)
    show no graded formula (the exercises' formula texts, or LaTeX), in the clone?"""
    lines = []
    for lecture in LECTURES:
        nb = nbformat.read(str(next((clone / "course" / lecture).glob("*.ipynb"))), as_version=4)
        lines += [line for line in _imports(nb) if line not in lines]
    shown = json.loads(in_clone(clone, SHOW_EVERYTHING, stdin=json.dumps(lines)))
    assert len(shown) > 50 and any("dense_backward" in label for label in shown)
    formulas = graded_formulas()
    assert len(formulas) >= 10
    found = []
    for label, (doc, source) in shown.items():
        for text in (doc, source):
            flat = " ".join(text.split())
            found += [(label, formula) for formula in formulas if formula in flat]
            found += [(label, match) for match in LATEX.findall(text)]
    assert found == []


def test_no_docstring_of_the_export_states_a_graded_formula(clone):
    """Does no docstring of any module, class or function of the clone hold one of the exercises' formulas or LaTeX
    (comments are gone: the export's modules are unparsed from their ASTs)?"""
    found = []
    for relative in files(clone):
        if relative.suffix != ".py":
            continue
        source = (clone / relative).read_text()
        assert not re.search(r"^\s*#", source, re.M), relative
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node):
                flat = " ".join(ast.get_docstring(node).split())
                found += [(str(relative), formula) for formula in graded_formulas() if formula in flat]
                found += [(str(relative), match) for match in LATEX.findall(flat)]
    assert found == []


def test_the_answer_key_holds_data_only(clone):
    """Is the answer key codec data (cases, expected values, predicted mistakes) of every exercise's visible cases,
    no code?"""
    key = codec.loads(zlib.decompress((clone / "backproplab/checks/answer_key.bin").read_bytes()).decode())
    predictors = key.pop(PREDICTORS_KEY)
    assert sorted(key) == sorted(EXERCISES) and predictors
    for name, entries in key.items():
        assert entries and all(set(e) == {"args", "kwargs", "label", "m", "info", "expected", "mistakes"}
                               for e in entries), name
    text = zlib.decompress((clone / "backproplab/checks/answer_key.bin").read_bytes()).decode()
    assert "def " not in text and "lambda" not in text


# -- the command and its refusals ------------------------------------------------------------------

def test_bplab_export_student_repo_writes_then_refuses_a_non_empty_folder(tmp_path, capsys):
    """Does `bplab export-student-repo DIR` write the export (exit 0) and refuse to write into a non-empty DIR (exit 2)?"""
    destination = tmp_path / "out"
    assert main(["export-student-repo", str(destination), "--root", str(REPO)]) == 0
    assert (destination / "course").is_dir() and not (destination / "solutions").exists()
    assert main(["export-student-repo", str(destination), "--root", str(REPO)]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def test_export_student_repo_refuses_a_course_with_outputs(tmp_path):
    """Does the export refuse a repository whose course/ notebook carries outputs (not a clean release)?"""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "course", root / "course")
    notebook = next((root / "course").glob("*/*.ipynb"))
    nb = nbformat.read(str(notebook), as_version=4)
    code_cell = next(c for c in nb.cells if c.cell_type == "code")
    code_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nb, str(notebook))
    shutil.copytree(REPO / "docs" / "student-repo", root / "docs" / "student-repo")
    with pytest.raises(PublishError, match="has outputs"):
        export_student_repo(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_student_repo_refuses_a_course_holding_an_answer_catalog(tmp_path):
    """Does the export refuse a course/ that holds a lecture's catalog.py (copied there by hand)?"""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "course", root / "course")
    shutil.copytree(REPO / "docs" / "student-repo", root / "docs" / "student-repo")
    lecture = next(p for p in (root / "course").iterdir() if p.is_dir())
    shutil.copy2(REPO / "solutions" / lecture.name / "catalog.py", lecture / "catalog.py")
    with pytest.raises(PublishError, match="instructor-only"):
        export_student_repo(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_exports_own_make_setup_installs_a_working_course(clone, tmp_path):
    """Does `make setup` in a clone (torch from PyTorch's CPU index, else the default index; the package) give a venv
    whose `bplab check` runs a notebook?"""
    work = tmp_path / "own"
    shutil.copytree(clone, work, ignore=shutil.ignore_patterns(".git"))
    # offline machines wait PIP_DEFAULT_TIMEOUT for PyTorch's index before the fallback: keep that short here
    env = {**os.environ, "PIP_DEFAULT_TIMEOUT": "10"}
    setup = subprocess.run(["make", "setup"], cwd=work, env=env, capture_output=True, text=True, timeout=1100)
    assert setup.returncode == 0, setup.stderr[-3000:]
    checked = subprocess.run([str(work / ".venv/bin/bplab"), "check", "--json", "course/01-architecture/architecture.ipynb"],
                             cwd=work, env={**os.environ, **KERNEL_ENV}, capture_output=True, text=True, timeout=900)
    assert checked.returncode == 1 and json.loads(checked.stdout)[0]["diagnosis"] == "not-implemented", checked.stderr
