"""Writing the student edition of the package (for `bplab export-student-repo`): no implementation of a graded
exercise, no text of a check readable as source.

``write_student_package(root, destination)`` copies backproplab/ with these rewrites (ASTs, then unparsed):
- the library: every function that computes a graded quantity (each exercise's ``library_functions``, plus
  ``EXTRA_GRADED``) becomes an import of ``backproplab.autograd_backed``'s PyTorch-backed function of the same
  contract, at the place of its ``def``; private helpers nothing calls any more are dropped;
- the checks' lecture modules: ``cases``, ``reference`` and ``mistakes`` read ``checks/answer_key.py``'s data,
  ``oracles`` return none, methods and helpers nothing calls any more are dropped, docstrings are dropped and
  every other string is stored compressed (``answer_key.text``);
- ``checks/exercises.py`` and ``checks/core.py``: ``Exercise.draw_cases`` reads the key (visible cases only);
- docstrings of private functions anywhere are dropped (they describe how a reference works);
- only what `bplab check` needs of grading/ and of the command line is kept (``STUDENT_CLI``).
``build_answer_key()`` computes the key with the instructor's checks.
"""
from __future__ import annotations

import ast
import base64
import functools
import re
import zlib
from pathlib import Path

from ..checks import EXERCISES, Case, Exercise, codec, visible_seed
from ..checks.answer_key import CASE_REFERENCE, PREDICTORS_KEY

# Functions that compute a graded quantity without being an exercise's own implementation: the slopes and
# loss gradients behind model_backward, batch norm's evaluation-mode formula, the graph engine's rules.
EXTRA_GRADED = (
    "backproplab.activations.tanh_derivative", "backproplab.activations.relu_derivative",
    "backproplab.activations.leaky_relu_derivative", "backproplab.activations.sigmoid_derivative",
    "backproplab.losses.binary_cross_entropy_gradient", "backproplab.losses.categorical_cross_entropy_gradient",
    "backproplab.layers.l2_penalty", "backproplab.layers.l2_backward",
    "backproplab.batchnorm.update_running_stats", "backproplab.batchnorm.batchnorm_inference",
    "backproplab.optimizers.momentum_update_ema", "backproplab.model.update_parameters_momentum",
    "backproplab.model.compute_cost", "backproplab.torch_reference.torch_dropout_backward",
    "backproplab.torch_reference.torch_dense_backward",
)
# The checks' oracle, which no notebook imports: in the student edition only autograd_backed uses its helpers, and
# its docstrings (which describe the oracles' derivations) go.
ORACLE_MODULE = "torch_reference.py"
# What a graded function autograd_backed does not provide says in the student edition.
MISSING = "{name} computes an exercise's answer: the student edition of the library does not include it"
# Names autograd_backed gives its functions where the library's differ (the graph engine's private rules).
RENAMED = {"torch_dropout_backward": "dropout_backward", "torch_dense_backward": "dense_backward",
           "_mul_backward": "mul_backward",
           "_matmul_backward": "matmul_backward", "_exp_backward": "exp_backward",
           "_sigmoid_backward_rule": "sigmoid_backward_rule"}
# Of grading/, what `bplab check` (selfcheck.py) needs; the command line is the student one.
GRADING_KEPT = ("__init__.py", "notebooks.py")
STUDENT_CLI = '''"""`bplab check NOTEBOOK`: run a lecture notebook top to bottom in a fresh kernel and list its checks."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bplab", description="Backprop Lab, student edition")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="run a notebook and list its checks (exit 0 when all pass)")
    p.add_argument("notebook")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    from .selfcheck import format_self_check, run_self_check

    if not Path(args.notebook).is_file():
        print(f"bplab check: no notebook {args.notebook}", file=sys.stderr)
        return 2
    verdicts = run_self_check(args.notebook, timeout=args.timeout)
    print(json.dumps(verdicts, indent=1) if args.json else format_self_check(verdicts))
    return 0 if verdicts and all(v["passed"] for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
'''
# The checks' modules that judge and display, the same in both editions; every other checks module (the lectures'
# exercises, their hint ladders) is rewritten.
CHECKS_MACHINERY = frozenset({"__init__", "core", "records", "exercises", "calls", "codec", "compare", "display",
                              "diagnoses", "fixtures", "answer_key"})
# The judge's reading of an answer cell that stopped with an error, without the grader's judge it lives in.
CELL_ERRORS_MODULE = "cell_errors.py"
KEY_FILE = "checks/answer_key.bin"
PREDICTION = "_Prediction"  # lecture01's predicted mistake: a diagnosis, the wrong computation and a message
KEY_HOOKS = {"cases": "return answer_key.visible_cases(self, hidden)", "reference": "return answer_key.reference(self, case)",
             "expected": "return answer_key.reference(self, case)", "mistakes": "return answer_key.mistakes(self, case)",
             "oracles": "return {}"}


