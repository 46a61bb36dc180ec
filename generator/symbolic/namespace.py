"""The SymPy-backed Array API namespace that a `SymbolicArray`'s `__array_namespace__` returns.

It covers the common subset of the standard that the sympy backend can trace: elementwise math,
comparisons and `where`, reductions, matmul and `linalg.vector_norm`, reshaping, concat/stack and
creation functions. `NAMESPACE` is one immutable object; a name outside the subset raises an
`UnsupportedError` (a SymbolicError that is also an AttributeError, so `hasattr(xp, "fft")` is
False) naming the function and the backends that can take it. Functions accept symbolic arrays,
Python numbers and numpy arrays alike; numbers and numpy arrays become constant expressions.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import sympy

from .array import OTHER_BACKENDS, SymbolicArray, as_operand, elementwise, matmul
from .creation import (
    arange,
    asarray,
    astype,
    broadcast_arrays,
    broadcast_to,
    concat,
    expand_dims,
    eye,
    finfo,
    flip,
    full,
    integers,
    like,
    linspace,
    ones,
    permute_dims,
    reshape,
    squeeze,
    stack,
    transpose_matrix,
    zeros,
)
from .dtypes import (
    BOOL,
    FLOAT64,
    DType,
    Exprs,
    Rule,
    SymbolicError,
    arithmetic,
    as_dtype,
    comparison,
    division,
    floating,
    logical,
    to_expr,
    wrap,
)


class UnsupportedError(SymbolicError, AttributeError):
    """A namespace function outside the subset the sympy backend traces."""


def _apply(name: str, function: Callable[..., Any], rule: Rule, arity: int) -> Callable[..., Any]:
    """A namespace function that applies a scalar SymPy function elementwise."""
    what = f"xp.{name}"

    def apply(*args: object) -> SymbolicArray:
        if len(args) != arity:
            raise TypeError(f"{what} takes {arity} arrays, got {len(args)}")
        operands = [as_operand(arg, what) for arg in args]
        return elementwise(what, function, operands, rule(operands, what))

    apply.__name__ = apply.__qualname__ = name
    return apply


def _unevaluated(function: Any) -> Callable[[Any], Any]:
    """A SymPy function applied without its automatic evaluation to a symbolic argument.

    `tanh(a)` evaluates by asking SymPy's assumptions about `a` (is it zero, can a minus sign be
    pulled out): for a sum of 200 products that is a quarter of a second per call, 55 s for
    `tanh(A @ x)` with A 200 x 200, and nothing changes the value. Numbers still evaluate.
    """

    def apply(a: Any) -> Any:
        return function(a) if getattr(a, "is_number", True) else function(a, evaluate=False)

    return apply


#: name -> (scalar SymPy function, dtype rule) of the unary elementwise functions.
_UNARY: dict[str, tuple[Callable[..., Any], Rule]] = {
    "abs": (sympy.Abs, arithmetic),
    "acos": (_unevaluated(sympy.acos), division),
    "acosh": (_unevaluated(sympy.acosh), division),
    "asin": (_unevaluated(sympy.asin), division),
    "asinh": (_unevaluated(sympy.asinh), division),
    "atan": (_unevaluated(sympy.atan), division),
    "atanh": (_unevaluated(sympy.atanh), division),
    "ceil": (sympy.ceiling, arithmetic),
    "cos": (_unevaluated(sympy.cos), division),
    "cosh": (_unevaluated(sympy.cosh), division),
    "exp": (_unevaluated(sympy.exp), division),
    "expm1": (lambda a: _unevaluated(sympy.exp)(a) - 1, division),
    "floor": (sympy.floor, arithmetic),
    "log": (_unevaluated(sympy.log), division),
    "log1p": (lambda a: _unevaluated(sympy.log)(1 + a), division),
    "log2": (lambda a: sympy.log(a, 2), division),
    "log10": (lambda a: sympy.log(a, 10), division),
    "logical_not": (sympy.Not, logical),
    "negative": (operator.neg, arithmetic),
    "positive": (operator.pos, arithmetic),
    "reciprocal": (lambda a: 1 / a, division),
    "sign": (sympy.sign, arithmetic),
    "sin": (_unevaluated(sympy.sin), division),
    "sinh": (_unevaluated(sympy.sinh), division),
    "sqrt": (sympy.sqrt, division),
    "square": (lambda a: a**2, arithmetic),
    "tan": (_unevaluated(sympy.tan), division),
    "tanh": (_unevaluated(sympy.tanh), division),
}

#: name -> (scalar SymPy function, dtype rule) of the binary elementwise functions.
_BINARY: dict[str, tuple[Callable[..., Any], Rule]] = {
    "add": (operator.add, arithmetic),
    "atan2": (sympy.atan2, division),
    "divide": (operator.truediv, division),
    "equal": (sympy.Eq, comparison),
    "floor_divide": (operator.floordiv, arithmetic),
    "greater": (operator.gt, comparison),
    "greater_equal": (operator.ge, comparison),
    "hypot": (lambda a, b: sympy.sqrt(a**2 + b**2), division),
    "less": (operator.lt, comparison),
    "less_equal": (operator.le, comparison),
    "logaddexp": (lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)), division),
    "logical_and": (sympy.And, logical),
    "logical_or": (sympy.Or, logical),
    "maximum": (sympy.Max, arithmetic),
    "minimum": (sympy.Min, arithmetic),
    "multiply": (operator.mul, arithmetic),
    "not_equal": (sympy.Ne, comparison),
    "pow": (operator.pow, arithmetic),
    "remainder": (operator.mod, arithmetic),
    "subtract": (operator.sub, arithmetic),
}


def where(condition: object, x1: object, x2: object, /) -> SymbolicArray:
    """x1 where condition holds, else x2: a Piecewise per element."""
    operands = [as_operand(value, "xp.where") for value in (condition, x1, x2)]
    if operands[0].kind != "b":
        raise SymbolicError(
            "xp.where with a non-boolean condition",
            "the Array API takes a boolean array as the condition",
            "compare to make the condition, as xp.where(x > 0, x, 0.0)",
        )
    dtype = arithmetic(operands[1:], "xp.where")
    return elementwise("xp.where", _piecewise, operands, dtype)


def _piecewise(condition: Any, a: Any, b: Any) -> Any:
    return sympy.Piecewise((a, condition), (b, True))


def clip(x: object, /, min: object = None, max: object = None) -> SymbolicArray:
    """x limited to [min, max]; a bound left out is no bound."""
    result = asarray(x)
    if min is not None:
        result = _binary_functions["maximum"](result, min)
    if max is not None:
        result = _binary_functions["minimum"](result, max)
    return result


def _axes(axis: object, ndim: int, what: str) -> tuple[int, ...]:
    """An axis argument (None, an int or a tuple) as sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = integers(axis, what)
    normalized = sorted({a % ndim for a in axes if -ndim <= a < ndim})
    if len(normalized) != len(axes):
        raise SymbolicError(
            f"{what}: axis {axis!r} does not fit an array of {ndim} dimensions",
            f"each axis lies in [-{ndim}, {ndim}) and appears once",
            "check the axis against the array's shape",
        )
    return tuple(normalized)


