"""The SymPy-backed Array API namespace: traced functions agree with numpy on the same code."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sympy
from array_api_compat import array_namespace

from generator.errors import DiffgenError
from generator.spec import Spec
from generator.symbolic.array import SymbolicArray
from generator.symbolic.dtypes import SymbolicError
from generator.symbolic.namespace import NAMESPACE, SUPPORTED, UnsupportedError
from generator.symbolic.trace import Traced, trace

RNG_SEED = 20_240_917


def rosen(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def residual(x: Any) -> Any:
    xp = array_namespace(x)
    zero = xp.zeros((1,), dtype=x.dtype)
    return (3.0 - 2.0 * x) * x - xp.concat([zero, x[:-1]]) - 2.0 * xp.concat([x[1:], zero]) + 1.0


def evaluate(traced: Traced, *values: np.ndarray) -> np.ndarray:
    """The traced output at a point, in 30-digit arithmetic."""
    subs = {}
    for symbols, value in zip(traced.inputs, values, strict=True):
        assert symbols.shape == np.shape(value)
        for symbol, number in zip(symbols.flat, np.asarray(value).flat, strict=True):
            subs[symbol] = sympy.Float(float(number), 30)
    flat = [float(expr.xreplace(subs).evalf(30)) for expr in traced.output.flat]
    return np.array(flat).reshape(traced.output.shape)


def points(shapes: list[tuple[int, ...]], count: int = 3) -> list[list[np.ndarray]]:
    """Seeded points in (0.1, 0.9), inside the domain of every function below."""
    rng = np.random.default_rng(RNG_SEED)
    return [[rng.uniform(0.1, 0.9, shape) for shape in shapes] for _ in range(count)]


def check_against_numpy(function: Callable[..., Any], specs: list[tuple[str, Spec]]) -> Traced:
    """Trace `function` and compare it with numpy running the same code at seeded points."""
    traced = trace(function, specs)
    for values in points([spec.shape for _, spec in specs]):
        expected = np.asarray(function(*values))
        assert traced.output.shape == expected.shape
        np.testing.assert_allclose(evaluate(traced, *values), expected, rtol=1e-12, atol=1e-12)
    return traced


def vec(n: int = 4, dtype: str = "float64") -> tuple[str, Spec]:
    return ("x", Spec(dtype, (n,)))  # type: ignore[arg-type]


MAT = ("A", Spec("float64", (3, 4)))


# ------------------------------------------------------------------ tracing and its result


def test_rosenbrock_matches_numpy() -> None:
    traced = check_against_numpy(rosen, [vec(10)])
    assert traced.output.shape == ()
    assert traced.output_dtype == "float64"
    assert [str(s) for s in traced.inputs[0]] == [f"x_{k}" for k in range(10)]
    assert all(s.is_real for s in traced.inputs[0])


def test_rosenbrock_with_a_thousand_elements_traces() -> None:
    traced = trace(rosen, [vec(1000)])
    assert len(traced.output[()].args) == 2 * 999  # one term per square, nothing expanded


def test_residual_with_constants_matches_numpy() -> None:
    check_against_numpy(residual, [vec(5)])


def test_matrix_and_scalar_inputs_are_symbols_in_c_order() -> None:
    traced = trace(lambda t, A: A * t, [("t", Spec("float64", ())), ("A", Spec("float64", (2, 3)))])
    t, A = traced.inputs
    assert t.shape == () and str(t[()]) == "t_0"
    assert A.shape == (2, 3) and str(A[1, 0]) == "A_3"
    assert traced.output[1, 2] == t[()] * A[1, 2]
    assert not traced.output.flags.writeable and not A.flags.writeable


def test_a_constant_function_traces_to_its_value_in_the_argument_dtype() -> None:
    traced = trace(lambda x: 2.0, [vec(3, "float32")])
    assert traced.output.shape == () and traced.output[()] == sympy.Integer(2)
    assert traced.output_dtype == "float32"


def test_float32_is_carried_through() -> None:
    seen = {}

    def f(x: Any) -> Any:
        xp = array_namespace(x)
        seen["dtype"] = x.dtype == xp.float32
        seen["scalar"] = (2.0 * x + 1).dtype == xp.float32
        seen["numpy64"] = (x * np.ones(3)).dtype == xp.float64
        seen["created"] = xp.zeros((3,), dtype=x.dtype).dtype == xp.float32
        return xp.sum(xp.exp(x) * 0.5)

    traced = trace(f, [vec(3, "float32")])
    assert seen == {"dtype": True, "scalar": True, "numpy64": True, "created": True}
    assert traced.output_dtype == "float32"


def test_the_result_dtype_follows_promotion() -> None:
    traced = trace(lambda x: x * np.arange(3.0), [vec(3, "float32")])
    assert traced.output_dtype == "float64"


# ------------------------------------------------------------------ the namespace against numpy


def unary(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.stack(
        [
            xp.abs(x - 0.5),
            xp.sqrt(x),
            xp.exp(x),
            xp.expm1(x),
            xp.log(x),
            xp.log1p(x),
            xp.log2(x),
            xp.log10(x),
            xp.sin(x),
            xp.cos(x),
            xp.tan(x),
            xp.asin(x),
            xp.acos(x),
            xp.atan(x),
            xp.sinh(x),
            xp.cosh(x),
            xp.tanh(x),
            xp.asinh(x),
            xp.acosh(1.0 + x),
            xp.atanh(x),
            xp.square(x),
            xp.sign(x - 0.5),
            xp.negative(x),
            xp.positive(x),
            xp.reciprocal(x),
            xp.floor(4.0 * x),
            xp.ceil(4.0 * x),
            abs(0.5 - x),
            -x,
            +x,
        ]
    )


def binary(x: Any) -> Any:
    xp = array_namespace(x)
    y = xp.flip(x)
    return xp.stack(
        [
            xp.add(x, y),
            xp.subtract(x, 2.0),
            xp.multiply(x, y),
            xp.divide(1.0, x),
            xp.pow(x, 2.5),
            xp.atan2(x, y),
            xp.hypot(x, 1.0),
            xp.logaddexp(x, 2.0 * y),
            xp.maximum(x, 0.5),
            xp.minimum(x, y),
            xp.clip(x, 0.3, 0.6),
            xp.floor_divide(3.0 * x, 1.0),
            xp.remainder(3.0 * x, 1.0),
            x**2,
            2.0**x,
            x**y,
            x / y,
            1.0 / x,
            3 - x,
            x // 0.25,
            x % 0.25,
        ]
    )


def conditions(x: Any) -> Any:
    xp = array_namespace(x)
    first = x[0]
    return xp.stack(
        [
            xp.where((x > 0.3) & (x <= 0.7), x**2, -x),
            xp.where((x < 0.2) | ~(x >= 0.5), 1.0, 0.0),
            xp.where(x == first, 1.0, x),
            xp.where(x != first, x, 0.0),
            xp.where(xp.logical_and(xp.greater(x, 0.2), xp.less(x, 0.8)), x, 2.0 * x),
            xp.where(xp.logical_or(xp.less_equal(x, 0.4), xp.greater_equal(x, 0.6)), x, 0.0),
            xp.where(xp.logical_not(xp.equal(x, first)), 1.0, 2.0),
            xp.where(xp.not_equal(x, first), x, 3.0),
            xp.astype(x > 0.5, x.dtype),
            xp.astype(xp.astype(x - 0.5, xp.bool), xp.float64),
            xp.where(x > 2.0, xp.nan, x),
        ]
    )


def reductions(x: Any, A: Any) -> Any:
    xp = array_namespace(x, A)
    return xp.concat(
        [
            xp.stack([xp.sum(x), xp.prod(x), xp.mean(x), xp.max(x), xp.min(x)]),
            xp.sum(A, axis=0),
            xp.reshape(xp.sum(A, axis=1, keepdims=True), (-1,)),
            xp.mean(A, axis=(0, 1), keepdims=True)[0],
            xp.prod(A, axis=-1),
            xp.max(A, axis=1),
            xp.min(A, axis=0),
            xp.reshape(xp.sum(A), (1,)),
        ]
    )


def linear_algebra(x: Any, A: Any) -> Any:
    xp = array_namespace(x, A)
    return xp.concat(
        [
            A @ x,
            x[:3] @ A,
            xp.reshape(A @ A.T, (-1,)),
            xp.reshape(x @ x, (1,)),
            xp.matmul(A, x),
            xp.reshape(xp.matmul(A.mT, A), (-1,)),
            xp.reshape(xp.matrix_transpose(A), (-1,)),
            np.ones((2, 4)) @ x,
            x[:3] @ np.ones((3, 2)),
            xp.vecdot(A, x),
            xp.vecdot(A, A, axis=0),
            xp.linalg.vecdot(x, x)[None],
            xp.linalg.matmul(A, x),
            xp.reshape(xp.linalg.matrix_transpose(A), (-1,)),
            xp.linalg.vector_norm(x)[None],
            xp.linalg.vector_norm(A, axis=1),
            xp.linalg.vector_norm(A, axis=0, keepdims=True)[0],
            xp.linalg.vector_norm(x, ord=1)[None],
            xp.linalg.vector_norm(x, ord=xp.inf)[None],
            xp.linalg.vector_norm(x, ord=-xp.inf)[None],
            xp.linalg.vector_norm(x, ord=3)[None],
        ]
    )


def manipulation(x: Any, A: Any) -> Any:
    xp = array_namespace(x, A)
    parts = [
        xp.reshape(A, (4, 3)),
        xp.reshape(x, (2, -1)),
        xp.concat([x, x[:2]]),
        xp.concat([A, A], axis=1),
        xp.concat([A, A], axis=None),
        xp.stack([x, 2.0 * x], axis=1),
        xp.stack([x, x]),
        xp.broadcast_to(x, (3, 4)),
        xp.expand_dims(x, axis=0),
        xp.squeeze(xp.expand_dims(x, axis=1), axis=1),
        xp.flip(x),
        xp.flip(A, axis=1),
        xp.permute_dims(A, (1, 0)),
        *xp.broadcast_arrays(x, A),
        x[:, None] * x[None, :],
        x[xp.newaxis, :] * A,
        A * x,
        A[:, :1] + x,
        np.arange(4.0) + x,
        x - np.arange(4.0),
        np.float64(2.0) * x,
    ]
    return xp.concat([xp.reshape(part, (-1,)) for part in parts])


def creation(x: Any) -> Any:
    xp = array_namespace(x)
    n = x.shape[0]
    parts = [
        xp.concat([xp.zeros((1,), dtype=x.dtype), x]),
        xp.arange(1, n + 1, dtype=x.dtype) * x,
        xp.arange(n) * x,
        xp.arange(0.0, 1.0, 0.25) + x,
        xp.ones_like(x) + x,
        xp.zeros_like(x) + x,
        xp.full((n,), 2.5, dtype=x.dtype) * x,
        xp.full_like(x, 3.0) * x,
        xp.ones((n,)) * x,
        xp.eye(n, dtype=x.dtype) @ x,
        xp.reshape(xp.eye(3, n, k=1), (-1,)),
        xp.asarray([1.0, 2.0, 3.0, 4.0]) * x,
        xp.asarray([x[0], 2.0, x[1] ** 2, 1]),
        xp.asarray(np.arange(4.0)) * x,
        xp.asarray(x) * xp.asarray(2.0),
        xp.linspace(0.0, 1.0, n) * x,
        xp.pi * x + xp.e,
        xp.astype(xp.arange(n, dtype=xp.int64), xp.float64) * x,
        xp.arange(n, dtype=xp.int32) + x,
        x + xp.finfo(x.dtype).eps + xp.finfo(xp.float32).eps,
        2 * xp.pi * x,
    ]
    return xp.concat(parts)


def curve(t: Any, radius: Any) -> Any:
    xp = array_namespace(t, radius)
    return xp.stack([radius * xp.cos(t), radius * xp.sin(t), t / 2.0])


CORPUS: list[tuple[Callable[..., Any], list[tuple[str, Spec]]]] = [
    (unary, [vec()]),
    (binary, [vec()]),
    (conditions, [vec()]),
    (reductions, [vec(), MAT]),
    (linear_algebra, [vec(), MAT]),
    (manipulation, [vec(), MAT]),
    (creation, [vec()]),
    (curve, [("t", Spec("float64", ())), ("radius", Spec("float64", ()))]),
]


def test_the_corpus_uses_every_supported_name() -> None:
    source = "".join(inspect.getsource(function) for function, _ in CORPUS)
    unused = [name for name in SUPPORTED if not re.search(rf"xp\.{re.escape(name)}\b", source)]
    assert unused == []


@pytest.mark.parametrize(("function", "specs"), CORPUS, ids=[f.__name__ for f, _ in CORPUS])
def test_namespace_functions_agree_with_numpy(
    function: Callable[..., Any], specs: list[tuple[str, Spec]]
) -> None:
    check_against_numpy(function, specs)


# ------------------------------------------------------------------ the expressions themselves


def test_integer_powers_stay_integer_and_literals_exact() -> None:
    traced = trace(lambda x: x[0] ** 2 + x[1] ** 2.0 + x[2] ** 0.5 + 2.0 * x[3], [vec()])
    x = traced.inputs[0]
    assert traced.output[()] == sympy.Pow(x[0], 2) + sympy.Pow(x[1], 2) + x[2] ** 0.5 + 2 * x[3]
    exponents = {term.exp for term in traced.output[()].args if term.is_Pow}
    assert exponents == {sympy.Integer(2), sympy.Float(0.5)}
    assert sympy.Integer(2) * x[3] in traced.output[()].args


def test_where_and_maximum_give_piecewise_and_max() -> None:
    def f(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.where(x > 0.5, x, -x) + xp.maximum(x, 0.0)

    traced = trace(f, [vec(2)])
    x0 = traced.inputs[0][0]
    assert traced.output[0] == sympy.Piecewise((x0, x0 > 0.5), (-x0, True)) + sympy.Max(x0, 0)
    assert traced.output[0].has(sympy.Piecewise, sympy.Max)


def test_sympy_constants_stay_exact() -> None:
    traced = trace(lambda x: array_namespace(x).pi * x, [vec(1)])
    assert traced.output[0] == sympy.pi * traced.inputs[0][0]


def test_creation_functions_make_exact_integers() -> None:
    def f(x: Any) -> Any:
        xp = array_namespace(x)
        return xp.arange(1, x.shape[0] + 1, dtype=x.dtype) + xp.zeros((1,), dtype=x.dtype)

    traced = trace(f, [vec(3)])
    assert list(traced.output) == [sympy.Integer(1), sympy.Integer(2), sympy.Integer(3)]


# ------------------------------------------------------------------ arrays: indexing, protocol


def symbolic(shape: tuple[int, ...]) -> tuple[SymbolicArray, np.ndarray]:
    traced = trace(lambda a: a, [("a", Spec("float64", shape))])
    return SymbolicArray(traced.inputs[0], "float64"), traced.inputs[0]


KEYS = [
    1,
    -1,
    slice(1, 3),
    slice(None, None, -1),
    slice(None, None, 2),
    slice(-2, None),
    (1, 2),
    (-1, -1),
    (slice(None), 0),
    (Ellipsis, 1),
    (None, 0),
    (0, None),
    (slice(None, None, -2), slice(1, None, 2)),
    Ellipsis,
    np.array([0, 2]),
    (slice(None), [3, 0]),
    np.array([True, False, True]),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(key) for key in KEYS])
def test_indexing_matches_numpy(key: Any) -> None:
    array, data = symbolic((3, 4))
    result = array[key]
    expected = np.asarray(data[key], dtype=object)
    assert isinstance(result, SymbolicArray)
    assert result.shape == expected.shape
    assert list(result.expressions.flat) == list(expected.flat)


def test_array_attributes_and_protocol() -> None:
    array, data = symbolic((3, 4))
    assert (array.shape, array.ndim, array.size, len(array)) == ((3, 4), 2, 12, 3)
    assert array.T.shape == (4, 3) and array.mT.shape == (4, 3)
    assert array.dtype == NAMESPACE.float64 and array.device == "cpu"
    assert array_namespace(array) is NAMESPACE
    assert array.__array_namespace__(api_version="2023.12") is NAMESPACE
    first, *_ = array
    assert list(first.expressions) == list(data[0])
    assert array.astype(NAMESPACE.float32).dtype == np.float32
    with pytest.raises(SymbolicError, match=r"\.T"):
        _ = array[0].T


def test_two_symbolic_arguments_share_one_namespace() -> None:
    seen = []

    def f(x: Any, A: Any) -> Any:
        xp = array_namespace(x, A)
        seen.append((xp, array_namespace(x, 2.0, A)))
        return xp.sum(A @ x)

    trace(f, [vec(), MAT])
    assert seen == [(NAMESPACE, NAMESPACE)]


def test_concrete_values_convert_to_python() -> None:
    def f(x: Any) -> Any:
        xp = array_namespace(x)
        count = int(xp.sum(xp.ones((3,))))
        if x[0] - x[0] == 0:  # zero for every x: decidable while tracing
            return x * count + float(xp.asarray(0.5))
        return x

    traced = trace(f, [vec(2)])
    assert traced.output[0] == 3 * traced.inputs[0][0] + sympy.Float(0.5)


# ------------------------------------------------------------------ errors


def test_data_dependent_control_flow_is_a_clear_error() -> None:
    def f(x: Any) -> Any:
        if x[0] > 0:
            return x
        return -x

    with pytest.raises(SymbolicError) as info:
        trace(f, [vec(2)])
    message = str(info.value)
    assert "x_0 > 0" in message and "control flow" in message
    assert "xp.where" in message and "--torch-mode eager" in message and "finitediff" in message


@pytest.mark.parametrize("conversion", [float, int, bool])
def test_conversions_of_symbolic_values_are_errors(conversion: Callable[[Any], Any]) -> None:
    array, _ = symbolic((2,))
    with pytest.raises(SymbolicError, match=r"xp\.where"):
        conversion(array[0])
    with pytest.raises(SymbolicError, match="0-d"):
        conversion(array)


def test_unsupported_namespace_attribute_names_it() -> None:
    with pytest.raises(UnsupportedError) as info:
        _ = NAMESPACE.fft
    error = info.value
    assert isinstance(error, SymbolicError) and isinstance(error, DiffgenError)
    assert error.what == "xp.fft is not supported by the sympy backend"
    assert "common Array API subset" in error.why
    assert "jax or torch backend" in error.fix and "vector_norm" in error.fix
    assert not hasattr(NAMESPACE, "fft")
    with pytest.raises(UnsupportedError, match=r"xp\.linalg\.inv is not supported"):
        _ = NAMESPACE.linalg.inv


def test_unsupported_function_in_a_traced_function() -> None:
    def f(x: Any) -> Any:
        return array_namespace(x).fft.fft(x)

    with pytest.raises(SymbolicError, match=r"xp\.fft is not supported"):
        trace(f, [vec(2)])


def test_other_exceptions_are_wrapped_with_the_construct() -> None:
    def boom(x: Any) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(SymbolicError) as info:
        trace(boom, [vec(2)])
    assert "boom" in info.value.what and "test_symbolic.py" in info.value.what
    assert "jax or torch" in info.value.fix

    with pytest.raises(SymbolicError, match="sum"):
        trace(lambda x: x.sum(), [vec(2)])


def test_item_assignment_is_an_error() -> None:
    def f(x: Any) -> Any:
        x[0] = 1.0
        return x

    with pytest.raises(SymbolicError, match=r"xp\.where"):
        trace(f, [vec(2)])


@pytest.mark.parametrize(
    ("function", "match"),
    [
        (lambda x: x[5], "does not fit"),
        (lambda x: x + x[:2], "do not broadcast"),
        (lambda x: x @ x[:2], "matmul"),
        (lambda x: array_namespace(x).reshape(x, (2,)), "reshape"),
        (lambda x: array_namespace(x).sum(x, axis=1), "axis"),
        (lambda x: x > 0.5, "booleans"),
        (lambda x: (x, x), "returned a tuple"),
        (lambda x: array_namespace(x).where(x, x, x), "non-boolean"),
        (lambda x: x & x, "non-boolean"),
        (lambda x: x[x > 0], "index"),
    ],
)
def test_misuse_is_a_symbolic_error(function: Callable[..., Any], match: str) -> None:
    with pytest.raises(SymbolicError, match=match):
        trace(function, [vec(3)])


def test_namespace_is_immutable_and_lists_its_names() -> None:
    with pytest.raises(AttributeError):
        NAMESPACE.sum = None
    assert "sum" in dir(NAMESPACE) and "linalg.vector_norm" in SUPPORTED
    assert list(SUPPORTED) == sorted(SUPPORTED)
    assert NAMESPACE.__name__ == "generator.symbolic"