def graded_functions() -> dict[str, set[str]]:
    """{module file relative to the package: names of its functions to replace}."""
    names = {name for exercise in EXERCISES.values() for name in exercise.library_functions} | set(EXTRA_GRADED)
    table: dict[str, set[str]] = {}
    for dotted in sorted(names):
        parts = dotted.split(".")
        if len(parts) == 2:
            continue  # a re-export in the package's __init__ (backproplab.initialize_parameters)
        table.setdefault("/".join(parts[1:-1]) + ".py", set()).add(parts[-1])
    return table


@functools.lru_cache(maxsize=32)  # the export asks twice per checks module: for the answer key and for the rewrite
def predictor_names(source: str) -> tuple[str, ...]:
    """Functions and methods of a checks module that list predicted mistakes as ``_Prediction``s (the judge calls
    them with a case's arguments): "name" or "Class.name"."""
    names = []
    tree = ast.parse(source)
    holders = [(None, tree)] + [(n.name, n) for n in tree.body if isinstance(n, ast.ClassDef)]
    for owner, holder in holders:
        for node in holder.body:
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == PREDICTION
                    for n in ast.walk(node)):
                names.append(f"{owner}.{node.name}" if owner else node.name)
    return tuple(names)


def _predictions(root) -> dict:
    """{predictor name: {encoded arguments: [[diagnosis, status, value, message], ...]}} for every visible case of
    every exercise whose arguments the predictor takes."""
    import importlib

    table: dict = {}
    for path in sorted((Path(root) / "backproplab" / "checks").glob("lecture*.py")):
        module = importlib.import_module(f"backproplab.checks.{path.stem}")
        for name in predictor_names(path.read_text(encoding="utf-8")):
            owner, _, attribute = name.rpartition(".")
            for exercise in EXERCISES.values():
                if exercise.lecture != getattr(module, "LECTURE", None):
                    continue
                if owner and type(exercise).__name__ != owner:
                    continue
                function = getattr(exercise if owner else module, attribute)
                for case in exercise.draw_cases(visible_seed(exercise.name), hidden=False):
                    try:
                        predictions = function(*case.args)
                    except TypeError:
                        break  # another exercise's predictor
                    table.setdefault(name, {})[codec.dumps(list(case.args))] = [
                        [p.diagnosis, *p.outcome(), p.message] for p in predictions]
    return table


def build_answer_key(root) -> bytes:
    """The visible cases of every exercise, with the expected values (the reference, checked by every oracle) and
    the predicted mistakes (``mistakes`` and the judges' predictors), encoded with the checks' codec and compressed."""
    key = {PREDICTORS_KEY: _predictions(root)}
    for name, exercise in EXERCISES.items():
        entries = []
        cases = exercise.draw_cases(visible_seed(name), hidden=False)
        for case in cases:
            # a case pointing at another (initialize_parameters' "the same seed again") points by index
            info = {key: {CASE_REFERENCE: next(i for i, other in enumerate(cases) if other is value)}
                    if isinstance(value, Case) else value for key, value in case.info.items()}
            entries.append({"args": case.args, "kwargs": case.kwargs, "label": case.label, "m": case.m,
                            "info": info, "expected": exercise.expected(case),
                            "mistakes": [list(item) for item in exercise.mistakes(case)]})
        key[name] = entries
    return zlib.compress(codec.dumps(key).encode("utf-8"), 9)


# -- AST rewriting -------------------------------------------------------------------------------------

def _is_docstring(node) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _drop_docstring(node):
    body = getattr(node, "body", None)
    if body and _is_docstring(body[0]):
        node.body = body[1:] or [ast.Pass()]


def _referenced(tree) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)  # a name looked up with getattr
    return names


def _drop_unreferenced(tree, keep: frozenset, *, methods: bool):
    """Drop module-level functions (and, with ``methods``, methods) no code names any more, to a fixpoint; never
    ``keep`` or a dunder."""
    names_in = {}  # id(node) -> (node, the names it references): a node that stays is not changed, so each is
    # walked once; holding the node keeps its id from being reused

    def referenced(node):
        if id(node) not in names_in:
            names_in[id(node)] = (node, _referenced(node))
        return names_in[id(node)][1]

    while True:
        classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
        used = set()
        for holder in [tree] + classes:
            for node in holder.body:
                if isinstance(node, ast.FunctionDef):
                    used |= referenced(node) - {node.name}
                elif not isinstance(node, ast.ClassDef):
                    used |= referenced(node)
        for node in classes:
            used |= _referenced(ast.Module(body=node.decorator_list + node.bases, type_ignores=[]))
        dropped = False
        for holder in [tree] + (classes if methods else []):
            kept = []
            for node in holder.body:
                if (isinstance(node, ast.FunctionDef) and node.name not in used and node.name not in keep
                        and not node.name.startswith("__")):
                    dropped = True
                    continue
                kept.append(node)
            holder.body = kept or [ast.Pass()]
        if not dropped:
            return


