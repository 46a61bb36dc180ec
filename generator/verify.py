"""Stage 6: reference values and tolerances for a module's generated tests.

References are computed at generation time in float64 with an independent, more accurate method
than central differences: `scipy.differentiate` (adaptive steps, Richardson extrapolation, with an
error estimate per entry). They are written into the test file as literals.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import differentiate

from .inspect_target import Inspected, draw
from .operators import OPERATORS
from .plan import FunctionPlan, ModulePlan

N_CASES = 3
TEST_SEED = 20_261_126
#: Significant digits written for a reference: scipy's own error is far above the 13th digit,
#: and rounding keeps the golden record stable across machines' last-bit differences.
REFERENCE_DIGITS = 13

#: scipy's error estimate is itself an estimate; we allow ten times it.
REFERENCE_ERROR_FACTOR = 10.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Expected:
    """A reference result at one point and the absolute tolerance for it."""

    quantity: str
    literal: str
    atol: str


@dataclass(frozen=True)
class Case:
    """One test point: each parameter's value as a literal, and the expected results."""

    inputs: tuple[tuple[str, str], ...]
    expected: tuple[Expected, ...]


@dataclass(frozen=True)
class WrongInput:
    """A call with a wrongly shaped or typed argument, and the message it must raise."""

    function: str
    args: str
    message: str  # a regular expression, as a Python literal


@dataclass(frozen=True)
class TestPlan:
    """What the test template renders."""

    __test__ = False  # not a pytest class

    module: ModulePlan
    reference_method: str
    tolerance_note: str
    cases: tuple[Case, ...]
    variant_pairs: tuple[tuple[FunctionPlan, FunctionPlan, int], ...]
    checks: tuple[str, ...]  # the consistency relations that apply to this module's operators
    wrong_inputs: tuple[WrongInput, ...]

    @property
    def constant_args(self) -> str:
        return "".join(f', c["{c.name}"]' for c in self.module.constants)


#: Consistency relations (templates/consistency.py.jinja) and the operators each needs.
CHECKS: dict[str, tuple[str, ...]] = {
    "gradient_is_pullback_of_one": ("gradient", "pullback"),
    "derivative_is_pushforward_of_one": ("derivative", "pushforward"),
    "jacobian_rows_are_pullbacks": ("jacobian", "pullback"),
    "jacobian_columns_are_pushforwards": ("jacobian", "pushforward"),
    "hvp_is_hessian_times_vector": ("hvp", "hessian"),
    "hessian_is_symmetric": ("hessian",),
}


def literal(array: npt.NDArray[np.floating], dtype: str, digits: int | None = None) -> str:
    """A Python literal that rebuilds the array exactly (or to `digits` significant digits)."""
    values = np.asarray(array, dtype=np.float64)
    if digits is not None:
        values = np.vectorize(lambda v: float(f"{v:.{digits - 1}e}"), otypes=[np.float64])(values)
    return f"np.array({values.tolist()!r}, dtype=np.{dtype})"


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


def quantity_order(name: str) -> int:
    return 0 if name == "value" else OPERATORS[name].order if name in OPERATORS else 1


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


