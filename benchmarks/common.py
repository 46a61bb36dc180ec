"""What every benchmark section shares: the machine, markdown tables, and `diffgen bench` runs.

Timing is `generator.measure.bench`'s alone (`median_us`, `bench`, `Measured`): a section picks the
candidates and baselines it compares and lays them out; it never times calls its own way.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from generator.inspect_target import inspect_target  # noqa: E402
from generator.measure.baselines import arguments, convert  # noqa: E402
from generator.measure.bench import Measured, bench, candidates, median_us  # noqa: E402
from generator.model import Inspected  # noqa: E402
from generator.operators import OPERATORS  # noqa: E402
from generator.pipeline import generate  # noqa: E402
from generator.plan import resolve_operators  # noqa: E402
from generator.target import Target  # noqa: E402

REPEAT = 15  # timed runs of ~10 ms per call measured, as `diffgen bench`'s default


@dataclass(frozen=True)
class Section:
    """One README section's text, and (if longer) its text in benchmarks/RESULTS.md."""

    readme: str
    results: str | None = None


def machine() -> str:
    """The machine and library versions, for the first sentence of every section."""
    libraries = ", ".join(
        f"{name} {version(name)}" for name in ("numpy", "sympy", "jax", "torch") if found(name)
    )
    return (
        f"{platform.machine()} Linux, {cpu()} ({os.cpu_count()} cores, no GPU used),"
        f" Python {platform.python_version()}, {libraries}"
    )


def cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def found(name: str) -> bool:
    try:
        version(name)
    except Exception:  # not installed
        return False
    return True


def heading(only: str, how: str) -> str:
    """The sentence that opens a section: the command that wrote it, the machine, the method."""
    command = ".venv/bin/python benchmarks/run.py" + (f" --only {only}" if only else "")
    return f"Written by `{command}` on {machine()}; {how}"


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> str:
    """A markdown table; `align` has one letter per column, `r` to right-align (numbers)."""
    rules = ["---:" if a == "r" else "---" for a in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rules) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def measure(
    target: Target, labels: Sequence[str], repeat: int = REPEAT, with_baselines: bool = True
) -> dict[str, Measured]:
    """`diffgen bench` of the target limited to the candidates named: label -> Measured."""
    inspected = inspect_target(target, ROOT)
    ops = tuple(op.name for op in resolve_operators(inspected, tuple(OPERATORS)))
    skip = [c.label for c in candidates(inspected, ops) if c.label not in labels]
    results = bench(target, ROOT, repeat=repeat, with_baselines=with_baselines, skip=skip)
    for result in results:
        if result.error:
            raise RuntimeError(f"{result.label} refused {target.function}: {result.error}")
    return {result.label: result for result in results}


def time_call(
    inspected: Inspected, op: str, flavour: str, call: Callable[..., Any], flat: bool = False
) -> tuple[float, float]:
    """A baseline of a section's own, timed as `diffgen bench` times its baselines, on the same
    arguments (flattened beforehand if `flat`)."""
    args = [convert(flavour, a.reshape(-1) if flat else a) for a in arguments(inspected, op)]
    call(*args)  # warm up
    return median_us(partial(call, *args), REPEAT)


def write_module(target: Target, path: Path) -> float:
    """Generate the target's module (without tests) into `path`; the seconds it took."""
    start = time.perf_counter()
    (file,) = generate(target, ROOT)
    seconds = time.perf_counter() - start
    path.write_text(file.text)
    return seconds


def ratio(slow: float, fast: float) -> str:
    return f"{slow / fast:.2f}x"
