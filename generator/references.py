"""Reference values for the generated tests: exact (SymPy, mpmath) or by scipy.differentiate.

Where the function traces symbolically, every quantity is evaluated exactly at each test point
(the symbolic derivative evaluated with mpmath at 50 digits, then correctly rounded to float64).
Otherwise it is computed in float64 by `scipy.differentiate` (adaptive steps, Richardson
extrapolation), an independent and more accurate method than central differences, which also
estimates its own error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import numpy.typing as npt
import sympy
from scipy import differentiate

from .derivatives import symbolic_derivatives
from .errors import DiffgenError
from .inspect_target import Inspected
from .x64 import precise

FloatArray = npt.NDArray[np.float64]
#: Exact references are evaluated only up to this many entries in all; past it, scipy's.
EXACT_MAX_ENTRIES = 20_000
#: scipy's error estimate is itself an estimate; the tolerance allows ten times it.
REFERENCE_ERROR_FACTOR = 10.0


@dataclass(frozen=True)
class Point:
    """One test point: the arguments (in their spec dtypes) and the tangents dx and dy."""

    args: dict[str, npt.NDArray[np.floating]]
    dx: npt.NDArray[np.floating]
    dy: npt.NDArray[np.floating]


@dataclass(frozen=True)
class References:
    """Each point's reference value and error estimate of every quantity, flat."""

    method: str
    digits: int  # significant digits worth writing
    error_note: str  # what the tolerance adds for the reference's own error
    values: tuple[dict[str, tuple[FloatArray, FloatArray]], ...]


def references(
    inspected: Inspected, quantities: Sequence[str], points: Sequence[Point]
) -> References:
    """Exact references where the function traces, else scipy.differentiate's."""
    exact = exact_references(inspected, quantities, points)
    return exact if exact is not None else scipy_references(inspected, quantities, points)


def exact_references(
    inspected: Inspected, quantities: Sequence[str], points: Sequence[Point]
) -> References | None:
    """Evaluate the exact symbolic quantities at each point, or None if they are out of reach."""
    try:
        traced, d = symbolic_derivatives(inspected)
        dx = [sympy.Symbol(f"dx_{k}", real=True) for k in range(inspected.active.spec.size)]
        dy = [sympy.Symbol(f"dy_{k}", real=True) for k in range(inspected.output.size)]
        exprs = {q: d.dense(q, dx, dy) for q in quantities}
    except DiffgenError:  # does not trace, or too large
        return None
    flat = [e for q in quantities for e in exprs[q]]
    if len(flat) > EXACT_MAX_ENTRIES:
        return None
    symbols = [s for array in traced.inputs for s in array.reshape(-1)] + dx + dy
    evaluate = sympy.lambdify(symbols, flat, modules="mpmath", cse=True)
    values = []
    with mpmath.workdps(50):
        for point in points:
            numbers = [*(point.args[a.name] for a in inspected.args), point.dx, point.dy]
            args = [mpmath.mpf(float(v)) for array in numbers for v in np.ravel(array)]
            results = iter(float(v) for v in evaluate(*args))
            values.append(
                {
                    q: (np.array([next(results) for _ in exprs[q]]), np.zeros(len(exprs[q])))
                    for q in quantities
                }
            )
    return References(
        method="exact SymPy derivatives evaluated with mpmath at 50 digits",
        digits=17,
        error_note="plus the rounding of the reference to float64",
        values=tuple(values),
    )


def vectorized(
    fn: Callable[[FloatArray], FloatArray], shape: tuple[int, ...], scalar: bool
) -> Callable[[FloatArray], FloatArray]:
    """Adapt fn to scipy.differentiate's calling convention: inputs (n, ...) -> outputs (m, ...)."""

    def wrapped(points: FloatArray) -> FloatArray:
        batch = points.shape[1:]
        flat = points.reshape(points.shape[0], -1)
        outputs = [fn(flat[:, k].reshape(shape)).reshape(-1) for k in range(flat.shape[1])]
        stacked = np.stack(outputs, axis=-1)
        return stacked.reshape(batch) if scalar else stacked.reshape(-1, *batch)

    return wrapped


