"""What a generated file depends on, as three digests: the function, the target, the generator.

Everything here reads files and hashes them; nothing imports the user's code or a backend
library, so that `diffgen check` (and `build`'s skip of current targets) stay fast and safe.
"""

from __future__ import annotations

import ast
import hashlib
import io
import sys
import tokenize
from dataclasses import dataclass
from functools import cache
from importlib.machinery import PathFinder
from pathlib import Path

from .errors import DiffgenError
from .sparse_options import SparseOptions
from .target import Target, split_reference
from .templating import templates_dir
from .version import __version__

#: Modules of the generator that never run while a module is generated (the command line and the
#: API over it, the benchmarks, the freshness check): editing them leaves every file current.
NOT_GENERATING = ("__main__.py", "cli.py", "api.py", "stale.py", "measure/")
#: How deep `from other import f` re-exports are followed to the module that defines f.
MAX_REEXPORTS = 4


@dataclass(frozen=True)
class Fingerprint:
    """The digests (16 hex digits each) of the three inputs of a generated file."""

    function: str  # the function's definition and what it uses in its module
    target: str  # the target's specs, operators, backend (pair) and options
    generator: str  # diffgen's version, the generating modules and the templates

    def changed(self, other: Fingerprint) -> tuple[str, ...]:
        """The names of the inputs whose digests differ."""
        return tuple(
            name
            for name in ("function", "target", "generator")
            if getattr(self, name) != getattr(other, name)
        )

    @property
    def combined(self) -> str:
        text = f"{self.function}:{self.target}:{self.generator}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def short(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def locate_source(module_name: str, root: Path) -> Path:
    """The source file of `module_name` as `import` would find it with root first on sys.path,
    found without importing anything (a package's __init__.py is not run)."""
    locations: list[str] | None = [str(root), *sys.path]
    origin: str | None = None
    parts = module_name.split(".")
    for depth in range(len(parts)):
        name = ".".join(parts[: depth + 1])
        try:
            spec = PathFinder.find_spec(name, locations)
        except (ImportError, ValueError, OSError):
            spec = None
        if spec is None:
            break
        origin = spec.origin if depth == len(parts) - 1 else None
        locations = list(spec.submodule_search_locations or [])
    else:
        if origin is not None and origin.endswith(".py") and Path(origin).is_file():
            return Path(origin)
    raise DiffgenError(
        f"cannot find the source of module {module_name!r}",
        f"no {module_name.replace('.', '/')}.py (or package of that name) is under {root} or"
        " on sys.path",
        "run diffgen from the project root, where the module can be imported",
    )


def without_comments(segment: str) -> str:
    """Source text with comments, trailing blanks and blank lines removed."""
    lines = segment.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(segment).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                lines[row - 1] = lines[row - 1][:col]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass  # keep the comments: a digest that changes more often is still right
    return "\n".join(line.rstrip() for line in lines if line.strip())


def _bound_names(node: ast.stmt) -> set[str]:
    """The module-level names a top-level statement binds (inside if/try/with too)."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(sub.name)
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            for alias in sub.names:
                names.add((alias.asname or alias.name).partition(".")[0])
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    return names


def _used_names(node: ast.stmt) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


def _reexport(node: ast.stmt, name: str, module_name: str) -> str | None:
    """The module that a `from M import name` statement takes `name` from, if it is one."""
    if not isinstance(node, ast.ImportFrom):
        return None
    if not any((alias.asname or alias.name) == name for alias in node.names):
        return None
    if node.level == 0:
        return node.module
    package = module_name.split(".")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])]) or None


def function_source(module_name: str, qualname: str, root: Path, depth: int = 0) -> str:
    """The function's top-level definition and, transitively, every module-level definition,
    assignment and import it uses, in source order, without comments."""
    path = locate_source(module_name, root)
    try:
        source = path.read_bytes().decode("utf-8")
        tree = ast.parse(source)
    except (UnicodeDecodeError, SyntaxError, ValueError) as error:
        raise DiffgenError(
            f"cannot read the source of module {module_name!r}",
            f"{path} is not UTF-8 Python source: {error}",
            "fix the module so that it can be imported",
        ) from error
    lines = source.splitlines()
    body = tree.body
    bound = [_bound_names(node) for node in body]
    top = qualname.split(".")[0]
    binders = [i for i, names in enumerate(bound) if top in names]
    if not binders:  # defined dynamically (globals(), a star import): the whole module counts
        return without_comments(source)
    if depth < MAX_REEXPORTS and len(binders) == 1:
        origin = _reexport(body[binders[0]], top, module_name)
        if origin is not None:
            try:
                return function_source(origin, top, root, depth + 1)
            except DiffgenError:
                pass  # another distribution's module: its import line stands for it
    needed = set(binders)
    queue = list(binders)
    while queue:
        for name in _used_names(body[queue.pop()]):
            for i, names in enumerate(bound):
                if name in names and i not in needed:
                    needed.add(i)
                    queue.append(i)
    segments = []
    for i in sorted(needed):
        node = body[i]
        decorators = getattr(node, "decorator_list", [])
        first = min([node.lineno, *(d.lineno for d in decorators)])
        segments.append(without_comments("\n".join(lines[first - 1 : node.end_lineno])))
    return "\n".join(segments)


def function_digest(reference: str, root: Path) -> str:
    module_name, qualname = split_reference(reference)
    return short(f"{reference}\n{function_source(module_name, qualname, root)}")


def target_digest(target: Target) -> str:
    return short(target.canonical())


@cache
def generator_digest() -> str:
    """diffgen's version, the source of every generating module, and the templates."""
    package = Path(__file__).parent
    digest = hashlib.sha256(__version__.encode())
    files = [
        (path.relative_to(package).as_posix(), path)
        for path in sorted(package.rglob("*.py"))
        if not path.relative_to(package).as_posix().startswith(NOT_GENERATING)
    ]
    files += [(f"templates/{p.name}", p) for p in sorted(templates_dir().glob("*.jinja"))]
    for name, path in files:
        digest.update(f"\0{name}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def fingerprint(target: Target, root: Path) -> Fingerprint:
    """The fingerprint a target's files must carry to be current: with a user's sparsity
    pattern file (--sparsity), its content counts as part of the function."""
    function = function_digest(target.function, root)
    pattern = target.option(SparseOptions).pattern
    if pattern:
        path = Path(pattern) if Path(pattern).is_absolute() else root / pattern
        content = path.read_bytes() if path.is_file() else b"(missing)"
        function = short(f"{function}\n{pattern}\n{short(content)}")
    return Fingerprint(function, target_digest(target), generator_digest())
