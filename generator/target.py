"""What the user asks for: one target, from the command line or from `[tool.diffgen]`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .errors import DiffgenError


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
    jax_export: bool = False  # embed jax.export artifacts instead of importing the function
    torch_mode: str = "graph"  # torch backends: "graph" (traced aten code) or "eager" (torch.func)
    torch_compile: bool = False  # torch backends: wrap the kernels in torch.compile
    batch: int = 0  # B > 0: also pushforward_batch, pullback_batch, hvp_batch for B tangents

    def __post_init__(self) -> None:
        self._check_torch_options()
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 0:
            raise DiffgenError(
                f"--batch {self.batch!r} is not a batch size",
                "it is the number of tangents the *_batch operators take at once, fixed at"
                " generation time like every other shape",
                "pass a positive integer, e.g. --batch 8 (batch = 8), or leave it out",
            )
        if self.jax_export and not self.backend.startswith("jax:"):
            raise DiffgenError(
                f"--jax-export does not apply to --backend {self.backend}",
                "it embeds jax.export artifacts, which only the jax backends make",
                "drop --jax-export (jax_export = true), or use --backend jax:forward or"
                " jax:reverse",
            )

    def _check_torch_options(self) -> None:
        if self.torch_mode not in ("graph", "eager"):
            raise DiffgenError(
                f"--torch-mode {self.torch_mode!r} is not a torch mode",
                "graph writes the traced derivative graphs into the module; eager imports the"
                " function and runs torch.func on every call",
                "pass --torch-mode graph or --torch-mode eager",
            )
        if (self.torch_mode != "graph" or self.torch_compile) and not self.backend.startswith(
            "torch:"
        ):
            option = "--torch-compile" if self.torch_compile else "--torch-mode eager"
            raise DiffgenError(
                f"{option} does not apply to --backend {self.backend}",
                "it is an option of the torch backends",
                f"drop {option}, or use --backend torch:forward or torch:reverse",
            )

    @property
    def func_name(self) -> str:
        return self.function.rpartition(":")[2].rpartition(".")[2]

    def default_output(self) -> str:
        """`generated/<func>_<backend>.py`; for a pair across frameworks
        `generated/<func>_<outer>_over_<backend>.py`, so that it never takes the inner's name."""
        name = self.backend
        if self.outer and self.outer.partition(":")[0] != self.backend.partition(":")[0]:
            name = f"{self.outer}_over_{self.backend}"
        return f"generated/{self.func_name}_{name.replace(':', '_')}.py"

    def canonical(self) -> str:
        """A stable text of everything that decides the generated code, for the fingerprint."""
        fields = asdict(self)
        del fields["tests"]
        for name, default in (("torch_mode", "graph"), ("torch_compile", False), ("batch", 0)):
            if fields[name] == default:  # so that targets without them keep their fingerprints
                del fields[name]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))
