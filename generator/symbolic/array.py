"""Trace an Array API function with SymPy: symbolic arrays in, an array of expressions out.

The sympy backend calls the user's function once with `SymbolicArray` arguments, whose
`__array_namespace__` is the SymPy-backed namespace of `namespace.py`. A symbolic array holds
a numpy object array of SymPy expressions and the dtype the array would have at run time; the
dtype rounds nothing, it records what the generated code computes in and returns.

Dtype promotion follows the Array API: Python scalars are weak (`x * 2.0` keeps float32), numpy
scalars and arrays are strong. Literals stay exact where they can: integers and integral floats
become SymPy Integers (so `x ** 2.0` is `Pow(x, 2)`), other floats 53-bit SymPy Floats. Nothing
here expands or simplifies; SymPy's automatic canonicalization is all that happens, and sums and
products of many terms are built by one `Add`/`Mul`, so tracing time grows linearly with size.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
import sympy

from ..budget import tick
from .dtypes import (
    TO_EXPRS,
    DType,
    Exprs,
    Operand,
    Rule,
    SymbolicError,
    arithmetic,
    as_dtype,
    broadcast_shape,
    comparison,
    division,
    logical,
    to_expr,
    wrap,
)

Method = Callable[["SymbolicArray", object], "SymbolicArray"]

OTHER_BACKENDS = "the jax or torch backend"
USE_WHERE = "write the branch with xp.where(condition, a, b) (or xp.maximum, xp.minimum, xp.abs)"
#: What takes data-dependent Python control flow: backends that run the function on numbers.
RUNS_ON_NUMBERS = (
    "a backend that calls the function on numbers: --backend torch:reverse --torch-mode eager"
    " (torch.func evaluates the `if` on each call's values) or --backend finitediff; jax, like"
    " sympy, traces with abstract values and refuses the same `if`"
)


#: What `__array_namespace__` returns (an object whose attributes are the Array API functions).
Namespace = Any


def operand(value: object) -> Operand | None:
    """A symbolic array, number or numpy array as an operand; None for anything else."""
    if isinstance(value, SymbolicArray):
        return value.operand
    if isinstance(value, np.ndarray | np.generic):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            return None
        kind = "i" if array.dtype.kind == "u" else array.dtype.kind
        return Operand(wrap(TO_EXPRS(array)), array.dtype, kind)
    if isinstance(value, bool | int | float | sympy.Basic):
        expr = to_expr(value)
        if isinstance(expr, sympy.logic.boolalg.Boolean):
            kind = "b"
        else:
            kind = "i" if expr.is_Integer and not isinstance(value, float) else "f"
        return Operand(wrap(expr), None, kind)
    return None


def as_operand(value: object, what: str) -> Operand:
    """`operand`, raising a SymbolicError that names the operation for an unsupported value."""
    result = operand(value)
    if result is None:
        raise SymbolicError(
            f"{what} got a {type(value).__name__}",
            "operations on symbolic arrays take symbolic arrays, Python numbers and numpy "
            "arrays of bool, int or float",
            "pass arrays (build them with xp.asarray) or Python numbers",
        )
    return result


def elementwise(
    what: str, function: Callable[..., Any], operands: Sequence[Operand], dtype: DType
) -> SymbolicArray:
    """Apply a scalar SymPy function to broadcast operands."""
    broadcast_shape(what, [op.data.shape for op in operands])

    def ticking(*args: Any) -> Any:
        tick()
        return function(*args)

    ufunc = np.frompyfunc(ticking, len(operands), 1)
    return SymbolicArray(wrap(ufunc(*(op.data for op in operands))), dtype)


def matmul(x1: object, x2: object) -> SymbolicArray:
    """Matrix product with numpy's rules for 1-D operands and broadcast batch dimensions."""
    a, b = as_operand(x1, "matmul"), as_operand(x2, "matmul")
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise SymbolicError(
            "matmul of a 0-d array",
            "the Array API defines @ for arrays of at least one dimension",
            "multiply with * instead",
        )
    left = a.data if a.data.ndim > 1 else a.data[None, :]
    right = b.data if b.data.ndim > 1 else b.data[:, None]
    try:
        if left.shape[-1] != right.shape[-2]:
            raise ValueError("the inner dimensions differ")
        batch = np.broadcast_shapes(left.shape[:-2], right.shape[:-2])
    except ValueError as error:
        raise SymbolicError(
            f"matmul: shapes {a.data.shape} and {b.data.shape} do not match ({error})",
            "the last dimension of the first operand must equal the second-to-last of the "
            "second (the only one for 1-D), and batch dimensions must broadcast",
            "transpose or reshape an operand",
        ) from error
    left = np.broadcast_to(left, batch + left.shape[-2:])
    right = np.broadcast_to(right, batch + right.shape[-2:])
    data = np.empty((*batch, left.shape[-2], right.shape[-1]), dtype=object)
    for index in np.ndindex(*data.shape):
        *outer, i, j = index
        tick()
        data[index] = sympy.Add(*(left[(*outer, i)] * right[(*outer, slice(None), j)]))
    if a.data.ndim == 1:
        data = data[..., 0, :]
    if b.data.ndim == 1:
        data = data[..., 0]
    return SymbolicArray(wrap(data), arithmetic((a, b), "matmul"))


