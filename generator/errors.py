"""The one exception type of diffgen: what went wrong, why, and what to do instead."""

from __future__ import annotations


class DiffgenError(Exception):
    """A usage, spec, tracing or backend error; the command line prints it and exits 2."""

    def __init__(self, what: str, why: str, fix: str) -> None:
        super().__init__(what, why, fix)
        self.what = what
        self.why = why
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.what}\n  why: {self.why}\n  fix: {self.fix}"
