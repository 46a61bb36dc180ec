"""The sparse options of a target (`--sparse`, `--sparsity PATH`, `--sparse-mode`), read once.

They are declared like a backend family's options (generator/options.py), so the command line,
`[tool.diffgen]` and the Python API read and type-check them in one place and they enter the
target's digest; but they apply to every backend, under keys of their own (no family prefix).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

from .errors import DiffgenError
from .options import BackendOptions, Option

#: `sparse_mode` values, and the coloring of a Jacobian each asks for (a Hessian is always
#: star-colored: it is symmetric).
MODES = {"auto": "auto", "forward": "column", "reverse": "row"}


@dataclass(frozen=True)
class SparseOptions(BackendOptions):
    """Whether `jacobian` and `hessian` return sparse matrices, and of which pattern."""

    family: ClassVar[str] = "sparse"
    type_fix: ClassVar[str] = (
        'write sparse = true, sparsity = "pattern.npz" and sparse_mode = "auto" (or forward,'
        " reverse)"
    )
    #: the config key (and flag) of each field
    KEYS: ClassVar[dict[str, str]] = {
        "enabled": "sparse",
        "pattern": "sparsity",
        "mode": "sparse_mode",
    }

    enabled: bool = field(
        default=False,
        metadata={
            "help": "jacobian and hessian return sparse matrices of a pattern detected at"
            " generation time, evaluated with one product per color"
        },
    )
    pattern: str = field(
        default="",
        metadata={
            "help": "PATH: a scipy.sparse .npz file holding the pattern of the Jacobian (or"
            " Hessian) instead of the detected one; implies --sparse",
            "metavar": "PATH",
        },
    )
    mode: str = field(
        default="auto",
        metadata={
            "help": "how a sparse Jacobian is colored: columns (forward, JVPs), rows (reverse,"
            " VJPs), or whichever takes fewer colors (auto)",
            "choices": tuple(MODES),
        },
    )

    @classmethod
    def declared(cls) -> tuple[Option, ...]:
        """The options under their own keys: sparse, sparsity, sparse_mode."""
        found = []
        for f in fields(cls):
            default: bool | str = f.default  # type: ignore[assignment]  # every field has one
            choices = tuple(f.metadata.get("choices", ()))
            found.append(Option(cls.KEYS[f.name], f.name, default, choices, f.metadata["help"]))
        return tuple(found)

    @property
    def on(self) -> bool:
        """Whether the matrices are sparse: --sparse, or a pattern file (which implies it)."""
        return self.enabled or bool(self.pattern)

    def check_backend(self, backend: str) -> None:
        """Sparse options apply to every backend; whether one can color is decided when the
        module is planned (generator/sparse/plan.py). A mode without --sparse is refused."""
        if self.mode != "auto" and not self.on:
            raise DiffgenError(
                f"--sparse-mode {self.mode} is given without --sparse",
                "the mode says how a sparse Jacobian is colored, and the matrices are dense",
                "add --sparse (sparse = true), or drop --sparse-mode",
            )