def _reduce(
    what: str, x: object, axis: object, keepdims: bool, combine: Callable[..., Any]
) -> tuple[Exprs, DType]:
    """Combine the elements along the axes with one call of `combine` per result element."""
    array = asarray(x)
    data = array.expressions
    axes = _axes(axis, array.ndim, what)
    kept = tuple(a for a in range(array.ndim) if a not in axes)
    shape = tuple(data.shape[a] for a in kept)
    length = math.prod(data.shape[a] for a in axes)
    rows = np.transpose(data, kept + axes).reshape((*shape, length))
    result = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        result[index] = combine(*rows[index])
    if keepdims:
        result = result.reshape(tuple(1 if a in axes else n for a, n in enumerate(data.shape)))
    return wrap(result), array.dtype


def _reduction(
    name: str, combine: Callable[..., Any], result: Callable[[DType], DType]
) -> Callable[..., SymbolicArray]:
    """A reduction `xp.NAME(x, axis=None, keepdims=False)` over the given axes."""

    def reduce(
        x: object, /, *, axis: object = None, dtype: object = None, keepdims: bool = False
    ) -> SymbolicArray:
        data, source = _reduce(f"xp.{name}", x, axis, keepdims, combine)
        return SymbolicArray(data, result(source) if dtype is None else as_dtype(dtype))

    reduce.__name__ = reduce.__qualname__ = name
    return reduce


def _extremum(function: Callable[..., Any]) -> Callable[..., Any]:
    def combine(*terms: Any) -> Any:
        if not terms:
            raise SymbolicError(
                "a maximum or minimum over no elements",
                "it has no value",
                "reduce over a non-empty axis",
            )
        return function(*terms)

    return combine


def _summed(dtype: DType) -> DType:
    """The dtype of a sum or product: floating dtypes kept, integers and booleans int64."""
    return dtype if dtype.kind == "f" else np.dtype(np.int64)


def vecdot(x1: object, x2: object, /, *, axis: int = -1) -> SymbolicArray:
    """The dot product along an axis (the last by default) of broadcast arrays."""
    product = asarray(x1) * asarray(x2)
    data, dtype = _reduce("xp.vecdot", product, axis, False, sympy.Add)
    return SymbolicArray(data, dtype)


def _norm(ord: object) -> Callable[..., Any] | None:
    """How the vector p-norm for `ord` combines the elements; None for an unsupported ord."""
    if ord == 2:
        return lambda *t: sympy.sqrt(sympy.Add(*(e**2 for e in t)))
    if ord == 1:
        return lambda *t: sympy.Add(*(sympy.Abs(e) for e in t))
    if ord in (math.inf, -math.inf):
        extremum = _extremum(sympy.Max if ord == math.inf else sympy.Min)
        return lambda *t: extremum(*(sympy.Abs(e) for e in t))
    if isinstance(ord, int | float) and ord > 0:
        p = to_expr(ord)
        return lambda *t: sympy.Add(*(sympy.Abs(e) ** p for e in t)) ** (1 / p)
    return None


