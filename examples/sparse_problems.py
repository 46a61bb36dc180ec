"""Functions with sparse Jacobians and Hessians, written as a user would (Array API style)."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def chained_rosenbrock(x: Any) -> Any:
    """The chained Rosenbrock function: a tridiagonal Hessian, 3 colors at any n."""
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def brusselator(y: Any, a: Any, b: Any, alpha: Any) -> Any:
    """The right-hand side of the 2-D Brusselator (u, v on an N x N periodic grid, y of shape
    (2, N, N)), as in DifferentialEquations.jl's sparse-Jacobian tutorial: two species coupled
    through u^2 v and a 5-point Laplacian, 6 nonzeros a row of the Jacobian."""
    xp = array_namespace(y)
    u, v = y[0], y[1]
    n = u.shape[0]

    def laplacian(w: Any) -> Any:
        up = xp.concat([w[-1:, :], w[:-1, :]], axis=0)
        down = xp.concat([w[1:, :], w[:1, :]], axis=0)
        left = xp.concat([w[:, -1:], w[:, :-1]], axis=1)
        right = xp.concat([w[:, 1:], w[:, :1]], axis=1)
        return (up + down + left + right - 4.0 * w) * float((n - 1) ** 2)

    du = alpha * laplacian(u) + b + u * u * v - (a + 1.0) * u
    dv = alpha * laplacian(v) + a * u - u * u * v
    return xp.stack([du, dv])


def robertson_chain(t: Any, y: Any) -> Any:
    """An ODE right-hand side f(t, y): a chain of Robertson-like reactions, each species
    feeding the next (a banded Jacobian, bandwidth 2)."""
    xp = array_namespace(y)
    k1, k2, k3 = 0.04, 3.0e7, 1.0e4
    forward = k1 * y[:-1] - k3 * y[:-1] * y[1:]
    feed = xp.concat([xp.zeros((1,), dtype=y.dtype), forward])
    drain = xp.concat([forward, xp.zeros((1,), dtype=y.dtype)])
    return feed - drain - k2 * y * y * xp.exp(-t)
