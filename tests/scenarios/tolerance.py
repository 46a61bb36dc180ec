"""The tests' tolerances, read from each backend's ErrorModel (the generated tests' own bounds).

atol = factor * eps**exponents[order] * scale, as the generated tests compute it; a module's
model is composed as its plan composes it: first order from the inner backend's model, second
order from the outer's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from generator.backends.base import AD_ERROR
from generator.backends.finitediff import ERROR as FINITEDIFF
from generator.backends.sympy_backend import ERROR as SYMPY
from generator.model import ErrorModel

#: The error model of each backend family, as its own modules declare it.
MODELS: dict[str, ErrorModel] = {
    "finitediff": FINITEDIFF,
    "sympy": SYMPY,
    "jax": AD_ERROR,
    "torch": AD_ERROR,
}


def model(backend: str, outer: str | None = None) -> ErrorModel:
    """The error model of a module of `backend` (the inner) with second order from `outer`.

    finitediff over an exact inner differences an exact first derivative once: its second
    order errs as finitediff's first order does.
    """
    inner = MODELS[backend.partition(":")[0]]
    family = (outer or backend).partition(":")[0]
    second = MODELS[family]
    if family == "finitediff" and inner is not FINITEDIFF:
        second = replace(second, exponents=(1.0, 1.0, second.exponents[1]))
    if second is inner:
        return inner
    return replace(
        inner,
        factor=max(inner.factor, second.factor),
        exponents=(inner.exponents[0], inner.exponents[1], second.exponents[2]),
    )


def bound(error: ErrorModel, order: int, dtype: object, scale: float = 1.0) -> float:
    """The model's absolute tolerance for a result of this order, in this dtype, at this scale
    (max(1, |f(x)|, |reference|) in the generated tests)."""
    eps = float(np.finfo(np.dtype(dtype)).eps)  # type: ignore[call-overload]
    return error.factor * eps ** error.exponents[order] * scale