def vector_norm(
    x: object, /, *, axis: object = None, keepdims: bool = False, ord: object = 2
) -> SymbolicArray:
    """The p-norm over the axes (all by default): ord 2, 1, inf, -inf or any other p > 0."""
    combine = _norm(ord)
    if combine is None:
        raise SymbolicError(
            f"xp.linalg.vector_norm with ord={ord!r} is not supported by the sympy backend",
            "it traces the norms with ord 2, 1, inf, -inf and any other p > 0",
            f"use one of those, or {OTHER_BACKENDS}",
        )
    data, dtype = _reduce("xp.linalg.vector_norm", x, axis, keepdims, combine)
    return SymbolicArray(data, floating(dtype))


class Namespace:
    """An immutable namespace: its members by name; any other name raises UnsupportedError."""

    __slots__ = ("_members", "_prefix")

    def __init__(self, prefix: str, members: Mapping[str, object]) -> None:
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_members", MappingProxyType(dict(members)))

    def __getattr__(self, name: str) -> Any:
        if name in Namespace.__slots__:
            raise AttributeError(name)
        try:
            return self._members[name]
        except KeyError:
            pass
        if name.startswith("_"):
            raise AttributeError(f"the sympy namespace has no attribute {name!r}")
        raise UnsupportedError(
            f"{self._prefix}.{name} is not supported by the sympy backend",
            "SymPy traces only the common Array API subset listed in the README's section"
            ' "sympy" (under "Backends")',
            f"use {OTHER_BACKENDS} for this function, or rewrite it with the supported "
            f"functions: {', '.join(SUPPORTED)}",
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("the sympy namespace is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("the sympy namespace is read-only")

    def __dir__(self) -> list[str]:
        return sorted(self._members)

    def __repr__(self) -> str:
        return f"<the sympy backend's Array API namespace {self._prefix}>"


_unary_functions = {name: _apply(name, *entry, arity=1) for name, entry in _UNARY.items()}
_binary_functions = {name: _apply(name, *entry, arity=2) for name, entry in _BINARY.items()}

_LINALG: dict[str, object] = {
    "matmul": matmul,
    "matrix_transpose": transpose_matrix,
    "vecdot": vecdot,
    "vector_norm": vector_norm,
}

_MEMBERS: dict[str, object] = {
    **_unary_functions,
    **_binary_functions,
    "arange": arange,
    "asarray": asarray,
    "astype": astype,
    "broadcast_arrays": broadcast_arrays,
    "broadcast_to": broadcast_to,
    "clip": clip,
    "concat": concat,
    "expand_dims": expand_dims,
    "eye": eye,
    "finfo": finfo,
    "flip": flip,
    "full": full,
    "full_like": like(full),
    "linspace": linspace,
    "matmul": matmul,
    "matrix_transpose": transpose_matrix,
    "max": _reduction("max", _extremum(sympy.Max), lambda dtype: dtype),
    "mean": _reduction("mean", lambda *t: sympy.Add(*t) / len(t), floating),
    "min": _reduction("min", _extremum(sympy.Min), lambda dtype: dtype),
    "ones": ones,
    "ones_like": like(ones),
    "permute_dims": permute_dims,
    "prod": _reduction("prod", sympy.Mul, _summed),
    "reshape": reshape,
    "squeeze": squeeze,
    "stack": stack,
    "sum": _reduction("sum", sympy.Add, _summed),
    "vecdot": vecdot,
    "where": where,
    "zeros": zeros,
    "zeros_like": like(zeros),
    # dtypes and constants (exact SymPy numbers: pi stays pi in the expressions)
    "bool": BOOL,
    "int32": np.dtype(np.int32),
    "int64": np.dtype(np.int64),
    "float32": np.dtype(np.float32),
    "float64": FLOAT64,
    "e": sympy.E,
    "inf": sympy.oo,
    "nan": sympy.nan,
    "newaxis": None,
    "pi": sympy.pi,
}

#: The public names of the namespace, sorted; `linalg.` names are those of its linalg extension.
SUPPORTED: tuple[str, ...] = tuple(
    sorted([*_MEMBERS, "linalg", *(f"linalg.{name}" for name in _LINALG)])
)

LINALG = Namespace("xp.linalg", {"__name__": "generator.symbolic.linalg", **_LINALG})
NAMESPACE = Namespace(
    "xp",
    {
        "__name__": "generator.symbolic",
        "__array_api_version__": "2023.12",
        "linalg": LINALG,
        **_MEMBERS,
    },
)

#: Symbolic arrays answer `__array_namespace__` with this namespace, built here on array.py.
SymbolicArray.namespace = NAMESPACE