def build_test_plan(plan: ModulePlan, inspected: Inspected) -> TestPlan:
    """Draw the test points, compute references and tolerances, and pick the relations to check."""
    rng = np.random.default_rng(TEST_SEED)
    x_spec, y_spec = inspected.active.spec, inspected.output
    eps = max(x_spec.eps, y_spec.eps)
    error = plan.backend_plan.error
    quantities = tuple(dict.fromkeys(r.name for f in plan.functions for r in f.results))
    shapes = {r.name: r for f in plan.functions for r in f.results}
    used = {p.name for f in plan.functions for p in f.params}
    order = max(quantity_order(q) for q in quantities)
    cases = []
    for _ in range(N_CASES):
        point = {arg.name: draw(arg.spec, rng) for arg in inspected.args}
        dx, dy = draw(x_spec, rng), draw(y_spec, rng)
        wide = {name: value.astype(np.float64) for name, value in point.items()}

        def fn(z: FloatArray, wide: dict[str, FloatArray] = wide) -> FloatArray:
            args = [z if arg.active else wide[arg.name] for arg in inspected.args]
            return np.asarray(inspected.function(*args), dtype=np.float64)

        x64 = wide[inspected.active.name]
        value = fn(x64)
        refs = reference_derivatives(fn, x64, y_spec.size, order)
        values = reference_values(refs, value, x64, dx.astype(np.float64), dy.astype(np.float64))
        scale = max(1.0, float(np.max(np.abs(value))))
        expected = []
        for q in quantities:
            ref, err = values[q]
            ref = ref.reshape(shapes[q].spec.shape)
            size = max(scale, float(np.max(np.abs(ref))))
            atol = error.factor * eps ** error.exponents[quantity_order(q)] * size
            atol += REFERENCE_ERROR_FACTOR * float(np.max(err, initial=0.0))
            atol += size * 10.0 ** (1 - REFERENCE_DIGITS)  # the rounding of the literal
            expected.append(Expected(q, literal(ref, "float64", REFERENCE_DIGITS), f"{atol:.3e}"))
        inputs = [(arg.name, literal(point[arg.name], arg.spec.dtype)) for arg in inspected.args]
        if "dx" in used:
            inputs.append(("dx", literal(dx, x_spec.dtype)))
        if "dy" in used:
            inputs.append(("dy", literal(dy, y_spec.dtype)))
        cases.append(Case(tuple(inputs), tuple(expected)))
    return TestPlan(
        module=plan,
        reference_method="scipy.differentiate (adaptive, Richardson-extrapolated, order 8)",
        tolerance_note=textwrap.fill(
            TOLERANCE_NOTE.format(factor=error.factor, eps=eps, why=error.why)
            + (EXACT_VARIANTS if error.variants_exact else ""),
            width=96,
        ),
        cases=tuple(cases),
        variant_pairs=variant_pairs(plan),
        checks=tuple(
            name
            for name, needs in CHECKS.items()
            if all(op in {f.name for f in plan.functions} for op in needs)
        ),
        wrong_inputs=wrong_inputs(plan),
    )


TOLERANCE_NOTE = (
    "Tolerances: atol = {factor:g} * eps**p * max(1, |f(x)|, |reference|)"
    f" plus {REFERENCE_ERROR_FACTOR:g} times scipy's error estimate plus the rounding of the"
    f" reference to {REFERENCE_DIGITS} significant digits, with eps = {{eps:.3e}} the unit"
    " roundoff of the coarser dtype and {why}."
)
EXACT_VARIANTS = " Value variants must equal their plain operators exactly."


def variant_pairs(plan: ModulePlan) -> tuple[tuple[FunctionPlan, FunctionPlan, int], ...]:
    """Each plain operator, its value variant, and where the variant returns the same quantity."""
    plain = {f.name: f for f in plan.functions if f.name == f.operator}
    return tuple(
        (plain[f.operator], f, [r.name for r in f.results].index(f.operator))
        for f in plan.functions
        if f.name != f.operator
    )


def wrong_inputs(plan: ModulePlan) -> tuple[WrongInput, ...]:
    """A wrong shape and a wrong dtype for x, in a call of the first operator."""
    fn = plan.functions[0]
    x = plan.x
    shape = (*x.spec.shape[:-1], x.spec.shape[-1] + 1) if x.spec.shape else (2,)
    dtype = "float32" if x.spec.dtype == "float64" else "float64"
    calls = []
    for bad_shape, bad_dtype in ((shape, x.spec.dtype), (x.spec.shape, dtype)):
        given = f"{bad_dtype}[{','.join(map(str, bad_shape))}]"
        args = [
            (
                f"np.zeros({bad_shape!r}, dtype=np.{bad_dtype})"
                if p.name == x.name
                else f'c["{p.name}"]'
            )
            for p in fn.params
        ]
        message = re.escape(f"{x.name}: expected {x.spec}, got {given}")
        calls.append(WrongInput(fn.name, ", ".join(args), repr(message)))
    return tuple(calls)
