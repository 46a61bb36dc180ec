"""The `diffgen` command line: generate, build, check, backends."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .backends.registry import BACKENDS, PAIRS
from .config import read_config
from .errors import DiffgenError
from .operators import OPERATORS
from .pipeline import check, generate_and_write
from .target import Target


def name_spec(text: str) -> tuple[str, str]:
    """Parse NAME=VALUE (the value is checked later, where its meaning is known)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name.strip(), value.strip()


def name_size(text: str) -> tuple[str, int]:
    name, value = name_spec(text)
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} in {text!r} is not a whole number")
    return name, int(value)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="diffgen", description=__doc__)
    main.add_argument("--version", action="version", version=f"diffgen {__version__}")
    commands = main.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="generate one module and its tests")
    gen.add_argument("function", metavar="MODULE:FUNC")
    gen.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        type=name_spec,
        help="spec of a parameter, e.g. x=float64[10]",
    )
    gen.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=SIZE",
        type=name_size,
        help="a size named in jaxtyping annotations",
    )
    gen.add_argument("--wrt", help="the active argument (default: the first parameter)")
    gen.add_argument("--ops", required=True, help="OP[,OP...] or all")
    gen.add_argument("--backend", required=True, help=f"one of {', '.join(BACKENDS)}")
    gen.add_argument("--outer", help="outer backend of second-order operators")
    gen.add_argument("-o", "--output", help="module path (default generated/<func>_<backend>.py)")
    gen.add_argument("--no-tests", action="store_true", help="do not write the test file")
    gen.add_argument("--force", action="store_true", help="overwrite files that are not diffgen's")

    for name, text in (
        ("build", "generate every target in [tool.diffgen]"),
        ("check", "exit 1 naming each stale or hand-edited file"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--config", default="pyproject.toml", type=Path)
        if name == "build":
            command.add_argument("--force", action="store_true", help="overwrite edited files")
    commands.add_parser("backends", help="list backends, operators and valid pairs")
    return main


def backends_table() -> str:
    names = list(BACKENDS)
    width = max(len(op) for op in OPERATORS) + 2
    lines = ["operators x backends (yes: generated)", " " * width + "  ".join(names)]
    for op in OPERATORS:
        marks = [("yes" if op in BACKENDS[b].operators else "-").ljust(len(b)) for b in names]
        lines.append(op.ljust(width) + "  ".join(marks))
    lines += ["", "second-order pairs (outer over inner)"]
    lines += [f"  {outer} over {inner}" for outer, inner in PAIRS]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.command == "backends":
        print(backends_table())
        return 0
    if args.command == "generate":
        target = Target(
            function=args.function,
            args=tuple(args.arg),
            dims=tuple(args.dim),
            wrt=args.wrt,
            ops=tuple(op.strip() for op in args.ops.split(",") if op.strip()),
            backend=args.backend,
            outer=args.outer,
            output=args.output,
            tests=not args.no_tests,
        )
        for path in generate_and_write(target, Path.cwd(), args.force):
            print(f"wrote {path.relative_to(Path.cwd().resolve())}")
        return 0
    root = args.config.resolve().parent
    targets = read_config(args.config)
    if args.command == "build":
        for target in targets:
            for path in generate_and_write(target, root, args.force):
                print(f"wrote {path.relative_to(root)}")
        return 0
    problems = check(targets, root)
    for problem in problems:
        print(f"{problem.path.relative_to(root)}: {problem.reason}")
    if problems:
        print("run `diffgen build` to regenerate (--force to overwrite hand edits)")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except DiffgenError as error:
        print(f"diffgen: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
