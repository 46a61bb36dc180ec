"""Timing helpers shared by the benchmark scripts: medians of repeated calls, in microseconds."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def median_us(call: Callable[[], object], repeat: int = 15, budget: float = 0.02) -> float:
    """The median over `repeat` runs of the mean time of one call, each run about `budget` s."""
    call()  # warm up (and compile, for jax)
    number = max(1, int(budget / max(timeit.timeit(call, number=1), 1e-7)))
    runs = timeit.repeat(call, number=number, repeat=repeat)
    runs.sort()
    return runs[len(runs) // 2] / number * 1e6


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
