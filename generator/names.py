"""Name hygiene: the user's argument names never meet a name the generated code uses.

The backends and templates spell their own names as they like (`np`, `dx`, `out`, `_f`, `_z`,
`_REL_STEP_1`, builtins, ...). So that no argument name can shadow one of them, or be shadowed
by one, the plan is built with each argument renamed to a placeholder that nothing else spells
(`Names.mask`). After rendering, `finalize` reads the module with `ast`, groups every identifier
by the binding it resolves to, and, within each top-level function and what it encloses, gives
distinct bindings distinct final spellings: where a name of the generator would read as an
argument's (or a name derived from an argument's, like sympy's `x_0`), the generator's own is
renamed there (`np` -> `np_` through a second import, a local `dx` -> `dx_`); then the
placeholders become the user's names again. `check_module` and `check_tests` are the safety net
a later backend cannot get around: they refuse, with exit 2 and nothing written, a module in
which two bindings still share a spelling where an argument is in scope.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import DiffgenError
from .model import Names, fresh
from .scopes import Scope, binding, collect, owner

if TYPE_CHECKING:
    pass

# ---------------------------------------------------------------------------------------------
# Renaming


@dataclass(frozen=True)
class Entity:
    """One binding: a name in the scope that binds it (None: a builtin or module global)."""

    name: str
    scope: Scope | None


@dataclass
class Plan:
    """The edits that give distinct bindings distinct spellings."""

    edits: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)  # (line, start)
    aliases: dict[str, str] = field(default_factory=dict)  # module-level name -> its alias
    renamed: dict[Entity, str] = field(default_factory=dict)


def finalize(source: str, names: Names) -> str:
    """The rendered (masked) module with every clash renamed away and the user's names back."""
    renamed = rename(source, names)
    check_module(renamed, names)
    return names.unmask(renamed)


def rename(source: str, names: Names) -> str:
    """The masked module with distinct spellings for distinct bindings, placeholders kept."""
    return rename_locals(rename_globals(source, names), names)


def rename_globals(source: str, names: Names) -> str:
    """Module-level names derived from two arguments' (or an argument's and the generator's)
    that would be spelled alike, such as jax's `_SPEC_dy` for the tangent dy and for an
    argument dy: all but one renamed throughout the module."""
    module, _, lines = collect(source)
    groups: dict[str, list[str]] = {}
    for name in sorted(module.bound):
        groups.setdefault(names.unmask(name), []).append(name)
    if all(len(group) == 1 for group in groups.values()):
        return source
    everywhere = {names.unmask(o.name) for s in module.family() for o in s.occurrences}
    everywhere |= set(groups) | set(names.users) | set(dir(builtins))
    plan = Plan()
    for spelling, group in groups.items():
        for name in sorted(group, key=lambda n: any(p in n for p in names.placeholders))[1:]:
            new = fresh(spelling, everywhere)
            everywhere.add(new)
            for scope in module.family():
                for o in scope.occurrences:
                    if o.name == name and o.kind != "string" and binding(o) is module:
                        plan.edits[o.line, o.start] = (o.end, new)
    return "\n".join(line.decode() for line in apply(lines, plan))


def rename_locals(source: str, names: Names) -> str:
    """Within each top-level function and what it encloses, the bindings that would be
    spelled alike once the arguments have their names: all but one renamed."""
    module, tree, lines = collect(source)
    final = names.unmask
    base = {final(n) for n in module.bound} | set(names.users) | set(dir(builtins))
    everywhere = base | {final(o.name) for s in module.family() for o in s.occurrences}
    everywhere |= {final(n) for s in module.family() for n in s.bound}
    plan = Plan()
    for top in module.children:
        # a new local name need only be free in its family; an alias, everywhere
        taken = base | set(plan.aliases.values())
        taken |= {final(o.name) for s in top.family() for o in s.occurrences}
        for entity, spelling in clashes(top, names).items():
            if entity.scope is None:  # a module-level or builtin name: an alias in this family
                new = plan.aliases.get(entity.name) or fresh(final(entity.name), everywhere)
                plan.aliases[entity.name] = new
                everywhere.add(new)
                where: Iterable[Scope] = top.family()
            else:
                new = plan.renamed.get(entity) or public(entity, names) or fresh(spelling, taken)
                where = entity.scope.family()
            taken.add(new)
            plan.renamed[entity] = new
            for scope in where:
                for o in scope.occurrences:
                    if o.name != entity.name or o.kind == "alias":
                        continue
                    if o.kind == "string":
                        if o.scope is entity.scope and entity.name in o.scope.params:
                            plan.edits[o.line, o.start] = (o.end, f'"{new}"')
                    elif owner(o) is entity.scope:
                        plan.edits[o.line, o.start] = (o.end, new)
    keywords(tree, module, plan)
    return insert_aliases(apply(lines, plan), tree, plan.aliases, names)


