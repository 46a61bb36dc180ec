"""Trace a function with symbolic arrays: its inputs' symbols and its output's expressions."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import array_api_compat
import numpy as np
import sympy

from ..spec import DTYPES, Dtype, Spec
from . import namespace  # noqa: F401  (registers the namespace of SymbolicArray)
from .array import OTHER_BACKENDS, SymbolicArray, operand
from .dtypes import FLOAT64, DType, Exprs, SymbolicError


@dataclass(frozen=True, eq=False)
class Traced:
    """A traced function: the symbols of its inputs, its output expressions, the output dtype."""

    inputs: tuple[Exprs, ...]
    output: Exprs
    output_dtype: Dtype


def symbols(name: str, spec: Spec) -> Exprs:
    """Real symbols `name_k`, k the flat C-order index, in an array of the spec's shape."""
    data = np.empty(spec.size, dtype=object)
    data[:] = [sympy.Symbol(f"{name}_{k}", real=True) for k in range(spec.size)]
    data = data.reshape(spec.shape)
    data.flags.writeable = False
    return data


def trace(function: Callable[..., object], args: Sequence[tuple[str, Spec]]) -> Traced:
    """Call `function` with one symbolic array per (name, spec) and return the expressions."""
    inputs = tuple(symbols(name, spec) for name, spec in args)
    arrays = [SymbolicArray(data, spec.dtype) for data, (_, spec) in zip(inputs, args, strict=True)]
    try:
        result = function(*arrays)
    except SymbolicError:
        raise
    except Exception as error:
        name = getattr(function, "__qualname__", repr(function))
        raise SymbolicError(
            f"the sympy backend could not trace {name}: {_user_line(error)}"
            f"{type(error).__name__}: {error}",
            "SymPy traces only the common Array API subset (elementwise math, arithmetic, "
            "comparisons with where, reductions, matmul, indexing, reshape, concat/stack, "
            "creation functions), and this construct is outside it",
            f"use {OTHER_BACKENDS}, which can take functions SymPy cannot trace, or rewrite the "
            "construct with the functions of the sympy namespace",
        ) from error
    default = np.result_type(*(spec.dtype for _, spec in args)) if args else FLOAT64
    output, dtype = _output(result, getattr(function, "__qualname__", "the function"))
    dtype_name = dtype.name if dtype is not None and dtype.name in DTYPES else default.name
    return Traced(inputs, output, cast(Dtype, dtype_name))


_LIBRARIES = (sympy, np, array_api_compat)
_INTERNAL = (
    *(str(Path(cast(str, library.__file__)).parent) for library in _LIBRARIES),
    str(Path(__file__).parent),  # this package: the symbolic arrays and their namespace
)


def _user_line(error: BaseException) -> str:
    """`file:line: source: ` of the user's code where the error came from, if it is known."""
    frames = traceback.extract_tb(error.__traceback__)
    user = [frame for frame in frames if not frame.filename.startswith(_INTERNAL)]
    if not user:
        return ""
    frame = user[-1]
    source = f" `{frame.line}`" if frame.line else ""
    return f"{Path(frame.filename).name}:{frame.lineno}{source}: "


def _output(result: object, name: str) -> tuple[Exprs, DType | None]:
    """The function's result as a C-ordered read-only array of Expr, and its dtype if strong."""
    value = operand(result)
    if value is None:
        raise SymbolicError(
            f"{name} returned a {type(result).__name__}",
            "a traced function must return one array (or a number)",
            "return a single array; stack several results with xp.stack or xp.concat",
        )
    if value.kind == "b":
        raise SymbolicError(
            f"{name} returns booleans",
            "derivatives need a floating result",
            "return a floating array (xp.astype(mask, xp.float64) turns a mask into 0 and 1)",
        )
    data = np.array(value.data, dtype=object, order="C")  # a copy, C-ordered, of any shape
    if not all(isinstance(expr, sympy.Expr) for expr in data.flat):
        raise SymbolicError(
            f"{name} returned something other than numbers",
            "each element of a traced result must be a SymPy expression",
            "return a floating array",
        )
    data.flags.writeable = False
    return data, value.dtype
