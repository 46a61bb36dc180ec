"""Functions written with jax directly (jax.numpy, jax.nn, jax.lax): only jax backends take them."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def free_energy(x: jax.Array) -> jax.Array:
    """log(sum(exp(x))) + sum(softplus(x)) / 2 + sum(x**2) / 4: smooth and strictly convex."""
    return jax.nn.logsumexp(x) + 0.5 * jnp.sum(jax.nn.softplus(x)) + 0.25 * jnp.sum(x * x)


def oscillator(state: jax.Array, damping: jax.Array) -> jax.Array:
    """(position, velocity) of a damped pendulum after 20 explicit Euler steps of 0.05."""

    def step(_: int, s: jax.Array) -> jax.Array:
        return s + 0.05 * jnp.stack([s[1], -jnp.sin(s[0]) - damping * s[1]])

    return jax.lax.fori_loop(0, 20, step, state)
