"""Reference values for the generated tests: exact (SymPy, mpmath) or by scipy.differentiate.

Where the function traces symbolically and its derivatives are small enough, every quantity is
evaluated exactly at each test point (the symbolic derivative evaluated with mpmath at 50 digits,
then correctly rounded to float64). The exact route is bounded before it starts, by the work its
derivatives would take estimated on the traced expressions (`EXACT_MAX_WORK`), and while it runs,
by a wall-clock budget (`EXACT_SECONDS`, a backstop the estimate keeps from firing). Past either,
or where the function does not trace, each quantity is computed in float64 by
`scipy.differentiate` (adaptive steps, Richardson extrapolation): an independent and more
accurate method than central differences, which also estimates its own error. Its calls of the
user's function are counted and bounded (`MAX_CALLS`): the Jacobian and Hessian are computed
once per point, and every tangent (batch rows included) is contracted with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath
import numpy as np
import numpy.typing as npt
import sympy
from scipy import differentiate

from .budget import OverBudget, phase, tick
from .errors import DiffgenError
from .model import Inspected
from .operators import BATCH_SUFFIX, QUANTITIES, Rules, order_of
from .sparse_options import SparseOptions
from .symbolic.derivatives import symbolic_derivatives
from .x64 import precise

FloatArray = npt.NDArray[np.float64]
Values = dict[str, tuple[FloatArray, FloatArray]]
#: Exact references are evaluated only up to this many entries in all; past it, scipy's.
EXACT_MAX_ENTRIES = 20_000
#: The estimated work (derivatives.estimate_work) past which the exact route is not tried: about
#: ten seconds of SymPy here. Rosenbrock's Hessian at n = 1000 is 39,000; a logistic loss over a
#: 200 x 20 data matrix, 5.4 million.
EXACT_MAX_WORK = 150_000
#: Wall-clock seconds the exact route may take in all (trace, derivatives, evaluation): a
#: backstop for a wrong estimate only, generous so that it never fires where the estimate is
#: right (a route chosen by the clock would make the test file depend on the machine's speed).
EXACT_SECONDS = 120.0
#: The most calls of the user's function that scipy.differentiate may make for one module's
#: references (about 15 s at 15 µs a call). A Hessian takes about 121 n**2 calls a point.
MAX_CALLS = 1_000_000
#: Iterations of scipy.differentiate (its default is 10). Its first evaluation takes 9 points
#: (order 8) and each further iteration 2, so a Jacobian takes at most 17 calls a coordinate and
#: a Hessian (a Jacobian of Jacobians, 3 iterations each) at most 13**2 = 169 a pair. Off-diagonal
#: entries that are exactly zero never meet scipy's tolerance: with its default, the Hessian of an
#: n = 3 function took 3,159 calls a point for the accuracy 1,521 give (the error estimate, which
#: the tolerance includes, is the same).
JACOBIAN_MAXITER = 5
HESSIAN_MAXITER = 3
#: scipy's error estimate is itself an estimate; the tolerance allows ten times it.
REFERENCE_ERROR_FACTOR = 10.0


@dataclass(frozen=True)
class Point:
    """One test point: the arguments (in their spec dtypes), the tangents dx and dy, and the
    tangents (dx, dy) of each row of a batch."""

    args: dict[str, npt.NDArray[np.floating]]
    dx: npt.NDArray[np.floating]
    dy: npt.NDArray[np.floating]
    rows: tuple[tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]], ...] = ()

    @property
    def tangents(self) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]]:
        """One tangent of each kind of operators.TANGENTS (dx, dy), as each row holds them."""
        return self.dx, self.dy


@dataclass(frozen=True)
class References:
    """Each point's reference value and error estimate of every quantity, flat."""

    method: str
    why: str  # why this route was taken
    digits: int  # significant digits worth writing
    error_note: str  # what the tolerance adds for the reference's own error
    values: tuple[Values, ...]


class Unavailable(Exception):
    """The exact route does not apply; the reason goes into the test's docstring."""


def references(
    inspected: Inspected,
    quantities: Sequence[str],
    points: Sequence[Point],
    batch: Sequence[str] = (),
) -> References:
    """Exact references where the function traces and they are in budget, else scipy's.

    `batch` names operators whose reference is also wanted at each row of the points' batches,
    as `<operator>_batch` (the rows stacked).
    """
    try:
        return exact_references(inspected, quantities, points, batch)
    except Unavailable as reason:
        return scipy_references(inspected, quantities, points, batch, str(reason))


