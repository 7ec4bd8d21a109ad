"""The package's import graph: no cycle, and every import points down the layers.

Layers, from the bottom (a module imports only from its own layer or below):
errors, files, paths, logs, devices, locks, processes, provenance, random_state, export_runtime → registry →
components → config → training → analysis → api, serve, export → cli.
Imports are read from the source with ``ast`` (those under ``if TYPE_CHECKING:`` and
``importlib.import_module("...")`` with a literal name included: they are arrows too), so the
test sees what a reader of the code sees.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import sparse_sharing

PACKAGE = Path(sparse_sharing.__file__).parent
LAYERS = [("errors", "files", "paths", "logs", "devices", "locks", "processes", "provenance", "random_state",
           "export_runtime"),
          ("registry",), ("components",), ("config",), ("training",), ("analysis",), ("api", "serve", "export"),
          ("cli", "__main__")]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports (``from a import b`` counts ``a.b`` when that is a module)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                targets.add(node.args[0].value)  # importlib.import_module("sparse_sharing..."): an import too
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else "__init__"
    return next((i for i, names in enumerate(LAYERS) if top in names), -1)


def test_the_import_graph_has_no_cycle() -> None:
    assert cycles(import_graph()) == []


def test_every_import_points_down_the_layers() -> None:
    graph = import_graph()
    unplaced = [m for m in graph if m != "sparse_sharing" and layer(m) < 0]
    assert unplaced == [], "place these modules in a layer"
    upward = sorted(f"{source} → {target}" for source, targets in graph.items() for target in targets
                    if source != "sparse_sharing" and layer(target) > layer(source))
    assert upward == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_importing_the_registry_loads_nothing_of_training() -> None:
    code = ("import sys, sparse_sharing.registry; "
            "print(sorted(m for m in sys.modules if m.startswith('sparse_sharing.training')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
