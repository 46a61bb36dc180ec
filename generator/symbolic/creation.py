"""Array creation and shape manipulation of symbolic arrays: asarray, zeros, reshape, stack..."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy

from .array import SymbolicArray, as_operand, convert, matrix_transpose
from .dtypes import (
    FLOAT64,
    DType,
    Exprs,
    SymbolicError,
    arithmetic,
    as_dtype,
    broadcast_shape,
    to_expr,
    wrap,
)


def asarray(
    obj: object, /, *, dtype: object = None, device: object = None, copy: object = None
) -> SymbolicArray:
    """A symbolic array as it is; numbers, numpy arrays and (nested) lists as constants."""
    if isinstance(obj, SymbolicArray):
        result = obj
    elif isinstance(obj, list | tuple):
        result = stack([asarray(item) for item in obj]) if obj else zeros((0,))
    else:
        value = as_operand(obj, "xp.asarray")
        result = SymbolicArray(value.data, arithmetic([value], "xp.asarray"))
    return result if dtype is None else convert(result, dtype)


def integers(value: object, what: str) -> tuple[int, ...]:
    """An int or a sequence of ints (a shape, axes) as a tuple of Python ints."""
    try:
        if isinstance(value, int | np.integer):
            return (operator.index(value),)
        if isinstance(value, Sequence):
            return tuple(operator.index(item) for item in value)
    except TypeError:
        pass
    raise SymbolicError(
        f"{what}: {value!r} is not an int or a tuple of ints",
        "shapes and axes are fixed when the function is traced",
        "pass Python ints (x.shape holds them)",
    )


def _shaped(what: str, function: Callable[[Exprs], Any], x: object) -> SymbolicArray:
    """Apply a numpy shape function to the expressions; numpy's errors become SymbolicErrors."""
    array = asarray(x)
    try:
        return SymbolicArray(wrap(function(array.expressions)), array.dtype)
    except ValueError as error:
        raise SymbolicError(
            f"{what} on an array of shape {array.shape}: {error}",
            "the shapes and axes given do not fit the array",
            "check them against the argument specs",
        ) from error


def reshape(x: object, /, shape: object, *, copy: object = None) -> SymbolicArray:
    dims = integers(shape, "xp.reshape")
    return _shaped("xp.reshape", lambda data: np.reshape(data, dims), x)


def permute_dims(x: object, /, axes: object) -> SymbolicArray:
    order = integers(axes, "xp.permute_dims")
    return _shaped("xp.permute_dims", lambda data: np.transpose(data, order), x)


def broadcast_to(x: object, /, shape: object) -> SymbolicArray:
    dims = integers(shape, "xp.broadcast_to")
    return _shaped("xp.broadcast_to", lambda data: np.broadcast_to(data, dims), x)


def expand_dims(x: object, /, axis: int = 0) -> SymbolicArray:
    return _shaped("xp.expand_dims", lambda data: np.expand_dims(data, axis), x)


def squeeze(x: object, /, axis: int | tuple[int, ...]) -> SymbolicArray:
    return _shaped("xp.squeeze", lambda data: np.squeeze(data, axis), x)


def flip(x: object, /, *, axis: int | tuple[int, ...] | None = None) -> SymbolicArray:
    return _shaped("xp.flip", lambda data: np.flip(data, axis), x)


def broadcast_arrays(*arrays: object) -> list[SymbolicArray]:
    items = [asarray(array) for array in arrays]
    shape = broadcast_shape("xp.broadcast_arrays", [item.shape for item in items])
    return [broadcast_to(item, shape) for item in items]


def _joined(
    what: str, join: Callable[..., Any], arrays: Sequence[object], axis: int
) -> SymbolicArray:
    """Join arrays with numpy's concatenate or stack; their dtypes promote."""
    items = [asarray(array) for array in arrays]
    if not items:
        raise SymbolicError(f"{what} of no arrays", "there is nothing to join", "pass arrays")
    dtype = arithmetic([item.operand for item in items], what)
    try:
        return SymbolicArray(wrap(join([item.expressions for item in items], axis=axis)), dtype)
    except ValueError as error:
        shapes = ", ".join(str(item.shape) for item in items)
        raise SymbolicError(
            f"{what} of arrays of shapes {shapes} along axis {axis}: {error}",
            "the arrays must agree in every dimension but the one joined along",
            "reshape or index the arrays so that their shapes agree",
        ) from error


def concat(arrays: Sequence[object], /, *, axis: int | None = 0) -> SymbolicArray:
    if axis is None:
        return concat([reshape(array, (-1,)) for array in arrays], axis=0)
    return _joined("xp.concat", np.concatenate, arrays, axis)


