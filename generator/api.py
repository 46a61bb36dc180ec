"""diffgen's Python API: what the command line does, as functions (the CLI is a layer over it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .backends.options import OPTIONS, options_from
from .config import check_outputs, read_config, target_paths
from .stale import Problem, target_problems
from .target import Target
from .write import Built

#: Arguments as the command line takes them (`x=float64[3]`), or as a mapping name -> spec.
Args = Mapping[str, str] | Iterable[tuple[str, str]]


def target(function: str, *, args: Args = (), dims: Mapping[str, int] | Iterable[tuple[str, int]]
           = (), ops: str | Iterable[str] = ("all",), **fields: Any) -> Target:  # fmt: skip
    """A Target from friendlier inputs: `args={"x": "float64[3]"}`, `ops="gradient,hessian"`;
    every other keyword is a field of Target (backend, outer, wrt, output, tests, batch, ...)
    or a backend option as the config spells it (`torch_mode="eager"`, `jax_export=True`)."""
    pairs = tuple(args.items()) if isinstance(args, Mapping) else tuple(args)
    sizes = tuple(dims.items()) if isinstance(dims, Mapping) else tuple(dims)
    names = ops.split(",") if isinstance(ops, str) else list(ops)
    keys = {option.key for family in OPTIONS for option in family.declared()}
    given = {key: fields.pop(key) for key in list(fields) if key in keys}
    if given:
        fields["options"] = (*fields.get("options", ()), *options_from(given, "the keywords"))
    return Target(function, args=pairs, dims=sizes,
                  ops=tuple(op.strip() for op in names if op.strip()), **fields)  # fmt: skip


def generate(
    what: Target | str,
    *,
    root: str | Path = ".",
    force: bool = False,
    write: bool = True,
    **fields: Any,
) -> tuple[Path, ...]:
    """Generate one target's module and tests (`diffgen generate`) and return their paths.

    `what` is a Target, or the function reference `package.module:qualname` with the Target's
    fields as keywords (see `target`). `root` is the project root the function is imported
    from and the paths are relative to. With write=False nothing is written (the paths are
    what would be). Raises DiffgenError, with nothing written, on any problem.
    """
    from .pipeline import generate as generated
    from .write import write_files

    chosen = what if isinstance(what, Target) else target(what, **fields)
    if isinstance(what, Target) and fields:
        raise TypeError("pass either a Target or a function reference with keywords, not both")
    files = generated(chosen, Path(root).resolve())
    if write:
        write_files(files, force)
    return tuple(file.path for file in files)


def build(
    config: str | Path = "pyproject.toml",
    *,
    every: bool = False,
    force: bool = False,
    report: Callable[[str], None] | None = None,
) -> tuple[Built, ...]:
    """`diffgen build`: regenerate the stale targets of `[tool.diffgen]` (all with every=True),
    writing every target's files or none."""
    path = Path(config)
    root = path.resolve().parent
    targets = read_config(path)
    check_outputs(targets, root)
    if not every and not any(target_problems(t, root) for t in targets):
        # all current: answered from the fingerprints, without loading the generating stages
        return tuple(Built(p, False) for t in targets for p in target_paths(t, root))
    from .pipeline import build as built

    return built(targets, root, force, every, report)


def check(config: str | Path = "pyproject.toml") -> tuple[Problem, ...]:
    """`diffgen check`: the generated files of `[tool.diffgen]` that are not current, and why
    (reads and hashes files only: imports no user code and no backend library)."""
    from .stale import check as checked

    path = Path(config)
    targets = read_config(path)
    check_outputs(targets, path.resolve().parent)
    return checked(targets, path.resolve().parent)
