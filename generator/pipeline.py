"""The stages in order: inspect -> plan -> render -> format -> verify -> write; and `check`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import output_path
from .formatting import format_source
from .inspect_target import inspect_target, source_sha256, split_reference
from .plan import build_plan
from .render import render_module, render_tests
from .target import Target
from .verify import build_test_plan
from .write import GeneratedFile, read_stamp, stamp, write_files


def fingerprint(target: Target, source: str) -> str:
    """What decides a module's content: generator version, target and the function's source."""
    text = f"{__version__}\n{target.canonical()}\n{source}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def test_path(module: Path) -> Path:
    return module.with_name(f"test_{module.name}")


def generate(target: Target, root: Path) -> tuple[GeneratedFile, ...]:
    """Run every stage but the write: the module and (unless disabled) its tests, in memory."""
    split_reference(target.function)  # a malformed reference is the first thing to report
    path = output_path(target, root)
    inspected = inspect_target(target, root)
    inputs = fingerprint(target, inspected.source_sha256)
    plan = build_plan(inspected, path.stem, inputs)
    module = format_source(render_module(plan), path.name)
    files = [GeneratedFile(path, stamp(module, __version__, target.function, inputs))]
    if target.tests:
        tests = format_source(render_tests(build_test_plan(plan, inspected)), test_path(path).name)
        files.append(
            GeneratedFile(test_path(path), stamp(tests, __version__, target.function, inputs))
        )
    return tuple(files)


def generate_and_write(target: Target, root: Path, force: bool) -> tuple[Path, ...]:
    files = generate(target, root)
    write_files(files, force)
    return tuple(file.path for file in files)


@dataclass(frozen=True)
class Problem:
    """A generated file that `check` finds out of date, and why."""

    path: Path
    reason: str


def check(targets: tuple[Target, ...], root: Path) -> tuple[Problem, ...]:
    """Compare each target's files with their fingerprints, without importing user code."""
    problems = []
    for target in targets:
        path = output_path(target, root)
        module, _ = split_reference(target.function)
        expected = fingerprint(target, source_sha256(module, root))
        for file in (path, test_path(path)) if target.tests else (path,):
            found = read_stamp(file.read_text()) if file.exists() else None
            if not file.exists():
                problems.append(Problem(file, "missing"))
            elif found is None:
                problems.append(Problem(file, "not written by diffgen"))
            elif found.edited:
                problems.append(Problem(file, "edited by hand"))
            elif found.inputs != expected:
                problems.append(
                    Problem(file, "stale: the function's source, the target or diffgen changed")
                )
    return tuple(problems)
