"""The jax backends' plan: kernels with their compiled constants, and the argument specs."""

from __future__ import annotations

from dataclasses import dataclass

from ...spec import Spec
from ..ad import ADPlan, Kernel


@dataclass(frozen=True)
class JaxKernel(Kernel):
    """A kernel and the compiled operator made from it."""

    constant: str = ""  # the compiled operator: "_VALUE_AND_GRADIENT"
    outs: str = "()"  # the results' ((shape, dtype), ...) literal, checked against an artifact

    @property
    def specs(self) -> tuple[tuple[str, str], ...]:
        """(parameter, its ShapeDtypeStruct constant)."""
        return tuple((name, spec_name(name)) for name in self.params)

    @property
    def spec_args(self) -> str:
        return ", ".join(spec for _, spec in self.specs)

    @property
    def export_constant(self) -> str:
        return f"{self.constant}_EXPORTED"

    @property
    def kernel_constant(self) -> str:
        """With --jax-export: the deserialized artifact's call, checked at import."""
        return f"{self.constant}_KERNEL"


@dataclass(frozen=True)
class JaxPlan(ADPlan):
    """The jax backends' plan: the kernels and argument specs; with --jax-export, artifacts."""

    export: bool = False
    specs: tuple[tuple[str, Spec], ...] = ()  # (ShapeDtypeStruct constant, spec) by argument
    kernels: tuple[JaxKernel, ...] = ()

    def kernel(self, function: str) -> JaxKernel:
        return next(k for k in self.kernels if k.function == function)


def spec_name(param: str) -> str:
    return f"_SPEC_{param}"
