"""Read the targets of `[tool.diffgen]` in pyproject.toml, and place output paths safely."""

from __future__ import annotations

import keyword
import math
import sys
import tomllib
from pathlib import Path

from .backends.options import OPTIONS, options_from
from .errors import DiffgenError
from .target import Target, split_reference

_KEYS = {
    "function",
    "args",
    "dims",
    "wrt",
    "ops",
    "backend",
    "outer",
    "output",
    "tests",
    "batch",
    "domain",
    "wrt_first",
    *(option.key for family in OPTIONS for option in family.declared()),
}

#: Top-level modules that generated modules and their tests import (besides the standard
#: library and the user's own package): an output module of one of these names would shadow it.
IMPORTED = frozenset(
    {"numpy", "scipy", "jax", "jaxlib", "torch", "pytest", "_pytest", "array_api_compat",
     "jaxtyping", "ml_dtypes", "opt_einsum", "sympy", "mpmath", "generator", "conftest"}
)  # fmt: skip


def _bad(where: str, what: str, why: str, fix: str) -> DiffgenError:
    return DiffgenError(f"{where}: {what}", why, fix)


def domain_from(value: object, where: str) -> tuple[float, float] | None:
    """`domain = [lo, hi]` as a pair of floats (None where it is not given)."""
    if value is None:
        return None
    numbers = (
        value
        if isinstance(value, list)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        else []
    )
    if len(numbers) != 2 or not all(math.isfinite(v) for v in numbers):
        raise _bad(
            where, "domain must be two numbers", f"found {value!r}", "write domain = [1.5, 2.5]"
        )
    return float(numbers[0]), float(numbers[1])


def target_from_table(table: object, where: str) -> Target:
    """One `[[tool.diffgen.targets]]` entry as a Target, with its keys and types checked."""
    if not isinstance(table, dict):
        raise _bad(
            where,
            f"the target is {type(table).__name__} {table!r}, not a table",
            "each [[tool.diffgen.targets]] entry is a table of keys (function, args, ops, ...)",
            'write it as [[tool.diffgen.targets]] with function = "module:qualname" below',
        )
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        keys = ", ".join(sorted(_KEYS))
        raise _bad(where, f"unknown keys {', '.join(unknown)}", f"the keys are {keys}", "fix them")
    function, backend = table.get("function"), table.get("backend", "finitediff")
    if not isinstance(function, str) or not isinstance(backend, str):
        why = 'a target names function = "module:qualname" and backend = "finitediff"'
        raise _bad(where, "function and backend must be strings", why, "fix the entry")
    args, dims = table.get("args", {}), table.get("dims", {})
    if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
        raise _bad(
            where,
            "args must map parameter names to spec strings",
            f"found {args!r}",
            'write args = { x = "float64[10]" }',
        )
    if not isinstance(dims, dict) or not all(type(v) is int and v > 0 for v in dims.values()):
        raise _bad(
            where,
            "dims must map size names to positive whole numbers",
            f"found {dims!r}",
            "write dims = { n = 10 }",
        )
    ops = table.get("ops", "all")
    ops = (ops,) if isinstance(ops, str) else ops
    if not isinstance(ops, list | tuple) or not all(isinstance(o, str) for o in ops):
        raise _bad(
            where,
            "ops must be a string or a list of strings",
            f"found {ops!r}",
            'write ops = ["gradient", "hessian"] or ops = "all"',
        )
    optional: dict[str, str | None] = {}
    for key in ("wrt", "outer", "output"):
        value = table.get(key)
        if key == "wrt" and isinstance(value, list) and value:  # Target refuses several, saying why
            value = ",".join(map(str, value))
        if value is not None and not isinstance(value, str):
            raise _bad(where, f"{key} must be a string", f"found {value!r}", "fix the entry")
        optional[key] = value
    tests, wrt_first = table.get("tests", True), table.get("wrt_first", False)
    for key, flag in (("tests", tests), ("wrt_first", wrt_first)):
        if not isinstance(flag, bool):
            raise _bad(where, f"{key} must be true or false", f"found {flag!r}", "fix the entry")
    options = options_from(table, where)
    batch = table.get("batch", 0)
    if isinstance(batch, bool) or not isinstance(batch, int):
        raise _bad(where, "batch must be an integer", f"found {batch!r}", "write batch = 8")
    return Target(
        function=function,
        args=tuple(sorted(args.items())),
        dims=tuple(sorted(dims.items())),
        wrt=optional["wrt"],
        ops=tuple(ops),
        backend=backend,
        outer=optional["outer"],
        output=optional["output"],
        tests=tests,
        options=options,
        batch=batch,
        domain=domain_from(table.get("domain"), where),
        wrt_first=wrt_first,
    )


