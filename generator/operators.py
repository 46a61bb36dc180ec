"""The operator table: names, argument kinds and results, after DifferentiationInterface.jl."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from .spec import Spec


class Kind(Enum):
    """What an operator needs of x or of f(x)."""

    SCALAR = "scalar"  # a 0-d array
    ARRAY = "array"  # at least one dimension
    ANY = "any"

    def admits(self, spec: Spec) -> bool:
        if self is Kind.SCALAR:
            return spec.is_scalar
        if self is Kind.ARRAY:
            return not spec.is_scalar
        return True


#: How a result is shaped: like x, like y, or a 2-D matrix.
Like = Literal["x", "y", "jacobian", "hessian"]


@dataclass(frozen=True)
class Quantity:
    """One result of an operator: its name, what it is shaped like, and one line on it."""

    name: str
    like: Like
    meaning: str


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("value", "y", "the value"),
        Quantity("pushforward", "y", "the pushforward J dx"),
        Quantity("pullback", "x", "the pullback dy^T J"),
        Quantity("derivative", "y", "the derivative"),
        Quantity("gradient", "x", "the gradient"),
        Quantity("jacobian", "jacobian", "the (y.size, x.size) Jacobian"),
        Quantity("second_derivative", "y", "the second derivative"),
        Quantity("hvp", "x", "the Hessian-vector product H dx"),
        Quantity("hessian", "hessian", "the (x.size, x.size) Hessian"),
    )
}


@dataclass(frozen=True)
class Operator:
    """One row of DESIGN.md's operator table."""

    name: str
    order: int
    x: Kind
    y: Kind
    tangent: Literal["dx", "dy", None]
    variant: str
    variant_results: tuple[str, ...]

    @property
    def result(self) -> Quantity:
        return QUANTITIES[self.name]

    def fits(self, x: Spec, y: Spec) -> bool:
        return self.x.admits(x) and self.y.admits(y)

    def requirement(self) -> str:
        """Say in words what this operator needs of x and f(x)."""
        parts = []
        if self.x is not Kind.ANY:
            parts.append(f"x to be {'a 0-d scalar' if self.x is Kind.SCALAR else 'an array'}")
        if self.y is not Kind.ANY:
            parts.append(f"f(x) to be {'a 0-d scalar' if self.y is Kind.SCALAR else 'an array'}")
        return " and ".join(parts) if parts else "nothing"


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator(
            "pushforward",
            1,
            Kind.ANY,
            Kind.ANY,
            "dx",
            "value_and_pushforward",
            ("value", "pushforward"),
        ),
        Operator(
            "pullback", 1, Kind.ANY, Kind.ANY, "dy", "value_and_pullback", ("value", "pullback")
        ),
        Operator(
            "derivative",
            1,
            Kind.SCALAR,
            Kind.ANY,
            None,
            "value_and_derivative",
            ("value", "derivative"),
        ),
        Operator(
            "gradient", 1, Kind.ANY, Kind.SCALAR, None, "value_and_gradient", ("value", "gradient")
        ),
        Operator(
            "jacobian", 1, Kind.ARRAY, Kind.ARRAY, None, "value_and_jacobian", ("value", "jacobian")
        ),
        Operator(
            "second_derivative",
            2,
            Kind.SCALAR,
            Kind.ANY,
            None,
            "value_derivative_and_second_derivative",
            ("value", "derivative", "second_derivative"),
        ),
        Operator("hvp", 2, Kind.ANY, Kind.SCALAR, "dx", "gradient_and_hvp", ("gradient", "hvp")),
        Operator(
            "hessian",
            2,
            Kind.ANY,
            Kind.SCALAR,
            None,
            "value_gradient_and_hessian",
            ("value", "gradient", "hessian"),
        ),
    )
}


def fitting_operators(x: Spec, y: Spec) -> tuple[str, ...]:
    """The operators, in table order, that apply to a function from x to y (`--ops all`)."""
    return tuple(name for name, op in OPERATORS.items() if op.fits(x, y))
