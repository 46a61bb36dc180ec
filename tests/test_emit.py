"""The same exact expressions printed for math, jax and torch evaluate to the same numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import sympy

from generator.symbolic.derivatives import Derivatives
from generator.symbolic.printer import Result, emit, unpack


def rosen_gradient(n: int) -> tuple[list[Any], Result]:
    x = [sympy.Symbol(f"x_{k}", real=True) for k in range(n)]
    f = sympy.Add(*(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)))
    f += sympy.Piecewise((sympy.sqrt(x[0]), x[0] > 0.5), (x[0] ** 2, True)) + sympy.Max(x[1], 0.25)
    d = Derivatives([f], x)
    return x, Result("gradient", (n,), "{dtype}", False, entries=d.dense("gradient", [], []))


def run(dialect: str, array: Any, namespace: dict[str, Any]) -> Any:
    x, result = rosen_gradient(4)
    dtype = {"math": "np.float64", "jax": "jax.numpy.float64", "torch": "torch.float64"}[dialect]
    result = Result(result.name, result.shape, dtype, False, entries=result.entries)
    emitted = emit([result], dialect, like="x_0")
    body = [unpack(dialect, "x", x, False), *emitted.lines, "return _gradient"]
    source = "def gradient(x):\n" + "\n".join(f"    {line}" for line in body)
    exec(source, namespace)  # a test of printed code
    return namespace["gradient"](array)


POINT = [0.7, 0.2, -0.4, 1.3]


def expected() -> np.ndarray:
    x = np.array(POINT)
    g = np.zeros(4)
    g[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    g[0] += 0.5 / math.sqrt(x[0])  # the sqrt branch: x_0 > 0.5
    g[1] += 0.0  # max(x_1, 0.25) takes the constant at x_1 = 0.2
    return g


def test_math_dialect() -> None:
    got = run("math", np.array(POINT), {"np": np, "math": math})
    np.testing.assert_allclose(got, expected(), rtol=1e-14)


def test_jax_dialect() -> None:
    jax = pytest.importorskip("jax")
    import functools

    with jax.enable_x64(True):
        got = run("jax", jax.numpy.asarray(POINT), {"jax": jax, "functools": functools})
        assert got.dtype == jax.numpy.float64
    np.testing.assert_allclose(np.asarray(got), expected(), rtol=1e-14)


def test_torch_dialect() -> None:
    torch = pytest.importorskip("torch")
    got = run("torch", torch.tensor(POINT, dtype=torch.float64), {"torch": torch})
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected(), rtol=1e-14)
