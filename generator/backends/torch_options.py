"""The torch backends' options (`--torch-mode`, `--torch-compile`), read and checked once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import DiffgenError
from ..options import BackendOptions

#: graph: the traced aten graphs printed into the module; eager: torch.func on every call.
MODES = ("graph", "eager")


@dataclass(frozen=True)
class TorchOptions(BackendOptions):
    """How a torch module runs its kernels: traced graphs or torch.func, compiled or not."""

    family: ClassVar[str] = "torch"
    type_fix: ClassVar[str] = 'write torch_mode = "graph" or "eager", torch_compile = true or false'

    mode: str = field(
        default="graph",
        metadata={
            "choices": MODES,
            "help": "torch backends: graph writes the traced aten graphs (default); eager imports"
            " the function and runs torch.func on every call",
        },
    )
    compile: bool = field(
        default=False,
        metadata={"help": "torch backends: wrap each operator's kernel in torch.compile"},
    )

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DiffgenError(
                f"--torch-mode {self.mode!r} is not a torch mode",
                "graph writes the traced derivative graphs into the module; eager imports the"
                " function and runs torch.func on every call",
                "pass --torch-mode graph or --torch-mode eager",
            )

    def misplaced(self, backend: str) -> DiffgenError:
        option = "--torch-compile" if self.compile else "--torch-mode eager"
        return DiffgenError(
            f"{option} does not apply to --backend {backend}",
            "it is an option of the torch backends",
            f"drop {option}, or use --backend torch:forward or torch:reverse",
        )