def matrix_transpose(x: SymbolicArray) -> SymbolicArray:
    """Swap the last two axes."""
    if x.ndim < 2:
        raise SymbolicError(
            f"matrix transpose of an array of shape {x.shape}",
            "a matrix transpose swaps the last two axes, so it needs at least two",
            "reshape the array first, or leave out the transpose of a vector",
        )
    return SymbolicArray(np.swapaxes(x.expressions, -1, -2), x.dtype)


def convert(x: SymbolicArray, dtype: object) -> SymbolicArray:
    """`astype`: the same expressions under another dtype; booleans become 0/1 and back."""
    target = as_dtype(dtype)
    source = x.operand
    if target.kind == "b" and x.dtype.kind != "b":
        return elementwise("astype", lambda e: sympy.Ne(e, 0), [source], target)
    if x.dtype.kind == "b" and target.kind != "b":
        return elementwise("astype", _indicator, [source], target)
    if x.dtype.kind == "f" and target.kind in "iu":
        raise SymbolicError(
            f"astype from {x.dtype} to {target}",
            "a cast to an integer rounds, which has no derivative worth tracing",
            "keep the values floating: xp.floor and xp.ceil round and keep the dtype",
        )
    return SymbolicArray(x.expressions, target)


def _indicator(condition: Any) -> Any:
    return sympy.Piecewise((1, condition), (0, True))


def _data_dependent(conversion: str, expr: Any) -> SymbolicError:
    text = str(expr)
    text = text if len(text) <= 80 else text[:77] + "..."
    return SymbolicError(
        f"{conversion}() of the symbolic value {text}: the sympy backend cannot take Python "
        "control flow or conversions that depend on the arguments' values (such as `if x > 0:`)",
        "it traces the function once with symbols in place of the arguments, and a value that "
        "depends on them is not known then",
        f"{USE_WHERE}, or use {RUNS_ON_NUMBERS}",
    )


def _index_part(part: object) -> object:
    """One part of an index as numpy takes it; symbolic parts must have concrete values."""
    if part is None or part is Ellipsis or isinstance(part, slice | int | np.integer):
        return part
    if isinstance(part, np.ndarray | list) and np.asarray(part).dtype.kind in "biu":
        return np.asarray(part)
    if isinstance(part, SymbolicArray) and part.dtype.kind in "biu":
        values: list[Any] = list(part.expressions.flat)
        for value in values:
            if value.free_symbols:
                raise _data_dependent("index", value)
        kind = bool if part.dtype.kind == "b" else int
        return np.array([kind(value) for value in values], dtype=kind).reshape(part.shape)
    raise SymbolicError(
        f"an index of type {type(part).__name__} ({part!r})",
        "symbolic arrays take integers, slices, ..., None and constant integer or boolean arrays",
        "index with integers and slices, or select with xp.where",
    )


def _operators(function: Callable[..., Any], rule: Rule) -> tuple[Method, Method]:
    """The methods of a binary operator: `a OP b` and the reflected `b OP a`."""
    what = f"the operator {getattr(function, '__name__', function)}"

    def apply(left: Operand, right: Operand) -> SymbolicArray:
        return elementwise(what, function, (left, right), rule((left, right), what))

    def forward(self: SymbolicArray, other: object) -> SymbolicArray:
        right = operand(other)
        return NotImplemented if right is None else apply(self.operand, right)

    def reflected(self: SymbolicArray, other: object) -> SymbolicArray:
        left = operand(other)
        return NotImplemented if left is None else apply(left, self.operand)

    return forward, reflected


