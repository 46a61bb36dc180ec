"""What the user asks for: one target, from the command line or from `[tool.diffgen]`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Target:
    """A function reference, its argument specs, the operators and the backend (pair) to use.

    `args` and `dims` keep the user's strings; they are parsed and checked by inspection.
    `output` is the module path relative to the project root (None: the default path).
    """

    function: str
    args: tuple[tuple[str, str], ...] = ()
    dims: tuple[tuple[str, int], ...] = ()
    wrt: str | None = None
    ops: tuple[str, ...] = ("all",)
    backend: str = "finitediff"
    outer: str | None = None
    output: str | None = None
    tests: bool = True

    @property
    def func_name(self) -> str:
        return self.function.rpartition(":")[2].rpartition(".")[2]

    def default_output(self) -> str:
        return f"generated/{self.func_name}_{self.backend.replace(':', '_')}.py"

    def canonical(self) -> str:
        """A stable text of everything that decides the generated code, for the fingerprint."""
        fields = asdict(self)
        del fields["tests"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))
