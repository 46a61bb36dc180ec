"""Operands of symbolic operations and the Array API's dtype promotion between them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import sympy

from ..errors import DiffgenError

#: A numpy object array of SymPy expressions (Booleans in a bool array).
Exprs = npt.NDArray[np.object_]
DType = np.dtype[Any]
#: How the dtype of an operation's result follows from its operands.
Rule = Callable[[Sequence["Operand"], str], DType]

BOOL: DType = np.dtype(np.bool_)
INT64: DType = np.dtype(np.int64)
FLOAT64: DType = np.dtype(np.float64)
DEFAULT_DTYPES: dict[str, DType] = {"b": BOOL, "i": INT64, "f": FLOAT64}


class SymbolicError(DiffgenError):
    """A function the sympy backend cannot trace: the construct, why, and what to use instead."""


@dataclass(frozen=True)
class Operand:
    """One argument of an operation: its expressions, and its dtype (None for a Python scalar)."""

    data: Exprs
    dtype: DType | None
    kind: str  # "b", "i" or "f"; picks a Python scalar's place in promotion


def to_expr(value: object) -> Any:
    """A Python or numpy scalar as an exact SymPy number (integral floats become Integers)."""
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, bool | np.bool_):
        return sympy.true if value else sympy.false
    if isinstance(value, int | np.integer):
        return sympy.Integer(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return sympy.nan
        if math.isinf(number):
            return sympy.oo if number > 0 else -sympy.oo
        return sympy.Integer(int(number)) if number.is_integer() else sympy.Float(number)
    raise SymbolicError(
        f"the value {value!r} ({type(value).__name__}) cannot enter a traced expression",
        "the sympy backend takes bool, int and float numbers, numpy arrays of those, and "
        "symbolic arrays",
        "convert the value to a float or a numpy float array first",
    )


TO_EXPRS = np.frompyfunc(to_expr, 1, 1)


def wrap(value: Any) -> Exprs:
    """A result of numpy on object arrays as an object array (numpy unwraps 0-d results)."""
    if isinstance(value, np.ndarray):
        return value.astype(object, copy=False)
    data = np.empty((), dtype=object)
    data[()] = value
    return data


def as_dtype(dtype: object) -> DType:
    """A dtype argument (`xp.float32`, `np.float64`, "float64") as a numpy dtype."""
    try:
        result: DType = np.dtype(cast(Any, dtype))
    except TypeError as error:
        raise SymbolicError(f"{dtype!r} is not a dtype", str(error), "pass xp.float64") from error
    if result.kind not in "biuf":
        raise SymbolicError(
            f"dtype {result} is not supported by the sympy backend",
            "it traces real numbers: bool, integer and floating dtypes",
            "use xp.float32 or xp.float64",
        )
    return result


def floating(dtype: DType) -> DType:
    """The dtype of a floating result: floating dtypes kept, others float64."""
    return dtype if dtype.kind == "f" else FLOAT64


def arithmetic(operands: Sequence[Operand], what: str) -> DType:
    """Array API promotion: strong dtypes promote; a Python scalar only lifts the kind."""
    strong = [op.dtype for op in operands if op.dtype is not None]
    weak = [op.kind for op in operands if op.dtype is None]
    if not strong:
        return DEFAULT_DTYPES[max(weak, key="bif".index)]
    dtype: DType = np.result_type(*strong)
    if "f" in weak and dtype.kind != "f":
        return FLOAT64
    if "i" in weak and dtype.kind == "b":
        return INT64
    return dtype


def division(operands: Sequence[Operand], what: str) -> DType:
    """True division and transcendental functions give a floating result."""
    return floating(arithmetic(operands, what))


def comparison(operands: Sequence[Operand], what: str) -> DType:
    """Comparisons give booleans."""
    return BOOL


def logical(operands: Sequence[Operand], what: str) -> DType:
    """Logical operations take and give booleans."""
    if any(op.kind != "b" for op in operands):
        raise SymbolicError(
            f"{what} on a non-boolean array",
            "the sympy backend has no bitwise arithmetic; &, |, ~ combine conditions only",
            "compare first, as (x > 0) & (x < 1), or use the jax or torch backend",
        )
    return BOOL


def broadcast_shape(what: str, shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """The shape the given shapes broadcast to, or a SymbolicError naming the operation."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError as error:
        raise SymbolicError(
            f"{what}: shapes {' and '.join(map(str, shapes))} do not broadcast",
            "Array API broadcasting aligns trailing dimensions, each equal or 1",
            "reshape or index the operands (x[:, None]) so that their shapes broadcast",
        ) from error
