"""The `diffgen` command line: generate, build, check, backends, bench and tune.

Only light modules are imported here; the pipeline (and with it numpy, sympy, jax, torch) is
imported inside `run` by the commands that generate, so that --version, backends and check
start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from .api import build, check, generate
from .backends.options import OPTIONS, options_from
from .backends.registry import ENTRIES, PAIRS
from .config import read_config
from .errors import DiffgenError
from .operators import OPERATORS
from .stale import summary
from .target import Target
from .version import __version__

REPORT = (
    "this is a bug in diffgen, not in your input: please report it (an issue on diffgen's"
    " repository) with the command you ran and this message; DIFFGEN_TRACEBACK=1 prints the"
    " traceback"
)


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


def domain(text: str) -> tuple[float, float]:
    """Parse LO,HI."""
    lo, sep, hi = text.partition(",")
    try:
        if not sep:
            raise ValueError(text)
        return float(lo), float(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not LO,HI (e.g. 1.5,2.5)") from None


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="diffgen", description=__doc__)
    main.add_argument("--version", action="version", version=f"diffgen {__version__}")
    commands = main.add_subparsers(dest="command", required=True)

    specs = argparse.ArgumentParser(add_help=False)  # what generate and bench share
    specs.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="NAME=SPEC",
        type=name_spec,
        help="spec of a parameter, e.g. x=float64[10]",
    )
    specs.add_argument(
        "--dim",
        action="append",
        default=[],
        metavar="NAME=SIZE",
        type=name_size,
        help="a size named in jaxtyping annotations",
    )
    specs.add_argument("--wrt", help="the active argument (default: the first parameter)")
    specs.add_argument(
        "--domain",
        type=domain,
        metavar="LO,HI",
        help="draw the probe's and the generated tests' points uniformly from LO to HI"
        " (default 0.1,0.9; write --domain=-1,1 for a negative LO)",
    )

    gen = commands.add_parser("generate", parents=[specs], help="generate one module and its tests")
    gen.add_argument("function", metavar="MODULE:FUNC")
    gen.add_argument("--ops", required=True, help="OP[,OP...] or all")
    gen.add_argument("--backend", required=True, help=f"one of {', '.join(ENTRIES)}")
    gen.add_argument("--outer", help="outer backend of second-order operators")
    gen.add_argument(
        "-o",
        "--output",
        help="module path (default generated/<func>_<backend>.py; with an --outer other than"
        " --backend generated/<func>_<outer>_over_<backend>.py)",
    )
    gen.add_argument("--no-tests", action="store_true", help="do not write the test file")
    gen.add_argument(
        "--wrt-first",
        action="store_true",
        help="operators take the active argument first, then its tangent, then the constants"
        " (the order of diffgen 0.1.0) instead of the function's own argument order",
    )
    for option in (option for family in OPTIONS for option in family.declared()):
        if option.choices:
            gen.add_argument(
                option.flag, choices=option.choices, default=option.default, help=option.help
            )
        elif isinstance(option.default, bool):
            gen.add_argument(option.flag, action="store_true", help=option.help)
        else:  # a free string: a path
            gen.add_argument(option.flag, default=option.default, metavar="PATH", help=option.help)
    gen.add_argument(
        "--batch",
        type=int,
        default=0,
        metavar="B",
        help="also generate pushforward_batch, pullback_batch and hvp_batch (of the operators"
        " in --ops) for B tangents at once, stacked on a leading axis",
    )
    gen.add_argument("--force", action="store_true", help="overwrite files that are not diffgen's")

    for name, text in (
        ("build", "generate the stale targets of [tool.diffgen] (all of them or none)"),
        ("check", "exit 1 naming each stale or hand-edited file, and which input changed"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", default="pyproject.toml", type=Path)
        if name == "build":
            command.add_argument("--force", action="store_true", help="overwrite edited files")
            command.add_argument(
                "--all",
                action="store_true",
                dest="every",
                help="regenerate every target, not only the stale ones",
            )
    commands.add_parser("backends", help="list backends, operators and valid pairs")

    timing = commands.add_parser(
        "bench", parents=[specs], help="time a target with every valid backend and the baselines"
    )
    timing.add_argument("function", metavar="MODULE:FUNC|TARGET", help="or a target's module name")
    timing.add_argument("--ops", default="all", help="OP[,OP...] or all (default)")
    timing.add_argument("--json", action="store_true", help="print the measurements as JSON")
    tuning = commands.add_parser("tune", help="bench a target and write the fastest backend back")
    tuning.add_argument("function", metavar="TARGET", help="a [tool.diffgen] target's module name")
    tuning.add_argument(
        "--any-flavour", action="store_true", help="also try backends of another array type"
    )
    for command in (timing, tuning):
        command.add_argument("--config", default="pyproject.toml", type=Path)
        command.add_argument("--repeat", type=int, default=15, help="timed runs per operator")
    return main


def backends_table() -> str:
    names = list(ENTRIES)
    width = max(len(op) for op in OPERATORS) + 2
    lines = ["operators x backends (yes: generated)", " " * width + "  ".join(names)]
    for op in OPERATORS:
        marks = [("yes" if op in ENTRIES[b].operators else "-").ljust(len(b)) for b in names]
        lines.append(op.ljust(width) + "  ".join(marks))
    lines += [
        "",
        "second-order pairs: outer (rows) x inner (columns); yes: --outer ROW --backend COLUMN",
    ]
    lines.append(" " * (width + 6) + "  ".join(names))
    for outer in names:
        marks = [("yes" if (outer, inner) in PAIRS else "-").ljust(len(inner)) for inner in names]
        lines.append(f"{outer}".ljust(width + 6) + "  ".join(marks))
    return "\n".join(line.rstrip() for line in lines)


def run_bench(args: argparse.Namespace) -> int:
    """Bench MODULE:FUNC with the given specs, or a [tool.diffgen] target by its module name."""
    from .measure.bench import bench, table
    from .measure.tune import find_target

    if ":" in args.function:
        root = Path.cwd()
        ops = tuple(op.strip() for op in args.ops.split(",") if op.strip())
        target = Target(args.function, args=tuple(args.arg), dims=tuple(args.dim), wrt=args.wrt,
                        ops=ops, domain=args.domain)  # fmt: skip
    else:
        root = args.config.resolve().parent
        targets = read_config(args.config)
        target = targets[find_target(targets, args.function, root)]
    results = bench(target, root, repeat=args.repeat)
    if args.json:
        print(json.dumps([asdict(r) for r in results], indent=1))
    else:
        print(table(results))
    return 0


def run_generate(args: argparse.Namespace) -> int:
    paths = generate(
        args.function,
        args=tuple(args.arg),
        dims=tuple(args.dim),
        wrt=args.wrt,
        ops=args.ops,
        backend=args.backend,
        outer=args.outer,
        output=args.output,
        tests=not args.no_tests,
        options=options_from(vars(args), "the command line"),
        batch=args.batch,
        domain=args.domain,
        wrt_first=args.wrt_first,
        root=Path.cwd(),
        force=args.force,
    )
    for path in paths:
        print(f"wrote {path.relative_to(Path.cwd().resolve())}")
    for line in sparse_summary(paths[0]):
        print(line)
    return 0


def sparse_summary(module: Path) -> list[str]:
    """What a sparse module's docstring says of its matrices: pattern, mode, colors, cost."""
    text = " ".join(module.read_text(encoding="utf-8").split()) if module.is_file() else ""
    return [
        f"sparse {quantity}: {found}"
        for quantity, found in re.findall(
            r"The (jacobian|hessian) is sparse: (.*?)\. \1 returns", text
        )
    ]


