"""The jax backends' options (`--jax-export`), read and checked once (generator/options.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import DiffgenError
from ..options import BackendOptions


@dataclass(frozen=True)
class JaxOptions(BackendOptions):
    """How a jax module gets its kernels: traced on first call, or embedded jax.export artifacts."""

    family: ClassVar[str] = "jax"
    type_fix: ClassVar[str] = "fix it"

    export: bool = field(
        default=False,
        metadata={
            "help": "jax backends: embed jax.export artifacts; the module does not import the"
            " function"
        },
    )

    def misplaced(self, backend: str) -> DiffgenError:
        return DiffgenError(
            f"--jax-export does not apply to --backend {backend}",
            "it embeds jax.export artifacts, which only the jax backends make",
            "drop --jax-export (jax_export = true), or use --backend jax:forward or jax:reverse",
        )
