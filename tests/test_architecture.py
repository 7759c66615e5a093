"""The package's import structure: no import cycle at any level, every folder placed.

The import graph is built here from the source with the standard library only (``ast``),
independently of import-linter (which CI runs as ``lint-imports`` with the contracts in
pyproject.toml).  Three graphs, each containing the one before:

* **module level** — the imports a module runs when it is imported;
* **run time** — plus the imports inside functions (run on first call);
* **type level** — plus the imports under ``if TYPE_CHECKING:``.

An edge goes to the module an import names, resolved like Python does: relative imports
against the importing module's package, ``from package import name`` to the submodule
``package.name`` when there is one and to the package (its ``__init__``) as well, and to
every package ``__init__`` that importing the module runs (the packages on its path that
do not already contain the importer).  A cycle in any graph fails with the cycle spelled
out, one import (file and line) per step.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "engage_rules"

LEVELS = ("module level", "run time", "type level")


@dataclass(frozen=True)
class Import:
    """One import statement of a module, with the modules it makes the importer depend on."""

    targets: tuple[str, ...]
    line: int
    #: 0: module level; 1: inside a function; 2: under ``if TYPE_CHECKING:``.
    level: int


@dataclass
class Graph:
    """The modules of one package and their imports."""

    #: The folder the package is in (file names are shown relative to it).
    base: Path
    files: dict[str, Path]
    imports: dict[str, list[Import]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Graph({len(self.files)} modules)"

    def edges(self, level: int) -> dict[str, dict[str, int]]:
        """importer -> imported module -> line, for the imports of ``level`` and below."""
        out: dict[str, dict[str, int]] = {m: {} for m in self.files}
        for module, found in self.imports.items():
            for imp in found:
                if imp.level <= level:
                    for target in imp.targets:
                        out[module].setdefault(target, imp.line)
        return out


def module_name(path: Path, package: Path) -> str:
    """The dotted name of ``path``, a file of the package at ``package``."""
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, level: int) -> Iterator[tuple[ast.Import | ast.ImportFrom, int]]:
    """Every import under ``node`` with its level (the highest that applies)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, level
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk_stmt(stmt, 2)
            for stmt in child.orelse:
                yield from _walk_stmt(stmt, level)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, max(level, 1))
        else:
            yield from _walk(child, level)


def _walk_stmt(stmt: ast.stmt, level: int) -> Iterator[tuple[ast.Import | ast.ImportFrom, int]]:
    if isinstance(stmt, ast.Import | ast.ImportFrom):
        yield stmt, level
    else:
        yield from _walk(stmt, level)