class SymbolicArray:
    """An Array API array of SymPy expressions, immutable, with the dtype it has at run time."""

    __slots__ = ("_data", "_dtype")
    __array_ufunc__ = None  # numpy defers to the reflected operators below
    _op_priority = 100.0  # and so does SymPy (`xp.pi * x`)
    #: The Array API namespace of symbolic arrays: symbolic/namespace.py builds it from this
    #: module's functions and sets it here once, as it is imported (trace.py imports it).
    namespace: ClassVar[Namespace | None] = None

    def __init__(self, data: Exprs, dtype: object) -> None:
        if not (isinstance(data, np.ndarray) and data.dtype == object):
            raise TypeError("SymbolicArray takes a numpy object array of SymPy expressions")
        view = data.view()
        view.flags.writeable = False
        self._data = view
        self._dtype = as_dtype(dtype)

    @property
    def expressions(self) -> Exprs:
        """The expressions, as a read-only numpy object array."""
        return self._data

    @property
    def operand(self) -> Operand:
        """The array as an operand of an operation."""
        return Operand(self._data, self._dtype, self._dtype.kind)

    @property
    def dtype(self) -> DType:
        return self._dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def T(self) -> SymbolicArray:
        if self.ndim != 2:
            raise SymbolicError(
                f".T of an array of shape {self.shape}",
                "the Array API defines .T for 2-D arrays only",
                "use xp.matrix_transpose (the last two axes) or xp.permute_dims",
            )
        return SymbolicArray(self._data.T, self._dtype)

    @property
    def mT(self) -> SymbolicArray:
        return matrix_transpose(self)

    def __array_namespace__(self, /, *, api_version: str | None = None) -> Namespace:
        assert SymbolicArray.namespace is not None, "symbolic/namespace.py registers it"
        return SymbolicArray.namespace

    def _sympy_(self) -> Any:
        raise sympy.SympifyError(self)  # not float(x): an array is not one SymPy expression

    def astype(self, dtype: object, /, *, copy: bool = True) -> SymbolicArray:
        return convert(self, dtype)

    def __repr__(self) -> str:
        return f"SymbolicArray({self._data.tolist()!r}, dtype={self._dtype.name})"

    __add__, __radd__ = _operators(operator.add, arithmetic)
    __sub__, __rsub__ = _operators(operator.sub, arithmetic)
    __mul__, __rmul__ = _operators(operator.mul, arithmetic)
    __truediv__, __rtruediv__ = _operators(operator.truediv, division)
    __floordiv__, __rfloordiv__ = _operators(operator.floordiv, arithmetic)
    __mod__, __rmod__ = _operators(operator.mod, arithmetic)
    __pow__, __rpow__ = _operators(operator.pow, arithmetic)
    __and__, __rand__ = _operators(operator.and_, logical)
    __or__, __ror__ = _operators(operator.or_, logical)
    __lt__ = _operators(operator.lt, comparison)[0]
    __le__ = _operators(operator.le, comparison)[0]
    __gt__ = _operators(operator.gt, comparison)[0]
    __ge__ = _operators(operator.ge, comparison)[0]
    __eq__ = _operators(sympy.Eq, comparison)[0]  # type: ignore[assignment]
    __ne__ = _operators(sympy.Ne, comparison)[0]  # type: ignore[assignment]

    def __matmul__(self, other: object) -> SymbolicArray:
        return NotImplemented if operand(other) is None else matmul(self, other)

    def __rmatmul__(self, other: object) -> SymbolicArray:
        return NotImplemented if operand(other) is None else matmul(other, self)

    def _unary(self, function: Callable[..., Any], rule: Rule) -> SymbolicArray:
        operands = [self.operand]
        what = f"the operator {function.__name__}"
        return elementwise(what, function, operands, rule(operands, what))

    def __neg__(self) -> SymbolicArray:
        return self._unary(operator.neg, arithmetic)

    def __pos__(self) -> SymbolicArray:
        return self

    def __abs__(self) -> SymbolicArray:
        return self._unary(sympy.Abs, arithmetic)

    def __invert__(self) -> SymbolicArray:
        return self._unary(sympy.Not, logical)

    def __getitem__(self, key: object) -> SymbolicArray:
        parts = key if isinstance(key, tuple) else (key,)
        index: Any = tuple(_index_part(part) for part in parts)
        try:
            data = self._data[index]
        except IndexError as error:
            raise SymbolicError(
                f"the index {key!r} does not fit an array of shape {self.shape}",
                str(error),
                "check the indices against the shapes in the argument specs",
            ) from error
        return SymbolicArray(wrap(data), self._dtype)

    def __setitem__(self, key: object, value: object) -> None:
        raise SymbolicError(
            "item assignment x[...] = value on a symbolic array",
            "Array API arrays need not support assignment (jax arrays do not), and the sympy "
            "backend's arrays are immutable",
            "build the array with xp.concat, xp.stack or xp.where (xp.where(mask, value, x)) "
            "instead of assigning into it",
        )

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __iter__(self) -> Iterator[SymbolicArray]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def _value(self, conversion: str) -> Any:
        """The single expression of a 0-d array, if it depends on no argument."""
        if self.ndim != 0:
            raise SymbolicError(
                f"{conversion}() of an array of shape {self.shape}",
                "only a 0-d array converts to a Python scalar (and, while tracing, only one whose "
                "value does not depend on the arguments)",
                f"{USE_WHERE}, or use {RUNS_ON_NUMBERS}",
            )
        expr: Any = self._data[()]
        if expr.free_symbols:
            raise _data_dependent(conversion, expr)
        return expr

    def __bool__(self) -> bool:
        expr = self._value("bool")
        try:
            return bool(expr)
        except TypeError as error:
            raise _data_dependent("bool", expr) from error

    def __float__(self) -> float:
        return float(self._value("float"))

    def __int__(self) -> int:
        return int(self._value("int"))

    def __index__(self) -> int:
        if self._dtype.kind not in "iu":
            raise TypeError(f"a {self._dtype} array is not an integer index")
        return int(self._value("index"))
