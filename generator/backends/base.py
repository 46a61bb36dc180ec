"""The protocol every backend implements, and the plan types its templates receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..inspect_target import Inspected
    from ..plan import FunctionPlan


@dataclass(frozen=True)
class ErrorModel:
    """How far a module's results may be from exact: the generated tests' tolerances.

    atol = factor * eps**exponents[order] * max(1, |f(x)|, |reference|), with eps the unit
    roundoff of the coarser of x's and f(x)'s dtypes and order 0 (the value), 1 or 2.
    """

    factor: float
    exponents: tuple[float, float, float]
    why: str  # one sentence for the generated tests' docstring
    variants_exact: bool  # value variants compute bit-identical results to the plain operators


@dataclass(frozen=True)
class BackendPlan:
    """What a backend adds to the module plan: its template and the constants it prepared."""

    template: str
    stdlib: tuple[tuple[str, str], ...]  # (module, name) of standard-library names its code uses
    imports: tuple[str, ...]  # other import lines beyond the flavour's
    constants: tuple[tuple[str, str, str], ...]  # (name, Python literal, comment)
    helpers: tuple[str, ...]  # names of the template's helper macros this module needs
    description: str  # one paragraph for the module docstring
    error: ErrorModel
    results_ready: bool = False  # the body leaves each result in its final type, dtype and shape


class Backend(Protocol):
    """A first-order backend, which can also be the outer or inner half of a second-order pair."""

    name: str
    summary: str
    flavour: str  # the array library of its modules: "numpy", "jax" or "torch"
    operators: tuple[str, ...]  # the operators it can generate

    def plan(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], outer: str
    ) -> BackendPlan:
        """Prepare everything the backend's template needs for this target and outer backend."""
        ...


@runtime_checkable
class ForeignOuter(Protocol):
    """A backend that can be the outer of another backend's inner operators.

    Its second-order functions call private functions `_inner_<quantity>(x, *constants)`
    planned by the inner backend (plan.py asks the inner backend for them).
    """

    def inner_quantities(self, functions: tuple[FunctionPlan, ...]) -> tuple[str, ...]:
        """The inner quantities (value, gradient, derivative) the second-order functions call."""
        ...

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str
    ) -> BackendPlan:
        """Plan the second-order functions over the inner backend's private functions."""
        ...