def clashes(top: Scope, names: Names) -> dict[Entity, str]:
    """The bindings to rename within a top-level function (with what it encloses): all but one
    of each group whose members would be spelled alike once the arguments have their names."""
    if not any(
        p in o.name for s in top.family() for o in s.occurrences for p in names.placeholders
    ):
        return {}  # no argument, nothing derived from one: nothing here can read as the user's
    by_spelling: dict[str, dict[Entity, None]] = {}
    for scope in top.family():
        for o in scope.occurrences:
            if o.kind in ("string", "alias"):
                continue
            entity = Entity(o.name, owner(o))
            by_spelling.setdefault(names.unmask(o.name), {})[entity] = None
    found: dict[Entity, str] = {}
    for spelling, group in by_spelling.items():
        if len(group) < 2:
            continue
        keep = min(group, key=lambda e: rank(e, names))
        for entity in group:
            if entity != keep:
                if any(scope.declared for scope in top.family()):
                    raise clash_error(names, spelling, "a global or nonlocal statement")
                found[entity] = spelling
    return found


def public(entity: Entity, names: Names) -> str | None:
    """The plan's new spelling of a public operator's parameter (`dx` -> `dx_`), if it is one."""
    scope = entity.scope
    top = scope is not None and scope.parent is not None and scope.parent.parent is None
    if top and scope is not None and entity.name in scope.params:
        return dict(names.preferred).get(entity.name)
    return None


def rank(entity: Entity, names: Names) -> int:
    """Which binding of a shared spelling keeps it: the argument itself, then a module-level
    or builtin name (renaming it needs an alias), then the generator's locals."""
    if entity.name in names.placeholders:
        return 0
    return 1 if entity.scope is None else 2


def keywords(tree: ast.Module, module: Scope, plan: Plan) -> None:
    """Calls by keyword of a module-level function whose parameter was renamed."""
    renamed: dict[tuple[str, str], str] = {}
    for entity, new in plan.renamed.items():
        scope = entity.scope
        if scope is not None and scope.parent is module and entity.name in scope.params:
            function = getattr(scope.node, "name", None)
            if function is not None:
                renamed[function, entity.name] = new
    if not renamed:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for kw in node.keywords:
                spelled = renamed.get((node.func.id, kw.arg or ""))
                if spelled is not None:
                    end = kw.col_offset + len(kw.arg or "")
                    plan.edits[kw.lineno, kw.col_offset] = (end, spelled)


def apply(lines: list[bytes], plan: Plan) -> list[bytes]:
    """The lines with each edit made, right to left so that offsets stay valid."""
    edited = list(lines)
    for (line, start), (end, new) in sorted(plan.edits.items(), reverse=True):
        text = edited[line - 1]
        edited[line - 1] = text[:start] + new.encode() + text[end:]
    return edited


def insert_aliases(
    lines: list[bytes], tree: ast.Module, aliases: dict[str, str], names: Names
) -> str:
    """Bind each alias at module level, right after the statement that binds its original
    (a second import for an imported name), or after the imports for a builtin."""
    inserts: dict[int, list[str]] = {}
    imports = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
    for name, alias in sorted(aliases.items()):
        statements = [s for s in tree.body if name in bound_by(s)]
        if len(statements) > 1:
            raise clash_error(names, names.unmask(name), "a name bound twice at module level")
        why = f"#: {alias} is {name}, under a name that no argument of {names.function} shadows."
        if not statements:  # a builtin
            after, text = (imports[-1].end_lineno or 0) if imports else 0, f"{alias} = {name}"
        else:
            statement = statements[0]
            after, text = statement.end_lineno or statement.lineno, aliased(statement, name, alias)
        inserts.setdefault(after, []).extend(["", why, text])
    out = [line.decode() for line in lines]
    for after in sorted(inserts, reverse=True):
        out[after:after] = inserts[after]
    return "\n".join(out)


