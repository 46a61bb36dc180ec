"""Functions whose Jacobians and Hessians are large and almost all zeros, as users write them.

Each is written against the Array API (array_namespace), so that every backend traces it and
the symbolic detector reads its exact sparsity pattern: the chained Rosenbrock objective (a
tridiagonal Hessian), the right-hand side of the 2-D Brusselator reaction-diffusion system (a
5-point stencil per species, coupled by the reaction), and the Luksan-Vlcek problem 1 of the
IPOPT test set (chained Rosenbrock under n - 2 trigonometric-exponential equality constraints),
whose objective, constraints and Lagrangian an IPOPT driver needs.
"""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def chained_rosenbrock(x: Any) -> Any:
    """sum(100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2): a tridiagonal Hessian."""
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _shifted(u: Any, shift: int, axis: int) -> Any:
    """u rolled by +-1 along an axis with periodic wrap (u[i - shift]), from slices."""
    xp = array_namespace(u)
    if axis == 0:
        parts = [u[-1:, :], u[:-1, :]] if shift == 1 else [u[1:, :], u[:1, :]]
    else:
        parts = [u[:, -1:], u[:, :-1]] if shift == 1 else [u[:, 1:], u[:, :1]]
    return xp.concat(parts, axis=axis)


def _laplacian(u: Any) -> Any:
    """The 5-point periodic Laplacian of an N x N grid function, in grid units."""
    return _shifted(u, 1, 0) + _shifted(u, -1, 0) + _shifted(u, 1, 1) + _shifted(u, -1, 1) - 4.0 * u


def brusselator(y: Any, alpha: Any) -> Any:
    """The right-hand side of the 2-D Brusselator, y = (u, v) on an N x N periodic grid:
    du/dt = 1 + u**2 v - 4.4 u + alpha lap(u), dv/dt = 3.4 u - u**2 v + alpha lap(v)."""
    xp = array_namespace(y)
    u, v = y[0, :, :], y[1, :, :]
    reaction = u * u * v
    du = 1.0 + reaction - 4.4 * u + alpha * _laplacian(u)
    dv = 3.4 * u - reaction + alpha * _laplacian(v)
    return xp.stack([du, dv], axis=0)


def luksan_vlcek_objective(x: Any) -> Any:
    """The objective of Luksan-Vlcek problem 1: the chained Rosenbrock function."""
    xp = array_namespace(x)
    return xp.sum(100.0 * (x[:-1] ** 2 - x[1:]) ** 2 + (x[:-1] - 1.0) ** 2)


def luksan_vlcek_constraints(x: Any) -> Any:
    """Its n - 2 equality constraints c(x) = 0: each couples x[k], x[k+1] and x[k+2]."""
    xp = array_namespace(x)
    a, b, c = x[:-2], x[1:-1], x[2:]
    return (
        3.0 * b**3
        + 2.0 * c
        - 5.0
        + xp.sin(b - c) * xp.sin(b + c)
        + 4.0 * b
        - a * xp.exp(a - b)
        - 3.0
    )


def luksan_vlcek_lagrangian(x: Any, multipliers: Any, scale: Any) -> Any:
    """IPOPT's Lagrangian: scale * objective + multipliers . constraints (a 0-d scale)."""
    xp = array_namespace(x)
    return scale * luksan_vlcek_objective(x) + xp.sum(multipliers * luksan_vlcek_constraints(x))
