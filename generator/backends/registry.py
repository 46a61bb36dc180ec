"""The table of backends, what each declares, and the outer/inner pairs derived from it.

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
    """What a backend declares, known without loading it: what `diffgen backends` shows, and
    what decides which outer/inner pairs are valid (`PAIRS`)."""

    name: str
    flavour: str  # the array library of its modules
    operators: tuple[str, ...]
    #: the array libraries it can write its private inner functions in, for a foreign outer
    dialects: tuple[str, ...]
    #: the array libraries whose code it can differentiate as the outer of another backend
    differentiates: tuple[str, ...] = ()
    #: how it evaluates a sparse matrix (--sparse, generator/sparse/plan.py): "exact" (each
    #: nonzero written, no products), or the colorings whose products it computes: "column"
    #: (JVPs or differences along seeds), "row" (VJPs), "symmetric" (HVPs, as an outer)
    sparse: tuple[str, ...] = ()

    @property
    def family(self) -> str:
        """`jax` for jax:forward and jax:reverse: backends of one family compose themselves."""
        return self.name.partition(":")[0]

    def can_differentiate(self, inner: Entry) -> bool:
        """Whether this backend can be the outer of `inner` in a second-order pair."""
        return self.family == inner.family or bool(set(self.differentiates) & set(inner.dialects))


_ALL = tuple(OPERATORS)
#: The colorings the jax and torch backends evaluate: vmapped JVPs, VJPs, or an outer's HVPs.
_COLORED = ("column", "row", "symmetric")

ENTRIES: dict[str, Entry] = {
    e.name: e
    for e in (
        # finitediff differences any callable of numpy, jax or torch arrays (it converts)
        Entry(
            "finitediff",
            "numpy",
            _ALL,
            ("numpy",),
            ("numpy", "jax", "torch"),
            ("column", "symmetric"),
        ),
        # sympy prints its code for numpy, jax or torch; it differentiates only its own traces
        Entry("sympy", "numpy", _ALL, ("numpy", "jax", "torch"), (), ("exact",)),
        Entry("jax:forward", "jax", _ALL, ("jax",), ("jax",), _COLORED),
        Entry("jax:reverse", "jax", _ALL, ("jax",), ("jax",), _COLORED),
        Entry("torch:forward", "torch", _ALL, ("torch",), ("torch",), _COLORED),
        Entry("torch:reverse", "torch", _ALL, ("torch",), ("torch",), _COLORED),
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
        from .jax.backend import BACKENDS as JAX

        return next(b for b in JAX if b.name == name)
    from .torch.backend import BACKENDS as TORCH

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

#: (outer, inner) pairs valid for second-order operators, derived from the declarations: per
#: inner backend, its outers in the order of ENTRIES.
PAIRS: tuple[tuple[str, str], ...] = tuple(
    (outer.name, inner.name)
    for inner in ENTRIES.values()
    for outer in ENTRIES.values()
    if outer.can_differentiate(inner)
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
