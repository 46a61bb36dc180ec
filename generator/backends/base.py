"""The protocol every backend implements, and the plan types its templates receive."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..errors import DiffgenError
from ..model import BackendPlan, ErrorModel
from ..operators import INNER_QUANTITIES, OPERATORS

if TYPE_CHECKING:
    from ..model import FunctionPlan, Inspected


#: The error model of automatic differentiation (jax and torch): every result is the rounded
#: evaluation of an exact derivative expression, so its error is a multiple of eps relative to
#: the scale of f and of the derivative, for every order. The multiple comes from reductions
#: (sums over x.size or f(x).size terms, matmul) and the cancellation between their terms:
#: measured against exact references on the examples and each backend's scenario tests, at
#: most 1.6 eps of max(1, |f(x)|, |reference|); 64 leaves room for reductions over n ~ 1000.
#: Value variants are compiled or traced as kernels of their own, which may order operations
#: differently, so they need not be bit-identical to the plain operators.
AD_ERROR = ErrorModel(
    factor=64.0,
    exponents=(1.0, 1.0, 1.0),
    why="p = 1 for every order: automatic differentiation is exact up to the rounding of its"
    " float operations",
    variants_exact=False,
)


def source_checkout() -> Path | None:
    """The clone diffgen runs from (an editable install), or None for an installed wheel."""
    top = Path(__file__).resolve().parents[2]
    found = (top / "constraints.txt").is_file() and (top / "pyproject.toml").is_file()
    return top if found else None


def install_hint(install: str) -> str:
    """How to install an extra (`'diffgen[jax]' (jax==0.10.2)`), from a clone or a wheel."""
    extra = re.search(r"diffgen\[(\w+)\]", install)
    clone = source_checkout()
    if extra is None or clone is None:
        return f"pip install {install}"
    return f"pip install -c constraints.txt -e '.[{extra[1]}]' in your diffgen clone {clone}"


def require(module: str, backend: str, how: str, install: str) -> None:
    """Refuse a backend whose library is not installed, saying how to install it."""
    if importlib.util.find_spec(module) is None:
        raise DiffgenError(
            f"{backend} needs {module}, which is not installed",
            f"the {module} backends {how} at generation time",
            f"install it: {install_hint(install)}",
        )


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
    planned by the inner backend (plan.py asks the inner backend for them, `inner_quantities`).
    The module takes the inner backend's array library; the outer converts where it differs.
    """

    def plan_outer(
        self, inspected: Inspected, functions: tuple[FunctionPlan, ...], inner: str, source: str
    ) -> BackendPlan:
        """Plan the second-order functions over the inner backend's private functions, whose
        code is `source` (to trace them here, where the outer backend traces)."""
        ...


def inner_quantities(functions: Sequence[FunctionPlan]) -> tuple[str, ...]:
    """The inner quantities (value, gradient, derivative) that second-order functions call: the
    first derivative they differentiate, and the lower results their value variants return."""
    needed = set()
    for f in functions:
        if f.order == 2:
            needed |= {str(OPERATORS[f.operator].inner)}
            needed |= {r.name for r in f.results if r.name in INNER_QUANTITIES}
    return tuple(q for q in INNER_QUANTITIES if q in needed)