def exact_references(
    inspected: Inspected,
    quantities: Sequence[str],
    points: Sequence[Point],
    batch: Sequence[str] = (),
) -> References:
    """Evaluate the exact symbolic quantities at each point, or raise Unavailable saying why."""
    name = inspected.target.function
    try:
        with phase(f"exact references of {name}", EXACT_SECONDS):
            return _exact(inspected, quantities, points, batch)
    except OverBudget as error:
        raise Unavailable(
            f"the exact route ran past its budget of {EXACT_SECONDS:g} s while building"
        ) from error
    except DiffgenError as error:  # does not trace, or a quantity too large
        raise Unavailable(f"the function has no exact route: {error.what}") from error


def _exact(
    inspected: Inspected, quantities: Sequence[str], points: Sequence[Point], batch: Sequence[str]
) -> References:
    traced, d = symbolic_derivatives(inspected)
    work = d.work(order_of(quantities))
    if work > EXACT_MAX_WORK:
        raise Unavailable(
            f"the exact route's estimated work, {work:,} units, is past its budget of"
            f" {EXACT_MAX_WORK:,} (about ten seconds of SymPy)"
        )
    dx = [sympy.Symbol(f"dx_{k}", real=True) for k in range(inspected.active.spec.size)]
    dy = [sympy.Symbol(f"dy_{k}", real=True) for k in range(inspected.output.size)]
    exprs = {q: d.dense(q, dx, dy) for q in (*quantities, *batch)}
    flat = [e for q in quantities for e in exprs[q]]
    rows = [e for q in batch for e in exprs[q]]
    # a sparse module's matrices are mostly structural zeros: only the others are evaluated
    nonzero = [k for k, e in enumerate(flat) if e != 0] if sparse_target(inspected) else None
    entries = (len(flat) if nonzero is None else len(nonzero)) + len(rows)
    if entries > EXACT_MAX_ENTRIES:
        raise Unavailable(f"the exact results have {entries:,} entries, past {EXACT_MAX_ENTRIES:,}")
    symbols = [s for array in traced.inputs for s in array.reshape(-1)] + dx + dy
    if nonzero is None:
        evaluate = sympy.lambdify(symbols, flat, modules="mpmath", cse=True)
    else:
        evaluate = scattered(
            sympy.lambdify(symbols, [flat[k] for k in nonzero], modules="mpmath", cse=True),
            nonzero,
            len(flat),
        )
    evaluate_rows = sympy.lambdify(symbols, rows, modules="mpmath", cse=True) if batch else None
    values = []
    with mpmath.workdps(50):
        for k, point in enumerate(points):
            tick(f"point {k + 1}/{len(points)}")
            found = _evaluate(evaluate, inspected, point, point.dx, point.dy, quantities, exprs, k)
            for q in batch:
                found[q + BATCH_SUFFIX] = (np.zeros(0), np.zeros(0))
            for row_dx, row_dy in point.rows:
                assert evaluate_rows is not None
                row = _evaluate(evaluate_rows, inspected, point, row_dx, row_dy, batch, exprs, k)
                for q in batch:
                    stacked = np.concatenate([found[q + BATCH_SUFFIX][0], row[q][0]])
                    found[q + BATCH_SUFFIX] = (stacked, np.zeros(len(stacked)))
            values.append(found)
    return References(
        method="exact SymPy derivatives evaluated with mpmath at 50 digits",
        why=f"the function traces symbolically and the derivatives' estimated work ({work:,}"
        f" units) is within the exact route's budget of {EXACT_MAX_WORK:,}",
        digits=17,
        error_note="plus the rounding of the reference to float64",
        values=tuple(values),
    )


def sparse_target(inspected: Inspected) -> bool:
    return inspected.target.option(SparseOptions).on


def scattered(
    evaluate: Callable[..., Sequence[object]], nonzero: Sequence[int], size: int
) -> Callable[..., Sequence[object]]:
    """`evaluate` of the nonzero entries, returning every entry (zeros elsewhere)."""

    def every(*args: object) -> Sequence[object]:
        found: list[object] = [0.0] * size
        for k, value in zip(nonzero, evaluate(*args), strict=True):
            found[k] = value
        return found

    return every


