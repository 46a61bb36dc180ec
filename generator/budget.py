"""Long phases of generation: progress on stderr every few seconds, and an optional deadline.

A phase (`with phase("exact references of loss", seconds=20.0):`) is entered around work that can
run long (a symbolic trace, symbolic derivatives, references, black on a large file). The hot
loops of that work call `tick()`: it prints `diffgen: <phase>: <elapsed> s` at most every
`REPORT_EVERY` seconds and, past the phase's deadline, raises `OverBudget`, which the caller turns
into a stated fallback. Phases nest; a deadline applies to everything inside it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .errors import DiffgenError

#: Seconds between two progress lines of one phase.
REPORT_EVERY = 2.0


class OverBudget(DiffgenError):
    """A phase ran past its deadline."""


@dataclass
class Phase:
    """One phase: its name, when it started, when it must end, and when it last reported."""

    name: str
    deadline: float | None
    start: float = field(default_factory=time.monotonic)
    last: float = 0.0
    detail: str = ""

    def __post_init__(self) -> None:
        self.last = self.start


_CURRENT: ContextVar[tuple[Phase, ...]] = ContextVar("diffgen_phases", default=())


@contextmanager
def phase(name: str, seconds: float | None = None) -> Iterator[Phase]:
    """Run a block as a named phase, with a deadline `seconds` from now (None: no deadline)."""
    now = time.monotonic()
    current = Phase(name, None if seconds is None else now + seconds, now)
    token = _CURRENT.set((*_CURRENT.get(), current))
    try:
        yield current
    finally:
        _CURRENT.reset(token)


def tick(detail: str = "") -> None:
    """Report the innermost phase if it is due, and raise OverBudget past any deadline."""
    phases = _CURRENT.get()
    if not phases:
        return
    now = time.monotonic()
    innermost = phases[-1]
    if detail:
        innermost.detail = detail
    if now - innermost.last > REPORT_EVERY:
        innermost.last = now
        suffix = f" ({innermost.detail})" if innermost.detail else ""
        print(
            f"diffgen: {innermost.name}: {now - innermost.start:.0f} s{suffix}",
            file=sys.stderr,
            flush=True,
        )
    for outer in phases:
        if outer.deadline is not None and now > outer.deadline:
            raise OverBudget(
                f"{outer.name} ran past its budget of {outer.deadline - outer.start:.0f} s",
                "the work grows with the size of the symbolic expressions",
                "it falls back to a cheaper route",
            )