def read_config(path: Path) -> tuple[Target, ...]:
    """The targets listed under `[[tool.diffgen.targets]]`."""
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as error:
        raise DiffgenError(
            f"{path} does not exist",
            "build and check read their targets from it",
            "run from the project root or pass --config",
        ) from error
    except IsADirectoryError as error:
        raise DiffgenError(f"{path} is a folder", "--config names a pyproject.toml file",
                           "pass the file's path") from error  # fmt: skip
    except OSError as error:
        raise DiffgenError(f"cannot read {path}", str(error), "check its permissions") from error
    except UnicodeDecodeError as error:
        raise DiffgenError(
            f"{path} is not UTF-8 text",
            f"TOML files are UTF-8; {error}",
            "save it as UTF-8",
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise DiffgenError(f"{path} is not valid TOML", str(error), "fix its syntax") from error
    tool = data.get("tool", {})
    section = tool.get("diffgen", {}) if isinstance(tool, dict) else None
    if not isinstance(section, dict):
        raise DiffgenError(
            f"[tool.diffgen] in {path} is not a table",
            f"found tool.diffgen = {section!r}",
            'write it as [[tool.diffgen.targets]] tables with function = "module:qualname"',
        )
    targets = section.get("targets")
    if not isinstance(targets, list) or not targets:
        raise DiffgenError(
            f"{path} has no [[tool.diffgen.targets]]",
            "build and check act on the targets listed there",
            'add one: [[tool.diffgen.targets]] function = "examples.rosen:rosen" ...',
        )
    return tuple(
        target_from_table(t, f"{path.name}, target {i + 1}") for i, t in enumerate(targets)
    )


def test_path(module: Path) -> Path:
    return module.with_name(f"test_{module.name}")


def target_paths(target: Target, root: Path) -> tuple[Path, ...]:
    """The files a target writes: its module and, unless disabled, the module's tests."""
    path = output_path(target, root)
    return (path, test_path(path)) if target.tests else (path,)


def check_outputs(targets: tuple[Target, ...], root: Path) -> None:
    """Refuse a config in which two targets write the same file."""
    owner: dict[Path, int] = {}
    for index, target in enumerate(targets):
        for path in target_paths(target, root):
            if path in owner:
                first = owner[path]
                raise DiffgenError(
                    f"targets {first + 1} and {index + 1} both write {path.relative_to(root)}",
                    f"{targets[first].function} and {target.function} would overwrite each"
                    " other's files (a module and its test_ file count), and check would find"
                    " one of them stale forever",
                    "give one of them another output = ...",
                )
            owner[path] = index


def shadowed(stem: str, target: Target) -> bool:
    """Whether a module named `stem` would hide a module the generated code or tests import."""
    user = split_reference(target.function)[0].partition(".")[0]
    return stem in sys.stdlib_module_names or stem in IMPORTED or stem == user


def output_path(target: Target, root: Path) -> Path:
    """The module's path: inside the project root, its name a valid Python identifier."""
    relative = target.output or target.default_output()
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DiffgenError(
            f"the output path {relative!r} of {target.function} leaves the project root",
            f"it resolves to {path}, outside {root.resolve()}",
            "write generated modules inside the project, for example under generated/",
        )
    if path.suffix != ".py" or not path.stem.isidentifier() or keyword.iskeyword(path.stem):
        raise DiffgenError(
            f"the output path {relative!r} of {target.function} does not name a Python module",
            f"{path.name!r} must be an identifier followed by .py, so that it can be imported",
            "use letters, digits and underscores, for example generated/rosen_finitediff.py",
        )
    if shadowed(path.stem, target):
        raise DiffgenError(
            f"the output path {relative!r} of {target.function} would shadow module"
            f" {path.stem!r}",
            f"the generated module or its tests import {path.stem}, or it is your own module;"
            f" a file {path.name} where they run (pytest puts the tests' folder first on"
            " sys.path) would be imported instead",
            "choose another name, for example generated/"
            f"{target.func_name}_{target.backend.replace(':', '_')}.py",
        )
    return path
