"""`diffgen bench`: generate a target with every valid backend (pair) and time it, side by side.

Each candidate module is generated in memory, written to a temporary folder and imported in this
process; every operator is then called on the same seeded arguments and timed as the median of
repeated runs, next to the hand-written baselines a user would otherwise write (baselines.py).
Every candidate is timed with numpy arguments, in jax's default configuration (x64 off), as a
numpy or scipy program calls it; jax and torch modules also with their own arrays (float64 jax
arrays with x64 on, torch tensors), converted once. Nothing here is a timed assertion: the
numbers are for people, and for `diffgen tune` (which compares the numpy rows).
"""

from __future__ import annotations

import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..backends.registry import BACKENDS, PAIRS
from ..errors import DiffgenError
from ..inspect_target import inspect_target
from ..model import Inspected
from ..operators import OPERATORS
from ..pipeline import generate
from ..plan import public_order, resolve_operators
from ..target import Target
from .baselines import INPUTS, arguments, baselines, blocking, convert, jax_x64
from .loader import load


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
    inputs: str = INPUTS["numpy"]  # the arguments' array type (and jax's x64 mode)


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


def flavour(candidate: Candidate) -> str:
    """The array type of a candidate's module: numpy, jax or torch (its inner backend's)."""
    return BACKENDS[candidate.backend].flavour


def timed(
    function: Callable[..., Any], args: Sequence[Any], repeat: int
) -> tuple[float, tuple[float, float]]:
    """One call's seconds (the first, for a new module), then the median and IQR in µs."""
    start = time.perf_counter()
    function(*args)
    first = time.perf_counter() - start
    return first, median_us(lambda: function(*args), repeat)


def measure_candidate(
    target: Target, candidate: Candidate, root: Path, folder: Path, ops: Sequence[str],
    inspected: Inspected, repeat: int,
) -> list[Measured]:  # fmt: skip
    """Generate, import and time one candidate module: with numpy arguments, then with its own
    array type (for jax and torch modules)."""
    variant = replace(target, backend=candidate.backend, outer=candidate.outer, ops=tuple(ops),
                      tests=False, output=None)  # fmt: skip
    try:
        start = time.perf_counter()
        file, *artifacts = generate(variant, root)  # artifacts: a torch aoti package
        generation = time.perf_counter() - start
        path = folder / f"{file.path.stem}_{abs(hash(candidate.label)) % 10**8}.py"
        path.write_text(file.text)
        for artifact in artifacts:
            path.with_suffix(artifact.path.suffix).write_bytes(artifact.content)
        start = time.perf_counter()
        module = load(path)
        imported = time.perf_counter() - start
    except DiffgenError as error:
        return [Measured(candidate.label, False, error=error.what)]
    kind = flavour(candidate)
    rows: list[Measured] = []
    for inputs in dict.fromkeys(("numpy", kind)):
        calls: dict[str, tuple[float, float]] = {}
        firsts = []
        with jax_x64(inputs == "jax"):  # numpy in jax's default configuration
            for op in ops:
                args = [convert(inputs, a) for a in in_signature_order(inspected, op)]
                function = blocking(getattr(module, op)) if kind == "jax" else getattr(module, op)
                first, calls[op] = timed(function, args, repeat)
                firsts.append(first)
        row = Measured(candidate.label, False, calls_us=calls, inputs=INPUTS[inputs])
        rows.append(replace(row, generation_s=generation, import_s=imported,
                            first_call_s=firsts[0]) if not rows else row)  # fmt: skip
    return rows


def in_signature_order(inspected: Inspected, op: str) -> list[Any]:
    """The seeded arguments of one operator (baselines.arguments: x, the tangent, the
    constants) in the order the generated operator takes them."""
    args = arguments(inspected, op)
    order = public_order(inspected, int(OPERATORS[op].tangent is not None))
    return [args[i] for i in order] if order else args


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
    with jax_x64(True):  # hand-written jax is jitted and timed in float64
        extra = baselines(inspected, ops) if with_baselines else {}
    with progress(len(found) + len(extra)) as step:
        with tempfile.TemporaryDirectory(prefix="diffgen-bench-") as folder:
            for candidate in found:
                step(candidate.label)
                results += measure_candidate(
                    target, candidate, root, Path(folder), ops, inspected, repeat
                )
        for label, (inputs, calls) in extra.items():
            step(label)
            measured = {}
            with jax_x64(inputs == "jax"):
                for op, call in calls.items():
                    args = [convert(inputs, a) for a in arguments(inspected, op)]
                    measured[op] = timed(call, args, repeat)[1]
            results.append(Measured(label, True, calls_us=measured, inputs=INPUTS[inputs]))
    return results


def table(results: Sequence[Measured]) -> str:
    """operator x backend: per-call time, spread and ratio to the best; then setup costs."""
    ops = list(dict.fromkeys(op for r in results for op in r.calls_us))
    lines = [
        "| operator | backend | arguments | µs per call | ± (IQR) | x best |",
        "|---|---|---|---:|---:|---:|",
    ]
    for op in ops:
        rows = sorted(
            ((r.calls_us[op], r) for r in results if op in r.calls_us), key=lambda t: t[0]
        )
        best = rows[0][0][0] if rows else 1.0
        for (median, spread), r in rows:
            name = f"{r.label} (baseline)" if r.baseline else r.label
            lines.append(
                f"| {op} | {name} | {r.inputs} | {median:.1f} | {spread:.1f}"
                f" | {median / best:.2f} |"
            )
    lines += ["", "| backend | generation s | import s | first call s |", "|---|---:|---:|---:|"]
    for r in results:
        if not r.baseline and (r.generation_s is not None or r.error):
            cells = [r.generation_s, r.import_s, r.first_call_s]
            text = " | ".join("-" if c is None else f"{c:.3f}" for c in cells)
            lines.append(f"| {r.label} | {text} |" + (f" refused: {r.error}" if r.error else ""))
    return "\n".join(lines)
