"""The table of backends and of the valid outer/inner pairs."""

from __future__ import annotations

from ..errors import DiffgenError
from .base import Backend, ForeignOuter
from .finitediff import FiniteDiff
from .jax_backend import BACKENDS as JAX_BACKENDS
from .sympy_backend import Sympy
from .torch_backend import BACKENDS as TORCH_BACKENDS

BACKENDS: dict[str, Backend] = {backend.name: backend for backend in (FiniteDiff(), Sympy())}
BACKENDS.update({backend.name: backend for backend in JAX_BACKENDS})
BACKENDS.update({backend.name: backend for backend in TORCH_BACKENDS})

#: (outer, inner) pairs valid for second-order operators.
PAIRS: tuple[tuple[str, str], ...] = (
    ("finitediff", "finitediff"),
    ("sympy", "sympy"),
    ("finitediff", "sympy"),
    ("jax:forward", "sympy"),
    ("jax:reverse", "sympy"),
    ("torch:forward", "sympy"),
    ("torch:reverse", "sympy"),
    ("finitediff", "jax:forward"),
    ("finitediff", "jax:reverse"),
    ("finitediff", "torch:forward"),
    ("finitediff", "torch:reverse"),
    ("jax:forward", "jax:reverse"),
    ("jax:reverse", "jax:forward"),
    ("jax:reverse", "jax:reverse"),
    ("jax:forward", "jax:forward"),
    ("torch:forward", "torch:reverse"),
    ("torch:reverse", "torch:forward"),
    ("torch:reverse", "torch:reverse"),
    ("torch:forward", "torch:forward"),
)


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise DiffgenError(
            f"unknown backend {name!r}",
            f"the backends available in this version are {', '.join(BACKENDS)}",
            "pass one of them with --backend (`diffgen backends` lists what each supports)",
        )
    return BACKENDS[name]


def get_outer(name: str) -> ForeignOuter:
    """The backend `name` as the outer of a foreign inner (a pair listed in PAIRS)."""
    backend = get_backend(name)
    assert isinstance(backend, ForeignOuter), f"{name} is listed as an outer of other backends"
    return backend


def check_pair(outer: str, inner: str) -> None:
    """Refuse an outer/inner pair that cannot be composed, listing the valid outers."""
    get_backend(inner)
    if (outer, inner) not in PAIRS:
        valid = [o for o, i in PAIRS if i == inner]
        raise DiffgenError(
            f"--outer {outer} over --backend {inner} is not a valid second-order pair",
            f"the inner {inner} code can be differentiated only by: {', '.join(valid) or 'none'}",
            f"pass --outer {valid[0]}" if valid else "choose another inner backend",
        )
