"""The packages of `taxiway` import one way: no cycle between them, and data flows api → tasks → engines
→ storage, never back. Read from the source with `ast`, so lazy imports inside functions count too."""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from pathlib import Path

import pytest

import taxiway

ROOT = Path(taxiway.__file__).parent
# Each layer may import the ones after it, never those before it.
FLOW = ("api", "tasks", "engines", "storage")
# The bottom of the graph: what every package may use, importing nothing of taxiway's.
BOTTOM = ("errors", "status", "config")

Graph = dict[str, set[str]]


def _node(module: str) -> str | None:
    """The package (or top-level module) that `taxiway.x.y` belongs to; None for `taxiway` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "taxiway" else None


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module imported anywhere in `tree`, relative imports resolved."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            else:
                names.add(node.module or "")
    return names


def package_graph(root: Path = ROOT) -> Graph:
    """Edges between taxiway's packages and top-level modules, each with the modules behind it."""
    graph: Graph = defaultdict(set)
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).with_suffix("")
        is_package = relative.name == "__init__"
        module = ".".join(relative.parts[:-1] if is_package else relative.parts)
        source = _node(module)
        if source is None:
            continue
        graph.setdefault(source, set())
        for name in _imported(ast.parse(path.read_text(encoding="utf-8")), module, is_package):
            target = _node(name)
            if target is not None and target != source:
                graph[source].add(target)
    return dict(graph)


def reachable(graph: Graph, start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def cycle(graph: Graph) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        found: list[str] = error.args[1]
        return found
    return None


@pytest.fixture(scope="module")
def graph() -> Graph:
    return package_graph()


def test_the_graph_is_read_from_the_source(graph: Graph) -> None:
    assert {"api", "tasks", "engines", "storage", "catalog", "errors"} <= graph.keys()
    assert {"tasks", "catalog", "billing"} <= graph["api"]
    assert "errors" in graph["engines"]


def test_no_cycle_between_packages(graph: Graph) -> None:
    found = cycle(graph)
    assert found is None, "packages import each other in a cycle: " + " -> ".join(found or [])


@pytest.mark.parametrize("index", range(len(FLOW) - 1))
def test_data_flows_one_way(graph: Graph, index: int) -> None:
    lower, upper = FLOW[index + 1 :], FLOW[: index + 1]
    for package in lower:
        back = reachable(graph, package) & set(upper)
        assert not back, f"{package} imports {', '.join(sorted(back))}, which sits above it"


@pytest.mark.parametrize("module", BOTTOM)
def test_the_bottom_imports_nothing_of_taxiway(graph: Graph, module: str) -> None:
    assert graph[module] == set()


def test_a_cycle_is_found_and_named(tmp_path: Path) -> None:
    """The checks above would pass on an empty graph: show they see relative imports and cycles."""
    package = tmp_path / "taxiway"
    for name, source in {
        "__init__.py": "",
        "a/__init__.py": "from ..b import thing\n",
        "b/__init__.py": "def f():\n    from taxiway.a import other\n",
        "c.py": "import taxiway.a\n",
    }.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(source)
    graph = package_graph(package)
    assert graph == {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    assert set(cycle(graph) or []) == {"a", "b"}
    assert reachable(graph, "c") == {"a", "b"}
