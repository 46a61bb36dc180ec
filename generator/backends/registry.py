"""The table of backends and of the valid outer/inner pairs.

The table is static, so that `diffgen backends` (and the command line's start) need no backend
module: each backend's module, which imports sympy, jax or torch, is loaded when the backend is
first used. tests/test_cli_light.py checks that the table matches the loaded backends.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from ..errors import DiffgenError
from ..operators import OPERATORS
from .base import Backend, ForeignOuter


@dataclass(frozen=True)
class Entry:
    """What `diffgen backends` shows of a backend, known without loading it."""

    name: str
    flavour: str  # the array library of its modules
    operators: tuple[str, ...]


ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        Entry("finitediff", "numpy", tuple(OPERATORS)),
        Entry("sympy", "numpy", tuple(OPERATORS)),
        Entry("jax:forward", "jax", tuple(OPERATORS)),
        Entry("jax:reverse", "jax", tuple(OPERATORS)),
        Entry("torch:forward", "torch", tuple(OPERATORS)),
        Entry("torch:reverse", "torch", tuple(OPERATORS)),
    )
}


@cache
def load(name: str) -> Backend:
    """The backend object, importing its module (and so its library's planning code)."""
    if name == "finitediff":
        from .finitediff import FiniteDiff

        return FiniteDiff()
    if name == "sympy":
        from .sympy_backend import Sympy

        return Sympy()
    if name.startswith("jax:"):
        from .jax_backend import BACKENDS as JAX

        return next(b for b in JAX if b.name == name)
    from .torch_backend import BACKENDS as TORCH

    return next(b for b in TORCH if b.name == name)


class Backends(Mapping[str, Backend]):
    """The backends by name, each loaded on first access."""

    def __getitem__(self, name: str) -> Backend:
        if name not in ENTRIES:
            raise KeyError(name)
        return load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(ENTRIES)

    def __len__(self) -> int:
        return len(ENTRIES)


BACKENDS: Mapping[str, Backend] = Backends()

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
    if name not in ENTRIES:
        raise DiffgenError(
            f"unknown backend {name!r}",
            f"the backends available in this version are {', '.join(ENTRIES)}",
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
