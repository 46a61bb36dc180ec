"""Which generated files are out of date, and why: `diffgen check`, and `build`'s skip.

Only reads files and hashes them (fingerprint.py): no user code, no backend library.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import target_paths
from .fingerprint import Fingerprint, fingerprint
from .target import Target
from .write import artifact_digest, read_bytes, read_stamp, read_text, recorded_artifacts

#: What each changed input is called in `check`'s report.
INPUTS = {
    "function": "the function's source",
    "target": "the target",
    "generator": "diffgen (its version, generator or templates)",
}


@dataclass(frozen=True)
class Problem:
    """A generated file that `check` finds out of date, and why."""

    path: Path
    reason: str


def file_problem(path: Path, expected: Fingerprint) -> Problem | None:
    """Why one generated file is not current, or None if it is."""
    text = read_text(path)
    if text is None:
        return Problem(path, "missing")
    found = read_stamp(text)
    if found is None:
        return Problem(path, "not written by diffgen")
    if found.edited:
        return Problem(path, "edited by hand")
    if found.inputs is None:
        return Problem(path, "stale: written by an older diffgen (fingerprint format changed)")
    changed = expected.changed(found.inputs)
    if changed:
        return Problem(path, f"stale: {' and '.join(INPUTS[c] for c in changed)} changed")
    return None


def artifact_problems(module: Path) -> tuple[Problem, ...]:
    """Why each file a current module loads from beside it (its AOTInductor package) is not
    the one the module was written with: missing, or another SHA-256."""
    problems = []
    for path, recorded in recorded_artifacts(module, read_text(module) or ""):
        data = read_bytes(path)
        if data is None:
            problems.append(Problem(path, f"missing (the module {module.name} loads it)"))
        elif artifact_digest(data) != recorded:
            problems.append(Problem(path, f"stale: not the package {module.name} was written with"))
    return tuple(problems)


def target_problems(target: Target, root: Path) -> tuple[Problem, ...]:
    """Each of the target's files that is not current."""
    expected = fingerprint(target, root)
    paths = target_paths(target, root)
    found = tuple(file_problem(path, expected) for path in paths)
    module = () if found[0] is not None else artifact_problems(paths[0])
    return tuple(problem for problem in found if problem is not None) + module


def check(targets: tuple[Target, ...], root: Path) -> tuple[Problem, ...]:
    """Compare each target's files with their fingerprints, without importing user code."""
    return tuple(problem for target in targets for problem in target_problems(target, root))


def summary(targets: tuple[Target, ...], root: Path) -> str:
    files = sum(len(target_paths(t, root)) for t in targets)
    return f"{len(targets)} targets, {files} files up to date"