def stack(arrays: Sequence[object], /, *, axis: int = 0) -> SymbolicArray:
    return _joined("xp.stack", np.stack, arrays, axis)


def _fill(shape: object, value: Any, dtype: DType) -> SymbolicArray:
    dims = integers(shape, "an array creation function")
    if any(dim < 0 for dim in dims):
        raise SymbolicError(
            f"the shape {shape!r} has a negative size", "sizes count elements", "pass sizes >= 0"
        )
    data = np.empty(dims, dtype=object)
    data.fill(value)
    return SymbolicArray(data, dtype)


def _unit(dtype: DType, one: bool) -> Any:
    if dtype.kind == "b":
        return sympy.true if one else sympy.false
    return sympy.S.One if one else sympy.S.Zero


def full(
    shape: object, fill_value: object, *, dtype: object = None, device: object = None
) -> SymbolicArray:
    value = asarray(fill_value)
    if value.ndim != 0:
        raise SymbolicError(
            f"xp.full with a fill value of shape {value.shape}",
            "the fill value is one number",
            "use xp.broadcast_to for arrays",
        )
    target = value.dtype if dtype is None else as_dtype(dtype)
    return convert(_fill(shape, value.expressions[()], value.dtype), target)


def zeros(shape: object, *, dtype: object = None, device: object = None) -> SymbolicArray:
    target = FLOAT64 if dtype is None else as_dtype(dtype)
    return _fill(shape, _unit(target, False), target)


def ones(shape: object, *, dtype: object = None, device: object = None) -> SymbolicArray:
    target = FLOAT64 if dtype is None else as_dtype(dtype)
    return _fill(shape, _unit(target, True), target)


def like(create: Callable[..., SymbolicArray]) -> Callable[..., SymbolicArray]:
    def like(x: object, /, *args: object, dtype: object = None, device: object = None) -> Any:
        array = asarray(x)
        return create(array.shape, *args, dtype=array.dtype if dtype is None else dtype)

    like.__name__ = like.__qualname__ = f"{create.__name__}_like"
    return like


def eye(
    n_rows: int,
    n_cols: int | None = None,
    /,
    *,
    k: int = 0,
    dtype: object = None,
    device: object = None,
) -> SymbolicArray:
    target = FLOAT64 if dtype is None else as_dtype(dtype)
    cols = n_rows if n_cols is None else n_cols
    data = np.full((n_rows, cols), _unit(target, False), dtype=object)
    data[np.eye(n_rows, cols, k=k, dtype=np.bool_)] = _unit(target, True)
    return SymbolicArray(data, target)


def _number(value: object) -> int | float:
    """A Python number for a size or bound (a symbolic one must have a concrete value)."""
    if isinstance(value, int | np.integer):
        return operator.index(value)
    if isinstance(value, SymbolicArray) and value.dtype.kind in "iu":
        return int(value)
    if isinstance(value, float | np.floating | SymbolicArray):
        return float(value)
    raise SymbolicError(
        f"{value!r} is not a number",
        "the bounds and sizes of arange and linspace are Python numbers",
        "pass numbers",
    )


def arange(
    start: object,
    /,
    stop: object = None,
    step: object = 1,
    *,
    dtype: object = None,
    device: object = None,
) -> SymbolicArray:
    """start, start + step, ... below stop; exact integers where the numbers are integers."""
    first, last = (0, _number(start)) if stop is None else (_number(start), _number(stop))
    delta = _number(step)
    if delta == 0:
        raise SymbolicError("xp.arange with step 0", "it would never end", "pass a nonzero step")
    count = max(0, math.ceil((last - first) / delta))
    numbers = [first + i * delta for i in range(count)]
    integral = all(isinstance(v, int) for v in (first, last, delta))
    target = (np.dtype(np.int64) if integral else FLOAT64) if dtype is None else as_dtype(dtype)
    data = np.empty(count, dtype=object)
    data[:] = [to_expr(number) for number in numbers]
    return SymbolicArray(data, target)


def linspace(
    start: object,
    stop: object,
    /,
    num: int,
    *,
    dtype: object = None,
    device: object = None,
    endpoint: bool = True,
) -> SymbolicArray:
    values = np.linspace(_number(start), _number(stop), num, endpoint=endpoint)
    return asarray(values, dtype=FLOAT64 if dtype is None else dtype)


def finfo(type: object, /) -> np.finfo[Any]:
    """Machine limits of a floating dtype, as numpy gives them."""
    dtype = type.dtype if isinstance(type, SymbolicArray) else as_dtype(type)
    return np.finfo(dtype)


def astype(x: object, dtype: object, /, *, copy: bool = True) -> SymbolicArray:
    return convert(asarray(x), dtype)


def transpose_matrix(x: object, /) -> SymbolicArray:
    return matrix_transpose(asarray(x))