def _encode(text: str) -> str:
    return base64.b85encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


class _SealStrings(ast.NodeTransformer):
    """Every string constant (not annotations or format specs) becomes ``_text("<compressed>")``."""

    def _call(self, text):
        return ast.Call(ast.Name("_text", ast.Load()), [ast.Constant(_encode(text))], [])

    def visit_Constant(self, node):
        if isinstance(node.value, str) and node.value:
            return self._call(node.value)
        return node

    def visit_JoinedStr(self, node):
        values = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                values.append(ast.FormattedValue(self._call(part.value), -1, None))
            else:
                part.value = self.visit(part.value)
                values.append(part)
        node.values = values
        return node

    def visit_arg(self, node):
        return node  # annotations stay as they are

    def visit_AnnAssign(self, node):
        node.value = self.visit(node.value) if node.value is not None else None
        return node

    def visit_FunctionDef(self, node):
        node.returns = None
        self.generic_visit(node)
        return node


def _summary_only(tree):
    """Keep only the first line of the module docstring: the rest explains the NumPy implementation, or names
    instructor files."""
    if tree.body and _is_docstring(tree.body[0]):
        tree.body[0].value.value = tree.body[0].value.value.strip().splitlines()[0]


# The design document stays with the instructor: the student edition's texts name the conventions instead.
REWORDED = ((re.compile(r"\s*\((?:docs/)?DESIGN\.md(?:, [^)]*)?\)"), ""),
            (re.compile(r"\bthe (?:docs/)?DESIGN\.md\b(?!.s)"), "the course's"),
            (re.compile(r"(?:docs/)?DESIGN\.md's"), "the course's"),
            (re.compile(r"(?:docs/)?DESIGN\.md"), "the course's conventions"))


class _Reword(ast.NodeTransformer):
    def visit_Constant(self, node):
        if isinstance(node.value, str):
            for pattern, replacement in REWORDED:
                node.value = pattern.sub(replacement, node.value)
        return node


def _strip_private_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name.startswith("_"):
            _drop_docstring(node)


def _parse(source: str):
    return _Reword().visit(ast.parse(source))


