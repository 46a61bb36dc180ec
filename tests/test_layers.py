"""The import graph of generator/ has no circle, and every import points down the layers.

Every import counts: at module level, inside functions and under TYPE_CHECKING, so that no
lazy import can hide a circle. A new module must be placed in LAYERS.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "generator"

#: Lowest first. A module may import modules of its own layer or lower ones, never higher.
LAYERS: tuple[tuple[str, ...], ...] = (
    # the vocabulary's vocabulary: no generator import but each other
    ("version", "errors", "spec", "scopes", "x64", "budget", "templating", "imports"),
    # backend options: each family's declared beside its backends, read by target, config, cli
    (
        "options",
        "sparse_options",
        "backends.options",
        "backends.jax_options",
        "backends.torch_options",
    ),
    ("operators", "target", "flavour", "fingerprint"),
    ("model",),  # the frozen data every stage shares
    ("names", "symbolic.*", "sparse.*", "inspect_target", "config", "write", "stale", "formatting"),
    ("backends.*",),  # each backend plans its operators
    ("plan",),  # stage 2: the module's functions, types and constants
    ("expected", "testplan", "render"),  # the tests' plan, rendering
    ("compose",),  # stage 2: the pair, and the plan in the user's names
    ("pipeline",),  # the stages in order
    ("api", "measure.*"),  # the Python API; bench, tune
    ("cli", "__main__", "__init__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer(name: str) -> int:
    for index, members in enumerate(LAYERS):
        for member in members:
            if name == member or (member.endswith(".*") and name.startswith(member[:-1])):
                return index
            if member.endswith(".*") and name == member[:-2]:
                return index
    raise AssertionError(f"generator/{name.replace('.', '/')}.py is in no layer of LAYERS")


def imports(path: Path) -> set[str]:
    """The generator modules `path` imports (`from .x import y` may name a module y)."""
    name = module_name(path)
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    if path.name == "__init__.py" and path.parent == PACKAGE:
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            elif (node.module or "").startswith("generator"):
                module = (node.module or "").removeprefix("generator").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}".lstrip(".")
                found.add(sub if known(sub) else module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("generator."):
                    found.add(alias.name.removeprefix("generator."))
    found.discard("")
    found.discard(name)
    return found


def known(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE / relative.with_suffix(".py")).is_file() or (PACKAGE / relative).is_dir()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_import_points_down() -> None:
    upward = [
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in graph().items()
        for target in sorted(targets)
        if layer(target) > layer(source)
    ]
    assert upward == []


def test_no_import_circle() -> None:
    edges = graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                circles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert [" -> ".join(c) for c in circles] == []


def test_lazy_imports_count() -> None:
    """An import inside a function is an edge like any other (the registry loads backends so)."""
    assert "backends.finitediff" in imports(PACKAGE / "backends" / "registry.py")
