"""Structural Jacobian and Hessian patterns of functions that only trace in jax, by asdex.

asdex (MIT, maintained by Adrian Hill, one of the authors of the Julia sparse-AD stack) walks the
function's jaxpr and propagates, for every primitive, the set of inputs each output element
depends on: global patterns, valid at every point, never from values. A primitive it has no
rule for is an error there (never a silent guess), which becomes a DiffgenError here. The
Hessian pattern is the Jacobian pattern of `jax.grad` of the function. asdex is imported only
when a jax-only function is detected: a generation-time dependency of the `jax` extra, never of
a generated module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ..errors import DiffgenError
from ..x64 import precise
from .pattern import Pattern

#: The asdex release whose rules and results the tests check (pinned in the `jax` extra).
ASDEX_VERSION = "0.5.1"


class Shaped(Protocol):
    """What detection needs of an argument: its shape and dtype (a Spec, an array)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...


def _asdex() -> Any:
    try:
        return importlib.import_module("asdex")
    except ImportError as error:
        raise DiffgenError(
            "detecting the sparsity pattern of a jax function needs the asdex package, which is "
            "not installed",
            "a function that only traces in jax has its pattern read from its jaxpr by asdex",
            f"pip install 'diffgen[jax]' (asdex=={ASDEX_VERSION}), write the function with the "
            "Array API so that the symbolic detector traces it, or pass the pattern as a "
            "scipy.sparse .npz file with --sparsity",
        ) from error


def _samples(args: Sequence[Shaped]) -> list[np.ndarray[Any, Any]]:
    """Zeros of each argument's shape and dtype: asdex reads only their shapes and dtypes."""
    return [np.zeros(tuple(arg.shape), dtype=np.dtype(str(arg.dtype))) for arg in args]


def _detect(
    kind: str, function: Callable[..., Any], args: Sequence[Shaped], wrt: int
) -> tuple[Any, ...]:
    asdex = _asdex()
    detector = asdex.hessian_sparsity if kind == "Hessian" else asdex.jacobian_sparsity
    name = getattr(function, "__qualname__", repr(function))
    try:
        with precise():
            found = detector(function, *_samples(args), argnums=wrt)
    except NotImplementedError as error:
        raise DiffgenError(
            f"the {kind} pattern of {name} cannot be read from its jaxpr: {error}",
            "asdex has no sparsity rule for a jax primitive the function uses, and a pattern "
            "must never miss an entry",
            "pass the pattern as a scipy.sparse .npz file with --sparsity, or write the "
            "function with the Array API so that the symbolic detector traces it",
        ) from error
    except (TypeError, ValueError) as error:
        raise DiffgenError(
            f"the {kind} pattern of {name} cannot be read from its jaxpr: "
            f"{type(error).__name__}: {error}",
            "jax must trace the function with abstract arrays of the argument specs"
            + (", and a Hessian needs a scalar output" if kind == "Hessian" else ""),
            "check the specs and the function's output, or pass the pattern with " "--sparsity",
        ) from error
    except Exception as error:  # the user's code fails under jax's tracing (torch-only)
        raise DiffgenError(
            f"jax cannot trace {name}: {type(error).__name__}: {error}",
            "asdex reads the pattern from the jaxpr, which needs the function to run on jax's"
            " abstract arrays",
            "write the function with the Array API or jax.numpy, or pass the pattern with"
            " --sparsity",
        ) from error
    return tuple(found.shape), np.asarray(found.rows), np.asarray(found.cols)


def jacobian_pattern(function: Callable[..., Any], args: Sequence[Shaped], wrt: int) -> Pattern:
    """The pattern of d f(*args) / d args[wrt], output and argument flattened in C order."""
    shape, rows, cols = _detect("Jacobian", function, args, wrt)
    return Pattern.from_coo((int(shape[0]), int(shape[1])), rows, cols, "jaxpr")


def hessian_pattern(function: Callable[..., Any], args: Sequence[Shaped], wrt: int) -> Pattern:
    """The pattern of the Hessian of a scalar f(*args) by args[wrt] (flattened): n x n."""
    shape, rows, cols = _detect("Hessian", function, args, wrt)
    return Pattern.from_coo((int(shape[0]), int(shape[1])), rows, cols, "jaxpr")
