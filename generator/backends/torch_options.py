"""The torch backends' options (`--torch-mode`, `--torch-compile`), read and checked once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import DiffgenError
from ..options import BackendOptions

#: graph: the traced aten graphs printed into the module; eager: torch.func on every call;
#: aoti: the graphs, and each compiled by AOTInductor into a package beside the module.
MODES = ("graph", "eager", "aoti")


@dataclass(frozen=True)
class TorchOptions(BackendOptions):
    """How a torch module runs its kernels: traced graphs or torch.func, compiled or not."""

    family: ClassVar[str] = "torch"
    type_fix: ClassVar[str] = (
        'write torch_mode = "graph", "eager" or "aoti", torch_compile = true or false'
    )

    mode: str = field(
        default="graph",
        metadata={
            "choices": MODES,
            "help": "torch backends: graph writes the traced aten graphs (default); eager imports"
            " the function and runs torch.func on every call; aoti also compiles each graph with"
            " AOTInductor (needs a C++ compiler) into a .pt2 package beside the module, loaded"
            " at import",
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
                " function and runs torch.func on every call; aoti compiles the graphs ahead of"
                " time into a package beside the module",
                "pass --torch-mode graph, eager or aoti",
            )
        if self.compile and self.mode == "aoti":
            raise DiffgenError(
                "--torch-compile does not apply to --torch-mode aoti",
                "an aoti module runs graphs compiled at generation time; torch.compile would"
                " compile them again at run time",
                "drop --torch-compile (torch_compile = true), or use --torch-mode graph",
            )

    def misplaced(self, backend: str) -> DiffgenError:
        option = "--torch-compile" if self.compile else f"--torch-mode {self.mode}"
        return DiffgenError(
            f"{option} does not apply to --backend {backend}",
            "it is an option of the torch backends",
            f"drop {option}, or use --backend torch:forward or torch:reverse",
        )
