"""`diffgen bench`: generate a target with every valid backend (pair) and time it, side by side.

Each candidate module is generated in memory, written to a temporary folder and imported in this
process; every operator is then called on the same seeded arguments (converted once to the
module's own array type) and timed as the median of repeated runs, next to the hand-written
baselines a user would otherwise write (baselines.py). Nothing here is a timed assertion: the
numbers are for people, and for `diffgen tune`.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .backends.registry import BACKENDS, PAIRS
from .baselines import arguments, baselines, blocking, convert
from .errors import DiffgenError
from .inspect_target import Inspected, inspect_target
from .operators import OPERATORS
from .pipeline import generate
from .plan import resolve_operators
from .target import Target


@dataclass(frozen=True)
class Candidate:
    """A backend, or an inner backend with an outer one for the second-order operators."""

    backend: str
    outer: str | None = None

    @property
    def label(self) -> str:
        if self.outer in (None, self.backend):
            return self.backend
        return f"{self.outer} over {self.backend}"


@dataclass(frozen=True)
class Measured:
    """One candidate's (or baseline's) costs: setup times in seconds, calls in microseconds."""

    label: str
    baseline: bool
    generation_s: float | None = None
    import_s: float | None = None
    first_call_s: float | None = None
    calls_us: dict[str, tuple[float, float]] = field(default_factory=dict)  # op -> (median, IQR)
    error: str | None = None


def candidates(inspected: Inspected, ops: Sequence[str]) -> list[Candidate]:
    """Every backend (pair) that can generate all the operators."""
    second = any(OPERATORS[op].order == 2 for op in ops)
    found = []
    for name, backend in BACKENDS.items():
        if not all(op in backend.operators for op in ops):
            continue
        if not second:
            found.append(Candidate(name))
        found += [Candidate(name, outer) for outer, inner in PAIRS if inner == name and second]
    return found


def median_us(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and interquartile range of one call's time, over `repeat` runs of ~10 ms each."""
    number = max(1, int(0.01 / max(timeit.timeit(call, number=1), 1e-7)))
    runs = sorted(t / number * 1e6 for t in timeit.repeat(call, number=number, repeat=repeat))
    return runs[len(runs) // 2], runs[(3 * len(runs)) // 4] - runs[len(runs) // 4]


@contextmanager
def progress(total: int) -> Iterator[Callable[[str], None]]:
    """A one-line progress report on stderr: `[3/8] jax:reverse`."""
    done = [0]

    def step(what: str) -> None:
        done[0] += 1
        print(f"\r\033[Kdiffgen bench [{done[0]}/{total}] {what}", end="", file=sys.stderr)

    try:
        yield step
    finally:
        print("\r\033[K", end="", file=sys.stderr)


def load(path: Path) -> ModuleType:
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_candidate(
    target: Target, candidate: Candidate, root: Path, folder: Path, ops: Sequence[str],
    inspected: Inspected, repeat: int, convert: Callable[[str, np.ndarray], Any],
) -> Measured:  # fmt: skip
    """Generate, import and time one candidate module."""
    variant = replace(target, backend=candidate.backend, outer=candidate.outer, ops=tuple(ops),
                      tests=False, output=None)  # fmt: skip
    try:
        start = time.perf_counter()
        (file,) = generate(variant, root)
        generation = time.perf_counter() - start
        path = folder / f"{file.path.stem}_{abs(hash(candidate.label)) % 10**8}.py"
        path.write_text(file.text)
        start = time.perf_counter()
        module = load(path)
        imported = time.perf_counter() - start
    except DiffgenError as error:
        return Measured(candidate.label, False, error=error.what)
    flavour = BACKENDS[candidate.backend].flavour
    calls: dict[str, tuple[float, float]] = {}
    first = 0.0
    for op in ops:
        args = [convert(flavour, a) for a in arguments(inspected, op)]
        function = getattr(module, op)
        function = blocking(function) if flavour == "jax" else function
        start = time.perf_counter()
        function(*args)
        first += time.perf_counter() - start if op == ops[0] else 0.0
        calls[op] = median_us(lambda f=function, a=args: f(*a), repeat)  # type: ignore[misc]
    return Measured(candidate.label, False, generation, imported, first, calls)


def bench(
    target: Target,
    root: Path,
    repeat: int = 15,
    with_baselines: bool = True,
    skip: Sequence[str] = (),
) -> list[Measured]:
    """Measure every candidate backend (pair) of the target but those in `skip`, and baselines."""
    inspected = inspect_target(target, root)
    ops = tuple(op.name for op in resolve_operators(inspected, tuple(OPERATORS)))
    found = [c for c in candidates(inspected, ops) if c.label not in skip]
    results = []
    folder = Path(tempfile.mkdtemp(prefix="diffgen-bench-"))
    extra = baselines(inspected, ops) if with_baselines else {}
    with progress(len(found) + len(extra)) as step:
        for candidate in found:
            step(candidate.label)
            results.append(measure_candidate(target, candidate, root, folder, ops, inspected,
                                             repeat, convert))  # fmt: skip
        for label, (flavour, calls) in extra.items():
            step(label)
            measured = {}
            for op, call in calls.items():
                args = [convert(flavour, a) for a in arguments(inspected, op)]
                measured[op] = median_us(lambda c=call, a=args: c(*a), repeat)  # type: ignore[misc]
            results.append(Measured(label, True, calls_us=measured))
    return results


def table(results: Sequence[Measured]) -> str:
    """operator x backend: per-call time, spread and ratio to the best; then setup costs."""
    ops = list(dict.fromkeys(op for r in results for op in r.calls_us))
    lines = ["| operator | backend | µs per call | ± (IQR) | x best |", "|---|---|---:|---:|---:|"]
    for op in ops:
        timed = sorted((r.calls_us[op], r) for r in results if op in r.calls_us)
        best = timed[0][0][0] if timed else 1.0
        for (median, spread), r in timed:
            name = f"{r.label} (baseline)" if r.baseline else r.label
            lines.append(f"| {op} | {name} | {median:.1f} | {spread:.1f} | {median / best:.2f} |")
    lines += ["", "| backend | generation s | import s | first call s |", "|---|---:|---:|---:|"]
    for r in results:
        if not r.baseline:
            cells = [r.generation_s, r.import_s, r.first_call_s]
            text = " | ".join("-" if c is None else f"{c:.3f}" for c in cells)
            lines.append(f"| {r.label} | {text} |" + (f" refused: {r.error}" if r.error else ""))
    return "\n".join(lines)
