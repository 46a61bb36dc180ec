"""The scenario functions, in Array API style so that every backend can take them."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def scalar_scalar(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.sin(x) * x**2


def scalar_scalar_c(x: Any, c: Any) -> Any:
    xp = array_namespace(x, c)
    return c * xp.exp(x)


def scalar_vector(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.stack([xp.sin(x), xp.cos(x), x**3])


def scalar_vector_c(x: Any, c: Any) -> Any:
    return c * x**2


def scalar_matrix(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.reshape(xp.stack([x, x**2, x**3, xp.sin(x)]), (2, 2))


def vector_scalar(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.sum(xp.sin(x) * x) + xp.sum(x[1:] * x[:-1])


def vector_scalar_c(x: Any, c: Any) -> Any:
    xp = array_namespace(x, c)
    return xp.sum(c * x**3)


def vector_scalar_cc(x: Any, c: Any, d: Any) -> Any:
    xp = array_namespace(x, c, d)
    return d * xp.sum(xp.tanh(c @ x))


def quadratic_form(x: Any, c: Any) -> Any:
    """x^T C x with a 1-D `@` on both sides of a constant matrix."""
    return x @ c @ x


def lagrangian(x: Any, c: Any) -> Any:
    """An objective plus multipliers c (a constant) times two constraints: f(x) + c @ g(x)."""
    xp = array_namespace(x, c)
    objective = 0.5 * xp.sum(x**2) + x[0] * x[3]
    g = xp.stack([xp.sum(x**2) - 1.0, x[0] * x[1] + xp.exp(x[2])])
    return objective + c @ g


def matrix_scalar(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.sum(xp.tanh(x) * x)


def vector_vector(x: Any) -> Any:
    xp = array_namespace(x)
    return x**2 + 2.0 * xp.flip(x)


def vector_vector_c(x: Any, c: Any) -> Any:
    xp = array_namespace(x, c)
    return xp.exp(x) * c


def vector_matrix(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.reshape(x, (-1, 1)) * xp.reshape(x, (1, -1))


def matrix_vector(x: Any) -> Any:
    xp = array_namespace(x)
    return xp.sum(x**2, axis=1)


def matrix_matrix(x: Any) -> Any:
    return x * x + x


def matrix_matrix_c(x: Any, c: Any) -> Any:
    return x * c


def ode_rhs(c: Any, x: Any) -> Any:
    """A solver's `f(t, y)`: the active argument second, after a 0-d constant."""
    xp = array_namespace(c, x)
    return c * x**2 + xp.sin(x)


def weighted_cubes(c: Any, x: Any, d: Any) -> Any:
    """The active argument between two constants: d * sum(c * x**3)."""
    xp = array_namespace(c, x, d)
    return d * xp.sum(c * x**3)