def rewrite_library_module(source: str, replaced: set[str], module: str = "") -> str:
    """A library module with the functions ``replaced`` imported from autograd_backed in place of their defs."""
    tree = _parse(source)
    body = []
    from .. import autograd_backed

    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in replaced:
            name = RENAMED.get(node.name, node.name)
            if name in autograd_backed.__all__:
                body.append(ast.ImportFrom("autograd_backed", [ast.alias(name, node.name if name != node.name else None)], 1))
            else:  # no PyTorch-backed version yet: the student edition leaves the answer out
                node.body = ast.parse(f"raise NotImplementedError({MISSING.format(name=node.name)!r})").body
                node.decorator_list = []
                body.append(node)
        else:
            body.append(node)
    tree.body = body
    _summary_only(tree)
    _drop_unreferenced_private(tree, frozenset(replaced))
    if module == ORACLE_MODULE:
        for node in ast.walk(tree):
            _drop_docstring(node) if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else None
    _strip_private_docstrings(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _drop_unreferenced_private(tree, graded: frozenset = frozenset()):
    """Drop the private functions nothing calls, but never a ``graded`` one left as a stub: the checks' guard
    against calling the library wraps every graded function, private ones (model._step) included."""
    public = frozenset(n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_"))
    _drop_unreferenced(tree, public | graded, methods=False)


def rewrite_checks_module(source: str, *, lecture: bool) -> str:
    """A checks module reading the answer key, without docstrings and with its strings sealed; in a ``lecture``
    module (checks/lectureNN.py, imported by no other) the functions nothing calls any more are dropped too."""
    tree = _parse(source)
    for node in ast.walk(tree):
        _drop_docstring(node) if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) else None
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name in KEY_HOOKS:
                node.body = ast.parse(KEY_HOOKS[node.name]).body
                node.decorator_list = [d for d in node.decorator_list if not (isinstance(d, ast.Name)
                                                                                and d.id == "staticmethod")]
                if not node.args.args or node.args.args[0].arg != "self":
                    node.args.args.insert(0, ast.arg("self"))
    predictors = set(predictor_names(source))
    for owner, holder in [(None, tree)] + [(n.name, n) for n in tree.body if isinstance(n, ast.ClassDef)]:
        for node in holder.body:
            name = f"{owner}.{node.name}" if owner and isinstance(node, ast.FunctionDef) else getattr(node, "name", "")
            if isinstance(node, ast.FunctionDef) and name in predictors:
                arguments = [a.arg for a in node.args.args if a.arg != "self"]
                node.body = ast.parse(f"return answer_key.predictions({name!r}, {', '.join(arguments)})").body
    if lecture:
        _drop_unreferenced(tree, frozenset(name for name in vars(Exercise) if not name.startswith("__")), methods=True)
    tree = _SealStrings().visit(tree)
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    rest = [n for n in tree.body if n not in future]
    used = _referenced(ast.Module(body=rest, type_ignores=[]))
    imports = [node for node, name in zip(ast.parse("from . import answer_key\nfrom .answer_key import text as _text").body,
                                          ("answer_key", "_text")) if name in used]
    tree.body = future + imports + rest
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def rewrite_core(source: str) -> str:
    """checks/exercises.py or checks/core.py: ``Exercise.draw_cases`` reading the answer key, docstrings cut to their
    summary (``check()``'s to its first paragraph, which names no grader module)."""
    tree = _parse(source)
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "Exercise":
            for node in cls.body:
                if isinstance(node, ast.FunctionDef) and node.name == "draw_cases":
                    node.body = ast.parse("from . import answer_key\nreturn answer_key.draw_cases(self, seed, hidden)").body
    _summary_only(tree)
    _strip_private_docstrings(tree)
    for node in ast.walk(tree):  # check()'s docstring names the grader's modules
        if isinstance(node, ast.FunctionDef) and node.name == "check" and _is_docstring(node.body[0]):
            node.body[0].value.value = node.body[0].value.value.split("\n\n")[0]
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def cell_errors_module(judge_source: str) -> str:
    """grading/cell_errors.py: the judge's ``answer_cell_error`` and the helpers it calls, without the grader."""
    tree = ast.parse(judge_source)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    wanted, names = [], ["answer_cell_error"]
    while names:
        node = functions[names.pop()]
        if node not in wanted:
            wanted.insert(0, node)
            names += [name for name in _referenced(node) if name in functions and name != node.name]
    header = '"""What `bplab check` says of an answer cell that stopped with an error."""\nfrom __future__ import annotations\n\n'
    return header + "\n\n".join(ast.unparse(n) for n in wanted) + "\n"


@functools.lru_cache(maxsize=128)  # a pure function of its text: a second export in one process (the tests) is a copy
def student_module(relative: str, text: str, replaced: frozenset | None) -> str:
    """The student edition of the module at ``relative`` (under backproplab/, "/"-separated) whose source is ``text``;
    ``replaced``: the graded functions it defines, for a library module that has any."""
    parts = relative.split("/")
    stem = parts[-1].removesuffix(".py")
    if relative == "cli.py":
        return ast.unparse(ast.parse(STUDENT_CLI)) + "\n"
    if parts[0] == "checks" and stem not in CHECKS_MACHINERY:
        return rewrite_checks_module(text, lecture=stem.startswith("lecture"))
    if relative in ("checks/exercises.py", "checks/core.py"):
        return rewrite_core(text)
    if replaced is not None:
        return rewrite_library_module(text, replaced, relative)
    if relative == "selfcheck.py":
        text = text.replace("from .grading.judge import answer_cell_error",
                            "from .grading.cell_errors import answer_cell_error")
    tree = _parse(text)
    if parts[0] == "grading":
        _summary_only(tree)
    _strip_private_docstrings(tree)
    return ast.unparse(tree) + "\n"


def write_student_package(root, destination) -> list[Path]:
    """Write the student edition of ``root``/backproplab into ``destination``/backproplab; return the files written,
    relative to ``destination``."""
    source, target = Path(root) / "backproplab", Path(destination) / "backproplab"
    graded = graded_functions()
    written = []
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        parts = relative.parts
        if "__pycache__" in parts or relative == Path("publish.py"):
            continue
        if parts[0] == "grading" and (len(parts) > 2 or parts[-1] not in GRADING_KEPT):
            continue
        replaced = graded.get(str(relative))
        text = student_module(relative.as_posix(), path.read_text(encoding="utf-8"),
                              None if replaced is None else frozenset(replaced))
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text, encoding="utf-8")
        written.append(Path("backproplab") / relative)
    judge = (source / "grading" / "judge.py").read_text(encoding="utf-8")
    (target / "grading" / CELL_ERRORS_MODULE).write_text(cell_errors_module(judge), encoding="utf-8")
    (target / KEY_FILE).write_bytes(build_answer_key(root))
    written.append(Path("backproplab") / "grading" / CELL_ERRORS_MODULE)
    written.append(Path("backproplab") / KEY_FILE)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in relative.parts:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            (target / relative).write_bytes(path.read_bytes())
            written.append(Path("backproplab") / relative)
    return sorted(written)
