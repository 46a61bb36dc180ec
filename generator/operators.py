"""The operator table: names, arguments, result shapes, value variants and batched forms (DI's).

Everything the generator knows of an operator is a row here; what a backend family does for
each operator is a `Rules` table of its own, filled by registration (google/tangent's habit), so
that a new operator is one row here and one rule per family, and a missing rule is found by the
table-wide test (tests/test_operators.py), not by a user.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Literal, TypeVar

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


#: How a result (or a tangent) is shaped: like x, like y, or a 2-D matrix.
Like = Literal["x", "y", "jacobian", "hessian"]


def _matrix(x: Spec, y: Spec, rows: int) -> Spec:
    """A (rows, x.size) matrix in the coarser of x's and f(x)'s dtypes."""
    return Spec(x.dtype if x.eps >= y.eps else y.dtype, (rows, x.size))


@dataclass(frozen=True)
class Shape:
    """A rule for the shape of a result, from the specs of x and f(x)."""

    like: Like
    spec: Callable[[Spec, Spec], Spec]
    matrix: str = ""  # a 2-D result's name in a size error: "the Jacobian" ("" otherwise)
    dims: str = ""  # its dimensions in words, a format of x and y: "x {x}, squared"


SHAPES: dict[Like, Shape] = {
    s.like: s
    for s in (
        Shape("x", lambda x, y: x),
        Shape("y", lambda x, y: y),
        Shape("jacobian", lambda x, y: _matrix(x, y, y.size), "the Jacobian", "f(x) {y} by x {x}"),
        Shape("hessian", lambda x, y: _matrix(x, y, x.size), "the Hessian", "x {x}, squared"),
    )
}


@dataclass(frozen=True)
class Quantity:
    """One result of an operator: its name, shape, order of derivative, and one line on it."""

    name: str
    like: Like
    order: int  # 0 for the value, else the order of the derivative
    meaning: str

    @property
    def shape(self) -> Shape:
        return SHAPES[self.like]

    def spec(self, x: Spec, y: Spec) -> Spec:
        """The spec of this quantity for a function from x to y."""
        return self.shape.spec(x, y)


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity("value", "y", 0, "the value"),
        Quantity("pushforward", "y", 1, "the pushforward J dx"),
        Quantity("pullback", "x", 1, "the pullback dy^T J"),
        Quantity("derivative", "y", 1, "the derivative"),
        Quantity("gradient", "x", 1, "the gradient"),
        Quantity("jacobian", "jacobian", 1, "the (y.size, x.size) Jacobian"),
        Quantity("second_derivative", "y", 2, "the second derivative"),
        Quantity("hvp", "x", 2, "the Hessian-vector product H dx"),
        Quantity("hessian", "hessian", 2, "the (x.size, x.size) Hessian"),
    )
}

#: The tangents operators take, by the generator's name of their parameter, and what each is
#: shaped like: dx like x (pushforward, hvp), dy like f(x) (pullback).
TANGENTS: dict[str, Like] = {"dx": "x", "dy": "y"}

#: The suffix of an operator's batched form, and of a batch of tangents' parameter (dxs).
BATCH_SUFFIX = "_batch"

#: What an inner backend computes for a foreign outer's second-order operators, in the order its
#: private functions are defined: the value (for value variants) and the first derivatives.
INNER_QUANTITIES = ("value", "gradient", "derivative")


def tangent_spec(kind: str, x: Spec, y: Spec) -> Spec:
    """The spec of the tangent `kind` (dx or dy) of a function from x to y."""
    return SHAPES[TANGENTS[kind]].spec(x, y)


def batch_of(tangent: str) -> str:
    """The parameter of a batch of these tangents: dxs for dx."""
    return f"{tangent}s"


#: Every tangent parameter of the generated operators: one tangent, then a batch of each.
TANGENT_PARAMETERS = (*TANGENTS, *(batch_of(t) for t in TANGENTS))


def unbatched(name: str) -> str:
    """The operator or quantity of a batched name (`hvp_batch` -> `hvp`), or the name itself."""
    return name.removesuffix(BATCH_SUFFIX)


def order_of(quantities: Iterable[str]) -> int:
    """The highest order of derivative these quantities (batched or not) need: 0, 1 or 2."""
    return max((QUANTITIES[unbatched(q)].order for q in quantities), default=0)


@dataclass(frozen=True)
class Operator:
    """One row of DESIGN.md's operator table."""

    name: str
    x: Kind
    y: Kind
    tangent: Literal["dx", "dy", None]
    variant: str | None  # the value variant, returning more than the operator (None: none)
    variant_results: tuple[str, ...]
    #: For second order: the first derivative whose derivative this is, which the inner backend
    #: of a pair computes ("gradient" for hvp and hessian); None for first order.
    inner: str | None = None

    @property
    def result(self) -> Quantity:
        return QUANTITIES[self.name]

    @property
    def order(self) -> int:
        return self.result.order

    @property
    def batched(self) -> str | None:
        """The name of the batched form, `<op>_batch` for B tangents; None without a tangent."""
        return f"{self.name}{BATCH_SUFFIX}" if self.tangent else None

    @property
    def functions(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(name, results) of the module's functions for this operator: itself, its variant."""
        variant = ((self.variant, self.variant_results),) if self.variant else ()
        return ((self.name, (self.name,)), *variant)

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
        Operator("pushforward", Kind.ANY, Kind.ANY, "dx",
                 "value_and_pushforward", ("value", "pushforward")),
        Operator("pullback", Kind.ANY, Kind.ANY, "dy",
                 "value_and_pullback", ("value", "pullback")),
        Operator("derivative", Kind.SCALAR, Kind.ANY, None,
                 "value_and_derivative", ("value", "derivative")),
        Operator("gradient", Kind.ANY, Kind.SCALAR, None,
                 "value_and_gradient", ("value", "gradient")),
        Operator("jacobian", Kind.ARRAY, Kind.ARRAY, None,
                 "value_and_jacobian", ("value", "jacobian")),
        Operator("second_derivative", Kind.SCALAR, Kind.ANY, None,
                 "value_derivative_and_second_derivative",
                 ("value", "derivative", "second_derivative"), inner="derivative"),
        Operator("hvp", Kind.ANY, Kind.SCALAR, "dx",
                 "gradient_and_hvp", ("gradient", "hvp"), inner="gradient"),
        Operator("hessian", Kind.ANY, Kind.SCALAR, None,
                 "value_gradient_and_hessian", ("value", "gradient", "hessian"),
                 inner="gradient"),
    )
}  # fmt: skip