def bound_by(statement: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds."""
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return {a.asname or a.name.partition(".")[0] for a in statement.names}
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {statement.name}
    return {
        n.id
        for n in ast.walk(statement)
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }


def aliased(statement: ast.stmt, name: str, alias: str) -> str:
    """A statement that binds `alias` to what `statement` binds `name` to."""
    if isinstance(statement, ast.Import):
        found = next(a for a in statement.names if (a.asname or a.name.partition(".")[0]) == name)
        module = found.name if found.asname else name
        return f"import {module} as {alias}"
    if isinstance(statement, ast.ImportFrom):
        found = next(a for a in statement.names if (a.asname or a.name) == name)
        return (
            f"from {'.' * statement.level}{statement.module or ''} import {found.name} as {alias}"
        )
    return f"{alias} = {name}"


# ---------------------------------------------------------------------------------------------
# The safety net


def clash_error(names: Names, spelling: str, why: str) -> DiffgenError:
    """The refusal of a name diffgen could not keep apart from its own."""
    argument = f"the argument {spelling!r}" if spelling in names.users else "an argument name"
    return DiffgenError(
        f"{argument} of {names.function} clashes with a name in the generated code",
        f"where the argument is in scope the generated code also uses {spelling!r} ({why}),"
        " so one would shadow the other; diffgen could not rename its own out of the way",
        f"rename the argument in {names.function} (names starting with _ are the safest to"
        " avoid: diffgen uses them for its internals)",
    )


def check_module(source: str, names: Names) -> None:
    """Refuse a (masked, renamed) module in which an argument's spelling is shared by two
    bindings where the argument is in scope, or that does not compile."""
    module, _, _ = collect(source)
    for top in module.children:
        for entity, spelling in clashes(top, names).items():
            kind = "a builtin or module-level name" if entity.scope is None else "a local name"
            raise clash_error(names, spelling, kind)
    spellings: dict[str, str] = {}
    for name in module.bound:
        other = spellings.setdefault(names.unmask(name), name)
        if other != name:
            raise clash_error(names, names.unmask(name), "two module-level names")
    final = names.unmask(source)
    try:
        compile(final, "<generated module>", "exec", dont_inherit=True)
    except SyntaxError as error:
        raise DiffgenError(
            f"the module generated for {names.function} is not valid Python",
            f"{error.msg} at line {error.lineno}: {(error.text or '').strip()}",
            "report this as a diffgen bug, with the command; renaming the function's arguments"
            " may avoid it",
        ) from error


def check_tests(source: str, names: Names) -> None:
    """Refuse a test file whose argument table has a key twice (an argument and a tangent of
    one name), or whose calls look up an argument the table lacks."""
    tree = ast.parse(source)
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            literal = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            duplicate = next((k for k in literal if literal.count(k) > 1), None)
            if isinstance(duplicate, str):
                raise clash_error(names, duplicate, "two entries of the tests' argument table")
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "CASES" for t in targets):
            for case in ast.walk(getattr(node, "value", None) or ast.Tuple(elts=[])):
                if isinstance(case, ast.Dict):
                    keys |= {
                        k.value
                        for k in case.keys
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    }
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name | ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and looks_up_cases(node.value)
            and node.slice.value not in keys
        ):
            raise clash_error(names, node.slice.value, "an argument missing from the tests' table")


def looks_up_cases(node: ast.expr) -> bool:
    """`c` (a case of CASES, as the generated tests name it) or `CASES[k]`."""
    if isinstance(node, ast.Name):
        return node.id == "c"
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and (node.value.id == "CASES")
    )
