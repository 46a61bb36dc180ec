"""A sparse objective written with jax.numpy, as a jax user writes it: only jax backends take it,
and its sparsity pattern is read from its jaxpr by asdex (the symbolic trace cannot see it)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def chained_rosenbrock(x: jax.Array) -> jax.Array:
    """sum(100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2): a tridiagonal Hessian."""
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