def build_graph(package: Path) -> Graph:
    """The import graph of the package at ``package`` (a folder with ``__init__.py``)."""
    files = {module_name(p, package): p for p in sorted(package.rglob("*.py"))}
    graph = Graph(package.parent, files)
    top = package.name

    def known(name: str) -> str | None:
        """The module ``name`` is, or is inside (``pkg.mod.attr`` -> ``pkg.mod``)."""
        while name:
            if name in files:
                return name
            name = name.rpartition(".")[0]
        return None

    for module, path in files.items():
        is_package = path.name == "__init__.py"
        own_packages = {module} if is_package else set()
        parts = module.split(".")
        own_packages |= {".".join(parts[:i]) for i in range(1, len(parts))}
        found: list[Import] = []
        for node, level in _walk(ast.parse(path.read_text(), str(path)), 0):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = parts if is_package else parts[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    origin = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    origin = node.module or ""
                named = [origin] + [f"{origin}.{alias.name}" for alias in node.names]
            targets: set[str] = set()
            for name in named:
                if name != top and not name.startswith(top + "."):
                    continue
                target = known(name)
                if target is None:
                    continue
                targets.add(target)
                # Importing a module runs the __init__ of every package on its path that
                # does not already contain the importer.
                tparts = target.split(".")
                targets |= {".".join(tparts[:i]) for i in range(1, len(tparts))} - own_packages
            targets.discard(module)
            if targets:
                found.append(Import(tuple(sorted(targets)), node.lineno, level))
        graph.imports[module] = found
    return graph


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
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
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def one_cycle(component: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A shortest cycle through the first module of ``component`` (breadth first)."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges[v]):
            if w == start:
                return [*paths[v], start]
            if w in members and w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe(component: list[str], edges: dict[str, dict[str, int]], graph: Graph) -> str:
    """The cycle spelled out: one import per line, with file and line."""
    path = one_cycle(component, edges)
    steps = [
        f"    {graph.files[a].relative_to(graph.base)}:{edges[a][b]}: {a} -> {b}"
        for a, b in pairwise(path)
    ]
    return f"  cycle of {len(component)} modules: {', '.join(component)}\n" + "\n".join(steps)


def cycle_report(graph: Graph, level: int) -> str:
    """Every cycle of the graph at ``level``, described; empty when there is none."""
    edges = graph.edges(level)
    found = cycles(edges)
    if not found:
        return ""
    return f"{LEVELS[level]}: {len(found)} import cycle(s)\n" + "\n".join(
        describe(c, edges, graph) for c in found
    )


# -- the package --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(PACKAGE)


def test_the_graph_sees_every_kind_of_import(graph: Graph) -> None:
    # A module-level, a function-level and a TYPE_CHECKING import the package has today:
    # if the walk stopped seeing one kind, the cycle tests below would pass vacuously.
    edges = [graph.edges(level) for level in range(3)]
    assert "engage_rules.model.events" in edges[0]["engage_rules.engine.core"]
    function_level = ("engage_rules.engine.core", "engage_rules.engine.tracing")
    assert function_level[1] not in edges[0][function_level[0]]
    assert function_level[1] in edges[1][function_level[0]]
    type_level = ("engage_rules.expr.env", "engage_rules.expr.function_spec")
    assert type_level[1] not in edges[1][type_level[0]]
    assert type_level[1] in edges[2][type_level[0]]
    # Entering another package runs its __init__ (engine.core imports compile.playbook).
    assert "engage_rules.compile" in edges[0]["engage_rules.engine.core"]


@pytest.mark.parametrize("level", range(3), ids=LEVELS)
def test_no_import_cycle(graph: Graph, level: int) -> None:
    report = cycle_report(graph, level)
    assert not report, "\n" + report


# -- the contracts ------------------------------------------------------------------------


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _layer_names(contract: dict[str, object]) -> set[str]:
    layers = contract["layers"]
    assert isinstance(layers, list)
    names: set[str] = set()
    for layer in layers:
        names |= {n.strip() for n in layer.replace("\\", "").replace(":", "|").split("|")}
    return names - {""}


def _children(package: Path) -> set[str]:
    """The modules and sub-packages directly inside ``package``."""
    return {
        p.stem if p.is_file() else p.name
        for p in package.iterdir()
        if (p.is_file() and p.suffix == ".py" and p.name != "__init__.py")
        or (p.is_dir() and (p / "__init__.py").exists())
    }


def test_every_folder_and_module_is_placed_in_a_layer() -> None:
    by_container: dict[str, set[str]] = {}
    for contract in _contracts():
        if contract["type"] == "layers":
            assert contract.get("exhaustive") is True, contract["name"]
            containers = contract["containers"]
            assert isinstance(containers, list)
            for container in containers:
                by_container.setdefault(container, set()).update(_layer_names(contract))
    assert "engage_rules" in by_container, "no layers contract for the package"
    for container, placed in sorted(by_container.items()):
        folder = ROOT / "src" / Path(*container.split("."))
        missing = _children(folder) - placed
        assert not missing, f"{container}: place {sorted(missing)} in its layers contract"
        stale = placed - _children(folder)
        assert not stale, f"{container}: the layers contract names {sorted(stale)}"
    features = by_container.get("engage_rules.features")
    assert features is not None, "no layers contract for the features"


def test_the_pure_core_is_forbidden_the_io_layers() -> None:
    (core,) = [c for c in _contracts() if c.get("id") == "pure-core"]
    forbidden = core["forbidden_modules"]
    assert isinstance(forbidden, list)
    io = {"store", "adapters", "runtime", "shell", "tools", "cli"}
    assert {f"engage_rules.{n}" for n in io} <= set(forbidden)
    assert {"sqlite3", "socket", "http", "urllib", "asyncio"} <= set(forbidden)


# -- the checker itself -------------------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_is_found_at_the_level_it_starts(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from .b import x\n",
            "b.py": (
                "from typing import TYPE_CHECKING\n"
                "x = 1\n"
                "if TYPE_CHECKING:\n"
                "    from .c import y\n"
                "def f():\n"
                "    from . import c\n"
            ),
            "c.py": "from pkg.a import z\ny = 2\n",
        },
    )
    graph = build_graph(root)
    assert cycle_report(graph, 0) == ""
    report = cycle_report(graph, 1)
    assert "run time: 1 import cycle(s)" in report
    assert "    pkg/b.py:6: pkg.b -> pkg.c" in report.splitlines()
    assert "    pkg/c.py:1: pkg.c -> pkg.a" in report.splitlines()
    assert "type level: 1 import cycle(s)" in cycle_report(graph, 2)


def test_package_inits_are_edges(tmp_path: Path) -> None:
    # sub/__init__ re-exports sub.m, which imports top-level t, which imports sub.n:
    # importing sub.n runs sub/__init__, hence the cycle t -> sub -> sub.m -> t.
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "t.py": "from .sub.n import k\n",
            "sub/__init__.py": "from .m import j\n",
            "sub/m.py": "from ..t import k\nj = 1\n",
            "sub/n.py": "k = 1\n",
        },
    )
    report = cycle_report(build_graph(root), 0)
    assert "pkg.sub, pkg.sub.m, pkg.t" in report
    assert "    pkg/t.py:1: pkg.t -> pkg.sub" in report.splitlines()
