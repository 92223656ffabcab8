"""No module of sam2_backend or sam2_widget takes part in an import cycle.

Two checks. The static one parses every module with `ast` and counts every import in it,
the ones inside functions included (a cycle held together by imports deferred into
functions is still a cycle: the two modules cannot be understood, or split, apart).
Imports under `if TYPE_CHECKING:` never run and do not count. The implicit import of a
module's parent package does not count either (a package's `__init__` importing its
submodules is the normal shape); `from package import name` does. The second check
imports each module first, alone, as a user would, which catches what only breaks at
run time (a module that works only when another one was imported before it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sam2_backend", "sam2_widget")


@dataclass(frozen=True)
class Edge:
    """`source` imports `target`, at `line` of `path`."""

    source: str
    target: str
    path: Path
    line: int


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under each package folder in `root`."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking_guard(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, at any depth, except under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif _is_type_checking_guard(node):
            stack.extend(node.orelse)  # the `else:` branch does run
        else:
            stack.extend(ast.iter_child_nodes(node))


def _deepest_module(name: str, modules: dict[str, Path]) -> str | None:
    """`name` if it is one of ours, else its nearest enclosing module of ours (or None)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """The imports between `modules`, with relative imports resolved against each module's package."""
    edges = []
    for source, path in modules.items():
        is_package = path.name == "__init__.py"
        package = source if is_package else source.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in sorted(_import_nodes(tree), key=lambda n: n.lineno):
            if isinstance(node, ast.Import):
                targets = [_deepest_module(alias.name, modules) for alias in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")
                    if node.level > 1:
                        base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(base_parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                # `from pkg import sub` imports the submodule pkg.sub; `from mod import name`, mod itself.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else _deepest_module(base, modules)
                    for alias in node.names
                ]
            for target in dict.fromkeys(targets):
                if target is not None and target != source:
                    edges.append(Edge(source, target, path, node.lineno))
    return edges


def strongly_connected_components(nodes: list[str], edges: list[Edge]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module, each sorted."""
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for e in edges:
        graph[e.source].append(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def describe_cycle(component: list[str], edges: list[Edge], root: Path) -> str:
    """One cycle through the component's first module, each step with the line that imports."""
    members = set(component)
    out: dict[str, list[Edge]] = {}
    for e in edges:
        if e.source in members and e.target in members:
            out.setdefault(e.source, []).append(e)
    start = component[0]
    # Breadth-first search for the shortest path from `start` back to itself.
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:
        next_frontier = []
        for node in frontier:
            for e in out.get(node, []):
                if e.target == start:
                    steps = [*paths[node], e]
                    lines = [f"  {s.source} -> {s.target}  ({s.path.relative_to(root)}:{s.line})" for s in steps]
                    return "\n".join([f"cycle among {', '.join(component)}:", *lines])
                if e.target not in paths:
                    paths[e.target] = [*paths[node], e]
                    next_frontier.append(e.target)
        frontier = next_frontier
    raise AssertionError(f"no cycle found through {start} in {component}")  # a component always has one


def import_cycles(root: Path, packages: tuple[str, ...]) -> list[str]:
    """Every import cycle among the packages' modules, spelled out; empty when there is none."""
    modules = find_modules(root, packages)
    edges = import_edges(modules)
    return [describe_cycle(c, edges, root) for c in strongly_connected_components(list(modules), edges)]


def test_no_import_cycles() -> None:
    assert find_modules(ROOT, PACKAGES), f"no modules found under {ROOT} for {PACKAGES}"
    cycles = import_cycles(ROOT, PACKAGES)
    if cycles:
        advice = "modules that import each other (move what both need into a module that imports neither):"
        pytest.fail("\n".join([advice, *cycles]), pytrace=False)


# Each module imported alone, first, as a user's `import` would: one interpreter, the packages' modules
# dropped from sys.modules before each (torch and the other dependencies stay loaded: this keeps it fast).
_IMPORT_EACH_ALONE = """
import importlib, sys, traceback
packages = set(sys.argv[1].split(","))
for name in sys.argv[2:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except BaseException:
        print(f"importing {name} first fails:\\n{traceback.format_exc()}")
"""


def modules_failing_alone(root: Path, packages: tuple[str, ...]) -> str:
    """The tracebacks of the modules that cannot be imported before the others; empty when all can."""
    modules = sorted(find_modules(root, packages))
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_ALONE, ",".join(packages), *modules],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, f"the import loop itself failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_each_module_imports_alone() -> None:
    failures = modules_failing_alone(ROOT, PACKAGES)
    if failures:
        pytest.fail(failures, pytrace=False)


# The checker itself, on tiny packages written for each case.


def _write_package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_checker_passes_an_acyclic_package(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .b import f\nfrom .sub import c\n",
            "pkg/a.py": "import os\n",
            "pkg/b.py": "from . import a\nfrom .sub.c import g\n\ndef f():\n    import pkg.a\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from ..a import os\n\ndef g():\n    from .. import a\n",
        },
    )
    assert import_cycles(tmp_path, ("pkg",)) == []


def test_checker_names_a_cycle_held_by_an_import_inside_a_function(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "def make():\n    from .b import B\n    return B()\n",
            "pkg/b.py": "from pkg.a import make\n",
            "pkg/c.py": "from . import a\n",
        },
    )
    (cycle,) = import_cycles(tmp_path, ("pkg",))
    assert cycle.splitlines() == [
        "cycle among pkg.a, pkg.b:",
        "  pkg.a -> pkg.b  (pkg/a.py:2)",
        "  pkg.b -> pkg.a  (pkg/b.py:1)",
    ]


def test_checker_follows_parent_relative_imports_and_package_inits(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "from .sub.c import g\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from .. import g\n",  # the package's own name: its __init__, a cycle
        },
    )
    (cycle,) = import_cycles(tmp_path, ("pkg",))
    assert cycle.splitlines()[0] == "cycle among pkg, pkg.sub.c:"


@pytest.mark.parametrize("guard", ["TYPE_CHECKING", "typing.TYPE_CHECKING"])
def test_checker_ignores_imports_only_for_type_checkers(tmp_path: Path, guard: str) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": f"import typing\nfrom typing import TYPE_CHECKING\nif {guard}:\n    from .b import B\n",
            "pkg/b.py": "from .a import typing\n",
        },
    )
    assert import_cycles(tmp_path, ("pkg",)) == []


def test_import_alone_catches_a_cycle_at_module_level(tmp_path: Path) -> None:
    _write_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from .b import B\nA = 1\n",
            "pkg/b.py": "from .a import A\nB = 2\n",
            "pkg/c.py": "X = 3\n",
        },
    )
    failures = modules_failing_alone(tmp_path, ("pkg",))
    assert "importing pkg.a first fails" in failures and "importing pkg.b first fails" in failures
    assert "pkg.c" not in failures and "ImportError" in failures
