"""User-like functions that exercise the aten operations torch's transforms compose in place.

Each is written against the Array API, so that jax, an independent framework, gives the
reference derivatives of the very same code (tests/test_torch_corpus.py); `assigned` writes into
an array by index, which only torch's functionalization turns into functional code, so its jax
reference is `assigned_reference`, the same function without the assignment.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def dot_self(x: Any) -> Any:
    """|x|^2 as a 1-D matmul."""
    return x @ x


def quadratic_form(x: Any, A: Any) -> Any:
    """x^T A x with 1-D `@` on both sides."""
    return x @ A @ x


def lagrangian(x: Any, lam: Any) -> Any:
    """An objective plus multipliers times two constraints: f(x) + lam @ g(x)."""
    xp = array_namespace(x, lam)
    objective = xp.sum((x - 1.0) ** 2) + x[0] * x[1]
    g = xp.stack([x[0] ** 2 + x[1] ** 2 + x[2] ** 2 - 1.0, xp.sin(x[0]) * x[2]])
    return objective + lam @ g


def least_squares(x: Any, A: Any, b: Any) -> Any:
    """Half the squared residual of a data matrix: a matrix-vector product, then a 1-D `@`."""
    r = A @ x - b
    return 0.5 * (r @ r)


def logistic(x: Any, A: Any) -> Any:
    """A logistic loss over the rows of a data matrix (labels in the constant's sign)."""
    xp = array_namespace(x, A)
    return xp.sum(xp.log(1.0 + xp.exp(-(A @ x))))


def vector_matrix(x: Any, A: Any) -> Any:
    """x @ A: a 1-D times 2-D product, vector valued."""
    xp = array_namespace(x, A)
    return xp.tanh(x @ A)


def outer_product(x: Any) -> Any:
    """The outer product of x with itself through a matmul of a column and a row."""
    xp = array_namespace(x)
    return xp.sum(xp.sin(xp.reshape(x, (-1, 1)) @ xp.reshape(x, (1, -1))))


def gram(x: Any) -> Any:
    """A 2-D matmul of a matrix input with its transpose, and its trace."""
    xp = array_namespace(x)
    G = x @ xp.matrix_transpose(x)
    return xp.sum(G * G) + xp.sum(xp.linalg.diagonal(G))


def captured_matmul(x: Any) -> Any:
    """`@` with a constant the function makes itself."""
    xp = array_namespace(x)
    B = xp.asarray([[2.0, -1.0, 0.5], [0.0, 1.5, -0.25], [1.0, 0.25, 3.0]], dtype=x.dtype)
    return xp.sum((B @ x) ** 3) + x @ B @ x


def linear_algebra(x: Any, A: Any) -> Any:
    """xp.linalg: a solve against a matrix that depends on x, a norm and a determinant."""
    xp = array_namespace(x, A)
    M = A + xp.reshape(x, (-1, 1)) * xp.reshape(x, (1, -1))
    return xp.sum(xp.linalg.solve(M, x)) + xp.linalg.vector_norm(x) + xp.linalg.det(M)


def reshaped(x: Any) -> Any:
    """A reshape, a transpose and a 2-D product of the pieces of x."""
    xp = array_namespace(x)
    X = xp.reshape(x, (2, 3))
    return xp.sum((xp.permute_dims(X, (1, 0)) @ X) ** 2) + xp.sum(X.T[1] * X[1, :2])


def branches(x: Any) -> Any:
    """A branch per element with xp.where, on both sides of the switch at the test points."""
    xp = array_namespace(x)
    return xp.sum(xp.where(x > 0.5, x**3, xp.sin(x)) * x)


def strided(x: Any) -> Any:
    """Indexing with a step: the even entries against the odd ones."""
    xp = array_namespace(x)
    return xp.sum(x[::2] * x[1::2] ** 2) + xp.sum(xp.cos(x[1::3]))


def cumulative(x: Any) -> Any:
    """A cumulative sum, squared and summed."""
    xp = array_namespace(x)
    c = xp.cumulative_sum(x)
    return xp.sum(c * c) + c[-1] * x[0]


def rhs(x: Any, k: Any) -> Any:
    """An ODE right-hand side, vector valued: a chain of reactions with rates k."""
    xp = array_namespace(x, k)
    flux = k * x[:-1] * x[1:]
    zero = xp.zeros((1,), dtype=x.dtype)
    return xp.concat([flux, zero]) - xp.concat([zero, flux]) - 0.1 * x


def assigned(x: Any) -> Any:
    """An array built by index assignment, as an ODE right-hand side often is."""
    xp = array_namespace(x)
    y = xp.zeros_like(x)
    y[0] = x[0] * x[1]
    y[1:] = xp.sin(x[1:]) - x[:-1] ** 2
    return y


def assigned_reference(x: Any) -> Any:
    """`assigned` without the assignment, for frameworks whose arrays are immutable."""
    xp = array_namespace(x)
    return xp.concat([x[:1] * x[1:2], xp.sin(x[1:]) - x[:-1] ** 2])


def scaled_matvec(x: Any, A: Any) -> Any:
    """A matrix-vector product scaled by |x|^2 (a 1-D `@`), vector valued."""
    return (x @ x) * (A @ x)