#: The operators with a batched form (those that take a tangent), in table order.
BATCHED: tuple[str, ...] = tuple(name for name, op in OPERATORS.items() if op.batched)


def fitting_operators(x: Spec, y: Spec) -> tuple[str, ...]:
    """The operators, in table order, that apply to a function from x to y (`--ops all`)."""
    return tuple(name for name, op in OPERATORS.items() if op.fits(x, y))


def listed(names: Iterable[str]) -> str:
    """`a, b and c`."""
    items = list(names)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


R = TypeVar("R")


class Rules(Generic[R]):
    """One backend family's rule for each operator or quantity, registered by name.

    `covers` names what must have a rule (the whole table, or its second-order part...), so that
    tests/test_operators.py finds a family that lacks one for a new operator. Rules are
    registered with the decorator `@RULES.register("hvp", ...)`, or given as a mapping.
    """

    def __init__(self, family: str, covers: Iterable[str], rules: Mapping[str, R] | None = None):
        self.family = family
        self.covers = tuple(covers)
        self._rules: dict[str, R] = {}
        for name, rule in (rules or {}).items():
            self.register(name)(rule)

    def register(self, *names: str) -> Callable[[R], R]:
        """A decorator registering its function as the rule of these names."""

        def add(rule: R) -> R:
            for name in names:
                if name in self._rules:
                    raise ValueError(f"{self.family} has two rules for {name!r}")
                self._rules[name] = rule
            return rule

        return add

    def __getitem__(self, name: str) -> R:
        try:
            return self._rules[name]
        except KeyError:
            raise KeyError(f"{self.family} has no rule for {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def missing(self) -> tuple[str, ...]:
        """What `covers` names that has no rule."""
        return tuple(name for name in self.covers if name not in self._rules)
