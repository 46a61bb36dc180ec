"""A vector-to-vector residual: Broyden's tridiagonal system (Moré, Garbow & Hillstrom 1981)."""

from __future__ import annotations

from typing import Any

from array_api_compat import array_namespace


def residual(x: Any) -> Any:
    """r_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1, with x_0 = x_{n+1} = 0."""
    xp = array_namespace(x)
    zero = xp.zeros((1,), dtype=x.dtype)
    left = xp.concat([zero, x[:-1]])
    right = xp.concat([x[1:], zero])
    return (3.0 - 2.0 * x) * x - left - 2.0 * right + 1.0
