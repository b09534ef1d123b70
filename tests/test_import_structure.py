"""The package's import structure: no import circles, and every import points down the layers
library <- checks <- grading <- CLI (DESIGN.md, Layout). Imports inside functions count too.
The grader's trusted side and the sandbox's inside meet only through modules that run no student code
and import only the standard library (sandbox/protocol.py and the like).

Run as a script to print the graph: ``.venv/bin/python tests/test_import_structure.py``.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "backproplab"
LAYERS = ("library", "checks", "grading", "cli")
# What runs beside student code while grading: in the sandbox (the executor, the fork servers) or in a
# verification job. Nothing else imports them: the sandbox starts them by name (python -m).
INSIDE = frozenset({"backproplab.grading.sandbox.executor", "backproplab.grading.sandbox.forkserver",
                    "backproplab.grading.sandbox.verification", "backproplab.grading.sandbox.verification_job"})
# What both sides import: it runs no student code and holds only the standard library.
SHARED = frozenset({"backproplab.grading.sandbox.protocol", "backproplab.grading.sandbox.procfs",
                    "backproplab.grading.sandbox.limits", "backproplab.kernel_client"})


def module_files() -> dict[str, Path]:
    """{dotted module name: file} of every module of the package."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _target(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")[: len(module.split(".")) - (node.level - (1 if is_package else 0))]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """{module: the package's modules it imports}, at module level or inside functions."""
    modules = module_files()

    def known(name):
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in modules else None

    graph = {}
    for module, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = _target(module, node, path.name == "__init__.py")
                imported.update(known(f"{target}.{alias.name}") or known(target) for alias in node.names)
        graph[module] = {name for name in imported if name and name != module}
    return graph


def layer(module: str) -> str:
    if module in ("backproplab.cli", "backproplab.publish", "backproplab.selfcheck"):
        return "cli"
    for name in ("checks", "grading"):
        if module.startswith(f"backproplab.{name}"):
            return name
    return "library"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_circles():
    """Is there no circle of imports among the package's modules (function-level imports included)?"""
    assert cycles(import_graph()) == []


def test_imports_point_down_the_layers():
    """Does every module import only from its own layer or lower ones (library <- checks <- grading <- CLI)?"""
    upward = [(module, target) for module, targets in import_graph().items() for target in targets
              if LAYERS.index(layer(target)) > LAYERS.index(layer(module))]
    assert upward == []


def crossings(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) for each import of an inside module by a module outside."""
    return sorted((module, target) for module, targets in graph.items() if module not in INSIDE
                  for target in targets if target in INSIDE)


def test_trusted_code_imports_nothing_that_runs_beside_student_code():
    """Do the judge, the host, the batch, the preprocessors (every module outside the sandbox's inside) import
    nothing of the executor, the fork server or the verification job, even inside a function?"""
    graph = import_graph()
    assert INSIDE <= graph.keys() and crossings(graph) == []


def test_the_crossing_finder_finds_a_crossing():
    """Would the layering test fail on a trusted module importing the executor (can it fail)?"""
    assert crossings({"backproplab.grading.judge": {"backproplab.grading.sandbox.executor"},
                      "backproplab.grading.sandbox.executor": {"backproplab.grading.sandbox.protocol"}}) == [
        ("backproplab.grading.judge", "backproplab.grading.sandbox.executor")]


def _imports(path: Path):
    """(level, module name) of each import statement of the file at ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((0, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""


def test_the_modules_both_sides_share_import_only_the_standard_library():
    """Do the protocol, /proc and limits modules and the kernel client import nothing but the standard library
    (so that neither side reaches the other's code through them)?"""
    files = module_files()
    found = {module: [name for level, name in _imports(files[module])
                      if level or name.split(".")[0] not in sys.stdlib_module_names] for module in SHARED}
    assert found == {module: [] for module in SHARED}


def test_the_inside_uses_only_public_names_of_the_checks():
    """Does the code beside student code import from the checks package only its public names, never a module
    of it (checks.core and the like are split and renamed freely)?"""
    files, private = module_files(), []
    for module in INSIDE:
        path = files[module]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = _target(module, node, path.name == "__init__.py")
                if target.startswith("backproplab.checks") and (target != "backproplab.checks" or any(
                        alias.name.startswith("_") for alias in node.names)):
                    private.append((module, target, [alias.name for alias in node.names]))
            elif isinstance(node, ast.Import):
                private += [(module, alias.name, []) for alias in node.names if alias.name.startswith("backproplab.checks")]
    assert private == []


def test_the_cycle_finder_finds_a_circle():
    """Would the circle test fail on a circle (can it fail)?"""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


if __name__ == "__main__":
    for module, targets in sorted(import_graph().items()):
        print(f"{layer(module):<8} {module:<40} -> {', '.join(sorted(targets)) or '-'}")