def progress(line: str) -> None:
    """Progress of a long build on stderr, where a person watches it."""
    if sys.stderr.isatty():
        print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.command == "backends":
        print(backends_table())
        return 0
    if args.command == "generate":
        return run_generate(args)
    if args.command == "bench":
        return run_bench(args)
    if args.command == "tune":
        from .measure.tune import tune

        print(tune(args.function, args.config, args.repeat, args.any_flavour))
        return 0
    root = args.config.resolve().parent
    if args.command == "build":
        try:
            built = build(args.config, every=args.every, force=args.force, report=progress)
        finally:
            progress("")
        for file in built:
            print(f"{'wrote' if file.wrote else 'unchanged'} {file.path.relative_to(root)}")
        return 0
    problems = check(args.config)
    for problem in problems:
        print(f"{problem.path.relative_to(root)}: {problem.reason}")
    if problems:
        print("run `diffgen build` to regenerate (--force to overwrite hand edits)")
        return 1
    print(summary(read_config(args.config), root))
    return 0


def one_line(error: BaseException) -> str:
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= 300 else text[:297] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except DiffgenError as error:
        print(f"diffgen: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as error:  # user code run by bench or tune; generate reports its own
        print(f"diffgen: error: user code called sys.exit({error.code!r}); nothing was"
              " written", file=sys.stderr)  # fmt: skip
        return 2
    except Exception as error:  # the last safety net: no traceback reaches the user
        if os.environ.get("DIFFGEN_TRACEBACK"):
            raise
        print(f"diffgen: internal error: {one_line(error)}\n  {REPORT}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