def component(fn: Callable[[FloatArray], FloatArray], i: int) -> Callable[[FloatArray], FloatArray]:
    """The i-th output of fn, as a function of its own."""
    return lambda z: fn(z).reshape(-1)[i : i + 1].reshape(())


def reference_derivatives(
    fn: Callable[[FloatArray], FloatArray], x: FloatArray, y_size: int, order: int
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Jacobian (m, n) and, for order 2, Hessian (n, n) or second derivatives (m,), with errors."""
    out: dict[str, tuple[FloatArray, FloatArray]] = {}
    jac = differentiate.jacobian(vectorized(fn, x.shape, False), x.reshape(-1))
    out["J"] = (
        np.asarray(jac.df).reshape(y_size, x.size),
        np.asarray(jac.error).reshape(y_size, x.size),
    )
    if order == 2 and y_size == 1:
        hess = differentiate.hessian(vectorized(fn, x.shape, True), x.reshape(-1))
        out["H"] = (np.asarray(hess.ddf), np.asarray(hess.error))
    if order == 2 and x.ndim == 0:  # the second derivative of each output
        parts = (
            [out["H"]]
            if y_size == 1
            else [
                (np.asarray(s.ddf), np.asarray(s.error))
                for s in (
                    differentiate.hessian(
                        vectorized(component(fn, i), x.shape, True), x.reshape(-1)
                    )
                    for i in range(y_size)
                )
            ]
        )
        out["D2"] = (
            np.array([float(ddf.reshape(())) for ddf, _ in parts]),
            np.array([float(error.reshape(())) for _, error in parts]),
        )
    return out


def reference_values(
    refs: dict[str, tuple[FloatArray, FloatArray]],
    value: FloatArray,
    x: FloatArray,
    dx: FloatArray,
    dy: FloatArray,
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Each quantity's reference value and error estimate, shaped as the module returns it."""
    jac, jac_err = refs["J"]
    out = {
        "value": (value, np.zeros_like(value)),
        "pushforward": (jac @ dx.reshape(-1), np.abs(jac_err) @ np.abs(dx.reshape(-1))),
        "pullback": (dy.reshape(-1) @ jac, np.abs(dy.reshape(-1)) @ np.abs(jac_err)),
        "derivative": (jac[:, 0], jac_err[:, 0]),
        "gradient": (jac[0], jac_err[0]),
        "jacobian": (jac, jac_err),
    }
    if "H" in refs:
        hess, hess_err = refs["H"]
        out["hessian"] = (hess, hess_err)
        out["hvp"] = (hess @ dx.reshape(-1), np.abs(hess_err) @ np.abs(dx.reshape(-1)))
    if "D2" in refs:
        out["second_derivative"] = refs["D2"]
    return out


def scipy_references(
    inspected: Inspected, quantities: Sequence[str], points: Sequence[Point]
) -> References:
    """Each quantity by scipy.differentiate in float64, with scipy's error estimates."""
    order = 2 if {"second_derivative", "hvp", "hessian"} & set(quantities) else 1
    values = []
    for point in points:
        wide = {name: np.asarray(value, dtype=np.float64) for name, value in point.args.items()}

        def fn(z: FloatArray, wide: dict[str, FloatArray] = wide) -> FloatArray:
            args = [z if arg.active else wide[arg.name] for arg in inspected.args]
            with precise():  # a jax.numpy function computes in float64 as numpy does
                return np.asarray(inspected.function(*args), dtype=np.float64)

        x64 = wide[inspected.active.name]
        refs = reference_derivatives(fn, x64, inspected.output.size, order)
        dx, dy = (np.asarray(t, dtype=np.float64) for t in (point.dx, point.dy))
        found = reference_values(refs, fn(x64), x64, dx, dy)
        values.append({q: (found[q][0].reshape(-1), found[q][1].reshape(-1)) for q in quantities})
    return References(
        method="scipy.differentiate (adaptive, Richardson-extrapolated, order 8)",
        digits=13,
        error_note=f"plus {REFERENCE_ERROR_FACTOR:g} times scipy's error estimate plus the"
        " rounding of the reference to 13 significant digits",
        values=tuple(values),
    )