def _evaluate(
    evaluate: Callable[..., Sequence[object]],
    inspected: Inspected,
    point: Point,
    dx: npt.NDArray[np.floating],
    dy: npt.NDArray[np.floating],
    quantities: Sequence[str],
    exprs: dict[str, tuple[object, ...]],
    k: int,
) -> Values:
    """The quantities at one point and tangent, rounded once to float64."""
    numbers = [*(point.args[a.name] for a in inspected.args), dx, dy]
    args = [mpmath.mpf(float(v)) for array in numbers for v in np.ravel(array)]
    try:
        results = iter([float(v) for v in evaluate(*args)])  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as error:
        raise Unavailable(
            f"the exact values at point {k + 1} are not all real numbers ({error})"
        ) from error
    return {
        q: (np.array([next(results) for _ in exprs[q]]), np.zeros(len(exprs[q])))
        for q in quantities
    }


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
    jac = differentiate.jacobian(
        vectorized(fn, x.shape, False), x.reshape(-1), maxiter=JACOBIAN_MAXITER
    )
    out["J"] = (
        np.asarray(jac.df).reshape(y_size, x.size),
        np.asarray(jac.error).reshape(y_size, x.size),
    )
    if order == 2 and y_size == 1:
        hess = differentiate.hessian(
            vectorized(fn, x.shape, True), x.reshape(-1), maxiter=HESSIAN_MAXITER
        )
        out["H"] = (np.asarray(hess.ddf), np.asarray(hess.error))
    if order == 2 and x.ndim == 0:  # the second derivative of each output
        parts = (
            [out["H"]]
            if y_size == 1
            else [
                (np.asarray(s.ddf), np.asarray(s.error))
                for s in (
                    differentiate.hessian(
                        vectorized(component(fn, i), x.shape, True),
                        x.reshape(-1),
                        maxiter=HESSIAN_MAXITER,
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


@dataclass(frozen=True)
class Derived:
    """scipy.differentiate's matrices at one point, with their error estimates ("J" the Jacobian,
    "H" the Hessian of a scalar f, "D2" the second derivative of each output of a scalar x), the
    value there, and one tangent of each kind, all in float64."""

    refs: dict[str, tuple[FloatArray, FloatArray]]
    value: FloatArray
    dx: FloatArray
    dy: FloatArray


Reference = tuple[FloatArray, FloatArray]  # a value and its error estimate

#: Each quantity's reference from scipy.differentiate's matrices: the scipy route's rules.
SCIPY: Rules[Callable[[Derived], Reference]] = Rules("the scipy references", QUANTITIES)


@SCIPY.register("value")
def _value(d: Derived) -> Reference:
    return d.value, np.zeros_like(d.value)


@SCIPY.register("pushforward")
def _pushforward(d: Derived) -> Reference:
    jac, jac_err = d.refs["J"]
    return jac @ d.dx.reshape(-1), np.abs(jac_err) @ np.abs(d.dx.reshape(-1))


@SCIPY.register("pullback")
def _pullback(d: Derived) -> Reference:
    jac, jac_err = d.refs["J"]
    return d.dy.reshape(-1) @ jac, np.abs(d.dy.reshape(-1)) @ np.abs(jac_err)


@SCIPY.register("derivative")
def _derivative(d: Derived) -> Reference:
    jac, jac_err = d.refs["J"]
    return jac[:, 0], jac_err[:, 0]


@SCIPY.register("gradient")
def _gradient(d: Derived) -> Reference:
    jac, jac_err = d.refs["J"]
    return jac[0], jac_err[0]


@SCIPY.register("jacobian")
def _jacobian(d: Derived) -> Reference:
    return d.refs["J"]


@SCIPY.register("second_derivative")
def _second_derivative(d: Derived) -> Reference:
    return d.refs["D2"]


@SCIPY.register("hvp")
def _hvp(d: Derived) -> Reference:
    hess, hess_err = d.refs["H"]
    return hess @ d.dx.reshape(-1), np.abs(hess_err) @ np.abs(d.dx.reshape(-1))


@SCIPY.register("hessian")
def _hessian(d: Derived) -> Reference:
    return d.refs["H"]


def reshaped(reference: Reference) -> Reference:
    """A reference and its error, flat."""
    return reference[0].reshape(-1), reference[1].reshape(-1)


def calls_per_point(n: int, m: int, order: int, scalar_x: bool) -> int:
    """The most calls of f scipy.differentiate makes at one point: 17 a coordinate for the
    Jacobian, 169 a pair of coordinates for a Hessian (JACOBIAN_MAXITER, HESSIAN_MAXITER)."""
    first = 9 + 2 * (JACOBIAN_MAXITER - 1)
    second = (9 + 2 * (HESSIAN_MAXITER - 1)) ** 2
    calls = 1 + first * n
    if order == 2:
        calls += second * n * n if m == 1 else 0
        calls += second * m if scalar_x and m > 1 else 0
    return calls


class UserError(Exception):
    """The user's function raised while references were computed."""

    def __init__(self, error: Exception, near: bool) -> None:
        super().__init__(error)
        self.error, self.near = error, near


def describe(args: dict[str, npt.NDArray[np.floating]]) -> str:
    """The arguments of a point, short: `x = [0.53 0.21 ...], c = 0.7`."""
    return ", ".join(
        f"{name} = {np.array2string(np.asarray(value), precision=4, threshold=6, edgeitems=2)}"
        for name, value in args.items()
    ).replace("\n", "")


class Counted:
    """The user's function of the active argument at one point's constants, counting its calls."""

    def __init__(self, inspected: Inspected, points: int) -> None:
        self.inspected, self.points = inspected, points
        self.calls, self.k = 0, 0
        self.wide: dict[str, FloatArray] = {}

    def at(self, k: int, point: Point) -> None:
        self.k = k
        self.wide = {key: np.asarray(value, dtype=np.float64) for key, value in point.args.items()}

    def __call__(self, z: FloatArray) -> FloatArray:
        self.calls += 1
        tick(f"point {self.k + 1}/{self.points}, {self.calls:,} calls")
        inspected = self.inspected
        args = [z if arg.active else self.wide[arg.name] for arg in inspected.args]
        try:
            with precise():  # a jax.numpy function computes in float64 as numpy does
                return np.asarray(inspected.function(*args), dtype=np.float64)
        except Exception as error:  # the user's code: any exception
            near = not np.array_equal(z, self.wide[inspected.active.name])
            raise UserError(error, near) from error


def scipy_references(
    inspected: Inspected,
    quantities: Sequence[str],
    points: Sequence[Point],
    batch: Sequence[str] = (),
    why: str = "",
) -> References:
    """Each quantity by scipy.differentiate in float64, with scipy's error estimates.

    The Jacobian (and Hessian) is computed once a point; each tangent is contracted with it.
    Points are computed while the calls of f fit MAX_CALLS (the first always, if it fits).
    """
    name = inspected.target.function
    order = order_of((*quantities, *batch))
    x_spec = inspected.active.spec
    per_point = calls_per_point(x_spec.size, inspected.output.size, order, x_spec.ndim == 0)
    if per_point > MAX_CALLS:
        raise DiffgenError(
            f"the references of the generated tests of {name} would take about {per_point:,}"
            f" calls of the function a point, past the limit of {MAX_CALLS:,}",
            f"{why or 'its derivatives have no exact route'}, and"
            " scipy.differentiate's Hessian takes up to 169 calls per pair of coordinates"
            f" (n = {x_spec.size})",
            "generate with --no-tests and test the module against references of your own, or ask"
            " only for first-order operators",
        )
    count = max(1, min(len(points), MAX_CALLS // per_point))
    values = []
    with phase(f"scipy.differentiate references of {name}"):
        fn = Counted(inspected, count)
        for k, point in enumerate(points[:count]):
            fn.at(k, point)
            x64 = fn.wide[inspected.active.name]
            try:
                refs = reference_derivatives(fn, x64, inspected.output.size, order)
                value = fn(x64)
            except UserError as failure:
                where = "near" if failure.near else "at"
                raise DiffgenError(
                    f"{name} raised {type(failure.error).__name__}: {failure.error} while diffgen"
                    f" computed the references of its tests, {where} test point {k + 1}"
                    f" ({describe(point.args)})",
                    "the generated tests check the module against reference values computed at"
                    " generation time by calling the function at seeded points"
                    + (
                        " and at nearby points (scipy.differentiate's steps)"
                        if failure.near
                        else ""
                    ),
                    "make the function defined on and near the points the specs draw from, or"
                    " generate with --no-tests",
                ) from failure.error
            found: Values = {}
            for tangent, (dx, dy) in enumerate((point.tangents, *point.rows)):
                dx64, dy64 = (np.asarray(t, dtype=np.float64) for t in (dx, dy))
                at = Derived(refs, value, dx64, dy64)
                if tangent == 0:
                    found.update({q: reshaped(SCIPY[q](at)) for q in quantities})
                    continue
                for q in batch:
                    new = reshaped(SCIPY[q](at))
                    old = found.get(q + BATCH_SUFFIX, (np.zeros(0), np.zeros(0)))
                    found[q + BATCH_SUFFIX] = (
                        np.concatenate([old[0], new[0]]),
                        np.concatenate([old[1], new[1]]),
                    )
            values.append(found)
    return References(
        method="scipy.differentiate (adaptive, Richardson-extrapolated, order 8) in float64,"
        f" {fn.calls:,} calls of the function",
        why=why or "the function has no exact route",
        digits=13,
        error_note=f"plus {REFERENCE_ERROR_FACTOR:g} times scipy's error estimate plus the"
        " rounding of the reference to 13 significant digits",
        values=tuple(values),
    )
