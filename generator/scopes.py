"""Scopes of a Python module: each identifier, where it is spelled, the binding it names.

generator/names.py reads generated modules with it to keep argument names apart from the
generator's own. Class bodies do not occur in generated code and are not modelled.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(eq=False)
class Scope:
    """A module, function, lambda or comprehension: the names it binds, identifiers in it."""

    node: ast.AST
    parent: Scope | None
    bound: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)
    declared: bool = False  # holds a global or nonlocal statement
    occurrences: list[Occurrence] = field(default_factory=list)
    children: list[Scope] = field(default_factory=list)

    def family(self) -> Iterator[Scope]:
        yield self
        for child in self.children:
            yield from child.family()


@dataclass(frozen=True)
class Occurrence:
    """An identifier in the source: where it is spelled, and what kind of node spells it."""

    name: str
    line: int  # 1-based
    start: int  # utf-8 byte offsets in the line
    end: int
    kind: str  # "name", "arg", "def", "alias", "string" (a label equal to a parameter)
    scope: Scope = field(compare=False)


class Collector(ast.NodeVisitor):
    """Builds the scope tree of a module with every identifier in the scope it belongs to."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.module = Scope(ast.Module(body=[], type_ignores=[]), None)
        self.scope = self.module

    def add(self, name: str, node: ast.AST, kind: str, scope: Scope | None = None) -> None:
        line, start = node.lineno, node.col_offset  # type: ignore[attr-defined]
        if kind == "def":  # the name follows `def ` on the def's own line
            text = self.lines[line - 1]
            found = re.compile(rb"def\s+" + name.encode()).search(text, start)
            assert found is not None
            start = found.end() - len(name.encode())
        end = start + len(name.encode()) if kind != "string" else node.end_col_offset  # type: ignore[attr-defined]
        target = scope or self.scope
        target.occurrences.append(Occurrence(name, line, start, end, kind, target))

    def enter(self, node: ast.AST) -> Scope:
        scope = Scope(node, self.scope)
        self.scope.children.append(scope)
        return scope

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            self.scope.bound.add(node.id)
        self.add(node.id, node, "name")

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.declared = True

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.scope.declared = True

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.scope.bound.add(alias.asname or alias.name.partition(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            self.scope.bound.add(alias.asname or alias.name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.scope.bound.add(node.name)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        outer = self.scope
        if not isinstance(node, ast.Lambda):
            outer.bound.add(node.name)
            self.add(node.name, node, "def")
            for decorator in node.decorator_list:
                self.visit(decorator)
            if node.returns is not None:
                self.visit(node.returns)
        arguments = node.args
        for default in (*arguments.defaults, *arguments.kw_defaults):
            if default is not None:
                self.visit(default)
        scope = self.enter(node)
        every = (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
        for arg in (*every, arguments.vararg, arguments.kwarg):
            if arg is None:
                continue
            if arg.annotation is not None:  # evaluated where the function is defined
                self.visit(arg.annotation)
            scope.bound.add(arg.arg)
            scope.params.add(arg.arg)
            self.add(arg.arg, arg, "arg", scope)
        self.scope = scope
        for statement in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(statement)
        self.scope = outer

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_comprehension_scope(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        outer = self.scope
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self.scope = self.enter(node)
        for k, generator in enumerate(node.generators):
            self.visit(generator.target)
            if k:
                self.visit(generator.iter)
            for condition in generator.ifs:
                self.visit(condition)
        parts = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
        for part in parts:
            self.visit(part)
        self.scope = outer

    visit_ListComp = visit_comprehension_scope
    visit_SetComp = visit_comprehension_scope
    visit_DictComp = visit_comprehension_scope
    visit_GeneratorExp = visit_comprehension_scope

    def visit_Call(self, node: ast.Call) -> None:
        # a label such as `_checked("dx", dx, ...)`: a string argument naming a parameter
        labels = (a for a in node.args if isinstance(a, ast.Constant))
        for arg in labels:
            if isinstance(arg.value, str) and arg.value.isidentifier():
                self.add(arg.value, arg, "string")
        self.generic_visit(node)


def collect(source: str) -> tuple[Scope, ast.Module, list[bytes]]:
    """The module's scope tree, its syntax tree and its lines (as utf-8, as ast counts)."""
    tree = ast.parse(source)
    lines = source.encode().split(b"\n")
    collector = Collector(lines)
    collector.module.node = tree
    for statement in tree.body:
        collector.visit(statement)
    return collector.module, tree, lines


def binding(occurrence: Occurrence) -> Scope | None:
    """The scope whose binding an identifier resolves to; None for a builtin (or unbound)."""
    scope: Scope | None = occurrence.scope
    while scope is not None:
        if occurrence.name in scope.bound:
            return scope
        scope = scope.parent
    return None


def owner(occurrence: Occurrence) -> Scope | None:
    """The function-like scope that binds an identifier; None for a module-level or builtin
    name."""
    scope = binding(occurrence)
    return scope if scope is not None and scope.parent is not None else None
