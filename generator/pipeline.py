"""The stages in order: inspect -> plan (compose, plan, testplan) -> render -> format -> write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .compose import build_plan
from .config import check_outputs, output_path, target_paths, test_path
from .errors import DiffgenError
from .fingerprint import fingerprint
from .formatting import format_source
from .inspect_target import inspect_target
from .operators import OPERATORS
from .plan import resolve_operators
from .render import render_module, render_tests
from .stale import Problem, check, target_problems
from .target import Target, split_reference
from .testplan import build_test_plan
from .version import __version__
from .write import Built, GeneratedFile, stamp, write_files

__all__ = ["Problem", "build", "check", "generate", "generate_and_write", "test_path"]


@contextmanager
def user_exits(target: Target) -> Iterator[None]:
    """Turn a `sys.exit()` in the user's code (at import, in the probe, while tracing or
    computing references) into an error; KeyboardInterrupt still interrupts."""
    try:
        yield
    except SystemExit as error:
        raise DiffgenError(
            f"{target.function} called sys.exit({error.code!r}) while diffgen generated it",
            "diffgen imports the module and calls the function, and the call ended the"
            " process instead of returning (or raising an exception)",
            'guard the module\'s script code with `if __name__ == "__main__":`, and raise'
            " an exception instead of exiting inside the function",
        ) from error


def refuse_idle_outer(target: Target, operators: tuple[str, ...]) -> None:
    """Refuse an --outer other than --backend with listed operators that are all first order
    (with --ops all, an outer applies to whichever second-order operators fit, possibly none;
    an outer equal to the backend is the default and changes nothing)."""
    if "all" in target.ops or target.outer in (None, target.backend):
        return
    if all(OPERATORS[op].order == 1 for op in operators):
        raise DiffgenError(
            f"--outer {target.outer} has nothing to do",
            f"the outer backend computes second-order operators, and {', '.join(operators)}"
            " are all first order",
            "drop --outer (outer = ...), or add hvp, hessian or second_derivative to --ops",
        )


def generate(target: Target, root: Path) -> tuple[GeneratedFile, ...]:
    """Run every stage but the write: the module and (unless disabled) its tests, in memory."""
    split_reference(target.function)  # a malformed reference is the first thing to report
    path = output_path(target, root)
    with user_exits(target):
        inspected = inspect_target(target, root)
        refuse_idle_outer(
            target, tuple(op.name for op in resolve_operators(inspected, tuple(OPERATORS)))
        )
        inputs = fingerprint(target, root)
        plan = build_plan(inspected, path.stem, inputs.combined)
        module = format_source(render_module(plan), path.name)
        files = [GeneratedFile(path, stamp(module, __version__, target.function, inputs))]
        files += [
            GeneratedFile(path.with_suffix(suffix), "", data)
            for view in plan.views
            for suffix, data in view.backend_plan.artifacts
        ]
        if target.tests:
            tests = build_test_plan(plan, inspected)
            text = format_source(render_tests(tests), test_path(path).name)
            files.append(
                GeneratedFile(test_path(path), stamp(text, __version__, target.function, inputs))
            )
    return tuple(files)


def generate_and_write(target: Target, root: Path, force: bool) -> tuple[Path, ...]:
    files = generate(target, root)
    write_files(files, force)
    return tuple(file.path for file in files)


def failed(failures: list[tuple[str, DiffgenError]], total: int) -> DiffgenError:
    """One error for every failing target of a build."""
    nothing = "no file of any target was written (build writes all targets' files or none)"
    if len(failures) == 1:
        where, error = failures[0]
        return DiffgenError(f"{where}: {error.what}", error.why, f"{error.fix}; {nothing}")
    lines = [f"{where}: {error.what}\n    why: {error.why}\n    fix: {error.fix}"
             for where, error in failures]  # fmt: skip
    return DiffgenError(
        f"{len(failures)} of {total} targets failed:\n  " + "\n  ".join(lines),
        nothing,
        "fix each target above, then run diffgen build again",
    )


def build(
    targets: tuple[Target, ...],
    root: Path,
    force: bool,
    every: bool,
    report: Callable[[str], None] | None = None,
) -> tuple[Built, ...]:
    """Generate the stale targets (every target with `every`) in memory, then write all their
    files in one step, or none if any target fails (every failure is reported together)."""
    check_outputs(targets, root)
    planned: list[tuple[GeneratedFile, ...] | tuple[Path, ...]] = []
    failures: list[tuple[str, DiffgenError]] = []
    for index, target in enumerate(targets):
        try:
            if not every and not target_problems(target, root):
                planned.append(target_paths(target, root))
                continue
            if report is not None:
                report(f"diffgen build [{index + 1}/{len(targets)}] {target.function}")
            planned.append(generate(target, root))
        except DiffgenError as error:
            failures.append((f"target {index + 1} ({target.function})", error))
    if failures:
        raise failed(failures, len(targets))
    files = tuple(f for group in planned for f in group if isinstance(f, GeneratedFile))
    wrote = dict(zip((f.path for f in files), write_files(files, force), strict=True))
    return tuple(
        Built(item, False) if isinstance(item, Path) else Built(item.path, wrote[item.path])
        for group in planned
        for item in group
    )
