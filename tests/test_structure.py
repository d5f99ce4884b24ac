"""The layout the design promises, checked: modules stay small, imports point downwards and never go round.

`schemas` knows nothing of ours; `offers` (the domain) knows schemas; `activities` know schemas and the domain;
`workflows` know schemas and the activities they call by reference; `offerdesk` knows everything. Imports inside
functions count too: a deferred import is still a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "offers", "activities", "workflows", "offerdesk", "benchmarks")
MAX_LINES = 500
MAY_IMPORT = {
    "schemas": {"schemas"},
    "offers": {"schemas", "offers"},
    "activities": {"schemas", "offers", "activities"},
    "workflows": {"schemas", "activities", "workflows"},
    "offerdesk": {"schemas", "offers", "activities", "workflows", "offerdesk"},
    "benchmarks": set(PACKAGES),
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


def imports(name: str, path: Path) -> set[str]:
    """Our modules that this one imports, anywhere in it."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    names = dict(modules())
    edges: dict[str, set[str]] = {}
    for name, path in names.items():
        edges[name] = {m for m in imports(name, path) if m in names and m != name}
    return edges


def test_no_module_is_over_500_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for _, p in modules() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (usually two concepts in one file): {long}"


def test_imports_point_downwards() -> None:
    wrong = [
        f"{name} imports {target}"
        for name, targets in graph().items()
        for target in targets
        if target.split(".")[0] not in MAY_IMPORT[name.split(".")[0]]
    ]
    assert not wrong, wrong


def test_there_are_no_import_cycles() -> None:
    edges = graph()
    # A package's __init__ that gathers its modules is not a cycle with them; an import between modules is.
    edges = {n: {t for t in ts if not (n.startswith(t + ".") and t in edges)} for n, ts in edges.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
